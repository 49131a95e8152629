/*
 * net_sparse.c - the sparse first layer of the network (ss_net_set_sparse_inputs); see
 * net_internal.h.
 *
 * Inputs such as images are mostly zeros (MNIST digits: 81 % of the pixels). The first
 * layer's two products, Z = X W (forward) and G = X^T dZ (its weight gradient), are then
 * mostly products with zero: in the MNIST network 784-100-100-50-10 they are 77 % of
 * the FLOPs of a training step. With sparse inputs each nonzero x_rj costs one row
 * operation instead: Z[r, :] = sum_j x_rj W[j, :] over the nonzeros of sample r, and
 * G[j, :] = sum_r x_rj dZ[r, :] over the samples where input j is nonzero. Both are the
 * same kernel (gather_lists): sums of scaled rows of a matrix, held in registers, four
 * sums at a time (see the kernel's comment), so no partial sum goes through memory.
 * W and dZ have rows padded to ld floats (zero padding) so that every vector is whole
 * and aligned. The rows come from L2 (W of the MNIST network is 350 KB): ~8.5 cycles
 * per nonzero and product for 100 columns (bench/README.md's machine), where sgemm
 * spends ~7 cycles per input, zero or not; with the compression, the path pays below
 * ~30 % nonzero inputs (SS_SPARSE_INPUT_DENSITY, measured by `net_step sparse`). GCC's
 * vector extension gives the vectors: 512-bit instructions with AVX-512, two or four
 * narrower ones elsewhere, the same code.
 * The training loop's minibatch rows are compressed where they lie in the training set
 * (ss_net_forward_backward_rows): the inputs are never copied.
 *
 * Summation order: Z[r, :] adds row r's nonzeros in increasing j, G[j, :] the batch's
 * samples in increasing r, whatever order the sums are computed in. It is not sgemm's
 * order, so results agree with OpenBLAS' dense path to rounding, not bit for bit; for a
 * given layout they are deterministic.
 */
#include "specsweep/net.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* Frees the sparse first layer's workspace, if any (ss_net_set_sparse_inputs). */
void net_sparse_free(net_work_t *w)
{
    if (w->sp) {
        free(w->sp->block);
        free(w->sp);
        w->sp = NULL;
    }
}

/* Slack after idx/val: the compress loop stores whole vectors of 16. */
#define SPARSE_SLACK 16

/* A batch with more nonzero inputs than the workspace holds: the caller's promise to
   ss_net_set_sparse_inputs was wrong. Checked before every store, so nothing is
   written past the capacity (plus SPARSE_SLACK for the last vector). */
static void sparse_overflow(const sparse_work_t *sp)
{
    ss_fatal(SS_EXIT_RUNTIME, "sparse first layer: a batch has more than %d nonzero inputs, "
             "the capacity given to ss_net_set_sparse_inputs", sp->cap);
}

#ifndef COMPRESS_AHEAD
#define COMPRESS_AHEAD 2
#endif

/* The nonzero entries of x (B, n), or of its rows rows[0..B), row by row, into sp->ptr /
   idx / val. A NaN counts as nonzero (it must reach the loss as it would through sgemm).
   Rows read in place are scattered over the training set, far larger than the caches:
   the whole row COMPRESS_AHEAD ahead is prefetched while this one is compressed. */
void net_sparse_compress(sparse_work_t *sp, const float *x, const uint32_t *rows, int B,
                         int n)
{
    int c = 0;
    for (int r = 0; r < B; r++) {
        const float *xr = x + (size_t)(rows ? rows[r] : (uint32_t)r) * n;
        if (rows && r + COMPRESS_AHEAD < B) {
            const float *next = x + (size_t)rows[r + COMPRESS_AHEAD] * n;
            for (int j = 0; j < n; j += 16)
                __builtin_prefetch(next + j);
        }
        sp->ptr[r] = c;
        int j = 0;
#if defined(__AVX512F__)
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                               13, 14, 15);
        for (; j + 16 <= n; j += 16) {
            if (c > sp->cap)
                sparse_overflow(sp);
            __m512 v = _mm512_loadu_ps(xr + j);
            __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            __m512i ix = _mm512_add_epi32(iota, _mm512_set1_epi32(j));
            _mm512_storeu_si512((void *)(sp->idx + c), _mm512_maskz_compress_epi32(m, ix));
            _mm512_storeu_ps(sp->val + c, _mm512_maskz_compress_ps(m, v));
            c += __builtin_popcount((unsigned)m);
        }
#endif
        for (; j < n; j++) {        /* branch-free: always store, advance on nonzero */
            if (c > sp->cap)
                sparse_overflow(sp);
            sp->idx[c] = j;
            sp->val[c] = xr[j];
            c += xr[j] != 0.0f;
        }
    }
    if (c > sp->cap)
        sparse_overflow(sp);
    sp->ptr[B] = c;
}

/* The same nonzeros by input (a counting sort of sp->idx): column j's samples in
   increasing r, into sp->cptr / cidx / cval. */
static void sparse_columns(sparse_work_t *sp, int B, int n)
{
    int *cptr = sp->cptr;
    memset(cptr, 0, ((size_t)n + 1) * sizeof *cptr);
    int nnz = sp->ptr[B];
    for (int k = 0; k < nnz; k++)
        cptr[sp->idx[k] + 1]++;
    for (int j = 0; j < n; j++)
        cptr[j + 1] += cptr[j];
    for (int r = 0; r < B; r++)       /* cptr[j] advances to the end of column j ... */
        for (int k = sp->ptr[r]; k < sp->ptr[r + 1]; k++) {
            int pos = cptr[sp->idx[k]]++;
            sp->cidx[pos] = r;
            sp->cval[pos] = sp->val[k];
        }
    for (int j = n; j > 0; j--)       /* ... so shift it back to the starts */
        cptr[j] = cptr[j - 1];
    cptr[0] = 0;
}

/*
 * The kernel: sums of scaled rows of M, one per list of (index, value) terms, held in
 * registers. A single list is a chain of dependent multiply-adds whose every step waits
 * for a row of M from L2; GATHER_LISTS lists run in step (their k-th terms one after the
 * other, then what the longer ones have left alone), so their chains and their loads
 * overlap: on the MNIST network 1.9 ns per term instead of 3.2 (bench/README.md's
 * machine). Each list still adds its own terms in its order, so the sums do not depend
 * on how the lists are grouped. The lists are taken longest first (order_by_length) so
 * that those of a group are about as long. GATHER_VECTORS vectors of 16 columns per
 * pass: GATHER_LISTS x GATHER_VECTORS accumulators in registers.
 */
#define GATHER_LISTS 4
#if defined(__AVX512F__)
#define GATHER_VECTORS 4
#else
#define GATHER_VECTORS 1
#endif

/* order[0..n) = the lists 0..n-1 by decreasing length ptr[i + 1] - ptr[i] <= max_len, in
   increasing i among equals (a counting sort; count holds max_len + 2 ints). */
static void order_by_length(const int *ptr, int n, int max_len, int *count, int *order)
{
    memset(count, 0, ((size_t)max_len + 2) * sizeof *count);
    for (int i = 0; i < n; i++)
        count[max_len - (ptr[i + 1] - ptr[i]) + 1]++;
    for (int k = 0; k <= max_len; k++)
        count[k + 1] += count[k];
    for (int i = 0; i < n; i++)
        order[count[max_len - (ptr[i + 1] - ptr[i])]++] = i;
}

/* For s < GATHER_LISTS: o[s * ld + (0, 16 nv)] = sum over k < nn[s] of vx[s][k]
   M[ix[s][k], 0, 16 nv), M with rows of ld. */
static inline __attribute__((always_inline)) void
gather_group(const int *const *ix, const float *const *vx, const int *nn, const float *M,
             size_t ld, float *o, int nv)
{
    v16 acc[GATHER_LISTS][GATHER_VECTORS];
    int common = nn[0];
    for (int s = 0; s < GATHER_LISTS; s++) {
        common = nn[s] < common ? nn[s] : common;
        for (int u = 0; u < nv; u++)
            acc[s][u] = (v16){0};
    }
    for (int k = 0; k < common; k++)
        for (int s = 0; s < GATHER_LISTS; s++) {
            const float *m = M + (size_t)ix[s][k] * ld;
            v16 v = (v16){0} + vx[s][k];
            for (int u = 0; u < nv; u++)
                acc[s][u] += v * v16_load(m + 16 * u);
        }
    for (int s = 0; s < GATHER_LISTS; s++)
        for (int k = common; k < nn[s]; k++) {
            const float *m = M + (size_t)ix[s][k] * ld;
            v16 v = (v16){0} + vx[s][k];
            for (int u = 0; u < nv; u++)
                acc[s][u] += v * v16_load(m + 16 * u);
        }
    for (int s = 0; s < GATHER_LISTS; s++)
        for (int u = 0; u < nv; u++)
            v16_store(o + (size_t)s * ld + 16 * u, acc[s][u]);
}

/*
 * Row i of out (n_out floats) = sum over k in [ptr[i], ptr[i + 1]) of val[k] M[idx[k],
 * 0, n_out) for every list i < n, M with rows of ld (a multiple of 16, padded with
 * zeros), taken in `order` in groups of GATHER_LISTS through `rows` (GATHER_LISTS x ld
 * floats); the switch gives each pass width its own unrolled copy.
 */
static void gather_lists(const int *ptr, const int *idx, const float *val, const int *order,
                         int n, const float *M, int ld, float *rows, float *out, int n_out)
{
    for (int q = 0; q < n; q += GATHER_LISTS) {
        const int *ix[GATHER_LISTS];
        const float *vx[GATHER_LISTS];
        int nn[GATHER_LISTS];
        for (int s = 0; s < GATHER_LISTS; s++) {   /* past the end: empty lists */
            int i = q + s < n ? order[q + s] : 0;
            ix[s] = idx + ptr[i];
            vx[s] = val + ptr[i];
            nn[s] = q + s < n ? ptr[i + 1] - ptr[i] : 0;
        }
        for (int j0 = 0; j0 < ld; j0 += 16 * GATHER_VECTORS) {
            int nv = (ld - j0) / 16 < GATHER_VECTORS ? (ld - j0) / 16 : GATHER_VECTORS;
#define GATHER_CASE(k) \
            case k: gather_group(ix, vx, nn, M + j0, (size_t)ld, rows + j0, k); break;
            switch (nv) {
#if GATHER_VECTORS >= 4
            GATHER_CASE(4) GATHER_CASE(3)
#endif
#if GATHER_VECTORS >= 2
            GATHER_CASE(2)
#endif
            default: gather_group(ix, vx, nn, M + j0, (size_t)ld, rows + j0, 1); break;
            }
#undef GATHER_CASE
        }
        for (int s = 0; s < GATHER_LISTS && q + s < n; s++)
            memcpy(out + (size_t)order[q + s] * n_out, rows + (size_t)s * ld,
                   (size_t)n_out * sizeof(float));
    }
}

/* out (B, n0) = X W for the batch compressed by net_sparse_compress, W = sp->w. */
void net_sparse_forward(sparse_work_t *sp, int B, int n0, float *out)
{
    order_by_length(sp->ptr, B, sp->n_in, sp->count, sp->order);
    gather_lists(sp->ptr, sp->idx, sp->val, sp->order, B, sp->w, sp->ld, sp->rows, out, n0);
}

/* G (n_in, n0) = X^T dz for the compressed batch, dz (B, n0). */
void net_sparse_weight_grad(sparse_work_t *sp, int B, int n_in, int n0, const float *dz,
                            float *G)
{
    size_t ld = (size_t)sp->ld;
    sparse_columns(sp, B, n_in);
    for (int r = 0; r < B; r++)       /* padded copy; the padding stays 0 */
        memcpy(sp->dz + (size_t)r * ld, dz + (size_t)r * n0, (size_t)n0 * sizeof(float));
    order_by_length(sp->cptr, n_in, B, sp->count, sp->order);
    gather_lists(sp->cptr, sp->cidx, sp->cval, sp->order, n_in, sp->dz, sp->ld, sp->rows, G,
                 n0);
}

void ss_net_set_sparse_inputs(ss_net_t *net, int max_nonzeros)
{
    net_work_t *w = net->work;
    net_sparse_free(w);
    const ss_layer_t *L = &net->layer[0];
    if (max_nonzeros > L->n_in)
        max_nonzeros = L->n_in;
    net->sparse_inputs = max_nonzeros > 0 ? max_nonzeros : 0;
    if (max_nonzeros <= 0)
        return;
    net_fm_release(net);   /* the sparse layer is sample-major: its kernels are not needed */
    size_t ld = round16((size_t)L->n_out), B = (size_t)net->max_batch;
    size_t n_in = (size_t)L->n_in, cap = B * (size_t)max_nonzeros;
    if (cap > (size_t)INT_MAX - SPARSE_SLACK)
        ss_fatal(SS_EXIT_RUNTIME, "sparse first layer: %zu nonzeros per batch do not fit an int",
                 cap);
    size_t nx = round16(cap + SPARSE_SLACK);
    size_t sz_ptr = round16(B + 1), sz_cptr = round16(n_in + 1);
    size_t sz_order = round16(B > n_in ? B : n_in), sz_count = round16(sz_order + 2);
    size_t total = sz_ptr + sz_cptr + 4 * nx + sz_order + sz_count + round16(n_in * ld) +
                   B * ld + GATHER_LISTS * ld;
    sparse_work_t *sp = ss_calloc(1, sizeof *sp);
    float *p = ss_alloc_aligned(total * sizeof(float));
    memset(p, 0, total * sizeof(float)); /* the padding of w, dz and row stays zero */
    sp->block = p;
    sp->ld = (int)ld;
    sp->cap = (int)cap;
    sp->n_in = (int)n_in;
    sp->ptr = (int *)p; p += sz_ptr;
    sp->cptr = (int *)p; p += sz_cptr;
    sp->idx = (int *)p; p += nx;
    sp->val = p; p += nx;
    sp->cidx = (int *)p; p += nx;
    sp->cval = p; p += nx;
    sp->order = (int *)p; p += sz_order;
    sp->count = (int *)p; p += sz_count;
    sp->w = p; p += round16(n_in * ld);
    sp->dz = p; p += B * ld;
    sp->rows = p;
    w->sp = sp;
}
