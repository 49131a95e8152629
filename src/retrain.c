/* retrain.c - the inputs of a retraining run. See include/specsweep/retrain.h. */
#include "specsweep/retrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "specsweep/attrib_settings.h"
#include "specsweep/stats.h"
#include "specsweep/util.h"

/* The parent's ranking score of every input for method m into score (d), or 1 with why
   when it has none. */
static int ranking_scores(int m, const ss_result_t *parent, const ss_dataset_info_t *ds,
                          int d, double *score, char *why, size_t size)
{
    if (m == SS_RETRAIN_TRUTH) {
        if (!ds || !ds->relevance_truth) {
            snprintf(why, size, "dataset %s has no relevance truth", parent->dataset);
            return 1;
        }
        for (int i = 0; i < d; i++)
            score[i] = ds->relevance_truth[i];
        return 0;
    }
    if (m == SS_ATTRIB_SPECTRAL) {
        for (int i = 0; i < d; i++)
            score[i] = fabs(parent->eigenvalues[i]);
        return 0;
    }
    for (int j = 0; j < parent->n_methods; j++) {
        const ss_method_result_t *mr = &parent->methods[j];
        if (mr->method != m)
            continue;
        if (mr->skipped || mr->n_values != d)
            break;
        for (int i = 0; i < d; i++)
            score[i] = ss_attrib_rank_value((ss_attrib_method_t)m, mr->values[i]);
        return 0;
    }
    snprintf(why, size, "run %s has no %s relevance to rank by", parent->run_id,
             ss_retrain_method_name(m));
    return 1;
}

/* The first k inputs of the child's random order: a seeded shuffle of 0..d-1. */
static void random_order(const ss_run_t *child, int d, int *order)
{
    uint32_t *perm = ss_malloc((size_t)(d > 0 ? d : 1) * sizeof *perm);
    for (int i = 0; i < d; i++)
        perm[i] = (uint32_t)i;
    ss_rng_t rng;
    ss_rng_seed(&rng, (uint64_t)child->seed ^ ss_hash_str(child->id), SS_STREAM_RETRAIN);
    ss_rng_shuffle(&rng, perm, (size_t)d);
    for (int i = 0; i < d; i++)
        order[i] = (int)perm[i];
    free(perm);
}

int ss_retrain_inputs(const ss_run_t *child, const ss_result_t *parent,
                      const ss_dataset_info_t *ds, int **kept, int *n_kept, char *why,
                      size_t size)
{
    *kept = NULL;
    *n_kept = 0;
    if (parent->status != SS_STATUS_OK) {
        snprintf(why, size, "its parent run %s %s", parent->run_id,
                 parent->status == SS_STATUS_DIVERGED ? "diverged" : "failed");
        return 1;
    }
    int d = parent->n_inputs, m = child->retrain.method;
    int k = child->retrain.k < d ? child->retrain.k : d;
    int *order = ss_malloc((size_t)(d > 0 ? d : 1) * sizeof *order);
    if (m == SS_RETRAIN_RANDOM) {
        random_order(child, d, order);
    } else {
        double *score = ss_malloc((size_t)(d > 0 ? d : 1) * sizeof *score);
        int rc = ranking_scores(m, parent, ds, d, score, why, size);
        if (rc == 0)
            ss_stats_rank_order(score, d, order);
        free(score);
        if (rc) {
            free(order);
            return 1;
        }
    }
    /* the chosen inputs are order[0..k); keep them, or all the others */
    unsigned char *in = ss_calloc((size_t)(d > 0 ? d : 1), 1);
    for (int i = 0; i < k; i++)
        in[order[i]] = 1;
    int keep = child->retrain.mode == SS_RETRAIN_KEEP, n = 0;
    *kept = ss_malloc((size_t)(d > 0 ? d : 1) * sizeof **kept);
    for (int i = 0; i < d; i++)
        if (in[i] == keep)
            (*kept)[n++] = i;
    *n_kept = n;
    free(in);
    free(order);
    return 0;
}

int ss_retrain_check(const ss_sweep_t *sw, const ss_dataset_info_t *ds, ss_error_t *err)
{
    const ss_retrain_spec_t *rt = &sw->retrain;
    if (!rt->methods)
        return 0;
    for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE; mode++)
        for (int j = 0; j < rt->n_k[mode]; j++)
            if (rt->k[mode][j] > ds->n_inputs) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d:%d: retrain.%s: %d inputs is more "
                             "than dataset %s has (%d)", sw->path, rt->k_at[mode][j].line,
                             rt->k_at[mode][j].col, ss_retrain_mode_name(mode),
                             rt->k[mode][j], ds->name, ds->n_inputs);
                return -1;
            }
    if (((rt->methods >> SS_RETRAIN_TRUTH) & 1u) && !ds->relevance_truth) {
        const ss_where_t *at = &rt->method_at[SS_RETRAIN_TRUTH];
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d:%d: retrain.methods: truth needs a dataset "
                     "whose relevance is known (gaussian, correlated, spectra), and dataset "
                     "%s has none", sw->path, at->line, at->col, ds->name);
        return -1;
    }
    return 0;
}
