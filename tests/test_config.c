/*
 * test_config.c - the sweep file: parsing, validation messages with their positions,
 * defaults, relative paths, dataset overrides. The expansion into runs and cells is
 * tested in test_grid.c.
 *
 * Every case of the table is parsed from memory as "sweep.yaml" (or the path it names).
 * A bad file must fail with SS_EXIT_INPUT, a message starting "sweep.yaml:LINE:COLUMN: "
 * and containing the expected phrase, and leave the sweep zeroed. A good file runs its
 * check function on the parsed sweep.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/config.h"
#include "testutil.h"

/* name + one gaussian dataset: three lines, so a section added after it starts at line 4 */
#define P "name: t\ndatasets:\n  g: {kind: gaussian}\n"

static int close_rel(double a, double b) { return fabs(a - b) <= 1e-12 * fabs(b); }

/* ---- checks of good files --------------------------------------------------------------- */

static void check_minimal(const ss_sweep_t *sw)
{
    CHECK(!strcmp(sw->name, "t"), "name %s", sw->name);
    CHECK(sw->output && !strcmp(sw->output, "results/t.h5"), "output %s", sw->output);
    CHECK(sw->path && !strcmp(sw->path, "sweep.yaml"), "path %s", sw->path);
    CHECK(sw->dir && !strcmp(sw->dir, "."), "dir %s", sw->dir);
    CHECK(sw->yaml_text && !strcmp(sw->yaml_text, P), "yaml_text kept");
    CHECK(sw->n_seeds == 10, "n_seeds %d", sw->n_seeds);
    for (int i = 0; i < sw->n_seeds; i++)
        CHECK(sw->seeds[i] == i, "seed %d", i);

    const ss_model_t *m = &sw->model;
    CHECK(m->n_hidden == 3 && m->hidden[0] == 100 && m->hidden[1] == 100 && m->hidden[2] == 50,
          "hidden");
    CHECK(m->act[0] == SS_ACT_TANH && m->act[1] == SS_ACT_RELU && m->act[2] == SS_ACT_RELU,
          "activations");
    CHECK(m->spectral == SS_SPECTRAL_ALL && !m->batchnorm_after_first &&
          m->dropout_after_first == 0.0 && !m->train_lambda_out, "model flags");

    const ss_training_t *t = &sw->training;
    CHECK(t->learning_rate == 1e-2 && t->batch_size == 500 && t->epochs == 1000,
          "lr/batch/epochs");
    CHECK(t->validation_fraction == 0.1 && t->reg_eigenvalues == 1e-2 &&
          t->reg_eigenvectors == 1e-4 && t->train_eigenvectors == 1, "val/reg/train_eigvec");
    CHECK(t->adam_beta1 == 0.9 && t->adam_beta2 == 0.999 && t->adam_epsilon == 1e-7, "adam");

    static const int topk[] = {1, 2, 5, 10, 14, 20, 50, 100, 200, 500};
    CHECK(sw->n_topk == 10, "n_topk %d", sw->n_topk);
    for (int i = 0; i < 10 && i < sw->n_topk; i++)
        CHECK(sw->topk[i] == topk[i], "topk[%d] %d", i, sw->topk[i]);
    CHECK(sw->random_repeats == 5 && sw->ranks_per_run == 1, "relevance/parallel");
    CHECK(sw->n_axes == 0, "axes %d", sw->n_axes);

    CHECK(sw->n_datasets == 1, "n_datasets %d", sw->n_datasets);
    const ss_dataset_spec_t *d = &sw->datasets[0];
    CHECK(!strcmp(d->name, "g") && d->kind == SS_KIND_GAUSSIAN, "dataset name/kind");
    CHECK(d->line == 3 && d->col == 3, "dataset position %d:%d", d->line, d->col);
    CHECK(d->features == 20 && d->relevant == 11 && d->samples == 60000, "gaussian sizes");
    CHECK(d->sigma == 0.5 && d->max_shift == 1.4 && d->data_seed == 1 &&
          d->test_fraction == 0.2, "gaussian values");
    CHECK(d->n_pairs == 4 && d->pair_p[0] == 0.7 && d->pair_p[1] == 0.8 &&
          d->pair_p[2] == 0.4 && d->pair_p[3] == 0.6 && d->noise_features == 2,
          "correlated defaults");
    CHECK(!strcmp(d->label, "label") && d->task == SS_TASK_CLASSIFICATION &&
          d->n_class_subset == 0 && close_rel(d->scale, 1.0 / 255) && d->max_train == 0 &&
          d->max_test == 0, "file defaults");
    CHECK(!d->path && !d->train_images, "no paths");
    CHECK(d->training_set_mask == 0 &&
          !memcmp(&d->training, &sw->training, sizeof d->training), "dataset training");
}

static const char formats_example[] =
    "name: gaussian-fig3\n"
    "output: results/gaussian-fig3.h5      # relative to the working directory; -o overrides\n"
    "seeds: 10                             # N (seeds 0..N-1) or a list [3, 7, 11]\n"
    "datasets:                             # name -> spec; every dataset is run\n"
    "  gauss20:\n"
    "    kind: gaussian                    # gaussian | correlated | idx | csv | hdf5 | ...\n"
    "    features: 20\n"
    "    relevant: 11\n"
    "    samples: 60000\n"
    "    sigma: 0.5\n"
    "    max_shift: 1.4\n"
    "    data_seed: 1\n"
    "    test_fraction: 0.2\n"
    "  digits01:\n"
    "    kind: idx                         # MNIST-format files, .gz or plain\n"
    "    train_images: data/mnist/train-images-idx3-ubyte.gz\n"
    "    train_labels: data/mnist/train-labels-idx1-ubyte.gz\n"
    "    test_images:  data/mnist/t10k-images-idx3-ubyte.gz\n"
    "    test_labels:  data/mnist/t10k-labels-idx1-ubyte.gz\n"
    "    classes: [0, 1]                   # optional subset, relabelled 0..k-1\n"
    "    training: {learning_rate: 1.0e-4} # per-dataset overrides of `training`\n"
    "  mydata:\n"
    "    kind: csv                         # header row; numeric columns\n"
    "    path: data/mydata.csv             # relative paths: relative to the sweep file\n"
    "    label: label                      # label column name (default \"label\")\n"
    "    task: classification             # or regression\n"
    "    test_fraction: 0.2\n"
    "model:\n"
    "  hidden: [100, 100, 50]\n"
    "  activations: [tanh, relu, relu]\n"
    "  spectral: all                       # all | first\n"
    "  batchnorm_after_first: false\n"
    "  dropout_after_first: 0.0\n"
    "training:\n"
    "  optimizer: adam\n"
    "  learning_rate: 0.01\n"
    "  batch_size: 500\n"
    "  epochs: 1000\n"
    "  validation_fraction: 0.1\n"
    "  reg_eigenvalues: 1.0e-2\n"
    "  reg_eigenvectors: 1.0e-4\n"
    "  train_eigenvectors: true\n"
    "sweep:                                # axes over `training` keys: a list, or\n"
    "  reg_eigenvalues: {logspace: [-5, -1, 5]}   # {logspace: [from_exp, to_exp, count]}\n"
    "  epochs: [100, 1000]\n"
    "relevance:\n"
    "  topk: [1, 2, 5, 10, 20, 50]         # test accuracy using only the top-k inputs\n"
    "parallel:\n"
    "  ranks_per_run: 1\n";

static void check_formats_example(const ss_sweep_t *sw)
{
    CHECK(!strcmp(sw->name, "gaussian-fig3"), "name");
    CHECK(!strcmp(sw->output, "results/gaussian-fig3.h5"), "output %s", sw->output);
    CHECK(!strcmp(sw->dir, "/data/sweeps"), "dir %s", sw->dir);
    CHECK(sw->n_datasets == 3, "n_datasets %d", sw->n_datasets);
    if (sw->n_datasets != 3)
        return;
    const ss_dataset_spec_t *g = &sw->datasets[0], *m = &sw->datasets[1], *c = &sw->datasets[2];
    CHECK(!strcmp(g->name, "gauss20") && !strcmp(m->name, "digits01") &&
          !strcmp(c->name, "mydata"), "dataset order");
    CHECK(m->line == 14 && m->col == 3, "digits01 at %d:%d", m->line, m->col);
    CHECK(m->kind == SS_KIND_IDX && c->kind == SS_KIND_CSV, "kinds");
    CHECK(!strcmp(m->train_images, "/data/sweeps/data/mnist/train-images-idx3-ubyte.gz"),
          "train_images %s", m->train_images);
    CHECK(!strcmp(m->test_labels, "/data/sweeps/data/mnist/t10k-labels-idx1-ubyte.gz"),
          "test_labels %s", m->test_labels);
    CHECK(m->n_class_subset == 2 && m->class_subset[0] == 0 && m->class_subset[1] == 1,
          "classes");
    CHECK(m->training_set_mask == (1u << SS_KEY_LEARNING_RATE), "mask %x",
          m->training_set_mask);
    CHECK(m->training.learning_rate == 1e-4 && m->training.epochs == 1000,
          "digits01 resolved training");
    CHECK(!strcmp(c->path, "/data/sweeps/data/mydata.csv"), "csv path %s", c->path);
    CHECK(!strcmp(c->label, "label") && c->task == SS_TASK_CLASSIFICATION, "csv label/task");

    CHECK(sw->n_axes == 2, "axes %d", sw->n_axes);
    if (sw->n_axes != 2)
        return;
    const ss_axis_t *a = &sw->axes[0];
    CHECK(a->key == SS_KEY_REG_EIGENVALUES && a->n == 5, "axis 0");
    static const double expect[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
    for (int i = 0; i < 5 && i < a->n; i++)
        CHECK(close_rel(a->values[i], expect[i]), "logspace[%d] = %.17g", i, a->values[i]);
    CHECK(sw->axes[1].key == SS_KEY_EPOCHS && sw->axes[1].n == 2 &&
          sw->axes[1].values[0] == 100 && sw->axes[1].values[1] == 1000, "axis 1");
    CHECK(sw->n_topk == 6 && sw->topk[5] == 50, "topk");
}

static void check_seed_list(const ss_sweep_t *sw)
{
    CHECK(sw->n_seeds == 3 && sw->seeds[0] == 3 && sw->seeds[1] == 7 && sw->seeds[2] == 11,
          "seeds");
}

static const char overrides_text[] =
    "name: prec\n"
    "seeds: 2\n"
    "datasets:\n"
    "  a:\n"
    "    kind: gaussian\n"
    "    training: {epochs: 20, reg_eigenvectors: 0}\n"
    "  b: {kind: correlated}\n"
    "training:\n"
    "  epochs: 50\n"
    "  batch_size: 64\n"
    "sweep:\n"
    "  learning_rate: [0.1, 0.2]\n";

static void check_overrides(const ss_sweep_t *sw)
{
    const ss_dataset_spec_t *a = &sw->datasets[0], *b = &sw->datasets[1];
    CHECK(a->training.epochs == 20 && a->training.batch_size == 64 &&
          a->training.reg_eigenvectors == 0.0, "a resolved");
    CHECK(b->training.epochs == 50 && b->training_set_mask == 0, "b resolved");
    CHECK(b->features == 10, "correlated features %d", b->features);
}

static void check_axes_order(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 2 && sw->axes[0].key == SS_KEY_BATCH_SIZE && sw->axes[0].n == 2 &&
          sw->axes[0].values[1] == 32 && sw->axes[1].key == SS_KEY_EPOCHS &&
          sw->axes[1].n == 3 && sw->axes[1].values[2] == 3, "axes in file order");
}

static void check_logspace_epochs(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 2, "axes");
    if (sw->n_axes != 2)
        return;
    CHECK(sw->axes[0].n == 3 && sw->axes[0].values[0] == 10 && sw->axes[0].values[1] == 100 &&
          sw->axes[0].values[2] == 1000, "epochs logspace");
    CHECK(sw->axes[1].n == 1 && close_rel(sw->axes[1].values[0], 1e-3), "count 1 is 10^from");
}

static void check_logspace_fraction(const ss_sweep_t *sw)
{
    const ss_axis_t *a = &sw->axes[0];
    CHECK(a->n == 4, "n %d", a->n);
    static const double e[] = {-4, -3.5, -3, -2.5};
    for (int i = 0; i < a->n && i < 4; i++)
        CHECK(close_rel(a->values[i], pow(10.0, e[i])), "value %d %.17g", i, a->values[i]);
}

static void check_numbers(const ss_sweep_t *sw)
{
    CHECK(sw->training.learning_rate == 1e-4, "1.0e-4");
    CHECK(sw->training.reg_eigenvalues == 1e-4, "1e-4");
    CHECK(sw->training.reg_eigenvectors == 0.01, "0.01");
    CHECK(sw->training.epochs == 1000, "1e3 as integer");
    CHECK(sw->training.batch_size == 32, "32.0 as integer");
    CHECK(sw->training.train_eigenvectors == 0, "no");
    CHECK(sw->model.batchnorm_after_first == 1 && sw->model.train_lambda_out == 1, "yes/True");
    CHECK(sw->model.n_hidden == 2 && sw->model.act[0] == SS_ACT_RELU &&
          sw->model.act[1] == SS_ACT_RELU, "one activation for all layers");
    CHECK(sw->model.spectral == SS_SPECTRAL_FIRST && sw->model.dropout_after_first == 0.25,
          "spectral/dropout");
    CHECK(!strcmp(sw->output, "out/x.h5"), "output %s", sw->output);
}

static void check_paths(const ss_sweep_t *sw)
{
    CHECK(!strcmp(sw->dir, "."), "dir %s", sw->dir);
    CHECK(!strcmp(sw->datasets[0].path, "data/x.csv"), "relative to cwd %s",
          sw->datasets[0].path);
    CHECK(!strcmp(sw->datasets[1].path, "/abs/y.h5"), "absolute kept %s", sw->datasets[1].path);
    CHECK(sw->datasets[1].task == SS_TASK_REGRESSION && sw->datasets[1].kind == SS_KIND_HDF5,
          "hdf5 regression");
    CHECK(sw->datasets[0].max_train == 100 && sw->datasets[0].data_seed == 7 &&
          !strcmp(sw->datasets[0].label, "y"), "csv fields");
}

static void check_correlated(const ss_sweep_t *sw)
{
    const ss_dataset_spec_t *d = &sw->datasets[0];
    CHECK(d->n_pairs == 3 && d->pair_p[2] == 0.7 && d->noise_features == 3 &&
          d->features == 9, "correlated: %d pairs, %d features", d->n_pairs, d->features);
    const ss_dataset_spec_t *sp = &sw->datasets[1];
    CHECK(sp->kind == SS_KIND_SPECTRA && sp->features == 4300 && sp->samples == 1000 &&
          sp->sigma == 0.01 && sp->metal_lines == 30 && sp->nuisance_lines == 0 &&
          sp->data_seed == 3 && sp->test_fraction == 0.25, "spectra keys");
    CHECK(sp->metal_min == -2.5 && sp->metal_max == 0.5 && sp->wave_min == 3540.0 &&
          sp->wave_max == 7410.0, "spectra ranges");
    /* the defaults of spectra are its own; the kinds after it keep theirs */
    const ss_dataset_spec_t *g = &sw->datasets[2];
    CHECK(g->kind == SS_KIND_GAUSSIAN && g->features == 20 && g->samples == 60000 &&
          g->sigma == 0.5 && g->max_shift == 1.4, "gaussian after spectra");
}

static void check_spectra_defaults(const ss_sweep_t *sw)
{
    const ss_dataset_spec_t *sp = &sw->datasets[0];
    CHECK(sp->kind == SS_KIND_SPECTRA && sp->features == 4300 && sp->samples == 2000 &&
          sp->sigma == 0.01 && sp->metal_lines == 20 && sp->nuisance_lines == 20 &&
          sp->data_seed == 1 && sp->test_fraction == 0.2, "spectra defaults");
    CHECK(sp->metal_min == -2.5 && sp->metal_max == 0.5 && sp->wave_min == 3540.0 &&
          sp->wave_max == 7410.0, "spectra range defaults");
    CHECK(!strcmp(sp->name, "miles") && sp->line == 3 && sp->col == 3, "name and position");
    const ss_dataset_spec_t *sp2 = &sw->datasets[1];
    CHECK(sp2->features == 10 && sp2->metal_lines == 1 && sp2->nuisance_lines == 0 &&
          sp2->metal_min == -1 && sp2->metal_max == 1 && sp2->wave_min == 100 &&
          sp2->wave_max == 200, "the smallest grid, own ranges");
}

static void check_empty_sections(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 0 && sw->model.n_hidden == 3 && sw->training.epochs == 1000,
          "empty sections keep defaults");
}

static void check_train_eigvec_axis(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 1 && sw->axes[0].key == SS_KEY_TRAIN_EIGENVECTORS &&
          sw->axes[0].n == 2 && sw->axes[0].values[0] == 1.0 && sw->axes[0].values[1] == 0.0,
          "boolean axis values");
}


/* The regimes of the spectral-domain paper's Table 1: a bundle axis of four regimes and an
   axis over model.hidden. */
#define REGIMES \
    "sweep:\n" \
    "  regime:\n" \
    "    eigenvalues:   {model.spectral: all, model.train_lambda_out: true, " \
    "train_eigenvectors: false}\n" \
    "    eigen_vectors: {model.spectral: all, model.train_lambda_out: true, " \
    "train_eigenvectors: true}\n" \
    "    direct:        {model.spectral: none}\n" \
    "    direct_subset: {model.spectral: none, model.trainable_weights: match_eigenvalues}\n" \
    "  model.hidden: [[20], [100], [500]]\n"

static void check_regimes(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 2 && sw->record_model, "axes %d record_model %d", sw->n_axes,
          sw->record_model);
    if (sw->n_axes != 2)
        return;
    const ss_axis_t *r = &sw->axes[0], *h = &sw->axes[1];
    CHECK(r->kind == SS_AXIS_BUNDLE && !strcmp(r->name, "regime") && r->n == 4, "bundle axis");
    CHECK(!strcmp(r->labels[0], "eigenvalues") && !strcmp(r->labels[3], "direct_subset"),
          "bundle names %s %s", r->labels[0], r->labels[3]);
    CHECK(r->training_mask == 1u << SS_KEY_TRAIN_EIGENVECTORS, "bundle training keys %x",
          r->training_mask);
    CHECK(r->model_mask == ((1u << SS_MKEY_SPECTRAL) | (1u << SS_MKEY_TRAIN_LAMBDA_OUT) |
                            (1u << SS_MKEY_TRAINABLE_WEIGHTS)), "bundle model keys %x",
          r->model_mask);
    const ss_patch_t *ev = &r->points[0], *sub = &r->points[3];
    CHECK(ev->training_mask == 1u << SS_KEY_TRAIN_EIGENVECTORS &&
          ev->training.train_eigenvectors == 0 && ev->model.train_lambda_out == 1 &&
          ev->model.spectral == SS_SPECTRAL_ALL, "eigenvalues bundle");
    CHECK(sub->training_mask == 0 && sub->model.spectral == SS_SPECTRAL_NONE &&
          sub->model.trainable_weights == SS_WEIGHTS_MATCH_EIGENVALUES &&
          sub->model_mask == ((1u << SS_MKEY_SPECTRAL) | (1u << SS_MKEY_TRAINABLE_WEIGHTS)),
          "direct_subset bundle");
    CHECK(h->kind == SS_AXIS_MODEL && h->model_key == SS_MKEY_HIDDEN && h->n == 3 &&
          !strcmp(h->name, "model.hidden") && !strcmp(h->labels[2], "500") &&
          h->points[1].model.n_hidden == 1 && h->points[1].model.hidden[0] == 100,
          "model.hidden axis");
}

static void check_perceptron(const ss_sweep_t *sw)
{
    const ss_model_t *m = &sw->model;
    CHECK(m->n_hidden == 0 && m->n_act == -1, "no hidden layer: %d", m->n_hidden);
    CHECK(sw->training.optimizer == SS_OPT_ADAMAX && sw->training.adamax_beta1 == 0.8 &&
          sw->training.adamax_beta2 == 0.99 && sw->training.adamax_epsilon == 1e-8 &&
          sw->training.adam_beta1 == 0.9, "adamax settings");
    CHECK(m->init.eigenvectors == 0.5 && m->init.weights == 0.0 &&
          m->init.lambda_in[0] == 1.0 && m->init.lambda_in[1] == 1.0 &&
          m->init.lambda_out[0] == -0.01 && m->init.lambda_out[1] == 0.01, "init section");
    CHECK(m->retract == SS_RETRACT_ALL && m->histogram_bins == 50 &&
          m->histogram_range == 0.5, "retraction");
    CHECK(sw->record_model, "the regime keys make runs record their model");
}

static void check_model_axes(const ss_sweep_t *sw)
{
    CHECK(sw->n_axes == 4, "axes %d", sw->n_axes);
    if (sw->n_axes != 4)
        return;
    const ss_axis_t *o = &sw->axes[0], *a = &sw->axes[1], *i = &sw->axes[2], *e = &sw->axes[3];
    CHECK(o->kind == SS_AXIS_TRAINING && o->key == SS_KEY_OPTIMIZER &&
          !strcmp(o->labels[0], "adam") && !strcmp(o->labels[1], "adamax") &&
          o->points[1].training.optimizer == SS_OPT_ADAMAX, "optimizer axis");
    CHECK(a->kind == SS_AXIS_MODEL && !strcmp(a->labels[0], "linear-relu") &&
          !strcmp(a->labels[1], "tanh-tanh") && a->points[0].model.n_act == 2 &&
          a->points[1].model.n_act == -1, "activations axis %s %s", a->labels[0], a->labels[1]);
    CHECK(!strcmp(i->labels[0], "0") && !strcmp(i->labels[1], "-0.01:0.01") &&
          i->points[1].model.init.lambda_out[0] == -0.01, "init.lambda_out axis %s %s",
          i->labels[0], i->labels[1]);
    CHECK(e->kind == SS_AXIS_BUNDLE && e->n == 2 && !strcmp(e->labels[0], "glorot") &&
          e->points[0].model_mask == 0 && e->points[0].training_mask == 0 &&
          e->points[1].model.init.eigenvectors == 0.5 &&
          e->points[1].model.init.weights == 0.5, "init bundles");
}

static void check_no_regime_keys(const ss_sweep_t *sw)
{
    CHECK(!sw->record_model, "a sweep without the regime keys records what it always did");
}

static void check_core_tags(const ss_sweep_t *sw)
{
    const ss_dataset_spec_t *d = &sw->datasets[0];
    CHECK(!strcmp(sw->name, "t") && !strcmp(sw->output, "12"), "!!str name and output");
    CHECK(d->samples == 300 && d->features == 8 && d->relevant == 4 && d->sigma == 0.25,
          "!!int \"300\", !!int and !!float read as numbers");
    CHECK(sw->n_seeds == 2 && sw->seeds[0] == 1 && sw->seeds[1] == 2, "!!seq seeds");
    CHECK(sw->training.train_eigenvectors == 0 && sw->model.dropout_after_first == 0.0,
          "!!bool and !!float");
    CHECK(sw->n_topk == 10, "!!null relevance is an empty section");
}

/* standardize and input_shape on every kind; the shape's position kept for the check that
   needs the data; neither given: off and empty */
static void check_standardize_shape(const ss_sweep_t *sw)
{
    const ss_dataset_spec_t *g = &sw->datasets[0], *c = &sw->datasets[1];
    const ss_dataset_spec_t *plain = &sw->datasets[2];
    CHECK(g->standardize == 1 && g->input_shape[0] == 4 && g->input_shape[1] == 5 &&
          g->input_shape_at && !strcmp(g->input_shape_at, "sweep.yaml:5:18"),
          "gaussian: standardize, input_shape [4, 5] at %s", g->input_shape_at);
    CHECK(c->standardize == 0 && c->input_shape[0] == 1 && c->input_shape[1] == 3 &&
          c->input_shape_at && !strcmp(c->input_shape_at, "sweep.yaml:7:64"),
          "csv: standardize off, input_shape [1, 3] at %s", c->input_shape_at);
    CHECK(plain->standardize == 0 && plain->input_shape[0] == 0 && !plain->input_shape_at,
          "neither given: off, no shape");
}

/* ---- the table ----------------------------------------------------------------------------- */

typedef struct {
    const char *title;
    const char *yaml;
    const char *error;                 /* phrase of the message, NULL: the file is good */
    const char *pos;                   /* "LINE:COLUMN" of the error */
    void (*check)(const ss_sweep_t *); /* good files: assertions on the result */
    const char *path;                  /* NULL: "sweep.yaml" */
} config_case_t;

static const config_case_t cases[] = {
    /* good files */
    {"minimal file: every default", P, NULL, NULL, check_minimal, NULL},
    {"docs/FORMATS.md example, three kinds", formats_example, NULL, NULL, check_formats_example,
     "/data/sweeps/gaussian-fig3.yaml"},
    {"seeds as a list", P "seeds: [3, 7, 11]\n", NULL, NULL, check_seed_list, NULL},
    {"dataset overrides, then the sweep point", overrides_text, NULL, NULL, check_overrides,
     NULL},
    {"two axes, first outermost", P "seeds: 1\nsweep:\n  batch_size: [16, 32]\n"
     "  epochs: [1, 2, 3]\n", NULL, NULL, check_axes_order, NULL},
    {"logspace on an integer key and count 1", P "seeds: 1\nsweep:\n"
     "  epochs: {logspace: [1, 3, 3]}\n  learning_rate: {logspace: [-3, 0, 1]}\n", NULL, NULL,
     check_logspace_epochs, NULL},
    {"logspace with fractional exponents", P "sweep:\n  reg_eigenvectors:\n"
     "    logspace: [-4, -2.5, 4]\n", NULL, NULL, check_logspace_fraction, NULL},
    {"number forms, booleans, one activation", P "output: out/x.h5\ntraining:\n"
     "  learning_rate: 1.0e-4\n  reg_eigenvalues: 1e-4\n  reg_eigenvectors: 0.01\n"
     "  epochs: 1e3\n  batch_size: 32.0\n  train_eigenvectors: no\nmodel:\n"
     "  hidden: [8, 4]\n  activations: relu\n  batchnorm_after_first: yes\n"
     "  train_lambda_out: True\n  spectral: first\n  dropout_after_first: 0.25\n", NULL, NULL,
     check_numbers, NULL},
    {"paths next to a sweep file in the working directory",
     "name: p\ndatasets:\n  c: {kind: csv, path: data/x.csv, label: y, max_train: 100, "
     "data_seed: 7}\n  h:\n    kind: hdf5\n    path: /abs/y.h5\n    task: regression\n",
     NULL, NULL, check_paths, NULL},
    {"correlated features are computed; spectra keys",
     "name: c\ndatasets:\n  corr:\n    kind: correlated\n"
     "    pair_probabilities: [0.5, 0.6, 0.7]\n    noise_features: 3\n"
     "  spec: {kind: spectra, samples: 1000, metal_lines: 30, nuisance_lines: 0,\n"
     "         data_seed: 3, test_fraction: 0.25}\n"
     "  g: {kind: gaussian}\n", NULL, NULL, check_correlated, NULL},
    {"spectra defaults; the smallest grid",
     "name: s\ndatasets:\n  miles: {kind: spectra}\n"
     "  tiny: {kind: spectra, features: 10, metal_lines: 1, nuisance_lines: 0, metal_min: -1,\n"
     "         metal_max: 1, wave_min: 100, wave_max: 200}\n", NULL, NULL,
     check_spectra_defaults, NULL},
    {"empty sections", P "model:\ntraining: ~\nsweep: {}\n", NULL, NULL,
     check_empty_sections, NULL},
    {"train_eigenvectors as a sweep axis", P "seeds: 1\nsweep:\n"
     "  train_eigenvectors: [true, false]\n", NULL, NULL, check_train_eigvec_axis, NULL},
    {"standardize and input_shape", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    input_shape: [4, 5]\n    standardize: true\n"
     "  c: {kind: csv, path: x.csv, standardize: false, input_shape: [1, 3]}\n"
     "  m: {kind: idx, train_images: a, train_labels: b, test_images: c, test_labels: d}\n",
     NULL, NULL, check_standardize_shape, NULL},

    /* the spectral-domain study: model keys and bundles as axes, init, adamax */
    {"regimes as a bundle axis, model.hidden as an axis", P "seeds: 5\n" REGIMES, NULL, NULL,
     check_regimes, NULL},
    {"perceptron: no hidden layer, adamax, init, retraction", P "model:\n  hidden: []\n"
     "  retract: all\n  histogram_bins: 50\n  histogram_range: 0.5\ninit:\n"
     "  eigenvectors: 0.5\n  lambda_out: [-0.01, 0.01]\ntraining:\n  optimizer: adamax\n"
     "  adamax_beta1: 0.8\n  adamax_beta2: 0.99\n  adamax_epsilon: 1e-8\n", NULL, NULL,
     check_perceptron, NULL},
    {"axes over the optimizer, activations, init and an init bundle", P "model:\n"
     "  hidden: [4, 3]\nsweep:\n  optimizer: [adam, adamax]\n"
     "  model.activations: [[linear, relu], tanh]\n  init.lambda_out: [0, [-0.01, 0.01]]\n"
     "  initialisation:\n    glorot: {}\n"
     "    paper: {init.eigenvectors: 0.5, init.weights: 0.5}\n", NULL, NULL,
     check_model_axes, NULL},
    {"model keys set to their defaults in model: records nothing new", P "model:\n"
     "  hidden: [5]\n  train_lambda_out: true\n  spectral: none\nsweep:\n"
     "  learning_rate: [0.1, 0.01]\n", NULL, NULL, check_no_regime_keys, NULL},

    /* structure */
    {"empty file", "", "the sweep file is empty", "1:1", NULL, NULL},
    {"top level is a list", "- name: t\n", "must be a mapping of keys", "1:1", NULL, NULL},
    {"YAML syntax error", "name: t\ndatasets: {g: {kind: gaussian}\n", "YAML syntax error",
     "3:1", NULL, NULL},
    {"tab indentation", "name: t\ndatasets:\n\tg: {kind: gaussian}\n",
     "does not allow tabs", "3:1", NULL, NULL},
    {"two documents", P "---\nname: u\n", "one YAML document", "5:1", NULL, NULL},
    {"not UTF-8", P "training: {epochs: \"\xff\"}\n", "not readable as UTF-8 text", "4:21",
     NULL, NULL},
    {"a list as a key", P "? [a, b]\n: 1\n", "a key must be a name, got a list", "4:3", NULL,
     NULL},
    {"alias loop", "name: t\ndatasets: &d\n  g: *d\n",
     "missing required key 'kind' in dataset 'g'", "3:3", NULL, NULL},
    {"empty name", "name:\ndatasets:\n  g: {kind: gaussian}\n",
     "name must be a non-empty text value, got nothing", "1:6", NULL, NULL},
    {"missing name", "datasets:\n  g: {kind: gaussian}\n", "missing required key 'name'",
     "1:1", NULL, NULL},
    {"missing datasets", "name: t\nseeds: 2\n", "missing required key 'datasets'", "1:1",
     NULL, NULL},
    {"unknown top-level key", P "seed: 3\n", "unknown key 'seed' at the top level", "4:1",
     NULL, NULL},
    {"unknown training key, suggestion", P "training:\n  learnin_rate: 0.1\n",
     "unknown key 'learnin_rate' in training (known: learning_rate, batch_size",
     "5:3", NULL, NULL},
    {"suggestion names the close key", P "training:\n  learnin_rate: 0.1\n",
     "did you mean 'learning_rate'?", "5:3", NULL, NULL},
    {"duplicate key", P "training:\n  epochs: 10\n  epochs: 20\n",
     "duplicate key 'epochs' (first at line 5)", "6:3", NULL, NULL},
    {"duplicate top-level key", "name: a\nname: b\ndatasets:\n  g: {kind: gaussian}\n",
     "duplicate key 'name' (first at line 1)", "2:1", NULL, NULL},
    {"duplicate dataset", "name: t\ndatasets:\n  g: {kind: gaussian}\n  g: {kind: csv}\n",
     "duplicate key 'g' (first at line 3)", "4:3", NULL, NULL},
    {"section of the wrong type", P "training: [1, 2]\n",
     "training must be a mapping of keys, got a list", "4:11", NULL, NULL},
    {"datasets as a list", "name: t\ndatasets:\n  - g\n", "datasets must be a mapping",
     "3:3", NULL, NULL},
    {"bad sweep name", "name: my sweep\ndatasets:\n  g: {kind: gaussian}\n",
     "may contain only letters, digits", "1:7", NULL, NULL},

    /* explicit tags: the core ones mean what they say, others are refused */
    {"core tags read as their values",
     "name: !!str t\noutput: !!str 12\ndatasets: !!map\n"
     "  g: {kind: gaussian, samples: !!int \"300\", features: !!int 8, relevant: 4,\n"
     "      sigma: !!float 0.25}\nseeds: !!seq [1, 2]\n"
     "training: {train_eigenvectors: !!bool false}\nmodel: {dropout_after_first: !!float 0}\n"
     "relevance: !!null\n", NULL, NULL, check_core_tags, NULL},
    {"!!str makes a number text", P "training:\n  epochs: !!str 3\n",
     "epochs must be a positive integer, got '3' (tagged as text)", "5:11", NULL, NULL},
    {"so does the non-specific tag", P "training:\n  learning_rate: ! 0.1\n",
     "learning_rate must be a positive number, got '0.1' (tagged as text)", "5:18", NULL,
     NULL},
    {"!!int on a fraction", P "training:\n  epochs: !!int 3.5\n",
     "'3.5' is tagged !!int but is not an integer", "5:11", NULL, NULL},
    {"!!null on a value", P "training:\n  epochs: !!null 3\n",
     "'3' is tagged !!null but is not empty", "5:11", NULL, NULL},
    {"!!binary", P "seeds: !!binary aGVsbG8=\n",
     "unsupported YAML tag '!!binary' on a value", "4:8", NULL, NULL},
    {"a local tag", P "model: !custom {hidden: [4]}\n",
     "unsupported YAML tag '!custom' on a mapping", "4:8", NULL, NULL},
    {"!!set", P "relevance:\n  topk: !!set {1: ~}\n",
     "unsupported YAML tag '!!set' on a mapping", "5:9", NULL, NULL},
    {"!!map on a list", P "seeds: !!map [1, 2]\n",
     "unsupported YAML tag '!!map' on a list", "4:8", NULL, NULL},
    {"!! redefined by a directive", "%TAG !! tag:example.com,2000:\n---\nname: !!str t\n"
     "datasets:\n  g: {kind: gaussian}\n",
     "unsupported YAML tag 'tag:example.com,2000:str' on a value", "3:7", NULL, NULL},

    /* sizes: the grid, generators and the model against SS_MAX_RUNS and the memory rule */
    {"a grid of 10 million runs", P "seeds: 1000000\nsweep:\n"
     "  epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n",
     "the sweep has 10000000 runs (1 dataset x 10 sweep points x 1000000 seeds), more than "
     "the 1000000 a sweep may have", "4:8", NULL, NULL},
    {"a grid made large by an axis", P "seeds: 20\nsweep:\n"
     "  learning_rate: {logspace: [-30, 30, 100000]}\n",
     "the sweep has 2000000 runs (1 dataset x 100000 sweep points x 20 seeds)", "6:3", NULL,
     NULL},
    {"a generator beyond any memory",
     "name: t\ndatasets:\n  g: {kind: gaussian, features: 1000, samples: 1000000000}\n",
     "dataset 'g': 1000000000 samples x 1000 features would need 3.6 TiB as float32, more "
     "than this machine's memory", "3:48", NULL, NULL},
    {"a generator beyond memory by its features",
     "name: t\ndatasets:\n  s:\n    kind: spectra\n    features: 2000000000\n"
     "    metal_lines: 1\n", "dataset 's': 2000 samples x 2000000000 features would need",
     "5:15", NULL, NULL},
    {"correlated noise beyond memory",
     "name: t\ndatasets:\n  c: {kind: correlated, noise_features: 2000000000}\n",
     "dataset 'c': 60000 samples x 2000000008 features", "3:41", NULL, NULL},
    {"hidden layers beyond memory", P "model:\n  hidden: [1000000, 1000000]\n",
     "hidden layers of these sizes need 14.6 TiB for their weights", "5:11", NULL, NULL},
    {"hidden layers beyond memory on an axis", P "sweep:\n"
     "  model.hidden: [[5], [1000000, 1000000]]\n",
     "hidden layers of these sizes need 14.6 TiB for their weights (with gradients and Adam "
     "state, as float32), more than this machine's memory", "5:23", NULL, NULL},

    /* training values */
    {"epochs 0", P "training:\n  epochs: 0\n", "epochs must be a positive integer, got 0",
     "5:11", NULL, NULL},
    {"epochs not integral", P "training:\n  epochs: 10.5\n",
     "epochs must be a positive integer, got 10.5", "5:11", NULL, NULL},
    {"epochs as text", P "training:\n  epochs: many\n",
     "epochs must be a positive integer, got 'many'", "5:11", NULL, NULL},
    {"epochs quoted", P "training:\n  epochs: \"100\"\n", "(quoted, so text)", "5:11", NULL,
     NULL},
    {"epochs as a list", P "training:\n  epochs: [1]\n",
     "epochs must be a positive integer, got a list", "5:11", NULL, NULL},
    {"batch_size 0", P "training:\n  batch_size: 0\n",
     "batch_size must be a positive integer, got 0", "5:15", NULL, NULL},
    {"learning_rate 0", P "training:\n  learning_rate: 0\n",
     "learning_rate must be a positive number, got 0", "5:18", NULL, NULL},
    {"learning_rate infinite", P "training:\n  learning_rate: 1e999\n",
     "learning_rate must be a positive number, got 1e999 (out of range)", "5:18", NULL, NULL},
    {"negative regularization", P "training:\n  reg_eigenvalues: -0.1\n",
     "reg_eigenvalues must be a non-negative number, got -0.1", "5:20", NULL, NULL},
    {"validation_fraction 1", P "training:\n  validation_fraction: 1\n",
     "validation_fraction must be a number in [0, 1), got 1", "5:24", NULL, NULL},
    {"adam_beta2 1", P "training:\n  adam_beta2: 1.0\n",
     "adam_beta2 must be a number in [0, 1)", "5:15", NULL, NULL},
    {"boolean wrong", P "training:\n  train_eigenvectors: maybe\n",
     "train_eigenvectors must be true or false, got 'maybe'", "5:23", NULL, NULL},
    {"optimizer other than adam", P "training:\n  optimizer: sgd\n",
     "optimizer must be one of adam, adamax, got 'sgd'", "5:14", NULL, NULL},

    /* model */
    {"dropout 1", P "model:\n  dropout_after_first: 1.0\n",
     "dropout_after_first must be a number in [0, 1), got 1.0", "5:24", NULL, NULL},
    {"activation count", P "model:\n  hidden: [10, 10]\n  activations: [tanh, relu, relu]\n",
     "activations lists 3 activations but hidden has 2 layers", "6:16", NULL, NULL},
    {"activation count against the default hidden", P "model:\n  activations: [tanh, relu]\n",
     "activations lists 2 activations but hidden has 3 layers", "5:16", NULL, NULL},
    {"unknown activation", P "model:\n  activations: [tanh, relux, relu]\n",
     "an activation must be one of tanh, relu, sigmoid, linear, got 'relux'", "5:23", NULL,
     NULL},
    {"unknown spectral", P "model:\n  spectral: some\n",
     "spectral must be one of all, first, none, got 'some'", "5:13", NULL, NULL},
    {"hidden size 0", P "model:\n  hidden: [100, 0]\n",
     "hidden layer size must be a positive integer, got 0", "5:17", NULL, NULL},
    {"hidden not a list", P "model:\n  hidden: 100\n", "hidden must be a list of layer sizes",
     "5:11", NULL, NULL},
    {"too many layers", P "model:\n  hidden: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n",
     "hidden lists 17 layers; at most 16", "5:11", NULL, NULL},


    /* the spectral-domain study's settings */
    {"adamax_beta1 1", P "training:\n  optimizer: adamax\n  adamax_beta1: 1.0\n",
     "adamax_beta1 must be a number in [0, 1), got 1.0", "6:17", NULL, NULL},
    {"adamax_beta2 negative", P "training:\n  adamax_beta2: -0.5\n",
     "adamax_beta2 must be a number in [0, 1), got -0.5", "5:17", NULL, NULL},
    {"adamax_epsilon 0", P "training:\n  optimizer: adamax\n  adamax_epsilon: 0\n",
     "adamax_epsilon must be a positive number, got 0", "6:19", NULL, NULL},
    {"adamax option out of range in a bundle", P "sweep:\n  opt:\n"
     "    fast: {optimizer: adamax, adamax_beta2: 1}\n",
     "adamax_beta2 must be a number in [0, 1), got 1", "6:45", NULL, NULL},
    {"logspace over the optimizer", P "sweep:\n  optimizer: {logspace: [0, 1, 2]}\n",
     "sweep axis optimizer is a name; logspace does not apply", "5:25", NULL, NULL},
    {"a subset regime on a spectral model", P "model:\n  trainable_weights: match_eigenvalues\n",
     "trainable_weights: match_eigenvalues trains a random subset of a dense network's "
     "weights, but the model is spectral (spectral: all)", "5:22", NULL, NULL},
    {"a subset regime on a spectral model, in a bundle", P "model:\n  spectral: first\n"
     "sweep:\n  regime:\n    direct: {model.spectral: none}\n"
     "    subset: {model.trainable_weights: match_eigenvalues}\n",
     "but the model is spectral (spectral: first (line 5)); use spectral: none (at the sweep "
     "point regime=subset)", "9:39", NULL, NULL},
    {"retraction across a non-linear layer", P "model:\n  hidden: [10, 5]\n"
     "  activations: [linear, relu]\n  retract: all\n",
     "retract: all multiplies the whole network out into one layer, but hidden layer 2 is "
     "non-linear (relu; activations linear-relu (line 6))", "7:12", NULL, NULL},
    {"retraction across a non-linear layer of an axis point", P "model:\n  hidden: [10]\n"
     "  retract: all\nsweep:\n  model.activations: [linear, relu]\n",
     "hidden layer 1 is non-linear (relu; activations relu (line 8)): retraction across a "
     "non-linear layer is not possible (retract: linear merges only the chains of linear "
     "layers) (at the sweep point model.activations=relu)", "6:12", NULL, NULL},
    {"retraction across the batch-norm", P "model:\n  hidden: [10]\n  activations: linear\n"
     "  batchnorm_after_first: true\n  retract: linear\n",
     "retract: linear cannot multiply layers out across the batch-norm", "8:12", NULL, NULL},
    {"a bundle key that is also a plain axis", P "sweep:\n  model.hidden: [[5], [6]]\n"
     "  regime:\n    a: {model.spectral: none}\n    b: {model.hidden: [7]}\n",
     "model.hidden is set by the bundle axis regime and by the sweep axis model.hidden "
     "(line 5): ambiguous, set it in one place", "8:9", NULL, NULL},
    {"a bundle training key that is also a plain axis", P "sweep:\n  regime:\n"
     "    a: {train_eigenvectors: false}\n  train_eigenvectors: [true, false]\n",
     "train_eigenvectors is set by the bundle axis regime and by the sweep axis "
     "train_eigenvectors (line 7)", "6:9", NULL, NULL},
    {"two bundles set one key", P "sweep:\n  regime:\n    a: {model.spectral: none}\n"
     "  family:\n    b: {model.spectral: all}\n",
     "model.spectral is set by the bundle axis family and by the bundle axis regime (line 5)",
     "8:9", NULL, NULL},
    {"a dataset override of a bundled key", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    training: {train_eigenvectors: true}\nsweep:\n  regime:\n"
     "    a: {train_eigenvectors: false}\n",
     "datasets.g.training sets train_eigenvectors, which the bundle axis regime sets (line "
     "8): ambiguous, remove one of them", "5:16", NULL, NULL},
    {"a bundle axis named like a results attribute", P "sweep:\n  seed:\n    a: {}\n",
     "a bundle axis may not be named 'seed'", "5:3", NULL, NULL},
    {"a bundle axis named like a section", P "sweep:\n  init:\n    a: {}\n",
     "a bundle axis may not be named 'init'", "5:3", NULL, NULL},
    {"an unknown key in a bundle", P "sweep:\n  regime:\n    a: {modl.hidden: [5]}\n",
     "unknown key 'modl.hidden' in bundle 'a' of sweep axis regime (known: learning_rate",
     "6:9", NULL, NULL},
    {"a bundle that is not a mapping", P "sweep:\n  regime:\n    a: 5\n",
     "bundle 'a' of sweep axis regime must be a mapping of keys, got 5", "6:8", NULL, NULL},
    {"a bad bundle name", P "sweep:\n  regime:\n    a b: {}\n",
     "a bundle name 'a b' may contain only letters", "6:5", NULL, NULL},
    {"a model axis with a repeated value", P "sweep:\n  model.hidden: [[5], [5]]\n",
     "sweep axis model.hidden repeats the value 5", "5:23", NULL, NULL},
    {"a model axis of layer sizes, not lists", P "sweep:\n  model.hidden: [5, 6]\n",
     "hidden must be a list of layer sizes such as [100, 100, 50] ([] for no hidden layer), "
     "got 5", "5:18", NULL, NULL},
    {"a model axis that is not a list", P "sweep:\n  model.spectral: none\n",
     "sweep axis model.spectral must be a non-empty list of values", "5:19", NULL, NULL},
    {"activations for other depths than an axis of hidden", P "model:\n"
     "  activations: [tanh, relu]\nsweep:\n  model.hidden: [[4, 3], [4]]\n",
     "activations lists 2 activations but hidden has 1 layer (line 7) (give one per layer, "
     "or one name for all layers) (at the sweep point model.hidden=4)", "5:16", NULL, NULL},
    {"batch-norm without a hidden layer", P "model:\n  hidden: []\n"
     "  batchnorm_after_first: true\n",
     "batch-norm after the first layer needs a hidden layer, but hidden is [] (line 5)",
     "6:26", NULL, NULL},
    {"init.eigenvectors neither glorot nor a number", P "init:\n  eigenvectors: xavier\n",
     "eigenvectors must be glorot or a positive number a (uniform in [-a, a]), got 'xavier'",
     "5:17", NULL, NULL},
    {"init range upside down", P "init:\n  lambda_out: [0.01, -0.01]\n",
     "lambda_out: the range [0.01, -0.01] has lo above hi", "5:15", NULL, NULL},
    {"an unknown init key", P "init:\n  eigenvector: 0.5\n",
     "unknown key 'eigenvector' in init (known: eigenvectors, weights, lambda_in, "
     "lambda_out); did you mean 'eigenvectors'?", "5:3", NULL, NULL},
    {"unknown retraction", P "model:\n  retract: some\n",
     "retract must be one of none, linear, all, got 'some'", "5:12", NULL, NULL},

    /* datasets */
    {"unknown kind", "name: t\ndatasets:\n  g: {kind: gauss}\n",
     "kind must be one of gaussian, correlated, csv, idx, hdf5, spectra, got 'gauss'",
     "3:13", NULL, NULL},
    {"missing kind", "name: t\ndatasets:\n  g: {features: 3}\n",
     "missing required key 'kind' in dataset 'g'", "3:3", NULL, NULL},
    {"dataset without a spec", "name: t\ndatasets:\n  g:\n",
     "dataset 'g' must be a mapping with at least 'kind'", "3:5", NULL, NULL},
    {"bad dataset name", "name: t\ndatasets:\n  my data: {kind: gaussian}\n",
     "a dataset name 'my data' may contain only letters, digits, '_', '.' and '-'", "3:3",
     NULL, NULL},
    {"dataset name too long",
     "name: t\ndatasets:\n"
     "  a234567890123456789012345678901234567890123456789012345678901234: {kind: gaussian}\n",
     "is too long (at most 63 characters)", "3:3", NULL, NULL},
    {"key of another kind", "name: t\ndatasets:\n  g:\n    kind: gaussian\n    path: x.csv\n",
     "unknown key 'path' for kind gaussian in dataset 'g' (known: kind, training, features",
     "5:5", NULL, NULL},
    {"unknown dataset key", "name: t\ndatasets:\n  g: {kind: gaussian, sigmaa: 1}\n",
     "did you mean 'sigma'?", "3:23", NULL, NULL},
    {"idx without its files", "name: t\ndatasets:\n  m:\n    kind: idx\n"
     "    train_images: a.gz\n",
     "missing required key 'train_labels' in dataset 'm' (kind idx needs", "3:3", NULL, NULL},
    {"csv without path", "name: t\ndatasets:\n  c: {kind: csv, label: y}\n",
     "missing required key 'path' in dataset 'c'", "3:3", NULL, NULL},
    {"hdf5 without path", "name: t\ndatasets:\n  pre:\n    kind: hdf5\n",
     "missing required key 'path' in dataset 'pre'", "3:3", NULL, NULL},
    {"test_fraction 0", "name: t\ndatasets:\n  g:\n    kind: gaussian\n    test_fraction: 0\n",
     "test_fraction must be a number in (0, 1)", "5:20", NULL, NULL},
    {"test_fraction 1", "name: t\ndatasets:\n  g: {kind: gaussian, test_fraction: 1}\n",
     "test_fraction must be a number in (0, 1)", "3:38", NULL, NULL},
    {"relevant > features", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    features: 5\n    relevant: 6\n", "relevant (6) cannot exceed features (5)", "6:15",
     NULL, NULL},
    {"relevant > smaller features", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    features: 5\n", "relevant (11) cannot exceed features (5)", "5:15", NULL, NULL},
    {"data_seed beyond 64 bits", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    data_seed: 18446744073709551616\n",
     "data_seed is too large (at most 9223372036854775807)", "5:16", NULL, NULL},
    {"features beyond int", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    features: 3000000000\n", "features is too large (at most 2147483647)", "5:15",
     NULL, NULL},
    {"max_shift is not a key of correlated", "name: t\ndatasets:\n  c:\n    kind: correlated\n"
     "    max_shift: 1.4\n", "unknown key 'max_shift' for kind correlated in dataset 'c'",
     "5:5", NULL, NULL},
    {"gaussian key for spectra", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    relevant: 3\n", "unknown key 'relevant' for kind spectra in dataset 's' (known: "
     "kind, training, features, samples, sigma, metal_lines, nuisance_lines", "5:5", NULL, NULL},
    {"spectra key for gaussian", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    metal_lines: 3\n", "unknown key 'metal_lines' for kind gaussian", "5:5", NULL, NULL},
    {"standardize is not a boolean", "name: t\ndatasets:\n  g: {kind: gaussian, "
     "standardize: 3}\n", "standardize must be true or false, got 3", "3:36", NULL, NULL},
    {"standardize as text", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    standardize: \"yes\"\n", "standardize must be true or false", "5:18", NULL, NULL},
    {"input_shape of one number", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    input_shape: 20\n", "input_shape must be a list of two positive integers [rows, "
     "cols], got 20", "5:18", NULL, NULL},
    {"input_shape of three", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    input_shape: [2, 2, 5]\n", "input_shape must be a list of two positive integers",
     "5:18", NULL, NULL},
    {"input_shape with a zero", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    input_shape: [4, 0]\n", "input_shape's cols must be a positive integer, got 0",
     "5:22", NULL, NULL},
    {"input_shape beyond int", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    input_shape: [65536, 65536]\n", "input_shape [65536, 65536] has more inputs than "
     "a dataset may have", "5:18", NULL, NULL},
    {"spectra with 9 wavelengths", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    features: 9\n", "features must be at least 10 for kind spectra", "5:15", NULL, NULL},
    {"spectra: default lines need more wavelengths", "name: t\ndatasets:\n  s:\n"
     "    kind: spectra\n    features: 399\n",
     "dataset 's' has 40 absorption lines (metal_lines 20 + nuisance_lines 20), but 399 "
     "features allow at most 39 (10 wavelengths per line)", "5:15", NULL, NULL},
    {"spectra: too many metal lines", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    features: 100\n    nuisance_lines: 5\n    metal_lines: 6\n",
     "11 absorption lines (metal_lines 6 + nuisance_lines 5), but 100 features allow at "
     "most 10", "7:18", NULL, NULL},
    {"spectra: too many nuisance lines", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    nuisance_lines: 500\n", "520 absorption lines", "5:21", NULL, NULL},
    {"spectra without metal lines", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    metal_lines: 0\n", "metal_lines must be a positive integer, got 0", "5:18", NULL,
     NULL},
    {"spectra: negative nuisance lines", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    nuisance_lines: -1\n", "nuisance_lines must be a non-negative integer, got -1",
     "5:21", NULL, NULL},
    {"spectra: metal_min above the default metal_max", "name: t\ndatasets:\n  s:\n"
     "    kind: spectra\n    metal_min: 1\n",
     "metal_min (1) must be below metal_max (0.5) in dataset 's'", "5:16", NULL, NULL},
    {"spectra: metal_max at metal_min", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    metal_max: -1\n    metal_min: -1\n", "metal_min (-1) must be below metal_max (-1)",
     "5:16", NULL, NULL},
    {"spectra: wavelength 0", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    wave_min: 0\n", "wave_min must be a positive number, got 0", "5:15", NULL, NULL},
    {"spectra: wave_max below wave_min", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    wave_max: 3000\n", "wave_min (3540) must be below wave_max (3000)", "5:15", NULL,
     NULL},
    {"spectra: metal_min as text", "name: t\ndatasets:\n  s:\n    kind: spectra\n"
     "    metal_min: low\n", "metal_min must be a number, got 'low'", "5:16", NULL, NULL},
    {"negative sigma", "name: t\ndatasets:\n  g: {kind: gaussian, sigma: -1}\n",
     "sigma must be a positive number, got -1", "3:30", NULL, NULL},
    {"pair probability above 1", "name: t\ndatasets:\n  c:\n    kind: correlated\n"
     "    pair_probabilities: [0.7, 1.2]\n", "a pair probability must be a number in [0, 1], "
     "got 1.2", "5:31", NULL, NULL},
    {"empty pair list", "name: t\ndatasets:\n  c: {kind: correlated, pair_probabilities: []}\n",
     "pair_probabilities must list 1 to 64 probabilities, got an empty list", "3:45", NULL, NULL},
    {"duplicated class", "name: t\ndatasets:\n  c:\n    kind: csv\n    path: a.csv\n"
     "    classes: [0, 1, 1]\n", "duplicate class 1 in classes (first at line 6, column 18)",
     "6:21", NULL, NULL},
    {"negative class", "name: t\ndatasets:\n  c:\n    kind: csv\n    path: a.csv\n"
     "    classes: [0, -1]\n", "class must be a non-negative integer, got -1", "6:18", NULL,
     NULL},
    {"one class", "name: t\ndatasets:\n  c:\n    kind: csv\n    path: a.csv\n"
     "    classes: [3]\n", "classes must list 2 to 256 entries, got 1", "6:14", NULL, NULL},
    {"classes of a regression", "name: t\ndatasets:\n  c:\n    kind: csv\n    path: a.csv\n"
     "    classes: [0, 1]\n    task: regression\n",
     "classes selects classes, but dataset 'c' has task regression", "6:14", NULL, NULL},
    {"unknown task", "name: t\ndatasets:\n  c:\n    kind: csv\n    path: a.csv\n"
     "    task: classify\n", "task must be one of classification, regression, got 'classify'",
     "6:11", NULL, NULL},
    {"negative max_train", "name: t\ndatasets:\n  c: {kind: idx, train_images: a, "
     "train_labels: b, test_images: c, test_labels: d, max_train: -5}\n",
     "max_train must be a non-negative integer, got -5", "3:95", NULL, NULL},
    {"empty path", "name: t\ndatasets:\n  c: {kind: csv, path: ''}\n",
     "path must be a non-empty text value", "3:24", NULL, NULL},
    {"dataset override invalid", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    training:\n      validation_fraction: -0.5\n",
     "validation_fraction must be a number in [0, 1), got -0.5", "6:28", NULL, NULL},
    {"dataset override unknown key", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    training: {epoch: 3}\n", "unknown key 'epoch' in datasets.g.training", "5:16", NULL,
     NULL},
    {"override also a sweep axis", "name: t\ndatasets:\n  g:\n    kind: gaussian\n"
     "    training: {epochs: 10}\nsweep:\n  epochs: [1, 2]\n",
     "datasets.g.training sets epochs, which is also a sweep axis (line 7): ambiguous",
     "5:16", NULL, NULL},

    /* seeds, relevance, parallel */
    {"seeds 0", P "seeds: 0\n", "seeds must be a positive integer N (seeds 0..N-1)", "4:8",
     NULL, NULL},
    {"seeds as text", P "seeds: ten\n", "got 'ten'", "4:8", NULL, NULL},
    {"negative seed", P "seeds: [1, -2]\n", "a seed must be a non-negative integer, got -2",
     "4:12", NULL, NULL},
    {"duplicated seed", P "seeds: [1, 2, 1]\n",
     "duplicate seed 1 (first at line 4, column 9)", "4:15", NULL, NULL},
    {"empty seed list", P "seeds: []\n", "non-empty list of seeds", "4:8", NULL, NULL},
    {"topk 0", P "relevance:\n  topk: [0, 1]\n",
     "topk entry must be a positive integer, got 0", "5:10", NULL, NULL},
    {"duplicated topk", P "relevance:\n  topk: [1, 5, 5]\n",
     "duplicate topk entry 5 in topk (first at line 5, column 13)", "5:16", NULL, NULL},
    {"random_repeats 0", P "relevance:\n  random_repeats: 0\n",
     "random_repeats must be a positive integer, got 0", "5:19", NULL, NULL},
    {"ranks_per_run 0", P "parallel:\n  ranks_per_run: 0\n",
     "ranks_per_run must be a positive integer, got 0", "5:18", NULL, NULL},
    {"unknown parallel key", P "parallel:\n  ranks: 2\n",
     "unknown key 'ranks' in parallel (known: ranks_per_run)", "5:3", NULL, NULL},

    /* sweep */
    {"empty sweep list", P "sweep:\n  epochs: []\n",
     "sweep axis epochs has an empty list of values", "5:11", NULL, NULL},
    {"sweep on an unknown key", P "sweep:\n  momentum: [0.9]\n",
     "unknown key 'momentum' in sweep", "5:3", NULL, NULL},
    {"sweep on a model key without its section", P "sweep:\n  dropout_after_first: [0.1]\n",
     "unknown key 'dropout_after_first' in sweep: model keys are named with their section, "
     "did you mean 'model.dropout_after_first'?", "5:3", NULL, NULL},
    {"sweep on an unknown key, the known axes listed", P "sweep:\n  epoch: [1]\n",
     "unknown key 'epoch' in sweep: an axis is a training key, a model key or a bundle (a "
     "mapping of names to settings) (known: learning_rate, ", "5:3", NULL, NULL},
    {"non-integer value on an integer axis", P "sweep:\n  epochs: [100, 150.5]\n",
     "epochs must be a positive integer, got 150.5", "5:17", NULL, NULL},
    {"invalid value on an axis", P "sweep:\n  learning_rate: [0.1, -0.1]\n",
     "learning_rate must be a positive number, got -0.1", "5:24", NULL, NULL},
    {"repeated axis value", P "sweep:\n  batch_size: [10, 20, 10]\n",
     "sweep axis batch_size repeats the value 10", "5:24", NULL, NULL},
    {"values equal in 6 digits", P "sweep:\n  learning_rate: [0.1234561, 0.1234562]\n",
     "repeats the value 0.123456", "5:30", NULL, NULL},
    {"axis of a scalar", P "sweep:\n  epochs: 100\n",
     "sweep axis epochs must be a list of values or {logspace: [from_exp, to_exp, count]}, "
     "got 100", "5:11", NULL, NULL},
    {"logspace count 0", P "sweep:\n  reg_eigenvalues: {logspace: [-5, -1, 0]}\n",
     "logspace count must be a positive integer, got 0", "5:40", NULL, NULL},
    {"logspace count not integral", P "sweep:\n  reg_eigenvalues: {logspace: [-5, -1, 2.5]}\n",
     "logspace count must be a positive integer, got 2.5", "5:40", NULL, NULL},
    {"logspace of two numbers", P "sweep:\n  reg_eigenvalues: {logspace: [-5, -1]}\n",
     "logspace must be [from_exp, to_exp, count], got a list of 2 values", "5:31", NULL, NULL},
    {"logspace typo", P "sweep:\n  reg_eigenvalues: {logspce: [-5, -1, 3]}\n",
     "unknown key 'logspce' in sweep.reg_eigenvalues (known: logspace)", "5:21", NULL, NULL},
    {"logspace not integral on epochs", P "sweep:\n  epochs: {logspace: [1, 2, 3]}\n",
     "sweep axis epochs: logspace gives 31.6228, not an integer", "5:22", NULL, NULL},
    {"logspace out of range", P "sweep:\n  validation_fraction: {logspace: [-2, 0, 3]}\n",
     "logspace gives 1, but validation_fraction must be a number in [0, 1)", "5:35", NULL,
     NULL},
    {"logspace on a boolean", P "sweep:\n  train_eigenvectors: {logspace: [0, 1, 2]}\n",
     "logspace does not apply", "5:34", NULL, NULL},
    {"too many axes", P "sweep:\n  learning_rate: [0.1]\n  batch_size: [1]\n  epochs: [1]\n"
     "  validation_fraction: [0]\n  reg_eigenvalues: [0]\n  reg_eigenvectors: [0]\n"
     "  adam_beta1: [0.9]\n  adam_beta2: [0.99]\n  adam_epsilon: [1e-8]\n",
     "too many sweep axes: at most 8", "13:3", NULL, NULL},
    {"ids too long",
     "name: t\ndatasets:\n"
     "  a23456789012345678901234567890123456789012345678901234567890123: {kind: gaussian}\n"
     "sweep:\n  learning_rate: [1.23456e-05]\n  reg_eigenvalues: [1.23456e-05]\n"
     "  reg_eigenvectors: [1.23456e-05]\n  validation_fraction: [0.123456]\n",
     "cell ids up to 179, at most 159", "3:3", NULL, NULL},
};

static void run_case(const config_case_t *c)
{
    const char *path = c->path ? c->path : "sweep.yaml";
    ss_sweep_t sw;
    ss_error_t err = {0};
    int rc = ss_sweep_parse(path, c->yaml, &sw, &err);
    if (!c->error) {
        CHECK(rc == 0 && err.code == 0, "[%s] should parse: %s", c->title, err.msg);
        if (rc == 0 && c->check)
            c->check(&sw);
        ss_sweep_free(&sw);
        return;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s:%s: ", path, c->pos);
    CHECK(rc == -1, "[%s] should fail", c->title);
    CHECK(err.code == SS_EXIT_INPUT, "[%s] code %d", c->title, err.code);
    CHECK(!strncmp(err.msg, prefix, strlen(prefix)), "[%s] expected prefix '%s', got: %s",
          c->title, prefix, err.msg);
    CHECK(strstr(err.msg, c->error) != NULL, "[%s] expected '%s' in: %s", c->title, c->error,
          err.msg);
    CHECK(!sw.path && !sw.datasets && !sw.seeds && !sw.topk && !sw.axes[0].values,
          "[%s] sweep not emptied after the failure", c->title);
    if (getenv("SS_TEST_VERBOSE"))
        printf("%-45s %s\n", c->title, err.msg);
    ss_sweep_free(&sw);
}

/* Lists longer than the SS_MAX_* limits, built here rather than typed out. */
static void test_limits(void)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "name: t\ndatasets:\n  c:\n    kind: idx\n    classes: [");
    for (int i = 0; i <= SS_MAX_CLASSES; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? "," : "", i);
    snprintf(text + n, sizeof text - n, "]\n");
    ss_sweep_t sw;
    ss_error_t err = {0};
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "sweep.yaml:5:14: classes must list 2 to 256 entries, got 257"),
          "classes limit: %s", err.msg);

    n = (size_t)snprintf(text, sizeof text,
                         "name: t\ndatasets:\n  c:\n    kind: correlated\n"
                         "    pair_probabilities: [");
    for (int i = 0; i <= SS_MAX_PAIRS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s0.5", i ? "," : "");
    snprintf(text + n, sizeof text - n, "]\n");
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "sweep.yaml:5:25: pair_probabilities must list 1 to 64"),
          "pairs limit: %s", err.msg);

    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", P "seeds: 1000001\n", &sw, &err) == -1 &&
          strstr(err.msg, "sweep.yaml:4:8: seeds: 1000001 seeds is more than"),
          "seed count limit: %s", err.msg);
}

/* A text of the P sweep followed by `extra` repeated until the text is n bytes long
   (cut to fit), in a malloc'd buffer. */
static char *padded(size_t n, const char *extra)
{
    char *t = malloc(n + 1);
    size_t len = strlen(P), e = strlen(extra);
    memcpy(t, P, len);
    while (len < n) {
        size_t k = n - len < e ? n - len : e;
        memcpy(t + len, extra, k);
        len += k;
    }
    t[n] = '\0';
    return t;
}

/* The sweep file's own limits: size, NUL bytes, nesting, and lists that are long but
   within the limits, which must cost time linear (or n log n) in their length. */
static void test_hostile_text(void)
{
    ss_sweep_t sw;
    ss_error_t err = {0};

    /* a NUL byte is an error where it is, not the end of the file */
    static const char nul[] = "name: t\n\0datasets:\n  g: {kind: gaussian}\n";
    CHECK(ss_sweep_parse_bytes("sweep.yaml", nul, sizeof nul - 1, &sw, &err) == -1 &&
          err.code == SS_EXIT_INPUT &&
          !strcmp(err.msg, "sweep.yaml:2:1: a NUL byte: a sweep file must be text"),
          "NUL byte: %s", err.msg);
    static const char nul2[] = "name: t\ndatasets:\n  g: {kind: gau\0ssian}\n";
    ss_error_clear(&err);
    CHECK(ss_sweep_parse_bytes("sweep.yaml", nul2, sizeof nul2 - 1, &sw, &err) == -1 &&
          !strncmp(err.msg, "sweep.yaml:3:16: a NUL byte", 27), "NUL in a value: %s", err.msg);

    /* 1 MiB is the most: exactly that parses, one byte more is refused before parsing */
    char *text = padded(SS_SWEEP_MAX_BYTES, "# a comment\n");
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == 0, "1 MiB sweep: %s", err.msg);
    ss_sweep_free(&sw);
    free(text);
    text = padded(SS_SWEEP_MAX_BYTES + 1, "# a comment\n");
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 && err.code == SS_EXIT_INPUT &&
          strstr(err.msg, "sweep.yaml: the sweep file is 1048577 bytes, more than the 1048576"),
          "1 MiB + 1: %s", err.msg);
    const char *big = ss_test_write_file("big.yaml", text, strlen(text));
    ss_error_clear(&err);
    CHECK(ss_sweep_load(big, &sw, &err) == -1 && err.code == SS_EXIT_INPUT &&
          strstr(err.msg, "big.yaml: the sweep file is larger than 1048576 bytes"),
          "file over 1 MiB: %s", err.msg);
    free(text);
    double t0 = ss_now();
    ss_error_clear(&err);
    CHECK(ss_sweep_load("/dev/zero", &sw, &err) == -1 && err.code == SS_EXIT_INPUT &&
          strstr(err.msg, "/dev/zero: the sweep file is larger than"), "/dev/zero: %s",
          err.msg);
    CHECK(ss_now() - t0 < 10.0, "/dev/zero refused in %.1f s", ss_now() - t0);

    /* nesting: 64 levels are allowed, the 65th is refused where it opens */
    char deep[512];
    for (int levels = 62; levels <= 63; levels++) {
        int n = snprintf(deep, sizeof deep, P "relevance:\n  topk: ");
        for (int i = 0; i < levels; i++)
            deep[n++] = '[';
        for (int i = 0; i < levels; i++)
            deep[n++] = ']';
        snprintf(deep + n, sizeof deep - (size_t)n, "\n");
        ss_error_clear(&err);
        CHECK(ss_sweep_parse("sweep.yaml", deep, &sw, &err) == -1, "nesting fails");
        if (levels == 62)
            CHECK(strstr(err.msg, "sweep.yaml:5:10: topk entry must be a positive integer"),
                  "64 levels are read: %s", err.msg);
        else
            CHECK(!strcmp(err.msg, "sweep.yaml:5:71: nested deeper than 64 levels of mappings "
                          "and lists, the most a sweep file may have"), "65 levels: %s",
                  err.msg);
    }
    /* 200 KB of brackets took libyaml about a minute to build into a document; the
       bounds below leave room for sanitizers and a loaded machine */
    text = padded(200000, "[");
    memcpy(text + strlen(P), "x: ", 3);
    t0 = ss_now();
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "sweep.yaml:4:67: nested deeper than 64 levels"), "brackets: %s",
          err.msg);
    CHECK(ss_now() - t0 < 5.0, "200 KB of brackets refused in %.2f s", ss_now() - t0);
    free(text);
    text = padded(200000, "- ");
    memcpy(text + strlen(P), "x:\n  ", 5);
    t0 = ss_now();
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "nested deeper than 64 levels"), "block nesting: %s", err.msg);
    CHECK(ss_now() - t0 < 5.0, "200 KB of block nesting refused in %.2f s", ss_now() - t0);
    free(text);

    /* long lists within the limits: their duplicate checks used to be quadratic (an axis
       of 50000 values took minutes) */
    enum { N = 50000 };
    text = malloc(16 * (size_t)N + 256);
    for (int what = 0; what < 3; what++) {
        t0 = ss_now();
        static const char *const head[] = {"relevance:\n  topk: [", "seeds: [",
                                           "seeds: 1\nsweep:\n  learning_rate: ["};
        size_t n = (size_t)sprintf(text, P "%s", head[what]);
        for (int i = 1; i <= N; i++)
            n += (size_t)sprintf(text + n, "%s%d", i > 1 ? ", " : "", i);
        sprintf(text + n, "]\n");
        ss_error_clear(&err);
        CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == 0, "long list %d: %s", what,
              err.msg);
        CHECK(what != 2 || (sw.n_axes == 1 && sw.axes[0].n == N), "axis of %d values", N);
        ss_sweep_free(&sw);
        CHECK(ss_now() - t0 < 20.0, "list %d of %d entries parsed in %.1f s", what, N,
              ss_now() - t0);
    }
    /* their repeats are still found, the first one in file order */
    size_t n = (size_t)sprintf(text, P "seeds: 1\nsweep:\n  learning_rate: [");
    for (int i = 1; i <= N; i++)
        n += (size_t)sprintf(text + n, "%s%d", i > 1 ? ", " : "", i == 40000 ? 7 : i == 45000 ? 3 : i);
    sprintf(text + n, "]\n");
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "repeats the value 7 "), "long axis repeat: %s", err.msg);
    free(text);
}

/* The memory rule (util.h) at its boundary, with the limit set to 1 GiB. */
static void test_memory_rule(void)
{
    ss_memory_limit_set((size_t)1 << 30);
    /* gaussian: samples x (20 features + the label) x 4 bytes */
    char text[256];
    ss_sweep_t sw;
    ss_error_t err = {0};
    long long fit = ((long long)1 << 30) / (21 * 4);
    snprintf(text, sizeof text, "name: t\ndatasets:\n  g: {kind: gaussian, samples: %lld}\n",
             fit);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == 0, "fits 1 GiB: %s", err.msg);
    ss_sweep_free(&sw);
    snprintf(text, sizeof text, "name: t\ndatasets:\n  g: {kind: gaussian, samples: %lld}\n",
             fit + 1);
    ss_error_clear(&err);
    CHECK(ss_sweep_parse("sweep.yaml", text, &sw, &err) == -1 &&
          strstr(err.msg, "sweep.yaml:3:32: dataset 'g': 12782641 samples x 20 features would "
                 "need 1.0 GiB as float32, more than this machine's memory (1.0 GiB)"),
          "beyond 1 GiB: %s", err.msg);
    ss_memory_limit_set(0);
    CHECK(ss_memory_limit() > ((size_t)1 << 28), "the machine's limit is back: %zu",
          ss_memory_limit());
}

static void test_files(void)
{
    ss_sweep_t sw;
    ss_error_t err = {0};

    /* a missing file names its path */
    CHECK(ss_sweep_load("/nonexistent/dir/sweep.yaml", &sw, &err) == -1, "missing file fails");
    CHECK(err.code == SS_EXIT_INPUT, "missing file code %d", err.code);
    CHECK(strstr(err.msg, "/nonexistent/dir/sweep.yaml") != NULL, "path in: %s", err.msg);
    CHECK(!sw.path && !sw.datasets, "sweep empty after a missing file");

    /* a real file: relative dataset paths resolve against its directory */
    static const char text[] = "name: f\ndatasets:\n  c: {kind: csv, path: sub/d.csv}\n";
    const char *path = ss_test_write_file("sweep-f.yaml", text, sizeof text - 1);
    char expect[600];
    snprintf(expect, sizeof expect, "%s/sub/d.csv", ss_test_tmpdir());
    ss_error_clear(&err);
    int rc = ss_sweep_load(path, &sw, &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc == 0) {
        CHECK(!strcmp(sw.path, path) && !strcmp(sw.dir, ss_test_tmpdir()), "path/dir");
        CHECK(!strcmp(sw.yaml_text, text), "yaml_text is the whole file");
        CHECK(!strcmp(sw.datasets[0].path, expect), "resolved %s", sw.datasets[0].path);
    }
    ss_sweep_free(&sw);

    /* an error in a real file is reported against its path */
    static const char bad[] = "name: f\ndatasets:\n  g: {kind: gaussian, samples: 0}\n";
    path = ss_test_write_file("sweep-bad.yaml", bad, sizeof bad - 1);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:3:32: samples must be a positive integer, got 0", path);
    ss_error_clear(&err);
    CHECK(ss_sweep_load(path, &sw, &err) == -1 && !strcmp(err.msg, prefix), "got: %s",
          err.msg);
}

static void test_names(void)
{
    for (int k = 0; k < SS_KEY_COUNT; k++) {
        const char *name = ss_training_key_name((ss_training_key_t)k);
        CHECK(ss_training_key_lookup(name) == k, "lookup %s", name);
        ss_training_t t = {0};
        double v = ss_training_key_is_int((ss_training_key_t)k) ? 1.0 : 0.375;
        ss_training_set(&t, (ss_training_key_t)k, v);
        CHECK(ss_training_get(&t, (ss_training_key_t)k) == v, "get/set %s", name);
    }
    CHECK(ss_training_key_lookup("optimizer") == SS_KEY_OPTIMIZER &&
          ss_training_key_lookup("x") == -1, "lookups");
    CHECK(ss_training_key_is_int(SS_KEY_EPOCHS) && ss_training_key_is_int(SS_KEY_BATCH_SIZE) &&
          ss_training_key_is_int(SS_KEY_TRAIN_EIGENVECTORS) &&
          !ss_training_key_is_int(SS_KEY_LEARNING_RATE), "is_int");
    CHECK(!strcmp(ss_training_key_name(SS_KEY_REG_EIGENVECTORS), "reg_eigenvectors"), "name");
    CHECK(ss_training_key_is_choice(SS_KEY_OPTIMIZER) &&
          !ss_training_key_is_choice(SS_KEY_ADAMAX_BETA1), "is_choice");

    /* keys introduced after the first results files are recorded only where in use */
    ss_training_t d;
    ss_training_defaults(&d);
    CHECK(!ss_training_key_in_use(&d, SS_KEY_OPTIMIZER) &&
          !ss_training_key_in_use(&d, SS_KEY_ADAMAX_BETA1) &&
          ss_training_key_in_use(&d, SS_KEY_ADAM_EPSILON), "in use under adam");
    d.optimizer = SS_OPT_ADAMAX;
    CHECK(ss_training_key_in_use(&d, SS_KEY_OPTIMIZER) &&
          ss_training_key_in_use(&d, SS_KEY_ADAMAX_EPSILON), "in use under adamax");
    char text[64];
    CHECK(!strcmp(ss_training_key_text(&d, SS_KEY_OPTIMIZER, text, sizeof text), "adamax"),
          "optimizer text %s", text);

    /* model keys: names, lookups, copies, the texts of run ids and the stored values */
    for (int k = 0; k < SS_MKEY_COUNT; k++)
        CHECK(ss_model_key_lookup(ss_model_key_name((ss_model_key_t)k)) == k, "model key %s",
              ss_model_key_name((ss_model_key_t)k));
    CHECK(ss_model_key_lookup("hidden") == -1 && ss_model_key_lookup("model.x") == -1,
          "model key non-keys");
    ss_model_t a, b;
    ss_model_defaults(&a);
    ss_model_defaults(&b);
    b.n_hidden = 0;
    b.init.lambda_out[0] = -0.01;
    b.init.lambda_out[1] = 0.01;
    b.init.eigenvectors = 0.5;
    struct { ss_model_key_t k; const ss_model_t *m; const char *text; } texts[] = {
        {SS_MKEY_HIDDEN, &a, "100-100-50"}, {SS_MKEY_HIDDEN, &b, "none"},
        {SS_MKEY_ACTIVATIONS, &a, "tanh-relu-relu"}, {SS_MKEY_ACTIVATIONS, &b, "none"},
        {SS_MKEY_SPECTRAL, &a, "all"}, {SS_MKEY_TRAIN_LAMBDA_OUT, &a, "false"},
        {SS_MKEY_TRAINABLE_WEIGHTS, &a, "all"}, {SS_MKEY_RETRACT, &a, "none"},
        {SS_MKEY_HISTOGRAM_BINS, &a, "100"}, {SS_MKEY_INIT_EIGENVECTORS, &a, "glorot"},
        {SS_MKEY_INIT_EIGENVECTORS, &b, "0.5"}, {SS_MKEY_INIT_LAMBDA_IN, &a, "1"},
        {SS_MKEY_INIT_LAMBDA_OUT, &b, "-0.01:0.01"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ss_model_key_text(texts[i].m, texts[i].k, text, sizeof text);
        CHECK(!strcmp(text, texts[i].text), "%s reads '%s', expected '%s'",
              ss_model_key_name(texts[i].k), text, texts[i].text);
    }
    ss_value_t v;
    ss_model_key_value(&a, SS_MKEY_HIDDEN, &v);
    CHECK(v.kind == SS_VALUE_INTS && v.n == 3 && v.ints[2] == 50, "hidden value");
    ss_model_key_value(&a, SS_MKEY_ACTIVATIONS, &v);
    CHECK(v.kind == SS_VALUE_TEXT && !strcmp(v.text, "tanh,relu,relu"), "activations value");
    ss_model_key_value(&b, SS_MKEY_INIT_LAMBDA_OUT, &v);
    CHECK(v.kind == SS_VALUE_REALS && v.n == 2 && v.reals[0] == -0.01, "range value");
    ss_model_key_copy(&a, &b, SS_MKEY_HIDDEN);
    CHECK(a.n_hidden == 0 && a.init.eigenvectors == 0.0, "copy takes one key only");
    CHECK(!strcmp(ss_act_name(SS_ACT_SIGMOID), "sigmoid") &&
          !strcmp(ss_act_name(SS_ACT_LINEAR), "linear"), "act names");
    CHECK(!strcmp(ss_kind_name(SS_KIND_CORRELATED), "correlated") &&
          !strcmp(ss_kind_name(SS_KIND_SPECTRA), "spectra"), "kind names");

    /* free accepts a zeroed sweep, twice */
    ss_sweep_t sw;
    memset(&sw, 0, sizeof sw);
    ss_sweep_free(&sw);
    ss_sweep_free(&sw);
    ss_sweep_free(NULL);

    /* dataset overrides: only the keys of the mask */
    memset(&sw, 0, sizeof sw);
    sw.training.epochs = 9;
    sw.training.batch_size = 33;
    ss_dataset_spec_t ds = {0};
    ds.training.epochs = 7;
    ds.training.batch_size = 1;
    ds.training_set_mask = 1u << SS_KEY_EPOCHS;
    ss_training_t t = ss_sweep_dataset_training(&sw, &ds);
    CHECK(t.epochs == 7 && t.batch_size == 33, "dataset training %d %d", t.epochs,
          t.batch_size);
}

int main(void)
{
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++)
        run_case(&cases[i]);
    test_limits();
    test_hostile_text();
    test_memory_rule();
    test_files();
    test_names();
    printf("%d cases in the table\n", n);
    return ss_test_report();
}
