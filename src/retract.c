/* retract.c - telescopic retraction of linear layers. See include/specsweep/retract.h. */
#include "specsweep/retract.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Layer l's effective weights (net.h: the forward pass's float expression) in double. */
static void layer_weights(const ss_net_t *net, int l, double *w)
{
    const ss_layer_t *L = &net->layer[l];
    size_t nw = (size_t)L->n_in * (size_t)L->n_out;
    float *f = ss_malloc(nw * sizeof *f);
    ss_net_layer_weights(net, l, f);
    for (size_t k = 0; k < nw; k++)
        w[k] = f[k];
    free(f);
}

/* c (m, n) = a (m, k) b (k, n), row-major, in double. */
static void matmul(const double *a, const double *b, int m, int k, int n, double *c)
{
    memset(c, 0, (size_t)m * (size_t)n * sizeof *c);
    for (int i = 0; i < m; i++) {
        double *ci = c + (size_t)i * n;
        for (int p = 0; p < k; p++) {
            double aip = a[(size_t)i * k + p];
            const double *bp = b + (size_t)p * n;
            for (int j = 0; j < n; j++)
                ci[j] += aip * bp[j];
        }
    }
}

/* The chains of `net` under `mode`: last[c] is the last layer of chain c (the first
   chain starts at layer 0, chain c + 1 after last[c]). Returns the number of chains, or
   -1 with err when mode cannot apply. */
static int plan_chains(const ss_net_t *net, ss_retract_t mode, int last[], ss_error_t *err)
{
    if (mode != SS_RETRACT_LINEAR && mode != SS_RETRACT_ALL) {
        ss_error_set(err, SS_EXIT_INPUT, "retraction: mode %d is not linear or all", (int)mode);
        return -1;
    }
    if (net->batchnorm) {
        ss_error_set(err, SS_EXIT_INPUT, "retraction cannot cross the batch-norm after the "
                     "first layer");
        return -1;
    }
    int n = 0;
    for (int l = 0; l < net->n_layers; l++) {
        int linear = l + 1 < net->n_layers && net->layer[l].act == SS_ACT_LINEAR;
        if (!linear && mode == SS_RETRACT_ALL && l + 1 < net->n_layers) {
            ss_error_set(err, SS_EXIT_INPUT, "retraction of the whole network: hidden layer "
                         "%d is %s, not linear", l + 1, ss_act_name(net->layer[l].act));
            return -1;
        }
        if (!linear)
            last[n++] = l;
    }
    return n;
}

/* Chain [first, last] multiplied out: w (n_in of first, n_out of last) and b (n_out),
   malloc'd. Weights from the right (the narrow end of a funnel first), bias forwards. */
static void chain_product(const ss_net_t *net, int first, int last, double **w, double **b)
{
    const ss_layer_t *F = &net->layer[first], *L = &net->layer[last];
    size_t cap = 0, rcap = 0;  /* a layer's weights; the partial products r (n_in x n_out) */
    for (int l = first; l <= last; l++) {
        size_t n_in = (size_t)net->layer[l].n_in;
        cap = n_in * (size_t)net->layer[l].n_out > cap ? n_in * (size_t)net->layer[l].n_out : cap;
        rcap = n_in * (size_t)L->n_out > rcap ? n_in * (size_t)L->n_out : rcap;
    }
    double *r = ss_malloc(rcap * sizeof *r);
    double *wl = ss_malloc(cap * sizeof *wl);
    double *t = ss_malloc(rcap * sizeof *t);
    layer_weights(net, last, r);           /* r = W_last */
    for (int l = last - 1; l >= first; l--) {     /* r = W_l r */
        const ss_layer_t *Y = &net->layer[l];
        layer_weights(net, l, wl);
        matmul(wl, r, Y->n_in, Y->n_out, L->n_out, t);
        double *swap = r;
        r = t;
        t = swap;
    }
    /* b = (((b_first W_{first+1} + b_{first+1}) W_{first+2} + ...) + b_last */
    double *bv = ss_malloc((size_t)L->n_out * sizeof *bv), *bn = NULL;
    size_t width = (size_t)F->n_out;
    double *cur = ss_malloc(width * sizeof *cur);
    for (size_t j = 0; j < width; j++)
        cur[j] = net->params[F->off_b + j];
    for (int l = first + 1; l <= last; l++) {
        const ss_layer_t *Y = &net->layer[l];
        layer_weights(net, l, wl);
        bn = ss_malloc((size_t)Y->n_out * sizeof *bn);
        matmul(cur, wl, 1, Y->n_in, Y->n_out, bn);
        for (int j = 0; j < Y->n_out; j++)
            bn[j] += net->params[Y->off_b + (size_t)j];
        free(cur);
        cur = bn;
    }
    memcpy(bv, cur, (size_t)L->n_out * sizeof *bv);
    free(cur);
    free(wl);
    free(t);
    *w = r;
    *b = bv;
}

int ss_retract(const ss_net_t *net, ss_retract_t mode, int max_batch, ss_net_t *compact,
               ss_error_t *err)
{
    memset(compact, 0, sizeof *compact);
    int last[SS_MAX_LAYERS + 1];
    int n_chains = plan_chains(net, mode, last, err);
    if (n_chains < 0)
        return -1;

    /* the compact architecture: one dense layer per chain */
    ss_model_t m;
    ss_model_defaults(&m);
    m.n_hidden = n_chains - 1;
    m.spectral = SS_SPECTRAL_NONE;
    for (int c = 0; c + 1 < n_chains; c++) {
        m.hidden[c] = net->layer[last[c]].n_out;
        m.act[c] = net->layer[last[c]].act;
    }
    ss_training_t tr;
    ss_training_defaults(&tr);
    if (ss_net_create(compact, &m, &tr, net->n_inputs, net->n_outputs, net->task, max_batch,
                      0, err) != 0)
        return -1;

    for (int c = 0, first = 0; c < n_chains; first = last[c] + 1, c++) {
        double *w, *b;
        chain_product(net, first, last[c], &w, &b);
        const ss_layer_t *C = &compact->layer[c];
        size_t nw = (size_t)C->n_in * (size_t)C->n_out;
        for (size_t k = 0; k < nw; k++)
            compact->params[C->off_w + k] = (float)w[k];
        for (int j = 0; j < C->n_out; j++)
            compact->params[C->off_b + (size_t)j] = (float)b[j];
        free(w);
        free(b);
    }
    return 0;
}

void ss_retract_histogram(const ss_net_t *net, int bins, double range, int64_t *counts,
                          double *edges)
{
    for (int i = 0; i <= bins; i++)
        edges[i] = i == bins ? range : -range + 2.0 * range * (double)i / (double)bins;
    memset(counts, 0, (size_t)bins * sizeof *counts);
    const ss_layer_t *L = &net->layer[0];
    size_t nw = (size_t)L->n_in * (size_t)L->n_out;
    double *w = ss_malloc(nw * sizeof *w);
    layer_weights(net, 0, w);
    for (size_t k = 0; k < nw; k++) {
        if (!(w[k] >= -range && w[k] <= range))
            continue;
        int b = (int)floor((w[k] + range) / (2.0 * range) * bins);
        counts[b < bins ? b : bins - 1]++;
    }
    free(w);
}
