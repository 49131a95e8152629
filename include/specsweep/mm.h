/*
 * mm.h - the dense matrix products of the network's layers, through small-matrix kernels.
 *
 * A product C (m, n) = op(A) op(B), row-major, op = identity or transpose, beta = 0, is
 * described once, when a network is built (ss_mm_plan), with its full shape; each call
 * (ss_mm_run) may then shrink one dimension (a smaller batch). Two kernels can compute it:
 *
 *   SS_MM_XSMM  libxsmm's JIT-generated kernel for the exact shape (the library is
 *               optional: built in when CMake finds it, SS_HAVE_LIBXSMM). Made for small
 *               matrices: on the papers' layer shapes (a few hundred rows times 100
 *               columns) it reaches twice OpenBLAS' rate (bench/README.md).
 *   SS_MM_BLAS  OpenBLAS' cblas_sgemm.
 *
 * Which one a product uses is decided by ss_mm_plan and recorded in the plan (kernel,
 * and with measurement the two rates), so that benchmarks and tests can print it
 * (ss_mm_kernel_name). The policy comes from the environment, SPECSWEEP_KERNELS:
 *
 *   auto     (default, or unset) libxsmm for every product it has a kernel for, OpenBLAS
 *            for the others (libxsmm has none for a transposed A in its column-major
 *            terms: the caller keeps transposed copies instead, see net.c).
 *   measure  per product, the faster of the two, timed at planning (interleaved, best of
 *            several rounds, a few ms per product).
 *   blas     OpenBLAS everywhere.
 *
 * The two kernels sum in different orders, so they round differently. `auto` and `blas`
 * depend only on the shapes and the CPU: every process on a machine makes the same
 * choice, and a run gives the same bits in any process (1 or 3 ranks, resumed or not).
 * `measure` depends on timings, so where the two kernels are close, two processes may
 * choose differently and a fixed seed's results may differ by rounding between them.
 *
 * One exception on libxsmm's side: a product with at most 4 output columns (the forward
 * product and weight gradient of a binary classifier's output layer), where libxsmm's
 * kernel would use 2 of its 16 lanes, runs mm.c's own loops, which compute libxsmm's
 * sums (the multiply-add chain over k in increasing order) with the lanes over C's rows:
 * the same bits, 1.5 x (forward) and 3 x (weight gradient) the rate.
 *
 * Kernels are generated (JIT) when the plan is made, for the full shape; a call with a
 * smaller shape generates its kernel once and keeps it in the plan (SS_MM_CACHE shapes,
 * the oldest replaced). The plan owns them: ss_mm_release frees them.
 */
#ifndef SPECSWEEP_MM_H
#define SPECSWEEP_MM_H

#include <stddef.h>

typedef enum { SS_MM_BLAS = 0, SS_MM_XSMM = 1 } ss_mm_kernel_t;

typedef enum { SS_MM_AUTO = 0, SS_MM_MEASURE = 1, SS_MM_ONLY_BLAS = 2 } ss_mm_policy_t;

#define SS_MM_CACHE 8

typedef struct {
    int trans_a, trans_b;           /* op(A), op(B): 1 = transposed */
    int m, n, k;                    /* the full shape: C (m, n), sum over k */
    ss_mm_kernel_t kernel;          /* the choice for this product */
    double gflops[2];               /* measured rate of [SS_MM_BLAS], [SS_MM_XSMM];
                                       0 when not measured or not available */
    void *fn[SS_MM_CACHE];          /* libxsmm kernels: [0] the full shape, then smaller */
    size_t fn_size[SS_MM_CACHE];    /* their code's bytes */
    int fn_shape[SS_MM_CACHE][3];   /* (m, n, k) of each; m = 0: empty slot */
    int fn_next;                    /* the slot [1, SS_MM_CACHE) replaced next */
} ss_mm_t;

/*
 * The policy named by $SPECSWEEP_KERNELS (auto, measure or blas; unset or empty = auto).
 * Returns 0, or -1 for any other value.
 */
int ss_mm_policy_from_env(ss_mm_policy_t *policy);

/* 1 when the build has libxsmm and libxsmm generates kernels for this CPU. */
int ss_mm_have_xsmm(void);

/*
 * Describe the product C (m, n) = op(A) op(B) and choose its kernel by `policy` (see
 * above); p is overwritten (release a used plan first). The kernels it generates belong
 * to p: ss_mm_release frees them. With SS_MM_MEASURE it times both kernels on scratch
 * operands (ss_mm_measure).
 */
void ss_mm_plan(ss_mm_t *p, int trans_a, int trans_b, int m, int n, int k,
                ss_mm_policy_t policy);

/*
 * Time both kernels on the plan's full shape (scratch operands, interleaved rounds, best
 * of each) into p->gflops. Does not change p->kernel.
 */
void ss_mm_measure(ss_mm_t *p);

/*
 * C (m, n) = op(A) op(B) with the plan's kernel, row-major with tight leading dimensions
 * (A is (m, k), or (k, m) when transposed; B is (k, n), or (n, k)). m, n, k may be
 * smaller than the plan's shape; any zero makes it a no-op.
 */
void ss_mm_run(ss_mm_t *p, int m, int n, int k, const float *A, const float *B, float *C);

/* Frees the plan's kernels; the plan stays usable (kernels are generated again on
   demand). Accepts a zeroed plan. */
void ss_mm_release(ss_mm_t *p);

/* "libxsmm" or "OpenBLAS". */
const char *ss_mm_kernel_name(ss_mm_kernel_t kernel);

#endif
