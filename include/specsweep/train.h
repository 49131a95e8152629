/*
 * train.h - train one run (a pure function of its configuration) and measure relevance.
 *
 * ss_train_run() splits off the validation set (deterministic from the dataset's
 * data_seed, so every seed of a cell validates on the same samples), initialises the
 * network of the run's model (run->model) from the run seed, trains `epochs` epochs of
 * shuffled minibatches with Adam or AdaMax, records per-epoch train loss and validation
 * accuracy (validation loss for regression), then the test accuracy and loss, the
 * eigenvalues, the compact network's metrics, shape and weight histogram when the model
 * asks for retraction (retract.h), the top-k / random-k accuracies, and the post-hoc
 * relevance methods the sweep asks for (relevance.methods other than spectral alone),
 * each with its own top-k accuracies. Left-out inputs of a top-k evaluation are zero, or
 * the training mean with relevance.masking: mean. n_trainable is recorded when the sweep
 * records models (ss_sweep_t.record_model); the optional fields a run does not compute
 * are marked absent (result.h).
 * A loss that becomes NaN/inf ends the run with status "diverged"; it is still a result.
 *
 * Data parallel: with hooks->group_size G > 1 every rank of the group calls this with the
 * same arguments; each takes its contiguous shard of every minibatch and the gradients are
 * summed across the group. With hooks->parts the sum is part-wise: rank r receives the
 * complete gradient of its part of the parameters only, takes the optimizer step (L2 +
 * Adam) of that part and the parts are then exchanged (the bytes of one allreduce, 1/G
 * of the optimizer work per rank). All ranks end with identical results, which depend
 * only on the configuration and G.
 */
#ifndef SPECSWEEP_TRAIN_H
#define SPECSWEEP_TRAIN_H

#include <stdint.h>
#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/grid.h"
#include "specsweep/net.h"
#include "specsweep/result.h"



/*
 * Part-wise group communication for the sharded optimizer step (see ss_train_run). All
 * calls are collective: every rank of the group makes the same calls in the same order.
 * `part` (group_size + 1 offsets, part[0] = 0, nondecreasing) cuts buf into one
 * contiguous part per rank: rank r owns buf[part[r], part[r+1]).
 *   sum_begin / sum_end: between the two calls a sum over the group is in flight; buf must
 *     not be touched, other local work may run. Afterwards rank r's own part holds the
 *     sum over the ranks of that part, added in rank order ((b_0 + b_1) + b_2 ...), so
 *     its bits depend only on the group size; the rest of buf is unspecified.
 *   gather: every rank's own part is copied into the other ranks' buf, so buf is then
 *     the same on every rank.
 */
typedef struct {
    void (*sum_begin)(void *ctx, float *buf, const size_t *part);
    void (*sum_end)(void *ctx, float *buf, const size_t *part);
    void (*gather)(void *ctx, float *buf, const size_t *part);
    void *ctx;
} ss_parts_t;

typedef struct {
    int group_rank, group_size;        /* 0, 1 for a single process */
    ss_reduce_t reduce;                /* sums across the group (sum NULL: single) */
    /* Called between minibatches, the same number of times on every rank of a group
       (rank 0 services its coordinator duties here). A nonzero return abandons the run:
       it must then be nonzero on every rank of the group at the same call, so a group
       agrees on it collectively. May be NULL. */
    int (*poll)(void *ctx);
    void *poll_ctx;
    /* Optional (all three functions or none): with G > 1 the optimizer step is sharded
       over the group. Without: reduce.sum over the whole gradient, every rank steps every
       parameter. */
    ss_parts_t parts;
    /* With G > 1: every rank's n doubles `mine`, concatenated in rank order into *all
       (malloc'd; the caller frees it; *n_all doubles), on every rank of the group.
       Collective. The post-hoc relevance methods split their work units this way. */
    void (*allgather)(void *ctx, const double *mine, size_t n, double **all, size_t *n_all);
    void *allgather_ctx;
} ss_train_hooks_t;

/*
 * Train run `run` of `sw` on `ds`. Fills *res (which the caller frees). Returns 0; 1 if
 * hooks->poll abandoned the run (no result); -1 with err set on a runtime failure (the
 * run is then not a result).
 * A retraining run (run->retrain.mode, grid.h) trains on the inputs kept[0..n_kept)
 * (increasing, each < n_inputs; the engine chooses them from the parent's result): every
 * other input is replaced by zero, or by its training mean with relevance.masking: mean,
 * in every row it trains, validates and is tested on. It records its test metrics, its
 * eigenvalues and the inputs (retrain_inputs), no top-k curves and no relevance methods.
 * kept is ignored for other runs (pass NULL, 0).
 */
int ss_train_run(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                 const int *kept, int n_kept, const ss_train_hooks_t *hooks,
                 ss_result_t *res, ss_error_t *err);

#endif
