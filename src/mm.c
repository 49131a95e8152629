/*
 * mm.c - dense products through libxsmm or OpenBLAS. See include/specsweep/mm.h.
 *
 * libxsmm is column-major. A row-major C (m, n) = op(A) op(B) is the column-major
 * C^T (n, m) = op(B)^T op(A)^T, so libxsmm gets (M, N, K) = (n, m, k) with its A = our B
 * and its B = our A; our trans_b is its TRANS_A, which its generator lacks, and our
 * trans_a its TRANS_B, which it has for float32.
 *
 * The kernels come from libxsmm's code generator alone (libxsmmgen: descriptor in,
 * machine code out), copied into pages of our own made executable, and freed with the
 * plan. libxsmm's dispatch front end (libxsmm) would keep them in a process-wide
 * registry whose initialisation alone touches 11 MB (131072 entries) in every process,
 * more than the fig. 3 run's whole workspace; without it a kernel costs its code size
 * (a few pages).
 */
#include "specsweep/mm.h"
#include "specsweep/util.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#ifdef SS_HAVE_LIBXSMM
#include <libxsmm_cpuid.h>
#include <libxsmm_generator.h>
#include <sys/mman.h>
/* the generator's "code buffer too small" (libxsmm/generator_common.h, not installed as
   an API header) */
#define XSMM_ERR_BUFFER_TOO_SMALL 90002
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
    static int arch = -1;   /* CPUID: the same answer in every thread */
    if (arch < 0)
        arch = libxsmm_cpuid();
    return arch >= LIBXSMM_X86_AVX2;
#else
    return 0;
#endif
}

const char *ss_mm_kernel_name(ss_mm_kernel_t kernel)
{
    return kernel == SS_MM_XSMM ? "libxsmm" : "OpenBLAS";
}

/* libxsmm's kernel for row-major (m, n, k) with the plan's transposes, in executable
   pages of *size bytes; NULL when it has none (or the build has no libxsmm). */
static void *xsmm_generate(const ss_mm_t *p, int m, int n, int k, size_t *size)
{
#ifdef SS_HAVE_LIBXSMM
    if (p->trans_b || !ss_mm_have_xsmm())
        return NULL;
    const int flags = p->trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    libxsmm_descriptor_blob blob;
    const libxsmm_gemm_descriptor *desc = libxsmm_sgemm_descriptor_init(
        &blob, n, m, k, n, p->trans_a ? m : k, n, 1.0f, 0.0f, flags,
        LIBXSMM_GEMM_PREFETCH_NONE);
    if (!desc)
        return NULL;
    libxsmm_generated_code code;
    memset(&code, 0, sizeof code);
    code.code_type = 2;                   /* binary */
    code.arch = (unsigned)libxsmm_cpuid();
    for (unsigned cap = 1u << 16; cap <= 1u << 26; cap *= 4) {   /* 64 KB .. 64 MB */
        code.generated_code = ss_malloc(cap);
        code.buffer_size = cap;
        code.code_size = 0;
        code.last_error = 0;
        libxsmm_generator_gemm_kernel(&code, desc);
        if (code.last_error != XSMM_ERR_BUFFER_TOO_SMALL)
            break;
        free(code.generated_code);
        code.generated_code = NULL;
    }
    void *fn = NULL;
    if (code.generated_code && code.last_error == 0 && code.code_size > 0) {
        fn = mmap(NULL, code.code_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
        if (fn == MAP_FAILED) {
            fn = NULL;
        } else {
            memcpy(fn, code.generated_code, code.code_size);
            if (mprotect(fn, code.code_size, PROT_READ | PROT_EXEC) != 0) {
                munmap(fn, code.code_size);
                fn = NULL;
            }
        }
    }
    free(code.generated_code);
    *size = fn ? code.code_size : 0;
    return fn;
#else
    (void)p; (void)m; (void)n; (void)k;
    *size = 0;
    return NULL;
#endif
}

static void xsmm_free(void *fn, size_t size)
{
#ifdef SS_HAVE_LIBXSMM
    if (fn)
        munmap(fn, size);
#else
    (void)fn; (void)size;
#endif
}

void ss_mm_release(ss_mm_t *p)
{
    for (int s = 0; s < SS_MM_CACHE; s++) {
        xsmm_free(p->fn[s], p->fn_size[s]);
        p->fn[s] = NULL;
        p->fn_size[s] = 0;
        p->fn_shape[s][0] = 0;
    }
}

static void blas_run(const ss_mm_t *p, int m, int n, int k, const float *A, const float *B,
                     float *C)
{
    cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                p->trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, p->trans_a ? m : k,
                B, p->trans_b ? k : n, 0.0f, C, n);
}

/*
 * Products of few output columns (n <= NARROW_MAX_N): the forward product and the weight
 * gradient of a binary classifier's (or a regression's) output layer. libxsmm vectorises
 * over n, so that 2 of 16 lanes work (31 GFLOP/s for n = 2); mm.c's own loops vectorise
 * over m, C's rows, instead. Each C[i, j] is the chain of multiply-adds over the k terms
 * from 0 in increasing order, which is exactly libxsmm's sum (checked on the network's
 * shapes: the same bits; test_mm checks every such product), so they stand in for
 * libxsmm's kernel where the plan has chosen that one, m >= 16, k >= 16 and the compiler
 * fuses the multiply-adds (__FMA__). 16 values of i per vector; a vector ending at m
 * overlaps the one before when 16 does not divide m (the same sums twice).
 *   narrow_tn  C = A^T B (A is (k, m)): A's rows are C's rows' terms in place;
 *              NARROW_VECTORS vectors x n accumulators per pass over the k rows.
 *   narrow_nn  C = A B (A is (m, k)): 16 rows of A at a time, transposed in registers
 *              in 16 x 16 tiles (vec.h), the tile ending at k taking only its new
 *              columns.
 */
#define NARROW_MAX_N 4
#define NARROW_VECTORS 4

/* The start of vector c of the nc covering [0, m): the last one ends at m. */
static inline int narrow_col(int c, int nc, int m) { return c == nc - 1 ? m - 16 : c * 16; }

/* C's rows col[0..nv) + (0..16) of C (m, n) = A^T B, A (k, m), B (k, n). */
static inline __attribute__((always_inline)) void
narrow_tn_pass(int m, int k, const float *A, const float *B, float *C, const int *col,
               int n, int nv)
{
    v16 acc[NARROW_MAX_N][NARROW_VECTORS];
    for (int j = 0; j < n; j++)
        for (int u = 0; u < nv; u++)
            acc[j][u] = (v16){0};
    for (int q = 0; q < k; q++) {
        const float *a = A + (size_t)q * m;
        v16 av[NARROW_VECTORS];
        for (int u = 0; u < nv; u++)
            av[u] = v16_load(a + col[u]);
        for (int j = 0; j < n; j++) {
            float bj = B[(size_t)q * n + j];
            for (int u = 0; u < nv; u++)
                acc[j][u] += av[u] * bj;
        }
    }
    for (int j = 0; j < n; j++)
        for (int u = 0; u < nv; u++)
            for (int l = 0; l < 16; l++)
                C[(size_t)(col[u] + l) * n + j] = acc[j][u][l];
}

/* C (m, n) = A^T B, A (k, m), B (k, n): passes of up to NARROW_VECTORS vectors; the
   switches give each (n, pass width) its own unrolled copy. */
static void narrow_tn(int m, int n, int k, const float *A, const float *B, float *C)
{
    int nc = (m + 15) / 16;
    for (int c0 = 0; c0 < nc; c0 += NARROW_VECTORS) {
        int nv = nc - c0 < NARROW_VECTORS ? nc - c0 : NARROW_VECTORS, col[NARROW_VECTORS];
        for (int u = 0; u < nv; u++)
            col[u] = narrow_col(c0 + u, nc, m);
#define NARROW_NV(nn, v) case v: narrow_tn_pass(m, k, A, B, C, col, nn, v); break;
#define NARROW_N(nn)                                                              \
        case nn:                                                                  \
            switch (nv) { NARROW_NV(nn, 1) NARROW_NV(nn, 2) NARROW_NV(nn, 3)      \
                          NARROW_NV(nn, 4) }                                      \
            break;
        switch (n) { NARROW_N(1) NARROW_N(2) NARROW_N(3) NARROW_N(4) }
#undef NARROW_N
#undef NARROW_NV
    }
}

/* C's rows i0 + (0..16) of C (m, n) = A B, A (m, k), B (k, n), for n (a constant where
   inlined): the chains over k, 16 columns of A at a time transposed into t[q] = column
   k0 + q of the 16 rows. */
static inline __attribute__((always_inline)) void
narrow_nn_rows(int k, const float *A, const float *B, float *C, int i0, int n)
{
    v16 acc[NARROW_MAX_N];
    for (int j = 0; j < n; j++)
        acc[j] = (v16){0};
    int nt = (k + 15) / 16;
    for (int c = 0; c < nt; c++) {
        int k0 = narrow_col(c, nt, k), q0 = c * 16 - k0;   /* q0 > 0: overlap, done */
        v16 t[16];
        for (int i = 0; i < 16; i++)
            t[i] = v16_load(A + (size_t)(i0 + i) * k + k0);
        v16_transpose(t);
        for (int q = q0; q < 16; q++)
            for (int j = 0; j < n; j++)
                acc[j] += t[q] * B[(size_t)(k0 + q) * n + j];
    }
    for (int j = 0; j < n; j++)
        for (int l = 0; l < 16; l++)
            C[(size_t)(i0 + l) * n + j] = acc[j][l];
}

/* C (m, n) = A B, A (m, k), B (k, n): 16 rows at a time, the last 16 ending at m. */
static void narrow_nn(int m, int n, int k, const float *A, const float *B, float *C)
{
    int nr = (m + 15) / 16;
    for (int c = 0; c < nr; c++) {
        int i0 = narrow_col(c, nr, m);
        switch (n) {
        case 1: narrow_nn_rows(k, A, B, C, i0, 1); break;
        case 2: narrow_nn_rows(k, A, B, C, i0, 2); break;
        case 3: narrow_nn_rows(k, A, B, C, i0, 3); break;
        default: narrow_nn_rows(k, A, B, C, i0, 4); break;
        }
    }
}

/* 1 when narrow_tn or narrow_nn computes the product (m, n, k) of the plan. */
static int narrow_applies(const ss_mm_t *p, int m, int n, int k)
{
#if defined(__FMA__)
    return !p->trans_b && n <= NARROW_MAX_N && m >= 16 && k >= 16;
#else
    (void)p; (void)m; (void)n; (void)k;
    return 0;
#endif
}

/* The product through narrow_tn or narrow_nn (narrow_applies). */
static void narrow_run(const ss_mm_t *p, int m, int n, int k, const float *A,
                       const float *B, float *C)
{
    if (p->trans_a)
        narrow_tn(m, n, k, A, B, C);
    else
        narrow_nn(m, n, k, A, B, C);
}

typedef void (*xsmm_fn)(const float *a, const float *b, float *c);

static void xsmm_call(void *fn, const float *A, const float *B, float *C)
{
    ((xsmm_fn)fn)(B, A, C);   /* column-major: its A is our B (file comment) */
}

/* The libxsmm kernel of shape (m, n, k): from the plan's slots, else generated once into
   the next slot (freeing the kernel there). NULL when libxsmm has none. */
static void *xsmm_kernel(ss_mm_t *p, int m, int n, int k)
{
    for (int s = 0; s < SS_MM_CACHE; s++)
        if (p->fn_shape[s][0] == m && p->fn_shape[s][1] == n && p->fn_shape[s][2] == k)
            return p->fn[s];
    int s = p->fn_next;
    p->fn_next = s + 1 < SS_MM_CACHE ? s + 1 : 1;
    xsmm_free(p->fn[s], p->fn_size[s]);
    p->fn[s] = xsmm_generate(p, m, n, k, &p->fn_size[s]);
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
    if (fn && narrow_applies(p, m, n, k))
        narrow_run(p, m, n, k, A, B, C);
    else if (fn)
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
    size_t fn_size;
    void *fn = xsmm_generate(p, p->m, p->n, p->k, &fn_size);
    double best[2] = {1e30, 1e30};
    double flops = 2.0 * p->m * p->n * p->k;
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
        for (int kind = 0; kind < 2; kind++) {
            if (kind == SS_MM_XSMM && !fn)
                continue;
            long calls = 0;
            double t0 = ss_now(), el;
            do {
                if (kind == SS_MM_XSMM && narrow_applies(p, p->m, p->n, p->k))
                    narrow_run(p, p->m, p->n, p->k, A, B, C);   /* what the path runs */
                else if (kind == SS_MM_XSMM)
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
    xsmm_free(fn, fn_size);
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
    p->fn[0] = xsmm_generate(p, m, n, k, &p->fn_size[0]);
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
