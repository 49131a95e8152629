/* cell.c - the statistics of one summary cell. See include/specsweep/cell.h. */
#include "specsweep/cell.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/stats.h"
#include "specsweep/util.h"

/* At least one element, so that an empty matrix still has an address. */
static void *alloc_n(size_t n, size_t size) { return ss_calloc(n > 0 ? n : 1, size); }

void ss_cell_stats_begin(ss_cell_stats_t *cs, int n_max, int n_inputs,
                         const ss_result_t *first)
{
    memset(cs, 0, sizeof *cs);
    int d = n_inputs, K = first->n_topk;
    cs->n_inputs = d;
    cs->n_topk = K;
    cs->seeds = alloc_n((size_t)n_max, sizeof *cs->seeds);
    cs->eigenvalues = alloc_n((size_t)n_max * (size_t)d, sizeof *cs->eigenvalues);
    cs->abs_mean = alloc_n((size_t)d, sizeof *cs->abs_mean);
    cs->abs_std = alloc_n((size_t)d, sizeof *cs->abs_std);
    cs->test_accuracy = alloc_n((size_t)n_max, sizeof *cs->test_accuracy);
    cs->test_loss = alloc_n((size_t)n_max, sizeof *cs->test_loss);
    cs->topk = alloc_n((size_t)K, sizeof *cs->topk);
    cs->topk_accuracy = alloc_n((size_t)n_max * (size_t)K, sizeof *cs->topk_accuracy);
    cs->randomk_accuracy = alloc_n((size_t)n_max * (size_t)K, sizeof *cs->randomk_accuracy);
    if (K > 0)
        memcpy(cs->topk, first->topk, (size_t)K * sizeof *cs->topk);
}

void ss_cell_stats_add(ss_cell_stats_t *cs, const ss_result_t *r)
{
    int j = cs->n++, d = cs->n_inputs, K = cs->n_topk;
    cs->seeds[j] = r->seed;
    cs->test_accuracy[j] = r->test_accuracy;
    cs->test_loss[j] = r->test_loss;
    for (int i = 0; i < d; i++) /* a run of another input count has no row */
        cs->eigenvalues[(size_t)j * d + i] = r->n_inputs == d ? r->eigenvalues[i] : NAN;
    for (int q = 0; q < K; q++) { /* match k values, in case the lists differ */
        double t = NAN, rk = NAN;
        for (int p = 0; p < r->n_topk; p++)
            if (r->topk[p] == cs->topk[q]) {
                t = r->topk_accuracy[p];
                rk = r->randomk_accuracy[p];
                break;
            }
        cs->topk_accuracy[(size_t)j * K + q] = t;
        cs->randomk_accuracy[(size_t)j * K + q] = rk;
    }
}

void ss_cell_stats_end(ss_cell_stats_t *cs)
{
    if (cs->n > 0)
        ss_stats_abs_columns(cs->eigenvalues, cs->n, cs->n_inputs, cs->abs_mean, cs->abs_std);
}

void ss_cell_stats_compute(const ss_result_t *const *ok, int n, int n_inputs,
                           ss_cell_stats_t *cs)
{
    ss_cell_stats_begin(cs, n, n_inputs, ok[0]);
    for (int j = 0; j < n; j++)
        ss_cell_stats_add(cs, ok[j]);
    ss_cell_stats_end(cs);
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
