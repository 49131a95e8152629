/*
 * test_stats.c - the scores of a relevance against a ground truth (stats.h):
 * ss_stats_support_recall and ss_stats_auroc against a direct computation of their
 * definitions, on hand-made cases and on random scores full of ties.
 *
 * Ties, as stats.h states them:
 *   support recall  the s = |support| inputs of largest score are taken one by one, a tie
 *                   going to the lower index; the recall is the share of the support
 *                   among them. The reference sorts by (score descending, index
 *                   ascending) and counts the support in the first s.
 *   AUROC           every (support, non-support) pair counts 1 when the support input
 *                   scores higher, 1/2 on a tie, 0 otherwise; the mean over all pairs.
 *                   The code computes it from average ranks (Mann-Whitney U); the
 *                   reference counts the pairs.
 * The support is truth > 0: zero and negative truths are outside it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "specsweep/stats.h"
#include "testutil.h"

/* ---- the definitions, computed directly --------------------------------------------- */

static const double *sort_score; /* qsort has no context argument */

/* Score descending, then index ascending. */
static int by_score_then_index(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    if (sort_score[a] != sort_score[b])
        return sort_score[a] > sort_score[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static double ref_support_recall(const double *score, const double *truth, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += truth[i] > 0.0;
    if (s == 0 || s == n)
        return NAN;
    int *order = malloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = i;
    sort_score = score;
    qsort(order, (size_t)n, sizeof *order, by_score_then_index);
    int hits = 0;
    for (int t = 0; t < s; t++)
        hits += truth[order[t]] > 0.0;
    free(order);
    return (double)hits / s;
}

static double ref_auroc(const double *score, const double *truth, int n)
{
    double wins = 0.0;
    long pairs = 0;
    for (int p = 0; p < n; p++) {
        if (!(truth[p] > 0.0))
            continue;
        for (int q = 0; q < n; q++) {
            if (truth[q] > 0.0)
                continue;
            wins += score[p] > score[q] ? 1.0 : score[p] == score[q] ? 0.5 : 0.0;
            pairs++;
        }
    }
    return pairs ? wins / (double)pairs : NAN;
}

/* ---- the cases ------------------------------------------------------------------------ */

/* Hand-made cases with their values worked out in the comment. */
static void test_hand_cases(void)
{
    /* perfect and reversed detectors */
    double up[4] = {4, 3, 2, 1}, down[4] = {1, 2, 3, 4}, truth[4] = {1, 1, 0, 0};
    CHECK(ss_stats_support_recall(up, truth, 4) == 1.0 && ss_stats_auroc(up, truth, 4) == 1.0,
          "a perfect ranking: recall 1, AUROC 1");
    CHECK(ss_stats_support_recall(down, truth, 4) == 0.0 &&
          ss_stats_auroc(down, truth, 4) == 0.0, "a reversed ranking: recall 0, AUROC 0");

    /* all scores equal, support {0, 3}: the top 2 are inputs 0 and 1 (lower index), one
       of them in the support -> 1/2; every pair ties -> AUROC 1/2 */
    double flat[4] = {1, 1, 1, 1}, ends[4] = {1, 0, 0, 1};
    CHECK(ss_stats_support_recall(flat, ends, 4) == 0.5, "constant score: ties by index, %g",
          ss_stats_support_recall(flat, ends, 4));
    CHECK(ss_stats_auroc(flat, ends, 4) == 0.5, "constant score: AUROC 1/2, %g",
          ss_stats_auroc(flat, ends, 4));

    /* score 2 1 1 0, support {2, 3}: the top 2 are 0 and then 1 (the tie of 1 and 2 goes
       to the lower index), none in the support -> 0. Pairs (support, other):
       (2,0) 1<2: 0; (2,1) tie: 1/2; (3,0) 0; (3,1) 0 -> AUROC 0.5 / 4 = 0.125 */
    double tie[4] = {2, 1, 1, 0}, back[4] = {0, 0, 1, 1};
    CHECK(ss_stats_support_recall(tie, back, 4) == 0.0, "a tie at the cut goes to the lower "
          "index: %g", ss_stats_support_recall(tie, back, 4));
    CHECK(fabs(ss_stats_auroc(tie, back, 4) - 0.125) < 1e-15, "a tie counts half: %g",
          ss_stats_auroc(tie, back, 4));

    /* the same scores with the support {1, 3}: the top 2 are 0 and 1 -> 1/2 */
    double odd[4] = {0, 1, 0, 1};
    CHECK(ss_stats_support_recall(tie, odd, 4) == 0.5, "the tie now falls on the support: %g",
          ss_stats_support_recall(tie, odd, 4));

    /* negative and zero truths are outside the support: support {1} */
    double score3[3] = {0.1, 0.5, 0.9}, signed3[3] = {-2, 3, 0};
    CHECK(ss_stats_support_recall(score3, signed3, 3) == 0.0 &&
          ss_stats_auroc(score3, signed3, 3) == 0.5, "truth <= 0 is not support: %g %g",
          ss_stats_support_recall(score3, signed3, 3), ss_stats_auroc(score3, signed3, 3));

    /* undefined: an empty support, everything in it, a NaN on either side */
    double none[4] = {0, 0, 0, 0}, all[4] = {1, 2, 3, 4}, nan_score[4] = {1, NAN, 3, 4};
    double nan_truth[4] = {1, 0, NAN, 0};
    CHECK(isnan(ss_stats_support_recall(up, none, 4)) && isnan(ss_stats_auroc(up, none, 4)),
          "empty support: NaN");
    CHECK(isnan(ss_stats_support_recall(up, all, 4)) && isnan(ss_stats_auroc(up, all, 4)),
          "everything in the support: NaN");
    CHECK(isnan(ss_stats_support_recall(nan_score, truth, 4)) &&
          isnan(ss_stats_auroc(nan_score, truth, 4)) &&
          isnan(ss_stats_support_recall(up, nan_truth, 4)) &&
          isnan(ss_stats_auroc(up, nan_truth, 4)), "a NaN score or truth: NaN");
}

/* A small deterministic generator (splitmix64), independent of the code under test. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random cases: n from 2 to 80, scores from a few levels (ties everywhere) or
   continuous, truth 0 or a positive value; both scores equal their references (the
   recall exactly, the AUROC to rounding), NaN exactly where the reference is. */
static void test_random_cases(void)
{
    uint64_t s = 12345;
    int recall_bad = 0, auroc_bad = 0, nan_bad = 0, defined = 0;
    double score[80], truth[80];
    for (int trial = 0; trial < 2000; trial++) {
        int n = 2 + (int)(mix(&s) % 79);
        int levels = trial % 3 == 0 ? 0 : 2 + (int)(mix(&s) % 4); /* 0: continuous */
        for (int i = 0; i < n; i++) {
            uint64_t r = mix(&s);
            score[i] = levels ? (double)(r % (uint64_t)levels) : (double)(r >> 11) * 0x1p-53;
            truth[i] = mix(&s) % 3 == 0 ? 0.5 + (double)(mix(&s) % 4) : 0.0;
        }
        double rr = ref_support_recall(score, truth, n), ra = ref_auroc(score, truth, n);
        double gr = ss_stats_support_recall(score, truth, n), ga = ss_stats_auroc(score, truth, n);
        if (isnan(rr) != isnan(gr) || isnan(ra) != isnan(ga)) {
            nan_bad++;
            continue;
        }
        if (isnan(rr))
            continue;
        defined++;
        recall_bad += gr != rr;
        auroc_bad += fabs(ga - ra) > 1e-12;
    }
    CHECK(defined > 1500, "most random cases have a defined score (%d of 2000)", defined);
    CHECK(nan_bad == 0, "NaN exactly where the definition is undefined (%d wrong)", nan_bad);
    CHECK(recall_bad == 0, "support recall equals the sorted count (%d of %d differ)",
          recall_bad, defined);
    CHECK(auroc_bad == 0, "AUROC equals the pair count (%d of %d differ)", auroc_bad, defined);
}

int main(void)
{
    test_hand_cases();
    test_random_cases();
    return ss_test_report();
}
