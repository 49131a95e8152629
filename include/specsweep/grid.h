/*
 * grid.h - the grid of a sweep: datasets x every sweep axis x seeds, expanded into runs
 * with their ids, cells and fully resolved training (docs/FORMATS.md: "The grid is
 * datasets x every sweep axis x seeds"; run ids as in the results file's /runs).
 *
 * A run is a pure description: training it depends on nothing else. A cell is a dataset
 * at one sweep point; its runs differ only in their seed.
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
} ss_run_t;

/*
 * Expand the grid of sweep sw: datasets x every axis x seeds, in that nesting order (first
 * axis outermost, seeds innermost). A run's training is the global `training`, overridden
 * by its dataset's `training` keys (ss_sweep_dataset_training), then by the sweep point;
 * its model is sw->model with the point's model keys (axes and bundles set disjoint keys:
 * ss_sweep_parse checks it).
 * Returns 0 with *runs malloc'd (the caller frees it with free(); NULL when there are no
 * runs), *n_runs runs and *n_cells cells; or -1 with err set (SS_EXIT_INPUT: the grid is
 * too large or an id does not fit, which ss_sweep_parse already rules out) and *runs NULL.
 */
int ss_grid_expand(const ss_sweep_t *sw, ss_run_t **runs, int *n_runs, int *n_cells,
                   ss_error_t *err);

#endif
