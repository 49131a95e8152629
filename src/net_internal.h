/*
 * net_internal.h - what the parts of the network module share: the workspace behind
 * ss_net_t.work and the passes one part runs for another. Not installed; the module's
 * interface is include/specsweep/net.h.
 *
 *   net.c         creation, the spectral weights, forward and backward, inference
 *   net_sparse.c  the sparse first layer (mostly-zero inputs such as images)
 *   net_optim.c   L2 on the first layer, the Adam and AdaMax steps
 *   net_fm.c      the training step on feature-major activations (the default where
 *                 libxsmm computes every product)
 *   net_explain.c the passes of the post-hoc relevance methods: outputs, input gradients,
 *                 effective weights
 */
#ifndef SPECSWEEP_NET_INTERNAL_H
#define SPECSWEEP_NET_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "specsweep/net.h"
#include "vec.h"

#define BN_EPS 1e-3f       /* Keras BatchNormalization defaults */

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
    int n_in;                            /* the layer's inputs */
    int *ptr, *idx;                      /* rows: (max_batch + 1) starts into idx/val, */
    float *val;                          /*   (cap) input index, value */
    int *cptr, *cidx;                    /* columns: (n_inputs + 1) starts into cidx/cval, */
    float *cval;                         /*   (cap) sample index, value */
    int *order, *count;                  /* (max(max_batch, n_inputs)) the order of the
                                            rows or columns, (that + 2) its counting sort */
    float *w;                            /* (n_inputs, ld) first-layer weights */
    float *dz;                           /* (max_batch, ld) dZ of the first layer */
    float *rows;                         /* (GATHER_LISTS, ld) padded rows of sums */
} sparse_work_t;

typedef struct {
    void *block;                         /* the one workspace allocation */
    float *weff[SS_MAX_LAYERS + 1];      /* (n_in, n_out) spectral layers; NULL for dense */
    float *wt[SS_MAX_LAYERS + 1];        /* (n_out, n_in) or NULL, see the file comment */
    float *out[SS_MAX_LAYERS + 1];       /* (B, n_out); feature_major: room for
                                            (n_out + 1, B) */
    const float *in[SS_MAX_LAYERS + 1];  /* input of each layer in the current pass */
    float *xhat, *mask, *post0;          /* (B, n0), see the file comment */
    float *d0, *d1;                      /* (B, max width) */
    float *gscratch;                     /* (n_in, n_out) direct-space G when psi is frozen;
                                            feature_major: (n_in + 1, n_out) */
    float *xmasked;                      /* (B, n_inputs) masked input copy (evaluate), the
                                            rows of ss_net_forward_backward_rows */
    float *xt;                           /* (n_inputs + 1, B) the inputs feature-major and a
                                            row of ones (net_fm.c), in xmasked's room;
                                            NULL without feature_major */
    float *bn_bmean, *bn_invstd;         /* (n0) statistics of the last training batch */
    float *bn_red;                       /* (2 n0) buffer handed to red->sum */
    double *bn_acc;                      /* (2 n0) local sums */
    sparse_work_t *sp;                   /* sparse first layer; NULL when off */
} net_work_t;

/* n rounded up to a multiple of 16 floats (64 bytes). */
static inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* The sum of squares of a (n) in double, 16 partial sums (the order is fixed). */
static inline double net_sumsq(const float *a, size_t n)
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

/* ---- net.c ---- */

/* Class index of a label stored as float, or -1 when it is not a valid class. */
static inline int net_label_class(float y, int n_classes)
{
    if (!(y >= 0.0f && y < (float)n_classes))
        return -1;
    return (int)y;
}

/* A sample's softmax cross-entropy, logsumexp(z) - z_c = log(s) + z_best - z_c, from the
   sum s of its exponentials (of z - its max), its logits z (`stride` apart), their
   first argmax best and its class c; NaN for an invalid label (c < 0). */
static inline double net_class_loss(const float *z, size_t stride, float s, int best, int c)
{
    if (c < 0)
        return NAN;
    return (double)logf(s) + (double)(z[(size_t)best * stride] - z[(size_t)c * stride]);
}

/* out (B, n_out) = act(in (B, n_in) W + b) of layer l, sample-major, in blocks of 64
   samples with libxsmm; with in_rows (the sparse first layer only) in's rows
   in_rows[0..B). */
void net_layer_forward(ss_net_t *net, int l, const float *in, const uint32_t *in_rows,
                       float *out, int B);

/* The rows rows[0..B) of x (n wide) into xo (B, n). */
void net_copy_rows(const float *x, const uint32_t *rows, int B, int n, float *xo);

/* wt (n, m) = the transpose of w (m, n); the two must not overlap. */
void net_transpose(const float *restrict w, int m, int n, float *restrict wt);

/* Layer l's parameter gradients from its direct-space weight gradient G (n_in, n_out),
   in place where G is the grads' psi / W slot: the frozen entries of a trainable subset
   zeroed (dense), or dpsi, dlambda_in and dlambda_out (spectral; weights_backward in
   net.c). */
void net_weights_grad_finish(ss_net_t *net, int l, float *G);

/* weff (n_in, n_out) = psi_ij * (lambda_in_i - lambda_out_j) for every spectral layer;
   with `transposed`, also the transposed copies the input gradients use. */
void net_weights_build(ss_net_t *net, int transposed);

/* The activations (net_act.c). net_bias_act: z (B, n) = act(z + b) in place, the bias
   and the activation in one pass. net_act_backward: d (B, n) holds dL/d(activation
   output); turns it into dL/dz in place using the kept output a (B, n), times a dropout
   mask first when mask is not NULL, and adds the column sums of dz to db (n), in row
   order. net_softmax: the softmax of rows <= NET_SOFTMAX_ROWS rows of z (rows, n), times
   inv, into p (rows, n), with each row's sum of exponentials s (of z - its max) and its
   first argmax best (the loss log(s) + max - z_y needs both). Every value the same bits
   whatever the vector width, the position of a value in its row or of a row among the
   rows. */
void net_bias_act(float *z, const float *b, int B, int n, ss_act_t act);
void net_act_backward(float *restrict d, const float *restrict a, const float *restrict mask,
                      float *restrict db, int B, int n, ss_act_t act);
#define NET_SOFTMAX_ROWS 16
void net_softmax(const float *z, int rows, int n, float inv, float *p, float *s, int *best);

/* The same passes on feature-major arrays, rows of `cols` samples (net_fm.c).
   net_bias_act_fm: z (rows, cols) = act(z + b[row]). net_act_grad_fm: d = dL/dz from
   dL/da d and the output a, `count` values, no bias sums. net_softmax_fm: the softmax of
   the columns c < cols (<= 16) of z (n, ld), times inv, into p (n, ld; may be z), with
   each column's s and best as net_softmax gives them for a row. The same bits as the
   sample-major passes, value for value. */
void net_bias_act_fm(float *z, const float *b, int rows, int cols, ss_act_t act);
void net_act_grad_fm(float *restrict d, const float *restrict a, size_t count, ss_act_t act);
void net_softmax_fm(const float *z, size_t ld, int n, int cols, float inv, float *p, float *s,
                    int *best);

/* ---- net_fm.c ---- */

/* Plans the feature-major products of every layer (libxsmm, policy auto) and sets
   net->feature_major when each has a libxsmm kernel and the network has no batch-norm
   or dropout; otherwise releases them. Before the workspace is sized. */
void net_fm_plan(ss_net_t *net, ss_mm_policy_t policy);
/* Frees the feature-major plans' kernels and sets feature_major to 0: every later step
   is sample-major (ss_net_set_sparse_inputs relies on it: a net with a sparse first
   layer never has feature_major). */
void net_fm_release(ss_net_t *net);

/* 1 when the training step runs layer l's feature-major products (mm_fm_*). */
static inline int net_fm_layer(const ss_net_t *net, int l)
{
    return net->feature_major && (l > 0 || net->fm_first);
}

/* ss_net_forward_backward on x (b >= 1 rows, n_inputs wide), or on its rows
   rows[0..b), for a net with feature_major (so no sparse first layer), after
   net_weights_build(net, 0) (no transposed weights). */
double net_fm_forward_backward(ss_net_t *net, const float *x, const uint32_t *rows,
                               const float *y, int b, int batch_total);

/* Layer l's effective weights (n_in, n_out) as the last net_weights_build left them. */
const float *net_layer_weights(const ss_net_t *net, int l);

/* Forward pass over B samples of x (B, n_inputs), or with rows non-NULL over the rows
   rows[0..B) of x, with the weights of the last net_weights_build(); the last layer's
   linear output is left in out[n_layers - 1]. training: batch statistics over N samples
   (reduced through red) + dropout from rng. */
void net_forward(ss_net_t *net, const float *x, const uint32_t *rows, int B, int training,
                 int N, ss_rng_t *rng, const ss_reduce_t *red);

/* ---- net_sparse.c ---- */

/* Frees the sparse first layer's workspace, if any. */
void net_sparse_free(net_work_t *w);

/* The nonzero entries of x (B, n), or with rows non-NULL of its rows rows[0..B), row by
   row, into sp->ptr / idx / val. */
void net_sparse_compress(sparse_work_t *sp, const float *x, const uint32_t *rows, int B,
                         int n);

/* out (B, n0) = X W for the batch net_sparse_compress compressed, W = sp->w. */
void net_sparse_forward(sparse_work_t *sp, int B, int n0, float *out);

/* G (n_in, n0) = X^T dz for the compressed batch, dz (B, n0). */
void net_sparse_weight_grad(sparse_work_t *sp, int B, int n_in, int n0, const float *dz,
                            float *G);

#endif
