/*
 * fuzz_csv.c - the CSV loader (datafile.c, data_table.c) with the spec chosen by the
 * first input byte: task, label column name, class subset, first-N limits.
 *
 * Contract: a bad file fails with SS_EXIT_INPUT naming the file and leaves the dataset
 * empty; a good one has rows, one feature name per input, finite inputs and labels that
 * are class indices below n_classes (or any finite target for regression).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "specsweep/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The memory rule of this target (fuzz_util.h). */
const size_t fuzz_memory_limit = (size_t)64 << 20;

static fuzz_file_t csv_file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    ss_dataset_spec_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "fuzz");
    s.kind = SS_KIND_CSV;
    s.path = (char *)fuzz_file_set(&csv_file, data + 1, size - 1);
    snprintf(s.label, sizeof s.label, "%s", flags & 1 ? "y" : "label");
    s.task = flags & 2 ? SS_TASK_REGRESSION : SS_TASK_CLASSIFICATION;
    if ((flags & 4) && s.task == SS_TASK_CLASSIFICATION) {
        s.n_class_subset = 2;
        s.class_subset[0] = 1;
        s.class_subset[1] = 0;
    }
    s.test_fraction = flags & 8 ? 0.5 : 0.2;
    s.data_seed = flags >> 4;
    s.max_train = flags & 16 ? 3 : 0;
    s.max_test = flags & 32 ? 1 : 0;

    ss_dataset_t ds;
    ss_error_t err = {0};
    if (ss_dataset_load(&s, &ds, &err) != 0) {
        fuzz_check_error(&err, s.path, 0);
        FUZZ_CHECK(!ds.x_train && !ds.info.feature_names, "dataset not emptied");
        return 0;
    }
    const ss_dataset_info_t *in = &ds.info;
    FUZZ_CHECK(in->n_train >= 1 && in->n_test >= 0 && in->n_inputs >= 1, "sizes %d %d %d",
               in->n_train, in->n_test, in->n_inputs);
    FUZZ_CHECK(s.task == SS_TASK_REGRESSION ? in->n_classes == 0 : in->n_classes >= 2,
               "n_classes %d", in->n_classes);
    for (int i = 0; i < in->n_inputs; i++)
        FUZZ_CHECK(in->feature_names && in->feature_names[i], "feature name %d missing", i);
    for (int part = 0; part < 2; part++) {
        int n = part ? in->n_test : in->n_train;
        const float *x = part ? ds.x_test : ds.x_train, *y = part ? ds.y_test : ds.y_train;
        for (size_t k = 0; k < (size_t)n * (size_t)in->n_inputs; k++)
            FUZZ_CHECK(isfinite(x[k]), "input %zu not finite", k);
        for (int k = 0; k < n; k++)
            FUZZ_CHECK(in->n_classes ? y[k] >= 0 && y[k] < in->n_classes && y[k] == floorf(y[k])
                                     : isfinite(y[k]), "label %g", (double)y[k]);
    }
    ss_dataset_free(&ds);
    return 0;
}
