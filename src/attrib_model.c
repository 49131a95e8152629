/*
 * attrib_model.c - the network as a double-precision model of its effective weights
 * (batch-norm folded), and the methods that run on it: LRP-epsilon and DeepLIFT, which
 * need every layer's pre-activations, and permutation importance, which updates the
 * first layer for a permuted column instead of recomputing it. See
 * include/specsweep/attrib.h.
 *
 * Shapes in comments: C = samples of the block, M = inputs, row-major everywhere.
 */
#include "attrib_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ------------------------------------------------------------------------ */

/* Layer l: z = in W + b (in: the previous layer's activations), then act. Batch-norm
   after the first layer is folded into layer 1: W1 <- diag(scale) W1, b1 <- b1 + shift
   W1. lo_wpos, hi_wneg: sum_i min_i w+_ij and sum_i max_i w-_ij of layer 0 (z^B). */
struct dmodel {
    int n_layers;
    int n_in[SS_MAX_LAYERS + 1], n_out[SS_MAX_LAYERS + 1];
    ss_act_t act[SS_MAX_LAYERS + 1];
    double *w[SS_MAX_LAYERS + 1], *b[SS_MAX_LAYERS + 1];
    double *wpos, *wneg;            /* (M, n0) layer 0 split by sign */
    double *lo_wpos, *hi_wneg;      /* (n0) */
};

/* Activations of a block: in[l] (C, n_in[l]) the input of layer l, z[l] (C, n_out[l]) its
   pre-activation. One allocation holds them all. */
typedef struct {
    double *block;
    double *in[SS_MAX_LAYERS + 1], *z[SS_MAX_LAYERS + 1];
} dpass_t;

void ss_attrib_model_free(struct dmodel *dm)
{
    if (!dm)
        return;
    for (int l = 0; l < dm->n_layers; l++) {
        free(dm->w[l]);
        free(dm->b[l]);
    }
    free(dm->wpos);
    free(dm->wneg);
    free(dm->lo_wpos);
    free(dm->hi_wneg);
    free(dm);
}

static struct dmodel *dmodel_get(ss_attrib_t *a)
{
    if (a->dm)
        return a->dm;
    const ss_net_t *net = a->net;
    struct dmodel *dm = ss_calloc(1, sizeof *dm);
    dm->n_layers = net->n_layers;
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        dm->n_in[l] = L->n_in;
        dm->n_out[l] = L->n_out;
        dm->act[l] = L->act;
        float *wf = ss_malloc(nw * sizeof(float));
        ss_net_layer_weights(net, l, wf);
        dm->w[l] = ss_malloc(nw * sizeof(double));
        dm->b[l] = ss_malloc((size_t)L->n_out * sizeof(double));
        for (size_t k = 0; k < nw; k++)
            dm->w[l][k] = wf[k];
        for (int j = 0; j < L->n_out; j++)
            dm->b[l][j] = net->params[L->off_b + (size_t)j];
        free(wf);
    }
    if (net->n_layers > 1) {      /* fold the inference-mode batch-norm into layer 1 */
        int n0 = dm->n_out[0], n1 = dm->n_out[1];
        float *scale = ss_malloc((size_t)n0 * sizeof(float));
        float *shift = ss_malloc((size_t)n0 * sizeof(float));
        ss_net_bn_affine(net, scale, shift);
        for (int i = 0; i < n0; i++)
            for (int j = 0; j < n1; j++) {
                double w = dm->w[1][(size_t)i * n1 + j];
                dm->b[1][j] += (double)shift[i] * w;
                dm->w[1][(size_t)i * n1 + j] = (double)scale[i] * w;
            }
        free(scale);
        free(shift);
    }
    int M = a->M, n0 = dm->n_out[0];
    dm->wpos = ss_malloc((size_t)M * n0 * sizeof(double));
    dm->wneg = ss_malloc((size_t)M * n0 * sizeof(double));
    dm->lo_wpos = ss_calloc((size_t)n0, sizeof(double));
    dm->hi_wneg = ss_calloc((size_t)n0, sizeof(double));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < n0; j++) {
            double w = dm->w[0][(size_t)i * n0 + j];
            dm->wpos[(size_t)i * n0 + j] = w > 0.0 ? w : 0.0;
            dm->wneg[(size_t)i * n0 + j] = w < 0.0 ? w : 0.0;
            dm->lo_wpos[j] += a->min[i] * (w > 0.0 ? w : 0.0);
            dm->hi_wneg[j] += a->max[i] * (w < 0.0 ? w : 0.0);
        }
    a->dm = dm;
    return dm;
}

static double act_value(ss_act_t act, double z)
{
    switch (act) {
    case SS_ACT_TANH: return tanh(z);
    case SS_ACT_RELU: return z > 0.0 ? z : 0.0;
    case SS_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    default: return z;
    }
}

static double act_slope(ss_act_t act, double z)
{
    switch (act) {
    case SS_ACT_TANH: { double t = tanh(z); return 1.0 - t * t; }
    case SS_ACT_RELU: return z > 0.0 ? 1.0 : 0.0;
    case SS_ACT_SIGMOID: { double s = 1.0 / (1.0 + exp(-z)); return s * (1.0 - s); }
    default: return 1.0;
    }
}

static void dpass_alloc(const struct dmodel *dm, int C, dpass_t *p)
{
    size_t total = 0;
    for (int l = 0; l < dm->n_layers; l++)
        total += (size_t)C * (dm->n_in[l] + dm->n_out[l]);
    p->block = ss_malloc(total * sizeof(double));
    double *q = p->block;
    for (int l = 0; l < dm->n_layers; l++) {
        p->in[l] = q;
        q += (size_t)C * dm->n_in[l];
        p->z[l] = q;
        q += (size_t)C * dm->n_out[l];
    }
}

/* z[l] (C, n_out[l]) = in[l] W_l + b_l. */
static void dpass_layer(const struct dmodel *dm, int l, int C, dpass_t *p)
{
    int ni = dm->n_in[l], no = dm->n_out[l];
    for (int r = 0; r < C; r++)
        memcpy(p->z[l] + (size_t)r * no, dm->b[l], (size_t)no * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, no, ni, 1.0, p->in[l], ni,
                dm->w[l], no, 1.0, p->z[l], no);
}

/* The layers after layer `from`, whose pre-activation z[from] is set. */
static void dpass_from(const struct dmodel *dm, int from, int C, dpass_t *p)
{
    for (int l = from; l + 1 < dm->n_layers; l++) {
        size_t n = (size_t)C * dm->n_out[l];
        for (size_t k = 0; k < n; k++)
            p->in[l + 1][k] = act_value(dm->act[l], p->z[l][k]);
        dpass_layer(dm, l + 1, C, p);
    }
}

static void dpass_forward(const struct dmodel *dm, const float *x, int C, dpass_t *p)
{
    dpass_alloc(dm, C, p);
    for (size_t k = 0; k < (size_t)C * dm->n_in[0]; k++)
        p->in[0][k] = x[k];
    dpass_layer(dm, 0, C, p);
    dpass_from(dm, 0, C, p);
}

/* out (C, n_in) = d (C, n_out) W^T */
static void dgemm_wt(const double *d, const double *W, int C, int n_in, int n_out, double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, n_in, n_out, 1.0, d, n_out, W,
                n_out, 0.0, out, n_in);
}

static double sgn1(double v) { return v >= 0.0 ? 1.0 : -1.0; }

/* ---- LRP and DeepLIFT ------------------------------------------------------------------ */

/*
 * LRP-epsilon (Bach et al. 2015; Montavon et al. 2019, "Layer-wise relevance propagation:
 * an overview"): the explained logit is the output relevance; through each dense layer
 *   R_i = a_i sum_j w_ij R_j / (z_j + eps sign(z_j)),   z_j = sum_i a_i w_ij + b_j,
 * relevance passing through activations unchanged (as Captum's LRP). At the input layer
 * with lrp_zb the z^B rule (Montavon et al. 2017) with the training bounds l <= x <= h:
 *   R_i = sum_j (x_i w_ij - l_i w+_ij - h_i w-_ij) R_j / (zB_j + eps sign(zB_j)).
 * The biases and the eps terms take  sum_j R_j (b_j + eps sign z_j) / (z_j + eps sign z_j)
 * at each layer (z^B: the eps term only): `absorbed`, so that sum_i R_i + absorbed =
 * f(x) up to rounding.
 */
void ss_attrib_lrp(ss_attrib_t *a, int first, int C, double *attr, double *check)
{
    struct dmodel *dm = dmodel_get(a);
    const float *x = a->d.x + (size_t)first * a->M;
    double eps = a->s.lrp_epsilon;
    dpass_t p;
    dpass_forward(dm, x, C, &p);
    int last = dm->n_layers - 1, wmax = a->M;
    for (int l = 0; l < dm->n_layers; l++)
        wmax = dm->n_out[l] > wmax ? dm->n_out[l] : wmax;
    double *R = ss_calloc((size_t)C * wmax, sizeof(double));
    double *Sv = ss_malloc((size_t)C * wmax * sizeof(double));
    double *T = ss_malloc((size_t)C * wmax * sizeof(double));
    double *absorbed = ss_calloc((size_t)C, sizeof(double));
    int no = dm->n_out[last];
    for (int r = 0; r < C; r++) {
        int c = a->target[first + r];
        R[(size_t)r * no + c] = p.z[last][(size_t)r * no + c];
        check[(size_t)r * 3 + 1] = p.z[last][(size_t)r * no + c];
    }
    a->forward += C;
    a->backward += C;
    for (int l = last; l >= 0; l--) {
        int ni = dm->n_in[l], n = dm->n_out[l];
        int zb = l == 0 && a->s.lrp_zb;
        for (int r = 0; r < C; r++)
            for (int j = 0; j < n; j++) {
                size_t k = (size_t)r * n + j;
                double z = p.z[l][k];
                if (zb) {    /* zB_j = sum_i (x_i w_ij - l_i w+_ij - h_i w-_ij) */
                    z = z - dm->b[0][j] - dm->lo_wpos[j] - dm->hi_wneg[j];
                    Sv[k] = R[k] / (z + eps * sgn1(z));
                    absorbed[r] += Sv[k] * eps * sgn1(z);
                } else {
                    Sv[k] = R[k] / (z + eps * sgn1(z));
                    absorbed[r] += Sv[k] * (dm->b[l][j] + eps * sgn1(z));
                }
            }
        dgemm_wt(Sv, dm->w[l], C, ni, n, T);
        for (size_t k = 0; k < (size_t)C * ni; k++)
            R[k] = p.in[l][k] * T[k];
        if (zb) {
            dgemm_wt(Sv, dm->wpos, C, ni, n, T);
            for (int r = 0; r < C; r++)
                for (int i = 0; i < ni; i++)
                    R[(size_t)r * ni + i] -= a->min[i] * T[(size_t)r * ni + i];
            dgemm_wt(Sv, dm->wneg, C, ni, n, T);
            for (int r = 0; r < C; r++)
                for (int i = 0; i < ni; i++)
                    R[(size_t)r * ni + i] -= a->max[i] * T[(size_t)r * ni + i];
        }
    }
    for (int r = 0; r < C; r++) {
        double sum = 0.0;
        for (int i = 0; i < a->M; i++) {
            attr[(size_t)r * a->M + i] = R[(size_t)r * a->M + i];
            sum += R[(size_t)r * a->M + i];
        }
        check[(size_t)r * 3] = sum;
        check[(size_t)r * 3 + 2] = absorbed[r];
    }
    free(R);
    free(Sv);
    free(T);
    free(absorbed);
    free(p.block);
}

/*
 * DeepLIFT with the Rescale rule (Shrikumar et al. 2017), as Captum's DeepLift: the
 * multipliers of the linear layers are their weights, those of an activation the secant
 * (act(z) - act(z0)) / (z - z0) between the sample's and the baseline's pre-activations
 * (the derivative at z where |z - z0| < 1e-10, Captum's threshold); the attribution is
 * (x - x0) times the input multiplier. Batch-norm (inference) is linear: folded.
 * Summation to delta: sum_i attr_i = f(x) - f(x0) up to rounding.
 */
void ss_attrib_deeplift(ss_attrib_t *a, int first, int C, double *attr, double *check)
{
    struct dmodel *dm = dmodel_get(a);
    int M = a->M, last = dm->n_layers - 1, wmax = M;
    const float *x = a->d.x + (size_t)first * M;
    const float *x0 = ss_attrib_baseline(a, a->s.deeplift_baseline);
    dpass_t p, p0;
    dpass_forward(dm, x, C, &p);
    dpass_forward(dm, x0, 1, &p0);
    a->forward += C + 1;
    a->backward += C;
    for (int l = 0; l < dm->n_layers; l++)
        wmax = dm->n_out[l] > wmax ? dm->n_out[l] : wmax;
    double *mult = ss_calloc((size_t)C * wmax, sizeof(double));
    double *T = ss_malloc((size_t)C * wmax * sizeof(double));
    int no = dm->n_out[last];
    for (int r = 0; r < C; r++) {
        int c = a->target[first + r];
        mult[(size_t)r * no + c] = 1.0;
        check[(size_t)r * 3 + 1] = p.z[last][(size_t)r * no + c] - p0.z[last][c];
        check[(size_t)r * 3 + 2] = 0.0;
    }
    for (int l = last; l >= 0; l--) {
        int ni = dm->n_in[l], n = dm->n_out[l];
        dgemm_wt(mult, dm->w[l], C, ni, n, T);
        if (l == 0) {
            memcpy(mult, T, (size_t)C * ni * sizeof(double));
            break;
        }
        ss_act_t act = dm->act[l - 1];
        for (int r = 0; r < C; r++)
            for (int j = 0; j < ni; j++) {
                size_t k = (size_t)r * ni + j;
                double z = p.z[l - 1][k], z0 = p0.z[l - 1][j], dz = z - z0;
                double slope = fabs(dz) < 1e-10 ? act_slope(act, z)
                                                : (act_value(act, z) - act_value(act, z0)) / dz;
                mult[k] = T[k] * slope;
            }
    }
    for (int r = 0; r < C; r++) {
        double sum = 0.0;
        for (int i = 0; i < M; i++) {
            double v = ((double)x[(size_t)r * M + i] - x0[i]) * mult[(size_t)r * M + i];
            attr[(size_t)r * M + i] = v;
            sum += v;
        }
        check[(size_t)r * 3] = sum;
    }
    free(mult);
    free(T);
    free(p.block);
    free(p0.block);
}

/* ---- permutation importance ----------------------------------------------------------- */

/* Accuracy (regression: MAE) of the network's outputs z (n, n_out) against the explained
   labels; the predicted class is the first largest output (as ss_net_evaluate). */
static double score(const ss_attrib_t *a, const double *z)
{
    int n = a->d.n, no = a->n_out;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        const double *zi = z + (size_t)i * no;
        if (a->net->task == SS_TASK_REGRESSION) {
            s += fabs(zi[0] - a->d.y[i]);
            continue;
        }
        int best = 0;
        for (int j = 1; j < no; j++)
            best = zi[j] > zi[best] ? j : best;
        s += best == a->target[i];
    }
    return s / n;
}

/*
 * Columns [c0, c1): each permuted permutation_repeats times among the explained samples
 * (ss_rng_shuffle keyed by (column, repeat)); value = mean over the repeats of the drop
 * of accuracy (classification) or the rise of MAE (regression). The network runs in the
 * double-precision model of LRP/DeepLIFT, and a permuted column only moves the first
 * layer's pre-activations by (x'_c - x_c) times row c of its weights: that layer is
 * updated, not recomputed (for MNIST it is 83 % of a forward pass). A column whose first-layer weights are all
 * zero gets exactly 0: the update adds zeros, the outputs keep their bits.
 */
void ss_attrib_permutation(ss_attrib_t *a, int c0, int c1, double *values, double *base_out)
{
    struct dmodel *dm = dmodel_get(a);
    int n = a->d.n, n0 = dm->n_out[0], last = dm->n_layers - 1;
    int reg = a->net->task == SS_TASK_REGRESSION;
    dpass_t p;
    dpass_forward(dm, a->d.x, n, &p);
    double *z0 = ss_malloc((size_t)n * n0 * sizeof(double));
    memcpy(z0, p.z[0], (size_t)n * n0 * sizeof(double));
    double base = score(a, p.z[last]);
    a->forward += n;
    uint32_t *perm = ss_malloc((size_t)n * sizeof *perm);
    for (int c = c0; c < c1; c++) {
        const double *wc = dm->w[0] + (size_t)c * n0;
        double sum = 0.0;
        for (int r = 0; r < a->s.permutation_repeats; r++) {
            ss_rng_t rng;
            ss_attrib_rng(a, SS_ATTRIB_PERMUTATION,
                          (uint64_t)c * (uint64_t)a->s.permutation_repeats + (uint64_t)r, &rng);
            for (int i = 0; i < n; i++)
                perm[i] = (uint32_t)i;
            ss_rng_shuffle(&rng, perm, (size_t)n);
            for (int i = 0; i < n; i++) {
                double dx = (double)a->d.x[(size_t)perm[i] * a->M + c] - a->d.x[(size_t)i * a->M + c];
                double *zi = p.z[0] + (size_t)i * n0;
                const double *bi = z0 + (size_t)i * n0;
                for (int j = 0; j < n0; j++)
                    zi[j] = bi[j] + dx * wc[j];
            }
            dpass_from(dm, 0, n, &p);
            double sc = score(a, p.z[last]);
            sum += reg ? sc - base : base - sc;
            a->forward += n;
        }
        values[c] = sum / a->s.permutation_repeats;
    }
    *base_out = base;
    free(z0);
    free(perm);
    free(p.block);
}
