/*
 * data.h - datasets: synthetic generators and file loaders, all deterministic.
 *
 * A dataset is row-major float32 inputs (n x n_inputs) with labels: class indices
 * 0..n_classes-1 stored as float, or a real target for regression (n_classes = 0).
 * Loading never writes anything. Bad files (missing, truncated, corrupt, wrong magic,
 * ragged or non-numeric CSV, a requested class absent from the data) fail with
 * SS_EXIT_INPUT and a message that names the file.
 */
#ifndef SPECSWEEP_DATA_H
#define SPECSWEEP_DATA_H

#include <stddef.h>
#include "specsweep/config.h"

typedef struct {
    char name[SS_NAME_MAX];
    ss_kind_t kind;
    int n_inputs;
    int n_classes;          /* 0 = regression */
    int n_train, n_test;    /* the training set still includes the validation part */
    float *x_train;         /* n_train x n_inputs, 64-byte aligned */
    float *y_train;         /* n_train */
    float *x_test;          /* n_test x n_inputs */
    float *y_test;          /* n_test */
    double *relevance_truth;/* n_inputs, synthetic kinds only, else NULL */
    char **feature_names;   /* n_inputs, csv only, else NULL */
    int input_rank;         /* 0, or 2 with input_shape = {rows, cols} for images */
    int input_shape[2];
} ss_dataset_t;

/* Load or generate the dataset of `spec` (paths already resolved). */
int ss_dataset_load(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err);
/* Frees everything; accepts a zeroed or half-built dataset. */
void ss_dataset_free(ss_dataset_t *ds);

#endif
