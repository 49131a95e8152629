/* test_snapshot.c - the HDF5 snapshot, the cell statistics and the summary table
   (snapshot.h, cell.h, stats.h, summary.h). */
#include "specsweep/attrib_settings.h"
#include "specsweep/cell.h"
#include "specsweep/log.h"
#include "specsweep/snapshot.h"
#include "specsweep/stats.h"
#include "specsweep/summary.h"
#include "result_fixture.h"
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

/* ---- rank statistics computed directly ------------------------------------------------ */

/* Kendall's tau-b by its definition: every pair of entries, O(n^2). */
static double kendall_direct(const double *x, const double *y, int n)
{
    double s = 0, n0 = 0, n1 = 0, n2 = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int dx = (x[i] > x[j]) - (x[i] < x[j]), dy = (y[i] > y[j]) - (y[i] < y[j]);
            n0++;
            n1 += dx == 0;
            n2 += dy == 0;
            s += dx * dy;
        }
    return s / sqrt((n0 - n1) * (n0 - n2));
}

/* The Jaccard index of the top-k sets of two rank-value vectors, by selection: the k
   largest of each (ties by the lower index), then the sets' overlap. */
static double jaccard_direct(const double *x, const double *y, int n, int k)
{
    unsigned char in[2][16] = {{0}};
    const double *v[2] = {x, y};
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < k; t++) {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (!in[s][i] && (best < 0 || v[s][i] > v[s][best]))
                    best = i;
            in[s][best] = 1;
        }
    int both = 0, any = 0;
    for (int i = 0; i < n; i++) {
        both += in[0][i] && in[1][i];
        any += in[0][i] || in[1][i];
    }
    return (double)both / any;
}

/* Mean and std (ddof 0) over the pairs of rows of rows[n x d] that hold no NaN of tau-b
   (k = 0) or the top-k Jaccard of their rank values (|v| when absolute); *pairs counts
   them, NaN taus left out of the mean. */
static void pairs_direct(const double *rows, int n, int d, int absolute, int k, double *mean,
                         double *sd, int *pairs)
{
    double v[64], a[16], b[16];
    int m = 0;
    *pairs = 0;
    for (int p = 0; p < n; p++)
        for (int q = p + 1; q < n; q++) {
            int nan = 0;
            for (int i = 0; i < d; i++) {
                a[i] = absolute ? fabs(rows[p * d + i]) : rows[p * d + i];
                b[i] = absolute ? fabs(rows[q * d + i]) : rows[q * d + i];
                nan |= isnan(a[i]) || isnan(b[i]);
            }
            if (nan)
                continue;
            ++*pairs;
            v[m++] = k ? jaccard_direct(a, b, d, k) : kendall_direct(a, b, d);
        }
    ss_stats_mean_std(v, m, mean, sd);
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

/* /summary/<g>'s stability of the eigenvalues' ranking over pairs of its n_ok seeds
   against the direct computation. */
static void check_cell_stability(hid_t file, const char *g, const ss_result_t *const *ok,
                                 int n_ok, int n_in)
{
    double eig[N_SEEDS * N_IN_CLF], tm, ts, jm, js;
    int pairs, jpairs;
    for (int j = 0; j < n_ok; j++)
        memcpy(eig + j * n_in, ok[j]->eigenvalues, (size_t)n_in * sizeof *eig);
    pairs_direct(eig, n_ok, n_in, 1, 0, &tm, &ts, &pairs);
    pairs_direct(eig, n_ok, n_in, 1, 2, &jm, &js, &jpairs);
    char p[400];
    long rows, cols, krows;
    snprintf(p, sizeof p, "%s/stability_jaccard_mean", g);
    double *v = h5_read(file, p, &rows, &cols);
    snprintf(p, sizeof p, "%s/stability_k", g);
    double *k = h5_read(file, p, &krows, &cols);
    H5T_class_t cls;
    CHECK(h5_attr_num(file, g, "stability_pairs", &cls) == n_ok * (n_ok - 1) / 2 &&
          cls == H5T_INTEGER && pairs == n_ok * (n_ok - 1) / 2 &&
          fabs(h5_attr_num(file, g, "stability_kendall_tau_mean", NULL) - tm) < 1e-14 &&
          fabs(h5_attr_num(file, g, "stability_kendall_tau_std", NULL) - ts) < 1e-14 &&
          v && rows == N_TOPK && fabs(v[1] - jm) < 1e-14 && k && krows == N_TOPK && k[1] == 2,
          "summary stability: kendall tau %.6f ± %.6f, jaccard@2 %.6f", tm, ts, jm);
    free(v);
    free(k);
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
    CHECK(h5_attr_num(file, ".", "format_version", &cls) == SS_FORMAT_VERSION &&
          cls == H5T_INTEGER, "format_version = %d (int)", SS_FORMAT_VERSION);
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

        check_cell_stability(file, g, ok, n_ok, n_in);

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

/* Every field of the table that belongs in /runs is there, under its name, with its
   value: record -> log -> snapshot loses nothing. */
static void test_every_field_in_runs(void)
{
    ss_result_t r;
    fill_all_fields(&r);
    snprintf(r.run_id, sizeof r.run_id, "d__seed=1");
    snprintf(r.dataset, sizeof r.dataset, "d");

    /* through the log, as the engine does */
    const char *log_path = tmp_path("fields-snap.h5.log");
    unlink(log_path);
    ss_log_t log;
    ss_log_contents_t c;
    ss_error_t err = {0};
    ss_dataset_info_t ds;
    make_dataset(&ds, "d", SS_KIND_CSV, r.n_inputs, 0, 0, 0, 0);
    CHECK(ss_log_open(&log, log_path, 0, &err) == 0 &&
          ss_log_append_dataset(&log, &ds, &err) == 0 &&
          ss_log_append_result(&log, &r, &err) == 0, "log: %s", err.msg);
    ss_log_close(&log);
    free_dataset(&ds);
    CHECK(ss_log_read(log_path, &c, &err) == 0 && c.n_results == 1, "read: %s", err.msg);

    ss_sweep_t sw;
    memset(&sw, 0, sizeof sw);
    snprintf(sw.name, sizeof sw.name, "fields");
    sw.yaml_text = "name: fields\n";
    ss_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.id, sizeof run.id, "%s", r.run_id);
    snprintf(run.cell_id, sizeof run.cell_id, "d");
    run.training = r.training;
    const char *h5 = tmp_path("fields.h5");
    CHECK(ss_snapshot_write(h5, &sw, &run, 1, &c, &err) == 0, "snapshot: %s", err.msg);
    ss_log_contents_free(&c);

    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *g = "/runs/d__seed=1";
    for (int k = 0; k < ss_result_n_fields; k++) {
        const ss_result_field_t *f = &ss_result_fields[k];
        if (f->flags & SS_FIELD_NOT_IN_H5)
            continue;
        const char *name = ss_result_field_h5_name(f, r.task);
        const void *m = (const char *)&r + f->offset;
        int n = f->count_offset ? *(const int *)((const char *)&r + f->count_offset) : 0;
        char path[300];
        snprintf(path, sizeof path, "%s/%s", g, name);
        int ok = 0;
        char *str = NULL;
        double *v = NULL;
        long rows, cols;
        switch (f->kind) {
        case SS_FIELD_STRING:
            ok = (str = h5_attr_str(file, g, name)) && !strcmp(str, m);
            break;
        case SS_FIELD_STATUS:
            ok = (str = h5_attr_str(file, g, name)) &&
                 !strcmp(str, ss_status_name(*(const ss_status_t *)m));
            break;
        case SS_FIELD_TASK:
            ok = (str = h5_attr_str(file, g, name)) &&
                 !strcmp(str, ss_task_name(*(const ss_task_t *)m));
            break;
        case SS_FIELD_I64: ok = h5_attr_num(file, g, name, NULL) == *(const int64_t *)m; break;
        case SS_FIELD_INT: ok = h5_attr_num(file, g, name, NULL) == *(const int *)m; break;
        case SS_FIELD_F64: ok = h5_attr_num(file, g, name, NULL) == *(const double *)m; break;
        case SS_FIELD_TRAINING:   /* adamax: every key in use (a choice by its name) */
            ok = 1;
            for (int t = 0; t < SS_KEY_COUNT; t++) {
                const char *key = ss_training_key_name((ss_training_key_t)t);
                if (ss_training_key_is_choice((ss_training_key_t)t)) {
                    char text[32];
                    char *got = h5_attr_str(file, g, key);
                    ok &= got && !strcmp(got, ss_training_key_text(m, (ss_training_key_t)t,
                                                                   text, sizeof text));
                    free(got);
                } else {
                    ok &= h5_attr_num(file, g, key, NULL) ==
                          ss_training_get(m, (ss_training_key_t)t);
                }
            }
            break;
        case SS_FIELD_F64_ARRAY:
            v = h5_read(file, path, &rows, &cols);
            ok = rows == n && vec_equal(v, *(double *const *)m, n);
            break;
        case SS_FIELD_I64_ARRAY:
            v = h5_read(file, path, &rows, &cols);
            ok = rows == n;
            for (int i = 0; ok && i < n; i++)
                ok = v[i] == (double)(*(int64_t *const *)m)[i];
            break;
        case SS_FIELD_METHODS:
            ok = n > 0;
            for (int i = 0; ok && i < n; i++) {
                const ss_method_result_t *mr = &(*(ss_method_result_t *const *)m)[i];
                char q[400];
                snprintf(q, sizeof q, "%s/%s", path,
                         ss_attrib_method_name((ss_attrib_method_t)mr->method));
                double *x = h5_read(file, q, &rows, &cols);
                ok = rows == mr->n_values && vec_equal(x, mr->values, rows) &&
                     h5_attr_num(file, q, "seconds", NULL) == mr->seconds &&
                     h5_attr_num(file, q, "check_scale", NULL) == mr->check_scale;
                free(x);
            }
            break;
        }
        CHECK(ok, "/runs holds field %s as %s", f->name, name);
        free(str);
        free(v);
    }
    H5Fclose(file);

    /* and back: the results file read into a result gives every field again */
    ss_log_contents_t back;
    memset(&back, 0, sizeof back);
    char *id = r.run_id;
    CHECK(ss_snapshot_recover(h5, &id, 1, &back, &err) == 1 && back.n_results == 1,
          "recovered from the results file: %s", err.msg);
    for (int k = 0; back.n_results == 1 && k < ss_result_n_fields; k++)
        CHECK(field_equal(&r, &back.results[0], &ss_result_fields[k]),
              "field %s read back from /runs", ss_result_fields[k].name);
    ss_log_contents_free(&back);
    ss_result_free(&r);
}

/* ---- cell statistics and stats ----------------------------------------------------- */

/* The cell's columns against a direct computation, with a run of another input count
   and a run that lacks one k value. */
static void test_cell_stats(void)
{
    ss_result_t r[3];
    for (int j = 0; j < 3; j++)
        make_result(&r[j], "x", "d", 10 + j, j == 2 ? 3 : 4, 2, 3, SS_STATUS_OK, 0.3 * j);
    r[1].topk[2] = 99; /* a k the first run does not have */
    const ss_result_t *ok[2] = {&r[0], &r[1]};
    ss_cell_stats_t cs;
    ss_cell_stats_compute(ok, 2, 4, &cs);
    int good = cs.n == 2 && cs.n_inputs == 4 && cs.n_topk == 3 && cs.seeds[0] == 10 &&
               cs.seeds[1] == 11 && cs.test_accuracy[1] == r[1].test_accuracy &&
               cs.test_loss[0] == r[0].test_loss;
    for (int i = 0; i < 4; i++) {
        double a = fabs(r[0].eigenvalues[i]), b = fabs(r[1].eigenvalues[i]);
        double m = (a + b) / 2, sd = sqrt(((a - m) * (a - m) + (b - m) * (b - m)) / 2);
        good &= fabs(cs.abs_mean[i] - m) < 1e-15 && fabs(cs.abs_std[i] - sd) < 1e-15;
        good &= cs.eigenvalues[4 + i] == r[1].eigenvalues[i];
    }
    CHECK(good, "cell statistics: seeds, metrics, |eigenvalue| mean and std (ddof 0)");
    CHECK(cs.topk_accuracy[3 + 0] == r[1].topk_accuracy[0] && isnan(cs.topk_accuracy[3 + 2]) &&
          isnan(cs.randomk_accuracy[3 + 2]), "top-k matched by k, NaN where a run lacks it");
    ss_cell_stats_free(&cs);
    const ss_result_t *mixed[2] = {&r[0], &r[2]};
    ss_cell_stats_compute(mixed, 2, 4, &cs);
    CHECK(isnan(cs.eigenvalues[4]) && isnan(cs.abs_mean[0]),
          "a run of another input count gives a NaN row (and NaN statistics)");
    ss_cell_stats_free(&cs);
    for (int j = 0; j < 3; j++)
        ss_result_free(&r[j]);
}

static void test_stats(void)
{
    /* average ranks with ties: 10 20 20 5 -> 2 3.5 3.5 1 */
    double x[4] = {10, 20, 20, 5}, rk[4];
    ss_stats_average_ranks(x, 4, rk);
    CHECK(rk[0] == 2 && rk[1] == 3.5 && rk[2] == 3.5 && rk[3] == 1, "average ranks with ties");
    /* Spearman: monotone = 1, reversed = -1; a hand-computed case with ties:
       x = 1 2 3 4 5, y = 2 1 4 3 3 -> ranks y = 2 1 5 3.5 3.5; rho = 5.5 / sqrt(10 * 9.5)
       (scipy.stats.spearmanr gives 0.564288093646835) */
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {3, 5, 7, 20, 100}, c[5] = {5, 4, 3, 2, 1};
    double y[5] = {2, 1, 4, 3, 3};
    CHECK(ss_stats_spearman(a, b, 5) == 1.0 && ss_stats_spearman(a, c, 5) == -1.0,
          "spearman +1 / -1");
    double rho = ss_stats_spearman(a, y, 5);
    CHECK(fabs(rho - 5.5 / sqrt(95.0)) < 1e-12, "spearman with ties: %.15g", rho);
    double k[5] = {1, 1, 1, 1, 1}, nanv[5] = {1, 2, NAN, 4, 5};
    CHECK(isnan(ss_stats_spearman(a, k, 5)) && isnan(ss_stats_spearman(a, nanv, 5)) &&
          isnan(ss_stats_spearman(a, b, 1)), "spearman undefined: constant, NaN, n < 2");
    double mean, sd, v[4] = {1, NAN, 3, 5};
    ss_stats_mean_std(v, 4, &mean, &sd);
    CHECK(mean == 3 && fabs(sd - sqrt(8.0 / 3.0)) < 1e-15, "mean/std skip NaN (ddof 0)");
    double none[2] = {NAN, NAN};
    ss_stats_mean_std(none, 2, &mean, &sd);
    CHECK(isnan(mean) && isnan(sd), "mean/std of no values is NaN");
}

/* Knight's O(n log n) tau-b against the direct count on random vectors, most with ties
   (values drawn from a few levels, some tied in both x and y), and scipy's own example. */
static void test_kendall(void)
{
    ss_rng_t rng;
    ss_rng_seed(&rng, 7, 0);
    double worst = 0;
    int cases = 0, ties = 0;
    for (int t = 0; t < 400; t++) {
        int n = 2 + (int)ss_rng_below(&rng, t < 300 ? 60 : 700);
        int levels = t % 4 == 0 ? 0 : 1 + (int)ss_rng_below(&rng, 8); /* 0: continuous */
        double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        for (int i = 0; i < n; i++) {
            x[i] = levels ? (double)ss_rng_below(&rng, (uint64_t)levels) : ss_rng_normal(&rng);
            /* y: x plus noise, or tied to x where a coin says so, or independent */
            double u = ss_rng_uniform(&rng);
            y[i] = u < 0.3 ? x[i] : u < 0.6 ? x[i] + (double)ss_rng_below(&rng, 3)
                                            : (double)ss_rng_below(&rng, 5);
        }
        double a = ss_stats_kendall_tau_b(x, y, n), b = kendall_direct(x, y, n);
        if (isnan(a) != isnan(b) || (!isnan(a) && fabs(a - b) > worst))
            worst = isnan(a) != isnan(b) ? INFINITY : fabs(a - b);
        cases += !isnan(b);
        ties += levels > 0;
        free(x);
        free(y);
    }
    CHECK(worst < 1e-12 && cases > 350, "kendall tau-b = the O(n^2) count on %d random cases "
          "(%d with ties): worst difference %.3g", cases, ties, worst);
    /* scipy.stats.kendalltau's documented example: tau-b = -0.47140452079103173 */
    double x[5] = {12, 2, 1, 12, 2}, y[5] = {1, 4, 7, 1, 0};
    double tau = ss_stats_kendall_tau_b(x, y, 5);
    CHECK(fabs(tau + 0.47140452079103173) < 1e-15, "kendall tau-b, scipy's example: %.17g", tau);
    double c[5] = {3, 3, 3, 3, 3}, nanv[5] = {1, 2, NAN, 4, 5}, up[5] = {1, 2, 3, 4, 5};
    CHECK(isnan(ss_stats_kendall_tau_b(up, c, 5)) && isnan(ss_stats_kendall_tau_b(up, nanv, 5)) &&
          isnan(ss_stats_kendall_tau_b(up, up, 1)) && ss_stats_kendall_tau_b(up, up, 5) == 1.0 &&
          ss_stats_kendall_tau_b(up, x, 2) == -1.0,
          "kendall tau-b undefined (constant, NaN, n < 2), +1 and -1");
}

/* The top-k order (largest first, ties by index, NaN last) and the Jaccard index of two
   orders' top k. */
static void test_topk_overlap(void)
{
    double s[6] = {0.5, 2, NAN, 2, 0, 0.5};
    int order[6], want[6] = {1, 3, 0, 5, 4, 2};
    ss_stats_rank_order(s, 6, order);
    CHECK(!memcmp(order, want, sizeof want), "rank order: ties by index, NaN last");
    /* a = 1 3 0 5 4 2, b = 3 0 2 1 5 4: top-2 {1,3} & {3,0} = 1 of 3; top-3 {1,3,0} &
       {3,0,2}: 2 of 4; top-6: everything */
    int b[6] = {3, 0, 2, 1, 5, 4}, pos_b[6];
    for (int i = 0; i < 6; i++)
        pos_b[b[i]] = i;
    CHECK(ss_stats_topk_jaccard(order, pos_b, 1) == 0.0 &&
          ss_stats_topk_jaccard(order, pos_b, 2) == 1.0 / 3 &&
          ss_stats_topk_jaccard(order, pos_b, 3) == 0.5 &&
          ss_stats_topk_jaccard(order, pos_b, 6) == 1.0 && isnan(ss_stats_topk_jaccard(order, pos_b, 0)),
          "top-k jaccard: 0, 1/3, 1/2, 1, NaN for k = 0");
}

/* The stability of a cell's rankings against the direct computation: eigenvalues by
   |eigenvalue| with ties, a constant realization (undefined tau, left out), a signed
   method ranked by its value with a skipped realization (its pairs left out); one
   realization computes nothing. */
static void test_cell_stability(void)
{
    enum { N = 4, D = 6, K = 3 };
    const double eig[N][D] = {{3, -2, 1, 0, 0, 0.5}, {-3, 2, 0.5, 1, 0, 0},
                              {1, 1, 1, 1, 1, 1}, {0.1, -0.2, 0.3, -0.4, 0.5, -0.6}};
    const double perm[N][D] = {{0.2, -0.1, 0, 0, 0.05, 0.2}, {0.1, 0.2, 0, 0, -0.3, 0.1},
                               {0}, {0.3, 0, 0.1, -0.1, 0, 0.2}};
    ss_result_t r[N];
    double rows[N * D];
    for (int j = 0; j < N; j++) {
        make_result(&r[j], "x", "d", j, D, 2, K, SS_STATUS_OK, j);
        memcpy(r[j].eigenvalues, eig[j], sizeof eig[j]);
        r[j].n_methods = 1;
        r[j].methods = calloc(1, sizeof *r[j].methods);
        ss_method_result_t *m = &r[j].methods[0];
        m->method = SS_ATTRIB_PERMUTATION;
        m->skipped = j == 2;
        m->n_values = D;
        m->values = malloc(sizeof perm[j]);
        memcpy(m->values, perm[j], sizeof perm[j]);
        for (int i = 0; i < D; i++)
            rows[j * D + i] = j == 2 ? NAN : perm[j][i];
    }
    const ss_result_t *ok[N] = {&r[0], &r[1], &r[2], &r[3]};
    ss_cell_stats_t cs;
    ss_cell_stats_compute(ok, N, D, &cs);
    const ss_cell_stability_t *st[2] = {&cs.stability, &cs.methods[0].stability};
    for (int s = 0; s < 2; s++) {
        const double *x = s == 0 ? &eig[0][0] : rows;
        double m, sd;
        int pairs, good = st[s]->computed && st[s]->n_k == K;
        pairs_direct(x, N, D, s == 0, 0, &m, &sd, &pairs);
        good &= st[s]->n_pairs == pairs && fabs(st[s]->tau_mean - m) < 1e-14 &&
                fabs(st[s]->tau_std - sd) < 1e-14;
        for (int q = 0; q < K && good; q++) {
            pairs_direct(x, N, D, s == 0, q + 1, &m, &sd, &pairs);
            good &= st[s]->k[q] == q + 1 && fabs(st[s]->jaccard_mean[q] - m) < 1e-14 &&
                    fabs(st[s]->jaccard_std[q] - sd) < 1e-14;
        }
        CHECK(good, "%s stability: %d pairs, tau %.6f ± %.6f, jaccard@2 %.6f",
              s ? "method" : "eigenvalue", st[s]->n_pairs, st[s]->tau_mean, st[s]->tau_std,
              st[s]->n_k > 1 ? st[s]->jaccard_mean[1] : NAN);
    }
    CHECK(cs.stability.n_pairs == 6 && cs.methods[0].stability.n_pairs == 3,
          "every pair of eigenvalues, the skipped realization's pairs left out");
    ss_cell_stats_free(&cs);
    ss_cell_stats_compute(ok, 1, D, &cs);
    CHECK(!cs.stability.computed && !cs.methods[0].stability.computed,
          "one realization: no stability");
    ss_cell_stats_free(&cs);
    for (int j = 0; j < N; j++)
        ss_result_free(&r[j]);
}

/* An update adds the runs committed since to a copy of the snapshot: the result holds
   the same /runs and /summary, value for value, as the file written whole from the same
   contents; the cells it rewrote keep their place in the sweep through cell_index. */
/* Group `group` is in both files or in neither, and where it is, its datasets names[0..n)
   have the same shapes and values in both. */
static int groups_equal(hid_t a, hid_t b, const char *group, const char *const *names, int n)
{
    int in_b = h5_exists(b, group);
    if (h5_exists(a, group) != in_b)
        return 0;
    int same = 1;
    for (int k = 0; in_b && k < n; k++) {
        char q[500];
        snprintf(q, sizeof q, "%s/%s", group, names[k]);
        long r1, c1, r2, c2;
        double *x = h5_read(a, q, &r1, &c1), *y = h5_read(b, q, &r2, &c2);
        same &= r1 == r2 && c1 == c2 && vec_equal(x, y, r1 * c1);
        free(x);
        free(y);
    }
    return same;
}

static void test_snapshot_update(void)
{
    fixture_t f;
    fixture_init(&f, 100);
    /* the contents as of the first snapshot: runs 0..4 only */
    ss_log_contents_t early;
    memset(&early, 0, sizeof early);
    for (int d = 0; d < f.c.n_datasets; d++)
        ss_log_contents_add_dataset(&early, &f.c.datasets[d]);
    for (int i = 0; i < 5; i++)
        ss_log_contents_add_result(&early, ss_log_contents_find(&f.c, f.runs[i].id));
    const char *upd = tmp_path("update.h5"), *whole = tmp_path("whole.h5");
    ss_error_t err = {0};
    CHECK(ss_snapshot_write(upd, &f.sw, f.runs, f.n_runs, &early, &err) == 0, "early: %s",
          err.msg);
    int changed[12], n_changed = 0;
    for (int i = 5; i < f.n_runs; i++)
        changed[n_changed++] = i;
    changed[n_changed++] = 2; /* a run written again replaces its group */
    long garbage = 0;
    CHECK(ss_snapshot_update(upd, &f.sw, f.runs, f.n_runs, &f.c, changed, n_changed, &garbage,
                             &err) == 0, "update: %s", err.msg);
    CHECK(garbage > 0, "replaced groups are counted as garbage (%ld bytes)", garbage);
    CHECK(no_temp_files(upd), "no temporary file left behind");
    CHECK(ss_snapshot_write(whole, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "whole: %s",
          err.msg);
    hid_t a = H5Fopen(upd, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(whole, H5F_ACC_RDONLY,
                                                                     H5P_DEFAULT);
    int same = a >= 0 && b >= 0;
    static const char *const run_sets[] = {"eigenvalues", "train_loss", "topk_accuracy"};
    static const char *const cell_sets[] = {"seeds", "eigenvalues_abs_mean", "topk_accuracy"};
    for (int i = 0; same && i < f.n_runs; i++) {
        char p[400];
        snprintf(p, sizeof p, "/runs/%s", f.runs[i].id);
        same &= groups_equal(a, b, p, run_sets, 3);
        snprintf(p, sizeof p, "/summary/%s", f.runs[i].cell_id);
        same &= groups_equal(a, b, p, cell_sets, 3);
        if (h5_exists(b, p))
            same &= h5_attr_num(a, p, "cell_index", NULL) == f.runs[i].cell &&
                    h5_attr_num(b, p, "cell_index", NULL) == f.runs[i].cell;
    }
    CHECK(same, "updated snapshot holds what the whole one holds");
    if (a >= 0)
        H5Fclose(a);
    if (b >= 0)
        H5Fclose(b);
    ss_log_contents_free(&early);
    fixture_free(&f);
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
    int64_t three = 3;
    H5Awrite(a, H5T_NATIVE_INT64, &three);
    H5Aclose(a);
    H5Fclose(file);
    ss_error_clear(&err);
    text = capture_summary(h5, &rc, &err);
    free(text);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "format_version 3"),
          "other format_version: %s", err.msg);
    fixture_free(&f);
}


/*
 * A sweep that records its model (a bundle axis of regimes, an axis over model.hidden):
 * /runs carries every model and init key under its dotted name, with its type (layer
 * sizes int64[], a range float64[2], names as text) and the bundle's name under the axis'
 * name; fields a run did not compute (n_trainable of an old record, the retraction's) and
 * training keys not in use are not there; /summary cells list both axes in swept_keys
 * with their values; `specsweep summary` names them; the snapshot's /runs read back
 * (--salvage) keep what was absent absent.
 */
/* The sweep file text yaml (as if read from path) parsed into *sw and its grid expanded;
   0, or -1 after a failed check (nothing left to free). */
static int sweep_grid(const char *path, const char *yaml, ss_sweep_t *sw, ss_run_t **runs,
                      int *n_runs, int *n_cells)
{
    ss_error_t err = {0};
    *runs = NULL;
    if (ss_sweep_parse(path, yaml, sw, &err) != 0) {
        CHECK(0, "sweep: %s", err.msg);
        return -1;
    }
    if (ss_grid_expand(sw, runs, n_runs, n_cells, &err) != 0) {
        CHECK(0, "grid: %s", err.msg);
        ss_sweep_free(sw);
        return -1;
    }
    return 0;
}

static void test_model_in_runs(void)
{
    static const char yaml[] =
        "name: regimes\nseeds: 2\ndatasets:\n  g: {kind: gaussian, features: 4, relevant: 2}\n"
        "model: {activations: linear}\ninit: {lambda_out: [-0.01, 0.01]}\n"
        "sweep:\n  regime:\n    eigenvalues: {model.train_lambda_out: true, "
        "train_eigenvectors: false}\n    direct: {model.spectral: none, optimizer: adamax}\n"
        "  model.hidden: [[3], []]\n";
    ss_sweep_t sw;
    ss_error_t err = {0};
    ss_run_t *runs = NULL;
    int n_runs = 0, n_cells = 0;
    if (sweep_grid("regimes.yaml", yaml, &sw, &runs, &n_runs, &n_cells) != 0)
        return;
    CHECK(n_runs == 8 && n_cells == 4 && sw.record_model, "runs %d cells %d", n_runs, n_cells);
    ss_log_contents_t c;
    memset(&c, 0, sizeof c);
    ss_dataset_info_t ds;
    make_dataset(&ds, "g", SS_KIND_GAUSSIAN, 4, 2, 1, 0, 0);
    ss_log_contents_add_dataset(&c, &ds);
    free_dataset(&ds);
    for (int i = 0; i < n_runs; i++) {
        ss_result_t r;
        make_result(&r, runs[i].id, "g", runs[i].seed, 4, 3, 2, SS_STATUS_OK, i);
        r.task = SS_TASK_CLASSIFICATION;
        r.training = runs[i].training;
        r.absent = SS_RESULT_BIT(retracted_test_accuracy) | SS_RESULT_BIT(retracted_test_loss) |
                   SS_RESULT_BIT(retracted_shape) | SS_RESULT_BIT(weights_histogram) |
                   SS_RESULT_BIT(weights_histogram_edges);
        if (i == 0)
            r.absent |= SS_RESULT_BIT(n_trainable); /* as read from an older record */
        r.n_trainable = 100 + i;
        ss_log_contents_add_result(&c, &r);
        ss_result_free(&r);
    }
    const char *h5 = tmp_path("regimes.h5");
    CHECK(ss_snapshot_write(h5, &sw, runs, n_runs, &c, &err) == 0, "snapshot: %s", err.msg);

    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *r1 = "/runs/g__regime=eigenvalues__model.hidden=3__seed=1";
    const char *r7 = "/runs/g__regime=direct__model.hidden=none__seed=1";
    char *text = h5_attr_str(file, r1, "regime");
    CHECK(text && !strcmp(text, "eigenvalues"), "bundle attribute %s", text ? text : "-");
    free(text);
    text = h5_attr_str(file, r7, "model.spectral");
    CHECK(text && !strcmp(text, "none"), "model.spectral %s", text ? text : "-");
    free(text);
    text = h5_attr_str(file, r7, "optimizer");
    CHECK(text && !strcmp(text, "adamax"), "an adamax run names its optimizer");
    free(text);
    H5T_class_t cls;
    CHECK(h5_attr_num(file, r7, "adamax_beta2", &cls) == 0.999 && cls == H5T_FLOAT,
          "an adamax run has its settings");
    CHECK(h5_attr_num(file, r1, "model.train_lambda_out", &cls) == 1 && cls == H5T_INTEGER &&
          h5_attr_num(file, r1, "train_eigenvectors", NULL) == 0, "the eigenvalues bundle");
    CHECK(h5_attr_num(file, r1, "n_trainable", NULL) == 101, "n_trainable");
    CHECK(H5Aexists_by_name(file, "/runs/g__regime=eigenvalues__model.hidden=3__seed=0",
                            "n_trainable", H5P_DEFAULT) == 0, "an absent n_trainable");
    CHECK(H5Aexists_by_name(file, r1, "optimizer", H5P_DEFAULT) == 0 &&
          H5Aexists_by_name(file, r1, "adamax_beta1", H5P_DEFAULT) == 0 &&
          H5Aexists_by_name(file, r1, "retracted_test_accuracy", H5P_DEFAULT) == 0,
          "adam's runs: no optimizer keys; no retraction");
    char path[256];
    snprintf(path, sizeof path, "%s/weights_histogram", r1);
    CHECK(!h5_exists(file, path), "no histogram dataset");
    int64_t hidden[4] = {-1, -1, -1, -1};
    hid_t a = H5Aopen_by_name(file, r1, "model.hidden", H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    CHECK(a >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
          H5Aread(a, H5T_NATIVE_INT64, hidden) >= 0 && hidden[0] == 3, "model.hidden [3]");
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    a = H5Aopen_by_name(file, r7, "model.hidden", H5P_DEFAULT, H5P_DEFAULT);
    sp = a >= 0 ? H5Aget_space(a) : -1;
    CHECK(a >= 0 && H5Sget_simple_extent_npoints(sp) == 0, "model.hidden [] (no hidden layer)");
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    double range[2] = {0, 0};
    a = H5Aopen_by_name(file, r1, "init.lambda_out", H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, range) >= 0 && range[0] == -0.01 &&
          range[1] == 0.01, "init.lambda_out [-0.01, 0.01]");
    if (a >= 0) H5Aclose(a);
    const char *cell = "/summary/g__regime=direct__model.hidden=3";
    text = h5_attr_str(file, cell, "swept_keys");
    CHECK(text && !strcmp(text, "regime,model.hidden"), "swept_keys %s", text ? text : "-");
    free(text);
    text = h5_attr_str(file, cell, "regime");
    CHECK(text && !strcmp(text, "direct"), "cell bundle %s", text ? text : "-");
    free(text);
    CHECK(H5Aexists_by_name(file, cell, "model.hidden", H5P_DEFAULT) > 0 &&
          H5Aexists_by_name(file, cell, "model.spectral", H5P_DEFAULT) == 0,
          "a cell carries its axes, not the bundle's keys");
    H5Fclose(file);

    int rc;
    char *out = capture_summary(h5, &rc, &err);
    CHECK(rc == 0 && strstr(out, "regime=eigenvalues model.hidden=3") &&
          strstr(out, "regime=direct model.hidden=none"), "summary names the axes:\n%s", out);
    free(out);

    /* --salvage reads /runs back: absent stays absent, present comes back */
    ss_log_contents_t back;
    memset(&back, 0, sizeof back);
    make_dataset(&ds, "g", SS_KIND_GAUSSIAN, 4, 2, 1, 0, 0);
    ss_log_contents_add_dataset(&back, &ds);
    free_dataset(&ds);
    char *ids[2] = {runs[0].id, runs[n_runs - 1].id};
    CHECK(ss_snapshot_recover(h5, ids, 2, &back, &err) == 2, "recover: %s", err.msg);
    const ss_result_t *b0 = ss_log_contents_find(&back, runs[0].id);
    const ss_result_t *b7 = ss_log_contents_find(&back, runs[n_runs - 1].id);
    CHECK(b0 && (b0->absent & SS_RESULT_BIT(n_trainable)) &&
          (b0->absent & SS_RESULT_BIT(weights_histogram)), "recovered: absent fields");
    CHECK(b7 && !(b7->absent & SS_RESULT_BIT(n_trainable)) && b7->n_trainable == 107 &&
          b7->training.optimizer == SS_OPT_ADAMAX, "recovered: present fields");
    ss_log_contents_free(&back);
    ss_log_contents_free(&c);
    free(runs);
    ss_sweep_free(&sw);
}

/* A standardized dataset: /datasets/<name> gets standardize = 1 and the two vectors, the
   others nothing new; --salvage's reader gives the vectors back. */
/* A retraining curve is named by its dataset's task, also before any of its runs is done:
   a regression sweep whose parents are committed and whose children are not yet has
   curves of test_mae with no realization. */
static void test_retrain_curve_before_children(void)
{
    static const char yaml[] =
        "name: curves\nseeds: 2\ndatasets:\n"
        "  r: {kind: csv, path: r.csv, label: y, task: regression}\n"
        "model: {hidden: [3], activations: [tanh]}\n"
        "relevance: {retrain: {methods: [spectral], keep: [1, 2]}}\n";
    ss_sweep_t sw;
    ss_error_t err = {0};
    ss_run_t *runs = NULL;
    int n_runs = 0, n_cells = 0;
    if (sweep_grid("curves.yaml", yaml, &sw, &runs, &n_runs, &n_cells) != 0)
        return;
    CHECK(n_runs == 2 + 2 * 4, "2 parents and 2 x (spectral, random) x 2 k children: %d",
          n_runs);
    ss_log_contents_t c;
    memset(&c, 0, sizeof c);
    ss_dataset_info_t ds;
    make_dataset(&ds, "r", SS_KIND_CSV, 4, 0, 0, 0, 0);
    ss_log_contents_add_dataset(&c, &ds);
    free_dataset(&ds);
    for (int i = 0; i < n_runs; i++) {
        if (runs[i].retrain.mode != SS_RETRAIN_NONE)
            continue; /* the children are pending */
        ss_result_t r;
        make_result(&r, runs[i].id, "r", runs[i].seed, 4, 3, 2, SS_STATUS_OK, i);
        r.task = SS_TASK_REGRESSION;
        r.training = runs[i].training;
        ss_log_contents_add_result(&c, &r);
        ss_result_free(&r);
    }
    const char *h5 = tmp_path("curves.h5");
    CHECK(ss_snapshot_write(h5, &sw, runs, n_runs, &c, &err) == 0, "snapshot: %s", err.msg);
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    for (int m = 0; m < 2; m++) {
        char path[128];
        snprintf(path, sizeof path, "/summary/r/retrain/keep/%s", m ? "random" : "spectral");
        char *metric = h5_attr_str(file, path, "metric");
        CHECK(metric && !strcmp(metric, "test_mae"), "%s metric %s", path,
              metric ? metric : "-");
        free(metric);
        char n_path[160];
        snprintf(n_path, sizeof n_path, "%s/n_realizations", path);
        long rows = 0, cols = 0;
        double *n = h5_read(file, n_path, &rows, &cols);
        CHECK(n && rows == 2 && n[0] == 0 && n[1] == 0, "%s: no realization yet", path);
        free(n);
    }
    H5Fclose(file);
    ss_log_contents_free(&c);
    free(runs);
    ss_sweep_free(&sw);
}

static void test_standardized_dataset(void)
{
    fixture_t f;
    fixture_init(&f, 100);
    ss_dataset_info_t reg;
    ss_dataset_info_copy(&reg, ss_log_contents_find_dataset(&f.c, "reg"));
    reg.standardize_mean = calloc(N_IN_REG, sizeof(double));
    reg.standardize_std = calloc(N_IN_REG, sizeof(double));
    for (int i = 0; i < N_IN_REG; i++) {
        reg.standardize_mean[i] = 0.25 - 100.0 * i;
        reg.standardize_std[i] = i == 1 ? 0.0 : 3.0 + i;
    }
    ss_log_contents_add_dataset(&f.c, &reg); /* replaces "reg" */
    const char *h5 = tmp_path("standardized.h5");
    ss_error_t err = {0};
    CHECK(ss_snapshot_write(h5, &f.sw, f.runs, f.n_runs, &f.c, &err) == 0, "snapshot: %s",
          err.msg);
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    long rows = 0, cols = 0;
    double *m = h5_read(file, "datasets/reg/standardize_mean", &rows, &cols);
    double *sd = h5_read(file, "datasets/reg/standardize_std", &rows, &cols);
    CHECK(h5_attr_num(file, "datasets/reg", "standardize", NULL) == 1 && m && sd &&
          rows == N_IN_REG && m[3] == 0.25 - 300.0 && sd[1] == 0.0 && sd[2] == 5.0,
          "/datasets/reg: standardize = 1 and its vectors");
    CHECK(H5Aexists_by_name(file, "datasets/clf", "standardize", H5P_DEFAULT) == 0 &&
          !h5_exists(file, "/datasets/clf/standardize_mean") &&
          !h5_exists(file, "/datasets/clf/standardize_std"), "/datasets/clf: nothing new");
    free(m);
    free(sd);
    H5Fclose(file);

    ss_log_contents_t back;
    memset(&back, 0, sizeof back);
    CHECK(ss_snapshot_recover(h5, NULL, 0, &back, &err) == 0, "recover: %s", err.msg);
    const ss_dataset_info_t *r = ss_log_contents_find_dataset(&back, "reg");
    const ss_dataset_info_t *c = ss_log_contents_find_dataset(&back, "clf");
    CHECK(r && r->standardize_mean && r->standardize_std &&
          !memcmp(r->standardize_mean, reg.standardize_mean, N_IN_REG * sizeof(double)) &&
          !memcmp(r->standardize_std, reg.standardize_std, N_IN_REG * sizeof(double)),
          "the vectors read back from the results file");
    CHECK(c && !c->standardize_mean && !c->standardize_std, "clf read back without vectors");
    ss_log_contents_free(&back);
    ss_dataset_info_free(&reg);
    fixture_free(&f);
}

int main(void)
{
    test_every_field_in_runs();
    test_model_in_runs();
    test_retrain_curve_before_children();
    test_standardized_dataset();
    test_cell_stats();
    test_stats();
    test_kendall();
    test_topk_overlap();
    test_cell_stability();
    test_snapshot();
    test_snapshot_update();
    test_snapshot_failure();
    test_snapshot_speed();
    test_summary_print();
    return ss_test_report();
}
