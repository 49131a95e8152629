/*
 * nodedata.c - one copy of each dataset per node (include/specsweep/nodedata.h).
 *
 * Why one window for the whole sweep, allocated at start-up: MPI_Win_allocate_shared is
 * collective over the node's ranks, and once the sweep runs they are busy in different
 * worker groups with different runs, so no collective per dataset is possible. At
 * start-up every rank knows every dataset's sizes (rank 0 checked them and broadcast its
 * descriptions), so the window gets a slot per dataset at a fixed offset. The window is a
 * file in the node's shared-memory file system (Open MPI: osc_sm_backing_directory,
 * /dev/shm); its pages take memory only once written, so slots never loaded cost nothing,
 * and a slot's pages are given back with madvise(MADV_REMOVE) (a hole punched into the
 * file: every rank's mapping of them goes at once).
 *
 * The window:
 *
 *   [ header: lock, slot[0..n) states ]  [ rows of dataset 0 ]  [ rows of dataset 1 ] ...
 *
 * each part starting on a page; a dataset's rows are x_train | y_train | x_test | y_test,
 * each 64-byte aligned (data.h). The header is the only part ranks write outside loading;
 * the rows are mapped read-only in every rank but while it writes or frees them, so a
 * stray write into another rank's data faults where it happens.
 *
 * A slot's state (under the header's lock, a C11 atomic spin lock that naps when it is
 * contended, since ranks may outnumber cores):
 *
 *   EMPTY --first acquire--> LOADING --rows moved in--> READY --retired, no users--> EMPTY
 *                                    --load failed----> FAILED (the loader's message)
 *
 * The loader writes the rows before it stores READY under the lock (release), waiters
 * read the state with acquire loads, so the rows are complete before anyone reads them.
 * The loader reads the dataset into private memory as every loader of data.h does and
 * then moves the rows into the slot, giving each private page back as soon as it has
 * been copied: it never holds two copies.
 */
#include "specsweep/nodedata.h"

#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The header's atomics are shared between processes: only lock-free ones are. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "int atomics must be lock-free");

enum { SLOT_EMPTY, SLOT_LOADING, SLOT_READY, SLOT_FAILED };

/* One dataset's state, shared by the ranks of a node (in the window's header). */
typedef struct {
    _Atomic int state;      /* SLOT_*: stored under the lock, loaded by waiters without it */
    int users;              /* ranks of the node between acquire and release */
    int retired;            /* no run of the job needs the dataset any more */
    int max_row_nonzeros;   /* the loader's measures of the rows (ss_dataset_t) */
    double input_density;
    ss_error_t err;         /* SLOT_FAILED: the loader's message */
} nd_slot_t;

typedef struct {
    _Atomic int lock;       /* 0 free, 1 taken: guards the slots' fields */
    int n;
    nd_slot_t slot[];
} nd_header_t;

/* Where a dataset's rows lie in the rows area (offsets in bytes). */
typedef struct {
    size_t start, bytes;                    /* the slot: page aligned, whole pages */
    size_t x_train, y_train, x_test, y_test;/* from the slot's start */
} nd_layout_t;

struct ss_nodedata {
    int n;
    int shared;
    MPI_Comm node;
    MPI_Win win;
    size_t page;
    const ss_dataset_spec_t *specs;
    ss_dataset_info_t *info;    /* rank 0's descriptions, scalars only (pointers NULL) */
    nd_layout_t *lay;
    nd_header_t *head;          /* shared: the window's header */
    char *rows;                 /* shared: the rows area (every slot) */
    size_t rows_bytes;
    ss_dataset_t *ds;           /* per dataset: a view of the slot (shared) or this rank's
                                   own copy (private: loaded when x_train != NULL) */
    int *held;                  /* per dataset: this rank's acquires not yet released */
    int *retired;               /* per dataset: retired as far as this rank knows */
    int loads;
};

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

static void nap_ms(double ms)
{
    long ns = (long)(ms * 1e6);
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

static void lock(nd_header_t *h)
{
    for (int k = 0; atomic_exchange_explicit(&h->lock, 1, memory_order_acquire); k++) {
        if (k < 64)
            sched_yield();
        else
            nap_ms(0.1); /* the holder may be descheduled: more ranks than cores */
    }
}

static void unlock(nd_header_t *h) { atomic_store_explicit(&h->lock, 0, memory_order_release); }

static void layout(nd_layout_t *L, const ss_dataset_info_t *in, size_t start, size_t page)
{
    size_t d = (size_t)in->n_inputs, ntr = (size_t)in->n_train, nte = (size_t)in->n_test;
    L->start = start;
    L->x_train = 0;
    L->y_train = round_up(ntr * d * sizeof(float), 64);
    L->x_test = L->y_train + round_up(ntr * sizeof(float), 64);
    L->y_test = L->x_test + round_up(nte * d * sizeof(float), 64);
    L->bytes = round_up(L->y_test + round_up(nte * sizeof(float), 64), page);
}

/* ---- room in the node's shared memory -------------------------------------------------- */

/* The directory of the window's file: Open MPI's osc_sm_backing_directory as the
   environment sets it, else /dev/shm (its default on Linux). (The MPI tool interface would
   also see a value from a parameter file, but starting it costs 0.2 s per rank.) */
static void backing_dir(char *out, size_t cap)
{
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    snprintf(out, cap, "%s", dir && dir[0] ? dir : "/dev/shm");
}

/* 1 if the shared-memory file system can hold `bytes`. Open MPI checks the same before it
   creates the window's file, but fails on the node's first rank alone and leaves the
   others waiting for it: asked first, a node without room falls back to private copies. */
static int room_for(size_t bytes, char *dir, size_t cap)
{
    backing_dir(dir, cap);
    struct statvfs st;
    if (statvfs(dir, &st) != 0)
        return 0;
    return (double)st.f_bavail * (double)st.f_frsize >= (double)bytes;
}

/* ---- moving rows into a slot ------------------------------------------------------------ */

/* The shared-memory file system can fill up after the window was created (tmpfs
   allocates a page when it is first written, and other jobs use it too): the write then
   raises SIGBUS, which is turned into an error while rows are moved in. */
static sigjmp_buf bus_jump;

static void on_bus(int sig)
{
    (void)sig;
    siglongjmp(bus_jump, 1);
}

/* Copy n bytes from src, private memory about to be freed, to dst, giving every page of
   src back to the system once it has been copied: the caller holds one copy at a time. */
static void move_bytes(char *dst, char *src, size_t n, size_t page)
{
    if (n == 0)
        return;
    const size_t chunk = (size_t)4 << 20;
    uintptr_t dropped = round_up((uintptr_t)src, page);
    for (size_t o = 0; o < n; o += chunk) {
        size_t k = n - o < chunk ? n - o : chunk;
        memcpy(dst + o, src + o, k);
        uintptr_t end = ((uintptr_t)src + o + k) / page * page;
        if (end > dropped) {
            madvise((void *)dropped, end - dropped, MADV_DONTNEED);
            dropped = end;
        }
    }
}

static void slot_writable(ss_nodedata_t *nd, int d, int on)
{
    mprotect(nd->rows + nd->lay[d].start, nd->lay[d].bytes, on ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Give slot d's pages back (the caller holds the lock, no rank uses the slot). Returns 0,
   or -1 if the file system cannot (the rows are then still there). */
static int slot_free_pages(ss_nodedata_t *nd, int d)
{
    slot_writable(nd, d, 1);
    int rc = madvise(nd->rows + nd->lay[d].start, nd->lay[d].bytes, MADV_REMOVE);
    slot_writable(nd, d, 0);
    return rc == 0 ? 0 : -1;
}

/* Move the rows of *ds (sizes already checked against the slot) into slot d and record its
   measures there; *ds keeps its info, its rows are spent. Returns 0, or -1 with err when
   the shared memory ran out (the slot's pages are then given back). */
static int slot_move_in(ss_nodedata_t *nd, int d, ss_dataset_t *ds, ss_error_t *err)
{
    const nd_layout_t *L = &nd->lay[d];
    char *slot = nd->rows + L->start;
    size_t row = (size_t)ds->info.n_inputs * sizeof(float);
    struct sigaction bus, old;
    memset(&bus, 0, sizeof bus);
    bus.sa_handler = on_bus;
    sigemptyset(&bus.sa_mask);
    slot_writable(nd, d, 1);
    sigaction(SIGBUS, &bus, &old);
    int ran_out = sigsetjmp(bus_jump, 1);
    if (!ran_out) {
        move_bytes(slot + L->x_train, (char *)ds->x_train, (size_t)ds->info.n_train * row, nd->page);
        move_bytes(slot + L->y_train, (char *)ds->y_train, (size_t)ds->info.n_train * sizeof(float), nd->page);
        move_bytes(slot + L->x_test, (char *)ds->x_test, (size_t)ds->info.n_test * row, nd->page);
        move_bytes(slot + L->y_test, (char *)ds->y_test, (size_t)ds->info.n_test * sizeof(float), nd->page);
    }
    sigaction(SIGBUS, &old, NULL);
    slot_writable(nd, d, 0);
    if (ran_out) {
        slot_free_pages(nd, d);
        char dir[512];
        backing_dir(dir, sizeof dir);
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "dataset %s: the node's shared memory (%s) is full: no room for its %.0f "
                     "MB; free some, or run with SPECSWEEP_SHARED_DATA=0 (one copy per rank)",
                     ds->info.name, dir, (double)L->bytes / 1e6);
        return -1;
    }
    nd_slot_t *s = &nd->head->slot[d];
    s->input_density = ds->input_density;
    s->max_row_nonzeros = ds->max_row_nonzeros;
    return 0;
}

/* ---- loading ----------------------------------------------------------------------------- */

/* The file a dataset is read from, for messages (the first of an idx pair), or its name. */
static const char *spec_file(const ss_dataset_spec_t *spec)
{
    return spec->path ? spec->path : spec->train_images ? spec->train_images : spec->name;
}

/* The rows just loaded must be those rank 0 checked at start-up: the slots are sized by
   them, and the results file describes the dataset by them. */
static int same_as_checked(const ss_nodedata_t *nd, int d, const ss_dataset_t *ds, ss_error_t *err)
{
    const ss_dataset_info_t *a = &nd->info[d], *b = &ds->info;
    if (a->n_inputs == b->n_inputs && a->n_train == b->n_train && a->n_test == b->n_test &&
        a->n_classes == b->n_classes && a->task == b->task)
        return 0;
    ss_error_set(err, SS_EXIT_INPUT,
                 "%s: dataset %s changed since the sweep started: %d training and %d test "
                 "samples of %d inputs, %d classes then, %d, %d, %d and %d now",
                 spec_file(&nd->specs[d]), a->name, a->n_train, a->n_test, a->n_inputs,
                 a->n_classes, b->n_train, b->n_test, b->n_inputs, b->n_classes);
    return -1;
}

/* Load dataset d into *ds (a full dataset of data.h), checked against rank 0's sizes. */
static int load(ss_nodedata_t *nd, int d, ss_dataset_t *ds, ss_error_t *err)
{
    nd->loads++;
    if (ss_dataset_load(&nd->specs[d], ds, err) != 0)
        return -1;
    if (same_as_checked(nd, d, ds, err) != 0) {
        ss_dataset_free(ds);
        return -1;
    }
    return 0;
}

/* The view of slot d handed out by acquire. */
static void set_view(ss_nodedata_t *nd, int d)
{
    const nd_layout_t *L = &nd->lay[d];
    const nd_slot_t *s = &nd->head->slot[d];
    char *slot = nd->rows + L->start;
    ss_dataset_t *v = &nd->ds[d];
    v->info = nd->info[d];
    v->x_train = (float *)(slot + L->x_train);
    v->y_train = (float *)(slot + L->y_train);
    v->x_test = (float *)(slot + L->x_test);
    v->y_test = (float *)(slot + L->y_test);
    v->input_density = s->input_density;
    v->max_row_nonzeros = s->max_row_nonzeros;
}

/* A dataset this rank loaded, as its private copy: its info becomes rank 0's scalars, as
   a view's (so nothing depends on the path). */
static void keep_private(ss_nodedata_t *nd, int d, ss_dataset_t *ds)
{
    ss_dataset_info_t full = ds->info;
    ds->info = nd->info[d];
    ss_dataset_info_free(&full);
    nd->ds[d] = *ds;
    memset(ds, 0, sizeof *ds);
}

/* ---- the API ------------------------------------------------------------------------------ */

ss_nodedata_t *ss_nodedata_create(MPI_Comm world, const ss_dataset_spec_t *specs,
                                  const ss_dataset_info_t *info, int n,
                                  ss_nodedata_mode_t mode, char *note, size_t cap)
{
    ss_nodedata_t *nd = ss_calloc(1, sizeof *nd);
    nd->n = n;
    nd->specs = specs;
    nd->node = MPI_COMM_NULL;
    nd->win = MPI_WIN_NULL;
    nd->page = (size_t)sysconf(_SC_PAGESIZE);
    nd->info = ss_calloc((size_t)n, sizeof *nd->info);
    nd->lay = ss_calloc((size_t)n, sizeof *nd->lay);
    nd->ds = ss_calloc((size_t)n, sizeof *nd->ds);
    nd->held = ss_calloc((size_t)n, sizeof *nd->held);
    nd->retired = ss_calloc((size_t)n, sizeof *nd->retired);
    if (note && cap)
        note[0] = '\0';

    size_t head_bytes = round_up(sizeof(nd_header_t) + (size_t)n * sizeof(nd_slot_t), nd->page);
    for (int d = 0; d < n; d++) {
        nd->info[d] = ss_dataset_info_scalars(&info[d]);
        layout(&nd->lay[d], &nd->info[d], nd->rows_bytes, nd->page);
        nd->rows_bytes += nd->lay[d].bytes;
    }
    /* the window's base is 64-byte aligned only: one page more to start on a page */
    size_t window = head_bytes + nd->rows_bytes + nd->page;

    if (mode == SS_NODEDATA_PRIVATE) /* the same on every rank: no collective at all */
        return nd;
    int node_rank, node_size;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &nd->node);
    MPI_Comm_rank(nd->node, &node_rank);
    MPI_Comm_size(nd->node, &node_size);
    int want = mode == SS_NODEDATA_SHARED || (mode == SS_NODEDATA_AUTO && node_size > 1);
    int room = 1, all_room = 1;
    char dir[512] = "";
    if (want && node_rank == 0)
        room = room_for(window, dir, sizeof dir);
    MPI_Allreduce(&room, &all_room, 1, MPI_INT, MPI_MIN, world);
    if (want && !all_room && note && cap)
        snprintf(note, cap, "one copy of the data per rank: the shared memory of a node%s%s "
                 "has no room for the %.0f MB of the sweep's datasets", dir[0] ? " " : "", dir,
                 (double)window / 1e6);
    nd->shared = want && all_room;
    if (!nd->shared)
        return nd;

    char *base;
    MPI_Aint size;
    int disp;
    MPI_Win_allocate_shared(node_rank == 0 ? (MPI_Aint)window : 0, 1, MPI_INFO_NULL, nd->node,
                            &base, &nd->win);
    MPI_Win_shared_query(nd->win, 0, &size, &disp, &base);
    char *aligned = (char *)round_up((uintptr_t)base, nd->page);
    nd->head = (nd_header_t *)aligned;
    nd->rows = aligned + head_bytes;
    if (node_rank == 0) {
        memset(nd->head, 0, head_bytes);
        nd->head->n = n;
    }
    if (nd->rows_bytes)
        mprotect(nd->rows, nd->rows_bytes, PROT_READ);
    /* one passive-target epoch for the whole job: loads and stores into the window are
       then legal at any time; the header's atomics order them */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, nd->win);
    MPI_Barrier(nd->node);
    return nd;
}

void ss_nodedata_destroy(ss_nodedata_t **ndp)
{
    ss_nodedata_t *nd = ndp ? *ndp : NULL;
    if (!nd)
        return;
    if (nd->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(nd->win);
        MPI_Win_free(&nd->win);
    } else {
        for (int d = 0; d < nd->n; d++)
            ss_dataset_free(&nd->ds[d]);
    }
    if (nd->node != MPI_COMM_NULL)
        MPI_Comm_free(&nd->node);
    free(nd->info);
    free(nd->lay);
    free(nd->ds);
    free(nd->held);
    free(nd->retired);
    free(nd);
    *ndp = NULL;
}

int ss_nodedata_shared(const ss_nodedata_t *nd) { return nd->shared; }

int ss_nodedata_loads(const ss_nodedata_t *nd) { return nd->loads; }

void ss_nodedata_adopt(ss_nodedata_t *nd, int d, ss_dataset_t *ds)
{
    ss_error_t err = {0};
    if (same_as_checked(nd, d, ds, &err) != 0) {
        ss_dataset_free(ds);
        return;
    }
    if (!nd->shared) {
        if (nd->ds[d].x_train)
            ss_dataset_free(ds);
        else
            keep_private(nd, d, ds);
        return;
    }
    nd_slot_t *s = &nd->head->slot[d];
    lock(nd->head);
    int empty = atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_EMPTY;
    if (empty)
        atomic_store_explicit(&s->state, SLOT_LOADING, memory_order_relaxed);
    unlock(nd->head);
    if (empty) {
        int rc = slot_move_in(nd, d, ds, &err);
        lock(nd->head); /* a slot the memory ran out for is left for a load to report */
        atomic_store_explicit(&s->state, rc ? SLOT_EMPTY : SLOT_READY, memory_order_release);
        unlock(nd->head);
    }
    ss_dataset_free(ds);
}

/* acquire on the private path */
static int acquire_private(ss_nodedata_t *nd, int d, ss_error_t *err)
{
    if (!nd->ds[d].x_train) {
        ss_dataset_t ds;
        if (load(nd, d, &ds, err) != 0)
            return -1;
        keep_private(nd, d, &ds);
    }
    return 0;
}

/* acquire on the shared path: the node's first rank to need dataset d loads it, the others
   wait for it. */
static int acquire_shared(ss_nodedata_t *nd, int d, void (*wait)(void *), void *ctx,
                          ss_error_t *err)
{
    nd_slot_t *s = &nd->head->slot[d];
    double pause = 0.05; /* ms, doubling up to 5: as the engine waits for rank 0 */
    lock(nd->head);
    for (;;) {
        int state = atomic_load_explicit(&s->state, memory_order_relaxed);
        if (state == SLOT_READY) {
            s->users++;
            unlock(nd->head);
            return 0;
        }
        if (state == SLOT_FAILED) {
            *err = s->err;
            unlock(nd->head);
            return -1;
        }
        if (state == SLOT_EMPTY) {
            atomic_store_explicit(&s->state, SLOT_LOADING, memory_order_relaxed);
            s->users++;
            unlock(nd->head);
            ss_dataset_t ds;
            int rc = load(nd, d, &ds, err);
            if (rc == 0) {
                rc = slot_move_in(nd, d, &ds, err);
                ss_dataset_free(&ds);
            }
            lock(nd->head);
            if (rc != 0) {
                s->err = *err;
                s->users--;
            }
            atomic_store_explicit(&s->state, rc ? SLOT_FAILED : SLOT_READY, memory_order_release);
            unlock(nd->head);
            return rc;
        }
        /* another rank of the node is loading it: nap until it is done */
        unlock(nd->head);
        while (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_LOADING) {
            if (wait)
                wait(ctx);
            nap_ms(pause);
            pause = pause < 5.0 ? pause * 2 : 5.0;
        }
        lock(nd->head);
    }
}

int ss_nodedata_acquire(ss_nodedata_t *nd, int d, const ss_dataset_t **ds,
                        void (*wait)(void *), void *ctx, ss_error_t *err)
{
    *ds = NULL;
    int rc = nd->shared ? acquire_shared(nd, d, wait, ctx, err) : acquire_private(nd, d, err);
    if (rc != 0)
        return -1;
    if (nd->shared)
        set_view(nd, d);
    nd->held[d]++;
    *ds = &nd->ds[d];
    return 0;
}

/* Free dataset d on this node (shared: the caller holds the lock) if it is retired and no
   rank uses it. */
static void free_if_unused(ss_nodedata_t *nd, int d)
{
    if (!nd->shared) {
        if (nd->retired[d] && nd->held[d] == 0)
            ss_dataset_free(&nd->ds[d]);
        return;
    }
    nd_slot_t *s = &nd->head->slot[d];
    if (s->retired && s->users == 0 &&
        atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_READY &&
        slot_free_pages(nd, d) == 0)
        atomic_store_explicit(&s->state, SLOT_EMPTY, memory_order_relaxed);
}

void ss_nodedata_release(ss_nodedata_t *nd, int d)
{
    if (nd->held[d] <= 0)
        return;
    nd->held[d]--;
    if (!nd->shared) {
        free_if_unused(nd, d);
        return;
    }
    lock(nd->head);
    nd->head->slot[d].users--;
    free_if_unused(nd, d);
    unlock(nd->head);
}

void ss_nodedata_retire(ss_nodedata_t *nd, int d)
{
    if (nd->retired[d])
        return;
    nd->retired[d] = 1;
    if (!nd->shared) {
        free_if_unused(nd, d);
        return;
    }
    lock(nd->head);
    nd->head->slot[d].retired = 1;
    free_if_unused(nd, d);
    unlock(nd->head);
}
