/*
 * stats.h - the statistics the results file and the summary report: mean and standard
 * deviation over realizations, average ranks, Spearman's and Kendall's rank correlations,
 * the overlap of two rankings' top k. Pure functions of their arguments; NaN marks a
 * missing value.
 */
#ifndef SPECSWEEP_STATS_H
#define SPECSWEEP_STATS_H

/* Mean and population standard deviation (ddof 0) of the non-NaN values of v[n], two
   passes (exact where a one-pass sum of squares cancels); both NaN when none is left. */
void ss_stats_mean_std(const double *v, long n, double *mean, double *std);

/* Column statistics of |m| for a rows x cols row-major matrix: mean[j] and std[j] (ddof
   0, two passes) over the rows of column j. NaN entries propagate (a column holding one
   gets NaN), as a missing realization must not pass unnoticed. rows >= 1. */
void ss_stats_abs_columns(const double *m, int rows, int cols, double *mean, double *std);

/* Ranks 1..n of x (ascending), ties sharing their average rank. */
void ss_stats_average_ranks(const double *x, int n, double *rank);

/* Spearman's rank correlation of x and y (Pearson on average ranks); NaN when n < 2,
   when either holds a NaN, or when either is constant. */
double ss_stats_spearman(const double *x, const double *y, int n);

/* With truth[i] > 0 marking the true support S (|S| = s): the share of S among the s
   inputs of largest score (ties broken by the lower index); NaN when S is empty or
   everything is in it, or a value is NaN. */
double ss_stats_support_recall(const double *score, const double *truth, int n);

/* The area under the ROC curve of score as a detector of truth[i] > 0: the chance that a
   random input of the support scores above a random one outside it (ties count half);
   NaN when either side is empty or a value is NaN. */
double ss_stats_auroc(const double *score, const double *truth, int n);

/* Kendall's tau-b of x and y (n pairs of values): (C - D) / sqrt((n0 - n1) (n0 - n2)),
   C and D the concordant and discordant pairs of entries, n0 = n (n - 1) / 2, n1 and n2
   the pairs tied in x and in y (a pair tied in both counts in n1 and n2, in neither C nor
   D): scipy.stats.kendalltau's default. Knight's algorithm: a sort by (x, y), then a merge
   sort of y that counts its exchanges (the discordant pairs); O(n log n) time and O(n)
   scratch. NaN when n < 2, when either holds a NaN, or when either is constant. */
double ss_stats_kendall_tau_b(const double *x, const double *y, int n);

/* order[0..n) = the indices of score in ranking order: largest first, ties by the lower
   index, NaN last. The order of the top-k curves and of the retraining runs' inputs. */
void ss_stats_rank_order(const double *score, int n, int *order);

/* The Jaccard index |A & B| / |A | B| = c / (2k - c), c = |A & B|, of A, the first k
   entries of order a, and B, the first k of another order of the same indices, given by
   its inverse: pos_b[i] is the place of index i in it. O(k); NaN when k < 1. */
double ss_stats_topk_jaccard(const int *a, const int *pos_b, int k);

#endif
