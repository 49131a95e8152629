/*
 * synth.c - the synthetic datasets of the papers: independent Gaussian features (fig. 3),
 * correlated Gaussian pairs (fig. 4) and stellar spectra (a stand-in for MILES, fig. 11).
 * Their data is described in include/specsweep/data.h and docs/FORMATS.md; everything
 * depends only on the spec (data_seed, stream SS_STREAM_DATA). The shared row tables and
 * steps are data_table.c's (data_internal.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* ---- Gaussian kinds --------------------------------------------------------------------- */

/* The checks every synthetic kind shares: at least 2 samples, a positive sigma. */
static int synth_check(const ss_dataset_spec_t *spec, ss_error_t *err)
{
    if (spec->samples < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: samples must be at least 2, not %d",
                     spec->name, spec->samples);
        return -1;
    }
    if (!(spec->sigma > 0.0 && isfinite(spec->sigma))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: sigma must be positive, not %g",
                     spec->name, spec->sigma);
        return -1;
    }
    return 0;
}

/* The tail of the two-class Gaussian kinds, once every sample is in `all`: the ground
   truth (malloc'd, now owned by ds) and the rows go to ds. 0, or -1 with err set and the
   rows freed. */
static int synth_finish(const ss_dataset_spec_t *spec, data_table_t *all, double *truth,
                        ss_dataset_t *ds, ss_error_t *err)
{
    data_table_t test = {0};
    all->n = spec->samples;
    ds->info.relevance_truth = truth;
    ds->info.n_classes = 2;
    if (data_finish(spec, spec->name, all, &test, ds, err)) {
        data_table_free(all);
        data_table_free(&test);
        return -1;
    }
    return 0;
}

/*
 * Independent Gaussian features (fig. 3 of Chicchi et al., arXiv:2406.01183). Two
 * balanced classes (row i has class i mod 2, the split shuffles). Every feature is
 * N(mu, sigma^2) with mu = 0 for class 0; for the first `relevant` features class 1 has
 * mu = s_j with s_j ~ U(0, max_shift) drawn once, before the samples. The ground truth is
 * |s_j| (0 for the other features).
 */
int synth_gaussian(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    data_table_t all = {0};
    int d = spec->features, r = spec->relevant;
    if (synth_check(spec, err))
        return -1;
    if (d < 1 || r < 0 || r > d) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "dataset %s: need 1 <= features and 0 <= relevant <= features (%d, %d)",
                     spec->name, d, r);
        return -1;
    }
    if (!(spec->max_shift >= 0.0 && isfinite(spec->max_shift))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: max_shift must be >= 0, not %g",
                     spec->name, spec->max_shift);
        return -1;
    }
    if (data_table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
        return -1;
    double *shift = ss_alloc_aligned((size_t)d * sizeof(double)); /* zero beyond r */
    ss_rng_t rng;
    ss_rng_seed(&rng, spec->data_seed, SS_STREAM_DATA);
    for (int j = 0; j < r; j++)
        shift[j] = spec->max_shift * ss_rng_uniform(&rng);
    for (int i = 0; i < spec->samples; i++) {
        int c = i & 1;
        float *row = all.x + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++)
            row[j] = (float)(spec->sigma * ss_rng_normal(&rng) + (c ? shift[j] : 0.0));
        all.y[i] = (float)c;
    }
    return synth_finish(spec, &all, shift, ds, err); /* shifts are >= 0: |s_j| = s_j */
}

/*
 * Correlated Gaussian pairs (fig. 4 of Chicchi et al., arXiv:2406.01183), generated as
 * the authors' published notebook for that figure does. Two balanced classes; for pair n
 * (features 2n and 2n+1):
 *
 *     x_2n ~ N(0, sigma^2) for both classes
 *     class 0:  x_2n+1 = x_2n
 *     class 1:  x_2n+1 = -x_2n with probability p_n, else x_2n+1 = x_2n
 *
 * then noise_features more features ~ N(0, sigma^2). Every feature alone has the same
 * distribution in both classes; the class shows only in the pair's joint sign pattern,
 * and more often the larger p_n is. The law of (x_2n, x_2n+1) is symmetric under swapping
 * the two (x -> -x leaves N(0, sigma^2) unchanged), so both members of a pair are equally
 * relevant: the ground truth is p_n for both, 0 for the noise. max_shift is not used.
 */
int synth_correlated(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    data_table_t all = {0};
    int np = spec->n_pairs, nz = spec->noise_features;
    if (synth_check(spec, err))
        return -1;
    if (np < 1 || np > SS_MAX_PAIRS || nz < 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "dataset %s: need 1 <= pairs <= %d and noise_features >= 0 (%d, %d)",
                     spec->name, SS_MAX_PAIRS, np, nz);
        return -1;
    }
    for (int k = 0; k < np; k++)
        if (!(spec->pair_p[k] >= 0.0 && spec->pair_p[k] <= 1.0)) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "dataset %s: pair probability %d is %g, not in [0, 1]", spec->name,
                         k + 1, spec->pair_p[k]);
            return -1;
        }
    int d = 2 * np + nz;
    if (data_table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
        return -1;
    ss_rng_t rng;
    ss_rng_seed(&rng, spec->data_seed, SS_STREAM_DATA);
    for (int i = 0; i < spec->samples; i++) {
        int c = i & 1;
        float *row = all.x + (size_t)i * (size_t)d;
        for (int k = 0; k < np; k++) {
            double a = spec->sigma * ss_rng_normal(&rng);
            double u = ss_rng_uniform(&rng); /* drawn for both classes: one fixed sequence */
            row[2 * k] = (float)a;
            row[2 * k + 1] = (float)(c == 1 && u < spec->pair_p[k] ? -a : a);
        }
        for (int k = 0; k < nz; k++)
            row[2 * np + k] = (float)(spec->sigma * ss_rng_normal(&rng));
        all.y[i] = (float)c;
    }
    double *truth = ss_alloc_aligned((size_t)d * sizeof(double));
    for (int k = 0; k < np; k++)
        truth[2 * k] = truth[2 * k + 1] = spec->pair_p[k];
    return synth_finish(spec, &all, truth, ds, err);
}

/* ---- synthetic stellar spectra --------------------------------------------------------- */

/* Stellar parameters besides [Fe/H], drawn per star; they shape the spectrum but carry no
   information about the target. */
#define SPEC_T_MIN 4000.0       /* effective temperature, K */
#define SPEC_T_MAX 7000.0
#define SPEC_LOGG_MIN 1.0       /* surface gravity log g (giants .. dwarfs) */
#define SPEC_LOGG_MAX 5.0
#define SPEC_C2 1.4387769e8     /* second radiation constant h c / k, in Angstrom K */
#define SPEC_FLOOR 0.1          /* fraction of a line's strength at the bottom of its range */

/* One absorption line: a Gaussian profile on the pixel grid, truncated to its window. */
typedef struct {
    int first, count;   /* window: pixels first .. first + count - 1 */
    double *profile;    /* count values: exp(-(i - centre)^2 / (2 width^2)), in (0, 1] */
    double strength;    /* optical depth at the centre at the top of the driver's range */
    int metal;          /* 1: depth follows [Fe/H]; 0: a nuisance line */
    int driver;         /* nuisance lines: 0 rises with T, 1 falls with T, 2 rises with log g */
} spec_line_t;

/* The median of a[0..n-1] (n >= 1); reorders a. Quickselect, then the upper middle. */
static double spec_median(double *a, size_t n)
{
    size_t k = (n - 1) / 2, lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        /* a[lo..j] <= pivot <= a[j+1..hi] (Hoare partition) */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    double m = a[k];
    if (n % 2)
        return m;
    double up = a[k + 1];          /* the smallest of a[k+1..n-1] */
    for (size_t i = k + 2; i < n; i++)
        up = a[i] < up ? a[i] : up;
    return 0.5 * (m + up);
}

/* The checks of spectra's parameters (see cfg_check_spectra in config.c for a sweep
   file's): enough wavelengths for the lines, metal_min < metal_max, 0 < wave_min <
   wave_max. 0, or -1 with err set. */
static int spectra_check(const ss_dataset_spec_t *spec, ss_error_t *err)
{
    int d = spec->features, nm = spec->metal_lines, nn = spec->nuisance_lines;
    if (d < SS_SPECTRA_MIN_FEATURES || nm < 1 || nn < 0 ||
        ((long long)nm + nn) * SS_SPECTRA_LINE_PIXELS > d) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "dataset %s: need features >= %d, metal_lines >= 1, nuisance_lines >= 0 "
                     "and %d features per line (features %d, metal_lines %d, nuisance_lines "
                     "%d)", spec->name, SS_SPECTRA_MIN_FEATURES, SS_SPECTRA_LINE_PIXELS, d, nm,
                     nn);
        return -1;
    }
    if (!(spec->metal_min < spec->metal_max && isfinite(spec->metal_min) &&
          isfinite(spec->metal_max))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: need metal_min < metal_max (%g, %g)",
                     spec->name, spec->metal_min, spec->metal_max);
        return -1;
    }
    if (!(spec->wave_min > 0.0 && spec->wave_min < spec->wave_max && isfinite(spec->wave_max))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: need 0 < wave_min < wave_max (%g, %g)",
                     spec->name, spec->wave_min, spec->wave_max);
        return -1;
    }
    return 0;
}

/* The line list of synth_spectra, drawn from rng: metal_lines + nuisance_lines lines,
   malloc'd with their profiles (free with spectra_lines_free). Adds every metal line's
   contribution to truth[features] (zeroed by the caller). */
static spec_line_t *spectra_lines(const ss_dataset_spec_t *spec, ss_rng_t *rng, double *truth)
{
    int d = spec->features, nm = spec->metal_lines, nn = spec->nuisance_lines;
    int n_lines = nm + nn, slot = d / n_lines;
    int start = (d - slot * n_lines) / 2;
    int hmax = (slot - 3) / 2;              /* slot >= 10: hmax >= 3, width >= 0.75 */
    spec_line_t *lines = ss_calloc((size_t)n_lines, sizeof *lines);
    for (int k = 0; k < n_lines; k++)
        lines[k].metal = k < nm;
    for (int k = n_lines - 1; k > 0; k--) { /* which slots hold metal lines */
        int j = (int)ss_rng_below(rng, (uint64_t)k + 1);
        int t = lines[k].metal;
        lines[k].metal = lines[j].metal;
        lines[j].metal = t;
    }
    for (int k = 0, n_nuisance = 0; k < n_lines; k++) {
        spec_line_t *L = &lines[k];
        double w = 1.0 + 1.5 * ss_rng_uniform(rng);
        if (w > hmax / 4.0)
            w = hmax / 4.0;
        double reach = 4.0 * w;
        double a = start + (double)k * slot;
        double lo = a + 1.0 + reach, hi = a + slot - 2.0 - reach; /* hi >= lo: 8 w <= slot - 3 */
        double centre = lo + (hi - lo) * ss_rng_uniform(rng);
        L->strength = 0.3 + 0.7 * ss_rng_uniform(rng);
        L->driver = L->metal ? -1 : n_nuisance++ % 3;
        /* pixels strictly within reach of the centre: inside [a + 2, a + slot - 3] */
        int first = (int)floor(centre - reach) + 1, last = (int)ceil(centre + reach) - 1;
        L->first = first;
        L->count = last - first + 1;
        L->profile = ss_malloc((size_t)L->count * sizeof(double));
        for (int i = 0; i < L->count; i++) {
            double z = (first + i - centre) / w;
            L->profile[i] = exp(-0.5 * z * z);
        }
        if (L->metal)
            for (int i = 0; i < L->count; i++)
                truth[first + i] += 0.9 * L->strength / (spec->metal_max - spec->metal_min) *
                                    L->profile[i];
    }
    return lines;
}

static void spectra_lines_free(spec_line_t *lines, int n_lines)
{
    if (lines)
        for (int k = 0; k < n_lines; k++)
            free(lines[k].profile);
    free(lines);
}

/* One star of synth_spectra, drawn from rng: its noisy flux (not yet normalised) into
   flux[features] on the grid wave[]. Returns its [Fe/H], the target. */
static double spectra_star(const ss_dataset_spec_t *spec, const spec_line_t *lines,
                           int n_lines, const double *wave, ss_rng_t *rng, double *flux)
{
    int d = spec->features;
    double mrange = spec->metal_max - spec->metal_min;
    double m = spec->metal_min + mrange * ss_rng_uniform(rng);
    double t = ss_rng_uniform(rng);     /* (T - T_MIN) / (T_MAX - T_MIN) */
    double g = ss_rng_uniform(rng);     /* (log g - LOGG_MIN) / (LOGG_MAX - LOGG_MIN) */
    double bright = pow(10.0, 2.0 * ss_rng_uniform(rng) - 1.0);
    double temp = SPEC_T_MIN + (SPEC_T_MAX - SPEC_T_MIN) * t;
    double u_metal = (m - spec->metal_min) / mrange;
    for (int i = 0; i < d; i++) {    /* Planck shape, scaled to 1 at wave_min */
        double r = wave[i] / spec->wave_min;
        flux[i] = bright / (r * r * r * r * r) *
                  expm1(SPEC_C2 / (spec->wave_min * temp)) /
                  expm1(SPEC_C2 / (wave[i] * temp));
    }
    for (int k = 0; k < n_lines; k++) {
        const spec_line_t *L = &lines[k];
        double u = L->metal ? u_metal : L->driver == 0 ? t : L->driver == 1 ? 1.0 - t : g;
        double depth = L->strength * (SPEC_FLOOR + (1.0 - SPEC_FLOOR) * u);
        for (int i = 0; i < L->count; i++)
            flux[L->first + i] *= exp(-depth * L->profile[i]);
    }
    for (int i = 0; i < d; i++)
        flux[i] *= 1.0 + spec->sigma * ss_rng_normal(rng);
    return m;
}

/*
 * Synthetic stellar spectra, a stand-in for the MILES library of fig. 11 (regression of
 * [Fe/H]). `features` pixels on a uniform grid from wave_min to wave_max (Angstrom).
 *
 * The line list is drawn once from data_seed (stream SS_STREAM_DATA, before the stars):
 * the grid is cut into metal_lines + nuisance_lines equal slots (leftover pixels at both
 * ends are pure continuum), each slot holds one line, which slots hold metal lines is a
 * random shuffle. A line has a Gaussian width w ~ U(1, 2.5) pixels (narrower in short
 * slots), a centre drawn uniformly where its window |i - centre| < 4 w keeps two free
 * pixels to both slot edges (so windows never touch), and a strength S ~ U(0.3, 1).
 * Nuisance lines take turns, in wavelength order, to strengthen with temperature, weaken
 * with temperature and strengthen with gravity.
 *
 * Per star: [Fe/H] m ~ U(metal_min, metal_max) (the target), T ~ U(4000, 7000) K,
 * log g ~ U(1, 5), a brightness A = 10^U(-1, 1). With u the driver scaled to [0, 1]
 * (u = (m - metal_min) / (metal_max - metal_min) for metal lines; (T - 4000) / 3000, its
 * complement, or (log g - 1) / 4 for nuisance lines) a line's optical depth is
 * tau(i) = S (0.1 + 0.9 u) profile(i), and the flux
 *
 *     F_i = A B(lambda_i, T) exp(-sum_lines tau(i)) (1 + sigma n_i),  n_i ~ N(0, 1)
 *
 * with B the Planck law (its shape only). Each spectrum is then divided by its median,
 * as astronomers normalise spectra: the brightness A carries nothing, the continuum shape
 * still follows T.
 *
 * relevance_truth_i = -d ln F_i / d m = sum over metal lines 0.9 S / (metal_max -
 * metal_min) profile(i): how strongly pixel i's (noise-free, un-normalised) log flux
 * responds to [Fe/H], per dex. It is the same for every star, positive inside the windows
 * of metal lines and exactly 0 elsewhere, nuisance windows included. (Dividing by the
 * median adds the same tiny term to every pixel; it is not part of the truth.)
 * feature_names are the wavelengths ("%.2f").
 */
int synth_spectra(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    data_table_t all = {0}, test = {0};
    spec_line_t *lines = NULL;
    double *wave = NULL, *flux = NULL, *work = NULL, *truth = NULL;
    int rc = -1;
    int d = spec->features, n_lines = 0;

    if (synth_check(spec, err) || spectra_check(spec, err))
        return -1;
    n_lines = spec->metal_lines + spec->nuisance_lines;
    if (data_table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
        return -1;

    ss_rng_t rng;
    ss_rng_seed(&rng, spec->data_seed, SS_STREAM_DATA);
    truth = ss_alloc_aligned((size_t)d * sizeof(double));
    lines = spectra_lines(spec, &rng, truth);

    /* the stars */
    wave = ss_malloc((size_t)d * sizeof(double));
    flux = ss_malloc((size_t)d * sizeof(double));
    work = ss_malloc((size_t)d * sizeof(double));
    for (int i = 0; i < d; i++)
        wave[i] = spec->wave_min + (spec->wave_max - spec->wave_min) * i / (d - 1);
    for (int s = 0; s < spec->samples; s++) {
        double m = spectra_star(spec, lines, n_lines, wave, &rng, flux);
        memcpy(work, flux, (size_t)d * sizeof(double));
        double med = spec_median(work, (size_t)d);
        if (!(med > 0.0)) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: sigma %g is too large: spectrum %d "
                         "has no positive median flux to normalise by", spec->name,
                         spec->sigma, s + 1);
            goto done;
        }
        float *row = all.x + (size_t)s * (size_t)d;
        for (int i = 0; i < d; i++)
            row[i] = (float)(flux[i] / med);
        all.y[s] = (float)m;
    }
    all.n = spec->samples;

    ds->info.n_classes = 0;
    if (data_finish(spec, spec->name, &all, &test, ds, err))
        goto done;
    ds->info.relevance_truth = truth;
    truth = NULL;
    ds->info.feature_names = ss_calloc((size_t)d, sizeof(char *));
    for (int i = 0; i < d; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.2f", wave[i]);
        ds->info.feature_names[i] = ss_strdup(name);
    }
    rc = 0;
done:
    spectra_lines_free(lines, n_lines);
    free(wave);
    free(flux);
    free(work);
    free(truth);
    data_table_free(&all);
    data_table_free(&test);
    return rc;
}
