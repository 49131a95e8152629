/* train.c - train one run and measure its input relevance. See train.h. */
#include "specsweep/train.h"

#include "specsweep/attrib.h"
#include "specsweep/retract.h"
#include "specsweep/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Half-open range [lo, hi) of part `r` when n items are cut into `parts` contiguous
   pieces whose sizes differ by at most one (the first n % parts get one more). */
static void shard_range(int n, int parts, int r, int *lo, int *hi)
{
    int base = n / parts, extra = n % parts;
    *lo = r * base + (r < extra ? r : extra);
    *hi = *lo + base + (r < extra ? 1 : 0);
}

/* Sum two doubles across the group through the float reducer. Values that pass through
   here are sums of per-sample losses and counts; float keeps counts exact to 2^24. */
static void reduce_pair(const ss_train_hooks_t *h, double *a, double *b)
{
    if (!h->reduce.sum || h->group_size <= 1)
        return;
    float buf[2] = {(float)*a, (float)*b};
    h->reduce.sum(h->reduce.ctx, buf, 2);
    *a = buf[0];
    *b = buf[1];
}

/*
 * Evaluate rows [0, n) of x/y (contiguous) across the group: each rank takes its shard.
 * Returns the mean loss in *loss and the accuracy (classification) or the mean absolute
 * error (regression) in *metric.
 */
static void evaluate_group(ss_net_t *net, const ss_train_hooks_t *h, const float *x,
                           const float *y, int n, int n_inputs, const unsigned char *mask,
                           const float *fill, double *loss, double *metric)
{
    int lo, hi;
    shard_range(n, h->group_size, h->group_rank, &lo, &hi);
    double loss_sum = 0.0, correct = 0.0;
    if (hi > lo)
        ss_net_evaluate_fill(net, x + (size_t)lo * n_inputs, y + lo, hi - lo, mask, fill,
                             &loss_sum, &correct);
    reduce_pair(h, &loss_sum, &correct);
    *loss = n > 0 ? loss_sum / n : NAN;
    *metric = n > 0 ? correct / n : NAN;
}

/* Minibatch k of an epoch: its size (returned) and this rank's rows [*lo, *hi) in it. */
static int step_shard(int k, int n_fit, int batch, const ss_train_hooks_t *h, int *lo,
                      int *hi)
{
    int start = k * batch;
    int b_total = n_fit - start < batch ? n_fit - start : batch;
    shard_range(b_total, h->group_size > 0 ? h->group_size : 1, h->group_rank, lo, hi);
    return b_total;
}

/* Rows idx[0..n) of x (d wide) and y into xo, yo (xo NULL: the labels alone). The rows
   are scattered over a training set that is usually far larger than the caches: the
   start of the row GATHER_AHEAD ahead is prefetched, so its first misses overlap the
   copies of the rows before it (the hardware prefetcher picks up the rest of a row once
   it is being read sequentially). Short rows are copied in a few ns, so the distance is
   long (fig. 3's rows of 80 bytes: 16 ahead took a third of the gather's time off 2). */
#define GATHER_AHEAD 16

/* bytes (a row) from src to dst: pieces of 64 bytes, the last one ending at the row's end
   (overlapping the one before: the same bytes twice), each a copy of constant size the
   compiler inlines; a memcpy of the row's size is a library call per row. */
static inline void copy_row(char *restrict dst, const char *restrict src, size_t bytes)
{
    if (bytes < 64) {
        memcpy(dst, src, bytes);
        return;
    }
    for (size_t o = 0; o + 64 < bytes; o += 64)
        memcpy(dst + o, src + o, 64);
    memcpy(dst + bytes - 64, src + bytes - 64, 64);
}

static void gather_rows(const float *x, const float *y, int d, const uint32_t *idx, int n,
                        float *xo, float *yo)
{
    const size_t row_bytes = (size_t)d * sizeof *xo;
    if (!xo) {
        for (int i = 0; i < n; i++)
            yo[i] = y[idx[i]];
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i + GATHER_AHEAD < n) {
            const char *ahead = (const char *)(x + (size_t)idx[i + GATHER_AHEAD] * d);
            for (size_t o = 0; o < row_bytes && o < 256; o += 64)
                __builtin_prefetch(ahead + o);
        }
        copy_row((char *)(xo + (size_t)i * d), (const char *)(x + (size_t)idx[i] * d),
                 row_bytes);
        yo[i] = y[idx[i]];
    }
}

/* The optimizer's share of each rank: params cut into group_size contiguous parts of
   nearly equal size, the cuts on 64-byte boundaries. part has group_size + 1 entries. */
static void optimizer_parts(size_t n_params, int parts, size_t *part)
{
    for (int r = 0; r < parts; r++)
        part[r] = (size_t)((double)n_params * r / parts) / 16 * 16;
    part[parts] = n_params;
}

/* 1 if the group agreed to abandon the run (hooks->poll); called between evaluations as
   between minibatches, the same number of times on every rank of the group. */
static int abandoned(const ss_train_hooks_t *h)
{
    return h->poll && h->poll(h->poll_ctx);
}

/* The state of one run's training on this rank. */
typedef struct {
    const ss_sweep_t *sw;
    const ss_run_t *run;
    const ss_dataset_t *ds;
    const ss_train_hooks_t *h;
    int d, G;                   /* inputs, group size */
    int n_all, n_fit, n_val;    /* training rows: fitted + held out for validation */
    int batch, n_steps;         /* minibatch size and minibatches per epoch */
    uint32_t *all_idx;          /* n_all: a permutation; the first n_fit are fitted
                                   (reshuffled every epoch), the rest validate */
    float *xv, *yv;             /* one chunk of this rank's validation rows (evaluate_val) */
    float *xb[2], *yb[2];       /* two minibatch shards: the next one is gathered while
                                   the group sums gradients */
    int rows_in_place;          /* the network's sparse first layer reads the inputs from
                                   the training set (ss_net_forward_backward_rows,
                                   ss_net_evaluate_rows): xb and xv stay NULL, only labels
                                   are gathered */
    ss_net_t net;
    size_t *part;               /* G + 1 cuts of params, for the sharded optimizer */
    int sharded;                /* G > 1 with part-wise sums (train.h) */
    size_t opt_lo, opt_hi;      /* this rank's optimizer range */
    ss_rng_t shuffle_rng;
    int n_first, use_dropout;   /* dropout after the first hidden layer (its width) */
    uint64_t step;              /* minibatches taken so far */
    float *fill;                /* n_inputs: what replaces a left-out input in a top-k
                                   evaluation (the training means), or NULL: zero */
    unsigned char *keep;        /* a retraining run's inputs (1 = trained on), or NULL:
                                   all; the others are replaced by fill in every row the
                                   run trains, validates and tests on */
} trainer_t;

/* Rows idx[0..n) of the training set into xo, yo, with a retraining run's left-out
   inputs replaced (zero, or the training mean). */
static void trainer_gather(const trainer_t *t, const uint32_t *idx, int n, float *xo, float *yo)
{
    gather_rows(t->ds->x_train, t->ds->y_train, t->d, idx, n, xo, yo);
    if (!t->keep)
        return;
    for (int r = 0; r < n; r++) {
        float *x = xo + (size_t)r * t->d;
        for (int i = 0; i < t->d; i++)
            if (!t->keep[i])
                x[i] = t->fill ? t->fill[i] : 0.0f;
    }
}

/* Minibatch rows idx[0..n) into buffer k: inputs and labels, or the labels alone when
   the network reads the inputs in place. */
static void trainer_gather_batch(const trainer_t *t, const uint32_t *idx, int n, int k)
{
    if (t->rows_in_place)
        gather_rows(NULL, t->ds->y_train, t->d, idx, n, NULL, t->yb[k]);
    else
        trainer_gather(t, idx, n, t->xb[k], t->yb[k]);
}

/* Validation split: the same for every seed of a cell (from the dataset's seed), so the
   cells' seeds differ only in initialisation, order and dropout. */
static int trainer_split(trainer_t *t, ss_error_t *err)
{
    const ss_dataset_t *ds = t->ds;
    const ss_training_t *tr = &t->run->training;
    t->n_all = ds->info.n_train;
    t->n_val = (int)floor(tr->validation_fraction * t->n_all + 0.5);
    if (t->n_val >= t->n_all)
        t->n_val = t->n_all - 1;
    t->n_fit = t->n_all - t->n_val;
    if (t->n_fit < 1) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: no training samples", ds->info.name);
        return -1;
    }
    t->all_idx = ss_malloc((size_t)t->n_all * sizeof *t->all_idx);
    for (int i = 0; i < t->n_all; i++)
        t->all_idx[i] = (uint32_t)i;
    ss_rng_t rng;
    ss_rng_seed(&rng, t->sw->datasets[t->run->dataset].data_seed ^ ss_hash_str(ds->info.name),
                SS_STREAM_SPLIT);
    ss_rng_shuffle(&rng, t->all_idx, (size_t)t->n_all);
    return 0;
}

/* Minibatch buffers, the network (initialised from the run seed) and the optimizer's
   parts. Returns 0 or -1 with err. */
static int trainer_setup(trainer_t *t, ss_error_t *err)
{
    const ss_training_t *tr = &t->run->training;
    const ss_dataset_t *ds = t->ds;
    t->batch = tr->batch_size < t->n_fit ? tr->batch_size : t->n_fit;
    t->n_steps = (t->n_fit + t->batch - 1) / t->batch;
    int max_shard = (t->batch + t->G - 1) / t->G;
    t->part = ss_calloc((size_t)t->G + 1, sizeof *t->part);
    int n_out = ds->info.n_classes > 0 ? ds->info.n_classes : 1;
    if (ss_net_create(&t->net, &t->run->model, tr, t->d, n_out, ds->info.task,
                      max_shard > 256 ? max_shard : 256, (uint64_t)t->run->seed, err) != 0)
        return -1;
    /* Mostly-zero inputs (images): the first layer visits only the nonzero ones (not when
       left-out inputs are filled with their means: a row may then have more nonzeros) */
    if (ds->input_density <= SS_SPARSE_INPUT_DENSITY && ds->max_row_nonzeros > 0 &&
        !(t->keep && t->fill))
        ss_net_set_sparse_inputs(&t->net, ds->max_row_nonzeros);
    /* the inputs in place, unless a retraining run replaces some of them */
    t->rows_in_place = t->net.sparse_inputs > 0 && !t->keep;
    for (int k = 0; k < 2; k++) {
        if (!t->rows_in_place)
            t->xb[k] = ss_alloc_aligned((size_t)max_shard * t->d * sizeof(float));
        t->yb[k] = ss_alloc_aligned((size_t)max_shard * sizeof(float));
    }
    /* room for one chunk of ss_net_evaluate of this rank's validation shard */
    int val_shard = (t->n_val + t->G - 1) / t->G;
    size_t nv = (size_t)(val_shard < t->net.max_batch ? val_shard : t->net.max_batch);
    if (!t->rows_in_place)
        t->xv = ss_alloc_aligned((nv > 0 ? nv : 1) * (size_t)t->d * sizeof(float));
    t->yv = ss_alloc_aligned((nv > 0 ? nv : 1) * sizeof(float));

    /* Data parallel (G > 1) with hooks->parts: the gradient is summed part-wise, rank
       r receives the complete sum of params[part[r], part[r+1]) only and takes the
       optimizer step (L2 + Adam) of that part, then the parts are exchanged. The same
       bytes move as with one allreduce of the gradient, and each rank does 1/G of the
       optimizer work. Without them: one sum over the whole gradient, every rank steps
       every parameter. Either way every rank ends each step with the same parameters. */
    const ss_train_hooks_t *h = t->h;
    t->sharded = t->G > 1 && h->parts.sum_begin && h->parts.sum_end && h->parts.gather;
    optimizer_parts(t->net.n_params, t->sharded ? t->G : 1, t->part);
    t->opt_lo = t->sharded ? t->part[h->group_rank] : 0;
    t->opt_hi = t->sharded ? t->part[h->group_rank + 1] : t->net.n_params;
    ss_rng_seed(&t->shuffle_rng, (uint64_t)t->run->seed, SS_STREAM_SHUFFLE);
    const ss_model_t *m = &t->run->model;
    t->n_first = m->n_hidden > 0 ? m->hidden[0] : 0;
    t->use_dropout = m->dropout_after_first > 0 && t->n_first > 0;
    return 0;
}

/*
 * The validation rows all_idx[n_fit, n_all) evaluated across the group, as evaluate_group
 * would evaluate them gathered into one array, to the same bits: each rank gathers its
 * shard chunk by chunk of net.max_batch rows, the chunks ss_net_evaluate would cut the
 * array into, and adds each chunk's sums in the same order. The validation rows are thus
 * never copied whole: the dataset's rows may be shared by the ranks of a node (nodedata.h)
 * and a copy of them per rank is what sharing them saves.
 */
static void evaluate_val(trainer_t *t, double *loss, double *metric)
{
    const ss_train_hooks_t *h = t->h;
    const uint32_t *idx = t->all_idx + t->n_fit;
    int lo, hi;
    shard_range(t->n_val, h->group_size, h->group_rank, &lo, &hi);
    double loss_sum = 0.0, correct = 0.0;
    for (int start = lo; start < hi; start += t->net.max_batch) {
        int b = hi - start < t->net.max_batch ? hi - start : t->net.max_batch;
        if (t->rows_in_place) {
            gather_rows(NULL, t->ds->y_train, t->d, idx + start, b, NULL, t->yv);
            ss_net_evaluate_rows(&t->net, t->ds->x_train, idx + start, t->yv, b, &loss_sum,
                                 &correct);
        } else {
            trainer_gather(t, idx + start, b, t->xv, t->yv);
            ss_net_evaluate(&t->net, t->xv, t->yv, b, NULL, &loss_sum, &correct);
        }
    }
    reduce_pair(h, &loss_sum, &correct);
    *loss = t->n_val > 0 ? loss_sum / t->n_val : NAN;
    *metric = t->n_val > 0 ? correct / t->n_val : NAN;
}

/* One minibatch step k of the epoch on the shard in buffer `cur`, gathering shard k + 1
   into the other buffer meanwhile. Adds the shard's data loss to *data_loss and this
   rank's part of the L2 penalty to *l2_sum. */
static void train_step(trainer_t *t, int k, int cur, double *data_loss, double *l2_sum)
{
    const ss_train_hooks_t *h = t->h;
    ss_rng_t dropout_rng;
    int lo, hi, b_total = step_shard(k, t->n_fit, t->batch, h, &lo, &hi);
    if (t->use_dropout) {
        /* The mask of the sample at position p of the minibatch is the p-th row of a
           stream seeded by (seed, step): each rank skips to its shard's first row, so
           the masks are the same for any group layout. */
        ss_rng_seed(&dropout_rng, (uint64_t)t->run->seed, SS_STREAM_DROPOUT + (t->step << 8));
        for (long q = 0; q < (long)lo * t->n_first; q++)
            ss_rng_next(&dropout_rng);
    }
    t->step++;
    ss_rng_t *drop = t->use_dropout ? &dropout_rng : NULL;
    if (t->rows_in_place)
        *data_loss += ss_net_forward_backward_rows(&t->net, t->ds->x_train,
                                                   t->all_idx + (size_t)k * t->batch + lo,
                                                   t->yb[cur], hi - lo, b_total, drop,
                                                   &h->reduce);
    else
        *data_loss += ss_net_forward_backward(&t->net, t->xb[cur], t->yb[cur], hi - lo,
                                              b_total, drop, &h->reduce);
    if (t->sharded)
        h->parts.sum_begin(h->parts.ctx, t->net.grads, t->part);
    else if (t->G > 1 && h->reduce.sum)
        h->reduce.sum(h->reduce.ctx, t->net.grads, t->net.n_params);
    if (k + 1 < t->n_steps) {
        /* the next shard, while the other ranks of the group catch up */
        int nlo, nhi;
        step_shard(k + 1, t->n_fit, t->batch, h, &nlo, &nhi);
        trainer_gather_batch(t, t->all_idx + (size_t)(k + 1) * t->batch + nlo, nhi - nlo,
                             cur ^ 1);
    }
    if (t->sharded)
        h->parts.sum_end(h->parts.ctx, t->net.grads, t->part);
    *l2_sum += ss_net_update(&t->net, t->opt_lo, t->opt_hi);
    if (t->sharded)
        h->parts.gather(h->parts.ctx, t->net.params, t->part);
}

/* One epoch: shuffle, every minibatch, then the epoch's loss and validation metric into
   res. Returns 0, 1 if the group abandoned the run (hooks->poll), 2 if the loss is no
   longer finite (res->status diverged). */
static int train_epoch(trainer_t *t, int epoch, ss_result_t *res)
{
    const ss_train_hooks_t *h = t->h;
    ss_rng_shuffle(&t->shuffle_rng, t->all_idx, (size_t)t->n_fit);
    double data_loss = 0.0, l2_sum = 0.0;
    int lo, hi;
    step_shard(0, t->n_fit, t->batch, h, &lo, &hi);
    trainer_gather_batch(t, t->all_idx + lo, hi - lo, 0);
    for (int k = 0, cur = 0; k < t->n_steps; k++, cur ^= 1) {
        train_step(t, k, cur, &data_loss, &l2_sum);
        if (abandoned(h))
            return 1; /* the group agreed to stop */
    }
    /* sharded: each rank holds the penalty of its part, so it is summed too */
    double other = 0.0;
    reduce_pair(h, &data_loss, t->sharded ? &l2_sum : &other);
    double loss = data_loss / t->n_fit + l2_sum / t->n_steps;
    res->train_loss[epoch] = loss;
    double vloss, vmetric;
    evaluate_val(t, &vloss, &vmetric);
    res->val_metric[epoch] = t->ds->info.task == SS_TASK_REGRESSION ? vloss : vmetric;
    res->n_epochs = epoch + 1;
    if (!isfinite(loss)) {
        res->status = SS_STATUS_DIVERGED;
        snprintf(res->message, sizeof res->message, "training loss became %s at epoch %d",
                 isnan(loss) ? "NaN" : "infinite", epoch + 1);
        return 2;
    }
    return 0;
}

/* Telescopic retraction (model.retract): the compact network's test metrics, its shape
   and the histogram of its first layer's weights into res. Every rank of the group builds
   the same compact network and evaluates its shard. Returns 0 or -1 with err. */
static int measure_retraction(trainer_t *t, ss_result_t *res, ss_error_t *err)
{
    const ss_model_t *m = &t->run->model;
    const ss_dataset_t *ds = t->ds;
    ss_net_t compact;
    if (ss_retract(&t->net, m->retract, t->net.max_batch, &compact, err) != 0)
        return -1;
    evaluate_group(&compact, t->h, ds->x_test, ds->y_test, ds->info.n_test, t->d, NULL, NULL,
                   &res->retracted_test_loss, &res->retracted_test_accuracy);
    if (ds->info.task == SS_TASK_REGRESSION)
        res->retracted_test_accuracy = NAN; /* retracted_test_loss is the MAE */
    res->n_retracted_shape = compact.n_layers + 1;
    res->retracted_shape = ss_calloc((size_t)res->n_retracted_shape, sizeof(int64_t));
    res->retracted_shape[0] = compact.n_inputs;
    for (int l = 0; l < compact.n_layers; l++)
        res->retracted_shape[l + 1] = compact.layer[l].n_out;
    res->n_histogram = m->histogram_bins;
    res->n_histogram_edges = m->histogram_bins + 1;
    res->weights_histogram = ss_calloc((size_t)res->n_histogram, sizeof(int64_t));
    res->weights_histogram_edges = ss_calloc((size_t)res->n_histogram_edges, sizeof(double));
    ss_retract_histogram(&compact, m->histogram_bins, m->histogram_range,
                         res->weights_histogram, res->weights_histogram_edges);
    ss_net_destroy(&compact);
    res->absent &= ~(SS_RESULT_BIT(retracted_test_accuracy) |
                     SS_RESULT_BIT(retracted_test_loss) | SS_RESULT_BIT(retracted_shape) |
                     SS_RESULT_BIT(weights_histogram) | SS_RESULT_BIT(weights_histogram_edges));
    return 0;
}

static void trainer_free(trainer_t *t)
{
    free(t->fill);
    free(t->keep);
    ss_net_destroy(&t->net);
    free(t->all_idx);
    free(t->xv);
    free(t->yv);
    for (int k = 0; k < 2; k++) {
        free(t->xb[k]);
        free(t->yb[k]);
    }
    free(t->part);
}

/* ---- the run's relevance: top-k curves and the post-hoc methods ------------------------ */

/* The training mean of every input (relevance.masking: mean), summed in double. */
static float *training_means(const ss_dataset_t *ds)
{
    int d = ds->info.n_inputs, n = ds->info.n_train;
    double *sum = ss_calloc((size_t)d, sizeof *sum);
    for (int r = 0; r < n; r++) {
        const float *x = ds->x_train + (size_t)r * d;
        for (int i = 0; i < d; i++)
            sum[i] += x[i];
    }
    float *mean = ss_malloc((size_t)d * sizeof *mean);
    for (int i = 0; i < d; i++)
        mean[i] = (float)(sum[i] / (n > 0 ? n : 1));
    free(sum);
    return mean;
}

/* Test accuracy (MAE for regression) with only the inputs order[0..k) kept. */
static double keep_inputs_metric(trainer_t *t, const int *order, int k, unsigned char *mask)
{
    const ss_dataset_t *ds = t->ds;
    double loss, metric;
    memset(mask, 0, (size_t)t->d);
    for (int i = 0; i < k; i++)
        mask[order[i]] = 1;
    evaluate_group(&t->net, t->h, ds->x_test, ds->y_test, ds->info.n_test, t->d, mask, t->fill,
                   &loss, &metric);
    return ds->info.task == SS_TASK_REGRESSION ? loss : metric;
}

/* The run's top-k curve from its eigenvalues (|relevance|) and the random-k baseline.
   Returns 0, or 1 if the run was abandoned between two evaluations (a stop deadline:
   with many random repeats this phase can take longer than training). */
static int measure_topk(trainer_t *t, ss_result_t *res)
{
    const ss_sweep_t *sw = t->sw;
    int d = t->d, n_k = 0;
    for (int i = 0; i < sw->n_topk; i++)
        if (sw->topk[i] <= d)
            n_k++;
    res->n_topk = n_k;
    res->topk = ss_calloc((size_t)n_k, sizeof *res->topk);
    res->topk_accuracy = ss_calloc((size_t)n_k, sizeof(double));
    res->randomk_accuracy = ss_calloc((size_t)n_k, sizeof(double));
    if (!n_k)
        return 0;
    int stop = 0, *order = ss_malloc((size_t)d * sizeof *order);
    int *rorder = ss_malloc((size_t)d * sizeof *rorder);
    uint32_t *perm = ss_malloc((size_t)d * sizeof *perm);
    unsigned char *mask = ss_malloc((size_t)d);
    double *score = ss_malloc((size_t)d * sizeof *score);
    for (int i = 0; i < d; i++)
        score[i] = fabs(res->eigenvalues[i]);
    ss_stats_rank_order(score, d, order);
    ss_rng_t rng;
    ss_rng_seed(&rng, (uint64_t)t->run->seed, SS_STREAM_RANDOMK);
    for (int i = 0, j = 0; i < sw->n_topk && !stop; i++) {
        int k = sw->topk[i];
        if (k > d)
            continue;
        res->topk[j] = k;
        res->topk_accuracy[j] = keep_inputs_metric(t, order, k, mask);
        stop = abandoned(t->h);
        double acc = 0.0;
        int reps = sw->random_repeats > 0 ? sw->random_repeats : 1;
        for (int r = 0; r < reps && !stop; r++) {
            for (int q = 0; q < d; q++)
                perm[q] = (uint32_t)q;
            ss_rng_shuffle(&rng, perm, (size_t)d);
            for (int q = 0; q < k; q++)
                rorder[q] = (int)perm[q];
            acc += keep_inputs_metric(t, rorder, k, mask);
            stop = abandoned(t->h);
        }
        res->randomk_accuracy[j] = acc / reps;
        j++;
    }
    free(order);
    free(rorder);
    free(perm);
    free(mask);
    free(score);
    return stop;
}

/* Units a rank computes between two polls of the stop flag (every rank polls equally
   often: the poll is collective). */
#define UNITS_PER_POLL 4

/* Method m's global relevance on the group: the units split over its ranks (a contiguous
   share each), computed a few at a time with a poll in between, every rank's packed
   parts gathered to every rank and combined in unit order, so every rank holds the same
   bits whatever the group size (attrib.h). Returns 0, 1 if the run was abandoned, -1
   with err. */
static int method_on_group(trainer_t *t, ss_attrib_t *a, ss_attrib_method_t m,
                           ss_attrib_result_t *out, ss_error_t *err)
{
    const ss_train_hooks_t *h = t->h;
    int nu = ss_attrib_n_units(a, m), lo, hi;
    shard_range(nu, t->G, h->group_rank, &lo, &hi);
    int rounds = (nu / t->G + (nu % t->G != 0) + UNITS_PER_POLL - 1) / UNITS_PER_POLL;
    double *mine = NULL;
    size_t n_mine = 0;
    int rc = 0;
    for (int round = 0; round < rounds && rc == 0; round++) {
        int u0 = lo + round * UNITS_PER_POLL, u1 = u0 + UNITS_PER_POLL < hi ? u0 + UNITS_PER_POLL : hi;
        if (u1 > u0) {
            ss_attrib_part_t part;
            if (ss_attrib_compute(a, m, u0, u1, &part, err) != 0) {
                rc = -1; /* the group learns of it through the engine (train_one) */
                break;
            }
            size_t n = ss_attrib_part_packed_size(&part);
            mine = ss_realloc(mine, (n_mine + n) * sizeof *mine);
            ss_attrib_part_pack(&part, mine + n_mine);
            n_mine += n;
            ss_attrib_part_free(&part);
        }
        if (abandoned(h))
            rc = 1;
    }
    double *all = mine;
    size_t n_all = n_mine;
    if (rc == 0 && t->G > 1 && h->allgather)
        h->allgather(h->allgather_ctx, mine, n_mine, &all, &n_all);
    /* the parts, in the order they arrived (combine orders them by unit) */
    int n_parts = 0;
    ss_attrib_part_t *parts = NULL;
    for (size_t at = 0; rc == 0 && at < n_all;) {
        size_t n = ss_attrib_part_packed_size_at(all + at, n_all - at);
        parts = ss_realloc(parts, (size_t)(n_parts + 1) * sizeof *parts);
        if (n == 0 || ss_attrib_part_unpack(all + at, n, &parts[n_parts], err) != 0) {
            ss_error_set(err, SS_EXIT_RUNTIME, "run %s: %s: a part of the work came back "
                         "damaged", t->run->id, ss_attrib_method_name(m));
            rc = -1;
            break;
        }
        n_parts++;
        at += n;
    }
    if (rc == 0)
        rc = ss_attrib_combine(a, m, parts, n_parts, out, err) == 0 ? 0 : -1;
    for (int p = 0; p < n_parts; p++)
        ss_attrib_part_free(&parts[p]);
    free(parts);
    if (all != mine)
        free(all);
    free(mine);
    return rc;
}

/* Top-k accuracies of a method's ranking, for the run's k values (fourier: its k most
   relevant Fourier components, on the test set split over the group). */
static int method_topk(trainer_t *t, ss_attrib_t *a, const ss_result_t *res,
                       ss_method_result_t *mr, ss_error_t *err)
{
    mr->n_topk = res->n_topk;
    mr->topk_accuracy = ss_calloc((size_t)(res->n_topk > 0 ? res->n_topk : 1), sizeof(double));
    const ss_dataset_t *ds = t->ds;
    int reg = ds->info.task == SS_TASK_REGRESSION;
    if (mr->method == SS_ATTRIB_FOURIER) {
        int lo, hi, n = ds->info.n_test;
        shard_range(n, t->G, t->h->group_rank, &lo, &hi);
        for (int j = 0; j < res->n_topk; j++) {
            double loss = 0.0, correct = 0.0;
            int k = (int)res->topk[j];
            if (k > mr->n_values) {
                mr->topk_accuracy[j] = NAN;
                continue;
            }
            if (hi > lo && ss_attrib_fourier_topk(a, mr->values, k, ds->x_test + (size_t)lo * t->d,
                                                  ds->y_test + lo, hi - lo, &loss, &correct,
                                                  err) != 0)
                return -1;
            reduce_pair(t->h, &loss, &correct);
            mr->topk_accuracy[j] = n > 0 ? (reg ? loss : correct) / n : NAN;
        }
        return 0;
    }
    int *order = ss_malloc((size_t)t->d * sizeof *order);
    unsigned char *mask = ss_malloc((size_t)t->d);
    double *score = ss_malloc((size_t)t->d * sizeof *score);
    for (int i = 0; i < t->d; i++)
        score[i] = ss_attrib_rank_value((ss_attrib_method_t)mr->method, mr->values[i]);
    ss_stats_rank_order(score, t->d, order);
    for (int j = 0; j < res->n_topk; j++)
        mr->topk_accuracy[j] = keep_inputs_metric(t, order, (int)res->topk[j], mask);
    free(order);
    free(mask);
    free(score);
    return 0;
}

/* The explained samples (a seeded subset of the test set) and the context of the
   methods; NULL with err when the test set is empty or the settings do not fit. */
static ss_attrib_t *methods_context(trainer_t *t, uint32_t **idx, float **x, float **y,
                                    ss_error_t *err)
{
    const ss_dataset_t *ds = t->ds;
    int n_test = ds->info.n_test;
    if (n_test < 1) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: the relevance methods explain test "
                     "samples, and it has none", ds->info.name);
        return NULL;
    }
    *idx = ss_malloc((size_t)n_test * sizeof **idx);
    int n = ss_attrib_select_samples(n_test, t->sw->attrib.samples, (uint64_t)t->run->seed, *idx);
    *x = ss_alloc_aligned((size_t)n * t->d * sizeof(float));
    *y = ss_alloc_aligned((size_t)n * sizeof(float));
    gather_rows(ds->x_test, ds->y_test, t->d, *idx, n, *x, *y);
    ss_attrib_data_t data = {t->d, ds->info.n_train, ds->x_train, n, *x, *y, *idx,
                             ds->info.input_rank == 2 ? ds->info.input_shape[0] : 0,
                             ds->info.input_rank == 2 ? ds->info.input_shape[1] : 0};
    ss_attrib_t *a = NULL;
    ss_attrib_create(&a, &t->net, &t->sw->attrib, &data, (uint64_t)t->run->seed, err);
    return a;
}

/* The post-hoc relevance methods the sweep asks for (none beyond the eigenvalues by
   default), each with its own top-k curve. Returns 0, 1 if the run was abandoned, -1
   with err. */
static int run_methods(trainer_t *t, ss_result_t *res, ss_error_t *err)
{
    unsigned methods = t->sw->methods;
    if (methods == 1u << SS_ATTRIB_SPECTRAL)
        return 0;
    uint32_t *idx = NULL;
    float *x = NULL, *y = NULL;
    ss_attrib_t *a = methods_context(t, &idx, &x, &y, err);
    int rc = a ? 0 : -1;
    res->methods = ss_calloc(SS_ATTRIB_N_METHODS, sizeof *res->methods);
    for (int m = 0; m < SS_ATTRIB_N_METHODS && rc == 0; m++) {
        if (!((methods >> m) & 1u))
            continue;
        ss_method_result_t *mr = &res->methods[res->n_methods++];
        mr->method = m;
        if (!ss_attrib_applies(a, (ss_attrib_method_t)m)) {
            mr->skipped = 1; /* spectral on a dense first layer */
            continue;
        }
        double t0 = ss_now();
        ss_attrib_result_t ar;
        rc = method_on_group(t, a, (ss_attrib_method_t)m, &ar, err);
        if (rc != 0)
            break;
        mr->n_values = ar.n_values;
        mr->values = ar.relevance;
        ar.relevance = NULL;
        mr->n_samples = ar.n_samples;
        mr->forward = (double)ar.forward_passes;
        mr->backward = (double)ar.backward_passes;
        mr->check_mean = ar.check_mean;
        mr->check_max = ar.check_max;
        mr->check_scale = ar.check_scale;
        mr->absorbed_mean = ar.absorbed_mean;
        ss_attrib_result_free(&ar);
        mr->seconds = ss_now() - t0; /* the group's wall time for the method */
        rc = method_topk(t, a, res, mr, err);
        if (rc == 0 && abandoned(t->h))
            rc = 1;
    }
    ss_attrib_destroy(&a);
    free(idx);
    free(x);
    free(y);
    return rc;
}

/* A retraining run's inputs kept[0..n_kept) (increasing, in range: the engine's) as
   t->keep, the fill of the others (relevance.masking) and the result's record of them. */
static void retrain_setup(trainer_t *t, const int *kept, int n_kept, ss_result_t *res)
{
    t->keep = ss_calloc((size_t)t->d, 1);
    res->n_retrain_inputs = n_kept;
    res->retrain_inputs = ss_calloc((size_t)(n_kept > 0 ? n_kept : 1), sizeof(int64_t));
    for (int j = 0; j < n_kept; j++) {
        t->keep[kept[j]] = 1;
        res->retrain_inputs[j] = kept[j];
    }
    res->absent &= ~SS_RESULT_BIT(retrain_inputs);
    if (t->sw->mean_masking)
        t->fill = training_means(t->ds);
}

int ss_train_run(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                 const int *kept, int n_kept, const ss_train_hooks_t *hooks,
                 ss_result_t *res, ss_error_t *err)
{
    static const ss_train_hooks_t single = {0, 1, {NULL, NULL}, NULL, NULL,
                                            {NULL, NULL, NULL, NULL}, NULL, NULL};
    trainer_t t;
    memset(&t, 0, sizeof t);
    t.sw = sw;
    t.run = run;
    t.ds = ds;
    t.h = hooks ? hooks : &single;
    t.d = ds->info.n_inputs;
    t.G = t.h->group_size > 0 ? t.h->group_size : 1;
    const ss_training_t *tr = &run->training;

    memset(res, 0, sizeof *res);
    snprintf(res->run_id, sizeof res->run_id, "%s", run->id);
    snprintf(res->dataset, sizeof res->dataset, "%s", ds->info.name);
    res->task = ds->info.task;
    res->seed = run->seed;
    res->training = *tr;
    res->ranks = t.G;
    res->n_inputs = t.d;
    res->test_accuracy = NAN;
    res->test_loss = NAN;
    /* the optional fields this run does not compute are absent from its record */
    res->absent = SS_RESULT_BIT(n_trainable) | SS_RESULT_BIT(retracted_test_accuracy) |
                  SS_RESULT_BIT(retracted_test_loss) | SS_RESULT_BIT(retracted_shape) |
                  SS_RESULT_BIT(weights_histogram) | SS_RESULT_BIT(weights_histogram_edges) |
                  SS_RESULT_BIT(retrain_inputs);
    res->retracted_test_accuracy = NAN;
    res->retracted_test_loss = NAN;

    int rc = -1;
    if (run->retrain.mode != SS_RETRAIN_NONE)
        retrain_setup(&t, kept, n_kept, res);
    if (trainer_split(&t, err) != 0 || trainer_setup(&t, err) != 0)
        goto done;
    if (sw->record_model) {
        res->n_trainable = t.net.n_trainable > (size_t)INT32_MAX ? INT32_MAX
                                                                 : (int)t.net.n_trainable;
        res->absent &= ~SS_RESULT_BIT(n_trainable);
    }
    res->train_loss = ss_calloc((size_t)tr->epochs, sizeof(double));
    res->val_metric = ss_calloc((size_t)tr->epochs, sizeof(double));
    res->eigenvalues = ss_calloc((size_t)t.d, sizeof(double));
    res->eigenvalues_raw = ss_calloc((size_t)t.d, sizeof(double));

    double t0 = ss_now();
    for (int epoch = 0; epoch < tr->epochs; epoch++) {
        int e = train_epoch(&t, epoch, res);
        if (e == 1) {
            rc = 1;
            goto done;
        }
        if (e == 2)
            break;
    }
    res->train_seconds = ss_now() - t0;
    res->samples_per_second = res->train_seconds > 0
        ? (double)res->n_epochs * t.n_fit / res->train_seconds : 0.0;

    ss_net_relevance(&t.net, res->eigenvalues, res->eigenvalues_raw);
    evaluate_group(&t.net, t.h, ds->x_test, ds->y_test, ds->info.n_test, t.d, t.keep, t.fill,
                   &res->test_loss, &res->test_accuracy);
    if (ds->info.task == SS_TASK_REGRESSION)
        res->test_accuracy = NAN; /* test_loss is the MAE */
    if (run->model.retract != SS_RETRACT_NONE && measure_retraction(&t, res, err) != 0)
        goto done;
    rc = 0;
    if (run->retrain.mode != SS_RETRAIN_NONE)
        goto done;   /* a retraining run measures its accuracy only */
    if (sw->mean_masking)
        t.fill = training_means(ds);
    /* also for a diverged run: it shows how */
    rc = measure_topk(&t, res);
    if (rc == 0)
        rc = run_methods(&t, res, err);

done:
    trainer_free(&t);
    if (rc != 0)
        ss_result_free(res);
    return rc;
}
