/*
 * h5io.h - small HDF5 helpers shared by the modules that read or write HDF5 files (the
 * dataset loader, the results snapshot, the summary): silencing HDF5's own error
 * printing, the most specific message of its error stack, file access without HDF5's
 * file locks, and checked readers and writers of attributes and datasets.
 *
 * Readers return NULL / -1 when the object is absent or of another type and never print.
 * Writers take an ss_h5w_t, which records the first failing step (with HDF5's message) so
 * that a whole sequence of writes can be checked once, redis-style, at the end.
 */
#ifndef SPECSWEEP_H5IO_H
#define SPECSWEEP_H5IO_H

#include <hdf5.h>
#include <stdint.h>

/* HDF5's automatic error printing, saved by ss_h5_quiet and restored by ss_h5_loud. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} ss_h5_quiet_t;

/* Silence HDF5's error printing until ss_h5_loud(q); calls nest like a stack. The pair
   also holds the process's HDF5 lock: the library is not built thread-safe and a
   snapshot may be written by a thread of its own, so every use of HDF5 goes between
   them. */
void ss_h5_quiet(ss_h5_quiet_t *q);
void ss_h5_loud(const ss_h5_quiet_t *q);
/* Leave a quiet section without calling HDF5 again: for when the library was left in a
   state that any further call could crash on (a file that failed to close). */
void ss_h5_abandon(const ss_h5_quiet_t *q);

/* The most specific message of the current HDF5 error stack into buf[cap] ("HDF5 error"
   when the stack is empty); clears the stack. */
void ss_h5_detail(char *buf, size_t cap);

/* A file access property list without HDF5's own file locks, which fail on parallel
   file systems without flock support (Lustre, some NFS) and are not needed: specsweep
   writes a private temporary file and renames it, and its own lock excludes a second
   writer. Returns the list (close with H5Pclose) or -1. */
hid_t ss_h5_fapl(void);

/* ---- reading ----------------------------------------------------------------------- */

/* A string attribute (variable or fixed length), malloc'd; NULL if absent or not text. */
char *ss_h5_attr_str(hid_t loc, const char *name);
/* A numeric scalar attribute as double: 0, or -1 if absent or not a number. */
int ss_h5_attr_f64(hid_t loc, const char *name, double *v);
/* An integer scalar attribute, exactly: 0, or -1 if absent or not an integer. */
int ss_h5_attr_i64(hid_t loc, const char *name, int64_t *v);
/* A float attribute of up to `cap` elements into v (converted); returns the element
   count, or -1 if absent, not numbers, or longer than cap. */
int ss_h5_attr_f64v(hid_t loc, const char *name, double *v, int cap);
/* An integer attribute of up to `cap` elements into v; returns the element count, or -1
   if absent, not integers, or longer than cap. */
int ss_h5_attr_i64v(hid_t loc, const char *name, int64_t *v, int cap);
/* A numeric dataset (all its elements, row-major) as doubles, malloc'd, *n elements; NULL
   if absent or unreadable. */
double *ss_h5_read_f64(hid_t loc, const char *name, long *n);
/* An integer dataset (all its elements) as int64, malloc'd, *n elements; NULL if absent,
   unreadable or not integers. */
int64_t *ss_h5_read_i64(hid_t loc, const char *name, long *n);
/* A 1-D variable-length string dataset, malloc'd strings; NULL if absent or of another
   type. Free with ss_h5_free_strings. */
char **ss_h5_read_strings(hid_t loc, const char *name, long *n);
/* Names of the links in group `loc`, in creation order when tracked, else by name.
   Free with ss_h5_free_strings. */
char **ss_h5_link_names(hid_t loc, long *n);
void ss_h5_free_strings(char **v, long n);

/* ---- writing ----------------------------------------------------------------------- */

typedef struct {
    hid_t vlstr;        /* variable-length UTF-8 string type */
    hid_t scalar;       /* scalar dataspace */
    hid_t gcpl;         /* group creation: links tracked in creation order */
    char where[400];    /* the group being written, for messages */
    char step[720];     /* the first step that failed ("" while none did) */
    char detail[400];   /* HDF5's message for it */
} ss_h5w_t;

/* Create the shared types and property lists. 0, or -1 with w->step set. */
int ss_h5w_open(ss_h5w_t *w);
/* Close what ss_h5w_open created; accepts a zeroed or half-opened writer. */
void ss_h5w_close(ss_h5w_t *w);
/* Record a failing step "<what> <where>" (the first one wins) with HDF5's detail;
   returns -1. */
int ss_h5w_fail(ss_h5w_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Group `name` in loc (path: its full name, for messages); creation order tracked when
   ordered. A name that HDF5 would split or resolve ("", "a/b", ".") is refused. Returns
   the group or -1. */
hid_t ss_h5w_group(ss_h5w_t *w, hid_t loc, const char *name, const char *path, int ordered);
/* 1 if `name` is usable as one HDF5 link name. */
int ss_h5_valid_link_name(const char *name);

/* Attributes; each returns 0 or -1 (recorded in w). */
int ss_h5w_attr_str(ss_h5w_t *w, hid_t loc, const char *name, const char *v);
int ss_h5w_attr_i64(ss_h5w_t *w, hid_t loc, const char *name, int64_t v);
int ss_h5w_attr_f64(ss_h5w_t *w, hid_t loc, const char *name, double v);
int ss_h5w_attr_i64v(ss_h5w_t *w, hid_t loc, const char *name, const int64_t *v, int n);
int ss_h5w_attr_f64v(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int n);

/* Contiguous datasets; `v` may be NULL only when the dataset is empty. */
int ss_h5w_f64(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int n);
int ss_h5w_f64_2d(ss_h5w_t *w, hid_t loc, const char *name, const double *v, int rows,
                  int cols);
int ss_h5w_i64(ss_h5w_t *w, hid_t loc, const char *name, const int64_t *v, int n);
int ss_h5w_strings(ss_h5w_t *w, hid_t loc, const char *name, char *const *v, int n);

#endif
