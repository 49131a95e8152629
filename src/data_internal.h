/*
 * data_internal.h - the row tables every dataset kind fills, the steps all kinds share,
 * and the kinds themselves, for ss_dataset_load (include/specsweep/data.h).
 *
 * Internal to the data module: included by data_table.c (the tables and shared steps),
 * synth.c (the synthetic generators of the papers), datafile.c (the file loaders) and
 * data.c (the dataset type, the dispatch by kind) only; no other file may include it.
 * Dependencies point down: data.c -> synth.c, datafile.c -> data_table.c.
 *
 * Every kind produces its rows in data_table_t's. File kinds then settle their classes
 * (data_apply_classes); every kind ends in data_finish, which splits off the
 * test set when the data has none of its own, applies the first-N limits and hands the
 * arrays over to the dataset. Errors in the data are SS_EXIT_INPUT with a message naming
 * the file ("FILE: ..." or "FILE:LINE: ..."); impossible parameters name the dataset
 * ("dataset NAME: ...").
 */
#ifndef SPECSWEEP_DATA_INTERNAL_H
#define SPECSWEEP_DATA_INTERNAL_H

#include <stddef.h>

#include "specsweep/data.h"

/* Rows of one part of a dataset. A zeroed table is empty and owns nothing. */
typedef struct {
    float *x;   /* n x d, row-major, 64-byte aligned; room for at least n rows */
    float *y;   /* n: class index as float, or the regression target */
    int n, d;
} data_table_t;

/* The memory rule (util.h, ss_memory_limit) for rows x d inputs and their labels as
   float32: 0 if they fit, else -1 with err set (SS_EXIT_INPUT): "FILE: WHAT would need
   1.6 TiB (R rows x D inputs as float32), more than this machine's memory (23.4 GiB)".
   Doubles, so that any claimed size can be checked without overflow. */
int data_check_memory(double rows, double d, const char *file, const char *what,
                      ss_error_t *err);

/* Room for `rows` rows of `d` inputs in *t (zeroed, t->n = 0, t->d = d). Returns 0, or -1
   with err set (SS_EXIT_INPUT naming `file`) for sizes beyond int or size_t or beyond the
   memory rule (data_check_memory), which only a corrupt or absurd header gives; *t then
   owns nothing. Free with data_table_free. */
int data_table_alloc(data_table_t *t, size_t rows, int d, const char *file, ss_error_t *err);
/* Free the rows of *t and leave it empty (d is kept); accepts an empty table. */
void data_table_free(data_table_t *t);

/*
 * The common tail of every kind. `test->x == NULL` means the data has no test set of its
 * own: test_fraction of the train rows (rounded) become the test set, chosen with
 * data_seed (stream SS_STREAM_SPLIT). Then max_train / max_test keep the first N rows,
 * and the arrays move into ds (n_inputs, n_train, n_test and the four arrays). Returns 0
 * with both tables left empty, or -1 with err set (`file` names the data) and the tables
 * still owning their rows, for the caller to free.
 */
int data_finish(const ss_dataset_spec_t *spec, const char *file, data_table_t *train,
                data_table_t *test, ss_dataset_t *ds, ss_error_t *err);

/* map[c] = the new index of class c, or -1 when c is not kept by spec's class subset;
   without a subset every class maps to itself. Returns 0, or -1 with err set when the
   subset is invalid (a class outside [0, SS_MAX_CLASSES), or listed twice). */
int data_class_map(const ss_dataset_spec_t *spec, int map[SS_MAX_CLASSES], ss_error_t *err);
/*
 * The classes of a file kind's rows. For task regression only *n_classes = 0. For
 * classification, labels already checked to be integers in [0, SS_MAX_CLASSES): with a
 * class subset keep only those classes in train and test (test only if test->x is set),
 * relabelled 0..k-1, each of which must occur in the training rows; else *n_classes =
 * largest label + 1. Returns 0, or -1 with err set (naming `file`), also for fewer than
 * two classes.
 */
int data_apply_classes(const ss_dataset_spec_t *spec, const char *file, data_table_t *train,
                       data_table_t *test, int *n_classes, ss_error_t *err);

/*
 * The kinds (their data: data.h, ss_dataset_load). Each fills the zeroed *ds: the rows
 * (through data_finish), info.n_classes (0 for a regression target), and whatever else
 * the kind describes (relevance_truth, feature_names, input_rank and input_shape).
 * ss_dataset_load sets the rest of info. Returns 0, or -1 with err set; on failure a kind
 * has freed what it still owned, and the caller frees what had been handed to *ds.
 */
int synth_gaussian(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
int synth_correlated(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
int synth_spectra(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
int datafile_csv(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
int datafile_idx(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
int datafile_hdf5(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);

#endif
