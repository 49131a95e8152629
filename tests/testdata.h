/* testdata.h - helpers of the dataset tests (test_data.c, test_synth.c): a spec with the
   papers' defaults, a load that must succeed, a load that must fail with SS_EXIT_INPUT. */
#ifndef SS_TESTDATA_H
#define SS_TESTDATA_H

#include <stdio.h>
#include <string.h>

#include "specsweep/data.h"
#include "testutil.h"

/* A dataset spec with the papers' defaults (those of config.h). */
static inline void spec_init(ss_dataset_spec_t *s, ss_kind_t kind)
{
    static const double p[4] = {0.7, 0.8, 0.4, 0.6};
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "test");
    s->kind = kind;
    s->features = 20;
    s->relevant = 11;
    s->samples = 60000;
    s->sigma = 0.5;
    s->max_shift = 1.4;
    s->n_pairs = 4;
    memcpy(s->pair_p, p, sizeof p);
    s->noise_features = 2;
    s->data_seed = 1;
    s->test_fraction = 0.2;
    snprintf(s->label, sizeof s->label, "label");
    s->task = SS_TASK_CLASSIFICATION;
    s->scale = 1.0 / 255.0;
    s->metal_lines = 20;
    s->nuisance_lines = 20;
    s->metal_min = -2.5;
    s->metal_max = 0.5;
    s->wave_min = 3540.0;
    s->wave_max = 7410.0;
    if (kind == SS_KIND_SPECTRA) {
        s->features = 4300;
        s->samples = 2000;
        s->sigma = 0.01;
    }
}

/* 1 if ds owns nothing and has no rows. */
static inline int dataset_is_empty(const ss_dataset_t *ds)
{
    return !ds->x_train && !ds->y_train && !ds->x_test && !ds->y_test &&
           !ds->info.relevance_truth && !ds->info.feature_names && ds->info.n_train == 0 &&
           ds->info.n_test == 0;
}

/* Load must fail with SS_EXIT_INPUT, a message containing `file` and `needle`, and leave
   the dataset empty. */
static inline void expect_input_error(const ss_dataset_spec_t *spec, const char *file,
                                      const char *needle, const char *what)
{
    ss_dataset_t ds;
    ss_error_t err = {0};
    int rc = ss_dataset_load(spec, &ds, &err);
    CHECK(rc == -1, "%s: load succeeded", what);
    CHECK(err.code == SS_EXIT_INPUT, "%s: code %d (%s)", what, err.code, err.msg);
    CHECK(file == NULL || strstr(err.msg, file) != NULL, "%s: message does not name %s: %s",
          what, file, err.msg);
    CHECK(needle == NULL || strstr(err.msg, needle) != NULL, "%s: message lacks \"%s\": %s",
          what, needle, err.msg);
    CHECK(dataset_is_empty(&ds), "%s: dataset not left empty", what);
    ss_dataset_free(&ds);
}

/* Load must succeed. Returns the load's return value (0). */
static inline int load_ok(const ss_dataset_spec_t *spec, ss_dataset_t *ds, const char *what)
{
    ss_error_t err = {0};
    int rc = ss_dataset_load(spec, ds, &err);
    CHECK(rc == 0 && err.code == 0, "%s: load failed: %s", what, err.msg);
    return rc;
}

#endif
