/*
 * config.h - the sweep file (its format: docs/FORMATS.md, "The sweep file"): parse and
 * validate it into an ss_sweep_t. The expansion into runs and cells is grid.h's.
 *
 * ss_sweep_load() reads the YAML with libyaml and checks it completely: unknown keys,
 * duplicate keys, wrong types, missing required fields and impossible values are errors
 * "FILE:LINE:COLUMN: message" with code SS_EXIT_INPUT. Checks that need the data (a class
 * absent from the data, top-k larger than the inputs) happen when datasets are loaded.
 * Every default is the papers' setting (docs/FORMATS.md) and is set in one place,
 * ss_sweep_defaults() in config.c.
 */
#ifndef SPECSWEEP_CONFIG_H
#define SPECSWEEP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "specsweep/attrib_settings.h"
#include "specsweep/util.h"

#define SS_MAX_LAYERS 16     /* hidden layers */
#define SS_MAX_AXES 8        /* sweep axes */
#define SS_MAX_CLASSES 256
#define SS_MAX_PAIRS 64      /* correlated kind */
#define SS_SPECTRA_MIN_FEATURES 10 /* spectra kind: the shortest wavelength grid */
#define SS_SPECTRA_LINE_PIXELS 10  /* spectra kind: wavelengths each absorption line needs */
#define SS_NAME_MAX 64
/* Room for a run id and a cell id (grid.h), the final NUL included: ss_sweep_parse rejects
   a sweep whose ids would be longer. */
#define SS_RUN_ID_SIZE 192
#define SS_CELL_ID_SIZE 160
/* What a sweep file may be: at most SS_SWEEP_MAX_BYTES long and nested at most
   SS_SWEEP_MAX_DEPTH mappings and lists deep (both refused before the file is parsed),
   and its grid at most SS_MAX_RUNS runs. Far beyond any real sweep; they keep a hostile
   or mistaken file from costing minutes of parsing or gigabytes of run descriptions. */
#define SS_SWEEP_MAX_BYTES (1 << 20)
#define SS_SWEEP_MAX_DEPTH 64
#define SS_MAX_RUNS 1000000

typedef enum { SS_ACT_TANH, SS_ACT_RELU, SS_ACT_SIGMOID, SS_ACT_LINEAR } ss_act_t;
typedef enum { SS_TASK_CLASSIFICATION, SS_TASK_REGRESSION } ss_task_t;
typedef enum { SS_SPECTRAL_ALL, SS_SPECTRAL_FIRST, SS_SPECTRAL_NONE } ss_spectral_t;
typedef enum {
    SS_KIND_GAUSSIAN, SS_KIND_CORRELATED, SS_KIND_CSV, SS_KIND_IDX, SS_KIND_HDF5,
    SS_KIND_SPECTRA
} ss_kind_t;

/*
 * The `training` section. Every field may be overridden per dataset and every numeric
 * field may be a sweep axis. The names are the YAML keys and the /runs attribute names.
 */
typedef struct {
    double learning_rate;       /* 1e-2 */
    int batch_size;             /* 500 */
    int epochs;                 /* 1000 */
    double validation_fraction; /* 0.1 of the training set, held out */
    double reg_eigenvalues;     /* 1e-2: l * sum(lambda_in^2), first layer */
    double reg_eigenvectors;    /* 1e-4: l * sum(psi^2), first layer */
    int train_eigenvectors;     /* 1; 0 = "train Lambda only" (psi frozen everywhere) */
    double adam_beta1;          /* 0.9 */
    double adam_beta2;          /* 0.999 */
    double adam_epsilon;        /* 1e-7 (Keras) */
} ss_training_t;

/* Numeric training keys, in a fixed order (the order of /runs attributes; run ids follow
   the order of the sweep axes instead). train_eigenvectors is a boolean stored as 0/1. */
typedef enum {
    SS_KEY_LEARNING_RATE, SS_KEY_BATCH_SIZE, SS_KEY_EPOCHS, SS_KEY_VALIDATION_FRACTION,
    SS_KEY_REG_EIGENVALUES, SS_KEY_REG_EIGENVECTORS, SS_KEY_TRAIN_EIGENVECTORS,
    SS_KEY_ADAM_BETA1, SS_KEY_ADAM_BETA2, SS_KEY_ADAM_EPSILON,
    SS_KEY_COUNT
} ss_training_key_t;

/* The YAML key of k, a static string ("?" when out of range). */
const char *ss_training_key_name(ss_training_key_t k);
/* 1 for the keys stored as int: batch_size, epochs, train_eigenvectors. */
int ss_training_key_is_int(ss_training_key_t k);
/* The value of key k in *t (integers and the boolean as doubles; 0 when out of range). */
double ss_training_get(const ss_training_t *t, ss_training_key_t k);
/* Set key k of *t to v. Integer keys are rounded to the nearest int (saturating);
   train_eigenvectors is set to v != 0. */
void ss_training_set(ss_training_t *t, ss_training_key_t k, double v);
/* The key whose YAML name is `name`, or -1 if it is not a numeric training key
   ("optimizer" included). */
int ss_training_key_lookup(const char *name);

typedef struct {
    int n_hidden;                    /* 3 */
    int hidden[SS_MAX_LAYERS];       /* 100, 100, 50 */
    ss_act_t act[SS_MAX_LAYERS];     /* activation after each hidden layer: tanh, relu, relu
                                        (not given: tanh after the first layer, relu after
                                        the others; one name alone applies to every layer) */
    ss_spectral_t spectral;          /* all */
    int batchnorm_after_first;       /* 0 */
    double dropout_after_first;      /* 0.0, rate in [0, 1) */
    int train_lambda_out;            /* 0: lambda_out frozen at 0 (the papers) */
} ss_model_t;

/* One entry of `datasets`. Fields not used by a kind keep their defaults. */
typedef struct {
    char name[SS_NAME_MAX];
    ss_kind_t kind;
    int line, col;                   /* position of the name in the sweep file */

    /* synthetic kinds (gaussian, correlated, spectra); defaults per kind */
    int features;                    /* gaussian: 20; spectra: 4300 wavelengths;
                                        correlated: computed, 2 * n_pairs + noise_features */
    int relevant;                    /* gaussian: 11 (the first `relevant` features) */
    int samples;                     /* gaussian, correlated: 60000; spectra: 2000 */
    double sigma;                    /* gaussian, correlated: 0.5; spectra: 0.01, the
                                        relative flux noise (signal-to-noise 1/sigma) */
    double max_shift;                /* gaussian: 1.4: class-1 means ~ U(0, max_shift) */
    int n_pairs;                     /* correlated: 4 */
    double pair_p[SS_MAX_PAIRS];     /* correlated: 0.7, 0.8, 0.4, 0.6 */
    int noise_features;              /* correlated: 2 */
    uint64_t data_seed;              /* 1: generation and train/test split */
    double test_fraction;            /* 0.2 where the data has no test set of its own */

    /* file kinds (csv, idx, hdf5); relative paths are resolved against the sweep file's
       directory at load time and stored here already resolved */
    char *path;                      /* csv, hdf5 */
    char *train_images, *train_labels, *test_images, *test_labels; /* idx */
    char label[SS_NAME_MAX];         /* csv: label column, "label" */
    ss_task_t task;                  /* csv, hdf5: classification */
    int n_class_subset;              /* idx/csv classification: 0 = all classes */
    int class_subset[SS_MAX_CLASSES];/* kept classes, relabelled 0..k-1 in this order */
    double scale;                    /* idx: pixel scale, 1/255 (pixels in [0, 1]) */
    int max_train, max_test;         /* 0 = all; otherwise the first N after filtering */

    /* spectra (synthetic stellar spectra, regression of metallicity [Fe/H]) */
    int metal_lines;                 /* 20 absorption lines whose depth follows [Fe/H] */
    int nuisance_lines;              /* 20 lines that follow temperature or gravity only */
    double metal_min, metal_max;     /* -2.5, 0.5: [Fe/H] ~ U(metal_min, metal_max) */
    double wave_min, wave_max;       /* 3540, 7410: the wavelength grid in Angstrom */

    /* `training` overrides of this dataset: the resolved values and which keys were set */
    ss_training_t training;
    unsigned training_set_mask;      /* bit k set: key k given in this dataset */
} ss_dataset_spec_t;

typedef struct {
    ss_training_key_t key;
    int n;
    double *values;                  /* n distinct values (distinct under "%.6g"): a list,
                                        or {logspace: [a, b, n]} = 10^a .. 10^b, n points
                                        evenly spaced in the exponent (n = 1: 10^a) */
} ss_axis_t;

typedef struct {
    char *path;                      /* the sweep file as given */
    char *dir;                       /* its directory, for relative dataset paths */
    char *yaml_text;                 /* full text, stored in the results file */
    char name[SS_NAME_MAX];
    char *output;                    /* default "results/<name>.h5" */

    int n_seeds;
    int64_t *seeds;                  /* 10 -> 0..9 */

    int n_datasets;
    ss_dataset_spec_t *datasets;     /* in file order */

    ss_model_t model;
    ss_training_t training;          /* global values (before dataset overrides) */

    int n_axes;
    ss_axis_t axes[SS_MAX_AXES];     /* in file order */

    int n_topk;
    int *topk;                       /* default 1 2 5 10 14 20 50 100 200 500 */
    int random_repeats;              /* 5: random-k accuracy is averaged over draws */
    unsigned methods;                /* relevance.methods: bit m set for method m
                                        (attrib_settings.h); default spectral alone, which
                                        the results file shows as eigenvalues only */
    ss_attrib_settings_t attrib;     /* relevance.<setting>: the methods' settings */
    int mean_masking;                /* relevance.masking: 0 zero (default), 1 mean: what
                                        replaces the inputs a top-k evaluation leaves out */

    int ranks_per_run;               /* 1 */
} ss_sweep_t;

/* Read and validate the sweep file at `path`. Returns 0 with *sw filled (the caller frees
   it with ss_sweep_free), or -1 with err set (SS_EXIT_INPUT for an unreadable or bad file,
   the message naming the path) and *sw zeroed. A file whose run or cell ids would not fit
   SS_RUN_ID_SIZE / SS_CELL_ID_SIZE is rejected here, and so is one that breaks the limits
   above or the memory rule (util.h): a generator whose samples x features, or a model
   whose hidden layers, could not fit this machine's memory. No more than
   SS_SWEEP_MAX_BYTES + 1 bytes are read, whatever the path names (a pipe works too). */
int ss_sweep_load(const char *path, ss_sweep_t *sw, ss_error_t *err);
/* The same from memory: `text` is the file's content, `len` bytes (it need not end in a
   NUL; a NUL inside it is an error at its line and column); `path` (NULL: "<sweep>") is
   only used in messages and as the directory of relative dataset paths. */
int ss_sweep_parse_bytes(const char *path, const char *text, size_t len, ss_sweep_t *sw,
                         ss_error_t *err);
/* ss_sweep_parse_bytes of the NUL-terminated `text`. */
int ss_sweep_parse(const char *path, const char *text, ss_sweep_t *sw, ss_error_t *err);
/* Free everything and zero *sw; accepts NULL, a zeroed or a half-built sweep. */
void ss_sweep_free(ss_sweep_t *sw);

/* The training of dataset ds's runs before the sweep point: sw->training with every key
   that ds sets (bit k of ds->training_set_mask) taken from ds->training. The one place
   where dataset overrides are applied (the parse stores the result in ds->training; the
   grid starts every run from it). */
ss_training_t ss_sweep_dataset_training(const ss_sweep_t *sw, const ss_dataset_spec_t *ds);

/* The YAML name of an activation / a dataset kind, a static string ("?" when out of
   range). */
const char *ss_act_name(ss_act_t a);
const char *ss_kind_name(ss_kind_t k);
/* The kind named `name`, or -1. */
int ss_kind_lookup(const char *name);

#endif
