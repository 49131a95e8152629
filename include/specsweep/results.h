/*
 * results.h - durability (DESIGN sections 4 and 6): the commit log, the HDF5 snapshot,
 * the writer lock, and the summary table.
 *
 * The commit point of a run is one record appended to RESULTS.h5.log and fsync'd.
 * Log layout: the 8 bytes "SSLOG001", then records
 *     u32 magic 0x53535243 ("SSRC") | u32 type | u64 payload length | payload | u32 CRC-32
 * (little-endian; the CRC covers type, length and payload). Types: 1 header (sweep name,
 * sweep YAML text, creation time), 2 dataset metadata, 3 run result. A torn or corrupt
 * record ends the log: it and everything after it are ignored (and truncated away when
 * the log is next opened for appending), so that run is simply done again.
 *
 * RESULTS.h5 is rebuilt from the log contents into "RESULTS.h5.tmp.<pid>", closed,
 * fsync'd and renamed over the old file, then the directory is fsync'd: the path always
 * holds a complete, closed, readable file.
 */
#ifndef SPECSWEEP_RESULTS_H
#define SPECSWEEP_RESULTS_H

#include <stdio.h>
#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/train.h"

#define SS_FORMAT_VERSION 1

/* What a log holds. Datasets carry metadata only (x/y arrays NULL). */
typedef struct {
    int has_header;
    char sweep_name[SS_NAME_MAX];
    char *yaml_text;
    char created_utc[32];
    int n_datasets;
    ss_dataset_t *datasets;
    int n_results;
    ss_result_t *results;            /* in commit order */
    long valid_bytes;                /* length of the intact prefix */
    int torn;                        /* 1 if bytes after valid_bytes were ignored */
} ss_log_contents_t;

/* Read a log. A missing file gives empty contents and returns 0. A file that is not a
   specsweep log returns -1 (SS_EXIT_INPUT, naming the file). */
int ss_log_read(const char *log_path, ss_log_contents_t *c, ss_error_t *err);
void ss_log_contents_free(ss_log_contents_t *c);
/* Add a copy of a result / dataset metadata to contents (used by the coordinator). */
void ss_log_contents_add_result(ss_log_contents_t *c, const ss_result_t *r);
void ss_log_contents_add_dataset(ss_log_contents_t *c, const ss_dataset_t *ds);

typedef struct {
    int fd;
    char *path;
} ss_log_t;

/* Open (create) the log for appending; truncates to `valid_bytes` first (drops a torn
   tail) and writes the file magic if the log is new. */
int ss_log_open(ss_log_t *log, const char *log_path, long valid_bytes, ss_error_t *err);
void ss_log_close(ss_log_t *log);
/* Append one record and fsync. */
int ss_log_append_header(ss_log_t *log, const char *sweep_name, const char *yaml_text,
                         const char *created_utc, ss_error_t *err);
int ss_log_append_dataset(ss_log_t *log, const ss_dataset_t *ds, ss_error_t *err);
int ss_log_append_result(ss_log_t *log, const ss_result_t *r, ss_error_t *err);

/* Serialise a result into a malloc'd buffer (the log payload; also the MPI message). */
int ss_result_pack(const ss_result_t *r, unsigned char **buf, size_t *len);
int ss_result_unpack(const unsigned char *buf, size_t len, ss_result_t *r, ss_error_t *err);

/*
 * Write the snapshot of DESIGN section 4 for sweep `sw` (its expanded runs and cells)
 * from the log contents `c`, atomically at h5_path.
 */
int ss_snapshot_write(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                      int n_runs, const ss_log_contents_t *c, ss_error_t *err);

/* Refuse a second writer: an exclusive non-blocking lock on "RESULTS.h5.lock". The lock
   goes away with the process (even on kill -9). */
int ss_lock_acquire(const char *h5_path, int *lock_fd, ss_error_t *err);
void ss_lock_release(int *lock_fd);

/* Print the readable summary table of a results file (mean +- std accuracy per cell, the
   most relevant inputs). */
int ss_summary_print(const char *h5_path, FILE *out, ss_error_t *err);

#endif
