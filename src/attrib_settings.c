/* attrib_settings.c - the relevance methods' names and settings. See
   include/specsweep/attrib_settings.h. */
#include "specsweep/attrib_settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const method_names[SS_ATTRIB_N_METHODS] = {
    "spectral", "saliency", "input_x_gradient", "integrated_gradients", "smoothgrad",
    "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift", "permutation",
    "kernel_shap", "fourier"};

const char *ss_attrib_method_name(ss_attrib_method_t m)
{
    return (unsigned)m < SS_ATTRIB_N_METHODS ? method_names[m] : NULL;
}

int ss_attrib_method_lookup(const char *name)
{
    for (int m = 0; m < SS_ATTRIB_N_METHODS; m++)
        if (name && !strcmp(name, method_names[m]))
            return m;
    return -1;
}

void ss_attrib_defaults(ss_attrib_settings_t *s)
{
    /* Sources: attrib.h, above ss_attrib_settings_t. */
    memset(s, 0, sizeof *s);
    s->samples = 1000;
    s->chunk = 16;
    s->ig_steps = 50;
    s->ig_baseline = SS_ATTRIB_BASELINE_ZERO;
    s->smoothgrad_samples = 50;
    s->smoothgrad_noise = 0.15;
    s->spectrallens_scales = 10;
    s->spectrallens_samples = 5;
    s->spectrallens_max_scale = 0.5;
    s->spectrallens_noise = 0.3;
    s->spectrallens_exponent = 2.5;
    s->lrp_epsilon = 1e-9;
    s->lrp_zb = 1;
    s->deeplift_baseline = SS_ATTRIB_BASELINE_ZERO;
    s->permutation_repeats = 5;
    s->shap_samples = 0;
    s->shap_kmeans = 0;
    s->fourier_steps = 50;
    s->fourier_baseline = SS_ATTRIB_BASELINE_ZERO;
}

#define KEY(name, kind, lo, hi, open) \
    {#name, kind, offsetof(ss_attrib_settings_t, name), lo, hi, open}

const ss_attrib_key_t ss_attrib_keys[] = {
    KEY(samples, SS_ATTRIB_KEY_INT, 0, 1 << 30, 0),
    KEY(chunk, SS_ATTRIB_KEY_INT, 1, 4096, 0),
    KEY(ig_steps, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(ig_baseline, SS_ATTRIB_KEY_BASELINE, 0, 1, 0),
    KEY(smoothgrad_samples, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(smoothgrad_noise, SS_ATTRIB_KEY_REAL, 0.0, 1e6, 0),
    KEY(spectrallens_scales, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(spectrallens_samples, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(spectrallens_max_scale, SS_ATTRIB_KEY_REAL, 0.0, 1.0, 1),
    KEY(spectrallens_noise, SS_ATTRIB_KEY_REAL, 0.0, 1e6, 0),
    KEY(spectrallens_exponent, SS_ATTRIB_KEY_REAL, 0.0, 10.0, 0),
    KEY(lrp_epsilon, SS_ATTRIB_KEY_REAL, 0.0, INFINITY, 0),
    KEY(lrp_zb, SS_ATTRIB_KEY_INT, 0, 1, 0),
    KEY(deeplift_baseline, SS_ATTRIB_KEY_BASELINE, 0, 1, 0),
    KEY(permutation_repeats, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(shap_samples, SS_ATTRIB_KEY_INT, 0, 1 << 24, 0),
    KEY(shap_kmeans, SS_ATTRIB_KEY_INT, 0, 100000, 0),
    KEY(fourier_steps, SS_ATTRIB_KEY_INT, 1, 100000, 0),
    KEY(fourier_baseline, SS_ATTRIB_KEY_BASELINE, 0, 1, 0),
};
const int ss_attrib_n_keys = (int)(sizeof ss_attrib_keys / sizeof ss_attrib_keys[0]);

const ss_attrib_key_t *ss_attrib_key_lookup(const char *name)
{
    for (int k = 0; k < ss_attrib_n_keys; k++)
        if (!strcmp(ss_attrib_keys[k].name, name))
            return &ss_attrib_keys[k];
    return NULL;
}

int ss_attrib_key_in_range(const ss_attrib_key_t *k, double v)
{
    if (isnan(v) || v > k->hi || v < k->lo || (k->lo_open && v <= k->lo))
        return 0;
    return k->kind != SS_ATTRIB_KEY_INT || v == floor(v);
}

static const char *const baseline_names[] = {"zero", "mean"};

const char *ss_attrib_baseline_name(ss_attrib_baseline_t b)
{
    return (unsigned)b < 2 ? baseline_names[b] : NULL;
}

int ss_attrib_baseline_lookup(const char *name)
{
    for (int b = 0; b < 2; b++)
        if (!strcmp(name, baseline_names[b]))
            return b;
    return -1;
}

int ss_attrib_key_applies(const ss_attrib_key_t *k, ss_attrib_method_t m)
{
    /* the methods a setting's name prefix belongs to; the rest apply to every method
       that explains samples */
    static const struct {
        const char *prefix;
        ss_attrib_method_t m1, m2;
    } own[] = {
        {"ig_", SS_ATTRIB_INTEGRATED_GRADIENTS, SS_ATTRIB_INTEGRATED_GRADIENTS},
        {"smoothgrad_", SS_ATTRIB_SMOOTHGRAD, SS_ATTRIB_SMOOTHGRAD_SQUARED},
        {"spectrallens_", SS_ATTRIB_SPECTRALLENS, SS_ATTRIB_SPECTRALLENS},
        {"lrp_", SS_ATTRIB_LRP_EPSILON, SS_ATTRIB_LRP_EPSILON},
        {"deeplift_", SS_ATTRIB_DEEPLIFT, SS_ATTRIB_DEEPLIFT},
        {"permutation_", SS_ATTRIB_PERMUTATION, SS_ATTRIB_PERMUTATION},
        {"shap_", SS_ATTRIB_KERNEL_SHAP, SS_ATTRIB_KERNEL_SHAP},
        {"fourier_", SS_ATTRIB_FOURIER, SS_ATTRIB_FOURIER},
    };
    if (m == SS_ATTRIB_SPECTRAL)
        return 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strncmp(k->name, own[i].prefix, strlen(own[i].prefix)))
            return m == own[i].m1 || m == own[i].m2;
    return 1;
}

double ss_attrib_rank_value(ss_attrib_method_t m, double v)
{
    return m == SS_ATTRIB_SPECTRAL ? fabs(v) : v;
}

int ss_attrib_settings_check(const ss_attrib_settings_t *s, ss_error_t *err)
{
    for (int k = 0; k < ss_attrib_n_keys; k++) {
        const ss_attrib_key_t *key = &ss_attrib_keys[k];
        const char *p = (const char *)s + key->offset;
        double v = key->kind == SS_ATTRIB_KEY_REAL ? *(const double *)p
                   : key->kind == SS_ATTRIB_KEY_INT ? *(const int *)p
                                                    : (double)*(const ss_attrib_baseline_t *)p;
        if (ss_attrib_key_in_range(key, v))
            continue;
        if (key->kind == SS_ATTRIB_KEY_BASELINE)
            ss_error_set(err, SS_EXIT_INPUT, "relevance.%s: must be zero or mean", key->name);
        else
            ss_error_set(err, SS_EXIT_INPUT, "relevance.%s: %g is outside [%g, %g]%s",
                         key->name, v, key->lo, key->hi, key->lo_open ? " (above the lower end)" : "");
        return -1;
    }
    return 0;
}
