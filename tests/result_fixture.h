/* result_fixture.h - results, datasets and files for the tests of the run result, the
   log and the snapshot. */
#ifndef SS_RESULT_FIXTURE_H
#define SS_RESULT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include "specsweep/data.h"
#include "specsweep/result.h"

void default_training(ss_training_t *t);
void make_result(ss_result_t *r, const char *run_id, const char *dataset, int64_t seed, int n_inputs, int n_epochs, int n_topk, ss_status_t status, double v);
int same_bits(const double *a, const double *b, int n);
int results_equal(const ss_result_t *a, const ss_result_t *b);
void make_dataset(ss_dataset_info_t *ds, const char *name, ss_kind_t kind, int n_inputs, int n_classes, int truth, int names, int image);
void free_dataset(ss_dataset_info_t *ds);
long file_size(const char *path);
unsigned char *slurp(const char *path, size_t *n);
void spit(const char *path, const void *buf, size_t n);
const char *tmp_path(const char *name);

/* Bytes of ss_result_t that field f occupies (an array's count excluded). */
size_t field_bytes(const ss_result_field_t *f);
/* A result whose every field, found through ss_result_fields[], holds a value of its own
   (task regression, status diverged; 5 inputs, 3 epochs, 2 k values). */
void fill_all_fields(ss_result_t *r);
/* Field f of a and b holds the same bits (arrays: the same contents). */
int field_equal(const ss_result_t *a, const ss_result_t *b, const ss_result_field_t *f);

#endif
