/*
 * summary.h - `specsweep summary RESULTS.h5`: the readable table of a results file.
 */
#ifndef SPECSWEEP_SUMMARY_H
#define SPECSWEEP_SUMMARY_H

#include <stdio.h>
#include "specsweep/util.h"

/* Print the summary table of a results file: per /summary cell (found by its
   attributes) the dataset, swept keys, realizations, test accuracy mean +- std (MAE for
   regression), the Spearman correlation of the mean |eigenvalue| with relevance_truth
   where the dataset has one, the stability of the |eigenvalue| ranking over pairs of
   realizations (Kendall's tau-b, the Jaccard index of the top-k inputs at one k), and the
   5 most relevant inputs; per cell with relevance methods their table (scores, top-k
   accuracy, stability, seconds); then run totals. A missing
   file, a file that is not a specsweep results file or has another format_version
   returns -1 with SS_EXIT_INPUT. */
int ss_summary_print(const char *h5_path, FILE *out, ss_error_t *err);

#endif
