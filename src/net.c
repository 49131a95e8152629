/*
 * net.c - the spectral network: creation, the spectral weights, forward and backward,
 * inference. The sparse first layer, the optimizer and the passes of the relevance methods
 * are in net_sparse.c, net_optim.c and net_explain.c, the training step on feature-major
 * activations (taken instead of the one here where libxsmm computes every product and
 * the network has no batch-norm, dropout or sparse first layer) in net_fm.c
 * (net_internal.h). See include/specsweep/net.h.
 *
 * Shapes in comments: B = samples in the current batch (<= max_batch), n0 = width of the
 * first hidden layer, (n_in, n_out) = a layer's weight matrix, row-major everywhere.
 *
 * Per layer l the forward pass keeps, for the backward pass:
 *   weff[l]  (n_in, n_out)  effective weights of a spectral layer (dense: params directly)
 *   wt[l]    (n_out, n_in)  the same transposed, for the input gradient (layers >= 1, when
 *                           libxsmm computes it: it has no kernel for a transposed W)
 *   out[l]   (B, n_out)     post-activation output (activation derivatives come from it);
 *                           the last layer keeps its logits / predictions (room for
 *                           (n_out + 1, B) with the feature-major step, whose backward
 *                           pass overwrites it with dZ: net_fm.c)
 * and after the first hidden layer, when batch-norm and/or dropout are on:
 *   xhat     (B, n0)        normalised activations
 *   mask     (B, n0)        dropout multipliers, 0 or 1/(1-rate)
 *   post0    (B, n0)        the input of layer 1
 * Gradients flow through two ping-pong buffers d0/d1 of (B, max width).
 *
 * The dense products (forward Z = A W, weight gradient G = A^T dZ, input gradient
 * dA = dZ W^T) go through the plans of mm.h, made per layer at creation. With libxsmm
 * the forward product and the input gradient run on blocks of FUSE_ROWS samples, each
 * followed at once by what the next pass would do to it (bias + activation forward, the
 * previous layer's activation derivative backward) while the block is in L1.
 */
#include "specsweep/net.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define BN_MOMENTUM 0.99f  /* Keras BatchNormalization default (BN_EPS: net_internal.h) */
#ifndef FUSE_ROWS
#define FUSE_ROWS 64       /* samples per block of a fused product (bench/README.md) */
#endif

/* ---- small helpers ------------------------------------------------------------------- */

static int has_post0(const ss_net_t *net) { return net->batchnorm || net->dropout > 0.0f; }

static int min_int(int a, int b) { return a < b ? a : b; }

/* Sums with 16 independent partial sums: a single accumulator would be a serial chain
   of dependent adds (strict IEEE order), ~4 cycles per element. */
static float dot(const float *a, const float *b, int n)
{
    float acc[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int u = 0; u < 16; u++)
            acc[u] += a[j + u] * b[j + u];
    for (; j < n; j++)
        acc[0] += a[j] * b[j];
    float s = 0.0f;
    for (int u = 0; u < 16; u++)
        s += acc[u];
    return s;
}

/* ---- creation ------------------------------------------------------------------------ */

static int validate(const ss_model_t *model, const ss_training_t *tr, int n_inputs,
                    int n_outputs, ss_task_t task, int max_batch, ss_error_t *err)
{
    if (!model || !tr) {
        ss_error_set(err, SS_EXIT_RUNTIME, "network: missing model or training settings");
        return -1;
    }
    if (n_inputs < 1 || n_outputs < 1 || max_batch < 1) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "network: inputs (%d), outputs (%d) and batch capacity (%d) must be >= 1",
                     n_inputs, n_outputs, max_batch);
        return -1;
    }
    if (task != SS_TASK_CLASSIFICATION && task != SS_TASK_REGRESSION) {
        ss_error_set(err, SS_EXIT_INPUT, "network: unknown task %d", (int)task);
        return -1;
    }
    if (task == SS_TASK_CLASSIFICATION && n_outputs < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "network: classification needs >= 2 classes, got %d",
                     n_outputs);
        return -1;
    }
    if (task == SS_TASK_REGRESSION && n_outputs != 1) {
        ss_error_set(err, SS_EXIT_INPUT, "network: regression has 1 output, got %d",
                     n_outputs);
        return -1;
    }
    if (model->n_hidden < 0 || model->n_hidden > SS_MAX_LAYERS) {
        ss_error_set(err, SS_EXIT_INPUT, "network: %d hidden layers (0..%d allowed)",
                     model->n_hidden, SS_MAX_LAYERS);
        return -1;
    }
    for (int l = 0; l < model->n_hidden; l++) {
        if (model->hidden[l] < 1) {
            ss_error_set(err, SS_EXIT_INPUT, "network: hidden layer %d has width %d (>= 1)",
                         l + 1, model->hidden[l]);
            return -1;
        }
        if ((unsigned)model->act[l] > (unsigned)SS_ACT_LINEAR) {
            ss_error_set(err, SS_EXIT_INPUT, "network: hidden layer %d: unknown activation",
                         l + 1);
            return -1;
        }
    }
    if ((unsigned)model->spectral > (unsigned)SS_SPECTRAL_NONE) {
        ss_error_set(err, SS_EXIT_INPUT, "network: unknown spectral mode %d",
                     (int)model->spectral);
        return -1;
    }
    if (!(model->dropout_after_first >= 0.0 && model->dropout_after_first < 1.0)) {
        ss_error_set(err, SS_EXIT_INPUT, "network: dropout rate %g outside [0, 1)",
                     model->dropout_after_first);
        return -1;
    }
    if (tr->optimizer != SS_OPT_ADAM && tr->optimizer != SS_OPT_ADAMAX) {
        ss_error_set(err, SS_EXIT_INPUT, "network: unknown optimizer %d", (int)tr->optimizer);
        return -1;
    }
    if (model->n_hidden == 0 &&
        (model->batchnorm_after_first || model->dropout_after_first > 0)) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "network: batch-norm/dropout after the first layer need a hidden layer");
        return -1;
    }
    return 0;
}

/* Append the trainable range [off, off + len) to the Adam segments, merging neighbours. */
static void add_segment(ss_net_t *net, size_t off, size_t len)
{
    if (len == 0)
        return;
    int s = net->n_segments;
    if (s > 0 && net->seg_off[s - 1] + net->seg_len[s - 1] == off) {
        net->seg_len[s - 1] += len;
        return;
    }
    net->seg_off[s] = off;
    net->seg_len[s] = len;
    net->n_segments = s + 1;
}

/*
 * Layout: the layers' shapes and their offsets into params, per layer
 * [psi|W][lambda_in][lambda_out][bias], then batch-norm gamma, beta; the trainable
 * segments; the hyper-parameters. No allocation.
 */
static void layout(ss_net_t *net, const ss_model_t *model, const ss_training_t *tr,
                   int n_inputs, int n_outputs, ss_task_t task, int max_batch)
{
    net->n_layers = model->n_hidden + 1;
    net->n_inputs = n_inputs;
    net->n_outputs = n_outputs;
    net->task = task;
    net->max_batch = max_batch;
    net->train_eigenvectors = tr->train_eigenvectors != 0;
    net->train_lambda_out = model->train_lambda_out != 0;
    size_t off = 0;
    int n_in = n_inputs;
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        int last = l == net->n_layers - 1;
        L->n_in = n_in;
        L->n_out = last ? n_outputs : model->hidden[l];
        L->spectral = model->spectral == SS_SPECTRAL_ALL ||
                      (model->spectral == SS_SPECTRAL_FIRST && l == 0);
        L->act = last ? SS_ACT_LINEAR : model->act[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        L->off_w = off;
        off += nw;
        L->off_lin = off;
        off += L->spectral ? (size_t)L->n_in : 0;
        L->off_lout = off;
        off += L->spectral ? (size_t)L->n_out : 0;
        L->off_b = off;
        off += (size_t)L->n_out;

        add_segment(net, L->off_w, (!L->spectral || net->train_eigenvectors) ? nw : 0);
        add_segment(net, L->off_lin, L->spectral ? (size_t)L->n_in : 0);
        add_segment(net, L->off_lout,
                    (L->spectral && net->train_lambda_out) ? (size_t)L->n_out : 0);
        add_segment(net, L->off_b, (size_t)L->n_out);
        n_in = L->n_out;
    }
    int n0 = net->layer[0].n_out;
    net->batchnorm = model->batchnorm_after_first != 0;
    net->dropout = (float)model->dropout_after_first;
    if (net->batchnorm) {
        net->off_bn_gamma = off;
        net->off_bn_beta = off + (size_t)n0;
        off += 2 * (size_t)n0;
        add_segment(net, net->off_bn_gamma, 2 * (size_t)n0);
    }
    net->n_params = off;

    net->lr = tr->learning_rate;
    net->optimizer = tr->optimizer;
    if (net->optimizer == SS_OPT_ADAMAX) {
        net->beta1 = tr->adamax_beta1;
        net->beta2 = tr->adamax_beta2;
        net->eps = tr->adamax_epsilon;
    } else {
        net->beta1 = tr->adam_beta1;
        net->beta2 = tr->adam_beta2;
        net->eps = tr->adam_epsilon;
    }
    net->reg_eigenvalues = tr->reg_eigenvalues;
    net->reg_eigenvectors = tr->reg_eigenvectors;
}

/*
 * The dense products of every layer and their kernels (mm.h). The input gradient
 * dA = dZ W^T runs on libxsmm with the transposed weights wt[l] (its NN kernel); where
 * libxsmm does not take it, OpenBLAS transposes W itself (NT), with no copy.
 */
static void plan_products(ss_net_t *net, ss_mm_policy_t policy)
{
    int B = net->max_batch;
    net->kernel_policy = policy;
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        ss_mm_plan(&L->mm_forward, 0, 0, B, L->n_out, L->n_in, policy);
        ss_mm_plan(&L->mm_weight_grad, 1, 0, L->n_in, L->n_out, B, policy);
        if (l == 0)
            continue;   /* the gradient w.r.t. the network's inputs is not needed */
        ss_mm_plan(&L->mm_input_grad, 0, 0, B, L->n_in, L->n_out, policy);
        if (L->mm_input_grad.kernel != SS_MM_XSMM) {
            double rates[2] = {L->mm_input_grad.gflops[0], L->mm_input_grad.gflops[1]};
            ss_mm_release(&L->mm_input_grad);
            ss_mm_plan(&L->mm_input_grad, 0, 1, B, L->n_in, L->n_out, SS_MM_ONLY_BLAS);
            memcpy(L->mm_input_grad.gflops, rates, sizeof rates);
        }
    }
    net_fm_plan(net, policy);
}

/* Sizes in floats (each rounded to 64 bytes) of the workspace's pieces. */
typedef struct {
    size_t weff[SS_MAX_LAYERS + 1], wt[SS_MAX_LAYERS + 1], out[SS_MAX_LAYERS + 1];
    size_t xhat, mask, post0, d, gscratch, xmasked, bn;
    size_t total;
} work_sizes_t;

static work_sizes_t work_sizes(const ss_net_t *net)
{
    work_sizes_t s;
    memset(&s, 0, sizeof s);
    size_t B = (size_t)net->max_batch, n0 = (size_t)net->layer[0].n_out, max_width = 1;
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        /* feature-major: out[l] (n_out + 1, B) with the row of ones, G with the bias
           gradient's row (net_fm.c) */
        size_t fm = net->feature_major ? 1 : 0, ng = nw + fm * (size_t)L->n_out;
        s.weff[l] = L->spectral ? round16(nw) : 0;
        s.wt[l] = l > 0 && !L->mm_input_grad.trans_b ? round16(nw) : 0;
        s.out[l] = round16(B * ((size_t)L->n_out + fm));
        if (L->spectral && !net->train_eigenvectors && ng > s.gscratch)
            s.gscratch = ng;
        if ((size_t)L->n_out > max_width)
            max_width = (size_t)L->n_out;
        s.total += s.weff[l] + s.wt[l] + s.out[l];
    }
    s.gscratch = round16(s.gscratch);
    s.xhat = net->batchnorm ? round16(B * n0) : 0;
    s.mask = net->dropout > 0 ? round16(B * n0) : 0;
    s.post0 = has_post0(net) ? round16(B * n0) : 0;
    s.d = round16(B * max_width);
    /* with feature_major also the training step's (n_inputs + 1, B) transposed inputs */
    s.xmasked = round16(B * ((size_t)net->n_inputs + (net->feature_major ? 1 : 0)));
    s.bn = net->batchnorm ? round16(n0) : 0;
    /* bn: bmean, invstd (n0 each), red (2 n0), acc (2 n0 doubles = 4 n0 floats) */
    s.total += s.xhat + s.mask + s.post0 + 2 * s.d + s.gscratch + s.xmasked + 8 * s.bn;
    return s;
}

/* Points the workspace's pieces into w->block (allocated with s.total floats). */
static void work_carve(const ss_net_t *net, net_work_t *w, const work_sizes_t *s)
{
    float *p = w->block;
    for (int l = 0; l < net->n_layers; l++) {
        w->weff[l] = s->weff[l] ? p : NULL;
        p += s->weff[l];
        w->wt[l] = s->wt[l] ? p : NULL;
        p += s->wt[l];
        w->out[l] = p;
        p += s->out[l];
    }
    w->xhat = s->xhat ? p : NULL;
    p += s->xhat;
    w->mask = s->mask ? p : NULL;
    p += s->mask;
    w->post0 = s->post0 ? p : NULL;
    p += s->post0;
    w->d0 = p;
    p += s->d;
    w->d1 = p;
    p += s->d;
    w->gscratch = s->gscratch ? p : NULL;
    p += s->gscratch;
    w->xmasked = p;
    w->xt = net->feature_major ? p : NULL;   /* a training step never masks */
    p += s->xmasked;
    if (s->bn) {
        w->bn_bmean = p;
        w->bn_invstd = p + s->bn;
        w->bn_red = p + 2 * s->bn;
        w->bn_acc = (double *)(p + 4 * s->bn);
    }
}

/* A value of U(r[0], r[1]); r[0] == r[1] is that constant and draws nothing. */
static float init_range(const double r[2], ss_rng_t *rng)
{
    if (r[0] == r[1])
        return (float)r[0];
    return (float)(r[0] + (r[1] - r[0]) * ss_rng_uniform(rng));
}

/* Initial values (see net.h): psi/W from one stream, layers in order, row-major; the
   eigenvalues from another when they are drawn from a range. */
static void init_params(ss_net_t *net, const ss_init_t *init, uint64_t seed)
{
    ss_rng_t rng, lrng;
    ss_rng_seed(&rng, seed, SS_STREAM_INIT);
    ss_rng_seed(&lrng, seed, SS_STREAM_INIT_LAMBDA);
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        double a = L->spectral ? init->eigenvectors : init->weights;
        double limit = a > 0.0 ? a : sqrt(6.0 / (double)(L->n_in + L->n_out)); /* Glorot */
        float *wp = net->params + L->off_w;
        for (size_t k = 0; k < nw; k++)
            wp[k] = (float)(limit * (2.0 * ss_rng_uniform(&rng) - 1.0));
        if (L->spectral) {                                  /* bias: 0 */
            for (int i = 0; i < L->n_in; i++)
                net->params[L->off_lin + (size_t)i] = init_range(init->lambda_in, &lrng);
            for (int j = 0; j < L->n_out; j++)
                net->params[L->off_lout + (size_t)j] = init_range(init->lambda_out, &lrng);
        }
    }
    if (net->batchnorm)
        for (int j = 0; j < net->layer[0].n_out; j++) {
            net->params[net->off_bn_gamma + (size_t)j] = 1.0f; /* beta: 0 */
            net->bn_var[j] = 1.0f;                              /* running mean: 0 */
        }
}

/*
 * The trainable subset of every dense layer (trainable_weights match_eigenvalues; see
 * net.h): n_in + n_out of the layer's n_in x n_out weights, the first entries of a
 * partial Fisher-Yates shuffle of their indices drawn from (seed, SS_STREAM_SUBSET),
 * layers in order. wmask stays NULL when no layer has a subset.
 */
static void build_subsets(ss_net_t *net, const ss_model_t *model, uint64_t seed)
{
    if (model->trainable_weights != SS_WEIGHTS_MATCH_EIGENVALUES)
        return;
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, SS_STREAM_SUBSET);
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        size_t keep = (size_t)L->n_in + (size_t)L->n_out;
        if (L->spectral || keep >= nw)
            continue;
        if (!net->wmask) {
            net->wmask = ss_alloc_aligned(net->n_params * sizeof(float));
            for (size_t k = 0; k < net->n_params; k++)
                net->wmask[k] = 1.0f;
        }
        uint32_t *idx = ss_malloc(nw * sizeof *idx);
        for (size_t k = 0; k < nw; k++)
            idx[k] = (uint32_t)k;
        for (size_t k = 0; k < keep; k++) {
            size_t j = k + (size_t)ss_rng_below(&rng, (uint64_t)(nw - k));
            uint32_t t = idx[k];
            idx[k] = idx[j];
            idx[j] = t;
        }
        float *m = net->wmask + L->off_w;
        for (size_t k = 0; k < nw; k++)
            m[k] = 0.0f;
        for (size_t k = 0; k < keep; k++)
            m[idx[k]] = 1.0f;
        free(idx);
    }
}

/* Parameters the optimizer moves: the segments, less the frozen entries of wmask. */
static size_t count_trainable(const ss_net_t *net)
{
    size_t n = 0;
    for (int s = 0; s < net->n_segments; s++) {
        n += net->seg_len[s];
        if (net->wmask)
            for (size_t k = net->seg_off[s]; k < net->seg_off[s] + net->seg_len[s]; k++)
                n -= net->wmask[k] == 0.0f;
    }
    return n;
}

int ss_net_create(ss_net_t *net, const ss_model_t *model, const ss_training_t *tr,
                  int n_inputs, int n_outputs, ss_task_t task, int max_batch,
                  uint64_t seed, ss_error_t *err)
{
    memset(net, 0, sizeof *net);
    if (validate(model, tr, n_inputs, n_outputs, task, max_batch, err) != 0)
        return -1;
    ss_mm_policy_t policy;
    if (ss_mm_policy_from_env(&policy) != 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "SPECSWEEP_KERNELS=%s: expected auto, measure or blas",
                     getenv("SPECSWEEP_KERNELS"));
        return -1;
    }
    layout(net, model, tr, n_inputs, n_outputs, task, max_batch);
    plan_products(net, policy);

    size_t bytes = net->n_params * sizeof(float);
    net->params = ss_alloc_aligned(bytes);   /* the allocators zero or exit (util.h) */
    net->grads = ss_alloc_aligned(bytes);
    net->adam_m = ss_alloc_aligned(bytes);
    net->adam_v = ss_alloc_aligned(bytes);
    if (net->batchnorm) {
        net->bn_mean = ss_alloc_aligned((size_t)net->layer[0].n_out * sizeof(float));
        net->bn_var = ss_alloc_aligned((size_t)net->layer[0].n_out * sizeof(float));
    }
    net_work_t *w = ss_calloc(1, sizeof *w);
    net->work = w;
    work_sizes_t sizes = work_sizes(net);
    w->block = ss_alloc_aligned(sizes.total * sizeof(float));
    work_carve(net, w, &sizes);

    init_params(net, &model->init, seed);
    build_subsets(net, model, seed);
    net->n_trainable = count_trainable(net);
    return 0;
}

void ss_net_destroy(ss_net_t *net)
{
    if (!net)
        return;
    free(net->params);
    free(net->grads);
    free(net->adam_m);
    free(net->adam_v);
    free(net->bn_mean);
    free(net->bn_var);
    free(net->wmask);
    for (int l = 0; l < net->n_layers; l++) {
        ss_mm_release(&net->layer[l].mm_forward);
        ss_mm_release(&net->layer[l].mm_weight_grad);
        ss_mm_release(&net->layer[l].mm_input_grad);
    }
    net_fm_release(net);
    net_work_t *w = net->work;
    if (w) {
        net_sparse_free(w);
        free(w->block);
        free(w);
    }
    memset(net, 0, sizeof *net);
}

/* ---- spectral weights ---------------------------------------------------------------- */

/* The 16 x 16 tile at w (rows ldw apart) transposed into wt (rows ldt apart). */
static void transpose_tile(const float *w, size_t ldw, float *wt, size_t ldt)
{
    v16 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = v16_load(w + (size_t)i * ldw);
    v16_transpose(r);
    for (int i = 0; i < 16; i++)
        v16_store(wt + (size_t)i * ldt, r[i]);
}

/* wt (n, m) = the transpose of w (m, n), in 16 x 16 tiles in registers, the last tile of
   a row or column of tiles ending at the edge (overlapping the one before it, whose
   values it writes again); element by element when m or n is below 16. */
void net_transpose(const float *restrict w, int m, int n, float *restrict wt)
{
    if (m < 16 || n < 16) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                wt[(size_t)j * m + i] = w[(size_t)i * n + j];
        return;
    }
    for (int i0 = 0; i0 < m; i0 += 16) {
        int i = min_int(i0, m - 16);
        for (int j0 = 0; j0 < n; j0 += 16) {
            int j = min_int(j0, n - 16);
            transpose_tile(w + (size_t)i * n + j, (size_t)n, wt + (size_t)j * m + i, (size_t)m);
        }
    }
}

/*
 * weff (n_in, n_out) = psi_ij * (lambda_in_i - lambda_out_j) for every spectral layer;
 * with `transposed`, also the transposed weights wt of the layers whose input gradient
 * uses them (training; inference needs none).
 */
void net_weights_build(ss_net_t *net, int transposed)
{
    net_work_t *w = net->work;
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        if (L->spectral) {
            const float *psi = net->params + L->off_w;
            const float *lin = net->params + L->off_lin;
            const float *lout = net->params + L->off_lout;
            /* a sparse first layer keeps its weights in the padded rows of sp->w only */
            float *weff = l == 0 && w->sp ? w->sp->w : w->weff[l];
            size_t ld = l == 0 && w->sp ? (size_t)w->sp->ld : (size_t)L->n_out;
            for (int i = 0; i < L->n_in; i++) {
                const float *pr = psi + (size_t)i * L->n_out;
                float *wr = weff + (size_t)i * ld;
                float li = lin[i];
                for (int j = 0; j < L->n_out; j++)
                    wr[j] = pr[j] * (li - lout[j]);
            }
        } else if (l == 0 && w->sp) {   /* dense first layer: its padded copy */
            for (int i = 0; i < L->n_in; i++)
                memcpy(w->sp->w + (size_t)i * w->sp->ld,
                       net->params + L->off_w + (size_t)i * L->n_out,
                       (size_t)L->n_out * sizeof(float));
        }
        if (transposed && w->wt[l])
            net_transpose(L->spectral ? w->weff[l] : net->params + L->off_w, L->n_in,
                          L->n_out, w->wt[l]);
    }
}

const float *net_layer_weights(const ss_net_t *net, int l)
{
    const net_work_t *w = net->work;
    return net->layer[l].spectral ? w->weff[l] : net->params + net->layer[l].off_w;
}

/* ---- batch-norm and dropout after the first hidden layer ------------------------------ */

static void reduce(const ss_reduce_t *red, float *buf, size_t n)
{
    if (red && red->sum)
        red->sum(red->ctx, buf, n);
}

/*
 * Training mode. h = out[0] (B, n0) -> xhat = (h - mean) / sqrt(var + eps) -> y = gamma
 * xhat + beta -> post0 = y * mask (inverted dropout). mean and the biased var are over
 * the N samples of the whole group batch, in two reductions: sum(h), then sum((h -
 * mean)^2), which is exact where a one-pass sum of squares would cancel. Updates the
 * running statistics with momentum 0.99 (identical on every rank).
 */
static void postfirst_forward_train(ss_net_t *net, int B, int N, ss_rng_t *rng,
                                    const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    int n = net->layer[0].n_out;
    const float *h = w->out[0];
    float keep_scale = net->dropout > 0.0f ? 1.0f / (1.0f - net->dropout) : 1.0f;
    if (net->dropout > 0.0f) {
        if (!rng)
            ss_fatal(SS_EXIT_RUNTIME, "ss_net_forward_backward: dropout needs an rng");
        size_t total = (size_t)B * n;
        for (size_t k = 0; k < total; k++)
            w->mask[k] = ss_rng_uniform(rng) < net->dropout ? 0.0f : keep_scale;
    }
    if (!net->batchnorm) {
        size_t total = (size_t)B * n;
        for (size_t k = 0; k < total; k++)
            w->post0[k] = h[k] * w->mask[k];
        return;
    }
    double *acc = w->bn_acc;
    float *mean = w->bn_bmean, *invstd = w->bn_invstd, *redb = w->bn_red;
    const float *gamma = net->params + net->off_bn_gamma;
    const float *beta = net->params + net->off_bn_beta;
    double invN = 1.0 / (double)(N > 0 ? N : 1);

    memset(acc, 0, (size_t)n * sizeof(double));
    for (int r = 0; r < B; r++)
        for (int j = 0; j < n; j++) acc[j] += h[(size_t)r * n + j];
    for (int j = 0; j < n; j++) redb[j] = (float)acc[j];
    reduce(red, redb, (size_t)n);
    for (int j = 0; j < n; j++) mean[j] = (float)(redb[j] * invN);

    memset(acc, 0, (size_t)n * sizeof(double));
    for (int r = 0; r < B; r++)
        for (int j = 0; j < n; j++) {
            float c = h[(size_t)r * n + j] - mean[j];
            acc[j] += c * c;
        }
    for (int j = 0; j < n; j++) redb[j] = (float)acc[j];
    reduce(red, redb, (size_t)n);
    for (int j = 0; j < n; j++) {
        float var = (float)(redb[j] * invN);
        invstd[j] = 1.0f / sqrtf(var + BN_EPS);
        net->bn_mean[j] = BN_MOMENTUM * net->bn_mean[j] + (1.0f - BN_MOMENTUM) * mean[j];
        net->bn_var[j] = BN_MOMENTUM * net->bn_var[j] + (1.0f - BN_MOMENTUM) * var;
    }

    for (int r = 0; r < B; r++) {
        const float *hr = h + (size_t)r * n;
        float *xr = w->xhat + (size_t)r * n, *pr = w->post0 + (size_t)r * n;
        for (int j = 0; j < n; j++) {
            xr[j] = (hr[j] - mean[j]) * invstd[j];
            pr[j] = gamma[j] * xr[j] + beta[j];
        }
        if (net->dropout > 0.0f) {
            const float *mr = w->mask + (size_t)r * n;
            for (int j = 0; j < n; j++) pr[j] *= mr[j];
        }
    }
}

/* Inference mode: running statistics, no dropout. */
static void postfirst_forward_infer(ss_net_t *net, int B)
{
    net_work_t *w = net->work;
    int n = net->layer[0].n_out;
    const float *h = w->out[0];
    if (!net->batchnorm) {
        memcpy(w->post0, h, (size_t)B * n * sizeof(float));
        return;
    }
    float *scale = w->bn_invstd, *shift = w->bn_bmean; /* free outside a training step */
    ss_net_bn_affine(net, scale, shift);
    for (int r = 0; r < B; r++) {
        const float *hr = h + (size_t)r * n;
        float *pr = w->post0 + (size_t)r * n;
        for (int j = 0; j < n; j++) pr[j] = hr[j] * scale[j] + shift[j];
    }
}

/*
 * d (B, n0) = dL/dpost0 -> dL/dz0 in place, plus gamma/beta/bias gradients.
 * dy = d * mask; dgamma = sum dy xhat; dbeta = sum dy (this shard's sums, which the
 * gradient allreduce completes). With dxhat = gamma dy, the input gradient needs the
 * group-wide sums of dxhat and dxhat xhat, i.e. gamma times the group-wide dbeta and
 * dgamma: one reduction of 2 n0 floats.
 *   dh = invstd (dxhat - sum(dxhat)/N - xhat sum(dxhat xhat)/N)
 */
static void postfirst_backward(ss_net_t *net, float *d, int B, int N, const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    const ss_layer_t *L0 = &net->layer[0];
    int n = L0->n_out;
    float *db0 = net->grads + L0->off_b;
    if (!net->batchnorm) {
        net_act_backward(d, w->out[0], w->mask, db0, B, n, L0->act);
        return;
    }
    double *acc = w->bn_acc;              /* [0, n): sum dy xhat, [n, 2n): sum dy */
    memset(acc, 0, 2 * (size_t)n * sizeof(double));
    for (int r = 0; r < B; r++) {
        float *dr = d + (size_t)r * n;
        const float *xr = w->xhat + (size_t)r * n;
        if (net->dropout > 0.0f) {
            const float *mr = w->mask + (size_t)r * n;
            for (int j = 0; j < n; j++) dr[j] *= mr[j];
        }
        for (int j = 0; j < n; j++) {
            acc[j] += dr[j] * xr[j];
            acc[n + j] += dr[j];
        }
    }
    float *ggamma = net->grads + net->off_bn_gamma, *gbeta = net->grads + net->off_bn_beta;
    float *redb = w->bn_red;
    for (int j = 0; j < 2 * n; j++) redb[j] = (float)acc[j];
    for (int j = 0; j < n; j++) {
        ggamma[j] = redb[j];
        gbeta[j] = redb[n + j];
    }
    reduce(red, redb, 2 * (size_t)n);

    const float *gamma = net->params + net->off_bn_gamma;
    const float *invstd = w->bn_invstd;
    float invN = 1.0f / (float)(N > 0 ? N : 1);
    /* reuse the first half of redb: dxhat mean and dxhat*xhat mean, per feature */
    float *m_dx = redb + n, *m_dxx = redb;
    for (int j = 0; j < n; j++) {
        m_dxx[j] = gamma[j] * redb[j] * invN;
        m_dx[j] = gamma[j] * redb[n + j] * invN;
    }
    for (int r = 0; r < B; r++) {
        float *dr = d + (size_t)r * n;
        const float *xr = w->xhat + (size_t)r * n;
        for (int j = 0; j < n; j++)
            dr[j] = invstd[j] * (gamma[j] * dr[j] - m_dx[j] - xr[j] * m_dxx[j]);
    }
    net_act_backward(d, w->out[0], NULL, db0, B, n, L0->act);
}

/* ---- a layer: forward and backward --------------------------------------------------- */

/* Samples per block of a product: FUSE_ROWS with libxsmm, the whole batch with OpenBLAS
   (whose calls keep their earlier bits). */
static int fuse_rows(const ss_mm_t *p, int B)
{
    return p->kernel == SS_MM_XSMM ? min_int(FUSE_ROWS, B) : B;
}

/* out (B, n_out) = act(in (B, n_in) W + b), a block of samples at a time; with in_rows
   (the sparse first layer only) in's rows in_rows[0..B). */
void net_layer_forward(ss_net_t *net, int l, const float *in, const uint32_t *in_rows,
                       float *out, int B)
{
    ss_layer_t *L = &net->layer[l];
    const float *b = net->params + L->off_b;
    int n = L->n_out;
    sparse_work_t *sp = ((net_work_t *)net->work)->sp;
    if (B > 0 && l == 0 && sp) {
        net_sparse_compress(sp, in, in_rows, B, L->n_in);
        net_sparse_forward(sp, B, n, out);
        net_bias_act(out, b, B, n, L->act);
        return;
    }
    const float *W = net_layer_weights(net, l);
    int rows = fuse_rows(&L->mm_forward, B);
    for (int r0 = 0; r0 < B; r0 += rows) {
        int rb = min_int(rows, B - r0);
        float *o = out + (size_t)r0 * n;
        ss_mm_run(&L->mm_forward, rb, n, L->n_in, in + (size_t)r0 * L->n_in, W, o);
        net_bias_act(o, b, rb, n, L->act);
    }
}

/*
 * Weight gradients of layer l from dz (B, n_out) and its input (B, n_in):
 * G = in^T dz (n_in, n_out). Dense: grads W = G. Spectral: dpsi = G (lin_i - lout_j)
 * (only when psi trains), dlambda_in_i = sum_j G_ij psi_ij, dlambda_out_j = -sum_i G_ij
 * psi_ij (only when lambda_out trains). G goes straight into the dpsi slot of grads and
 * is transformed in place; with psi frozen it goes to scratch so dpsi stays zero.
 */
static void weights_backward(ss_net_t *net, int l, const float *in, const float *dz, int B)
{
    ss_layer_t *L = &net->layer[l];
    net_work_t *w = net->work;
    if (B == 0)
        return; /* the caller zeroed grads */
    float *gw = net->grads + L->off_w;
    float *G = !L->spectral || net->train_eigenvectors ? gw : w->gscratch;
    if (l == 0 && w->sp) /* the batch was compressed by the forward pass */
        net_sparse_weight_grad(w->sp, B, L->n_in, L->n_out, dz, G);
    else
        ss_mm_run(&L->mm_weight_grad, L->n_in, L->n_out, B, in, dz, G);
    net_weights_grad_finish(net, l, G);
}

void net_weights_grad_finish(ss_net_t *net, int l, float *G)
{
    ss_layer_t *L = &net->layer[l];
    if (!L->spectral) {
        if (net->wmask) { /* frozen weights of a trainable subset: no gradient */
            const float *msk = net->wmask + L->off_w;
            size_t nw = (size_t)L->n_in * (size_t)L->n_out;
            for (size_t k = 0; k < nw; k++)
                G[k] = msk[k] != 0.0f ? G[k] : 0.0f;
        }
        return;
    }
    const float *psi = net->params + L->off_w;
    const float *lin = net->params + L->off_lin;
    const float *lout = net->params + L->off_lout;
    float *glin = net->grads + L->off_lin;
    float *glout = net->grads + L->off_lout;
    int n = L->n_out;
    for (int i = 0; i < L->n_in; i++) {
        float *Gr = G + (size_t)i * n;
        const float *pr = psi + (size_t)i * n;
        float li = lin[i];
        if (net->train_lambda_out)
            for (int j = 0; j < n; j++)
                glout[j] -= Gr[j] * pr[j];
        glin[i] = dot(Gr, pr, n);
        if (net->train_eigenvectors)   /* in place: Gr is the dpsi row */
            for (int j = 0; j < n; j++)
                Gr[j] *= li - lout[j];
    }
}

/*
 * Layer l's backward pass from dz (B, n_out) = dL/dZ: its weight gradients, and for
 * l > 0 dL/dZ of layer l - 1 into dprev (B, n_in): dA = dz W^T, then through layer l-1's
 * activation (and, for l = 1, batch-norm / dropout), adding layer l-1's bias gradient.
 * Without batch-norm and dropout at l = 1, the activation derivative follows each block
 * of samples of the product.
 */
static void layer_backward(ss_net_t *net, int l, const float *dz, float *dprev, int B, int N,
                           const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    ss_layer_t *L = &net->layer[l];
    weights_backward(net, l, w->in[l], dz, B);
    if (l == 0)
        return; /* the gradient w.r.t. the inputs is not needed */
    const ss_layer_t *P = &net->layer[l - 1];
    const float *W = L->mm_input_grad.trans_b ? net_layer_weights(net, l) : w->wt[l];
    int n = L->n_in, bn_dropout = l == 1 && has_post0(net);
    int rows = bn_dropout ? B : fuse_rows(&L->mm_input_grad, B);   /* 0 when B is */
    for (int r0 = 0; r0 < B; r0 += rows) {
        int rb = min_int(rows, B - r0);
        float *d = dprev + (size_t)r0 * n;
        ss_mm_run(&L->mm_input_grad, rb, n, L->n_out, dz + (size_t)r0 * L->n_out, W, d);
        if (!bn_dropout)
            net_act_backward(d, w->out[l - 1] + (size_t)r0 * n, NULL, net->grads + P->off_b, rb,
                         n, P->act);
    }
    if (bn_dropout)   /* even with B = 0: its reduction is collective */
        postfirst_backward(net, dprev, B, N, red);
}

/* ---- the output layer: the loss ------------------------------------------------------ */

/*
 * The loss of B samples from the output layer's z (B, n) and labels / targets y:
 * returns the sum of the per-sample losses, and adds to *correct (when not NULL) the
 * number of correct argmax predictions (classification) or the sum of |error|
 * (regression). Writes dz (B, n) = dloss/dz * inv (inv = 1 / the samples of the whole
 * minibatch), and with db non-NULL adds its column sums to db (n), the output bias
 * gradient.
 *   classification: softmax; loss = logsumexp(z) - z_y; dz = (p - onehot(y)) inv
 *   regression:     loss = |z - y|;                      dz = sign(z - y) inv
 * An invalid class label makes the loss NaN (and leaves dz without the -inv).
 */
static double output_loss(const ss_net_t *net, const float *z, const float *y, int B,
                          float *dz, float inv, float *db, double *correct)
{
    int n = net->layer[net->n_layers - 1].n_out;
    double loss = 0.0, good = 0.0;
    if (net->task == SS_TASK_REGRESSION) {
        for (int r = 0; r < B; r++) {
            double err = (double)z[(size_t)r * n] - (double)y[r];
            float *dr = dz + (size_t)r * n;
            loss += fabs(err);
            good += fabs(err);
            dr[0] = err > 0.0 ? inv : (err < 0.0 ? -inv : 0.0f);
            if (db)
                db[0] += dr[0];
        }
        if (correct)
            *correct += good;
        return loss;
    }
    for (int r0 = 0; r0 < B; r0 += NET_SOFTMAX_ROWS) {
        int rows = min_int(NET_SOFTMAX_ROWS, B - r0), best[NET_SOFTMAX_ROWS];
        float s[NET_SOFTMAX_ROWS];
        net_softmax(z + (size_t)r0 * n, rows, n, inv, dz + (size_t)r0 * n, s, best);
        for (int i = 0; i < rows; i++) {
            int r = r0 + i, c = net_label_class(y[r], n);
            loss += net_class_loss(z + (size_t)r * n, 1, s[i], best[i], c);
            if (c >= 0) {
                dz[(size_t)r * n + c] -= inv;
                good += best[i] == c;
            }
        }
        for (int j = 0; db && j < n; j++) {   /* in row order, in a register */
            float a = db[j];
            for (int i = 0; i < rows; i++)
                a += dz[(size_t)(r0 + i) * n + j];
            db[j] = a;
        }
    }
    if (correct)
        *correct += good;
    return loss;
}

/* ---- the whole network ---------------------------------------------------------------- */

void net_copy_rows(const float *x, const uint32_t *rows, int B, int n, float *xo)
{
    for (int r = 0; r < B; r++)
        memcpy(xo + (size_t)r * n, x + (size_t)rows[r] * n, (size_t)n * sizeof(float));
}

/* Forward pass over B samples of x (B, n_inputs), or of its rows rows[0..B) (copied
   first unless the first layer is sparse), with the weights of the last
   net_weights_build(); leaves the last layer's linear output in out[n_layers - 1].
   training: batch statistics over N samples + dropout. */
void net_forward(ss_net_t *net, const float *x, const uint32_t *rows, int B, int training,
                 int N, ss_rng_t *rng, const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    if (rows && !w->sp) {
        net_copy_rows(x, rows, B, net->n_inputs, w->xmasked);
        x = w->xmasked;
        rows = NULL;
    }
    w->in[0] = x;
    for (int l = 0; l < net->n_layers; l++) {
        net_layer_forward(net, l, w->in[l], l == 0 ? rows : NULL, w->out[l], B);
        if (l + 1 < net->n_layers)
            w->in[l + 1] = w->out[l];
        if (l == 0 && net->n_layers > 1 && has_post0(net)) {
            if (training)
                postfirst_forward_train(net, B, N, rng, red);
            else
                postfirst_forward_infer(net, B);
            w->in[1] = w->post0;
        }
    }
}

/* ss_net_forward_backward on x (b, n_inputs), or on its rows rows[0..b). */
static double forward_backward(ss_net_t *net, const float *x, const uint32_t *rows,
                               const float *y, int b, int batch_total, ss_rng_t *dropout_rng,
                               const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    if (b < 0 || b > net->max_batch)
        ss_fatal(SS_EXIT_RUNTIME, "ss_net_forward_backward: batch of %d samples, capacity %d",
                 b, net->max_batch);
    int N = (red && red->sum) ? batch_total : b; /* samples behind the batch statistics */
    /* Weights, lambda_in and batch-norm gradients are stored with '='; only the ranges
       accumulated with '+=' need zeroing. Frozen ranges are never written and stay at
       the zero they were allocated with. An empty shard writes nothing: zero it all. */
    if (b == 0) {
        memset(net->grads, 0, net->n_params * sizeof(float));
    } else {
        for (int l = 0; l < net->n_layers; l++) {
            const ss_layer_t *L = &net->layer[l];
            memset(net->grads + L->off_b, 0, (size_t)L->n_out * sizeof(float));
            if (L->spectral && net->train_lambda_out)
                memset(net->grads + L->off_lout, 0, (size_t)L->n_out * sizeof(float));
        }
    }

    if (net->feature_major && b > 0) {   /* no transposed weights: net_fm.c */
        net_weights_build(net, 0);
        return net_fm_forward_backward(net, x, rows, y, b, batch_total);
    }
    net_weights_build(net, 1);
    net_forward(net, x, rows, b, 1, N, dropout_rng, red);
    const ss_layer_t *last = &net->layer[net->n_layers - 1];
    float *dz = w->d0, *dprev = w->d1;
    float inv = 1.0f / (float)(batch_total > 0 ? batch_total : 1);
    double loss = output_loss(net, w->out[net->n_layers - 1], y, b, dz, inv,
                              net->grads + last->off_b, NULL);
    for (int l = net->n_layers - 1; l >= 0; l--) {
        layer_backward(net, l, dz, dprev, b, N, red);
        float *t = dz;
        dz = dprev;
        dprev = t;
    }
    return loss;
}

double ss_net_forward_backward(ss_net_t *net, const float *x, const float *y, int b,
                               int batch_total, ss_rng_t *dropout_rng,
                               const ss_reduce_t *red)
{
    return forward_backward(net, x, NULL, y, b, batch_total, dropout_rng, red);
}

double ss_net_forward_backward_rows(ss_net_t *net, const float *x, const uint32_t *rows,
                                    const float *y, int b, int batch_total,
                                    ss_rng_t *dropout_rng, const ss_reduce_t *red)
{
    return forward_backward(net, x, rows, y, b, batch_total, dropout_rng, red);
}

/* ---- inference ----------------------------------------------------------------------- */

/* ss_net_evaluate_fill on x (n, n_inputs), or on its rows rows[0..n) (no mask then). */
static void evaluate(ss_net_t *net, const float *x, const uint32_t *rows, const float *y,
                     int n, const unsigned char *input_mask, const float *fill,
                     double *loss_sum, double *correct)
{
    net_work_t *w = net->work;
    int ni = net->n_inputs;
    double loss = 0.0, good = 0.0;
    net_weights_build(net, 0);
    for (int start = 0; start < n; start += net->max_batch) {
        int B = min_int(n - start, net->max_batch);
        const float *xc = rows ? x : x + (size_t)start * ni;
        if (input_mask) {
            for (int r = 0; r < B; r++) {
                const float *src = xc + (size_t)r * ni;
                float *dst = w->xmasked + (size_t)r * ni;
                for (int i = 0; i < ni; i++)
                    dst[i] = input_mask[i] ? src[i] : fill ? fill[i] : 0.0f;
            }
            xc = w->xmasked;
        }
        net_forward(net, xc, rows ? rows + start : NULL, B, 0, B, NULL, NULL);
        loss += output_loss(net, w->out[net->n_layers - 1], y + start, B, w->d0, 1.0f, NULL,
                            &good);
    }
    if (loss_sum) *loss_sum += loss;
    if (correct) *correct += good;
}

void ss_net_evaluate(ss_net_t *net, const float *x, const float *y, int n,
                     const unsigned char *input_mask, double *loss_sum, double *correct)
{
    evaluate(net, x, NULL, y, n, input_mask, NULL, loss_sum, correct);
}

void ss_net_evaluate_fill(ss_net_t *net, const float *x, const float *y, int n,
                          const unsigned char *input_mask, const float *fill,
                          double *loss_sum, double *correct)
{
    evaluate(net, x, NULL, y, n, input_mask, fill, loss_sum, correct);
}

void ss_net_evaluate_rows(ss_net_t *net, const float *x, const uint32_t *rows,
                          const float *y, int n, double *loss_sum, double *correct)
{
    evaluate(net, x, rows, y, n, NULL, NULL, loss_sum, correct);
}

/* ---- relevance ----------------------------------------------------------------------- */

void ss_net_relevance(const ss_net_t *net, double *relevance, double *lambda_in)
{
    const ss_layer_t *L = &net->layer[0];
    const float *wp = net->params + L->off_w;
    for (int i = 0; i < L->n_in; i++) {
        const float *row = wp + (size_t)i * L->n_out;
        double ss = net_sumsq(row, (size_t)L->n_out);
        double lam = L->spectral ? (double)net->params[L->off_lin + (size_t)i] : 1.0;
        if (relevance) relevance[i] = lam * sqrt(ss);
        if (lambda_in) lambda_in[i] = lam;
    }
}

/* ---- the kernels' record ------------------------------------------------------------- */

const ss_mm_t *ss_net_product(const ss_net_t *net, int l, ss_product_t kind)
{
    const ss_layer_t *L = &net->layer[l];
    if (net_fm_layer(net, l))   /* the training step's: net_fm.c's */
        switch (kind) {
        case SS_PRODUCT_FORWARD: return &L->mm_fm_forward;
        case SS_PRODUCT_WEIGHT_GRAD: return &L->mm_fm_weight_grad;
        case SS_PRODUCT_INPUT_GRAD: return l > 0 ? &L->mm_fm_input_grad : NULL;
        }
    switch (kind) {
    case SS_PRODUCT_FORWARD: return &L->mm_forward;
    case SS_PRODUCT_WEIGHT_GRAD: return &L->mm_weight_grad;
    case SS_PRODUCT_INPUT_GRAD: return l > 0 ? &L->mm_input_grad : NULL;
    }
    return NULL;
}

const char *ss_net_product_kernel(const ss_net_t *net, int l, ss_product_t kind)
{
    const ss_mm_t *p = ss_net_product(net, l, kind);
    if (!p)
        return "none";
    if (l == 0 && net->sparse_inputs > 0)   /* forward and weight gradient */
        return "sparse";
    return ss_mm_kernel_name(p->kernel);
}

void ss_net_describe_kernels(const ss_net_t *net, FILE *f)
{
    static const char *kind_name[3] = {"forward", "weight gradient", "input gradient"};
    for (int l = 0; l < net->n_layers; l++)
        for (int kind = 0; kind < 3; kind++) {
            const ss_mm_t *p = ss_net_product(net, l, (ss_product_t)kind);
            if (!p)
                continue;
            fprintf(f, "layer %d %-15s %4d x %4d x %4d %c%c  %-8s", l, kind_name[kind], p->m,
                    p->n, p->k, p->trans_a ? 'T' : 'N', p->trans_b ? 'T' : 'N',
                    ss_net_product_kernel(net, l, (ss_product_t)kind));
            if (p->gflops[SS_MM_BLAS] > 0)
                fprintf(f, "  measured: OpenBLAS %6.1f  libxsmm %6.1f GFLOP/s",
                        p->gflops[SS_MM_BLAS], p->gflops[SS_MM_XSMM]);
            fprintf(f, "\n");
        }
}

void ss_net_measure_kernels(ss_net_t *net)
{
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        ss_mm_measure(&L->mm_forward);
        ss_mm_measure(&L->mm_weight_grad);
        if (l == 0)
            continue;
        /* libxsmm's rate as plan_products uses it: NN on the transposed copy */
        ss_mm_t nn;
        ss_mm_plan(&nn, 0, 0, L->mm_input_grad.m, L->mm_input_grad.n, L->mm_input_grad.k,
                   SS_MM_AUTO);
        ss_mm_measure(&nn);
        ss_mm_release(&nn);
        ss_mm_measure(&L->mm_input_grad);
        L->mm_input_grad.gflops[SS_MM_XSMM] = nn.gflops[SS_MM_XSMM];
    }
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        if (!net_fm_layer(net, l))
            continue;
        ss_mm_measure(&L->mm_fm_forward);
        ss_mm_measure(&L->mm_fm_weight_grad);
        if (l > 0)
            ss_mm_measure(&L->mm_fm_input_grad);
    }
}

