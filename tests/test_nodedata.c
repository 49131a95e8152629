/*
 * test_nodedata.c - the datasets of a node (nodedata.h), run as one job of 3 ranks on one
 * node (ctest starts it through mpirun); every rank checks, rank 0 prints the total.
 *
 *  - shared: the 3 ranks acquire a dataset at once; exactly one of them loads it, each
 *    sees the bytes of its own private load, the rows are read-only;
 *  - retired and released by all, its pages are gone from the node (mincore); acquired
 *    again, it is loaded again;
 *  - a file removed before the node loads it: one rank tries, every rank gets the message
 *    naming the file; a file whose rows changed since the start: refused, naming it;
 *  - a dataset adopted by rank 0 is never loaded again;
 *  - private: every rank loads its own copy, with the same bytes.
 */
#include "specsweep/nodedata.h"
#include "testutil.h"

#include <mpi.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int rank, size;
static char dir[256];

/* The sum over ranks of x. */
static int total(int x)
{
    int s;
    MPI_Allreduce(&x, &s, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    return s;
}

/* A CSV file of rows x 3 inputs and a 0/1 label, written by rank 0. */
static void write_csv(const char *path, int rows)
{
    if (rank == 0) {
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        fprintf(f, "x1,x2,x3,label\n");
        for (int i = 0; i < rows; i++)
            fprintf(f, "%d,%d.5,%d,%d\n", i, i % 7, -i, i % 2);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static int same_rows(const ss_dataset_t *a, const ss_dataset_t *b)
{
    size_t d = (size_t)a->info.n_inputs;
    return a->info.n_train == b->info.n_train && a->info.n_test == b->info.n_test &&
           memcmp(a->x_train, b->x_train, (size_t)a->info.n_train * d * sizeof(float)) == 0 &&
           memcmp(a->y_train, b->y_train, (size_t)a->info.n_train * sizeof(float)) == 0 &&
           memcmp(a->x_test, b->x_test, (size_t)a->info.n_test * d * sizeof(float)) == 0 &&
           memcmp(a->y_test, b->y_test, (size_t)a->info.n_test * sizeof(float)) == 0 &&
           a->input_density == b->input_density && a->max_row_nonzeros == b->max_row_nonzeros;
}

/* Pages of [p, p + n) resident in memory (the page holding p onwards). */
static size_t resident_pages(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *start = (char *)((uintptr_t)p / page * page);
    size_t len = (size_t)((char *)p + n - start), pages = (len + page - 1) / page, count = 0;
    unsigned char *vec = malloc(pages);
    if (mincore(start, len, vec) != 0) {
        free(vec);
        return (size_t)-1;
    }
    for (size_t i = 0; i < pages; i++)
        count += vec[i] & 1;
    free(vec);
    return count;
}

static sigjmp_buf segv_jump;
static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(segv_jump, 1);
}

/* 1 if writing to *p faults. */
static int write_faults(float *p)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    int faulted = sigsetjmp(segv_jump, 1);
    if (!faulted)
        *(volatile float *)p = 1.0f;
    sigaction(SIGSEGV, &old, NULL);
    return faulted;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0)
        snprintf(dir, sizeof dir, "%s", ss_test_tmpdir());
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    char keep[512], gone[512], grows[512], text[2048];
    snprintf(keep, sizeof keep, "%s/keep.csv", dir);
    snprintf(gone, sizeof gone, "%s/gone.csv", dir);
    snprintf(grows, sizeof grows, "%s/changes.csv", dir);
    write_csv(keep, 500);
    write_csv(gone, 300);
    write_csv(grows, 300);

    /* 0: generated, 4 MB; 1-3: files */
    snprintf(text, sizeof text,
             "name: t\n"
             "datasets:\n"
             "  g: {kind: gaussian, features: 100, relevant: 5, samples: 10000}\n"
             "  keep: {kind: csv, path: %s}\n"
             "  gone: {kind: csv, path: %s}\n"
             "  changes: {kind: csv, path: %s}\n"
             "model: {hidden: [4], activations: [tanh]}\n", keep, gone, grows);
    ss_sweep_t sw;
    ss_error_t err = {0};
    if (ss_sweep_parse(NULL, text, &sw, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int n = sw.n_datasets;
    /* every rank's own load: the reference bytes, and the descriptions rank 0 would check */
    ss_dataset_t *ref = ss_calloc((size_t)n, sizeof *ref);
    ss_dataset_info_t *info = ss_calloc((size_t)n, sizeof *info);
    for (int d = 0; d < n; d++) {
        ss_error_clear(&err);
        CHECK(ss_dataset_load(&sw.datasets[d], &ref[d], &err) == 0, "load %d: %s", d, err.msg);
        info[d] = ref[d].info;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        unlink(gone);
    write_csv(grows, 200); /* other rows than at the "start" */

    char note[256];
    ss_nodedata_t *nd = ss_nodedata_create(MPI_COMM_WORLD, sw.datasets, info, n,
                                           SS_NODEDATA_SHARED, note, sizeof note);
    CHECK(ss_nodedata_shared(nd) && note[0] == '\0', "shared window (note: %s)", note);

    /* all at once: one load on the node, the same bytes everywhere, read-only */
    MPI_Barrier(MPI_COMM_WORLD);
    const ss_dataset_t *g = NULL;
    ss_error_clear(&err);
    CHECK(ss_nodedata_acquire(nd, 0, &g, NULL, NULL, &err) == 0, "acquire: %s", err.msg);
    int loads = total(ss_nodedata_loads(nd)); /* (collectives outside CHECK: every rank) */
    CHECK(loads == 1, "one load on the node, not %d", loads);
    CHECK(g && same_rows(g, &ref[0]), "the node's rows are this rank's own load's bytes");
    CHECK(g && g->info.relevance_truth == NULL && g->info.feature_names == NULL &&
          g->info.n_classes == ref[0].info.n_classes, "the description's scalars");
    CHECK(g && write_faults(g->x_train + 7), "the rows are read-only");
    size_t rows_bytes = (size_t)ref[0].info.n_train * (size_t)ref[0].info.n_inputs * sizeof(float);
    size_t pages = resident_pages(g->x_train, rows_bytes);
    CHECK(pages >= rows_bytes / (size_t)sysconf(_SC_PAGESIZE), "resident once loaded (%zu pages)",
          pages);

    /* retired, and released by every rank: the pages go */
    ss_nodedata_retire(nd, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(resident_pages(g->x_train, rows_bytes) >= rows_bytes / (size_t)sysconf(_SC_PAGESIZE),
          "retired while in use: still there");
    MPI_Barrier(MPI_COMM_WORLD);
    ss_nodedata_release(nd, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    pages = resident_pages(g->x_train, rows_bytes);
    CHECK(pages == 0, "retired and released everywhere: pages given back (%zu resident)", pages);
    ss_error_clear(&err);
    CHECK(ss_nodedata_acquire(nd, 0, &g, NULL, NULL, &err) == 0 && same_rows(g, &ref[0]),
          "acquired again: loaded again, same bytes (%s)", err.msg);
    loads = total(ss_nodedata_loads(nd));
    CHECK(loads == 2, "loaded twice on the node, not %d", loads);
    ss_nodedata_release(nd, 0);

    /* a file removed before the node loads it: one attempt, everyone told */
    MPI_Barrier(MPI_COMM_WORLD);
    const ss_dataset_t *x = NULL;
    ss_error_clear(&err);
    int rc = ss_nodedata_acquire(nd, 2, &x, NULL, NULL, &err);
    CHECK(rc == -1 && x == NULL && err.code == SS_EXIT_INPUT && strstr(err.msg, "gone.csv: cannot open"),
          "removed file: every rank gets the message naming it (%s)", err.msg);
    loads = total(ss_nodedata_loads(nd));
    CHECK(loads == 3, "one attempt on the node for the removed file, not %d", loads - 2);
    ss_error_clear(&err);
    CHECK(ss_nodedata_acquire(nd, 2, &x, NULL, NULL, &err) == -1 && strstr(err.msg, "gone.csv"),
          "asked again: the same failure, no new attempt");
    loads = total(ss_nodedata_loads(nd));
    CHECK(loads == 3, "no new attempt");

    /* a file with other rows than at the start */
    MPI_Barrier(MPI_COMM_WORLD);
    ss_error_clear(&err);
    rc = ss_nodedata_acquire(nd, 3, &x, NULL, NULL, &err);
    CHECK(rc == -1 && err.code == SS_EXIT_INPUT && strstr(err.msg, "changes.csv") &&
          strstr(err.msg, "changed since the sweep started"), "changed file refused (%s)", err.msg);

    /* adopted by rank 0: nobody loads it */
    if (rank == 0) {
        ss_dataset_t own;
        ss_error_clear(&err);
        if (ss_dataset_load(&sw.datasets[1], &own, &err) == 0)
            ss_nodedata_adopt(nd, 1, &own);
        CHECK(own.x_train == NULL, "adopt takes the rows");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    int before = total(ss_nodedata_loads(nd));
    ss_error_clear(&err);
    CHECK(ss_nodedata_acquire(nd, 1, &x, NULL, NULL, &err) == 0 && same_rows(x, &ref[1]),
          "adopted dataset: the same bytes (%s)", err.msg);
    loads = total(ss_nodedata_loads(nd));
    CHECK(loads == before, "adopted dataset: not loaded again");
    ss_nodedata_release(nd, 1);
    ss_nodedata_destroy(&nd);
    CHECK(nd == NULL, "destroy nulls the handle");

    /* private: one load per rank, the same bytes */
    nd = ss_nodedata_create(MPI_COMM_WORLD, sw.datasets, info, n, SS_NODEDATA_PRIVATE, note,
                            sizeof note);
    CHECK(!ss_nodedata_shared(nd), "private mode");
    ss_error_clear(&err);
    CHECK(ss_nodedata_acquire(nd, 0, &g, NULL, NULL, &err) == 0 && same_rows(g, &ref[0]),
          "private copy: the same bytes (%s)", err.msg);
    loads = total(ss_nodedata_loads(nd));
    CHECK(ss_nodedata_loads(nd) == 1 && loads == size, "private: one load per rank");
    ss_nodedata_release(nd, 0);
    ss_nodedata_destroy(&nd);

    for (int d = 0; d < n; d++)
        ss_dataset_free(&ref[d]);
    free(ref);
    free(info);
    ss_sweep_free(&sw);
    int failed = total(ss_test_failed), passed = total(ss_test_passed);
    if (rank == 0) {
        ss_test_passed = passed;
        ss_test_failed = failed;
        ss_test_report();
        unlink(keep);
        unlink(grows);
        rmdir(dir);
    }
    MPI_Finalize();
    return failed ? 1 : 0;
}
