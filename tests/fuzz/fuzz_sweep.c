/*
 * fuzz_sweep.c - the sweep file parser (ss_sweep_parse_bytes, config.c and
 * config_yaml.c) and, for the files it accepts, the grid expansion (grid.c).
 *
 * Contract: a bad file fails with SS_EXIT_INPUT and a message "fuzz.yaml..." (libyaml
 * out of memory is SS_EXIT_RUNTIME); a good file gives a sweep with at least one dataset,
 * seed and top-k entry, and a grid of at most SS_MAX_RUNS runs whose ids are unique.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "specsweep/config.h"
#include "specsweep/grid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The memory rule of this target (fuzz_util.h). */
const size_t fuzz_memory_limit = (size_t)1 << 30;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const ss_run_t *)a)->id, ((const ss_run_t *)b)->id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_sweep_t sw;
    ss_error_t err = {0};
    if (ss_sweep_parse_bytes("fuzz.yaml", (const char *)data, size, &sw, &err) != 0) {
        fuzz_check_error(&err, "fuzz.yaml", 1);
        FUZZ_CHECK(!sw.path && !sw.datasets && !sw.seeds, "sweep not emptied after a failure");
        return 0;
    }
    FUZZ_CHECK(sw.n_datasets >= 1 && sw.n_seeds >= 1 && sw.n_topk >= 1 && sw.output,
               "accepted sweep without datasets, seeds, topk or output");
    double runs = (double)sw.n_datasets * (double)sw.n_seeds;
    for (int a = 0; a < sw.n_axes; a++)
        runs *= (double)sw.axes[a].n;
    FUZZ_CHECK(runs <= SS_MAX_RUNS, "accepted a grid of %.0f runs", runs);
    if (runs <= 20000) {    /* expanding larger grids only costs time */
        ss_run_t *r = NULL;
        int n = 0, cells = 0;
        FUZZ_CHECK(ss_grid_expand(&sw, &r, &n, &cells, &err) == 0,
                   "accepted sweep does not expand: %s", err.msg);
        FUZZ_CHECK(n == (int)runs, "%d runs, expected %.0f", n, runs);
        qsort(r, (size_t)n, sizeof *r, by_id);
        for (int i = 1; i < n; i++)
            FUZZ_CHECK(strcmp(r[i - 1].id, r[i].id) != 0, "run id %s twice", r[i].id);
        free(r);
    }
    ss_sweep_free(&sw);
    return 0;
}
