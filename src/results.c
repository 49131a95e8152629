/* results.c - the commit log, the HDF5 snapshot, the writer lock, the summary table.
   See include/specsweep/results.h. */
#include "specsweep/results.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAGIC "SSLOG001"
#define LOG_MAGIC_LEN 8
#define REC_MAGIC 0x53535243u /* "SSRC" */
#define REC_HEAD 16           /* magic, type, length */
#define REC_TAIL 4            /* CRC */
#define PAYLOAD_VERSION 1

enum { REC_HEADER = 1, REC_DATASET = 2, REC_RESULT = 3 };
enum { FT_I64 = 1, FT_F64 = 2, FT_STR = 3, FT_I64V = 4, FT_F64V = 5, FT_STRV = 6 };

/* ---- train.h functions owned by this module ------------------------------------------ */

const char *ss_status_name(ss_status_t s)
{
    switch (s) {
    case SS_STATUS_OK: return "ok";
    case SS_STATUS_DIVERGED: return "diverged";
    case SS_STATUS_FAILED: return "failed";
    }
    return "unknown";
}

static int status_lookup(const char *name)
{
    for (int s = SS_STATUS_OK; s <= SS_STATUS_FAILED; s++)
        if (!strcmp(name, ss_status_name((ss_status_t)s)))
            return s;
    return -1;
}

void ss_result_free(ss_result_t *r)
{
    if (!r)
        return;
    free(r->eigenvalues);
    free(r->eigenvalues_raw);
    free(r->train_loss);
    free(r->val_metric);
    free(r->topk);
    free(r->topk_accuracy);
    free(r->randomk_accuracy);
    memset(r, 0, sizeof *r);
}

/* ---- small helpers ----------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
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

static double *dup_f64(const double *v, int n)
{
    if (!v || n <= 0)
        return NULL;
    double *d = ss_malloc((size_t)n * sizeof *d);
    memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

static int64_t *dup_i64(const int64_t *v, int n)
{
    if (!v || n <= 0)
        return NULL;
    int64_t *d = ss_malloc((size_t)n * sizeof *d);
    memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}



/* fsync a directory so that entries created or renamed in it survive a crash. File
   systems that cannot sync directories (EINVAL) have nothing to flush. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e == EINVAL)
        rc = 0;
    errno = e;
    return rc;
}

/* mkdir -p of the directory holding `path`. New directories are fsync'd into their
   parents, so a log created inside them is reachable after a crash. On failure returns -1
   with errno set and the directory that could not be created in bad[cap]. */
static int mkdir_parent(const char *path, char *bad, size_t cap)
{
    char *dir = ss_dirname(path);
    int rc = 0, e = 0;
    for (char *q = dir + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char save = *q;
        *q = '\0';
        if (mkdir(dir, 0755) == 0) {
            char *up = ss_dirname(dir);
            fsync_dir(up);
            free(up);
        } else {
            struct stat st;
            if (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                e = errno == EEXIST ? ENOTDIR : errno;
                snprintf(bad, cap, "%s", dir);
                rc = -1;
                break;
            }
        }
        *q = save;
        if (!save)
            break;
    }
    free(dir);
    errno = e;
    return rc;
}

/* write(2) all of buf, across partial writes and EINTR. */
static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* read(2) up to n bytes; returns the count (short only at end of file) or -1. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---- payload encoding ------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    size_t start;      /* offset of the payload (room for a record head before it) */
    uint32_t n_fields;
} pbuf_t;

/* Reserve n bytes at the end; returns where they start (valid until the next grow). */
static unsigned char *pb_grow(pbuf_t *b, size_t n)
{
    if (b->cap - b->len < n) {
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

static void pb_begin(pbuf_t *b, size_t prefix)
{
    memset(b, 0, sizeof *b);
    pb_grow(b, prefix);
    b->start = prefix;
    unsigned char *q = pb_grow(b, 8);
    put_u32(q, PAYLOAD_VERSION);
    put_u32(q + 4, 0); /* field count, set by pb_end */
}

static void pb_end(pbuf_t *b) { put_u32(b->p + b->start + 4, b->n_fields); }

/* Field head: type, name, data length; returns where the data goes. */
static unsigned char *pf_head(pbuf_t *b, int type, const char *name, size_t nbytes)
{
    size_t nl = strlen(name);
    if (nl > 255)
        nl = 255;
    unsigned char *q = pb_grow(b, 2 + nl + 8 + nbytes);
    q[0] = (unsigned char)type;
    q[1] = (unsigned char)nl;
    memcpy(q + 2, name, nl);
    put_u64(q + 2 + nl, nbytes);
    b->n_fields++;
    return q + 2 + nl + 8;
}

static void pf_i64(pbuf_t *b, const char *name, int64_t v)
{
    put_u64(pf_head(b, FT_I64, name, 8), (uint64_t)v);
}

static void pf_f64(pbuf_t *b, const char *name, double v)
{
    put_u64(pf_head(b, FT_F64, name, 8), f64_bits(v));
}

static void pf_bytes(pbuf_t *b, const char *name, const char *s, size_t n)
{
    unsigned char *q = pf_head(b, FT_STR, name, n);
    if (n)
        memcpy(q, s, n);
}

static void pf_str(pbuf_t *b, const char *name, const char *s)
{
    pf_bytes(b, name, s, s ? strlen(s) : 0);
}

/* A string of at most `cap` bytes from a fixed-size field. */
static void pf_strn(pbuf_t *b, const char *name, const char *s, size_t cap)
{
    pf_bytes(b, name, s, s ? strnlen(s, cap) : 0);
}

static void pf_i64v(pbuf_t *b, const char *name, const int64_t *v, int n)
{
    unsigned char *q = pf_head(b, FT_I64V, name, 8 * (size_t)n);
    for (int i = 0; i < n; i++)
        put_u64(q + 8 * (size_t)i, (uint64_t)v[i]);
}

static void pf_f64v(pbuf_t *b, const char *name, const double *v, int n)
{
    unsigned char *q = pf_head(b, FT_F64V, name, 8 * (size_t)n);
    for (int i = 0; i < n; i++)
        put_u64(q + 8 * (size_t)i, f64_bits(v[i]));
}

static void pf_strv(pbuf_t *b, const char *name, char *const *v, int n)
{
    size_t total = 4;
    for (int i = 0; i < n; i++)
        total += 4 + (v[i] ? strlen(v[i]) : 0);
    unsigned char *q = pf_head(b, FT_STRV, name, total);
    put_u32(q, (uint32_t)n);
    q += 4;
    for (int i = 0; i < n; i++) {
        size_t len = v[i] ? strlen(v[i]) : 0;
        put_u32(q, (uint32_t)len);
        if (len)
            memcpy(q + 4, v[i], len);
        q += 4 + len;
    }
}

/* ---- payload decoding -------------------------------------------------------------- */

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
    uint32_t version = get_u32(r->p);
    if (version == 0)
        return rd_fail(r, NULL, "payload version 0");
    if (version > PAYLOAD_VERSION) {
        ss_error_set(r->err, SS_EXIT_INPUT,
                     "%s version %u was written by a newer specsweep (this one reads %d)",
                     r->what, (unsigned)version, PAYLOAD_VERSION);
        return -2;
    }
    *n_fields = get_u32(r->p + 4);
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
    uint64_t n = get_u64(q + 2 + nl);
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
    *v = (int64_t)get_u64(f->data);
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
    *v = bits_f64(get_u64(f->data));
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
            (*v)[i] = bits_f64(get_u64(f->data + 8 * (size_t)i));
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
            (*v)[i] = (int64_t)get_u64(f->data + 8 * (size_t)i);
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
    uint32_t n = get_u32(f->data);
    if (n > (f->n - 4) / 4 || n > INT_MAX)
        return rd_fail(r, f->name, "string count larger than the field");
    char **v = ss_calloc(n ? n : 1, sizeof *v);
    size_t pos = 4;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = f->n - pos >= 4 ? get_u32(f->data + pos) : 0;
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

/* ---- result payload ---------------------------------------------------------------- */

#define TRAINING_PREFIX "training."

enum {
    R_RUN_ID, R_DATASET, R_SEED, R_RANKS, R_STATUS, R_MESSAGE, R_TRAIN_SECONDS,
    R_SAMPLES_PER_SECOND, R_TEST_ACCURACY, R_TEST_LOSS, R_EIGENVALUES, R_EIGENVALUES_RAW,
    R_TRAIN_LOSS, R_VAL_METRIC, R_TOPK, R_TOPK_ACCURACY, R_RANDOMK_ACCURACY, R_COUNT
};
static const char *const result_fields[R_COUNT] = {
    "run_id", "dataset", "seed", "ranks", "status", "message", "train_seconds",
    "samples_per_second", "test_accuracy", "test_loss", "eigenvalues", "eigenvalues_raw",
    "train_loss", "val_metric", "topk", "topk_accuracy", "randomk_accuracy"
};

static int result_consistent(const ss_result_t *r)
{
    if (r->n_inputs < 0 || r->n_epochs < 0 || r->n_topk < 0 || r->ranks < 0 ||
        r->status < SS_STATUS_OK || r->status > SS_STATUS_FAILED)
        return 0;
    if (r->n_inputs > 0 && (!r->eigenvalues || !r->eigenvalues_raw))
        return 0;
    if (r->n_epochs > 0 && (!r->train_loss || !r->val_metric))
        return 0;
    if (r->n_topk > 0 && (!r->topk || !r->topk_accuracy || !r->randomk_accuracy))
        return 0;
    return 1;
}

static void encode_result(pbuf_t *b, const ss_result_t *r)
{
    pf_strn(b, "run_id", r->run_id, sizeof r->run_id - 1);
    pf_strn(b, "dataset", r->dataset, sizeof r->dataset - 1);
    pf_i64(b, "seed", r->seed);
    for (int k = 0; k < SS_KEY_COUNT; k++) {
        char name[128];
        snprintf(name, sizeof name, TRAINING_PREFIX "%s",
                 ss_training_key_name((ss_training_key_t)k));
        pf_f64(b, name, ss_training_get(&r->training, (ss_training_key_t)k));
    }
    pf_i64(b, "ranks", r->ranks);
    pf_str(b, "status", ss_status_name(r->status));
    pf_strn(b, "message", r->message, sizeof r->message - 1);
    pf_f64(b, "train_seconds", r->train_seconds);
    pf_f64(b, "samples_per_second", r->samples_per_second);
    pf_f64(b, "test_accuracy", r->test_accuracy);
    pf_f64(b, "test_loss", r->test_loss);
    pf_f64v(b, "eigenvalues", r->eigenvalues, r->n_inputs);
    pf_f64v(b, "eigenvalues_raw", r->eigenvalues_raw, r->n_inputs);
    pf_f64v(b, "train_loss", r->train_loss, r->n_epochs);
    pf_f64v(b, "val_metric", r->val_metric, r->n_epochs);
    pf_i64v(b, "topk", r->topk, r->n_topk);
    pf_f64v(b, "topk_accuracy", r->topk_accuracy, r->n_topk);
    pf_f64v(b, "randomk_accuracy", r->randomk_accuracy, r->n_topk);
}

/* Returns 0, -1 (malformed; *res zeroed) or -2 (newer payload version). */
static int decode_result(rd_t *rd, ss_result_t *res)
{
    memset(res, 0, sizeof *res);
    uint32_t n_fields;
    int rc = rd_begin(rd, &n_fields);
    if (rc)
        return rc;
    unsigned seen = 0;
    uint64_t seen_key = 0;
    int n[R_COUNT] = {0};
    char status[16] = "";
    field_t f;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(rd, &f))
            goto fail;
        if (!strncmp(f.name, TRAINING_PREFIX, strlen(TRAINING_PREFIX))) {
            int k = ss_training_key_lookup(f.name + strlen(TRAINING_PREFIX));
            if (k < 0)
                continue; /* a key this build does not know */
            double v;
            if ((seen_key >> k) & 1) {
                rd_fail(rd, f.name, "appears twice");
                goto fail;
            }
            seen_key |= (uint64_t)1 << k;
            if (get_f64(rd, &f, &v))
                goto fail;
            ss_training_set(&res->training, (ss_training_key_t)k, v);
            continue;
        }
        int k = name_index(result_fields, R_COUNT, f.name);
        if (k < 0)
            continue; /* a field this build does not know */
        if ((seen >> k) & 1u) {
            rd_fail(rd, f.name, "appears twice");
            goto fail;
        }
        seen |= 1u << k;
        int bad = 0;
        switch (k) {
        case R_RUN_ID: bad = get_str(rd, &f, res->run_id, sizeof res->run_id); break;
        case R_DATASET: bad = get_str(rd, &f, res->dataset, sizeof res->dataset); break;
        case R_SEED: bad = get_i64(rd, &f, &res->seed); break;
        case R_RANKS: bad = get_int(rd, &f, &res->ranks, 0); break;
        case R_STATUS: bad = get_str(rd, &f, status, sizeof status); break;
        case R_MESSAGE: bad = get_str(rd, &f, res->message, sizeof res->message); break;
        case R_TRAIN_SECONDS: bad = get_f64(rd, &f, &res->train_seconds); break;
        case R_SAMPLES_PER_SECOND: bad = get_f64(rd, &f, &res->samples_per_second); break;
        case R_TEST_ACCURACY: bad = get_f64(rd, &f, &res->test_accuracy); break;
        case R_TEST_LOSS: bad = get_f64(rd, &f, &res->test_loss); break;
        case R_EIGENVALUES: bad = get_f64v(rd, &f, &res->eigenvalues, &n[k]); break;
        case R_EIGENVALUES_RAW: bad = get_f64v(rd, &f, &res->eigenvalues_raw, &n[k]); break;
        case R_TRAIN_LOSS: bad = get_f64v(rd, &f, &res->train_loss, &n[k]); break;
        case R_VAL_METRIC: bad = get_f64v(rd, &f, &res->val_metric, &n[k]); break;
        case R_TOPK: bad = get_i64v(rd, &f, &res->topk, &n[k]); break;
        case R_TOPK_ACCURACY: bad = get_f64v(rd, &f, &res->topk_accuracy, &n[k]); break;
        case R_RANDOMK_ACCURACY: bad = get_f64v(rd, &f, &res->randomk_accuracy, &n[k]); break;
        }
        if (bad)
            goto fail;
    }
    if (rd_end(rd))
        goto fail;
    for (int k = 0; k < R_COUNT; k++)
        if (!((seen >> k) & 1u)) {
            rd_fail(rd, result_fields[k], "missing");
            goto fail;
        }
    int st = status_lookup(status);
    if (st < 0) {
        rd_fail(rd, "status", "unknown status");
        goto fail;
    }
    res->status = (ss_status_t)st;
    if (n[R_EIGENVALUES] != n[R_EIGENVALUES_RAW] || n[R_TRAIN_LOSS] != n[R_VAL_METRIC] ||
        n[R_TOPK] != n[R_TOPK_ACCURACY] || n[R_TOPK] != n[R_RANDOMK_ACCURACY]) {
        rd_fail(rd, NULL, "array lengths disagree");
        goto fail;
    }
    res->n_inputs = n[R_EIGENVALUES];
    res->n_epochs = n[R_TRAIN_LOSS];
    res->n_topk = n[R_TOPK];
    return 0;
fail:
    ss_result_free(res);
    return -1;
}

int ss_result_pack(const ss_result_t *r, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!result_consistent(r))
        return -1;
    pbuf_t b;
    pb_begin(&b, 0);
    encode_result(&b, r);
    pb_end(&b);
    *buf = b.p;
    *len = b.len;
    return 0;
}

int ss_result_unpack(const unsigned char *buf, size_t len, ss_result_t *r, ss_error_t *err)
{
    rd_t rd = {buf, len, 0, err, "result payload"};
    if (!buf) {
        memset(r, 0, sizeof *r);
        return rd_fail(&rd, NULL, "no data");
    }
    return decode_result(&rd, r) == 0 ? 0 : -1;
}

/* ---- dataset and header payloads --------------------------------------------------- */

enum {
    D_NAME, D_KIND, D_N_INPUTS, D_N_CLASSES, D_N_TRAIN, D_N_TEST, D_INPUT_RANK,
    D_INPUT_SHAPE, D_RELEVANCE_TRUTH, D_FEATURE_NAMES, D_COUNT
};
static const char *const dataset_fields[D_COUNT] = {
    "name", "kind", "n_inputs", "n_classes", "n_train", "n_test", "input_rank",
    "input_shape", "relevance_truth", "feature_names"
};
#define D_OPTIONAL ((1u << D_RELEVANCE_TRUTH) | (1u << D_FEATURE_NAMES))

static void encode_dataset(pbuf_t *b, const ss_dataset_info_t *ds)
{
    pf_strn(b, "name", ds->name, sizeof ds->name - 1);
    pf_str(b, "kind", ss_kind_name(ds->kind));
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
}

static int kind_lookup(const char *name)
{
    for (int k = SS_KIND_GAUSSIAN; k <= SS_KIND_SPECTRA; k++) {
        const char *kn = ss_kind_name((ss_kind_t)k);
        if (kn && !strcmp(kn, name))
            return k;
    }
    return -1;
}

static int decode_dataset(rd_t *rd, ss_dataset_info_t *ds)
{
    memset(ds, 0, sizeof *ds);
    uint32_t n_fields;
    int rc = rd_begin(rd, &n_fields);
    if (rc)
        return rc;
    unsigned seen = 0;
    char kind[64] = "";
    int64_t *shape = NULL;
    int n_shape = 0, n_truth = 0, n_names = 0;
    field_t f;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(rd, &f))
            goto fail;
        int k = name_index(dataset_fields, D_COUNT, f.name);
        if (k < 0)
            continue;
        if ((seen >> k) & 1u) {
            rd_fail(rd, f.name, "appears twice");
            goto fail;
        }
        seen |= 1u << k;
        int bad = 0;
        switch (k) {
        case D_NAME: bad = get_str(rd, &f, ds->name, sizeof ds->name); break;
        case D_KIND: bad = get_str(rd, &f, kind, sizeof kind); break;
        case D_N_INPUTS: bad = get_int(rd, &f, &ds->n_inputs, 0); break;
        case D_N_CLASSES: bad = get_int(rd, &f, &ds->n_classes, 0); break;
        case D_N_TRAIN: bad = get_int(rd, &f, &ds->n_train, 0); break;
        case D_N_TEST: bad = get_int(rd, &f, &ds->n_test, 0); break;
        case D_INPUT_RANK: bad = get_int(rd, &f, &ds->input_rank, 0); break;
        case D_INPUT_SHAPE: bad = get_i64v(rd, &f, &shape, &n_shape); break;
        case D_RELEVANCE_TRUTH: bad = get_f64v(rd, &f, &ds->relevance_truth, &n_truth); break;
        case D_FEATURE_NAMES: bad = get_strv(rd, &f, &ds->feature_names, &n_names); break;
        }
        if (bad)
            goto fail;
    }
    if (rd_end(rd))
        goto fail;
    for (int k = 0; k < D_COUNT; k++)
        if (!((seen >> k) & 1u) && !((D_OPTIONAL >> k) & 1u)) {
            rd_fail(rd, dataset_fields[k], "missing");
            goto fail;
        }
    int kv = kind_lookup(kind);
    if (kv < 0) {
        rd_fail(rd, "kind", "unknown dataset kind");
        goto fail;
    }
    ds->kind = (ss_kind_t)kv;
    ds->task = ds->n_classes > 0 ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    if ((ds->input_rank != 0 && ds->input_rank != 2) || n_shape != ds->input_rank) {
        rd_fail(rd, "input_shape", "does not match input_rank");
        goto fail;
    }
    for (int i = 0; i < n_shape; i++) {
        if (shape[i] < 0 || shape[i] > INT_MAX) {
            rd_fail(rd, "input_shape", "value out of range");
            goto fail;
        }
        ds->input_shape[i] = (int)shape[i];
    }
    if ((ds->relevance_truth || n_truth) && n_truth != ds->n_inputs) {
        rd_fail(rd, "relevance_truth", "length is not n_inputs");
        goto fail;
    }
    if (ds->feature_names && n_names != ds->n_inputs) {
        rd_fail(rd, "feature_names", "count is not n_inputs");
        goto fail;
    }
    free(shape);
    return 0;
fail:
    free(shape);
    if (ds->feature_names) { /* n_inputs may not match the list: free by its own count */
        free_strv(ds->feature_names, n_names);
        ds->feature_names = NULL;
    }
    ss_dataset_info_free(ds);
    return -1;
}

static void encode_header(pbuf_t *b, const char *sweep_name, const char *yaml_text,
                          const char *created_utc)
{
    pf_strn(b, "sweep_name", sweep_name, SS_NAME_MAX - 1);
    pf_str(b, "sweep_yaml", yaml_text);
    pf_strn(b, "created_utc", created_utc, 31);
}

static int decode_header(rd_t *rd, ss_log_contents_t *c)
{
    uint32_t n_fields;
    int rc = rd_begin(rd, &n_fields);
    if (rc)
        return rc;
    static const char *const fields[] = {"sweep_name", "sweep_yaml", "created_utc"};
    char name[SS_NAME_MAX] = "", created[32] = "";
    char *yaml = NULL;
    unsigned seen = 0;
    field_t f;
    for (uint32_t i = 0; i < n_fields; i++) {
        if (rd_field(rd, &f))
            goto fail;
        int k = name_index(fields, 3, f.name), bad = 0;
        if (k < 0)
            continue;
        if ((seen >> k) & 1u) {
            rd_fail(rd, f.name, "appears twice");
            goto fail;
        }
        seen |= 1u << k;
        if (k == 0)
            bad = get_str(rd, &f, name, sizeof name);
        else if (k == 1)
            bad = get_strdup(rd, &f, &yaml);
        else
            bad = get_str(rd, &f, created, sizeof created);
        if (bad)
            goto fail;
    }
    if (rd_end(rd))
        goto fail;
    for (int k = 0; k < 3; k++)
        if (!((seen >> k) & 1u)) {
            rd_fail(rd, fields[k], "missing");
            goto fail;
        }
    c->has_header = 1;
    memcpy(c->sweep_name, name, sizeof name);
    memcpy(c->created_utc, created, sizeof created);
    free(c->yaml_text);
    c->yaml_text = yaml;
    return 0;
fail:
    free(yaml);
    return -1;
}

/* ---- log contents ------------------------------------------------------------------ */

static int *index_slot(int *table, int cap, const ss_result_t *results, const char *id)
{
    size_t mask = (size_t)cap - 1, h = (size_t)ss_hash_str(id) & mask;
    while (table[h] && strcmp(results[table[h] - 1].run_id, id) != 0)
        h = (h + 1) & mask;
    return &table[h];
}

static void index_rebuild(ss_log_contents_t *c)
{
    int cap = 64;
    while (cap < 2 * (c->n_results + 1))
        cap *= 2;
    free(c->run_index);
    c->run_index = ss_calloc((size_t)cap, sizeof *c->run_index);
    c->run_index_cap = cap;
    for (int i = 0; i < c->n_results; i++) {
        int *slot = index_slot(c->run_index, cap, c->results, c->results[i].run_id);
        if (!*slot)
            *slot = i + 1;
    }
    c->run_index_n = c->n_results;
}

static int contents_find(ss_log_contents_t *c, const char *run_id)
{
    if (!c->run_index || c->run_index_n != c->n_results)
        index_rebuild(c);
    int *slot = index_slot(c->run_index, c->run_index_cap, c->results, run_id);
    return *slot - 1;
}

/* Take ownership of *r (which is zeroed); a result with the same run id is replaced. */
static void contents_put_result(ss_log_contents_t *c, ss_result_t *r)
{
    int i = contents_find(c, r->run_id);
    if (i >= 0) {
        ss_result_free(&c->results[i]);
        c->results[i] = *r;
    } else {
        if (c->results_cap < c->n_results + 1) {
            int cap = c->results_cap > 0 ? c->results_cap : 16;
            while (cap < c->n_results + 1)
                cap *= 2;
            c->results = ss_realloc(c->results, (size_t)cap * sizeof *c->results);
            c->results_cap = cap;
        }
        c->results[c->n_results++] = *r;
        if (2 * (c->n_results + 1) > c->run_index_cap) {
            index_rebuild(c);
        } else {
            *index_slot(c->run_index, c->run_index_cap, c->results, r->run_id) = c->n_results;
            c->run_index_n = c->n_results;
        }
    }
    memset(r, 0, sizeof *r);
}

static void contents_put_dataset(ss_log_contents_t *c, ss_dataset_info_t *ds)
{
    for (int i = 0; i < c->n_datasets; i++)
        if (!strcmp(c->datasets[i].name, ds->name)) {
            ss_dataset_info_free(&c->datasets[i]);
            c->datasets[i] = *ds;
            memset(ds, 0, sizeof *ds);
            return;
        }
    if (c->datasets_cap < c->n_datasets + 1) {
        int cap = c->datasets_cap > 0 ? 2 * c->datasets_cap : 8;
        if (cap < c->n_datasets + 1)
            cap = c->n_datasets + 1;
        c->datasets = ss_realloc(c->datasets, (size_t)cap * sizeof *c->datasets);
        c->datasets_cap = cap;
    }
    c->datasets[c->n_datasets++] = *ds;
    memset(ds, 0, sizeof *ds);
}

void ss_log_contents_add_result(ss_log_contents_t *c, const ss_result_t *r)
{
    ss_result_t copy = *r;
    copy.eigenvalues = dup_f64(r->eigenvalues, r->n_inputs);
    copy.eigenvalues_raw = dup_f64(r->eigenvalues_raw, r->n_inputs);
    copy.train_loss = dup_f64(r->train_loss, r->n_epochs);
    copy.val_metric = dup_f64(r->val_metric, r->n_epochs);
    copy.topk = dup_i64(r->topk, r->n_topk);
    copy.topk_accuracy = dup_f64(r->topk_accuracy, r->n_topk);
    copy.randomk_accuracy = dup_f64(r->randomk_accuracy, r->n_topk);
    contents_put_result(c, &copy);
}

void ss_log_contents_add_dataset(ss_log_contents_t *c, const ss_dataset_info_t *ds)
{
    ss_dataset_info_t m;
    ss_dataset_info_copy(&m, ds);
    contents_put_dataset(c, &m);
}

const ss_result_t *ss_log_contents_find(ss_log_contents_t *c, const char *run_id)
{
    int i = contents_find(c, run_id);
    return i >= 0 ? &c->results[i] : NULL;
}

const ss_dataset_info_t *ss_log_contents_find_dataset(const ss_log_contents_t *c,
                                                 const char *name)
{
    for (int i = 0; i < c->n_datasets; i++)
        if (!strcmp(c->datasets[i].name, name))
            return &c->datasets[i];
    return NULL;
}

void ss_log_contents_free(ss_log_contents_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_results; i++)
        ss_result_free(&c->results[i]);
    for (int i = 0; i < c->n_datasets; i++)
        ss_dataset_info_free(&c->datasets[i]);
    free(c->results);
    free(c->datasets);
    free(c->yaml_text);
    free(c->run_index);
    memset(c, 0, sizeof *c);
}

/* ---- reading the log --------------------------------------------------------------- */

int ss_log_read(const char *log_path, ss_log_contents_t *c, ss_error_t *err)
{
    memset(c, 0, sizeof *c);
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open: %s", log_path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s", log_path, strerror(errno));
        close(fd);
        return -1;
    }
    off_t size = st.st_size;
    unsigned char magic[LOG_MAGIC_LEN];
    ssize_t got = read_full(fd, magic, LOG_MAGIC_LEN);
    if (got < 0)
        goto io_error;
    if (memcmp(magic, LOG_MAGIC, (size_t)got) != 0 ||
        (got < LOG_MAGIC_LEN && size > got)) {
        if (got == LOG_MAGIC_LEN && !memcmp(magic, LOG_MAGIC, 5))
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s: not a specsweep results log of this version (log format %.3s, "
                         "this specsweep reads %s)", log_path, (const char *)magic + 5,
                         LOG_MAGIC + 5);
        else
            ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results log", log_path);
        close(fd);
        return -1;
    }
    if (got < LOG_MAGIC_LEN) { /* empty, or a crash while the magic was written */
        c->torn = got > 0;
        close(fd);
        return 0;
    }

    off_t off = LOG_MAGIC_LEN;
    unsigned char *payload = NULL;
    size_t payload_cap = 0;
    int rc = 0;
    while (off < size) {
        unsigned char head[REC_HEAD];
        got = read_full(fd, head, REC_HEAD);
        if (got < 0) {
            free(payload);
            goto io_error;
        }
        if (got < REC_HEAD || get_u32(head) != REC_MAGIC)
            break;
        uint32_t type = get_u32(head + 4);
        uint64_t plen = get_u64(head + 8);
        if ((uint64_t)(size - off) < REC_HEAD + REC_TAIL ||
            plen > (uint64_t)(size - off) - REC_HEAD - REC_TAIL)
            break; /* the length runs past the end of the file */
        size_t need = (size_t)plen + REC_TAIL;
        if (payload_cap < need) {
            payload = ss_realloc(payload, need);
            payload_cap = need;
        }
        got = read_full(fd, payload, need);
        if (got < 0) {
            free(payload);
            goto io_error;
        }
        if ((size_t)got < need)
            break;
        uint32_t crc = ss_crc32(ss_crc32(0, head + 4, REC_HEAD - 4), payload, (size_t)plen);
        if (crc != get_u32(payload + plen))
            break;

        ss_error_t derr = {0};
        rd_t rd = {payload, (size_t)plen, 0, &derr, "log record"};
        int drc = 0;
        if (type == REC_HEADER) {
            rd.what = "log header record";
            drc = decode_header(&rd, c);
        } else if (type == REC_DATASET) {
            ss_dataset_info_t ds;
            rd.what = "dataset record";
            drc = decode_dataset(&rd, &ds);
            if (drc == 0)
                contents_put_dataset(c, &ds);
        } else if (type == REC_RESULT) {
            ss_result_t r;
            rd.what = "result record";
            drc = decode_result(&rd, &r);
            if (drc == 0)
                contents_put_result(c, &r);
        } /* other types (a newer build's additions) are intact records: skipped */
        if (drc == -2) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: %s", log_path, derr.msg);
            rc = -1;
            break;
        }
        if (drc != 0)
            break; /* intact bytes that do not decode: treated like a torn record */
        off += (off_t)(REC_HEAD + need);
    }
    free(payload);
    close(fd);
    c->valid_bytes = (long)off;
    c->torn = off < size;
    return rc;

io_error:
    ss_error_set(err, SS_EXIT_RUNTIME, "%s: read error: %s", log_path, strerror(errno));
    close(fd);
    return -1;
}

/* ---- appending to the log ---------------------------------------------------------- */

int ss_log_open(ss_log_t *log, const char *log_path, long valid_bytes, ss_error_t *err)
{
    log->fd = -1;
    log->path = NULL;
    log->size = 0;
    if (valid_bytes < LOG_MAGIC_LEN)
        valid_bytes = 0; /* at most a partial magic: start the file over */
    char bad[4096];
    if (mkdir_parent(log_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot create directory %s: %s", log_path,
                     bad, strerror(errno));
        return -1;
    }

    int created = 1;
    int fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open(log_path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
    if (fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open for appending: %s", log_path,
                     strerror(errno));
        return -1;
    }
    const char *step = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        step = "stat";
        goto fail;
    }
    if (st.st_size > 0) { /* never truncate a file that is not ours */
        unsigned char magic[LOG_MAGIC_LEN];
        size_t n = st.st_size < LOG_MAGIC_LEN ? (size_t)st.st_size : LOG_MAGIC_LEN;
        ssize_t got = pread(fd, magic, n, 0);
        if (got < 0) {
            step = "read";
            goto fail;
        }
        if ((size_t)got != n || memcmp(magic, LOG_MAGIC, n) != 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results log", log_path);
            close(fd);
            return -1;
        }
    }
    if (st.st_size < valid_bytes) {
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: the log is shorter (%lld bytes) than when it was read (%ld bytes); "
                     "is another process changing it?",
                     log_path, (long long)st.st_size, valid_bytes);
        close(fd);
        return -1;
    }
    if (st.st_size > valid_bytes) {
        if (ftruncate(fd, valid_bytes) != 0) {
            step = "truncating the torn tail";
            goto fail;
        }
        if (fsync(fd) != 0) {
            step = "fsync";
            goto fail;
        }
    }
    if (valid_bytes == 0) {
        if (write_all(fd, LOG_MAGIC, LOG_MAGIC_LEN) != 0) {
            step = "write";
            goto fail;
        }
        if (fsync(fd) != 0) {
            step = "fsync";
            goto fail;
        }
        valid_bytes = LOG_MAGIC_LEN;
    }
    if (created) {
        char *dir = ss_dirname(log_path);
        int rc = fsync_dir(dir);
        free(dir);
        if (rc != 0) {
            step = "fsync of its directory";
            goto fail;
        }
    }
    log->fd = fd;
    log->path = ss_strdup(log_path);
    log->size = valid_bytes;
    return 0;

fail:
    ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s failed: %s", log_path, step, strerror(errno));
    close(fd);
    return -1;
}

void ss_log_close(ss_log_t *log)
{
    if (!log || !log->path)
        return;
    if (log->fd >= 0)
        close(log->fd);
    free(log->path);
    log->fd = -1;
    log->path = NULL;
    log->size = 0;
}

/* Decode a payload of record type `type` as ss_log_read would; 0 if it decodes. */
static int record_decodes(uint32_t type, const unsigned char *payload, size_t len,
                          ss_error_t *err)
{
    rd_t rd = {payload, len, 0, err, "record"};
    int rc = -1;
    if (type == REC_HEADER) {
        ss_log_contents_t c;
        memset(&c, 0, sizeof c);
        rc = decode_header(&rd, &c);
        free(c.yaml_text);
    } else if (type == REC_DATASET) {
        ss_dataset_info_t ds;
        rc = decode_dataset(&rd, &ds);
        if (rc == 0)
            ss_dataset_info_free(&ds);
    } else if (type == REC_RESULT) {
        ss_result_t r;
        rc = decode_result(&rd, &r);
        if (rc == 0)
            ss_result_free(&r);
    }
    return rc;
}

/* Frame the payload in b (built with a REC_HEAD prefix), write it with one write and
   fsync. Consumes b. A record is decoded before it is written: one that the reader would
   reject would end the log there and hide every later record. */
static int log_append(ss_log_t *log, uint32_t type, pbuf_t *b, ss_error_t *err)
{
    pb_end(b);
    size_t plen = b->len - REC_HEAD;
    ss_error_t derr = {0};
    if (record_decodes(type, b->p + REC_HEAD, plen, &derr) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: refusing to commit a record that would not "
                     "read back (%s)", log && log->path ? log->path : "results log", derr.msg);
        free(b->p);
        return -1;
    }
    put_u32(b->p, REC_MAGIC);
    put_u32(b->p + 4, type);
    put_u64(b->p + 8, plen);
    uint32_t crc = ss_crc32(0, b->p + 4, REC_HEAD - 4 + plen);
    put_u32(pb_grow(b, REC_TAIL), crc);

    int rc = 0;
    const char *step = NULL;
    if (!log || !log->path || log->fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "results log is not open");
        rc = -1;
    } else if (write_all(log->fd, b->p, b->len) != 0) {
        step = "write";
    } else if (fsync(log->fd) != 0) {
        step = "fsync";
    } else {
        log->size += (long)b->len;
    }
    if (step) {
        int e = errno;
        /* Cut back what reached the file, so a later record does not follow a torn one
           (which would hide it from every reader). */
        if (ftruncate(log->fd, log->size) != 0)
            ss_error_set(err, SS_EXIT_RUNTIME,
                         "%s: %s failed: %s; cutting back the partial record failed too: %s",
                         log->path, step, strerror(e), strerror(errno));
        else
            ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s failed: %s", log->path, step,
                         strerror(e));
        rc = -1;
    }
    free(b->p);
    return rc;
}

int ss_log_append_header(ss_log_t *log, const char *sweep_name, const char *yaml_text,
                         const char *created_utc, ss_error_t *err)
{
    pbuf_t b;
    pb_begin(&b, REC_HEAD);
    encode_header(&b, sweep_name, yaml_text, created_utc);
    return log_append(log, REC_HEADER, &b, err);
}

int ss_log_append_dataset(ss_log_t *log, const ss_dataset_info_t *ds, ss_error_t *err)
{
    if (ds->n_inputs < 0 || ds->n_classes < 0 || ds->n_train < 0 || ds->n_test < 0 ||
        (ds->input_rank == 2 && (ds->input_shape[0] < 0 || ds->input_shape[1] < 0))) {
        ss_error_set(err, SS_EXIT_RUNTIME, "dataset %.64s: inconsistent metadata", ds->name);
        return -1;
    }
    pbuf_t b;
    pb_begin(&b, REC_HEAD);
    encode_dataset(&b, ds);
    return log_append(log, REC_DATASET, &b, err);
}

int ss_log_append_result(ss_log_t *log, const ss_result_t *r, ss_error_t *err)
{
    if (!result_consistent(r)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "run %.192s: inconsistent result (status, counts or arrays)",
                     r->run_id);
        return -1;
    }
    pbuf_t b;
    pb_begin(&b, REC_HEAD);
    encode_result(&b, r);
    return log_append(log, REC_RESULT, &b, err);
}

/* ---- HDF5 helpers ------------------------------------------------------------------ */

/* Silences HDF5's own error printing for the lifetime of one public call. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} h5quiet_t;

static void h5_quiet(h5quiet_t *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_loud(const h5quiet_t *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static herr_t h5_walk_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc && e->desc[0])
        snprintf(data, 400, "%s", e->desc);
    return 0;
}

/* The most specific message of the current HDF5 error stack (then cleared). */
static void h5_detail(char *buf, size_t cap)
{
    char tmp[400] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_innermost, tmp);
    H5Eclear2(H5E_DEFAULT);
    snprintf(buf, cap, "%s", tmp[0] ? tmp : "HDF5 error");
}

/* HDF5's own file locks are not needed (the temporary file is private, readers see only
   renamed complete files, and ss_lock_acquire excludes a second writer), and they fail
   on parallel file systems without flock support (Lustre, some NFS). */
static herr_t h5_no_file_locking(hid_t fapl)
{
#if H5_VERSION_GE(1, 10, 7) && !(H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 12 && H5_VERS_RELEASE < 1)
    return H5Pset_file_locking(fapl, 0, 1);
#else
    (void)fapl;
    return 0;
#endif
}

typedef struct {
    hid_t vlstr;        /* variable-length UTF-8 string */
    hid_t scalar;       /* scalar dataspace */
    hid_t gcpl;         /* groups that track link creation order */
    char where[400];    /* the group being written */
    char step[720];     /* what failed */
    char detail[400];
} snap_t;

/* Record the failing step (first one wins) with the HDF5 detail. */
static int snap_fail(snap_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int snap_fail(snap_t *s, const char *fmt, ...)
{
    if (!s->step[0]) {
        char what[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(s->step, sizeof s->step, "%s %s", what, s->where[0] ? s->where : "/");
        h5_detail(s->detail, sizeof s->detail);
    }
    return -1;
}

static int a_str(snap_t *s, hid_t loc, const char *name, const char *v)
{
    hid_t a = H5Acreate2(loc, name, s->vlstr, s->scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return snap_fail(s, "creating attribute %s of", name);
    const char *p = v ? v : "";
    herr_t rc = H5Awrite(a, s->vlstr, &p);
    H5Aclose(a);
    return rc < 0 ? snap_fail(s, "writing attribute %s of", name) : 0;
}

static int a_num(snap_t *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                 const void *v)
{
    hid_t a = H5Acreate2(loc, name, ftype, s->scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return snap_fail(s, "creating attribute %s of", name);
    herr_t rc = H5Awrite(a, mtype, v);
    H5Aclose(a);
    return rc < 0 ? snap_fail(s, "writing attribute %s of", name) : 0;
}

static int a_i64(snap_t *s, hid_t loc, const char *name, int64_t v)
{
    return a_num(s, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int a_f64(snap_t *s, hid_t loc, const char *name, double v)
{
    return a_num(s, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int a_i64v(snap_t *s, hid_t loc, const char *name, const int64_t *v, int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    if (sp < 0)
        return snap_fail(s, "creating the dataspace of attribute %s of", name);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (a < 0)
        return snap_fail(s, "creating attribute %s of", name);
    herr_t rc = H5Awrite(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return rc < 0 ? snap_fail(s, "writing attribute %s of", name) : 0;
}

/* A contiguous dataset of rank 1 or 2; `data` may be NULL only when it is empty. */
static int d_write(snap_t *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                   int rank, const hsize_t *dims, const void *data)
{
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (total > 0 && !data)
        return snap_fail(s, "writing dataset %s (no data) in", name);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    if (sp < 0)
        return snap_fail(s, "creating the dataspace of dataset %s in", name);
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (d < 0)
        return snap_fail(s, "creating dataset %s in", name);
    herr_t rc = total > 0 ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (H5Dclose(d) < 0)
        rc = -1;
    return rc < 0 ? snap_fail(s, "writing dataset %s in", name) : 0;
}

static int d_f64(snap_t *s, hid_t loc, const char *name, const double *v, int n)
{
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    return d_write(s, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dim, v);
}

static int d_f64_2d(snap_t *s, hid_t loc, const char *name, const double *v, int rows,
                    int cols)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    return d_write(s, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, v);
}

static int d_i64(snap_t *s, hid_t loc, const char *name, const int64_t *v, int n)
{
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    return d_write(s, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dim, v);
}

static int d_strv(snap_t *s, hid_t loc, const char *name, char *const *v, int n)
{
    const char **p = ss_calloc(n > 0 ? (size_t)n : 1, sizeof *p);
    for (int i = 0; i < n; i++)
        p[i] = v[i] ? v[i] : "";
    hsize_t dim = (hsize_t)(n > 0 ? n : 0);
    int rc = d_write(s, loc, name, s->vlstr, s->vlstr, 1, &dim, p);
    free(p);
    return rc;
}

/* Group names are HDF5 link names: no '/', not "." (never split or resolved). */
static int valid_link_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0;
}

static hid_t g_create(snap_t *s, hid_t loc, const char *name, const char *path,
                      hid_t gcpl)
{
    snprintf(s->where, sizeof s->where, "%s", path);
    if (!valid_link_name(name)) {
        snap_fail(s, "invalid group name for");
        return -1;
    }
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0)
        snap_fail(s, "creating group");
    return g;
}

/* ---- snapshot contents ------------------------------------------------------------- */

static int write_root(snap_t *s, hid_t file, const ss_sweep_t *sw,
                      const ss_log_contents_t *c)
{
    char created[32];
    if (c->has_header && c->created_utc[0])
        snprintf(created, sizeof created, "%s", c->created_utc);
    else
        ss_utc_now(created);
    const char *yaml = sw->yaml_text ? sw->yaml_text : c->yaml_text;
    s->where[0] = '\0';
    if (a_str(s, file, "format", "specsweep-results") ||
        a_i64(s, file, "format_version", SS_FORMAT_VERSION) ||
        a_str(s, file, "specsweep_version", SS_VERSION) ||
        a_str(s, file, "sweep_name", sw->name[0] ? sw->name : c->sweep_name) ||
        a_str(s, file, "sweep_yaml", yaml ? yaml : "") ||
        a_str(s, file, "created_utc", created))
        return -1;
    return 0;
}

static int write_datasets(snap_t *s, hid_t file, const ss_log_contents_t *c)
{
    hid_t top = g_create(s, file, "datasets", "/datasets", s->gcpl);
    if (top < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < c->n_datasets && rc == 0; i++) {
        const ss_dataset_info_t *ds = &c->datasets[i];
        char path[128];
        snprintf(path, sizeof path, "/datasets/%s", ds->name);
        hid_t g = g_create(s, top, ds->name, path, H5P_DEFAULT);
        if (g < 0) {
            rc = -1;
            break;
        }
        const char *kind = ss_kind_name(ds->kind);
        rc = a_str(s, g, "kind", kind ? kind : "") ||
             a_i64(s, g, "n_inputs", ds->n_inputs) ||
             a_i64(s, g, "n_classes", ds->n_classes) ||
             a_i64(s, g, "n_train", ds->n_train) ||
             a_i64(s, g, "n_test", ds->n_test);
        if (!rc && ds->input_rank == 2) {
            int64_t shape[2] = {ds->input_shape[0], ds->input_shape[1]};
            rc = a_i64v(s, g, "input_shape", shape, 2);
        }
        if (!rc && ds->relevance_truth)
            rc = d_f64(s, g, "relevance_truth", ds->relevance_truth, ds->n_inputs);
        if (!rc && ds->feature_names)
            rc = d_strv(s, g, "feature_names", ds->feature_names, ds->n_inputs);
        if (H5Gclose(g) < 0 && !rc)
            rc = snap_fail(s, "closing group");
        if (rc)
            rc = -1;
    }
    H5Gclose(top);
    return rc;
}

/* Regression when the dataset's metadata says so; without metadata, a NaN accuracy of a
   finished run is the regression convention of ss_result_t. */
static int result_is_regression(const ss_log_contents_t *c, const ss_result_t *r)
{
    const ss_dataset_info_t *ds = ss_log_contents_find_dataset(c, r->dataset);
    if (ds)
        return ds->n_classes == 0;
    return r->status == SS_STATUS_OK && isnan(r->test_accuracy);
}

static int write_run(snap_t *s, hid_t top, const ss_run_t *run, const ss_result_t *r,
                     const ss_log_contents_t *c)
{
    char path[256];
    snprintf(path, sizeof path, "/runs/%s", r->run_id);
    hid_t g = g_create(s, top, r->run_id, path, H5P_DEFAULT);
    if (g < 0)
        return -1;
    int rc = a_str(s, g, "dataset", r->dataset) || a_i64(s, g, "seed", r->seed) ||
             a_str(s, g, "cell_id", run->cell_id);
    for (int k = 0; k < SS_KEY_COUNT && !rc; k++) {
        const char *name = ss_training_key_name((ss_training_key_t)k);
        double v = ss_training_get(&r->training, (ss_training_key_t)k);
        rc = ss_training_key_is_int((ss_training_key_t)k) ? a_i64(s, g, name, (int64_t)v)
                                                         : a_f64(s, g, name, v);
    }
    rc = rc || a_str(s, g, "status", ss_status_name(r->status)) ||
         a_str(s, g, "message", r->message) || a_i64(s, g, "ranks", r->ranks) ||
         a_f64(s, g, "train_seconds", r->train_seconds) ||
         a_f64(s, g, "samples_per_second", r->samples_per_second) ||
         a_f64(s, g, "test_accuracy", r->test_accuracy) ||
         a_f64(s, g, "test_loss", r->test_loss) ||
         d_f64(s, g, "eigenvalues", r->eigenvalues, r->n_inputs) ||
         d_f64(s, g, "eigenvalues_raw", r->eigenvalues_raw, r->n_inputs) ||
         d_f64(s, g, "train_loss", r->train_loss, r->n_epochs) ||
         d_f64(s, g, result_is_regression(c, r) ? "val_loss" : "val_accuracy",
               r->val_metric, r->n_epochs) ||
         d_i64(s, g, "topk", r->topk, r->n_topk) ||
         d_f64(s, g, "topk_accuracy", r->topk_accuracy, r->n_topk) ||
         d_f64(s, g, "randomk_accuracy", r->randomk_accuracy, r->n_topk);
    if (H5Gclose(g) < 0 && !rc)
        rc = snap_fail(s, "closing group");
    return rc ? -1 : 0;
}

/* One summary cell: `members` are the indices into runs of its finished runs (in the
   order of runs), `ok` of those with status ok (n_ok >= 1). */
static int write_cell(snap_t *s, hid_t top, const ss_sweep_t *sw, const ss_run_t *runs,
                      const ss_result_t *const *res, const int *ok, int n_ok,
                      int n_diverged, int n_failed, const ss_log_contents_t *c)
{
    const ss_run_t *run0 = &runs[ok[0]];
    const ss_result_t *r0 = res[ok[0]];
    const ss_dataset_info_t *ds = ss_log_contents_find_dataset(c, r0->dataset);
    int n_in = ds ? ds->n_inputs : r0->n_inputs;
    int K = r0->n_topk;

    char path[256];
    snprintf(path, sizeof path, "/summary/%s", run0->cell_id);
    hid_t g = g_create(s, top, run0->cell_id, path, H5P_DEFAULT);
    if (g < 0)
        return -1;

    int64_t *seeds = ss_malloc((size_t)n_ok * sizeof *seeds);
    double *eig = ss_malloc((size_t)n_ok * (size_t)(n_in > 0 ? n_in : 1) * sizeof *eig);
    double *mean = ss_calloc((size_t)(n_in > 0 ? n_in : 1), sizeof *mean);
    double *std = ss_calloc((size_t)(n_in > 0 ? n_in : 1), sizeof *std);
    double *acc = ss_malloc((size_t)n_ok * sizeof *acc);
    double *loss = ss_malloc((size_t)n_ok * sizeof *loss);
    double *tacc = ss_malloc((size_t)n_ok * (size_t)(K > 0 ? K : 1) * sizeof *tacc);
    double *racc = ss_malloc((size_t)n_ok * (size_t)(K > 0 ? K : 1) * sizeof *racc);

    for (int j = 0; j < n_ok; j++) {
        const ss_result_t *r = res[ok[j]];
        seeds[j] = r->seed;
        acc[j] = r->test_accuracy;
        loss[j] = r->test_loss;
        for (int i = 0; i < n_in; i++) /* a run of another input count has no row */
            eig[(size_t)j * n_in + i] = r->n_inputs == n_in ? r->eigenvalues[i] : NAN;
        for (int q = 0; q < K; q++) { /* match k values, in case the lists differ */
            double t = NAN, rk = NAN;
            for (int p = 0; p < r->n_topk; p++)
                if (r->topk[p] == r0->topk[q]) {
                    t = r->topk_accuracy[p];
                    rk = r->randomk_accuracy[p];
                    break;
                }
            tacc[(size_t)j * K + q] = t;
            racc[(size_t)j * K + q] = rk;
        }
    }
    for (int i = 0; i < n_in; i++) { /* two passes: exact for tight spreads */
        double m = 0.0, v = 0.0;
        for (int j = 0; j < n_ok; j++)
            m += fabs(eig[(size_t)j * n_in + i]);
        m /= n_ok;
        for (int j = 0; j < n_ok; j++) {
            double d = fabs(eig[(size_t)j * n_in + i]) - m;
            v += d * d;
        }
        mean[i] = m;
        std[i] = sqrt(v / n_ok);
    }

    /* swept_keys names the attributes that are sweep axes ("" when none), so analysis
       tells them from bookkeeping attributes without a list of exclusions */
    char swept[SS_MAX_AXES * 32] = "";
    for (int a = 0; a < sw->n_axes; a++) {
        size_t len = strlen(swept);
        snprintf(swept + len, sizeof swept - len, "%s%s", a ? "," : "",
                 ss_training_key_name(sw->axes[a].key));
    }
    int rc = a_str(s, g, "dataset", r0->dataset) || a_str(s, g, "cell_id", run0->cell_id) ||
             a_str(s, g, "swept_keys", swept);
    for (int a = 0; a < sw->n_axes && !rc; a++) {
        ss_training_key_t k = sw->axes[a].key;
        double v = ss_training_get(&run0->training, k);
        rc = ss_training_key_is_int(k) ? a_i64(s, g, ss_training_key_name(k), (int64_t)v)
                                       : a_f64(s, g, ss_training_key_name(k), v);
    }
    rc = rc || a_i64(s, g, "n_realizations", n_ok) ||
         a_i64(s, g, "n_diverged", n_diverged) || a_i64(s, g, "n_failed", n_failed) ||
         d_i64(s, g, "seeds", seeds, n_ok) ||
         d_f64_2d(s, g, "eigenvalues", eig, n_ok, n_in) ||
         d_f64(s, g, "eigenvalues_abs_mean", mean, n_in) ||
         d_f64(s, g, "eigenvalues_abs_std", std, n_in) ||
         d_f64(s, g, "test_accuracy", acc, n_ok) || d_f64(s, g, "test_loss", loss, n_ok) ||
         d_i64(s, g, "topk", r0->topk, K) ||
         d_f64_2d(s, g, "topk_accuracy", tacc, n_ok, K) ||
         d_f64_2d(s, g, "randomk_accuracy", racc, n_ok, K);
    if (H5Gclose(g) < 0 && !rc)
        rc = snap_fail(s, "closing group");
    free(seeds);
    free(eig);
    free(mean);
    free(std);
    free(acc);
    free(loss);
    free(tacc);
    free(racc);
    return rc ? -1 : 0;
}

static int write_runs_and_summary(snap_t *s, hid_t file, const ss_sweep_t *sw,
                                  const ss_run_t *runs, int n_runs,
                                  const ss_log_contents_t *c)
{
    /* Results by run id: a private index, since c is read-only here. */
    ss_log_contents_t view;
    memset(&view, 0, sizeof view);
    view.results = c->results;
    view.n_results = c->n_results;
    const ss_result_t **res = ss_calloc(n_runs > 0 ? (size_t)n_runs : 1, sizeof *res);
    int n_cells = 0;
    for (int i = 0; i < n_runs; i++) {
        int j = contents_find(&view, runs[i].id);
        res[i] = j >= 0 ? &c->results[j] : NULL;
        if (runs[i].cell + 1 > n_cells)
            n_cells = runs[i].cell + 1;
    }
    free(view.run_index);

    int rc = 0;
    hid_t top = g_create(s, file, "runs", "/runs", s->gcpl);
    if (top < 0)
        rc = -1;
    for (int i = 0; i < n_runs && rc == 0; i++)
        if (res[i])
            rc = write_run(s, top, &runs[i], res[i], c);
    if (top >= 0)
        H5Gclose(top);

    /* Cells in order of first appearance; runs of a cell in the order of runs. */
    int *cell_first = NULL, *next = NULL, *ok = NULL;
    if (rc == 0) {
        top = g_create(s, file, "summary", "/summary", s->gcpl);
        if (top < 0)
            rc = -1;
    } else {
        top = -1;
    }
    if (rc == 0 && n_cells > 0) {
        cell_first = ss_malloc((size_t)n_cells * sizeof *cell_first);
        next = ss_malloc((size_t)n_runs * sizeof *next);
        ok = ss_malloc((size_t)n_runs * sizeof *ok);
        for (int q = 0; q < n_cells; q++)
            cell_first[q] = -1;
        int *tail = ss_malloc((size_t)n_cells * sizeof *tail);
        for (int i = 0; i < n_runs; i++) {
            int q = runs[i].cell;
            next[i] = -1;
            if (q < 0)
                continue;
            if (cell_first[q] < 0)
                cell_first[q] = i;
            else
                next[tail[q]] = i;
            tail[q] = i;
        }
        free(tail);
        /* Visit cells in the order their first run appears in runs. */
        for (int i = 0; i < n_runs && rc == 0; i++) {
            int q = runs[i].cell;
            if (q < 0 || cell_first[q] != i)
                continue;
            int n_ok = 0, n_div = 0, n_fail = 0;
            for (int m = i; m >= 0; m = next[m]) {
                if (!res[m])
                    continue;
                if (res[m]->status == SS_STATUS_OK)
                    ok[n_ok++] = m;
                else if (res[m]->status == SS_STATUS_DIVERGED)
                    n_div++;
                else
                    n_fail++;
            }
            if (n_ok > 0)
                rc = write_cell(s, top, sw, runs, res, ok, n_ok, n_div, n_fail, c);
        }
    }
    if (top >= 0)
        H5Gclose(top);
    free(cell_first);
    free(next);
    free(ok);
    free(res);
    return rc;
}

int ss_snapshot_write(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                      int n_runs, const ss_log_contents_t *c, ss_error_t *err)
{
    h5quiet_t quiet;
    h5_quiet(&quiet);
    snap_t s;
    memset(&s, 0, sizeof s);
    s.vlstr = s.scalar = s.gcpl = -1;
    hid_t fapl = -1, file = -1;
    int rc = -1, tmp_exists = 0;
    char *dir = ss_dirname(h5_path);
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    char *tmp = ss_str_concat(h5_path, suffix);
    const char *step = NULL; /* a system step that failed (errno), else s.step */

    char bad[4096];
    if (mkdir_parent(h5_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: cannot write the results snapshot: cannot create directory %s: %s",
                     h5_path, bad, strerror(errno));
        goto done;
    }
    s.vlstr = H5Tcopy(H5T_C_S1);
    if (s.vlstr < 0 || H5Tset_size(s.vlstr, H5T_VARIABLE) < 0 ||
        H5Tset_cset(s.vlstr, H5T_CSET_UTF8) < 0 ||
        (s.scalar = H5Screate(H5S_SCALAR)) < 0 ||
        (s.gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(s.gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) <
            0 ||
        (fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 || h5_no_file_locking(fapl) < 0) {
        snap_fail(&s, "setting up HDF5 types and properties for");
        goto fail;
    }
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        snprintf(s.where, sizeof s.where, "%s", tmp);
        snap_fail(&s, "creating");
        goto fail;
    }
    tmp_exists = 1;
    if (write_root(&s, file, sw, c) || write_datasets(&s, file, c) ||
        write_runs_and_summary(&s, file, sw, runs, n_runs, c))
        goto fail;
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        snprintf(s.where, sizeof s.where, "%s", tmp);
        snap_fail(&s, "closing");
        goto fail;
    }
    /* HDF5 flushed on close; make the bytes durable before the rename publishes them. */
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        step = "reopening the temporary file for fsync";
        goto fail;
    }
    int synced = fsync(fd);
    int e = errno;
    close(fd);
    if (synced != 0) {
        errno = e;
        step = "fsync of the temporary file";
        goto fail;
    }
    if (rename(tmp, h5_path) != 0) {
        step = "renaming the temporary file over it";
        goto fail;
    }
    tmp_exists = 0;
    if (fsync_dir(dir) != 0) {
        /* The new snapshot is in place but its directory entry may not be durable yet. */
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: fsync of directory %s failed: %s", h5_path,
                     dir, strerror(errno));
        goto done;
    }
    rc = 0;
    goto done;

fail:
    if (step)
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot write the results snapshot: %s: %s",
                     h5_path, step, strerror(errno));
    else
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: cannot write the results snapshot: %s failed: %s", h5_path,
                     s.step[0] ? s.step : "HDF5", s.detail[0] ? s.detail : "HDF5 error");
    if (file >= 0)
        H5Fclose(file);
    if (tmp_exists)
        unlink(tmp);
done:
    if (fapl >= 0)
        H5Pclose(fapl);
    if (s.gcpl >= 0)
        H5Pclose(s.gcpl);
    if (s.scalar >= 0)
        H5Sclose(s.scalar);
    if (s.vlstr >= 0)
        H5Tclose(s.vlstr);
    H5Eclear2(H5E_DEFAULT);
    h5_loud(&quiet);
    free(dir);
    free(tmp);
    return rc;
}

/* ---- the writer lock --------------------------------------------------------------- */

int ss_lock_acquire(const char *h5_path, int *lock_fd, ss_error_t *err)
{
    *lock_fd = -1;
    char bad[4096];
    if (mkdir_parent(h5_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot create directory %s: %s", h5_path, bad,
                     strerror(errno));
        return -1;
    }
    char *path = ss_str_concat(h5_path, ".lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open lock file: %s", path,
                     strerror(errno));
        free(path);
        return -1;
    }
    int locked;
    do
        locked = flock(fd, LOCK_EX | LOCK_NB);
    while (locked != 0 && errno == EINTR);
    if (locked != 0) {
        if (errno == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s is in use by another specsweep run (lock file %s, held by "
                             "pid %ld)", h5_path, path, pid);
            else
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s is in use by another specsweep run (lock file %s)", h5_path,
                             path);
        } else {
            ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot lock: %s", path, strerror(errno));
        }
        close(fd);
        free(path);
        return -1;
    }
    /* The pid is only for the message of a refused writer; the lock itself is flock. */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0) {
        /* not fatal: the message then names no pid */
    }
    free(path);
    *lock_fd = fd;
    return 0;
}

void ss_lock_release(int *lock_fd)
{
    if (lock_fd && *lock_fd >= 0) {
        close(*lock_fd); /* drops the flock; the file stays so no race on its inode */
        *lock_fd = -1;
    }
}

/* ---- the summary table ------------------------------------------------------------- */

/* A string attribute (variable or fixed length), malloc'd; NULL if absent or not text. */
static char *ra_str(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    char *out = NULL;
    hid_t ft = H5Aget_type(a);
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 does not convert between csets */
        if (H5Tis_variable_str(ft) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = ss_strdup(v);
                H5free_memory(v);
            }
        } else {
            size_t n = H5Tget_size(ft);
            char *v = ss_calloc(n + 1, 1);
            H5Tset_size(mt, n + 1);
            if (H5Aread(a, mt, v) >= 0)
                out = v;
            else
                free(v);
        }
        H5Tclose(mt);
    }
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return out;
}

/* A numeric scalar attribute as double; 0 if present. */
static int ra_f64(hid_t loc, const char *name, double *v)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if (ft >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
        (H5Tget_class(ft) == H5T_INTEGER || H5Tget_class(ft) == H5T_FLOAT))
        rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0 ? -1 : 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* A numeric dataset of rank 1 (or the element count of any rank) as doubles. */
static double *rd_f64(hid_t loc, const char *name, long *n)
{
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    double *v = NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (count >= 0) {
        v = ss_malloc((size_t)(count > 0 ? count : 1) * sizeof *v);
        if (count > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
        } else {
            *n = (long)count;
        }
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return v;
}

/* A 1-D variable-length string dataset; NULL if absent or of another type. */
static char **rd_strv(hid_t loc, const char *name, long *n)
{
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    char **out = NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (ft >= 0 && count > 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char **raw = ss_calloc((size_t)count, sizeof *raw);
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0) {
            out = ss_calloc((size_t)count, sizeof *out);
            for (hssize_t i = 0; i < count; i++) {
                out[i] = ss_strdup(raw[i] ? raw[i] : "");
                if (raw[i])
                    H5free_memory(raw[i]);
            }
            *n = (long)count;
        }
        free(raw);
        H5Tclose(mt);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    H5Dclose(d);
    return out;
}

/* Names of the links in group `loc`, in creation order when tracked, else by name. */
static char **list_links(hid_t loc, long *n)
{
    *n = 0;
    H5G_info_t info;
    if (H5Gget_info(loc, &info) < 0)
        return NULL;
    char **names = ss_calloc(info.nlinks ? (size_t)info.nlinks : 1, sizeof *names);
    H5_index_t order = H5_INDEX_CRT_ORDER;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (len < 0 && order == H5_INDEX_CRT_ORDER && i == 0) {
            order = H5_INDEX_NAME; /* creation order not tracked */
            H5Eclear2(H5E_DEFAULT);
            len = H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        }
        if (len < 0)
            break;
        names[*n] = ss_malloc((size_t)len + 1);
        H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, i, names[*n], (size_t)len + 1,
                           H5P_DEFAULT);
        (*n)++;
    }
    return names;
}

static void free_names(char **v, long n)
{
    if (!v)
        return;
    for (long i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Ranks 1..n with ties sharing their average rank. */
static void average_ranks(const double *x, int n, double *rank)
{
    int *idx = ss_malloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: inputs are at most a few thousand */
        int v = idx[i], j = i - 1;
        while (j >= 0 && x[idx[j]] > x[v]) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && x[idx[j + 1]] == x[idx[i]])
            j++;
        for (int q = i; q <= j; q++)
            rank[idx[q]] = 0.5 * (i + j) + 1.0;
        i = j + 1;
    }
    free(idx);
}

/* Spearman rank correlation (Pearson on average ranks); NaN if undefined. */
static double spearman(const double *x, const double *y, int n)
{
    if (n < 2)
        return NAN;
    for (int i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i]))
            return NAN;
    double *rx = ss_malloc((size_t)n * sizeof *rx), *ry = ss_malloc((size_t)n * sizeof *ry);
    average_ranks(x, n, rx);
    average_ranks(y, n, ry);
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += rx[i];
        my += ry[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    free(ry);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static void mean_std(const double *v, long n, double *mean, double *std)
{
    double m = 0, s = 0;
    long k = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(v[i])) {
            m += v[i];
            k++;
        }
    if (!k) {
        *mean = *std = NAN;
        return;
    }
    m /= (double)k;
    for (long i = 0; i < n; i++)
        if (!isnan(v[i]))
            s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = sqrt(s / (double)k);
}

/* Growing text cell of the table. */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap ? b->cap : 64) + (size_t)n + 64;
        b->s = ss_realloc(b->s, b->cap);
    }
}

enum { COL_DATASET, COL_SETTINGS, COL_N, COL_METRIC, COL_SPEARMAN, COL_TOP, N_COLS };
#define TOP_INPUTS 5

typedef struct {
    char *col[N_COLS];
} row_t;

static herr_t collect_key_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    int k = ss_training_key_lookup(name);
    if (k >= 0)
        *(unsigned *)data |= 1u << k;
    return 0;
}

/* The table row of one summary cell; returns -1 if the group is not a summary cell. */
static int summary_row(hid_t file, hid_t cell, row_t *row, int *has_truth)
{
    memset(row, 0, sizeof *row);
    char *dataset = ra_str(cell, "dataset");
    double n_real = 0;
    if (!dataset || ra_f64(cell, "n_realizations", &n_real) != 0) {
        free(dataset);
        return -1;
    }
    sbuf_t b[N_COLS];
    memset(b, 0, sizeof b);
    sb_printf(&b[COL_DATASET], "%s", dataset);

    /* Swept keys: the attributes that are training keys, in key order. */
    unsigned key_mask = 0;
    hsize_t idx = 0;
    H5Aiterate2(cell, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_key_attr, &key_mask);
    for (int k = 0; k < SS_KEY_COUNT; k++) {
        const char *name = ss_training_key_name((ss_training_key_t)k);
        double v;
        if (!((key_mask >> k) & 1u) || ra_f64(cell, name, &v) != 0)
            continue;
        const char *sep = b[COL_SETTINGS].len ? " " : "";
        if (ss_training_key_is_int((ss_training_key_t)k))
            sb_printf(&b[COL_SETTINGS], "%s%s=%lld", sep, name, (long long)v);
        else
            sb_printf(&b[COL_SETTINGS], "%s%s=%g", sep, name, v);
    }
    if (!b[COL_SETTINGS].len)
        sb_printf(&b[COL_SETTINGS], "-");

    double n_div = 0, n_fail = 0;
    ra_f64(cell, "n_diverged", &n_div);
    ra_f64(cell, "n_failed", &n_fail);
    sb_printf(&b[COL_N], "%lld", (long long)n_real);
    if (n_div > 0 || n_fail > 0)
        sb_printf(&b[COL_N], " (+%lld diverged, %lld failed)", (long long)n_div,
                  (long long)n_fail);

    /* Dataset metadata: task, truth, feature names. */
    int regression = 0;
    double *truth = NULL;
    char **fnames = NULL;
    long n_truth = 0, n_fnames = 0;
    char dpath[SS_NAME_MAX + 16];
    snprintf(dpath, sizeof dpath, "/datasets/%s", dataset);
    if (valid_link_name(dataset) && H5Lexists(file, "datasets", H5P_DEFAULT) > 0 &&
        H5Lexists(file, dpath, H5P_DEFAULT) > 0) {
        hid_t dg = H5Gopen2(file, dpath, H5P_DEFAULT);
        if (dg >= 0) {
            double nc;
            if (ra_f64(dg, "n_classes", &nc) == 0 && nc == 0)
                regression = 1;
            truth = rd_f64(dg, "relevance_truth", &n_truth);
            fnames = rd_strv(dg, "feature_names", &n_fnames);
            H5Gclose(dg);
        }
    }
    H5Eclear2(H5E_DEFAULT);

    long n_acc;
    double m, sd;
    double *metric = rd_f64(cell, regression ? "test_loss" : "test_accuracy", &n_acc);
    if (metric && n_acc > 0) {
        mean_std(metric, n_acc, &m, &sd);
        sb_printf(&b[COL_METRIC], regression ? "MAE %.4f ± %.4f" : "%.4f ± %.4f", m, sd);
    } else {
        sb_printf(&b[COL_METRIC], "-");
    }
    free(metric);

    long n_in = 0, n_std = 0;
    double *mean = rd_f64(cell, "eigenvalues_abs_mean", &n_in);
    double *std = rd_f64(cell, "eigenvalues_abs_std", &n_std);
    if (truth && n_truth == n_in && n_in > 0) {
        *has_truth = 1;
        double rho = spearman(mean, truth, (int)n_in);
        sb_printf(&b[COL_SPEARMAN], isnan(rho) ? "-" : "%+.3f", rho);
    } else {
        sb_printf(&b[COL_SPEARMAN], "-");
    }
    if (mean && n_in > 0) {
        unsigned char *used = ss_calloc((size_t)n_in, 1);
        for (int t = 0; t < TOP_INPUTS && t < n_in; t++) {
            long best = -1;
            for (long i = 0; i < n_in; i++)
                if (!used[i] && !isnan(mean[i]) && (best < 0 || mean[i] > mean[best]))
                    best = i;
            if (best < 0)
                break;
            used[best] = 1;
            double s = std && n_std == n_in ? std[best] : NAN;
            if (fnames && n_fnames == n_in)
                sb_printf(&b[COL_TOP], "%s%s(%.3g±%.2g)", t ? " " : "", fnames[best],
                          mean[best], s);
            else
                sb_printf(&b[COL_TOP], "%s%ld(%.3g±%.2g)", t ? " " : "", best, mean[best], s);
        }
        free(used);
    }
    if (!b[COL_TOP].s)
        sb_printf(&b[COL_TOP], "-");
    free(mean);
    free(std);
    free(truth);
    free_names(fnames, n_fnames);
    free(dataset);
    for (int k = 0; k < N_COLS; k++)
        row->col[k] = b[k].s;
    return 0;
}

/* Display width of UTF-8 text (the table uses "±"). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void print_cell(FILE *out, const char *s, size_t width, int last)
{
    fputs(s, out);
    if (!last)
        for (size_t w = text_width(s); w < width + 2; w++)
            fputc(' ', out);
}

int ss_summary_print(const char *h5_path, FILE *out, ss_error_t *err)
{
    h5quiet_t quiet;
    h5_quiet(&quiet);
    int rc = -1;
    hid_t fapl = -1, file = -1, grp = -1;
    char *format = NULL, *sweep_name = NULL;
    char **names = NULL;
    long n_names = 0, n_rows = 0;
    row_t *rows = NULL;

    struct stat st;
    if (stat(h5_path, &st) != 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", h5_path, strerror(errno));
        goto done;
    }
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        h5_no_file_locking(fapl);
    file = H5Fopen(h5_path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (file < 0) {
        char detail[400];
        h5_detail(detail, sizeof detail);
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not a specsweep results file (HDF5 cannot open it: %s)", h5_path,
                     detail);
        goto done;
    }
    format = ra_str(file, "format");
    double version = 0;
    if (!format || strcmp(format, "specsweep-results") != 0 ||
        ra_f64(file, "format_version", &version) != 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not a specsweep results file (no format=\"specsweep-results\" "
                     "attribute)", h5_path);
        goto done;
    }
    if (version != SS_FORMAT_VERSION) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: results format_version %g is not supported (this specsweep "
                     "reads version %d)", h5_path, version, SS_FORMAT_VERSION);
        goto done;
    }
    sweep_name = ra_str(file, "sweep_name");

    /* Run totals from /runs. */
    long n_status[3] = {0, 0, 0}, n_runs = 0;
    if (H5Lexists(file, "runs", H5P_DEFAULT) > 0 &&
        (grp = H5Gopen2(file, "runs", H5P_DEFAULT)) >= 0) {
        names = list_links(grp, &n_names);
        for (long i = 0; i < n_names; i++) {
            hid_t g = H5Gopen2(grp, names[i], H5P_DEFAULT);
            if (g < 0)
                continue;
            char *status = ra_str(g, "status");
            int sidx = status ? status_lookup(status) : -1;
            if (sidx >= 0)
                n_status[sidx]++;
            n_runs++;
            free(status);
            H5Gclose(g);
        }
        free_names(names, n_names);
        names = NULL;
        H5Gclose(grp);
        grp = -1;
    }

    int has_truth = 0;
    if (H5Lexists(file, "summary", H5P_DEFAULT) > 0 &&
        (grp = H5Gopen2(file, "summary", H5P_DEFAULT)) >= 0) {
        names = list_links(grp, &n_names);
        rows = ss_calloc(n_names > 0 ? (size_t)n_names : 1, sizeof *rows);
        for (long i = 0; i < n_names; i++) {
            hid_t g = H5Gopen2(grp, names[i], H5P_DEFAULT);
            if (g < 0)
                continue;
            if (summary_row(file, g, &rows[n_rows], &has_truth) == 0)
                n_rows++;
            H5Gclose(g);
        }
    }
    H5Eclear2(H5E_DEFAULT);

    fprintf(out, "%s: sweep \"%s\", %ld cell%s with results\n\n", h5_path,
            sweep_name ? sweep_name : "?", n_rows, n_rows == 1 ? "" : "s");
    if (n_rows > 0) {
        static const char *const head[N_COLS] = {
            "dataset", "settings", "n", "test accuracy (MAE)", "spearman",
            "top inputs by mean |eigenvalue| (mean±std)"};
        size_t width[N_COLS];
        for (int k = 0; k < N_COLS; k++) {
            width[k] = text_width(head[k]);
            for (long i = 0; i < n_rows; i++)
                if (text_width(rows[i].col[k]) > width[k])
                    width[k] = text_width(rows[i].col[k]);
        }
        for (int k = 0; k < N_COLS; k++)
            if (k != COL_SPEARMAN || has_truth)
                print_cell(out, head[k], width[k], k == N_COLS - 1);
        fputc('\n', out);
        for (long i = 0; i < n_rows; i++) {
            for (int k = 0; k < N_COLS; k++)
                if (k != COL_SPEARMAN || has_truth)
                    print_cell(out, rows[i].col[k], width[k], k == N_COLS - 1);
            fputc('\n', out);
        }
        fputc('\n', out);
        if (has_truth)
            fprintf(out, "spearman: rank correlation of mean |eigenvalue| with the "
                         "dataset's relevance_truth\n");
    }
    fprintf(out, "runs: %ld ok, %ld diverged, %ld failed (%ld in the file)\n", n_status[0],
            n_status[1], n_status[2], n_runs);
    rc = 0;

done:
    if (grp >= 0)
        H5Gclose(grp);
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    for (long i = 0; i < n_rows; i++)
        for (int k = 0; k < N_COLS; k++)
            free(rows[i].col[k]);
    free(rows);
    free_names(names, n_names);
    free(format);
    free(sweep_name);
    H5Eclear2(H5E_DEFAULT);
    h5_loud(&quiet);
    return rc;
}
