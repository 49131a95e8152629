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
typedef enum { SS_OPT_ADAM, SS_OPT_ADAMAX } ss_optimizer_t;
/* Which weights of a dense layer train: all, or a random subset as large as the
   eigenvalue count of the same layer made spectral (n_in + n_out; net.h). */
typedef enum { SS_WEIGHTS_ALL, SS_WEIGHTS_MATCH_EIGENVALUES } ss_trainable_weights_t;
/* Telescopic retraction after training: none; every chain of layers joined by linear
   activations multiplied out into one layer; or the whole network into one layer (every
   hidden layer must then be linear). */
typedef enum { SS_RETRACT_NONE, SS_RETRACT_LINEAR, SS_RETRACT_ALL } ss_retract_t;
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
    ss_optimizer_t optimizer;   /* adam */
    double adamax_beta1;        /* 0.9 (Keras' AdaMax defaults) */
    double adamax_beta2;        /* 0.999 */
    double adamax_epsilon;      /* 1e-7 */
} ss_training_t;

/* Training keys, in a fixed order (the order of /runs attributes; run ids follow the order
   of the sweep axes instead). train_eigenvectors is a boolean stored as 0/1, optimizer a
   choice stored as its index (0 adam, 1 adamax). The keys from optimizer on came after
   the first results files: they are recorded only where they are in use
   (ss_training_key_in_use), so the files of sweeps that do not use them are unchanged. */
typedef enum {
    SS_KEY_LEARNING_RATE, SS_KEY_BATCH_SIZE, SS_KEY_EPOCHS, SS_KEY_VALIDATION_FRACTION,
    SS_KEY_REG_EIGENVALUES, SS_KEY_REG_EIGENVECTORS, SS_KEY_TRAIN_EIGENVECTORS,
    SS_KEY_ADAM_BETA1, SS_KEY_ADAM_BETA2, SS_KEY_ADAM_EPSILON,
    SS_KEY_OPTIMIZER, SS_KEY_ADAMAX_BETA1, SS_KEY_ADAMAX_BETA2, SS_KEY_ADAMAX_EPSILON,
    SS_KEY_COUNT
} ss_training_key_t;

/* The YAML key of k, a static string ("?" when out of range). */
const char *ss_training_key_name(ss_training_key_t k);
/* 1 for the keys stored as int: batch_size, epochs, train_eigenvectors, optimizer. */
int ss_training_key_is_int(ss_training_key_t k);
/* 1 for a key whose value is a name (optimizer): ss_training_key_text gives it. */
int ss_training_key_is_choice(ss_training_key_t k);
/* The text of key k's value in *t: the name of a choice ("adamax"), "true"/"false" for
   train_eigenvectors, else "%.6g" (the form of run ids). Returns buf. */
const char *ss_training_key_text(const ss_training_t *t, ss_training_key_t k, char *buf,
                                 size_t size);
/* 1 if key k of *t is in use and so recorded (log records, /runs attributes): the first
   ten keys always; optimizer when it is not adam; the adamax_* keys when it is adamax.
   A key that is not recorded reads back as its default. */
int ss_training_key_in_use(const ss_training_t *t, ss_training_key_t k);
/* Every training key at its default (the papers' settings, docs/FORMATS.md). */
void ss_training_defaults(ss_training_t *t);
/* The name of optimizer o ("adam", "adamax"; "?" when out of range). */
const char *ss_optimizer_name(ss_optimizer_t o);
/* The value of key k in *t (integers and the boolean as doubles; 0 when out of range). */
double ss_training_get(const ss_training_t *t, ss_training_key_t k);
/* Set key k of *t to v. Integer keys are rounded to the nearest int (saturating);
   train_eigenvectors is set to v != 0. */
void ss_training_set(ss_training_t *t, ss_training_key_t k, double v);
/* The key whose YAML name is `name`, or -1 if it is not a training key. */
int ss_training_key_lookup(const char *name);

/*
 * The `init:` section: how a network's parameters start. The defaults are the
 * input-relevance papers' (Glorot-uniform weights, lambda_in = 1, lambda_out = 0); the
 * spectral-domain paper starts the eigenvectors in U(-0.5, 0.5) and the destination
 * eigenvalues in U(-0.01, 0.01).
 */
typedef struct {
    double eigenvectors;             /* psi of spectral layers: 0 = Glorot uniform
                                        (limit sqrt(6 / (n_in + n_out))), a > 0: U(-a, a) */
    double weights;                  /* W of dense layers: likewise */
    double lambda_in[2];             /* U(lo, hi); lo == hi: that constant. (1, 1) */
    double lambda_out[2];            /* (0, 0) */
} ss_init_t;

typedef struct {
    int n_hidden;                    /* 3; 0 = no hidden layer (a perceptron) */
    int hidden[SS_MAX_LAYERS];       /* 100, 100, 50 */
    ss_act_t act[SS_MAX_LAYERS];     /* activation after each hidden layer: tanh, relu, relu
                                        (not given: tanh after the first layer, relu after
                                        the others; one name alone applies to every layer) */
    int n_act;                       /* activations given as a list: its length (it must
                                        match n_hidden); -1: one name or the default, which
                                        fill act[] for any number of layers */
    ss_spectral_t spectral;          /* all */
    int batchnorm_after_first;       /* 0 */
    double dropout_after_first;      /* 0.0, rate in [0, 1) */
    int train_lambda_out;            /* 0: lambda_out frozen at 0 (the papers) */
    ss_trainable_weights_t trainable_weights; /* all (dense layers only) */
    ss_retract_t retract;            /* none */
    int histogram_bins;              /* 100: the retracted weights' histogram ... */
    double histogram_range;          /* 1.0: ... over [-range, range] */
    ss_init_t init;                  /* the `init:` section */
} ss_model_t;

/* Every key of `model:` and `init:` at its default (the input-relevance papers' network:
   100-100-50, tanh, relu, relu, all spectral; Glorot weights, lambda_in 1, lambda_out 0).
   Code that builds a model by hand starts here. */
void ss_model_defaults(ss_model_t *m);

/*
 * Model keys: the keys of `model:` and `init:` as one table, so that any of them can be a
 * sweep axis or part of a bundle. Their dotted names ("model.hidden", "init.lambda_out")
 * name them in axes, bundles, run ids and /runs and /summary attributes.
 */
typedef enum {
    SS_MKEY_HIDDEN, SS_MKEY_ACTIVATIONS, SS_MKEY_SPECTRAL, SS_MKEY_BATCHNORM,
    SS_MKEY_DROPOUT, SS_MKEY_TRAIN_LAMBDA_OUT, SS_MKEY_TRAINABLE_WEIGHTS, SS_MKEY_RETRACT,
    SS_MKEY_HISTOGRAM_BINS, SS_MKEY_HISTOGRAM_RANGE, SS_MKEY_INIT_EIGENVECTORS,
    SS_MKEY_INIT_WEIGHTS, SS_MKEY_INIT_LAMBDA_IN, SS_MKEY_INIT_LAMBDA_OUT,
    SS_MKEY_COUNT
} ss_model_key_t;

/* The dotted name of model key k ("model.hidden"), a static string ("?" out of range). */
const char *ss_model_key_name(ss_model_key_t k);
/* The key whose dotted name is `name`, or -1. */
int ss_model_key_lookup(const char *name);
/* Copy key k's value from *src to *dst (hidden: the layer count and sizes; activations:
   act[] and n_act). */
void ss_model_key_copy(ss_model_t *dst, const ss_model_t *src, ss_model_key_t k);

/* A model key's value as a results file stores it. */
typedef enum { SS_VALUE_INT, SS_VALUE_REAL, SS_VALUE_TEXT, SS_VALUE_INTS, SS_VALUE_REALS }
    ss_value_kind_t;
typedef struct {
    ss_value_kind_t kind;
    int64_t i;                       /* SS_VALUE_INT (booleans 0/1, histogram_bins) */
    double r;                        /* SS_VALUE_REAL */
    int n;                           /* SS_VALUE_INTS, SS_VALUE_REALS: elements */
    int64_t ints[SS_MAX_LAYERS];     /* model.hidden (may be empty) */
    double reals[2];                 /* init.lambda_in, init.lambda_out: [lo, hi] */
    char text[SS_MAX_LAYERS * 8 + 8];/* names: "relu", "tanh,relu", "glorot", "0.5" */
} ss_value_t;

/* Key k's value in *m as stored in results files: model.hidden int64[n_hidden];
   activations "tanh,relu" (one name per hidden layer); spectral, trainable_weights,
   retract names; batchnorm_after_first, train_lambda_out 0/1; histogram_bins an int;
   dropout_after_first, histogram_range numbers; init.eigenvectors, init.weights "glorot"
   or the half-width ("0.5"); init.lambda_in, init.lambda_out [lo, hi]. */
void ss_model_key_value(const ss_model_t *m, ss_model_key_t k, ss_value_t *v);
/* Key k's value in *m as a run id shows it: lists joined by '-' ("100-50"; no hidden
   layer: "none"), ranges "lo:hi" or one number when lo == hi, booleans true/false,
   numbers "%.6g". Returns buf. */
const char *ss_model_key_text(const ss_model_t *m, ss_model_key_t k, char *buf, size_t size);

/* The names of the enums of model keys, for messages and the plan ("?" out of range). */
const char *ss_spectral_name(ss_spectral_t s);
const char *ss_trainable_weights_name(ss_trainable_weights_t t);
const char *ss_retract_name(ss_retract_t r);

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

    /* every kind */
    int standardize;                 /* 0; 1: every input z-scored with the training rows'
                                        mean and standard deviation (data.h) */
    int input_shape[2];              /* {0, 0}: not given; else [rows, cols] for the 2-D
                                        Fourier transform of inputs without an image shape
                                        of their own. rows x cols must be the dataset's
                                        inputs, and agree with an image's own shape: both
                                        are checked once the data is loaded */
    char *input_shape_at;            /* "FILE:LINE:COLUMN" of the input_shape value, for
                                        that check's message; NULL when not given */

    /* `training` overrides of this dataset: the resolved values and which keys were set */
    ss_training_t training;
    unsigned training_set_mask;      /* bit k set: key k given in this dataset */
} ss_dataset_spec_t;

/* Settings one point of a sweep axis sets: the training keys in training_mask (bit k:
   ss_training_key_t k) and the model keys in model_mask (bit k: ss_model_key_t k). */
typedef struct {
    ss_training_t training;
    unsigned training_mask;
    ss_model_t model;
    unsigned model_mask;
} ss_patch_t;

/* A sweep axis: over a training key, over a model key, or a bundle (a named mapping of
   several settings: each point is one named bundle). */
typedef enum { SS_AXIS_TRAINING, SS_AXIS_MODEL, SS_AXIS_BUNDLE } ss_axis_kind_t;

typedef struct {
    ss_axis_kind_t kind;
    char name[SS_NAME_MAX];          /* as written: "epochs", "model.hidden", "regime" */
    ss_training_key_t key;           /* SS_AXIS_TRAINING */
    ss_model_key_t model_key;        /* SS_AXIS_MODEL */
    int n;                           /* points */
    double *values;                  /* SS_AXIS_TRAINING: n distinct values (distinct under
                                        "%.6g"): a list, or {logspace: [a, b, n]} = 10^a ..
                                        10^b, n points evenly spaced in the exponent (n = 1:
                                        10^a) */
    ss_patch_t *points;              /* every kind: what point i sets */
    char **labels;                   /* point i in run ids and /summary attributes: the
                                        value's text, or the bundle's name (all distinct) */
    unsigned training_mask, model_mask; /* the keys any point of the axis sets */
} ss_axis_t;

/*
 * relevance.retrain: retraining runs (grid.h). For every run of the grid and each method
 * x k, a child run trains the same configuration on only the k inputs the method ranks
 * highest (keep) or on all but them (remove). Methods are relevance methods
 * (attrib_settings.h) or the pseudo-methods `random` (k inputs drawn at random, seeded;
 * always included as the baseline) and `truth` (the dataset's relevance_truth, for
 * datasets that have one). Each k is checked against the dataset's inputs at start-up,
 * where its line and column are needed again.
 */
typedef enum { SS_RETRAIN_NONE, SS_RETRAIN_KEEP, SS_RETRAIN_REMOVE } ss_retrain_mode_t;
#define SS_RETRAIN_RANDOM SS_ATTRIB_N_METHODS         /* pseudo-methods, after the real ones */
#define SS_RETRAIN_TRUTH (SS_ATTRIB_N_METHODS + 1)
#define SS_RETRAIN_N_METHODS (SS_ATTRIB_N_METHODS + 2)

typedef struct {
    int line, col;                   /* 1-based, of a value in the sweep file */
} ss_where_t;

typedef struct {
    unsigned methods;                /* bit m: method m; 0: no retraining */
    ss_where_t method_at[SS_RETRAIN_N_METHODS]; /* where each was given (truth is checked
                                        against the datasets at start-up) */
    int n_k[3];                      /* [SS_RETRAIN_KEEP], [SS_RETRAIN_REMOVE]: counts */
    int *k[3];                       /*   the k values, in file order */
    ss_where_t *k_at[3];             /*   where each was given */
} ss_retrain_spec_t;

/* "keep", "remove" (NULL for NONE); the name of retraining method m ("random", "truth" or
   a relevance method's), NULL when out of range; the method called `name` or -1. */
const char *ss_retrain_mode_name(ss_retrain_mode_t mode);
const char *ss_retrain_method_name(int m);
int ss_retrain_method_lookup(const char *name);

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

    ss_model_t model;                /* `model:` and `init:` (before the sweep point) */
    ss_training_t training;          /* global values (before dataset overrides) */
    int record_model;                /* 1 when the sweep uses a model or init key or a
                                        bundle as an axis, an `init:` section,
                                        model.trainable_weights, model.retract or adamax:
                                        every run then records n_trainable and its whole
                                        model (/runs attributes model.*, init.*). 0: the
                                        files are those of a sweep without these keys */

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
                                        replaces the inputs a top-k evaluation leaves out
                                        (and a retraining run's left-out inputs) */
    ss_retrain_spec_t retrain;       /* relevance.retrain: none by default */

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
