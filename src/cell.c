/* cell.c - the statistics of one summary cell. See include/specsweep/cell.h. */
#include "specsweep/cell.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/attrib_settings.h"
#include "specsweep/stats.h"
#include "specsweep/util.h"

/* At least one element, so that an empty matrix still has an address. */
static void *alloc_n(size_t n, size_t size) { return ss_calloc(n > 0 ? n : 1, size); }

void ss_cell_stats_begin(ss_cell_stats_t *cs, int n_max, int n_inputs,
                         const ss_result_t *first)
{
    memset(cs, 0, sizeof *cs);
    int d = n_inputs, K = first->n_topk;
    cs->n_inputs = d;
    cs->n_topk = K;
    cs->seeds = alloc_n((size_t)n_max, sizeof *cs->seeds);
    cs->eigenvalues = alloc_n((size_t)n_max * (size_t)d, sizeof *cs->eigenvalues);
    cs->abs_mean = alloc_n((size_t)d, sizeof *cs->abs_mean);
    cs->abs_std = alloc_n((size_t)d, sizeof *cs->abs_std);
    cs->test_accuracy = alloc_n((size_t)n_max, sizeof *cs->test_accuracy);
    cs->test_loss = alloc_n((size_t)n_max, sizeof *cs->test_loss);
    cs->topk = alloc_n((size_t)K, sizeof *cs->topk);
    cs->topk_accuracy = alloc_n((size_t)n_max * (size_t)K, sizeof *cs->topk_accuracy);
    cs->randomk_accuracy = alloc_n((size_t)n_max * (size_t)K, sizeof *cs->randomk_accuracy);
    if (K > 0)
        memcpy(cs->topk, first->topk, (size_t)K * sizeof *cs->topk);
    cs->n_max = n_max;
    cs->n_methods = first->n_methods;
    cs->methods = alloc_n((size_t)first->n_methods, sizeof *cs->methods);
    for (int i = 0; i < first->n_methods; i++) {
        ss_cell_method_t *m = &cs->methods[i];
        size_t V = (size_t)first->methods[i].n_values, N = (size_t)n_max;
        m->method = first->methods[i].method;
        m->n_values = (int)V;
        m->values = alloc_n(N * V, sizeof *m->values);
        m->abs_mean = alloc_n(V, sizeof *m->abs_mean);
        m->abs_std = alloc_n(V, sizeof *m->abs_std);
        m->topk_accuracy = alloc_n(N * (size_t)K, sizeof *m->topk_accuracy);
        m->seconds = alloc_n(N, sizeof *m->seconds);
        m->spearman = alloc_n(N, sizeof *m->spearman);
        m->support_recall = alloc_n(N, sizeof *m->support_recall);
        m->auroc = alloc_n(N, sizeof *m->auroc);
    }
}

void ss_cell_stats_truth(ss_cell_stats_t *cs, const double *truth)
{
    cs->truth = truth;
    cs->truth_given = truth != NULL;
}

/* Row j of method m from run r (NaN where r has no usable entry for it). */
static void add_method(ss_cell_stats_t *cs, ss_cell_method_t *m, int j, const ss_result_t *r)
{
    int V = m->n_values, K = cs->n_topk;
    const ss_method_result_t *mr = ss_result_method(r, m->method);
    int usable = mr && !mr->skipped && mr->n_values == V;
    m->n_skipped += mr && mr->skipped;
    for (int i = 0; i < V; i++)
        m->values[(size_t)j * V + i] = usable ? mr->values[i] : NAN;
    for (int q = 0; q < K; q++) {
        double t = NAN;
        for (int p = 0; mr && p < r->n_topk && p < mr->n_topk; p++)
            if (r->topk[p] == cs->topk[q])
                t = mr->topk_accuracy[p];
        m->topk_accuracy[(size_t)j * K + q] = t;
    }
    m->seconds[j] = mr ? mr->seconds : NAN;
    m->spearman[j] = m->support_recall[j] = m->auroc[j] = NAN;
    if (!usable || !cs->truth || V != cs->n_inputs)
        return;
    double *score = ss_malloc((size_t)V * sizeof *score);
    for (int i = 0; i < V; i++)
        score[i] = ss_attrib_rank_value((ss_attrib_method_t)m->method, mr->values[i]);
    m->spearman[j] = ss_stats_spearman(score, cs->truth, V);
    m->support_recall[j] = ss_stats_support_recall(score, cs->truth, V);
    m->auroc[j] = ss_stats_auroc(score, cs->truth, V);
    free(score);
}

void ss_cell_stats_add(ss_cell_stats_t *cs, const ss_result_t *r)
{
    int j = cs->n++, d = cs->n_inputs, K = cs->n_topk;
    cs->seeds[j] = r->seed;
    cs->test_accuracy[j] = r->test_accuracy;
    cs->test_loss[j] = r->test_loss;
    for (int i = 0; i < d; i++) /* a run of another input count has no row */
        cs->eigenvalues[(size_t)j * d + i] = r->n_inputs == d ? r->eigenvalues[i] : NAN;
    for (int q = 0; q < K; q++) { /* match k values, in case the lists differ */
        double t = NAN, rk = NAN;
        for (int p = 0; p < r->n_topk; p++)
            if (r->topk[p] == cs->topk[q]) {
                t = r->topk_accuracy[p];
                rk = r->randomk_accuracy[p];
                break;
            }
        cs->topk_accuracy[(size_t)j * K + q] = t;
        cs->randomk_accuracy[(size_t)j * K + q] = rk;
    }
    for (int i = 0; i < cs->n_methods; i++)
        add_method(cs, &cs->methods[i], j, r);
}

/* ---- the stability of a ranking over pairs of realizations ---------------------------- */

/* A running mean and spread (Welford's), NaN skipped: a cell of n realizations has
   n (n - 1) / 2 pairs, too many to keep for a study of many seeds. */
typedef struct {
    long n;
    double mean, m2;
} running_t;

static void running_add(running_t *a, double v)
{
    if (isnan(v))
        return;
    a->n++;
    double d = v - a->mean;
    a->mean += d / (double)a->n;
    a->m2 += d * (v - a->mean);
}

/* Mean and population std (ddof 0) of what was added; NaN when nothing was. */
static void running_get(const running_t *a, double *mean, double *std)
{
    *mean = a->n ? a->mean : NAN;
    *std = a->n ? sqrt(a->m2 / (double)a->n) : NAN;
}

/* The usable rows of rows[n x V] (no NaN; none when V = 0) packed to the front of score
   (their rank values), order (their top-k orders) and pos (each order's inverse: the place
   of every index), each u x V; returns u. */
static int stability_rows(const double *rows, int n, int V, int method, double *score,
                          int *order, int *pos)
{
    int u = 0;
    for (int j = 0; j < n && V > 0; j++) {
        const double *row = rows + (size_t)j * V;
        int usable = 1;
        for (int i = 0; i < V && usable; i++)
            usable = !isnan(row[i]);
        if (!usable)
            continue;
        double *sc = score + (size_t)u * V;
        int *o = order + (size_t)u * V, *p = pos + (size_t)u * V;
        for (int i = 0; i < V; i++)
            sc[i] = ss_attrib_rank_value((ss_attrib_method_t)method, row[i]);
        ss_stats_rank_order(sc, V, o);
        for (int i = 0; i < V; i++)
            p[o[i]] = i;
        u++;
    }
    return u;
}

/* st from the n x V rows of a ranking (method: how a value ranks, SS_ATTRIB_SPECTRAL for
   the signed eigenvalues) at the k values topk[0..K) that are at most V. */
static void stability_compute(ss_cell_stability_t *st, const double *rows, int n, int V,
                              int method, const int64_t *topk, int K)
{
    memset(st, 0, sizeof *st);
    st->computed = 1;
    st->k = alloc_n((size_t)K, sizeof *st->k);
    st->jaccard_mean = alloc_n((size_t)K, sizeof *st->jaccard_mean);
    st->jaccard_std = alloc_n((size_t)K, sizeof *st->jaccard_std);
    for (int q = 0; q < K; q++)
        if (topk[q] >= 1 && topk[q] <= V)
            st->k[st->n_k++] = topk[q];
    size_t cells = (size_t)n * (size_t)(V > 0 ? V : 0);
    double *score = alloc_n(cells, sizeof *score);
    int *order = alloc_n(cells, sizeof *order), *pos = alloc_n(cells, sizeof *pos);
    int u = stability_rows(rows, n, V, method, score, order, pos);
    running_t tau = {0, 0, 0}, *jac = alloc_n((size_t)st->n_k, sizeof *jac);
    for (int a = 0; a < u; a++)
        for (int b = a + 1; b < u; b++) {
            size_t oa = (size_t)a * V, ob = (size_t)b * V;
            running_add(&tau, ss_stats_kendall_tau_b(score + oa, score + ob, V));
            for (int q = 0; q < st->n_k; q++)
                running_add(&jac[q], ss_stats_topk_jaccard(order + oa, pos + ob, (int)st->k[q]));
            st->n_pairs++;
        }
    running_get(&tau, &st->tau_mean, &st->tau_std);
    for (int q = 0; q < st->n_k; q++)
        running_get(&jac[q], &st->jaccard_mean[q], &st->jaccard_std[q]);
    free(jac);
    free(score);
    free(order);
    free(pos);
}

static void stability_free(ss_cell_stability_t *st)
{
    free(st->k);
    free(st->jaccard_mean);
    free(st->jaccard_std);
    memset(st, 0, sizeof *st);
}

void ss_cell_stats_end(ss_cell_stats_t *cs)
{
    if (cs->n > 0)
        ss_stats_abs_columns(cs->eigenvalues, cs->n, cs->n_inputs, cs->abs_mean, cs->abs_std);
    for (int i = 0; cs->n > 0 && i < cs->n_methods; i++) {
        ss_cell_method_t *m = &cs->methods[i];
        ss_stats_abs_columns(m->values, cs->n, m->n_values, m->abs_mean, m->abs_std);
    }
    if (cs->n >= 2) { /* one realization has no pair to compare */
        stability_compute(&cs->stability, cs->eigenvalues, cs->n, cs->n_inputs,
                          SS_ATTRIB_SPECTRAL, cs->topk, cs->n_topk);
        for (int i = 0; i < cs->n_methods; i++) {
            ss_cell_method_t *m = &cs->methods[i];
            stability_compute(&m->stability, m->values, cs->n, m->n_values, m->method,
                              cs->topk, cs->n_topk);
        }
    }
    cs->truth = NULL;
}

void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs)
{
    ss_cell_stats_begin(cs, n, n_inputs, ok[0]);
    for (int j = 0; j < n; j++)
        ss_cell_stats_add(cs, ok[j]);
    ss_cell_stats_end(cs);
}

void ss_cell_stats_free(ss_cell_stats_t *cs)
{
    if (!cs)
        return;
    free(cs->seeds);
    free(cs->eigenvalues);
    free(cs->abs_mean);
    free(cs->abs_std);
    free(cs->test_accuracy);
    free(cs->test_loss);
    free(cs->topk);
    free(cs->topk_accuracy);
    free(cs->randomk_accuracy);
    for (int i = 0; cs->methods && i < cs->n_methods; i++) {
        ss_cell_method_t *m = &cs->methods[i];
        free(m->values);
        free(m->abs_mean);
        free(m->abs_std);
        free(m->topk_accuracy);
        free(m->seconds);
        free(m->spearman);
        free(m->support_recall);
        free(m->auroc);
        stability_free(&m->stability);
    }
    stability_free(&cs->stability);
    free(cs->methods);
    memset(cs, 0, sizeof *cs);
}
