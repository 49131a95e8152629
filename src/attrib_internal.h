/*
 * attrib_internal.h - what attrib.c shares with attrib_model.c, attrib_shap.c and
 * attrib_fourier.c: the context, the counted network passes, the per-sample random
 * numbers, and each file's methods. Not part of the public interface
 * (include/specsweep/attrib.h).
 */
#ifndef SPECSWEEP_ATTRIB_INTERNAL_H
#define SPECSWEEP_ATTRIB_INTERNAL_H

#include "specsweep/attrib.h"

/* A growable float buffer (never shrinks), so that units reuse their scratch space. */
typedef struct {
    float *p;
    size_t cap;   /* floats */
} ss_fbuf_t;

float *ss_fbuf_get(ss_fbuf_t *b, size_t n);

typedef struct fourier_plan fourier_plan_t;   /* attrib_fourier.c */

struct ss_attrib {
    ss_net_t *net;
    ss_attrib_settings_t s;
    ss_attrib_data_t d;
    uint64_t seed;
    int M;                          /* inputs */
    int n_out;                      /* network outputs */
    int *target;                    /* (n) output explained per sample */
    uint32_t *id;                   /* (n) random-number key per sample */
    double *mean, *min, *max, *std; /* (M) over the training inputs */
    float *zero_row, *mean_row;     /* (M) the two baselines */

    int64_t forward, backward;      /* passes so far (ss_attrib_compute takes deltas) */

    ss_fbuf_t rows, grads, outs;    /* scratch of the gradient methods */
    int *which;                     /* (which_cap) outputs of the rows */
    size_t which_cap;

    /* KernelSHAP background (attrib_shap.c), built on first use */
    int bg_n;                       /* 0 until built */
    float *bg;                      /* (bg_n, M) */
    double *bg_w;                   /* (bg_n) weights, sum 1 */

    fourier_plan_t *fourier;        /* attrib_fourier.c, built on first use */
    struct dmodel *dm;              /* attrib_model.c, built on first use */
};

/* The baseline row of a setting. */
const float *ss_attrib_baseline(const ss_attrib_t *a, ss_attrib_baseline_t b);

/* out (n, n_outputs) = the network on rows (n, M); counts n forward passes. */
void ss_attrib_predict(ss_attrib_t *a, const float *rows, int n, float *out);

/* out (R) = output which[r] of row r and dx (R, M) its input gradient, in batches of
   the net's max_batch; counts R forward and R backward passes. */
void ss_attrib_gradients(ss_attrib_t *a, const float *rows, const int *which, int R,
                         float *out, float *dx);

/* The random numbers of method m for key k (a sample id, or a column and repeat). */
void ss_attrib_rng(const ss_attrib_t *a, ss_attrib_method_t m, uint64_t k, ss_rng_t *rng);

/* LRP-epsilon and DeepLIFT of samples [first, first + C) (attrib_model.c): attr (C, M),
   check (C, 3) as ss_attrib_explain. */
void ss_attrib_lrp(ss_attrib_t *a, int first, int C, double *attr, double *check);
void ss_attrib_deeplift(ss_attrib_t *a, int first, int C, double *attr, double *check);
/* Permutation importance of columns [c0, c1) into values[c0 .. c1); *base_out = the
   score of the unpermuted explained samples. */
void ss_attrib_permutation(ss_attrib_t *a, int c0, int c1, double *values, double *base_out);
void ss_attrib_model_free(struct dmodel *dm);

/* KernelSHAP attributions of samples [first, first + count): attr (count, M), check
   (count, 3) as ss_attrib_explain. */
void ss_attrib_kernel_shap(ss_attrib_t *a, int first, int count, double *attr,
                           double *check);
void ss_attrib_shap_free(ss_attrib_t *a);

/* Fourier transforms of the context's input shape (attrib_fourier.c). */
int ss_attrib_fourier_values(const ss_attrib_t *a);
/* attr (F) of one sample from its input difference dx (M) and path-averaged gradient
   g (M): attr_f = c_f / N * Re(DX_f conj(G_f)) (see attrib_fourier.c). */
void ss_attrib_fourier_attr(ss_attrib_t *a, const double *dx, const double *g, double *attr);
void ss_attrib_fourier_free(ss_attrib_t *a);

#endif
