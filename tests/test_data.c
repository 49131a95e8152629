/*
 * test_data.c - datasets from files: every file loader (datafile.c) with the steps all
 * kinds share (data_table.c: test split, class subset, first-N limits), and every way a
 * data file can be bad (each must fail with SS_EXIT_INPUT and name the file). The
 * synthetic generators are tested in test_synth.c.
 *
 * Needs the Fashion-MNIST files of the Debian package fashion-mnist under
 * /usr/share/datasets/fashion-mnist; without them the test fails. Every other fixture is
 * written at run time into a temporary directory.
 */
#include "specsweep/data.h"
#include "testdata.h"
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define SS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SS_ASAN 1
#endif
#endif

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist/"

/* ---- helpers ------------------------------------------------------------------------- */

/* A path in the test's temporary directory (a few stay valid at once). */
static char *tpath(const char *name)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 512, "%s/%s", ss_test_tmpdir(), name);
    return p;
}

static char *write_text(const char *name, const char *text)
{
    return (char *)ss_test_write_file(name, text, strlen(text));
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, f) != *n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    return b;
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Write an IDX header (images if rows > 0, else labels) and dl bytes of data (zeros when
   data is NULL, so a header may claim more than follows), gzip-compressed if gz. */
static char *write_idx_bytes(const char *name, int gz, uint32_t n, uint32_t rows,
                             uint32_t cols, const unsigned char *data, size_t dl)
{
    size_t hl = rows ? 16 : 8;
    unsigned char *b = calloc(hl + dl, 1);
    put_be32(b, rows ? 0x803 : 0x801);
    put_be32(b + 4, n);
    if (rows) {
        put_be32(b + 8, rows);
        put_be32(b + 12, cols);
    }
    if (data && dl)
        memcpy(b + hl, data, dl);
    char *path = tpath(name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, b, (unsigned)(hl + dl)) != (int)(hl + dl) || gzclose(f) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(1);
        }
    } else {
        write_bytes(path, b, hl + dl);
    }
    free(b);
    return path;
}

/* Write an IDX file of n images of rows x cols (labels if rows is 0) holding data. */
static char *write_idx(const char *name, int gz, uint32_t n, uint32_t rows, uint32_t cols,
                       const unsigned char *data)
{
    return write_idx_bytes(name, gz, n, rows, cols, data,
                           (size_t)n * (rows ? (size_t)rows * cols : 1));
}

/* Copy the first n bytes of src to a new file. */
static char *cut_file(const char *src, const char *name, size_t n)
{
    size_t len;
    unsigned char *b = read_bytes(src, &len);
    char *path = tpath(name);
    write_bytes(path, b, n < len ? n : len);
    free(b);
    return path;
}

/* Index of the row of x (n x d) whose first input is v, or -1. */
static int find_row(const float *x, int n, int d, float v)
{
    for (int i = 0; i < n; i++)
        if (x[(size_t)i * (size_t)d] == v)
            return i;
    return -1;
}

/* ---- Fashion-MNIST (the real IDX .gz files) --------------------------------------------- */

static void test_fashion_mnist(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_IDX);
    s.train_images = FMNIST_DIR "train-images-idx3-ubyte.gz";
    s.train_labels = FMNIST_DIR "train-labels-idx1-ubyte.gz";
    s.test_images = FMNIST_DIR "t10k-images-idx3-ubyte.gz";
    s.test_labels = FMNIST_DIR "t10k-labels-idx1-ubyte.gz";
    FILE *probe = fopen(s.train_images, "rb");
    CHECK(probe != NULL, "%s missing: install the Debian package fashion-mnist", s.train_images);
    if (!probe)
        return;
    fclose(probe);

    ss_dataset_t ds;
    if (load_ok(&s, &ds, "fashion-mnist"))
        return;
    CHECK(ds.info.n_train == 60000 && ds.info.n_test == 10000, "sizes %d/%d", ds.info.n_train, ds.info.n_test);
    CHECK(ds.info.n_inputs == 784, "n_inputs %d", ds.info.n_inputs);
    CHECK(ds.info.input_rank == 2 && ds.info.input_shape[0] == 28 && ds.info.input_shape[1] == 28,
          "input shape %d: %d x %d", ds.info.input_rank, ds.info.input_shape[0], ds.info.input_shape[1]);
    CHECK(ds.info.n_classes == 10, "n_classes %d", ds.info.n_classes);
    /* numpy: (train_images != 0).sum() = 23423502 of 47040000 pixels */
    CHECK(fabs(ds.input_density - 23423502.0 / 47040000.0) < 1e-12, "input density %.9f",
          ds.input_density);
    /* numpy: (images != 0).sum(axis=1).max() = 725 (training), 746 (test) */
    CHECK(ds.max_row_nonzeros == 746, "max nonzeros per row %d", ds.max_row_nonzeros);
    CHECK(ds.info.kind == SS_KIND_IDX && strcmp(ds.info.name, "test") == 0, "kind/name");
    CHECK(ds.info.relevance_truth == NULL && ds.info.feature_names == NULL, "no truth, no names");
    int ctr[10] = {0}, cte[10] = {0}, bad_label = 0;
    for (int i = 0; i < ds.info.n_train; i++) {
        int c = (int)ds.y_train[i];
        if (c < 0 || c > 9 || (float)c != ds.y_train[i])
            bad_label++;
        else
            ctr[c]++;
    }
    for (int i = 0; i < ds.info.n_test; i++) {
        int c = (int)ds.y_test[i];
        if (c < 0 || c > 9 || (float)c != ds.y_test[i])
            bad_label++;
        else
            cte[c]++;
    }
    CHECK(bad_label == 0, "%d labels are not 0..9", bad_label);
    for (int c = 0; c < 10; c++)
        CHECK(ctr[c] == 6000 && cte[c] == 1000, "class %d: %d train, %d test", c, ctr[c], cte[c]);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < (size_t)ds.info.n_train * 784; i++) {
        lo = ds.x_train[i] < lo ? ds.x_train[i] : lo;
        hi = ds.x_train[i] > hi ? ds.x_train[i] : hi;
    }
    for (size_t i = 0; i < (size_t)ds.info.n_test * 784; i++) {
        lo = ds.x_test[i] < lo ? ds.x_test[i] : lo;
        hi = ds.x_test[i] > hi ? ds.x_test[i] : hi;
    }
    CHECK(lo == 0.0f && hi == 1.0f, "pixel range [%g, %g]", (double)lo, (double)hi);
    /* the file order is kept: the first training image is an ankle boot (9) whose bytes
       sum to 76247 */
    double sum = 0;
    for (int j = 0; j < 784; j++)
        sum += ds.x_train[j] * 255.0;
    CHECK(ds.y_train[0] == 9.0f && ds.y_test[0] == 9.0f, "first labels %g %g",
          (double)ds.y_train[0], (double)ds.y_test[0]);
    CHECK(fabs(sum - 76247.0) < 0.5, "first image sum %g", sum);
    CHECK(((uintptr_t)ds.x_train & 63) == 0 && ((uintptr_t)ds.x_test & 63) == 0,
          "arrays 64-byte aligned");
    ss_dataset_free(&ds);
    CHECK(dataset_is_empty(&ds), "free leaves the dataset empty");
    ss_dataset_free(&ds); /* twice is harmless */

    /* classes [0, 1]: T-shirts and trousers, relabelled 0 and 1 */
    s.n_class_subset = 2;
    s.class_subset[0] = 0;
    s.class_subset[1] = 1;
    if (load_ok(&s, &ds, "fashion-mnist [0, 1]"))
        return;
    CHECK(ds.info.n_train == 12000 && ds.info.n_test == 2000, "subset sizes %d/%d", ds.info.n_train, ds.info.n_test);
    CHECK(ds.info.n_classes == 2, "subset n_classes %d", ds.info.n_classes);
    int n1tr = 0, n1te = 0, other = 0;
    for (int i = 0; i < ds.info.n_train; i++) {
        n1tr += ds.y_train[i] == 1.0f;
        other += ds.y_train[i] != 0.0f && ds.y_train[i] != 1.0f;
    }
    for (int i = 0; i < ds.info.n_test; i++) {
        n1te += ds.y_test[i] == 1.0f;
        other += ds.y_test[i] != 0.0f && ds.y_test[i] != 1.0f;
    }
    CHECK(other == 0 && n1tr == 6000 && n1te == 1000, "subset labels: %d other, %d/%d ones",
          other, n1tr, n1te);
    ss_dataset_free(&ds);

    /* max_train / max_test keep the first N after filtering */
    s.max_train = 100;
    s.max_test = 50;
    if (load_ok(&s, &ds, "fashion-mnist limits"))
        return;
    CHECK(ds.info.n_train == 100 && ds.info.n_test == 50, "limited sizes %d/%d", ds.info.n_train, ds.info.n_test);
    ss_dataset_free(&ds);
}

/* ---- CSV -------------------------------------------------------------------------------- */

static void test_csv(void)
{
    ss_dataset_spec_t s;
    ss_dataset_t ds;
    spec_init(&s, SS_KIND_CSV);

    /* classification: quoted names, CRLF, label in the middle, a blank line, spaces,
       a quoted number, no final newline */
    s.path = write_text("cls.csv", "\"a\",label,\"b \"\"q\"\"\"\r\n"
                                   "1,0,2.5\r\n"
                                   "3,1,-4e-1\r\n"
                                   "\r\n"
                                   "5, 2 ,6\r\n"
                                   "7,1,\"8\"");
    s.test_fraction = 0.25;
    if (load_ok(&s, &ds, "csv classification"))
        return;
    CHECK(ds.info.n_train == 3 && ds.info.n_test == 1 && ds.info.n_inputs == 2 && ds.info.n_classes == 3,
          "csv sizes %d/%d, %d inputs, %d classes", ds.info.n_train, ds.info.n_test, ds.info.n_inputs,
          ds.info.n_classes);
    CHECK(ds.info.feature_names && strcmp(ds.info.feature_names[0], "a") == 0 &&
              strcmp(ds.info.feature_names[1], "b \"q\"") == 0,
          "feature names");
    static const float want[4][3] = {{1, 2.5f, 0}, {3, -0.4f, 1}, {5, 6, 2}, {7, 8, 1}};
    int found = 0;
    for (int r = 0; r < 4; r++) {
        int i = find_row(ds.x_train, ds.info.n_train, 2, want[r][0]);
        const float *x = i >= 0 ? ds.x_train + 2 * i : NULL, *y = i >= 0 ? ds.y_train + i : NULL;
        if (i < 0 && (i = find_row(ds.x_test, ds.info.n_test, 2, want[r][0])) >= 0) {
            x = ds.x_test + 2 * i;
            y = ds.y_test + i;
        }
        found += x && x[1] == want[r][1] && *y == want[r][2];
    }
    CHECK(found == 4, "csv values (%d of 4 rows right)", found);
    ss_dataset_free(&ds);

    /* the same with a class subset [2, 0]: label 2 becomes 0, label 0 becomes 1 */
    s.n_class_subset = 2;
    s.class_subset[0] = 2;
    s.class_subset[1] = 0;
    s.test_fraction = 0.0;
    if (load_ok(&s, &ds, "csv subset"))
        return;
    CHECK(ds.info.n_train == 2 && ds.info.n_test == 0 && ds.info.n_classes == 2, "subset sizes %d/%d",
          ds.info.n_train, ds.info.n_test);
    int i5 = find_row(ds.x_train, ds.info.n_train, 2, 5), i1 = find_row(ds.x_train, ds.info.n_train, 2, 1);
    CHECK(i5 >= 0 && i1 >= 0 && ds.y_train[i5] == 0.0f && ds.y_train[i1] == 1.0f,
          "subset relabelled in subset order");
    ss_dataset_free(&ds);

    /* regression on column "y": a byte order mark, LF, trailing newline */
    spec_init(&s, SS_KIND_CSV);
    snprintf(s.label, sizeof s.label, "y");
    s.task = SS_TASK_REGRESSION;
    s.test_fraction = 0.0;
    s.path = write_text("reg.csv", "\xEF\xBB\xBFx1,x2,y\n0.5,1,-3.25\n1.5,2,7.125\n2.5,0,0\n");
    if (load_ok(&s, &ds, "csv regression"))
        return;
    CHECK(ds.info.n_train == 3 && ds.info.n_inputs == 2 && ds.info.n_classes == 0, "regression shape");
    CHECK(fabs(ds.input_density - 5.0 / 6.0) < 1e-12, "input density %g, expected 5/6",
          ds.input_density);
    CHECK(ds.max_row_nonzeros == 2, "max nonzeros per row %d", ds.max_row_nonzeros);
    CHECK(strcmp(ds.info.feature_names[0], "x1") == 0 && strcmp(ds.info.feature_names[1], "x2") == 0,
          "regression names");
    int i = find_row(ds.x_train, 3, 2, 1.5f);
    CHECK(i >= 0 && ds.x_train[2 * i + 1] == 2.0f && ds.y_train[i] == 7.125f, "regression row");
    ss_dataset_free(&ds);

    /* a wider file: values survive exactly, the split is deterministic and complete */
    enum { R = 500, C = 30 };
    size_t cap = (size_t)R * C * 16 + 4096, len = 0;
    char *big = malloc(cap);
    for (int c = 0; c < C; c++)
        len += (size_t)snprintf(big + len, cap - len, "%sf%d", c ? "," : "", c);
    len += (size_t)snprintf(big + len, cap - len, ",label\n");
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++)
            len += (size_t)snprintf(big + len, cap - len, "%s%d", c ? "," : "",
                                    c == 0 ? r : (r * 31 + c * 7) % 256);
        len += (size_t)snprintf(big + len, cap - len, ",%d\n", r % 3);
    }
    spec_init(&s, SS_KIND_CSV);
    s.path = (char *)ss_test_write_file("wide.csv", big, len);
    free(big);
    if (load_ok(&s, &ds, "csv wide"))
        return;
    CHECK(ds.info.n_train == 400 && ds.info.n_test == 100 && ds.info.n_inputs == C, "wide sizes");
    int right = 0;
    for (int part = 0; part < 2; part++) {
        const float *x = part ? ds.x_test : ds.x_train, *y = part ? ds.y_test : ds.y_train;
        int n = part ? ds.info.n_test : ds.info.n_train;
        for (int k = 0; k < n; k++) {
            int r = (int)x[(size_t)k * C], ok = y[k] == (float)(r % 3);
            for (int c = 1; c < C; c++)
                ok &= x[(size_t)k * C + c] == (float)((r * 31 + c * 7) % 256);
            right += ok;
        }
    }
    CHECK(right == R, "wide values (%d of %d rows right)", right, R);
    ss_dataset_free(&ds);
}

/*
 * Numbers in every common spelling load exactly as strtof reads them (the parser has a
 * fast path for short decimals; it must never differ, not even in the last bit).
 */
/*
 * A real stellar library as CSV (MILES-like): one column per wavelength with numbers as
 * headers, the label [Fe/H] last, regression. The wavelengths become the feature names.
 */
static void test_csv_miles(void)
{
    enum { R = 50, C = 300 };
    size_t cap = (size_t)R * (C + 1) * 12 + (size_t)C * 12 + 64, len = 0;
    char *text = malloc(cap);
    char name[C][16];
    for (int c = 0; c < C; c++) {
        snprintf(name[c], sizeof name[c], "%.1f", 3540.5 + 0.9 * c);
        len += (size_t)snprintf(text + len, cap - len, "%s,", name[c]);
    }
    len += (size_t)snprintf(text + len, cap - len, "FeH\n");
    for (int r = 0; r < R; r++) {
        len += (size_t)snprintf(text + len, cap - len, "%.4f", 0.5 + 0.01 * r);
        for (int c = 1; c < C; c++)
            len += (size_t)snprintf(text + len, cap - len, ",%.4f",
                                    0.8 + 0.001 * ((r * 37 + c * 11) % 200));
        /* [Fe/H] in both notations; the last row ends without a newline */
        len += (size_t)snprintf(text + len, cap - len, r % 2 ? ",%.3f%s" : ",%.3e%s",
                                -2.5 + 0.06 * r, r == R - 1 ? "" : "\n");
    }
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_CSV);
    s.path = (char *)ss_test_write_file("miles.csv", text, len);
    snprintf(s.label, sizeof s.label, "FeH");
    s.task = SS_TASK_REGRESSION;
    free(text);
    ss_dataset_t ds;
    if (load_ok(&s, &ds, "csv MILES-like"))
        return;
    CHECK(ds.info.n_inputs == C && ds.info.n_classes == 0 && ds.info.n_train == 40 && ds.info.n_test == 10 &&
              ds.info.input_rank == 0 && ds.info.relevance_truth == NULL,
          "MILES-like shape: %d inputs, %d classes, %d/%d", ds.info.n_inputs, ds.info.n_classes,
          ds.info.n_train, ds.info.n_test);
    int names = ds.info.feature_names != NULL;
    for (int c = 0; names && c < C; c++)
        names &= ds.info.feature_names[c] && !strcmp(ds.info.feature_names[c], name[c]);
    CHECK(names && !strcmp(ds.info.feature_names[0], "3540.5") &&
              !strcmp(ds.info.feature_names[C - 1], "3809.6"),
          "feature names are the wavelengths");
    int right = 0;
    char buf[32];
    for (int part = 0; part < 2; part++) {
        const float *x = part ? ds.x_test : ds.x_train, *y = part ? ds.y_test : ds.y_train;
        int n = part ? ds.info.n_test : ds.info.n_train;
        for (int k = 0; k < n; k++) {
            const float *row = x + (size_t)k * C;
            int r = (int)lround((row[0] - 0.5) / 0.01);
            snprintf(buf, sizeof buf, r % 2 ? "%.3f" : "%.3e", -2.5 + 0.06 * r);
            int ok = r >= 0 && r < R && y[k] == strtof(buf, NULL);
            for (int c = 1; c < C; c++) {
                snprintf(buf, sizeof buf, "%.4f", 0.8 + 0.001 * ((r * 37 + c * 11) % 200));
                ok &= row[c] == strtof(buf, NULL);
            }
            right += ok;
        }
    }
    CHECK(right == R, "MILES-like values (%d of %d stars right)", right, R);
    ss_dataset_free(&ds);
}

static void test_csv_numbers(void)
{
    enum { R = 3000, C = 9 };
    static const char *fmt[C - 1] = {"%.6f", "%.9g", "%.17g", "%e", "%.3e", "%.8f", "%g",
                                     "%.15g"};
    size_t cap = (size_t)R * C * 40 + 256, len = 0;
    char *text = malloc(cap);
    float (*want)[C] = malloc(sizeof(float[R][C]));
    len += (size_t)snprintf(text + len, cap - len, "id,label,v1,v2,v3,v4,v5,v6,v7\n");
    uint64_t st = 99;
    for (int r = 0; r < R; r++) {
        len += (size_t)snprintf(text + len, cap - len, "%d,%d", r, r % 2);
        for (int c = 0; c < C - 2; c++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(st >> 11) * 0x1.0p-53;
            /* magnitudes from 1e-12 to 1e12, both signs; some halfway cases between floats */
            double v = (u - 0.5) * pow(10.0, (double)((st >> 3) % 25) - 12.0);
            if (r % 7 == 0)
                v = ((double)(st >> 40) + 0.5) * 0x1.0p-20;
            char cell[64];
            snprintf(cell, sizeof cell, fmt[(r + c) % (C - 1)], v);
            if (r % 11 == 0 && c == 0)
                snprintf(cell, sizeof cell, "%s", (r / 11) % 3 == 0 ? ".5" : (r / 11) % 3 == 1 ? "+7." : "1e-40");
            want[r][c + 2] = strtof(cell, NULL);
            len += (size_t)snprintf(text + len, cap - len, ",%s", cell);
        }
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_CSV);
    s.test_fraction = 0.0;
    s.path = (char *)ss_test_write_file("numbers.csv", text, len);
    free(text);
    ss_dataset_t ds;
    if (load_ok(&s, &ds, "csv numbers") == 0) {
        int same = 0, d = ds.info.n_inputs;
        for (int i = 0; i < ds.info.n_train; i++) {
            int r = (int)ds.x_train[(size_t)i * d];
            same += memcmp(ds.x_train + (size_t)i * d + 1, &want[r][2], (C - 2) * sizeof(float)) == 0;
        }
        CHECK(ds.info.n_train == R && same == R, "%d of %d rows exactly as strtof reads them", same, R);
        ss_dataset_free(&ds);
    }
    free(want);
}

/* ---- HDF5 ------------------------------------------------------------------------------- */

static void h5_write(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                     const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (sp < 0 || d < 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        fprintf(stderr, "cannot write dataset %s\n", name);
        exit(1);
    }
    H5Dclose(d);
    H5Sclose(sp);
}

/* X (6 x 3, float64: row r is r, r + 0.5, -r) and y (int32: r % 2); optionally X_test
   (2 x 3, float32: 10 + r, 0, 0) and y_test (int32: 1, 0). */
static char *write_h5(const char *name, int with_y, int with_test)
{
    char *path = tpath(name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(1);
    }
    double x[6][3];
    int32_t y[6];
    for (int r = 0; r < 6; r++) {
        x[r][0] = r;
        x[r][1] = r + 0.5;
        x[r][2] = -r;
        y[r] = r % 2;
    }
    hsize_t dx[2] = {6, 3}, dy[1] = {6};
    h5_write(f, "X", H5T_NATIVE_DOUBLE, 2, dx, x);
    if (with_y)
        h5_write(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    if (with_test) {
        float xt[2][3] = {{10, 0, 0}, {11, 0, 0}};
        int32_t yt[2] = {1, 0};
        hsize_t dxt[2] = {2, 3}, dyt[1] = {2};
        h5_write(f, "X_test", H5T_NATIVE_FLOAT, 2, dxt, xt);
        h5_write(f, "y_test", H5T_NATIVE_INT32, 1, dyt, yt);
    }
    H5Fclose(f);
    return path;
}

static void test_hdf5(void)
{
    ss_dataset_spec_t s;
    ss_dataset_t ds;
    spec_init(&s, SS_KIND_HDF5);

    /* without a test set: split 4 / 2 */
    s.path = write_h5("split.h5", 1, 0);
    s.test_fraction = 1.0 / 3.0;
    if (load_ok(&s, &ds, "hdf5 split"))
        return;
    CHECK(ds.info.n_train == 4 && ds.info.n_test == 2 && ds.info.n_inputs == 3 && ds.info.n_classes == 2,
          "hdf5 split sizes %d/%d", ds.info.n_train, ds.info.n_test);
    int right = 0;
    for (int r = 0; r < 6; r++) {
        int i = find_row(ds.x_train, ds.info.n_train, 3, (float)r);
        const float *x = i >= 0 ? ds.x_train + 3 * i : NULL, *y = i >= 0 ? ds.y_train + i : NULL;
        if (i < 0 && (i = find_row(ds.x_test, ds.info.n_test, 3, (float)r)) >= 0) {
            x = ds.x_test + 3 * i;
            y = ds.y_test + i;
        }
        right += x && x[1] == r + 0.5f && x[2] == (float)-r && *y == (float)(r % 2);
    }
    CHECK(right == 6, "hdf5 values (%d of 6 rows right)", right);
    ss_dataset_free(&ds);

    /* with X_test / y_test: used as they are, training rows in file order */
    s.path = write_h5("withtest.h5", 1, 1);
    if (load_ok(&s, &ds, "hdf5 with test"))
        return;
    CHECK(ds.info.n_train == 6 && ds.info.n_test == 2, "hdf5 own test sizes %d/%d", ds.info.n_train, ds.info.n_test);
    int ordered = 1;
    for (int r = 0; r < 6; r++)
        ordered &= ds.x_train[3 * r] == (float)r && ds.x_train[3 * r + 1] == r + 0.5f &&
                   ds.y_train[r] == (float)(r % 2);
    CHECK(ordered, "hdf5 training rows in file order");
    CHECK(ds.x_test[0] == 10.0f && ds.x_test[3] == 11.0f && ds.y_test[0] == 1.0f &&
              ds.y_test[1] == 0.0f,
          "hdf5 test rows");
    ss_dataset_free(&ds);

    /* images: X of 4 x 2 x 3 unsigned bytes gives input_rank 2, shape 2 x 3 */
    char *path = tpath("images.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    unsigned char img[4][2][3];
    uint8_t lab[4] = {0, 1, 1, 0};
    for (int i = 0; i < 24; i++)
        (&img[0][0][0])[i] = (unsigned char)(10 * i);
    hsize_t di[3] = {4, 2, 3}, dl[1] = {4};
    h5_write(f, "X", H5T_NATIVE_UCHAR, 3, di, img);
    h5_write(f, "y", H5T_NATIVE_UINT8, 1, dl, lab);
    H5Fclose(f);
    ss_dataset_spec_t si;
    spec_init(&si, SS_KIND_HDF5);
    si.path = path;
    si.test_fraction = 0.25;
    if (load_ok(&si, &ds, "hdf5 images"))
        return;
    CHECK(ds.info.n_inputs == 6 && ds.info.input_rank == 2 && ds.info.input_shape[0] == 2 &&
              ds.info.input_shape[1] == 3 && ds.info.n_train == 3 && ds.info.n_test == 1,
          "hdf5 images shape");
    int i2 = find_row(ds.x_train, ds.info.n_train, 6, 120.0f);
    CHECK(i2 >= 0 ? ds.x_train[6 * i2 + 5] == 170.0f && ds.y_train[i2] == 1.0f
                  : ds.x_test[0] == 120.0f && ds.x_test[5] == 170.0f,
          "hdf5 image values");
    ss_dataset_free(&ds);

    /* regression reads y as real numbers */
    s.task = SS_TASK_REGRESSION;
    if (load_ok(&s, &ds, "hdf5 regression"))
        return;
    CHECK(ds.info.n_classes == 0 && ds.info.n_train == 6, "hdf5 regression");
    ss_dataset_free(&ds);
}

/* ---- small IDX fixtures ------------------------------------------------------------------ */

static void test_idx_small(void)
{
    unsigned char px[5 * 6], lab[5] = {0, 1, 2, 1, 0};
    for (int i = 0; i < 30; i++)
        px[i] = (unsigned char)(i * 8);
    ss_dataset_spec_t s;
    ss_dataset_t ds;
    spec_init(&s, SS_KIND_IDX);
    s.train_images = write_idx("small-img.gz", 1, 5, 2, 3, px);
    s.train_labels = write_idx("small-lab", 0, 5, 0, 0, lab);
    s.test_images = write_idx("small-timg", 0, 5, 2, 3, px);
    s.test_labels = write_idx("small-tlab.gz", 1, 5, 0, 0, lab);
    s.scale = 0.5;
    if (load_ok(&s, &ds, "idx small"))
        return;
    CHECK(ds.info.n_train == 5 && ds.info.n_test == 5 && ds.info.n_inputs == 6 && ds.info.n_classes == 3 &&
              ds.info.input_shape[0] == 2 && ds.info.input_shape[1] == 3,
          "idx small shape");
    CHECK(ds.x_train[7] == 28.0f && ds.y_train[2] == 2.0f && ds.x_test[29] == 116.0f,
          "idx small values (scale 0.5)");
    ss_dataset_free(&ds);

    /* classes [2, 0], relabelled in that order */
    s.n_class_subset = 2;
    s.class_subset[0] = 2;
    s.class_subset[1] = 0;
    if (load_ok(&s, &ds, "idx small subset"))
        return;
    CHECK(ds.info.n_train == 3 && ds.info.n_classes == 2 && ds.y_train[0] == 1.0f &&
              ds.y_train[1] == 0.0f && ds.y_train[2] == 1.0f && ds.x_train[6] == 48.0f,
          "idx subset relabelled, order kept");
    ss_dataset_free(&ds);

    /* no test files: test_fraction of the training file */
    s.n_class_subset = 0;
    s.test_images = s.test_labels = NULL;
    s.test_fraction = 0.4;
    if (load_ok(&s, &ds, "idx split"))
        return;
    CHECK(ds.info.n_train == 3 && ds.info.n_test == 2, "idx split sizes %d/%d", ds.info.n_train, ds.info.n_test);
    ss_dataset_free(&ds);
}

/* ---- bad files ---------------------------------------------------------------------------- */

static void test_bad_idx(void)
{
    enum { N = 40, ROWS = 8, COLS = 8 };
    unsigned char px[N * ROWS * COLS], lab[N], lab_short[N];
    uint32_t st = 12345;
    for (size_t i = 0; i < sizeof px; i++) {
        st = st * 1103515245u + 12345u; /* noise, so the gzip stream stays long */
        px[i] = (unsigned char)(st >> 16);
    }
    for (int i = 0; i < N; i++)
        lab[i] = lab_short[i] = (unsigned char)(i % 3);

    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_IDX);
    char *img = write_idx("bad-img.gz", 1, N, ROWS, COLS, px);
    char *labels = write_idx("bad-lab.gz", 1, N, 0, 0, lab);
    s.train_images = img;
    s.train_labels = labels;
    s.test_images = s.test_labels = NULL;
    ss_dataset_t ds;
    if (load_ok(&s, &ds, "bad-idx baseline"))
        return;
    ss_dataset_free(&ds);

    s.train_images = tpath("no-such-file.gz");
    expect_input_error(&s, s.train_images, "cannot open", "missing idx file");

    size_t gzlen;
    free(read_bytes(img, &gzlen));
    s.train_images = cut_file(img, "cut-half.gz", gzlen / 2);
    expect_input_error(&s, s.train_images, "truncated", "gz cut in half");
    s.train_images = cut_file(img, "cut-trailer.gz", gzlen - 4);
    expect_input_error(&s, s.train_images, NULL, "gz without its trailer");

    /* a flipped byte in the compressed data: a zlib data or CRC error */
    size_t blen;
    unsigned char *b = read_bytes(img, &blen);
    b[blen / 2] ^= 0x55;
    s.train_images = tpath("corrupt.gz");
    write_bytes(s.train_images, b, blen);
    free(b);
    expect_input_error(&s, s.train_images, NULL, "corrupt gz");

    s.train_images = labels; /* a label file where images belong */
    expect_input_error(&s, labels, "magic", "wrong magic");
    s.train_images = img;

    s.train_labels = write_idx("short-lab", 0, N - 1, 0, 0, lab_short);
    expect_input_error(&s, s.train_labels, "images", "label/image count mismatch");
    s.train_labels = labels;

    char *plain = write_idx("plain-img", 0, N, ROWS, COLS, px);
    s.train_images = cut_file(plain, "plain-cut", 16 + N * ROWS * COLS - 10);
    expect_input_error(&s, s.train_images, "truncated", "plain idx truncated");
    s.train_images = cut_file(plain, "plain-head", 10);
    expect_input_error(&s, s.train_images, "truncated", "plain idx header truncated");
    s.train_images = tpath("empty-idx");
    write_bytes(s.train_images, "", 0);
    expect_input_error(&s, s.train_images, "empty file", "empty idx");

    size_t plen;
    unsigned char *pb = read_bytes(plain, &plen);
    unsigned char *longer = malloc(plen + 1);
    memcpy(longer, pb, plen);
    longer[plen] = 7;
    s.train_images = tpath("plain-long");
    write_bytes(s.train_images, longer, plen + 1);
    free(pb);
    free(longer);
    expect_input_error(&s, s.train_images, "continues", "plain idx with excess data");
    s.train_images = img;

    /* a requested class absent from the training data */
    s.n_class_subset = 2;
    s.class_subset[0] = 0;
    s.class_subset[1] = 7;
    expect_input_error(&s, labels, "class 7", "idx class absent");
    s.n_class_subset = 0;

    /* test files: only one of the two */
    s.test_images = img;
    expect_input_error(&s, "test", "test_labels", "idx half a test set");
}

static void test_bad_csv(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_CSV);

    s.path = tpath("missing.csv");
    expect_input_error(&s, s.path, "cannot open", "missing csv");

    s.path = write_text("ragged.csv", "a,b,label\n1,2,0\n3,4\n5,6,1\n");
    expect_input_error(&s, "ragged.csv:3: expected 3 columns, found 2", NULL, "ragged csv");
    s.path = write_text("ragged2.csv", "a,b,label\r\n1,2,0\r\n3,4,1\r\n\r\n5,6,1,9\r\n");
    expect_input_error(&s, "ragged2.csv:5: expected 3 columns, found 4", NULL, "csv extra cell");
    s.path = write_text("ragged3.csv", "a,b,label\n1,2,0,\n");
    expect_input_error(&s, "ragged3.csv:2: expected 3 columns, found 4", NULL, "trailing comma");

    s.path = write_text("nonnum.csv", "a,b,label\n1,2,0\n3,abc,1\n");
    expect_input_error(&s, "nonnum.csv:3:", "\"abc\" is not a number", "non-numeric cell");
    s.path = write_text("nonnum2.csv", "a,b,label\n1,2x,0\n");
    expect_input_error(&s, "nonnum2.csv:2:", "not a number", "number with trailing junk");
    s.path = write_text("emptycell.csv", "a,b,label\n1,,0\n");
    expect_input_error(&s, "emptycell.csv:2:", "empty", "empty cell");
    s.path = write_text("nan.csv", "a,b,label\n1,nan,0\n");
    expect_input_error(&s, "nan.csv:2:", "finite", "nan cell");

    s.path = write_text("empty.csv", "");
    expect_input_error(&s, s.path, "empty", "empty csv");
    s.path = write_text("blank.csv", "\n  \n");
    expect_input_error(&s, s.path, "empty", "blank csv");
    s.path = write_text("header.csv", "a,b,label\n");
    expect_input_error(&s, s.path, "no data rows", "header-only csv");

    s.path = write_text("nolabel.csv", "a,b,c\n1,2,3\n");
    expect_input_error(&s, "nolabel.csv:1:", "label", "csv missing label column");

    s.path = write_text("fraclabel.csv", "a,label\n1,0\n2,1.5\n");
    expect_input_error(&s, "fraclabel.csv:3:", "class index", "fractional class label");
    s.path = write_text("neglabel.csv", "a,label\n1,0\n2,-1\n");
    expect_input_error(&s, "neglabel.csv:3:", "class index", "negative class label");
    s.path = write_text("oneclass.csv", "a,label\n1,0\n2,0\n");
    expect_input_error(&s, s.path, "2 classes", "single-class csv");

    s.path = write_text("quote.csv", "a,label\n\"1,0\n");
    expect_input_error(&s, "quote.csv:2:", "unterminated", "unterminated quote");

    s.path = write_text("absent.csv", "a,label\n1,0\n2,1\n3,0\n");
    s.n_class_subset = 2;
    s.class_subset[0] = 1;
    s.class_subset[1] = 4;
    expect_input_error(&s, s.path, "class 4", "csv class absent");
}

static void test_bad_hdf5(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_HDF5);
    H5E_auto2_t func_before, func_after;
    void *data_before, *data_after;
    H5Eget_auto2(H5E_DEFAULT, &func_before, &data_before);

    s.path = write_h5("noy.h5", 0, 0);
    expect_input_error(&s, s.path, "\"y\"", "hdf5 missing y");

    s.path = write_text("not.h5", "a,b,label\n1,2,0\n");
    expect_input_error(&s, s.path, "not an HDF5 file", "non-HDF5 file");

    s.path = tpath("missing.h5");
    expect_input_error(&s, s.path, "cannot open", "missing hdf5");

    /* mismatched sample counts, and a rank-1 X */
    char *path = tpath("mismatch.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    double x[4][2] = {{0}};
    int32_t y[3] = {0, 1, 0};
    hsize_t dx[2] = {4, 2}, dy[1] = {3}, dx1[1] = {4};
    h5_write(f, "X", H5T_NATIVE_DOUBLE, 2, dx, x);
    h5_write(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    H5Fclose(f);
    s.path = path;
    expect_input_error(&s, path, "rows", "hdf5 mismatched n");

    path = tpath("rank1.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5_write(f, "X", H5T_NATIVE_DOUBLE, 1, dx1, x);
    int32_t y4[4] = {0, 1, 0, 1};
    h5_write(f, "y", H5T_NATIVE_INT32, 1, dx1, y4);
    H5Fclose(f);
    s.path = path;
    expect_input_error(&s, path, "rank", "hdf5 rank-1 X");

    H5Eget_auto2(H5E_DEFAULT, &func_after, &data_after);
    CHECK(func_after == func_before && data_after == data_before,
          "HDF5 error printing restored");
}

/* ---- hostile files: headers that lie, paths that are not files ----------------------- */

/* Data paths that are not regular files are refused at once: a FIFO without a writer
   would block forever, /dev/zero would be read forever. A hang fails the test (alarm). */
static void test_not_regular(void)
{
    char *fifo = tpath("fifo");
    unlink(fifo);
    if (mkfifo(fifo, 0600) != 0) {
        perror(fifo);
        exit(1);
    }
    unsigned char px[4 * 4 * 4] = {0}, lab[4] = {0, 1, 0, 1};
    char *img = write_idx("nr-img", 0, 4, 4, 4, px), *labels = write_idx("nr-lab", 0, 4, 0, 0, lab);
    const char *paths[] = {fifo, "/dev/zero", ss_test_tmpdir()};
    const char *kinds[] = {"a FIFO", "a character device", "a directory"};
    alarm(60);
    for (int i = 0; i < 3; i++) {
        char what[64];
        ss_dataset_spec_t s;
        spec_init(&s, SS_KIND_CSV);
        s.path = (char *)paths[i];
        snprintf(what, sizeof what, "csv from %s", kinds[i]);
        expect_input_error(&s, paths[i], kinds[i], what);
        spec_init(&s, SS_KIND_HDF5);
        s.path = (char *)paths[i];
        snprintf(what, sizeof what, "hdf5 from %s", kinds[i]);
        expect_input_error(&s, paths[i], "not a regular file", what);
        spec_init(&s, SS_KIND_IDX);
        s.train_images = (char *)paths[i];
        s.train_labels = labels;
        snprintf(what, sizeof what, "idx images from %s", kinds[i]);
        expect_input_error(&s, paths[i], "not a regular file", what);
        s.train_images = img;
        s.train_labels = (char *)paths[i];
        snprintf(what, sizeof what, "idx labels from %s", kinds[i]);
        expect_input_error(&s, paths[i], "not a regular file", what);
    }
    alarm(0);
}

/* IDX headers that claim more than the file holds. */
static void test_idx_claims(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_IDX);
    unsigned char lab[4] = {0, 1, 0, 1};
    s.train_labels = write_idx("claim-lab", 0, 4, 0, 0, lab);

    /* 1 KB claiming 2^31 - 1 images: the file's size says no before anything is read */
    s.train_images = write_idx_bytes("claim-img", 0, 0x7fffffff, 28, 28, NULL, 1008);
    expect_input_error(&s, s.train_images, "truncated: the header announces 2147483647 images "
                       "of 28 x 28 pixels (1.5 TiB), but the file holds only 1008 bytes",
                       "plain idx claiming 2^31 images");
    /* the same compressed: its size says nothing, the memory rule does */
    s.train_images = write_idx_bytes("claim-img.gz", 1, 0x7fffffff, 28, 28, NULL, 1008);
    expect_input_error(&s, s.train_images, "the images the header announces would need 6.1 TiB",
                       "gzip idx claiming 2^31 images");
    /* a claim within memory but beyond the data: what was decompressed, and no more */
    s.train_images = write_idx_bytes("claim-img2.gz", 1, 100000, 28, 28, NULL, 1008);
    expect_input_error(&s, s.train_images, "truncated: expected 78400000 bytes of pixels, "
                       "found 1008", "gzip idx claiming 100000 images");
    /* the memory rule at a lower limit */
    ss_memory_limit_set((size_t)64 << 20);
    expect_input_error(&s, s.train_images, "would need 299.5 MiB (100000 rows x 784 inputs as "
                       "float32), more than this machine's memory (64.0 MiB)",
                       "gzip idx beyond a 64 MiB limit");
    ss_memory_limit_set(0);

    /* A label file claiming 2^31 - 1 labels in 30 compressed bytes, read in a process
       that may not take 1 GiB: reading what was decompressed costs 1 MiB, the claim would
       have cost 2 GiB ("out of memory"). Not under ASan, which needs its address space. */
#ifndef SS_ASAN
    unsigned char px[4 * 2 * 2] = {0};
    s.train_images = write_idx("claim-small-img", 0, 4, 2, 2, px);
    s.train_labels = write_idx_bytes("claim-lab.gz", 1, 0x7fffffff, 0, 0, NULL, 4);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30};
        setrlimit(RLIMIT_AS, &rl);
        ss_dataset_t ds;
        ss_error_t err = {0};
        int rc = ss_dataset_load(&s, &ds, &err);
        _exit(rc == -1 && strstr(err.msg, "truncated: expected 2147483647 bytes of labels")
                  ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "gzip labels claiming 2^31 - 1: read within 1 GiB of address space (status %d)",
          status);
#endif
}

/* An HDF5 file with X (n x d float32) and y (n int8) declared but never written; with
   `filtered` both are chunked and deflated, so their size in the file says nothing. */
static char *write_h5_claim(const char *name, hsize_t n, hsize_t d, int filtered)
{
    char *path = tpath(name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {n, d}, dy[1] = {n}, cx[2] = {1, d}, cy[1] = {1024};
    hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
    hid_t px = H5Pcreate(H5P_DATASET_CREATE), py = H5Pcreate(H5P_DATASET_CREATE);
    if (filtered) {
        H5Pset_chunk(px, 2, cx);
        H5Pset_deflate(px, 6);
        H5Pset_chunk(py, 1, cy);
        H5Pset_deflate(py, 6);
    }
    hid_t x = H5Dcreate2(f, "X", H5T_NATIVE_FLOAT, sx, H5P_DEFAULT, px, H5P_DEFAULT);
    hid_t y = H5Dcreate2(f, "y", H5T_NATIVE_INT8, sy, H5P_DEFAULT, py, H5P_DEFAULT);
    if (f < 0 || x < 0 || y < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    H5Dclose(x);
    H5Dclose(y);
    H5Pclose(px);
    H5Pclose(py);
    H5Sclose(sx);
    H5Sclose(sy);
    H5Fclose(f);
    return path;
}

/* HDF5 inputs that declare more than they hold, or keep their data elsewhere. */
static void test_h5_claims(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_HDF5);

    s.path = write_h5_claim("claim.h5", 1000000000, 1000, 0);
    expect_input_error(&s, s.path, "dataset \"X\" declares 1000000000000 values (3.6 TiB), "
                       "but the file holds only", "hdf5 X declared 1e9 x 1000");
    s.path = write_h5_claim("claim-z.h5", 1000000000, 1000, 1);
    expect_input_error(&s, s.path, "dataset \"X\" would need 3.6 TiB (1000000000 rows x 1000 "
                       "inputs as float32)", "compressed hdf5 X declared 1e9 x 1000");

    /* images of (2^62 + 1) x 4 pixels: the product wraps around to 4 in 64 bits */
    char *wrap = tpath("wrap.h5");
    hid_t fw = H5Fcreate(wrap, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dw[3] = {2, ((hsize_t)1 << 62) + 1, 4}, cw[3] = {1, 1, 4}, dwy[1] = {2};
    hid_t sw = H5Screate_simple(3, dw, NULL), pw = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pw, 3, cw);
    H5Pset_deflate(pw, 1);
    hid_t xw = H5Dcreate2(fw, "X", H5T_NATIVE_UINT8, sw, H5P_DEFAULT, pw, H5P_DEFAULT);
    int32_t yw[2] = {0, 1};
    h5_write(fw, "y", H5T_NATIVE_INT32, 1, dwy, yw);
    CHECK(xw >= 0, "X of (2^62 + 1) x 4 pixels created");
    H5Dclose(xw);
    H5Pclose(pw);
    H5Sclose(sw);
    H5Fclose(fw);
    s.path = wrap;
    expect_input_error(&s, wrap, "dataset \"X\" has an unusable shape",
                       "hdf5 image size that wraps around");

    /* X stored in an external file, here a FIFO that would block the read forever */
    char *fifo = tpath("h5-fifo");
    unlink(fifo);
    mkfifo(fifo, 0600);
    char *path = tpath("external.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {6, 3}, dy[1] = {6};
    hid_t sx = H5Screate_simple(2, dx, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, fifo, 0, 6 * 3 * sizeof(double));
    hid_t x = H5Dcreate2(f, "X", H5T_NATIVE_DOUBLE, sx, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int32_t y[6] = {0, 1, 0, 1, 0, 1};
    h5_write(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    CHECK(x >= 0, "external dataset created");
    H5Dclose(x);
    H5Pclose(dcpl);
    H5Sclose(sx);
    H5Fclose(f);
    s.path = path;
    alarm(60);
    expect_input_error(&s, path, "dataset \"X\" keeps its data in other files (external "
                       "storage)", "hdf5 X in an external file");
    alarm(0);

    /* X as a link to a dataset of another file */
    char *other = write_h5("linked-target.h5", 1, 0);
    path = tpath("extlink.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external(other, "/X", f, "X", H5P_DEFAULT, H5P_DEFAULT);
    h5_write(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    H5Fclose(f);
    s.path = path;
    expect_input_error(&s, path, "\"X\" is a link to another file", "hdf5 X linked elsewhere");
    /* the same through a soft link: HDF5 is not allowed to follow the external one */
    path = tpath("softlink.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external(other, "/X", f, "elsewhere", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/elsewhere", f, "X", H5P_DEFAULT, H5P_DEFAULT);
    h5_write(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    H5Fclose(f);
    s.path = path;
    expect_input_error(&s, path, "\"X\" is not a readable dataset",
                       "hdf5 X a soft link to a link elsewhere");
}

/* CSV: duplicate column names, a wide header over blank lines, the memory rule. */
static void test_csv_claims(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_CSV);

    s.path = write_text("dupname.csv", "a,b,a,label\n1,2,3,0\n4,5,6,1\n7,8,9,0\n1,2,3,1\n");
    expect_input_error(&s, "dupname.csv:1: column 3 has the name \"a\" of column 1: column "
                       "names must be unique", NULL, "csv duplicate feature names");
    s.path = write_text("duplabel.csv", "label,x,label\n0,1,0\n1,2,1\n");
    expect_input_error(&s, "duplabel.csv:1: column 3 has the name \"label\" of column 1", NULL,
                       "csv label column twice");
    s.path = write_text("dupquoted.csv", "\"x\",y, x ,label\n0,1,0,1\n1,2,1,0\n");
    expect_input_error(&s, "dupquoted.csv:1: column 3 has the name \"x\" of column 1", NULL,
                       "csv names equal once quotes and blanks are gone");

    /* 5000 columns over 5000 blank lines: the rows the text can hold are what is
       allocated, not lines x columns (100 MB, beyond a 64 MiB limit) */
    enum { W = 5000 };
    char *text = malloc(8 * W + W + 16), *q = text;
    for (int c = 0; c < W; c++)
        q += sprintf(q, "%sc%d", c ? "," : "", c);
    q += sprintf(q, ",label\n");
    memset(q, '\n', W);
    q[W] = '\0';
    s.path = write_text("wide.csv", text);
    free(text);
    ss_memory_limit_set((size_t)64 << 20);
    expect_input_error(&s, s.path, "no data rows after the header", "wide header, blank lines");

    /* the memory rule: the text itself, then the table of rows it can hold */
    ss_memory_limit_set((size_t)64 << 10);
    text = malloc(100001);
    memcpy(text, "a,label\n", 8);
    for (int i = 8; i < 100000; i += 4)
        memcpy(text + i, "1,0\n", 4);
    text[100000] = '\0';
    s.path = write_text("large.csv", text);
    expect_input_error(&s, s.path, "larger than this machine's memory (64.0 KiB)",
                       "csv text beyond the memory rule");
    ss_memory_limit_set((size_t)128 << 10);
    expect_input_error(&s, s.path, "the data would need", "csv rows beyond the memory rule");
    ss_memory_limit_set(0);
    free(text);
}

/* ---- every kind: standardize, input_shape -------------------------------------------------- */

/* standardize against a direct computation: the training rows' mean and population std
   (double, row order, as data.h states; equal to rounding), every training and test value
   z-scored with the stored ones, bit for bit; a constant input keeps std 0 and becomes 0. */
static void test_standardize(void)
{
    ss_dataset_spec_t s;
    ss_dataset_t raw, z;
    spec_init(&s, SS_KIND_GAUSSIAN);
    s.features = 5;
    s.relevant = 2;
    s.samples = 700;
    if (load_ok(&s, &raw, "gaussian raw"))
        return;
    s.standardize = 1;
    if (load_ok(&s, &z, "gaussian standardized")) {
        ss_dataset_free(&raw);
        return;
    }
    int d = raw.info.n_inputs, n = raw.info.n_train, bad_stats = 0, bad_rows = 0;
    CHECK(!raw.info.standardize_mean && !raw.info.standardize_std, "raw: no vectors");
    CHECK(z.info.standardize_mean && z.info.standardize_std && z.info.n_train == n &&
          z.info.n_test == raw.info.n_test, "standardized: vectors and the same sizes");
    for (int i = 0; i < d && z.info.standardize_mean; i++) {
        double m = 0.0, v = 0.0;
        for (int r = 0; r < n; r++)
            m += raw.x_train[(size_t)r * d + i];
        m /= n;
        for (int r = 0; r < n; r++)
            v += (raw.x_train[(size_t)r * d + i] - m) * (raw.x_train[(size_t)r * d + i] - m);
        double sd = sqrt(v / n);
        /* the sums may be contracted into fused multiply-adds here or there: rounding */
        bad_stats += fabs(z.info.standardize_mean[i] - m) > 1e-12 * (fabs(m) + 1e-3) ||
                     fabs(z.info.standardize_std[i] - sd) > 1e-12 * sd;
        m = z.info.standardize_mean[i];
        sd = z.info.standardize_std[i];
        for (int part = 0; part < 2; part++) {
            const float *a = part ? raw.x_test : raw.x_train, *b = part ? z.x_test : z.x_train;
            int rows = part ? raw.info.n_test : n;
            for (int r = 0; r < rows; r++)
                bad_rows += b[(size_t)r * d + i] != (float)((a[(size_t)r * d + i] - m) / sd);
        }
    }
    CHECK(bad_stats == 0, "mean and std as computed directly (%d inputs differ)", bad_stats);
    CHECK(bad_rows == 0, "training and test rows z-scored with the training statistics (%d "
          "values differ)", bad_rows);
    CHECK(memcmp(raw.y_train, z.y_train, (size_t)n * sizeof(float)) == 0,
          "labels untouched");
    ss_dataset_info_t copy;
    ss_dataset_info_copy(&copy, &z.info);
    CHECK(copy.standardize_mean && copy.standardize_mean != z.info.standardize_mean &&
          copy.standardize_std[4] == z.info.standardize_std[4], "info copy: the vectors too");
    ss_dataset_info_t sc = ss_dataset_info_scalars(&z.info);
    CHECK(!sc.standardize_mean && !sc.standardize_std && !sc.relevance_truth &&
          sc.n_inputs == d, "info scalars: no pointers");
    ss_dataset_info_free(&copy);
    ss_dataset_free(&raw);
    ss_dataset_free(&z);

    /* a constant input: std 0, centred, divided by 1 */
    spec_init(&s, SS_KIND_CSV);
    s.path = write_text("const.csv", "a,c,label\n1,7,0\n2,7,1\n4,7,0\n5,7,1\n");
    s.test_fraction = 0.25;
    s.standardize = 1;
    if (load_ok(&s, &z, "csv with a constant column"))
        return;
    int zeros = 0;
    for (int r = 0; r < z.info.n_train; r++)
        zeros += z.x_train[(size_t)r * 2 + 1] == 0.0f;
    CHECK(z.info.standardize_mean[1] == 7.0 && z.info.standardize_std[1] == 0.0 &&
          zeros == z.info.n_train && z.x_test[1] == 0.0f,
          "a constant input: mean 7, std 0, every value 0");
    ss_dataset_free(&z);
}

/* input_shape: the inputs as rows x cols when their product is n_inputs and an image's
   own shape agrees; else an error at the input_shape value. */
static void test_input_shape(void)
{
    ss_dataset_spec_t s;
    ss_dataset_t ds;
    spec_init(&s, SS_KIND_CSV);
    s.path = write_text("shape.csv", "a,b,c,d,e,f,label\n1,2,3,4,5,6,0\n6,5,4,3,2,1,1\n"
                                     "1,1,1,1,1,1,0\n2,2,2,2,2,2,1\n");
    s.input_shape[0] = 2;
    s.input_shape[1] = 3;
    s.input_shape_at = "sweep.yaml:9:18";
    if (load_ok(&s, &ds, "csv with input_shape [2, 3]") == 0) {
        CHECK(ds.info.input_rank == 2 && ds.info.input_shape[0] == 2 &&
              ds.info.input_shape[1] == 3, "csv: input_shape 2 x 3");
        ss_dataset_free(&ds);
    }
    s.input_shape[0] = 4;
    expect_input_error(&s, "sweep.yaml:9:18: ", "input_shape [4, 3] makes 12 inputs, but "
                       "dataset test has 6", "csv: input_shape of the wrong size");

    unsigned char px[4 * 6] = {0}, lab[4] = {0, 1, 0, 1};
    spec_init(&s, SS_KIND_IDX);
    s.train_images = write_idx("shape-img", 0, 4, 2, 3, px);
    s.train_labels = write_idx("shape-lab", 0, 4, 0, 0, lab);
    s.test_fraction = 0.25;
    s.input_shape[0] = 2;
    s.input_shape[1] = 3;
    s.input_shape_at = "sweep.yaml:12:20";
    if (load_ok(&s, &ds, "idx with its own shape") == 0) {
        CHECK(ds.info.input_shape[0] == 2 && ds.info.input_shape[1] == 3, "idx: 2 x 3 kept");
        ss_dataset_free(&ds);
    }
    s.input_shape[0] = 3;
    s.input_shape[1] = 2;
    expect_input_error(&s, "sweep.yaml:12:20: ", "input_shape [3, 2] conflicts with the 2 x 3 "
                       "images of dataset test", "idx: a transposed input_shape");
}

int main(void)
{
    test_fashion_mnist();
    test_csv();
    test_csv_numbers();
    test_csv_miles();
    test_hdf5();
    test_idx_small();
    test_bad_idx();
    test_bad_csv();
    test_bad_hdf5();
    test_not_regular();
    test_idx_claims();
    test_h5_claims();
    test_csv_claims();
    test_standardize();
    test_input_shape();
    return ss_test_report();
}
