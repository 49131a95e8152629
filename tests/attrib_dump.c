/*
 * attrib_dump.c - helper of test_attrib_reference.py: build a network from a seed and a
 * config given on the command line, train it a few Adam steps, explain a few samples with
 * every per-sample method of the attrib module, and write everything a reference
 * implementation needs to recompute them.
 *
 *   attrib_dump OUT key=value ...
 *     the network keys of dumpfile.h (task, spectral, inputs, classes, hidden, act, bn,
 *     train_evec, train_lout, seed, steps = training steps, batch), and
 *     n=N (explained samples, 6)  train=T (training samples, 200)  rows=R cols=C
 *     (input_shape, 0 = flat)  dropout=P
 *
 * OUT: a record file (dumpfile.h) with the trained parameters (names as net_dump's),
 * "bn.mean", "bn.var", "x_train", "x", "y", "id" (the sample ids keying the random
 * numbers), "settings" (float64: seed, ig_steps, smoothgrad_samples, smoothgrad_noise,
 * spectrallens_scales, spectrallens_samples, spectrallens_max_scale,
 * spectrallens_exponent, lrp_epsilon, fourier_steps, rows, cols, spectrallens_noise),
 * and per method
 * variant "attr.<name>" (n, values) and "check.<name>" (n, 3) as ss_attrib_explain
 * gives them. Variants: saliency, input_x_gradient, integrated_gradients (zero
 * baseline), integrated_gradients.mean, smoothgrad, smoothgrad_squared, spectrallens,
 * lrp_epsilon (z^B), lrp_epsilon.eps (epsilon at the input too), deeplift,
 * deeplift.mean, kernel_shap (mean background), fourier. And the global results of
 * permutation importance: "permutation" (inputs) and "permutation.base" (the score of the
 * unpermuted samples), with "settings_perm" (permutation_repeats).
 */
#include "specsweep/attrib.h"
#include "dumpfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *msg)
{
    fprintf(stderr, "attrib_dump: %s\nusage: attrib_dump OUT key=value ... (see attrib_dump.c)\n",
            msg);
    return 2;
}

/* Inputs N(offset_j, scale_j^2); labels from bands of a fixed linear score (regression:
   the score plus noise), so that a few training steps learn something. */
static void make_data(ss_rng_t *rng, float *x, float *y, int n, int M, int n_out, ss_task_t task)
{
    for (int r = 0; r < n; r++) {
        double s = 0.0;
        for (int j = 0; j < M; j++) {
            double v = 0.3 * (j % 3) + (0.5 + 0.1 * (j % 4)) * ss_rng_normal(rng);
            x[(size_t)r * M + j] = (float)v;
            s += (j % 2 ? 1.0 : -0.7) * v;
        }
        y[r] = task == SS_TASK_REGRESSION
                   ? (float)(0.5 * s + 0.1 * ss_rng_normal(rng))
                   : (float)(s < -0.6 ? 0 : (n_out > 2 && s < 0.6 ? 1 : n_out - 1));
    }
}

typedef struct {
    const char *name;
    ss_attrib_method_t m;
    int variant;     /* 1: mean baseline / epsilon at the input layer */
} variant_t;

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("missing output path");
    net_args_t na;
    net_args_init(&na);
    na.steps = 40;
    na.batch = 32;
    int n = 6, n_train = 200, rows = 0, cols = 0;
    double dropout = 0.0;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return usage(argv[i]);
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "n")) n = atoi(v);
        else if (!strcmp(k, "train")) n_train = atoi(v);
        else if (!strcmp(k, "rows")) rows = atoi(v);
        else if (!strcmp(k, "cols")) cols = atoi(v);
        else if (!strcmp(k, "dropout")) dropout = atof(v);
        else if (net_args_set(&na, k, v) != 0)
            return usage(k);
    }
    if (net_args_finish(&na) != 0 || n < 1 || n_train < 1)
        return usage("hidden and act need the same length; n, train, batch, steps >= 1");
    na.model.dropout_after_first = dropout;
    int M = na.inputs, n_out = na.task == SS_TASK_CLASSIFICATION ? na.classes : 1;

    ss_net_t net;
    ss_error_t err = {0};
    if (ss_net_create(&net, &na.model, &na.tr, M, n_out, na.task, 256, na.seed, &err) != 0) {
        fprintf(stderr, "attrib_dump: %s\n", err.msg);
        return 2;
    }
    ss_rng_t rng;
    ss_rng_seed(&rng, na.seed, 2000);
    float *xb = malloc((size_t)na.batch * M * sizeof(float)), *yb = malloc(na.batch * sizeof(float));
    for (int s = 0; s < na.steps; s++) {
        make_data(&rng, xb, yb, na.batch, M, n_out, na.task);
        ss_net_forward_backward(&net, xb, yb, na.batch, na.batch, &rng, NULL);
        ss_net_update(&net, 0, net.n_params);
    }
    float *x_train = malloc((size_t)n_train * M * sizeof(float));
    float *y_train = malloc((size_t)n_train * sizeof(float));
    float *x = malloc((size_t)n * M * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    make_data(&rng, x_train, y_train, n_train, M, n_out, na.task);
    make_data(&rng, x, y, n, M, n_out, na.task);
    uint32_t *id = malloc((size_t)n * sizeof *id);
    double *idd = malloc((size_t)n * sizeof *idd);
    for (int i = 0; i < n; i++) {
        id[i] = (uint32_t)(1000 + 7 * i);   /* ids that are not positions */
        idd[i] = id[i];
    }

    dump_t d;
    if (dump_start(&d, argv[1], &net) != 0)
        return 1;
    rec_f32(&d, "x_train", x_train, (uint64_t)n_train, (uint64_t)M);
    rec_f32(&d, "x", x, (uint64_t)n, (uint64_t)M);
    rec_f32(&d, "y", y, (uint64_t)n, 0);
    rec_f64(&d, "id", idd, (uint64_t)n);

    ss_attrib_settings_t s;
    ss_attrib_defaults(&s);
    ss_attrib_data_t data = {M, n_train, x_train, n, x, y, id, rows, cols};
    uint64_t seed = na.seed + 17;
    double settings[13] = {(double)seed, s.ig_steps, s.smoothgrad_samples, s.smoothgrad_noise,
                           s.spectrallens_scales, s.spectrallens_samples,
                           s.spectrallens_max_scale, s.spectrallens_exponent, s.lrp_epsilon,
                           s.fourier_steps, rows, cols, s.spectrallens_noise};
    rec_f64(&d, "settings", settings, 13);

    const variant_t variants[] = {
        {"saliency", SS_ATTRIB_SALIENCY, 0},
        {"input_x_gradient", SS_ATTRIB_INPUT_X_GRADIENT, 0},
        {"integrated_gradients", SS_ATTRIB_INTEGRATED_GRADIENTS, 0},
        {"integrated_gradients.mean", SS_ATTRIB_INTEGRATED_GRADIENTS, 1},
        {"smoothgrad", SS_ATTRIB_SMOOTHGRAD, 0},
        {"smoothgrad_squared", SS_ATTRIB_SMOOTHGRAD_SQUARED, 0},
        {"spectrallens", SS_ATTRIB_SPECTRALLENS, 0},
        {"lrp_epsilon", SS_ATTRIB_LRP_EPSILON, 0},
        {"lrp_epsilon.eps", SS_ATTRIB_LRP_EPSILON, 1},
        {"deeplift", SS_ATTRIB_DEEPLIFT, 0},
        {"deeplift.mean", SS_ATTRIB_DEEPLIFT, 1},
        {"kernel_shap", SS_ATTRIB_KERNEL_SHAP, 0},
        {"fourier", SS_ATTRIB_FOURIER, 0},
    };
    int rc = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        ss_attrib_settings_t sv = s;
        if (variants[v].variant) {
            sv.ig_baseline = SS_ATTRIB_BASELINE_MEAN;
            sv.deeplift_baseline = SS_ATTRIB_BASELINE_MEAN;
            sv.lrp_zb = 0;
        }
        ss_attrib_t *a = NULL;
        if (ss_attrib_create(&a, &net, &sv, &data, seed, &err) != 0) {
            fprintf(stderr, "attrib_dump: %s\n", err.msg);
            rc = 2;
            break;
        }
        int V = ss_attrib_n_values(a, variants[v].m);
        double *attr = malloc((size_t)n * V * sizeof(double));
        double *check = malloc((size_t)n * 3 * sizeof(double));
        if (ss_attrib_explain(a, variants[v].m, 0, n, attr, check, &err) != 0) {
            fprintf(stderr, "attrib_dump: %s\n", err.msg);
            rc = 1;
        }
        char name[80];
        uint64_t dims[2] = {(uint64_t)n, (uint64_t)V};
        snprintf(name, sizeof name, "attr.%s", variants[v].name);
        record(&d, name, 1, attr, 2, dims);
        dims[1] = 3;
        snprintf(name, sizeof name, "check.%s", variants[v].name);
        record(&d, name, 1, check, 2, dims);
        free(attr);
        free(check);
        ss_attrib_destroy(&a);
    }
    ss_attrib_t *a = NULL;
    ss_attrib_result_t res;
    if (rc == 0 && ss_attrib_create(&a, &net, &s, &data, seed, &err) == 0 &&
        ss_attrib_run(a, SS_ATTRIB_PERMUTATION, &res, &err) == 0) {
        double reps = s.permutation_repeats;
        rec_f64(&d, "permutation", res.relevance, (uint64_t)M);
        rec_f64(&d, "permutation.base", &res.check_scale, 1);
        rec_f64(&d, "settings_perm", &reps, 1);
        ss_attrib_result_free(&res);
    } else if (rc == 0) {
        fprintf(stderr, "attrib_dump: %s\n", err.msg);
        rc = 1;
    }
    ss_attrib_destroy(&a);
    dump_close(&d);
    free(xb);
    free(yb);
    free(x_train);
    free(y_train);
    free(x);
    free(y);
    free(id);
    free(idd);
    ss_net_destroy(&net);
    if (d.failed) {
        fprintf(stderr, "attrib_dump: writing %s failed\n", argv[1]);
        return 1;
    }
    return rc;
}
