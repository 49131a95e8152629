/*
 * net_dump.c - helper of test_reference.py: build a network from a seed and a config
 * given on the command line, run it on a generated batch, and write everything a
 * reference implementation needs to check it.
 *
 *   net_dump OUT key=value ...
 *     task=cls|reg  spectral=all|first|none  inputs=N  classes=K  hidden=6,5
 *     act=tanh,relu  bn=0|1  train_evec=0|1  train_lout=0|1  reg_ev=X  reg_evec=X
 *     lr=X  batch=B  seed=S  steps=T  sparse=0|1
 *
 * sparse=1: about 70 % of the batch's inputs are zero (each with probability 0.7), and the
 * first layer runs on its sparse-input path (ss_net_set_sparse_inputs).
 * OUT: magic "SSNETDMP", u32 version (1), u32 record count, then records
 *   u32 name length, name, u32 dtype (0 float32, 1 float64), u32 ndim, u64 dims[ndim],
 *   data (little-endian, row-major).
 * Records: the initial parameters ("L<l>.psi" or "L<l>.W", "L<l>.lin", "L<l>.lout",
 * "L<l>.b", "bn.gamma", "bn.beta", "bn.mean", "bn.var"), the batch "x", "y"; after one
 * training pass + L2: "loss_data" (mean), "l2", "grad.<param>"; after `steps` Adam steps
 * on the same batch (the first one from those gradients): "step.loss" (loss at each
 * step), "step.<param>", "step.bn.mean", "step.bn.var", and inference on the batch
 * "eval.loss_sum", "eval.correct".
 */
#include "specsweep/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *f;
    uint32_t count;
    int failed;
} dump_t;

static void put(dump_t *d, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, d->f) != n)
        d->failed = 1;
}

static void record(dump_t *d, const char *name, int f64, const void *data, int ndim,
                   const uint64_t *dims)
{
    uint32_t len = (uint32_t)strlen(name), dtype = (uint32_t)f64, nd = (uint32_t)ndim;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    put(d, &len, 4);
    put(d, name, len);
    put(d, &dtype, 4);
    put(d, &nd, 4);
    put(d, dims, 8 * (size_t)ndim);
    put(d, data, (size_t)n * (f64 ? 8 : 4));
    d->count++;
}

static void rec_f32(dump_t *d, const char *name, const float *p, uint64_t rows, uint64_t cols)
{
    uint64_t dims[2] = {rows, cols};
    record(d, name, 0, p, cols ? 2 : 1, dims);
}

static void rec_f64(dump_t *d, const char *name, const double *p, uint64_t n)
{
    record(d, name, 1, p, 1, &n);
}

/* Every parameter tensor of `buf` (params or grads) under "<prefix><name>". */
static void rec_params(dump_t *d, const ss_net_t *net, const float *buf, const char *prefix)
{
    char name[64];
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        snprintf(name, sizeof name, "%sL%d.%s", prefix, l, L->spectral ? "psi" : "W");
        rec_f32(d, name, buf + L->off_w, (uint64_t)L->n_in, (uint64_t)L->n_out);
        if (L->spectral) {
            snprintf(name, sizeof name, "%sL%d.lin", prefix, l);
            rec_f32(d, name, buf + L->off_lin, (uint64_t)L->n_in, 0);
            snprintf(name, sizeof name, "%sL%d.lout", prefix, l);
            rec_f32(d, name, buf + L->off_lout, (uint64_t)L->n_out, 0);
        }
        snprintf(name, sizeof name, "%sL%d.b", prefix, l);
        rec_f32(d, name, buf + L->off_b, (uint64_t)L->n_out, 0);
    }
    if (net->batchnorm) {
        uint64_t n0 = (uint64_t)net->layer[0].n_out;
        snprintf(name, sizeof name, "%sbn.gamma", prefix);
        rec_f32(d, name, buf + net->off_bn_gamma, n0, 0);
        snprintf(name, sizeof name, "%sbn.beta", prefix);
        rec_f32(d, name, buf + net->off_bn_beta, n0, 0);
    }
}

static void rec_bn_stats(dump_t *d, const ss_net_t *net, const char *prefix)
{
    if (!net->batchnorm)
        return;
    char name[64];
    uint64_t n0 = (uint64_t)net->layer[0].n_out;
    snprintf(name, sizeof name, "%sbn.mean", prefix);
    rec_f32(d, name, net->bn_mean, n0, 0);
    snprintf(name, sizeof name, "%sbn.var", prefix);
    rec_f32(d, name, net->bn_var, n0, 0);
}

static int parse_list(const char *s, char out[][16], int max)
{
    int n = 0;
    while (*s && n < max) {
        size_t k = strcspn(s, ",");
        if (k >= 16) return -1;
        memcpy(out[n], s, k);
        out[n][k] = '\0';
        n++;
        s += k;
        if (*s == ',') s++;
    }
    return n;
}

static int usage(const char *msg)
{
    fprintf(stderr, "net_dump: %s\nusage: net_dump OUT key=value ... (see net_dump.c)\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("missing output path");
    ss_model_t model;
    ss_training_t tr;
    ss_model_defaults(&model);
    memset(&tr, 0, sizeof tr);
    ss_task_t task = SS_TASK_CLASSIFICATION;
    int inputs = 7, classes = 3, batch = 16, steps = 5, sparse = 0;
    uint64_t seed = 1;
    char hidden[SS_MAX_LAYERS][16], acts[SS_MAX_LAYERS][16];
    int n_hidden = 0, n_act = 0;
    tr.learning_rate = 1e-2;
    tr.adam_beta1 = 0.9;
    tr.adam_beta2 = 0.999;
    tr.adam_epsilon = 1e-7;
    tr.train_eigenvectors = 1;
    model.spectral = SS_SPECTRAL_ALL;

    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return usage(argv[i]);
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "task")) task = !strcmp(v, "reg") ? SS_TASK_REGRESSION : SS_TASK_CLASSIFICATION;
        else if (!strcmp(k, "spectral"))
            model.spectral = !strcmp(v, "first") ? SS_SPECTRAL_FIRST
                           : !strcmp(v, "none") ? SS_SPECTRAL_NONE : SS_SPECTRAL_ALL;
        else if (!strcmp(k, "inputs")) inputs = atoi(v);
        else if (!strcmp(k, "classes")) classes = atoi(v);
        else if (!strcmp(k, "hidden")) n_hidden = parse_list(v, hidden, SS_MAX_LAYERS);
        else if (!strcmp(k, "act")) n_act = parse_list(v, acts, SS_MAX_LAYERS);
        else if (!strcmp(k, "bn")) model.batchnorm_after_first = atoi(v);
        else if (!strcmp(k, "train_evec")) tr.train_eigenvectors = atoi(v);
        else if (!strcmp(k, "train_lout")) model.train_lambda_out = atoi(v);
        else if (!strcmp(k, "reg_ev")) tr.reg_eigenvalues = atof(v);
        else if (!strcmp(k, "reg_evec")) tr.reg_eigenvectors = atof(v);
        else if (!strcmp(k, "lr")) tr.learning_rate = atof(v);
        else if (!strcmp(k, "batch")) batch = atoi(v);
        else if (!strcmp(k, "seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "steps")) steps = atoi(v);
        else if (!strcmp(k, "sparse")) sparse = atoi(v);
        else return usage(k);
    }
    if (n_hidden < 0 || n_act != n_hidden || batch < 1 || steps < 1)
        return usage("hidden and act need the same length; batch, steps >= 1");
    model.n_hidden = n_hidden;
    for (int l = 0; l < n_hidden; l++) {
        model.hidden[l] = atoi(hidden[l]);
        const char *a = acts[l];
        model.act[l] = !strcmp(a, "tanh") ? SS_ACT_TANH : !strcmp(a, "relu") ? SS_ACT_RELU
                     : !strcmp(a, "sigmoid") ? SS_ACT_SIGMOID : SS_ACT_LINEAR;
    }
    int n_out = task == SS_TASK_CLASSIFICATION ? classes : 1;

    ss_net_t net;
    ss_error_t err = {0};
    if (ss_net_create(&net, &model, &tr, inputs, n_out, task, batch, seed, &err) != 0) {
        fprintf(stderr, "net_dump: %s\n", err.msg);
        return 2;
    }

    /* the batch: x ~ N(0, 1); labels uniform, or targets 2 + N(0, 0.5) */
    float *x = malloc((size_t)batch * inputs * sizeof(float));
    float *y = malloc((size_t)batch * sizeof(float));
    double *step_loss = malloc((size_t)steps * sizeof(double));
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, 1000);
    for (size_t k = 0; k < (size_t)batch * inputs; k++) x[k] = (float)ss_rng_normal(&rng);
    if (sparse) {
        for (size_t k = 0; k < (size_t)batch * inputs; k++)
            x[k] = ss_rng_uniform(&rng) < 0.7 ? 0.0f : x[k];
        ss_net_set_sparse_inputs(&net, inputs);
    }
    for (int r = 0; r < batch; r++)
        y[r] = task == SS_TASK_CLASSIFICATION ? (float)ss_rng_below(&rng, (uint64_t)n_out)
                                              : (float)(2.0 + 0.5 * ss_rng_normal(&rng));

    dump_t d = {fopen(argv[1], "wb"), 0, 0};
    if (!d.f) {
        perror(argv[1]);
        return 1;
    }
    uint32_t zero = 0, version = 1;
    put(&d, "SSNETDMP", 8);
    put(&d, &version, 4);
    put(&d, &zero, 4); /* record count, patched at the end */

    rec_params(&d, &net, net.params, "");
    rec_bn_stats(&d, &net, "");
    rec_f32(&d, "x", x, (uint64_t)batch, (uint64_t)inputs);
    rec_f32(&d, "y", y, (uint64_t)batch, 0);

    for (int s = 0; s < steps; s++) {
        double data = ss_net_forward_backward(&net, x, y, batch, batch, NULL, NULL) / batch;
        double l2 = ss_net_add_l2(&net);
        step_loss[s] = data + l2;
        if (s == 0) {
            rec_f64(&d, "loss_data", &data, 1);
            rec_f64(&d, "l2", &l2, 1);
            rec_params(&d, &net, net.grads, "grad.");
        }
        ss_net_adam_step(&net);
    }
    rec_f64(&d, "step.loss", step_loss, (uint64_t)steps);
    rec_params(&d, &net, net.params, "step.");
    rec_bn_stats(&d, &net, "step.");
    double eloss = 0.0, ecorrect = 0.0;
    ss_net_evaluate(&net, x, y, batch, NULL, &eloss, &ecorrect);
    rec_f64(&d, "eval.loss_sum", &eloss, 1);
    rec_f64(&d, "eval.correct", &ecorrect, 1);

    if (fseek(d.f, 12, SEEK_SET) != 0)
        d.failed = 1;
    put(&d, &d.count, 4);
    if (fclose(d.f) != 0)
        d.failed = 1;
    free(x);
    free(y);
    free(step_loss);
    ss_net_destroy(&net);
    if (d.failed) {
        fprintf(stderr, "net_dump: writing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
