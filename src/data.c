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
    data_count_nonzeros(ds);
    return 0;
}


void ss_dataset_info_free(ss_dataset_info_t *info)
{
    if (!info)
        return;
    free(info->relevance_truth);
    if (info->feature_names) {
        for (int i = 0; i < info->n_inputs; i++)
            free(info->feature_names[i]);
        free(info->feature_names);
    }
    memset(info, 0, sizeof *info);
}

void ss_dataset_info_copy(ss_dataset_info_t *dst, const ss_dataset_info_t *src)
{
    *dst = *src;
    dst->relevance_truth = NULL;
    dst->feature_names = NULL;
    size_t n = src->n_inputs > 0 ? (size_t)src->n_inputs : 0;
    if (src->relevance_truth && n) {
        dst->relevance_truth = ss_malloc(n * sizeof *dst->relevance_truth);
        memcpy(dst->relevance_truth, src->relevance_truth, n * sizeof *dst->relevance_truth);
    }
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
