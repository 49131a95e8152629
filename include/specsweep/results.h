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
 * Payload (records and MPI messages alike): u32 payload version (1) | u32 field count |
 * fields, each  u8 type | u8 name length | name | u64 data length | data.  Types:
 * 1 int64, 2 float64 (IEEE bits), 3 UTF-8 string (no NUL), 4 int64[], 5 float64[],
 * 6 string list (u32 count, then u32 length + bytes per string); all little-endian.
 * Training values are stored as float64 fields "training.<key>" (every SS_KEY_*), so a
 * new key is recorded automatically; unknown fields are skipped when reading. A record
 * with a valid CRC whose payload version is newer than this build is an error (the log
 * was written by a newer specsweep), never a torn record.
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
    ss_dataset_info_t *datasets;
    int n_results;
    ss_result_t *results;            /* in commit order (a run committed again keeps the
                                        position of its first record) */
    long valid_bytes;                /* length of the intact prefix */
    int torn;                        /* 1 if bytes after valid_bytes were ignored */

    /* Private bookkeeping of the ss_log_contents_* functions: start from a zeroed struct
       (or one filled by ss_log_read). */
    int results_cap, datasets_cap;
    int *run_index;                  /* hash table: result index + 1, 0 = empty slot */
    int run_index_cap, run_index_n;  /* table size (power of 2), results it covers */
} ss_log_contents_t;

/* Read a log into *c (which the caller frees with ss_log_contents_free, also after a
   failure). A missing or empty file gives empty contents and returns 0; a file holding
   only a prefix of the file magic (a crash while the log was created) is torn at 0.
   A file that is not a specsweep log returns -1 (SS_EXIT_INPUT, naming the file); so
   does a log written by a newer specsweep. A torn or corrupt record (short, bad record
   magic, length past the end of the file, CRC mismatch, or a payload that does not
   decode) ends the log: torn = 1 and valid_bytes = its offset. When a run id was
   committed twice the last record wins. */
int ss_log_read(const char *log_path, ss_log_contents_t *c, ss_error_t *err);
/* Frees everything and zeroes *c; accepts a zeroed struct. */
void ss_log_contents_free(ss_log_contents_t *c);
/* Add a copy of a result / dataset metadata to contents (used by the coordinator). A
   result whose run id is already present replaces it (likewise a dataset's name). */
void ss_log_contents_add_result(ss_log_contents_t *c, const ss_result_t *r);
void ss_log_contents_add_dataset(ss_log_contents_t *c, const ss_dataset_info_t *ds);
/* The result of run `run_id`, or NULL (hashed lookup). The pointer stays valid until the
   next add or free. */
const ss_result_t *ss_log_contents_find(ss_log_contents_t *c, const char *run_id);
/* The metadata of dataset `name`, or NULL. */
const ss_dataset_info_t *ss_log_contents_find_dataset(const ss_log_contents_t *c,
                                                 const char *name);

typedef struct {
    int fd;
    char *path;
    long size;                       /* bytes of intact records; a failed append is cut
                                        back to this so no torn record precedes later
                                        ones */
} ss_log_t;

/* Open (create, with its directory) the log for appending; truncates to `valid_bytes`
   first (drops a torn tail) and writes the file magic if the log is new or
   valid_bytes < 8. Refuses (SS_EXIT_INPUT) a non-empty file that does not start with the
   log magic, and (SS_EXIT_RUNTIME) a file shorter than valid_bytes. On failure *log is
   left closed (fd -1, path NULL). */
int ss_log_open(ss_log_t *log, const char *log_path, long valid_bytes, ss_error_t *err);
/* Close and free; accepts a zeroed or closed log. */
void ss_log_close(ss_log_t *log);
/* Append one record with one write and fsync. The record is decoded before it is
   written, so a value the reader would reject (a status or kind outside its enum, a
   negative count, a NULL array with a non-zero count) is refused instead of ending the
   log. On failure (-1, SS_EXIT_RUNTIME naming the file and the system error) the file is
   cut back to its previous length, so the record is simply not committed. */
int ss_log_append_header(ss_log_t *log, const char *sweep_name, const char *yaml_text,
                         const char *created_utc, ss_error_t *err);
int ss_log_append_dataset(ss_log_t *log, const ss_dataset_info_t *ds, ss_error_t *err);
int ss_log_append_result(ss_log_t *log, const ss_result_t *r, ss_error_t *err);

/* Serialise a result into a malloc'd buffer (the log payload; also the MPI message; the
   caller frees *buf). Returns -1 (and *buf NULL) if the result is inconsistent: a status
   outside ss_status_t, a negative count, or a NULL array with a non-zero count. */
int ss_result_pack(const ss_result_t *r, unsigned char **buf, size_t *len);
/* Decode a payload into *r (overwritten: free an earlier result first; the caller frees
   the new one). Every length is checked against the buffer: a corrupt or truncated payload
   returns -1 (SS_EXIT_RUNTIME, what is wrong) with *r zeroed. */
int ss_result_unpack(const unsigned char *buf, size_t len, ss_result_t *r, ss_error_t *err);

/*
 * Write the snapshot of DESIGN section 4 for sweep `sw` (its expanded runs and cells)
 * from the log contents `c`, atomically at h5_path (its directory is created if needed).
 * /runs holds the results whose run id is one of `runs`, in the order of `runs`; /summary
 * holds every cell with at least one "ok" run. Besides DESIGN section 4, /runs groups
 * carry a cell_id attribute, and /summary groups carry cell_id, n_diverged, n_failed
 * attributes and test_loss float64[n], topk int64[K], randomk_accuracy float64[n, K]
 * datasets. String attributes are variable-length UTF-8; integer attributes (and the
 * integer training keys) int64, other numbers float64. Groups track link creation order
 * (sweep order). On failure (-1,
 * SS_EXIT_RUNTIME naming the step that failed) the temporary file is removed and the old
 * h5_path is untouched.
 */
int ss_snapshot_write(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                      int n_runs, const ss_log_contents_t *c, ss_error_t *err);

/* Refuse a second writer: an exclusive non-blocking flock on "RESULTS.h5.lock" (created,
   with its directory, if needed; our pid is written into it). The lock goes away with the
   process (even on kill -9); the descriptor is close-on-exec. A held lock returns -1 with
   SS_EXIT_INPUT "RESULTS.h5 is in use by another specsweep run (lock file ..., held by
   pid N)". */
int ss_lock_acquire(const char *h5_path, int *lock_fd, ss_error_t *err);
void ss_lock_release(int *lock_fd);

/* Print the readable summary table of a results file: per /summary cell (found by its
   attributes) the dataset, swept keys, realizations, test accuracy mean +- std (MAE for
   regression), the Spearman correlation of the mean |eigenvalue| with relevance_truth
   where the dataset has one, and the 5 most relevant inputs; then run totals. A missing
   file, a file that is not a specsweep results file or has another format_version
   returns -1 with SS_EXIT_INPUT. */
int ss_summary_print(const char *h5_path, FILE *out, ss_error_t *err);

#endif
