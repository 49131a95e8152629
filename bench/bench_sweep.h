/*
 * bench_sweep.h - what the benchmarks that time one run of a sweep share: the sweep file
 * loaded and run run_i of its grid picked.
 */
#ifndef SPECSWEEP_BENCH_SWEEP_H
#define SPECSWEEP_BENCH_SWEEP_H

#include <stdio.h>
#include <stdlib.h>

#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "specsweep/util.h"

/* Loads the sweep file at path into *sw and copies run run_i of its grid into *run: 0,
   or 2 (the exit status) after a message prefixed by prog, *sw then holding nothing.
   The caller frees *sw with ss_sweep_free. */
static int bench_sweep_run(const char *prog, const char *path, int run_i, ss_sweep_t *sw,
                           ss_run_t *run)
{
    ss_run_t *runs = NULL;
    int n_runs = 0, n_cells = 0;
    ss_error_t err = {0};
    if (ss_sweep_load(path, sw, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return 2;
    }
    if (ss_grid_expand(sw, &runs, &n_runs, &n_cells, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        ss_sweep_free(sw);
        return 2;
    }
    if (run_i < 0 || run_i >= n_runs) {
        fprintf(stderr, "%s: run %d out of range (%d runs)\n", prog, run_i, n_runs);
        free(runs);
        ss_sweep_free(sw);
        return 2;
    }
    *run = runs[run_i];
    free(runs);
    return 0;
}

#endif
