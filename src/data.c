/*
 * data.c - the dataset type: loading by kind, what every loaded dataset is measured by,
 * its description (copy, hand-over) and freeing. See include/specsweep/data.h; the kinds
 * are in synth.c (the synthetic generators of the papers) and datafile.c (the file
 * loaders), the row tables and steps they share in data_table.c (data_internal.h).
 *
 * Every loader frees what it built on its error path; ss_dataset_load() then frees
 * whatever had already been handed to the dataset. Nothing here writes a file.
 */
#include "specsweep/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* ---- the public API ------------------------------------------------------------------- */

/* ds->input_density and ds->max_row_nonzeros of a loaded dataset (the sparse first layer
   of the network is chosen and sized by them). */
static void data_count_nonzeros(ss_dataset_t *ds)
{
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
}

/* The spec's input_shape on a loaded dataset: rows x cols must be its inputs and agree
   with an image's own shape. 0, or -1 with err at the input_shape value. */
static int data_set_input_shape(const ss_dataset_spec_t *spec, ss_dataset_t *ds,
                                ss_error_t *err)
{
    const char *at = spec->input_shape_at ? spec->input_shape_at : spec->name;
    int rows = spec->input_shape[0], cols = spec->input_shape[1];
    ss_dataset_info_t *in = &ds->info;
    if ((long long)rows * cols != in->n_inputs) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: input_shape [%d, %d] makes %lld inputs, but "
                     "dataset %s has %d", at, rows, cols, (long long)rows * cols, spec->name,
                     in->n_inputs);
        return -1;
    }
    if (in->input_rank == 2 && (in->input_shape[0] != rows || in->input_shape[1] != cols)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: input_shape [%d, %d] conflicts with the %d x %d "
                     "images of dataset %s", at, rows, cols, in->input_shape[0],
                     in->input_shape[1], spec->name);
        return -1;
    }
    in->input_rank = 2;
    in->input_shape[0] = rows;
    in->input_shape[1] = cols;
    return 0;
}

/* z-scores every input of the training and test rows with the training rows' mean and
   population std, kept in ds->info (data.h, "standardize"). Sums in double in row order:
   every rank that loads the dataset gets the same bits. */
static void data_standardize(ss_dataset_t *ds)
{
    int d = ds->info.n_inputs, n = ds->info.n_train;
    double *mean = ss_calloc((size_t)d, sizeof *mean), *sd = ss_calloc((size_t)d, sizeof *sd);
    for (int r = 0; r < n; r++) {
        const float *x = ds->x_train + (size_t)r * (size_t)d;
        for (int i = 0; i < d; i++)
            mean[i] += x[i];
    }
    for (int i = 0; i < d; i++)
        mean[i] /= n;
    for (int r = 0; r < n; r++) { /* two passes: no cancellation for inputs far from 0 */
        const float *x = ds->x_train + (size_t)r * (size_t)d;
        for (int i = 0; i < d; i++)
            sd[i] += (x[i] - mean[i]) * (x[i] - mean[i]);
    }
    for (int i = 0; i < d; i++)
        sd[i] = sqrt(sd[i] / n);
    for (int part = 0; part < 2; part++) {
        float *x = part ? ds->x_test : ds->x_train;
        size_t rows = (size_t)(part ? ds->info.n_test : n);
        for (size_t r = 0; r < rows; r++)
            for (int i = 0; i < d; i++) {
                float *v = x + r * (size_t)d + i;
                *v = (float)((*v - mean[i]) / (sd[i] > 0.0 ? sd[i] : 1.0));
            }
    }
    ds->info.standardize_mean = mean;
    ds->info.standardize_std = sd;
}

int ss_dataset_load(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    memset(ds, 0, sizeof *ds);
    int rc;
    switch (spec->kind) {
    case SS_KIND_GAUSSIAN:
        rc = synth_gaussian(spec, ds, err);
        break;
    case SS_KIND_CORRELATED:
        rc = synth_correlated(spec, ds, err);
        break;
    case SS_KIND_CSV:
        rc = datafile_csv(spec, ds, err);
        break;
    case SS_KIND_IDX:
        rc = datafile_idx(spec, ds, err);
        break;
    case SS_KIND_HDF5:
        rc = datafile_hdf5(spec, ds, err);
        break;
    case SS_KIND_SPECTRA:
        rc = synth_spectra(spec, ds, err);
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
    if (spec->input_shape[0] > 0 && data_set_input_shape(spec, ds, err) != 0) {
        ss_dataset_free(ds);
        return -1;
    }
    if (spec->standardize)
        data_standardize(ds);
    data_count_nonzeros(ds); /* after standardizing: a standardized zero is no longer 0 */
    return 0;
}


void ss_dataset_info_free(ss_dataset_info_t *info)
{
    if (!info)
        return;
    free(info->relevance_truth);
    free(info->standardize_mean);
    free(info->standardize_std);
    if (info->feature_names) {
        for (int i = 0; i < info->n_inputs; i++)
            free(info->feature_names[i]);
        free(info->feature_names);
    }
    memset(info, 0, sizeof *info);
}

ss_dataset_info_t ss_dataset_info_scalars(const ss_dataset_info_t *src)
{
    ss_dataset_info_t s = *src;
    s.relevance_truth = NULL;
    s.feature_names = NULL;
    s.standardize_mean = NULL;
    s.standardize_std = NULL;
    return s;
}

/* A copy of the n doubles at src, or NULL for NULL or n = 0. */
static double *copy_doubles(const double *src, size_t n)
{
    if (!src || !n)
        return NULL;
    double *d = ss_malloc(n * sizeof *d);
    memcpy(d, src, n * sizeof *d);
    return d;
}

void ss_dataset_info_copy(ss_dataset_info_t *dst, const ss_dataset_info_t *src)
{
    *dst = ss_dataset_info_scalars(src);
    size_t n = src->n_inputs > 0 ? (size_t)src->n_inputs : 0;
    dst->relevance_truth = copy_doubles(src->relevance_truth, n);
    dst->standardize_mean = copy_doubles(src->standardize_mean, n);
    dst->standardize_std = copy_doubles(src->standardize_std, n);
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
