/*
 * plan.c - what a sweep will do, without running it: `specsweep list` (every run, done,
 * pending or skipped) and `specsweep validate` (the sweep checked with its datasets, and
 * its plan). See include/specsweep/plan.h.
 */
#include "specsweep/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/config.h"
#include "specsweep/data.h"
#include "specsweep/grid.h"
#include "specsweep/log.h"
#include "specsweep/retrain.h"

static int load_expand(const char *path, ss_sweep_t *sw, ss_run_t **runs, int *n_runs,
                       int *n_cells)
{
    ss_error_t err = {0};
    if (ss_sweep_load(path, sw, &err) != 0 ||
        ss_grid_expand(sw, runs, n_runs, n_cells, &err) != 0) {
        fprintf(stderr, "specsweep: %s\n", err.msg);
        ss_sweep_free(sw);
        return err.code;
    }
    return 0;
}

/* 1 when run i is a retraining run that will not run: its parent is done (in c) and has
   no ranking to give (why says so). */
static int skipped_child(ss_log_contents_t *c, const ss_run_t *runs, int i, char *why,
                         size_t size)
{
    if (runs[i].retrain.mode == SS_RETRAIN_NONE)
        return 0;
    const ss_result_t *p = ss_log_contents_find(c, runs[runs[i].retrain.parent].id);
    if (!p)
        return 0;
    int *kept = NULL, n_kept = 0;
    int rc = ss_retrain_inputs(&runs[i], p, ss_log_contents_find_dataset(c, p->dataset), &kept,
                               &n_kept, why, size);
    free(kept);
    return rc == 1;
}

int ss_plan_list(const char *sweep_path, const char *output)
{
    ss_sweep_t sw;
    ss_run_t *runs = NULL;
    int n_runs = 0, n_cells = 0;
    int rc = load_expand(sweep_path, &sw, &runs, &n_runs, &n_cells);
    if (rc)
        return rc;
    const char *out = output ? output : sw.output;
    char *log_path = ss_str_concat(out, ".log");
    ss_log_contents_t c;
    ss_error_t err = {0};
    memset(&c, 0, sizeof c);
    if (ss_log_read(log_path, &c, &err) != 0) {
        fprintf(stderr, "specsweep: %s\n", err.msg);
        free(log_path);
        free(runs);
        ss_sweep_free(&sw);
        return err.code;
    }
    int n_done = 0, n_skipped = 0;
    for (int i = 0; i < n_runs; i++) {
        const ss_result_t *r = ss_log_contents_find(&c, runs[i].id);
        char why[320];
        n_done += r != NULL;
        if (!r && skipped_child(&c, runs, i, why, sizeof why)) {
            printf("skipped  %s  (%s)\n", runs[i].id, why);
            n_skipped++;
            continue;
        }
        printf("%-8s %s", r ? ss_status_name(r->status) : "pending", runs[i].id);
        if (r && r->task == SS_TASK_CLASSIFICATION && !isnan(r->test_accuracy))
            printf("  test_accuracy=%.4f", r->test_accuracy);
        else if (r)
            printf("  test_loss=%.4g", r->test_loss);
        printf("\n");
    }
    printf("%d runs: %d done, %d pending", n_runs, n_done, n_runs - n_done - n_skipped);
    if (n_skipped)
        printf(", %d skipped", n_skipped);
    printf(" (results: %s)\n", out);
    if (c.n_damage > 0) { /* the listing is what the log holds; the user must hear the rest */
        char what[600];
        ss_log_damage_describe(&c, log_path, what, sizeof what);
        fprintf(stderr, "specsweep: %s; `specsweep run --salvage` keeps every intact record\n",
                what);
        rc = SS_EXIT_INPUT;
    }
    ss_log_contents_free(&c);
    free(log_path);
    free(runs);
    ss_sweep_free(&sw);
    return rc;
}

/* The model of the sweep's `model:` section, and its `init:` when the sweep records
   models (a sweep without the spectral-domain keys prints what it always printed); the
   layers as an axis sets them when one does. */
static void print_model(const ss_sweep_t *sw, const ss_model_t *m, int with_init)
{
    char text[SS_MAX_LAYERS * 8 + 8];
    int swept = 0;
    for (int a = 0; a < sw->n_axes; a++)
        swept |= (sw->axes[a].model_mask >> SS_MKEY_HIDDEN) & 1u;
    printf("  model: hidden");
    if (swept)
        printf(" swept (%s)", m->n_act < 0 ? ss_act_name(m->act[0]) : "activations listed");
    else if (m->n_hidden == 0)
        printf(" none (a perceptron)");
    for (int l = 0; !swept && l < m->n_hidden; l++)
        printf(" %d(%s)", m->hidden[l], ss_act_name(m->act[l]));
    printf(", spectral %s", ss_spectral_name(m->spectral));
    if (m->train_lambda_out)
        printf(", lambda_out trained");
    if (m->trainable_weights != SS_WEIGHTS_ALL)
        printf(", trainable_weights %s", ss_trainable_weights_name(m->trainable_weights));
    if (m->retract != SS_RETRACT_NONE)
        printf(", retract %s", ss_retract_name(m->retract));
    printf("\n");
    if (!with_init)
        return;
    printf("  init: eigenvectors %s",
           ss_model_key_text(m, SS_MKEY_INIT_EIGENVECTORS, text, sizeof text));
    printf(", weights %s", ss_model_key_text(m, SS_MKEY_INIT_WEIGHTS, text, sizeof text));
    printf(", lambda_in %s", ss_model_key_text(m, SS_MKEY_INIT_LAMBDA_IN, text, sizeof text));
    printf(", lambda_out %s\n",
           ss_model_key_text(m, SS_MKEY_INIT_LAMBDA_OUT, text, sizeof text));
}

/* What a sweep will run: the model, every axis with its points (a bundle with what each
   bundle sets), the grid's size. */
static void print_plan(const ss_sweep_t *sw, const ss_run_t *runs, int n_runs, int n_cells)
{
    print_model(sw, &sw->model, sw->record_model);
    if (sw->training.optimizer != SS_OPT_ADAM)
        printf("  optimizer: %s\n", ss_optimizer_name(sw->training.optimizer));
    for (int a = 0; a < sw->n_axes; a++) {
        const ss_axis_t *ax = &sw->axes[a];
        if (ax->kind != SS_AXIS_BUNDLE) {
            printf("  sweep %s:", ax->name);
            for (int v = 0; v < ax->n; v++)
                printf(" %s", ax->labels[v]);
            printf("\n");
            continue;
        }
        printf("  sweep %s (bundles):\n", ax->name);
        for (int v = 0; v < ax->n; v++) {
            const ss_patch_t *pt = &ax->points[v];
            char text[SS_MAX_LAYERS * 8 + 8];
            printf("    %s:", ax->labels[v]);
            for (int k = 0; k < SS_KEY_COUNT; k++)
                if ((pt->training_mask >> k) & 1u)
                    printf(" %s=%s", ss_training_key_name((ss_training_key_t)k),
                           ss_training_key_text(&pt->training, (ss_training_key_t)k, text,
                                                sizeof text));
            for (int k = 0; k < SS_MKEY_COUNT; k++)
                if ((pt->model_mask >> k) & 1u)
                    printf(" %s=%s", ss_model_key_name((ss_model_key_t)k),
                           ss_model_key_text(&pt->model, (ss_model_key_t)k, text, sizeof text));
            if (!pt->training_mask && !pt->model_mask)
                printf(" (the sections' settings)");
            printf("\n");
        }
    }
    if (sw->record_model)
        printf("  every run records n_trainable and its model (model.*, init.*)\n");
    int n_children = 0, n_child_cells = 0, first_child_cell = n_cells;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].retrain.mode != SS_RETRAIN_NONE) {
            n_children++;
            if (runs[i].cell < first_child_cell)
                first_child_cell = runs[i].cell;
        }
    n_child_cells = n_cells - first_child_cell;
    printf("  %d runs = %d cells x %d seeds; ranks_per_run %d\n", n_runs - n_children,
           first_child_cell, sw->n_seeds, sw->ranks_per_run);
    if (n_children) {
        const ss_retrain_spec_t *rt = &sw->retrain;
        printf("  retraining:");
        for (int m = 0; m < SS_RETRAIN_N_METHODS; m++)
            if ((rt->methods >> m) & 1u)
                printf(" %s", ss_retrain_method_name(m));
        for (int mode = SS_RETRAIN_KEEP; mode <= SS_RETRAIN_REMOVE; mode++)
            for (int j = 0; j < rt->n_k[mode]; j++)
                printf("%s%d", j ? ", " : mode == SS_RETRAIN_KEEP ? "; keep " : "; remove ",
                       rt->k[mode][j]);
        printf("\n  + %d retraining runs (%d cells), each after its parent run: %d runs in "
               "all\n", n_children, n_child_cells, n_runs);
    }
    printf("ok\n");
}

int ss_plan_validate(const char *sweep_path)
{
    ss_sweep_t sw;
    ss_run_t *runs = NULL;
    int n_runs = 0, n_cells = 0;
    int rc = load_expand(sweep_path, &sw, &runs, &n_runs, &n_cells);
    if (rc)
        return rc;
    printf("sweep '%s' (%s): output %s\n", sw.name, sw.path, sw.output);
    for (int d = 0; d < sw.n_datasets && !rc; d++) {
        ss_dataset_t ds;
        ss_error_t err = {0};
        memset(&ds, 0, sizeof ds);
        if (ss_dataset_load(&sw.datasets[d], &ds, &err) != 0 ||
            ss_retrain_check(&sw, &ds.info, &err) != 0) {
            fprintf(stderr, "specsweep: %s\n", err.msg);
            ss_dataset_free(&ds);
            rc = err.code;
            break;
        }
        printf("  dataset %-16s %-10s %d inputs, %s, %d train + %d test samples\n", ds.info.name,
               ss_kind_name(sw.datasets[d].kind), ds.info.n_inputs,
               ds.info.n_classes ? "classification" : "regression", ds.info.n_train, ds.info.n_test);
        if (ds.info.n_classes)
            printf("    %d classes\n", ds.info.n_classes);
        if (ds.info.input_rank == 2)
            printf("    input shape %d x %d\n", ds.info.input_shape[0], ds.info.input_shape[1]);
        if (ds.info.standardize_mean)
            printf("    standardized: each input z-scored with the training rows' mean and "
                   "std\n");
        ss_dataset_free(&ds);
    }
    if (!rc)
        print_plan(&sw, runs, n_runs, n_cells);
    free(runs);
    ss_sweep_free(&sw);
    return rc;
}
