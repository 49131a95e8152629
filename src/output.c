/* output.c - the results files of a sweep, as the writer holds them. See
   include/specsweep/output.h. */
#include "specsweep/output.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specsweep/h5io.h"
#include "specsweep/snapshot.h"

/* Append a sentence to the user note. */
static void note(ss_output_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ss_output_t *o, const char *fmt, ...)
{
    size_t len = strlen(o->note);
    if (len + 2 >= sizeof o->note)
        return;
    if (len)
        o->note[len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->note + len, sizeof o->note - len, fmt, ap);
    va_end(ap);
}

/* 1 if path exists (lstat: a dangling symlink exists too). */
static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A path specsweep writes must be a regular file or absent (stat follows symlinks). */
static int check_regular(const char *path, const char *what, ss_error_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                     : "not a regular file";
    ss_error_set(err, SS_EXIT_INPUT, "%s is %s, not a %s; give -o the path of a results "
                 "file (specsweep writes %s and %s.log beside it)", path, kind, what, path,
                 path);
    return -1;
}

/* 1 if h5_path is a results file specsweep wrote (its format attribute says so). */
static int is_results_file(const char *h5_path)
{
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);
    ss_error_t err = {0};
    hid_t f = ss_snapshot_open(h5_path, &err);
    if (f >= 0)
        H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    ss_h5_loud(&quiet);
    return f >= 0;
}

/* Remove what a writer that died left beside the results file: temporary snapshots
   "<h5>.tmp.<pid>" and a log rewrite "<log>.salvage". Called under the lock, so no
   living writer owns them. */
static void remove_stale(ss_output_t *o)
{
    char *dir = ss_dirname(o->h5_path);
    const char *slash = strrchr(o->h5_path, '/');
    const char *base = slash ? slash + 1 : o->h5_path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    int removed = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0)
            continue;
        const char *pid = n + blen + 5;
        if (!*pid || strspn(pid, "0123456789") != strlen(pid))
            continue;
        char *path = ss_str_concat(dir, "/");
        char *full = ss_str_concat(path, n);
        removed += unlink(full) == 0;
        free(path);
        free(full);
    }
    if (d)
        closedir(d);
    char *salvage = ss_str_concat(o->log_path, ".salvage");
    removed += unlink(salvage) == 0;
    free(salvage);
    free(dir);
    if (removed)
        note(o, "removed %d temporary file%s left by an earlier run that was killed",
             removed, removed == 1 ? "" : "s");
}

/* --fresh: move the log and the results file to the first "*.old[.n]" names free for
   both; never over an existing file. */
static int rotate_old(ss_output_t *o, ss_error_t *err)
{
    int have_h5 = exists(o->h5_path), have_log = exists(o->log_path);
    if (!have_h5 && !have_log)
        return 0;
    for (int n = 0; n < 10000; n++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, n ? ".old.%d" : ".old", n);
        char *h5_old = ss_str_concat(o->h5_path, suffix);
        char *log_old = ss_str_concat(o->log_path, suffix);
        int free_name = !exists(h5_old) && !exists(log_old), rc = 0;
        if (free_name) {
            /* link + unlink: link fails instead of replacing a file that appeared since */
            if ((have_log && (link(o->log_path, log_old) != 0 || unlink(o->log_path) != 0)) ||
                (have_h5 && (link(o->h5_path, h5_old) != 0 || unlink(o->h5_path) != 0))) {
                ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot move the old results aside to "
                             "%s: %s", o->h5_path, have_h5 ? h5_old : log_old, strerror(errno));
                rc = -1;
            } else {
                note(o, "--fresh: the earlier results are kept as %s%s%s", have_h5 ? h5_old : "",
                     have_h5 && have_log ? " and " : "", have_log ? log_old : "");
            }
        }
        free(h5_old);
        free(log_old);
        if (free_name)
            return rc;
    }
    ss_error_set(err, SS_EXIT_RUNTIME, "%s: no free name to move the old results to", o->h5_path);
    return -1;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The runs of the sweep that the snapshot holds and the log does not: their ids into
   *missing (malloc'd array of pointers into ids), their count returned. */
static long runs_only_in_snapshot(const ss_output_t *o, const ss_run_t *runs, int n_runs,
                                  char **ids, long n_ids, char ***missing)
{
    const char **sweep_ids = ss_malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *sweep_ids);
    for (int i = 0; i < n_runs; i++)
        sweep_ids[i] = runs[i].id;
    qsort(sweep_ids, (size_t)n_runs, sizeof *sweep_ids, by_string);
    *missing = ss_malloc((size_t)(n_ids > 0 ? n_ids : 1) * sizeof **missing);
    long n = 0;
    for (long i = 0; i < n_ids; i++) {
        const char *key = ids[i];
        if (!ss_log_contents_find(&o->contents, ids[i]) &&
            bsearch(&key, sweep_ids, (size_t)n_runs, sizeof *sweep_ids, by_string))
            (*missing)[n++] = ids[i];
    }
    free(sweep_ids);
    return n;
}

/* A log with damage followed by intact records: refused, or with --salvage kept. */
static int handle_damage(ss_output_t *o, const ss_output_flags_t *flags, ss_error_t *err)
{
    if (o->contents.n_damage == 0)
        return 0;
    char what[600];
    ss_log_damage_describe(&o->contents, o->log_path, what, sizeof what);
    if (!flags->salvage) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s; nothing was changed. Run again with --salvage to keep every intact "
                     "record (the damaged bytes are moved to %s.damaged.N) and train again "
                     "only the runs whose records were damaged", what, o->log_path);
        return -1;
    }
    char *moved = NULL;
    int runs_before = o->contents.n_results;
    if (ss_log_salvage(o->log_path, &o->contents, &moved, err) != 0) {
        free(moved);
        return -1;
    }
    note(o, "--salvage: %s; kept its %d intact result record%s, moved the damaged bytes to %s",
         what, runs_before, runs_before == 1 ? "" : "s", moved);
    free(moved);
    return 0;
}

/* Runs in the snapshot that the log lacks: refused, or with --salvage read back. */
static int reconcile_snapshot(ss_output_t *o, const ss_run_t *runs, int n_runs,
                              const ss_output_flags_t *flags, ss_error_t *err)
{
    char **ids = NULL, **missing = NULL;
    long n_ids = 0;
    ss_error_t rerr = {0};
    if (!exists(o->h5_path))
        return 0;
    if (ss_snapshot_run_ids(o->h5_path, &ids, &n_ids, &rerr) != 0) {
        note(o, "%s could not be read (%s); it is written again from the log", o->h5_path,
             rerr.msg);
        return 0;
    }
    long n = runs_only_in_snapshot(o, runs, n_runs, ids, n_ids, &missing);
    int rc = 0;
    if (n > 0 && !flags->salvage) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s holds %ld run%s that its log %s does not (e.g. %s): the log was "
                     "damaged or replaced, and writing the results file again from it would "
                     "lose them; nothing was changed. Run again with --salvage to commit them "
                     "to the log again from %s", o->h5_path, n, n == 1 ? "" : "s", o->log_path,
                     missing[0], o->h5_path);
        rc = -1;
    } else if (n > 0) {
        long got = ss_snapshot_recover(o->h5_path, missing, n, &o->recovered, err);
        if (got < 0) {
            rc = -1;
        } else {
            note(o, "--salvage: read back %ld of the %ld run%s that %s holds and its log "
                 "lacked%s", got, n, n == 1 ? "" : "s", o->h5_path,
                 got < n ? " (the others are trained again)" : "");
        }
    }
    free(missing);
    ss_h5_free_strings(ids, n_ids);
    return rc;
}

int ss_output_take(ss_output_t *o, const char *h5_path, const ss_sweep_t *sw,
                   const ss_run_t *runs, int n_runs, const ss_output_flags_t *flags,
                   ss_error_t *err)
{
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
    o->log.fd = -1;
    o->h5_path = h5_path;
    o->log_path = ss_str_concat(h5_path, ".log");
    if (check_regular(h5_path, "results file", err) != 0 ||
        check_regular(o->log_path, "results log", err) != 0 ||
        ss_lock_acquire(h5_path, &o->lock_fd, err) != 0)
        return -1;
    remove_stale(o);
    if (ss_log_read_lean(o->log_path, &o->contents, err) != 0)
        return -1;
    const ss_log_contents_t *c = &o->contents;
    int have_log = c->has_header || c->n_results > 0;
    int ours = !exists(h5_path) || have_log || is_results_file(h5_path);
    if (!ours) {
        ss_error_set(err, SS_EXIT_INPUT, "%s exists and is not a specsweep results file; "
                     "specsweep does not move or overwrite it: give -o another path", h5_path);
        return -1;
    }
    if (flags->fresh) {
        if (rotate_old(o, err) != 0)
            return -1;
        ss_log_contents_free(&o->contents);
        o->contents.lean = 1;
        o->contents.path = ss_str_concat(h5_path, ".log");
        return 0;
    }
    if (c->has_header && strcmp(c->header.yaml_text ? c->header.yaml_text : "",
                                sw->yaml_text ? sw->yaml_text : "") != 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: holds results of a different sweep file than %s (it was edited); "
                     "run with --fresh to start over (the old files are kept as *.old)",
                     h5_path, sw->path);
        return -1;
    }
    if (!have_log && exists(h5_path) && !flags->salvage) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: exists but has no log %s to resume from; run with --fresh to start "
                     "over (the old file is kept as %s.old), or with --salvage to resume from "
                     "the runs it holds", h5_path, o->log_path, h5_path);
        return -1;
    }
    if (handle_damage(o, flags, err) != 0)
        return -1;
    return reconcile_snapshot(o, runs, n_runs, flags, err);
}

int ss_output_start(ss_output_t *o, const ss_sweep_t *sw, const ss_dataset_info_t *datasets,
                    int n_datasets, ss_error_t *err)
{
    if (ss_log_open(&o->log, o->log_path, o->contents.valid_bytes, err) != 0)
        return -1;
    if (!o->contents.has_header) {
        ss_log_header_t h;
        memset(&h, 0, sizeof h);
        snprintf(h.sweep_name, sizeof h.sweep_name, "%s", sw->name);
        h.yaml_text = sw->yaml_text;
        ss_utc_now(h.created_utc);
        if (ss_log_append_header(&o->log, &h, err) != 0)
            return -1;
        ss_log_contents_set_header(&o->contents, &h);
    }
    for (int d = 0; d < n_datasets; d++) {
        if (ss_log_contents_find_dataset(&o->contents, datasets[d].name))
            continue;
        if (ss_log_append_dataset(&o->log, &datasets[d], err) != 0)
            return -1;
        ss_log_contents_add_dataset(&o->contents, &datasets[d]);
    }
    for (int i = 0; i < o->recovered.n_results; i++)
        if (ss_output_commit(o, &o->recovered.results[i], err) != 0)
            return -1;
    ss_log_contents_free(&o->recovered);
    return 0;
}

int ss_output_commit(ss_output_t *o, const ss_result_t *r, ss_error_t *err)
{
    long offset = o->log.size; /* where the record goes */
    if (ss_log_append_result(&o->log, r, err) != 0)
        return -1;
    ss_log_contents_add_committed(&o->contents, r, offset);
    return 0;
}

void ss_output_close(ss_output_t *o)
{
    if (!o)
        return;
    ss_log_close(&o->log);
    ss_log_contents_free(&o->contents);
    ss_log_contents_free(&o->recovered);
    ss_lock_release(&o->lock_fd);
    free(o->log_path);
    o->log_path = NULL;
}
