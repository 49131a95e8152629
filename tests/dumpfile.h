/*
 * dumpfile.h - the record file of the reference-test helpers (net_dump.c, attrib_dump.c),
 * read by test_reference.py's load_dump():
 *   magic "SSNETDMP", u32 version (1), u32 record count, then records
 *   u32 name length, name, u32 dtype (0 float32, 1 float64), u32 ndim, u64 dims[ndim],
 *   data (little-endian, row-major).
 * dump_open() writes the header, dump_close() patches the count; d->failed records any
 * write error.
 */
#ifndef SS_TEST_DUMPFILE_H
#define SS_TEST_DUMPFILE_H

#include "specsweep/net.h"

#include <stdint.h>
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

static int dump_open(dump_t *d, const char *path)
{
    uint32_t zero = 0, version = 1;
    d->f = fopen(path, "wb");
    d->count = 0;
    d->failed = 0;
    if (!d->f)
        return -1;
    put(d, "SSNETDMP", 8);
    put(d, &version, 4);
    put(d, &zero, 4); /* record count, patched by dump_close */
    return 0;
}

/* dump_open, then the parameters of net and its batch-norm statistics (see net_dump.c
   for the names); -1 (with perror) when the file cannot be created. */
static int dump_start(dump_t *d, const char *path, const ss_net_t *net)
{
    if (dump_open(d, path) != 0) {
        perror(path);
        return -1;
    }
    rec_params(d, net, net->params, "");
    rec_bn_stats(d, net, "");
    return 0;
}

/* Patch the record count and close; 0 when every write succeeded. */
static int dump_close(dump_t *d)
{
    if (fseek(d->f, 12, SEEK_SET) != 0)
        d->failed = 1;
    put(d, &d->count, 4);
    if (fclose(d->f) != 0)
        d->failed = 1;
    return d->failed ? -1 : 0;
}

/* ---- the network of a helper, from key=value arguments -------------------------------- */

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

/*
 * task=cls|reg  spectral=all|first|none  inputs=N  classes=K  hidden=6,5  act=tanh,relu
 * bn=0|1  train_evec=0|1  train_lout=0|1  reg_ev=X  reg_evec=X  lr=X  batch=B  seed=S
 * steps=T  sparse=0|1  opt=adam|adamax  subset=0|1 (trainable_weights match_eigenvalues)
 * init_evec=A  init_w=A (0: Glorot, else U(-A, A))  lin=LO:HI  lout=LO:HI (init ranges)
 */
typedef struct {
    ss_model_t model;
    ss_training_t tr;
    ss_task_t task;
    int inputs, classes, batch, steps, sparse;
    uint64_t seed;
    char hidden[SS_MAX_LAYERS][16], acts[SS_MAX_LAYERS][16];
    int n_hidden, n_act;
} net_args_t;

static void net_args_init(net_args_t *a)
{
    memset(a, 0, sizeof *a);
    ss_model_defaults(&a->model);
    a->task = SS_TASK_CLASSIFICATION;
    a->inputs = 7;
    a->classes = 3;
    a->batch = 16;
    a->steps = 5;
    a->seed = 1;
    a->tr.learning_rate = 1e-2;
    a->tr.adam_beta1 = 0.9;
    a->tr.adam_beta2 = 0.999;
    a->tr.adam_epsilon = 1e-7;
    a->tr.train_eigenvectors = 1;
    a->model.spectral = SS_SPECTRAL_ALL;
}

/* 0 when k is one of the keys above, -1 otherwise. */
static int net_args_set(net_args_t *a, const char *k, const char *v)
{
    if (!strcmp(k, "task")) a->task = !strcmp(v, "reg") ? SS_TASK_REGRESSION : SS_TASK_CLASSIFICATION;
    else if (!strcmp(k, "spectral"))
        a->model.spectral = !strcmp(v, "first") ? SS_SPECTRAL_FIRST
                          : !strcmp(v, "none") ? SS_SPECTRAL_NONE : SS_SPECTRAL_ALL;
    else if (!strcmp(k, "inputs")) a->inputs = atoi(v);
    else if (!strcmp(k, "classes")) a->classes = atoi(v);
    else if (!strcmp(k, "hidden")) a->n_hidden = parse_list(v, a->hidden, SS_MAX_LAYERS);
    else if (!strcmp(k, "act")) a->n_act = parse_list(v, a->acts, SS_MAX_LAYERS);
    else if (!strcmp(k, "bn")) a->model.batchnorm_after_first = atoi(v);
    else if (!strcmp(k, "train_evec")) a->tr.train_eigenvectors = atoi(v);
    else if (!strcmp(k, "train_lout")) a->model.train_lambda_out = atoi(v);
    else if (!strcmp(k, "reg_ev")) a->tr.reg_eigenvalues = atof(v);
    else if (!strcmp(k, "reg_evec")) a->tr.reg_eigenvectors = atof(v);
    else if (!strcmp(k, "lr")) a->tr.learning_rate = atof(v);
    else if (!strcmp(k, "batch")) a->batch = atoi(v);
    else if (!strcmp(k, "seed")) a->seed = strtoull(v, NULL, 10);
    else if (!strcmp(k, "steps")) a->steps = atoi(v);
    else if (!strcmp(k, "sparse")) a->sparse = atoi(v);
    else if (!strcmp(k, "opt")) {
        a->tr.optimizer = !strcmp(v, "adamax") ? SS_OPT_ADAMAX : SS_OPT_ADAM;
        a->tr.adamax_beta1 = 0.9;
        a->tr.adamax_beta2 = 0.999;
        a->tr.adamax_epsilon = 1e-7;
    }
    else if (!strcmp(k, "subset"))
        a->model.trainable_weights = atoi(v) ? SS_WEIGHTS_MATCH_EIGENVALUES : SS_WEIGHTS_ALL;
    else if (!strcmp(k, "init_evec")) a->model.init.eigenvectors = atof(v);
    else if (!strcmp(k, "init_w")) a->model.init.weights = atof(v);
    else if (!strcmp(k, "lin") || !strcmp(k, "lout")) {
        double *r = !strcmp(k, "lin") ? a->model.init.lambda_in : a->model.init.lambda_out;
        if (sscanf(v, "%lf:%lf", &r[0], &r[1]) != 2) return -1;
    }
    else return -1;
    return 0;
}

/* The hidden layers from the lists; -1 when they do not fit together. */
static int net_args_finish(net_args_t *a)
{
    if (a->n_hidden < 0 || a->n_act != a->n_hidden || a->batch < 1 || a->steps < 1)
        return -1;
    a->model.n_hidden = a->n_hidden;
    for (int l = 0; l < a->n_hidden; l++) {
        a->model.hidden[l] = atoi(a->hidden[l]);
        const char *s = a->acts[l];
        a->model.act[l] = !strcmp(s, "tanh") ? SS_ACT_TANH : !strcmp(s, "relu") ? SS_ACT_RELU
                        : !strcmp(s, "sigmoid") ? SS_ACT_SIGMOID : SS_ACT_LINEAR;
    }
    return 0;
}

#endif
