/*
 * nodedata.h - the datasets of a sweep as the ranks of one node hold them: one copy per
 * node in an MPI-3 shared-memory window, or one copy per rank (docs/ARCHITECTURE.md, "One
 * copy of the data per node").
 *
 * Shared (the default where a node has more than one rank): the ranks of a node
 * (MPI_Comm_split_type MPI_COMM_TYPE_SHARED) allocate one window at start-up with a slot
 * for every dataset of the sweep, sized from rank 0's check (virtual: a page takes memory
 * only once written). The first rank of the node that needs a dataset loads it and moves
 * its rows into the slot; the others wait for it (sleeping) and read the same pages, which
 * every rank maps read-only. A failed load is recorded in the slot, so every rank of the
 * node that needs the dataset gets the loader's message. When no run of the job needs a
 * dataset any more (ss_nodedata_retire) and its last user is done, its pages are given
 * back to the system.
 * Private (SS_NODEDATA_PRIVATE, a node with one rank, or no room in the node's shared
 * memory): every rank loads its own copy when it first needs it and frees it when it is
 * retired, the behaviour before the window existed.
 * Either way the rows are the loader's bytes: results do not depend on the path.
 *
 * Every function but create and destroy is local to the calling rank (no collective), so
 * the ranks of a node may call them at any time, from different worker groups.
 */
#ifndef SPECSWEEP_NODEDATA_H
#define SPECSWEEP_NODEDATA_H

#include <mpi.h>

#include "specsweep/config.h"
#include "specsweep/data.h"

typedef enum {
    SS_NODEDATA_PRIVATE,   /* one copy per rank */
    SS_NODEDATA_AUTO,      /* one copy per node where a node has more than one rank */
    SS_NODEDATA_SHARED     /* one copy per node, even of one rank (tests) */
} ss_nodedata_mode_t;

typedef struct ss_nodedata ss_nodedata_t;

/*
 * Collective over `world`: every rank calls it with the same arguments. specs[0..n) are
 * the sweep's datasets (kept by pointer: they must outlive *nd); info[0..n) their
 * descriptions from rank 0's check (only the scalars are read: the sizes of the slots,
 * and what a loaded dataset must match). When the shared-memory file system of a node
 * lacks room for the window, every rank falls back to private copies and note[0..cap)
 * says so (else note is ""). Returns the handle; never fails otherwise.
 */
ss_nodedata_t *ss_nodedata_create(MPI_Comm world, const ss_dataset_spec_t *specs,
                                  const ss_dataset_info_t *info, int n,
                                  ss_nodedata_mode_t mode, char *note, size_t cap);

/* Collective over the world of ss_nodedata_create: frees the window, the private copies
   and the handle, and nulls *nd. Every dataset handed out is invalid afterwards. Accepts
   NULL and *nd == NULL. */
void ss_nodedata_destroy(ss_nodedata_t **nd);

/* 1 if this rank's node shares one copy of the data, 0 if the rank keeps its own. */
int ss_nodedata_shared(const ss_nodedata_t *nd);

/*
 * Hand a dataset this rank has loaded (rank 0's check) to the node, so it is not loaded
 * a second time: it is moved into dataset d's slot (shared) or kept as the rank's copy
 * (private). *ds is freed and zeroed either way; a dataset whose sizes do not match
 * info[d], or a slot already loaded, is simply freed.
 */
void ss_nodedata_adopt(ss_nodedata_t *nd, int d, ss_dataset_t *ds);

/*
 * Dataset d's rows for this rank, in *ds (owned by nd; read-only; its info has no
 * relevance_truth and no feature_names: rank 0 keeps those). Loads it if no rank of the
 * node has (private: if this rank has not); waits, sleeping, while another rank of the
 * node loads it, calling wait(ctx) (may be NULL) between naps. Returns 0: this rank is
 * then one of the dataset's users until ss_nodedata_release. -1 with err set: the load
 * failed here or on the node's loader (SS_EXIT_INPUT, the message names the file), the
 * data no longer matches info[d] (a file changed since the start: SS_EXIT_INPUT), or the
 * node's shared memory ran out while loading (SS_EXIT_RUNTIME); this rank is then no user.
 */
int ss_nodedata_acquire(ss_nodedata_t *nd, int d, const ss_dataset_t **ds,
                        void (*wait)(void *), void *ctx, ss_error_t *err);

/* This rank is done with dataset d (one release per successful acquire). The last user
   of a retired dataset frees it. */
void ss_nodedata_release(ss_nodedata_t *nd, int d);

/* No run of the job will need dataset d again: it is freed on this rank's node as soon
   as no rank of the node uses it (at once if none does). Idempotent. A retired dataset
   acquired again is loaded again. */
void ss_nodedata_retire(ss_nodedata_t *nd, int d);

/* How many times this rank has read or generated a dataset, failed attempts included
   (adopted datasets not counted): what the tests count. */
int ss_nodedata_loads(const ss_nodedata_t *nd);

#endif
