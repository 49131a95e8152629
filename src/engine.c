/*
 * engine.c - run a whole sweep as one process or one MPI job (docs/ARCHITECTURE.md).
 *
 * Every rank trains. Ranks are split into groups of ranks_per_run consecutive ranks; a
 * group trains one run data-parallel. Rank 0 leads group 0 and is also the coordinator:
 * between its own minibatches (and while idle) it answers the other group leaders'
 * requests, hands out runs longest-first, commits results to the log and is the only
 * writer of results.
 *
 * Messages (world communicator):
 *   leader -> 0   TAG_REQUEST  bytes: a packed result of the previous run, or empty
 *   0 -> leader   TAG_ASSIGN   ints: run index (-1 = no more work, leave; -2 = none now,
 *                              ask again: a retraining run waits for its parent), then
 *                              one per dataset: 1 when no run of it is left (retired,
 *                              nodedata.h)
 *   0 -> leader   TAG_INPUTS   ints: after the TAG_ASSIGN of a retraining run, the inputs
 *                              it trains on (retrain.h)
 *   0 -> leader   TAG_ABORT    int: abandon the run in progress (stop deadline passed)
 *   leader -> 0   TAG_ERROR    chars: a runtime failure message; the job then ends, 1
 * Inside a group the leader broadcasts the assignment; a group agrees on abandoning a run
 * with a MAX-allreduce every POLL_EVERY minibatches, so all its ranks stop at one step.
 *
 * Data: the ranks of a node share one copy of each dataset (nodedata.h), loaded by the
 * first of them that needs it; rank 0's check at start-up hands the copy it read to its
 * node. A dataset is retired, and freed on every node as soon as no rank there uses it,
 * when rank 0 has no run of it left queued or running.
 */
#include "specsweep/engine.h"

#include <malloc.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/log.h"
#include "specsweep/nodedata.h"
#include "specsweep/output.h"
#include "specsweep/queue.h"
#include "specsweep/record.h"
#include "specsweep/retrain.h"
#include "specsweep/snapshot.h"
#include "specsweep/train.h"

void openblas_set_num_threads(int n); /* OpenBLAS extension; one thread per rank */

enum { TAG_REQUEST = 11, TAG_ASSIGN, TAG_ABORT, TAG_ERROR, TAG_INPUTS };
enum { TAG_PART_SUM = 21, TAG_PART_GATHER }; /* inside a group (gcomm) */
enum { RUN_PENDING, RUN_RUNNING, RUN_DONE };
#define POLL_EVERY 16

/* ---- signals: the handler only records the signal --------------------------------- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    default: return "a signal";
    }
}

static void abort_job(int code)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000.0), (long)(fmod(ms, 1000.0) * 1e6)};
    nanosleep(&ts, NULL);
}

/* MPI_Bcast on the world that waits by sleeping: a rank that waits here (while rank 0
   loads the data, or while other groups finish) leaves its core to the ranks that work,
   where a blocking collective in Open MPI would poll it at full speed. */
static void bcast_idle(void *buf, int n, MPI_Datatype type)
{
    MPI_Request req;
    int done = 0;
    MPI_Ibcast(buf, n, type, 0, MPI_COMM_WORLD, &req);
    for (double pause = 0.05; !done; pause = pause < 5.0 ? pause * 2 : 5.0) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done)
            sleep_ms(pause);
    }
}

static void format_duration(double s, char *out, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, n, "?");
    else if (s < 60)
        snprintf(out, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* ---- the engine state ------------------------------------------------------------ */

typedef struct {
    ss_sweep_t sw;
    ss_run_t *runs;
    int n_runs, n_cells;
    int rank, size, G, group, group_rank, n_groups;
    MPI_Comm gcomm;
    float *part_buf;            /* part-wise sum: the other ranks' partials of our part */
    size_t part_cap;            /* floats in part_buf */
    MPI_Request *part_req;      /* 2 (G - 1) requests in flight */
    ss_nodedata_t *nd;          /* the datasets as this rank's node holds them */
    int *assignment;            /* 1 + n_datasets ints: the TAG_ASSIGN message */
    ss_dataset_info_t *meta;    /* rank 0: per dataset, its description (checked at start) */
    ss_dataset_t kept;          /* rank 0: the last dataset its check loaded, for its node */
    int *open;                  /* rank 0: per dataset, its runs queued or running */
    int abort_run;              /* this rank's wish to abandon the current run */
    unsigned long poll_calls;

    /* rank 0: the coordinator */
    const char *out;
    ss_output_t output;         /* the results files: lock, log, contents */
    int *state;                 /* RUN_* per run */
    ss_queue_t queue;           /* what runs next (queue.h) */
    double *cost;
    int *assigned;              /* per group: run index or -1 */
    double *assigned_at;
    int leaders_active;         /* worker leaders not yet told to leave */
    int n_todo, n_done, n_ok, n_diverged, n_skipped;
    double cost_todo, cost_done, t_start, last_snapshot;
    double snapshot_seconds, snapshot_last_cost; /* in all, and the last one's */
    double snapshot_wait;       /* of which rank 0 waited (the rest ran in the background) */
    ss_snapshot_job_t *job;     /* the snapshot being written in the background, or NULL */
    int job_whole, job_runs;    /* it is whole; the results it holds */
    int n_snapshots, snapshot_failed;
    long snapshot_size, snapshot_garbage;   /* bytes: the file, and what updates left unused */
    int *changed, n_changed;    /* runs committed since the last snapshot */
    int dirty;                  /* commits since the last snapshot */
    int snapshot_runs;          /* results in the last snapshot written */
    int stopping, abort_sent, stop_sig;
    double stop_time, deadline, snapshot_interval;
    int failed;                 /* a runtime failure ends the job with exit 1 */
    char fail_msg[1024];
} engine_t;

/* ---- group communication for training (ss_reduce_t, ss_parts_t) -------------------- */

static void group_sum(void *ctx, float *buf, size_t n)
{
    engine_t *e = ctx;
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, e->gcomm);
}

/* Part-wise sum (ss_parts_t): one message from every rank to every other, carrying the
   sender's partial of the receiver's part; point-to-point, so the summation order is ours
   (rank order) and no collective algorithm choice of the MPI library is involved. For G =
   2 that is one exchange of half the buffer each way. */
static void group_sum_begin(void *ctx, float *buf, const size_t *part)
{
    engine_t *e = ctx;
    int G = e->G, r = e->group_rank, k = 0;
    size_t mine = part[r + 1] - part[r];
    if ((size_t)(G - 1) * mine > e->part_cap) {
        free(e->part_buf);
        e->part_cap = (size_t)(G - 1) * mine;
        e->part_buf = ss_alloc_aligned(e->part_cap * sizeof(float));
    }
    if (!e->part_req)
        e->part_req = ss_malloc(2 * (size_t)G * sizeof *e->part_req);
    for (int q = 0; q < G; q++)
        if (q != r)
            MPI_Irecv(e->part_buf + (size_t)(q < r ? q : q - 1) * mine, (int)mine, MPI_FLOAT,
                      q, TAG_PART_SUM, e->gcomm, &e->part_req[k++]);
    for (int q = 0; q < G; q++)
        if (q != r)
            MPI_Isend(buf + part[q], (int)(part[q + 1] - part[q]), MPI_FLOAT, q, TAG_PART_SUM,
                      e->gcomm, &e->part_req[k++]);
}

static void group_sum_end(void *ctx, float *buf, const size_t *part)
{
    engine_t *e = ctx;
    int G = e->G, r = e->group_rank;
    size_t mine = part[r + 1] - part[r];
    MPI_Waitall(2 * (G - 1), e->part_req, MPI_STATUSES_IGNORE);
    /* ((b_0 + b_1) + b_2) ...: accumulate in the slot of rank 0's partial (ours if r = 0) */
    float *own = buf + part[r], *acc = r == 0 ? own : e->part_buf;
    for (int q = 1; q < G; q++) {
        const float *b = q == r ? own : e->part_buf + (size_t)(q < r ? q : q - 1) * mine;
        for (size_t j = 0; j < mine; j++)
            acc[j] += b[j];
    }
    if (acc != own)
        memcpy(own, acc, mine * sizeof *own);
}

/* ss_train_hooks_t.allgather: counts, then the doubles, in rank order. */
static void group_allgather(void *ctx, const double *mine, size_t n, double **all, size_t *n_all)
{
    engine_t *e = ctx;
    int G = e->G, count = (int)n;
    int *counts = ss_malloc((size_t)G * sizeof *counts), *displs = ss_malloc((size_t)G * sizeof *displs);
    MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, e->gcomm);
    size_t total = 0;
    for (int q = 0; q < G; q++) {
        displs[q] = (int)total;
        total += (size_t)counts[q];
    }
    *all = ss_malloc((total > 0 ? total : 1) * sizeof **all);
    MPI_Allgatherv(mine, count, MPI_DOUBLE, *all, counts, displs, MPI_DOUBLE, e->gcomm);
    *n_all = total;
    free(counts);
    free(displs);
}

static void group_gather(void *ctx, float *buf, const size_t *part)
{
    engine_t *e = ctx;
    int G = e->G, r = e->group_rank, k = 0;
    if (!e->part_req)
        e->part_req = ss_malloc(2 * (size_t)G * sizeof *e->part_req);
    for (int q = 0; q < G; q++)
        if (q != r)
            MPI_Irecv(buf + part[q], (int)(part[q + 1] - part[q]), MPI_FLOAT, q,
                      TAG_PART_GATHER, e->gcomm, &e->part_req[k++]);
    for (int q = 0; q < G; q++)
        if (q != r)
            MPI_Isend(buf + part[r], (int)(part[r + 1] - part[r]), MPI_FLOAT, q,
                      TAG_PART_GATHER, e->gcomm, &e->part_req[k++]);
    MPI_Waitall(k, e->part_req, MPI_STATUSES_IGNORE);
}

/* All ranks of the group learn whether any of them failed, and the first failure's
   message. Returns 0 if none failed. */
static int group_agree_error(engine_t *e, ss_error_t *err)
{
    if (e->G == 1)
        return err->code ? -1 : 0;
    int mine = err->code ? e->group_rank : e->G, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, e->gcomm);
    if (first == e->G)
        return 0;
    MPI_Bcast(err, (int)sizeof *err, MPI_BYTE, first, e->gcomm);
    return -1;
}

/* ---- rank 0: commits, snapshots, progress ------------------------------------------ */

/* The snapshot is rebuilt whole, so its cost grows with the results. Rank 0 trains too:
   the time between two snapshots is at least SNAPSHOT_SHARE_INVERSE - 1 times the last
   one's cost, which keeps snapshots below 1 / SNAPSHOT_SHARE_INVERSE of its time (5 %)
   however large the study grows (the log, not the snapshot, is the commit point). */
#define SNAPSHOT_SHARE_INVERSE 20

/* What a finished snapshot leaves: its cost, the file's size, whether it failed (the
   next one is then written whole). */
static void snapshot_done(engine_t *e, int rc, int whole, int runs_in, double seconds,
                          long garbage, const ss_error_t *err)
{
    e->snapshot_failed = rc != 0;
    e->last_snapshot = ss_now();
    e->snapshot_seconds += seconds;
    e->snapshot_last_cost = seconds;
    e->n_snapshots++;
    if (rc != 0) {
        fprintf(stderr, "specsweep: %s\n", err->msg);
        return;
    }
    e->snapshot_garbage = whole ? 0 : garbage;
    struct stat st;
    e->snapshot_size = stat(e->out, &st) == 0 ? (long)st.st_size : 0;
    e->snapshot_runs = runs_in;
}

/* The snapshot due next: whole (the first of the job; after a failure; when what updates
   left unused exceeds a quarter of the file) or an update with the runs committed since
   the last one. */
static int snapshot_whole_due(const engine_t *e)
{
    return e->n_snapshots == 0 || e->snapshot_failed || e->snapshot_garbage > e->snapshot_size / 4;
}

/* Collect the background snapshot (waiting for it when `wait`): 1 if one was collected. */
static int snapshot_collect(engine_t *e, int wait)
{
    if (!e->job || (!wait && !ss_snapshot_done(e->job)))
        return 0;
    double t0 = ss_now(), seconds = 0.0;
    long garbage = e->snapshot_garbage;
    ss_error_t err = {0};
    int rc = ss_snapshot_finish(&e->job, &garbage, &seconds, &err);
    e->snapshot_wait += ss_now() - t0;
    snapshot_done(e, rc, e->job_whole, e->job_runs, seconds, garbage, &err);
    return 1;
}

/* Write the snapshot now, in this thread (at start-up and at the end), after the one in
   the background, if any. */
static int write_snapshot(engine_t *e)
{
    snapshot_collect(e, 1);
    double t0 = ss_now();
    ss_error_t err = {0};
    int whole = snapshot_whole_due(e);
    long garbage = e->snapshot_garbage;
    int rc = whole ? ss_snapshot_write(e->out, &e->sw, e->runs, e->n_runs,
                                       &e->output.contents, &err)
                   : ss_snapshot_update(e->out, &e->sw, e->runs, e->n_runs,
                                        &e->output.contents, e->changed, e->n_changed,
                                        &garbage, &err);
    if (rc == 0) {
        e->n_changed = 0;
        e->dirty = 0;
    }
    double seconds = ss_now() - t0;
    e->snapshot_wait += seconds;
    snapshot_done(e, rc, whole, e->output.contents.n_results, seconds, garbage, &err);
    return rc;
}

/* Between runs: collect a finished background snapshot, and start the next one when the
   interval has passed. The interval is at least SNAPSHOT_SHARE_INVERSE - 1 times the last
   snapshot's cost, so that snapshots take at most 1 / SNAPSHOT_SHARE_INVERSE of a core
   however large the study grows. Written by a thread of its own, a snapshot costs rank 0
   only the copy of what it needs (ss_snapshot_start). */
static void snapshot_maybe(engine_t *e, double now)
{
    snapshot_collect(e, 0);
    double interval = e->snapshot_interval;
    if (interval < (SNAPSHOT_SHARE_INVERSE - 1) * e->snapshot_last_cost)
        interval = (SNAPSHOT_SHARE_INVERSE - 1) * e->snapshot_last_cost;
    if (e->job || !e->dirty || e->failed || now - e->last_snapshot < interval)
        return;
    double t0 = ss_now();
    ss_error_t err = {0};
    e->job_whole = snapshot_whole_due(e);
    e->job_runs = e->output.contents.n_results;
    if (ss_snapshot_start(&e->job, e->out, &e->sw, e->runs, e->n_runs, &e->output.contents,
                          e->job_whole ? NULL : e->changed, e->n_changed, e->snapshot_garbage,
                          &err) != 0) {
        write_snapshot(e); /* no thread: here and now */
        return;
    }
    e->snapshot_wait += ss_now() - t0;
    e->n_changed = 0;
    e->dirty = 0;
}

/* Record a runtime failure (the first one wins): no new runs start, runs in progress are
   abandoned at once, and the job ends with exit 1 after the final snapshot. */
static void fail(engine_t *e, const char *msg)
{
    if (e->failed)
        return;
    e->failed = 1;
    snprintf(e->fail_msg, sizeof e->fail_msg, "%s", msg);
    e->stopping = 1;
    e->stop_time = ss_now() - e->deadline; /* abandon runs in progress now */
}

/* The commit point of run i: append its result r to the log (fsync'd) and only then
   count it as done (and print the progress line). `group` had the run assigned (-1: none
   to clear). A result that is not run i's, or for a run already done, or a log append
   that fails, ends the job through fail(): the run is then not committed. */
static void commit(engine_t *e, int i, const ss_result_t *r, int group)
{
    if (i < 0 || i >= e->n_runs || e->state[i] == RUN_DONE ||
        strcmp(r->run_id, e->runs[i].id) != 0) {
        fail(e, "internal error: a result for an unknown or finished run arrived");
        return;
    }
    ss_error_t err = {0};
    if (ss_output_commit(&e->output, r, &err) != 0) {
        fail(e, err.msg);
        return;
    }
    e->state[i] = RUN_DONE;
    ss_queue_done(&e->queue, i);
    e->open[e->runs[i].dataset]--;
    e->changed[e->n_changed++] = i;
    e->n_done++;
    e->n_ok += r->status == SS_STATUS_OK;
    e->n_diverged += r->status == SS_STATUS_DIVERGED;
    e->cost_done += e->cost[i];
    e->dirty = 1;
    if (group >= 0 && e->assigned[group] == i)
        e->assigned[group] = -1;

    double elapsed = ss_now() - e->t_start;
    double eta = e->cost_done > 0 ? elapsed * (e->cost_todo - e->cost_done) / e->cost_done : NAN;
    char eta_s[32], metric[48];
    format_duration(eta, eta_s, sizeof eta_s);
    if (r->status != SS_STATUS_OK)
        snprintf(metric, sizeof metric, "%s", ss_status_name(r->status));
    else if (r->task == SS_TASK_REGRESSION)
        snprintf(metric, sizeof metric, "test MAE %.4g", r->test_loss);
    else
        snprintf(metric, sizeof metric, "test acc %.4f", r->test_accuracy);
    int w = e->n_todo >= 1000 ? 4 : e->n_todo >= 100 ? 3 : e->n_todo >= 10 ? 2 : 1;
    printf("[%*d/%d] %-40s %s  %.1fs  %.3g samples/s  ETA %s\n", w, e->n_done, e->n_todo,
           r->run_id, metric, r->train_seconds, r->samples_per_second,
           e->n_done == e->n_todo ? "0s" : eta_s);
    fflush(stdout);
}

/* A retraining run that cannot run (its parent has no ranking to give): it leaves the
   queue and the count of runs to do, with a line saying why. */
static void skip_run(engine_t *e, int i, const char *why)
{
    int n = ss_queue_drop(&e->queue, i);  /* a child has no children: n is 1 */
    e->state[i] = RUN_PENDING;
    e->open[e->runs[i].dataset] -= n;
    e->n_todo -= n;
    e->cost_todo -= e->cost[i];
    e->n_skipped++;
    printf("[skipped] %s: %s\n", e->runs[i].id, why);
    fflush(stdout);
}

/* The inputs of retraining run i from its parent's result (read back from the log):
   0 with *kept (malloc'd), or 1 when it cannot run (skip_run done). */
static int child_inputs(engine_t *e, int i, int **kept, int *n_kept)
{
    const ss_run_t *run = &e->runs[i];
    ss_log_contents_t *c = &e->output.contents;
    const ss_result_t *found = ss_log_contents_find(c, e->runs[run->retrain.parent].id);
    ss_result_t parent;
    ss_error_t err = {0};
    char why[320] = "";
    if (!found || ss_log_contents_load(c, (int)(found - c->results), &parent, &err) != 0) {
        fail(e, found ? err.msg : "internal error: a retraining run's parent is not done");
        return 1;
    }
    int rc = ss_retrain_inputs(run, &parent, &e->meta[run->dataset], kept, n_kept, why,
                               sizeof why);
    ss_result_free(&parent);
    if (rc != 0)
        skip_run(e, i, why);
    return rc;
}

/* Next run to hand out: its index (with *kept / *n_kept the inputs of a retraining run,
   malloc'd, else NULL / 0), SS_QUEUE_WAIT, or SS_QUEUE_LEAVE (none left, or stopping). */
static int next_run(engine_t *e, int **kept, int *n_kept)
{
    *kept = NULL;
    *n_kept = 0;
    for (;;) {
        if (e->stopping)
            return SS_QUEUE_LEAVE;
        int i = ss_queue_next(&e->queue);
        if (i < 0)
            return i;
        e->state[i] = RUN_RUNNING;
        if (e->runs[i].retrain.mode == SS_RETRAIN_NONE || child_inputs(e, i, kept, n_kept) == 0)
            return i;
    }
}

/* A run given back unfinished (abandoned or failed): it never runs again in this job, nor
   do the retraining runs that wait for it. */
static void give_back(engine_t *e, int i)
{
    e->state[i] = RUN_PENDING;
    e->open[e->runs[i].dataset] -= ss_queue_drop(&e->queue, i);
}

/* The assignment of run i (-1: leave) into e->assignment, with the datasets no run is left
   of (the TAG_ASSIGN message). */
static void make_assignment(engine_t *e, int i)
{
    e->assignment[0] = i;
    for (int d = 0; d < e->sw.n_datasets; d++)
        e->assignment[1 + d] = e->open[d] == 0;
}

/* An assignment received (or made, on rank 0): the datasets it retires are retired on this
   rank's node. Returns the run index. */
static int take_assignment(engine_t *e)
{
    for (int d = 0; d < e->sw.n_datasets; d++)
        if (e->assignment[1 + d])
            ss_nodedata_retire(e->nd, d);
    return e->assignment[0];
}

static void send_assign(engine_t *e, int leader_rank, int group)
{
    int *kept, n_kept;
    int i = next_run(e, &kept, &n_kept);
    if (i >= 0) {
        e->assigned[group] = i;
        e->assigned_at[group] = ss_now();
    } else if (i == SS_QUEUE_LEAVE) {
        e->leaders_active--;
    }
    make_assignment(e, i);
    MPI_Send(e->assignment, 1 + e->sw.n_datasets, MPI_INT, leader_rank, TAG_ASSIGN,
             MPI_COMM_WORLD);
    if (i >= 0 && e->runs[i].retrain.mode != SS_RETRAIN_NONE)
        MPI_Send(kept, n_kept, MPI_INT, leader_rank, TAG_INPUTS, MPI_COMM_WORLD);
    free(kept);
}

/* Service every pending message; check the signal flag, the deadline, the snapshot
   timer. Never blocks. */
static void coord_service(engine_t *e)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            break;
        int n = 0, src = st.MPI_SOURCE, group = src / e->G;
        MPI_Get_count(&st, MPI_BYTE, &n);
        unsigned char *buf = ss_malloc((size_t)n + 1);
        MPI_Recv(buf, n, MPI_BYTE, src, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_REQUEST) {
            if (n > 0) {
                ss_result_t r;
                ss_error_t err = {0};
                if (ss_record_unpack_result(buf, (size_t)n, &r, &err) == 0) {
                    commit(e, e->assigned[group], &r, group);
                    ss_result_free(&r);
                } else {
                    fail(e, err.msg);
                }
            }
            if (e->assigned[group] >= 0) { /* it gave up its run (abandoned or failed) */
                give_back(e, e->assigned[group]);
                e->assigned[group] = -1;
            }
            send_assign(e, src, group);
        } else if (st.MPI_TAG == TAG_ERROR) {
            buf[n] = '\0';
            fail(e, (const char *)buf);
        }
        free(buf);
    }

    double now = ss_now();
    if (stop_signal && !e->stopping) {
        e->stopping = 1;
        e->stop_sig = stop_signal;
        e->stop_time = now;
        printf("specsweep: %s received: no new runs; finishing runs in progress for up to "
               "%.0f s\n", signal_name(e->stop_sig), e->deadline);
        fflush(stdout);
    }
    if (e->stopping && !e->abort_sent && now - e->stop_time >= e->deadline) {
        e->abort_sent = 1;
        e->abort_run = 1; /* group 0 abandons its run too */
        for (int g = 1; g < e->n_groups; g++)
            if (e->assigned[g] >= 0) {
                int one = 1;
                MPI_Send(&one, 1, MPI_INT, g * e->G, TAG_ABORT, MPI_COMM_WORLD);
            }
    }
    snapshot_maybe(e, now);
}

/* poll hook between minibatches (all ranks). Nonzero: the group abandons the run. */
static int engine_poll(void *ctx)
{
    engine_t *e = ctx;
    if (e->rank == 0) {
        coord_service(e);
    } else if (e->group_rank == 0) {
        int flag = 0;
        MPI_Iprobe(0, TAG_ABORT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            int x;
            MPI_Recv(&x, 1, MPI_INT, 0, TAG_ABORT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            e->abort_run = 1;
        }
    }
    if (e->G == 1)
        return e->abort_run;
    if (++e->poll_calls % POLL_EVERY != 0)
        return 0;
    int any = 0;
    MPI_Allreduce(&e->abort_run, &any, 1, MPI_INT, MPI_MAX, e->gcomm);
    return any;
}

/* Rank 0 waiting for its node's loader goes on serving the other groups. */
static void coord_wait(void *ctx) { coord_service(ctx); }

/* Train run i in this rank's group (a retraining run on the inputs kept[0..n_kept)).
   Returns 0 with *res filled, 1 abandoned, -1 error. */
static int train_one(engine_t *e, int i, const int *kept, int n_kept, ss_result_t *res,
                     ss_error_t *err)
{
    const ss_run_t *run = &e->runs[i];
    const ss_dataset_t *ds;
    int got = ss_nodedata_acquire(e->nd, run->dataset, &ds, e->rank == 0 ? coord_wait : NULL,
                                  e, err);
    /* every rank of the group learns of a failed load on any of them (err then holds
       the first failure, on every rank) */
    if (group_agree_error(e, err) != 0 || got != 0) {
        if (got == 0)
            ss_nodedata_release(e->nd, run->dataset);
        return -1;
    }
    ss_train_hooks_t hooks = {e->group_rank, e->G, {group_sum, e}, engine_poll, e,
                              {group_sum_begin, group_sum_end, group_gather, e},
                              group_allgather, e};
    e->poll_calls = 0;
    int rc = ss_train_run(&e->sw, run, ds, kept, n_kept, &hooks, res, err);
    ss_nodedata_release(e->nd, run->dataset);
    if (rc < 0 && e->G > 1)
        group_agree_error(e, err);
    return rc;
}

/* ---- the roles ------------------------------------------------------------------ */

/* A retraining run's inputs, from the group's leader to its other ranks (collective in
   the group; *kept is malloc'd on the others). */
static void bcast_inputs(engine_t *e, int i, int **kept, int *n_kept)
{
    if (e->G == 1 || e->runs[i].retrain.mode == SS_RETRAIN_NONE)
        return;
    MPI_Bcast(n_kept, 1, MPI_INT, 0, e->gcomm);
    if (e->group_rank != 0)
        *kept = ss_malloc((size_t)(*n_kept > 0 ? *n_kept : 1) * sizeof **kept);
    MPI_Bcast(*kept, *n_kept, MPI_INT, 0, e->gcomm);
}

static void coordinator_loop(engine_t *e)
{
    int own_done = 0;
    for (;;) {
        coord_service(e);
        if (!own_done) {
            int *kept, n_kept;
            int next = next_run(e, &kept, &n_kept);
            if (next == SS_QUEUE_WAIT) {  /* a retraining run waits for its parent */
                sleep_ms(1.0);
                continue;
            }
            make_assignment(e, next);
            if (e->G > 1)
                MPI_Bcast(e->assignment, 1 + e->sw.n_datasets, MPI_INT, 0, e->gcomm);
            int i = take_assignment(e);
            if (i < 0) {
                own_done = 1;
                continue;
            }
            bcast_inputs(e, i, &kept, &n_kept);
            e->assigned[0] = i;
            e->abort_run = 0;
            ss_result_t r;
            ss_error_t err = {0};
            int rc = train_one(e, i, kept, n_kept, &r, &err);
            free(kept);
            if (rc == 0) {
                commit(e, i, &r, 0);
                ss_result_free(&r);
            } else {
                give_back(e, i);
                e->assigned[0] = -1;
                if (rc < 0)
                    fail(e, err.msg);
            }
            continue;
        }
        if (e->leaders_active == 0)
            break;
        make_assignment(e, -1); /* rank 0's node may free what the others finished */
        take_assignment(e);
        sleep_ms(1.0); /* idle: wait for the other groups without spinning */
    }
}

/* The TAG_INPUTS message that follows the assignment of a retraining run. */
static void recv_inputs(int **kept, int *n_kept)
{
    MPI_Status st;
    MPI_Probe(0, TAG_INPUTS, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_INT, n_kept);
    *kept = ss_malloc((size_t)(*n_kept > 0 ? *n_kept : 1) * sizeof **kept);
    MPI_Recv(*kept, *n_kept, MPI_INT, 0, TAG_INPUTS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

/*
 * A worker group's leader (group_rank 0, rank > 0): ask rank 0 for a run, carrying the
 * previous run's packed result (empty on the first request and after an abandoned or
 * failed run), train it with the group, repeat until rank 0 answers -1. A runtime
 * failure is sent to rank 0 as TAG_ERROR (the job then ends); so is a result that cannot
 * be packed, which is never sent as an empty request (that would read as "abandoned").
 */
static void leader_loop(engine_t *e)
{
    unsigned char *payload = NULL;
    size_t len = 0;
    double wait = 5.0;          /* ms before asking again after a "wait" */
    for (;;) {
        MPI_Send(payload, (int)len, MPI_BYTE, 0, TAG_REQUEST, MPI_COMM_WORLD);
        free(payload);
        payload = NULL;
        len = 0;
        int done = 0, n = 1 + e->sw.n_datasets;
        MPI_Request req;
        MPI_Irecv(e->assignment, n, MPI_INT, 0, TAG_ASSIGN, MPI_COMM_WORLD, &req);
        for (double pause = 0.05; !done; pause = pause < 2.0 ? pause * 2 : 2.0) {
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (!done)
                sleep_ms(pause);
        }
        if (e->assignment[0] == SS_QUEUE_WAIT) { /* ask again soon, with nothing to carry */
            sleep_ms(wait);
            wait = wait < 200.0 ? wait * 2 : 200.0;
            continue;
        }
        wait = 5.0;
        int *kept = NULL, n_kept = 0;
        if (e->assignment[0] >= 0 && e->runs[e->assignment[0]].retrain.mode != SS_RETRAIN_NONE)
            recv_inputs(&kept, &n_kept);
        if (e->G > 1)
            MPI_Bcast(e->assignment, n, MPI_INT, 0, e->gcomm);
        int i = take_assignment(e);
        if (i < 0)
            break;
        bcast_inputs(e, i, &kept, &n_kept);
        e->abort_run = 0;
        ss_result_t r;
        ss_error_t err = {0};
        int rc = train_one(e, i, kept, n_kept, &r, &err);
        free(kept);
        if (rc == 0) {
            if (ss_record_pack_result(&r, &payload, &len) != 0)
                ss_error_set(&err, SS_EXIT_RUNTIME,
                             "run %.192s: inconsistent result (status, counts or arrays)",
                             r.run_id);
            ss_result_free(&r);
        }
        if (err.code)
            MPI_Send(err.msg, (int)strlen(err.msg), MPI_CHAR, 0, TAG_ERROR, MPI_COMM_WORLD);
    }
    /* an abort that crossed our last request is still queued: take it */
    int flag = 1;
    while (flag) {
        MPI_Iprobe(0, TAG_ABORT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            int x;
            MPI_Recv(&x, 1, MPI_INT, 0, TAG_ABORT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
}

/* The other ranks of a worker group: train whatever run the leader broadcasts, until -1.
   Results and failures are the leader's to report; every rank of the group holds the
   same ones. */
static void member_loop(engine_t *e)
{
    for (;;) {
        MPI_Bcast(e->assignment, 1 + e->sw.n_datasets, MPI_INT, 0, e->gcomm);
        int i = take_assignment(e);
        if (i < 0)
            break;
        int *kept = NULL, n_kept = 0;
        bcast_inputs(e, i, &kept, &n_kept);
        e->abort_run = 0;
        ss_result_t r;
        ss_error_t err = {0};
        if (train_one(e, i, kept, n_kept, &r, &err) == 0)
            ss_result_free(&r);
        free(kept);
    }
}

/* ---- start-up: everything that can be wrong is found before anything is written ---- */

static double run_cost(const engine_t *e, const ss_run_t *run)
{
    const ss_dataset_info_t *ds = &e->meta[run->dataset];
    double width = ds->n_inputs, flops = 0;
    for (int l = 0; l < run->model.n_hidden; l++) {
        flops += width * run->model.hidden[l];
        width = run->model.hidden[l];
    }
    flops += width * (ds->n_classes > 0 ? ds->n_classes : 1);
    return (double)run->training.epochs * ds->n_train * flops;
}

/* Every dataset loads (and so is checked) before anything is written. Only its
   description is kept, and the rows of the last one (e->kept, see coordinator_start):
   training loads the others again where and when they are needed, so rank 0 never holds
   every dataset of a large sweep at once. */
static int check_datasets(engine_t *e, ss_error_t *err)
{
    int n = e->sw.n_datasets;
    e->meta = ss_calloc((size_t)n, sizeof *e->meta);
    for (int d = 0; d < n; d++) {
        ss_dataset_t ds;
        if (ss_dataset_load(&e->sw.datasets[d], &ds, err) != 0)
            return -1;
        if (d + 1 < n) {
            ss_dataset_take_info(&ds, &e->meta[d]);
        } else {
            ss_dataset_info_copy(&e->meta[d], &ds.info);
            e->kept = ds;
        }
        if (ss_retrain_check(&e->sw, &e->meta[d], err) != 0)
            return -1;
    }
    return 0;
}

/* What is left to do (queue.h) and its cost. */
static void plan_queue(engine_t *e)
{
    size_t n = (size_t)(e->n_runs > 0 ? e->n_runs : 1);
    e->state = ss_calloc(n, sizeof *e->state);
    e->cost = ss_calloc(n, sizeof *e->cost);
    e->changed = ss_calloc(n, sizeof *e->changed);
    unsigned char *done = ss_calloc(n, 1);
    for (int i = 0; i < e->n_runs; i++) {
        e->cost[i] = run_cost(e, &e->runs[i]);
        if (ss_log_contents_find(&e->output.contents, e->runs[i].id)) {
            e->state[i] = RUN_DONE;
            done[i] = 1;
        } else {
            e->n_todo++;
            e->cost_todo += e->cost[i];
            e->open[e->runs[i].dataset]++;
        }
    }
    ss_queue_init(&e->queue, e->runs, e->n_runs, e->cost, done);
    free(done);
}

/* Rank 0, before any work: check every dataset, take the output, bring the log up to
   date, plan the queue and write the first snapshot. Returns 0, or -1 with err (nothing
   was written when err is SS_EXIT_INPUT). */
static int coordinator_start(engine_t *e, const ss_engine_opts_t *o, ss_error_t *err)
{
    ss_output_flags_t flags = {o->fresh, o->salvage};
    if (check_datasets(e, err) != 0 ||
        ss_output_take(&e->output, e->out, &e->sw, e->runs, e->n_runs, &flags, err) != 0 ||
        ss_output_start(&e->output, &e->sw, e->meta, e->sw.n_datasets, err) != 0)
        return -1;
    for (char *line = e->output.note; *line;) { /* one "specsweep: " line per sentence */
        size_t n = strcspn(line, "\n");
        printf("specsweep: %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    plan_queue(e);
    /* the rows rank 0 has just read go to its node if the first run needs them; else they
       would only wait there while other datasets are loaded */
    int first = e->queue.n_ready > 0 ? e->queue.ready[0]
              : e->queue.n_order > 0 ? e->queue.order[0] : -1;
    if (first < 0 || e->runs[first].dataset != e->sw.n_datasets - 1)
        ss_dataset_free(&e->kept);
    if (write_snapshot(e) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot write the results file", e->out);
        return -1;
    }
    int already = e->n_runs - e->n_todo, n_children = 0, child_cells = e->n_cells;
    for (int i = 0; i < e->n_runs; i++)
        if (e->runs[i].retrain.mode != SS_RETRAIN_NONE) {
            n_children++;
            if (e->runs[i].cell < child_cells)
                child_cells = e->runs[i].cell;
        }
    char retrain[64] = "";
    if (n_children)
        snprintf(retrain, sizeof retrain, " + %d retraining runs", n_children);
    printf("specsweep %s: sweep '%s': %d runs (%d cells x %d seeds%s), %d done, %d to run on "
           "%d rank%s (%d group%s of %d); results in %s\n",
           SS_VERSION, e->sw.name, e->n_runs, child_cells, e->sw.n_seeds, retrain, already,
           e->n_todo, e->size, e->size == 1 ? "" : "s", e->n_groups,
           e->n_groups == 1 ? "" : "s", e->G, e->out);
    fflush(stdout);
    return 0;
}

/* Frees everything of e; collective (ss_nodedata_destroy) once the data was started. */
static void engine_free(engine_t *e)
{
    ss_nodedata_destroy(&e->nd);
    ss_dataset_free(&e->kept);
    for (int d = 0; e->meta && d < e->sw.n_datasets; d++)
        ss_dataset_info_free(&e->meta[d]);
    free(e->meta);
    free(e->open);
    free(e->assignment);
    free(e->runs);
    free(e->state);
    free(e->cost);
    ss_queue_free(&e->queue);
    free(e->changed);
    ss_snapshot_finish(&e->job, NULL, NULL, NULL);
    free(e->assigned);
    free(e->assigned_at);
    free(e->part_buf);
    free(e->part_req);
    ss_output_close(&e->output);
    ss_sweep_free(&e->sw);
}

/* Every rank parses the sweep (cheap, and identical everywhere) and learns its group;
   rank 0 alone checks the data and the output (coordinator_start). Returns 0 or -1 with
   err set on this rank (the caller makes every rank agree). */
static int engine_init(engine_t *e, const ss_engine_opts_t *o, ss_error_t *err)
{
    if (ss_sweep_load(o->sweep_path, &e->sw, err) != 0 ||
        ss_grid_expand(&e->sw, &e->runs, &e->n_runs, &e->n_cells, err) != 0)
        return -1;
    e->G = o->ranks_per_run > 0 ? o->ranks_per_run : e->sw.ranks_per_run;
    if (e->size % e->G != 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%d ranks do not divide into groups of ranks_per_run = %d; use a "
                     "multiple of %d ranks or another --ranks-per-run", e->size, e->G, e->G);
        return -1;
    }
    e->n_groups = e->size / e->G;
    e->group = e->rank / e->G;
    e->group_rank = e->rank % e->G;
    e->assignment = ss_calloc((size_t)e->sw.n_datasets + 1, sizeof *e->assignment);
    e->open = ss_calloc((size_t)e->sw.n_datasets, sizeof *e->open);
    e->out = o->output ? o->output : e->sw.output;
    if (e->rank != 0)
        return 0;
    e->assigned = ss_malloc((size_t)e->n_groups * sizeof *e->assigned);
    e->assigned_at = ss_calloc((size_t)e->n_groups, sizeof *e->assigned_at);
    for (int g = 0; g < e->n_groups; g++)
        e->assigned[g] = -1;
    e->leaders_active = e->n_groups - 1;
    e->t_start = ss_now();
    return coordinator_start(e, o, err);
}

/* Every rank, once rank 0's start succeeded: the datasets' descriptions and the choice of
   one copy per node or per rank (SPECSWEEP_SHARED_DATA=0 on rank 0) go from rank 0 to
   every rank, which then set up their node's copies (collective); rank 0 hands its node
   the dataset its check read last. */
static void start_data(engine_t *e)
{
    int n = e->sw.n_datasets;
    ss_dataset_info_t *info = ss_calloc((size_t)n, sizeof *info);
    int mode = SS_NODEDATA_AUTO;
    if (e->rank == 0) {
        for (int d = 0; d < n; d++) { /* the scalars: pointers mean nothing elsewhere */
            info[d] = ss_dataset_info_scalars(&e->meta[d]);
        }
        const char *env = getenv("SPECSWEEP_SHARED_DATA");
        if (env && strcmp(env, "0") == 0)
            mode = SS_NODEDATA_PRIVATE;
    }
    bcast_idle(info, (int)((size_t)n * sizeof *info), MPI_BYTE);
    bcast_idle(&mode, 1, MPI_INT);
    char note[512];
    e->nd = ss_nodedata_create(MPI_COMM_WORLD, e->sw.datasets, info, n,
                               (ss_nodedata_mode_t)mode, note, sizeof note);
    free(info);
    if (e->rank != 0)
        return;
    if (note[0]) {
        printf("specsweep: %s\n", note);
        fflush(stdout);
    }
    if (e->kept.x_train)
        ss_nodedata_adopt(e->nd, n - 1, &e->kept);
}

/* Rank 0, after the last run: the final snapshot and the closing message. Returns the
   job's exit code. */
static int coordinator_finish(engine_t *e)
{
    if (write_snapshot(e) != 0 && !e->failed)
        fail(e, "the final snapshot could not be written (the log keeps every result)");
    char took[32];
    format_duration(ss_now() - e->t_start, took, sizeof took);
    int left = e->n_todo - e->n_done, code = SS_EXIT_OK;
    if (e->failed) {
        int committed = e->output.contents.n_results;
        fprintf(stderr, "specsweep: %s\n", e->fail_msg);
        fprintf(stderr, "specsweep: stopped after %d of %d runs; the %d committed run%s %s in "
                        "the log %s", e->n_done, e->n_todo, committed, committed == 1 ? "" : "s",
                committed == 1 ? "is" : "are", e->output.log_path);
        if (e->snapshot_runs < committed)
            fprintf(stderr, " (%s holds %d of them)", e->out, e->snapshot_runs);
        fprintf(stderr, "; run the same command to resume once the problem is fixed\n");
        code = SS_EXIT_RUNTIME;
    } else if (left > 0) {
        printf("specsweep: stopped by %s after %s: %d of %d runs done, %d left; run the "
               "same command to resume (results in %s)\n", signal_name(e->stop_sig), took,
               e->n_done, e->n_todo, left, e->out);
        code = SS_EXIT_STOPPED;
    } else {
        char skipped[96] = "";
        if (e->n_skipped)
            snprintf(skipped, sizeof skipped, "; %d retraining run%s skipped (no ranking to "
                     "train on)", e->n_skipped, e->n_skipped == 1 ? "" : "s");
        printf("specsweep: done: %d runs (%d ok, %d diverged) in %s%s; results in %s\n",
               e->n_done, e->n_ok, e->n_diverged, took, skipped, e->out);
        double wall = ss_now() - e->t_start;
        printf("specsweep: %d snapshots took %.2f s; rank 0 waited %.2f s for them, %.1f %% of "
               "the time\n", e->n_snapshots, e->snapshot_seconds, e->snapshot_wait,
               wall > 0 ? 100.0 * e->snapshot_wait / wall : 0.0);
    }
    fflush(stdout);
    return code;
}

int ss_engine_run(const ss_engine_opts_t *o)
{
    /* first: a stop signal during MPI start-up must already be a stop (exit 3) */
    install_signal_handlers();
    /* one malloc arena: the snapshot thread's memory is given back to the one heap the
       rank works in, not kept in an arena of its own (20,000 runs: 30 MB less) */
    mallopt(M_ARENA_MAX, 1);
    int init = 0, provided;
    MPI_Initialized(&init);
    if (!init) /* funneled: only this thread calls MPI; a snapshot may be written by another */
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    ss_set_fatal_handler(abort_job);
    openblas_set_num_threads(1);

    engine_t e;
    memset(&e, 0, sizeof e);
    e.output.lock_fd = -1;
    e.output.log.fd = -1;
    e.gcomm = MPI_COMM_NULL;
    MPI_Comm_rank(MPI_COMM_WORLD, &e.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &e.size);
    e.deadline = o->stop_deadline > 0 ? o->stop_deadline : 30.0;
    e.snapshot_interval = o->snapshot_interval > 0 ? o->snapshot_interval : 30.0;

    ss_error_t err = {0};
    engine_init(&e, o, &err);
    /* rank 0's verdict is everyone's: the sweep is parsed alike on every rank */
    bcast_idle(&err, (int)sizeof err, MPI_BYTE);
    if (err.code) {
        if (e.rank == 0)
            fprintf(stderr, "specsweep: %s\n", err.msg);
        engine_free(&e);
        MPI_Finalize();
        return err.code;
    }

    start_data(&e);
    MPI_Comm_split(MPI_COMM_WORLD, e.group, e.group_rank, &e.gcomm);
    if (e.rank == 0)
        coordinator_loop(&e);
    else if (e.group_rank == 0)
        leader_loop(&e);
    else
        member_loop(&e);

    int code = e.rank == 0 ? coordinator_finish(&e) : SS_EXIT_OK;
    bcast_idle(&code, 1, MPI_INT);
    MPI_Comm_free(&e.gcomm);
    engine_free(&e);
    MPI_Finalize();
    return code;
}
