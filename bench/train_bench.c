/*
 * train_bench - time ss_train_run() alone, in one process, without MPI: the training loop
 * that `specsweep run` executes for one run (epochs with shuffled minibatches, the
 * per-epoch validation pass), with the dataset loaded once beforehand.
 *
 *   train_bench SWEEP.yaml [--run I] [--repeat N] [--epochs E] [--export DIR]
 *
 * Trains run I (default 0) of the sweep N times (default 3) and prints one line per
 * repetition and a summary:
 *   samples/s  = epochs * training samples / train_seconds  (as in the results file)
 *   max RSS    = peak resident memory of this process (getrusage), and the dataset's
 *                float32 size (inputs + labels, training and test parts)
 *   input density = the fraction of nonzero training inputs, and whether the first
 *                layer therefore runs on its sparse-input path
 * --export DIR writes the exact training and validation rows of the run (after the
 * validation split) as raw little-endian float32 files x_fit, y_fit, x_val, y_val plus
 * DIR/shape.txt "n_fit n_val n_inputs n_classes", so another implementation can train on
 * the same samples. Exit code 0, or 2 on bad input. Single thread: set
 * OPENBLAS_NUM_THREADS=1 (bench/README.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_sweep.h"
#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/net.h"
#include "specsweep/train.h"

static int write_raw(const char *dir, const char *name, const float *v, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "train_bench: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* The validation split of ss_train_run (train.c): a permutation of the training rows
   from (data_seed ^ hash(name), SS_STREAM_SPLIT); the last n_val rows validate. */
static int export_split(const ss_sweep_t *sw, const ss_run_t *run, const ss_dataset_t *ds,
                        const char *dir)
{
    int n_all = ds->info.n_train, d = ds->info.n_inputs;
    int n_val = (int)floor(run->training.validation_fraction * n_all + 0.5);
    if (n_val >= n_all)
        n_val = n_all - 1;
    int n_fit = n_all - n_val;
    uint32_t *idx = ss_malloc((size_t)n_all * sizeof *idx);
    for (int i = 0; i < n_all; i++)
        idx[i] = (uint32_t)i;
    ss_rng_t rng;
    ss_rng_seed(&rng, sw->datasets[run->dataset].data_seed ^ ss_hash_str(ds->info.name),
                SS_STREAM_SPLIT);
    ss_rng_shuffle(&rng, idx, (size_t)n_all);
    float *x = ss_malloc((size_t)n_all * d * sizeof *x), *y = ss_malloc((size_t)n_all * 4);
    for (int i = 0; i < n_all; i++) {
        memcpy(x + (size_t)i * d, ds->x_train + (size_t)idx[i] * d, (size_t)d * sizeof *x);
        y[i] = ds->y_train[idx[i]];
    }
    int rc = write_raw(dir, "x_fit", x, (size_t)n_fit * d) ||
             write_raw(dir, "y_fit", y, (size_t)n_fit) ||
             write_raw(dir, "x_val", x + (size_t)n_fit * d, (size_t)n_val * d) ||
             write_raw(dir, "y_val", y + n_fit, (size_t)n_val);
    char path[4096];
    snprintf(path, sizeof path, "%s/shape.txt", dir);
    FILE *f = rc ? NULL : fopen(path, "w");
    if (!rc && (!f || fprintf(f, "%d %d %d %d\n", n_fit, n_val, d, ds->info.n_classes) < 0 ||
                fclose(f) != 0))
        rc = -1;
    free(idx);
    free(x);
    free(y);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *sweep_path = NULL, *export_dir = NULL;
    int run_i = 0, repeat = 3, epochs = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--run") && a + 1 < argc) run_i = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--repeat") && a + 1 < argc) repeat = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--epochs") && a + 1 < argc) epochs = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--export") && a + 1 < argc) export_dir = argv[++a];
        else if (argv[a][0] != '-' && !sweep_path) sweep_path = argv[a];
        else {
            fprintf(stderr, "usage: train_bench SWEEP.yaml [--run I] [--repeat N] "
                            "[--epochs E] [--export DIR]\n");
            return 2;
        }
    }
    if (!sweep_path || repeat < 0) {
        fprintf(stderr, "usage: train_bench SWEEP.yaml [--run I] [--repeat N] [--epochs E] "
                        "[--export DIR]\n");
        return 2;
    }
    ss_sweep_t sw;
    ss_run_t run;
    if (bench_sweep_run("train_bench", sweep_path, run_i, &sw, &run) != 0)
        return 2;
    ss_error_t err = {0};
    if (epochs > 0)
        run.training.epochs = epochs;
    ss_dataset_t ds;
    memset(&ds, 0, sizeof ds);
    if (ss_dataset_load(&sw.datasets[run.dataset], &ds, &err) != 0) {
        fprintf(stderr, "train_bench: %s\n", err.msg);
        return 2;
    }
    double data_mb = ((double)ds.info.n_train + ds.info.n_test) * (ds.info.n_inputs + 1) * 4.0 / 1048576.0;
    if (export_dir && export_split(&sw, &run, &ds, export_dir) != 0)
        return 2;

    double best = 0.0;
    for (int r = 0; r < repeat; r++) {
        ss_result_t res;
        if (ss_train_run(&sw, &run, &ds, NULL, 0, NULL, &res, &err) != 0) {
            fprintf(stderr, "train_bench: %s\n", err.msg);
            return 1;
        }
        printf("run %s: %d epochs in %.3f s  %.0f samples/s  test accuracy %.4f\n", run.id,
               res.n_epochs, res.train_seconds, res.samples_per_second, res.test_accuracy);
        if (res.samples_per_second > best)
            best = res.samples_per_second;
        ss_result_free(&res);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("best %.0f samples/s; max RSS %.1f MB; dataset float32 %.1f MB; input density "
           "%.4f (%s first layer)\n", best, ru.ru_maxrss / 1024.0, data_mb, ds.input_density,
           ds.input_density <= SS_SPARSE_INPUT_DENSITY ? "sparse" : "dense");
    ss_dataset_free(&ds);
    ss_sweep_free(&sw);
    return 0;
}
