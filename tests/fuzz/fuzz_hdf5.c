/*
 * fuzz_hdf5.c - the HDF5 loader (datafile.c): what a file declares, not how HDF5 parses
 * its bytes. The input describes a file, which is built here with HDF5 in memory and
 * handed to the loader as a file:
 *     flags (1 byte) then, for X, y, X_test and y_test, one description each:
 *     presence (1) | type (1) | rank (1) | dims (3 x 4 bytes: small, or huge when the top
 *     bit is set) | storage (1) | link (1) | then the values, cycled from the input
 * flags: bit 0 regression, bit 1 a class subset [1, 0], bits 2-3 first-N limits.
 * type: uint8, int8, int32, uint32, int64, float32, float64, or a string (not numeric);
 * rank 0 (a scalar) to 3; storage: contiguous, chunked, chunked and deflated, compact,
 * or declared only (never written: fill values, or a size the file does not hold);
 * link: the dataset itself, a soft link to it, an external link to another file, or a
 * soft link to such an external link.
 * Mutating HDF5's own encoding would test libhdf5, whose parser is not ours to fix.
 *
 * Contract: a bad file fails with SS_EXIT_INPUT naming the file and leaves the dataset
 * empty; a good one has finite inputs and, for classification, labels below n_classes.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "specsweep/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The memory rule of this target (fuzz_util.h). */
const size_t fuzz_memory_limit = (size_t)16 << 20;

void fuzz_setup(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* building odd files fails often */
}

static fuzz_file_t h5_file;

/* A dimension: mostly small; with the top bit a size from a table of large claims. */
static hsize_t dim(fuzz_bytes_t *b)
{
    static const hsize_t huge[] = {1000000000ull, 2147483647ull, 2147483648ull,
                                   4294967297ull, 1ull << 40, (1ull << 62) + 1, 1000000, 0};
    uint32_t v = fuzz_u32(b);
    if (v & 0x80000000u)
        return huge[v % 8];
    return v % 24;
}

/* Write the described dataset `name` into f, its values cycled from the input. */
static void make_dataset(hid_t f, const char *name, fuzz_bytes_t *b)
{
    uint8_t present = fuzz_u8(b), type_code = fuzz_u8(b) % 8, rank = fuzz_u8(b) % 4;
    hsize_t dims[3] = {dim(b), dim(b), dim(b)};
    uint8_t storage = fuzz_u8(b) % 5, link = fuzz_u8(b) % 6;
    if (present % 8 == 7)
        return;                                    /* absent */
    hid_t type;
    switch (type_code) {
    case 0: type = H5Tcopy(H5T_NATIVE_UINT8); break;
    case 1: type = H5Tcopy(H5T_NATIVE_INT8); break;
    case 2: type = H5Tcopy(H5T_NATIVE_INT32); break;
    case 3: type = H5Tcopy(H5T_NATIVE_UINT32); break;
    case 4: type = H5Tcopy(H5T_NATIVE_INT64); break;
    case 5: type = H5Tcopy(H5T_NATIVE_FLOAT); break;
    case 6: type = H5Tcopy(H5T_NATIVE_DOUBLE); break;
    default: type = H5Tcopy(H5T_C_S1); H5Tset_size(type, 4); break;
    }
    hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    double total = 1.0;
    for (int i = 0; i < rank; i++)
        total *= (double)dims[i];
    if (storage == 1 || storage == 2) {
        hsize_t chunk[3];
        for (int i = 0; i < rank; i++)
            chunk[i] = dims[i] ? (dims[i] < 16 ? dims[i] : 16) : 1;
        if (rank)
            H5Pset_chunk(dcpl, rank, chunk);
        if (storage == 2)
            H5Pset_deflate(dcpl, 1);
    } else if (storage == 3 && total <= 1024) {
        H5Pset_layout(dcpl, H5D_COMPACT);
    }
    char real[40];
    snprintf(real, sizeof real, link ? "%s_data" : "%s", name);
    hid_t d = H5Dcreate2(f, real, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d >= 0 && storage != 4 && total <= 4096) {
        size_t bytes = (size_t)total * H5Tget_size(type);
        unsigned char *v = malloc(bytes ? bytes : 1);
        for (size_t i = 0; i < bytes; i++)
            v[i] = b->n ? b->p[i % b->n] : (unsigned char)i;
        H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    }
    if (d >= 0)
        H5Dclose(d);
    if (link == 1)
        H5Lcreate_soft(real, f, name, H5P_DEFAULT, H5P_DEFAULT);
    else if (link == 2)
        H5Lcreate_external("/nonexistent/other.h5", "/X", f, name, H5P_DEFAULT, H5P_DEFAULT);
    else if (link == 3) {   /* a soft link to an external link */
        char ext[48];
        snprintf(ext, sizeof ext, "%s_elsewhere", name);
        H5Lcreate_external("/nonexistent/other.h5", "/X", f, ext, H5P_DEFAULT, H5P_DEFAULT);
        H5Lcreate_soft(ext, f, name, H5P_DEFAULT, H5P_DEFAULT);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_bytes_t b = {data, size};
    uint8_t flags = fuzz_u8(&b);

    /* the file, in memory, then as the loader will see it */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 16, 0);
    hid_t f = H5Fcreate("fuzz-in-memory.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    FUZZ_CHECK(f >= 0, "cannot create the file in memory");
    make_dataset(f, "X", &b);
    make_dataset(f, "y", &b);
    if (flags & 16) {
        make_dataset(f, "X_test", &b);
        make_dataset(f, "y_test", &b);
    }
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    FUZZ_CHECK(n > 0, "no file image");
    void *image = malloc((size_t)n);
    FUZZ_CHECK(H5Fget_file_image(f, image, (size_t)n) == n, "file image");
    H5Fclose(f);
    const char *path = fuzz_file_set(&h5_file, image, (size_t)n);
    free(image);

    ss_dataset_spec_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "fuzz");
    s.kind = SS_KIND_HDF5;
    s.path = (char *)path;
    s.task = flags & 1 ? SS_TASK_REGRESSION : SS_TASK_CLASSIFICATION;
    if ((flags & 2) && s.task == SS_TASK_CLASSIFICATION) {
        s.n_class_subset = 2;
        s.class_subset[0] = 1;
        s.class_subset[1] = 0;
    }
    s.test_fraction = 0.25;
    s.data_seed = 1;
    s.max_train = (flags >> 2) & 3;

    ss_dataset_t ds;
    ss_error_t err = {0};
    if (ss_dataset_load(&s, &ds, &err) != 0) {
        fuzz_check_error(&err, path, 0);
        FUZZ_CHECK(!ds.x_train && !ds.x_test, "dataset not emptied");
        return 0;
    }
    const ss_dataset_info_t *in = &ds.info;
    FUZZ_CHECK(in->n_train >= 1 && in->n_inputs >= 1, "sizes %d x %d", in->n_train,
               in->n_inputs);
    for (int part = 0; part < 2; part++) {
        int rows = part ? in->n_test : in->n_train;
        const float *x = part ? ds.x_test : ds.x_train, *y = part ? ds.y_test : ds.y_train;
        for (size_t k = 0; k < (size_t)rows * (size_t)in->n_inputs; k++)
            FUZZ_CHECK(isfinite(x[k]), "input %zu not finite", k);
        for (int k = 0; k < rows; k++)
            FUZZ_CHECK(in->n_classes ? y[k] >= 0 && y[k] < in->n_classes : isfinite(y[k]),
                       "label %g", (double)y[k]);
    }
    ss_dataset_free(&ds);
    return 0;
}
