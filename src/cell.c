/* cell.c - the statistics of one summary cell. See include/specsweep/cell.h. */
#include "specsweep/cell.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/stats.h"
#include "specsweep/util.h"

/* At least one element, so that an empty matrix still has an address. */
static void *alloc_n(size_t n, size_t size) { return ss_calloc(n > 0 ? n : 1, size); }

void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs)
{
    memset(cs, 0, sizeof *cs);
    const ss_result_t *r0 = ok[0];
    int d = n_inputs, K = r0->n_topk;
    cs->n = n;
    cs->n_inputs = d;
    cs->n_topk = K;
    cs->seeds = alloc_n((size_t)n, sizeof *cs->seeds);
    cs->eigenvalues = alloc_n((size_t)n * (size_t)d, sizeof *cs->eigenvalues);
    cs->abs_mean = alloc_n((size_t)d, sizeof *cs->abs_mean);
    cs->abs_std = alloc_n((size_t)d, sizeof *cs->abs_std);
    cs->test_accuracy = alloc_n((size_t)n, sizeof *cs->test_accuracy);
    cs->test_loss = alloc_n((size_t)n, sizeof *cs->test_loss);
    cs->topk = alloc_n((size_t)K, sizeof *cs->topk);
    cs->topk_accuracy = alloc_n((size_t)n * (size_t)K, sizeof *cs->topk_accuracy);
    cs->randomk_accuracy = alloc_n((size_t)n * (size_t)K, sizeof *cs->randomk_accuracy);
    if (K > 0)
        memcpy(cs->topk, r0->topk, (size_t)K * sizeof *cs->topk);

    for (int j = 0; j < n; j++) {
        const ss_result_t *r = ok[j];
        cs->seeds[j] = r->seed;
        cs->test_accuracy[j] = r->test_accuracy;
        cs->test_loss[j] = r->test_loss;
        for (int i = 0; i < d; i++)
            cs->eigenvalues[(size_t)j * d + i] = r->n_inputs == d ? r->eigenvalues[i] : NAN;
        for (int q = 0; q < K; q++) { /* match k values, in case the lists differ */
            double t = NAN, rk = NAN;
            for (int p = 0; p < r->n_topk; p++)
                if (r->topk[p] == r0->topk[q]) {
                    t = r->topk_accuracy[p];
                    rk = r->randomk_accuracy[p];
                    break;
                }
            cs->topk_accuracy[(size_t)j * K + q] = t;
            cs->randomk_accuracy[(size_t)j * K + q] = rk;
        }
    }
    ss_stats_abs_columns(cs->eigenvalues, n, d, cs->abs_mean, cs->abs_std);
}

void ss_cell_stats_free(ss_cell_stats_t *cs)
{
    if (!cs)
        return;
    free(cs->seeds);
    free(cs->eigenvalues);
    free(cs->abs_mean);
    free(cs->abs_std);
    free(cs->test_accuracy);
    free(cs->test_loss);
    free(cs->topk);
    free(cs->topk_accuracy);
    free(cs->randomk_accuracy);
    memset(cs, 0, sizeof *cs);
}
