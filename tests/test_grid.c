/*
 * test_grid.c - the expansion of a sweep into runs and cells: nesting order (datasets,
 * axes with the first outermost, seeds innermost), run and cell ids, cell numbers, axis
 * positions and the resolved training (global, then dataset overrides, then the sweep
 * point) and model (the sections, then the sweep point's model keys and bundles); an
 * empty sweep; ids too long for a hand-built sweep.
 *
 * Every case parses its sweep text with ss_sweep_parse (tested in test_config.c), expands
 * it and checks the number of runs and cells, then runs its own check on the runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "testutil.h"

static int close_rel(double a, double b) { return fabs(a - b) <= 1e-12 * fabs(b); }

/* ---- checks of the expanded runs --------------------------------------------------------- */

static void check_minimal(const ss_run_t *runs, int n)
{
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "g__seed=%d", i);
        CHECK(!strcmp(runs[i].id, id), "run id %s", runs[i].id);
        CHECK(!strcmp(runs[i].cell_id, "g"), "cell id %s", runs[i].cell_id);
        CHECK(runs[i].cell == 0 && runs[i].dataset == 0 && runs[i].seed == i, "run %d", i);
    }
}

/* The example of docs/FORMATS.md, with three datasets of different kinds. */
static const char formats_example[] =
    "name: gaussian-fig3\n"
    "datasets:\n"
    "  gauss20: {kind: gaussian}\n"
    "  digits01:\n"
    "    kind: idx\n"
    "    train_images: i\n    train_labels: l\n    test_images: ti\n    test_labels: tl\n"
    "    training: {learning_rate: 1.0e-4}\n"
    "  mydata: {kind: csv, path: d.csv}\n"
    "training: {learning_rate: 0.01, epochs: 1000}\n"
    "sweep:\n"
    "  reg_eigenvalues: {logspace: [-5, -1, 5]}\n"
    "  epochs: [100, 1000]\n";

static void check_formats_example(const ss_run_t *runs, int n)
{
    CHECK(!strcmp(runs[0].id, "gauss20__reg_eigenvalues=1e-05__epochs=100__seed=0"), "id %s",
          runs[0].id);
    CHECK(!strcmp(runs[0].cell_id, "gauss20__reg_eigenvalues=1e-05__epochs=100"), "cell %s",
          runs[0].cell_id);
    CHECK(!strcmp(runs[9].id, "gauss20__reg_eigenvalues=1e-05__epochs=100__seed=9"), "id %s",
          runs[9].id);
    CHECK(!strcmp(runs[10].id, "gauss20__reg_eigenvalues=1e-05__epochs=1000__seed=0"), "id %s",
          runs[10].id);
    CHECK(runs[10].cell == 1 && runs[10].axis_index[0] == 0 && runs[10].axis_index[1] == 1,
          "run 10 cell %d", runs[10].cell);
    CHECK(!strcmp(runs[20].id, "gauss20__reg_eigenvalues=0.0001__epochs=100__seed=0"), "id %s",
          runs[20].id);
    CHECK(runs[20].training.epochs == 100 && close_rel(runs[20].training.reg_eigenvalues, 1e-4),
          "run 20 training");
    CHECK(runs[0].training.learning_rate == 0.01, "gauss20 lr");
    const ss_run_t *r = &runs[100 + 3 * 20 + 10 + 7];   /* digits01, point (3, 1), seed 7 */
    CHECK(!strcmp(r->id, "digits01__reg_eigenvalues=0.01__epochs=1000__seed=7"), "id %s",
          r->id);
    CHECK(r->dataset == 1 && r->cell == 10 + 7 && r->seed == 7, "digits01 run");
    CHECK(r->training.learning_rate == 1e-4 && r->training.epochs == 1000 &&
          close_rel(r->training.reg_eigenvalues, 1e-2), "digits01 resolved");
    CHECK(runs[n - 1].cell == 29 && !strcmp(runs[n - 1].cell_id,
          "mydata__reg_eigenvalues=0.1__epochs=1000"), "last cell %s", runs[n - 1].cell_id);
}

static void check_seed_list(const ss_run_t *runs, int n)
{
    CHECK(!strcmp(runs[n - 1].id, "g__seed=11") && runs[n - 1].seed == 11, "id %s",
          runs[n - 1].id);
}

static void check_overrides(const ss_run_t *runs, int n)
{
    CHECK(runs[0].training.epochs == 20 && runs[0].training.learning_rate == 0.1 &&
          runs[0].training.batch_size == 64 && runs[0].training.reg_eigenvectors == 0.0,
          "dataset override then sweep");
    CHECK(runs[3].training.learning_rate == 0.2 && runs[3].training.epochs == 20, "a 0.2");
    CHECK(runs[5].training.epochs == 50 && runs[5].training.learning_rate == 0.1 &&
          runs[5].training.reg_eigenvectors == 1e-4, "b keeps global");
    CHECK(!strcmp(runs[5].id, "b__learning_rate=0.1__seed=1"), "id %s", runs[5].id);
    CHECK(!strcmp(runs[6].cell_id, "b__learning_rate=0.2") && runs[6].cell == 3, "cell");
}

static void check_axes_order(const ss_run_t *runs, int n)
{
    static const int bs[] = {16, 16, 16, 32, 32, 32};
    static const int ep[] = {1, 2, 3, 1, 2, 3};
    for (int i = 0; i < n; i++)
        CHECK(runs[i].training.batch_size == bs[i] && runs[i].training.epochs == ep[i] &&
              runs[i].cell == i && runs[i].axis_index[0] == i / 3 &&
              runs[i].axis_index[1] == i % 3, "point %d", i);
    CHECK(!strcmp(runs[4].id, "g__batch_size=32__epochs=2__seed=0"), "id %s", runs[4].id);
}

static void check_logspace_epochs(const ss_run_t *runs, int n)
{
    CHECK(runs[2].training.epochs == 1000 &&
          !strcmp(runs[2].id, "g__epochs=1000__learning_rate=0.001__seed=0"), "epochs run");
}

static void check_train_eigvec_axis(const ss_run_t *runs, int n)
{
    CHECK(runs[0].training.train_eigenvectors == 1 && runs[1].training.train_eigenvectors == 0 &&
          !strcmp(runs[1].id, "g__train_eigenvectors=0__seed=0"), "boolean axis");
}

/* The regimes of the spectral-domain paper: a bundle axis (first, outermost) and an axis
   over model.hidden; ids name the bundle and the layers; every run's model and training
   are the sections' with the point's keys, and keys a point does not set stay as the
   sections say (global adamax, the dataset's override of the learning rate). */
static void check_regimes(const ss_run_t *runs, int n)
{
    CHECK(!strcmp(runs[0].id, "g__regime=eigenvalues__model.hidden=20__seed=0"), "id %s",
          runs[0].id);
    CHECK(!strcmp(runs[n - 1].id, "g__regime=direct_subset__model.hidden=none__seed=1") &&
          !strcmp(runs[n - 1].cell_id, "g__regime=direct_subset__model.hidden=none"),
          "id %s", runs[n - 1].id);
    for (int i = 0; i < n; i++) {
        const ss_run_t *r = &runs[i];
        int regime = i / 4, layers = (i / 2) % 2;
        CHECK(r->axis_index[0] == regime && r->axis_index[1] == layers && r->cell == i / 2,
              "run %d position", i);
        CHECK(r->model.n_hidden == (layers ? 0 : 1) &&
              (layers || (r->model.hidden[0] == 20 && r->model.act[0] == SS_ACT_LINEAR)),
              "run %d layers", i);
        CHECK(r->model.spectral == (regime < 2 ? SS_SPECTRAL_ALL : SS_SPECTRAL_NONE) &&
              r->model.train_lambda_out == (regime < 2) &&
              r->model.trainable_weights == (regime == 3 ? SS_WEIGHTS_MATCH_EIGENVALUES
                                                         : SS_WEIGHTS_ALL) &&
              r->training.train_eigenvectors == (regime != 0), "run %d regime", i);
        CHECK(r->training.optimizer == SS_OPT_ADAMAX && r->training.learning_rate == 0.03 &&
              r->model.init.eigenvectors == 0.5, "run %d keeps the sections' settings", i);
    }
}

/* ---- the table ----------------------------------------------------------------------------- */

/* name + one gaussian dataset */
#define P "name: t\ndatasets:\n  g: {kind: gaussian}\n"

typedef struct {
    const char *title;
    const char *yaml;
    int n_runs, n_cells;
    void (*check)(const ss_run_t *runs, int n);
} grid_case_t;

static const grid_case_t cases[] = {
    {"minimal file: ten seeds, one cell", P, 10, 1, check_minimal},
    {"the docs/FORMATS.md example", formats_example, 3 * 5 * 2 * 10, 3 * 5 * 2,
     check_formats_example},
    {"seeds as a list", P "seeds: [3, 7, 11]\n", 3, 1, check_seed_list},
    {"dataset overrides, then the sweep point",
     "name: prec\nseeds: 2\ndatasets:\n"
     "  a: {kind: gaussian, training: {epochs: 20, reg_eigenvectors: 0}}\n"
     "  b: {kind: correlated}\n"
     "training: {epochs: 50, batch_size: 64}\nsweep: {learning_rate: [0.1, 0.2]}\n",
     8, 4, check_overrides},
    {"two axes, first outermost",
     P "seeds: 1\nsweep:\n  batch_size: [16, 32]\n  epochs: [1, 2, 3]\n", 6, 6,
     check_axes_order},
    {"logspace on an integer key and count 1",
     P "seeds: 1\nsweep:\n  epochs: {logspace: [1, 3, 3]}\n"
     "  learning_rate: {logspace: [-3, 0, 1]}\n", 3, 3, check_logspace_epochs},
    {"train_eigenvectors as a sweep axis",
     P "seeds: 1\nsweep:\n  train_eigenvectors: [true, false]\n", 2, 2,
     check_train_eigvec_axis},
    {"a bundle axis of regimes and an axis over model.hidden",
     "name: r\nseeds: 2\ndatasets:\n  g: {kind: gaussian, training: {learning_rate: 0.03}}\n"
     "model: {activations: linear}\ninit: {eigenvectors: 0.5}\n"
     "training: {optimizer: adamax}\nsweep:\n  regime:\n"
     "    eigenvalues: {model.train_lambda_out: true, train_eigenvectors: false}\n"
     "    eigen_vectors: {model.train_lambda_out: true}\n"
     "    direct: {model.spectral: none}\n"
     "    direct_subset: {model.spectral: none, model.trainable_weights: match_eigenvalues}\n"
     "  model.hidden: [[20], []]\n", 16, 8, check_regimes},
};

static void run_case(const grid_case_t *c)
{
    ss_sweep_t sw;
    ss_error_t err = {0};
    if (ss_sweep_parse("sweep.yaml", c->yaml, &sw, &err) != 0) {
        CHECK(0, "[%s] parse: %s", c->title, err.msg);
        return;
    }
    ss_run_t *runs = NULL;
    int n = -1, cells = -1;
    int rc = ss_grid_expand(&sw, &runs, &n, &cells, &err);
    CHECK(rc == 0, "[%s] expand failed: %s", c->title, err.msg);
    CHECK(n == c->n_runs && cells == c->n_cells, "[%s] runs %d cells %d", c->title, n, cells);
    if (rc == 0 && n == c->n_runs && runs)
        c->check(runs, n);
    free(runs);
    ss_sweep_free(&sw);
}

/* A hand-built axis over training key k with the one value v (replacing what was there). */
static void hand_axis(ss_axis_t *ax, ss_training_key_t k, double v)
{
    free(ax->values);
    free(ax->points);
    for (int i = 0; ax->labels && i < ax->n; i++)
        free(ax->labels[i]);
    free(ax->labels);
    memset(ax, 0, sizeof *ax);
    ax->kind = SS_AXIS_TRAINING;
    ax->key = k;
    snprintf(ax->name, sizeof ax->name, "%s", ss_training_key_name(k));
    ax->n = 1;
    ax->values = malloc(sizeof *ax->values);
    ax->values[0] = v;
    ax->points = calloc(1, sizeof *ax->points);
    ss_training_set(&ax->points[0].training, k, v);
    ax->points[0].training_mask = ax->training_mask = 1u << k;
    ax->labels = malloc(sizeof *ax->labels);
    ax->labels[0] = malloc(32);
    snprintf(ax->labels[0], 32, "%.6g", v);
}

/* An empty sweep has no runs; a hand-built sweep (not checked by ss_sweep_parse) whose
   cell ids are too long fails cleanly; dataset overrides apply to a hand-built sweep. */
static void test_edges(void)
{
    ss_sweep_t sw;
    memset(&sw, 0, sizeof sw);
    ss_run_t *runs = (ss_run_t *)&sw;
    int n = -1, cells = -1;
    ss_error_t err = {0};
    CHECK(ss_grid_expand(&sw, &runs, &n, &cells, &err) == 0 && n == 0 && cells == 0 &&
          !runs, "expanding an empty sweep");

    CHECK(ss_sweep_parse("sweep.yaml", P "sweep: {learning_rate: [0.5]}\n", &sw, &err) == 0,
          "parse: %s", err.msg);
    if (!sw.datasets)
        return;

    /* dataset overrides */
    sw.datasets[0].training.epochs = 7;
    sw.datasets[0].training_set_mask = 1u << SS_KEY_EPOCHS;
    sw.training.epochs = 9;
    sw.training.batch_size = 33;
    runs = NULL;
    int rc = ss_grid_expand(&sw, &runs, &n, &cells, &err);
    CHECK(rc == 0 && runs && runs[0].training.epochs == 7 &&
          runs[0].training.batch_size == 33 && runs[0].training.learning_rate == 0.5,
          "override of a hand-built sweep");
    free(runs);

    /* 8 axes "__validation_fraction=1.23456e-300": 280 characters */
    for (int a = 0; a < SS_MAX_AXES; a++)
        hand_axis(&sw.axes[a], SS_KEY_VALIDATION_FRACTION, 1.23456e-300);
    sw.n_axes = SS_MAX_AXES;
    runs = (ss_run_t *)&sw;
    rc = ss_grid_expand(&sw, &runs, &n, &cells, &err);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && !runs &&
          strstr(err.msg, "the cell id of dataset 'g' is longer than 159 characters"),
          "too long: %s", err.msg);
    ss_sweep_free(&sw);
}

int main(void)
{
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++)
        run_case(&cases[i]);
    test_edges();
    printf("%d cases in the table\n", n);
    return ss_test_report();
}
