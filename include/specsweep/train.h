/*
 * train.h - train one run (a pure function of its configuration) and measure relevance.
 *
 * ss_train_run() splits off the validation set (deterministic from the dataset's
 * data_seed, so every seed of a cell validates on the same samples), initialises the
 * network from the run seed, trains `epochs` epochs of shuffled minibatches with Adam,
 * records per-epoch train loss and validation accuracy (validation loss for regression),
 * then the test accuracy and loss, the eigenvalues, and the top-k / random-k accuracies.
 * A loss that becomes NaN/inf ends the run with status "diverged"; it is still a result.
 *
 * Data parallel: with hooks->group_size G > 1 every rank of the group calls this with the
 * same arguments; each takes its contiguous shard of every minibatch and the gradients are
 * summed with hooks->reduce. All ranks end with identical results.
 */
#ifndef SPECSWEEP_TRAIN_H
#define SPECSWEEP_TRAIN_H

#include <stdint.h>
#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/net.h"

typedef enum { SS_STATUS_OK = 0, SS_STATUS_DIVERGED = 1, SS_STATUS_FAILED = 2 } ss_status_t;
const char *ss_status_name(ss_status_t s);

/* Everything a finished run produces: what goes into /runs/<run_id>. */
typedef struct {
    char run_id[192];
    char dataset[SS_NAME_MAX];
    int64_t seed;
    ss_training_t training;
    int ranks;                 /* ranks_per_run it was trained with */
    ss_status_t status;
    char message[256];
    double train_seconds, samples_per_second;
    double test_accuracy, test_loss;   /* regression: accuracy is NaN, loss is MAE */
    int n_inputs;
    double *eigenvalues;       /* signed relevance, n_inputs */
    double *eigenvalues_raw;   /* lambda_in, n_inputs */
    int n_epochs;              /* epochs actually recorded (fewer if diverged) */
    double *train_loss;        /* n_epochs: mean data loss + L2 penalty */
    double *val_metric;        /* n_epochs: val accuracy, or val loss for regression */
    int n_topk;
    int64_t *topk;             /* k values that fit the inputs */
    double *topk_accuracy, *randomk_accuracy;
} ss_result_t;

void ss_result_free(ss_result_t *r);   /* accepts a zeroed result */

typedef struct {
    int group_rank, group_size;        /* 0, 1 for a single process */
    ss_reduce_t reduce;                /* sums across the group (sum NULL: single) */
    /* Called between minibatches, the same number of times on every rank of a group
       (rank 0 services its coordinator duties here). A nonzero return abandons the run:
       it must then be nonzero on every rank of the group at the same call, so a group
       agrees on it collectively. May be NULL. */
    int (*poll)(void *ctx);
    void *poll_ctx;
} ss_train_hooks_t;

/*
 * Train run `run` of `sw` on `ds`. Fills *res (which the caller frees). Returns 0; 1 if
 * hooks->poll abandoned the run (no result); -1 with err set on a runtime failure (the
 * run is then not a result).
 */
int ss_train_run(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                 const ss_train_hooks_t *hooks, ss_result_t *res, ss_error_t *err);

#endif
