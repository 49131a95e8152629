/* test_results.c - the commit log, the payload codec, the HDF5 snapshot, the lock and the
   summary table (results.h). */
#include "specsweep/cell.h"
#include "specsweep/log.h"
#include "specsweep/record.h"
#include "specsweep/snapshot.h"
#include "specsweep/stats.h"
#include "specsweep/summary.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fixtures ---------------------------------------------------------------------- */

static void default_training(ss_training_t *t)
{
    memset(t, 0, sizeof *t);
    t->learning_rate = 1e-2;
    t->batch_size = 500;
    t->epochs = 7;
    t->validation_fraction = 0.1;
    t->reg_eigenvalues = 1e-2;
    t->reg_eigenvectors = 1e-4;
    t->train_eigenvectors = 1;
    t->adam_beta1 = 0.9;
    t->adam_beta2 = 0.999;
    t->adam_epsilon = 1e-7;
}

/* A result whose every value depends on `v`, including awkward doubles. */
static void make_result(ss_result_t *r, const char *run_id, const char *dataset, int64_t seed,
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

static int same_bits(const double *a, const double *b, int n)
{
    return n == 0 || (a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0);
}

/* Bit-exact equality of two results. */
static int results_equal(const ss_result_t *a, const ss_result_t *b)
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

static void make_dataset(ss_dataset_info_t *ds, const char *name, ss_kind_t kind, int n_inputs,
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

static void free_dataset(ss_dataset_info_t *ds)
{
    free(ds->relevance_truth);
    if (ds->feature_names)
        for (int i = 0; i < ds->n_inputs; i++)
            free(ds->feature_names[i]);
    free(ds->feature_names);
    memset(ds, 0, sizeof *ds);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, size_t *n)
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

static void spit(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", ss_test_tmpdir(), name);
    return p;
}

/* ---- payload codec ----------------------------------------------------------------- */

static void test_pack_roundtrip(void)
{
    ss_result_t r, back;
    make_result(&r, "gauss__reg_eigenvalues=0.01__seed=3", "gauss", -3, 20, 9, 4,
                SS_STATUS_DIVERGED, 1.25);
    r.test_accuracy = NAN;
    unsigned char *buf;
    size_t len;
    CHECK(ss_record_pack_result(&r, &buf, &len) == 0, "pack");
    ss_error_t err = {0};
    CHECK(ss_record_unpack_result(buf, len, &back, &err) == 0, "unpack: %s", err.msg);
    CHECK(results_equal(&r, &back), "round trip is bit-exact");
    ss_result_free(&back);

    /* Every truncation and every single-byte corruption: -1 or a valid result, never a
       read out of bounds (the sanitizers watch) and never a leak. */
    int truncated_ok = 1;
    for (size_t n = 0; n < len; n++) {
        ss_error_t e2 = {0};
        if (ss_record_unpack_result(buf, n, &back, &e2) == 0 || e2.code != SS_EXIT_RUNTIME)
            truncated_ok = 0;
        ss_result_free(&back);
    }
    CHECK(truncated_ok, "every truncated payload is rejected");
    int corrupt_handled = 1;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1u << bit);
            ss_error_t e2 = {0};
            int rc = ss_record_unpack_result(buf, len, &back, &e2);
            if (rc != 0 && (!e2.msg[0] || back.eigenvalues))
                corrupt_handled = 0;
            ss_result_free(&back);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK(corrupt_handled, "corrupt payloads give -1 with a message and a zeroed result");

    /* An unknown field (a newer writer's addition) is skipped. */
    const char extra_name[] = "future_field";
    size_t nl = strlen(extra_name);
    size_t xlen = len + 2 + nl + 8 + 3;
    unsigned char *x = malloc(xlen);
    memcpy(x, buf, len);
    x[4] = (unsigned char)(x[4] + 1); /* field count (< 256 fields here) */
    unsigned char *q = x + len;
    q[0] = 3;
    q[1] = (unsigned char)nl;
    memcpy(q + 2, extra_name, nl);
    memset(q + 2 + nl, 0, 8);
    q[2 + nl] = 3;
    memcpy(q + 2 + nl + 8, "abc", 3);
    CHECK(ss_record_unpack_result(x, xlen, &back, &err) == 0 && results_equal(&r, &back),
          "unknown field skipped: %s", err.msg);
    ss_result_free(&back);
    /* A newer payload version is refused. */
    x[0] = 2;
    ss_error_clear(&err);
    CHECK(ss_record_unpack_result(x, xlen, &back, &err) == -1 && strstr(err.msg, "newer"),
          "newer payload version refused: %s", err.msg);
    free(x);
    free(buf);

    /* Inconsistent results cannot be packed. */
    double *keep = r.eigenvalues;
    r.eigenvalues = NULL;
    CHECK(ss_record_pack_result(&r, &buf, &len) == -1 && buf == NULL, "NULL array refused");
    r.eigenvalues = keep;

    /* Empty arrays round-trip (a run that diverged in its first epoch). */
    ss_result_t e;
    make_result(&e, "x__seed=0", "x", 0, 0, 0, 0, SS_STATUS_FAILED, 0);
    CHECK(ss_record_pack_result(&e, &buf, &len) == 0, "pack empty");
    CHECK(ss_record_unpack_result(buf, len, &back, &err) == 0 && results_equal(&e, &back),
          "empty arrays round trip");
    free(buf);
    ss_result_free(&back);
    ss_result_free(&e);
    ss_result_free(&r);
}

/* ---- the log ----------------------------------------------------------------------- */

#define N_LOG_RESULTS 4

/* Writes header, two datasets and N_LOG_RESULTS results; returns the offset of the last
   record (the file size before it was appended). */
static long write_log(const char *path, ss_result_t *res)
{
    unlink(path);
    ss_log_t log;
    ss_error_t err = {0};
    CHECK(ss_log_open(&log, path, 0, &err) == 0, "open: %s", err.msg);
    ss_log_header_t h = {"my-sweep", "name: my-sweep\n", "2024-01-02T03:04:05Z"};
    CHECK(ss_log_append_header(&log, &h, &err) == 0, "header: %s", err.msg);
    ss_dataset_info_t a, b;
    make_dataset(&a, "gauss", SS_KIND_GAUSSIAN, 6, 2, 1, 0, 0);
    make_dataset(&b, "table", SS_KIND_CSV, 4, 0, 0, 1, 1);
    CHECK(ss_log_append_dataset(&log, &a, &err) == 0, "dataset: %s", err.msg);
    CHECK(ss_log_append_dataset(&log, &b, &err) == 0, "dataset: %s", err.msg);
    free_dataset(&a);
    free_dataset(&b);
    long last = 0;
    for (int i = 0; i < N_LOG_RESULTS; i++) {
        char id[64];
        snprintf(id, sizeof id, "gauss__seed=%d", i);
        make_result(&res[i], id, "gauss", i, 6, 5, 3, SS_STATUS_OK, i);
        last = file_size(path);
        CHECK(ss_log_append_result(&log, &res[i], &err) == 0, "append: %s", err.msg);
        CHECK(log.size == file_size(path), "log size tracks the file");
    }
    ss_log_close(&log);
    ss_log_close(&log); /* closing twice is harmless */
    return last;
}

static void test_log_roundtrip(void)
{
    const char *path = tmp_path("roundtrip.h5.log");
    ss_result_t res[N_LOG_RESULTS];
    write_log(path, res);

    ss_log_contents_t c;
    ss_error_t err = {0};
    CHECK(ss_log_read(path, &c, &err) == 0, "read: %s", err.msg);
    CHECK(c.has_header && !strcmp(c.header.sweep_name, "my-sweep") &&
          !strcmp(c.header.yaml_text, "name: my-sweep\n") &&
          !strcmp(c.header.created_utc, "2024-01-02T03:04:05Z"), "header round trip");
    CHECK(c.torn == 0 && c.valid_bytes == file_size(path), "intact log: valid_bytes %ld",
          c.valid_bytes);
    CHECK(c.n_datasets == 2, "two datasets, got %d", c.n_datasets);
    if (c.n_datasets == 2) {
        const ss_dataset_info_t *a = ss_log_contents_find_dataset(&c, "gauss");
        const ss_dataset_info_t *b = ss_log_contents_find_dataset(&c, "table");
        CHECK(a && a->kind == SS_KIND_GAUSSIAN && a->n_inputs == 6 && a->n_classes == 2 &&
              a->n_train == 1006 && a->n_test == 200 && a->relevance_truth &&
              a->relevance_truth[0] == 6.0 && a->relevance_truth[5] == 1.0 &&
              !a->feature_names && a->input_rank == 0, "dataset gauss metadata");
        CHECK(b && b->kind == SS_KIND_CSV && b->n_classes == 0 && !b->relevance_truth &&
              b->feature_names && !strcmp(b->feature_names[3], "feat_d3") &&
              b->input_rank == 2 && b->input_shape[0] == 2 && b->input_shape[1] == 2,
              "dataset table metadata");
    }
    CHECK(c.n_results == N_LOG_RESULTS, "results: %d", c.n_results);
    for (int i = 0; i < c.n_results && i < N_LOG_RESULTS; i++)
        CHECK(results_equal(&c.results[i], &res[i]), "result %d round trip", i);
    ss_log_contents_free(&c);

    /* The same run committed twice (crash between commit and bookkeeping): last wins. */
    ss_log_t log;
    CHECK(ss_log_open(&log, path, file_size(path), &err) == 0, "reopen: %s", err.msg);
    ss_result_t again;
    make_result(&again, "gauss__seed=1", "gauss", 1, 6, 5, 3, SS_STATUS_DIVERGED, 42);
    CHECK(ss_log_append_result(&log, &again, &err) == 0, "append duplicate");
    ss_log_close(&log);
    CHECK(ss_log_read(path, &c, &err) == 0, "read");
    const ss_result_t *found = ss_log_contents_find(&c, "gauss__seed=1");
    CHECK(c.n_results == N_LOG_RESULTS && found && results_equal(found, &again),
          "duplicate run id: the last record wins");
    CHECK(ss_log_contents_find(&c, "nope") == NULL, "unknown id not found");
    ss_log_contents_free(&c);

    /* Records the reader would reject are refused, and the log stays as it was. */
    long size = file_size(path);
    CHECK(ss_log_open(&log, path, size, &err) == 0, "reopen: %s", err.msg);
    again.status = (ss_status_t)7;
    ss_error_clear(&err);
    CHECK(ss_log_append_result(&log, &again, &err) == -1 && err.code == SS_EXIT_RUNTIME,
          "invalid status refused");
    ss_dataset_info_t bad;
    make_dataset(&bad, "bad", SS_KIND_CSV, 3, 0, 0, 0, 0);
    bad.n_classes = -1;
    ss_error_clear(&err);
    CHECK(ss_log_append_dataset(&log, &bad, &err) == -1, "negative n_classes refused");
    bad.n_classes = 0;
    bad.kind = (ss_kind_t)99;
    ss_error_clear(&err);
    CHECK(ss_log_append_dataset(&log, &bad, &err) == -1 && strstr(err.msg, "kind"),
          "unknown kind refused: %s", err.msg);
    free_dataset(&bad);
    ss_log_close(&log);
    CHECK(file_size(path) == size, "refused records leave the log unchanged");
    again.status = SS_STATUS_OK;
    ss_error_clear(&err);
    CHECK(ss_log_append_result(&log, &again, &err) == -1 && strstr(err.msg, "not open"),
          "append to a closed log refused");
    ss_result_free(&again);

    for (int i = 0; i < N_LOG_RESULTS; i++)
        ss_result_free(&res[i]);
}

static void test_contents_index(void)
{
    ss_log_contents_t c;
    memset(&c, 0, sizeof c);
    enum { N = 3000 };
    ss_result_t r;
    for (int i = 0; i < N; i++) {
        char id[64];
        snprintf(id, sizeof id, "d__reg_eigenvalues=1e-%d__seed=%d", i % 7, i);
        make_result(&r, id, "d", i, 2, 1, 1, SS_STATUS_OK, i);
        ss_log_contents_add_result(&c, &r);
        ss_result_free(&r);
    }
    int all = c.n_results == N;
    for (int i = 0; i < N; i++) {
        char id[64];
        snprintf(id, sizeof id, "d__reg_eigenvalues=1e-%d__seed=%d", i % 7, i);
        const ss_result_t *f = ss_log_contents_find(&c, id);
        all &= f && f->seed == i;
    }
    CHECK(all, "3000 results added and found by id");
    make_result(&r, "d__reg_eigenvalues=1e-3__seed=10", "d", 99, 2, 1, 1, SS_STATUS_FAILED, 0);
    ss_log_contents_add_result(&c, &r);
    ss_result_free(&r);
    const ss_result_t *f = ss_log_contents_find(&c, "d__reg_eigenvalues=1e-3__seed=10");
    CHECK(c.n_results == N && f && f->seed == 99, "add replaces a result of the same id");
    ss_log_contents_free(&c);
    ss_log_contents_free(&c); /* a freed struct is zeroed */
}

/* Offset of the second record: the log magic, then the header record. */
static size_t second_record(const unsigned char *log)
{
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--)
        plen = (plen << 8) | log[8 + 8 + i];
    return 8 + 16 + (size_t)plen + 4;
}

static void test_torn_records(void)
{
    const char *path = tmp_path("torn.h5.log");
    const char *cut = tmp_path("cut.h5.log");
    ss_result_t res[N_LOG_RESULTS];
    long last = write_log(path, res);
    size_t full_len;
    unsigned char *full = slurp(path, &full_len);

    /* Every truncation inside the last record. */
    int ok_count = 1, ok_torn = 1, ok_valid = 1, ok_earlier = 1;
    for (size_t n = (size_t)last; n < full_len; n++) {
        spit(cut, full, n);
        ss_log_contents_t c;
        ss_error_t err = {0};
        int rc = ss_log_read(cut, &c, &err);
        ok_count &= rc == 0 && c.n_results == N_LOG_RESULTS - 1 && c.n_datasets == 2;
        ok_torn &= c.torn == (n > (size_t)last);
        ok_valid &= c.valid_bytes == last;
        for (int i = 0; i < c.n_results; i++)
            ok_earlier &= results_equal(&c.results[i], &res[i]);
        ss_log_contents_free(&c);
    }
    CHECK(ok_count, "truncated last record: earlier records survive");
    CHECK(ok_torn, "truncated last record: torn = 1");
    CHECK(ok_valid, "truncated last record: valid_bytes = its offset");
    CHECK(ok_earlier, "truncated last record: earlier results intact");

    /* A flipped byte anywhere in the last record is a CRC failure (or a bad head). */
    int flip_ok = 1;
    for (size_t i = (size_t)last; i < full_len; i++) {
        full[i] ^= 0x20;
        spit(cut, full, full_len);
        ss_log_contents_t c;
        ss_error_t err = {0};
        int rc = ss_log_read(cut, &c, &err);
        flip_ok &= rc == 0 && c.torn == 1 && c.valid_bytes == last &&
                   c.n_results == N_LOG_RESULTS - 1;
        ss_log_contents_free(&c);
        full[i] ^= 0x20;
    }
    CHECK(flip_ok, "flipped byte in the last record detected");

    /* A flipped byte in the first dataset record drops it and everything after it. */
    size_t second = second_record(full);
    full[second + 20] ^= 1;
    spit(cut, full, full_len);
    ss_log_contents_t c;
    ss_error_t err = {0};
    CHECK(ss_log_read(cut, &c, &err) == 0 && c.torn && c.has_header && c.n_datasets == 0 &&
          c.n_results == 0, "corrupt middle record ends the log");
    ss_log_contents_free(&c);
    full[second + 20] ^= 1;

    /* An absurd length in the last record's head. */
    full[last + 15] = 0x7f;
    spit(cut, full, full_len);
    CHECK(ss_log_read(cut, &c, &err) == 0 && c.torn && c.valid_bytes == last,
          "absurd record length is torn");
    ss_log_contents_free(&c);
    full[last + 15] = 0;

    /* Reopening truncates the torn tail and appends after it. */
    size_t torn_len = (size_t)last + 37;
    spit(cut, full, torn_len);
    CHECK(ss_log_read(cut, &c, &err) == 0 && c.torn, "torn before reopen");
    ss_log_t log;
    CHECK(ss_log_open(&log, cut, c.valid_bytes, &err) == 0, "reopen torn: %s", err.msg);
    CHECK(file_size(cut) == last, "torn tail truncated away");
    ss_log_contents_free(&c);
    ss_result_t extra;
    make_result(&extra, "gauss__seed=9", "gauss", 9, 6, 5, 3, SS_STATUS_OK, 9);
    CHECK(ss_log_append_result(&log, &extra, &err) == 0, "append after truncation");
    ss_log_close(&log);
    CHECK(ss_log_read(cut, &c, &err) == 0 && !c.torn && c.n_results == N_LOG_RESULTS &&
          results_equal(&c.results[N_LOG_RESULTS - 1], &extra) &&
          c.valid_bytes == file_size(cut), "appended record readable after the cut");
    ss_log_contents_free(&c);
    ss_result_free(&extra);

    free(full);
    for (int i = 0; i < N_LOG_RESULTS; i++)
        ss_result_free(&res[i]);
}

static void test_not_a_log(void)
{
    ss_log_contents_t c;
    ss_error_t err = {0};
    const char *p = ss_test_write_file("foreign.log", "hello, world: not a log", 23);
    CHECK(ss_log_read(p, &c, &err) == -1 && err.code == SS_EXIT_INPUT &&
          strstr(err.msg, "not a specsweep results log") && strstr(err.msg, p),
          "foreign file refused: %s", err.msg);
    ss_log_contents_free(&c);
    ss_log_t log;
    ss_error_clear(&err);
    CHECK(ss_log_open(&log, p, 0, &err) == -1 && err.code == SS_EXIT_INPUT &&
          file_size(p) == 23, "ss_log_open never truncates a foreign file");

    p = ss_test_write_file("short.log", "SSLX", 4);
    ss_error_clear(&err);
    CHECK(ss_log_read(p, &c, &err) == -1 && err.code == SS_EXIT_INPUT,
          "short foreign file refused");
    ss_log_contents_free(&c);

    p = ss_test_write_file("partial.log", "SSLO", 4);
    ss_error_clear(&err);
    CHECK(ss_log_read(p, &c, &err) == 0 && c.torn && c.valid_bytes == 0 && !c.n_results,
          "partial magic is a torn empty log");
    CHECK(ss_log_open(&log, p, c.valid_bytes, &err) == 0 && file_size(p) == 8,
          "reopen rewrites the magic");
    ss_log_close(&log);
    ss_log_contents_free(&c);

    p = ss_test_write_file("empty.log", "", 0);
    CHECK(ss_log_read(p, &c, &err) == 0 && !c.torn && c.valid_bytes == 0, "empty file");
    ss_log_contents_free(&c);

    CHECK(ss_log_read(tmp_path("missing.log"), &c, &err) == 0 && !c.has_header &&
          c.n_results == 0 && c.valid_bytes == 0, "missing log gives empty contents");
    ss_log_contents_free(&c);

    /* ss_log_open creates missing directories. */
    const char *deep = tmp_path("logdir/a/b/r.h5.log");
    CHECK(ss_log_open(&log, deep, 0, &err) == 0 && file_size(deep) == 8,
          "log created with its directories: %s", err.msg);
    ss_log_close(&log);
}

/* ---- the snapshot ------------------------------------------------------------------ */

/* Two datasets: "clf" (2 cells on reg_eigenvalues x 3 seeds) and "reg" (regression, same
   2 cells x 3 seeds). */
#define N_IN_CLF 6
#define N_IN_REG 4
#define N_SEEDS 3
#define N_EPOCHS 5
#define N_TOPK 3

typedef struct {
    ss_sweep_t sw;
    ss_dataset_spec_t specs[2];
    double axis_values[2];
    ss_run_t runs[12];
    int n_runs;
    ss_log_contents_t c;
} fixture_t;

static void fixture_init(fixture_t *f, size_t yaml_len)
{
    memset(f, 0, sizeof *f);
    snprintf(f->sw.name, sizeof f->sw.name, "fixture-sweep");
    f->sw.yaml_text = malloc(yaml_len + 1);
    for (size_t i = 0; i < yaml_len; i++)
        f->sw.yaml_text[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
    f->sw.yaml_text[yaml_len] = '\0';
    f->sw.n_datasets = 2;
    f->sw.datasets = f->specs;
    snprintf(f->specs[0].name, SS_NAME_MAX, "clf");
    snprintf(f->specs[1].name, SS_NAME_MAX, "reg");
    f->axis_values[0] = 1e-3;
    f->axis_values[1] = 1e-1;
    f->sw.n_axes = 1;
    f->sw.axes[0].key = SS_KEY_REG_EIGENVALUES;
    f->sw.axes[0].n = 2;
    f->sw.axes[0].values = f->axis_values;
    for (int d = 0; d < 2; d++)
        for (int a = 0; a < 2; a++)
            for (int s = 0; s < N_SEEDS; s++) {
                ss_run_t *r = &f->runs[f->n_runs++];
                r->dataset = d;
                r->cell = d * 2 + a;
                r->seed = 10 - s; /* run order, not numeric order */
                default_training(&r->training);
                r->training.reg_eigenvalues = f->axis_values[a];
                char cell_id[128];
                snprintf(cell_id, sizeof cell_id, "%s__reg_eigenvalues=%g", f->specs[d].name,
                         f->axis_values[a]);
                snprintf(r->cell_id, sizeof r->cell_id, "%s", cell_id);
                snprintf(r->id, sizeof r->id, "%s__seed=%lld", cell_id, (long long)r->seed);
            }

    ss_dataset_info_t clf, reg;
    make_dataset(&clf, "clf", SS_KIND_GAUSSIAN, N_IN_CLF, 2, 1, 0, 0);
    make_dataset(&reg, "reg", SS_KIND_CSV, N_IN_REG, 0, 0, 1, 0);
    ss_log_contents_add_dataset(&f->c, &clf);
    ss_log_contents_add_dataset(&f->c, &reg);
    free_dataset(&clf);
    free_dataset(&reg);
    f->c.has_header = 1;
    snprintf(f->c.header.created_utc, sizeof f->c.header.created_utc, "2024-05-06T07:08:09Z");

    /* Results in an order unlike runs; cell 0 has a diverged seed; cell 3 only failed;
       one result belongs to no run. */
    for (int i = f->n_runs - 1; i >= 0; i--) {
        const ss_run_t *run = &f->runs[i];
        ss_status_t st = SS_STATUS_OK;
        if (i == 1)
            st = SS_STATUS_DIVERGED;
        if (run->cell == 3)
            st = SS_STATUS_FAILED;
        ss_result_t r;
        make_result(&r, run->id, f->specs[run->dataset].name, run->seed,
                    run->dataset == 0 ? N_IN_CLF : N_IN_REG, N_EPOCHS, N_TOPK, st, 0.7 * i);
        r.training = run->training;
        if (run->dataset == 1) {
            r.task = SS_TASK_REGRESSION;
            r.test_accuracy = NAN;
        }
        ss_log_contents_add_result(&f->c, &r);
        ss_result_free(&r);
    }
    ss_result_t stray;
    make_result(&stray, "old__seed=0", "clf", 0, N_IN_CLF, 1, 1, SS_STATUS_OK, 0);
    ss_log_contents_add_result(&f->c, &stray);
    ss_result_free(&stray);
}

static void fixture_free(fixture_t *f)
{
    free(f->sw.yaml_text);
    ss_log_contents_free(&f->c);
}

/* HDF5 read helpers for the checks. */
static char *h5_attr_str(hid_t loc, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char *v = NULL, *out = NULL;
    if (H5Aread(a, mt, &v) >= 0 && v) {
        out = strdup(v);
        H5free_memory(v);
    }
    H5Tclose(mt);
    H5Aclose(a);
    return out;
}

/* A numeric attribute; *cls gets its HDF5 class. */
static double h5_attr_num(hid_t loc, const char *obj, const char *name, H5T_class_t *cls)
{
    double v = NAN;
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return NAN;
    hid_t t = H5Aget_type(a);
    if (cls)
        *cls = H5Tget_class(t);
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0)
        v = NAN;
    H5Tclose(t);
    H5Aclose(a);
    return v;
}

/* A dataset as doubles (malloc'd); its dimensions in rows and cols (cols 1 for rank 1). */
static double *h5_read(hid_t loc, const char *path, long *rows, long *cols)
{
    *rows = *cols = -1;
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *rows = (long)dims[0];
    *cols = rank == 2 ? (long)dims[1] : 1;
    double *v = malloc((size_t)(*rows * *cols + 1) * sizeof *v);
    if (*rows * *cols > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
    }
    H5Sclose(sp);
    H5Dclose(d);
    return v;
}

static int h5_exists(hid_t file, const char *path)
{
    htri_t e = 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; e > 0; p++) { /* H5Lexists needs every parent to exist */
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            e = H5Lexists(file, buf, H5P_DEFAULT);
            *p = save;
            if (!save)
                break;
        }
    }
    return e > 0;
}

static int vec_equal(const double *a, const double *b, long n)
{
    return n == 0 || (a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0);
}

static int no_temp_files(const char *h5)
{
    char pat[600];
    snprintf(pat, sizeof pat, "%s.tmp.%ld", h5, (long)getpid());
    return access(pat, F_OK) != 0;
}

static void test_snapshot(void)
{
    fixture_t f;
    fixture_init(&f, 200000); /* a sweep file far larger than 64 KiB */
    const char *h5 = tmp_path("snapdir/sub/results.h5");
    ss_error_t err = {0};
    CHECK(ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "snapshot: %s",
          err.msg);
    CHECK(no_temp_files(h5), "no temporary file left behind");

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "snapshot opens");
    if (file < 0) {
        fixture_free(&f);
        return;
    }
    char *s;
    H5T_class_t cls = H5T_NO_CLASS;
    s = h5_attr_str(file, ".", "format");
    CHECK(s && !strcmp(s, "specsweep-results"), "format attr");
    free(s);
    CHECK(h5_attr_num(file, ".", "format_version", &cls) == 1 && cls == H5T_INTEGER,
          "format_version = 1 (int)");
    s = h5_attr_str(file, ".", "specsweep_version");
    CHECK(s && !strcmp(s, SS_VERSION), "specsweep_version");
    free(s);
    s = h5_attr_str(file, ".", "sweep_name");
    CHECK(s && !strcmp(s, "fixture-sweep"), "sweep_name");
    free(s);
    s = h5_attr_str(file, ".", "sweep_yaml");
    CHECK(s && !strcmp(s, f.sw.yaml_text), "sweep_yaml: full text of 200000 bytes");
    free(s);
    s = h5_attr_str(file, ".", "created_utc");
    CHECK(s && !strcmp(s, "2024-05-06T07:08:09Z"), "created_utc from the log header");
    free(s);

    /* datasets */
    s = h5_attr_str(file, "datasets/clf", "kind");
    CHECK(s && !strcmp(s, ss_kind_name(SS_KIND_GAUSSIAN)), "dataset kind");
    free(s);
    CHECK(h5_attr_num(file, "datasets/clf", "n_inputs", &cls) == N_IN_CLF && cls == H5T_INTEGER,
          "dataset n_inputs");
    CHECK(h5_attr_num(file, "datasets/reg", "n_classes", NULL) == 0, "regression n_classes");
    CHECK(h5_attr_num(file, "datasets/clf", "n_test", NULL) == 200, "n_test");
    long rows, cols;
    double *v = h5_read(file, "datasets/clf/relevance_truth", &rows, &cols);
    CHECK(v && rows == N_IN_CLF && v[0] == N_IN_CLF && v[N_IN_CLF - 1] == 1,
          "relevance_truth");
    free(v);
    CHECK(!h5_exists(file, "/datasets/reg/relevance_truth") &&
          h5_exists(file, "/datasets/reg/feature_names") &&
          !h5_exists(file, "/datasets/clf/feature_names"), "optional datasets where they apply");

    /* runs: every run with a result, arrays equal to the inputs */
    int runs_ok = 1;
    for (int i = 0; i < f.n_runs; i++) {
        const ss_result_t *r = ss_log_contents_find(&f.c, f.runs[i].id);
        char g[300];
        snprintf(g, sizeof g, "runs/%s", f.runs[i].id);
        runs_ok &= h5_exists(file, g);
        if (!r || !runs_ok)
            break;
        char *ds = h5_attr_str(file, g, "dataset");
        char *st = h5_attr_str(file, g, "status");
        char *msg = h5_attr_str(file, g, "message");
        runs_ok &= ds && !strcmp(ds, r->dataset) && st &&
                   !strcmp(st, ss_status_name(r->status)) && msg && !strcmp(msg, r->message);
        free(ds);
        free(st);
        free(msg);
        runs_ok &= h5_attr_num(file, g, "seed", &cls) == (double)r->seed && cls == H5T_INTEGER;
        runs_ok &= h5_attr_num(file, g, "epochs", &cls) == r->training.epochs &&
                   cls == H5T_INTEGER;
        runs_ok &= h5_attr_num(file, g, "reg_eigenvalues", &cls) ==
                   r->training.reg_eigenvalues && cls == H5T_FLOAT;
        runs_ok &= h5_attr_num(file, g, "adam_epsilon", NULL) == r->training.adam_epsilon;
        runs_ok &= h5_attr_num(file, g, "ranks", NULL) == r->ranks;
        runs_ok &= h5_attr_num(file, g, "train_seconds", NULL) == r->train_seconds;
        runs_ok &= h5_attr_num(file, g, "test_loss", NULL) == r->test_loss;
        double ta = h5_attr_num(file, g, "test_accuracy", NULL);
        runs_ok &= same_bits(&ta, &r->test_accuracy, 1);
        char p[400];
        struct { const char *name; const double *want; int n; } arr[] = {
            {"eigenvalues", r->eigenvalues, r->n_inputs},
            {"eigenvalues_raw", r->eigenvalues_raw, r->n_inputs},
            {"train_loss", r->train_loss, r->n_epochs},
            {f.runs[i].dataset == 1 ? "val_loss" : "val_accuracy", r->val_metric, r->n_epochs},
            {"topk_accuracy", r->topk_accuracy, r->n_topk},
            {"randomk_accuracy", r->randomk_accuracy, r->n_topk},
        };
        for (size_t a = 0; a < sizeof arr / sizeof arr[0]; a++) {
            snprintf(p, sizeof p, "%s/%s", g, arr[a].name);
            v = h5_read(file, p, &rows, &cols);
            runs_ok &= rows == arr[a].n && vec_equal(v, arr[a].want, arr[a].n);
            free(v);
        }
        snprintf(p, sizeof p, "/%s/%s", g, f.runs[i].dataset == 1 ? "val_accuracy" : "val_loss");
        runs_ok &= !h5_exists(file, p);
        snprintf(p, sizeof p, "%s/topk", g);
        v = h5_read(file, p, &rows, &cols);
        runs_ok &= v && rows == N_TOPK && v[0] == 1 && v[N_TOPK - 1] == N_TOPK;
        free(v);
        if (!runs_ok)
            fprintf(stderr, "run %s differs\n", g);
    }
    CHECK(runs_ok, "/runs groups match the results");
    CHECK(!h5_exists(file, "/runs/old__seed=0"), "results of runs not in the sweep ignored");

    /* summary: cells 0..2 have ok runs; cell 3 has only failed runs */
    for (int cell = 0; cell < 4; cell++) {
        const ss_run_t *first = &f.runs[cell * N_SEEDS];
        char g[300];
        snprintf(g, sizeof g, "/summary/%s", first->cell_id);
        if (cell == 3) {
            CHECK(!h5_exists(file, g), "cell with no ok run has no summary");
            continue;
        }
        CHECK(h5_exists(file, g), "summary cell %s", g);
        /* expected: ok runs in run order */
        const ss_result_t *ok[N_SEEDS];
        int n_ok = 0, n_div = 0;
        for (int sidx = 0; sidx < N_SEEDS; sidx++) {
            const ss_result_t *r = ss_log_contents_find(&f.c, f.runs[cell * N_SEEDS + sidx].id);
            if (r->status == SS_STATUS_OK)
                ok[n_ok++] = r;
            else
                n_div++;
        }
        int n_in = first->dataset == 0 ? N_IN_CLF : N_IN_REG;
        CHECK(h5_attr_num(file, g, "n_realizations", &cls) == n_ok && cls == H5T_INTEGER,
              "n_realizations %d", n_ok);
        CHECK(h5_attr_num(file, g, "n_diverged", NULL) == n_div, "n_diverged");
        CHECK(h5_attr_num(file, g, "n_failed", NULL) == 0, "n_failed");
        CHECK(h5_attr_num(file, g, "reg_eigenvalues", &cls) ==
              first->training.reg_eigenvalues && cls == H5T_FLOAT, "swept key value");
        CHECK(!H5Aexists_by_name(file, g, "epochs", H5P_DEFAULT), "unswept keys absent");
        s = h5_attr_str(file, g, "dataset");
        CHECK(s && !strcmp(s, f.specs[first->dataset].name), "summary dataset attr");
        free(s);
        s = h5_attr_str(file, g, "cell_id");
        CHECK(s && !strcmp(s, first->cell_id), "summary cell_id attr");
        free(s);

        char p[400];
        snprintf(p, sizeof p, "%s/seeds", g);
        v = h5_read(file, p, &rows, &cols);
        int seeds_ok = v && rows == n_ok;
        for (int j = 0; seeds_ok && j < n_ok; j++)
            seeds_ok &= v[j] == (double)ok[j]->seed;
        CHECK(seeds_ok, "seeds in run order");
        free(v);

        snprintf(p, sizeof p, "%s/eigenvalues", g);
        v = h5_read(file, p, &rows, &cols);
        int eig_ok = v && rows == n_ok && cols == n_in;
        for (int j = 0; eig_ok && j < n_ok; j++)
            eig_ok &= vec_equal(v + (size_t)j * n_in, ok[j]->eigenvalues, n_in);
        CHECK(eig_ok, "summary eigenvalues rows are the signed eigenvalues");
        free(v);

        long mr, sr;
        snprintf(p, sizeof p, "%s/eigenvalues_abs_mean", g);
        double *mean = h5_read(file, p, &mr, &cols);
        snprintf(p, sizeof p, "%s/eigenvalues_abs_std", g);
        double *sd = h5_read(file, p, &sr, &cols);
        int stats_ok = mean && sd && mr == n_in && sr == n_in;
        for (int i = 0; stats_ok && i < n_in; i++) {
            double m = 0, var = 0;
            for (int j = 0; j < n_ok; j++)
                m += fabs(ok[j]->eigenvalues[i]);
            m /= n_ok;
            for (int j = 0; j < n_ok; j++)
                var += (fabs(ok[j]->eigenvalues[i]) - m) * (fabs(ok[j]->eigenvalues[i]) - m);
            stats_ok &= fabs(mean[i] - m) < 1e-14 && fabs(sd[i] - sqrt(var / n_ok)) < 1e-14;
        }
        CHECK(stats_ok, "abs mean and std (ddof 0) over the ok seeds");
        free(mean);
        free(sd);

        snprintf(p, sizeof p, "%s/test_accuracy", g);
        v = h5_read(file, p, &rows, &cols);
        int acc_ok = v && rows == n_ok;
        for (int j = 0; acc_ok && j < n_ok; j++)
            acc_ok &= same_bits(&v[j], &ok[j]->test_accuracy, 1);
        CHECK(acc_ok, "summary test_accuracy");
        free(v);

        snprintf(p, sizeof p, "%s/topk_accuracy", g);
        v = h5_read(file, p, &rows, &cols);
        int tk_ok = v && rows == n_ok && cols == N_TOPK;
        for (int j = 0; tk_ok && j < n_ok; j++)
            tk_ok &= vec_equal(v + (size_t)j * N_TOPK, ok[j]->topk_accuracy, N_TOPK);
        CHECK(tk_ok, "summary topk_accuracy [n, K]");
        free(v);
        snprintf(p, sizeof p, "%s/randomk_accuracy", g);
        v = h5_read(file, p, &rows, &cols);
        CHECK(v && rows == n_ok && cols == N_TOPK &&
              vec_equal(v, ok[0]->randomk_accuracy, N_TOPK), "summary randomk_accuracy");
        free(v);
        snprintf(p, sizeof p, "%s/topk", g);
        v = h5_read(file, p, &rows, &cols);
        CHECK(v && rows == N_TOPK && v[2] == 3, "summary topk");
        free(v);
    }
    H5Fclose(file);

    /* Rewriting replaces the file atomically with the new contents. */
    snprintf(f.sw.name, sizeof f.sw.name, "renamed");
    CHECK(ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "rewrite: %s",
          err.msg);
    file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    s = file >= 0 ? h5_attr_str(file, ".", "sweep_name") : NULL;
    CHECK(s && !strcmp(s, "renamed"), "rewritten snapshot has the new contents");
    free(s);
    if (file >= 0)
        H5Fclose(file);
    fixture_free(&f);
}

static void test_snapshot_failure(void)
{
    fixture_t f;
    fixture_init(&f, 100);
    const char *h5 = tmp_path("fail.h5");
    ss_error_t err = {0};
    CHECK(ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "first: %s",
          err.msg);
    size_t n_before, n_after;
    unsigned char *before = slurp(h5, &n_before);

    /* The temporary path is blocked by a directory: creating the file fails. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", h5, (long)getpid());
    CHECK(mkdir(tmp, 0755) == 0, "mkdir blocker");
    snprintf(f.sw.name, sizeof f.sw.name, "changed");
    ss_error_clear(&err);
    int rc = ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err);
    CHECK(rc == -1 && err.code == SS_EXIT_RUNTIME && strstr(err.msg, h5) &&
          strstr(err.msg, "creating"), "blocked temp file reported: %s", err.msg);
    unsigned char *after = slurp(h5, &n_after);
    CHECK(n_before == n_after && !memcmp(before, after, n_before),
          "old snapshot untouched after a failure");
    free(after);
    rmdir(tmp);

    /* A failure in the middle of writing (a run id HDF5 cannot use as a group name):
       the temporary file is removed and the old file stays. */
    ss_run_t saved = f.runs[0];
    ss_result_t bad;
    make_result(&bad, "clf/bad", "clf", 0, N_IN_CLF, 1, 1, SS_STATUS_OK, 0);
    ss_log_contents_add_result(&f.c, &bad);
    ss_result_free(&bad);
    snprintf(f.runs[0].id, sizeof f.runs[0].id, "clf/bad");
    ss_error_clear(&err);
    rc = ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err);
    CHECK(rc == -1 && strstr(err.msg, "/runs/clf/bad"), "mid-write failure names the step: %s",
          err.msg);
    CHECK(no_temp_files(h5), "temporary file removed after a failure");
    after = slurp(h5, &n_after);
    CHECK(n_before == n_after && !memcmp(before, after, n_before),
          "old snapshot untouched after a mid-write failure");
    free(after);
    f.runs[0] = saved;

    /* A regular file where the output directory should be. */
    ss_test_write_file("blocker", "x", 1);
    const char *blocked = tmp_path("blocker/sub/r.h5");
    ss_error_clear(&err);
    CHECK(ss_snapshot_write(blocked, &f.sw, f.runs, f.n_runs, &f.c, &err) == -1 &&
          err.code == SS_EXIT_RUNTIME && strstr(err.msg, "directory"),
          "output directory blocked by a file: %s", err.msg);
    free(before);
    fixture_free(&f);
}

/* 1000 runs x 784 inputs must snapshot quickly: the engine writes one every few seconds. */
static void test_snapshot_speed(void)
{
    enum { CELLS = 100, SEEDS = 10, NIN = 784, EPOCHS = 200, K = 10 };
    fixture_t f;
    memset(&f, 0, sizeof f);
    ss_sweep_t sw;
    memset(&sw, 0, sizeof sw);
    snprintf(sw.name, sizeof sw.name, "speed");
    sw.yaml_text = "name: speed\n";
    ss_dataset_spec_t spec;
    memset(&spec, 0, sizeof spec);
    snprintf(spec.name, sizeof spec.name, "mnist");
    sw.datasets = &spec;
    sw.n_datasets = 1;
    sw.n_axes = 1;
    sw.axes[0].key = SS_KEY_REG_EIGENVALUES;
    ss_run_t *runs = calloc(CELLS * SEEDS, sizeof *runs);
    ss_log_contents_t c;
    memset(&c, 0, sizeof c);
    ss_dataset_info_t ds;
    make_dataset(&ds, "mnist", SS_KIND_IDX, NIN, 10, 0, 0, 1);
    ds.input_shape[0] = ds.input_shape[1] = 28;
    ss_log_contents_add_dataset(&c, &ds);
    free_dataset(&ds);
    for (int cell = 0; cell < CELLS; cell++)
        for (int s = 0; s < SEEDS; s++) {
            ss_run_t *r = &runs[cell * SEEDS + s];
            r->cell = cell;
            r->seed = s;
            default_training(&r->training);
            r->training.reg_eigenvalues = 1e-5 * (cell + 1);
            snprintf(r->cell_id, sizeof r->cell_id, "mnist__reg_eigenvalues=%g",
                     r->training.reg_eigenvalues);
            snprintf(r->id, sizeof r->id, "%s__seed=%d", r->cell_id, s);
            ss_result_t res;
            make_result(&res, r->id, "mnist", s, NIN, EPOCHS, K, SS_STATUS_OK, cell + 0.1 * s);
            ss_log_contents_add_result(&c, &res);
            ss_result_free(&res);
        }
    const char *h5 = tmp_path("speed.h5");
    ss_error_t err = {0};
    double t0 = ss_now();
    int rc = ss_snapshot_write(h5, &sw, runs, CELLS * SEEDS, &c, &err);
    double dt = ss_now() - t0;
    CHECK(rc == 0, "speed snapshot: %s", err.msg);
    printf("snapshot of %d runs x %d inputs: %.3f s, %.1f MB\n", CELLS * SEEDS, NIN, dt,
           file_size(h5) / 1e6);

    ss_error_clear(&err);
    FILE *devnull = fopen("/dev/null", "w");
    t0 = ss_now();
    CHECK(ss_summary_print(h5, devnull, &err) == 0, "summary of the big file: %s", err.msg);
    printf("summary of %d runs: %.3f s\n", CELLS * SEEDS, ss_now() - t0);
    fclose(devnull);
    free(runs);
    ss_log_contents_free(&c);
    unlink(h5);
}

/* ---- the lock ---------------------------------------------------------------------- */

static void test_lock(void)
{
    const char *h5 = tmp_path("lockdir/deeper/locked.h5");
    int fd1 = -1, fd2 = -1;
    ss_error_t err = {0};
    CHECK(ss_lock_acquire(h5, &fd1, &err) == 0 && fd1 >= 0, "first lock: %s", err.msg);

    /* A second open file description in this process conflicts like another process. */
    char pid[32];
    snprintf(pid, sizeof pid, "held by pid %ld", (long)getpid());
    CHECK(ss_lock_acquire(h5, &fd2, &err) == -1 && fd2 == -1 && err.code == SS_EXIT_INPUT &&
          strstr(err.msg, "is in use by another specsweep run") && strstr(err.msg, ".lock") &&
          strstr(err.msg, pid), "second writer refused: %s", err.msg);

    /* Another process too. */
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        /* The inherited descriptor shares our lock; close it so the child is a stranger. */
        close(fd1);
        int fd = -1;
        ss_error_t e = {0};
        int rc = ss_lock_acquire(h5, &fd, &e);
        _exit(rc == -1 && e.code == SS_EXIT_INPUT ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process is refused");

    ss_lock_release(&fd1);
    CHECK(fd1 == -1, "release clears the descriptor");
    ss_lock_release(&fd1);
    ss_error_clear(&err);
    CHECK(ss_lock_acquire(h5, &fd2, &err) == 0, "lock free again after release: %s", err.msg);
    ss_lock_release(&fd2);
}

/* ---- the summary table ------------------------------------------------------------- */

static char *capture_summary(const char *h5, int *rc, ss_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *rc = ss_summary_print(h5, out, err);
    fclose(out);
    return text;
}

static void test_summary_print(void)
{
    fixture_t f;
    fixture_init(&f, 100);
    const char *h5 = tmp_path("summary.h5");
    ss_error_t err = {0};
    CHECK(ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "snapshot: %s",
          err.msg);
    int rc;
    char *text = capture_summary(h5, &rc, &err);
    CHECK(rc == 0, "summary: %s", err.msg);
    printf("%s", text);

    /* Expected numbers computed here: cell 0 (clf, seeds 2 ok) accuracy mean and std. */
    double m = 0, v = 0;
    int n = 0;
    const ss_result_t *ok[N_SEEDS];
    for (int s = 0; s < N_SEEDS; s++) {
        const ss_result_t *r = ss_log_contents_find(&f.c, f.runs[s].id);
        if (r->status == SS_STATUS_OK)
            ok[n++] = r;
    }
    for (int j = 0; j < n; j++)
        m += ok[j]->test_accuracy;
    m /= n;
    for (int j = 0; j < n; j++)
        v += (ok[j]->test_accuracy - m) * (ok[j]->test_accuracy - m);
    char want[128];
    snprintf(want, sizeof want, "%.4f ± %.4f", m, sqrt(v / n));
    CHECK(strstr(text, want) != NULL, "summary shows accuracy '%s'", want);

    /* Regression cell 2: MAE from test_loss. */
    m = v = 0;
    for (int s = 0; s < N_SEEDS; s++)
        m += ss_log_contents_find(&f.c, f.runs[2 * N_SEEDS + s].id)->test_loss;
    m /= N_SEEDS;
    for (int s = 0; s < N_SEEDS; s++) {
        double d = ss_log_contents_find(&f.c, f.runs[2 * N_SEEDS + s].id)->test_loss - m;
        v += d * d;
    }
    snprintf(want, sizeof want, "MAE %.4f ± %.4f", m, sqrt(v / N_SEEDS));
    CHECK(strstr(text, want) != NULL, "summary shows regression '%s'", want);

    /* Top input of cell 0 by mean |eigenvalue|. */
    double best = -1;
    int arg = -1;
    for (int i = 0; i < N_IN_CLF; i++) {
        double a = 0;
        for (int j = 0; j < n; j++)
            a += fabs(ok[j]->eigenvalues[i]);
        a /= n;
        if (a > best) {
            best = a;
            arg = i;
        }
    }
    snprintf(want, sizeof want, "%d(%.3g±", arg, best);
    CHECK(strstr(text, want) != NULL, "summary shows top input '%s'", want);
    CHECK(strstr(text, "feat_") != NULL, "feature names used for the csv dataset");
    CHECK(strstr(text, "reg_eigenvalues=0.001") && strstr(text, "reg_eigenvalues=0.1"),
          "swept values shown");
    CHECK(strstr(text, "spearman") != NULL, "spearman column with truth");
    CHECK(strstr(text, "runs: 8 ok, 1 diverged, 3 failed (12 in the file)") != NULL,
          "run totals");
    CHECK(strstr(text, "fixture-sweep") != NULL, "sweep name");
    free(text);

    /* Errors: missing, not HDF5, HDF5 without our format, another format_version. */
    text = capture_summary(tmp_path("nope.h5"), &rc, &err);
    free(text);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "nope.h5"),
          "missing file: %s", err.msg);
    ss_error_clear(&err);
    const char *junk = ss_test_write_file("junk.h5", "definitely not hdf5", 19);
    text = capture_summary(junk, &rc, &err);
    free(text);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "not a specsweep results"),
          "not HDF5: %s", err.msg);

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *other = tmp_path("other.h5");
    hid_t file = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    ss_error_clear(&err);
    text = capture_summary(other, &rc, &err);
    free(text);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "not a specsweep results"),
          "HDF5 without format: %s", err.msg);

    file = H5Fopen(h5, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(file, "format_version", H5P_DEFAULT);
    int64_t two = 2;
    H5Awrite(a, H5T_NATIVE_INT64, &two);
    H5Aclose(a);
    H5Fclose(file);
    ss_error_clear(&err);
    text = capture_summary(h5, &rc, &err);
    free(text);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "format_version 2"),
          "other format_version: %s", err.msg);
    fixture_free(&f);
}

int main(void)
{
    test_pack_roundtrip();
    test_log_roundtrip();
    test_contents_index();
    test_torn_records();
    test_not_a_log();
    test_snapshot();
    test_snapshot_failure();
    test_snapshot_speed();
    test_lock();
    test_summary_print();
    return ss_test_report();
}
