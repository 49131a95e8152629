/*
 * net_act.c - the network's activations: tanh, sigmoid, ReLU and e^x on vectors of 16
 * floats, the bias + activation pass of the forward, the activation derivative with the
 * bias gradient of the backward, and the softmax, on sample-major arrays and on the
 * feature-major ones of net_fm.c (the same values either way). Declared in
 * src/net_internal.h, private to the network module (include/specsweep/net.h).
 */
#include <stdint.h>
#include <string.h>

#include "net_internal.h"

/*
 * Activations without libm calls, on vectors of 16 floats (vec.h's v16), so that
 * the bias + activation passes run in vector instructions: glibc tanhf is a scalar call
 * of ~12 ns (via expm1f), which would dominate a training step of the papers' small
 * tanh networks (20-100-100-50: ~3x slower per step). A single value goes through lane 0
 * of a vector (v16_one): the same formula, so the same bits, on every path.
 *
 * exp16(y) = 2^n e^r with n = round(y / ln 2), r = y - n ln 2 (ln 2 split in two for an
 * exact reduction), |r| <= ln2/2, e^r by its degree-7 Taylor polynomial (truncation
 * < 7e-9), for |y| <= 87, where 2^n is a normal float. Relative error ~2e-7 (a few
 * ulp). NaN propagates; the exponent is assembled in unsigned arithmetic, so there is
 * no float-to-int conversion of a NaN.
 *
 * Beyond the limits (exp16: |y| > 87, tanh16: |x| > 7.905) the result is a constant,
 * selected over whatever the formula gave there (overflowed or meaningless values, never
 * kept: no clamp of the input is needed): the formula's value at the limit evaluated
 * one rounding per operation (EXP_AT_87, EXP_AT_MINUS_87; tanh: exactly +-1). Evaluated
 * with fused multiply-adds the formula gives a different last bit there (e^87
 * 0x1.6db012p+125, tanh 0x1.fffff8p-1), so the constants keep saturated values
 * independent of the instruction set, and equal to those of specsweep's earlier
 * scalar activations, whose clamped branch the compiler evaluated this way.
 */
#define EXP_AT_87 0x1.6db01p+125f
#define EXP_AT_MINUS_87 0x1.666d0ep-126f
/* The lanes of a where m is true (all ones), of b elsewhere. */
static inline v16 v16_select(v16i m, v16 a, v16 b)
{
    return (v16)(((v16i)a & m) | ((v16i)b & ~m));
}

/* x in every lane (x - 0 keeps the sign of a zero, which 0 + x would not). */
static inline v16 v16_splat(float x) { return x - (v16){0}; }

/* f (a v16 function) of one value. */
#define v16_one(f, x) ((f)(v16_splat(x))[0])

static inline v16 exp16(v16 y)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const uint32_t shifter_bits = 0x4b400000u;   /* its bits */
    v16i high = y > 87.0f, low = y < -87.0f;
    v16 t = y * 1.44269504088896341f + shifter;
    v16 n = t - shifter;
    v16 r = y - n * 0.693145751953125f;
    r -= n * 1.42860682030941723e-6f;
    v16 p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
            r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    v16u bits = ((v16u)t - shifter_bits + 127u) << 23; /* t's bits - shifter's = n */
    v16 e = p * (v16)bits;
    return v16_select(high, v16_splat(EXP_AT_87),
                      v16_select(low, v16_splat(EXP_AT_MINUS_87), e));
}

/*
 * tanh(x) as a rational function p(x) / q(x), odd p of degree 13, even q of degree 6
 * (the minimax fit of Eigen's float tanh) for |x| <= 7.905, where it reaches 1
 * (beyond it exactly +-1, see exp16 above):
 * 13 multiply-adds and a division, half the cost of exp16 and a division. Error
 * <= 5 ulp (2.7e-7 absolute) over the floats, checked against float64 tanh; NaN
 * propagates.
 */
static inline v16 tanh16(v16 x)
{
    const float c = 7.90531110763549805f;
    v16i high = x > c, low = x < -c;
    v16 x2 = x * x;
    v16 p = -2.76076847742355e-16f * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    v16 q = 1.19825839466702e-06f * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return v16_select(high, v16_splat(1.0f), v16_select(low, v16_splat(-1.0f), x * p / q));
}

static inline v16 sigmoid16(v16 x) { return 1.0f / (1.0f + exp16(-x)); }

static inline v16 relu16(v16 x) { return v16_select(x > 0.0f, x, (v16){0}); }

/*
 * The activation passes work on whole vectors of 16 columns. A row of n >= 16 columns is
 * covered by its n / 16 whole vectors and, when 16 does not divide n, one more vector
 * ending at column n, which overlaps the last whole one. All the vectors of a row that a
 * pass updates in place are computed before any of them is stored, so the overlap is
 * computed twice from the same inputs and stored twice with the same value (column sums
 * too: the same additions in the same order). Rows of fewer than 16 columns (the output
 * layer of a classifier with few classes) go value by value through lane 0 of the same
 * vector functions.
 */

#define ACT_LANES 16
#if defined(__AVX512F__)
#define ACT_GROUP 8        /* vectors of a backward group: 3 per vector in registers */
#else
#define ACT_GROUP 4
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE v16 act_forward16(v16 v, ss_act_t act)
{
    switch (act) {
    case SS_ACT_TANH: return tanh16(v);
    case SS_ACT_RELU: return relu16(v);
    case SS_ACT_SIGMOID: return sigmoid16(v);
    case SS_ACT_LINEAR: break;
    }
    return v;
}

/* dL/dz from dL/da d and the activation's output a. */
ALWAYS_INLINE v16 act_grad16(v16 d, v16 a, ss_act_t act)
{
    switch (act) {
    case SS_ACT_TANH: return d * (1.0f - a * a);
    case SS_ACT_RELU: return v16_select(a > 0.0f, d, (v16){0});
    case SS_ACT_SIGMOID: return d * (a * (1.0f - a));
    case SS_ACT_LINEAR: break;
    }
    return d;
}

/* act(z + bias) of the 16 lanes at z, the bias of column j at b[j * b_step]: b_step 1,
   a bias per column (sample-major rows), or 0, one bias for the row (feature-major). */
ALWAYS_INLINE v16 bias_act16(const float *z, const float *b, int b_step, ss_act_t act)
{
    return act_forward16(v16_load(z) + (b_step ? v16_load(b) : v16_splat(*b)), act);
}

/* z (B, n) = act(z + bias), the bias of row r, column j at b[r * b_row + j * b_step]
   (one activation and step: constants where inlined). */
ALWAYS_INLINE void bias_act_rows(float *z, const float *b, int b_row, int b_step, int B,
                                 int n, ss_act_t act)
{
    for (int r = 0; r < B; r++) {
        float *zr = z + (size_t)r * n;
        const float *br = b + (size_t)r * b_row;
        if (n < ACT_LANES) {
            for (int j = 0; j < n; j++)
                zr[j] = act_forward16(v16_splat(zr[j] + br[j * b_step]), act)[0];
            continue;
        }
        int jt = n - ACT_LANES;   /* the last vector, computed before any store */
        v16 tail = bias_act16(zr + jt, br + jt * b_step, b_step, act);
        for (int j = 0; j + ACT_LANES <= n; j += ACT_LANES)
            v16_store(zr + j, bias_act16(zr + j, br + j * b_step, b_step, act));
        v16_store(zr + jt, tail);
    }
}

/* bias_act_rows for the activation act: b_row and b_step (0 or 1) as there. */
static void bias_act(float *z, const float *b, int b_row, int b_step, int B, int n,
                     ss_act_t act)
{
#define BIAS_ACT_CASE(a)                                                        \
    case a:                                                                     \
        if (b_step)                                                             \
            bias_act_rows(z, b, b_row, 1, B, n, a);                             \
        else                                                                    \
            bias_act_rows(z, b, b_row, 0, B, n, a);                             \
        break;
    switch (act) {
    BIAS_ACT_CASE(SS_ACT_TANH) BIAS_ACT_CASE(SS_ACT_RELU) BIAS_ACT_CASE(SS_ACT_SIGMOID)
    BIAS_ACT_CASE(SS_ACT_LINEAR)
    }
#undef BIAS_ACT_CASE
}

void net_bias_act(float *z, const float *b, int B, int n, ss_act_t act)
{
    bias_act(z, b, 0, 1, B, n, act);
}

/* The vectors of columns col[0..nv) (starts, see above; nv <= ACT_GROUP, a constant where
   inlined) of d (B, n) -> dL/dz in place, and db at those columns += the column sums in
   row order, kept in registers over the rows. */
ALWAYS_INLINE void act_backward_group(float *d, const float *a, float *db, int B, int n,
                                      const int *col, int nv, ss_act_t act)
{
    v16 acc[ACT_GROUP], g[ACT_GROUP];
    for (int u = 0; u < nv; u++)
        acc[u] = v16_load(db + col[u]);
    for (int r = 0; r < B; r++) {
        float *dr = d + (size_t)r * n;
        const float *ar = a + (size_t)r * n;
        for (int u = 0; u < nv; u++) {
            g[u] = act_grad16(v16_load(dr + col[u]), v16_load(ar + col[u]), act);
            acc[u] += g[u];
        }
        for (int u = 0; u < nv; u++)
            v16_store(dr + col[u], g[u]);
    }
    for (int u = 0; u < nv; u++)
        v16_store(db + col[u], acc[u]);
}

/* act_backward without a mask, for one activation (a constant where inlined): the row's
   vectors in groups of at most ACT_GROUP, the overlapping last one in the group of the
   vector it overlaps; the switch gives each group size its own unrolled copy. */
ALWAYS_INLINE void act_backward_rows(float *d, const float *a, float *db, int B, int n,
                                     ss_act_t act)
{
    if (n < ACT_LANES) {
        for (int r = 0; r < B; r++) {
            float *dr = d + (size_t)r * n;
            const float *ar = a + (size_t)r * n;
            for (int j = 0; j < n; j++) {
                dr[j] = act_grad16(v16_splat(dr[j]), v16_splat(ar[j]), act)[0];
                db[j] += dr[j];
            }
        }
        return;
    }
    int tail = n % ACT_LANES != 0, nc = n / ACT_LANES + tail;
    for (int c0 = 0; c0 < nc;) {
        int nv = nc - c0 < ACT_GROUP ? nc - c0 : ACT_GROUP;
        if (tail && nc - (c0 + nv) == 1)
            nv--;   /* leaves the last whole vector to the group of the overlapping one */
        int col[ACT_GROUP];
        for (int u = 0; u < nv; u++)
            col[u] = c0 + u == nc - 1 ? n - ACT_LANES : (c0 + u) * ACT_LANES;
#define ACT_GROUP_CASE(k) \
        case k: act_backward_group(d, a, db, B, n, col, k, act); break;
        switch (nv) {
        ACT_GROUP_CASE(1) ACT_GROUP_CASE(2) ACT_GROUP_CASE(3) ACT_GROUP_CASE(4)
#if ACT_GROUP > 4
        ACT_GROUP_CASE(5) ACT_GROUP_CASE(6) ACT_GROUP_CASE(7) ACT_GROUP_CASE(8)
#endif
        }
#undef ACT_GROUP_CASE
        c0 += nv;
    }
}

void net_act_backward(float *restrict d, const float *restrict a,
                      const float *restrict mask, float *restrict db, int B, int n,
                      ss_act_t act)
{
    if (mask)
        for (size_t k = 0, total = (size_t)B * n; k < total; k++)
            d[k] *= mask[k];
    switch (act) {
    case SS_ACT_TANH: act_backward_rows(d, a, db, B, n, SS_ACT_TANH); break;
    case SS_ACT_RELU: act_backward_rows(d, a, db, B, n, SS_ACT_RELU); break;
    case SS_ACT_SIGMOID: act_backward_rows(d, a, db, B, n, SS_ACT_SIGMOID); break;
    case SS_ACT_LINEAR: act_backward_rows(d, a, db, B, n, SS_ACT_LINEAR); break;
    }
}

/* n (<= 16) floats from src to dst, a copy of constant size per case (inlined moves, where
   a memcpy of n would be a library call). */
static inline void copy_upto16(float *dst, const float *src, int n)
{
    switch (n) {
#define COPY_CASE(k) case k: memcpy(dst, src, k * sizeof(float)); break;
    COPY_CASE(1) COPY_CASE(2) COPY_CASE(3) COPY_CASE(4) COPY_CASE(5) COPY_CASE(6)
    COPY_CASE(7) COPY_CASE(8) COPY_CASE(9) COPY_CASE(10) COPY_CASE(11) COPY_CASE(12)
    COPY_CASE(13) COPY_CASE(14) COPY_CASE(15) COPY_CASE(16)
#undef COPY_CASE
    }
}

/* The columns of z (rows <= 16, n <= 16) as vectors: t[j] lane i = z[i][j] (0 in the
   lanes of missing rows and, for n > 2, t[n..16) = 0). Two columns (a binary classifier)
   are the even and odd floats of 32; more go through a 16 x 16 transpose. */
static inline void columns_in(const float *z, int rows, int n, v16 t[16])
{
    if (n == 2) {
        float buf[32] = {0};
        const float *src = z;
        if (rows < 16) {
            memcpy(buf, z, (size_t)rows * 2 * sizeof(float));
            src = buf;
        }
        v16 a = v16_load(src), b = v16_load(src + 16);
        t[0] = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                       26, 28, 30);
        t[1] = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25,
                                       27, 29, 31);
        return;
    }
    for (int i = 0; i < 16; i++) {
        t[i] = (v16){0};
        if (i < rows)
            copy_upto16((float *)&t[i], z + (size_t)i * n, n);
    }
    v16_transpose(t);
}

/* columns_in backwards: p (rows, n) from its columns t[0..n); t is overwritten. */
static inline void columns_out(v16 t[16], int rows, int n, float *p)
{
    if (n == 2) {
        float buf[32];
        float *dst = rows < 16 ? buf : p;
        v16_store(dst, __builtin_shufflevector(t[0], t[1], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20,
                                               5, 21, 6, 22, 7, 23));
        v16_store(dst + 16, __builtin_shufflevector(t[0], t[1], 8, 24, 9, 25, 10, 26, 11, 27,
                                                    12, 28, 13, 29, 14, 30, 15, 31));
        if (rows < 16)
            memcpy(p, buf, (size_t)rows * 2 * sizeof(float));
        return;
    }
    for (int j = n; j < 16; j++)
        t[j] = (v16){0};
    v16_transpose(t);
    for (int i = 0; i < rows; i++)
        copy_upto16(p + (size_t)i * n, (const float *)&t[i], n);
}

/* The softmax of rows of at most 16 classes, 16 rows per vector: the rows transposed
   (columns_in) are a feature-major (n, 16) array, whose softmax net_softmax_fm computes
   in place, and the probabilities go back to rows (columns_out). Every lane does the
   row formula of net_softmax below, operation by operation: the same bits. */
static void softmax_lanes(const float *z, int rows, int n, float inv, float *p, float *s,
                          int *best)
{
    v16 t[16];
    float st[ACT_LANES];
    int bt[ACT_LANES];
    columns_in(z, rows, n, t);
    net_softmax_fm((const float *)t, ACT_LANES, n, ACT_LANES, inv, (float *)t, st, bt);
    columns_out(t, rows, n, p);
    memcpy(s, st, (size_t)rows * sizeof *s);
    memcpy(best, bt, (size_t)rows * sizeof *best);
}

void net_softmax(const float *z, int rows, int n, float inv, float *p, float *s, int *best)
{
    if (n <= ACT_LANES) {
        softmax_lanes(z, rows, n, inv, p, s, best);
        return;
    }
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * n;
        float *pr = p + (size_t)r * n, mx = zr[0];
        int b = 0;
        for (int j = 1; j < n; j++) {
            b = zr[j] > mx ? j : b;
            mx = zr[j] > mx ? zr[j] : mx;
        }
        int j = 0;
        for (; j + ACT_LANES <= n; j += ACT_LANES)
            v16_store(pr + j, exp16(v16_load(zr + j) - mx));
        for (; j < n; j++)
            pr[j] = v16_one(exp16, zr[j] - mx);
        float sum = 0.0f;
        for (j = 0; j < n; j++)
            sum += pr[j];
        float is = inv / sum;
        for (j = 0; j < n; j++)
            pr[j] *= is;
        s[r] = sum;
        best[r] = b;
    }
}

/* ---- feature-major passes (net_fm.c): rows of samples ------------------------------- */

void net_bias_act_fm(float *z, const float *b, int rows, int cols, ss_act_t act)
{
    bias_act(z, b, 1, 0, rows, cols, act);
}

ALWAYS_INLINE void act_grad_flat(float *restrict d, const float *restrict a, size_t count,
                                 ss_act_t act)
{
    if (count < ACT_LANES) {
        for (size_t k = 0; k < count; k++)
            d[k] = act_grad16(v16_splat(d[k]), v16_splat(a[k]), act)[0];
        return;
    }
    size_t kt = count - ACT_LANES;   /* the last vector, computed before any store */
    v16 tail = act_grad16(v16_load(d + kt), v16_load(a + kt), act);
    for (size_t k = 0; k + ACT_LANES <= count; k += ACT_LANES)
        v16_store(d + k, act_grad16(v16_load(d + k), v16_load(a + k), act));
    v16_store(d + kt, tail);
}

void net_act_grad_fm(float *restrict d, const float *restrict a, size_t count, ss_act_t act)
{
    switch (act) {
    case SS_ACT_TANH: act_grad_flat(d, a, count, SS_ACT_TANH); break;
    case SS_ACT_RELU: act_grad_flat(d, a, count, SS_ACT_RELU); break;
    case SS_ACT_SIGMOID: act_grad_flat(d, a, count, SS_ACT_SIGMOID); break;
    case SS_ACT_LINEAR: break;
    }
}

/* Columns [0, cols) of row j of z (ld apart), 0 in the lanes beyond cols. */
static inline v16 load_cols(const float *z, size_t ld, int j, int cols)
{
    const float *src = z + (size_t)j * ld;
    if (cols == ACT_LANES)
        return v16_load(src);
    v16 v = {0};
    for (int c = 0; c < cols; c++)
        v[c] = src[c];
    return v;
}

static inline void store_cols(float *p, size_t ld, int j, int cols, v16 v)
{
    float *dst = p + (size_t)j * ld;
    if (cols == ACT_LANES) {
        v16_store(dst, v);
        return;
    }
    for (int c = 0; c < cols; c++)
        dst[c] = v[c];
}

void net_softmax_fm(const float *z, size_t ld, int n, int cols, float inv, float *p, float *s,
                    int *best)
{
    v16 mx = load_cols(z, ld, 0, cols);
    v16i bi = {0};
    for (int j = 1; j < n; j++) {
        v16 t = load_cols(z, ld, j, cols);
        v16i up = t > mx;
        mx = v16_select(up, t, mx);
        bi = (up & ((v16i){0} + j)) | (bi & ~up);
    }
    v16 sum = {0};
    for (int j = 0; j < n; j++) {
        v16 e = exp16(load_cols(z, ld, j, cols) - mx);
        sum += e;
        store_cols(p, ld, j, cols, e);
    }
    v16 is = inv / sum;
    for (int j = 0; j < n; j++)
        store_cols(p, ld, j, cols, load_cols(p, ld, j, cols) * is);
    for (int c = 0; c < cols; c++) {
        s[c] = sum[c];
        best[c] = bi[c];
    }
}
