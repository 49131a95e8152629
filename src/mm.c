/*
 * mm.c - dense products through libxsmm or OpenBLAS. See include/specsweep/mm.h.
 *
 * libxsmm is column-major. A row-major C (m, n) = op(A) op(B) is the column-major
 * C^T (n, m) = op(B)^T op(A)^T, so libxsmm gets (M, N, K) = (n, m, k) with its A = our B
 * and its B = our A; our trans_b is its TRANS_A, which its generator lacks, and our
 * trans_a its TRANS_B, which it has for float32.
 */
#include "specsweep/mm.h"
#include "specsweep/util.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#ifdef SS_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

int ss_mm_policy_from_env(ss_mm_policy_t *policy)
{
    const char *s = getenv("SPECSWEEP_KERNELS");
    if (!s || !*s || strcmp(s, "auto") == 0)
        *policy = SS_MM_AUTO;
    else if (strcmp(s, "measure") == 0)
        *policy = SS_MM_MEASURE;
    else if (strcmp(s, "blas") == 0)
        *policy = SS_MM_ONLY_BLAS;
    else
        return -1;
    return 0;
}

int ss_mm_have_xsmm(void)
{
#ifdef SS_HAVE_LIBXSMM
    return libxsmm_get_target_archid() >= LIBXSMM_X86_AVX2;
#else
    return 0;
#endif
}

const char *ss_mm_kernel_name(ss_mm_kernel_t kernel)
{
    return kernel == SS_MM_XSMM ? "libxsmm" : "OpenBLAS";
}

/* libxsmm's kernel for row-major (m, n, k) with the plan's transposes, or NULL when it
   has none (or the build has no libxsmm). */
static void *xsmm_dispatch(const ss_mm_t *p, int m, int n, int k)
{
#ifdef SS_HAVE_LIBXSMM
    if (p->trans_b || !ss_mm_have_xsmm())
        return NULL;
    const float alpha = 1.0f, beta = 0.0f;
    const int flags = p->trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    const libxsmm_blasint lda = n, ldb = p->trans_a ? m : k, ldc = n;
    return (void *)libxsmm_smmdispatch(n, m, k, &lda, &ldb, &ldc, &alpha, &beta, &flags,
                                       NULL);
#else
    (void)p; (void)m; (void)n; (void)k;
    return NULL;
#endif
}

static void blas_run(const ss_mm_t *p, int m, int n, int k, const float *A, const float *B,
                     float *C)
{
    cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                p->trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, p->trans_a ? m : k,
                B, p->trans_b ? k : n, 0.0f, C, n);
}

static void xsmm_call(void *fn, const float *A, const float *B, float *C)
{
#ifdef SS_HAVE_LIBXSMM
    ((libxsmm_smmfunction)fn)(B, A, C);
#else
    (void)fn; (void)A; (void)B; (void)C;
#endif
}

/* The libxsmm kernel of shape (m, n, k): from the plan's slots, else dispatched once into
   the next slot. NULL when libxsmm has none. */
static void *xsmm_kernel(ss_mm_t *p, int m, int n, int k)
{
    for (int s = 0; s < SS_MM_CACHE; s++)
        if (p->fn_shape[s][0] == m && p->fn_shape[s][1] == n && p->fn_shape[s][2] == k)
            return p->fn[s];
    int s = p->fn_next;
    p->fn_next = s + 1 < SS_MM_CACHE ? s + 1 : 1;
    p->fn[s] = xsmm_dispatch(p, m, n, k);
    p->fn_shape[s][0] = m;
    p->fn_shape[s][1] = n;
    p->fn_shape[s][2] = k;
    return p->fn[s];
}

void ss_mm_run(ss_mm_t *p, int m, int n, int k, const float *A, const float *B, float *C)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        memset(C, 0, (size_t)m * (size_t)n * sizeof(float));
        return;
    }
    void *fn = p->kernel == SS_MM_XSMM ? xsmm_kernel(p, m, n, k) : NULL;
    if (fn)
        xsmm_call(fn, A, B, C);
    else
        blas_run(p, m, n, k, A, B, C);
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* Seconds per call of the plan's full shape with `kernel`: best of interleaved rounds of
   >= 1 ms each. */
#define MEASURE_ROUNDS 5
#define MEASURE_ROUND_SECONDS 1e-3

void ss_mm_measure(ss_mm_t *p)
{
    size_t na = round16((size_t)p->m * p->k), nb = round16((size_t)p->k * p->n);
    size_t nc = round16((size_t)p->m * p->n);
    float *A = ss_alloc_aligned((na + nb + nc) * sizeof(float)), *B = A + na, *C = B + nb;
    for (size_t i = 0; i < na + nb; i++)   /* small values: no denormals, no overflow */
        A[i] = (float)((int)(i * 37 % 101) - 50) * 1e-2f;
    void *fn = xsmm_dispatch(p, p->m, p->n, p->k);
    double best[2] = {1e30, 1e30};
    double flops = 2.0 * p->m * p->n * p->k;
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
        for (int kind = 0; kind < 2; kind++) {
            if (kind == SS_MM_XSMM && !fn)
                continue;
            long calls = 0;
            double t0 = ss_now(), el;
            do {
                if (kind == SS_MM_XSMM)
                    xsmm_call(fn, A, B, C);
                else
                    blas_run(p, p->m, p->n, p->k, A, B, C);
                calls++;
            } while ((el = ss_now() - t0) < MEASURE_ROUND_SECONDS);
            if (el / calls < best[kind])
                best[kind] = el / calls;
        }
    }
    p->gflops[SS_MM_BLAS] = flops / best[SS_MM_BLAS] / 1e9;
    p->gflops[SS_MM_XSMM] = fn ? flops / best[SS_MM_XSMM] / 1e9 : 0.0;
    free(A);
}

void ss_mm_plan(ss_mm_t *p, int trans_a, int trans_b, int m, int n, int k,
                ss_mm_policy_t policy)
{
    memset(p, 0, sizeof *p);
    p->trans_a = trans_a;
    p->trans_b = trans_b;
    p->m = m;
    p->n = n;
    p->k = k;
    p->fn_next = 1;
    p->kernel = SS_MM_BLAS;
    if (policy == SS_MM_ONLY_BLAS || m < 1 || n < 1 || k < 1)
        return;
    p->fn[0] = xsmm_dispatch(p, m, n, k);
    p->fn_shape[0][0] = m;
    p->fn_shape[0][1] = n;
    p->fn_shape[0][2] = k;
    if (!p->fn[0])
        return;
    p->kernel = SS_MM_XSMM;
    if (policy == SS_MM_MEASURE) {
        ss_mm_measure(p);
        if (p->gflops[SS_MM_BLAS] > p->gflops[SS_MM_XSMM])
            p->kernel = SS_MM_BLAS;
    }
}
