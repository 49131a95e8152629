/*
 * engine.h - run a whole sweep: one process or one MPI job (docs/ARCHITECTURE.md, "The
 * life of a run"; the command line: README.md).
 */
#ifndef SPECSWEEP_ENGINE_H
#define SPECSWEEP_ENGINE_H

#include "specsweep/util.h"

typedef struct {
    const char *sweep_path;
    const char *output;        /* NULL: the sweep file's `output` */
    int ranks_per_run;         /* 0: the sweep file's parallel.ranks_per_run */
    int fresh;                 /* start over; earlier results are rotated to *.old */
    int salvage;               /* keep every intact record of a damaged log (output.h) */
    double stop_deadline;      /* seconds granted after a stop signal (default 30) */
    double snapshot_interval;  /* seconds between snapshots (default 30) */
} ss_engine_opts_t;

/* `specsweep run`: returns the process exit code (SS_EXIT_*); rank 0 prints. */
int ss_engine_run(const ss_engine_opts_t *opts);

#endif
