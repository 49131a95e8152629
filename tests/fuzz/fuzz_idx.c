/*
 * fuzz_idx.c - the IDX loader (datafile.c), plain and gzip. An input is
 *     flags (1 byte) | images length (2 bytes, big-endian) | images | labels
 * flags: bit 0 gzip the images, bit 1 gzip the labels (compressed here, so that the
 * fuzzer mutates what is inside the stream), bit 2 the same pair again as the test set,
 * bit 3 a class subset [1, 0], bits 4-7 the first-N limits. A part given as raw gzip
 * bytes (flags clear) exercises the stream itself: its header, CRC and trailer.
 *
 * Contract: a bad file fails with SS_EXIT_INPUT naming one of the two files and leaves
 * the dataset empty; a good one has input_rank 2, rows x cols inputs in [0, 1] (scale
 * 1/255) and class labels below n_classes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_util.h"
#include "specsweep/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The memory rule of this target (fuzz_util.h). */
const size_t fuzz_memory_limit = (size_t)64 << 20;

static fuzz_file_t images_file, labels_file;

/* data[0..n-1] as a gzip stream, malloc'd, its length in *out_n. */
static unsigned char *gzip_bytes(const uint8_t *data, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static const char *put(fuzz_file_t *f, const uint8_t *data, size_t n, int gz)
{
    if (!gz)
        return fuzz_file_set(f, data, n);
    size_t zn;
    unsigned char *z = gzip_bytes(data, n, &zn);
    const char *path = fuzz_file_set(f, z, zn);
    free(z);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t flags = data[0];
    size_t split = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (split > size)
        split = size;

    ss_dataset_spec_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "fuzz");
    s.kind = SS_KIND_IDX;
    s.task = SS_TASK_CLASSIFICATION;
    s.scale = 1.0 / 255.0;
    s.test_fraction = 0.25;
    s.data_seed = 1;
    s.train_images = (char *)put(&images_file, data, split, flags & 1);
    s.train_labels = (char *)put(&labels_file, data + split, size - split, flags & 2);
    if (flags & 4) {
        s.test_images = s.train_images;
        s.test_labels = s.train_labels;
    }
    if (flags & 8) {
        s.n_class_subset = 2;
        s.class_subset[0] = 1;
        s.class_subset[1] = 0;
    }
    s.max_train = (flags >> 4) & 3;
    s.max_test = flags >> 6;

    ss_dataset_t ds;
    ss_error_t err = {0};
    if (ss_dataset_load(&s, &ds, &err) != 0) {
        FUZZ_CHECK(err.code == SS_EXIT_INPUT, "failure with code %d: %s", err.code, err.msg);
        FUZZ_CHECK(strstr(err.msg, s.train_images) || strstr(err.msg, s.train_labels),
                   "message names no file: %s", err.msg);
        FUZZ_CHECK(!ds.x_train && !ds.x_test, "dataset not emptied");
        return 0;
    }
    const ss_dataset_info_t *in = &ds.info;
    FUZZ_CHECK(in->input_rank == 2 && in->n_inputs == in->input_shape[0] * in->input_shape[1],
               "shape %d x %d for %d inputs", in->input_shape[0], in->input_shape[1],
               in->n_inputs);
    FUZZ_CHECK(in->n_train >= 1 && in->n_classes >= 2, "n_train %d, n_classes %d",
               in->n_train, in->n_classes);
    for (int part = 0; part < 2; part++) {
        int n = part ? in->n_test : in->n_train;
        const float *x = part ? ds.x_test : ds.x_train, *y = part ? ds.y_test : ds.y_train;
        for (size_t k = 0; k < (size_t)n * (size_t)in->n_inputs; k++)
            FUZZ_CHECK(x[k] >= 0.0f && x[k] <= 1.0f, "pixel %g", (double)x[k]);
        for (int k = 0; k < n; k++)
            FUZZ_CHECK(y[k] >= 0 && y[k] < in->n_classes, "label %g", (double)y[k]);
    }
    ss_dataset_free(&ds);
    return 0;
}
