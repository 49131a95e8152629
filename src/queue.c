/* queue.c - the order runs are handed out in. See include/specsweep/queue.h. */
#include "specsweep/queue.h"

#include <stdlib.h>

#include "specsweep/util.h"

enum { Q_PENDING, Q_RUNNING, Q_DONE, Q_DROPPED };

void ss_queue_init(ss_queue_t *q, const ss_run_t *runs, int n_runs, const double *cost,
                   const unsigned char *done)
{
    size_t n = (size_t)(n_runs > 0 ? n_runs : 1);
    q->n_runs = n_runs;
    q->runs = runs;
    q->state = ss_calloc(n, 1);
    q->order = ss_calloc(n, sizeof *q->order);
    q->ready = ss_calloc(n, sizeof *q->ready);
    q->first_child = ss_malloc(n * sizeof *q->first_child);
    q->n_children = ss_calloc(n, sizeof *q->n_children);
    q->n_order = q->next_order = q->n_ready = q->next_ready = q->waiting = 0;
    for (int i = 0; i < n_runs; i++) {
        q->first_child[i] = -1;
        q->state[i] = done[i] ? Q_DONE : Q_PENDING;
    }
    for (int i = 0; i < n_runs; i++) {
        int p = runs[i].retrain.mode != SS_RETRAIN_NONE ? runs[i].retrain.parent : -1;
        if (p >= 0 && q->n_children[p]++ == 0)
            q->first_child[p] = i;
        if (done[i])
            continue;
        if (p < 0)
            q->order[q->n_order++] = i;
        else if (done[p])
            q->ready[q->n_ready++] = i;
        else
            q->waiting++;
    }
    for (int a = 1; a < q->n_order; a++) { /* insertion sort: stable, by cost desc */
        int x = q->order[a], b = a;
        for (; b > 0 && cost[q->order[b - 1]] < cost[x]; b--)
            q->order[b] = q->order[b - 1];
        q->order[b] = x;
    }
}

void ss_queue_free(ss_queue_t *q)
{
    free(q->state);
    free(q->order);
    free(q->ready);
    free(q->first_child);
    free(q->n_children);
}

int ss_queue_next(ss_queue_t *q)
{
    int i = -1;
    if (q->next_ready < q->n_ready)
        i = q->ready[q->next_ready++];
    else if (q->next_order < q->n_order)
        i = q->order[q->next_order++];
    if (i >= 0) {
        q->state[i] = Q_RUNNING;
        return i;
    }
    return q->waiting > 0 ? SS_QUEUE_WAIT : SS_QUEUE_LEAVE;
}

void ss_queue_done(ss_queue_t *q, int i)
{
    q->state[i] = Q_DONE;
    for (int j = 0, c = q->first_child[i]; j < q->n_children[i]; j++, c++)
        if (q->state[c] == Q_PENDING) {
            q->ready[q->n_ready++] = c;
            q->waiting--;
        }
}

int ss_queue_drop(ss_queue_t *q, int i)
{
    q->state[i] = Q_DROPPED;
    int dropped = 1;
    for (int j = 0, c = q->first_child[i]; j < q->n_children[i]; j++, c++)
        if (q->state[c] == Q_PENDING) {
            q->state[c] = Q_DROPPED;
            q->waiting--;
            dropped++;
        }
    return dropped;
}
