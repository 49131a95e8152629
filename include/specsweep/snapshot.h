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

#include "specsweep/config.h"
#include "specsweep/log.h"

#define SS_FORMAT_VERSION 1

/*
 * Write the snapshot of sweep `sw` (its expanded runs and cells) from the log contents
 * `c`, atomically at h5_path (its directory is created if needed). /runs holds the
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
                      int n_runs, const ss_log_contents_t *c, ss_error_t *err);

#endif
