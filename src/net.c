/*
 * net.c - the spectral network: forward, backward, L2, Adam. See include/specsweep/net.h.
 *
 * Shapes in comments: B = samples in the current batch (<= max_batch), n0 = width of the
 * first hidden layer, (n_in, n_out) = a layer's weight matrix, row-major everywhere.
 *
 * Per layer l the forward pass keeps, for the backward pass:
 *   weff[l]  (n_in, n_out)  effective weights of a spectral layer (dense: params directly)
 *   out[l]   (B, n_out)     post-activation output (activation derivatives come from it);
 *                           the last layer keeps its logits / predictions
 * and after the first hidden layer, when batch-norm and/or dropout are on:
 *   xhat     (B, n0)        normalised activations
 *   mask     (B, n0)        dropout multipliers, 0 or 1/(1-rate)
 *   post0    (B, n0)        the input of layer 1
 * Gradients flow through two ping-pong buffers d0/d1 of (B, max width).
 */
#include "specsweep/net.h"

#include <cblas.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-3f       /* Keras BatchNormalization defaults */
#define BN_MOMENTUM 0.99f

/*
 * Sparse first layer (ss_net_set_sparse_inputs): the batch's nonzero inputs by sample
 * (rows) and by input (columns), and the first layer's weights and dZ with their rows
 * padded to `ld` = n0 rounded up to 16 floats, so that the kernel works on whole 64-byte
 * vectors.
 */
typedef struct {
    void *block;
    int ld;                              /* padded row length, multiple of 16 */
    int cap;                             /* nonzeros a batch may have (idx/val hold
                                            cap + SPARSE_SLACK) */
    int *ptr, *idx;                      /* rows: (max_batch + 1) starts into idx/val, */
    float *val;                          /*   (cap) input index, value */
    int *cptr, *cidx;                    /* columns: (n_inputs + 1) starts into cidx/cval, */
    float *cval;                         /*   (cap) sample index, value */
    float *w;                            /* (n_inputs, ld) first-layer weights */
    float *dz;                           /* (max_batch, ld) dZ of the first layer */
    float *row;                          /* (ld) one padded row */
} sparse_work_t;

typedef struct {
    void *block;                         /* the one workspace allocation */
    float *weff[SS_MAX_LAYERS + 1];      /* (n_in, n_out) spectral layers; NULL for dense */
    float *out[SS_MAX_LAYERS + 1];       /* (B, n_out) */
    const float *in[SS_MAX_LAYERS + 1];  /* input of each layer in the current pass */
    float *xhat, *mask, *post0;          /* (B, n0), see the file comment */
    float *d0, *d1;                      /* (B, max width) */
    float *gscratch;                     /* (n_in, n_out) direct-space G when psi is frozen */
    float *xmasked;                      /* (B, n_inputs) masked input copy (evaluate) */
    float *bn_bmean, *bn_invstd;         /* (n0) statistics of the last training batch */
    float *bn_red;                       /* (2 n0) buffer handed to red->sum */
    double *bn_acc;                      /* (2 n0) local sums */
    sparse_work_t *sp;                   /* sparse first layer; NULL when off */
} net_work_t;

/* ---- small helpers ------------------------------------------------------------------- */

/* Frees the sparse first layer's workspace, if any (ss_net_set_sparse_inputs). */
static void sparse_free(net_work_t *w)
{
    if (w->sp) {
        free(w->sp->block);
        free(w->sp);
        w->sp = NULL;
    }
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; } /* floats per 64 bytes */

static int has_post0(const ss_net_t *net) { return net->batchnorm || net->dropout > 0.0f; }

/* C (M, N) = A (M, K) B (K, N) with optional transposes, row-major, beta = 0. */
static void gemm(int trans_a, int trans_b, int M, int N, int K, const float *A,
                 const float *Bm, float *C)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, trans_a ? M : K, Bm,
                trans_b ? K : N, 0.0f, C, N);
}

/*
 * Activations without libm calls, so the bias + activation loops vectorise: glibc tanhf
 * is a scalar call of ~12 ns (via expm1f), which would dominate a training step of the
 * papers' small tanh networks (20-100-100-50: ~3x slower per step).
 *
 * exp_approx(y) = 2^n e^r with n = round(y / ln 2), r = y - n ln 2 (ln 2 split in two
 * for an exact reduction), |r| <= ln2/2, e^r by its degree-7 Taylor polynomial
 * (truncation < 7e-9); y is clamped to [-87, 87] so 2^n stays a normal float. Relative
 * error ~2e-7 (a few ulp). NaN propagates; the exponent is assembled in unsigned
 * arithmetic, so there is no float-to-int conversion of a NaN.
 */
static inline float exp_approx(float y)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    y = y > 87.0f ? 87.0f : (y < -87.0f ? -87.0f : y);
    float t = y * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = y - n * 0.693145751953125f;
    r -= n * 1.42860682030941723e-6f;
    float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
              r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t tb, sb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&sb, &shifter, sizeof sb);
    uint32_t bits = (tb - sb + 127u) << 23; /* tb - sb = n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); below |x| = 0.25, where 1 - e
   would lose bits, the odd Taylor series to x^9 (truncation < 1e-8 relative). */
static inline float tanh_approx(float x)
{
    float ax = fabsf(x);
    float e = exp_approx(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = ax * ax;
    float small = ax + ax * x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 +
                  x2 * (62.0f / 2835))));
    return copysignf(ax < 0.25f ? small : big, x);
}

static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

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

static double sumsq(const float *a, size_t n)
{
    double acc[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int u = 0; u < 16; u++)
            acc[u] += (double)a[k + u] * a[k + u];
    for (; k < n; k++)
        acc[0] += (double)a[k] * a[k];
    double s = 0.0;
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

int ss_net_create(ss_net_t *net, const ss_model_t *model, const ss_training_t *tr,
                  int n_inputs, int n_outputs, ss_task_t task, int max_batch,
                  uint64_t seed, ss_error_t *err)
{
    memset(net, 0, sizeof *net);
    if (validate(model, tr, n_inputs, n_outputs, task, max_batch, err) != 0)
        return -1;

    /* Layout: per layer [psi|W][lambda_in][lambda_out][bias], then batch-norm gamma, beta. */
    net->n_layers = model->n_hidden + 1;
    net->n_inputs = n_inputs;
    net->n_outputs = n_outputs;
    net->task = task;
    net->train_eigenvectors = tr->train_eigenvectors != 0;
    net->train_lambda_out = model->train_lambda_out != 0;
    size_t off = 0;
    int n_in = n_inputs, max_width = 1;
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
        if (L->n_out > max_width)
            max_width = L->n_out;
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
    net->beta1 = tr->adam_beta1;
    net->beta2 = tr->adam_beta2;
    net->eps = tr->adam_epsilon;
    net->reg_eigenvalues = tr->reg_eigenvalues;
    net->reg_eigenvectors = tr->reg_eigenvectors;
    net->max_batch = max_batch;

    net->params = ss_alloc_aligned(net->n_params * sizeof(float));
    net->grads = ss_alloc_aligned(net->n_params * sizeof(float));
    net->adam_m = ss_alloc_aligned(net->n_params * sizeof(float));
    net->adam_v = ss_alloc_aligned(net->n_params * sizeof(float));

    /* Workspace: one block carved into 64-byte aligned pieces (sizes in floats). */
    net_work_t *w = ss_calloc(1, sizeof *w);
    net->work = w;
    size_t B = (size_t)max_batch, total = 0;
    size_t sz_weff[SS_MAX_LAYERS + 1], sz_out[SS_MAX_LAYERS + 1], max_g = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        sz_weff[l] = L->spectral ? round16(nw) : 0;
        sz_out[l] = round16(B * (size_t)L->n_out);
        total += sz_weff[l] + sz_out[l];
        if (L->spectral && !net->train_eigenvectors && nw > max_g)
            max_g = nw;
    }
    size_t sz_bn = net->batchnorm ? round16((size_t)n0) : 0;
    size_t sz_post = round16(B * (size_t)n0);
    size_t sz_d = round16(B * (size_t)max_width);
    total += (net->batchnorm ? sz_post : 0) + (net->dropout > 0 ? sz_post : 0) +
             (has_post0(net) ? sz_post : 0) + 2 * sz_d + round16(max_g) +
             round16(B * (size_t)n_inputs) + 4 * sz_bn + 2 * sz_bn * 2 /* doubles */;
    float *p = ss_alloc_aligned(total * sizeof(float));
    w->block = p;
    for (int l = 0; l < net->n_layers; l++) {
        w->weff[l] = sz_weff[l] ? p : NULL;
        p += sz_weff[l];
        w->out[l] = p;
        p += sz_out[l];
    }
    if (net->batchnorm) { w->xhat = p; p += sz_post; }
    if (net->dropout > 0) { w->mask = p; p += sz_post; }
    if (has_post0(net)) { w->post0 = p; p += sz_post; }
    w->d0 = p; p += sz_d;
    w->d1 = p; p += sz_d;
    w->gscratch = max_g ? p : NULL; p += round16(max_g);
    w->xmasked = p; p += round16(B * (size_t)n_inputs);
    if (net->batchnorm) {
        w->bn_bmean = p; p += sz_bn;
        w->bn_invstd = p; p += sz_bn;
        w->bn_red = p; p += 2 * sz_bn;
        w->bn_acc = (double *)p; p += 2 * sz_bn * 2;
        net->bn_mean = ss_alloc_aligned((size_t)n0 * sizeof(float));
        net->bn_var = ss_alloc_aligned((size_t)n0 * sizeof(float));
    }

    /* Initialisation: one stream, layers in order, psi/W row-major. */
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, SS_STREAM_INIT);
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * (size_t)L->n_out;
        double limit = sqrt(6.0 / (double)(L->n_in + L->n_out)); /* Glorot uniform */
        float *wp = net->params + L->off_w;
        for (size_t k = 0; k < nw; k++)
            wp[k] = (float)(limit * (2.0 * ss_rng_uniform(&rng) - 1.0));
        if (L->spectral)
            for (int i = 0; i < L->n_in; i++)
                net->params[L->off_lin + (size_t)i] = 1.0f;   /* lambda_out, bias: 0 */
    }
    if (net->batchnorm)
        for (int j = 0; j < n0; j++) {
            net->params[net->off_bn_gamma + (size_t)j] = 1.0f; /* beta: 0 */
            net->bn_var[j] = 1.0f;                              /* running mean: 0 */
        }
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
    net_work_t *w = net->work;
    if (w) {
        sparse_free(w);
        free(w->block);
        free(w);
    }
    memset(net, 0, sizeof *net);
}

/* ---- spectral weights ---------------------------------------------------------------- */

/* weff (n_in, n_out) = psi_ij * (lambda_in_i - lambda_out_j) for every spectral layer. */
static void weights_build(ss_net_t *net)
{
    net_work_t *w = net->work;
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        if (!L->spectral) {
            if (l == 0 && w->sp)  /* dense first layer: its padded copy */
                for (int i = 0; i < L->n_in; i++)
                    memcpy(w->sp->w + (size_t)i * w->sp->ld,
                           net->params + L->off_w + (size_t)i * L->n_out,
                           (size_t)L->n_out * sizeof(float));
            continue;
        }
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
    }
}

static const float *layer_weights(const ss_net_t *net, int l)
{
    const net_work_t *w = net->work;
    return net->layer[l].spectral ? w->weff[l] : net->params + net->layer[l].off_w;
}

/* ---- sparse first layer -------------------------------------------------------------- */

/*
 * Inputs such as images are mostly zeros (MNIST digits: 81 % of the pixels). The first
 * layer's two products, Z = X W (forward) and G = X^T dZ (its weight gradient), are then
 * mostly products with zero: in the MNIST network 784-100-100-50-10 they are 77 % of
 * the FLOPs of a training step. With sparse inputs each nonzero x_rj costs one row
 * operation instead: Z[r, :] = sum_j x_rj W[j, :] over the nonzeros of sample r, and
 * G[j, :] = sum_r x_rj dZ[r, :] over the samples where input j is nonzero. Both are the
 * same kernel (gather_row): a sum of scaled rows of a matrix, held in registers, up to 8
 * vectors of 16 floats (128 columns) at a time, so no partial sum goes through memory.
 * W and dZ have rows padded to ld floats (zero padding) so that every vector is whole.
 * The rows come from L2 (W of the MNIST network is 350 KB): about 15 cycles per nonzero
 * and product for 100 columns (bench/README.md's machine), where sgemm spends ~7 cycles
 * per input, zero or not; with the compression, the path pays below ~30 % nonzero
 * inputs (SS_SPARSE_INPUT_DENSITY, measured by `net_step sparse`). GCC's vector
 * extension gives the vectors: 512-bit instructions with AVX-512, two or four narrower
 * ones elsewhere, the same code.
 *
 * Summation order: Z[r, :] adds row r's nonzeros in increasing j, G[j, :] the batch's
 * samples in increasing r. It is not sgemm's order, so results agree with the dense
 * path to rounding, not bit for bit; for a given layout they are deterministic.
 */
typedef float v16 __attribute__((vector_size(64)));

static inline v16 v16_load(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v16_store(float *p, v16 v) { memcpy(p, &v, sizeof v); }

/* Slack after idx/val: the compress loop stores whole vectors of 16. */
#define SPARSE_SLACK 16

/* A batch with more nonzero inputs than the workspace holds: the caller's promise to
   ss_net_set_sparse_inputs was wrong. Checked before every store, so nothing is
   written past the capacity (plus SPARSE_SLACK for the last vector). */
static void sparse_overflow(const sparse_work_t *sp)
{
    ss_fatal(SS_EXIT_RUNTIME, "sparse first layer: a batch has more than %d nonzero inputs, "
             "the capacity given to ss_net_set_sparse_inputs", sp->cap);
}

/* The nonzero entries of x (B, n), row by row, into sp->ptr / idx / val. A NaN counts as
   nonzero (it must reach the loss as it would through sgemm). */
static void sparse_compress(sparse_work_t *sp, const float *x, int B, int n)
{
    int c = 0;
    for (int r = 0; r < B; r++) {
        const float *xr = x + (size_t)r * n;
        sp->ptr[r] = c;
        int j = 0;
#if defined(__AVX512F__)
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                               13, 14, 15);
        for (; j + 16 <= n; j += 16) {
            if (c > sp->cap)
                sparse_overflow(sp);
            __m512 v = _mm512_loadu_ps(xr + j);
            __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            __m512i ix = _mm512_add_epi32(iota, _mm512_set1_epi32(j));
            _mm512_storeu_si512((void *)(sp->idx + c), _mm512_maskz_compress_epi32(m, ix));
            _mm512_storeu_ps(sp->val + c, _mm512_maskz_compress_ps(m, v));
            c += __builtin_popcount((unsigned)m);
        }
#endif
        for (; j < n; j++) {        /* branch-free: always store, advance on nonzero */
            if (c > sp->cap)
                sparse_overflow(sp);
            sp->idx[c] = j;
            sp->val[c] = xr[j];
            c += xr[j] != 0.0f;
        }
    }
    if (c > sp->cap)
        sparse_overflow(sp);
    sp->ptr[B] = c;
}

/* The same nonzeros by input (a counting sort of sp->idx): column j's samples in
   increasing r, into sp->cptr / cidx / cval. */
static void sparse_columns(sparse_work_t *sp, int B, int n)
{
    int *cptr = sp->cptr;
    memset(cptr, 0, ((size_t)n + 1) * sizeof *cptr);
    int nnz = sp->ptr[B];
    for (int k = 0; k < nnz; k++)
        cptr[sp->idx[k] + 1]++;
    for (int j = 0; j < n; j++)
        cptr[j + 1] += cptr[j];
    for (int r = 0; r < B; r++)       /* cptr[j] advances to the end of column j ... */
        for (int k = sp->ptr[r]; k < sp->ptr[r + 1]; k++) {
            int pos = cptr[sp->idx[k]]++;
            sp->cidx[pos] = r;
            sp->cval[pos] = sp->val[k];
        }
    for (int j = n; j > 0; j--)       /* ... so shift it back to the starts */
        cptr[j] = cptr[j - 1];
    cptr[0] = 0;
}

/* o[0, 16 nv) = sum over k < nnz of val[k] M[idx[k], 0, 16 nv), M with rows of ld. */
static inline __attribute__((always_inline)) void
gather_block(const int *idx, const float *val, int nnz, const float *M, size_t ld,
             float *o, int nv)
{
    v16 acc[8];
    for (int u = 0; u < nv; u++)
        acc[u] = (v16){0};
    for (int k = 0; k < nnz; k++) {
        const float *m = M + (size_t)idx[k] * ld;
        v16 v = (v16){0} + val[k];
        for (int u = 0; u < nv; u++)
            acc[u] += v * v16_load(m + 16 * u);
    }
    for (int u = 0; u < nv; u++)
        v16_store(o + 16 * u, acc[u]);
}

/* gather_block over a whole padded row of ld floats, 128 columns at a time; the switch
   gives each block width its own unrolled copy with the vectors in registers. */
static void gather_row(const int *idx, const float *val, int nnz, const float *M, int ld,
                       float *o)
{
    for (int j0 = 0; j0 < ld; j0 += 128) {
        int nv = (ld - j0) / 16 < 8 ? (ld - j0) / 16 : 8;
#define GATHER_CASE(n) \
        case n: gather_block(idx, val, nnz, M + j0, (size_t)ld, o + j0, n); break;
        switch (nv) {
        GATHER_CASE(8) GATHER_CASE(7) GATHER_CASE(6) GATHER_CASE(5)
        GATHER_CASE(4) GATHER_CASE(3) GATHER_CASE(2)
        default: gather_block(idx, val, nnz, M + j0, (size_t)ld, o + j0, 1); break;
        }
#undef GATHER_CASE
    }
}

/* out (B, n0) = X W for the batch compressed by sparse_compress, W = sp->w. */
static void sparse_forward(sparse_work_t *sp, int B, int n0, float *out)
{
    for (int r = 0; r < B; r++) {
        int k = sp->ptr[r];
        gather_row(sp->idx + k, sp->val + k, sp->ptr[r + 1] - k, sp->w, sp->ld, sp->row);
        memcpy(out + (size_t)r * n0, sp->row, (size_t)n0 * sizeof(float));
    }
}

/* G (n_in, n0) = X^T dz for the compressed batch, dz (B, n0). */
static void sparse_weight_grad(sparse_work_t *sp, int B, int n_in, int n0, const float *dz,
                               float *G)
{
    size_t ld = (size_t)sp->ld;
    sparse_columns(sp, B, n_in);
    for (int r = 0; r < B; r++)       /* padded copy; the padding stays 0 */
        memcpy(sp->dz + (size_t)r * ld, dz + (size_t)r * n0, (size_t)n0 * sizeof(float));
    for (int j = 0; j < n_in; j++) {
        int k = sp->cptr[j];
        gather_row(sp->cidx + k, sp->cval + k, sp->cptr[j + 1] - k, sp->dz, sp->ld, sp->row);
        memcpy(G + (size_t)j * n0, sp->row, (size_t)n0 * sizeof(float));
    }
}

void ss_net_set_sparse_inputs(ss_net_t *net, int max_nonzeros)
{
    net_work_t *w = net->work;
    sparse_free(w);
    const ss_layer_t *L = &net->layer[0];
    if (max_nonzeros > L->n_in)
        max_nonzeros = L->n_in;
    net->sparse_inputs = max_nonzeros > 0 ? max_nonzeros : 0;
    if (max_nonzeros <= 0)
        return;
    size_t ld = round16((size_t)L->n_out), B = (size_t)net->max_batch;
    size_t n_in = (size_t)L->n_in, cap = B * (size_t)max_nonzeros;
    if (cap > (size_t)INT_MAX - SPARSE_SLACK)
        ss_fatal(SS_EXIT_RUNTIME, "sparse first layer: %zu nonzeros per batch do not fit an int",
                 cap);
    size_t nx = round16(cap + SPARSE_SLACK);
    size_t sz_ptr = round16(B + 1), sz_cptr = round16(n_in + 1);
    size_t total = sz_ptr + sz_cptr + 4 * nx + round16(n_in * ld) + B * ld + ld;
    sparse_work_t *sp = ss_calloc(1, sizeof *sp);
    float *p = ss_alloc_aligned(total * sizeof(float));
    memset(p, 0, total * sizeof(float)); /* the padding of w, dz and row stays zero */
    sp->block = p;
    sp->ld = (int)ld;
    sp->cap = (int)cap;
    sp->ptr = (int *)p; p += sz_ptr;
    sp->cptr = (int *)p; p += sz_cptr;
    sp->idx = (int *)p; p += nx;
    sp->val = p; p += nx;
    sp->cidx = (int *)p; p += nx;
    sp->cval = p; p += nx;
    sp->w = p; p += round16(n_in * ld);
    sp->dz = p; p += B * ld;
    sp->row = p;
    w->sp = sp;
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
    const ss_layer_t *L = &net->layer[l];
    net_work_t *w = net->work;
    if (B == 0)
        return; /* the caller zeroed grads */
    float *gw = net->grads + L->off_w;
    float *G = !L->spectral || net->train_eigenvectors ? gw : w->gscratch;
    if (l == 0 && w->sp) /* the batch was compressed by the forward pass */
        sparse_weight_grad(w->sp, B, L->n_in, L->n_out, dz, G);
    else
        gemm(1, 0, L->n_in, L->n_out, B, in, dz, G);
    if (!L->spectral)
        return;
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

/* ---- dense layer: forward and backward ----------------------------------------------- */

/* out (B, n_out) = act(in (B, n_in) W + b); the bias and activation in one pass. */
static void layer_forward(const ss_net_t *net, int l, const float *in, float *out, int B)
{
    const ss_layer_t *L = &net->layer[l];
    const float *b = net->params + L->off_b;
    int n = L->n_out;
    sparse_work_t *sp = ((net_work_t *)net->work)->sp;
    if (B > 0 && l == 0 && sp) {
        sparse_compress(sp, in, B, L->n_in);
        sparse_forward(sp, B, n, out);
    } else if (B > 0) {
        gemm(0, 0, B, n, L->n_in, in, layer_weights(net, l), out);
    }
    for (int r = 0; r < B; r++) {
        float *z = out + (size_t)r * n;
        switch (L->act) {
        case SS_ACT_TANH:
            for (int j = 0; j < n; j++) z[j] = tanh_approx(z[j] + b[j]);
            break;
        case SS_ACT_RELU:
            for (int j = 0; j < n; j++) { float v = z[j] + b[j]; z[j] = v > 0.0f ? v : 0.0f; }
            break;
        case SS_ACT_SIGMOID:
            for (int j = 0; j < n; j++) z[j] = sigmoid_approx(z[j] + b[j]);
            break;
        case SS_ACT_LINEAR:
            for (int j = 0; j < n; j++) z[j] += b[j];
            break;
        }
    }
}

/*
 * d (B, n) holds dL/d(activation output); turn it into dL/dz in place using the kept
 * output a (B, n), optionally times a dropout mask first, and accumulate the bias
 * gradient db (n) += column sums of dz.
 */
static void act_backward(float *d, const float *a, const float *mask, float *db, int B,
                         int n, ss_act_t act)
{
    for (int r = 0; r < B; r++) {
        float *dr = d + (size_t)r * n;
        const float *ar = a + (size_t)r * n;
        if (mask) {
            const float *mr = mask + (size_t)r * n;
            for (int j = 0; j < n; j++) dr[j] *= mr[j];
        }
        switch (act) {
        case SS_ACT_TANH:
            for (int j = 0; j < n; j++) { dr[j] *= 1.0f - ar[j] * ar[j]; db[j] += dr[j]; }
            break;
        case SS_ACT_RELU:
            for (int j = 0; j < n; j++) {
                dr[j] = ar[j] > 0.0f ? dr[j] : 0.0f;
                db[j] += dr[j];
            }
            break;
        case SS_ACT_SIGMOID:
            for (int j = 0; j < n; j++) { dr[j] *= ar[j] * (1.0f - ar[j]); db[j] += dr[j]; }
            break;
        case SS_ACT_LINEAR:
            for (int j = 0; j < n; j++) db[j] += dr[j];
            break;
        }
    }
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
        act_backward(d, w->out[0], w->mask, db0, B, n, L0->act);
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
    act_backward(d, w->out[0], NULL, db0, B, n, L0->act);
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
    const float *gamma = net->params + net->off_bn_gamma;
    const float *beta = net->params + net->off_bn_beta;
    float *scale = w->bn_invstd, *shift = w->bn_bmean; /* free outside a training step */
    for (int j = 0; j < n; j++) {
        scale[j] = gamma[j] / sqrtf(net->bn_var[j] + BN_EPS);
        shift[j] = beta[j] - net->bn_mean[j] * scale[j];
    }
    for (int r = 0; r < B; r++) {
        const float *hr = h + (size_t)r * n;
        float *pr = w->post0 + (size_t)r * n;
        for (int j = 0; j < n; j++) pr[j] = hr[j] * scale[j] + shift[j];
    }
}

/* ---- the whole network ---------------------------------------------------------------- */

/* Forward pass over B samples of x (B, n_inputs) with the weights of the last
   weights_build(); leaves the last layer's linear output in out[n_layers - 1].
   training: batch statistics over N samples + dropout. */
static void forward(ss_net_t *net, const float *x, int B, int training, int N, ss_rng_t *rng,
                    const ss_reduce_t *red)
{
    net_work_t *w = net->work;
    w->in[0] = x;
    for (int l = 0; l < net->n_layers; l++) {
        layer_forward(net, l, w->in[l], w->out[l], B);
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

/* Class index of a label stored as float, or -1 when it is not a valid class. */
static int label_class(float y, int n_classes)
{
    if (!(y >= 0.0f && y < (float)n_classes))
        return -1;
    return (int)y;
}

/*
 * Output layer, training: z = out[last] (B, n_out) -> per-sample loss (summed, returned)
 * and dz (B, n_out) = dloss/dz / batch_total, plus the output bias gradient.
 *   classification: softmax; loss = logsumexp(z) - z_y; dz = (p - onehot(y)) / total
 *   regression:     loss = |z - y|;                      dz = sign(z - y) / total
 */
static double output_backward(ss_net_t *net, const float *y, float *dz, int B, int total)
{
    const ss_layer_t *L = &net->layer[net->n_layers - 1];
    const float *z = ((net_work_t *)net->work)->out[net->n_layers - 1];
    float *db = net->grads + L->off_b;
    int n = L->n_out;
    float inv = 1.0f / (float)(total > 0 ? total : 1);
    double loss = 0.0;
    for (int r = 0; r < B; r++) {
        const float *zr = z + (size_t)r * n;
        float *dr = dz + (size_t)r * n;
        if (net->task == SS_TASK_REGRESSION) {
            float e = zr[0] - y[r];
            loss += fabsf(e);
            dr[0] = e > 0.0f ? inv : (e < 0.0f ? -inv : 0.0f);
            db[0] += dr[0];
            continue;
        }
        float mx = zr[0];
        for (int j = 1; j < n; j++) mx = zr[j] > mx ? zr[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < n; j++) { dr[j] = expf(zr[j] - mx); s += dr[j]; }
        float is = inv / s;
        for (int j = 0; j < n; j++) dr[j] *= is;
        int c = label_class(y[r], n);
        if (c < 0) {
            loss += NAN;
        } else {
            loss += log((double)s) - (double)(zr[c] - mx);
            dr[c] -= inv;
        }
        for (int j = 0; j < n; j++) db[j] += dr[j];
    }
    return loss;
}

double ss_net_forward_backward(ss_net_t *net, const float *x, const float *y, int b,
                               int batch_total, ss_rng_t *dropout_rng,
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

    weights_build(net);
    forward(net, x, b, 1, N, dropout_rng, red);
    float *dz = w->d0, *dprev = w->d1;
    double loss = output_backward(net, y, dz, b, batch_total);

    for (int l = net->n_layers - 1; l >= 0; l--) {
        const ss_layer_t *L = &net->layer[l];
        weights_backward(net, l, w->in[l], dz, b);
        if (l == 0)
            break; /* the gradient w.r.t. the inputs is not needed */
        if (b > 0)  /* dA (B, n_in) = dz W^T */
            gemm(0, 1, b, L->n_in, L->n_out, dz, layer_weights(net, l), dprev);
        if (l == 1 && has_post0(net))
            postfirst_backward(net, dprev, b, N, red);
        else
            act_backward(dprev, w->out[l - 1], NULL, net->grads + net->layer[l - 1].off_b, b,
                         L->n_in, net->layer[l - 1].act);
        float *t = dz;
        dz = dprev;
        dprev = t;
    }
    return loss;
}

/* ---- L2 on the first layer ---------------------------------------------------------- */

/* The penalty value; with grads non-NULL also adds its gradient to the trainable
   first-layer parameters. */
static double l2_apply(const ss_net_t *net, float *grads)
{
    const ss_layer_t *L = &net->layer[0];
    size_t nw = (size_t)L->n_in * (size_t)L->n_out;
    const float *wp = net->params + L->off_w;
    double sw = sumsq(wp, nw), sl = 0.0;
    if (grads && (!L->spectral || net->train_eigenvectors)) {
        float *gw = grads + L->off_w, cw = (float)(2.0 * net->reg_eigenvectors);
        for (size_t k = 0; k < nw; k++)
            gw[k] += cw * wp[k];
    }
    if (L->spectral) {
        const float *lin = net->params + L->off_lin;
        sl = sumsq(lin, (size_t)L->n_in);
        if (grads) {
            float *glin = grads + L->off_lin, cl = (float)(2.0 * net->reg_eigenvalues);
            for (int i = 0; i < L->n_in; i++)
                glin[i] += cl * lin[i];
        }
    }
    return net->reg_eigenvalues * sl + net->reg_eigenvectors * sw;
}

double ss_net_add_l2(ss_net_t *net) { return l2_apply(net, net->grads); }

double ss_net_l2(const ss_net_t *net) { return l2_apply(net, NULL); }

/* ---- the optimizer step: L2 + Adam ---------------------------------------------------- */

/* Keras Adam constants of the step being taken (after adam_t was incremented). */
typedef struct {
    float b1, b2, lr_t, eps;
} adam_consts_t;

static adam_consts_t adam_begin_step(ss_net_t *net)
{
    net->adam_t++;
    double t = (double)net->adam_t;
    adam_consts_t a = {(float)net->beta1, (float)net->beta2,
                       (float)(net->lr * sqrt(1.0 - pow(net->beta2, t)) /
                               (1.0 - pow(net->beta1, t))),
                       (float)net->eps};
    return a;
}

/*
 * One Adam step on n parameters p from gradients g. With l2, the L2 gradient c * p is
 * added to each gradient first, in a register (g is not written): the same float
 * operations as adding it to grads and stepping afterwards, so the same bits.
 * vectorises only with -fno-math-errno: sqrtf may otherwise set errno.
 */
static void adam_loop(float *restrict p, const float *restrict g, float *restrict m,
                      float *restrict v, size_t n, adam_consts_t a, int l2, float c)
{
    if (l2) {
        for (size_t k = 0; k < n; k++) {
            float gk = g[k] + c * p[k];
            m[k] = a.b1 * m[k] + (1.0f - a.b1) * gk;
            v[k] = a.b2 * v[k] + (1.0f - a.b2) * gk * gk;
            p[k] -= a.lr_t * m[k] / (sqrtf(v[k]) + a.eps);
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            m[k] = a.b1 * m[k] + (1.0f - a.b1) * g[k];
            v[k] = a.b2 * v[k] + (1.0f - a.b2) * g[k] * g[k];
            p[k] -= a.lr_t * m[k] / (sqrtf(v[k]) + a.eps);
        }
    }
}

static void adam_range(ss_net_t *net, size_t lo, size_t hi, adam_consts_t a, int l2, float c)
{
    if (hi > lo)
        adam_loop(net->params + lo, net->grads + lo, net->adam_m + lo, net->adam_v + lo,
                  hi - lo, a, l2, c);
}

void ss_net_adam_step(ss_net_t *net)
{
    adam_consts_t a = adam_begin_step(net);
    for (int s = 0; s < net->n_segments; s++)
        adam_range(net, net->seg_off[s], net->seg_off[s] + net->seg_len[s], a, 0, 0.0f);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

double ss_net_update(ss_net_t *net, size_t lo, size_t hi)
{
    hi = min_sz(hi, net->n_params);
    const ss_layer_t *L = &net->layer[0];
    size_t nw = (size_t)L->n_in * (size_t)L->n_out;

    /* The L2 terms: [off, off + len) with gradient coefficient c, as in l2_apply. */
    size_t r_lo[2] = {L->off_w, L->off_lin};
    size_t r_hi[2] = {L->off_w + nw, L->off_lin + (L->spectral ? (size_t)L->n_in : 0)};
    float r_c[2] = {(float)(2.0 * net->reg_eigenvectors), (float)(2.0 * net->reg_eigenvalues)};
    double r_reg[2] = {net->reg_eigenvectors, net->reg_eigenvalues};
    int r_grad[2] = {!L->spectral || net->train_eigenvectors, L->spectral};

    /* The penalty of the parameters in [lo, hi), before the step (l2_apply's sums). */
    double sums[2] = {0.0, 0.0};
    for (int r = 0; r < 2; r++) {
        size_t a = max_sz(lo, r_lo[r]), b = min_sz(hi, r_hi[r]);
        if (b > a)
            sums[r] = sumsq(net->params + a, b - a);
    }
    double penalty = r_reg[1] * sums[1] + r_reg[0] * sums[0];

    /* Adam on every trainable segment within [lo, hi), cut at the L2 ranges. */
    adam_consts_t a = adam_begin_step(net);
    for (int s = 0; s < net->n_segments; s++) {
        size_t x = max_sz(lo, net->seg_off[s]);
        size_t end = min_sz(hi, net->seg_off[s] + net->seg_len[s]);
        while (x < end) {
            size_t stop = end;
            int in_l2 = -1;
            for (int r = 0; r < 2; r++) {
                if (!r_grad[r] || r_hi[r] <= r_lo[r])
                    continue;
                if (x >= r_lo[r] && x < r_hi[r]) {
                    in_l2 = r;
                    stop = min_sz(stop, r_hi[r]);
                } else if (r_lo[r] > x) {
                    stop = min_sz(stop, r_lo[r]);
                }
            }
            adam_range(net, x, stop, a, in_l2 >= 0, in_l2 >= 0 ? r_c[in_l2] : 0.0f);
            x = stop;
        }
    }
    return penalty;
}

/* ---- inference ----------------------------------------------------------------------- */

void ss_net_evaluate(ss_net_t *net, const float *x, const float *y, int n,
                     const unsigned char *input_mask, double *loss_sum, double *correct)
{
    net_work_t *w = net->work;
    const ss_layer_t *L = &net->layer[net->n_layers - 1];
    int ni = net->n_inputs, no = L->n_out;
    const float *z = w->out[net->n_layers - 1];
    double loss = 0.0, good = 0.0;
    weights_build(net);
    for (int start = 0; start < n; start += net->max_batch) {
        int B = n - start < net->max_batch ? n - start : net->max_batch;
        const float *xc = x + (size_t)start * ni;
        if (input_mask) {
            for (int r = 0; r < B; r++) {
                const float *src = xc + (size_t)r * ni;
                float *dst = w->xmasked + (size_t)r * ni;
                for (int i = 0; i < ni; i++) dst[i] = input_mask[i] ? src[i] : 0.0f;
            }
            xc = w->xmasked;
        }
        forward(net, xc, B, 0, B, NULL, NULL);
        for (int r = 0; r < B; r++) {
            const float *zr = z + (size_t)r * no;
            float yr = y[start + r];
            if (net->task == SS_TASK_REGRESSION) {
                double e = fabs((double)zr[0] - yr);
                loss += e;
                good += e;
                continue;
            }
            int best = 0;
            float mx = zr[0];
            for (int j = 1; j < no; j++)
                if (zr[j] > mx) { mx = zr[j]; best = j; }
            double s = 0.0;
            for (int j = 0; j < no; j++) s += exp((double)(zr[j] - mx));
            int c = label_class(yr, no);
            if (c < 0) {
                loss += NAN;
                continue;
            }
            loss += log(s) - (double)(zr[c] - mx);
            good += best == c;
        }
    }
    if (loss_sum) *loss_sum += loss;
    if (correct) *correct += good;
}

/* ---- relevance ----------------------------------------------------------------------- */

void ss_net_relevance(const ss_net_t *net, double *relevance, double *lambda_in)
{
    const ss_layer_t *L = &net->layer[0];
    const float *wp = net->params + L->off_w;
    for (int i = 0; i < L->n_in; i++) {
        const float *row = wp + (size_t)i * L->n_out;
        double ss = sumsq(row, (size_t)L->n_out);
        double lam = L->spectral ? (double)net->params[L->off_lin + (size_t)i] : 1.0;
        if (relevance) relevance[i] = lam * sqrt(ss);
        if (lambda_in) lambda_in[i] = lam;
    }
}

/* ---- attribution support: inference outputs, input gradients, effective weights ----- */

/*
 * These passes serve the post-hoc relevance methods (attrib.c). They run in inference
 * mode and always on the dense first-layer path: their inputs (noisy copies, points on
 * a path to a baseline, mixtures with a background) are not sparse, and the sparse
 * workspace is sized for the training data. The sparse layer is detached for the call
 * and restored afterwards; the next training step rebuilds its weights anyway.
 */

/* d (B, n) *= act'(z) from the kept output a (B, n): act_backward without a bias
   gradient (these passes write nothing into grads). */
static void act_derivative(float *d, const float *a, int B, int n, ss_act_t act)
{
    for (size_t k = 0, total = (size_t)B * n; k < total; k++) {
        switch (act) {
        case SS_ACT_TANH: d[k] *= 1.0f - a[k] * a[k]; break;
        case SS_ACT_RELU: d[k] = a[k] > 0.0f ? d[k] : 0.0f; break;
        case SS_ACT_SIGMOID: d[k] *= a[k] * (1.0f - a[k]); break;
        case SS_ACT_LINEAR: break;
        }
    }
}

void ss_net_predict(ss_net_t *net, const float *x, int n, float *out)
{
    net_work_t *w = net->work;
    sparse_work_t *sp = w->sp;
    int no = net->n_outputs;
    w->sp = NULL;
    weights_build(net);
    for (int start = 0; start < n; start += net->max_batch) {
        int B = n - start < net->max_batch ? n - start : net->max_batch;
        forward(net, x + (size_t)start * net->n_inputs, B, 0, B, NULL, NULL);
        memcpy(out + (size_t)start * no, w->out[net->n_layers - 1],
               (size_t)B * no * sizeof(float));
    }
    w->sp = sp;
}

void ss_net_input_gradient(ss_net_t *net, const float *x, int b, const int *which,
                           float *out, float *dx)
{
    net_work_t *w = net->work;
    if (b < 0 || b > net->max_batch)
        ss_fatal(SS_EXIT_RUNTIME, "ss_net_input_gradient: batch of %d samples, capacity %d",
                 b, net->max_batch);
    int no = net->n_outputs, last = net->n_layers - 1;
    for (int r = 0; r < b; r++)
        if (which[r] < 0 || which[r] >= no)
            ss_fatal(SS_EXIT_RUNTIME, "ss_net_input_gradient: output %d of %d", which[r], no);
    if (b == 0)
        return;
    sparse_work_t *sp = w->sp;
    w->sp = NULL;
    weights_build(net);
    forward(net, x, b, 0, b, NULL, NULL);
    const float *z = w->out[last];
    float *d = w->d0, *dprev = w->d1;    /* (b, width): d out / d (layer output) */
    memset(d, 0, (size_t)b * no * sizeof(float));
    for (int r = 0; r < b; r++) {
        out[r] = z[(size_t)r * no + which[r]];
        d[(size_t)r * no + which[r]] = 1.0f;
    }
    for (int l = last; l >= 1; l--) {
        const ss_layer_t *L = &net->layer[l];
        gemm(0, 1, b, L->n_in, L->n_out, d, layer_weights(net, l), dprev);
        if (l == 1 && net->batchnorm) {  /* post0 = h scale + shift; the forward pass left
                                            scale in bn_invstd */
            for (int r = 0; r < b; r++)
                for (int j = 0; j < L->n_in; j++)
                    dprev[(size_t)r * L->n_in + j] *= w->bn_invstd[j];
        }
        act_derivative(dprev, w->out[l - 1], b, L->n_in, net->layer[l - 1].act);
        float *t = d;
        d = dprev;
        dprev = t;
    }
    const ss_layer_t *L0 = &net->layer[0];
    gemm(0, 1, b, L0->n_in, L0->n_out, d, layer_weights(net, 0), dx);
    w->sp = sp;
}

void ss_net_layer_weights(const ss_net_t *net, int l, float *w)
{
    const ss_layer_t *L = &net->layer[l];
    const float *wp = net->params + L->off_w;
    if (!L->spectral) {
        memcpy(w, wp, (size_t)L->n_in * L->n_out * sizeof(float));
        return;
    }
    const float *lin = net->params + L->off_lin, *lout = net->params + L->off_lout;
    for (int i = 0; i < L->n_in; i++)   /* the expression of weights_build */
        for (int j = 0; j < L->n_out; j++)
            w[(size_t)i * L->n_out + j] = wp[(size_t)i * L->n_out + j] * (lin[i] - lout[j]);
}

void ss_net_bn_affine(const ss_net_t *net, float *scale, float *shift)
{
    int n = net->layer[0].n_out;
    for (int j = 0; j < n; j++) {
        if (!net->batchnorm) {
            scale[j] = 1.0f;
            shift[j] = 0.0f;
            continue;
        }
        const float *gamma = net->params + net->off_bn_gamma;
        const float *beta = net->params + net->off_bn_beta;
        scale[j] = gamma[j] / sqrtf(net->bn_var[j] + BN_EPS); /* postfirst_forward_infer */
        shift[j] = beta[j] - net->bn_mean[j] * scale[j];
    }
}
