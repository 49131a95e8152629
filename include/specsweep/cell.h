/*
 * cell.h - the statistics of one summary cell (a dataset x sweep point, all its seeds):
 * what /summary/<cell_id> of the results file holds besides its attributes
 * (docs/FORMATS.md). A pure function of the cell's finished runs.
 */
#ifndef SPECSWEEP_CELL_H
#define SPECSWEEP_CELL_H

#include <stdint.h>
#include "specsweep/result.h"

/* How alike the rankings of a cell's realizations are (the eigenvalues' or one method's):
   over every pair of realizations whose relevance is usable (a row without NaN: not
   skipped, of the cell's length), Kendall's tau-b of their rank values
   (ss_attrib_rank_value: |eigenvalue|, a method's value itself) and the Jaccard index of
   their top-k sets (ss_stats_rank_order: ties by the lower index, as the top-k curves take
   inputs), each as mean and std (ddof 0) over the pairs. A pair whose tau is undefined (a
   constant relevance) is left out of the tau's mean. Computed only for a cell of at least
   two realizations (`computed`); O(pairs x V log V). */
typedef struct {
    int computed;               /* the cell has >= 2 realizations: the fields below are set */
    int n_pairs;                /* pairs of usable realizations compared (0: NaN below) */
    double tau_mean, tau_std;   /* NaN when no pair has a defined tau */
    int n_k;
    int64_t *k;                 /* n_k: the cell's top-k values up to the relevance length */
    double *jaccard_mean, *jaccard_std; /* n_k */
} ss_cell_stability_t;

/* One post-hoc method over a cell's realizations (rows in the order runs were added). */
typedef struct {
    int method;                 /* ss_attrib_method_t */
    int n_values;               /* relevance length (the first realization's) */
    int n_skipped;              /* realizations where the method did not apply */
    double *values;             /* n x n_values (NaN rows: skipped, or another length) */
    double *abs_mean, *abs_std; /* n_values, over the realizations (ddof 0) */
    double *topk_accuracy;      /* n x n_topk, matched by k */
    double *seconds;            /* n */
    double *spearman, *support_recall, *auroc; /* n: against the dataset's truth (NaN
                                                  without one, or when skipped) */
    ss_cell_stability_t stability; /* of values, by ss_attrib_rank_value */
} ss_cell_method_t;

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
    int n_methods;
    ss_cell_method_t *methods;  /* the methods of the first realization, in method order */
    ss_cell_stability_t stability; /* of the eigenvalues, by |eigenvalue| */
    int truth_given;            /* the methods were scored against a truth */
    int n_max;                  /* private: rows allocated */
    const double *truth;        /* private: the dataset's relevance_truth, or NULL */
} ss_cell_stats_t;

/* The statistics built one run at a time, so that a cell's runs need not all be in memory
   at once: begin (room for up to n_max runs; the k values are first's), add every ok
   run in order (at most n_max), end (the spreads). *cs is overwritten by begin; free it
   with ss_cell_stats_free. */
void ss_cell_stats_begin(ss_cell_stats_t *cs, int n_max, int n_inputs,
                         const ss_result_t *first);
/* The dataset's relevance_truth (n_inputs values, borrowed until ss_cell_stats_end), to
   score the methods against; call before adding runs. */
void ss_cell_stats_truth(ss_cell_stats_t *cs, const double *truth);
void ss_cell_stats_add(ss_cell_stats_t *cs, const ss_result_t *r);
/* The spreads over the realizations and, with at least two, the stability of every
   ranking (ss_cell_stability_t). */
void ss_cell_stats_end(ss_cell_stats_t *cs);

/* The same at once: the n ok results ok[0..n-1] (n >= 1) of one cell whose dataset has
   n_inputs inputs, rows in the order given. */
void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs);
/* Frees the arrays and zeroes *cs; accepts a zeroed one. */
void ss_cell_stats_free(ss_cell_stats_t *cs);

#endif
