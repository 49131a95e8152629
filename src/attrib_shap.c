/*
 * attrib_shap.c - KernelSHAP (Lundberg & Lee 2017) for the explained samples, and its
 * background (the training mean, or k means of the training inputs).
 *
 * The game: v(S) = sum_b w_b f(x_S, bg_b) (features in S from the sample, the others
 * from background point b with weight w_b), f the explained output. The Shapley values
 * solve the weighted least squares
 *     min sum_z pi(z) (v(z) - v(0) - sum_i z_i phi_i)^2   subject to  sum_i phi_i = v(1) - v(0)
 * over coalitions z, with the Shapley kernel pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|)).
 * Solved through its Lagrangian: A = sum pi z z^T, b = sum pi (v(z) - v(0)) z,
 * phi = A^-1 b - A^-1 1 (1^T A^-1 b - delta) / (1^T A^-1 1). No L1 selection of features.
 *
 * Coalitions: all 2^M - 2 of them when they fit the budget (the solution is then the
 * exact Shapley values); otherwise as SHAP's KernelExplainer chooses them: whole
 * coalition sizes in the order 1, M - 1, 2, M - 2, ... are enumerated while the budget
 * covers them in proportion to their kernel mass; the rest of the budget is drawn at
 * random (size from the remaining kernel mass, then a uniform subset of that size, and
 * its complement), the drawn coalitions sharing the remaining mass in proportion to how
 * often each was drawn (a repeated draw adds weight, not an evaluation). The draws come
 * from the sample's own random numbers (keyed by its id).
 *
 * A z z^T costs |z|^2; a coalition and its complement contribute the same matrix up to
 * rank-one terms (z z^T = 1 1^T - 1 t^T - t 1^T + t t^T with t = 1 - z), so each
 * coalition costs min(|z|, M - |z|)^2 and the rank-one parts are added at the end. A is
 * then factorised by a blocked Cholesky (cblas).
 */
#include "attrib_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAP_BLOCK_ROWS 4096   /* network rows per evaluation batch */
#define KMEANS_MAX_ITER 100

/* ---- background -------------------------------------------------------------------- */

/* Squared distances d (n, k) of rows x (n, M) to centers c (k, M): |x|^2 - 2 x c + |c|^2. */
static void sq_dist(const float *x, int n, const float *c, int k, int M, float *d)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, M, -2.0f, x, M, c, M, 0.0f,
                d, k);
    for (int j = 0; j < k; j++) {
        float cc = cblas_sdot(M, c + (size_t)j * M, 1, c + (size_t)j * M, 1);
        for (int r = 0; r < n; r++)
            d[(size_t)r * k + j] += cc;
    }
    for (int r = 0; r < n; r++) {
        float xx = cblas_sdot(M, x + (size_t)r * M, 1, x + (size_t)r * M, 1);
        for (int j = 0; j < k; j++)
            d[(size_t)r * k + j] += xx;
    }
}

/*
 * k means of the training inputs: k-means++ seeding (from the method's random numbers,
 * key UINT64_MAX, which no sample id takes), then Lloyd's iterations until no point
 * changes cluster (at most KMEANS_MAX_ITER). An emptied cluster keeps its center. The
 * weights are the cluster sizes over n_train. Deterministic: every rank of a group
 * builds the same background.
 */
static void kmeans(ss_attrib_t *a, int k, float *centers, double *weights)
{
    int n = a->d.n_train, M = a->M;
    const float *x = a->d.x_train;
    ss_rng_t rng;
    ss_attrib_rng(a, SS_ATTRIB_KERNEL_SHAP, UINT64_MAX, &rng);
    double *best = ss_malloc((size_t)n * sizeof(double));
    int first = (int)ss_rng_below(&rng, (uint64_t)n);
    memcpy(centers, x + (size_t)first * M, (size_t)M * sizeof(float));
    for (int r = 0; r < n; r++)
        best[r] = INFINITY;
    for (int j = 1; j < k; j++) {      /* next center with probability ~ D^2 */
        const float *c = centers + (size_t)(j - 1) * M;
        double total = 0.0;
        for (int r = 0; r < n; r++) {
            double dd = 0.0;
            for (int i = 0; i < M; i++) {
                double t = (double)x[(size_t)r * M + i] - c[i];
                dd += t * t;
            }
            best[r] = dd < best[r] ? dd : best[r];
            total += best[r];
        }
        double u = ss_rng_uniform(&rng) * total, acc = 0.0;
        int pick = n - 1;
        for (int r = 0; r < n; r++) {
            acc += best[r];
            if (acc > u) { pick = r; break; }
        }
        memcpy(centers + (size_t)j * M, x + (size_t)pick * M, (size_t)M * sizeof(float));
    }
    int blk = 4096;
    int *assign = ss_malloc((size_t)n * sizeof *assign);
    float *d = ss_malloc((size_t)blk * k * sizeof(float));
    double *sum = ss_malloc((size_t)k * M * sizeof(double));
    int64_t *count = ss_malloc((size_t)k * sizeof *count);
    for (int r = 0; r < n; r++)
        assign[r] = -1;
    for (int it = 0; it < KMEANS_MAX_ITER; it++) {
        int changed = 0;
        for (int r0 = 0; r0 < n; r0 += blk) {
            int b = n - r0 < blk ? n - r0 : blk;
            sq_dist(x + (size_t)r0 * M, b, centers, k, M, d);
            for (int r = 0; r < b; r++) {
                int arg = 0;
                for (int j = 1; j < k; j++)
                    if (d[(size_t)r * k + j] < d[(size_t)r * k + arg])
                        arg = j;
                changed += assign[r0 + r] != arg;
                assign[r0 + r] = arg;
            }
        }
        memset(sum, 0, (size_t)k * M * sizeof(double));
        memset(count, 0, (size_t)k * sizeof *count);
        for (int r = 0; r < n; r++) {
            count[assign[r]]++;
            for (int i = 0; i < M; i++)
                sum[(size_t)assign[r] * M + i] += x[(size_t)r * M + i];
        }
        for (int j = 0; j < k; j++)
            if (count[j] > 0)
                for (int i = 0; i < M; i++)
                    centers[(size_t)j * M + i] = (float)(sum[(size_t)j * M + i] / count[j]);
        if (!changed)
            break;
    }
    for (int j = 0; j < k; j++)
        weights[j] = (double)count[j] / n;
    free(best);
    free(assign);
    free(d);
    free(sum);
    free(count);
}

static void background_get(ss_attrib_t *a)
{
    if (a->bg_n)
        return;
    int k = a->s.shap_kmeans;
    if (k > a->d.n_train)
        k = a->d.n_train;
    if (k <= 0) {
        a->bg_n = 1;
        a->bg = ss_malloc((size_t)a->M * sizeof(float));
        a->bg_w = ss_malloc(sizeof(double));
        memcpy(a->bg, a->mean_row, (size_t)a->M * sizeof(float));
        a->bg_w[0] = 1.0;
        return;
    }
    a->bg_n = k;
    a->bg = ss_malloc((size_t)k * a->M * sizeof(float));
    a->bg_w = ss_malloc((size_t)k * sizeof(double));
    kmeans(a, k, a->bg, a->bg_w);
}

void ss_attrib_shap_free(ss_attrib_t *a)
{
    free(a->bg);
    free(a->bg_w);
    a->bg = NULL;
    a->bg_w = NULL;
    a->bg_n = 0;
}

/* ---- coalitions ---------------------------------------------------------------------- */

/*
 * A coalition z (the inputs that take the sample's values) is stored by its smaller side
 * t, in increasing order: z = t (comp 0) or z = everything but t (comp 1), |t| <= M / 2.
 * Every use (the mixed rows, the least squares) then costs O(|t|), not O(M).
 */
typedef struct {
    int S, cap, M;
    int *off;             /* (cap + 1): t of coalition s is ix[off[s] .. off[s + 1]) */
    int *ix;
    size_t ix_cap;
    unsigned char *comp;  /* (cap) */
    double *w;            /* (cap) */
    int *slot;            /* (nslot) open-addressing set of drawn coalitions: index or -1 */
    int nslot;            /* power of two >= 2 cap */
} design_t;

static void design_init(design_t *d, int cap, int M)
{
    memset(d, 0, sizeof *d);
    d->cap = cap;
    d->M = M;
    d->off = ss_malloc(((size_t)cap + 1) * sizeof *d->off);
    d->ix_cap = (size_t)cap * 16 + (size_t)M;
    d->ix = ss_malloc(d->ix_cap * sizeof *d->ix);
    d->comp = ss_malloc((size_t)cap + 1);
    d->w = ss_malloc(((size_t)cap + 1) * sizeof(double));
    for (d->nslot = 16; d->nslot < 2 * cap; d->nslot <<= 1)
        ;
    d->slot = ss_malloc((size_t)d->nslot * sizeof *d->slot);
}

static void design_free(design_t *d)
{
    free(d->off);
    free(d->ix);
    free(d->comp);
    free(d->w);
    free(d->slot);
}

/* Append coalition (t[0..n) increasing, comp) with weight w. */
static void design_add(design_t *d, const int *t, int n, int comp, double w)
{
    size_t at = d->S ? (size_t)d->off[d->S] : 0;
    if (d->S == 0)
        d->off[0] = 0;
    if (at + (size_t)n > d->ix_cap) {         /* grows rarely: kept across samples */
        d->ix_cap = 2 * (at + (size_t)n);
        d->ix = ss_realloc(d->ix, d->ix_cap * sizeof *d->ix);
    }
    memcpy(d->ix + at, t, (size_t)n * sizeof *t);
    d->comp[d->S] = (unsigned char)comp;
    d->w[d->S] = w;
    d->off[++d->S] = (int)(at + (size_t)n);
}

/* The slot of the drawn coalition t (comp 0) among those drawn before: its index there,
   or the empty slot (-1) where it goes. */
static int *design_find(design_t *d, const int *t, int n)
{
    uint64_t h = 0xcbf29ce484222325ULL;          /* FNV-1a of the inputs */
    for (int i = 0; i < n; i++)
        h = (h ^ (uint64_t)t[i]) * 0x100000001b3ULL;
    for (size_t k = (size_t)(h & (uint64_t)(d->nslot - 1));; k = (k + 1) & (size_t)(d->nslot - 1)) {
        int *e = &d->slot[k];
        if (*e < 0)
            return e;
        const int *u = d->ix + d->off[*e];
        if (d->off[*e + 1] - d->off[*e] == n && !memcmp(u, t, (size_t)n * sizeof *t))
            return e;
    }
}

static double binom(int n, int k)
{
    double r = 1.0;
    for (int i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

/* Every coalition but the empty and the full one, with its exact Shapley kernel weight;
   t has room for M + 1 inputs. */
static void design_exact(design_t *d, int *t)
{
    int M = d->M;
    for (int64_t bits = 1; bits < (1LL << M) - 1; bits++) {
        int s = __builtin_popcountll((unsigned long long)bits), comp = s > M / 2, n = 0;
        for (int i = 0; i < M; i++)
            if ((int)((bits >> i) & 1) != comp)
                t[n++] = i;
        design_add(d, t, n, comp, (M - 1.0) / (binom(M, s) * s * (M - s)));
    }
}

/* Every coalition of size s (and its complement when paired), weight w each, in
   lexicographic order; comb has room for s inputs. */
static void design_all_of_size(design_t *d, int s, int paired, double w, int *comb)
{
    int M = d->M;
    for (int i = 0; i < s; i++)
        comb[i] = i;
    for (;;) {
        design_add(d, comb, s, 0, w);
        if (paired)
            design_add(d, comb, s, 1, w);
        int i = s - 1;
        while (i >= 0 && comb[i] == M - s + i)
            i--;
        if (i < 0)
            break;
        comb[i]++;
        for (int j = i + 1; j < s; j++)
            comb[j] = comb[j - 1] + 1;
    }
}

/* A uniform s-subset of the M inputs, sorted, into t: the first s of comb (a permutation
   of 0..M-1) after a partial shuffle, sorted through the bit set mark. */
static void draw_subset(ss_rng_t *rng, int M, int s, int *comb, uint64_t *mark, int *t)
{
    for (int i = 0; i < s; i++) {
        int j = i + (int)ss_rng_below(rng, (uint64_t)(M - i));
        int tmp = comb[i];
        comb[i] = comb[j];
        comb[j] = tmp;
    }
    memset(mark, 0, (size_t)(M + 63) / 64 * sizeof *mark);
    for (int i = 0; i < s; i++)
        mark[comb[i] / 64] |= 1ULL << (comb[i] % 64);
    for (int wd = 0, n = 0; n < s; wd++)
        for (uint64_t m = mark[wd]; m; m &= m - 1)
            t[n++] = wd * 64 + __builtin_ctzll(m);
}

/* The sizes nfull + 1 .. nsz drawn at random for the `left` coalitions of budget that
   remain (kernel weights wv of the sizes, npaired the largest paired size); the drawn
   coalitions share the sizes' remaining mass. As SHAP: a coalition drawn again adds weight
   instead of spending budget (and its complement's), at most 4 draws per coalition of
   budget. */
static void design_sample(design_t *d, int left, int nfull, int nsz, int npaired,
                          const double *wv, double *rw, ss_rng_t *rng, int *t)
{
    int M = d->M;
    double rem_tot = 0.0, mass = 0.0;
    for (int s = nfull + 1; s <= nsz; s++) {
        rw[s] = wv[s] / (s <= npaired ? 2.0 : 1.0);   /* two coalitions per draw */
        rem_tot += rw[s];
        mass += wv[s];
    }
    int fixed = d->S;
    for (int i = 0; i < d->nslot; i++)
        d->slot[i] = -1;
    int *comb = ss_malloc((size_t)(M + 1) * sizeof *comb);
    uint64_t *mark = ss_malloc((size_t)(M + 63) / 64 * sizeof *mark);
    for (int i = 0; i < M; i++)
        comb[i] = i;
    for (int64_t draws = 4 * (int64_t)left; left > 0 && draws > 0; draws--) {
        double u = ss_rng_uniform(rng) * rem_tot, acc = 0.0;
        int s = nsz;
        for (int v = nfull + 1; v <= nsz; v++) {
            acc += rw[v];
            if (acc > u) { s = v; break; }
        }
        draw_subset(rng, M, s, comb, mark, t);
        int *e = design_find(d, t, s), paired = s <= npaired;
        if (*e >= 0) {                           /* seen: its weight (and its pair's) */
            d->w[*e] += 1.0;
            if (paired && *e + 1 < d->S)
                d->w[*e + 1] += 1.0;
            continue;
        }
        *e = d->S;
        design_add(d, t, s, 0, 1.0);
        left--;
        if (paired && left > 0) {
            design_add(d, t, s, 1, 1.0);
            left--;
        }
    }
    double drawn = 0.0;
    for (int k = fixed; k < d->S; k++)
        drawn += d->w[k];
    for (int k = fixed; k < d->S; k++)     /* the drawn share the remaining mass */
        d->w[k] *= mass / drawn;
    free(comb);
    free(mark);
}

/* The coalitions of one sample (file comment) for a budget of `budget` coalitions: all of
   them when the budget allows, else whole sizes from the smallest (and their complements)
   while the budget covers a size's share of the kernel weight, the rest drawn. */
static void design_build(design_t *d, int budget, ss_rng_t *rng)
{
    int M = d->M;
    int *t = ss_malloc((size_t)(M + 1) * sizeof *t);
    d->S = 0;
    if (M <= 30 && (1LL << M) - 2 <= budget) {       /* every coalition: exact */
        design_exact(d, t);
        free(t);
        return;
    }
    int nsz = M / 2, npaired = (M - 1) / 2;           /* sizes 1..nsz, paired <= npaired */
    double *wv = ss_malloc((size_t)(nsz + 1) * sizeof(double));
    double *rw = ss_malloc((size_t)(nsz + 1) * sizeof(double));
    double tot = 0.0;
    for (int s = 1; s <= nsz; s++) {
        wv[s] = (M - 1.0) / ((double)s * (M - s)) * (s <= npaired ? 2.0 : 1.0);
        tot += wv[s];
    }
    for (int s = 1; s <= nsz; s++)
        rw[s] = wv[s] /= tot;
    int left = budget, nfull = 0;
    for (int s = 1; s <= nsz; s++) {
        double nsub = binom(M, s) * (s <= npaired ? 2.0 : 1.0);
        if (!(left * rw[s] / nsub >= 1.0 - 1e-8))
            break;
        nfull = s;
        left -= (int)nsub;
        if (rw[s] < 1.0)
            for (int u = s + 1; u <= nsz; u++)
                rw[u] /= 1.0 - rw[s];
        design_all_of_size(d, s, s <= npaired,
                           wv[s] / binom(M, s) / (s <= npaired ? 2.0 : 1.0), t);
    }
    if (nfull < nsz && left > 0)
        design_sample(d, left, nfull, nsz, npaired, wv, rw, rng, t);
    free(wv);
    free(rw);
    free(t);
}

/* ---- the constrained least squares ----------------------------------------------------- */

/* In-place Cholesky A = L L^T of the row-major (n, n) A (lower triangle used and
   written), blocked: the trailing updates go through dsyrk/dgemm/dtrsm. -1 when A is
   not positive definite. */
static int cholesky(double *A, int n)
{
    const int nb = 64;
    for (int k0 = 0; k0 < n; k0 += nb) {
        int kb = n - k0 < nb ? n - k0 : nb, m2 = n - k0 - kb;
        double *Akk = A + (size_t)k0 * n + k0;
        if (k0 > 0)
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, kb, k0, -1.0,
                        A + (size_t)k0 * n, n, 1.0, Akk, n);
        for (int j = 0; j < kb; j++) {
            double dgn = Akk[(size_t)j * n + j];
            for (int p = 0; p < j; p++)
                dgn -= Akk[(size_t)j * n + p] * Akk[(size_t)j * n + p];
            if (!(dgn > 0.0))
                return -1;
            double ljj = sqrt(dgn);
            Akk[(size_t)j * n + j] = ljj;
            for (int i = j + 1; i < kb; i++) {
                double v = Akk[(size_t)i * n + j];
                for (int p = 0; p < j; p++)
                    v -= Akk[(size_t)i * n + p] * Akk[(size_t)j * n + p];
                Akk[(size_t)i * n + j] = v / ljj;
            }
        }
        if (m2 > 0) {
            double *B = A + (size_t)(k0 + kb) * n + k0;
            if (k0 > 0)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m2, kb, k0, -1.0,
                            A + (size_t)(k0 + kb) * n, n, A + (size_t)k0 * n, n, 1.0, B, n);
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, m2,
                        kb, 1.0, Akk, n, B, n);
        }
    }
    return 0;
}

/* L L^T x = b in place. */
static void cholesky_solve(const double *L, int n, double *x)
{
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, n, L, n, x, 1);
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, n, L, n, x, 1);
}

/* Scratch of the least squares, allocated once per ss_attrib_kernel_shap call. */
typedef struct {
    double *A, *A0;        /* (M, M) */
    double *t;             /* (3 M): u, q, b */
    int *big;              /* (cap) coalitions whose t is large */
    uint64_t *bits;        /* (M, (cap + 63) / 64): membership of the big t's by input */
    unsigned char *nz;     /* (M) */
} shap_work_t;

static void work_init(shap_work_t *w, int M, int cap)
{
    w->A = ss_malloc((size_t)M * M * sizeof(double));
    w->A0 = ss_malloc((size_t)M * M * sizeof(double));
    w->t = ss_malloc(3 * (size_t)M * sizeof(double));
    w->big = ss_malloc((size_t)(cap ? cap : 1) * sizeof *w->big);
    w->bits = ss_malloc((size_t)M * ((size_t)cap + 63) / 64 * sizeof(uint64_t) + 8);
    w->nz = ss_malloc((size_t)M);
}

static void work_free(shap_work_t *w)
{
    free(w->A);
    free(w->A0);
    free(w->t);
    free(w->big);
    free(w->bits);
    free(w->nz);
}

/* t sets with more than this many inputs go into A by the bitset products below. */
#define SHAP_SCATTER_MAX 24

static const design_t *sort_design;   /* qsort has no context argument */

static int by_weight(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    double wa = sort_design->w[a], wb = sort_design->w[b];
    return wa < wb ? -1 : wa > wb ? 1 : a - b;
}

/*
 * A (lower triangle) += w t t^T for the n big coalitions in list, all of weight w: with
 * one bit per coalition in a bitset per input, A_ij += w popcount(B_i & B_j). This costs
 * M^2 / 2 * n / 64 word operations whatever the sizes of the t's, where adding t t^T one
 * coalition at a time costs sum |t|^2 scattered additions (for MNIST and SHAP's default
 * budget: 2.5 times more time).
 */
static void add_big(const design_t *d, const int *list, int n, double w, shap_work_t *wk)
{
    int M = d->M, W = (n + 63) / 64;
    uint64_t *bits = wk->bits;
    memset(bits, 0, (size_t)M * W * sizeof *bits);
    memset(wk->nz, 0, (size_t)M);
    for (int q = 0; q < n; q++)
        for (int k = d->off[list[q]]; k < d->off[list[q] + 1]; k++) {
            int i = d->ix[k];
            bits[(size_t)i * W + q / 64] |= 1ULL << (q % 64);
            wk->nz[i] = 1;
        }
    for (int i = 0; i < M; i++) {
        if (!wk->nz[i])
            continue;
        const uint64_t *bi = bits + (size_t)i * W;
        double *row = wk->A + (size_t)i * M;
        for (int j = 0; j <= i; j++) {
            if (!wk->nz[j])
                continue;
            const uint64_t *bj = bits + (size_t)j * W;
            int64_t cnt = 0;
            for (int k = 0; k < W; k++)
                cnt += __builtin_popcountll(bi[k] & bj[k]);
            row[j] += w * (double)cnt;
        }
    }
}

/* phi (M) from the design and y_s = v(z_s) - v(0), with sum phi = delta. */
static void solve_phi(const design_t *d, const double *y, double delta, shap_work_t *wk,
                      double *phi)
{
    int M = d->M, nbig = 0;
    double *A = wk->A, *A0 = wk->A0;
    double *u = wk->t, *q = wk->t + M, *b = wk->t + 2 * M;
    memset(A, 0, (size_t)M * M * sizeof(double));
    memset(b, 0, (size_t)M * sizeof(double));
    memset(u, 0, (size_t)M * sizeof(double));
    double c_all = 0.0, b_all = 0.0;
    for (int s = 0; s < d->S; s++) {
        double w = d->w[s], wy = w * y[s];
        const int *idx = d->ix + d->off[s];
        int nt = d->off[s + 1] - d->off[s], comp = d->comp[s];
        if (comp) {                       /* z z^T = 1 1^T - 1 t^T - t 1^T + t t^T */
            c_all += w;
            b_all += wy;
            for (int k = 0; k < nt; k++) {
                u[idx[k]] += w;
                b[idx[k]] -= wy;
            }
        } else {
            for (int k = 0; k < nt; k++)
                b[idx[k]] += wy;
        }
        if (nt > SHAP_SCATTER_MAX) {
            wk->big[nbig++] = s;
            continue;
        }
        for (int k = 0; k < nt; k++) {   /* lower triangle of t t^T */
            double *row = A + (size_t)idx[k] * M;
            for (int l = 0; l <= k; l++)
                row[idx[l]] += w;
        }
    }
    sort_design = d;                      /* the big ones by weight, then index */
    qsort(wk->big, (size_t)nbig, sizeof *wk->big, by_weight);
    for (int r0 = 0, r1; r0 < nbig; r0 = r1) {
        for (r1 = r0 + 1; r1 < nbig && d->w[wk->big[r1]] == d->w[wk->big[r0]]; r1++)
            ;
        add_big(d, wk->big + r0, r1 - r0, d->w[wk->big[r0]], wk);
    }
    for (int i = 0; i < M; i++) {
        b[i] += b_all;
        for (int j = 0; j <= i; j++)
            A[(size_t)i * M + j] += c_all - u[i] - u[j];
    }
    memcpy(A0, A, (size_t)M * M * sizeof(double));
    double ridge = 0.0;
    while (cholesky(A, M) != 0) {         /* too few coalitions: a small ridge */
        double tr = 0.0;
        for (int i = 0; i < M; i++)
            tr += A0[(size_t)i * M + i];
        ridge = ridge > 0.0 ? ridge * 10.0 : 1e-10 * (tr > 0.0 ? tr / M : 1.0);
        memcpy(A, A0, (size_t)M * M * sizeof(double));
        for (int i = 0; i < M; i++)
            A[(size_t)i * M + i] += ridge;
    }
    memcpy(phi, b, (size_t)M * sizeof(double));
    for (int i = 0; i < M; i++)
        q[i] = 1.0;
    cholesky_solve(A, M, phi);
    cholesky_solve(A, M, q);
    double s_phi = 0.0, s_q = 0.0;
    for (int i = 0; i < M; i++) {
        s_phi += phi[i];
        s_q += q[i];
    }
    double nu = (s_phi - delta) / s_q;
    for (int i = 0; i < M; i++)
        phi[i] -= nu * q[i];
}

/* ---- per sample --------------------------------------------------------------------------- */

static int shap_budget(const ss_attrib_t *a)
{
    return a->s.shap_samples > 0 ? a->s.shap_samples : 2 * a->M + 2048;
}

void ss_attrib_kernel_shap(ss_attrib_t *a, int first, int count, double *attr,
                           double *check)
{
    int M = a->M, no = a->n_out;
    background_get(a);
    int nb = a->bg_n;
    int budget = shap_budget(a);
    int cap = M <= 30 && (1LL << M) - 2 <= budget ? (int)((1LL << M) - 2) : budget;

    /* v(0) per output: the background's weighted mean output */
    float *fb = ss_malloc((size_t)nb * no * sizeof(float));
    ss_attrib_predict(a, a->bg, nb, fb);
    double *v0 = ss_calloc((size_t)no, sizeof(double));
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < no; c++)
            v0[c] += a->bg_w[b] * fb[(size_t)b * no + c];

    design_t d;
    design_init(&d, cap, M);
    int per_block = SHAP_BLOCK_ROWS / nb > 0 ? SHAP_BLOCK_ROWS / nb : 1;
    float *rows = ss_fbuf_get(&a->rows, (size_t)per_block * nb * M);
    float *outs = ss_fbuf_get(&a->outs, (size_t)per_block * nb * no + no);
    double *y = ss_malloc((size_t)cap * sizeof(double));
    shap_work_t wk;
    work_init(&wk, M, cap);
    for (int i = 0; i < count; i++) {
        int g = first + i, c = a->target[g];
        const float *x = a->d.x + (size_t)g * M;
        double *phi = attr + (size_t)i * M;
        ss_attrib_predict(a, x, 1, outs);
        double delta = (double)outs[c] - v0[c];
        check[(size_t)i * 3 + 1] = delta;
        check[(size_t)i * 3 + 2] = 0.0;
        if (M == 1) {
            phi[0] = delta;
            check[(size_t)i * 3] = delta;
            continue;
        }
        ss_rng_t rng;
        ss_attrib_rng(a, SS_ATTRIB_KERNEL_SHAP, a->id[g], &rng);
        design_build(&d, budget, &rng);
        for (int s0 = 0; s0 < d.S; s0 += per_block) {   /* v(z) - v(0) for every z */
            int ns = d.S - s0 < per_block ? d.S - s0 : per_block;
            for (int s = 0; s < ns; s++) {
                const int *tt = d.ix + d.off[s0 + s];
                int nt = d.off[s0 + s + 1] - d.off[s0 + s], comp = d.comp[s0 + s];
                for (int b = 0; b < nb; b++) {
                    float *r = rows + ((size_t)s * nb + b) * M;
                    const float *bg = a->bg + (size_t)b * M;
                    memcpy(r, comp ? x : bg, (size_t)M * sizeof(float));
                    for (int k = 0; k < nt; k++)
                        r[tt[k]] = comp ? bg[tt[k]] : x[tt[k]];
                }
            }
            ss_attrib_predict(a, rows, ns * nb, outs);
            for (int s = 0; s < ns; s++) {
                double v = 0.0;
                for (int b = 0; b < nb; b++)
                    v += a->bg_w[b] * outs[((size_t)s * nb + b) * no + c];
                y[s0 + s] = v - v0[c];
            }
        }
        solve_phi(&d, y, delta, &wk, phi);
        double sum = 0.0;
        for (int j = 0; j < M; j++)
            sum += phi[j];
        check[(size_t)i * 3] = sum;
    }
    free(fb);
    free(v0);
    design_free(&d);
    free(y);
    work_free(&wk);
}
