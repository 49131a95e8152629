/*
 * test_retrain.c - retraining runs below the engine: the grid's children (ids, cells,
 * parents, the spectral method left out for dense networks), the queue's order (a child is
 * never handed out before its parent is done; a group is told to wait while only waiting
 * children remain; a dropped parent takes its waiting children with it; a resumed queue
 * starts with the children of done parents), and the inputs a child trains on against a
 * direct computation (top-k and the rest, ties by index, truth, random seeded by the
 * child, parents without a ranking).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "specsweep/queue.h"
#include "specsweep/retrain.h"
#include "testutil.h"

static const char sweep_text[] =
    "name: rt\n"
    "seeds: 2\n"
    "datasets:\n"
    "  g: {kind: gaussian, features: 6, relevant: 2, samples: 100}\n"
    "model: {hidden: [4], activations: [tanh]}\n"
    "sweep:\n"
    "  model.spectral: [all, none]\n"
    "relevance:\n"
    "  methods: [spectral, saliency]\n"
    "  retrain: {methods: [spectral, saliency], keep: [2, 4], remove: [2]}\n";

static int expand(ss_sweep_t *sw, ss_run_t **runs, int *n, int *cells)
{
    ss_error_t err = {0};
    if (ss_sweep_parse("rt.yaml", sweep_text, sw, &err) != 0) {
        CHECK(0, "parse: %s", err.msg);
        return -1;
    }
    int rc = ss_grid_expand(sw, runs, n, cells, &err);
    CHECK(rc == 0, "expand: %s", err.msg);
    return rc;
}

/* 4 parents (2 cells x 2 seeds); per parent 3 k x (spectral, saliency, random), spectral
   left out for the dense cell: 9 + 6 children. */
static void test_grid_children(void)
{
    ss_sweep_t sw;
    ss_run_t *runs = NULL;
    int n = 0, cells = 0;
    if (expand(&sw, &runs, &n, &cells) != 0)
        return;
    CHECK(n == 4 + 2 * 9 + 2 * 6, "%d runs", n);
    CHECK(cells == 2 + 9 + 6, "%d cells", cells);
    const ss_run_t *c = &runs[4];
    CHECK(!strcmp(c->id, "g__model.spectral=all__seed=0__keep=spectral:2"), "first child %s",
          c->id);
    CHECK(!strcmp(c->cell_id, "g__model.spectral=all__keep=spectral:2"), "its cell %s",
          c->cell_id);
    CHECK(c->retrain.parent == 0 && c->retrain.mode == SS_RETRAIN_KEEP && c->retrain.k == 2 &&
              c->retrain.method == SS_ATTRIB_SPECTRAL && c->seed == 0 && c->cell == 2,
          "first child's description");
    int dense_spectral = 0, same_cell = 0;
    for (int i = 4; i < n; i++) {
        const ss_run_t *r = &runs[i], *p = &runs[r->retrain.parent];
        dense_spectral += p->model.spectral == SS_SPECTRAL_NONE &&
                          r->retrain.method == SS_ATTRIB_SPECTRAL;
        CHECK(r->retrain.parent < 4 && r->seed == p->seed && r->dataset == p->dataset &&
                  !strncmp(r->id, p->id, strlen(p->id)),
              "%s: a child of %s", r->id, p->id);
        /* the same (parent cell, mode, method, k) is one cell over the seeds */
        for (int j = 4; j < i; j++)
            same_cell += runs[j].cell == r->cell &&
                         (strcmp(runs[j].cell_id, r->cell_id) || runs[j].seed == r->seed);
    }
    CHECK(dense_spectral == 0, "no spectral child of a dense parent");
    CHECK(same_cell == 0, "a child cell holds one run per seed, all of the same cell id");
    free(runs);
    ss_sweep_free(&sw);
}

/* The queue on the sweep above: every run handed out once, a child only after its parent
   is done, WAIT while children wait, LEAVE at the end. */
static void test_queue_order(void)
{
    ss_sweep_t sw;
    ss_run_t *runs = NULL;
    int n = 0, cells = 0;
    if (expand(&sw, &runs, &n, &cells) != 0)
        return;
    double *cost = calloc((size_t)n, sizeof *cost);
    unsigned char *done = calloc((size_t)n, 1), *given = calloc((size_t)n, 1);
    ss_queue_t q;
    ss_queue_init(&q, runs, n, cost, done);
    int handed = 0, early = 0, waits = 0, running[64], n_running = 0;
    for (int step = 0; step < 10 * n && handed < n; step++) {
        int i = ss_queue_next(&q);
        if (i == SS_QUEUE_WAIT || (i == SS_QUEUE_LEAVE && n_running > 0)) {
            waits += i == SS_QUEUE_WAIT;
            CHECK(n_running > 0, "wait with nothing running (step %d)", step);
            int r = running[--n_running];   /* finish the latest one */
            done[r] = 1;
            ss_queue_done(&q, r);
            continue;
        }
        if (i < 0)
            break;
        CHECK(!given[i], "run %d handed out twice", i);
        given[i] = 1;
        handed++;
        if (runs[i].retrain.mode != SS_RETRAIN_NONE && !done[runs[i].retrain.parent])
            early++;
        running[n_running++] = i;
        if (n_running == 3 || i % 2) {      /* a few runs in flight, finished out of order */
            int r = running[0];
            memmove(running, running + 1, (size_t)--n_running * sizeof *running);
            done[r] = 1;
            ss_queue_done(&q, r);
        }
    }
    CHECK(handed == n, "%d of %d runs handed out", handed, n);
    CHECK(early == 0, "%d children before their parent", early);
    while (n_running > 0)
        ss_queue_done(&q, running[--n_running]);
    CHECK(ss_queue_next(&q) == SS_QUEUE_LEAVE, "leave at the end");
    ss_queue_free(&q);

    /* a dropped parent takes its waiting children; the others go on */
    memset(done, 0, (size_t)n);
    ss_queue_init(&q, runs, n, cost, done);
    int a = ss_queue_next(&q), b = ss_queue_next(&q), c = ss_queue_next(&q),
        d = ss_queue_next(&q);
    CHECK(a == 0 && b == 1 && c == 2 && d == 3, "equal costs: run order (%d %d %d %d)", a, b,
          c, d);
    CHECK(ss_queue_next(&q) == SS_QUEUE_WAIT, "only waiting children: wait");
    CHECK(ss_queue_drop(&q, 0) == 1 + 9, "a dropped parent takes its 9 children");
    ss_queue_done(&q, 1);
    int got = 0, wrong = 0, i;
    while ((i = ss_queue_next(&q)) >= 0) {
        got++;
        wrong += runs[i].retrain.parent != 1;
    }
    CHECK(got == 9 && wrong == 0, "run 1's 9 children follow (%d, %d of another)", got, wrong);
    CHECK(i == SS_QUEUE_WAIT, "runs 2 and 3 still run: their children wait");
    CHECK(ss_queue_drop(&q, 2) == 7 && ss_queue_drop(&q, 3) == 7, "dense parents: 6 children");
    CHECK(ss_queue_next(&q) == SS_QUEUE_LEAVE, "then nothing is left");
    ss_queue_free(&q);

    /* resumed: parent 0 done, one of its children done: the other 8 are ready at once,
       before the grid's runs */
    memset(done, 0, (size_t)n);
    done[0] = done[4] = 1;
    ss_queue_init(&q, runs, n, cost, done);
    int first = ss_queue_next(&q);
    CHECK(first == 5, "resumed: the ready child %d first", first);
    ss_queue_free(&q);
    free(cost);
    free(done);
    free(given);
    free(runs);
    ss_sweep_free(&sw);
}

/* A parent result of d inputs with eigenvalues ev and one saliency vector. */
static void make_parent(ss_result_t *r, int d, const double *ev, const double *sal)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_id, sizeof r->run_id, "g__seed=0");
    snprintf(r->dataset, sizeof r->dataset, "g");
    r->status = SS_STATUS_OK;
    r->n_inputs = d;
    r->eigenvalues = (double *)ev;
    r->n_methods = 1;
    static ss_method_result_t m;
    memset(&m, 0, sizeof m);
    m.method = SS_ATTRIB_SALIENCY;
    m.n_values = d;
    m.values = (double *)sal;
    r->methods = &m;
}

static int kept_is(const int *kept, int n, const int *want, int n_want)
{
    if (n != n_want)
        return 0;
    for (int i = 0; i < n; i++)
        if (kept[i] != want[i])
            return 0;
    return 1;
}

static void test_inputs(void)
{
    /* |eigenvalue| order: 3 (-0.9), then 1 and 4 tied at 0.5 (index order), 0, 2, 5 */
    static const double ev[6] = {0.2, 0.5, 0.1, -0.9, -0.5, 0.0};
    static const double sal[6] = {0.0, 0.0, 3.0, 0.0, 1.0, 2.0};
    static const double truth[6] = {1.0, 0.0, 0.0, 0.5, 0.0, 0.0};
    ss_result_t parent;
    make_parent(&parent, 6, ev, sal);
    ss_dataset_info_t ds;
    memset(&ds, 0, sizeof ds);
    snprintf(ds.name, sizeof ds.name, "g");
    ds.n_inputs = 6;
    ds.relevance_truth = (double *)truth;
    ss_run_t child;
    memset(&child, 0, sizeof child);
    snprintf(child.id, sizeof child.id, "g__seed=0__keep=spectral:3");
    child.seed = 0;
    struct {
        ss_retrain_mode_t mode;
        int method, k;
        int want[6], n_want;
    } cases[] = {
        {SS_RETRAIN_KEEP, SS_ATTRIB_SPECTRAL, 3, {1, 3, 4}, 3},
        {SS_RETRAIN_KEEP, SS_ATTRIB_SPECTRAL, 2, {1, 3}, 2},      /* the tie: lower index */
        {SS_RETRAIN_REMOVE, SS_ATTRIB_SPECTRAL, 2, {0, 2, 4, 5}, 4},
        {SS_RETRAIN_KEEP, SS_ATTRIB_SALIENCY, 2, {2, 5}, 2},
        {SS_RETRAIN_REMOVE, SS_ATTRIB_SALIENCY, 3, {0, 1, 3}, 3},
        {SS_RETRAIN_KEEP, SS_RETRAIN_TRUTH, 2, {0, 3}, 2},
        {SS_RETRAIN_REMOVE, SS_RETRAIN_TRUTH, 6, {0}, 0},
    };
    char why[256];
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        child.retrain.mode = cases[t].mode;
        child.retrain.method = cases[t].method;
        child.retrain.k = cases[t].k;
        int *kept = NULL, n = -1;
        int rc = ss_retrain_inputs(&child, &parent, &ds, &kept, &n, why, sizeof why);
        CHECK(rc == 0 && kept_is(kept, n, cases[t].want, cases[t].n_want),
              "case %zu: rc %d, %d inputs", t, rc, n);
        free(kept);
    }
    /* random: k distinct inputs, the same for the same child, another set for another id */
    child.retrain.mode = SS_RETRAIN_KEEP;
    child.retrain.method = SS_RETRAIN_RANDOM;
    child.retrain.k = 3;
    int *a = NULL, *b = NULL, na, nb, differ = 0;
    ss_retrain_inputs(&child, &parent, &ds, &a, &na, why, sizeof why);
    ss_retrain_inputs(&child, &parent, &ds, &b, &nb, why, sizeof why);
    CHECK(na == 3 && nb == 3 && !memcmp(a, b, 3 * sizeof *a) && a[0] < a[1] && a[1] < a[2],
          "random: the same 3 increasing inputs twice");
    for (int s = 0; s < 20 && !differ; s++) {  /* other ids: some other set */
        int *c = NULL, nc;
        snprintf(child.id, sizeof child.id, "g__seed=%d__keep=random:3", s + 1);
        ss_retrain_inputs(&child, &parent, &ds, &c, &nc, why, sizeof why);
        differ = memcmp(a, c, 3 * sizeof *a) != 0;
        free(c);
    }
    CHECK(differ, "random: another child draws another set");
    free(a);
    free(b);
    /* no ranking: a diverged parent, a method the parent lacks, truth without a truth */
    int *k = NULL, nk;
    parent.status = SS_STATUS_DIVERGED;
    CHECK(ss_retrain_inputs(&child, &parent, &ds, &k, &nk, why, sizeof why) == 1 && !k &&
              strstr(why, "diverged"),
          "diverged parent: %s", why);
    parent.status = SS_STATUS_OK;
    child.retrain.method = SS_ATTRIB_INTEGRATED_GRADIENTS;
    CHECK(ss_retrain_inputs(&child, &parent, &ds, &k, &nk, why, sizeof why) == 1 &&
              strstr(why, "integrated_gradients"),
          "missing method: %s", why);
    child.retrain.method = SS_RETRAIN_TRUTH;
    ds.relevance_truth = NULL;
    CHECK(ss_retrain_inputs(&child, &parent, &ds, &k, &nk, why, sizeof why) == 1,
          "truth without a truth");
}

int main(void)
{
    test_grid_children();
    test_queue_order();
    test_inputs();
    return ss_test_report();
}
