/*
 * data.c - datasets: the synthetic generators of the papers and the file loaders.
 * See include/specsweep/data.h.
 *
 * Every kind first produces rows in a table_t (x: n x d floats, y: n floats). File
 * kinds then apply the class subset (apply_classes); every kind ends in finish_dataset,
 * which splits off the test set when the data has none of its own, applies the first-N
 * limits and hands the arrays over to the dataset. Nothing here writes a file.
 *
 * Errors in the data are SS_EXIT_INPUT with a message naming the file ("FILE: ..." or
 * "FILE:LINE: ..."); impossible parameters name the dataset ("dataset NAME: ...").
 * Every loader frees what it built on its error path; ss_dataset_load() then frees
 * whatever had already been handed to the dataset.
 */
#include "specsweep/data.h"

#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- tables of rows ------------------------------------------------------------------ */

typedef struct {
    float *x;   /* n x d, row-major, 64-byte aligned; room for at least n rows */
    float *y;   /* n: class index as float, or the regression target */
    int n, d;
} table_t;

static void table_free(table_t *t)
{
    free(t->x);
    free(t->y);
    t->x = t->y = NULL;
    t->n = 0;
}

/* Room for `rows` rows of `d` inputs (zeroed, t->n = 0). Sizes beyond int or size_t can
   only come from a corrupt or absurd header: SS_EXIT_INPUT naming `file`. */
static int table_alloc(table_t *t, size_t rows, int d, const char *file, ss_error_t *err)
{
    if (d <= 0 || rows > (size_t)INT_MAX ||
        (rows > 0 && (size_t)d > SIZE_MAX / sizeof(float) / rows)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: data too large (%zu rows x %d inputs)", file,
                     rows, d);
        return -1;
    }
    t->x = ss_alloc_aligned(rows * (size_t)d * sizeof(float));
    t->y = ss_alloc_aligned(rows * sizeof(float));
    t->n = 0;
    t->d = d;
    return 0;
}

/*
 * Shuffle the rows of t in place (Fisher-Yates on the stream SS_STREAM_SPLIT of
 * data_seed) and move the last n_test rows into a new table `test`. The training part
 * keeps its allocation; the row order of both parts is the shuffled order.
 */
static void split_rows(table_t *t, table_t *test, int n_test, uint64_t data_seed)
{
    ss_rng_t rng;
    ss_rng_seed(&rng, data_seed, SS_STREAM_SPLIT);
    size_t d = (size_t)t->d, row_bytes = d * sizeof(float);
    float *tmp = ss_malloc(row_bytes);
    for (size_t i = (size_t)t->n; i > 1; i--) {
        size_t j = (size_t)ss_rng_below(&rng, i);
        if (j == i - 1)
            continue;
        float *a = t->x + (i - 1) * d, *b = t->x + j * d;
        memcpy(tmp, a, row_bytes);
        memcpy(a, b, row_bytes);
        memcpy(b, tmp, row_bytes);
        float ty = t->y[i - 1];
        t->y[i - 1] = t->y[j];
        t->y[j] = ty;
    }
    free(tmp);

    size_t first = (size_t)(t->n - n_test);
    test->x = ss_alloc_aligned((size_t)n_test * row_bytes);
    test->y = ss_alloc_aligned((size_t)n_test * sizeof(float));
    memcpy(test->x, t->x + first * d, (size_t)n_test * row_bytes);
    memcpy(test->y, t->y + first, (size_t)n_test * sizeof(float));
    test->n = n_test;
    test->d = t->d;
    t->n -= n_test;
}

/*
 * The common tail of every kind. `test->x == NULL` means the data has no test set of its
 * own: test_fraction of the rows (rounded) become the test set, chosen with data_seed.
 * Then max_train / max_test keep the first N rows, and the arrays move into ds (the
 * tables are left empty). `file` names the data in messages.
 */
static int finish_dataset(const ss_dataset_spec_t *spec, const char *file, table_t *train,
                          table_t *test, ss_dataset_t *ds, ss_error_t *err)
{
    if (!test->x) {
        double f = spec->test_fraction;
        if (!(f >= 0.0 && f < 1.0)) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: test_fraction must be in [0, 1), not %g",
                         spec->name, f);
            return -1;
        }
        int n_test = (int)llround((double)train->n * f);
        if (train->n - n_test < 1) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: too few samples (%d) to split off a test set",
                         file, train->n);
            return -1;
        }
        split_rows(train, test, n_test, spec->data_seed);
    }
    if (spec->max_train > 0 && train->n > spec->max_train)
        train->n = spec->max_train;
    if (spec->max_test > 0 && test->n > spec->max_test)
        test->n = spec->max_test;
    if (train->n < 1) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no training samples", file);
        return -1;
    }
    ds->info.n_inputs = train->d;
    ds->info.n_train = train->n;
    ds->info.n_test = test->n;
    ds->x_train = train->x;
    ds->y_train = train->y;
    ds->x_test = test->x;
    ds->y_test = test->y;
    train->x = train->y = test->x = test->y = NULL;
    train->n = test->n = 0;
    return 0;
}

/* ---- classes ------------------------------------------------------------------------- */

/*
 * map[c] = new index of class c, or -1 when c is not kept. Without a subset every class
 * maps to itself. Checks the subset: classes in [0, SS_MAX_CLASSES), none twice.
 */
static int class_map(const ss_dataset_spec_t *spec, int map[SS_MAX_CLASSES], ss_error_t *err)
{
    int k = spec->n_class_subset;
    if (k < 0 || k > SS_MAX_CLASSES) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: %d classes listed (at most %d)",
                     spec->name, k, SS_MAX_CLASSES);
        return -1;
    }
    for (int c = 0; c < SS_MAX_CLASSES; c++)
        map[c] = k ? -1 : c;
    for (int i = 0; i < k; i++) {
        int c = spec->class_subset[i];
        if (c < 0 || c >= SS_MAX_CLASSES) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: class %d out of range (0..%d)",
                         spec->name, c, SS_MAX_CLASSES - 1);
            return -1;
        }
        if (map[c] >= 0) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: class %d listed twice", spec->name, c);
            return -1;
        }
        map[c] = i;
    }
    return 0;
}

/* Keep the rows whose class maps to a new index, relabelled; order is preserved. */
static void filter_rows(table_t *t, const int map[SS_MAX_CLASSES])
{
    size_t d = (size_t)t->d;
    int kept = 0;
    for (int i = 0; i < t->n; i++) {
        int c = map[(int)t->y[i]];
        if (c < 0)
            continue;
        if (kept != i)
            memmove(t->x + (size_t)kept * d, t->x + (size_t)i * d, d * sizeof(float));
        t->y[kept++] = (float)c;
    }
    t->n = kept;
}

/*
 * Classification labels already checked to be integers in [0, SS_MAX_CLASSES). With a
 * class subset keep only those classes (every one must occur in the training rows),
 * else n_classes = largest label + 1. Fewer than two classes is an error.
 */
static int apply_classes(const ss_dataset_spec_t *spec, const char *file, table_t *train,
                         table_t *test, int *n_classes, ss_error_t *err)
{
    int map[SS_MAX_CLASSES];
    if (class_map(spec, map, err))
        return -1;
    int k = spec->n_class_subset;
    if (k > 0) {
        filter_rows(train, map);
        if (test->x)
            filter_rows(test, map);
        int count[SS_MAX_CLASSES] = {0};
        for (int i = 0; i < train->n; i++)
            count[(int)train->y[i]]++;
        for (int i = 0; i < k; i++)
            if (count[i] == 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s: class %d does not occur in the data",
                             file, spec->class_subset[i]);
                return -1;
            }
        *n_classes = k;
    } else {
        int top = -1;
        for (int i = 0; i < train->n; i++)
            if ((int)train->y[i] > top)
                top = (int)train->y[i];
        for (int i = 0; test->x && i < test->n; i++)
            if ((int)test->y[i] > top)
                top = (int)test->y[i];
        *n_classes = top + 1;
    }
    if (*n_classes < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: classification needs at least 2 classes, found %d",
                     file, *n_classes);
        return -1;
    }
    return 0;
}

/* ---- synthetic kinds ------------------------------------------------------------------- */

static int check_synthetic(const ss_dataset_spec_t *spec, ss_error_t *err)
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

/*
 * Independent Gaussian features (fig. 3 of Chicchi et al., arXiv:2406.01183). Two
 * balanced classes (row i has class i mod 2, the split shuffles). Every feature is
 * N(mu, sigma^2) with mu = 0 for class 0; for the first `relevant` features class 1 has
 * mu = s_j with s_j ~ U(0, max_shift) drawn once, before the samples. The ground truth is
 * |s_j| (0 for the other features).
 */
static int load_gaussian(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    table_t all = {0}, test = {0};
    int d = spec->features, r = spec->relevant;
    if (check_synthetic(spec, err))
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
    if (table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
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
    all.n = spec->samples;
    ds->info.relevance_truth = shift; /* shifts are >= 0, so |s_j| = s_j */
    ds->info.n_classes = 2;
    if (finish_dataset(spec, spec->name, &all, &test, ds, err)) {
        table_free(&all);
        table_free(&test);
        return -1;
    }
    return 0;
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
static int load_correlated(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    table_t all = {0}, test = {0};
    int np = spec->n_pairs, nz = spec->noise_features;
    if (check_synthetic(spec, err))
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
    if (table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
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
    all.n = spec->samples;
    double *truth = ss_alloc_aligned((size_t)d * sizeof(double));
    for (int k = 0; k < np; k++)
        truth[2 * k] = truth[2 * k + 1] = spec->pair_p[k];
    ds->info.relevance_truth = truth;
    ds->info.n_classes = 2;
    if (finish_dataset(spec, spec->name, &all, &test, ds, err)) {
        table_free(&all);
        table_free(&test);
        return -1;
    }
    return 0;
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
static int load_spectra(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    table_t all = {0}, test = {0};
    spec_line_t *lines = NULL;
    double *wave = NULL, *flux = NULL, *work = NULL, *truth = NULL;
    int rc = -1;
    int d = spec->features, nm = spec->metal_lines, nn = spec->nuisance_lines;

    if (check_synthetic(spec, err))
        return -1;
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
    if (table_alloc(&all, (size_t)spec->samples, d, spec->name, err))
        return -1;

    ss_rng_t rng;
    ss_rng_seed(&rng, spec->data_seed, SS_STREAM_DATA);

    /* the line list */
    int n_lines = nm + nn, slot = d / n_lines;
    int start = (d - slot * n_lines) / 2;
    int hmax = (slot - 3) / 2;              /* slot >= 10: hmax >= 3, width >= 0.75 */
    lines = ss_calloc((size_t)n_lines, sizeof *lines);
    for (int k = 0; k < n_lines; k++)
        lines[k].metal = k < nm;
    for (int k = n_lines - 1; k > 0; k--) { /* which slots hold metal lines */
        int j = (int)ss_rng_below(&rng, (uint64_t)k + 1);
        int t = lines[k].metal;
        lines[k].metal = lines[j].metal;
        lines[j].metal = t;
    }
    truth = ss_alloc_aligned((size_t)d * sizeof(double));
    for (int k = 0, n_nuisance = 0; k < n_lines; k++) {
        spec_line_t *L = &lines[k];
        double w = 1.0 + 1.5 * ss_rng_uniform(&rng);
        if (w > hmax / 4.0)
            w = hmax / 4.0;
        double reach = 4.0 * w;
        double a = start + (double)k * slot;
        double lo = a + 1.0 + reach, hi = a + slot - 2.0 - reach; /* hi >= lo: 8 w <= slot - 3 */
        double centre = lo + (hi - lo) * ss_rng_uniform(&rng);
        L->strength = 0.3 + 0.7 * ss_rng_uniform(&rng);
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

    /* the stars */
    wave = ss_malloc((size_t)d * sizeof(double));
    flux = ss_malloc((size_t)d * sizeof(double));
    work = ss_malloc((size_t)d * sizeof(double));
    for (int i = 0; i < d; i++)
        wave[i] = spec->wave_min + (spec->wave_max - spec->wave_min) * i / (d - 1);
    double mrange = spec->metal_max - spec->metal_min;
    for (int s = 0; s < spec->samples; s++) {
        double m = spec->metal_min + mrange * ss_rng_uniform(&rng);
        double t = ss_rng_uniform(&rng);     /* (T - T_MIN) / (T_MAX - T_MIN) */
        double g = ss_rng_uniform(&rng);     /* (log g - LOGG_MIN) / (LOGG_MAX - LOGG_MIN) */
        double bright = pow(10.0, 2.0 * ss_rng_uniform(&rng) - 1.0);
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
            flux[i] *= 1.0 + spec->sigma * ss_rng_normal(&rng);
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
    if (finish_dataset(spec, spec->name, &all, &test, ds, err))
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
    if (lines)
        for (int k = 0; k < n_lines; k++)
            free(lines[k].profile);
    free(lines);
    free(wave);
    free(flux);
    free(work);
    free(truth);
    table_free(&all);
    table_free(&test);
    return rc;
}

/* ---- CSV -------------------------------------------------------------------------------- */


static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int at_eol(const char *p, const char *end)
{
    return p >= end || *p == '\n' || *p == '\r';
}

/* Step over one line ending ("\n", "\r\n" or a lone "\r") if p is at one. */
static const char *skip_eol(const char *p, const char *end)
{
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    return p;
}

static int is_cell_end(char c)
{
    return c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\0';
}

/*
 * A number from s (NUL-terminated text): *endp gets where it ends. Returns 0 if no
 * number starts at s. The result is always exactly strtof's; the common cases take a
 * fast path that is ~4x quicker (Clinger's): with at most 15 significant digits and a
 * decimal exponent of at most 22, m and 10^k are exact doubles, so m * 10^k or m / 10^k
 * is the correctly rounded double, and rounding that to float is correct unless the
 * double lies exactly halfway between two floats (checked; then strtof decides).
 */
static int parse_number(const char *s, const char **endp, float *v)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s;
    int neg = (*p == '-');
    if (*p == '-' || *p == '+')
        p++;
    uint64_t m = 0;
    int sig = 0, exp10 = 0, any = 0;
    for (; (unsigned)(*p - '0') < 10u; p++, any = 1) {
        if ((m || *p != '0') && ++sig > 15)
            goto slow;
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.')
        for (p++; (unsigned)(*p - '0') < 10u; p++, any = 1) {
            if ((m || *p != '0') && ++sig > 15)
                goto slow;
            m = m * 10 + (uint64_t)(*p - '0');
            exp10--;
        }
    if (!any)
        goto slow;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = (*q == '-'), e = 0, nd = 0;
        if (*q == '-' || *q == '+')
            q++;
        for (; (unsigned)(*q - '0') < 10u; q++) {
            if (++nd > 4)
                goto slow;
            e = e * 10 + (*q - '0');
        }
        if (nd == 0)
            goto slow;
        exp10 += eneg ? -e : e;
        p = q;
    }
    if (!is_cell_end(*p))
        goto slow;
    if (m == 0) {
        *v = neg ? -0.0f : 0.0f;
        *endp = p;
        return 1;
    }
    if (exp10 < -22 || exp10 > 22)
        goto slow;
    double d = exp10 < 0 ? (double)m / pow10[-exp10] : (double)m * pow10[exp10];
    if (!(d >= FLT_MIN && d <= FLT_MAX))
        goto slow; /* subnormal or overflowing floats */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if ((bits & ((UINT64_C(1) << 29) - 1)) == (UINT64_C(1) << 28))
        goto slow; /* exactly halfway between two floats: the double may have rounded */
    *v = (float)(neg ? -d : d);
    *endp = p;
    return 1;
slow:;
    char *q;
    float f = strtof(s, &q);
    if (q == s)
        return 0;
    *v = f;
    *endp = q;
    return 1;
}

/*
 * One data cell at p: [*s, *e) is its text without surrounding blanks and quotes; *next
 * is where it ends (at ',' or the end of the line). Returns 1 if something follows a
 * closing quote (then [*s, *e) spans all of it), -1 for a quote that is never closed.
 */
static int csv_cell(const char *p, const char *end, const char **s, const char **e,
                    const char **next)
{
    int bad = 0;
    p = skip_blanks(p, end);
    if (p < end && *p == '"') {
        const char *open = p;
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q)
            return -1;
        *s = skip_blanks(p + 1, q);
        *e = q;
        p = skip_blanks(q + 1, end);
        if (!at_eol(p, end) && *p != ',') {
            bad = 1;
            *s = open;
            while (!at_eol(p, end) && *p != ',')
                p++;
            *e = p;
        }
    } else {
        *s = p;
        while (!at_eol(p, end) && *p != ',')
            p++;
        *e = p;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
    *next = p;
    return bad;
}

/* Parse the header line at *pp into names (allocated array of allocated strings). */
static int csv_header(const char *file, const char **pp, const char *end, int *line,
                      char ***names_out, int *ncols_out, ss_error_t *err)
{
    const char *p = *pp;
    int ncols = 0, cap = 64;
    char **names = ss_malloc((size_t)cap * sizeof *names);
    size_t bcap = 256;
    char *buf = ss_malloc(bcap);
    int start_line = *line;
    for (;;) {
        size_t bl = 0;
        p = skip_blanks(p, end);
        if (p < end && *p == '"') { /* RFC 4180 quoting: "" is one quote */
            p++;
            int closed = 0;
            while (p < end) {
                char c = *p++;
                if (c == '"') {
                    if (p < end && *p == '"')
                        p++;
                    else {
                        closed = 1;
                        break;
                    }
                } else if (c == '\n')
                    (*line)++;
                if (bl + 1 >= bcap)
                    buf = ss_realloc(buf, bcap *= 2);
                buf[bl++] = c;
            }
            if (!closed) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d: unterminated quoted column name", file,
                             start_line);
                goto fail;
            }
            p = skip_blanks(p, end);
            if (!at_eol(p, end) && *p != ',') {
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s:%d: unexpected character after a quoted column name", file,
                             *line);
                goto fail;
            }
        } else {
            const char *s = p;
            while (!at_eol(p, end) && *p != ',')
                p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            bl = (size_t)(e - s);
            if (bl + 1 >= bcap)
                buf = ss_realloc(buf, bcap = bl + 1);
            memcpy(buf, s, bl);
        }
        buf[bl] = '\0';
        if (ncols == cap)
            names = ss_realloc(names, (size_t)(cap *= 2) * sizeof *names);
        names[ncols++] = ss_strdup(buf);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    free(buf);
    *pp = skip_eol(p, end);
    *names_out = names;
    *ncols_out = ncols;
    return 0;
fail:
    free(buf);
    for (int i = 0; i < ncols; i++)
        free(names[i]);
    free(names);
    return -1;
}

static int load_csv(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    const char *file = spec->path;
    char *text = NULL;
    char **names = NULL;
    int ncols = 0, rc = -1;
    table_t all = {0}, test = {0};
    int classification = spec->task == SS_TASK_CLASSIFICATION;

    if (!file) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind csv needs a path", spec->name);
        return -1;
    }
    size_t len;
    if (ss_read_file(file, &text, &len, err))
        return -1;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
        p += 3;

    /* the header is the first non-blank line */
    int line = 1;
    for (;;) {
        const char *q = skip_blanks(p, end);
        if (q >= end) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: empty file (expected a header row)", file);
            goto done;
        }
        if (*q != '\n' && *q != '\r')
            break;
        p = skip_eol(q, end);
        line++;
    }
    int header_line = line;
    if (csv_header(file, &p, end, &line, &names, &ncols, err))
        goto done;
    line++; /* the line after the header */

    int label_col = -1;
    for (int c = 0; c < ncols; c++)
        if (strcmp(names[c], spec->label) == 0) {
            if (label_col >= 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d: column \"%s\" appears twice", file,
                             header_line, spec->label);
                goto done;
            }
            label_col = c;
        }
    if (label_col < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d: no label column \"%s\" in the header", file,
                     header_line, spec->label);
        goto done;
    }
    if (ncols < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d: no input columns besides the label \"%s\"",
                     file, header_line, spec->label);
        goto done;
    }
    int d = ncols - 1;

    /* Every data row is one line: their number is at most the number of line breaks + 1. */
    size_t max_rows = 1;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        max_rows++;
    for (const char *q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++)
        if (q + 1 >= end || q[1] != '\n')
            max_rows++; /* a lone carriage return also ends a line */
    if (table_alloc(&all, max_rows, d, file, err))
        goto done;

    size_t row = 0;
    for (; p < end; line++) {
        const char *first = skip_blanks(p, end);
        if (first >= end)
            break;
        if (*first == '\n' || *first == '\r') { /* blank lines are skipped */
            p = skip_eol(first, end);
            continue;
        }
        float *xr = all.x + row * (size_t)d;
        float yv = 0.0f;
        int col = 0, fi = 0;
        for (;;) {
            const char *s, *e;
            int bad = csv_cell(p, end, &s, &e, &p);
            if (bad < 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d: unterminated quoted cell", file, line);
                goto done;
            }
            if (col < ncols) { /* cells past the header's width are only counted */
                const char *q = NULL;
                float v = 0.0f;
                if (!bad && s == e) {
                    ss_error_set(err, SS_EXIT_INPUT, "%s:%d: column %d (\"%s\") is empty", file,
                                 line, col + 1, names[col]);
                    goto done;
                }
                if (bad || !parse_number(s, &q, &v) || q != e) {
                    ss_error_set(err, SS_EXIT_INPUT,
                                 "%s:%d: column %d (\"%s\"): \"%.*s\" is not a number", file,
                                 line, col + 1, names[col], (int)(e - s > 40 ? 40 : e - s), s);
                    goto done;
                }
                if (!isfinite(v)) {
                    ss_error_set(err, SS_EXIT_INPUT,
                                 "%s:%d: column %d (\"%s\") is not a finite number", file, line,
                                 col + 1, names[col]);
                    goto done;
                }
                if (col == label_col)
                    yv = v;
                else
                    xr[fi++] = v;
            }
            col++;
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            break;
        }
        if (col != ncols) {
            ss_error_set(err, SS_EXIT_INPUT, "%s:%d: expected %d columns, found %d", file, line,
                         ncols, col);
            goto done;
        }
        if (classification && !(yv >= 0.0f && yv < (float)SS_MAX_CLASSES && yv == floorf(yv))) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s:%d: label %g is not a class index (an integer from 0 to %d)", file,
                         line, (double)yv, SS_MAX_CLASSES - 1);
            goto done;
        }
        all.y[row++] = yv;
        p = skip_eol(p, end);
    }
    free(text);
    text = NULL;
    if (row == 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no data rows after the header", file);
        goto done;
    }
    all.n = (int)row;

    if (classification) {
        if (apply_classes(spec, file, &all, &test, &ds->info.n_classes, err))
            goto done;
    } else {
        ds->info.n_classes = 0;
    }
    if (finish_dataset(spec, file, &all, &test, ds, err))
        goto done;
    /* feature names: every column but the label, in file order */
    ds->info.feature_names = ss_calloc((size_t)d, sizeof(char *));
    for (int c = 0, j = 0; c < ncols; c++)
        if (c != label_col)
            ds->info.feature_names[j++] = ss_strdup(names[c]);
    rc = 0;
done:
    free(text);
    if (names) {
        for (int c = 0; c < ncols; c++)
            free(names[c]);
        free(names);
    }
    table_free(&all);
    table_free(&test);
    return rc;
}

/* ---- IDX (MNIST format), gzip or plain ------------------------------------------------- */

#define IDX_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS 0x00000801u /* unsigned bytes, 1 dimension */

typedef struct {
    unsigned char *data; /* n * rows * cols pixels, or n labels */
    size_t n, rows, cols;
} idx_t;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* zlib's message for the last error on f, without the "PATH: " it puts in front. */
static const char *gz_message(gzFile f, const char *file, int *zerr)
{
    const char *msg = gzerror(f, zerr);
    size_t n = strlen(file);
    if (strncmp(msg, file, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* Read exactly n bytes; a short read means the file is truncated. */
static int gz_read_exact(gzFile f, const char *file, void *buf, size_t n, const char *what,
                         ss_error_t *err)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == n)
        return 0;
    int zerr;
    const char *zmsg = gz_message(f, file, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR) /* Z_BUF_ERROR: the gzip stream was cut */
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read: %s", file, zmsg);
    else if (got == 0 && gztell(f) == 0)
        ss_error_set(err, SS_EXIT_INPUT, "%s: empty file", file);
    else
        ss_error_set(err, SS_EXIT_INPUT, "%s: truncated: expected %zu bytes of %s, found %zu",
                     file, n, what, got);
    return -1;
}

/*
 * Read one IDX file: `magic` says images or labels. Checks the magic, the dimensions,
 * that the data is all there and that nothing follows it; for gzip files also that the
 * stream ends cleanly (its trailer and CRC are checked when the end is reached).
 */
static int idx_read(const char *file, uint32_t magic, idx_t *out, ss_error_t *err)
{
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(file, "rb");
    if (!f) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", file,
                     errno ? strerror(errno) : "out of memory");
        return -1;
    }
    gzbuffer(f, 1u << 17);
    const char *kind = magic == IDX_IMAGES ? "image" : "label";
    int ndim = magic == IDX_IMAGES ? 3 : 1;
    unsigned char head[16];
    if (gz_read_exact(f, file, head, 4, "header", err))
        goto fail;
    uint32_t m = be32(head);
    if (m != magic) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not an IDX %s file (magic number 0x%08x, expected 0x%08x)", file, kind,
                     (unsigned)m, (unsigned)magic);
        goto fail;
    }
    if (gz_read_exact(f, file, head + 4, 4 * (size_t)ndim, "header", err))
        goto fail;
    out->n = be32(head + 4);
    out->rows = ndim == 3 ? be32(head + 8) : 1;
    out->cols = ndim == 3 ? be32(head + 12) : 1;
    if (out->n == 0 || out->n > (size_t)INT_MAX) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the header announces %zu %ss", file, out->n, kind);
        goto fail;
    }
    if (out->rows == 0 || out->cols == 0 || out->rows * out->cols > (1u << 24)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: bad image size %zu x %zu", file, out->rows,
                     out->cols);
        goto fail;
    }
    size_t bytes = out->n * out->rows * out->cols;
    out->data = ss_malloc(bytes);
    if (gz_read_exact(f, file, out->data, bytes, magic == IDX_IMAGES ? "pixels" : "labels",
                      err))
        goto fail;
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    int zerr;
    const char *zmsg = gz_message(f, file, &zerr);
    if (r > 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: data continues after the %zu %ss the header announces", file, out->n,
                     kind);
        goto fail;
    }
    if (r < 0 || zerr != Z_OK) {
        if (zerr == Z_BUF_ERROR)
            ss_error_set(err, SS_EXIT_INPUT, "%s: truncated: the gzip stream ends early", file);
        else
            ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read: %s", file, zmsg);
        goto fail;
    }
    if (gzclose(f) != Z_OK) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read to the end", file);
        free(out->data);
        out->data = NULL;
        return -1;
    }
    return 0;
fail:
    gzclose(f);
    free(out->data);
    out->data = NULL;
    return -1;
}

/* Read an image file and its label file and check they belong together. */
static int idx_pair(const char *images_file, const char *labels_file, idx_t *im, idx_t *lb,
                    ss_error_t *err)
{
    if (idx_read(images_file, IDX_IMAGES, im, err) || idx_read(labels_file, IDX_LABELS, lb, err))
        return -1;
    if (lb->n != im->n) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: %zu labels, but %s has %zu images", labels_file,
                     lb->n, images_file, im->n);
        return -1;
    }
    return 0;
}

/* The kept images of one file, as floats, into a new table. */
static int idx_table(const idx_t *im, const idx_t *lb, const int map[SS_MAX_CLASSES],
                     const float lut[256], const char *file, table_t *t, ss_error_t *err)
{
    size_t kept = 0, d = im->rows * im->cols;
    for (size_t i = 0; i < lb->n; i++)
        kept += map[lb->data[i]] >= 0;
    if (table_alloc(t, kept, (int)d, file, err))
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < lb->n; i++) {
        int c = map[lb->data[i]];
        if (c < 0)
            continue;
        const unsigned char *src = im->data + i * d;
        float *dst = t->x + k * d;
        for (size_t j = 0; j < d; j++)
            dst[j] = lut[src[j]];
        t->y[k++] = (float)c;
    }
    t->n = (int)kept;
    return 0;
}

static int load_idx(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    idx_t tri = {0}, trl = {0}, tei = {0}, tel = {0};
    table_t train = {0}, test = {0};
    int rc = -1;
    int has_test = spec->test_images != NULL;

    if (!spec->train_images || !spec->train_labels) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind idx needs train_images and train_labels",
                     spec->name);
        return -1;
    }
    if ((spec->test_images == NULL) != (spec->test_labels == NULL)) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "dataset %s: give both test_images and test_labels, or neither", spec->name);
        return -1;
    }
    if (!(spec->scale > 0.0 && isfinite(spec->scale))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: scale must be positive, not %g", spec->name,
                     spec->scale);
        return -1;
    }
    int map[SS_MAX_CLASSES];
    if (class_map(spec, map, err))
        return -1;

    if (idx_pair(spec->train_images, spec->train_labels, &tri, &trl, err))
        goto done;
    if (has_test) {
        if (idx_pair(spec->test_images, spec->test_labels, &tei, &tel, err))
            goto done;
        if (tei.rows != tri.rows || tei.cols != tri.cols) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s: images are %zu x %zu, but those of %s are %zu x %zu",
                         spec->test_images, tei.rows, tei.cols, spec->train_images, tri.rows,
                         tri.cols);
            goto done;
        }
    }

    /* classes: every label is a byte, so below SS_MAX_CLASSES */
    int k = spec->n_class_subset;
    if (k > 0) {
        size_t count[SS_MAX_CLASSES] = {0};
        for (size_t i = 0; i < trl.n; i++)
            count[trl.data[i]]++;
        for (int i = 0; i < k; i++)
            if (count[spec->class_subset[i]] == 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s: class %d does not occur in the data",
                             spec->train_labels, spec->class_subset[i]);
                goto done;
            }
        ds->info.n_classes = k;
    } else {
        int top = 0;
        for (size_t i = 0; i < trl.n; i++)
            top = trl.data[i] > top ? trl.data[i] : top;
        for (size_t i = 0; i < tel.n; i++)
            top = tel.data[i] > top ? tel.data[i] : top;
        ds->info.n_classes = top + 1;
    }
    if (ds->info.n_classes < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: classification needs at least 2 classes, found %d",
                     spec->train_labels, ds->info.n_classes);
        goto done;
    }

    float lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = (float)(v * spec->scale);
    if (idx_table(&tri, &trl, map, lut, spec->train_images, &train, err))
        goto done;
    free(tri.data);
    tri.data = NULL;
    if (has_test) {
        if (idx_table(&tei, &tel, map, lut, spec->test_images, &test, err))
            goto done;
        if (test.n == 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: none of the requested classes occurs",
                         spec->test_labels);
            goto done;
        }
    }
    if (finish_dataset(spec, spec->train_images, &train, &test, ds, err))
        goto done;
    ds->info.input_rank = 2;
    ds->info.input_shape[0] = (int)tri.rows;
    ds->info.input_shape[1] = (int)tri.cols;
    rc = 0;
done:
    free(tri.data);
    free(trl.data);
    free(tei.data);
    free(tel.data);
    table_free(&train);
    table_free(&test);
    return rc;
}

/* ---- HDF5 ----------------------------------------------------------------------------- */

/*
 * Open dataset `name` of f and check it: numeric, rank 1..3. dims gets its shape.
 * Returns the dataset id, or -1 with the error set.
 */
static hid_t h5_open_numeric(hid_t f, const char *file, const char *name, int *rank,
                             hsize_t dims[3], ss_error_t *err)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no dataset \"%s\"", file, name);
        return -1;
    }
    hid_t dset = H5Dopen2(f, name, H5P_DEFAULT);
    if (dset < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" is not a readable dataset", file, name);
        return -1;
    }
    hid_t type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (type >= 0)
        H5Tclose(type);
    hid_t space = H5Dget_space(dset);
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (r >= 1 && r <= 3)
        H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" is not numeric", file, name);
        H5Dclose(dset);
        return -1;
    }
    if (r < 1 || r > 3) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has rank %d", file, name, r);
        H5Dclose(dset);
        return -1;
    }
    *rank = r;
    return dset;
}

/*
 * Read inputs `xname` and targets `yname` into a new table. X is n x d, or n x rows x cols
 * (images: shape gets {rows, cols}); y is n or n x 1. Labels of a classification must be
 * class indices. `want_d` > 0 requires that many inputs (the test set matches training).
 */
static int h5_read_xy(hid_t f, const char *file, const char *xname, const char *yname,
                      int classification, int want_d, int shape[2], table_t *t, ss_error_t *err)
{
    hid_t xd = -1, yd = -1;
    double *yb = NULL;
    int rc = -1, xr, yr;
    hsize_t xdim[3] = {0, 0, 0}, ydim[3] = {0, 0, 0};

    if ((xd = h5_open_numeric(f, file, xname, &xr, xdim, err)) < 0 ||
        (yd = h5_open_numeric(f, file, yname, &yr, ydim, err)) < 0)
        goto done;
    if (xr == 1) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has rank 1, expected samples x inputs",
                     file, xname);
        goto done;
    }
    if (yr > 2 || (yr == 2 && ydim[1] != 1)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" must be one value per sample",
                     file, yname);
        goto done;
    }
    hsize_t d64 = xr == 3 ? xdim[1] * xdim[2] : xdim[1];
    if (xdim[0] == 0 || xdim[0] > INT_MAX || d64 == 0 || d64 > INT_MAX) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has an unusable shape", file, xname);
        goto done;
    }
    if (ydim[0] != xdim[0]) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" has %llu values but \"%s\" has %llu rows",
                     file, yname, (unsigned long long)ydim[0], xname,
                     (unsigned long long)xdim[0]);
        goto done;
    }
    int n = (int)xdim[0], d = (int)d64;
    if (want_d > 0 && d != want_d) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: \"%s\" has %d inputs per sample, the training data %d", file, xname,
                     d, want_d);
        goto done;
    }
    if (shape) {
        shape[0] = xr == 3 ? (int)xdim[1] : 0;
        shape[1] = xr == 3 ? (int)xdim[2] : 0;
    }
    if (table_alloc(t, (size_t)n, d, file, err))
        goto done;
    if (H5Dread(xd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->x) < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read dataset \"%s\"", file, xname);
        goto done;
    }
    yb = ss_malloc((size_t)n * sizeof(double));
    if (H5Dread(yd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, yb) < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read dataset \"%s\"", file, yname);
        goto done;
    }
    size_t total = (size_t)n * (size_t)d;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(t->x[i])) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" row %zu, input %zu is not a finite number",
                         file, xname, i / (size_t)d, i % (size_t)d);
            goto done;
        }
    for (int i = 0; i < n; i++) {
        double v = yb[i];
        if (classification ? !(v >= 0.0 && v < SS_MAX_CLASSES && v == floor(v))
                           : !isfinite((float)v)) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" row %d: %g is not %s", file, yname, i, v,
                         classification ? "a class index (an integer from 0 to 255)"
                                        : "a finite number");
            goto done;
        }
        t->y[i] = (float)v;
    }
    t->n = n;
    rc = 0;
done:
    free(yb);
    if (xd >= 0)
        H5Dclose(xd);
    if (yd >= 0)
        H5Dclose(yd);
    if (rc)
        table_free(t);
    return rc;
}

static int load_hdf5(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    const char *file = spec->path;
    table_t train = {0}, test = {0};
    hid_t f = -1;
    int rc = -1;
    int classification = spec->task == SS_TASK_CLASSIFICATION;
    if (!file) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind hdf5 needs a path", spec->name);
        return -1;
    }
    struct stat st;
    if (stat(file, &st) != 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", file, strerror(errno));
        return -1;
    }

    /* HDF5 would print its error stack on every failed call; our messages say it all */
    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    if (H5Fis_hdf5(file) <= 0 || (f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not an HDF5 file", file);
        goto done;
    }
    int shape[2];
    if (h5_read_xy(f, file, "X", "y", classification, 0, shape, &train, err))
        goto done;
    htri_t has_xt = H5Lexists(f, "X_test", H5P_DEFAULT);
    htri_t has_yt = H5Lexists(f, "y_test", H5P_DEFAULT);
    if ((has_xt > 0) != (has_yt > 0)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: has \"%s\" but no \"%s\"", file,
                     has_xt > 0 ? "X_test" : "y_test", has_xt > 0 ? "y_test" : "X_test");
        goto done;
    }
    if (has_xt > 0 &&
        h5_read_xy(f, file, "X_test", "y_test", classification, train.d, NULL, &test, err))
        goto done;
    if (classification) {
        if (apply_classes(spec, file, &train, &test, &ds->info.n_classes, err))
            goto done;
    } else {
        ds->info.n_classes = 0;
    }
    if (finish_dataset(spec, file, &train, &test, ds, err))
        goto done;
    if (shape[0] > 0) {
        ds->info.input_rank = 2;
        ds->info.input_shape[0] = shape[0];
        ds->info.input_shape[1] = shape[1];
    }
    rc = 0;
done:
    if (f >= 0)
        H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    table_free(&train);
    table_free(&test);
    return rc;
}

/* ---- the public API ------------------------------------------------------------------- */

int ss_dataset_load(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    memset(ds, 0, sizeof *ds);
    int rc;
    switch (spec->kind) {
    case SS_KIND_GAUSSIAN:
        rc = load_gaussian(spec, ds, err);
        break;
    case SS_KIND_CORRELATED:
        rc = load_correlated(spec, ds, err);
        break;
    case SS_KIND_CSV:
        rc = load_csv(spec, ds, err);
        break;
    case SS_KIND_IDX:
        rc = load_idx(spec, ds, err);
        break;
    case SS_KIND_HDF5:
        rc = load_hdf5(spec, ds, err);
        break;
    case SS_KIND_SPECTRA:
        rc = load_spectra(spec, ds, err);
        break;
    default:
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: unknown kind %d", spec->name,
                     (int)spec->kind);
        rc = -1;
        break;
    }
    if (rc) {
        ss_dataset_free(ds);
        return -1;
    }
    snprintf(ds->info.name, sizeof ds->info.name, "%s", spec->name);
    ds->info.kind = spec->kind;
    /* every loader leaves n_classes 0 exactly for a regression target */
    ds->info.task = ds->info.n_classes > 0 ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    size_t nz_train = 0;
    for (int part = 0; part < 2; part++) {
        const float *x = part ? ds->x_test : ds->x_train;
        int rows = part ? ds->info.n_test : ds->info.n_train;
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * (size_t)ds->info.n_inputs;
            int nz = 0;
            for (int i = 0; i < ds->info.n_inputs; i++)
                nz += xr[i] != 0.0f;
            if (nz > ds->max_row_nonzeros)
                ds->max_row_nonzeros = nz;
            nz_train += part ? 0 : (size_t)nz;
        }
    }
    size_t n = (size_t)ds->info.n_train * (size_t)ds->info.n_inputs;
    ds->input_density = n ? (double)nz_train / (double)n : 1.0;
    return 0;
}

void ss_dataset_info_free(ss_dataset_info_t *info)
{
    if (!info)
        return;
    free(info->relevance_truth);
    if (info->feature_names) {
        for (int i = 0; i < info->n_inputs; i++)
            free(info->feature_names[i]);
        free(info->feature_names);
    }
    memset(info, 0, sizeof *info);
}

void ss_dataset_info_copy(ss_dataset_info_t *dst, const ss_dataset_info_t *src)
{
    *dst = *src;
    dst->relevance_truth = NULL;
    dst->feature_names = NULL;
    size_t n = src->n_inputs > 0 ? (size_t)src->n_inputs : 0;
    if (src->relevance_truth && n) {
        dst->relevance_truth = ss_malloc(n * sizeof *dst->relevance_truth);
        memcpy(dst->relevance_truth, src->relevance_truth, n * sizeof *dst->relevance_truth);
    }
    if (src->feature_names && n) {
        dst->feature_names = ss_calloc(n, sizeof *dst->feature_names);
        for (size_t i = 0; i < n; i++)
            dst->feature_names[i] = ss_strdup(src->feature_names[i] ? src->feature_names[i] : "");
    }
}

void ss_dataset_take_info(ss_dataset_t *ds, ss_dataset_info_t *info)
{
    *info = ds->info;
    memset(&ds->info, 0, sizeof ds->info);
    ss_dataset_free(ds);
}

void ss_dataset_free(ss_dataset_t *ds)
{
    if (!ds)
        return;
    free(ds->x_train);
    free(ds->y_train);
    free(ds->x_test);
    free(ds->y_test);
    ss_dataset_info_free(&ds->info);
    memset(ds, 0, sizeof *ds);
}
