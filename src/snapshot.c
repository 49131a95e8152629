/* snapshot.c - the HDF5 results file, rebuilt from the log contents. See
   include/specsweep/snapshot.h. */
#define _GNU_SOURCE /* copy_file_range */
#include "specsweep/snapshot.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specsweep/cell.h"
#include "specsweep/h5io.h"
#include "specsweep/stats.h"

/* ---- / and /datasets ------------------------------------------------------------------- */

static int write_root(ss_h5w_t *w, hid_t file, const ss_sweep_t *sw,
                      const ss_log_contents_t *c)
{
    char created[32];
    if (c->has_header && c->header.created_utc[0])
        snprintf(created, sizeof created, "%s", c->header.created_utc);
    else
        ss_utc_now(created);
    const char *yaml = sw->yaml_text ? sw->yaml_text : c->header.yaml_text;
    w->where[0] = '\0';
    if (ss_h5w_attr_str(w, file, "format", "specsweep-results") ||
        ss_h5w_attr_i64(w, file, "format_version", SS_FORMAT_VERSION) ||
        ss_h5w_attr_str(w, file, "specsweep_version", SS_VERSION) ||
        ss_h5w_attr_str(w, file, "sweep_name", sw->name[0] ? sw->name : c->header.sweep_name) ||
        ss_h5w_attr_str(w, file, "sweep_yaml", yaml ? yaml : "") ||
        ss_h5w_attr_str(w, file, "created_utc", created))
        return -1;
    return 0;
}

static int write_dataset_info(ss_h5w_t *w, hid_t top, const ss_dataset_info_t *ds)
{
    char path[128];
    snprintf(path, sizeof path, "/datasets/%s", ds->name);
    hid_t g = ss_h5w_group(w, top, ds->name, path, 0);
    if (g < 0)
        return -1;
    const char *kind = ss_kind_name(ds->kind);
    int rc = ss_h5w_attr_str(w, g, "kind", kind ? kind : "") ||
             ss_h5w_attr_i64(w, g, "n_inputs", ds->n_inputs) ||
             ss_h5w_attr_i64(w, g, "n_classes", ds->n_classes) ||
             ss_h5w_attr_i64(w, g, "n_train", ds->n_train) ||
             ss_h5w_attr_i64(w, g, "n_test", ds->n_test);
    if (!rc && ds->input_rank == 2) {
        int64_t shape[2] = {ds->input_shape[0], ds->input_shape[1]};
        rc = ss_h5w_attr_i64v(w, g, "input_shape", shape, 2);
    }
    if (!rc && ds->relevance_truth)
        rc = ss_h5w_f64(w, g, "relevance_truth", ds->relevance_truth, ds->n_inputs);
    if (!rc && ds->feature_names)
        rc = ss_h5w_strings(w, g, "feature_names", ds->feature_names, ds->n_inputs);
    if (!rc && ds->standardize_mean && ds->standardize_std) /* only then: files unchanged */
        rc = ss_h5w_attr_i64(w, g, "standardize", 1) ||
             ss_h5w_f64(w, g, "standardize_mean", ds->standardize_mean, ds->n_inputs) ||
             ss_h5w_f64(w, g, "standardize_std", ds->standardize_std, ds->n_inputs);
    if (H5Gclose(g) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

static int write_datasets(ss_h5w_t *w, hid_t file, const ss_log_contents_t *c)
{
    hid_t top = ss_h5w_group(w, file, "datasets", "/datasets", 1);
    if (top < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < c->n_datasets && rc == 0; i++)
        rc = write_dataset_info(w, top, &c->datasets[i]);
    H5Gclose(top);
    return rc;
}

/* ---- /runs: one group per result, written from the field table --------------------------- */

/* Training key k of *t as an attribute: an int, a number, or a choice's name. */
static int write_training_key(ss_h5w_t *w, hid_t g, const ss_training_t *t,
                              ss_training_key_t k)
{
    const char *key = ss_training_key_name(k);
    double v = ss_training_get(t, k);
    if (ss_training_key_is_choice(k)) {
        char text[32];
        return ss_h5w_attr_str(w, g, key, ss_training_key_text(t, k, text, sizeof text));
    }
    return ss_training_key_is_int(k) ? ss_h5w_attr_i64(w, g, key, (int64_t)v)
                                     : ss_h5w_attr_f64(w, g, key, v);
}

/* What the /runs writer needs besides a result: the sweep (the methods' settings) and the
   run's dataset (the truth the methods are scored against; NULL if unknown). */
typedef struct {
    const ss_sweep_t *sw;
    const ss_dataset_info_t *ds;
    const ss_run_t *runs;        /* the grid's runs (a retraining run names its parent) */
} run_ctx_t;

/* The scores of a relevance against the dataset's truth, where it has one. */
static int write_scores(ss_h5w_t *w, hid_t d, int method, const double *v, int n,
                        const ss_dataset_info_t *ds)
{
    if (!ds || !ds->relevance_truth || n != ds->n_inputs || n < 2)
        return 0;
    double *score = ss_malloc((size_t)n * sizeof *score);
    for (int i = 0; i < n; i++)
        score[i] = ss_attrib_rank_value((ss_attrib_method_t)method, v[i]);
    int rc = ss_h5w_attr_f64(w, d, "spearman", ss_stats_spearman(score, ds->relevance_truth, n)) ||
             ss_h5w_attr_f64(w, d, "support_recall",
                             ss_stats_support_recall(score, ds->relevance_truth, n)) ||
             ss_h5w_attr_f64(w, d, "auroc", ss_stats_auroc(score, ds->relevance_truth, n));
    free(score);
    return rc;
}

/* The settings that shaped a method's result, as attributes of its dataset. */
static int write_method_settings(ss_h5w_t *w, hid_t d, int method, const ss_sweep_t *sw)
{
    for (int k = 0; k < ss_attrib_n_keys; k++) {
        const ss_attrib_key_t *key = &ss_attrib_keys[k];
        if (!ss_attrib_key_applies(key, (ss_attrib_method_t)method))
            continue;
        const char *p = (const char *)&sw->attrib + key->offset;
        int rc = key->kind == SS_ATTRIB_KEY_REAL
                     ? ss_h5w_attr_f64(w, d, key->name, *(const double *)p)
                 : key->kind == SS_ATTRIB_KEY_INT
                     ? ss_h5w_attr_i64(w, d, key->name, *(const int *)p)
                     : ss_h5w_attr_str(w, d, key->name,
                                       ss_attrib_baseline_name(*(const ss_attrib_baseline_t *)p));
        if (rc)
            return -1;
    }
    return ss_h5w_attr_str(w, d, "masking", sw->mean_masking ? "mean" : "zero");
}

/* /runs/<id>/<name>/<method>: the relevance per input (or per frequency) with its cost,
   checks, top-k accuracies, settings and scores as attributes. */
static int write_methods(ss_h5w_t *w, hid_t g, const char *name, const ss_method_result_t *m,
                         int n, const run_ctx_t *ctx)
{
    if (n <= 0)
        return 0;
    hid_t rg = ss_h5w_group(w, g, name, name, 0);
    if (rg < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *mn = ss_attrib_method_name((ss_attrib_method_t)m[i].method);
        rc = ss_h5w_f64(w, rg, mn, m[i].values, m[i].n_values);
        if (rc)
            break;
        hid_t d = H5Dopen2(rg, mn, H5P_DEFAULT);
        if (d < 0) {
            rc = ss_h5w_fail(w, "reopening dataset %s in", mn);
            break;
        }
        double info[SS_METHOD_INFO_COUNT];
        ss_method_result_info(&m[i], info);
        static const char *const info_names[SS_METHOD_INFO_COUNT] = {
            "skipped", "n_samples", "seconds", "forward_passes", "backward_passes",
            "check_mean", "check_max", "check_scale", "absorbed_mean"};
        for (int k = 0; k < SS_METHOD_INFO_COUNT && !rc; k++)
            rc = k == 0 || k == 1 || k == 3 || k == 4
                     ? ss_h5w_attr_i64(w, d, info_names[k], (int64_t)info[k])
                     : ss_h5w_attr_f64(w, d, info_names[k], info[k]);
        if (!rc && m[i].n_topk > 0)
            rc = ss_h5w_attr_f64v(w, d, "topk_accuracy", m[i].topk_accuracy, m[i].n_topk);
        if (!rc && ctx->sw)
            rc = write_method_settings(w, d, m[i].method, ctx->sw);
        if (!rc && !m[i].skipped)
            rc = write_scores(w, d, m[i].method, m[i].values, m[i].n_values, ctx->ds);
        H5Dclose(d);
    }
    if (H5Gclose(rg) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

static int write_result_field(ss_h5w_t *w, hid_t g, const ss_result_field_t *f,
                              const ss_result_t *r, const run_ctx_t *ctx)
{
    const void *m = (const char *)r + f->offset;
    const char *name = ss_result_field_h5_name(f, r->task);
    int n = f->count_offset ? *(const int *)((const char *)r + f->count_offset) : 0;
    switch (f->kind) {
    case SS_FIELD_STRING: return ss_h5w_attr_str(w, g, name, m);
    case SS_FIELD_I64: return ss_h5w_attr_i64(w, g, name, *(const int64_t *)m);
    case SS_FIELD_INT: return ss_h5w_attr_i64(w, g, name, *(const int *)m);
    case SS_FIELD_F64: return ss_h5w_attr_f64(w, g, name, *(const double *)m);
    case SS_FIELD_STATUS:
        return ss_h5w_attr_str(w, g, name, ss_status_name(*(const ss_status_t *)m));
    case SS_FIELD_TASK: return ss_h5w_attr_str(w, g, name, ss_task_name(*(const ss_task_t *)m));
    case SS_FIELD_F64_ARRAY: return ss_h5w_f64(w, g, name, *(double *const *)m, n);
    case SS_FIELD_I64_ARRAY: return ss_h5w_i64(w, g, name, *(int64_t *const *)m, n);
    case SS_FIELD_METHODS:
        return write_methods(w, g, name, *(ss_method_result_t *const *)m, n, ctx);
    case SS_FIELD_TRAINING:
        for (int k = 0; k < SS_KEY_COUNT; k++)
            if (ss_training_key_in_use(m, (ss_training_key_t)k) &&
                write_training_key(w, g, m, (ss_training_key_t)k))
                return -1;
        return 0;
    }
    return ss_h5w_fail(w, "writing field %s (unknown kind) of", f->name);
}

/* A model key's value as an attribute (config.h: ss_model_key_value). */
static int write_value(ss_h5w_t *w, hid_t g, const char *name, const ss_value_t *v)
{
    switch (v->kind) {
    case SS_VALUE_INT: return ss_h5w_attr_i64(w, g, name, v->i);
    case SS_VALUE_REAL: return ss_h5w_attr_f64(w, g, name, v->r);
    case SS_VALUE_TEXT: return ss_h5w_attr_str(w, g, name, v->text);
    case SS_VALUE_INTS: return ss_h5w_attr_i64v(w, g, name, v->ints, v->n);
    case SS_VALUE_REALS: return ss_h5w_attr_f64v(w, g, name, v->reals, v->n);
    }
    return ss_h5w_fail(w, "writing attribute %s (unknown kind) of", name);
}

/* The settings of sweep axis a at the point of `run`: the key's value, or for a bundle
   axis the bundle's name, as attribute a->name. */
static int write_axis_value(ss_h5w_t *w, hid_t g, const ss_axis_t *a, const ss_run_t *run,
                            int point)
{
    ss_value_t v;
    switch (a->kind) {
    case SS_AXIS_TRAINING: return write_training_key(w, g, &run->training, a->key);
    case SS_AXIS_MODEL:
        ss_model_key_value(&run->model, a->model_key, &v);
        return write_value(w, g, a->name, &v);
    case SS_AXIS_BUNDLE: return ss_h5w_attr_str(w, g, a->name, a->labels[point]);
    }
    return ss_h5w_fail(w, "writing sweep axis %s (unknown kind) of", a->name);
}

/* A retraining run's (or cell's) attributes: retrain_mode, retrain_method, retrain_k,
   and its parent's id under `parent_attr` (the run's, or the cell's). */
static int write_retrain_attrs(ss_h5w_t *w, hid_t g, const ss_run_t *run, const char *parent_attr,
                               const char *parent_id)
{
    return ss_h5w_attr_str(w, g, parent_attr, parent_id) ||
           ss_h5w_attr_str(w, g, "retrain_mode", ss_retrain_mode_name(run->retrain.mode)) ||
           ss_h5w_attr_str(w, g, "retrain_method", ss_retrain_method_name(run->retrain.method)) ||
           ss_h5w_attr_i64(w, g, "retrain_k", run->retrain.k);
}

static int write_run(ss_h5w_t *w, hid_t top, const ss_run_t *run, const ss_result_t *r,
                     const run_ctx_t *ctx)
{
    char path[256];
    snprintf(path, sizeof path, "/runs/%s", r->run_id);
    hid_t g = ss_h5w_group(w, top, r->run_id, path, 0);
    if (g < 0)
        return -1;
    int rc = ss_h5w_attr_str(w, g, "cell_id", run->cell_id);
    for (int k = 0; k < ss_result_n_fields && !rc; k++)
        if (!(ss_result_fields[k].flags & SS_FIELD_NOT_IN_H5) && !ss_result_field_absent(r, k))
            rc = write_result_field(w, g, &ss_result_fields[k], r, ctx);
    /* a sweep that records its model: every model and init key, and the bundles' names */
    const ss_sweep_t *sw = ctx->sw;
    for (int k = 0; sw && sw->record_model && k < SS_MKEY_COUNT && !rc; k++) {
        ss_value_t v;
        ss_model_key_value(&run->model, (ss_model_key_t)k, &v);
        rc = write_value(w, g, ss_model_key_name((ss_model_key_t)k), &v);
    }
    for (int a = 0; sw && sw->record_model && a < sw->n_axes && !rc; a++)
        if (sw->axes[a].kind == SS_AXIS_BUNDLE)
            rc = write_axis_value(w, g, &sw->axes[a], run, run->axis_index[a]);
    if (run->retrain.mode != SS_RETRAIN_NONE && ctx->runs && !rc)
        rc = write_retrain_attrs(w, g, run, "retrain_parent", ctx->runs[run->retrain.parent].id);
    if (H5Gclose(g) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

/* ---- /summary: one group per cell -------------------------------------------------------- */

/* mean and std (ddof 0, NaN skipped) of v[n] as attributes <name>_mean, <name>_std. */
static int write_mean_std(ss_h5w_t *w, hid_t g, const char *name, const double *v, int n)
{
    double mean, std;
    ss_stats_mean_std(v, n, &mean, &std);
    char a[64], b[64];
    snprintf(a, sizeof a, "%s_mean", name);
    snprintf(b, sizeof b, "%s_std", name);
    return ss_h5w_attr_f64(w, g, a, mean) || ss_h5w_attr_f64(w, g, b, std);
}

/* The stability of a ranking over pairs of realizations (cell.h): attributes
   stability_pairs, stability_kendall_tau_mean and _std, datasets stability_k,
   stability_jaccard_mean and _std (one entry per k); nothing for a cell of one
   realization, which has no pair. */
static int write_stability(ss_h5w_t *w, hid_t g, const ss_cell_stability_t *st)
{
    if (!st->computed)
        return 0;
    return ss_h5w_attr_i64(w, g, "stability_pairs", st->n_pairs) ||
           ss_h5w_attr_f64(w, g, "stability_kendall_tau_mean", st->tau_mean) ||
           ss_h5w_attr_f64(w, g, "stability_kendall_tau_std", st->tau_std) ||
           ss_h5w_i64(w, g, "stability_k", st->k, st->n_k) ||
           ss_h5w_f64(w, g, "stability_jaccard_mean", st->jaccard_mean, st->n_k) ||
           ss_h5w_f64(w, g, "stability_jaccard_std", st->jaccard_std, st->n_k);
}

/* /summary/<cell>/relevance/<method>: every realization's relevance and top-k curve,
   |relevance| mean and std over them, the scores' and the cost's mean and std, the
   ranking's stability over pairs of realizations. */
static int write_cell_methods(ss_h5w_t *w, hid_t g, const ss_cell_stats_t *cs)
{
    if (cs->n_methods <= 0)
        return 0;
    hid_t rg = ss_h5w_group(w, g, "relevance", "relevance", 0);
    if (rg < 0)
        return -1;
    int rc = 0, n = cs->n, K = cs->n_topk;
    for (int i = 0; i < cs->n_methods && !rc; i++) {
        const ss_cell_method_t *m = &cs->methods[i];
        const char *mn = ss_attrib_method_name((ss_attrib_method_t)m->method);
        hid_t mg = ss_h5w_group(w, rg, mn, mn, 0);
        if (mg < 0) {
            rc = -1;
            break;
        }
        rc = ss_h5w_f64_2d(w, mg, "values", m->values, n, m->n_values) ||
             ss_h5w_f64(w, mg, "abs_mean", m->abs_mean, m->n_values) ||
             ss_h5w_f64(w, mg, "abs_std", m->abs_std, m->n_values) ||
             ss_h5w_f64_2d(w, mg, "topk_accuracy", m->topk_accuracy, n, K) ||
             ss_h5w_f64(w, mg, "seconds", m->seconds, n) ||
             ss_h5w_attr_i64(w, mg, "n_skipped", m->n_skipped) ||
             write_mean_std(w, mg, "seconds", m->seconds, n) ||
             write_stability(w, mg, &m->stability);
        if (!rc && cs->truth_given)
            rc = write_mean_std(w, mg, "spearman", m->spearman, n) ||
                 write_mean_std(w, mg, "support_recall", m->support_recall, n) ||
                 write_mean_std(w, mg, "auroc", m->auroc, n);
        if (H5Gclose(mg) < 0 && !rc)
            rc = ss_h5w_fail(w, "closing group");
    }
    if (H5Gclose(rg) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

/* One summary cell from its statistics (cs) and its runs' counts; run0 is its first ok run. */
static int write_cell(ss_h5w_t *w, hid_t top, const ss_sweep_t *sw, const ss_run_t *run0,
                      const char *dataset, const ss_cell_stats_t *cs, int n_diverged,
                      int n_failed)
{
    char path[256];
    snprintf(path, sizeof path, "/summary/%s", run0->cell_id);
    hid_t g = ss_h5w_group(w, top, run0->cell_id, path, 0);
    if (g < 0)
        return -1;
    /* swept_keys names the attributes that are sweep axes ("" when none), so analysis
       tells them from bookkeeping attributes without a list of exclusions: a training
       key, a model key by its dotted name, a bundle axis by its name */
    char swept[SS_MAX_AXES * (SS_NAME_MAX + 1)] = "";
    for (int a = 0; a < sw->n_axes; a++) {
        size_t len = strlen(swept);
        snprintf(swept + len, sizeof swept - len, "%s%s", a ? "," : "", sw->axes[a].name);
    }
    int rc = ss_h5w_attr_str(w, g, "dataset", dataset) ||
             ss_h5w_attr_str(w, g, "cell_id", run0->cell_id) ||
             ss_h5w_attr_i64(w, g, "cell_index", run0->cell) ||
             ss_h5w_attr_str(w, g, "swept_keys", swept);
    for (int a = 0; a < sw->n_axes && !rc; a++)
        rc = write_axis_value(w, g, &sw->axes[a], run0, run0->axis_index[a]);
    int n = cs->n, d = cs->n_inputs, K = cs->n_topk;
    rc = rc || ss_h5w_attr_i64(w, g, "n_realizations", n) ||
         ss_h5w_attr_i64(w, g, "n_diverged", n_diverged) ||
         ss_h5w_attr_i64(w, g, "n_failed", n_failed) ||
         ss_h5w_i64(w, g, "seeds", cs->seeds, n) ||
         ss_h5w_f64_2d(w, g, "eigenvalues", cs->eigenvalues, n, d) ||
         ss_h5w_f64(w, g, "eigenvalues_abs_mean", cs->abs_mean, d) ||
         ss_h5w_f64(w, g, "eigenvalues_abs_std", cs->abs_std, d) ||
         ss_h5w_f64(w, g, "test_accuracy", cs->test_accuracy, n) ||
         ss_h5w_f64(w, g, "test_loss", cs->test_loss, n) ||
         ss_h5w_i64(w, g, "topk", cs->topk, K) ||
         ss_h5w_f64_2d(w, g, "topk_accuracy", cs->topk_accuracy, n, K) ||
         ss_h5w_f64_2d(w, g, "randomk_accuracy", cs->randomk_accuracy, n, K) ||
         write_stability(w, g, &cs->stability) ||
         write_cell_methods(w, g, cs);
    if (H5Gclose(g) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

/* The statistics of the ok runs idx[0..n) of c, read one at a time (a lean contents
   reads each run's arrays back from the log and frees them before the next). */
static int cell_stats(ss_log_contents_t *c, const int *idx, int n, ss_cell_stats_t *cs,
                      ss_error_t *err)
{
    const ss_result_t *r0 = &c->results[idx[0]];
    const ss_dataset_info_t *ds = ss_log_contents_find_dataset(c, r0->dataset);
    ss_result_t r;
    for (int j = 0; j < n; j++) {
        if (ss_log_contents_load(c, idx[j], &r, err) != 0) {
            if (j > 0)
                ss_cell_stats_free(cs);
            return -1;
        }
        if (j == 0) {
            ss_cell_stats_begin(cs, n, ds ? ds->n_inputs : r.n_inputs, &r);
            ss_cell_stats_truth(cs, ds && ds->relevance_truth ? ds->relevance_truth : NULL);
        }
        ss_cell_stats_add(cs, &r);
        ss_result_free(&r);
    }
    ss_cell_stats_end(cs);
    return 0;
}

/* Where the runs of a sweep are in c, and which runs share a cell. */
typedef struct {
    int *res;     /* per run: the index of its result in c, or -1 */
    int *first;   /* per cell: its first run (in run order), or -1 */
    int *next;    /* per run: the next run of its cell, or -1 */
    int *child_first; /* per cell: the first cell of its retraining runs, or -1 */
    int *child_next;  /* per retraining cell: the next one of the same parent cell, or -1 */
    int n_cells;
} run_index_t;

/* The cells of retraining runs listed under their parent cells, in cell order. */
static void child_cells_build(run_index_t *x, const ss_run_t *runs)
{
    size_t n = (size_t)(x->n_cells > 0 ? x->n_cells : 1);
    x->child_first = ss_malloc(n * sizeof *x->child_first);
    x->child_next = ss_malloc(n * sizeof *x->child_next);
    int *last = ss_malloc(n * sizeof *last);
    for (int q = 0; q < x->n_cells; q++)
        x->child_first[q] = x->child_next[q] = -1;
    for (int q = 0; q < x->n_cells; q++) {
        int i = x->first[q];
        if (i < 0 || runs[i].retrain.mode == SS_RETRAIN_NONE)
            continue;
        int pq = runs[runs[i].retrain.parent].cell;
        if (x->child_first[pq] < 0)
            x->child_first[pq] = q;
        else
            x->child_next[last[pq]] = q;
        last[pq] = q;
    }
    free(last);
}

static void run_index_build(run_index_t *x, const ss_run_t *runs, int n_runs,
                            const ss_log_contents_t *c)
{
    x->n_cells = 0;
    x->res = ss_malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *x->res);
    for (int i = 0; i < n_runs; i++) {
        const ss_result_t *r = ss_log_contents_find(c, runs[i].id);
        x->res[i] = r ? (int)(r - c->results) : -1;
        if (runs[i].cell + 1 > x->n_cells)
            x->n_cells = runs[i].cell + 1;
    }
    int *last = ss_malloc((size_t)(x->n_cells > 0 ? x->n_cells : 1) * sizeof *last);
    x->first = ss_malloc((size_t)(x->n_cells > 0 ? x->n_cells : 1) * sizeof *x->first);
    x->next = ss_malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *x->next);
    for (int q = 0; q < x->n_cells; q++)
        x->first[q] = -1;
    for (int i = 0; i < n_runs; i++) {
        int q = runs[i].cell;
        x->next[i] = -1;
        if (q < 0)
            continue;
        if (x->first[q] < 0)
            x->first[q] = i;
        else
            x->next[last[q]] = i;
        last[q] = i;
    }
    free(last);
    child_cells_build(x, runs);
}

static void run_index_free(run_index_t *x)
{
    free(x->res);
    free(x->first);
    free(x->next);
    free(x->child_first);
    free(x->child_next);
}

/* The test metric (accuracy, or MAE for regression) of cell q's ok runs into v; returns
   how many. */
static int cell_metric(const run_index_t *x, int q, const ss_log_contents_t *c, double *v,
                       int regression)
{
    int n = 0;
    for (int m = x->first[q]; m >= 0; m = x->next[m]) {
        const ss_result_t *r = x->res[m] >= 0 ? &c->results[x->res[m]] : NULL;
        if (r && r->status == SS_STATUS_OK)
            v[n++] = regression ? r->test_loss : r->test_accuracy;
    }
    return n;
}

/* /summary/<cell>/retrain/<mode>/<method> of parent cell g (cell q): per k of the sweep,
   the test metric's mean and std over the retraining runs of that cell that are done.
   The metric is named by the task of the cell's dataset (regression: MAE), whether or
   not any of these runs is done. */
static int write_retrain_curve(ss_h5w_t *w, hid_t rg, const ss_sweep_t *sw,
                               const ss_run_t *runs, const run_index_t *x, int q, int mode,
                               int method, const ss_log_contents_t *c, double *v)
{
    int K = 0;
    for (int cc = x->child_first[q]; cc >= 0; cc = x->child_next[cc])
        K += runs[x->first[cc]].retrain.mode == (ss_retrain_mode_t)mode &&
             runs[x->first[cc]].retrain.method == method;
    if (K == 0)
        return 0;
    int64_t *k = ss_malloc((size_t)K * sizeof *k), *n = ss_malloc((size_t)K * sizeof *n);
    double *mean = ss_malloc((size_t)K * sizeof *mean), *std = ss_malloc((size_t)K * sizeof *std);
    const ss_dataset_info_t *ds =
        ss_log_contents_find_dataset(c, sw->datasets[runs[x->first[q]].dataset].name);
    int j = 0, regression = ds && ds->task == SS_TASK_REGRESSION;
    for (int cc = x->child_first[q]; cc >= 0; cc = x->child_next[cc]) {
        const ss_run_t *r0 = &runs[x->first[cc]];
        if (r0->retrain.mode != (ss_retrain_mode_t)mode || r0->retrain.method != method)
            continue;
        k[j] = r0->retrain.k;
        n[j] = cell_metric(x, cc, c, v, regression);
        ss_stats_mean_std(v, n[j], &mean[j], &std[j]);
        j++;
    }
    const char *path = ss_retrain_method_name(method);
    hid_t mg = ss_h5w_group(w, rg, path, path, 0);
    int rc = mg < 0 ? -1
             : ss_h5w_attr_str(w, mg, "metric", regression ? "test_mae" : "test_accuracy") ||
               ss_h5w_i64(w, mg, "k", k, K) || ss_h5w_f64(w, mg, "metric_mean", mean, K) ||
               ss_h5w_f64(w, mg, "metric_std", std, K) ||
               ss_h5w_i64(w, mg, "n_realizations", n, K);
    if (mg >= 0 && H5Gclose(mg) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    free(k);
    free(n);
    free(mean);
    free(std);
    return rc ? -1 : 0;
}

/* What cell q has of retraining: a retraining cell names its parent cell, mode, method and
   k; a parent cell gets /summary/<cell>/retrain/<mode>/<method> curves. */
static int write_cell_retrain(ss_h5w_t *w, hid_t top, const ss_sweep_t *sw,
                              const ss_run_t *runs, const run_index_t *x, int q,
                              const ss_log_contents_t *c)
{
    const ss_retrain_spec_t *retrain = &sw->retrain;
    int n_seeds = sw->n_seeds;
    const ss_run_t *r0 = &runs[x->first[q]];
    if (r0->retrain.mode == SS_RETRAIN_NONE && x->child_first[q] < 0)
        return 0;
    hid_t g = H5Gopen2(top, r0->cell_id, H5P_DEFAULT);
    if (g < 0)
        return ss_h5w_fail(w, "opening /summary/%s of", r0->cell_id);
    int rc = 0;
    if (r0->retrain.mode != SS_RETRAIN_NONE)
        rc = write_retrain_attrs(w, g, r0, "retrain_parent_cell",
                                 runs[r0->retrain.parent].cell_id);
    double *v = ss_malloc((size_t)(n_seeds > 0 ? n_seeds : 1) * sizeof *v);
    hid_t rg = rc || x->child_first[q] < 0 ? -1 : ss_h5w_group(w, g, "retrain", "retrain", 0);
    if (!rc && x->child_first[q] >= 0 && rg < 0)
        rc = -1;
    for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE && rg >= 0 && !rc; mode++) {
        if (retrain->n_k[mode] == 0)
            continue;
        const char *mn = ss_retrain_mode_name((ss_retrain_mode_t)mode);
        hid_t mg = ss_h5w_group(w, rg, mn, mn, 0);
        rc = mg < 0 ? -1 : 0;
        for (int m = 0; m < SS_RETRAIN_N_METHODS && !rc; m++)
            rc = write_retrain_curve(w, mg, sw, runs, x, q, mode, m, c, v);
        if (mg >= 0 && H5Gclose(mg) < 0 && !rc)
            rc = ss_h5w_fail(w, "closing group");
    }
    if (rg >= 0 && H5Gclose(rg) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    free(v);
    if (H5Gclose(g) < 0 && !rc)
        rc = ss_h5w_fail(w, "closing group");
    return rc ? -1 : 0;
}

/* /summary/<cell_id> of cell q from its finished runs (none written when it has no ok
   run); `ok` is scratch for as many ints as runs. */
static int write_cell_of(ss_h5w_t *w, hid_t top, const ss_sweep_t *sw, const ss_run_t *runs,
                         const run_index_t *x, int q, int *ok, ss_log_contents_t *c,
                         ss_error_t *err)
{
    int n_ok = 0, n_div = 0, n_fail = 0, first_ok = -1;
    for (int m = x->first[q]; m >= 0; m = x->next[m]) {
        if (x->res[m] < 0)
            continue;
        ss_status_t st = c->results[x->res[m]].status;
        if (st == SS_STATUS_OK) {
            if (first_ok < 0)
                first_ok = m;
            ok[n_ok++] = x->res[m];
        } else if (st == SS_STATUS_DIVERGED) {
            n_div++;
        } else {
            n_fail++;
        }
    }
    if (n_ok == 0)
        return 0;
    ss_cell_stats_t cs;
    if (cell_stats(c, ok, n_ok, &cs, err) != 0)
        return -1;
    int rc = write_cell(w, top, sw, &runs[first_ok], c->results[ok[0]].dataset, &cs, n_div,
                        n_fail);
    ss_cell_stats_free(&cs);
    return rc || write_cell_retrain(w, top, sw, runs, x, q, c) ? -1 : 0;
}

/* /runs/<id> of run `run` (one of runs) from its result (read back from the log when c
   is lean). */
static int write_run_of(ss_h5w_t *w, hid_t top, const ss_sweep_t *sw, const ss_run_t *runs,
                        const ss_run_t *run, int res, ss_log_contents_t *c, ss_error_t *err)
{
    ss_result_t r;
    if (ss_log_contents_load(c, res, &r, err) != 0)
        return -1;
    run_ctx_t ctx = {sw, ss_log_contents_find_dataset(c, r.dataset), runs};
    int rc = write_run(w, top, run, &r, &ctx);
    ss_result_free(&r);
    return rc;
}

/* The whole of /runs (in the order of runs) and /summary (cells in the order their first
   run appears). */
static int write_runs_and_summary(ss_h5w_t *w, hid_t file, const ss_sweep_t *sw,
                                  const ss_run_t *runs, int n_runs, ss_log_contents_t *c,
                                  ss_error_t *err)
{
    run_index_t x;
    run_index_build(&x, runs, n_runs, c);
    int *ok = ss_malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *ok);
    int rc = 0;
    hid_t top = ss_h5w_group(w, file, "runs", "/runs", 1);
    if (top < 0)
        rc = -1;
    for (int i = 0; i < n_runs && rc == 0; i++)
        if (x.res[i] >= 0)
            rc = write_run_of(w, top, sw, runs, &runs[i], x.res[i], c, err);
    if (top >= 0)
        H5Gclose(top);
    if (rc == 0) {
        top = ss_h5w_group(w, file, "summary", "/summary", 1);
        rc = top < 0 ? -1 : 0;
        for (int i = 0; i < n_runs && rc == 0; i++)
            if (runs[i].cell >= 0 && x.first[runs[i].cell] == i)
                rc = write_cell_of(w, top, sw, runs, &x, runs[i].cell, ok, c, err);
        if (top >= 0)
            H5Gclose(top);
    }
    free(ok);
    run_index_free(&x);
    return rc;
}

/* Bytes an object of loc holds in the file (its datasets' data and about 1 KB of
   metadata per object), for the garbage an update leaves. */
static herr_t add_storage(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    long *bytes = data;
    *bytes += 1024;
    hid_t d = H5Oopen(g, name, H5P_DEFAULT);
    H5I_type_t t = d >= 0 ? H5Iget_type(d) : H5I_BADID;
    if (t == H5I_DATASET)
        *bytes += (long)H5Dget_storage_size(d);
    else if (t == H5I_GROUP)
        H5Literate(d, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_storage, data);
    if (d >= 0)
        H5Oclose(d);
    return 0;
}

/* Unlink group `name` of top if it exists, counting what it leaves unused into *garbage. */
static int drop_group(ss_h5w_t *w, hid_t top, const char *name, long *garbage)
{
    if (H5Lexists(top, name, H5P_DEFAULT) <= 0)
        return 0;
    hid_t g = H5Gopen2(top, name, H5P_DEFAULT);
    if (g >= 0) {
        *garbage += 1024;
        H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_storage, garbage);
        H5Gclose(g);
    }
    return H5Ldelete(top, name, H5P_DEFAULT) < 0 ? ss_h5w_fail(w, "unlinking %s in", name) : 0;
}

/* The runs changed[0..n) (run indices) written again into an existing snapshot, and the
   cells they belong to: /runs groups appended (or replaced), /summary cells replaced. */
static int update_runs_and_cells(ss_h5w_t *w, hid_t file, const ss_sweep_t *sw,
                                 const ss_run_t *runs, int n_runs, ss_log_contents_t *c,
                                 const int *changed, int n, long *garbage, ss_error_t *err)
{
    run_index_t x;
    run_index_build(&x, runs, n_runs, c);
    int *ok = ss_malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *ok);
    unsigned char *cell_done = ss_calloc((size_t)(x.n_cells > 0 ? x.n_cells : 1), 1);
    hid_t rg = H5Gopen2(file, "runs", H5P_DEFAULT), sg = H5Gopen2(file, "summary", H5P_DEFAULT);
    int rc = rg < 0 || sg < 0 ? ss_h5w_fail(w, "opening /runs and /summary of") : 0;
    for (int j = 0; j < n && rc == 0; j++) {
        int i = changed[j];
        if (i < 0 || i >= n_runs || x.res[i] < 0)
            continue;
        snprintf(w->where, sizeof w->where, "/runs");
        rc = drop_group(w, rg, runs[i].id, garbage) ||
             write_run_of(w, rg, sw, runs, &runs[i], x.res[i], c, err);
    }
    /* the changed runs' cells, and a retraining run's parent cell (its curves) */
    for (int j = 0; j < 2 * n && rc == 0; j++) {
        int i = changed[j / 2], q = -1;
        if (i >= 0 && i < n_runs)
            q = j % 2 == 0 ? runs[i].cell
              : runs[i].retrain.mode != SS_RETRAIN_NONE ? runs[runs[i].retrain.parent].cell : -1;
        if (q < 0 || cell_done[q])
            continue;
        cell_done[q] = 1;
        snprintf(w->where, sizeof w->where, "/summary");
        rc = drop_group(w, sg, runs[x.first[q]].cell_id, garbage) ||
             write_cell_of(w, sg, sw, runs, &x, q, ok, c, err);
    }
    if (rg >= 0)
        H5Gclose(rg);
    if (sg >= 0)
        H5Gclose(sg);
    free(cell_done);
    free(ok);
    run_index_free(&x);
    return rc ? -1 : 0;
}

/* ---- the atomic write -------------------------------------------------------------------- */

/* Set when HDF5 failed to close a file (a full disk, an I/O error): the library then
   holds a half-closed file that crashes any later HDF5 call that touches it, its own
   shutdown included, so from then on HDF5 is left alone (ss_snapshot_shutdown). */
static _Atomic int hdf5_broken;

/* The temporary file's name, "<h5_path>.tmp.<pid>", malloc'd. */
static char *temp_path(const char *h5_path)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    return ss_str_concat(h5_path, suffix);
}

/* fsync a closed file by name: 0, or -1 + errno. */
static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Copy the file src to dst (created): 0, or -1 + errno. copy_file_range lets the kernel
   copy without the bytes passing through user space. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0)
        goto done;
    if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        goto done;
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            goto done;
        }
        left -= n;
    }
    rc = 0;
done:
    {
        int e = errno;
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
        errno = e;
    }
    return rc;
}

/* The closed temporary file made durable and published: fsync'd, renamed over h5_path,
   the directory fsync'd. 0; -1 with *step naming the system step that failed (errno),
   the temporary file still there; 1 when only the directory's fsync failed (err set:
   the new snapshot is in place, its directory entry may not be durable yet). */
static int move_into_place(const char *tmp, const char *h5_path, const char *dir,
                           const char **step, ss_error_t *err)
{
    /* HDF5 flushed on close; make the bytes durable before the rename publishes them. */
    if (fsync_path(tmp) != 0) {
        *step = "fsync of the temporary file";
        return -1;
    }
    if (rename(tmp, h5_path) != 0) {
        *step = "renaming the temporary file over it";
        return -1;
    }
    if (ss_fsync_dir(dir) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: fsync of directory %s failed: %s", h5_path,
                     dir, strerror(errno));
        return 1;
    }
    return 0;
}

/* What a snapshot write does between opening the temporary file and closing it. */
typedef struct {
    const ss_sweep_t *sw;
    const ss_run_t *runs;
    int n_runs;
    ss_log_contents_t *c;
    const int *changed;   /* update: the runs written again; NULL: the whole file */
    int n_changed;
    long *garbage;        /* update: grows by the bytes it leaves unused */
} fill_t;

static int fill_file(ss_h5w_t *w, hid_t file, const fill_t *f, ss_error_t *rerr)
{
    if (!f->changed)
        return write_root(w, file, f->sw, f->c) || write_datasets(w, file, f->c) ||
               write_runs_and_summary(w, file, f->sw, f->runs, f->n_runs, f->c, rerr);
    return update_runs_and_cells(w, file, f->sw, f->runs, f->n_runs, f->c, f->changed,
                                 f->n_changed, f->garbage, rerr);
}

/* The one way a snapshot reaches h5_path: a temporary file ("<h5>.tmp.<pid>": new, or a
   copy of the current snapshot for an update) is filled, closed, fsync'd and renamed
   over h5_path, then the directory is fsync'd. On failure the temporary file is removed
   and h5_path is untouched. */
static int publish(const char *h5_path, const fill_t *f, ss_error_t *err)
{
    if (hdf5_broken) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot write the results snapshot: an earlier "
                     "snapshot failed to close and left the HDF5 library unusable", h5_path);
        return -1;
    }
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);
    ss_h5w_t w;
    hid_t fapl = -1, file = -1;
    int rc = -1, tmp_exists = 0;
    char *dir = ss_dirname(h5_path), *tmp = temp_path(h5_path);
    const char *step = NULL; /* a system step that failed (errno), else w.step */

    char bad[4096];
    if (ss_mkdir_parent(h5_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: cannot write the results snapshot: cannot create directory %s: %s",
                     h5_path, bad, strerror(errno));
        memset(&w, 0, sizeof w);
        goto done;
    }
    if (ss_h5w_open(&w) != 0)
        goto fail;
    if ((fapl = ss_h5_fapl()) < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        ss_h5w_fail(&w, "setting up the file access properties for");
        goto fail;
    }
    if (f->changed) {
        tmp_exists = 1;
        if (copy_file(h5_path, tmp) != 0) {
            step = "copying the results file";
            goto fail;
        }
        file = H5Fopen(tmp, H5F_ACC_RDWR, fapl);
    } else {
        file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    }
    if (file < 0) {
        snprintf(w.where, sizeof w.where, "%s", tmp);
        ss_h5w_fail(&w, f->changed ? "opening" : "creating");
        goto fail;
    }
    tmp_exists = 1;
    ss_error_t rerr = {0}; /* a record that cannot be read back from the log */
    if (fill_file(&w, file, f, &rerr)) {
        if (rerr.code)
            ss_h5w_fail(&w, "%s; writing", rerr.msg);
        goto fail;
    }
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        snprintf(w.where, sizeof w.where, "%s", tmp);
        ss_h5w_fail(&w, "closing");
        hdf5_broken = 1;
        goto fail;
    }
    int moved = move_into_place(tmp, h5_path, dir, &step, err);
    if (moved < 0)
        goto fail;
    tmp_exists = 0;
    rc = moved == 0 ? 0 : -1; /* 1: in place, its directory entry maybe not durable */
    goto done;

fail:
    if (step)
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot write the results snapshot: %s: %s",
                     h5_path, step, strerror(errno));
    else
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: cannot write the results snapshot: %s failed: %s", h5_path,
                     w.step[0] ? w.step : "HDF5", w.detail[0] ? w.detail : "HDF5 error");
    if (file >= 0 && H5Fclose(file) < 0)
        hdf5_broken = 1;
    if (tmp_exists)
        unlink(tmp);
done:
    if (hdf5_broken) { /* touch nothing of HDF5's any more */
        ss_h5_abandon(&quiet);
        free(dir);
        free(tmp);
        return rc;
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    ss_h5w_close(&w);
    H5Eclear2(H5E_DEFAULT);
    ss_h5_loud(&quiet);
    free(dir);
    free(tmp);
    return rc;
}

int ss_snapshot_write(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                      int n_runs, ss_log_contents_t *c, ss_error_t *err)
{
    fill_t f = {sw, runs, n_runs, c, NULL, 0, NULL};
    return publish(h5_path, &f, err);
}

int ss_snapshot_update(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                       int n_runs, ss_log_contents_t *c, const int *changed, int n_changed,
                       long *garbage, ss_error_t *err)
{
    fill_t f = {sw, runs, n_runs, c, changed, n_changed, garbage};
    return publish(h5_path, &f, err);
}

/* ---- a snapshot written by a thread of its own ----------------------------------------- */

struct ss_snapshot_job {
    pthread_t thread;
    char *h5_path;
    const ss_sweep_t *sw;
    const ss_run_t *runs;       /* borrowed, as sw */
    int n_runs;
    ss_log_contents_t c;
    int *changed, n_changed;    /* NULL: the whole file */
    long garbage;
    int rc;
    double seconds;
    ss_error_t err;
    _Atomic int done;
};

static void *job_main(void *arg)
{
    ss_snapshot_job_t *j = arg;
    double t0 = ss_now();
    fill_t f = {j->sw, j->runs, j->n_runs, &j->c, j->changed, j->n_changed, &j->garbage};
    j->rc = publish(j->h5_path, &f, &j->err);
    j->seconds = ss_now() - t0;
    atomic_store(&j->done, 1);
    return NULL;
}

int ss_snapshot_start(ss_snapshot_job_t **out, const char *h5_path, const ss_sweep_t *sw,
                      const ss_run_t *runs, int n_runs, const ss_log_contents_t *c,
                      const int *changed, int n_changed, long garbage, ss_error_t *err)
{
    ss_snapshot_job_t *j = ss_calloc(1, sizeof *j);
    j->h5_path = ss_strdup(h5_path);
    j->sw = sw;
    j->n_runs = n_runs;
    j->runs = runs;
    ss_log_contents_clone(&j->c, c);
    if (changed) {
        j->changed = ss_malloc((size_t)(n_changed > 0 ? n_changed : 1) * sizeof *j->changed);
        memcpy(j->changed, changed, (size_t)n_changed * sizeof *changed);
        j->n_changed = n_changed;
    }
    j->garbage = garbage;
    int e = pthread_create(&j->thread, NULL, job_main, j);
    if (e != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot start the snapshot's thread: %s",
                     h5_path, strerror(e));
        j->thread = 0;
        ss_snapshot_finish(&j, NULL, NULL, NULL);
        *out = NULL;
        return -1;
    }
    *out = j;
    return 0;
}

int ss_snapshot_done(const ss_snapshot_job_t *job)
{
    return atomic_load(&((ss_snapshot_job_t *)job)->done);
}

int ss_snapshot_finish(ss_snapshot_job_t **job, long *garbage, double *seconds,
                       ss_error_t *err)
{
    ss_snapshot_job_t *j = *job;
    if (!j)
        return -1;
    int rc = -1;
    if (j->thread) {
        pthread_join(j->thread, NULL);
        rc = j->rc;
        if (rc != 0 && err)
            ss_error_set(err, j->err.code ? j->err.code : SS_EXIT_RUNTIME, "%s", j->err.msg);
        if (garbage)
            *garbage = j->garbage;
        if (seconds)
            *seconds = j->seconds;
    }
    ss_log_contents_free(&j->c);
    free(j->changed);
    free(j->h5_path);
    free(j);
    *job = NULL;
    return rc;
}

void ss_snapshot_shutdown(void)
{
    if (!hdf5_broken)
        H5close();
}
