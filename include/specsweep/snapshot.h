/*
 * snapshot.h - the HDF5 results file: a snapshot of the commit log (log.h), written
 * whole and atomically. Its layout is docs/FORMATS.md, "The results file".
 *
 * The file is written as "RESULTS.h5.tmp.<pid>", closed, fsync'd and renamed over the old
 * one, then the directory is fsync'd: the path always holds a complete, closed, readable
 * file, and a crash at any moment leaves either the old snapshot or the new one.
 */
#ifndef SPECSWEEP_SNAPSHOT_H
#define SPECSWEEP_SNAPSHOT_H

#include <hdf5.h>
#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "specsweep/log.h"

/* The results file's format_version: 2 since the post-hoc relevance methods and the
   cells' cell_index (docs/FORMATS.md); files of version 1 read the same way. */
#define SS_FORMAT_VERSION 2
#define SS_FORMAT_VERSION_OLDEST 1

/*
 * Write the snapshot of sweep `sw` (its expanded runs and cells) from the log contents
 * `c` (lean contents: the arrays are read back from the log one run at a time, so memory
 * does not grow with them), atomically at h5_path (its directory is created if needed). /runs holds the
 * results whose run id is one of `runs`, in the order of `runs`; /summary holds every
 * cell with at least one "ok" run (statistics: cell.h). Besides the fields of the result
 * table (result.h), /runs groups carry a cell_id attribute; /summary groups carry
 * dataset, cell_id, swept_keys, the swept keys, n_realizations, n_diverged, n_failed.
 * String attributes are variable-length UTF-8; integer attributes (and the integer
 * training keys) int64, other numbers float64. Groups track link creation order (sweep
 * order). Returns 0; on failure -1 (SS_EXIT_RUNTIME naming the step that failed), the
 * temporary file removed and the old h5_path untouched.
 */
int ss_snapshot_write(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                      int n_runs, ss_log_contents_t *c, ss_error_t *err);

/*
 * Bring the snapshot at h5_path, written before by ss_snapshot_write or this function for
 * the same sweep and log, up to date with the runs changed[0..n_changed) (indices into
 * runs: runs committed since): their /runs groups are appended (or replaced), and the
 * /summary cells they belong to are written again. The same atomic publication as
 * ss_snapshot_write (a copy of the file is updated, fsync'd and renamed over it), at a
 * cost that grows with the changed runs and their cells, not with the whole study
 * (apart from the copy). /runs then lists runs in commit order and /summary cells in the
 * order they were last written (readers find both by their attributes). Replaced groups
 * leave unused bytes in the file: *garbage grows by an estimate of them, so that the
 * caller can write the file whole again when they matter. Returns as ss_snapshot_write.
 */
int ss_snapshot_update(const char *h5_path, const ss_sweep_t *sw, const ss_run_t *runs,
                       int n_runs, ss_log_contents_t *c, const int *changed, int n_changed,
                       long *garbage, ss_error_t *err);

/*
 * A snapshot written by a thread of its own, so that rank 0 goes on training and
 * coordinating meanwhile: ss_snapshot_start copies what the write needs and may change
 * meanwhile (the log contents, the changed runs) and starts the thread, which does what
 * ss_snapshot_write (changed NULL) or ss_snapshot_update does; ss_snapshot_done tells
 * whether it has finished; ss_snapshot_finish waits for it, returns its result (0 or -1
 * with err), hands back the update's garbage estimate and the seconds it took, and frees
 * the job (NULL is then stored in *job). sw and runs must stay valid and unchanged until
 * then. HDF5 calls of
 * other threads wait meanwhile (h5io.h). -1 from start (err set, *job NULL) if no thread
 * could be started: the caller writes the snapshot itself.
 */
typedef struct ss_snapshot_job ss_snapshot_job_t;
int ss_snapshot_start(ss_snapshot_job_t **job, const char *h5_path, const ss_sweep_t *sw,
                      const ss_run_t *runs, int n_runs, const ss_log_contents_t *c,
                      const int *changed, int n_changed, long garbage, ss_error_t *err);
int ss_snapshot_done(const ss_snapshot_job_t *job);
int ss_snapshot_finish(ss_snapshot_job_t **job, long *garbage, double *seconds,
                       ss_error_t *err);

/* Shut the HDF5 library down at the end of a process that called H5dont_atexit() first
   (main.c does): cleanly, unless a snapshot failed to close (a full disk), which leaves a
   half-closed file in the library that its shutdown would crash on; it is then abandoned,
   the temporary file already removed, and the process exits normally. */
void ss_snapshot_shutdown(void);

/* Open a results file read-only after checking that it is one: a regular file with
   format = "specsweep-results" and this format_version. Returns the file (H5Fclose it)
   or -1 with err (SS_EXIT_INPUT naming the file and what is wrong). HDF5's own error
   printing should be silenced by the caller (ss_h5_quiet). */
hid_t ss_snapshot_open(const char *h5_path, ss_error_t *err);

/* The ids of the runs in /runs of a results file, in file order (free them with
   ss_h5_free_strings). Returns 0, or -1 with err if it is not a readable results file. */
int ss_snapshot_run_ids(const char *h5_path, char ***ids, long *n, ss_error_t *err);

/* Read back into c what a results file holds and c lacks: the description of every
   dataset in /datasets, and the results of the runs ids[0..n) from /runs, each field of
   the result table from its /runs name (ss_result_field_h5_name). A run already in c, or
   one whose group lacks a field or does not pass ss_result_check, is skipped. Returns
   the number of results added, or -1 with err if the file cannot be read. The inverse
   of ss_snapshot_write for /datasets and /runs; used to give back to a damaged log the
   runs its snapshot still holds. */
int ss_snapshot_recover(const char *h5_path, char *const *ids, long n, ss_log_contents_t *c,
                        ss_error_t *err);

#endif
