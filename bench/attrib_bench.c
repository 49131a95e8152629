/*
 * attrib_bench - the cost of every relevance method on one run of a sweep, against the
 * cost of training that run.
 *
 *   attrib_bench SWEEP.yaml [--run I] [--samples N] [--epochs E] [--max-batch B]
 *                           [--methods m1,m2,...] [--shap-samples S]
 *
 * 1. Training: ss_train_run on run I (default 0) for E epochs (default 10), which gives
 *    the run's samples/s; the sweep's full training time is then its epochs x training
 *    rows / that rate (what `specsweep run` would spend on the run).
 * 2. A network of the sweep's model trained E epochs by the same steps (minibatches of
 *    the sweep's batch size, Adam + L2, the sparse first layer where the data is sparse),
 *    with a workspace of B rows (default 1024) for the attribution passes.
 * 3. N explained samples (default 1000) drawn from the test set as a run draws them; every
 *    method (or those given) with the default settings (attrib.h), timed: seconds,
 *    forward and backward passes (in samples), seconds as a share of the full training
 *    and per explained sample, and the checks. Inputs with an input_shape (images) get
 *    the 2-D Fourier layout.
 * Single thread: run with OPENBLAS_NUM_THREADS=1 (bench/README.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_sweep.h"
#include "specsweep/attrib.h"
#include "specsweep/config.h"
#include "specsweep/grid.h"
#include "specsweep/data.h"
#include "specsweep/net.h"
#include "specsweep/train.h"

static int usage(void)
{
    fprintf(stderr, "usage: attrib_bench SWEEP.yaml [--run I] [--samples N] [--epochs E] "
                    "[--max-batch B] [--methods m1,m2,...] [--shap-samples S]\n");
    return 2;
}

/* E epochs of shuffled minibatches on the training part (no validation split: the
   network only has to be a trained network of the right shape). */
static void train(ss_net_t *net, const ss_dataset_t *ds, int batch, int epochs, uint64_t seed)
{
    int d = ds->info.n_inputs, n = ds->info.n_train;
    uint32_t *idx = ss_malloc((size_t)n * sizeof *idx);
    float *x = ss_malloc((size_t)batch * d * sizeof *x), *y = ss_malloc((size_t)batch * 4);
    for (int i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, SS_STREAM_SHUFFLE);
    for (int e = 0; e < epochs; e++) {
        ss_rng_shuffle(&rng, idx, (size_t)n);
        for (int s = 0; s + batch <= n; s += batch) {
            for (int r = 0; r < batch; r++) {
                memcpy(x + (size_t)r * d, ds->x_train + (size_t)idx[s + r] * d,
                       (size_t)d * sizeof *x);
                y[r] = ds->y_train[idx[s + r]];
            }
            ss_net_forward_backward(net, x, y, batch, batch, &rng, NULL);
            ss_net_update(net, 0, net->n_params);
        }
    }
    free(idx);
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    const char *sweep_path = NULL, *methods = NULL;
    int run_i = 0, samples = 1000, epochs = 10, max_batch = 1024, shap_samples = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--run") && a + 1 < argc) run_i = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--samples") && a + 1 < argc) samples = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--epochs") && a + 1 < argc) epochs = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--max-batch") && a + 1 < argc) max_batch = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--methods") && a + 1 < argc) methods = argv[++a];
        else if (!strcmp(argv[a], "--shap-samples") && a + 1 < argc) shap_samples = atoi(argv[++a]);
        else if (argv[a][0] != '-' && !sweep_path) sweep_path = argv[a];
        else return usage();
    }
    if (!sweep_path || epochs < 1 || max_batch < 1)
        return usage();
    ss_sweep_t sw;
    ss_run_t run;
    if (bench_sweep_run("attrib_bench", sweep_path, run_i, &sw, &run) != 0)
        return 2;
    ss_error_t err = {0};
    int full_epochs = run.training.epochs;
    ss_dataset_t ds;
    memset(&ds, 0, sizeof ds);
    if (ss_dataset_load(&sw.datasets[run.dataset], &ds, &err) != 0) {
        fprintf(stderr, "attrib_bench: %s\n", err.msg);
        return 2;
    }

    /* 1. the training's rate and the full run's time */
    run.training.epochs = epochs;
    ss_result_t tres;
    if (ss_train_run(&sw, &run, &ds, NULL, 0, NULL, &tres, &err) != 0) {
        fprintf(stderr, "attrib_bench: %s\n", err.msg);
        return 1;
    }
    int n_val = (int)floor(run.training.validation_fraction * ds.info.n_train + 0.5);
    double n_fit = ds.info.n_train - n_val;
    double full = full_epochs * n_fit / tres.samples_per_second;
    printf("%s, network %d", run.id, ds.info.n_inputs);
    for (int l = 0; l < sw.model.n_hidden; l++)
        printf("-%d", sw.model.hidden[l]);
    printf("-%d (%s)\n", ds.info.n_classes ? ds.info.n_classes : 1,
           sw.model.spectral == SS_SPECTRAL_NONE ? "dense" : "spectral");
    printf("training: %.0f samples/s (%d epochs of %.0f rows in %.2f s); the sweep's %d epochs: "
           "%.1f s\n", tres.samples_per_second, epochs, n_fit, tres.train_seconds, full_epochs,
           full);
    ss_result_free(&tres);

    /* 2. a trained network with a large workspace */
    ss_net_t net;
    int n_out = ds.info.n_classes ? ds.info.n_classes : 1;
    ss_task_t task = ds.info.n_classes ? SS_TASK_CLASSIFICATION : SS_TASK_REGRESSION;
    if (ss_net_create(&net, &sw.model, &run.training, ds.info.n_inputs, n_out, task, max_batch,
                      (uint64_t)run.seed, &err) != 0) {
        fprintf(stderr, "attrib_bench: %s\n", err.msg);
        return 2;
    }
    if (ds.input_density <= SS_SPARSE_INPUT_DENSITY)
        ss_net_set_sparse_inputs(&net, ds.max_row_nonzeros);
    int batch = run.training.batch_size < max_batch ? run.training.batch_size : max_batch;
    train(&net, &ds, batch, epochs, (uint64_t)run.seed);
    double loss = 0.0, correct = 0.0;
    ss_net_evaluate(&net, ds.x_test, ds.y_test, ds.info.n_test, NULL, &loss, &correct);
    printf("attributed network: %d epochs, test %s %.4f\n", epochs,
           task == SS_TASK_CLASSIFICATION ? "accuracy" : "MAE", correct / ds.info.n_test);

    /* 3. the explained samples and the methods */
    uint32_t *idx = ss_malloc((size_t)ds.info.n_test * sizeof *idx);
    int n = ss_attrib_select_samples(ds.info.n_test, samples, (uint64_t)run.seed, idx);
    float *x = ss_malloc((size_t)n * ds.info.n_inputs * sizeof *x), *y = ss_malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) {
        memcpy(x + (size_t)i * ds.info.n_inputs, ds.x_test + (size_t)idx[i] * ds.info.n_inputs,
               (size_t)ds.info.n_inputs * sizeof *x);
        y[i] = ds.y_test[idx[i]];
    }
    ss_attrib_settings_t s;
    ss_attrib_defaults(&s);
    s.samples = samples;
    s.shap_samples = shap_samples;
    ss_attrib_data_t data = {ds.info.n_inputs, ds.info.n_train, ds.x_train, n, x, y, idx,
                             ds.info.input_rank == 2 ? ds.info.input_shape[0] : 0,
                             ds.info.input_rank == 2 ? ds.info.input_shape[1] : 0};
    ss_attrib_t *a = NULL;
    if (ss_attrib_create(&a, &net, &s, &data, (uint64_t)run.seed, &err) != 0) {
        fprintf(stderr, "attrib_bench: %s\n", err.msg);
        return 2;
    }
    printf("%d explained samples, workspace %d rows, one thread\n", n, max_batch);
    printf("%-21s %9s %11s %11s %9s %9s  %s\n", "method", "seconds", "forward", "backward",
           "% train", "ms/sample", "check (mean |err| / scale)");
    for (int m = 0; m < SS_ATTRIB_N_METHODS; m++) {
        const char *name = ss_attrib_method_name(m);
        if (methods) {
            const char *p = strstr(methods, name);
            size_t l = strlen(name);
            if (!p || (p != methods && p[-1] != ',') || (p[l] && p[l] != ','))
                continue;
        }
        ss_attrib_result_t r;
        if (ss_attrib_run(a, m, &r, &err) != 0) {
            fprintf(stderr, "attrib_bench: %s\n", err.msg);
            return 1;
        }
        if (r.skipped) {
            printf("%-21s %s\n", name, r.note);
            continue;
        }
        char chk[64] = "";
        if (r.check_scale > 0 && m != SS_ATTRIB_PERMUTATION)
            snprintf(chk, sizeof chk, "%.1e / %.2e", r.check_mean, r.check_scale);
        else if (m == SS_ATTRIB_PERMUTATION)
            snprintf(chk, sizeof chk, "base score %.4f", r.check_scale);
        printf("%-21s %9.3f %11lld %11lld %8.2f%% %9.3f  %s\n", name, r.seconds,
               (long long)r.forward_passes, (long long)r.backward_passes,
               100.0 * r.seconds / full, 1000.0 * r.seconds / n, chk);
        fflush(stdout);
        ss_attrib_result_free(&r);
    }
    ss_attrib_destroy(&a);
    free(idx);
    free(x);
    free(y);
    ss_net_destroy(&net);
    ss_dataset_free(&ds);
    ss_sweep_free(&sw);
    return 0;
}
