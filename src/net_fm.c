/*
 * net_fm.c - the training step on feature-major activations: every layer's activations
 * are kept transposed, (n_out, B), one row per unit with the batch's samples along it.
 * Declared in src/net_internal.h, private to the network module (include/specsweep/net.h).
 *
 * Why: libxsmm vectorises a product over the columns of its row-major C (mm.c), which
 * in the sample-major step (net.c) are a layer's units: 100 units fill 7 vectors of 16
 * lanes (89 %), 50 units 4 vectors (78 %), 2 units 1 vector (12 %). Kept feature-major,
 * the forward product Z^T = W^T A^T (W read transposed by the kernel, no copy) and the
 * input gradient dA^T = W dZ^T vectorise over the batch instead (500 samples: 98 % of
 * the lanes): on the papers' shapes 257-267 GFLOP/s against 207-237 (bench/README.md).
 * The weight gradient needs one operand sample-major: dZ is transposed back, once per
 * layer, and
 *
 *     [G; db] (n_in + 1, n_out) = [A^T; 1] dZ
 *
 * gives the bias gradient as the last row of the product, from a row of ones kept under
 * each layer's activations (and under the inputs).
 *
 * The same arithmetic as the sample-major step: the activations, their derivatives and
 * the softmax are the same functions lane by lane (net_act.c), the bias gradient's chain
 * 0 + 1 * dz_0 + 1 * dz_1 + ... rounds exactly as the sample-major step's sum db += dz_r
 * in row order (1 * x is exact), the loss is summed in row order, and most of libxsmm's
 * kernels compute each output as the chain of multiply-adds over k in increasing order
 * on either layout. So a minibatch of 500 rows (the papers' batch size, whose blocks of
 * 64 the sample-major step multiplies) gets the same bits from both steps. Not every
 * shape's kernel sums in that order (measured: none with at most 16 columns and at most
 * 11 rows, none with 65 to 80 columns; the others checked from 1 to 520 columns, k from 1
 * to 500, do), so a smaller last minibatch of an epoch may round differently on the two
 * layouts: results for a fixed seed change by rounding (docs/REPRODUCTION.md), while a
 * run still gives the same bits in any process. test_net compares the two steps.
 *
 * Used where libxsmm computes every product (SPECSWEEP_KERNELS=auto, the default) and
 * the network has no batch-norm or dropout after its first layer (whose batch
 * statistics and masks are sample-major) and no sparse first layer; the other steps, and
 * every pass that is not a training step (evaluation, prediction, the relevance
 * methods), run in net.c on sample-major activations.
 */
#include <math.h>
#include <string.h>

#include "net_internal.h"

void net_fm_release(ss_net_t *net)
{
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        ss_mm_release(&L->mm_fm_forward);
        ss_mm_release(&L->mm_fm_weight_grad);
        ss_mm_release(&L->mm_fm_input_grad);
    }
    net->feature_major = 0;
}

void net_fm_plan(ss_net_t *net, ss_mm_policy_t policy)
{
    net->feature_major = 0;
    if (policy != SS_MM_AUTO || !ss_mm_have_xsmm() || net->batchnorm || net->dropout > 0.0f)
        return;
    int B = net->max_batch, all = 1;
    net->fm_first = net->n_inputs <= net->layer[0].n_out;
    for (int l = 0; l < net->n_layers; l++) {
        ss_layer_t *L = &net->layer[l];
        int K = L->n_in, N = L->n_out;
        if (l == 0 && !net->fm_first) {   /* its sample-major products (net.c) */
            all &= L->mm_forward.kernel == SS_MM_XSMM &&
                   L->mm_weight_grad.kernel == SS_MM_XSMM;
            continue;
        }
        ss_mm_plan(&L->mm_fm_forward, 1, 0, N, B, K, policy);
        ss_mm_plan(&L->mm_fm_weight_grad, 0, 0, K + 1, N, B, policy);
        all &= L->mm_fm_forward.kernel == SS_MM_XSMM &&
               L->mm_fm_weight_grad.kernel == SS_MM_XSMM;
        if (l > 0) {
            ss_mm_plan(&L->mm_fm_input_grad, 0, 0, K, B, N, policy);
            all &= L->mm_fm_input_grad.kernel == SS_MM_XSMM;
        }
    }
    if (all)
        net->feature_major = 1;
    else
        net_fm_release(net);
}

/* out (n) = the column sums of d (rows, n), each in row order (as act_backward sums). */
static void column_sums(const float *restrict d, int rows, int n, float *restrict out)
{
    for (int j = 0; j < n; j++)
        out[j] = 0.0f;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            out[j] += d[(size_t)r * n + j];
}

/* row (n) = 1 */
static void ones(float *row, int n)
{
    for (int c = 0; c < n; c++)
        row[c] = 1.0f;
}

/*
 * The loss of b samples from the output layer's zt (n, b): returns its sum in sample
 * order and writes dzt (n, b) = dloss/dz * inv, as net.c's output_loss does row by row
 * (classification: softmax, loss = log(s) + max - z_y; regression: |z - y|).
 */
static double loss_fm(const ss_net_t *net, const float *zt, const float *y, int b,
                      float *dzt, float inv)
{
    int n = net->layer[net->n_layers - 1].n_out;
    double loss = 0.0;
    if (net->task == SS_TASK_REGRESSION) {
        for (int r = 0; r < b; r++) {
            double err = (double)zt[r] - (double)y[r];
            loss += fabs(err);
            dzt[r] = err > 0.0 ? inv : (err < 0.0 ? -inv : 0.0f);
        }
        return loss;
    }
    for (int c0 = 0; c0 < b; c0 += NET_SOFTMAX_ROWS) {
        int cols = b - c0 < NET_SOFTMAX_ROWS ? b - c0 : NET_SOFTMAX_ROWS;
        int best[NET_SOFTMAX_ROWS];
        float s[NET_SOFTMAX_ROWS];
        net_softmax_fm(zt + c0, (size_t)b, n, cols, inv, dzt + c0, s, best);
        for (int i = 0; i < cols; i++) {
            int r = c0 + i, c = net_label_class(y[r], n);
            loss += net_class_loss(zt + r, (size_t)b, s[i], best[i], c);
            if (c >= 0)
                dzt[(size_t)c * b + r] -= inv;
        }
    }
    return loss;
}

/*
 * Layer l's parameter gradients from dzt (n_out, b): dZ transposed into dz_sm (b, n_out),
 * [G; db] = [in^T; 1] dZ into the grads' W / psi slot (its bias row then moved to the
 * bias slot where that does not follow the weights: spectral layers) or, with psi
 * frozen, into the scratch, then the spectral transform (net_weights_grad_finish).
 */
static void weights_fm(ss_net_t *net, int l, const float *in_t, const float *dzt,
                       float *dz_sm, int b)
{
    ss_layer_t *L = &net->layer[l];
    net_work_t *w = net->work;
    int K = L->n_in, N = L->n_out;
    net_transpose(dzt, N, b, dz_sm);
    float *gw = net->grads + L->off_w;
    float *G = !L->spectral || net->train_eigenvectors ? gw : w->gscratch;
    if (!net_fm_layer(net, l)) {   /* the first layer; in_t is its input: G = X^T dZ */
        ss_mm_run(&L->mm_weight_grad, K, N, b, in_t, dz_sm, G);
        column_sums(dz_sm, b, N, net->grads + L->off_b);
        net_weights_grad_finish(net, l, G);
        return;
    }
    ss_mm_run(&L->mm_fm_weight_grad, K + 1, N, b, in_t, dz_sm, G);
    float *db_row = G + (size_t)K * N;
    if (db_row != net->grads + L->off_b)
        memcpy(net->grads + L->off_b, db_row, (size_t)N * sizeof(float));
    if (L->spectral && db_row == net->grads + L->off_lin)
        /* the row covered lambda_in's and lambda_out's slots: lambda_in's is written by
           the transform, lambda_out's accumulates from (or stays) zero */
        memset(net->grads + L->off_lout, 0, (size_t)N * sizeof(float));
    net_weights_grad_finish(net, l, G);
}

double net_fm_forward_backward(ss_net_t *net, const float *x, const uint32_t *rows,
                               const float *y, int b, int batch_total)
{
    net_work_t *w = net->work;
    int nl = net->n_layers, ni = net->n_inputs;

    /* forward: out[l] = act(W^T in + b), each with a row of ones under it */
    const float *in = w->xt;
    int first = 0;
    if (net->fm_first) {
        if (rows)   /* the rows gathered straight into their columns */
            for (int r = 0; r < b; r++)
                for (int i = 0; i < ni; i++)
                    w->xt[(size_t)i * b + r] = x[(size_t)rows[r] * ni + i];
        else
            net_transpose(x, b, ni, w->xt);
        ones(w->xt + (size_t)ni * b, b);
    } else {
        /* more inputs than units: the first layer sample-major, its output transposed
           (cheaper than transposing the inputs); x stays for its weight gradient */
        if (rows) {
            net_copy_rows(x, rows, b, ni, w->xmasked);
            x = w->xmasked;
        }
        int n0 = net->layer[0].n_out;
        net_layer_forward(net, 0, x, NULL, w->d1, b);
        net_transpose(w->d1, b, n0, w->out[0]);
        ones(w->out[0] + (size_t)n0 * b, b);
        in = w->out[0];
        first = 1;
    }
    for (int l = first; l < nl; l++) {
        ss_layer_t *L = &net->layer[l];
        float *zt = w->out[l];
        ss_mm_run(&L->mm_fm_forward, L->n_out, b, L->n_in, net_layer_weights(net, l), in,
                  zt);
        net_bias_act_fm(zt, net->params + L->off_b, L->n_out, b, L->act);
        ones(zt + (size_t)L->n_out * b, b);
        in = zt;
    }

    float inv = 1.0f / (float)(batch_total > 0 ? batch_total : 1);
    float *d = w->d0, *dprev = w->d1;
    double loss = loss_fm(net, w->out[nl - 1], y, b, d, inv);

    /* backward: d = dZ^T of layer l; out[l] is free once d is, and takes dZ */
    for (int l = nl - 1; l >= 0; l--) {
        ss_layer_t *L = &net->layer[l];
        const float *in_t = l > 0 ? w->out[l - 1] : net->fm_first ? w->xt : x;
        weights_fm(net, l, in_t, d, w->out[l], b);
        if (l == 0)
            break;
        ss_mm_run(&L->mm_fm_input_grad, L->n_in, b, L->n_out, net_layer_weights(net, l), d,
                  dprev);
        net_act_grad_fm(dprev, w->out[l - 1], (size_t)L->n_in * b, net->layer[l - 1].act);
        float *t = d;
        d = dprev;
        dprev = t;
    }
    return loss;
}
