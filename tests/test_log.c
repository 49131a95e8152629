#define _GNU_SOURCE /* memmem */
/* test_log.c - the run result's field table, the payload codec, the commit log and its
   contents, the writer lock (result.h, record.h, log.h). */
#include "specsweep/log.h"
#include "specsweep/record.h"
#include "specsweep/result.h"
#include "result_fixture.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the field table --------------------------------------------------------------- */

/* Every member of ss_result_t is in the table: the bytes no entry (or array count)
   covers are only alignment padding, each gap shorter than 8 bytes and ending on an
   8-byte boundary. A member added to ss_result_t but not to the table leaves a gap of
   its own size and fails here (an int squeezed into existing padding is the one case
   this cannot see). */
static void test_field_table_covers_result(void)
{
    unsigned char covered[sizeof(ss_result_t)];
    memset(covered, 0, sizeof covered);
    int overlap = 0;
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        for (size_t b = 0; b < field_bytes(f); b++)
            overlap |= covered[f->offset + b]++;
        if (f->count_offset)
            for (size_t b = 0; b < sizeof(int); b++)
                covered[f->count_offset + b] = 1; /* shared by arrays of one length */
    }
    for (size_t b = 0; b < sizeof(unsigned); b++)    /* which optional fields are absent */
        covered[offsetof(ss_result_t, absent) + b] = 1;
    CHECK(!overlap, "no two table entries share bytes");
    int gaps_ok = 1;
    for (size_t b = 0; b < sizeof covered;) {
        if (covered[b]) {
            b++;
            continue;
        }
        size_t end = b;
        while (end < sizeof covered && !covered[end])
            end++;
        if (end - b >= 8 || end % 8 != 0) {
            fprintf(stderr, "bytes %zu..%zu of ss_result_t are in no table entry\n", b, end);
            gaps_ok = 0;
        }
        b = end;
    }
    CHECK(gaps_ok, "every member of ss_result_t has a field table entry");
    for (int k = 0; k < ss_result_n_fields; k++)
        for (int j = 0; j < k; j++)
            CHECK(strcmp(ss_result_fields[k].name, ss_result_fields[j].name) != 0,
                  "field name %s appears twice", ss_result_fields[k].name);
}

/* Every field survives the MPI message and the log. */
static void test_every_field_roundtrips(void)
{
    ss_result_t r, back;
    fill_all_fields(&r);
    CHECK(ss_result_check(&r), "filled result is consistent");
    unsigned char *buf;
    size_t len;
    ss_error_t err = {0};
    CHECK(ss_record_pack_result(&r, &buf, &len) == 0 &&
          ss_record_unpack_result(buf, len, &back, &err) == 0, "pack/unpack: %s", err.msg);
    free(buf);
    for (int k = 0; k < ss_result_n_fields; k++)
        CHECK(field_equal(&r, &back, &ss_result_fields[k]), "field %s survives a message",
              ss_result_fields[k].name);
    ss_result_free(&back);

    ss_result_t copy;
    ss_result_copy(&copy, &r);
    for (int k = 0; k < ss_result_n_fields; k++)
        CHECK(field_equal(&r, &copy, &ss_result_fields[k]), "field %s survives a copy",
              ss_result_fields[k].name);
    ss_result_free(&copy);

    const char *path = tmp_path("fields.h5.log");
    unlink(path);
    ss_log_t log;
    ss_log_contents_t c;
    CHECK(ss_log_open(&log, path, 0, &err) == 0 && ss_log_append_result(&log, &r, &err) == 0,
          "append: %s", err.msg);
    ss_log_close(&log);
    CHECK(ss_log_read(path, &c, &err) == 0 && c.n_results == 1, "read back: %s", err.msg);
    for (int k = 0; c.n_results == 1 && k < ss_result_n_fields; k++)
        CHECK(field_equal(&r, &c.results[0], &ss_result_fields[k]), "field %s survives the log",
              ss_result_fields[k].name);
    ss_log_contents_free(&c);
    ss_result_free(&r);
}

/* Optional fields a run did not compute (ss_result_t.absent) and training keys not in use
   (adam's runs: optimizer, adamax_*) are not recorded at all: the payload does not name
   them, they read back absent or at their defaults, through a message and the log. */
static void test_absent_fields(void)
{
    ss_result_t r, back;
    make_result(&r, "g__seed=1", "g", 1, 6, 4, 2, SS_STATUS_OK, 0.5);
    r.task = SS_TASK_CLASSIFICATION;
    unsigned gone = SS_RESULT_BIT(n_trainable) | SS_RESULT_BIT(retracted_test_accuracy) |
                    SS_RESULT_BIT(retracted_test_loss) | SS_RESULT_BIT(retracted_shape) |
                    SS_RESULT_BIT(weights_histogram) | SS_RESULT_BIT(weights_histogram_edges);
    CHECK(__builtin_popcount(gone) == 6, "six optional fields found by their members");
    r.absent = gone;
    r.training.adamax_beta1 = 0.5; /* not in use under adam: not recorded */
    unsigned char *buf;
    size_t len;
    ss_error_t err = {0};
    CHECK(ss_record_pack_result(&r, &buf, &len) == 0, "pack");
    static const char *const unnamed[] = {"n_trainable", "retracted_", "weights_histogram",
                                          "training.optimizer", "training.adamax_"};
    int named = 0;
    for (size_t i = 0; i < sizeof unnamed / sizeof unnamed[0]; i++)
        named += memmem(buf, len, unnamed[i], strlen(unnamed[i])) != NULL;
    CHECK(named == 0, "%d absent fields or unused keys are in the payload", named);
    CHECK(ss_record_unpack_result(buf, len, &back, &err) == 0, "unpack: %s", err.msg);
    free(buf);
    CHECK(back.absent == gone, "absent %x, expected %x", back.absent, gone);
    CHECK(back.training.optimizer == SS_OPT_ADAM && back.training.adamax_beta1 == 0.9,
          "unused keys read back as their defaults");
    r.training.adamax_beta1 = 0.9;
    CHECK(results_equal(&r, &back), "the rest is unchanged");
    ss_result_free(&back);

    /* the log: the same, and a present field next to absent ones */
    r.absent = gone & ~SS_RESULT_BIT(n_trainable);
    r.n_trainable = 1234;
    const char *path = tmp_path("absent.h5.log");
    unlink(path);
    ss_log_t log;
    ss_log_contents_t c;
    CHECK(ss_log_open(&log, path, 0, &err) == 0 && ss_log_append_result(&log, &r, &err) == 0,
          "append: %s", err.msg);
    ss_log_close(&log);
    CHECK(ss_log_read(path, &c, &err) == 0 && c.n_results == 1, "read: %s", err.msg);
    if (c.n_results == 1)
        CHECK(c.results[0].absent == r.absent && c.results[0].n_trainable == 1234,
              "through the log: absent %x n_trainable %d", c.results[0].absent,
              c.results[0].n_trainable);
    ss_log_contents_free(&c);
    ss_result_free(&r);
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
    b.standardize_mean = calloc(4, sizeof(double)); /* a standardized dataset */
    b.standardize_std = calloc(4, sizeof(double));
    for (int i = 0; i < 4; i++) {
        b.standardize_mean[i] = 1000.0 * i - 0.1;
        b.standardize_std[i] = i == 2 ? 0.0 : 0.5 + i;
    }
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
        CHECK(!a->standardize_mean && !a->standardize_std, "gauss: not standardized");
        CHECK(b->standardize_mean && b->standardize_std && b->standardize_mean[3] == 2999.9 &&
              b->standardize_std[1] == 1.5 && b->standardize_std[2] == 0.0,
              "table: the standardization vectors round trip");
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
/* The offset of the record after the one at `off`. */
static size_t next_rec(const unsigned char *log, size_t off)
{
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--)
        plen = (plen << 8) | log[off + 8 + i];
    return off + 16 + (size_t)plen + 4;
}

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

    /* A flipped byte in the first dataset record is damage, not the end of the log:
       every record after it is still read, and the damage says where it is and how many
       intact records follow it. */
    size_t second = second_record(full);
    full[second + 20] ^= 1;
    spit(cut, full, full_len);
    ss_log_contents_t c;
    ss_error_t err = {0};
    CHECK(ss_log_read(cut, &c, &err) == 0 && !c.torn && c.has_header && c.n_datasets == 1 &&
          c.n_results == N_LOG_RESULTS && c.n_damage == 1 &&
          c.damage[0].start == (long)second && c.damage[0].intact_after == N_LOG_RESULTS + 1,
          "damaged middle record: every later record read, damage reported");
    char what[600];
    ss_log_damage_describe(&c, cut, what, sizeof what);
    char at[64];
    snprintf(at, sizeof at, "byte offset %zu", second);
    CHECK(strstr(what, at) && strstr(what, "5 intact records"), "damage described: %s", what);
    ss_log_contents_free(&c);
    full[second + 20] ^= 1;

    /* Any byte of a middle result record, flipped: only that run is missing. */
    size_t third = next_rec(full, second);  /* the second dataset */
    size_t r0 = next_rec(full, third);      /* the first result */
    size_t r1 = next_rec(full, r0);         /* the second result */
    size_t r2 = next_rec(full, r1);
    int every_byte = 1;
    for (size_t i = r1; i < r2; i++) {
        full[i] ^= 0x40;
        spit(cut, full, full_len);
        int rc = ss_log_read(cut, &c, &err);
        every_byte &= rc == 0 && c.n_damage == 1 && c.n_results == N_LOG_RESULTS - 1 &&
                      !ss_log_contents_find(&c, "gauss__seed=1") &&
                      ss_log_contents_find(&c, "gauss__seed=3") &&
                      c.damage[0].start == (long)r1 && c.damage[0].intact_after == 2;
        ss_log_contents_free(&c);
        full[i] ^= 0x40;
    }
    CHECK(every_byte, "any flipped byte of a middle record costs that record only");

    /* Salvage: the damaged bytes move to LOG.damaged.0 (then .1: never overwritten), the
       log keeps every intact record and reads without damage. */
    full[r1 + 30] ^= 0x40;
    for (int round = 0; round < 2; round++) {
        spit(cut, full, full_len);
        CHECK(ss_log_read(cut, &c, &err) == 0 && c.n_damage == 1, "damaged before salvage");
        char *moved = NULL;
        CHECK(ss_log_salvage(cut, &c, &moved, &err) == 0, "salvage: %s", err.msg);
        char want[600];
        snprintf(want, sizeof want, "%s.damaged.%d", cut, round);
        CHECK(moved && !strcmp(moved, want), "damaged bytes moved to %s", moved ? moved : "?");
        size_t n_moved = 0;
        unsigned char *bytes = moved ? slurp(moved, &n_moved) : NULL;
        CHECK(n_moved == r2 - r1 && bytes && !memcmp(bytes, full + r1, n_moved),
              "the damaged file holds exactly the damaged record's bytes");
        CHECK(c.n_damage == 0 && !c.torn && c.n_results == N_LOG_RESULTS - 1 &&
              c.n_datasets == 2 && c.has_header && file_size(cut) == (long)(full_len - n_moved),
              "salvaged log: every intact record, no damage");
        free(bytes);
        free(moved);
        ss_log_contents_free(&c);
    }
    full[r1 + 30] ^= 0x40;

    /* A length field destroyed in a middle record: the reader finds the next record by
       its magic and CRC. */
    unsigned char saved[8];
    memcpy(saved, full + r1 + 8, 8);
    memset(full + r1 + 8, 0xff, 8);
    spit(cut, full, full_len);
    CHECK(ss_log_read(cut, &c, &err) == 0 && c.n_damage == 1 && c.n_results == N_LOG_RESULTS - 1 &&
          c.damage[0].end == (long)r2, "absurd length in a middle record: resynchronised");
    ss_log_contents_free(&c);
    memcpy(full + r1 + 8, saved, 8);

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

/* A file full of false record marks, each claiming a length up to the end of the file:
   finding intact records again would cost the CRC of every claim (quadratic in the
   size); the scan is cut short and the rest reported as damage of unknown extent, never
   as a torn tail to be trimmed. */
static void test_hostile_log(void)
{
    const char *path = tmp_path("hostile.h5.log");
    ss_result_t res[N_LOG_RESULTS];
    write_log(path, res);
    for (int i = 0; i < N_LOG_RESULTS; i++)
        ss_result_free(&res[i]);
    size_t n = 0;
    unsigned char *good = slurp(path, &n);
    size_t second = second_record(good), size = second + (2u << 20);
    unsigned char *b = calloc(size, 1);
    memcpy(b, good, second); /* the header record, intact */
    for (size_t at = second; at + 16 <= size; at += 16) {
        uint64_t claim = size - at - 20;
        memcpy(b + at, "CRSS", 4);
        b[at + 4] = 3;
        for (int k = 0; k < 8; k++)
            b[at + 8 + k] = (unsigned char)(claim >> (8 * k));
    }
    spit(path, b, size);
    ss_log_contents_t c;
    ss_error_t err = {0};
    CHECK(ss_log_read(path, &c, &err) == 0 && c.has_header && c.n_damage == 1 &&
          c.damage[0].start == (long)second && c.damage[0].intact_after == -1 && !c.torn,
          "false marks: damage of unknown extent, not a torn tail");
    char what[600];
    ss_log_damage_describe(&c, path, what, sizeof what);
    CHECK(strstr(what, "too costly to scan") != NULL, "described: %s", what);
    ss_log_contents_free(&c);
    free(b);
    free(good);
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

int main(void)
{
    test_field_table_covers_result();
    test_every_field_roundtrips();
    test_absent_fields();
    test_pack_roundtrip();
    test_log_roundtrip();
    test_contents_index();
    test_torn_records();
    test_not_a_log();
    test_hostile_log();
    test_lock();
    return ss_test_report();
}
