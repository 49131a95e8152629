/* summary.c - the table `specsweep summary` prints. See include/specsweep/summary.h. */
#include "specsweep/summary.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "specsweep/attrib_settings.h"
#include "specsweep/config.h"
#include "specsweep/h5io.h"
#include "specsweep/log.h"
#include "specsweep/result.h"
#include "specsweep/snapshot.h"
#include "specsweep/stats.h"

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

enum { COL_DATASET, COL_SETTINGS, COL_N, COL_METRIC, COL_SPEARMAN, COL_TAU, COL_JACCARD,
       COL_TOP, N_COLS };
#define TOP_INPUTS 5

typedef struct {
    char *col[N_COLS];
    double order;    /* the cell's place in the sweep (cell_index), for the row order */
    char *group;     /* the cell's group name in /summary */
} row_t;

static herr_t collect_key_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    int k = ss_training_key_lookup(name);
    if (k >= 0)
        *(unsigned *)data |= 1u << k;
    return 0;
}

/* What the table needs of a cell's dataset, from /datasets/<name>. */
typedef struct {
    int regression;          /* n_classes = 0 */
    double *truth;           /* relevance_truth, or NULL */
    long n_truth;
    char **names;            /* feature_names, or NULL */
    long n_names;
} dataset_view_t;

static void dataset_view_read(hid_t file, const char *dataset, dataset_view_t *v)
{
    memset(v, 0, sizeof *v);
    char path[SS_NAME_MAX + 16];
    snprintf(path, sizeof path, "/datasets/%s", dataset);
    if (!ss_h5_valid_link_name(dataset) || H5Lexists(file, "datasets", H5P_DEFAULT) <= 0 ||
        H5Lexists(file, path, H5P_DEFAULT) <= 0)
        return;
    hid_t g = H5Gopen2(file, path, H5P_DEFAULT);
    if (g < 0)
        return;
    double nc;
    v->regression = ss_h5_attr_f64(g, "n_classes", &nc) == 0 && nc == 0;
    v->truth = ss_h5_read_f64(g, "relevance_truth", &v->n_truth);
    v->names = ss_h5_read_strings(g, "feature_names", &v->n_names);
    H5Gclose(g);
}

static void dataset_view_free(dataset_view_t *v)
{
    free(v->truth);
    ss_h5_free_strings(v->names, v->n_names);
}

/* Attribute `name` of loc as text: a string as it is; an integer or a number alone
   ("%lld", "%g"); a list of integers joined by '-' ("none" when empty), as a run id shows
   model.hidden; a list of numbers joined by ':' (a range; one value when both ends are
   equal). "?" for anything else. */
static void attr_text(hid_t loc, const char *name, sbuf_t *b)
{
    char *text = ss_h5_attr_str(loc, name);
    if (text) {
        sb_printf(b, "%s", text);
        free(text);
        return;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : -1, space = a >= 0 ? H5Aget_space(a) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int scalar = space >= 0 && H5Sget_simple_extent_type(space) == H5S_SCALAR;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    double v[SS_MAX_LAYERS];
    int ok = (cls == H5T_INTEGER || cls == H5T_FLOAT) && n >= 0 && n <= SS_MAX_LAYERS &&
             (n == 0 || H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0);
    if (!ok)
        sb_printf(b, "?");
    else if (scalar)
        sb_printf(b, cls == H5T_INTEGER ? "%.0f" : "%g", v[0]);
    else if (cls == H5T_INTEGER && n == 0)
        sb_printf(b, "none");
    else if (cls == H5T_FLOAT && n == 2 && v[0] == v[1])
        sb_printf(b, "%g", v[0]);
    else
        for (hssize_t i = 0; i < n; i++)
            sb_printf(b, cls == H5T_INTEGER ? "%s%.0f" : "%s%g",
                      i ? (cls == H5T_INTEGER ? "-" : ":") : "", v[i]);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
}

/* The swept keys of a cell: the attributes that are training keys, in key order (a
   choice by its name), then the model keys and bundle axes of swept_keys in its order. */
static void row_settings(hid_t cell, sbuf_t *b)
{
    unsigned key_mask = 0;
    hsize_t idx = 0;
    H5Aiterate2(cell, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_key_attr, &key_mask);
    for (int k = 0; k < SS_KEY_COUNT; k++) {
        const char *name = ss_training_key_name((ss_training_key_t)k);
        double v;
        if (!((key_mask >> k) & 1u) || ss_h5_attr_f64(cell, name, &v) != 0)
            continue;
        const char *sep = b->len ? " " : "";
        if (ss_training_key_is_choice((ss_training_key_t)k))
            continue; /* a name: with the others below */
        if (ss_training_key_is_int((ss_training_key_t)k))
            sb_printf(b, "%s%s=%lld", sep, name, (long long)v);
        else
            sb_printf(b, "%s%s=%g", sep, name, v);
    }
    char *swept = ss_h5_attr_str(cell, "swept_keys");
    for (char *key = swept ? strtok(swept, ",") : NULL; key; key = strtok(NULL, ",")) {
        int k = ss_training_key_lookup(key);
        if ((k >= 0 && !ss_training_key_is_choice((ss_training_key_t)k)) ||
            H5Aexists(cell, key) <= 0)
            continue;
        sb_printf(b, "%s%s=", b->len ? " " : "", key);
        attr_text(cell, key, b);
    }
    free(swept);
    if (!b->len)
        sb_printf(b, "-");
}

/* The TOP_INPUTS largest of mean[n] (NaN skipped), "name(mean±std)" each. */
static void row_top_inputs(const double *mean, const double *std, long n,
                           const dataset_view_t *dv, sbuf_t *b)
{
    unsigned char *used = ss_calloc(n > 0 ? (size_t)n : 1, 1);
    for (int t = 0; t < TOP_INPUTS && t < n; t++) {
        long best = -1;
        for (long i = 0; i < n; i++)
            if (!used[i] && !isnan(mean[i]) && (best < 0 || mean[i] > mean[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = 1;
        double s = std ? std[best] : NAN;
        if (dv->names && dv->n_names == n)
            sb_printf(b, "%s%s(%.3g±%.2g)", t ? " " : "", dv->names[best], mean[best], s);
        else
            sb_printf(b, "%s%ld(%.3g±%.2g)", t ? " " : "", best, mean[best], s);
    }
    free(used);
    if (!b->s)
        sb_printf(b, "-");
}

/* "mean ± std" of attributes <name>_mean/_std of g (fmt for both; a '+' flag only for
   the mean), or "-". */
static void mean_std_text(hid_t g, const char *name, const char *fmt, sbuf_t *b)
{
    char sd_fmt[16];
    snprintf(sd_fmt, sizeof sd_fmt, "%s", fmt[1] == '+' ? fmt + 1 : fmt);
    if (fmt[1] == '+')
        sd_fmt[0] = '%';
    char a[64], c[64];
    double m, sd;
    snprintf(a, sizeof a, "%s_mean", name);
    snprintf(c, sizeof c, "%s_std", name);
    if (ss_h5_attr_f64(g, a, &m) == 0 && ss_h5_attr_f64(g, c, &sd) == 0 && !isnan(m)) {
        sb_printf(b, fmt, m);
        sb_printf(b, " ± ");
        sb_printf(b, sd_fmt, sd);
    } else {
        sb_printf(b, "-");
    }
}

/* The k whose top-k accuracy and Jaccard index the tables show: the first k of the
   cell's list at least the size of the true support, or without a truth the middle one;
   its index in the list, or -1 when there is none. */
static int shown_k(hid_t file, hid_t cell, const char *dataset, int *k_out)
{
    long K = 0, n_truth = 0;
    double *topk = ss_h5_read_f64(cell, "topk", &K);
    if (!topk || K == 0) {
        free(topk);
        return -1;
    }
    dataset_view_t dv;
    dataset_view_read(file, dataset, &dv);
    n_truth = 0;
    for (long i = 0; dv.truth && i < dv.n_truth; i++)
        n_truth += dv.truth[i] > 0;
    dataset_view_free(&dv);
    long q = K / 2;
    if (n_truth > 0) {
        q = K - 1;
        for (long i = K - 1; i >= 0; i--)
            if (topk[i] >= n_truth)
                q = i;
    }
    *k_out = (int)topk[q];
    free(topk);
    return (int)q;
}

/* The Jaccard index at k of the stability stored in g (datasets stability_k,
   stability_jaccard_mean and _std, docs/FORMATS.md) as "0.950 ± 0.040", with "k=K " before
   it when with_k; "-" when g has none at k (a cell of one realization, a k above the
   relevance's length, no pair). */
static void jaccard_text(hid_t g, int k, int with_k, sbuf_t *b)
{
    long nk = 0, nm = 0, ns = 0;
    double *ks = ss_h5_read_f64(g, "stability_k", &nk);
    double *m = ss_h5_read_f64(g, "stability_jaccard_mean", &nm);
    double *sd = ss_h5_read_f64(g, "stability_jaccard_std", &ns);
    long q = -1;
    for (long i = 0; ks && m && sd && nm == nk && ns == nk && i < nk; i++)
        if (ks[i] == k)
            q = i;
    if (q >= 0 && !isnan(m[q])) {
        if (with_k)
            sb_printf(b, "k=%d ", k);
        sb_printf(b, "%.3f ± %.3f", m[q], sd[q]);
    } else {
        sb_printf(b, "-");
    }
    free(ks);
    free(m);
    free(sd);
    H5Eclear2(H5E_DEFAULT);
}

/* The table row of one summary cell; returns -1 if the group is not a summary cell. */
static int summary_row(hid_t file, hid_t cell, row_t *row, int *has_truth)
{
    memset(row, 0, sizeof *row);
    char *dataset = ss_h5_attr_str(cell, "dataset");
    double n_real = 0;
    if (!dataset || ss_h5_attr_f64(cell, "n_realizations", &n_real) != 0) {
        free(dataset);
        return -1;
    }
    sbuf_t b[N_COLS];
    memset(b, 0, sizeof b);
    sb_printf(&b[COL_DATASET], "%s", dataset);
    row_settings(cell, &b[COL_SETTINGS]);
    if (ss_h5_attr_f64(cell, "cell_index", &row->order) != 0)
        row->order = NAN; /* files written before cells carried it: file order */

    double n_div = 0, n_fail = 0;
    ss_h5_attr_f64(cell, "n_diverged", &n_div);
    ss_h5_attr_f64(cell, "n_failed", &n_fail);
    sb_printf(&b[COL_N], "%lld", (long long)n_real);
    if (n_div > 0 || n_fail > 0)
        sb_printf(&b[COL_N], " (+%lld diverged, %lld failed)", (long long)n_div,
                  (long long)n_fail);

    dataset_view_t dv;
    dataset_view_read(file, dataset, &dv);
    H5Eclear2(H5E_DEFAULT);

    long n_acc;
    double m, sd;
    double *metric = ss_h5_read_f64(cell, dv.regression ? "test_loss" : "test_accuracy", &n_acc);
    if (metric && n_acc > 0) {
        ss_stats_mean_std(metric, n_acc, &m, &sd);
        sb_printf(&b[COL_METRIC], dv.regression ? "MAE %.4f ± %.4f" : "%.4f ± %.4f", m, sd);
    } else {
        sb_printf(&b[COL_METRIC], "-");
    }
    free(metric);

    long n_in = 0, n_std = 0;
    double *mean = ss_h5_read_f64(cell, "eigenvalues_abs_mean", &n_in);
    double *std = ss_h5_read_f64(cell, "eigenvalues_abs_std", &n_std);
    if (dv.truth && dv.n_truth == n_in && n_in > 0) {
        *has_truth = 1;
        double rho = ss_stats_spearman(mean, dv.truth, (int)n_in);
        sb_printf(&b[COL_SPEARMAN], isnan(rho) ? "-" : "%+.3f", rho);
    } else {
        sb_printf(&b[COL_SPEARMAN], "-");
    }
    /* the eigenvalues' ranking over pairs of realizations, Jaccard at the k the method
       tables show */
    int k_shown = 0;
    mean_std_text(cell, "stability_kendall_tau", "%+.3f", &b[COL_TAU]);
    if (shown_k(file, cell, dataset, &k_shown) >= 0)
        jaccard_text(cell, k_shown, 1, &b[COL_JACCARD]);
    else
        sb_printf(&b[COL_JACCARD], "-");
    if (mean && n_in > 0)
        row_top_inputs(mean, n_std == n_in ? std : NULL, n_in, &dv, &b[COL_TOP]);
    else
        sb_printf(&b[COL_TOP], "-");
    free(mean);
    free(std);
    dataset_view_free(&dv);
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

/* Runs in /runs by status (ok, diverged, failed); returns the number of run groups. */
static long count_runs(hid_t file, long n_status[3])
{
    long n_runs = 0, n_names = 0;
    hid_t grp;
    if (H5Lexists(file, "runs", H5P_DEFAULT) <= 0 || (grp = H5Gopen2(file, "runs", H5P_DEFAULT)) < 0)
        return 0;
    char **names = ss_h5_link_names(grp, &n_names);
    for (long i = 0; i < n_names; i++) {
        hid_t g = H5Gopen2(grp, names[i], H5P_DEFAULT);
        if (g < 0)
            continue;
        char *status = ss_h5_attr_str(g, "status");
        int sidx = status ? ss_status_lookup(status) : -1;
        if (sidx >= 0)
            n_status[sidx]++;
        n_runs++;
        free(status);
        H5Gclose(g);
    }
    ss_h5_free_strings(names, n_names);
    H5Gclose(grp);
    return n_runs;
}

/* Rows by cell_index (the sweep's order: datasets, then the axes, first axis outermost),
   rows without one after them in file order. */
static int by_cell_order(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (isnan(x->order) || isnan(y->order))
        return isnan(x->order) - isnan(y->order);
    return (x->order > y->order) - (x->order < y->order);
}

/* One row per /summary cell, in the sweep's order; *n_rows rows (the caller frees them).
   The file holds the cells in the order they were last written. */
static row_t *collect_rows(hid_t file, long *n_rows, int *has_truth)
{
    *n_rows = 0;
    long n_names = 0;
    hid_t grp;
    if (H5Lexists(file, "summary", H5P_DEFAULT) <= 0 ||
        (grp = H5Gopen2(file, "summary", H5P_DEFAULT)) < 0)
        return NULL;
    char **names = ss_h5_link_names(grp, &n_names);
    row_t *rows = ss_calloc(n_names > 0 ? (size_t)n_names : 1, sizeof *rows);
    for (long i = 0; i < n_names; i++) {
        hid_t g = H5Gopen2(grp, names[i], H5P_DEFAULT);
        if (g < 0)
            continue;
        if (H5Aexists(g, "retrain_mode") > 0) { /* a retraining cell: in its parent's table */
            H5Gclose(g);
            continue;
        }
        if (summary_row(file, g, &rows[*n_rows], has_truth) == 0)
            rows[(*n_rows)++].group = ss_strdup(names[i]);
        H5Gclose(g);
    }
    ss_h5_free_strings(names, n_names);
    H5Gclose(grp);
    qsort(rows, (size_t)*n_rows, sizeof *rows, by_cell_order); /* stable enough: distinct */
    return rows;
}

static void print_table(FILE *out, const row_t *rows, long n_rows, int has_truth)
{
    static const char *const head[N_COLS] = {
        "dataset", "settings", "n", "test accuracy (MAE)", "spearman", "kendall tau",
        "jaccard", "top inputs by mean |eigenvalue| (mean±std)"};
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
    fprintf(out, "kendall tau, jaccard: the |eigenvalue| rankings of every two realizations "
                 "(tau-b; Jaccard index of the top-k inputs), mean ± std over the pairs\n");
}

enum { M_NAME, M_SPEARMAN, M_RECALL, M_AUROC, M_TOPK, M_TAU, M_JACCARD, M_SECONDS, M_COLS };

/* "mean ± std" over the realizations of column q of g's n x K matrix topk_accuracy, or
   "-". */
static void topk_column_text(hid_t g, long K, int q, sbuf_t *b)
{
    long rows = 0;
    double *t = q >= 0 ? ss_h5_read_f64(g, "topk_accuracy", &rows) : NULL;
    if (t && K > 0 && rows % K == 0 && rows > 0) {
        double *col = ss_malloc((size_t)(rows / K) * sizeof *col), m, sd;
        for (long j = 0; j < rows / K; j++)
            col[j] = t[j * K + q];
        ss_stats_mean_std(col, rows / K, &m, &sd);
        sb_printf(b, isnan(m) ? "-" : "%.4f ± %.4f", m, sd);
        free(col);
    } else {
        sb_printf(b, "-");
    }
    free(t);
}

/* The row r[M_COLS] of the method `name`, stored in g, of a cell whose top-k list has K
   entries: k (at index q of that list, -1 for none) is the k the table shows. */
static void method_row(hid_t g, const char *name, long K, int q, int k, sbuf_t *r)
{
    sb_printf(&r[M_NAME], "%s", name);
    mean_std_text(g, "spearman", "%+.3f", &r[M_SPEARMAN]);
    mean_std_text(g, "support_recall", "%.2f", &r[M_RECALL]);
    mean_std_text(g, "auroc", "%.3f", &r[M_AUROC]);
    topk_column_text(g, K, q, &r[M_TOPK]);
    mean_std_text(g, "stability_kendall_tau", "%+.3f", &r[M_TAU]);
    if (q >= 0)
        jaccard_text(g, k, 0, &r[M_JACCARD]);
    else
        sb_printf(&r[M_JACCARD], "-");
    mean_std_text(g, "seconds", "%.2g", &r[M_SECONDS]);
}

/* The rows x cols text cells b (row-major; no text prints empty) indented by two spaces,
   each column as wide as its widest cell. */
static void print_grid(FILE *out, const sbuf_t *b, long rows, int cols)
{
    size_t *width = ss_calloc((size_t)cols, sizeof *width);
    for (int j = 0; j < cols; j++)
        for (long i = 0; i < rows; i++)
            if (b[i * cols + j].s && text_width(b[i * cols + j].s) > width[j])
                width[j] = text_width(b[i * cols + j].s);
    for (long i = 0; i < rows; i++) {
        fputs("  ", out);
        for (int j = 0; j < cols; j++)
            print_cell(out, b[i * cols + j].s ? b[i * cols + j].s : "", width[j], j == cols - 1);
        fputc('\n', out);
    }
    fputc('\n', out);
    free(width);
}

/* The table of the post-hoc relevance methods of one cell (/summary/<cell>/relevance),
   when the cell has one: per method the scores against the truth (mean ± std over the
   realizations), the test accuracy with its top-k inputs, the stability of its ranking
   over pairs of realizations (Kendall's tau, Jaccard at the same k), its seconds per run. */
static void print_methods(FILE *out, hid_t file, const row_t *row)
{
    hid_t cell = H5Gopen2(file, "summary", H5P_DEFAULT), rg = -1;
    hid_t c = cell >= 0 ? H5Gopen2(cell, row->group, H5P_DEFAULT) : -1;
    if (c < 0 || H5Lexists(c, "relevance", H5P_DEFAULT) <= 0 ||
        (rg = H5Gopen2(c, "relevance", H5P_DEFAULT)) < 0) {
        if (c >= 0)
            H5Gclose(c);
        if (cell >= 0)
            H5Gclose(cell);
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    int k = 0, q = shown_k(file, c, row->col[COL_DATASET], &k);
    long n = 0, K = 0;
    free(ss_h5_read_f64(c, "topk", &K));
    char **names = ss_h5_link_names(rg, &n);
    for (long i = 1; i < n; i++) /* in method order, the eigenvalues first */
        for (long j = i; j > 0 && ss_attrib_method_lookup(names[j]) <
                                      ss_attrib_method_lookup(names[j - 1]); j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    sbuf_t *b = ss_calloc((size_t)(n + 1) * M_COLS, sizeof *b);
    char topk_head[64], jaccard_head[64];
    snprintf(topk_head, sizeof topk_head, q >= 0 ? "top-%d accuracy (MAE)" : "top-k accuracy", k);
    snprintf(jaccard_head, sizeof jaccard_head, q >= 0 ? "top-%d jaccard" : "jaccard", k);
    const char *head[M_COLS] = {"method", "spearman", "recall", "auroc", topk_head,
                                "kendall tau", jaccard_head, "seconds"};
    for (int j = 0; j < M_COLS; j++)
        sb_printf(&b[j], "%s", head[j]);
    for (long i = 0; i < n; i++) {
        hid_t g = H5Gopen2(rg, names[i], H5P_DEFAULT);
        method_row(g, names[i], K, q, k, &b[(i + 1) * M_COLS]);
        if (g >= 0)
            H5Gclose(g);
    }
    fprintf(out, "relevance methods of %s%s%s (mean ± std over the realizations; kendall tau "
                 "and jaccard over their pairs):\n",
            row->col[COL_DATASET], strcmp(row->col[COL_SETTINGS], "-") ? " " : "",
            strcmp(row->col[COL_SETTINGS], "-") ? row->col[COL_SETTINGS] : "");
    print_grid(out, b, n + 1, M_COLS);
    for (long i = 0; i < (n + 1) * M_COLS; i++)
        free(b[i].s);
    free(b);
    ss_h5_free_strings(names, n);
    H5Gclose(rg);
    H5Gclose(c);
    H5Gclose(cell);
    H5Eclear2(H5E_DEFAULT);
}

/* The retraining curves of one mode group (keep or remove) of a cell: the methods (in
   method order) and every k any of them has, in order of appearance. */
typedef struct {
    long n_methods;
    char **methods;
    long n_k;
    long long k[64];
} retrain_cols_t;

static void retrain_cols(hid_t mg, retrain_cols_t *rc)
{
    rc->methods = ss_h5_link_names(mg, &rc->n_methods);
    for (long i = 1; i < rc->n_methods; i++) /* method order: random and truth last */
        for (long j = i; j > 0 && ss_retrain_method_lookup(rc->methods[j]) <
                                      ss_retrain_method_lookup(rc->methods[j - 1]); j--) {
            char *t = rc->methods[j];
            rc->methods[j] = rc->methods[j - 1];
            rc->methods[j - 1] = t;
        }
    rc->n_k = 0;
    for (long i = 0; i < rc->n_methods; i++) {
        hid_t g = H5Gopen2(mg, rc->methods[i], H5P_DEFAULT);
        long n = 0;
        double *k = g >= 0 ? ss_h5_read_f64(g, "k", &n) : NULL;
        for (long j = 0; j < n; j++) {
            long q = 0;
            while (q < rc->n_k && rc->k[q] != (long long)k[j])
                q++;
            if (q == rc->n_k && rc->n_k < 64)
                rc->k[rc->n_k++] = (long long)k[j];
        }
        free(k);
        if (g >= 0)
            H5Gclose(g);
    }
}

/* "mean ± std" of method group g's curve at k (metric_mean / metric_std), or "-". */
static void retrain_value(hid_t g, long long k, sbuf_t *b)
{
    long n = 0, nm = 0, ns = 0;
    double *ks = ss_h5_read_f64(g, "k", &n);
    double *m = ss_h5_read_f64(g, "metric_mean", &nm), *sd = ss_h5_read_f64(g, "metric_std", &ns);
    long j = 0;
    while (j < n && (long long)ks[j] != k)
        j++;
    if (j < n && j < nm && j < ns && !isnan(m[j]))
        sb_printf(b, "%.4f ± %.4f", m[j], sd[j]);
    else
        sb_printf(b, "-");
    free(ks);
    free(m);
    free(sd);
}

/* A cell's retraining table (/summary/<cell>/retrain): per method, the test metric of the
   runs retrained on its top-k inputs (keep k) or without them (remove k). */
static void print_retrain(FILE *out, hid_t file, const row_t *row)
{
    hid_t sg = H5Gopen2(file, "summary", H5P_DEFAULT);
    hid_t c = sg >= 0 ? H5Gopen2(sg, row->group, H5P_DEFAULT) : -1;
    hid_t rg = c >= 0 && H5Lexists(c, "retrain", H5P_DEFAULT) > 0
                   ? H5Gopen2(c, "retrain", H5P_DEFAULT) : -1;
    static const char *const modes[2] = {"keep", "remove"};
    for (int mode = 0; mode < 2 && rg >= 0; mode++) {
        if (H5Lexists(rg, modes[mode], H5P_DEFAULT) <= 0)
            continue;
        hid_t mg = H5Gopen2(rg, modes[mode], H5P_DEFAULT);
        retrain_cols_t rc;
        retrain_cols(mg, &rc);
        int cols = 1 + (int)rc.n_k;
        sbuf_t *b = ss_calloc((size_t)(rc.n_methods + 1) * (size_t)cols, sizeof *b);
        sb_printf(&b[0], "method");
        for (long q = 0; q < rc.n_k; q++)
            sb_printf(&b[1 + q], "%s %lld", modes[mode], rc.k[q]);
        for (long i = 0; i < rc.n_methods; i++) {
            hid_t g = H5Gopen2(mg, rc.methods[i], H5P_DEFAULT);
            sbuf_t *r = &b[(i + 1) * cols];
            sb_printf(&r[0], "%s", rc.methods[i]);
            for (long q = 0; q < rc.n_k && g >= 0; q++)
                retrain_value(g, rc.k[q], &r[1 + q]);
            if (g >= 0)
                H5Gclose(g);
        }
        hid_t g0 = rc.n_methods > 0 ? H5Gopen2(mg, rc.methods[0], H5P_DEFAULT) : -1;
        char *metric = g0 >= 0 ? ss_h5_attr_str(g0, "metric") : NULL;
        if (g0 >= 0)
            H5Gclose(g0);
        fprintf(out, "retrained on %s inputs: %s%s%s, %s (mean ± std over the realizations):\n",
                mode == 0 ? "the top-k (keep)" : "all but the top-k (remove)",
                row->col[COL_DATASET], strcmp(row->col[COL_SETTINGS], "-") ? " " : "",
                strcmp(row->col[COL_SETTINGS], "-") ? row->col[COL_SETTINGS] : "",
                metric && !strcmp(metric, "test_mae") ? "test MAE" : "test accuracy");
        free(metric);
        print_grid(out, b, rc.n_methods + 1, cols);
        for (long i = 0; i < (rc.n_methods + 1) * cols; i++)
            free(b[i].s);
        free(b);
        ss_h5_free_strings(rc.methods, rc.n_methods);
        H5Gclose(mg);
    }
    if (rg >= 0)
        H5Gclose(rg);
    if (c >= 0)
        H5Gclose(c);
    if (sg >= 0)
        H5Gclose(sg);
    H5Eclear2(H5E_DEFAULT);
}

/* The log beside a results file is where its runs are committed: if it is damaged, the
   user hears it here too (on stderr; the table itself is the snapshot's). */
static void warn_if_log_damaged(const char *h5_path)
{
    char *log_path = ss_str_concat(h5_path, ".log");
    ss_log_contents_t c;
    ss_error_t err = {0};
    if (ss_log_read(log_path, &c, &err) == 0 && c.n_damage > 0) {
        char what[600];
        ss_log_damage_describe(&c, log_path, what, sizeof what);
        fprintf(stderr, "specsweep: warning: %s; `specsweep run --salvage` keeps every intact "
                        "record\n", what);
    }
    ss_log_contents_free(&c);
    free(log_path);
}

int ss_summary_print(const char *h5_path, FILE *out, ss_error_t *err)
{
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);
    hid_t file = ss_snapshot_open(h5_path, err);
    if (file < 0) {
        H5Eclear2(H5E_DEFAULT);
        ss_h5_loud(&quiet);
        return -1;
    }
    char *sweep_name = ss_h5_attr_str(file, "sweep_name");
    long n_status[3] = {0, 0, 0}, n_rows = 0;
    long n_runs = count_runs(file, n_status);
    int has_truth = 0;
    row_t *rows = collect_rows(file, &n_rows, &has_truth);
    H5Eclear2(H5E_DEFAULT);

    fprintf(out, "%s: sweep \"%s\", %ld cell%s with results\n\n", h5_path,
            sweep_name ? sweep_name : "?", n_rows, n_rows == 1 ? "" : "s");
    if (n_rows > 0)
        print_table(out, rows, n_rows, has_truth);
    for (long i = 0; i < n_rows; i++) {
        print_methods(out, file, &rows[i]);
        print_retrain(out, file, &rows[i]);
    }
    fprintf(out, "runs: %ld ok, %ld diverged, %ld failed (%ld in the file)\n", n_status[0],
            n_status[1], n_status[2], n_runs);
    warn_if_log_damaged(h5_path);

    for (long i = 0; i < n_rows; i++) {
        for (int k = 0; k < N_COLS; k++)
            free(rows[i].col[k]);
        free(rows[i].group);
    }
    free(rows);
    free(sweep_name);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    ss_h5_loud(&quiet);
    return 0;
}
