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

/* The statistics of the n ok results ok[0..n-1] (n >= 1) of one cell whose dataset has
   n_inputs inputs, rows in the order given. *cs is overwritten; free it with
   ss_cell_stats_free. */
void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs);
/* Frees the arrays and zeroes *cs; accepts a zeroed one. */
void ss_cell_stats_free(ss_cell_stats_t *cs);

#endif
