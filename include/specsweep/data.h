/*
 * data.h - datasets: synthetic generators and file loaders, all deterministic. The kinds
 * and their keys are also in docs/FORMATS.md ("Dataset kinds and their keys"); the
 * generators live in synth.c, the file loaders in datafile.c, the rows they share in
 * data_table.c, the rest in data.c.
 *
 * A dataset is row-major float32 inputs (n x n_inputs) with labels: class indices
 * 0..n_classes-1 stored as float, or a real target for regression (n_classes = 0).
 * Loading never writes anything. Bad files (missing, truncated, corrupt, wrong magic,
 * ragged or non-numeric CSV, a requested class absent from the data) fail with
 * SS_EXIT_INPUT and a message that names the file. So do paths that are not regular
 * files (ss_open_regular) and sizes that a file or spec claims beyond what the file holds
 * or beyond the memory rule (util.h, ss_memory_limit): they are checked before anything
 * is allocated (docs/FORMATS.md, "Data files are checked").
 */
#ifndef SPECSWEEP_DATA_H
#define SPECSWEEP_DATA_H

#include <stddef.h>
#include "specsweep/config.h"

/* What is known of a dataset besides its rows: what the results log and file record of
   it, and all that rank 0 keeps of a dataset once it has been checked. */
typedef struct {
    char name[SS_NAME_MAX];
    ss_kind_t kind;
    ss_task_t task;         /* regression: n_classes = 0, one real target per sample */
    int n_inputs;
    int n_classes;          /* classification: >= 2; regression: 0 */
    int n_train, n_test;    /* the training set still includes the validation part */
    double *relevance_truth;/* n_inputs, synthetic kinds only (gaussian, correlated,
                               spectra), else NULL */
    char **feature_names;   /* n_inputs: csv column names, spectra wavelengths, else NULL */
    int input_rank;         /* 0, or 2 with input_shape = {rows, cols}: images, or the
                               spec's input_shape */
    int input_shape[2];
    double *standardize_mean; /* n_inputs each with spec->standardize (the training rows'
                               mean and std the rows were z-scored with), else NULL */
    double *standardize_std;
} ss_dataset_info_t;

/* A loaded dataset: its description and its rows. */
typedef struct {
    ss_dataset_info_t info;
    float *x_train;         /* n_train x n_inputs, 64-byte aligned */
    float *y_train;         /* n_train */
    float *x_test;          /* n_test x n_inputs */
    float *y_test;          /* n_test */
    double input_density;   /* fraction of nonzero values in x_train (NaN counts) */
    int max_row_nonzeros;   /* most nonzero inputs of one sample, training and test */
} ss_dataset_t;

/*
 * Load or generate the dataset of `spec` (paths already resolved). Returns 0, or -1 with
 * err set (SS_EXIT_INPUT) and *ds left empty. *ds is overwritten: free a loaded dataset
 * first. Everything depends only on spec (data_seed drives generation, stream
 * SS_STREAM_DATA, and the train/test split, stream SS_STREAM_SPLIT).
 *
 * Kinds:
 *   gaussian    `features` inputs, 2 balanced classes; class 1's mean is s_j ~ U(0,
 *               max_shift) for the first `relevant` inputs. relevance_truth = s_j, else 0.
 *   correlated  2 * n_pairs + noise_features inputs, 2 balanced classes; pair n is
 *               (a, a) in class 0 and (a, -a) with probability p_n in class 1, a ~ N(0,
 *               sigma^2). relevance_truth = p_n for both members, 0 for noise.
 *               max_shift is not used.
 *   spectra     synthetic stellar spectra, regression of metallicity [Fe/H] ~
 *               U(metal_min, metal_max): `features` fluxes on a uniform wavelength grid
 *               wave_min .. wave_max (Angstrom), a Planck continuum of temperature T
 *               with Gaussian absorption lines, metal_lines whose depth grows linearly
 *               with [Fe/H] and nuisance_lines whose depth follows T or gravity only,
 *               relative noise sigma, each spectrum divided by its median. Line list
 *               and stars come from data_seed. relevance_truth_i = -d ln F_i / d[Fe/H]
 *               (F the noise-free flux before normalisation): positive inside the
 *               windows of metal lines, 0 everywhere else. feature_names = the
 *               wavelengths ("%.2f"). The details are in synth.c (synth_spectra).
 *   csv         header row; the `label` column is the target, every other column an
 *               input (feature_names). Classification labels must be integers 0..255.
 *   idx         MNIST-format images + labels, gzip or plain; pixels * scale;
 *               input_rank 2. Test files are optional.
 *   hdf5        datasets "X" (n x d, or n x rows x cols: input_rank 2) and "y" (n);
 *               "X_test" and "y_test" if present, both or neither.
 * Classification: n_classes = largest label + 1, or with class_subset only those
 * classes, relabelled 0..k-1 in subset order (each must occur in the training data).
 * Without a test set of its own, round(test_fraction * n) shuffled rows are the test
 * set. max_train / max_test then keep the first N rows of each part.
 *
 * Every kind, after that:
 *   input_shape  (spec->input_shape[0] > 0) the inputs as a rows x cols image:
 *               input_rank 2. rows x cols must be n_inputs, and an image's own shape
 *               (idx, 3-D hdf5) must be the same; otherwise SS_EXIT_INPUT with the
 *               message at spec->input_shape_at ("FILE:LINE:COLUMN: ...").
 *   standardize  every input x_i of the training and the test rows becomes
 *               (x_i - m_i) / s_i, m_i and s_i the mean and the population standard
 *               deviation (ddof 0) of input i over the training rows (the validation
 *               part included), summed in double in row order, so every loader of the
 *               same spec gets the same bits; s_i = 0 (a constant input) divides by 1,
 *               leaving the input centred at 0. info.standardize_mean/std keep m and s
 *               (s as computed, 0 included).
 */
int ss_dataset_load(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
/* Frees everything ds owns (its arrays and its info) and zeroes *ds; accepts NULL, a
   zeroed or a half-built dataset. */
void ss_dataset_free(ss_dataset_t *ds);

/* Move ds->info into *info (the caller frees it with ss_dataset_info_free) and free the
   rest of ds, which is left zeroed: what a caller keeps of a dataset it only checked. */
void ss_dataset_take_info(ss_dataset_t *ds, ss_dataset_info_t *info);
/* A deep copy of *src into *dst (overwritten, not freed first); the caller frees it with
   ss_dataset_info_free. */
void ss_dataset_info_copy(ss_dataset_info_t *dst, const ss_dataset_info_t *src);
/* Frees the truth, feature names and standardization vectors and zeroes *info; accepts
   NULL or a zeroed one. */
void ss_dataset_info_free(ss_dataset_info_t *info);
/* The scalars of *src (sizes, kind, task, shape) with every pointer NULL: what may be
   sent to another rank or kept beside a shared copy of the rows. */
ss_dataset_info_t ss_dataset_info_scalars(const ss_dataset_info_t *src);

#endif
