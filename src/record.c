/* record.c - the payload codec of log records and MPI result messages. See
   include/specsweep/record.h. */
#include "specsweep/record.h"

#include "specsweep/attrib_settings.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FT_I64 = 1, FT_F64 = 2, FT_STR = 3, FT_I64V = 4, FT_F64V = 5, FT_STRV = 6 };

/* ---- little-endian integers and float bits ------------------------------------------- */

void ss_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void ss_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t ss_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t ss_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- encoding ----------------------------------------------------------------------- */

unsigned char *ss_payload_grow(ss_payload_t *b, size_t n)
{
    if (!b->p || b->cap - b->len < n) {   /* never NULL + 0: a payload may begin empty */
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = ss_realloc(b->p, cap);
        b->cap = cap;
    }
    unsigned char *q = b->p + b->len;
    b->len += n;
    return q;
}

void ss_payload_begin(ss_payload_t *b, size_t prefix)
{
    memset(b, 0, sizeof *b);
    ss_payload_grow(b, prefix);
    b->start = prefix;
    unsigned char *q = ss_payload_grow(b, 8);
    ss_put_u32(q, SS_RECORD_PAYLOAD_VERSION);
    ss_put_u32(q + 4, 0); /* field count, set by pb_end */
}

void ss_payload_end(ss_payload_t *b) { ss_put_u32(b->p + b->start + 4, b->n_fields); }

/* Field head: type, name, data length; returns where the data goes. */
static unsigned char *pf_head(ss_payload_t *b, int type, const char *name, size_t nbytes)
{
    size_t nl = strlen(name);
    if (nl > 255)
        nl = 255;
    unsigned char *q = ss_payload_grow(b, 2 + nl + 8 + nbytes);
    q[0] = (unsigned char)type;
    q[1] = (unsigned char)nl;
    memcpy(q + 2, name, nl);
    ss_put_u64(q + 2 + nl, nbytes);
    b->n_fields++;
    return q + 2 + nl + 8;
}

static void pf_i64(ss_payload_t *b, const char *name, int64_t v)
{
    ss_put_u64(pf_head(b, FT_I64, name, 8), (uint64_t)v);
}

static void pf_f64(ss_payload_t *b, const char *name, double v)
{
    ss_put_u64(pf_head(b, FT_F64, name, 8), f64_bits(v));
}

static void pf_bytes(ss_payload_t *b, const char *name, const char *s, size_t n)
{
    unsigned char *q = pf_head(b, FT_STR, name, n);
    if (n)
        memcpy(q, s, n);
}

static void pf_str(ss_payload_t *b, const char *name, const char *s)
{
    pf_bytes(b, name, s, s ? strlen(s) : 0);
}

/* A string of at most `cap` bytes from a fixed-size field. */
static void pf_strn(ss_payload_t *b, const char *name, const char *s, size_t cap)
{
    pf_bytes(b, name, s, s ? strnlen(s, cap) : 0);
}

static void pf_i64v(ss_payload_t *b, const char *name, const int64_t *v, int n)
{
    unsigned char *q = pf_head(b, FT_I64V, name, 8 * (size_t)n);
    for (int i = 0; i < n; i++)
        ss_put_u64(q + 8 * (size_t)i, (uint64_t)v[i]);
}

static void pf_f64v(ss_payload_t *b, const char *name, const double *v, int n)
{
    unsigned char *q = pf_head(b, FT_F64V, name, 8 * (size_t)n);
    for (int i = 0; i < n; i++)
        ss_put_u64(q + 8 * (size_t)i, f64_bits(v[i]));
}

static void pf_strv(ss_payload_t *b, const char *name, char *const *v, int n)
{
    size_t total = 4;
    for (int i = 0; i < n; i++)
        total += 4 + (v[i] ? strlen(v[i]) : 0);
    unsigned char *q = pf_head(b, FT_STRV, name, total);
    ss_put_u32(q, (uint32_t)n);
    q += 4;
    for (int i = 0; i < n; i++) {
        size_t len = v[i] ? strlen(v[i]) : 0;
        ss_put_u32(q, (uint32_t)len);
        if (len)
            memcpy(q + 4, v[i], len);
        q += 4 + len;
    }
}

/* ---- decoding ----------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    ss_error_t *err;
    const char *what;    /* "result payload", ... for messages */
} rd_t;

typedef struct {
    int type;
    char name[256];
    const unsigned char *data;
    size_t n;            /* data bytes */
} field_t;

static int rd_fail(rd_t *r, const char *field, const char *problem)
{
    if (field)
        ss_error_set(r->err, SS_EXIT_RUNTIME, "corrupt %s: field '%s': %s", r->what, field,
                     problem);
    else
        ss_error_set(r->err, SS_EXIT_RUNTIME, "corrupt %s: %s", r->what, problem);
    return -1;
}

/* Payload head. Returns 0, -1 if malformed, -2 if written by a newer format. */
static int rd_begin(rd_t *r, uint32_t *n_fields)
{
    if (r->len < 8)
        return rd_fail(r, NULL, "shorter than its header");
    uint32_t version = ss_get_u32(r->p);
    if (version == 0)
        return rd_fail(r, NULL, "payload version 0");
    if (version > SS_RECORD_PAYLOAD_VERSION) {
        ss_error_set(r->err, SS_EXIT_INPUT,
                     "%s version %u was written by a newer specsweep (this one reads %d)",
                     r->what, (unsigned)version, SS_RECORD_PAYLOAD_VERSION);
        return -2;
    }
    *n_fields = ss_get_u32(r->p + 4);
    r->pos = 8;
    return 0;
}

static int rd_field(rd_t *r, field_t *f)
{
    size_t left = r->len - r->pos;
    if (left < 2)
        return rd_fail(r, NULL, "truncated field");
    const unsigned char *q = r->p + r->pos;
    size_t nl = q[1];
    if (left - 2 < nl + 8)
        return rd_fail(r, NULL, "truncated field");
    f->type = q[0];
    memcpy(f->name, q + 2, nl);
    f->name[nl] = '\0';
    uint64_t n = ss_get_u64(q + 2 + nl);
    left -= 2 + nl + 8;
    if (n > left)
        return rd_fail(r, f->name, "length runs past the end of the payload");
    f->data = q + 2 + nl + 8;
    f->n = (size_t)n;
    r->pos += 2 + nl + 8 + (size_t)n;
    return 0;
}

static int rd_end(rd_t *r)
{
    return r->pos == r->len ? 0 : rd_fail(r, NULL, "trailing bytes after the last field");
}

static int get_i64(rd_t *r, const field_t *f, int64_t *v)
{
    if (f->type != FT_I64 || f->n != 8)
        return rd_fail(r, f->name, "expected one int64");
    *v = (int64_t)ss_get_u64(f->data);
    return 0;
}

static int get_int(rd_t *r, const field_t *f, int *v, int lo)
{
    int64_t x;
    if (get_i64(r, f, &x))
        return -1;
    if (x < lo || x > INT_MAX)
        return rd_fail(r, f->name, "value out of range");
    *v = (int)x;
    return 0;
}

static int get_f64(rd_t *r, const field_t *f, double *v)
{
    if (f->type != FT_F64 || f->n != 8)
        return rd_fail(r, f->name, "expected one float64");
    *v = bits_f64(ss_get_u64(f->data));
    return 0;
}

/* A string into a fixed buffer of `cap` bytes (NUL-terminated). */
static int get_str(rd_t *r, const field_t *f, char *dst, size_t cap)
{
    if (f->type != FT_STR)
        return rd_fail(r, f->name, "expected a string");
    if (f->n >= cap)
        return rd_fail(r, f->name, "string too long");
    if (memchr(f->data, '\0', f->n))
        return rd_fail(r, f->name, "string contains a NUL byte");
    memcpy(dst, f->data, f->n);
    dst[f->n] = '\0';
    return 0;
}

static int get_strdup(rd_t *r, const field_t *f, char **dst)
{
    if (f->type != FT_STR)
        return rd_fail(r, f->name, "expected a string");
    if (memchr(f->data, '\0', f->n))
        return rd_fail(r, f->name, "string contains a NUL byte");
    char *s = ss_malloc(f->n + 1);
    memcpy(s, f->data, f->n);
    s[f->n] = '\0';
    free(*dst);
    *dst = s;
    return 0;
}

static int get_vec_len(rd_t *r, const field_t *f, int type, int *n)
{
    if (f->type != type || f->n % 8 != 0)
        return rd_fail(r, f->name, type == FT_F64V ? "expected a float64 array"
                                                   : "expected an int64 array");
    if (f->n / 8 > INT_MAX)
        return rd_fail(r, f->name, "array too long");
    *n = (int)(f->n / 8);
    return 0;
}

static int get_f64v(rd_t *r, const field_t *f, double **v, int *n)
{
    if (get_vec_len(r, f, FT_F64V, n))
        return -1;
    free(*v);
    *v = NULL;
    if (*n > 0) {
        *v = ss_malloc((size_t)*n * sizeof **v);
        for (int i = 0; i < *n; i++)
            (*v)[i] = bits_f64(ss_get_u64(f->data + 8 * (size_t)i));
    }
    return 0;
}

static int get_i64v(rd_t *r, const field_t *f, int64_t **v, int *n)
{
    if (get_vec_len(r, f, FT_I64V, n))
        return -1;
    free(*v);
    *v = NULL;
    if (*n > 0) {
        *v = ss_malloc((size_t)*n * sizeof **v);
        for (int i = 0; i < *n; i++)
            (*v)[i] = (int64_t)ss_get_u64(f->data + 8 * (size_t)i);
    }
    return 0;
}

static void free_strv(char **v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int get_strv(rd_t *r, const field_t *f, char ***out, int *n_out)
{
    if (f->type != FT_STRV || f->n < 4)
        return rd_fail(r, f->name, "expected a string list");
    uint32_t n = ss_get_u32(f->data);
    if (n > (f->n - 4) / 4 || n > INT_MAX)
        return rd_fail(r, f->name, "string count larger than the field");
    char **v = ss_calloc(n ? n : 1, sizeof *v);
    size_t pos = 4;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = f->n - pos >= 4 ? ss_get_u32(f->data + pos) : 0;
        if (f->n - pos < 4 || f->n - pos - 4 < len || memchr(f->data + pos + 4, '\0', len)) {
            free_strv(v, (int)n);
            return rd_fail(r, f->name, "malformed string list");
        }
        v[i] = ss_malloc((size_t)len + 1);
        memcpy(v[i], f->data + pos + 4, len);
        v[i][len] = '\0';
        pos += 4 + (size_t)len;
    }
    if (pos != f->n) {
        free_strv(v, (int)n);
        return rd_fail(r, f->name, "malformed string list");
    }
    free_strv(*out, *n_out);
    *out = v;
    *n_out = (int)n;
    return 0;
}


/* Index of `name` in `names`, or -1. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

/* ---- the log header -------------------------------------------------------------------- */

static const char *const header_fields[] = {"sweep_name", "sweep_yaml", "created_utc"};
#define N_HEADER_FIELDS 3

void ss_record_encode_header(ss_payload_t *b, const ss_log_header_t *h)
{
    pf_strn(b, "sweep_name", h->sweep_name, sizeof h->sweep_name - 1);
    pf_str(b, "sweep_yaml", h->yaml_text);
    pf_strn(b, "created_utc", h->created_utc, sizeof h->created_utc - 1);
}

int ss_record_decode_header(const unsigned char *p, size_t len, ss_log_header_t *h,
                            ss_error_t *err)
{
    memset(h, 0, sizeof *h);
    rd_t rd = {p, len, 0, err, "log header record"};
    uint32_t n_fields;
    int rc = rd_begin(&rd, &n_fields);
    if (rc)
        return rc;
    unsigned seen = 0;
    field_t f;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(&rd, &f))
            goto fail;
        int k = name_index(header_fields, N_HEADER_FIELDS, f.name), bad = 0;
        if (k < 0)
            continue;
        if ((seen >> k) & 1u) {
            rd_fail(&rd, f.name, "appears twice");
            goto fail;
        }
        seen |= 1u << k;
        if (k == 0)
            bad = get_str(&rd, &f, h->sweep_name, sizeof h->sweep_name);
        else if (k == 1)
            bad = get_strdup(&rd, &f, &h->yaml_text);
        else
            bad = get_str(&rd, &f, h->created_utc, sizeof h->created_utc);
        if (bad)
            goto fail;
    }
    if (rd_end(&rd))
        goto fail;
    for (int k = 0; k < N_HEADER_FIELDS; k++)
        if (!((seen >> k) & 1u)) {
            rd_fail(&rd, header_fields[k], "missing");
            goto fail;
        }
    return 0;
fail:
    free(h->yaml_text);
    memset(h, 0, sizeof *h);
    return -1;
}

/* ---- dataset descriptions -------------------------------------------------------------- */

enum {
    D_NAME, D_KIND, D_TASK, D_N_INPUTS, D_N_CLASSES, D_N_TRAIN, D_N_TEST, D_INPUT_RANK,
    D_INPUT_SHAPE, D_RELEVANCE_TRUTH, D_FEATURE_NAMES, D_STANDARDIZE_MEAN, D_STANDARDIZE_STD,
    D_COUNT
};
static const char *const dataset_fields[D_COUNT] = {
    "name", "kind", "task", "n_inputs", "n_classes", "n_train", "n_test", "input_rank",
    "input_shape", "relevance_truth", "feature_names", "standardize_mean", "standardize_std"
};
/* task: absent from the records of specsweep 0.1.0, where n_classes = 0 meant regression;
   the standardization vectors: only of a standardized dataset (both or neither) */
#define D_OPTIONAL ((1u << D_TASK) | (1u << D_RELEVANCE_TRUTH) | (1u << D_FEATURE_NAMES) | \
                    (1u << D_STANDARDIZE_MEAN) | (1u << D_STANDARDIZE_STD))

void ss_record_encode_dataset(ss_payload_t *b, const ss_dataset_info_t *ds)
{
    pf_strn(b, "name", ds->name, sizeof ds->name - 1);
    pf_str(b, "kind", ss_kind_name(ds->kind));
    pf_str(b, "task", ss_task_name(ds->task));
    pf_i64(b, "n_inputs", ds->n_inputs);
    pf_i64(b, "n_classes", ds->n_classes);
    pf_i64(b, "n_train", ds->n_train);
    pf_i64(b, "n_test", ds->n_test);
    int rank = ds->input_rank == 2 ? 2 : 0;
    int64_t shape[2] = {ds->input_shape[0], ds->input_shape[1]};
    pf_i64(b, "input_rank", rank);
    pf_i64v(b, "input_shape", shape, rank);
    if (ds->relevance_truth)
        pf_f64v(b, "relevance_truth", ds->relevance_truth, ds->n_inputs);
    if (ds->feature_names)
        pf_strv(b, "feature_names", ds->feature_names, ds->n_inputs);
    if (ds->standardize_mean && ds->standardize_std) {
        pf_f64v(b, "standardize_mean", ds->standardize_mean, ds->n_inputs);
        pf_f64v(b, "standardize_std", ds->standardize_std, ds->n_inputs);
    }
}

/* What a dataset record holds besides *ds: the text fields, the shape, and the lengths
   of its arrays as recorded (checked against n_inputs once every field is read). */
typedef struct {
    char kind[64], task[64];
    int64_t *shape;
    int n_shape, n_truth, n_names, n_mean, n_std;
} ds_fields_t;

/* The fields of a dataset record into *ds and *x. */
static int dataset_fields_read(rd_t *rd, ss_dataset_info_t *ds, unsigned *seen,
                               ds_fields_t *x)
{
    uint32_t n_fields;
    int rc = rd_begin(rd, &n_fields);
    if (rc)
        return rc;
    field_t f;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(rd, &f))
            return -1;
        int k = name_index(dataset_fields, D_COUNT, f.name);
        if (k < 0)
            continue;
        if ((*seen >> k) & 1u)
            return rd_fail(rd, f.name, "appears twice");
        *seen |= 1u << k;
        int bad = 0;
        switch (k) {
        case D_NAME: bad = get_str(rd, &f, ds->name, sizeof ds->name); break;
        case D_KIND: bad = get_str(rd, &f, x->kind, sizeof x->kind); break;
        case D_TASK: bad = get_str(rd, &f, x->task, sizeof x->task); break;
        case D_N_INPUTS: bad = get_int(rd, &f, &ds->n_inputs, 0); break;
        case D_N_CLASSES: bad = get_int(rd, &f, &ds->n_classes, 0); break;
        case D_N_TRAIN: bad = get_int(rd, &f, &ds->n_train, 0); break;
        case D_N_TEST: bad = get_int(rd, &f, &ds->n_test, 0); break;
        case D_INPUT_RANK: bad = get_int(rd, &f, &ds->input_rank, 0); break;
        case D_INPUT_SHAPE: bad = get_i64v(rd, &f, &x->shape, &x->n_shape); break;
        case D_RELEVANCE_TRUTH:
            bad = get_f64v(rd, &f, &ds->relevance_truth, &x->n_truth);
            break;
        case D_FEATURE_NAMES: bad = get_strv(rd, &f, &ds->feature_names, &x->n_names); break;
        case D_STANDARDIZE_MEAN:
            bad = get_f64v(rd, &f, &ds->standardize_mean, &x->n_mean);
            break;
        case D_STANDARDIZE_STD:
            bad = get_f64v(rd, &f, &ds->standardize_std, &x->n_std);
            break;
        }
        if (bad)
            return -1;
    }
    return rd_end(rd);
}

/* The checks of a decoded dataset description that span fields. */
static int dataset_consistent(rd_t *rd, ss_dataset_info_t *ds, unsigned seen,
                              const ds_fields_t *x)
{
    const char *kind = x->kind, *task = x->task;
    const int64_t *shape = x->shape;
    int n_shape = x->n_shape, n_truth = x->n_truth, n_names = x->n_names;
    for (int k = 0; k < D_COUNT; k++)
        if (!((seen >> k) & 1u) && !((D_OPTIONAL >> k) & 1u))
            return rd_fail(rd, dataset_fields[k], "missing");
    int kv = ss_kind_lookup(kind);
    if (kv < 0)
        return rd_fail(rd, "kind", "unknown dataset kind");
    ds->kind = (ss_kind_t)kv;
    int tv = (seen >> D_TASK) & 1u ? ss_task_lookup(task)
             : ds->n_classes > 0 ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    if (tv < 0)
        return rd_fail(rd, "task", "unknown task");
    ds->task = (ss_task_t)tv;
    if ((ds->task == SS_TASK_REGRESSION) != (ds->n_classes == 0))
        return rd_fail(rd, "task", "does not match n_classes");
    if ((ds->input_rank != 0 && ds->input_rank != 2) || n_shape != ds->input_rank)
        return rd_fail(rd, "input_shape", "does not match input_rank");
    for (int i = 0; i < n_shape; i++) {
        if (shape[i] < 0 || shape[i] > INT_MAX)
            return rd_fail(rd, "input_shape", "value out of range");
        ds->input_shape[i] = (int)shape[i];
    }
    if ((ds->relevance_truth || n_truth) && n_truth != ds->n_inputs)
        return rd_fail(rd, "relevance_truth", "length is not n_inputs");
    if (ds->feature_names && n_names != ds->n_inputs)
        return rd_fail(rd, "feature_names", "count is not n_inputs");
    int has_mean = (seen >> D_STANDARDIZE_MEAN) & 1u, has_std = (seen >> D_STANDARDIZE_STD) & 1u;
    if (has_mean != has_std)
        return rd_fail(rd, has_mean ? "standardize_std" : "standardize_mean",
                       "missing (both standardization vectors or neither)");
    if (has_mean && (x->n_mean != ds->n_inputs || x->n_std != ds->n_inputs))
        return rd_fail(rd, "standardize_mean", "length is not n_inputs");
    return 0;
}

int ss_record_decode_dataset(const unsigned char *p, size_t len, ss_dataset_info_t *ds,
                             ss_error_t *err)
{
    memset(ds, 0, sizeof *ds);
    rd_t rd = {p, len, 0, err, "dataset record"};
    unsigned seen = 0;
    ds_fields_t x;
    memset(&x, 0, sizeof x);
    int rc = dataset_fields_read(&rd, ds, &seen, &x);
    if (rc == 0)
        rc = dataset_consistent(&rd, ds, seen, &x);
    free(x.shape);
    if (rc == 0)
        return 0;
    if (ds->feature_names) { /* n_inputs may not match the list: free by its own count */
        free_strv(ds->feature_names, x.n_names);
        ds->feature_names = NULL;
    }
    ss_dataset_info_free(ds);
    return rc;
}

/* ---- results, driven by ss_result_fields[] ---------------------------------------------- */

#define TRAINING_PREFIX "training."

static void *member(const ss_result_t *r, const ss_result_field_t *f)
{
    return (char *)r + f->offset;
}

static int *count_member(ss_result_t *r, const ss_result_field_t *f)
{
    return (int *)((char *)r + f->count_offset);
}

/* The methods: their count as "<prefix>", each as "<prefix>.<method>" (values), "<prefix>.<method>.info" (the numbers of
   ss_method_result_info) and "<prefix>.<method>.topk" (top-k accuracies). */
static void encode_methods(ss_payload_t *b, const char *prefix, const ss_method_result_t *m,
                           int n)
{
    pf_i64(b, prefix, n); /* the count: a record that has it has all the methods run */
    for (int i = 0; i < n; i++) {
        char name[128];
        const char *mn = ss_attrib_method_name((ss_attrib_method_t)m[i].method);
        double info[SS_METHOD_INFO_COUNT];
        ss_method_result_info(&m[i], info);
        snprintf(name, sizeof name, "%s.%s", prefix, mn ? mn : "?");
        pf_f64v(b, name, m[i].values, m[i].n_values);
        snprintf(name, sizeof name, "%s.%s.info", prefix, mn ? mn : "?");
        pf_f64v(b, name, info, SS_METHOD_INFO_COUNT);
        snprintf(name, sizeof name, "%s.%s.topk", prefix, mn ? mn : "?");
        pf_f64v(b, name, m[i].topk_accuracy, m[i].n_topk);
    }
}

void ss_record_encode_result(ss_payload_t *b, const ss_result_t *r)
{
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        const void *m = member(r, f);
        int n = f->count_offset ? *count_member((ss_result_t *)r, f) : 0;
        if (ss_result_field_absent(r, k))
            continue; /* not computed for this run: not recorded */
        switch (f->kind) {
        case SS_FIELD_STRING: pf_strn(b, f->name, m, f->size - 1); break;
        case SS_FIELD_I64: pf_i64(b, f->name, *(const int64_t *)m); break;
        case SS_FIELD_INT: pf_i64(b, f->name, *(const int *)m); break;
        case SS_FIELD_F64: pf_f64(b, f->name, *(const double *)m); break;
        case SS_FIELD_STATUS: pf_str(b, f->name, ss_status_name(*(const ss_status_t *)m)); break;
        case SS_FIELD_TASK: pf_str(b, f->name, ss_task_name(*(const ss_task_t *)m)); break;
        case SS_FIELD_F64_ARRAY: pf_f64v(b, f->name, *(double *const *)m, n); break;
        case SS_FIELD_I64_ARRAY: pf_i64v(b, f->name, *(int64_t *const *)m, n); break;
        case SS_FIELD_METHODS: encode_methods(b, f->name, *(ss_method_result_t *const *)m, n); break;
        case SS_FIELD_TRAINING:
            for (int t = 0; t < SS_KEY_COUNT; t++) {
                char name[128];
                if (!ss_training_key_in_use(m, (ss_training_key_t)t))
                    continue; /* reads back as its default */
                snprintf(name, sizeof name, TRAINING_PREFIX "%s",
                         ss_training_key_name((ss_training_key_t)t));
                pf_f64(b, name, ss_training_get(m, (ss_training_key_t)t));
            }
            break;
        }
    }
}

/* A "training.<key>" field into r->training; keys this build does not know are skipped. */
static int decode_training_key(rd_t *rd, const field_t *f, ss_result_t *r, uint64_t *seen)
{
    int t = ss_training_key_lookup(f->name + strlen(TRAINING_PREFIX));
    if (t < 0)
        return 0;
    if ((*seen >> t) & 1)
        return rd_fail(rd, f->name, "appears twice");
    *seen |= (uint64_t)1 << t;
    double v;
    if (get_f64(rd, f, &v))
        return -1;
    ss_training_set(&r->training, (ss_training_key_t)t, v);
    return 0;
}

/* The entry of `method` in r, made (in method order) if it is not there yet. */
static ss_method_result_t *method_entry(ss_result_t *r, int method)
{
    int i = 0;
    while (i < r->n_methods && r->methods[i].method < method)
        i++;
    if (i < r->n_methods && r->methods[i].method == method)
        return &r->methods[i];
    r->methods = ss_realloc(r->methods, (size_t)(r->n_methods + 1) * sizeof *r->methods);
    memmove(&r->methods[i + 1], &r->methods[i],
            (size_t)(r->n_methods - i) * sizeof *r->methods);
    memset(&r->methods[i], 0, sizeof r->methods[i]);
    r->methods[i].method = method;
    r->n_methods++;
    return &r->methods[i];
}

/* A "<prefix>.<method>[.info|.topk]" field into r's methods; methods this build does not
   know are skipped. */
static int decode_method_field(rd_t *rd, const field_t *fd, const char *prefix, ss_result_t *r)
{
    char name[256];
    snprintf(name, sizeof name, "%s", fd->name + strlen(prefix) + 1);
    char *part = strchr(name, '.');
    if (part)
        *part++ = '\0';
    int method = ss_attrib_method_lookup(name);
    if (method < 0 || method >= SS_RESULT_MAX_METHODS)
        return 0;
    ss_method_result_t *m = method_entry(r, method);
    int n = 0;
    double *v = NULL;
    if (get_f64v(rd, fd, &v, &n))
        return -1;
    if (!part) {
        if (m->values)
            goto twice;
        m->values = v;
        m->n_values = n;
    } else if (!strcmp(part, "topk")) {
        if (m->topk_accuracy)
            goto twice;
        m->topk_accuracy = v;
        m->n_topk = n;
    } else if (!strcmp(part, "info")) {
        if (n != SS_METHOD_INFO_COUNT) {
            free(v);
            return rd_fail(rd, fd->name, "expected the method's numbers");
        }
        ss_method_result_set_info(m, v);
        free(v);
    } else {
        free(v); /* a part this build does not know */
    }
    return 0;
twice:
    free(v);
    return rd_fail(rd, fd->name, "appears twice");
}

/* One field of the table into r; *n gets an array's length. */
static int decode_result_field(rd_t *rd, const field_t *fd, const ss_result_field_t *f,
                               ss_result_t *r, int *n)
{
    void *m = member(r, f);
    char name[32];
    int v;
    switch (f->kind) {
    case SS_FIELD_STRING: return get_str(rd, fd, m, f->size);
    case SS_FIELD_I64: return get_i64(rd, fd, m);
    case SS_FIELD_INT: return get_int(rd, fd, m, 0);
    case SS_FIELD_F64: return get_f64(rd, fd, m);
    case SS_FIELD_STATUS:
        if (get_str(rd, fd, name, sizeof name))
            return -1;
        if ((v = ss_status_lookup(name)) < 0)
            return rd_fail(rd, f->name, "unknown status");
        *(ss_status_t *)m = (ss_status_t)v;
        return 0;
    case SS_FIELD_TASK:
        if (get_str(rd, fd, name, sizeof name))
            return -1;
        if ((v = ss_task_lookup(name)) < 0)
            return rd_fail(rd, f->name, "unknown task");
        *(ss_task_t *)m = (ss_task_t)v;
        return 0;
    case SS_FIELD_F64_ARRAY: return get_f64v(rd, fd, m, n);
    case SS_FIELD_I64_ARRAY: return get_i64v(rd, fd, m, n);
    case SS_FIELD_TRAINING: break; /* "training.<key>" fields, see decode_training_key */
    case SS_FIELD_METHODS:         /* the count; "<name>.<method>" fields: decode_method_field */
        return get_int(rd, fd, n, 0);
    }
    return rd_fail(rd, f->name, "unexpected field");
}

/* Arrays that share a count must agree; the count is then set. */
static int set_counts(rd_t *rd, ss_result_t *r, const int *n)
{
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if (f->kind != SS_FIELD_F64_ARRAY && f->kind != SS_FIELD_I64_ARRAY)
            continue;
        int first = 1;
        for (int j = 0; j < k; j++)
            first &= ss_result_fields[j].count_offset != f->count_offset;
        if (first)
            *count_member(r, f) = n[k];
        else if (*count_member(r, f) != n[k])
            return rd_fail(rd, NULL, "array lengths disagree");
    }
    return 0;
}

/* The index of the SS_FIELD_METHODS entry whose "<name>." prefixes `field`, or -1. */
static int methods_field_of(const char *field)
{
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        size_t n = strlen(f->name);
        if (f->kind == SS_FIELD_METHODS && !strncmp(field, f->name, n) && field[n] == '.')
            return k;
    }
    return -1;
}

static int decode_result(rd_t *rd, ss_result_t *r, unsigned *absent)
{
    memset(r, 0, sizeof *r);
    ss_training_defaults(&r->training); /* keys not in use are not recorded */
    if (absent)
        *absent = 0;
    uint32_t n_fields;
    int rc = rd_begin(rd, &n_fields);
    if (rc)
        return rc;
    uint64_t seen = 0, seen_key = 0;
    int n[64] = {0};
    field_t fd;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(rd, &fd))
            goto fail;
        if (!strncmp(fd.name, TRAINING_PREFIX, strlen(TRAINING_PREFIX))) {
            if (decode_training_key(rd, &fd, r, &seen_key))
                goto fail;
            continue;
        }
        int mk = methods_field_of(fd.name);
        if (mk >= 0) {
            if (decode_method_field(rd, &fd, ss_result_fields[mk].name, r))
                goto fail;
            continue;
        }
        int k = 0;
        while (k < ss_result_n_fields &&
               (ss_result_fields[k].kind == SS_FIELD_TRAINING ||
                strcmp(ss_result_fields[k].name, fd.name) != 0))
            k++;
        if (k == ss_result_n_fields)
            continue; /* a field this build does not know */
        if ((seen >> k) & 1u) {
            rd_fail(rd, fd.name, "appears twice");
            goto fail;
        }
        seen |= (uint64_t)1 << k;
        if (decode_result_field(rd, &fd, &ss_result_fields[k], r, &n[k]))
            goto fail;
    }
    if (rd_end(rd))
        goto fail;
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if ((seen >> k) & 1u || f->kind == SS_FIELD_TRAINING)
            continue;
        if (!(f->flags & SS_FIELD_OPTIONAL)) {
            rd_fail(rd, f->name, "missing");
            goto fail;
        }
        r->absent |= 1u << k;
    }
    if (absent)
        *absent = r->absent;
    if (set_counts(rd, r, n))
        goto fail;
    for (int k = 0; k < ss_result_n_fields; k++)
        /* fewer entries than counted: methods of a newer writer, skipped */
        if (ss_result_fields[k].kind == SS_FIELD_METHODS && ((seen >> k) & 1u) &&
            n[k] < r->n_methods) {
            rd_fail(rd, ss_result_fields[k].name, "count does not match the methods recorded");
            goto fail;
        }
    return 0;
fail:
    ss_result_free(r);
    return -1;
}

int ss_record_decode_result(const unsigned char *p, size_t len, ss_result_t *r,
                            unsigned *absent, ss_error_t *err)
{
    rd_t rd = {p, len, 0, err, "result record"};
    return decode_result(&rd, r, absent);
}

int ss_record_pack_result(const ss_result_t *r, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!ss_result_check(r))
        return -1;
    ss_payload_t b;
    ss_payload_begin(&b, 0);
    ss_record_encode_result(&b, r);
    ss_payload_end(&b);
    *buf = b.p;
    *len = b.len;
    return 0;
}

int ss_record_unpack_result(const unsigned char *buf, size_t len, ss_result_t *r,
                            ss_error_t *err)
{
    rd_t rd = {buf, len, 0, err, "result payload"};
    unsigned absent = 0;
    if (!buf) {
        memset(r, 0, sizeof *r);
        return rd_fail(&rd, NULL, "no data");
    }
    if (decode_result(&rd, r, &absent) != 0)
        return -1;
    if (absent & SS_RESULT_BIT(task)) { /* messages always carry it */
        ss_result_free(r);
        return rd_fail(&rd, "task", "missing");
    }
    return 0;
}
