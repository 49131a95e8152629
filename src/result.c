/* result.c - the run result and its field table. See include/specsweep/result.h. */
#include "specsweep/result.h"

#include <stdlib.h>
#include <string.h>

#include "specsweep/util.h"

const char *ss_status_name(ss_status_t s)
{
    switch (s) {
    case SS_STATUS_OK: return "ok";
    case SS_STATUS_DIVERGED: return "diverged";
    case SS_STATUS_FAILED: return "failed";
    }
    return "unknown";
}

int ss_status_lookup(const char *name)
{
    for (int s = SS_STATUS_OK; s <= SS_STATUS_FAILED; s++)
        if (!strcmp(name, ss_status_name((ss_status_t)s)))
            return s;
    return -1;
}

const char *ss_task_name(ss_task_t t)
{
    switch (t) {
    case SS_TASK_CLASSIFICATION: return "classification";
    case SS_TASK_REGRESSION: return "regression";
    }
    return "unknown";
}

int ss_task_lookup(const char *name)
{
    for (int t = SS_TASK_CLASSIFICATION; t <= SS_TASK_REGRESSION; t++)
        if (!strcmp(name, ss_task_name((ss_task_t)t)))
            return t;
    return -1;
}

/* ---- the field table ------------------------------------------------------------------ */

#define FIELD(name, kind, member, flags) \
    {#name, kind, offsetof(ss_result_t, member), 0, 0, NULL, NULL, flags}
#define STRING(name, flags) \
    {#name, SS_FIELD_STRING, offsetof(ss_result_t, name), \
     sizeof(((ss_result_t *)0)->name), 0, NULL, NULL, flags}
#define ARRAY(name, kind, count) \
    {#name, kind, offsetof(ss_result_t, name), 0, offsetof(ss_result_t, count), NULL, NULL, 0}
#define OPTIONAL_ARRAY(name, kind, count) \
    {#name, kind, offsetof(ss_result_t, name), 0, offsetof(ss_result_t, count), NULL, NULL, \
     SS_FIELD_OPTIONAL}

const ss_result_field_t ss_result_fields[] = {
    STRING(run_id, SS_FIELD_NOT_IN_H5),
    STRING(dataset, 0),
    /* records of specsweep 0.1.0 have no task: the log reader takes the dataset's */
    FIELD(task, SS_FIELD_TASK, task, SS_FIELD_OPTIONAL | SS_FIELD_NOT_IN_H5),
    FIELD(seed, SS_FIELD_I64, seed, 0),
    FIELD(training, SS_FIELD_TRAINING, training, 0),
    FIELD(status, SS_FIELD_STATUS, status, 0),
    STRING(message, 0),
    FIELD(ranks, SS_FIELD_INT, ranks, 0),
    FIELD(train_seconds, SS_FIELD_F64, train_seconds, 0),
    FIELD(samples_per_second, SS_FIELD_F64, samples_per_second, 0),
    FIELD(test_accuracy, SS_FIELD_F64, test_accuracy, 0),
    FIELD(test_loss, SS_FIELD_F64, test_loss, 0),
    ARRAY(eigenvalues, SS_FIELD_F64_ARRAY, n_inputs),
    ARRAY(eigenvalues_raw, SS_FIELD_F64_ARRAY, n_inputs),
    ARRAY(train_loss, SS_FIELD_F64_ARRAY, n_epochs),
    /* the per-epoch validation metric is named in /runs by what it measures */
    {"val_metric", SS_FIELD_F64_ARRAY, offsetof(ss_result_t, val_metric), 0,
     offsetof(ss_result_t, n_epochs), "val_accuracy", "val_loss", 0},
    ARRAY(topk, SS_FIELD_I64_ARRAY, n_topk),
    ARRAY(topk_accuracy, SS_FIELD_F64_ARRAY, n_topk),
    ARRAY(randomk_accuracy, SS_FIELD_F64_ARRAY, n_topk),
    /* records before the methods existed have none */
    {"relevance", SS_FIELD_METHODS, offsetof(ss_result_t, methods), 0,
     offsetof(ss_result_t, n_methods), NULL, NULL, SS_FIELD_OPTIONAL},
    /* The fields below came after specsweep 0.1.0. A log written before them has none:
       the reader leaves them absent (ss_result_t.absent), as for runs that did not
       compute them. n_trainable: present for every run of a sweep that records its model
       (ss_sweep_t.record_model) */
    FIELD(n_trainable, SS_FIELD_INT, n_trainable, SS_FIELD_OPTIONAL),
    /* the retraction's: present for runs with model.retract other than none */
    FIELD(retracted_test_accuracy, SS_FIELD_F64, retracted_test_accuracy, SS_FIELD_OPTIONAL),
    FIELD(retracted_test_loss, SS_FIELD_F64, retracted_test_loss, SS_FIELD_OPTIONAL),
    OPTIONAL_ARRAY(retracted_shape, SS_FIELD_I64_ARRAY, n_retracted_shape),
    OPTIONAL_ARRAY(weights_histogram, SS_FIELD_I64_ARRAY, n_histogram),
    OPTIONAL_ARRAY(weights_histogram_edges, SS_FIELD_F64_ARRAY, n_histogram_edges),
    /* present for retraining runs only */
    OPTIONAL_ARRAY(retrain_inputs, SS_FIELD_I64_ARRAY, n_retrain_inputs),
};
const int ss_result_n_fields = (int)(sizeof ss_result_fields / sizeof ss_result_fields[0]);
/* the codec keeps one bit per field (record.h: the `absent` mask) */
_Static_assert(sizeof ss_result_fields / sizeof ss_result_fields[0] <= 32,
               "ss_result_fields: at most 32 fields");

const char *ss_result_field_h5_name(const ss_result_field_t *f, ss_task_t task)
{
    if (f->h5_name_regression && task == SS_TASK_REGRESSION)
        return f->h5_name_regression;
    return f->h5_name ? f->h5_name : f->name;
}

unsigned ss_result_field_bit(size_t offset)
{
    for (int k = 0; k < ss_result_n_fields; k++)
        if (ss_result_fields[k].offset == offset)
            return 1u << k;
    return 0;
}

int ss_result_field_absent(const ss_result_t *r, int k)
{
    return (ss_result_fields[k].flags & SS_FIELD_OPTIONAL) && ((r->absent >> k) & 1u);
}

/* ---- whole results ---------------------------------------------------------------------- */

static void **array_at(ss_result_t *r, const ss_result_field_t *f)
{
    return (void **)((char *)r + f->offset);
}

static int count_of(const ss_result_t *r, const ss_result_field_t *f)
{
    return *(const int *)((const char *)r + f->count_offset);
}

static int is_array(const ss_result_field_t *f)
{
    return f->kind == SS_FIELD_F64_ARRAY || f->kind == SS_FIELD_I64_ARRAY;
}

/* ---- methods ------------------------------------------------------------------------- */

void ss_method_result_info(const ss_method_result_t *m, double *info)
{
    const double v[SS_METHOD_INFO_COUNT] = {m->skipped, m->n_samples, m->seconds, m->forward,
                                            m->backward, m->check_mean, m->check_max,
                                            m->check_scale, m->absorbed_mean};
    memcpy(info, v, sizeof v);
}

void ss_method_result_set_info(ss_method_result_t *m, const double *info)
{
    m->skipped = info[0] != 0.0;
    m->n_samples = (int)info[1];
    m->seconds = info[2];
    m->forward = info[3];
    m->backward = info[4];
    m->check_mean = info[5];
    m->check_max = info[6];
    m->check_scale = info[7];
    m->absorbed_mean = info[8];
}

void ss_method_result_free(ss_method_result_t *m)
{
    if (!m)
        return;
    free(m->values);
    free(m->topk_accuracy);
    memset(m, 0, sizeof *m);
}

const ss_method_result_t *ss_result_method(const ss_result_t *r, int method)
{
    for (int i = 0; r->methods && i < r->n_methods; i++)
        if (r->methods[i].method == method)
            return &r->methods[i];
    return NULL;
}

static double *dup_doubles(const double *v, int n)
{
    if (!v || n <= 0)
        return NULL;
    double *d = ss_malloc((size_t)n * sizeof *d);
    memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

static void methods_free(ss_result_t *r)
{
    for (int i = 0; r->methods && i < r->n_methods; i++)
        ss_method_result_free(&r->methods[i]);
    free(r->methods);
    r->methods = NULL;
}

static ss_method_result_t *methods_copy(const ss_method_result_t *src, int n)
{
    if (!src || n <= 0)
        return NULL;
    ss_method_result_t *d = ss_malloc((size_t)n * sizeof *d);
    for (int i = 0; i < n; i++) {
        d[i] = src[i];
        d[i].values = dup_doubles(src[i].values, src[i].n_values);
        d[i].topk_accuracy = dup_doubles(src[i].topk_accuracy, src[i].n_topk);
    }
    return d;
}

static int methods_check(const ss_result_t *r)
{
    if (r->n_methods < 0 || (r->n_methods > 0 && !r->methods))
        return 0;
    for (int i = 0; i < r->n_methods; i++) {
        const ss_method_result_t *m = &r->methods[i];
        if (m->method < 0 || m->method >= SS_RESULT_MAX_METHODS || m->n_values < 0 ||
            m->n_topk < 0 || (m->n_values > 0 && !m->values) ||
            (m->n_topk > 0 && !m->topk_accuracy) || (i > 0 && m->method <= m[-1].method))
            return 0;
    }
    return 1;
}

void ss_result_free(ss_result_t *r)
{
    if (!r)
        return;
    methods_free(r);
    for (int k = 0; k < ss_result_n_fields; k++)
        if (is_array(&ss_result_fields[k]))
            free(*array_at(r, &ss_result_fields[k]));
    memset(r, 0, sizeof *r);
}

void ss_result_drop_arrays(ss_result_t *r)
{
    methods_free(r);
    for (int k = 0; k < ss_result_n_fields; k++)
        if (is_array(&ss_result_fields[k])) {
            void **p = array_at(r, &ss_result_fields[k]);
            free(*p);
            *p = NULL;
        }
}

void ss_result_copy(ss_result_t *dst, const ss_result_t *src)
{
    *dst = *src;
    dst->methods = methods_copy(src->methods, src->n_methods);
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if (!is_array(f))
            continue;
        void **p = array_at(dst, f);
        int n = count_of(src, f);
        if (!*p || n <= 0) {
            *p = NULL;
            continue;
        }
        size_t bytes = (size_t)n * 8; /* double and int64_t alike */
        void *copy = ss_malloc(bytes);
        memcpy(copy, *p, bytes);
        *p = copy;
    }
}

int ss_result_check(const ss_result_t *r)
{
    if (!methods_check(r))
        return 0;
    if (r->status < SS_STATUS_OK || r->status > SS_STATUS_FAILED || r->ranks < 0 ||
        r->task < SS_TASK_CLASSIFICATION || r->task > SS_TASK_REGRESSION)
        return 0;
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if (!is_array(f))
            continue;
        int n = count_of(r, f);
        if (n < 0 || (n > 0 && !*array_at((ss_result_t *)r, f)))
            return 0;
    }
    return 1;
}
