/* stats.c - means, spreads and rank correlations. See include/specsweep/stats.h. */
#include "specsweep/stats.h"

#include <math.h>
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

/* ---- ordering -------------------------------------------------------------------------- */

typedef struct {
    double score;
    int index;
} ranked_t;

static int by_score_desc(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index - y->index;
}

void ss_stats_order_desc(const double *score, int d, int *order)
{
    ranked_t *r = ss_malloc((size_t)d * sizeof *r);
    for (int i = 0; i < d; i++) {
        r[i].score = isnan(score[i]) ? -INFINITY : score[i];
        r[i].index = i;
    }
    qsort(r, (size_t)d, sizeof *r, by_score_desc);
    for (int i = 0; i < d; i++)
        order[i] = r[i].index;
    free(r);
}
