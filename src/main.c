/* main.c - the command line only: parse arguments, call the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "specsweep/engine.h"
#include "specsweep/plan.h"
#include "specsweep/snapshot.h"
#include "specsweep/summary.h"
#include "specsweep/util.h"

static const char usage[] =
    "usage:\n"
    "  specsweep run SWEEP.yaml [-o RESULTS.h5] [--ranks-per-run G] [--fresh] [--salvage]\n"
    "                [--stop-deadline SECONDS] [--snapshot-interval SECONDS]\n"
    "  specsweep list SWEEP.yaml [-o RESULTS.h5]   expanded runs, done/pending\n"
    "  specsweep validate SWEEP.yaml               parse, load every dataset, print the plan\n"
    "  specsweep summary RESULTS.h5                mean +- std table per cell\n"
    "  specsweep --help | --version\n"
    "\n"
    "`run` trains every run of the sweep (datasets x sweep axes x seeds) and stores the\n"
    "input-layer eigenvalues in one HDF5 file. Start it under `mpirun -np P` or `srun -n P`\n"
    "to spread the runs over P ranks (groups of --ranks-per-run ranks train one run\n"
    "data-parallel). Running the same command again resumes: only missing runs execute.\n"
    "--fresh starts over (the old files are kept as *.old, *.old.1, ...). A damaged log is\n"
    "refused (exit 2, nothing changed); --salvage keeps its intact records and trains again\n"
    "only the runs whose records were damaged. SIGTERM, SIGUSR1 or SIGINT stop\n"
    "handing out runs; runs in progress get --stop-deadline seconds (default 30) to finish.\n"
    "\n"
    "exit codes: 0 done; 1 runtime failure; 2 bad usage or bad input (nothing written);\n"
    "            3 stopped by a signal with work left (run the same command to resume)\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fputs("specsweep: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    fputs(usage, stderr);
    return SS_EXIT_INPUT;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

static int run_command(int argc, char **argv);

int main(int argc, char **argv)
{
    /* HDF5 is shut down by ss_snapshot_shutdown, not at exit: after a failed close (a
       full disk) the library's own shutdown would crash. */
    H5dont_atexit();
    int code = run_command(argc, argv);
    ss_snapshot_shutdown();
    return code;
}

static int run_command(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("%s", "a command is required");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return SS_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("specsweep %s\n", SS_VERSION);
        return SS_EXIT_OK;
    }

    ss_engine_opts_t o = {0};
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_value) {
            o.output = argv[++i];
        } else if (!strcmp(a, "--ranks-per-run") && has_value) {
            char *end;
            long g = strtol(argv[++i], &end, 10);
            if (*end || g < 1 || g > 1 << 20)
                return bad_usage("--ranks-per-run needs a positive integer, got '%s'", argv[i]);
            o.ranks_per_run = (int)g;
        } else if (!strcmp(a, "--fresh")) {
            o.fresh = 1;
        } else if (!strcmp(a, "--salvage")) {
            o.salvage = 1;
        } else if (!strcmp(a, "--stop-deadline") && has_value) {
            if (parse_seconds(argv[++i], &o.stop_deadline) != 0)
                return bad_usage("--stop-deadline needs a positive number, got '%s'", argv[i]);
        } else if (!strcmp(a, "--snapshot-interval") && has_value) {
            if (parse_seconds(argv[++i], &o.snapshot_interval) != 0)
                return bad_usage("--snapshot-interval needs a positive number, got '%s'",
                                 argv[i]);
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown or incomplete option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return bad_usage("unexpected argument '%s'", a);
        }
    }
    if (!file)
        return bad_usage("'%s' needs a file argument", cmd);
    int run_only = o.ranks_per_run || o.fresh || o.salvage || o.stop_deadline > 0 || o.snapshot_interval > 0;

    if (!strcmp(cmd, "run")) {
        o.sweep_path = file;
        return ss_engine_run(&o);
    }
    if (run_only)
        return bad_usage("that option applies to 'run' only (command '%s')", cmd);
    if (!strcmp(cmd, "list"))
        return ss_plan_list(file, o.output);
    if (o.output)
        return bad_usage("-o applies to 'run' and 'list' only (command '%s')", cmd);
    if (!strcmp(cmd, "validate"))
        return ss_plan_validate(file);
    if (!strcmp(cmd, "summary")) {
        ss_error_t err = {0};
        if (ss_summary_print(file, stdout, &err) != 0) {
            fprintf(stderr, "specsweep: %s\n", err.msg);
            return err.code ? err.code : SS_EXIT_RUNTIME;
        }
        return SS_EXIT_OK;
    }
    return bad_usage("unknown command '%s'", cmd);
}
