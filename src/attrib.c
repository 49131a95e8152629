/*
 * attrib.c - post-hoc relevance methods: settings, the context, the gradient methods,
 * and the unit layout that makes the work splittable (parts, their packing, combining).
 * LRP, DeepLIFT and permutation importance are in attrib_model.c, KernelSHAP in
 * attrib_shap.c, the Fourier transforms in attrib_fourier.c. See
 * include/specsweep/attrib.h.
 *
 * Shapes in comments: C = samples of the current block (a unit, or an ss_attrib_explain
 * call), S = gradient rows per sample (steps, noisy copies), M = inputs, F = Fourier
 * entries, row-major everywhere.
 */
#include "attrib_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the context ------------------------------------------------------------------- */

float *ss_fbuf_get(ss_fbuf_t *b, size_t n)
{
    if (n > b->cap) {
        free(b->p);
        b->p = ss_alloc_aligned(n * sizeof(float));
        b->cap = n;
    }
    return b->p;
}

static int is_class(float y, int n_classes)
{
    return y >= 0.0f && y < (float)n_classes && y == floorf(y);
}

int ss_attrib_create(ss_attrib_t **out, ss_net_t *net, const ss_attrib_settings_t *s,
                     const ss_attrib_data_t *d, uint64_t seed, ss_error_t *err)
{
    *out = NULL;
    if (ss_attrib_settings_check(s, err) != 0)
        return -1;
    if (!net || !d || !d->x || !d->y || !d->x_train || d->n < 1 || d->n_train < 1 ||
        d->n_inputs != net->n_inputs) {
        ss_error_set(err, SS_EXIT_INPUT, "relevance: the data (%d inputs, %d explained, "
                     "%d training samples) does not fit the network (%d inputs)",
                     d ? d->n_inputs : 0, d ? d->n : 0, d ? d->n_train : 0,
                     net ? net->n_inputs : 0);
        return -1;
    }
    if (d->rows || d->cols) {
        if (d->rows < 1 || d->cols < 1 || (int64_t)d->rows * d->cols != d->n_inputs) {
            ss_error_set(err, SS_EXIT_INPUT, "relevance: input_shape %d x %d does not match "
                         "the %d inputs", d->rows, d->cols, d->n_inputs);
            return -1;
        }
    }
    int M = d->n_inputs;
    for (int i = 0; i < d->n && net->task == SS_TASK_CLASSIFICATION; i++)
        if (!is_class(d->y[i], net->n_outputs)) {
            ss_error_set(err, SS_EXIT_INPUT, "relevance: explained sample %d has label %g, "
                         "not a class of the network (0..%d)", i, d->y[i],
                         net->n_outputs - 1);
            return -1;
        }

    ss_attrib_t *a = ss_calloc(1, sizeof *a);
    a->net = net;
    a->s = *s;
    a->d = *d;
    a->seed = seed;
    a->M = M;
    a->n_out = net->n_outputs;
    a->target = ss_calloc((size_t)d->n, sizeof *a->target);
    a->id = ss_calloc((size_t)d->n, sizeof *a->id);
    for (int i = 0; i < d->n; i++) {
        a->target[i] = net->task == SS_TASK_CLASSIFICATION ? (int)d->y[i] : 0;
        a->id[i] = d->id ? d->id[i] : (uint32_t)i;
    }
    a->d.id = a->id;

    /* training statistics: mean and population std (two passes), min, max */
    a->mean = ss_calloc((size_t)M, sizeof(double));
    a->std = ss_calloc((size_t)M, sizeof(double));
    a->min = ss_calloc((size_t)M, sizeof(double));
    a->max = ss_calloc((size_t)M, sizeof(double));
    for (int j = 0; j < M; j++) {
        a->min[j] = INFINITY;
        a->max[j] = -INFINITY;
    }
    for (int r = 0; r < d->n_train; r++) {
        const float *xr = d->x_train + (size_t)r * M;
        for (int j = 0; j < M; j++) {
            a->mean[j] += xr[j];
            if (xr[j] < a->min[j]) a->min[j] = xr[j];
            if (xr[j] > a->max[j]) a->max[j] = xr[j];
        }
    }
    for (int j = 0; j < M; j++)
        a->mean[j] /= d->n_train;
    for (int r = 0; r < d->n_train; r++) {
        const float *xr = d->x_train + (size_t)r * M;
        for (int j = 0; j < M; j++)
            a->std[j] += (xr[j] - a->mean[j]) * (xr[j] - a->mean[j]);
    }
    a->zero_row = ss_alloc_aligned((size_t)M * sizeof(float));
    a->mean_row = ss_alloc_aligned((size_t)M * sizeof(float));
    for (int j = 0; j < M; j++) {
        a->std[j] = sqrt(a->std[j] / d->n_train);
        a->mean_row[j] = (float)a->mean[j];
    }
    *out = a;
    return 0;
}

void ss_attrib_destroy(ss_attrib_t **ap)
{
    if (!ap || !*ap)
        return;
    ss_attrib_t *a = *ap;
    ss_attrib_shap_free(a);
    ss_attrib_fourier_free(a);
    ss_attrib_model_free(a->dm);
    free(a->target);
    free(a->id);
    free(a->mean);
    free(a->std);
    free(a->min);
    free(a->max);
    free(a->zero_row);
    free(a->mean_row);
    free(a->rows.p);
    free(a->grads.p);
    free(a->outs.p);
    free(a->which);
    free(a);
    *ap = NULL;
}

const float *ss_attrib_baseline(const ss_attrib_t *a, ss_attrib_baseline_t b)
{
    return b == SS_ATTRIB_BASELINE_MEAN ? a->mean_row : a->zero_row;
}

/* Rows per pass: SS_ATTRIB_BATCH, or the net's capacity if smaller. */
static int pass_rows(const ss_attrib_t *a)
{
    return a->net->max_batch < SS_ATTRIB_BATCH ? a->net->max_batch : SS_ATTRIB_BATCH;
}

void ss_attrib_predict(ss_attrib_t *a, const float *rows, int n, float *out)
{
    int mb = pass_rows(a);
    for (int r0 = 0; r0 < n; r0 += mb)
        ss_net_predict(a->net, rows + (size_t)r0 * a->M, n - r0 < mb ? n - r0 : mb,
                       out + (size_t)r0 * a->n_out);
    a->forward += n;
}

void ss_attrib_gradients(ss_attrib_t *a, const float *rows, const int *which, int R,
                         float *out, float *dx)
{
    int mb = pass_rows(a);
    for (int r0 = 0; r0 < R; r0 += mb) {
        int b = R - r0 < mb ? R - r0 : mb;
        ss_net_input_gradient(a->net, rows + (size_t)r0 * a->M, b, which + r0, out + r0,
                              dx + (size_t)r0 * a->M);
    }
    a->forward += R;
    a->backward += R;
}

void ss_attrib_rng(const ss_attrib_t *a, ss_attrib_method_t m, uint64_t k, ss_rng_t *rng)
{
    char key[64];
    snprintf(key, sizeof key, "attrib/%s", ss_attrib_method_name(m));
    ss_rng_seed(rng, a->seed ^ ss_hash_str(key), k);
}

int ss_attrib_select_samples(int n_test, int samples, uint64_t seed, uint32_t *idx)
{
    int k = samples <= 0 || samples > n_test ? n_test : samples;
    if (k <= 0)
        return 0;
    uint32_t *all = ss_malloc((size_t)n_test * sizeof *all);
    for (int i = 0; i < n_test; i++)
        all[i] = (uint32_t)i;
    if (k < n_test) {     /* the first k of a partial Fisher-Yates shuffle */
        ss_rng_t rng;
        ss_rng_seed(&rng, seed ^ ss_hash_str("attrib/samples"), 0);
        for (int i = 0; i < k; i++) {
            int j = i + (int)ss_rng_below(&rng, (uint64_t)(n_test - i));
            uint32_t t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
    }
    /* increasing order: a counting pass over the chosen flags */
    unsigned char *chosen = ss_calloc((size_t)n_test, 1);
    for (int i = 0; i < k; i++)
        chosen[all[i]] = 1;
    for (int i = 0, c = 0; i < n_test; i++)
        if (chosen[i])
            idx[c++] = (uint32_t)i;
    free(chosen);
    free(all);
    return k;
}

/* ---- quadrature -------------------------------------------------------------------- */

/* n Gauss-Legendre nodes and weights on [0, 1] (weights sum to 1): the roots of P_n by
   Newton's method from Chebyshev guesses, as Captum's "gausslegendre" rule (numpy's
   leggauss mapped from [-1, 1] to [0, 1]). */
static void gauss_legendre(int n, double *alpha, double *weight)
{
    for (int i = 0; i < (n + 1) / 2; i++) {
        double x = cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 1.0;
        for (int it = 0; it < 100; it++) {
            double p0 = 1.0, p1 = x;           /* P_0, P_1, then the recurrence */
            for (int k = 2; k <= n; k++) {
                double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = n * (x * p1 - p0) / (x * x - 1.0);
            double dx = p1 / dp;
            x -= dx;
            if (fabs(dx) < 1e-15)
                break;
        }
        double w = 2.0 / ((1.0 - x * x) * dp * dp);
        alpha[i] = 0.5 * (1.0 - x);            /* ascending on [0, 1] */
        alpha[n - 1 - i] = 0.5 * (1.0 + x);
        weight[i] = weight[n - 1 - i] = 0.5 * w;
    }
}

/* ---- gradient methods -------------------------------------------------------------- */

/*
 * SpectralLens (Mehrpanah, Englesson, Azizpour: "On Spectral Properties of Gradient-based
 * Explanation Methods", ECCV 2024, arXiv 2508.10595). The paper proposes (i) a standard
 * perturbation scale and (ii) SpectralLens, an aggregation of squared-gradient
 * explanations over perturbation scales. The part of the paper at hand (abstract and
 * introduction) does not give the formulas; they are taken from the authors' public code
 * (github.com/Amir-Mehrpanah/On-Spectral-Properties-of-Gradient-based-Explanation-Methods
 * -ECCV24, branch berzelius, "up to date" by its README): the SpectralLens experiment
 * commands/experiment_6_1.py with source/explanation_methods/noise_interpolation.py,
 * source/operations.py (additive_combination) and source/data_manager.py
 * (save_spectral_lens, unif_mul_freq). What that code computes:
 *   - the perturbation at scale a: x + a e, e ~ 0.3 N(0, I) in the network's normalised
 *     input units ("gaussian-0.3", additive combination), a on a uniform grid of 20
 *     values in [0, 0.5] ("sl_u_0_0.5": uniform prior over a);
 *   - the explanation at scale a: E_e[(df/dx (x + a e))^2], the squared gradient at the
 *     perturbed input averaged over the noise (the "meanx2" statistic): SmoothGrad-
 *     Squared at noise level 0.3 a;
 *   - SpectralLens: the sum over the grid of a^(5/2) times the explanation at a.
 * Implemented here: x + a_k e with e_i ~ N(0, (spectrallens_noise std_i)^2), std_i the
 * training standard deviation of input i; a_k = k / K spectrallens_max_scale, k = 1..K;
 * Q noise draws per scale; SpectralLens_i = sum_k w_k mean_q (df/dx_i)^2 with w_k =
 * a_k^p / sum_k a_k^p.
 * Choices, where the code works on standardised images and we on raw tabular inputs:
 *   - "normalised units": each input's training std (spectrallens_noise = 0.3 of it), so
 *     the scale does not depend on an input's units (the standard scale of the paper's
 *     title is, in the code, this fixed noise level in standardised units);
 *   - the grid: K = spectrallens_scales = 10 scales up to 0.5 (a = 0 carries weight 0
 *     anyway) and Q = spectrallens_samples = 5 draws each: 50 gradients per sample, the
 *     budget of SmoothGrad (the authors draw until their statistics converge);
 *   - the weights a_k^p (p = spectrallens_exponent = 2.5, as unif_mul_freq) normalised
 *     to sum 1: a weighted mean of squared gradients, same ranking as their sum;
 *   - an earlier version of that code (branch main) combines convexly, (1 - a) x + a e;
 *     the SpectralLens experiment of the up-to-date branch adds the noise.
 */

/* Gradient rows per sample of a gradient method. */
static int grad_rows_per_sample(const ss_attrib_settings_t *s, ss_attrib_method_t m)
{
    switch (m) {
    case SS_ATTRIB_INTEGRATED_GRADIENTS: return s->ig_steps;
    case SS_ATTRIB_FOURIER: return s->fourier_steps;
    case SS_ATTRIB_SMOOTHGRAD:
    case SS_ATTRIB_SMOOTHGRAD_SQUARED: return s->smoothgrad_samples;
    case SS_ATTRIB_SPECTRALLENS: return s->spectrallens_scales * s->spectrallens_samples;
    default: return 1;
    }
}

static int is_path_method(ss_attrib_method_t m)
{
    return m == SS_ATTRIB_INTEGRATED_GRADIENTS || m == SS_ATTRIB_FOURIER;
}

/* The S gradient rows of sample x (M) into rows (S, M); alpha/weight: the quadrature of a
   path method. */
static void make_rows(ss_attrib_t *a, ss_attrib_method_t m, int sample, const float *x,
                      const double *alpha, float *rows)
{
    const ss_attrib_settings_t *s = &a->s;
    int M = a->M, S = grad_rows_per_sample(s, m);
    ss_rng_t rng;
    if (m == SS_ATTRIB_SMOOTHGRAD || m == SS_ATTRIB_SMOOTHGRAD_SQUARED ||
        m == SS_ATTRIB_SPECTRALLENS)
        ss_attrib_rng(a, m, a->id[sample], &rng);
    if (is_path_method(m)) {
        const float *x0 = ss_attrib_baseline(a, m == SS_ATTRIB_FOURIER ? s->fourier_baseline
                                                                        : s->ig_baseline);
        for (int k = 0; k < S; k++) {
            float t = (float)alpha[k];
            float *r = rows + (size_t)k * M;
            for (int j = 0; j < M; j++)
                r[j] = x0[j] + t * (x[j] - x0[j]);
        }
    } else if (m == SS_ATTRIB_SMOOTHGRAD || m == SS_ATTRIB_SMOOTHGRAD_SQUARED) {
        for (int k = 0; k < S; k++) {
            float *r = rows + (size_t)k * M;
            for (int j = 0; j < M; j++) {
                double sigma = s->smoothgrad_noise * (a->max[j] - a->min[j]);
                r[j] = (float)(x[j] + sigma * ss_rng_normal(&rng));
            }
        }
    } else if (m == SS_ATTRIB_SPECTRALLENS) {
        int K = s->spectrallens_scales, Q = s->spectrallens_samples;
        for (int k = 0; k < K; k++) {
            double t = (k + 1.0) / K * s->spectrallens_max_scale;
            for (int q = 0; q < Q; q++) {
                float *r = rows + ((size_t)k * Q + q) * M;
                for (int j = 0; j < M; j++) {
                    double sigma = t * s->spectrallens_noise * a->std[j];
                    r[j] = (float)(x[j] + sigma * ss_rng_normal(&rng));
                }
            }
        }
    } else {
        memcpy(rows, x, (size_t)M * sizeof(float));
    }
}

/* One sample's attribution ai (V) from its S gradient rows g (S, M) at the rows
   make_rows made from x: path weights `weight` (path methods, baseline x0), SpectralLens's
   scale weights wk, scratch avg (2 M, fourier). */
static void sample_attribution(ss_attrib_t *a, ss_attrib_method_t m, const float *x,
                               const float *g, const float *x0, const double *weight,
                               const double *wk, double *avg, double *ai)
{
    const ss_attrib_settings_t *s = &a->s;
    int M = a->M, S = grad_rows_per_sample(s, m);
    for (int j = 0; j < M && m != SS_ATTRIB_FOURIER; j++) {
        double v = 0.0;
        switch (m) {
        case SS_ATTRIB_SALIENCY: v = fabs(g[j]); break;
        case SS_ATTRIB_INPUT_X_GRADIENT: v = (double)x[j] * g[j]; break;
        case SS_ATTRIB_INTEGRATED_GRADIENTS:
            for (int k = 0; k < S; k++) v += weight[k] * g[(size_t)k * M + j];
            v *= (double)x[j] - x0[j];
            break;
        case SS_ATTRIB_SMOOTHGRAD:
            for (int k = 0; k < S; k++) v += g[(size_t)k * M + j];
            v /= S;
            break;
        case SS_ATTRIB_SMOOTHGRAD_SQUARED:
            for (int k = 0; k < S; k++) {
                double gk = g[(size_t)k * M + j];
                v += gk * gk;
            }
            v /= S;
            break;
        case SS_ATTRIB_SPECTRALLENS: {
            int Q = s->spectrallens_samples;
            for (int k = 0; k < s->spectrallens_scales; k++) {
                double sq = 0.0;
                for (int q = 0; q < Q; q++) {
                    double gj = g[((size_t)k * Q + q) * M + j];
                    sq += gj * gj;
                }
                v += wk[k] * (sq / Q);
            }
            break;
        }
        default: break;
        }
        ai[j] = v;
    }
    if (m == SS_ATTRIB_FOURIER) {
        for (int j = 0; j < M; j++) {
            double v = 0.0;
            for (int k = 0; k < S; k++) v += weight[k] * g[(size_t)k * M + j];
            avg[j] = (double)x[j] - x0[j];
            avg[M + j] = v;
        }
        ss_attrib_fourier_attr(a, avg, avg + M, ai);
    }
}

/* Gradient methods on samples [first, first + C): attr (C, V), check (C, 3). */
static void explain_gradient(ss_attrib_t *a, ss_attrib_method_t m, int first, int C,
                             double *attr, double *check)
{
    const ss_attrib_settings_t *s = &a->s;
    int M = a->M, S = grad_rows_per_sample(s, m);
    size_t R = (size_t)C * S;
    /* rows also holds [x_first .. x_first+C-1, x0] for the checks of the path methods */
    float *rows = ss_fbuf_get(&a->rows, (R > (size_t)C + 1 ? R : (size_t)C + 1) * M);
    float *grads = ss_fbuf_get(&a->grads, R * M);
    float *outs = ss_fbuf_get(&a->outs, R + (size_t)(C + 1) * a->n_out);
    if (R > a->which_cap) {
        free(a->which);
        a->which = ss_malloc(R * sizeof *a->which);
        a->which_cap = R;
    }
    double *alpha = NULL, *weight = NULL;
    if (is_path_method(m)) {
        alpha = ss_malloc(2 * (size_t)S * sizeof(double));
        weight = alpha + S;
        gauss_legendre(S, alpha, weight);
    }
    for (int i = 0; i < C; i++) {
        make_rows(a, m, first + i, a->d.x + (size_t)(first + i) * M, alpha,
                  rows + (size_t)i * S * M);
        for (int k = 0; k < S; k++)
            a->which[(size_t)i * S + k] = a->target[first + i];
    }
    ss_attrib_gradients(a, rows, a->which, (int)R, outs, grads);

    /* f(x) and f(baseline) for the completeness check of the path methods */
    float *fx = outs + R;
    const float *x0 = NULL;
    if (is_path_method(m)) {
        x0 = ss_attrib_baseline(a, m == SS_ATTRIB_FOURIER ? s->fourier_baseline
                                                          : s->ig_baseline);
        float *both = rows;   /* the rows are consumed: reuse for [x_first.., x0] */
        memcpy(both, a->d.x + (size_t)first * M, (size_t)C * M * sizeof(float));
        memcpy(both + (size_t)C * M, x0, (size_t)M * sizeof(float));
        ss_attrib_predict(a, both, C + 1, fx);
    }

    int V = ss_attrib_n_values(a, m);
    double *avg = m == SS_ATTRIB_FOURIER ? ss_malloc(2 * (size_t)M * sizeof(double)) : NULL;
    double wsum = 0.0, *wk = NULL;
    if (m == SS_ATTRIB_SPECTRALLENS) {
        wk = ss_malloc((size_t)s->spectrallens_scales * sizeof(double));
        for (int k = 0; k < s->spectrallens_scales; k++) {
            double t = (k + 1.0) / s->spectrallens_scales * s->spectrallens_max_scale;
            wk[k] = pow(t, s->spectrallens_exponent);
            wsum += wk[k];
        }
        for (int k = 0; k < s->spectrallens_scales; k++)
            wk[k] /= wsum;
    }
    for (int i = 0; i < C; i++) {
        const float *x = a->d.x + (size_t)(first + i) * M;
        const float *g = grads + (size_t)i * S * M;
        double *ai = attr + (size_t)i * V;
        sample_attribution(a, m, x, g, x0, weight, wk, avg, ai);
        double sum = 0.0;
        for (int j = 0; j < V; j++)
            sum += ai[j];
        double *ci = check + (size_t)i * 3;
        ci[0] = sum;
        ci[1] = sum;
        ci[2] = 0.0;
        if (x0) {
            int c = a->target[first + i];
            ci[1] = (double)fx[(size_t)i * a->n_out + c] - fx[(size_t)C * a->n_out + c];
        }
    }
    free(avg);
    free(wk);
    free(alpha);
}

/* ---- per-sample dispatch ------------------------------------------------------------- */

static int per_sample(ss_attrib_method_t m)
{
    return (unsigned)m < SS_ATTRIB_N_METHODS && m != SS_ATTRIB_SPECTRAL &&
           m != SS_ATTRIB_PERMUTATION;
}

static void explain_block(ss_attrib_t *a, ss_attrib_method_t m, int first, int C,
                          double *attr, double *check)
{
    switch (m) {
    case SS_ATTRIB_LRP_EPSILON: ss_attrib_lrp(a, first, C, attr, check); break;
    case SS_ATTRIB_DEEPLIFT: ss_attrib_deeplift(a, first, C, attr, check); break;
    case SS_ATTRIB_KERNEL_SHAP: ss_attrib_kernel_shap(a, first, C, attr, check); break;
    default: explain_gradient(a, m, first, C, attr, check); break;
    }
}

int ss_attrib_explain(ss_attrib_t *a, ss_attrib_method_t m, int first, int count,
                      double *attr, double *check, ss_error_t *err)
{
    if (!per_sample(m) || first < 0 || count < 0 || first > a->d.n - count) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_explain: method %d, samples [%d, %d) "
                     "of %d", (int)m, first, first + count, a->d.n);
        return -1;
    }
    if (count == 0)
        return 0;
    double *chk = check ? check : ss_malloc((size_t)count * 3 * sizeof(double));
    explain_block(a, m, first, count, attr, chk);
    if (!check)
        free(chk);
    return 0;
}

/* ---- units, parts and results ------------------------------------------------------ */

int ss_attrib_n_values(const ss_attrib_t *a, ss_attrib_method_t m)
{
    if ((unsigned)m >= SS_ATTRIB_N_METHODS)
        return 0;
    return m == SS_ATTRIB_FOURIER ? ss_attrib_fourier_values(a) : a->M;
}

int ss_attrib_n_units(const ss_attrib_t *a, ss_attrib_method_t m)
{
    if ((unsigned)m >= SS_ATTRIB_N_METHODS)
        return 0;
    if (m == SS_ATTRIB_SPECTRAL)
        return 1;
    int n = m == SS_ATTRIB_PERMUTATION ? a->M : a->d.n;
    return (n + a->s.chunk - 1) / a->s.chunk;
}

int ss_attrib_applies(const ss_attrib_t *a, ss_attrib_method_t m)
{
    return m != SS_ATTRIB_SPECTRAL || a->net->layer[0].spectral;
}

void ss_attrib_part_free(ss_attrib_part_t *part)
{
    if (!part)
        return;
    free(part->values);
    free(part->checks);
    memset(part, 0, sizeof *part);
}

int ss_attrib_compute(ss_attrib_t *a, ss_attrib_method_t m, int lo, int hi,
                      ss_attrib_part_t *part, ss_error_t *err)
{
    memset(part, 0, sizeof *part);
    int nu = ss_attrib_n_units(a, m);
    if (nu == 0 || lo < 0 || hi < lo || hi > nu) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_compute: method %d, units [%d, %d) "
                     "of %d", (int)m, lo, hi, nu);
        return -1;
    }
    if (!ss_attrib_applies(a, m)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_compute: %s does not apply to a dense "
                     "first layer", ss_attrib_method_name(m));
        return -1;
    }
    double t0 = ss_now();
    int64_t f0 = a->forward, b0 = a->backward;
    int V = ss_attrib_n_values(a, m), U = hi - lo, chunk = a->s.chunk;
    part->method = m;
    part->lo = lo;
    part->hi = hi;
    part->n_values = V;
    part->values = ss_calloc((size_t)(U ? U : 1) * V, sizeof(double));
    part->checks = ss_calloc((size_t)(U ? U : 1) * SS_ATTRIB_N_CHECKS, sizeof(double));

    if (m == SS_ATTRIB_SPECTRAL && U) {
        ss_net_relevance(a->net, part->values, NULL);
        for (int j = 0; j < V; j++)
            part->values[j] = fabs(part->values[j]);
    } else if (m == SS_ATTRIB_PERMUTATION && U) {
        for (int u = lo; u < hi; u++) {
            int c0 = u * chunk, c1 = c0 + chunk < a->M ? c0 + chunk : a->M;
            ss_attrib_permutation(a, c0, c1, part->values + (size_t)(u - lo) * V,
                                &part->checks[(size_t)(u - lo) * SS_ATTRIB_N_CHECKS + 2]);
        }
    } else if (U) {
        double *attr = ss_malloc((size_t)chunk * V * sizeof(double));
        double *check = ss_malloc((size_t)chunk * 3 * sizeof(double));
        for (int u = lo; u < hi; u++) {
            int first = u * chunk, C = a->d.n - first < chunk ? a->d.n - first : chunk;
            double *val = part->values + (size_t)(u - lo) * V;
            double *chk = part->checks + (size_t)(u - lo) * SS_ATTRIB_N_CHECKS;
            explain_block(a, m, first, C, attr, check);
            for (int i = 0; i < C; i++) {      /* in sample order: the unit's bits */
                const double *ai = attr + (size_t)i * V, *ci = check + (size_t)i * 3;
                for (int j = 0; j < V; j++)
                    val[j] += fabs(ai[j]);
                double e = m == SS_ATTRIB_LRP_EPSILON ? ci[0] + ci[2] - ci[1] : ci[0] - ci[1];
                chk[0] += fabs(e);
                chk[1] = fabs(e) > chk[1] ? fabs(e) : chk[1];
                chk[2] += fabs(ci[1]);
                chk[3] += fabs(ci[2]);
            }
        }
        free(attr);
        free(check);
    }
    part->forward = a->forward - f0;
    part->backward = a->backward - b0;
    part->seconds = ss_now() - t0;
    return 0;
}

#define PART_MAGIC 1396790338.0   /* "SSAB": a packed part starts with it */
#define PART_HEADER 8

size_t ss_attrib_part_packed_size(const ss_attrib_part_t *part)
{
    size_t U = (size_t)(part->hi - part->lo);
    return PART_HEADER + U * ((size_t)part->n_values + SS_ATTRIB_N_CHECKS);
}

void ss_attrib_part_pack(const ss_attrib_part_t *part, double *buf)
{
    size_t U = (size_t)(part->hi - part->lo), nv = U * (size_t)part->n_values;
    buf[0] = PART_MAGIC;
    buf[1] = part->method;
    buf[2] = part->lo;
    buf[3] = part->hi;
    buf[4] = part->n_values;
    buf[5] = (double)part->forward;
    buf[6] = (double)part->backward;
    buf[7] = part->seconds;
    memcpy(buf + PART_HEADER, part->values, nv * sizeof(double));
    memcpy(buf + PART_HEADER + nv, part->checks, U * SS_ATTRIB_N_CHECKS * sizeof(double));
}

size_t ss_attrib_part_packed_size_at(const double *buf, size_t n)
{
    if (n < PART_HEADER || buf[0] != PART_MAGIC || !(buf[2] >= 0 && buf[3] >= buf[2] &&
                                                      buf[4] >= 0 && buf[3] < 1e9 && buf[4] < 1e9))
        return 0;
    size_t size = PART_HEADER + (size_t)(buf[3] - buf[2]) * ((size_t)buf[4] + SS_ATTRIB_N_CHECKS);
    return size <= n ? size : 0;
}

int ss_attrib_part_unpack(const double *buf, size_t n, ss_attrib_part_t *part,
                          ss_error_t *err)
{
    memset(part, 0, sizeof *part);
    if (n < PART_HEADER || buf[0] != PART_MAGIC || !(buf[1] >= 0 && buf[1] < SS_ATTRIB_N_METHODS) ||
        !(buf[2] >= 0 && buf[3] >= buf[2] && buf[4] >= 0 && buf[3] < 1e9 && buf[4] < 1e9)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_part_unpack: not a packed part");
        return -1;
    }
    part->method = (ss_attrib_method_t)buf[1];
    part->lo = (int)buf[2];
    part->hi = (int)buf[3];
    part->n_values = (int)buf[4];
    if (ss_attrib_part_packed_size(part) != n) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_part_unpack: %zu doubles for a part of "
                     "%zu", n, ss_attrib_part_packed_size(part));
        memset(part, 0, sizeof *part);
        return -1;
    }
    size_t U = (size_t)(part->hi - part->lo), nv = U * (size_t)part->n_values;
    part->forward = (int64_t)buf[5];
    part->backward = (int64_t)buf[6];
    part->seconds = buf[7];
    part->values = ss_malloc((nv ? nv : 1) * sizeof(double));
    part->checks = ss_malloc((U ? U : 1) * SS_ATTRIB_N_CHECKS * sizeof(double));
    memcpy(part->values, buf + PART_HEADER, nv * sizeof(double));
    memcpy(part->checks, buf + PART_HEADER + nv, U * SS_ATTRIB_N_CHECKS * sizeof(double));
    return 0;
}

/* Which methods report checks (attrib.h, ss_attrib_result_t). */
static int has_checks(ss_attrib_method_t m)
{
    return m == SS_ATTRIB_INTEGRATED_GRADIENTS || m == SS_ATTRIB_FOURIER ||
           m == SS_ATTRIB_DEEPLIFT || m == SS_ATTRIB_KERNEL_SHAP || m == SS_ATTRIB_LRP_EPSILON;
}

int ss_attrib_combine(const ss_attrib_t *a, ss_attrib_method_t m,
                      const ss_attrib_part_t *parts, int n_parts, ss_attrib_result_t *res,
                      ss_error_t *err)
{
    memset(res, 0, sizeof *res);
    int nu = ss_attrib_n_units(a, m), V = ss_attrib_n_values(a, m);
    if (nu == 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_combine: invalid method %d", (int)m);
        return -1;
    }
    /* owner[u] = the part holding unit u: every unit exactly once */
    int *owner = ss_malloc((size_t)nu * sizeof *owner);
    for (int u = 0; u < nu; u++)
        owner[u] = -1;
    for (int p = 0; p < n_parts; p++) {
        const ss_attrib_part_t *pt = &parts[p];
        if (pt->method != m || pt->n_values != V || pt->lo < 0 || pt->hi > nu) {
            ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_combine: part %d is not a part of "
                         "%s's %d units", p, ss_attrib_method_name(m), nu);
            free(owner);
            return -1;
        }
        for (int u = pt->lo; u < pt->hi; u++) {
            if (owner[u] >= 0) {
                ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_combine: unit %d is in parts "
                             "%d and %d", u, owner[u], p);
                free(owner);
                return -1;
            }
            owner[u] = p;
        }
    }
    for (int u = 0; u < nu; u++)
        if (owner[u] < 0) {
            ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_combine: unit %d of %d is missing",
                         u, nu);
            free(owner);
            return -1;
        }

    res->method = m;
    res->n_values = V;
    res->relevance = ss_calloc((size_t)V, sizeof(double));
    double chk[SS_ATTRIB_N_CHECKS] = {0};
    for (int u = 0; u < nu; u++) {
        const ss_attrib_part_t *pt = &parts[owner[u]];
        const double *val = pt->values + (size_t)(u - pt->lo) * V;
        const double *c = pt->checks + (size_t)(u - pt->lo) * SS_ATTRIB_N_CHECKS;
        for (int j = 0; j < V; j++)
            res->relevance[j] += val[j];
        chk[0] += c[0];
        chk[1] = c[1] > chk[1] ? c[1] : chk[1];
        chk[2] += c[2];
        chk[3] += c[3];
    }
    for (int p = 0; p < n_parts; p++) {
        res->forward_passes += parts[p].forward;
        res->backward_passes += parts[p].backward;
        res->seconds += parts[p].seconds;
    }
    int n = a->d.n;
    res->n_samples = m == SS_ATTRIB_SPECTRAL ? 0 : n;
    if (per_sample(m))
        for (int j = 0; j < V; j++)
            res->relevance[j] /= n;
    if (has_checks(m)) {
        res->check_mean = chk[0] / n;
        res->check_max = chk[1];
        res->check_scale = chk[2] / n;
        res->absorbed_mean = chk[3] / n;
    } else if (m == SS_ATTRIB_PERMUTATION) {
        const ss_attrib_part_t *pt = &parts[owner[0]];
        res->check_scale = pt->checks[(size_t)(0 - pt->lo) * SS_ATTRIB_N_CHECKS + 2];
    }
    free(owner);
    return 0;
}

int ss_attrib_run(ss_attrib_t *a, ss_attrib_method_t m, ss_attrib_result_t *res,
                  ss_error_t *err)
{
    memset(res, 0, sizeof *res);
    if ((unsigned)m >= SS_ATTRIB_N_METHODS) {
        ss_error_set(err, SS_EXIT_RUNTIME, "ss_attrib_run: invalid method %d", (int)m);
        return -1;
    }
    if (!ss_attrib_applies(a, m)) {
        res->method = m;
        res->skipped = 1;
        snprintf(res->note, sizeof res->note, "%s skipped: the first layer is dense (no "
                 "eigenvalues)", ss_attrib_method_name(m));
        return 0;
    }
    ss_attrib_part_t part;
    if (ss_attrib_compute(a, m, 0, ss_attrib_n_units(a, m), &part, err) != 0)
        return -1;
    int rc = ss_attrib_combine(a, m, &part, 1, res, err);
    ss_attrib_part_free(&part);
    return rc;
}

void ss_attrib_result_free(ss_attrib_result_t *res)
{
    if (!res)
        return;
    free(res->relevance);
    memset(res, 0, sizeof *res);
}
