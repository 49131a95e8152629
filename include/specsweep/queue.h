/*
 * queue.h - which run a free group trains next (rank 0's; engine.c).
 *
 * The runs of the grid still to do go longest first (better packing of the groups). A
 * retraining run (grid.h) needs its parent's result: it becomes ready when its parent is
 * done, and ready runs go before the grid's others (they need the data of a parent just
 * trained). A child whose parent is pending or running is waiting: a group that asks then
 * is told to ask again later. A run given back (abandoned or failed) does not run again in
 * this job, and neither do its waiting children.
 */
#ifndef SPECSWEEP_QUEUE_H
#define SPECSWEEP_QUEUE_H

#include "specsweep/grid.h"

enum {
    SS_QUEUE_LEAVE = -1,   /* nothing left for this job */
    SS_QUEUE_WAIT = -2     /* nothing now: a retraining run waits for its running parent */
};

typedef struct {
    int n_runs;
    const ss_run_t *runs;
    unsigned char *state;  /* per run: Q_PENDING, Q_RUNNING, Q_DONE, Q_DROPPED (queue.c) */
    int *order, n_order, next_order;  /* the grid's runs to do, longest first */
    int *ready, n_ready, next_ready;  /* children whose parent is done, in that order */
    int *first_child;      /* per run: its first child (children are contiguous), or -1 */
    int *n_children;       /* per run */
    int waiting;           /* pending children whose parent is pending or running */
} ss_queue_t;

/*
 * The queue of runs[0..n_runs) (kept, not copied), done[i] nonzero for runs already done
 * (the log's), cost[i] the relative cost of each: every run not done is queued; the
 * children of a done parent are ready at once.
 */
void ss_queue_init(ss_queue_t *q, const ss_run_t *runs, int n_runs, const double *cost,
                   const unsigned char *done);
void ss_queue_free(ss_queue_t *q);

/* The next run to train (now running), SS_QUEUE_WAIT or SS_QUEUE_LEAVE. */
int ss_queue_next(ss_queue_t *q);

/* Run i is done (committed): its pending children become ready. */
void ss_queue_done(ss_queue_t *q, int i);

/* Running run i will not run again in this job (abandoned, failed, or a child with no
   ranking to train on). Returns how many runs left the queue with it: 1 + its children
   that were waiting. */
int ss_queue_drop(ss_queue_t *q, int i);

#endif
