/*
 * grid.h - the grid of a sweep: datasets x every sweep axis x seeds, expanded into runs
 * with their ids, cells and fully resolved training (docs/FORMATS.md: "The grid is
 * datasets x every sweep axis x seeds"; run ids as in the results file's /runs).
 *
 * A run is a pure description: training it depends on nothing else. A cell is a dataset
 * at one sweep point; its runs differ only in their seed.
 *
 * Retraining runs (relevance.retrain, config.h) follow the runs of the grid: for every run
 * (its parent) and each mode (keep, then remove) x k (in file order) x method (in method
 * order, random after the relevance methods, truth last), a child run with the parent's
 * configuration and seed; `spectral` is left out for parents without a spectral first
 * layer (there is no eigenvalue to rank by). A child's id is its parent's with
 * "__keep=<method>:<k>" (or "__remove=") appended; its cell is the parent's cell id with
 * the same suffix, so the children of one parent cell and (mode, method, k) are a cell
 * over the seeds. Which inputs a child keeps depends on its parent's result: a child is
 * described here, its inputs are chosen when the parent is done (train.h).
 */
#ifndef SPECSWEEP_GRID_H
#define SPECSWEEP_GRID_H

#include <stdint.h>
#include "specsweep/config.h"
#include "specsweep/util.h"

/* One expanded run. */
typedef struct {
    char id[SS_RUN_ID_SIZE];         /* "<dataset>__<axis>=<v>__<axis2>=<v2>__seed=<s>":
                                        axes in file order, values as their labels
                                        (ss_axis_t: "%.6g", a model value's text, a
                                        bundle's name); with no axes "<dataset>__seed=<s>" */
    char cell_id[SS_CELL_ID_SIZE];   /* the same without "__seed=<s>" */
    int dataset;                     /* index into sweep->datasets */
    int cell;                        /* index of the cell (dataset x sweep point), cells
                                        numbered in run order */
    int64_t seed;
    ss_training_t training;          /* fully resolved: global, dataset, sweep point */
    ss_model_t model;                /* `model:` and `init:` with the sweep point's model
                                        keys */
    int axis_index[SS_MAX_AXES];     /* position on every axis */
    struct {
        ss_retrain_mode_t mode;      /* SS_RETRAIN_NONE: a run of the grid */
        int method;                  /* ss_retrain_method_name */
        int k;                       /* inputs kept or removed */
        int parent;                  /* index of the parent run */
    } retrain;
} ss_run_t;

/*
 * Expand the grid of sweep sw: datasets x every axis x seeds, in that nesting order (first
 * axis outermost, seeds innermost). A run's training is the global `training`, overridden
 * by its dataset's `training` keys (ss_sweep_dataset_training), then by the sweep point;
 * its model is sw->model with the point's model keys (axes and bundles set disjoint keys:
 * ss_sweep_parse checks it).
 * The retraining runs follow (see above). Returns 0 with *runs malloc'd (the caller frees
 * it with free(); NULL when there are no runs), *n_runs runs and *n_cells cells; or -1
 * with err set (SS_EXIT_INPUT: the grid is too large or an id does not fit, which
 * ss_sweep_parse rules out for the grid's runs) and *runs NULL.
 */
int ss_grid_expand(const ss_sweep_t *sw, ss_run_t **runs, int *n_runs, int *n_cells,
                   ss_error_t *err);

#endif
