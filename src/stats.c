/* stats.c - means, spreads, rank correlations and top-k overlaps. See
   include/specsweep/stats.h. */
#include "specsweep/stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "specsweep/util.h"

void ss_stats_average_ranks(const double *x, int n, double *rank)
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

double ss_stats_spearman(const double *x, const double *y, int n)
{
    if (n < 2)
        return NAN;
    for (int i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i]))
            return NAN;
    double *rx = ss_malloc((size_t)n * sizeof *rx), *ry = ss_malloc((size_t)n * sizeof *ry);
    ss_stats_average_ranks(x, n, rx);
    ss_stats_average_ranks(y, n, ry);
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

void ss_stats_mean_std(const double *v, long n, double *mean, double *std)
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

void ss_stats_abs_columns(const double *m, int rows, int cols, double *mean, double *std)
{
    for (int j = 0; j < cols; j++) {
        double s = 0.0, v = 0.0;
        for (int i = 0; i < rows; i++)
            s += fabs(m[(size_t)i * cols + j]);
        s /= rows;
        for (int i = 0; i < rows; i++) {
            double d = fabs(m[(size_t)i * cols + j]) - s;
            v += d * d;
        }
        mean[j] = s;
        std[j] = sqrt(v / rows);
    }
}

double ss_stats_support_recall(const double *score, const double *truth, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(score[i]) || isnan(truth[i]))
            return NAN;
        s += truth[i] > 0.0;
    }
    if (s == 0 || s == n)
        return NAN;
    unsigned char *taken = ss_calloc((size_t)n, 1);
    int hits = 0;
    for (int t = 0; t < s; t++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || score[i] > score[best]))
                best = i;
        taken[best] = 1;
        hits += truth[best] > 0.0;
    }
    free(taken);
    return (double)hits / s;
}

double ss_stats_auroc(const double *score, const double *truth, int n)
{
    int pos = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(score[i]) || isnan(truth[i]))
            return NAN;
        pos += truth[i] > 0.0;
    }
    if (pos == 0 || pos == n)
        return NAN;
    /* Mann-Whitney: the rank sum of the support, average ranks for ties */
    double *rank = ss_malloc((size_t)n * sizeof *rank);
    ss_stats_average_ranks(score, n, rank);
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        if (truth[i] > 0.0)
            sum += rank[i];
    free(rank);
    double neg = n - pos;
    return (sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

/* ---- Kendall's tau-b (Knight's algorithm) ------------------------------------------ */

typedef struct {
    double x, y;
} xy_t;

static int by_x_then_y(const void *a, const void *b)
{
    const xy_t *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

/* Pairs of equal neighbours in v[0..n) sorted (every run of t equal values: t(t-1)/2). */
static int64_t tied_pairs(const double *v, int n)
{
    int64_t pairs = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        pairs += (int64_t)(j - i) * (j - i - 1) / 2;
        i = j;
    }
    return pairs;
}

/* Sorts y[0..n) ascending, bottom-up merge sort over the scratch tmp[n] (the sorted values
   end in y); returns the exchanges a bubble sort would make, the pairs i < j with
   y[i] > y[j]. Equal values never count: the left one is taken first. */
static int64_t merge_sort_exchanges(double *y, double *tmp, int n)
{
    int64_t swaps = 0;
    double *src = y, *dst = tmp;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                if (src[j] < src[i]) {
                    swaps += mid - i; /* src[j] passes every left value still waiting */
                    dst[o++] = src[j++];
                } else {
                    dst[o++] = src[i++];
                }
            }
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        double *t = src;
        src = dst;
        dst = t;
    }
    if (src != y)
        for (int i = 0; i < n; i++)
            y[i] = src[i];
    return swaps;
}

double ss_stats_kendall_tau_b(const double *x, const double *y, int n)
{
    if (n < 2)
        return NAN;
    for (int i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i]))
            return NAN;
    xy_t *p = ss_malloc((size_t)n * sizeof *p);
    double *v = ss_malloc((size_t)n * sizeof *v), *tmp = ss_malloc((size_t)n * sizeof *tmp);
    for (int i = 0; i < n; i++) {
        p[i].x = x[i];
        p[i].y = y[i];
    }
    qsort(p, (size_t)n, sizeof *p, by_x_then_y);
    int64_t n1 = 0, n3 = 0; /* pairs tied in x; tied in x and y */
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && p[j].x == p[i].x)
            j++;
        n1 += (int64_t)(j - i) * (j - i - 1) / 2;
        for (int q = i; q < j; q++)
            v[q] = p[q].y;
        n3 += tied_pairs(v + i, j - i); /* y is sorted within a run of equal x */
        i = j;
    }
    /* the x-ties are ordered by y, so the exchanges are exactly the discordant pairs */
    int64_t d = merge_sort_exchanges(v, tmp, n);
    int64_t n2 = tied_pairs(v, n), n0 = (int64_t)n * (n - 1) / 2;
    free(p);
    free(v);
    free(tmp);
    if (n0 == n1 || n0 == n2)
        return NAN; /* x or y constant */
    /* C - D = (n0 - n1 - n2 + n3 - D) - D */
    double s = (double)(n0 - n1 - n2 + n3 - 2 * d);
    return s / sqrt((double)(n0 - n1) * (double)(n0 - n2));
}

/* ---- top-k sets --------------------------------------------------------------------- */

typedef struct {
    double score;
    int index;
} scored_t;

static int by_score_desc(const void *a, const void *b)
{
    const scored_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index - y->index;
}

void ss_stats_rank_order(const double *score, int n, int *order)
{
    scored_t *r = ss_malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    for (int i = 0; i < n; i++) {
        r[i].score = isnan(score[i]) ? -INFINITY : score[i];
        r[i].index = i;
    }
    qsort(r, (size_t)n, sizeof *r, by_score_desc);
    for (int i = 0; i < n; i++)
        order[i] = r[i].index;
    free(r);
}

double ss_stats_topk_jaccard(const int *a, const int *pos_b, int k)
{
    if (k < 1)
        return NAN;
    int c = 0;
    for (int t = 0; t < k; t++)
        c += pos_b[a[t]] < k;
    return (double)c / (double)(2 * k - c);
}
