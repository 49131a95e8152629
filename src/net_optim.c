/*
 * net_optim.c - the first layer's L2 penalty and the optimizer steps (Adam, AdaMax; Keras'
 * formulas), whole or over a range of the parameters (ss_net_update, for a step sharded
 * over a group's ranks). See include/specsweep/net.h.
 */
#include "specsweep/net.h"

#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* ---- L2 on the first layer ---------------------------------------------------------- */

/* The penalty value; with grads non-NULL also adds its gradient to the trainable
   first-layer parameters. */
static double l2_apply(const ss_net_t *net, float *grads)
{
    const ss_layer_t *L = &net->layer[0];
    size_t nw = (size_t)L->n_in * (size_t)L->n_out;
    const float *wp = net->params + L->off_w;
    double sw = net_sumsq(wp, nw), sl = 0.0;
    if (grads && (!L->spectral || net->train_eigenvectors)) {
        float *gw = grads + L->off_w, cw = (float)(2.0 * net->reg_eigenvectors);
        const float *msk = net->wmask && !L->spectral ? net->wmask + L->off_w : NULL;
        if (msk)   /* frozen weights of a trainable subset get no L2 gradient either */
            for (size_t k = 0; k < nw; k++)
                gw[k] = msk[k] != 0.0f ? gw[k] + cw * wp[k] : gw[k];
        else
            for (size_t k = 0; k < nw; k++)
                gw[k] += cw * wp[k];
    }
    if (L->spectral) {
        const float *lin = net->params + L->off_lin;
        sl = net_sumsq(lin, (size_t)L->n_in);
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

/* The optimizer's constants of the step being taken (after adam_t was incremented):
   Keras' lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) for Adam, lr / (1 - b1^t) for AdaMax. */
typedef struct {
    float b1, b2, lr_t, eps;
    int adamax;
} adam_consts_t;

static adam_consts_t adam_begin_step(ss_net_t *net)
{
    net->adam_t++;
    double t = (double)net->adam_t;
    int adamax = net->optimizer == SS_OPT_ADAMAX;
    double lr_t = adamax ? net->lr / (1.0 - pow(net->beta1, t))
                         : net->lr * sqrt(1.0 - pow(net->beta2, t)) / (1.0 - pow(net->beta1, t));
    adam_consts_t a = {(float)net->beta1, (float)net->beta2, (float)lr_t, (float)net->eps,
                       adamax};
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

/*
 * The general step: Adam or AdaMax, the L2 term (c * p, when l2) and a trainable-subset
 * mask msk (NULL: every entry trains). A masked-out entry's gradient is 0, so its moments
 * stay 0 and it moves by lr_t * 0 / (0 + eps) = 0 exactly. AdaMax (Keras):
 * m = b1 m + (1 - b1) g, u = max(b2 u, |g|), p -= lr_t m / (u + eps), u in v.
 */
static void step_loop(float *restrict p, const float *restrict g, float *restrict m,
                      float *restrict v, const float *restrict msk, size_t n,
                      adam_consts_t a, int l2, float c)
{
    for (size_t k = 0; k < n; k++) {
        float gk = l2 ? g[k] + c * p[k] : g[k];
        gk = !msk || msk[k] != 0.0f ? gk : 0.0f;
        m[k] = a.b1 * m[k] + (1.0f - a.b1) * gk;
        if (a.adamax) {
            float u = a.b2 * v[k], ag = fabsf(gk);
            v[k] = u > ag ? u : ag;
            p[k] -= a.lr_t * m[k] / (v[k] + a.eps);
        } else {
            v[k] = a.b2 * v[k] + (1.0f - a.b2) * gk * gk;
            p[k] -= a.lr_t * m[k] / (sqrtf(v[k]) + a.eps);
        }
    }
}

static void adam_range(ss_net_t *net, size_t lo, size_t hi, adam_consts_t a, int l2, float c)
{
    if (hi <= lo)
        return;
    if (!a.adamax && !net->wmask)   /* Adam on every entry: the loop of the first results */
        adam_loop(net->params + lo, net->grads + lo, net->adam_m + lo, net->adam_v + lo,
                  hi - lo, a, l2, c);
    else
        step_loop(net->params + lo, net->grads + lo, net->adam_m + lo, net->adam_v + lo,
                  net->wmask ? net->wmask + lo : NULL, hi - lo, a, l2, c);
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
            sums[r] = net_sumsq(net->params + a, b - a);
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
