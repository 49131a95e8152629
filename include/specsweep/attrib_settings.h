/*
 * attrib_settings.h - the post-hoc relevance methods by name and their settings: what a
 * sweep file's `relevance:` section says (config.h) and the attribution module computes
 * (attrib.h). Below both, so that the sweep file's vocabulary needs no network.
 */
#ifndef SPECSWEEP_ATTRIB_SETTINGS_H
#define SPECSWEEP_ATTRIB_SETTINGS_H

#include <stddef.h>
#include "specsweep/util.h"

typedef enum {
    SS_ATTRIB_SPECTRAL,             /* |lambda_in_i| ||psi_i,:|| (ss_net_relevance); skipped
                                       on a dense first layer (reported, not an error) */
    SS_ATTRIB_SALIENCY,             /* |df/dx| */
    SS_ATTRIB_INPUT_X_GRADIENT,     /* x * df/dx */
    SS_ATTRIB_INTEGRATED_GRADIENTS, /* (x - x0) * mean df/dx on the path, Gauss-Legendre */
    SS_ATTRIB_SMOOTHGRAD,           /* mean df/dx over noisy copies */
    SS_ATTRIB_SMOOTHGRAD_SQUARED,   /* mean (df/dx)^2 over noisy copies */
    SS_ATTRIB_SPECTRALLENS,         /* squared gradients aggregated over noise levels */
    SS_ATTRIB_LRP_EPSILON,          /* LRP-epsilon, z^B at the input layer */
    SS_ATTRIB_DEEPLIFT,             /* DeepLIFT, Rescale rule */
    SS_ATTRIB_PERMUTATION,          /* permutation importance of each column */
    SS_ATTRIB_KERNEL_SHAP,          /* KernelSHAP, Shapley kernel WLS + efficiency */
    SS_ATTRIB_FOURIER,              /* integrated gradients over the DFT coefficients */
    SS_ATTRIB_N_METHODS
} ss_attrib_method_t;

/* "spectral", "saliency", ... (the sweep-file names); NULL for an invalid value. */
const char *ss_attrib_method_name(ss_attrib_method_t m);
/* The method called `name`, or -1. */
int ss_attrib_method_lookup(const char *name);

typedef enum { SS_ATTRIB_BASELINE_ZERO, SS_ATTRIB_BASELINE_MEAN } ss_attrib_baseline_t;

/*
 * Every hyperparameter, set by ss_attrib_defaults(). Defaults and their sources:
 *   samples 1000            explained samples: a seeded subset of the test set, which the
 *                           caller draws with ss_attrib_select_samples
 *   chunk 16                samples (permutation: columns) per work unit; part of the
 *                           result's definition only through summation order
 *   ig_steps 50, ig_baseline zero
 *                           Captum IntegratedGradients: n_steps=50,
 *                           method="gausslegendre", baselines default to zeros
 *   smoothgrad_samples 50, smoothgrad_noise 0.15
 *                           sigma_i = 0.15 x (max - min) of input i over the training
 *                           set; Smilkov et al. 2017 (SmoothGrad, noise 10-20 % of the
 *                           range, n = 50), the PAIR saliency library's stdev_spread
 *                           0.15 / nsamples 50; Captum NoiseTunnel takes sigma as given
 *   spectrallens_scales 10, spectrallens_samples 5, spectrallens_max_scale 0.5,
 *   spectrallens_noise 0.3, spectrallens_exponent 2.5
 *                           Mehrpanah et al., ECCV 2024 (arXiv 2508.10595) and its
 *                           authors' code (their SpectralLens experiment: scales
 *                           0..0.5, noise 0.3 in standardised units, weights a^2.5);
 *                           see attrib.c, "SpectralLens", for exactly what is
 *                           implemented and what was chosen here
 *   lrp_epsilon 1e-9        Captum EpsilonRule(epsilon=1e-9)
 *   lrp_zb 1                z^B rule at the input layer, bounds = the training minimum
 *                           and maximum of each input (Montavon et al. 2017, "Deep
 *                           Taylor decomposition"; zennit's ZBox rule); 0: epsilon there too
 *   deeplift_baseline zero  Captum DeepLift: baselines default to zeros; Rescale rule
 *   permutation_repeats 5   as scikit-learn's permutation_importance (n_repeats=5)
 *   shap_samples 0          coalitions per explained sample; 0 = SHAP's "auto":
 *                           2 n_inputs + 2048 (KernelExplainer nsamples="auto"). Per
 *                           explained sample KernelSHAP costs that many forward passes
 *                           (times the background points) and an n_inputs^2 system:
 *                           2 n_inputs^2 doubles of memory and n_inputs^3 / 3 flops
 *                           (784 inputs: 10 MB, 0.16 GFLOP; 4300: 300 MB, 27 GFLOP)
 *   shap_kmeans 0           background: 0 = the training mean (one point); k > 0 = k
 *                           means of the training inputs weighted by cluster size (as
 *                           shap.kmeans; without its rounding to data values)
 *   fourier_steps 50, fourier_baseline zero
 *                           integrated gradients in the frequency domain (paper 004),
 *                           Captum's IG conventions as above
 */
typedef struct {
    int samples;
    int chunk;
    int ig_steps;
    ss_attrib_baseline_t ig_baseline;
    int smoothgrad_samples;
    double smoothgrad_noise;
    int spectrallens_scales;
    int spectrallens_samples;
    double spectrallens_max_scale;
    double spectrallens_noise;
    double spectrallens_exponent;
    double lrp_epsilon;
    int lrp_zb;
    ss_attrib_baseline_t deeplift_baseline;
    int permutation_repeats;
    int shap_samples;
    int shap_kmeans;
    int fourier_steps;
    ss_attrib_baseline_t fourier_baseline;
} ss_attrib_settings_t;

void ss_attrib_defaults(ss_attrib_settings_t *s);
/* The settings by their sweep-file names (`relevance.<name>`): every field of
   ss_attrib_settings_t once, with its range. The sweep-file reader and
   ss_attrib_settings_check both go by it. */
typedef enum { SS_ATTRIB_KEY_INT, SS_ATTRIB_KEY_REAL, SS_ATTRIB_KEY_BASELINE } ss_attrib_key_kind_t;
typedef struct {
    const char *name;
    ss_attrib_key_kind_t kind;
    size_t offset;          /* in ss_attrib_settings_t (int, double or ss_attrib_baseline_t) */
    double lo, hi;          /* the allowed range (reals: lo excluded when lo_open) */
    int lo_open;
} ss_attrib_key_t;
extern const ss_attrib_key_t ss_attrib_keys[];
extern const int ss_attrib_n_keys;
/* The key called `name`, or NULL. */
const ss_attrib_key_t *ss_attrib_key_lookup(const char *name);
/* 1 if v is in key k's range (baselines: zero or mean). */
int ss_attrib_key_in_range(const ss_attrib_key_t *k, double v);
/* "zero", "mean" (NULL outside the enum); the baseline called `name`, or -1. */
const char *ss_attrib_baseline_name(ss_attrib_baseline_t b);
int ss_attrib_baseline_lookup(const char *name);

/* 1 if setting k shapes method m's result (and is recorded with it). */
int ss_attrib_key_applies(const ss_attrib_key_t *k, ss_attrib_method_t m);

/* How a method's global relevance v ranks an input (larger: more relevant): |v| for the
   signed eigenvalues of `spectral`, v itself for the others (a mean |attribution|, or the
   score drop of `permutation`, which is negative when permuting a column helps). */
double ss_attrib_rank_value(ss_attrib_method_t m, double v);

/* Checks every field's range; -1 with err (SS_EXIT_INPUT, naming "relevance.<key>") on
   the first bad one. Ranges: samples >= 0 (0 = all), chunk 1..4096, steps and sample
   counts 1..100000, smoothgrad_noise >= 0, spectrallens_noise >= 0,
   spectrallens_max_scale in (0, 1],
   spectrallens_exponent in [0, 10], lrp_epsilon >= 0, shap_samples >= 0,
   shap_kmeans >= 0, baselines zero|mean, lrp_zb 0|1. */
int ss_attrib_settings_check(const ss_attrib_settings_t *s, ss_error_t *err);

#endif
