/*
 * retrain.h - the inputs of a retraining run (relevance.retrain; grid.h describes the
 * runs, train.h trains them).
 *
 * A child keeps the k inputs its method ranks highest in its parent's result (keep), or
 * every input but them (remove). The rankings are those of the top-k curves: `spectral`
 * by |eigenvalue|, a relevance method by ss_attrib_rank_value of its values, `truth` by
 * the dataset's relevance_truth, ties by input index (ss_stats_rank_order); `random` draws
 * k inputs from the stream (the child's seed ^ hash of its id, SS_STREAM_RETRAIN). The
 * inputs depend only on the parent's result and the child's description: not on when or
 * where either ran.
 */
#ifndef SPECSWEEP_RETRAIN_H
#define SPECSWEEP_RETRAIN_H

#include <stddef.h>

#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/grid.h"
#include "specsweep/result.h"

/*
 * The inputs retraining run `child` trains on, from `parent` (its parent's result) and ds
 * (its dataset's description, for the truth): returns 0 with *kept (malloc'd, increasing;
 * the caller frees it) and *n_kept; or 1 with *kept NULL and a sentence in why[size] when
 * the parent has no ranking to give (it diverged, or its method was skipped or is
 * missing): the child is then not run.
 */
int ss_retrain_inputs(const ss_run_t *child, const ss_result_t *parent,
                      const ss_dataset_info_t *ds, int **kept, int *n_kept, char *why,
                      size_t size);

/* relevance.retrain of sw against dataset ds (loaded): every k at most its inputs, the
   method `truth` only with a relevance truth. Returns 0, or -1 with err (SS_EXIT_INPUT,
   "FILE:LINE:COLUMN: ..." at the value in the sweep file). */
int ss_retrain_check(const ss_sweep_t *sw, const ss_dataset_info_t *ds, ss_error_t *err);

#endif
