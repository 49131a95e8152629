/*
 * data_table.c - the rows every dataset kind fills (data_table_t) and the steps all kinds
 * share: the test split, the class subset, the first-N limits and the hand-over of the
 * arrays to the dataset. Internal to the data module; contracts in data_internal.h.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* ---- tables of rows ------------------------------------------------------------------ */

int data_check_memory(double rows, double d, const char *file, const char *what,
                      ss_error_t *err)
{
    double need = rows * (d + 1.0) * (double)sizeof(float);   /* inputs and labels */
    size_t limit = ss_memory_limit();
    if (need <= (double)limit)
        return 0;
    char a[32], b[32];
    ss_error_set(err, SS_EXIT_INPUT, "%s: %s would need %s (%.0f rows x %.0f inputs as "
                 "float32), more than this machine's memory (%s)", file, what,
                 ss_format_bytes(need, a, sizeof a), rows, d,
                 ss_format_bytes((double)limit, b, sizeof b));
    return -1;
}

void data_table_free(data_table_t *t)
{
    free(t->x);
    free(t->y);
    t->x = t->y = NULL;
    t->n = 0;
}

int data_table_alloc(data_table_t *t, size_t rows, int d, const char *file, ss_error_t *err)
{
    if (d <= 0 || rows > (size_t)INT_MAX ||
        (rows > 0 && (size_t)d > SIZE_MAX / sizeof(float) / rows)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: data too large (%zu rows x %d inputs)", file,
                     rows, d);
        return -1;
    }
    if (data_check_memory(rows, (size_t)d, file, "the data", err))
        return -1;
    t->x = ss_alloc_aligned(rows * (size_t)d * sizeof(float));
    t->y = ss_alloc_aligned(rows * sizeof(float));
    t->n = 0;
    t->d = d;
    return 0;
}

/*
 * Shuffle the rows of t in place (Fisher-Yates on the stream SS_STREAM_SPLIT of
 * data_seed) and move the last n_test rows into a new table `test`. The training part
 * keeps its allocation; the row order of both parts is the shuffled order.
 */
static void split_rows(data_table_t *t, data_table_t *test, int n_test, uint64_t data_seed)
{
    ss_rng_t rng;
    ss_rng_seed(&rng, data_seed, SS_STREAM_SPLIT);
    size_t d = (size_t)t->d, row_bytes = d * sizeof(float);
    float *tmp = ss_malloc(row_bytes);
    for (size_t i = (size_t)t->n; i > 1; i--) {
        size_t j = (size_t)ss_rng_below(&rng, i);
        if (j == i - 1)
            continue;
        float *a = t->x + (i - 1) * d, *b = t->x + j * d;
        memcpy(tmp, a, row_bytes);
        memcpy(a, b, row_bytes);
        memcpy(b, tmp, row_bytes);
        float ty = t->y[i - 1];
        t->y[i - 1] = t->y[j];
        t->y[j] = ty;
    }
    free(tmp);

    size_t first = (size_t)(t->n - n_test);
    test->x = ss_alloc_aligned((size_t)n_test * row_bytes);
    test->y = ss_alloc_aligned((size_t)n_test * sizeof(float));
    memcpy(test->x, t->x + first * d, (size_t)n_test * row_bytes);
    memcpy(test->y, t->y + first, (size_t)n_test * sizeof(float));
    test->n = n_test;
    test->d = t->d;
    t->n -= n_test;
}

int data_finish(const ss_dataset_spec_t *spec, const char *file, data_table_t *train,
                data_table_t *test, ss_dataset_t *ds, ss_error_t *err)
{
    if (!test->x) {
        double f = spec->test_fraction;
        if (!(f >= 0.0 && f < 1.0)) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: test_fraction must be in [0, 1), not %g",
                         spec->name, f);
            return -1;
        }
        int n_test = (int)llround((double)train->n * f);
        if (train->n - n_test < 1) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: too few samples (%d) to split off a test set",
                         file, train->n);
            return -1;
        }
        split_rows(train, test, n_test, spec->data_seed);
    }
    if (spec->max_train > 0 && train->n > spec->max_train)
        train->n = spec->max_train;
    if (spec->max_test > 0 && test->n > spec->max_test)
        test->n = spec->max_test;
    if (train->n < 1) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no training samples", file);
        return -1;
    }
    ds->info.n_inputs = train->d;
    ds->info.n_train = train->n;
    ds->info.n_test = test->n;
    ds->x_train = train->x;
    ds->y_train = train->y;
    ds->x_test = test->x;
    ds->y_test = test->y;
    train->x = train->y = test->x = test->y = NULL;
    train->n = test->n = 0;
    return 0;
}

/* ---- classes ------------------------------------------------------------------------- */

int data_class_map(const ss_dataset_spec_t *spec, int map[SS_MAX_CLASSES], ss_error_t *err)
{
    int k = spec->n_class_subset;
    if (k < 0 || k > SS_MAX_CLASSES) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: %d classes listed (at most %d)",
                     spec->name, k, SS_MAX_CLASSES);
        return -1;
    }
    for (int c = 0; c < SS_MAX_CLASSES; c++)
        map[c] = k ? -1 : c;
    for (int i = 0; i < k; i++) {
        int c = spec->class_subset[i];
        if (c < 0 || c >= SS_MAX_CLASSES) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: class %d out of range (0..%d)",
                         spec->name, c, SS_MAX_CLASSES - 1);
            return -1;
        }
        if (map[c] >= 0) {
            ss_error_set(err, SS_EXIT_INPUT, "dataset %s: class %d listed twice", spec->name, c);
            return -1;
        }
        map[c] = i;
    }
    return 0;
}

/* Keep the rows whose class maps to a new index, relabelled; order is preserved. */
static void filter_rows(data_table_t *t, const int map[SS_MAX_CLASSES])
{
    size_t d = (size_t)t->d;
    int kept = 0;
    for (int i = 0; i < t->n; i++) {
        int c = map[(int)t->y[i]];
        if (c < 0)
            continue;
        if (kept != i)
            memmove(t->x + (size_t)kept * d, t->x + (size_t)i * d, d * sizeof(float));
        t->y[kept++] = (float)c;
    }
    t->n = kept;
}

int data_apply_classes(const ss_dataset_spec_t *spec, const char *file, data_table_t *train,
                       data_table_t *test, int *n_classes, ss_error_t *err)
{
    if (spec->task != SS_TASK_CLASSIFICATION) {
        *n_classes = 0;
        return 0;
    }
    int map[SS_MAX_CLASSES];
    if (data_class_map(spec, map, err))
        return -1;
    int k = spec->n_class_subset;
    if (k > 0) {
        filter_rows(train, map);
        if (test->x)
            filter_rows(test, map);
        int count[SS_MAX_CLASSES] = {0};
        for (int i = 0; i < train->n; i++)
            count[(int)train->y[i]]++;
        for (int i = 0; i < k; i++)
            if (count[i] == 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s: class %d does not occur in the data",
                             file, spec->class_subset[i]);
                return -1;
            }
        *n_classes = k;
    } else {
        int top = -1;
        for (int i = 0; i < train->n; i++)
            if ((int)train->y[i] > top)
                top = (int)train->y[i];
        for (int i = 0; test->x && i < test->n; i++)
            if ((int)test->y[i] > top)
                top = (int)test->y[i];
        *n_classes = top + 1;
    }
    if (*n_classes < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: classification needs at least 2 classes, found %d",
                     file, *n_classes);
        return -1;
    }
    return 0;
}
