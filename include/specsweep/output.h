/*
 * output.h - the results files of a sweep on disk, as the writer holds them: RESULTS.h5
 * (the snapshot), RESULTS.h5.log (the commit log) and RESULTS.h5.lock.
 *
 * Taking the output checks that the paths are specsweep's to write, takes the lock,
 * reads the log and reconciles it with the snapshot; committing appends one result. The
 * promise (docs/ARCHITECTURE.md, "The life of a run"): a committed run is never lost, and
 * nothing specsweep did not write is moved or overwritten.
 */
#ifndef SPECSWEEP_OUTPUT_H
#define SPECSWEEP_OUTPUT_H

#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "specsweep/log.h"

typedef struct {
    int fresh;      /* start over: rotate the old files aside (*.old, *.old.1, ...) */
    int salvage;    /* keep every intact record of a damaged log, and give back to the log
                       the runs only the snapshot still holds */
} ss_output_flags_t;

typedef struct {
    const char *h5_path;
    char *log_path;
    int lock_fd;
    ss_log_t log;                 /* open for appending after ss_output_start */
    ss_log_contents_t contents;   /* what the log holds */
    ss_log_contents_t recovered;  /* runs read back from the snapshot, committed by
                                     ss_output_start */
    char note[2048];              /* what taking the output did besides reading (a
                                     salvage, a rotation), for the user; "" if nothing */
} ss_output_t;

/*
 * Take the results files at h5_path for the sweep sw (whose runs are runs[0..n_runs)):
 *  - the results path and the log must be regular files or absent; anything else (a
 *    directory, a device, a FIFO) is refused;
 *  - the writer lock (a second writer is refused, SS_EXIT_INPUT);
 *  - temporary snapshots and log rewrites left by a writer that died are removed;
 *  - the log is read. With flags->fresh an existing log and results file are rotated to
 *    the first free "*.old", "*.old.1", ... names, and only if they are specsweep's own
 *    (a log with the log magic, a results file with specsweep's format attribute);
 *  - without fresh, a log of another sweep file (an edited sweep file) is refused, and a
 *    results file without a log is refused;
 *  - a damaged log (ss_log_read: damage followed by intact records) is refused, naming the
 *    file, the byte offset and the intact records after it, and nothing is changed;
 *    with flags->salvage the intact records are kept (ss_log_salvage);
 *  - runs the snapshot holds but the log lost (damage, a log replaced by an older copy)
 *    are refused likewise, since rebuilding the snapshot would drop them; with
 *    flags->salvage they are read back from the snapshot (ss_snapshot_recover) and
 *    committed again by ss_output_start.
 * Refusals are SS_EXIT_INPUT with nothing written; I/O failures SS_EXIT_RUNTIME.
 * Returns 0 or -1; free *o with ss_output_close in either case.
 */
int ss_output_take(ss_output_t *o, const char *h5_path, const ss_sweep_t *sw,
                   const ss_run_t *runs, int n_runs, const ss_output_flags_t *flags,
                   ss_error_t *err);

/* Open the log for appending and commit what it lacks: the header (sweep name and text),
   the description of every dataset in datasets[0..n_datasets), and the runs recovered
   from the snapshot. 0, or -1 with err (SS_EXIT_RUNTIME). */
int ss_output_start(ss_output_t *o, const ss_sweep_t *sw, const ss_dataset_info_t *datasets,
                    int n_datasets, ss_error_t *err);

/* The commit point of a run: append r to the log (fsync'd), then add it to contents.
   0, or -1 with err (the run is then not committed). */
int ss_output_commit(ss_output_t *o, const ss_result_t *r, ss_error_t *err);

/* Close the log, release the lock, free everything; accepts a zeroed or half-taken
   output. */
void ss_output_close(ss_output_t *o);

#endif
