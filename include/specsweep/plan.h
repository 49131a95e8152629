/*
 * plan.h - a sweep's plan, without running it (the command line: README.md).
 */
#ifndef SPECSWEEP_PLAN_H
#define SPECSWEEP_PLAN_H

/* `specsweep list`: every run of the sweep, one line each: its status in the log beside
   `output` (NULL: the sweep file's), "pending", or "skipped" for a retraining run whose
   parent has no ranking to give; returns the exit code (SS_EXIT_*). */
int ss_plan_list(const char *sweep_path, const char *output);

/* `specsweep validate`: parse the sweep, load and check every dataset, print the plan;
   returns the exit code. */
int ss_plan_validate(const char *sweep_path);

#endif
