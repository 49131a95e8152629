/*
 * test_attrib.c - the post-hoc relevance methods: input gradients against finite
 * differences, integrated-gradients completeness, LRP conservation, DeepLIFT summation
 * to delta, KernelSHAP against exact Shapley values (linear model, enumeration), the
 * permutation importance of an invisible column, Fourier attribution of single-frequency
 * inputs and the top-k reconstruction, bit-identical results for any split of the work
 * into parts, settings and argument errors. The values against an independent float64
 * reference are in test_attrib_reference.py.
 */
#include "specsweep/attrib.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- networks and data ------------------------------------------------------------------ */

typedef struct {
    ss_spectral_t spectral;
    int n_hidden, hidden[3];
    ss_act_t act[3];
    int batchnorm;
    double dropout;
    ss_task_t task;
    int n_in, n_out;
} net_spec_t;

static ss_model_t spec_model(const net_spec_t *c)
{
    ss_model_t m;
    ss_model_defaults(&m);
    m.n_hidden = c->n_hidden;
    for (int l = 0; l < c->n_hidden; l++) {
        m.hidden[l] = c->hidden[l];
        m.act[l] = c->act[l];
    }
    m.spectral = c->spectral;
    m.batchnorm_after_first = c->batchnorm;
    m.dropout_after_first = c->dropout;
    m.train_lambda_out = 1;
    return m;
}

/* Gaussian inputs with per-input offsets and scales (so that means, ranges and bounds
   differ between inputs); classification labels from a fixed random linear rule. */
static void make_data(float *x, float *y, int n, int M, int n_out, ss_task_t task,
                      uint64_t seed)
{
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, 77);
    for (int r = 0; r < n; r++) {
        double s = 0.0;
        for (int j = 0; j < M; j++) {
            double v = 0.3 * (j % 3) + (0.5 + 0.1 * (j % 4)) * ss_rng_normal(&rng);
            x[(size_t)r * M + j] = (float)v;
            s += (j % 2 ? 1.0 : -0.7) * v;
        }
        if (task == SS_TASK_REGRESSION)
            y[r] = (float)(0.5 * s + 0.1 * ss_rng_normal(&rng));
        else      /* n_out bands of s */
            y[r] = (float)(s < -0.6 ? 0 : (n_out > 2 && s < 0.6 ? 1 : n_out - 1));
    }
}

/* A network trained for a few Adam steps on data like the test data, so that its
   batch-norm statistics, lambda_out and biases are away from their initial values. */
static int make_net(ss_net_t *net, const net_spec_t *c, int max_batch, uint64_t seed)
{
    ss_model_t m = spec_model(c);
    ss_training_t t;
    memset(&t, 0, sizeof t);
    t.learning_rate = 2e-2;
    t.adam_beta1 = 0.9;
    t.adam_beta2 = 0.999;
    t.adam_epsilon = 1e-7;
    t.train_eigenvectors = 1;
    t.reg_eigenvalues = 1e-3;
    ss_error_t err = {0};
    int B = 64;
    if (ss_net_create(net, &m, &t, c->n_in, c->n_out, c->task,
                      max_batch > B ? max_batch : B, seed, &err) != 0) {
        fprintf(stderr, "ss_net_create: %s\n", err.msg);
        return -1;
    }
    float *x = malloc((size_t)B * c->n_in * sizeof(float)), *y = malloc(B * sizeof(float));
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, 5);
    for (int step = 0; step < 200; step++) {
        make_data(x, y, B, c->n_in, c->n_out, c->task, seed * 1000 + step);
        ss_net_forward_backward(net, x, y, B, B, &rng, NULL);
        ss_net_update(net, 0, net->n_params);
    }
    free(x);
    free(y);
    return 0;
}

typedef struct {
    float *x_train, *y_train, *x, *y;
    int n_train, n;
    ss_attrib_data_t d;
} data_t;

static void data_make(data_t *D, const net_spec_t *c, int n_train, int n, uint64_t seed)
{
    D->n_train = n_train;
    D->n = n;
    D->x_train = malloc((size_t)n_train * c->n_in * sizeof(float));
    D->y_train = malloc((size_t)n_train * sizeof(float));
    D->x = malloc((size_t)n * c->n_in * sizeof(float));
    D->y = malloc((size_t)n * sizeof(float));
    make_data(D->x_train, D->y_train, n_train, c->n_in, c->n_out, c->task, seed);
    make_data(D->x, D->y, n, c->n_in, c->n_out, c->task, seed + 1);
    memset(&D->d, 0, sizeof D->d);
    D->d.n_inputs = c->n_in;
    D->d.n_train = n_train;
    D->d.x_train = D->x_train;
    D->d.n = n;
    D->d.x = D->x;
    D->d.y = D->y;
}

static void data_free(data_t *D)
{
    free(D->x_train);
    free(D->y_train);
    free(D->x);
    free(D->y);
}

static ss_attrib_t *context(ss_net_t *net, const ss_attrib_settings_t *s, const data_t *D)
{
    ss_attrib_t *a = NULL;
    ss_error_t err = {0};
    if (ss_attrib_create(&a, net, s, &D->d, 42, &err) != 0)
        fprintf(stderr, "ss_attrib_create: %s\n", err.msg);
    return a;
}

static const net_spec_t SPECTRAL_TANH = {SS_SPECTRAL_ALL, 2, {9, 7}, {SS_ACT_TANH, SS_ACT_SIGMOID},
                                         1, 0.0, SS_TASK_CLASSIFICATION, 8, 3};
static const net_spec_t DENSE_TANH = {SS_SPECTRAL_NONE, 2, {9, 7}, {SS_ACT_SIGMOID, SS_ACT_TANH},
                                      1, 0.2, SS_TASK_CLASSIFICATION, 8, 3};
static const net_spec_t SPECTRAL_RELU = {SS_SPECTRAL_ALL, 3, {10, 8, 6},
                                         {SS_ACT_TANH, SS_ACT_RELU, SS_ACT_RELU}, 0, 0.0,
                                         SS_TASK_CLASSIFICATION, 8, 2};
static const net_spec_t DENSE_RELU_REG = {SS_SPECTRAL_NONE, 2, {9, 7}, {SS_ACT_RELU, SS_ACT_RELU},
                                          1, 0.0, SS_TASK_REGRESSION, 8, 1};
static const net_spec_t FIRST_REG = {SS_SPECTRAL_FIRST, 2, {9, 7}, {SS_ACT_TANH, SS_ACT_RELU},
                                     0, 0.0, SS_TASK_REGRESSION, 8, 1};

/* ---- input gradients ------------------------------------------------------------------- */

/* ss_net_input_gradient against central differences of ss_net_predict (smooth
   activations: h = 1e-2, truncation ~h^2), and saliency = |gradient| exactly. */
static void test_gradient_fd(void)
{
    const net_spec_t *cases[2] = {&SPECTRAL_TANH, &DENSE_TANH};
    for (int k = 0; k < 2; k++) {
        const net_spec_t *c = cases[k];
        ss_net_t net;
        if (make_net(&net, c, 16, 3 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, c, 200, 5, 11);
        int M = c->n_in, no = c->n_out;
        float g[5 * 8], out[5], fp[3], fm[3], xp[8];
        int which[5];
        for (int r = 0; r < 5; r++) which[r] = (int)D.y[r];
        ss_net_input_gradient(&net, D.x, 5, which, out, g);
        double worst = 0.0, scale = 0.0;
        for (int r = 0; r < 5; r++) {
            ss_net_predict(&net, D.x + (size_t)r * M, 1, fp);
            CHECK(fabsf(fp[which[r]] - out[r]) <= 1e-6f * (1 + fabsf(out[r])),
                  "out[%d] %g vs predict %g", r, out[r], fp[which[r]]);
            for (int j = 0; j < M; j++) {
                const double h = 1e-2;
                memcpy(xp, D.x + (size_t)r * M, M * sizeof(float));
                xp[j] = (float)(D.x[(size_t)r * M + j] + h);
                double hp = xp[j] - D.x[(size_t)r * M + j];
                ss_net_predict(&net, xp, 1, fp);
                xp[j] = (float)(D.x[(size_t)r * M + j] - h);
                double hm = D.x[(size_t)r * M + j] - xp[j];
                ss_net_predict(&net, xp, 1, fm);
                double fd = ((double)fp[which[r]] - fm[which[r]]) / (hp + hm);
                worst = fmax(worst, fabs(fd - g[r * M + j]));
                scale = fmax(scale, fabs(g[r * M + j]));
            }
        }
        (void)no;
        CHECK(worst <= 2e-3 * scale, "case %d: gradient vs finite differences %.3e (scale %.3e)",
              k, worst, scale);
        printf("gradient vs finite differences (%s): max diff %.2e of max |g| %.2e\n",
               k ? "dense" : "spectral", worst, scale);

        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        ss_attrib_t *a = context(&net, &s, &D);
        double attr[5 * 8];
        ss_error_t err = {0};
        CHECK(ss_attrib_explain(a, SS_ATTRIB_SALIENCY, 0, 5, attr, NULL, &err) == 0, "%s", err.msg);
        int same = 1;
        for (int q = 0; q < 5 * M; q++) same &= attr[q] == fabs((double)g[q]);
        CHECK(same, "saliency is |gradient|");
        CHECK(ss_attrib_explain(a, SS_ATTRIB_INPUT_X_GRADIENT, 0, 5, attr, NULL, &err) == 0, "%s", err.msg);
        same = 1;
        for (int q = 0; q < 5 * M; q++) same &= attr[q] == (double)D.x[q] * g[q];
        CHECK(same, "input_x_gradient is x * gradient");
        /* zero noise: SmoothGrad is the gradient, SmoothGrad^2 its square */
        s.smoothgrad_noise = 0.0;
        ss_attrib_destroy(&a);
        a = context(&net, &s, &D);
        CHECK(ss_attrib_explain(a, SS_ATTRIB_SMOOTHGRAD, 0, 5, attr, NULL, &err) == 0, "%s", err.msg);
        double dev = 0.0;
        for (int q = 0; q < 5 * M; q++) dev = fmax(dev, fabs(attr[q] - g[q]));
        CHECK(dev <= 1e-6 * scale, "smoothgrad at zero noise = gradient (%g)", dev);
        CHECK(ss_attrib_explain(a, SS_ATTRIB_SMOOTHGRAD_SQUARED, 0, 5, attr, NULL, &err) == 0, "%s", err.msg);
        dev = 0.0;
        for (int q = 0; q < 5 * M; q++) dev = fmax(dev, fabs(attr[q] - (double)g[q] * g[q]));
        CHECK(dev <= 1e-6 * scale * scale, "smoothgrad_squared at zero noise = gradient^2");
        /* SpectralLens at a vanishing noise level: the squared gradient */
        s.spectrallens_max_scale = 1e-7;
        ss_attrib_destroy(&a);
        a = context(&net, &s, &D);
        CHECK(ss_attrib_explain(a, SS_ATTRIB_SPECTRALLENS, 0, 5, attr, NULL, &err) == 0, "%s", err.msg);
        dev = 0.0;
        for (int q = 0; q < 5 * M; q++) dev = fmax(dev, fabs(attr[q] - (double)g[q] * g[q]));
        CHECK(dev <= 1e-4 * scale * scale, "spectrallens at scale -> 0 = gradient^2 (%g)", dev);
        ss_attrib_destroy(&a);
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* ---- completeness and conservation -------------------------------------------------------- */

/*
 * Integrated gradients, 50 Gauss-Legendre steps: the completeness error |sum attr -
 * (f(x) - f(x0))| relative to mean |f(x) - f(x0)| is below 1e-4 on smooth (tanh/sigmoid)
 * networks and below 2e-2 on ReLU networks (kinks slow the quadrature), both baselines.
 */
static void test_ig_completeness(void)
{
    const net_spec_t *cases[4] = {&SPECTRAL_TANH, &DENSE_TANH, &SPECTRAL_RELU, &DENSE_RELU_REG};
    const double bound[4] = {1e-4, 1e-4, 2e-2, 2e-2};
    for (int k = 0; k < 4; k++) {
        ss_net_t net;
        if (make_net(&net, cases[k], 256, 20 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, cases[k], 300, 64, 30 + k);
        for (int b = 0; b < 2; b++) {
            ss_attrib_settings_t s;
            ss_attrib_defaults(&s);
            s.ig_baseline = b ? SS_ATTRIB_BASELINE_MEAN : SS_ATTRIB_BASELINE_ZERO;
            ss_attrib_t *a = context(&net, &s, &D);
            ss_attrib_result_t r;
            ss_error_t err = {0};
            CHECK(ss_attrib_run(a, SS_ATTRIB_INTEGRATED_GRADIENTS, &r, &err) == 0, "%s", err.msg);
            double rel = r.check_mean / r.check_scale;
            CHECK(rel < bound[k], "case %d baseline %d: IG completeness %.3e (bound %.0e)", k, b,
                  rel, bound[k]);
            printf("IG completeness, case %d, %s baseline: mean %.2e, max %.2e, relative %.2e "
                   "(bound %.0e)\n", k, b ? "mean" : "zero", r.check_mean, r.check_max, rel,
                   bound[k]);
            CHECK(r.forward_passes == 64 * 50 + 64 / 16 * 17 && r.backward_passes == 64 * 50,
                  "IG passes %lld %lld", (long long)r.forward_passes, (long long)r.backward_passes);
            ss_attrib_result_free(&r);
            ss_attrib_destroy(&a);
        }
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/*
 * LRP-epsilon: input relevance + what biases and epsilon absorb = f(x) for every sample
 * (relative 1e-9: double precision); with every bias zero (and no batch-norm shift) the
 * input relevance alone sums to f(x) (relative 1e-6: only the epsilon terms remain),
 * with the epsilon rule and with z^B at the input. DeepLIFT: sum = f(x) - f(x0)
 * (relative 1e-9) for both baselines.
 */
/* Method m on the n samples of D in a fresh context with the default settings, changed
   by `set` (may be NULL) with argument v. */
static void explain_all(ss_net_t *net, const data_t *D, ss_attrib_method_t m,
                        void (*set)(ss_attrib_settings_t *, int), int v, double *attr,
                        double *check)
{
    ss_attrib_settings_t s;
    ss_attrib_defaults(&s);
    if (set)
        set(&s, v);
    ss_attrib_t *a = context(net, &s, D);
    ss_error_t err = {0};
    CHECK(a && ss_attrib_explain(a, m, 0, D->n, attr, check, &err) == 0, "%s: %s",
          ss_attrib_method_name(m), err.msg);
    ss_attrib_destroy(&a);
}

static void set_zb(ss_attrib_settings_t *s, int v) { s->lrp_zb = v; }

static void set_deeplift_mean(ss_attrib_settings_t *s, int v)
{
    s->deeplift_baseline = v ? SS_ATTRIB_BASELINE_MEAN : SS_ATTRIB_BASELINE_ZERO;
}

/* max over samples of |check[k0] + check[k2] - check[1]| / (|each term| + sum |attr|). */
static double worst_residual(const double *attr, const double *check, int n, int M, int k2)
{
    double worst = 0.0;
    for (int r = 0; r < n; r++) {
        const double *c = check + r * 3;
        double mag = fabs(c[0]) + fabs(c[1]) + (k2 ? fabs(c[2]) : 0.0);
        for (int j = 0; j < M; j++) mag += fabs(attr[r * M + j]);
        worst = fmax(worst, fabs(c[0] + (k2 ? c[2] : 0.0) - c[1]) / mag);
    }
    return worst;
}

static void test_conservation(void)
{
    const net_spec_t *cases[4] = {&SPECTRAL_TANH, &DENSE_TANH, &SPECTRAL_RELU, &FIRST_REG};
    for (int k = 0; k < 4; k++) {
        ss_net_t net;
        if (make_net(&net, cases[k], 32, 40 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, cases[k], 300, 20, 50 + k);
        int M = cases[k]->n_in;
        double attr[20 * 8], check[20 * 3];
        for (int zb = 0; zb < 2; zb++) {
            explain_all(&net, &D, SS_ATTRIB_LRP_EPSILON, set_zb, zb, attr, check);
            double absorbed = 0.0, fsum = 0.0;
            for (int r = 0; r < 20; r++) {
                double sum = 0.0;
                for (int j = 0; j < M; j++) sum += attr[r * M + j];
                CHECK(sum == check[r * 3], "check[0] is the sum");
                absorbed += fabs(check[r * 3 + 2]);
                fsum += fabs(check[r * 3 + 1]);
            }
            double worst = worst_residual(attr, check, 20, M, 1);
            CHECK(worst < 1e-9, "case %d zb %d: LRP conservation %.3e", k, zb, worst);
            printf("LRP conservation, case %d, %s input rule: worst %.1e; mean |absorbed| / mean "
                   "|f(x)| %.2f\n", k, zb ? "z^B" : "epsilon", worst, absorbed / fsum);
        }
        for (int b = 0; b < 2; b++) {
            explain_all(&net, &D, SS_ATTRIB_DEEPLIFT, set_deeplift_mean, b, attr, check);
            double worst = worst_residual(attr, check, 20, M, 0);
            CHECK(worst < 1e-9, "case %d: DeepLIFT summation to delta %.3e", k, worst);
            printf("DeepLIFT summation to delta, case %d, %s baseline: worst %.1e\n", k,
                   b ? "mean" : "zero", worst);
        }
        /* zero every bias and the batch-norm shift: nothing left to absorb but epsilon */
        for (int l = 0; l < net.n_layers; l++)
            memset(net.params + net.layer[l].off_b, 0, net.layer[l].n_out * sizeof(float));
        if (net.batchnorm)
            for (int j = 0; j < net.layer[0].n_out; j++) {
                net.params[net.off_bn_beta + j] = 0.0f;
                net.bn_mean[j] = 0.0f;
            }
        for (int zb = 0; zb < 2; zb++) {
            explain_all(&net, &D, SS_ATTRIB_LRP_EPSILON, set_zb, zb, attr, check);
            double worst = 0.0;
            for (int r = 0; r < 20; r++)
                worst = fmax(worst, fabs(check[r * 3] - check[r * 3 + 1]) / fabs(check[r * 3 + 1]));
            CHECK(worst < 1e-6, "case %d zb %d: bias-free LRP sums to f(x): %.3e", k, zb, worst);
        }
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* ---- KernelSHAP ----------------------------------------------------------------------------- */

/* A linear model f = x w + b (no hidden layer): the Shapley values against the mean
   background are w_i (x_i - mean_i), whatever coalitions are drawn (the least squares
   fit is exact). 20 inputs: the default budget samples. Also with a 5-means background,
   whose weighted mean is the training mean. Relative 1e-4 of max |phi| (float outputs). */
static void test_shap_linear(void)
{
    net_spec_t c = {SS_SPECTRAL_ALL, 0, {0}, {0}, 0, 0.0, SS_TASK_REGRESSION, 20, 1};
    ss_net_t net;
    if (make_net(&net, &c, 256, 7) != 0) { CHECK(0, "net"); return; }
    data_t D;
    data_make(&D, &c, 500, 6, 8);
    float w[20];
    ss_net_layer_weights(&net, 0, w);
    double mean[20] = {0};
    for (int r = 0; r < D.n_train; r++)
        for (int j = 0; j < 20; j++) mean[j] += D.x_train[r * 20 + j];
    for (int j = 0; j < 20; j++) mean[j] /= D.n_train;
    for (int bg = 0; bg < 2; bg++) {
        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        s.shap_kmeans = bg ? 5 : 0;
        ss_attrib_t *a = context(&net, &s, &D);
        double phi[6 * 20], check[6 * 3];
        ss_error_t err = {0};
        CHECK(ss_attrib_explain(a, SS_ATTRIB_KERNEL_SHAP, 0, 6, phi, check, &err) == 0, "%s", err.msg);
        double worst = 0.0, scale = 0.0;
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < 20; j++) {
                double want = w[j] * ((double)D.x[r * 20 + j] - mean[j]);
                worst = fmax(worst, fabs(phi[r * 20 + j] - want));
                scale = fmax(scale, fabs(want));
            }
        CHECK(worst <= 1e-4 * scale, "linear KernelSHAP (%s): %.3e of %.3e", bg ? "5 means" : "mean",
              worst, scale);
        printf("KernelSHAP on a linear model, %s background: max |phi - w (x - E x)| %.2e of %.2e\n",
               bg ? "5-means" : "mean", worst, scale);
        ss_attrib_destroy(&a);
    }
    data_free(&D);
    ss_net_destroy(&net);
}

/* Exact Shapley values of f_c against the mean background by their definition:
   phi_i = sum over S without i of |S|! (M - |S| - 1)! / M! (v(S + i) - v(S)). */
static void exact_shapley(ss_net_t *net, const float *x, int c, const double *mean, int M,
                          double *phi)
{
    int NS = 1 << M, no = net->n_outputs;
    double *v = malloc(NS * sizeof(double));
    float *row = malloc(M * sizeof(float)), *out = malloc(no * sizeof(float));
    for (int S = 0; S < NS; S++) {
        for (int j = 0; j < M; j++) row[j] = (S >> j) & 1 ? x[j] : (float)mean[j];
        ss_net_predict(net, row, 1, out);
        v[S] = out[c];
    }
    double fact[32] = {1};
    for (int k = 1; k <= M; k++) fact[k] = fact[k - 1] * k;
    for (int i = 0; i < M; i++) {
        phi[i] = 0.0;
        for (int S = 0; S < NS; S++) {
            if ((S >> i) & 1) continue;
            int s = __builtin_popcount((unsigned)S);
            phi[i] += fact[s] * fact[M - s - 1] / fact[M] * (v[S | (1 << i)] - v[S]);
        }
    }
    free(v);
    free(row);
    free(out);
}

/* 4 inputs: 14 coalitions fit the budget, so KernelSHAP enumerates them and must give the
   exact Shapley values up to float32 rounding of the network's outputs (relative 1e-6 of
   max |phi|: the small-matrix kernels may round a row differently for another number of
   rows in the batch, and the two computations batch their coalitions differently). 10 inputs with 600 of the 1022
   coalitions (sizes 1, 9, 2, 8 enumerated, the rest drawn): within 5e-2 of max |phi|;
   with 1021 (sizes 1..4 and 6..9 enumerated, 251 draws of size 5 sharing its mass):
   within 1e-2. */
static void test_shap_exact(void)
{
    const int Ms[3] = {4, 10, 10}, budgets[3] = {0, 600, 1021};
    const double tols[3] = {1e-6, 5e-2, 1e-2};
    for (int k = 0; k < 3; k++) {
        int M = Ms[k];
        net_spec_t c = {SS_SPECTRAL_ALL, 2, {8, 6}, {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0,
                        SS_TASK_CLASSIFICATION, M, 3};
        ss_net_t net;
        if (make_net(&net, &c, 512, 60 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, &c, 400, 8, 70 + k);
        double mean[10] = {0};
        for (int r = 0; r < D.n_train; r++)
            for (int j = 0; j < M; j++) mean[j] += D.x_train[r * M + j];
        for (int j = 0; j < M; j++) mean[j] /= D.n_train;
        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        s.shap_samples = budgets[k];
        ss_attrib_t *a = context(&net, &s, &D);
        double phi[8 * 10], check[8 * 3], ref[10];
        ss_error_t err = {0};
        CHECK(ss_attrib_explain(a, SS_ATTRIB_KERNEL_SHAP, 0, 8, phi, check, &err) == 0, "%s", err.msg);
        double worst = 0.0, scale = 0.0, eff = 0.0;
        for (int r = 0; r < 8; r++) {
            exact_shapley(&net, D.x + r * M, (int)D.y[r], mean, M, ref);
            for (int j = 0; j < M; j++) {
                worst = fmax(worst, fabs(phi[r * M + j] - ref[j]));
                scale = fmax(scale, fabs(ref[j]));
            }
            eff = fmax(eff, fabs(check[r * 3] - check[r * 3 + 1]));
        }
        double tol = tols[k];
        CHECK(worst <= tol * scale, "M = %d: KernelSHAP vs exact Shapley %.3e of %.3e", M, worst, scale);
        CHECK(eff <= 1e-9 * scale, "M = %d: efficiency %.3e", M, eff);
        printf("KernelSHAP vs exact Shapley values, %d inputs (%d of %d coalitions): max diff "
               "%.2e of max |phi| %.2e\n", M, budgets[k] ? budgets[k] : (1 << M) - 2,
               (1 << M) - 2, worst, scale);
        ss_attrib_destroy(&a);
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* ---- permutation importance ------------------------------------------------------------------ */

/* A column whose eigenvalue and eigenvector row (dense: weight row) are zero cannot be
   seen: its importance is exactly 0. The other columns are not all 0. With the sparse
   first-layer path enabled the values are the same bits and the setting is restored. */
static void test_permutation_dead_column(void)
{
    const net_spec_t *cases[3] = {&SPECTRAL_TANH, &DENSE_TANH, &FIRST_REG};
    for (int k = 0; k < 3; k++) {
        ss_net_t net;
        if (make_net(&net, cases[k], 64, 80 + k) != 0) { CHECK(0, "net"); continue; }
        int M = cases[k]->n_in, dead = 5;
        const ss_layer_t *L = &net.layer[0];
        if (L->spectral) net.params[L->off_lin + dead] = 0.0f;
        memset(net.params + L->off_w + (size_t)dead * L->n_out, 0, L->n_out * sizeof(float));
        data_t D;
        data_make(&D, cases[k], 300, 150, 90 + k);
        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        s.chunk = 3;
        ss_attrib_t *a = context(&net, &s, &D);
        ss_attrib_result_t r, r2;
        ss_error_t err = {0};
        CHECK(ss_attrib_run(a, SS_ATTRIB_PERMUTATION, &r, &err) == 0, "%s", err.msg);
        CHECK(r.relevance[dead] == 0.0, "case %d: dead column importance %g", k, r.relevance[dead]);
        int other = 0;
        for (int j = 0; j < M; j++) other += j != dead && r.relevance[j] != 0.0;
        CHECK(other > 0, "case %d: some column matters", k);
        CHECK(r.forward_passes == (int64_t)150 * (M * 5 + 3), "passes %lld",
              (long long)r.forward_passes);
        ss_net_set_sparse_inputs(&net, M);
        CHECK(ss_attrib_run(a, SS_ATTRIB_PERMUTATION, &r2, &err) == 0, "%s", err.msg);
        CHECK(!memcmp(r.relevance, r2.relevance, M * sizeof(double)), "sparse path: same bits");
        CHECK(net.sparse_inputs == M, "sparse setting restored");
        printf("permutation importance (case %d): invisible column %g, base score %.3f\n", k,
               r.relevance[dead], r.check_scale);
        ss_attrib_result_free(&r);
        ss_attrib_result_free(&r2);
        ss_attrib_destroy(&a);
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* ---- Fourier ---------------------------------------------------------------------------------- */

/* Inputs made of one frequency: with the zero baseline every attribution lands on that
   frequency (the others are below 1e-6 of it: the float32 rounding of the input's
   values is all that spreads). 1-D of length 16 (radix 2) and 15
   (Bluestein); 2-D 4 x 6 at (ky, kx) = (1, 2), and at (1, 0) where the entries (1, 0)
   and (3, 0) share it equally. The Fourier attributions sum to integrated gradients'
   (relative 1e-9). Keeping every coefficient reproduces the evaluation of the inputs;
   keeping the single frequency of such an input too. */
static void test_fourier(void)
{
    struct { int rows, cols, M, ky, kx; } cases[4] = {
        {0, 0, 16, 0, 3}, {0, 0, 15, 0, 4}, {4, 6, 24, 1, 2}, {4, 6, 24, 1, 0}};
    for (int k = 0; k < 4; k++) {
        int M = cases[k].M, rows = cases[k].rows ? cases[k].rows : 1;
        int cols = cases[k].rows ? cases[k].cols : M;
        net_spec_t c = {SS_SPECTRAL_ALL, 2, {12, 6}, {SS_ACT_TANH, SS_ACT_RELU}, 0, 0.0,
                        SS_TASK_CLASSIFICATION, M, 2};
        ss_net_t net;
        if (make_net(&net, &c, 256, 100 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, &c, 200, 3, 110 + k);
        D.d.rows = cases[k].rows;
        D.d.cols = cases[k].cols;
        for (int r = 0; r < 3; r++)          /* amplitude and phase per sample */
            for (int i = 0; i < M; i++) {
                int rr = i / cols, cc = i % cols;
                double th = 2 * M_PI * ((double)cases[k].ky * rr / rows + (double)cases[k].kx * cc / cols);
                D.x[r * M + i] = (float)((1.0 + r) * cos(th + 0.7 * r));
            }
        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        ss_attrib_t *a = context(&net, &s, &D);
        int F = ss_attrib_n_values(a, SS_ATTRIB_FOURIER);
        CHECK(F == rows * (cols / 2 + 1), "fourier size %d", F);
        double *attr = malloc(3 * F * sizeof(double)), ig[3 * 24], check[9], ichk[9];
        ss_error_t err = {0};
        CHECK(ss_attrib_explain(a, SS_ATTRIB_FOURIER, 0, 3, attr, check, &err) == 0, "%s", err.msg);
        CHECK(ss_attrib_explain(a, SS_ATTRIB_INTEGRATED_GRADIENTS, 0, 3, ig, ichk, &err) == 0, "%s", err.msg);
        int f0 = cases[k].ky * (cols / 2 + 1) + cases[k].kx;
        int f1 = cases[k].kx == 0 && cases[k].ky ? (rows - cases[k].ky) * (cols / 2 + 1) : f0;
        double leak = 0.0, on = 0.0, sum_dev = 0.0;
        for (int r = 0; r < 3; r++) {
            for (int f = 0; f < F; f++) {
                double v = fabs(attr[r * F + f]);
                if (f == f0 || f == f1) on = fmax(on, v); else leak = fmax(leak, v);
            }
            if (f1 != f0)
                CHECK(fabs(attr[r * F + f0] - attr[r * F + f1]) <= 1e-9 * on, "conjugate pair shares");
            sum_dev = fmax(sum_dev, fabs(check[r * 3] - ichk[r * 3]) / (fabs(ichk[r * 3]) + 1e-30));
            CHECK(check[r * 3 + 1] == ichk[r * 3 + 1], "same f(x) - f(x0)");
        }
        CHECK(on > 0 && leak <= 1e-6 * on, "case %d: attribution off the frequency %.3e of %.3e", k, leak, on);
        CHECK(sum_dev < 1e-9, "case %d: Fourier sum vs IG sum %.3e", k, sum_dev);
        printf("Fourier, %s %dx%d, frequency (%d, %d): attribution elsewhere %.1e of %.1e; sum vs "
               "IG %.1e\n", cases[k].rows ? "2-D" : "1-D", rows, cols, cases[k].ky, cases[k].kx,
               leak, on, sum_dev);

        /* on the unmodified (random) inputs too: the Fourier entries sum to IG's sum */
        data_t R;
        data_make(&R, &c, 200, 3, 115 + k);
        R.d.rows = D.d.rows;
        R.d.cols = D.d.cols;
        ss_attrib_t *ar = context(&net, &s, &R);
        CHECK(ss_attrib_explain(ar, SS_ATTRIB_FOURIER, 0, 3, attr, check, &err) == 0, "%s", err.msg);
        CHECK(ss_attrib_explain(ar, SS_ATTRIB_INTEGRATED_GRADIENTS, 0, 3, ig, ichk, &err) == 0, "%s", err.msg);
        for (int r = 0; r < 3; r++)
            CHECK(fabs(check[r * 3] - ichk[r * 3]) <= 1e-9 * fabs(ichk[r * 3]),
                  "case %d: random input, Fourier sum %.10g vs IG sum %.10g", k, check[r * 3], ichk[r * 3]);
        ss_attrib_destroy(&ar);
        data_free(&R);

        /* top-k: all coefficients, and the one frequency of these inputs */
        double l0 = 0, c0 = 0, l1 = 0, c1 = 0, l2 = 0, c2 = 0;
        ss_net_evaluate(&net, D.x, D.y, 3, NULL, &l0, &c0);
        double *rel = calloc(F, sizeof(double));
        for (int f = 0; f < F; f++) rel[f] = 1.0;
        CHECK(ss_attrib_fourier_topk(a, rel, F, D.x, D.y, 3, &l1, &c1, &err) == 0, "%s", err.msg);
        rel[f0] = rel[f1] = 2.0;
        CHECK(ss_attrib_fourier_topk(a, rel, f0 == f1 ? 1 : 2, D.x, D.y, 3, &l2, &c2, &err) == 0, "%s",
              err.msg);
        CHECK(fabs(l1 - l0) <= 1e-4 * (1 + fabs(l0)) && c1 == c0, "top-F = all: %g vs %g", l1, l0);
        CHECK(fabs(l2 - l0) <= 1e-4 * (1 + fabs(l0)) && c2 == c0, "top-k on the frequency: %g vs %g", l2, l0);
        CHECK(ss_attrib_fourier_topk(a, rel, F + 1, D.x, D.y, 3, &l2, &c2, &err) == -1, "k > F");
        free(rel);
        free(attr);
        ss_attrib_destroy(&a);
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* ---- the layout: parts and units ------------------------------------------------------------ */

/* Every method on 37 samples in units of 4: one part, three parts given in reverse order
   and computed last unit first, the same three parts packed and unpacked (as between
   ranks), ten single units in a fresh context: the same bits. */
static void test_layout(void)
{
    const net_spec_t *cases[2] = {&SPECTRAL_TANH, &DENSE_RELU_REG};
    for (int k = 0; k < 2; k++) {
        ss_net_t net;
        if (make_net(&net, cases[k], 48, 120 + k) != 0) { CHECK(0, "net"); continue; }
        data_t D;
        data_make(&D, cases[k], 300, 37, 130 + k);
        D.d.rows = 2;
        D.d.cols = 4;
        ss_attrib_settings_t s;
        ss_attrib_defaults(&s);
        s.chunk = 4;
        s.shap_samples = 100;
        s.shap_kmeans = 3;
        s.ig_steps = 20;
        s.smoothgrad_samples = 7;
        for (int m = 0; m < SS_ATTRIB_N_METHODS; m++) {
            ss_attrib_t *a = context(&net, &s, &D), *b = context(&net, &s, &D);
            if (!ss_attrib_applies(a, (ss_attrib_method_t)m)) {
                ss_attrib_result_t r;
                ss_error_t err = {0};
                CHECK(ss_attrib_run(a, (ss_attrib_method_t)m, &r, &err) == 0 && r.skipped &&
                      r.relevance == NULL && strstr(r.note, "dense"), "skipped %s", r.note);
                ss_attrib_part_t p;
                CHECK(ss_attrib_compute(a, (ss_attrib_method_t)m, 0, 1, &p, &err) == -1, "compute refuses");
                ss_attrib_destroy(&a);
                ss_attrib_destroy(&b);
                continue;
            }
            int nu = ss_attrib_n_units(a, (ss_attrib_method_t)m);
            ss_attrib_part_t whole, three[3], single[64];
            ss_attrib_result_t r1, r2, r3;
            ss_error_t err = {0};
            int cut1 = nu / 3, cut2 = 2 * nu / 3;
            int ok = ss_attrib_compute(a, m, 0, nu, &whole, &err) == 0;
            ok &= ss_attrib_combine(a, m, &whole, 1, &r1, &err) == 0;
            ok &= ss_attrib_compute(b, m, cut2, nu, &three[0], &err) == 0;   /* reverse order */
            ok &= ss_attrib_compute(b, m, cut1, cut2, &three[1], &err) == 0;
            ok &= ss_attrib_compute(b, m, 0, cut1, &three[2], &err) == 0;
            ok &= ss_attrib_combine(b, m, three, 3, &r2, &err) == 0;
            ss_attrib_destroy(&b);
            b = context(&net, &s, &D);
            for (int u = 0; u < nu; u++)
                ok &= ss_attrib_compute(b, m, u, u + 1, &single[u], &err) == 0;
            ok &= ss_attrib_combine(b, m, single, nu, &r3, &err) == 0;
            CHECK(ok, "%s: %s", ss_attrib_method_name(m), err.msg);
            int V = r1.n_values;
            CHECK(V == r2.n_values && V == r3.n_values, "values");
            CHECK(!memcmp(r1.relevance, r2.relevance, V * sizeof(double)) &&
                  !memcmp(r1.relevance, r3.relevance, V * sizeof(double)),
                  "%s: the same bits for every split", ss_attrib_method_name(m));
            CHECK(r1.check_mean == r2.check_mean && r1.check_mean == r3.check_mean &&
                  r1.check_max == r3.check_max && r1.check_scale == r3.check_scale &&
                  r1.absorbed_mean == r3.absorbed_mean, "%s: checks", ss_attrib_method_name(m));
            /* the three parts through pack / unpack, as between ranks */
            ss_attrib_part_t moved[3];
            ss_attrib_result_t r4;
            for (int q = 0; q < 3; q++) {
                size_t np = ss_attrib_part_packed_size(&three[q]);
                double *buf = malloc(np * sizeof(double));
                ss_attrib_part_pack(&three[q], buf);
                ok &= ss_attrib_part_unpack(buf, np, &moved[q], &err) == 0;
                if (q == 0) {
                    ss_error_t e3 = {0};
                    ss_attrib_part_t junk;
                    CHECK(ss_attrib_part_unpack(buf, np - 1, &junk, &e3) == -1, "short buffer");
                    buf[0] = 1.0;
                    CHECK(ss_attrib_part_unpack(buf, np, &junk, &e3) == -1, "bad magic");
                }
                free(buf);
            }
            ok &= ss_attrib_combine(b, m, moved, 3, &r4, &err) == 0;
            CHECK(ok && !memcmp(r1.relevance, r4.relevance, V * sizeof(double)) &&
                  r4.check_mean == r1.check_mean && r4.forward_passes == r1.forward_passes,
                  "%s: packed parts combine to the same bits", ss_attrib_method_name(m));
            for (int q = 0; q < 3; q++) ss_attrib_part_free(&moved[q]);
            ss_attrib_result_free(&r4);
            CHECK(r1.forward_passes == r2.forward_passes && r1.forward_passes == r3.forward_passes &&
                  r1.backward_passes == r3.backward_passes, "%s: passes %lld %lld %lld",
                  ss_attrib_method_name(m), (long long)r1.forward_passes,
                  (long long)r2.forward_passes, (long long)r3.forward_passes);
            double mx = 0;
            for (int j = 0; j < V; j++) mx = fmax(mx, fabs(r1.relevance[j]));
            CHECK(mx > 0 && mx == mx, "%s: nonzero finite relevance", ss_attrib_method_name(m));
            if (k == 0)
                printf("layout: %-20s %2d units, one part = 3 parts = %d single units, bit for bit\n",
                       ss_attrib_method_name(m), nu, nu);

            /* combine refuses a gap and an overlap */
            ss_error_t e2 = {0};
            ss_attrib_result_t bad;
            CHECK(ss_attrib_combine(b, m, three + 1, 2, &bad, &e2) == -1, "gap refused");
            ss_attrib_part_t dup[2] = {whole, three[0]};
            CHECK(ss_attrib_combine(b, m, dup, 2, &bad, &e2) == -1, "overlap refused");

            ss_attrib_part_free(&whole);
            for (int q = 0; q < 3; q++) ss_attrib_part_free(&three[q]);
            for (int u = 0; u < nu; u++) ss_attrib_part_free(&single[u]);
            ss_attrib_result_free(&r1);
            ss_attrib_result_free(&r2);
            ss_attrib_result_free(&r3);
            ss_attrib_destroy(&a);
            ss_attrib_destroy(&b);
        }
        data_free(&D);
        ss_net_destroy(&net);
    }
}

/* The network passes go in batches of SS_ATTRIB_BATCH rows whatever the net's capacity:
   the same network with a workspace of 256 rows and of 1000 (as training with 1 or 2
   ranks per run builds it) gives the same bits. */
static void test_batch_independence(void)
{
    ss_net_t n1, n2;
    if (make_net(&n1, &SPECTRAL_TANH, 256, 150) != 0 || make_net(&n2, &SPECTRAL_TANH, 1000, 150) != 0) {
        CHECK(0, "nets");
        return;
    }
    CHECK(!memcmp(n1.params, n2.params, n1.n_params * sizeof(float)), "same parameters");
    data_t D;
    data_make(&D, &SPECTRAL_TANH, 300, 40, 151);
    ss_attrib_settings_t s;
    ss_attrib_defaults(&s);
    s.shap_samples = 300;
    const ss_attrib_method_t ms[4] = {SS_ATTRIB_INTEGRATED_GRADIENTS, SS_ATTRIB_SMOOTHGRAD,
                                      SS_ATTRIB_KERNEL_SHAP, SS_ATTRIB_FOURIER};
    for (int k = 0; k < 4; k++) {
        ss_attrib_t *a = context(&n1, &s, &D), *b = context(&n2, &s, &D);
        ss_attrib_result_t r1, r2;
        ss_error_t err = {0};
        CHECK(ss_attrib_run(a, ms[k], &r1, &err) == 0 && ss_attrib_run(b, ms[k], &r2, &err) == 0,
              "%s", err.msg);
        CHECK(!memcmp(r1.relevance, r2.relevance, r1.n_values * sizeof(double)),
              "%s: workspace of 256 and 1000 rows, same bits", ss_attrib_method_name(ms[k]));
        ss_attrib_result_free(&r1);
        ss_attrib_result_free(&r2);
        ss_attrib_destroy(&a);
        ss_attrib_destroy(&b);
    }
    data_free(&D);
    ss_net_destroy(&n1);
    ss_net_destroy(&n2);
}

/* ---- settings, arguments, the explained subset ---------------------------------------------- */

static void test_settings_and_errors(void)
{
    for (int m = 0; m < SS_ATTRIB_N_METHODS; m++)
        CHECK(ss_attrib_method_lookup(ss_attrib_method_name(m)) == m, "name round trip %d", m);
    CHECK(ss_attrib_method_lookup("shap") == -1 && ss_attrib_method_lookup(NULL) == -1, "unknown");
    CHECK(ss_attrib_method_name(SS_ATTRIB_N_METHODS) == NULL, "invalid name");

    ss_attrib_settings_t s0;
    ss_attrib_defaults(&s0);
    ss_error_t err = {0};
    CHECK(ss_attrib_settings_check(&s0, &err) == 0, "defaults valid: %s", err.msg);
    const char *bad[] = {"chunk", "ig_steps", "smoothgrad_noise", "spectrallens_max_scale",
                         "spectrallens_noise", "lrp_epsilon", "permutation_repeats",
                         "shap_samples", "ig_baseline", "lrp_zb"};
    for (int k = 0; k < (int)(sizeof bad / sizeof bad[0]); k++) {
        ss_attrib_settings_t s = s0;
        switch (k) {
        case 0: s.chunk = 0; break;
        case 1: s.ig_steps = 0; break;
        case 2: s.smoothgrad_noise = -0.1; break;
        case 3: s.spectrallens_max_scale = 0.0; break;
        case 4: s.spectrallens_noise = -1.0; break;
        case 5: s.lrp_epsilon = NAN; break;
        case 6: s.permutation_repeats = 0; break;
        case 7: s.shap_samples = -1; break;
        case 8: s.ig_baseline = (ss_attrib_baseline_t)7; break;
        case 9: s.lrp_zb = 2; break;
        }
        ss_error_t e = {0};
        char key[64];
        snprintf(key, sizeof key, "relevance.%s:", bad[k]);
        CHECK(ss_attrib_settings_check(&s, &e) == -1 && e.code == SS_EXIT_INPUT &&
              strstr(e.msg, key), "bad %s: %s", key, e.msg);
    }

    ss_net_t net;
    if (make_net(&net, &SPECTRAL_TANH, 16, 140) != 0) { CHECK(0, "net"); return; }
    data_t D;
    data_make(&D, &SPECTRAL_TANH, 50, 5, 141);
    ss_attrib_t *a = NULL;
    ss_error_t e = {0};
    D.d.rows = 3;
    D.d.cols = 3;
    CHECK(ss_attrib_create(&a, &net, &s0, &D.d, 1, &e) == -1 && a == NULL &&
          e.code == SS_EXIT_INPUT && strstr(e.msg, "input_shape 3 x 3"), "shape: %s", e.msg);
    D.d.rows = D.d.cols = 0;
    D.y[2] = 7.0f;
    ss_error_clear(&e);
    CHECK(ss_attrib_create(&a, &net, &s0, &D.d, 1, &e) == -1 && strstr(e.msg, "label"), "label: %s", e.msg);
    D.y[2] = 1.0f;
    D.d.n_inputs = 9;
    ss_error_clear(&e);
    CHECK(ss_attrib_create(&a, &net, &s0, &D.d, 1, &e) == -1 && e.code == SS_EXIT_INPUT, "inputs");
    D.d.n_inputs = 8;
    ss_attrib_settings_t sb = s0;
    sb.chunk = 0;
    ss_error_clear(&e);
    CHECK(ss_attrib_create(&a, &net, &sb, &D.d, 1, &e) == -1 && strstr(e.msg, "chunk"), "settings");
    a = context(&net, &s0, &D);
    double attr[40];
    ss_error_clear(&e);
    CHECK(ss_attrib_explain(a, SS_ATTRIB_PERMUTATION, 0, 1, attr, NULL, &e) == -1, "no per-sample permutation");
    CHECK(ss_attrib_explain(a, SS_ATTRIB_SALIENCY, 3, 3, attr, NULL, &e) == -1, "range");
    ss_attrib_part_t p;
    CHECK(ss_attrib_compute(a, SS_ATTRIB_SALIENCY, 0, 2, &p, &e) == -1, "units beyond n_units");
    CHECK(ss_attrib_n_units(a, SS_ATTRIB_N_METHODS) == 0, "invalid method units");

    /* spectral: |lambda_in| ||psi_i|| with no passes */
    ss_attrib_result_t r;
    double rel[8];
    ss_net_relevance(&net, rel, NULL);
    CHECK(ss_attrib_run(a, SS_ATTRIB_SPECTRAL, &r, &e) == 0 && !r.skipped, "spectral");
    int same = 1;
    for (int j = 0; j < 8; j++) same &= r.relevance[j] == fabs(rel[j]);
    CHECK(same && r.forward_passes == 0 && r.n_samples == 0, "spectral values");
    ss_attrib_result_free(&r);
    ss_attrib_destroy(&a);
    ss_attrib_destroy(&a);   /* NULL is fine */
    data_free(&D);
    ss_net_destroy(&net);

    /* the explained subset */
    uint32_t i1[100], i2[100], i3[100];
    CHECK(ss_attrib_select_samples(100, 30, 5, i1) == 30, "count");
    ss_attrib_select_samples(100, 30, 5, i2);
    ss_attrib_select_samples(100, 30, 6, i3);
    int sorted = 1;
    for (int i = 1; i < 30; i++) sorted &= i1[i] > i1[i - 1];
    CHECK(sorted && i1[29] < 100, "increasing, distinct, in range");
    CHECK(!memcmp(i1, i2, 30 * sizeof *i1) && memcmp(i1, i3, 30 * sizeof *i1), "seeded");
    CHECK(ss_attrib_select_samples(100, 0, 5, i1) == 100 && i1[99] == 99, "0 = all");
    CHECK(ss_attrib_select_samples(10, 50, 5, i1) == 10, "more than there are");
}

int main(void)
{
    test_settings_and_errors();
    test_gradient_fd();
    test_ig_completeness();
    test_conservation();
    test_shap_linear();
    test_shap_exact();
    test_permutation_dead_column();
    test_fourier();
    test_layout();
    test_batch_independence();
    return ss_test_report();
}
