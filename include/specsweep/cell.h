/*
 * cell.h - the statistics of one summary cell (a dataset x sweep point, all its seeds):
 * what /summary/<cell_id> of the results file holds besides its attributes
 * (docs/FORMATS.md). A pure function of the cell's finished runs.
 */
#ifndef SPECSWEEP_CELL_H
#define SPECSWEEP_CELL_H

#include <stdint.h>
#include "specsweep/result.h"

typedef struct {
    int n;                      /* realizations: the cell's runs with status ok */
    int n_inputs, n_topk;
    int64_t *seeds;             /* n */
    double *eigenvalues;        /* n x n_inputs, signed; a run of another input count
                                   has a row of NaN */
    double *abs_mean, *abs_std; /* n_inputs: mean and std (ddof 0) of |eigenvalue| over
                                   the realizations */
    double *test_accuracy;      /* n (NaN for regression) */
    double *test_loss;          /* n */
    int64_t *topk;              /* n_topk: the first run's k values */
    double *topk_accuracy;      /* n x n_topk, matched by k (NaN where a run lacks k) */
    double *randomk_accuracy;   /* n x n_topk, likewise */
} ss_cell_stats_t;

/* The statistics built one run at a time, so that a cell's runs need not all be in memory
   at once: begin (room for up to n_max runs; the k values are first's), add every ok
   run in order (at most n_max), end (the spreads). *cs is overwritten by begin; free it
   with ss_cell_stats_free. */
void ss_cell_stats_begin(ss_cell_stats_t *cs, int n_max, int n_inputs,
                         const ss_result_t *first);
void ss_cell_stats_add(ss_cell_stats_t *cs, const ss_result_t *r);
void ss_cell_stats_end(ss_cell_stats_t *cs);

/* The same at once: the n ok results ok[0..n-1] (n >= 1) of one cell whose dataset has
   n_inputs inputs, rows in the order given. */
void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs);
/* Frees the arrays and zeroes *cs; accepts a zeroed one. */
void ss_cell_stats_free(ss_cell_stats_t *cs);

#endif
