/*
 * grid.c - the expansion of a sweep into runs and cells. See include/specsweep/grid.h.
 *
 * Run and cell ids are built here; ss_sweep_parse (config.c) has already checked that
 * every id of the sweep fits, so the length checks below only guard hand-built sweeps.
 */
#include "specsweep/grid.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append printf output to buf (capacity size, current length *len); -1 if it does not fit. */
static int grid_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int grid_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

/* The settings of patch p applied to *t and *m. */
static void grid_apply(const ss_patch_t *p, ss_training_t *t, ss_model_t *m)
{
    for (int k = 0; k < SS_KEY_COUNT; k++)
        if ((p->training_mask >> k) & 1u)
            ss_training_set(t, (ss_training_key_t)k,
                            ss_training_get(&p->training, (ss_training_key_t)k));
    for (int k = 0; k < SS_MKEY_COUNT; k++)
        if ((p->model_mask >> k) & 1u)
            ss_model_key_copy(m, &p->model, (ss_model_key_t)k);
}

/*
 * Sweep point `pt` (0 .. points-1) of dataset ds: idx[] gets its position on every axis
 * (first axis outermost), *t the training `base` and *m the sweep's model with the
 * point's settings applied, cell[] its cell id and *len the id's length. Returns 0, or -1
 * with err set if the id does not fit.
 */
static int grid_point(const ss_sweep_t *sw, const ss_dataset_spec_t *ds, size_t pt,
                      const ss_training_t *base, int idx[SS_MAX_AXES], ss_training_t *t,
                      ss_model_t *m, char cell[SS_CELL_ID_SIZE], size_t *len,
                      ss_error_t *err)
{
    size_t rem = pt;
    for (int a = sw->n_axes - 1; a >= 0; a--) {   /* first axis outermost */
        idx[a] = (int)(rem % (size_t)sw->axes[a].n);
        rem /= (size_t)sw->axes[a].n;
    }
    *t = *base;
    *m = sw->model;
    *len = 0;
    int bad = grid_append(cell, SS_CELL_ID_SIZE, len, "%s", ds->name);
    for (int a = 0; a < sw->n_axes && !bad; a++) {
        const ss_axis_t *ax = &sw->axes[a];
        grid_apply(&ax->points[idx[a]], t, m);
        bad = grid_append(cell, SS_CELL_ID_SIZE, len, "__%s=%s", ax->name,
                          ax->labels[idx[a]]);
    }
    if (bad) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the cell id of dataset '%s' is longer than %d "
                     "characters", sw->path ? sw->path : "<sweep>", ds->name,
                     SS_CELL_ID_SIZE - 1);
        return -1;
    }
    return 0;
}

/* The children of every run of runs[0..n) (grid.h), appended: *runs grows to *n_runs
   runs, *n_cells cells. Returns 0, or -1 with err if an id does not fit. */
static int grid_retrain(const ss_sweep_t *sw, ss_run_t **runs, int *n_runs, int *n_cells,
                        ss_error_t *err)
{
    const ss_retrain_spec_t *rt = &sw->retrain;
    int n = *n_runs, slots = 0, per_run = 0;
    for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE; mode++)
        slots += rt->n_k[mode];
    for (int m = 0; m < SS_RETRAIN_N_METHODS; m++)
        per_run += (rt->methods >> m) & 1u;
    slots *= per_run;
    if (!rt->methods || slots == 0 || n == 0)
        return 0;
    if ((size_t)n * (size_t)(slots + 1) > (size_t)INT_MAX) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep has too many retraining runs",
                     sw->path ? sw->path : "<sweep>");
        return -1;
    }
    ss_run_t *r = ss_realloc(*runs, (size_t)n * (size_t)(slots + 1) * sizeof *r);
    *runs = r;
    /* child cells numbered in run order: [parent cell * slots + slot] -> cell, or -1 */
    int *cell_of = ss_malloc((size_t)*n_cells * (size_t)slots * sizeof *cell_of);
    for (size_t q = 0; q < (size_t)*n_cells * (size_t)slots; q++)
        cell_of[q] = -1;
    int i = n, cells = *n_cells, rc = 0;
    for (int p = 0; p < n && rc == 0; p++) {
        int slot = 0;
        for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE; mode++)
            for (int j = 0; j < rt->n_k[mode]; j++)
                for (int m = 0; m < SS_RETRAIN_N_METHODS && rc == 0; m++) {
                    if (!((rt->methods >> m) & 1u))
                        continue;
                    int s = slot++;
                    if (m == SS_ATTRIB_SPECTRAL && r[p].model.spectral == SS_SPECTRAL_NONE)
                        continue;
                    ss_run_t *c = &r[i++];
                    *c = r[p];
                    c->retrain.mode = (ss_retrain_mode_t)mode;
                    c->retrain.method = m;
                    c->retrain.k = rt->k[mode][j];
                    c->retrain.parent = p;
                    int *q = &cell_of[(size_t)r[p].cell * (size_t)slots + (size_t)s];
                    if (*q < 0)
                        *q = cells++;
                    c->cell = *q;
                    char suffix[64];
                    snprintf(suffix, sizeof suffix, "__%s=%s:%d", ss_retrain_mode_name(mode),
                             ss_retrain_method_name(m), rt->k[mode][j]);
                    size_t id_len = strlen(c->id), cell_len = strlen(c->cell_id);
                    if (grid_append(c->id, sizeof c->id, &id_len, "%s", suffix) < 0 ||
                        grid_append(c->cell_id, sizeof c->cell_id, &cell_len, "%s", suffix) < 0) {
                        ss_error_set(err, SS_EXIT_INPUT, "%s: the retraining run id '%s%s' is "
                                     "longer than %zu characters", sw->path ? sw->path
                                     : "<sweep>", r[p].id, suffix, sizeof c->id - 1);
                        rc = -1;
                    }
                }
    }
    free(cell_of);
    *n_runs = i;
    *n_cells = cells;
    return rc;
}

/*
 * The runs of the grid datasets x axes (first outermost) x seeds (innermost), with their
 * ids, cells and resolved training. Returns 0 with *runs malloc'd (NULL if there are no
 * runs), or -1 with err set if the grid is too large or an id does not fit.
 */
int ss_grid_expand(const ss_sweep_t *sw, ss_run_t **runs, int *n_runs, int *n_cells,
                   ss_error_t *err)
{
    const char *file = sw->path ? sw->path : "<sweep>";
    *runs = NULL;
    *n_runs = 0;
    *n_cells = 0;

    size_t points = 1;
    for (int a = 0; a < sw->n_axes; a++) {
        if (sw->axes[a].n < 1 || points > (size_t)INT_MAX / (size_t)sw->axes[a].n) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep axes give too many points", file);
            return -1;
        }
        points *= (size_t)sw->axes[a].n;
    }
    size_t n_datasets = sw->n_datasets > 0 ? (size_t)sw->n_datasets : 0;
    size_t n_seeds = sw->n_seeds > 0 ? (size_t)sw->n_seeds : 0;
    size_t cells = n_datasets * points;   /* both <= INT_MAX: fits size_t */
    if (cells > (size_t)INT_MAX || (n_seeds && cells > (size_t)INT_MAX / n_seeds)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep has too many runs (%zu datasets x %zu "
                     "sweep points x %zu seeds)", file, n_datasets, points, n_seeds);
        return -1;
    }
    size_t total = cells * n_seeds;
    *n_cells = (int)cells;
    if (total == 0)
        return 0;

    ss_run_t *r = ss_calloc(total, sizeof *r);
    size_t i = 0;
    for (size_t d = 0; d < n_datasets; d++) {
        const ss_dataset_spec_t *ds = &sw->datasets[d];
        ss_training_t base = ss_sweep_dataset_training(sw, ds);
        for (size_t pt = 0; pt < points; pt++) {
            int idx[SS_MAX_AXES] = {0};
            ss_training_t t;
            ss_model_t m;
            char cell[SS_CELL_ID_SIZE];
            size_t len = 0;
            if (grid_point(sw, ds, pt, &base, idx, &t, &m, cell, &len, err) < 0) {
                free(r);
                return -1;
            }
            for (size_t s = 0; s < n_seeds; s++, i++) {
                ss_run_t *run = &r[i];
                memcpy(run->cell_id, cell, len + 1);
                size_t id_len = 0;
                if (grid_append(run->id, sizeof run->id, &id_len, "%s__seed=%lld", cell,
                                (long long)sw->seeds[s]) < 0) {
                    ss_error_set(err, SS_EXIT_INPUT, "%s: the run id '%s__seed=%lld' is longer "
                                 "than %zu characters", file, cell, (long long)sw->seeds[s],
                                 sizeof run->id - 1);
                    free(r);
                    return -1;
                }
                run->dataset = (int)d;
                run->cell = (int)(d * points + pt);
                run->seed = sw->seeds[s];
                run->training = t;
                run->model = m;
                memcpy(run->axis_index, idx, sizeof idx);
            }
        }
    }
    *runs = r;
    *n_runs = (int)total;
    if (grid_retrain(sw, runs, n_runs, n_cells, err) != 0) {
        free(*runs);
        *runs = NULL;
        *n_runs = 0;
        *n_cells = 0;
        return -1;
    }
    return 0;
}
