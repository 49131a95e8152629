/* train.c - train one run and measure its input relevance. See train.h. */
#include "specsweep/train.h"

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
                           double *loss, double *metric)
{
    int lo, hi;
    shard_range(n, h->group_size, h->group_rank, &lo, &hi);
    double loss_sum = 0.0, correct = 0.0;
    if (hi > lo)
        ss_net_evaluate(net, x + (size_t)lo * n_inputs, y + lo, hi - lo, mask, &loss_sum,
                        &correct);
    reduce_pair(h, &loss_sum, &correct);
    *loss = n > 0 ? loss_sum / n : NAN;
    *metric = n > 0 ? correct / n : NAN;
}

/* Rows idx[0..n) of x (d wide) and y into xo, yo. The rows are scattered over a training
   set that is usually far larger than the caches: the start of the row two ahead is
   prefetched, so its first misses overlap the copy of this one (the hardware prefetcher
   picks up the rest of a row once it is being read sequentially). */
/* Minibatch k of an epoch: its size (returned) and this rank's rows [*lo, *hi) in it. */
static int step_shard(int k, int n_fit, int batch, const ss_train_hooks_t *h, int *lo,
                      int *hi)
{
    int start = k * batch;
    int b_total = n_fit - start < batch ? n_fit - start : batch;
    shard_range(b_total, h->group_size > 0 ? h->group_size : 1, h->group_rank, lo, hi);
    return b_total;
}

static void gather_rows(const float *x, const float *y, int d, const uint32_t *idx, int n,
                        float *xo, float *yo)
{
    const size_t row_bytes = (size_t)d * sizeof *xo;
    for (int i = 0; i < n; i++) {
        if (i + 2 < n) {
            const char *ahead = (const char *)(x + (size_t)idx[i + 2] * d);
            for (size_t o = 0; o < row_bytes && o < 256; o += 64)
                __builtin_prefetch(ahead + o);
        }
        memcpy(xo + (size_t)i * d, x + (size_t)idx[i] * d, row_bytes);
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

/* Order inputs by |relevance|, largest first; ties by index (stable, deterministic). */
static const double *sort_key;
static int by_relevance_desc(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    double ri = fabs(sort_key[i]), rj = fabs(sort_key[j]);
    if (ri != rj)
        return ri > rj ? -1 : 1;
    return i - j;
}

/* Test accuracy (MAE for regression) with only the top-k inputs and with k random ones. */
static void measure_topk(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                         ss_net_t *net, const ss_train_hooks_t *h, ss_result_t *res)
{
    int d = ds->info.n_inputs, n_k = 0;
    for (int i = 0; i < sw->n_topk; i++)
        if (sw->topk[i] <= d)
            n_k++;
    res->n_topk = n_k;
    res->topk = ss_calloc((size_t)n_k, sizeof *res->topk);
    res->topk_accuracy = ss_calloc((size_t)n_k, sizeof(double));
    res->randomk_accuracy = ss_calloc((size_t)n_k, sizeof(double));
    if (!n_k)
        return;

    int *order = ss_malloc((size_t)d * sizeof *order);
    uint32_t *perm = ss_malloc((size_t)d * sizeof *perm);
    unsigned char *mask = ss_malloc((size_t)d);
    for (int i = 0; i < d; i++)
        order[i] = i;
    sort_key = res->eigenvalues;
    qsort(order, (size_t)d, sizeof *order, by_relevance_desc);

    ss_rng_t rng;
    ss_rng_seed(&rng, (uint64_t)run->seed, SS_STREAM_RANDOMK);
    int reg = ds->info.task == SS_TASK_REGRESSION;
    for (int i = 0, j = 0; i < sw->n_topk; i++) {
        int k = sw->topk[i];
        if (k > d)
            continue;
        double loss, metric;
        memset(mask, 0, (size_t)d);
        for (int t = 0; t < k; t++)
            mask[order[t]] = 1;
        evaluate_group(net, h, ds->x_test, ds->y_test, ds->info.n_test, d, mask, &loss, &metric);
        res->topk[j] = k;
        res->topk_accuracy[j] = reg ? loss : metric;

        double acc = 0.0;
        int reps = sw->random_repeats > 0 ? sw->random_repeats : 1;
        for (int r = 0; r < reps; r++) {
            for (int t = 0; t < d; t++)
                perm[t] = (uint32_t)t;
            ss_rng_shuffle(&rng, perm, (size_t)d);
            memset(mask, 0, (size_t)d);
            for (int t = 0; t < k; t++)
                mask[perm[t]] = 1;
            evaluate_group(net, h, ds->x_test, ds->y_test, ds->info.n_test, d, mask, &loss,
                           &metric);
            acc += reg ? loss : metric;
        }
        res->randomk_accuracy[j] = acc / reps;
        j++;
    }
    free(order);
    free(perm);
    free(mask);
}

int ss_train_run(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                 const ss_train_hooks_t *hooks, ss_result_t *res, ss_error_t *err)
{
    static const ss_train_hooks_t single = {0, 1, {NULL, NULL}, NULL, NULL,
                                            {NULL, NULL, NULL, NULL}};
    const ss_train_hooks_t *h = hooks ? hooks : &single;
    const ss_training_t *tr = &run->training;
    const ss_dataset_spec_t *spec = &sw->datasets[run->dataset];
    const int d = ds->info.n_inputs, G = h->group_size > 0 ? h->group_size : 1;
    int rc = -1;

    memset(res, 0, sizeof *res);
    snprintf(res->run_id, sizeof res->run_id, "%s", run->id);
    snprintf(res->dataset, sizeof res->dataset, "%s", ds->info.name);
    res->task = ds->info.task;
    res->seed = run->seed;
    res->training = *tr;
    res->ranks = G;
    res->n_inputs = d;
    res->test_accuracy = NAN;
    res->test_loss = NAN;

    /* Validation split: the same for every seed of a cell (from the dataset's seed). */
    int n_all = ds->info.n_train;
    int n_val = (int)floor(tr->validation_fraction * n_all + 0.5);
    if (n_val >= n_all)
        n_val = n_all - 1;
    int n_fit = n_all - n_val;
    if (n_fit < 1) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: no training samples", ds->info.name);
        return -1;
    }
    int batch = tr->batch_size < n_fit ? tr->batch_size : n_fit;
    int max_shard = (batch + G - 1) / G;

    uint32_t *all_idx = ss_malloc((size_t)n_all * sizeof *all_idx);
    for (int i = 0; i < n_all; i++)
        all_idx[i] = (uint32_t)i;
    ss_rng_t rng;
    ss_rng_seed(&rng, spec->data_seed ^ ss_hash_str(ds->info.name), SS_STREAM_SPLIT);
    ss_rng_shuffle(&rng, all_idx, (size_t)n_all);
    uint32_t *fit_idx = all_idx;          /* first n_fit of the permutation */
    const uint32_t *val_idx = all_idx + n_fit;

    float *x_val = ss_alloc_aligned((size_t)(n_val > 0 ? n_val : 1) * d * sizeof(float));
    float *y_val = ss_alloc_aligned((size_t)(n_val > 0 ? n_val : 1) * sizeof(float));
    gather_rows(ds->x_train, ds->y_train, d, val_idx, n_val, x_val, y_val);
    /* Two minibatch buffers: the next shard is gathered while the group sums gradients. */
    float *xb[2], *yb[2];
    for (int k = 0; k < 2; k++) {
        xb[k] = ss_alloc_aligned((size_t)max_shard * d * sizeof(float));
        yb[k] = ss_alloc_aligned((size_t)max_shard * sizeof(float));
    }
    size_t *part = ss_calloc((size_t)G + 1, sizeof *part);

    ss_net_t net;
    memset(&net, 0, sizeof net);
    int n_out = ds->info.n_classes > 0 ? ds->info.n_classes : 1;
    ss_task_t task = ds->info.task;
    if (ss_net_create(&net, &sw->model, tr, d, n_out, task, max_shard > 256 ? max_shard : 256,
                      (uint64_t)run->seed, err) != 0)
        goto done;
    /* Mostly-zero inputs (images): the first layer visits only the nonzero ones. */
    if (ds->input_density <= SS_SPARSE_INPUT_DENSITY && ds->max_row_nonzeros > 0)
        ss_net_set_sparse_inputs(&net, ds->max_row_nonzeros);

    res->train_loss = ss_calloc((size_t)tr->epochs, sizeof(double));
    res->val_metric = ss_calloc((size_t)tr->epochs, sizeof(double));
    res->eigenvalues = ss_calloc((size_t)d, sizeof(double));
    res->eigenvalues_raw = ss_calloc((size_t)d, sizeof(double));

    ss_rng_t shuffle_rng, dropout_rng;
    ss_rng_seed(&shuffle_rng, (uint64_t)run->seed, SS_STREAM_SHUFFLE);
    const int n_first = sw->model.n_hidden > 0 ? sw->model.hidden[0] : 0;
    const int use_dropout = sw->model.dropout_after_first > 0 && n_first > 0;
    uint64_t step = 0;

    /* Data parallel (G > 1) with hooks->parts: the gradient is summed part-wise, rank
       r receives the complete sum of params[part[r], part[r+1]) only and takes the
       optimizer step (L2 + Adam) of that part, then the parts are exchanged. The same
       bytes move as with one allreduce of the gradient, and each rank does 1/G of the
       optimizer work. Without them: one sum over the whole gradient, every rank steps
       every parameter. Either way every rank ends each step with the same parameters. */
    const int sharded = G > 1 && h->parts.sum_begin && h->parts.sum_end && h->parts.gather;
    optimizer_parts(net.n_params, sharded ? G : 1, part);
    const size_t opt_lo = sharded ? part[h->group_rank] : 0;
    const size_t opt_hi = sharded ? part[h->group_rank + 1] : net.n_params;
    const int n_steps = (n_fit + batch - 1) / batch;

    double t0 = ss_now();
    for (int epoch = 0; epoch < tr->epochs; epoch++) {
        ss_rng_shuffle(&shuffle_rng, fit_idx, (size_t)n_fit);
        double data_loss = 0.0, l2_sum = 0.0;
        int cur = 0, lo, hi;
        step_shard(0, n_fit, batch, h, &lo, &hi);
        gather_rows(ds->x_train, ds->y_train, d, fit_idx + lo, hi - lo, xb[0], yb[0]);
        for (int k = 0; k < n_steps; k++) {
            int b_total = step_shard(k, n_fit, batch, h, &lo, &hi);
            if (use_dropout) {
                /* The mask of the sample at position p of the minibatch is the p-th row of
                   a stream seeded by (seed, step): each rank skips to its shard's first
                   row, so the masks are the same for any group layout. */
                ss_rng_seed(&dropout_rng, (uint64_t)run->seed,
                            SS_STREAM_DROPOUT + (step << 8));
                for (long q = 0; q < (long)lo * n_first; q++)
                    ss_rng_next(&dropout_rng);
            }
            step++;
            data_loss += ss_net_forward_backward(&net, xb[cur], yb[cur], hi - lo, b_total,
                                                 use_dropout ? &dropout_rng : NULL,
                                                 &h->reduce);
            if (sharded)
                h->parts.sum_begin(h->parts.ctx, net.grads, part);
            else if (G > 1 && h->reduce.sum)
                h->reduce.sum(h->reduce.ctx, net.grads, net.n_params);
            if (k + 1 < n_steps) {
                /* the next shard, while the other ranks of the group catch up */
                int nlo, nhi;
                step_shard(k + 1, n_fit, batch, h, &nlo, &nhi);
                gather_rows(ds->x_train, ds->y_train, d, fit_idx + (size_t)(k + 1) * batch + nlo,
                            nhi - nlo, xb[cur ^ 1], yb[cur ^ 1]);
            }
            if (sharded)
                h->parts.sum_end(h->parts.ctx, net.grads, part);
            l2_sum += ss_net_update(&net, opt_lo, opt_hi);
            if (sharded)
                h->parts.gather(h->parts.ctx, net.params, part);
            cur ^= 1;
            if (h->poll && h->poll(h->poll_ctx)) {
                rc = 1; /* abandoned: the group agreed to stop */
                goto done;
            }
        }
        /* sharded: each rank holds the penalty of its part, so it is summed too */
        double other = 0.0;
        reduce_pair(h, &data_loss, sharded ? &l2_sum : &other);
        double loss = data_loss / n_fit + l2_sum / n_steps;
        res->train_loss[epoch] = loss;
        double vloss, vmetric;
        evaluate_group(&net, h, x_val, y_val, n_val, d, NULL, &vloss, &vmetric);
        res->val_metric[epoch] = task == SS_TASK_REGRESSION ? vloss : vmetric;
        res->n_epochs = epoch + 1;
        if (!isfinite(loss)) {
            res->status = SS_STATUS_DIVERGED;
            snprintf(res->message, sizeof res->message,
                     "training loss became %s at epoch %d", isnan(loss) ? "NaN" : "infinite",
                     epoch + 1);
            break;
        }
    }
    res->train_seconds = ss_now() - t0;
    res->samples_per_second = res->train_seconds > 0
        ? (double)res->n_epochs * n_fit / res->train_seconds : 0.0;

    ss_net_relevance(&net, res->eigenvalues, res->eigenvalues_raw);
    evaluate_group(&net, h, ds->x_test, ds->y_test, ds->info.n_test, d, NULL, &res->test_loss,
                   &res->test_accuracy);
    if (task == SS_TASK_REGRESSION)
        res->test_accuracy = NAN; /* test_loss is the MAE */
    measure_topk(sw, run, ds, &net, h, res); /* also for a diverged run: it shows how */
    rc = 0;

done:
    ss_net_destroy(&net);
    free(all_idx);
    free(x_val);
    free(y_val);
    for (int k = 0; k < 2; k++) {
        free(xb[k]);
        free(yb[k]);
    }
    free(part);
    if (rc != 0)
        ss_result_free(res);
    return rc;
}
