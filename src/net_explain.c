/*
 * net_explain.c - inference outputs, input gradients and effective weights. These passes serve the post-hoc relevance methods (attrib.c). They run in inference
 * mode and always on the dense first-layer path: their inputs (noisy copies, points on
 * a path to a baseline, mixtures with a background) are not sparse, and the sparse
 * workspace is sized for the training data. The sparse layer is detached for the call
 * and restored afterwards; the next training step rebuilds its weights anyway.
 */
#include "specsweep/net.h"

#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"


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
    net_weights_build(net, 0);
    for (int start = 0; start < n; start += net->max_batch) {
        int B = n - start < net->max_batch ? n - start : net->max_batch;
        net_forward(net, x + (size_t)start * net->n_inputs, NULL, B, 0, B, NULL, NULL);
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
    net_weights_build(net, 1);   /* with the transposed copies the input gradients use */
    net_forward(net, x, NULL, b, 0, b, NULL, NULL);
    const float *z = w->out[last];
    float *d = w->d0, *dprev = w->d1;    /* (b, width): d out / d (layer output) */
    memset(d, 0, (size_t)b * no * sizeof(float));
    for (int r = 0; r < b; r++) {
        out[r] = z[(size_t)r * no + which[r]];
        d[(size_t)r * no + which[r]] = 1.0f;
    }
    for (int l = last; l >= 1; l--) {
        ss_layer_t *L = &net->layer[l];
        const float *W = L->mm_input_grad.trans_b ? net_layer_weights(net, l) : w->wt[l];
        ss_mm_run(&L->mm_input_grad, b, L->n_in, L->n_out, d, W, dprev);   /* d W^T */
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
    /* Training never needs the first layer's input gradient: its product is planned
       here, at first use (dx = d W0^T, W0 read transposed), and kept with the others. */
    ss_layer_t *L0 = &net->layer[0];
    if (L0->mm_input_grad.m == 0) {
        ss_mm_policy_t policy = SS_MM_AUTO;
        if (ss_mm_policy_from_env(&policy) != 0 || policy == SS_MM_MEASURE)
            policy = SS_MM_AUTO; /* a measured choice could differ between processes */
        ss_mm_plan(&L0->mm_input_grad, 0, 1, net->max_batch, L0->n_in, L0->n_out, policy);
    }
    ss_mm_run(&L0->mm_input_grad, b, L0->n_in, L0->n_out, d, net_layer_weights(net, 0), dx);
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
