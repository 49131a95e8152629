/*
 * test_synth.c - the synthetic datasets of the papers (synth.c): independent Gaussian
 * features, correlated Gaussian pairs and stellar spectra: their statistics, ground truth,
 * determinism and the checks of impossible parameters.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/data.h"
#include "testdata.h"
#include "testutil.h"

/* ---- synthetic kinds -------------------------------------------------------------------- */

static void class_means(const ss_dataset_t *ds, int j, double m[2], int cnt[2])
{
    double s[2] = {0, 0};
    cnt[0] = cnt[1] = 0;
    for (int part = 0; part < 2; part++) {
        const float *x = part ? ds->x_test : ds->x_train, *y = part ? ds->y_test : ds->y_train;
        int n = part ? ds->info.n_test : ds->info.n_train;
        for (int i = 0; i < n; i++) {
            int c = (int)y[i];
            s[c] += x[(size_t)i * (size_t)ds->info.n_inputs + (size_t)j];
            cnt[c]++;
        }
    }
    m[0] = s[0] / cnt[0];
    m[1] = s[1] / cnt[1];
}

static void test_gaussian(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_GAUSSIAN);
    s.samples = 8000;
    s.data_seed = 7;
    s.test_fraction = 0.25;
    ss_dataset_t a, b, c;
    if (load_ok(&s, &a, "gaussian"))
        return;
    CHECK(a.info.n_train == 6000 && a.info.n_test == 2000, "sizes %d/%d", a.info.n_train, a.info.n_test);
    CHECK(a.info.n_inputs == 20 && a.info.n_classes == 2 && a.info.input_rank == 0, "shape");
    CHECK(a.info.relevance_truth != NULL && a.info.feature_names == NULL, "truth present");
    int zeros_ok = 1, range_ok = 1, positive = 0;
    for (int j = 0; j < 20; j++) {
        double t = a.info.relevance_truth[j];
        if (j < 11) {
            range_ok &= t >= 0.0 && t <= 1.4;
            positive += t > 0.0;
        } else {
            zeros_ok &= t == 0.0;
        }
    }
    CHECK(zeros_ok, "truth zero after `relevant`");
    CHECK(range_ok && positive == 11, "shifts in [0, max_shift] (%d positive)", positive);

    /* balanced classes; the class-1 minus class-0 mean is the shift (4 standard errors) */
    for (int j = 0; j < 20; j++) {
        double m[2];
        int cnt[2];
        class_means(&a, j, m, cnt);
        if (j == 0)
            CHECK(cnt[0] == 4000 && cnt[1] == 4000, "classes %d/%d", cnt[0], cnt[1]);
        double se = s.sigma * sqrt(1.0 / cnt[0] + 1.0 / cnt[1]);
        double diff = m[1] - m[0];
        CHECK(fabs(diff - a.info.relevance_truth[j]) < 4 * se,
              "feature %d: mean difference %g, truth %g", j, diff, a.info.relevance_truth[j]);
    }

    /* deterministic for a data_seed, different for another */
    if (load_ok(&s, &b, "gaussian again"))
        return;
    CHECK(memcmp(a.x_train, b.x_train, (size_t)a.info.n_train * 20 * sizeof(float)) == 0 &&
              memcmp(a.y_train, b.y_train, (size_t)a.info.n_train * sizeof(float)) == 0 &&
              memcmp(a.x_test, b.x_test, (size_t)a.info.n_test * 20 * sizeof(float)) == 0 &&
              memcmp(a.info.relevance_truth, b.info.relevance_truth, 20 * sizeof(double)) == 0,
          "same data_seed, same data");
    s.data_seed = 8;
    if (load_ok(&s, &c, "gaussian other seed"))
        return;
    CHECK(memcmp(a.info.relevance_truth, c.info.relevance_truth, 20 * sizeof(double)) != 0 &&
              memcmp(a.x_train, c.x_train, (size_t)a.info.n_train * 20 * sizeof(float)) != 0,
          "another data_seed, other data");
    ss_dataset_free(&a);
    ss_dataset_free(&b);
    ss_dataset_free(&c);

    /* impossible parameters */
    spec_init(&s, SS_KIND_GAUSSIAN);
    s.relevant = 21;
    expect_input_error(&s, "test", "relevant", "relevant > features");
    spec_init(&s, SS_KIND_GAUSSIAN);
    s.test_fraction = 1.0;
    s.samples = 100;
    expect_input_error(&s, "test", "test_fraction", "test_fraction 1");
}

static double corr(const ss_dataset_t *ds, int j, int k)
{
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    int n = ds->info.n_train, d = ds->info.n_inputs;
    for (int i = 0; i < n; i++) {
        double x = ds->x_train[(size_t)i * d + j], y = ds->x_train[(size_t)i * d + k];
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    double cxy = sxy / n - sx / n * sy / n;
    return cxy / sqrt((sxx / n - sx / n * sx / n) * (syy / n - sy / n * sy / n));
}

static void test_correlated(void)
{
    static const double p[4] = {0.7, 0.8, 0.4, 0.6};
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_CORRELATED);
    s.samples = 20000;
    s.features = 99; /* not used by this kind: 2 * pairs + noise */
    ss_dataset_t ds;
    if (load_ok(&s, &ds, "correlated"))
        return;
    CHECK(ds.info.n_inputs == 10 && ds.info.n_classes == 2, "n_inputs %d", ds.info.n_inputs);
    CHECK(ds.info.n_train == 16000 && ds.info.n_test == 4000, "sizes %d/%d", ds.info.n_train, ds.info.n_test);
    for (int k = 0; k < 4; k++)
        CHECK(ds.info.relevance_truth[2 * k] == p[k] && ds.info.relevance_truth[2 * k + 1] == p[k],
              "truth of pair %d", k);
    CHECK(ds.info.relevance_truth[8] == 0.0 && ds.info.relevance_truth[9] == 0.0, "noise truth 0");

    /* the pair is correlated: corr = 1 - p_n (class 0 copies, class 1 flips with p_n) */
    for (int k = 0; k < 4; k++) {
        double r = corr(&ds, 2 * k, 2 * k + 1);
        CHECK(r > 0.1 && fabs(r - (1.0 - p[k])) < 0.05, "pair %d correlation %g (expected %g)",
              k, r, 1.0 - p[k]);
    }
    CHECK(fabs(corr(&ds, 8, 9)) < 0.05 && fabs(corr(&ds, 0, 2)) < 0.05,
          "noise and different pairs uncorrelated");

    /* class 1 flips the second member with probability p_n; class 0 never does; no single
       feature separates the classes */
    int n1 = 0, flips[4] = {0}, flips0 = 0;
    for (int i = 0; i < ds.info.n_train; i++) {
        const float *x = ds.x_train + (size_t)i * 10;
        int c = (int)ds.y_train[i];
        n1 += c;
        for (int k = 0; k < 4; k++) {
            int flip = x[2 * k + 1] != x[2 * k];
            if (c)
                flips[k] += flip;
            else
                flips0 += flip;
        }
    }
    CHECK(flips0 == 0, "class 0 flipped %d times", flips0);
    for (int k = 0; k < 4; k++) {
        double f = (double)flips[k] / n1, se = sqrt(p[k] * (1 - p[k]) / n1);
        CHECK(fabs(f - p[k]) < 4 * se, "pair %d flip rate %g, p %g", k, f, p[k]);
    }
    for (int j = 0; j < 10; j++) {
        double m[2];
        int cnt[2];
        class_means(&ds, j, m, cnt);
        double se = s.sigma * sqrt(1.0 / cnt[0] + 1.0 / cnt[1]);
        CHECK(fabs(m[1] - m[0]) < 4 * se, "feature %d: class means differ by %g", j, m[1] - m[0]);
    }
    ss_dataset_free(&ds);
}

/* ---- spectra --------------------------------------------------------------------------- */

/* Pearson correlation of v[0..n-1] with w[0..n-1]. */
static double pearson(const double *v, const double *w, int n)
{
    double mv = 0, mw = 0;
    for (int i = 0; i < n; i++) {
        mv += v[i];
        mw += w[i];
    }
    mv /= n;
    mw /= n;
    double cvw = 0, cvv = 0, cww = 0;
    for (int i = 0; i < n; i++) {
        cvw += (v[i] - mv) * (w[i] - mw);
        cvv += (v[i] - mv) * (v[i] - mv);
        cww += (w[i] - mw) * (w[i] - mw);
    }
    return cvv > 0 && cww > 0 ? cvw / sqrt(cvv * cww) : 0.0;
}

/* Column j of the training inputs, through f (NULL: as is), into out[n_train]. */
static void column(const ss_dataset_t *ds, int j, double (*f)(double), double *out)
{
    for (int i = 0; i < ds->info.n_train; i++) {
        double v = ds->x_train[(size_t)i * (size_t)ds->info.n_inputs + (size_t)j];
        out[i] = f ? f(v) : v;
    }
}

static void test_spectra(void)
{
    ss_dataset_spec_t s;
    spec_init(&s, SS_KIND_SPECTRA);
    ss_dataset_t a, b;
    if (load_ok(&s, &a, "spectra"))
        return;
    int d = a.info.n_inputs, n = a.info.n_train;
    CHECK(d == 4300 && a.info.n_classes == 0 && a.info.input_rank == 0, "shape %d inputs, %d classes",
          d, a.info.n_classes);
    CHECK(a.info.n_train == 1600 && a.info.n_test == 400, "sizes %d/%d", a.info.n_train, a.info.n_test);
    CHECK(a.info.relevance_truth != NULL && a.info.feature_names != NULL, "truth and wavelengths");
    if (!a.info.relevance_truth || !a.info.feature_names || d != 4300) {
        ss_dataset_free(&a);
        return;
    }
    CHECK(!strcmp(a.info.feature_names[0], "3540.00") && !strcmp(a.info.feature_names[d - 1], "7410.00"),
          "wavelengths %s .. %s", a.info.feature_names[0], a.info.feature_names[d - 1]);

    /* targets: [Fe/H] in the range; every spectrum normalised to median 1, fluxes positive */
    double ymin = 1e9, ymax = -1e9;
    int finite = 1, below = 0;
    for (int i = 0; i < n; i++) {
        ymin = fmin(ymin, a.y_train[i]);
        ymax = fmax(ymax, a.y_train[i]);
    }
    for (int i = 0; i < n; i++) {
        const float *row = a.x_train + (size_t)i * (size_t)d;
        int lo = 0;
        for (int j = 0; j < d; j++) {
            finite &= isfinite(row[j]) && row[j] > 0.0f;
            lo += row[j] < 1.0f;
        }
        below += lo == d / 2 - 1 || lo == d / 2; /* half the pixels below the median 1 */
    }
    CHECK(ymin >= -2.5 && ymax <= 0.5 && ymin < -2.4 && ymax > 0.4, "[Fe/H] %g .. %g", ymin,
          ymax);
    CHECK(finite, "fluxes finite and positive");
    CHECK(below == n, "median-normalised: %d of %d spectra", below, n);

    /* the truth: metal_lines windows of positive values, zero elsewhere */
    int runs = 0, longest = 0, run = 0, negative = 0, i_max = 0;
    for (int j = 0; j < d; j++) {
        double t = a.info.relevance_truth[j];
        negative += t < 0.0;
        if (t > a.info.relevance_truth[i_max])
            i_max = j;
        if (t > 0.0) {
            runs += run == 0;
            run++;
            longest = run > longest ? run : longest;
        } else {
            run = 0;
        }
    }
    CHECK(negative == 0 && runs == 20 && longest <= 21,
          "truth: %d windows (expected 20), longest %d, %d negative", runs, longest, negative);

    /* the signal: at the pixel of largest truth the flux follows [Fe/H] */
    double *v = ss_malloc((size_t)n * sizeof(double));
    double *y = ss_malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        y[i] = a.y_train[i];
    column(&a, i_max, NULL, v);
    double r_max = pearson(v, y, n);
    CHECK(r_max < -0.5, "flux at the largest truth (pixel %d) vs [Fe/H]: r = %.3f", i_max,
          r_max);

    /* deterministic for a data_seed, different for another */
    if (!load_ok(&s, &b, "spectra again")) {
        CHECK(b.info.n_train == n && !memcmp(a.x_train, b.x_train, (size_t)n * d * sizeof(float)) &&
                  !memcmp(a.y_train, b.y_train, (size_t)n * sizeof(float)) &&
                  !memcmp(a.x_test, b.x_test, (size_t)a.info.n_test * d * sizeof(float)) &&
                  !memcmp(a.info.relevance_truth, b.info.relevance_truth, (size_t)d * sizeof(double)),
              "same data_seed, same spectra");
        ss_dataset_free(&b);
    }
    s.data_seed = 2;
    if (!load_ok(&s, &b, "spectra other seed")) {
        CHECK(memcmp(a.info.relevance_truth, b.info.relevance_truth, (size_t)d * sizeof(double)) != 0 &&
                  memcmp(a.x_train, b.x_train, (size_t)n * d * sizeof(float)) != 0,
              "another data_seed, other spectra");
        ss_dataset_free(&b);
    }
    s.data_seed = 1;

    /*
     * Where the lines are, found from the data alone: the same stars without noise (the
     * line list and the stellar parameters do not depend on sigma). The second difference
     * of the log flux, c_j = ln f_j - (ln f_j-1 + ln f_j+1) / 2, is independent of the
     * normalisation and nearly 0 on the smooth continuum; near a line it varies from star
     * to star with the line's depth: with [Fe/H] (|r| near 1) for a metal line, not at all
     * for a nuisance line. The truth must be positive around the first and 0 around the
     * second. Also, with k a nearby pixel of truth 0, the slope of ln f_j - ln f_k against
     * [Fe/H] across stars estimates -d ln f_j / d[Fe/H] = -truth_j (the median cancels,
     * and so does most of the continuum's temperature dependence): within 5 standard
     * errors at every pixel, and within 5 % over the windows of the metal lines.
     */
    s.sigma = 1e-7;
    ss_dataset_t c;
    if (load_ok(&s, &c, "spectra without noise")) {
        free(v);
        free(y);
        ss_dataset_free(&a);
        return;
    }
    CHECK(!memcmp(c.y_train, a.y_train, (size_t)n * sizeof(float)), "same stars");
    const double *truth = c.info.relevance_truth;
    double *lm = ss_malloc((size_t)n * sizeof(double)), *lc = ss_malloc((size_t)n * sizeof(double));
    double *lp = ss_malloc((size_t)n * sizeof(double)), *c2 = ss_malloc((size_t)n * sizeof(double));
    int metal_px = 0, nuisance_px = 0, unclear = 0, bad_metal = 0, bad_nuisance = 0;
    int i_nuisance = -1;
    double sd_nuisance = 0;
    for (int j = 1; j < d - 1; j++) {
        column(&c, j - 1, log, lm);
        column(&c, j, log, lc);
        column(&c, j + 1, log, lp);
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++) {
            c2[i] = lc[i] - 0.5 * (lm[i] + lp[i]);
            mean += c2[i];
        }
        mean /= n;
        for (int i = 0; i < n; i++)
            var += (c2[i] - mean) * (c2[i] - mean);
        double sd = sqrt(var / n);
        if (sd < 1e-4)
            continue; /* continuum */
        double r = fabs(pearson(c2, y, n));
        int touched = truth[j - 1] > 0 || truth[j] > 0 || truth[j + 1] > 0;
        if (r > 0.95) {
            metal_px++;
            bad_metal += !touched;
        } else if (r < 0.1) {
            nuisance_px++;
            bad_nuisance += touched;
            if (sd > sd_nuisance) {
                sd_nuisance = sd;
                i_nuisance = j;
            }
        } else {
            unclear++;
        }
    }
    CHECK(metal_px > 100 && nuisance_px > 100 && unclear < (metal_px + nuisance_px) / 10,
          "line pixels: %d follow [Fe/H], %d do not, %d unclear", metal_px, nuisance_px,
          unclear);
    CHECK(bad_metal == 0, "%d pixels follow [Fe/H] where the truth is 0", bad_metal);
    CHECK(bad_nuisance == 0, "%d nuisance-line pixels have a positive truth", bad_nuisance);

    /* a nuisance line changes the flux but says nothing about [Fe/H] */
    if (i_nuisance >= 0) {
        column(&a, i_nuisance, NULL, v);
        double r = pearson(v, y, n);
        CHECK(fabs(r) < 0.2 && truth[i_nuisance] == 0.0,
              "flux at a nuisance line (pixel %d) vs [Fe/H]: r = %.3f", i_nuisance, r);
    }

    /* slopes of ln f_j - ln f_k on [Fe/H]: -truth_j */
    double my = 0, vy = 0, worst = 0, worst_z = 0, sum_err2 = 0, sum_truth2 = 0;
    for (int i = 0; i < n; i++)
        my += y[i];
    my /= n;
    for (int i = 0; i < n; i++)
        vy += (y[i] - my) * (y[i] - my);
    for (int j = 0; j < d; j++) {
        int k = -1;
        for (int dist = 25; k < 0; dist++) {
            if (j - dist >= 0 && truth[j - dist] == 0.0)
                k = j - dist;
            else if (j + dist < d && truth[j + dist] == 0.0)
                k = j + dist;
        }
        column(&c, j, log, lc);
        column(&c, k, log, lm);
        double cov = 0, mq = 0, res = 0;
        for (int i = 0; i < n; i++) {
            cov += (lc[i] - lm[i]) * (y[i] - my);
            mq += lc[i] - lm[i];
        }
        double slope = cov / vy;
        mq /= n;
        for (int i = 0; i < n; i++) {
            double e = lc[i] - lm[i] - mq - slope * (y[i] - my);
            res += e * e;
        }
        double se = sqrt(res / (n - 2) / vy), err = fabs(slope + truth[j]);
        worst = fmax(worst, err);
        worst_z = fmax(worst_z, err / fmax(se, 1e-6));
        if (truth[j] > 0.0) {
            sum_err2 += err * err;
            sum_truth2 += truth[j] * truth[j];
        }
    }
    double rel = sqrt(sum_err2 / sum_truth2);
    if (getenv("SS_TEST_VERBOSE"))
        printf("spectra: r(largest truth) %.3f, r(nuisance) pixel %d, line pixels %d metal, "
               "%d nuisance, %d unclear, slope error %.4f (%.2f standard errors, %.3f "
               "relative), largest truth %.3f\n", r_max, i_nuisance, metal_px, nuisance_px,
               unclear, worst, worst_z, rel, truth[i_max]);
    CHECK(worst_z < 5.0 && rel < 0.05 && truth[i_max] > 0.1,
          "d ln f / d[Fe/H] from the data vs -truth: off by up to %.4f = %.2f standard "
          "errors, %.3f relative (largest truth %.3f)", worst, worst_z, rel, truth[i_max]);

    free(lm);
    free(lc);
    free(lp);
    free(c2);
    free(v);
    free(y);
    ss_dataset_free(&c);
    ss_dataset_free(&a);

    /* the smallest grid: one line in 10 wavelengths */
    spec_init(&s, SS_KIND_SPECTRA);
    s.features = 10;
    s.metal_lines = 1;
    s.nuisance_lines = 0;
    s.samples = 50;
    if (!load_ok(&s, &a, "spectra, 10 wavelengths")) {
        int pos = 0;
        for (int j = 0; j < 10; j++)
            pos += a.info.relevance_truth[j] > 0.0;
        CHECK(a.info.n_inputs == 10 && a.info.n_train == 40 && pos >= 1 && pos <= 6 &&
                  a.info.relevance_truth[0] == 0.0 && a.info.relevance_truth[9] == 0.0,
              "10 wavelengths: %d in the window", pos);
        ss_dataset_free(&a);
    }

    /* impossible parameters: one field changed from the defaults */
    static const struct {
        const char *what, *needle;
        size_t offset;  /* of an int field, or of a double one when is_double */
        int is_double;
        double value;
    } bad[] = {
#define F(field) offsetof(ss_dataset_spec_t, field)
        {"spectra features 9", "features >= 10", F(features), 0, 9},
        {"spectra too many lines", "10 features per line", F(features), 0, 399}, /* 40 need 400 */
        {"spectra without metal lines", "metal_lines >= 1", F(metal_lines), 0, 0},
        {"spectra metal range", "metal_min < metal_max", F(metal_min), 1, 0.5},
        {"spectra wavelength range", "wave_min < wave_max", F(wave_max), 1, 3000},
        {"spectra sigma 0", "sigma", F(sigma), 1, 0.0},
#undef F
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spec_init(&s, SS_KIND_SPECTRA);
        char *field = (char *)&s + bad[i].offset;
        if (bad[i].is_double)
            *(double *)field = bad[i].value;
        else
            *(int *)field = (int)bad[i].value;
        expect_input_error(&s, "test", bad[i].needle, bad[i].what);
    }
}

/* A generator asked for more than any memory (a spec built by hand, past the checks of
   the sweep file) is refused before anything is allocated, naming the dataset. */
static void test_sizes(void)
{
    static const struct {
        ss_kind_t kind;
        int samples, features, noise;
        const char *needle;
    } big[] = {
        {SS_KIND_GAUSSIAN, 1000000000, 1000, 2, "would need 3.6 TiB (1000000000 rows x 1000"},
        {SS_KIND_CORRELATED, 1000000000, 20, 2000000, "(1000000000 rows x 2000008 inputs"},
        {SS_KIND_SPECTRA, 2000000000, 4300, 2, "(2000000000 rows x 4300 inputs"},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        ss_dataset_spec_t s;
        spec_init(&s, big[i].kind);
        s.samples = big[i].samples;
        s.features = big[i].features;
        s.noise_features = big[i].noise;
        expect_input_error(&s, "test", big[i].needle, ss_kind_name(big[i].kind));
    }
}

int main(void)
{
    test_gaussian();
    test_correlated();
    test_spectra();
    test_sizes();
    return ss_test_report();
}
