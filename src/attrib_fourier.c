/*
 * attrib_fourier.c - Fourier feature attribution (paper 004: attributions to the input's
 * discrete Fourier coefficients) and the top-k-frequencies evaluation. See attrib.h for
 * the layout of the coefficients.
 *
 * The method: integrated gradients with the Fourier coefficients as the features. The
 * inverse DFT is linear, so the straight path from the baseline's coefficients to the
 * sample's is the straight path x0 + a (x - x0) of input space, and the gradient with
 * respect to a coefficient is the adjoint DFT of the input gradient. With g the
 * path-averaged input gradient of IG, DX and G the DFTs of x - x0 and g, and N the
 * number of inputs, the attribution of stored entry f is
 *     attr_f = c_f / N * Re(DX_f conj(G_f)),
 * c_f = 2 for the entries that stand for a conjugate pair of the full spectrum (0 < kx <
 * cols / 2, or kx < cols / 2 with cols odd) and 1 otherwise. By Parseval's identity the
 * entries sum to sum_i (x_i - x0_i) g_i, IG's sum, so completeness carries over exactly.
 *
 * The DFTs: complex FFTs of any length (radix 2; Bluestein's chirp-z for other lengths),
 * rows of the input first, then the columns of the kept half (rows = 1 for flat inputs).
 * Double precision throughout.
 */
#include "attrib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- complex DFT of any length --------------------------------------------------------- */

/* A DFT of length n; data interleaved (re, im). Powers of two: radix-2 of size m = n.
   Else Bluestein: a radix-2 convolution of size m >= 2n - 1. */
typedef struct {
    int n, m;
    double *tw;        /* (m / 2) complex: exp(-2 pi i k / m) */
    double *chirp;     /* (n) complex: exp(-i pi k^2 / n), Bluestein only */
    double *kern;      /* (m) complex: FFT of the conjugate chirp, wrapped */
    double *work;      /* (m) complex */
} cplan_t;

static int is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

/* In-place radix-2 forward FFT of m complex values (tw of size m). */
static void fft2(double *z, int m, const double *tw)
{
    for (int i = 1, j = 0; i < m; i++) {          /* bit-reversal permutation */
        int bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t0 = z[2 * i], t1 = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = t0;
            z[2 * j + 1] = t1;
        }
    }
    for (int len = 2; len <= m; len <<= 1) {
        int half = len >> 1, step = m / len;
        for (int s = 0; s < m; s += len)
            for (int k = 0; k < half; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *u = z + 2 * (s + k), *v = z + 2 * (s + k + half);
                double vr = v[0] * wr - v[1] * wi, vi = v[0] * wi + v[1] * wr;
                v[0] = u[0] - vr;
                v[1] = u[1] - vi;
                u[0] += vr;
                u[1] += vi;
            }
    }
}

static void cplan_init(cplan_t *p, int n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->m = 1;
    while (p->m < (is_pow2(n) ? n : 2 * n - 1))
        p->m <<= 1;
    int m = p->m;
    p->tw = ss_malloc((size_t)(m > 1 ? m : 2) * sizeof(double));
    for (int k = 0; k < m / 2; k++) {
        p->tw[2 * k] = cos(2.0 * M_PI * k / m);
        p->tw[2 * k + 1] = -sin(2.0 * M_PI * k / m);
    }
    p->work = ss_calloc(2 * (size_t)m, sizeof(double));
    if (is_pow2(n))
        return;
    p->chirp = ss_malloc(2 * (size_t)n * sizeof(double));
    p->kern = ss_calloc(2 * (size_t)m, sizeof(double));
    for (int k = 0; k < n; k++) {   /* k^2 mod 2n keeps the angle exact */
        double ang = M_PI * (double)(((int64_t)k * k) % (2 * (int64_t)n)) / n;
        p->chirp[2 * k] = cos(ang);
        p->chirp[2 * k + 1] = -sin(ang);
    }
    for (int k = 0; k < n; k++) {   /* conj(chirp) at t = k and t = -k (wrapped) */
        p->kern[2 * k] = p->chirp[2 * k];
        p->kern[2 * k + 1] = -p->chirp[2 * k + 1];
        if (k > 0) {
            p->kern[2 * (m - k)] = p->chirp[2 * k];
            p->kern[2 * (m - k) + 1] = -p->chirp[2 * k + 1];
        }
    }
    fft2(p->kern, m, p->tw);
}

static void cplan_free(cplan_t *p)
{
    free(p->tw);
    free(p->chirp);
    free(p->kern);
    free(p->work);
}

/* z (n complex) <- its DFT X_k = sum_j z_j exp(-2 pi i j k / n); inverse: exp(+...) / n. */
static void cdft(const cplan_t *p, double *z, int inverse)
{
    int n = p->n, m = p->m;
    if (inverse)
        for (int k = 0; k < n; k++) z[2 * k + 1] = -z[2 * k + 1];
    if (is_pow2(n)) {
        fft2(z, n, p->tw);
    } else {
        double *w = p->work;
        memset(w, 0, 2 * (size_t)m * sizeof(double));
        for (int k = 0; k < n; k++) {
            const double *c = p->chirp + 2 * k;
            w[2 * k] = z[2 * k] * c[0] - z[2 * k + 1] * c[1];
            w[2 * k + 1] = z[2 * k] * c[1] + z[2 * k + 1] * c[0];
        }
        fft2(w, m, p->tw);
        for (int k = 0; k < m; k++) {   /* times the kernel, then the inverse by conj */
            double re = w[2 * k] * p->kern[2 * k] - w[2 * k + 1] * p->kern[2 * k + 1];
            double im = w[2 * k] * p->kern[2 * k + 1] + w[2 * k + 1] * p->kern[2 * k];
            w[2 * k] = re;
            w[2 * k + 1] = -im;
        }
        fft2(w, m, p->tw);
        for (int k = 0; k < n; k++) {
            double re = w[2 * k] / m, im = -w[2 * k + 1] / m;
            const double *c = p->chirp + 2 * k;
            z[2 * k] = re * c[0] - im * c[1];
            z[2 * k + 1] = re * c[1] + im * c[0];
        }
    }
    if (inverse)
        for (int k = 0; k < n; k++) {
            z[2 * k] /= n;
            z[2 * k + 1] = -z[2 * k + 1] / n;
        }
}

/* ---- the 2-D real transform of the input shape ------------------------------------------ */

struct fourier_plan {
    int rows, cols, kxn, F;        /* kxn = cols / 2 + 1, F = rows * kxn */
    cplan_t prow, pcol;            /* lengths cols and rows */
    double *line;                  /* (max(rows, cols)) complex */
    double *X, *G;                 /* (F) complex */
    double *full;                  /* (rows, cols) complex, top-k reconstruction */
};

int ss_attrib_fourier_size(int rows, int cols)
{
    return rows * (cols / 2 + 1);
}

void ss_attrib_fourier_index(int rows, int cols, int f, int *ky, int *kx)
{
    (void)rows;
    *ky = f / (cols / 2 + 1);
    *kx = f % (cols / 2 + 1);
}

static void shape_of(const ss_attrib_t *a, int *rows, int *cols)
{
    *rows = a->d.rows ? a->d.rows : 1;
    *cols = a->d.rows ? a->d.cols : a->M;
}

int ss_attrib_fourier_values(const ss_attrib_t *a)
{
    int rows, cols;
    shape_of(a, &rows, &cols);
    return ss_attrib_fourier_size(rows, cols);
}

static fourier_plan_t *plan_get(ss_attrib_t *a)
{
    if (a->fourier)
        return a->fourier;
    fourier_plan_t *p = ss_calloc(1, sizeof *p);
    shape_of(a, &p->rows, &p->cols);
    p->kxn = p->cols / 2 + 1;
    p->F = p->rows * p->kxn;
    cplan_init(&p->prow, p->cols);
    cplan_init(&p->pcol, p->rows);
    int L = p->rows > p->cols ? p->rows : p->cols;
    p->line = ss_malloc(2 * (size_t)L * sizeof(double));
    p->X = ss_malloc(2 * (size_t)p->F * sizeof(double));
    p->G = ss_malloc(2 * (size_t)p->F * sizeof(double));
    p->full = ss_malloc(2 * (size_t)p->rows * p->cols * sizeof(double));
    a->fourier = p;
    return p;
}

void ss_attrib_fourier_free(ss_attrib_t *a)
{
    fourier_plan_t *p = a->fourier;
    if (!p)
        return;
    cplan_free(&p->prow);
    cplan_free(&p->pcol);
    free(p->line);
    free(p->X);
    free(p->G);
    free(p->full);
    free(p);
    a->fourier = NULL;
}

/* out (F complex) = rfft2 of the real (rows, cols) signal x. */
static void rfft2(fourier_plan_t *p, const double *x, double *out)
{
    int rows = p->rows, cols = p->cols, kxn = p->kxn;
    double *z = p->line;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            z[2 * c] = x[(size_t)r * cols + c];
            z[2 * c + 1] = 0.0;
        }
        cdft(&p->prow, z, 0);
        memcpy(out + 2 * (size_t)r * kxn, z, 2 * (size_t)kxn * sizeof(double));
    }
    if (rows == 1)
        return;
    for (int kx = 0; kx < kxn; kx++) {
        for (int r = 0; r < rows; r++) {
            z[2 * r] = out[2 * ((size_t)r * kxn + kx)];
            z[2 * r + 1] = out[2 * ((size_t)r * kxn + kx) + 1];
        }
        cdft(&p->pcol, z, 0);
        for (int r = 0; r < rows; r++) {
            out[2 * ((size_t)r * kxn + kx)] = z[2 * r];
            out[2 * ((size_t)r * kxn + kx) + 1] = z[2 * r + 1];
        }
    }
}

/* c_f of the file comment: the weight of entry (ky, kx) in Parseval's sum. */
static double pair_weight(int kx, int cols)
{
    return kx > 0 && 2 * kx != cols ? 2.0 : 1.0;
}

void ss_attrib_fourier_attr(ss_attrib_t *a, const double *dx, const double *g, double *attr)
{
    fourier_plan_t *p = plan_get(a);
    rfft2(p, dx, p->X);
    rfft2(p, g, p->G);
    double N = (double)p->rows * p->cols;
    for (int f = 0; f < p->F; f++) {
        const double *X = p->X + 2 * f, *G = p->G + 2 * f;
        attr[f] = pair_weight(f % p->kxn, p->cols) / N * (X[0] * G[0] + X[1] * G[1]);
    }
}

/* ---- top-k frequencies ------------------------------------------------------------------ */

typedef struct {
    double v;
    int f;
} ranked_t;

static int by_value_desc(const void *x, const void *y)
{
    const ranked_t *a = x, *b = y;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->f - b->f;
}

/*
 * x' = sum over the kept entries f of c_f / N Re(X_f exp(+i theta_f)): the full spectrum
 * gets c_f / 2 X_f at f and c_f / 2 conj(X_f) at -f, and its inverse DFT is real.
 */
static void reconstruct(fourier_plan_t *p, const double *X, const unsigned char *keep,
                        float *out)
{
    int rows = p->rows, cols = p->cols, kxn = p->kxn;
    double *Y = p->full, *z = p->line;
    memset(Y, 0, 2 * (size_t)rows * cols * sizeof(double));
    for (int f = 0; f < p->F; f++) {
        if (!keep[f])
            continue;
        int ky = f / kxn, kx = f % kxn;
        double h = pair_weight(kx, cols) / 2.0;
        size_t at = (size_t)ky * cols + kx;
        size_t mirror = (size_t)((rows - ky) % rows) * cols + (size_t)((cols - kx) % cols);
        Y[2 * at] += h * X[2 * f];
        Y[2 * at + 1] += h * X[2 * f + 1];
        Y[2 * mirror] += h * X[2 * f];
        Y[2 * mirror + 1] -= h * X[2 * f + 1];
    }
    for (int c = 0; c < cols && rows > 1; c++) {      /* inverse along the columns */
        for (int r = 0; r < rows; r++) {
            z[2 * r] = Y[2 * ((size_t)r * cols + c)];
            z[2 * r + 1] = Y[2 * ((size_t)r * cols + c) + 1];
        }
        cdft(&p->pcol, z, 1);
        for (int r = 0; r < rows; r++) {
            Y[2 * ((size_t)r * cols + c)] = z[2 * r];
            Y[2 * ((size_t)r * cols + c) + 1] = z[2 * r + 1];
        }
    }
    for (int r = 0; r < rows; r++) {                  /* then along the rows */
        cdft(&p->prow, Y + 2 * (size_t)r * cols, 1);
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = (float)Y[2 * ((size_t)r * cols + c)];
    }
}

int ss_attrib_fourier_topk(ss_attrib_t *a, const double *relevance, int k, const float *x,
                           const float *y, int n, double *loss_sum, double *correct,
                           ss_error_t *err)
{
    fourier_plan_t *p = plan_get(a);
    int F = p->F, M = a->M;
    if (k < 1 || k > F || n < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "fourier top-k: k = %d outside [1, %d]", k, F);
        return -1;
    }
    ranked_t *rank = ss_malloc((size_t)F * sizeof *rank);
    unsigned char *keep = ss_calloc((size_t)F, 1);
    for (int f = 0; f < F; f++) {
        rank[f].v = relevance[f];
        rank[f].f = f;
    }
    qsort(rank, (size_t)F, sizeof *rank, by_value_desc);
    for (int i = 0; i < k; i++)
        keep[rank[i].f] = 1;
    float *xr = ss_malloc(((size_t)n * M + 1) * sizeof(float));
    double *sig = ss_malloc((size_t)M * sizeof(double));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < M; j++)
            sig[j] = x[(size_t)i * M + j];
        rfft2(p, sig, p->X);
        reconstruct(p, p->X, keep, xr + (size_t)i * M);
    }
    int sparse = a->net->sparse_inputs;   /* the filtered inputs are dense */
    if (sparse)
        ss_net_set_sparse_inputs(a->net, 0);
    ss_net_evaluate(a->net, xr, y, n, NULL, loss_sum, correct);
    if (sparse)
        ss_net_set_sparse_inputs(a->net, sparse);
    a->forward += n;
    free(rank);
    free(keep);
    free(xr);
    free(sig);
    return 0;
}
