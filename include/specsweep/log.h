/*
 * log.h - the commit log RESULTS.h5.log, what it holds in memory, and the writer lock.
 *
 * The commit point of a run is one record appended to the log and fsync'd: a run counts
 * as done exactly when its record is in the log (docs/ARCHITECTURE.md, "The life of a
 * run"). The HDF5 results file is only a snapshot rebuilt from the log (snapshot.h).
 *
 * File layout: the 8 bytes "SSLOG001", then records
 *     u32 magic 0x53535243 ("SSRC") | u32 type | u64 payload length | payload | u32 CRC-32
 * (little-endian; the CRC covers type, length and payload; payloads: record.h). Types:
 * 1 header (sweep name, sweep YAML text, creation time), 2 dataset description, 3 run
 * result. A torn or corrupt record ends the log: it and everything after it are ignored
 * (and truncated away when the log is next opened for appending), so that run is simply
 * done again. Records of a type this build does not know are intact and skipped.
 */
#ifndef SPECSWEEP_LOG_H
#define SPECSWEEP_LOG_H

#include "specsweep/data.h"
#include "specsweep/record.h"
#include "specsweep/result.h"
#include "specsweep/util.h"

/* Bytes of a log that do not read as records, with intact records after them. */
typedef struct {
    long start, end;                 /* byte offsets, [start, end) */
    int intact_after;                /* intact records after this region; -1: not known
                                        (the scan for them was cut short, see log.c) */
} ss_log_damage_t;

/* What a log holds. Start from a zeroed struct; free with ss_log_contents_free. */
typedef struct {
    int has_header;
    ss_log_header_t header;
    int n_datasets;
    ss_dataset_info_t *datasets;
    int n_results;
    ss_result_t *results;            /* in commit order (a run committed again keeps the
                                        position of its first record, with the last
                                        record's contents) */
    long valid_bytes;                /* end of the last intact record */
    int torn;                        /* 1 if a torn tail after valid_bytes was ignored */
    int n_damage;                    /* damaged regions followed by intact records */
    ss_log_damage_t *damage;         /* in file order */

    long *offsets;                   /* per result: its record's byte offset in the log,
                                        or -1 (added from memory) */
    int lean;                        /* results whose record is in the log keep only
                                        their scalars (ss_log_read_lean); the arrays are
                                        read back by ss_log_contents_load */

    /* private to the ss_log_contents_* functions */
    char *path;                      /* the log, for reading records back (lean) */
    int fd;                          /* open on it once needed, else 0 */
    int results_cap, datasets_cap;
    int *run_index;                  /* hash table over results: index + 1, 0 = empty */
    int run_index_cap;               /* its size, a power of 2 */
} ss_log_contents_t;

/* Read a log into *c (which the caller frees with ss_log_contents_free, also after a
   failure). A missing or empty file gives empty contents and returns 0; a file holding
   only a prefix of the file magic (a crash while the log was created) is torn at 0.
   A file that is not a regular file or not a specsweep log returns -1 (SS_EXIT_INPUT,
   naming the file); so does a log written by a newer specsweep.
   Bytes that do not read as a record (a bad record magic, a length past the end of the
   file, a CRC mismatch, or a payload that does not decode) are damage. The reader finds
   the next intact record by its magic and CRC and goes on: every intact record is read,
   and damaged regions followed by intact records are listed in c->damage (the caller
   decides: see ss_log_salvage). Damage with nothing intact after it is a torn tail (a
   crash during an append): torn = 1, and valid_bytes, the end of the last intact record,
   is where the next append goes. When a run id was committed twice the last record
   wins. A result record without a task (written by specsweep 0.1.0) takes its
   dataset's. */
int ss_log_read(const char *log_path, ss_log_contents_t *c, ss_error_t *err);
/* The same, lean: a result keeps its scalars and counts in memory, its arrays stay in the
   log (its record's offset is kept), so that memory does not grow with the arrays of a
   large study; ss_log_contents_load reads them back. */
int ss_log_read_lean(const char *log_path, ss_log_contents_t *c, ss_error_t *err);
/* The complete result i of c into *out (the caller frees it): a copy, or for a lean
   entry its record read back from the log and decoded. -1 with err (SS_EXIT_RUNTIME) if
   the record is no longer there. */
int ss_log_contents_load(ss_log_contents_t *c, int i, ss_result_t *out, ss_error_t *err);
/* Frees everything and zeroes *c; accepts a zeroed struct. */
void ss_log_contents_free(ss_log_contents_t *c);
/* A deep copy of src into *dst (overwritten; free it with ss_log_contents_free), lean if
   src is, with its own file descriptor: what a snapshot written by another thread reads
   while the log goes on growing. The damage list is not copied. */
void ss_log_contents_clone(ss_log_contents_t *dst, const ss_log_contents_t *src);
/* One line for the user about c's damage: where, how many bytes, how many intact records
   follow ("LOG is damaged: ..."). */
void ss_log_damage_describe(const ss_log_contents_t *c, const char *log_path, char *buf,
                            size_t cap);
/* Set the header (copied). */
void ss_log_contents_set_header(ss_log_contents_t *c, const ss_log_header_t *h);
/* Add a copy of a result / dataset description. A result whose run id is already present
   replaces it (likewise a dataset's name). */
void ss_log_contents_add_result(ss_log_contents_t *c, const ss_result_t *r);
void ss_log_contents_add_dataset(ss_log_contents_t *c, const ss_dataset_info_t *ds);
/* Add a result just appended to the log at byte `offset` (lean contents keep only its
   scalars; see ss_log_read_lean). */
void ss_log_contents_add_committed(ss_log_contents_t *c, const ss_result_t *r, long offset);
/* The result of run `run_id`, or NULL (hashed lookup). The pointer stays valid until the
   next add or free. */
const ss_result_t *ss_log_contents_find(const ss_log_contents_t *c, const char *run_id);
/* The description of dataset `name`, or NULL. */
const ss_dataset_info_t *ss_log_contents_find_dataset(const ss_log_contents_t *c,
                                                      const char *name);

/* Keep every intact record of a damaged log: the damaged regions of c (as read from
   log_path by ss_log_read) are copied to a new file "<log_path>.damaged.<n>" (the first
   n not taken, so earlier salvages are never overwritten) and the log is rewritten
   without them and without a torn tail (a temporary file, fsync'd and renamed over it,
   the directory fsync'd). Returns 0 with *moved_to (malloc'd) naming the damaged-bytes
   file and *c re-read from the rewritten log; -1 with err (SS_EXIT_RUNTIME, the step
   that failed) leaves the log as it was. The runs whose records were damaged are then
   simply not in the log. */
int ss_log_salvage(const char *log_path, ss_log_contents_t *c, char **moved_to,
                   ss_error_t *err);

/* The log open for appending. */
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
int ss_log_append_header(ss_log_t *log, const ss_log_header_t *h, ss_error_t *err);
int ss_log_append_dataset(ss_log_t *log, const ss_dataset_info_t *ds, ss_error_t *err);
int ss_log_append_result(ss_log_t *log, const ss_result_t *r, ss_error_t *err);

/* Refuse a second writer: an exclusive non-blocking flock on "RESULTS.h5.lock" (created,
   with its directory, if needed; our pid is written into it). The lock goes away with the
   process (even on kill -9); the descriptor is close-on-exec. A held lock returns -1 with
   SS_EXIT_INPUT "RESULTS.h5 is in use by another specsweep run (lock file ..., held by
   pid N)". */
int ss_lock_acquire(const char *h5_path, int *lock_fd, ss_error_t *err);
/* Release the lock; accepts -1 and sets *lock_fd to -1. */
void ss_lock_release(int *lock_fd);

#endif
