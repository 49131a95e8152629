/*
 * net.h - the spectral network: layout, forward, backward, L2, Adam and AdaMax.
 *
 * All trainable parameters live in ONE contiguous float32 buffer `params`; gradients in
 * `grads` and the optimizer's moments in `adam_m`/`adam_v` mirror it exactly, so
 * data-parallel training is one allreduce over `grads` and a checkpoint is one copy. A
 * layer is a set of offsets into that buffer.
 *
 * Layer l maps n_in -> n_out.  Spectral layer: w_ij = psi_ij * (lambda_in_i - lambda_out_j);
 * dense layer: w_ij = W_ij.  Z = A W + b, then the activation (hidden layers), softmax
 * cross-entropy (classification) or identity + mean absolute error (regression) at the
 * output. Optional batch-norm (Keras semantics: momentum 0.99, epsilon 1e-3) and inverted
 * dropout follow the first hidden layer's activation, in that order.
 *
 * Frozen parameters (lambda_out unless train_lambda_out; psi of every spectral layer when
 * train_eigenvectors is 0) keep a zero gradient and are skipped by the optimizer: their
 * entries of grads are zero from creation and never written (a reduction keeps them
 * zero). A dense layer with trainable_weights match_eigenvalues trains a random subset of
 * its weights only, n_in + n_out of them (the eigenvalue count of the same layer made
 * spectral; all when that is not fewer), chosen from the run seed alone (stream
 * SS_STREAM_SUBSET, layers in order): `wmask` holds 1 for a trainable and 0 for a frozen
 * entry; a frozen weight's gradient is 0 (after the L2 term too) and the optimizer moves
 * it by exactly nothing, so it keeps its initial value.
 *
 * Optimizers (training.optimizer): Adam as Keras (lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
 * p -= lr_t m / (sqrt(v) + eps)) and AdaMax as Keras (m = b1 m + (1 - b1) g,
 * u = max(b2 u, |g|), p -= lr / (1 - b1^t) m / (u + eps)); adam_v holds u for AdaMax.
 */
#ifndef SPECSWEEP_NET_H
#define SPECSWEEP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "specsweep/config.h"
#include "specsweep/mm.h"

typedef struct {
    int n_in, n_out;
    int spectral;           /* 1: psi/lambda parametrisation, 0: dense W */
    ss_act_t act;           /* hidden activation; the output layer is SS_ACT_LINEAR */
    size_t off_w;           /* psi (spectral) or W (dense): n_in x n_out, row-major */
    size_t off_lin;         /* lambda_in (n_in), spectral only */
    size_t off_lout;        /* lambda_out (n_out), spectral only */
    size_t off_b;           /* bias (n_out) */
    /* The layer's dense products and their kernels (mm.h), planned at creation for a
       batch of max_batch: forward Z (B, n_out) = A (B, n_in) W; weight gradient
       G (n_in, n_out) = A^T dZ; input gradient dA (B, n_in) = dZ W^T (layers >= 1; NN
       on a transposed copy of W with libxsmm, NT with OpenBLAS). */
    ss_mm_t mm_forward, mm_weight_grad, mm_input_grad;
    /* The same products on feature-major activations (ss_net_t.feature_major; unplanned
       otherwise, and for a first layer that stays sample-major, !fm_first): forward Z^T (n_out, B) = W^T A^T (W read transposed), weight
       gradient [G; db] (n_in + 1, n_out) = [A^T; 1] dZ (the bias gradient as the last
       row), input gradient dA^T (n_in, B) = W dZ^T (layers >= 1). */
    ss_mm_t mm_fm_forward, mm_fm_weight_grad, mm_fm_input_grad;
} ss_layer_t;

/* Combine partial sums across the ranks of a worker group (MPI_Allreduce, SUM). */
typedef struct {
    void (*sum)(void *ctx, float *buf, size_t n);  /* NULL: single process */
    void *ctx;
} ss_reduce_t;

typedef struct {
    int n_layers;                      /* hidden layers + output layer */
    ss_layer_t layer[SS_MAX_LAYERS + 1];
    int n_inputs, n_outputs;
    ss_task_t task;

    size_t n_params;
    float *params, *grads;             /* n_params each, 64-byte aligned */
    float *adam_m, *adam_v;            /* the optimizer's moments (AdaMax: m and u) */
    long adam_t;                       /* optimizer steps taken */
    ss_optimizer_t optimizer;
    double lr, beta1, beta2, eps;      /* the optimizer's (adam_* or adamax_* keys) */
    float *wmask;                      /* n_params: 1 trainable, 0 frozen, for the weights
                                          of dense layers with a trainable subset; NULL
                                          when every layer trains all its weights */
    size_t n_trainable;                /* parameters the optimizer moves (segments, less
                                          the frozen entries of wmask) */
    double reg_eigenvalues, reg_eigenvectors;
    int train_eigenvectors, train_lambda_out;

    int batchnorm;                     /* after the first hidden layer */
    size_t off_bn_gamma, off_bn_beta;  /* into params, n = layer[0].n_out */
    float *bn_mean, *bn_var;           /* running statistics (not trained) */
    float dropout;                     /* rate after the first hidden layer */

    int n_segments;                    /* trainable ranges of params, for Adam */
    size_t seg_off[4 * (SS_MAX_LAYERS + 1) + 2], seg_len[4 * (SS_MAX_LAYERS + 1) + 2];

    int sparse_inputs;                 /* > 0: the first layer skips zero inputs, for
                                          samples of up to this many nonzero inputs
                                          (read-only; ss_net_set_sparse_inputs) */
    int max_batch;                     /* workspace capacity in samples */
    ss_mm_policy_t kernel_policy;      /* $SPECSWEEP_KERNELS at creation (mm.h) */
    int feature_major;                 /* 1: training steps keep the activations
                                          feature-major (net_fm.c): libxsmm for every
                                          product (SPECSWEEP_KERNELS=auto), no
                                          batch-norm, dropout or sparse first layer
                                          (ss_net_set_sparse_inputs sets it to 0) */
    int fm_first;                      /* with feature_major: the first layer too (when
                                          it has no more inputs than units; otherwise
                                          its products stay sample-major) */
    void *work;                        /* private workspace (activations, masks, W) */
} ss_net_t;

/*
 * Build a network for n_inputs -> model hidden layers -> n_outputs (n_classes, or 1 for
 * regression) with workspace for batches up to max_batch samples. Parameters are
 * initialised from `seed` as model->init says (default: Glorot-uniform psi/W,
 * lambda_in = 1, lambda_out = 0; always bias 0, batch-norm gamma 1 beta 0). Returns 0,
 * or -1 with err set.
 *
 * params layout: for each layer [psi or W][lambda_in][lambda_out][bias] (the lambdas of
 * spectral layers only), then batch-norm gamma, beta. Initialisation draws from
 * ss_rng_t (seed, SS_STREAM_INIT): psi/W of layer 0, 1, ... in row-major order, each
 * limit * (2u - 1) with limit = sqrt(6 / (n_in + n_out)) (Glorot), or init.eigenvectors
 * (psi) / init.weights (W) when those are > 0. Eigenvalues drawn from a range
 * (init.lambda_in or lambda_out with lo < hi) come from (seed, SS_STREAM_INIT_LAMBDA):
 * per spectral layer lambda_in then lambda_out, each lo + (hi - lo) u; a range with
 * lo == hi is that constant, no draw. The trainable subset (see above) comes from
 * (seed, SS_STREAM_SUBSET). None of this depends on max_batch or sparse inputs.
 * Errors (SS_EXIT_INPUT): sizes or max_batch < 1, classification with < 2 classes,
 * regression with != 1 output, more than SS_MAX_LAYERS hidden layers, an unknown
 * activation or spectral mode, dropout outside [0, 1), batch-norm/dropout without a
 * hidden layer, SPECSWEEP_KERNELS other than auto, measure or blas. All memory (params,
 * grads, Adam moments, workspace) is allocated here; the other functions never allocate
 * (but libxsmm, for a kernel of a batch size it has not seen: mm.h).
 *
 * The dense products' kernels are chosen here, per layer and product, by the policy in
 * $SPECSWEEP_KERNELS (mm.h: libxsmm where it has a kernel, by default) and recorded in
 * the layers (ss_net_product_kernel, ss_net_describe_kernels). libxsmm and OpenBLAS
 * round differently: the two kernel paths agree to float rounding, not bit for bit.
 */
int ss_net_create(ss_net_t *net, const ss_model_t *model, const ss_training_t *tr,
                  int n_inputs, int n_outputs, ss_task_t task, int max_batch,
                  uint64_t seed, ss_error_t *err);
/*
 * Sparse inputs: with max_nonzeros > 0 the first layer's products (forward Z = X W,
 * weight gradient X^T dZ) visit only the nonzero inputs of each sample, which pays when
 * most inputs are zero (images: MNIST digits are 81 % zeros). The results are those of
 * the dense products up to rounding (another summation order; see net.c).
 * max_nonzeros: the most nonzero inputs (NaN counts) a sample given to this net will have
 * (values above n_inputs mean n_inputs); the workspace holds max_batch x max_nonzeros of
 * them, four floats each. A batch with more in total is a programming error (ss_fatal,
 * before anything is written past the workspace). max_nonzeros <= 0 turns the path off.
 * Allocates (the one allocation outside ss_net_create); call it between steps. Turning
 * it on frees the feature-major step's kernels (feature_major becomes 0: the sparse
 * layer is sample-major); turning it off again keeps the sample-major step.
 */
void ss_net_set_sparse_inputs(ss_net_t *net, int max_nonzeros);

/* Datasets whose training inputs are at most this dense (ss_dataset_t.input_density)
   train with ss_net_set_sparse_inputs (bench/net_step measures the crossover: see
   bench/README.md). */
#define SS_SPARSE_INPUT_DENSITY 0.3

/* Frees everything; accepts a zeroed or half-built net. */
void ss_net_destroy(ss_net_t *net);

/*
 * One training-mode pass on this rank's shard: x (b x n_inputs), y (b labels/targets).
 * Sets grads to the gradient of  (1/batch_total) * sum over this shard of the per-sample
 * data loss  (L2 not included), so that summing grads over a group's shards gives the
 * gradient of the mean over the whole minibatch of batch_total samples. Batch-norm batch
 * statistics are reduced across the group with `red` (NULL or red->sum NULL: local).
 * `dropout_rng` draws the dropout mask (may be NULL when dropout is 0).
 * Returns this shard's SUM of per-sample data losses.
 *
 * 0 <= b <= max_batch (a larger b is a programming error: ss_fatal). Classification
 * labels must be class indices 0..n_classes-1; an invalid label makes the loss NaN.
 *
 * Batch-norm statistics: with red->sum set they are over batch_total samples, else over
 * the b local ones. red->sum is then called three times per pass, in this order, and is
 * collective: every rank of the group must call this function for every step, even
 * with b == 0. Forward: sum(h) (n0 floats) gives the mean, then sum((h - mean)^2) (n0
 * floats) the biased variance (two passes: exact where a one-pass sum of squares
 * cancels). Backward: the shard's sums of dy and dy * xhat (2 n0 floats). Without
 * batch-norm red is never used. The running statistics are updated identically on
 * every rank (Keras: running = 0.99 running + 0.01 batch, with the biased variance).
 * Dropout: one ss_rng_uniform per element of the shard's (b, n0) activations, row-major;
 * an element is dropped when the draw is < rate, kept ones are scaled by 1/(1-rate).
 */
double ss_net_forward_backward(ss_net_t *net, const float *x, const float *y, int b,
                               int batch_total, ss_rng_t *dropout_rng,
                               const ss_reduce_t *red);

/*
 * ss_net_forward_backward on the samples x[rows[0]], ..., x[rows[b - 1]] (rows of
 * n_inputs floats, read where they are) with their labels y (b, in that order): the
 * sparse first layer (ss_net_set_sparse_inputs) takes their nonzeros straight from x, so
 * the caller copies no inputs; a dense first layer copies them into the network's
 * workspace first. The same bits as ss_net_forward_backward on the rows copied.
 */
double ss_net_forward_backward_rows(ss_net_t *net, const float *x, const uint32_t *rows,
                                    const float *y, int b, int batch_total,
                                    ss_rng_t *dropout_rng, const ss_reduce_t *red);

/* Add the first layer's L2 gradient to grads; returns the penalty value
   reg_eigenvalues * sum(lambda_in^2) + reg_eigenvectors * sum(psi^2) (dense first layer:
   reg_eigenvectors * sum(W^2)). Call it once per step on the complete gradient (after
   the group reduction, or on exactly one rank before it). Frozen psi still counts in
   the value (a constant) but gets no gradient. */
double ss_net_add_l2(ss_net_t *net);
/* The penalty value alone. */
double ss_net_l2(const ss_net_t *net);

/* One optimizer step (Adam or AdaMax, Keras formulation) on the trainable segments, from
   grads. */
void ss_net_adam_step(ss_net_t *net);

/*
 * One optimizer step restricted to the parameters params[lo, hi): adds the first layer's
 * L2 gradient to their gradients and applies the optimizer to the trainable ones among
 * them, in one pass (grads itself is not written). Counts as one step (adam_t + 1)
 * whatever the range. Returns the part of the L2 penalty (ss_net_l2) that comes from params[lo,
 * hi), taken before the update. ss_net_update(net, 0, n_params) gives the same bits as
 * ss_net_add_l2 followed by ss_net_adam_step; cutting [0, n_params) into ranges stepped
 * by different ranks of a group, each holding the complete gradient of its own range,
 * gives the same parameters as well (the penalty parts then sum to the penalty up to
 * rounding).
 */
double ss_net_update(ss_net_t *net, size_t lo, size_t hi);

/*
 * Inference mode (batch-norm running statistics, no dropout) over n samples in chunks of
 * max_batch. `input_mask` (n_inputs bytes, NULL = all) zeroes inputs whose byte is 0.
 * ADDS to *loss_sum the sum of per-sample losses and to *correct, for classification,
 * the number of correct argmax predictions (for regression the sum of |error|); the
 * caller zeroes them. Either pointer may be NULL. Uses the workspace: no other call on
 * this net may run concurrently.
 */
void ss_net_evaluate(ss_net_t *net, const float *x, const float *y, int n,
                     const unsigned char *input_mask, double *loss_sum, double *correct);
/* The same with the masked-out inputs replaced by fill[i] (n_inputs values; NULL: zero),
   e.g. their training means. */
void ss_net_evaluate_fill(ss_net_t *net, const float *x, const float *y, int n,
                          const unsigned char *input_mask, const float *fill,
                          double *loss_sum, double *correct);
/* ss_net_evaluate on the samples x[rows[0]], ..., x[rows[n - 1]] (read where they are,
   as ss_net_forward_backward_rows reads them) with their labels y (n, in that order),
   no mask. The same bits as ss_net_evaluate on the rows copied. */
void ss_net_evaluate_rows(ss_net_t *net, const float *x, const uint32_t *rows,
                          const float *y, int n, double *loss_sum, double *correct);

/* First-layer relevance_i = lambda_in_i * ||psi_i,:|| (spectral first layer; for a dense
   first layer ||W_i,:|| with lambda_in = 1). Either output may be NULL. */
void ss_net_relevance(const ss_net_t *net, double *relevance, double *lambda_in);

/* The products of a layer, as planned at creation (ss_layer_t). */
typedef enum {
    SS_PRODUCT_FORWARD = 0,     /* Z = A W */
    SS_PRODUCT_WEIGHT_GRAD = 1, /* G = A^T dZ */
    SS_PRODUCT_INPUT_GRAD = 2   /* dA = dZ W^T (none for layer 0) */
} ss_product_t;

/* The plan of layer l's product `kind` that the training step runs (with feature_major:
   the feature-major plans, mm_fm_*, except a sample-major first layer's), or NULL (the
   input gradient of layer 0). */
const ss_mm_t *ss_net_product(const ss_net_t *net, int l, ss_product_t kind);
/* What computes it: "libxsmm", "OpenBLAS", "sparse" (the first layer on sparse inputs,
   forward and weight gradient) or "none". */
const char *ss_net_product_kernel(const ss_net_t *net, int l, ss_product_t kind);
/* One line per product: layer, kind, shape (m x n x k, transposes), kernel, and the
   measured rates when there are any. */
void ss_net_describe_kernels(const ss_net_t *net, FILE *f);
/* Times both kernels on every product's full shape (ss_mm_measure; ~10 ms per product)
   and records the rates in the plans, without changing the choice. */
void ss_net_measure_kernels(ss_net_t *net);

/* ---- attribution support (attrib.h) ------------------------------------------------- */
/* All four run in inference mode (batch-norm running statistics, no dropout) and never
   use the sparse first-layer path (their inputs are perturbed, hence dense). They use
   the workspace like ss_net_evaluate: no other call on this net may run concurrently. */

/* out (n, n_outputs) = the network's output (logits, or the regression prediction) for
   x (n, n_inputs), in chunks of max_batch. */
void ss_net_predict(ss_net_t *net, const float *x, int n, float *out);

/*
 * Gradient of one output per sample with respect to the input: for each of the b <=
 * max_batch samples of x (b, n_inputs), out[r] = output which[r] of sample r and
 * dx (b, n_inputs) = d out[r] / d x[r]. One forward and one backward pass; grads is not
 * touched. b > max_batch or which[r] outside [0, n_outputs) is a programming error
 * (ss_fatal). Activation derivatives are those of training (ReLU: 0 at 0).
 */
void ss_net_input_gradient(ss_net_t *net, const float *x, int b, const int *which,
                           float *out, float *dx);

/* The effective weights of layer l, w (n_in, n_out) row-major: psi_ij (lambda_in_i -
   lambda_out_j) for a spectral layer (the forward pass's expression), W for a dense one. */
void ss_net_layer_weights(const ss_net_t *net, int l, float *w);

/* Batch-norm after the first hidden layer in inference mode as an affine map of that
   layer's activations h (n0 = layer[0].n_out): post = h * scale + shift. Without
   batch-norm scale = 1, shift = 0 (dropout is the identity at inference). */
void ss_net_bn_affine(const ss_net_t *net, float *scale, float *shift);

#endif
