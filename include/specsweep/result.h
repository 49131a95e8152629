/*
 * result.h - the result of one run: what training produces and what the results log, the
 * MPI messages and /runs/<run_id> of the results file hold (docs/FORMATS.md).
 *
 * ss_result_fields[] lists every field once: its name, its kind and where it lives in
 * ss_result_t. The record codec (record.h), the log contents' copies, ss_result_free,
 * ss_result_check and the HDF5 writer of /runs (snapshot.h) are all driven by that table,
 * so a new result field is one member here plus one table entry in result.c (see
 * docs/ARCHITECTURE.md, "Adding a result field").
 */
#ifndef SPECSWEEP_RESULT_H
#define SPECSWEEP_RESULT_H

#include <stddef.h>
#include <stdint.h>
#include "specsweep/config.h"

typedef enum { SS_STATUS_OK = 0, SS_STATUS_DIVERGED = 1, SS_STATUS_FAILED = 2 } ss_status_t;

/* "ok", "diverged", "failed" ("unknown" outside the enum). */
const char *ss_status_name(ss_status_t s);
/* The status named `name`, or -1. */
int ss_status_lookup(const char *name);
/* "classification", "regression" ("unknown" outside the enum). */
const char *ss_task_name(ss_task_t t);
/* The task named `name`, or -1. */
int ss_task_lookup(const char *name);

/* One post-hoc relevance method's outcome in a run (attrib.h; sweep file:
   relevance.methods). The values are the global relevance per input (fourier: per
   Fourier coefficient). */
typedef struct {
    int method;                /* ss_attrib_method_t */
    int skipped;               /* 1: no meaning for this network (spectral on dense) */
    int n_values;
    double *values;            /* n_values */
    int n_samples;             /* explained samples */
    double seconds;            /* wall time on the run's group */
    double forward, backward;  /* passes through the network, in samples */
    double check_mean, check_max, check_scale, absorbed_mean; /* attrib.h: the method's
                                  completeness / conservation check */
    int n_topk;
    double *topk_accuracy;     /* n_topk, per k of the run's topk: accuracy (MAE) with only
                                  the method's top-k inputs (fourier: frequencies) */
} ss_method_result_t;

/* Method ids are below this (attrib_settings.h: SS_ATTRIB_N_METHODS). */
#define SS_RESULT_MAX_METHODS 32

/* The numbers of an ss_method_result_t other than its arrays, in the order they are
   recorded (record.h: "relevance.<method>.info"). */
#define SS_METHOD_INFO_COUNT 9

/* Everything a finished run produces. Arrays are malloc'd and owned by the result. */
typedef struct {
    unsigned absent;           /* bit k: field k of ss_result_fields (an SS_FIELD_OPTIONAL
                                  one) was not computed for this run; it is then neither
                                  recorded nor written to /runs, and reads back absent */
    char run_id[192];
    char dataset[SS_NAME_MAX];
    ss_task_t task;            /* of its dataset: names the metrics below */
    int64_t seed;
    ss_training_t training;
    int ranks;                 /* ranks_per_run it was trained with */
    ss_status_t status;
    char message[256];
    double train_seconds, samples_per_second;
    double test_accuracy;      /* classification; NaN for regression */
    double test_loss;          /* cross-entropy, or MAE for regression */
    int n_inputs;
    double *eigenvalues;       /* signed relevance, n_inputs */
    double *eigenvalues_raw;   /* lambda_in, n_inputs */
    int n_epochs;              /* epochs actually recorded (fewer if diverged) */
    double *train_loss;        /* n_epochs: mean data loss + L2 penalty */
    double *val_metric;        /* n_epochs: val accuracy, or val loss for regression */
    int n_topk;
    int64_t *topk;             /* k values that fit the inputs */
    double *topk_accuracy, *randomk_accuracy;   /* n_topk (MAE for regression) */
    int n_methods;
    ss_method_result_t *methods;  /* the post-hoc methods run, in method order */
    int n_trainable;           /* parameters the optimizer moved (ss_net_t.n_trainable) */
    /* telescopic retraction (model.retract): the compact network's test metrics, its
       layer widths (inputs first, outputs last), and the histogram of its first layer's
       weights (the equivalent direct-space weights of the inputs) */
    double retracted_test_accuracy;  /* NaN for regression */
    double retracted_test_loss;      /* cross-entropy, or MAE for regression */
    int n_retracted_shape;
    int64_t *retracted_shape;
    int n_histogram;
    int64_t *weights_histogram;      /* n_histogram = model.histogram_bins counts */
    int n_histogram_edges;
    double *weights_histogram_edges; /* n_histogram + 1 edges over [-range, range] */
    /* a retraining run (grid.h): the inputs it trained on, in increasing order */
    int n_retrain_inputs;
    int64_t *retrain_inputs;
} ss_result_t;

/* ---- the field table ------------------------------------------------------------------ */

typedef enum {
    SS_FIELD_STRING,     /* char[size], NUL-terminated */
    SS_FIELD_I64,        /* int64_t */
    SS_FIELD_INT,        /* int, at least 0 */
    SS_FIELD_F64,        /* double */
    SS_FIELD_STATUS,     /* ss_status_t, recorded by name */
    SS_FIELD_TASK,       /* ss_task_t, recorded by name */
    SS_FIELD_TRAINING,   /* ss_training_t: one float64 per training key, recorded as
                            "training.<key>" and written as one attribute per key */
    SS_FIELD_F64_ARRAY,  /* double *, length in the int at count_offset */
    SS_FIELD_I64_ARRAY,  /* int64_t *, length in the int at count_offset */
    SS_FIELD_METHODS     /* ss_method_result_t *, count at count_offset: recorded as
                            "relevance.<method>" fields, written as /runs/<id>/relevance */
} ss_field_kind_t;

enum {
    SS_FIELD_OPTIONAL = 1u << 0,  /* may be absent from a result (ss_result_t.absent): not
                                     computed for the run, or a record written by an older
                                     specsweep, whose reader then fills it in or leaves it
                                     absent (the entry says which) */
    SS_FIELD_NOT_IN_H5 = 1u << 1  /* not an attribute or dataset of /runs/<run_id> (the
                                     run id is the group's name) */
};

typedef struct {
    const char *name;             /* record field name; /runs attribute or dataset name */
    ss_field_kind_t kind;
    size_t offset;                /* of the member in ss_result_t */
    size_t size;                  /* SS_FIELD_STRING: the buffer's size */
    size_t count_offset;          /* arrays: of the int count (shared by arrays of one
                                     length, which must then agree) */
    const char *h5_name;          /* its /runs name when that differs, or NULL */
    const char *h5_name_regression; /* its /runs name for regression runs, or NULL */
    unsigned flags;               /* SS_FIELD_* */
} ss_result_field_t;

/* Every field of ss_result_t, in the order records and /runs groups are written. */
extern const ss_result_field_t ss_result_fields[];
extern const int ss_result_n_fields;

/* The name of field f in /runs/<run_id> for a result of this task. */
const char *ss_result_field_h5_name(const ss_result_field_t *f, ss_task_t task);

/* The bit in ss_result_t.absent of the field whose member is at byte `offset` of
   ss_result_t (SS_RESULT_BIT(member)), or 0 if no field is there. */
unsigned ss_result_field_bit(size_t offset);
#define SS_RESULT_BIT(member) ss_result_field_bit(offsetof(ss_result_t, member))
/* 1 if field k of the table is absent from r (only optional fields can be). */
int ss_result_field_absent(const ss_result_t *r, int k);

/* ---- whole results ---------------------------------------------------------------------- */

/* Frees the arrays and zeroes *r; accepts a zeroed result. */
void ss_result_free(ss_result_t *r);
/* The numbers of m other than its arrays into info[SS_METHOD_INFO_COUNT], and back. */
void ss_method_result_info(const ss_method_result_t *m, double *info);
void ss_method_result_set_info(ss_method_result_t *m, const double *info);
/* Frees m's arrays and zeroes it; accepts a zeroed one. */
void ss_method_result_free(ss_method_result_t *m);
/* The entry of method `method` in r, or NULL. */
const ss_method_result_t *ss_result_method(const ss_result_t *r, int method);

/* Free the arrays of *r and set them NULL, keeping their counts: a lean result, the
   scalars of a run whose arrays stay in the results log (log.h). */
void ss_result_drop_arrays(ss_result_t *r);
/* A deep copy of *src into *dst (overwritten; the caller frees it). */
void ss_result_copy(ss_result_t *dst, const ss_result_t *src);
/* 1 if *r can be recorded and read back: status and task inside their enums, no
   negative count, no NULL array with a non-zero count. Else 0. */
int ss_result_check(const ss_result_t *r);

#endif
