/* result_fixture.c - see result_fixture.h. */
#include "result_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

void default_training(ss_training_t *t)
{
    ss_training_defaults(t);
    t->epochs = 7;
}

/* A result whose every value depends on `v`, including awkward doubles. */
void make_result(ss_result_t *r, const char *run_id, const char *dataset, int64_t seed,
                        int n_inputs, int n_epochs, int n_topk, ss_status_t status, double v)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_id, sizeof r->run_id, "%s", run_id);
    snprintf(r->dataset, sizeof r->dataset, "%s", dataset);
    r->seed = seed;
    default_training(&r->training);
    r->training.reg_eigenvalues = 0.001 * v;
    r->ranks = 2;
    r->status = status;
    snprintf(r->message, sizeof r->message, "message %g ± é", v);
    r->train_seconds = 1.5 + v;
    r->samples_per_second = 1e5 / (1 + v);
    r->test_accuracy = 0.5 + 0.01 * v;
    r->test_loss = 0.25 / (1 + v);
    r->n_inputs = n_inputs;
    r->eigenvalues = calloc((size_t)n_inputs + 1, sizeof(double));
    r->eigenvalues_raw = calloc((size_t)n_inputs + 1, sizeof(double));
    for (int i = 0; i < n_inputs; i++) {
        r->eigenvalues[i] = sin(v + i) * (i % 3 ? 1.0 : -1.0);
        r->eigenvalues_raw[i] = cos(v * i) / 3.0;
    }
    if (n_inputs > 3) {
        r->eigenvalues_raw[1] = -0.0;
        r->eigenvalues_raw[2] = 4.9e-324; /* denormal */
        r->eigenvalues_raw[3] = INFINITY;
    }
    r->n_epochs = n_epochs;
    r->train_loss = calloc((size_t)n_epochs + 1, sizeof(double));
    r->val_metric = calloc((size_t)n_epochs + 1, sizeof(double));
    for (int e = 0; e < n_epochs; e++) {
        r->train_loss[e] = 1.0 / (e + 1 + v);
        r->val_metric[e] = e == n_epochs - 1 && status == SS_STATUS_DIVERGED ? NAN : 0.1 * e;
    }
    r->n_topk = n_topk;
    r->topk = calloc((size_t)n_topk + 1, sizeof(int64_t));
    r->topk_accuracy = calloc((size_t)n_topk + 1, sizeof(double));
    r->randomk_accuracy = calloc((size_t)n_topk + 1, sizeof(double));
    for (int k = 0; k < n_topk; k++) {
        r->topk[k] = k + 1;
        r->topk_accuracy[k] = 0.6 + 0.01 * k + 0.001 * v;
        r->randomk_accuracy[k] = 0.55 + 0.01 * k - 0.001 * v;
    }
}

int same_bits(const double *a, const double *b, int n)
{
    return n == 0 || (a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0);
}

/* Bit-exact equality of two results. */
int results_equal(const ss_result_t *a, const ss_result_t *b)
{
    if (strcmp(a->run_id, b->run_id) || strcmp(a->dataset, b->dataset) || a->seed != b->seed ||
        a->ranks != b->ranks || a->status != b->status || strcmp(a->message, b->message))
        return 0;
    for (int k = 0; k < SS_KEY_COUNT; k++) {
        double x = ss_training_get(&a->training, (ss_training_key_t)k);
        double y = ss_training_get(&b->training, (ss_training_key_t)k);
        if (memcmp(&x, &y, sizeof x))
            return 0;
    }
    if (!same_bits(&a->train_seconds, &b->train_seconds, 1) ||
        !same_bits(&a->samples_per_second, &b->samples_per_second, 1) ||
        !same_bits(&a->test_accuracy, &b->test_accuracy, 1) ||
        !same_bits(&a->test_loss, &b->test_loss, 1))
        return 0;
    if (a->n_inputs != b->n_inputs || a->n_epochs != b->n_epochs || a->n_topk != b->n_topk)
        return 0;
    return same_bits(a->eigenvalues, b->eigenvalues, a->n_inputs) &&
           same_bits(a->eigenvalues_raw, b->eigenvalues_raw, a->n_inputs) &&
           same_bits(a->train_loss, b->train_loss, a->n_epochs) &&
           same_bits(a->val_metric, b->val_metric, a->n_epochs) &&
           (a->n_topk == 0 || !memcmp(a->topk, b->topk, (size_t)a->n_topk * 8)) &&
           same_bits(a->topk_accuracy, b->topk_accuracy, a->n_topk) &&
           same_bits(a->randomk_accuracy, b->randomk_accuracy, a->n_topk);
}

void make_dataset(ss_dataset_info_t *ds, const char *name, ss_kind_t kind, int n_inputs,
                         int n_classes, int truth, int names, int image)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->kind = kind;
    ds->n_inputs = n_inputs;
    ds->n_classes = n_classes;
    ds->task = n_classes > 0 ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    ds->n_train = 1000 + n_inputs;
    ds->n_test = 200;
    if (truth) {
        ds->relevance_truth = calloc((size_t)n_inputs, sizeof(double));
        for (int i = 0; i < n_inputs; i++)
            ds->relevance_truth[i] = (double)(n_inputs - i);
    }
    if (names) {
        ds->feature_names = calloc((size_t)n_inputs, sizeof(char *));
        for (int i = 0; i < n_inputs; i++) {
            ds->feature_names[i] = malloc(32);
            snprintf(ds->feature_names[i], 32, "feat_%c%d", 'a' + i % 26, i);
        }
    }
    if (image) {
        ds->input_rank = 2;
        ds->input_shape[0] = 2;
        ds->input_shape[1] = n_inputs / 2;
    }
}

void free_dataset(ss_dataset_info_t *ds)
{
    free(ds->relevance_truth);
    if (ds->feature_names)
        for (int i = 0; i < ds->n_inputs; i++)
            free(ds->feature_names[i]);
    free(ds->feature_names);
    free(ds->standardize_mean);
    free(ds->standardize_std);
    memset(ds, 0, sizeof *ds);
}

long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *n = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

void spit(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", ss_test_tmpdir(), name);
    return p;
}

/* ---- the field table ------------------------------------------------------------------ */

/* Bytes of ss_result_t that member f occupies (its count excluded). */
size_t field_bytes(const ss_result_field_t *f)
{
    switch (f->kind) {
    case SS_FIELD_STRING: return f->size;
    case SS_FIELD_I64: return sizeof(int64_t);
    case SS_FIELD_INT: return sizeof(int);
    case SS_FIELD_F64: return sizeof(double);
    case SS_FIELD_STATUS: return sizeof(ss_status_t);
    case SS_FIELD_TASK: return sizeof(ss_task_t);
    case SS_FIELD_TRAINING: return sizeof(ss_training_t);
    case SS_FIELD_F64_ARRAY:
    case SS_FIELD_I64_ARRAY:
    case SS_FIELD_METHODS: return sizeof(void *);
    }
    return 0;
}

/* Two methods (integrated gradients and fourier) whose every number is their own. */
static ss_method_result_t *fill_methods(int k, int n_inputs, int n_topk)
{
    ss_method_result_t *m = calloc(2, sizeof *m);
    for (int j = 0; j < 2; j++) {
        m[j].method = j == 0 ? 3 : 11; /* integrated_gradients, fourier */
        m[j].n_values = n_inputs + j;
        m[j].values = malloc((size_t)m[j].n_values * sizeof(double));
        for (int i = 0; i < m[j].n_values; i++)
            m[j].values[i] = k * 1000.0 + j * 100.0 + i + 0.5;
        double info[SS_METHOD_INFO_COUNT];
        for (int i = 0; i < SS_METHOD_INFO_COUNT; i++)
            info[i] = i == 0 ? j : 10.0 * (i + 1) + j;
        ss_method_result_set_info(&m[j], info);
        m[j].n_topk = n_topk;
        m[j].topk_accuracy = malloc((size_t)n_topk * sizeof(double));
        for (int i = 0; i < n_topk; i++)
            m[j].topk_accuracy[i] = 0.5 + 0.1 * i + 0.01 * j;
    }
    return m;
}

/* A result whose every field (found through the table) holds a value of its own. */
void fill_all_fields(ss_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->n_inputs = 5;
    r->n_epochs = 3;
    r->n_topk = 2;
    for (int k = 0; k < ss_result_n_fields; k++) { /* every other array: 4 elements */
        const ss_result_field_t *f = &ss_result_fields[k];
        if (f->count_offset && *(int *)((char *)r + f->count_offset) == 0)
            *(int *)((char *)r + f->count_offset) = 4;
    }
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        void *m = (char *)r + f->offset;
        int n = f->count_offset ? *(int *)((char *)r + f->count_offset) : 0;
        switch (f->kind) {
        case SS_FIELD_STRING: snprintf(m, f->size, "%s-%d-é", f->name, k); break;
        case SS_FIELD_I64: *(int64_t *)m = -1000 - k; break;
        case SS_FIELD_INT: *(int *)m = 7 + k; break;
        case SS_FIELD_F64: *(double *)m = 0.1 * (k + 1) + 1e-17; break;
        case SS_FIELD_STATUS: *(ss_status_t *)m = SS_STATUS_DIVERGED; break;
        case SS_FIELD_TASK: *(ss_task_t *)m = SS_TASK_REGRESSION; break;
        case SS_FIELD_TRAINING:
            for (int t = 0; t < SS_KEY_COUNT; t++) /* adamax: every key is in use */
                ss_training_set(m, (ss_training_key_t)t,
                                t == SS_KEY_OPTIMIZER ? (double)SS_OPT_ADAMAX : 3.0 + t);
            break;
        case SS_FIELD_F64_ARRAY: {
            double *v = malloc((size_t)n * sizeof *v);
            for (int i = 0; i < n; i++)
                v[i] = k * 100.0 + i + 0.25;
            *(double **)m = v;
            break;
        }
        case SS_FIELD_METHODS:
            *(ss_method_result_t **)m = fill_methods(k, r->n_inputs, r->n_topk);
            *(int *)((char *)r + f->count_offset) = 2;
            break;
        case SS_FIELD_I64_ARRAY: {
            int64_t *v = malloc((size_t)n * sizeof *v);
            for (int i = 0; i < n; i++)
                v[i] = k * 100 + i;
            *(int64_t **)m = v;
            break;
        }
        }
    }
}

/* Field f of a and b holds the same bits (arrays: the same contents). */
int field_equal(const ss_result_t *a, const ss_result_t *b, const ss_result_field_t *f)
{
    const void *ma = (const char *)a + f->offset, *mb = (const char *)b + f->offset;
    if (f->kind == SS_FIELD_F64_ARRAY || f->kind == SS_FIELD_I64_ARRAY) {
        int na = *(const int *)((const char *)a + f->count_offset);
        int nb = *(const int *)((const char *)b + f->count_offset);
        return na == nb && (na == 0 || !memcmp(*(void *const *)ma, *(void *const *)mb,
                                              (size_t)na * 8));
    }
    if (f->kind == SS_FIELD_STRING)
        return !strcmp(ma, mb);
    if (f->kind == SS_FIELD_METHODS) {
        int na = *(const int *)((const char *)a + f->count_offset);
        int nb = *(const int *)((const char *)b + f->count_offset);
        const ss_method_result_t *x = *(ss_method_result_t *const *)ma;
        const ss_method_result_t *y = *(ss_method_result_t *const *)mb;
        int same = na == nb;
        for (int i = 0; same && i < na; i++) {
            double ix[SS_METHOD_INFO_COUNT], iy[SS_METHOD_INFO_COUNT];
            ss_method_result_info(&x[i], ix);
            ss_method_result_info(&y[i], iy);
            same = x[i].method == y[i].method && x[i].n_values == y[i].n_values &&
                   x[i].n_topk == y[i].n_topk && !memcmp(ix, iy, sizeof ix) &&
                   !memcmp(x[i].values, y[i].values, (size_t)x[i].n_values * 8) &&
                   !memcmp(x[i].topk_accuracy, y[i].topk_accuracy, (size_t)x[i].n_topk * 8);
        }
        return same;
    }
    return !memcmp(ma, mb, field_bytes(f));
}

