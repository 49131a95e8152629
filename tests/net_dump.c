/*
 * net_dump.c - helper of test_reference.py: build a network from a seed and a config
 * given on the command line, run it on a generated batch, and write everything a
 * reference implementation needs to check it.
 *
 *   net_dump OUT key=value ...
 *     task=cls|reg  spectral=all|first|none  inputs=N  classes=K  hidden=6,5
 *     act=tanh,relu  bn=0|1  train_evec=0|1  train_lout=0|1  reg_ev=X  reg_evec=X
 *     lr=X  batch=B  seed=S  steps=T  sparse=0|1  opt=adam|adamax  subset=0|1
 *     init_evec=A  init_w=A  lin=LO:HI  lout=LO:HI   (dumpfile.h)
 *
 * sparse=1: about 70 % of the batch's inputs are zero (each with probability 0.7), and the
 * first layer runs on its sparse-input path (ss_net_set_sparse_inputs).
 * OUT: a record file (dumpfile.h).
 * Records: the initial parameters ("L<l>.psi" or "L<l>.W", "L<l>.lin", "L<l>.lout",
 * "L<l>.b", "bn.gamma", "bn.beta", "bn.mean", "bn.var"), the trainable subset of a dense
 * layer's weights "L<l>.mask" (1 trainable, 0 frozen; subset=1 only), the batch "x", "y";
 * after one training pass + L2: "loss_data" (mean), "l2", "grad.<param>"; after `steps`
 * optimizer steps
 * on the same batch (the first one from those gradients): "step.loss" (loss at each
 * step), "step.<param>", "step.bn.mean", "step.bn.var", and inference on the batch
 * "eval.loss_sum", "eval.correct".
 */
#include "specsweep/net.h"
#include "dumpfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *msg)
{
    fprintf(stderr, "net_dump: %s\nusage: net_dump OUT key=value ... (see net_dump.c)\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("missing output path");
    net_args_t na;
    net_args_init(&na);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return usage(argv[i]);
        *eq = '\0';
        if (net_args_set(&na, argv[i], eq + 1) != 0)
            return usage(argv[i]);
    }
    if (net_args_finish(&na) != 0)
        return usage("hidden and act need the same length; batch, steps >= 1");
    ss_model_t model = na.model;
    ss_training_t tr = na.tr;
    ss_task_t task = na.task;
    int inputs = na.inputs, classes = na.classes, batch = na.batch, steps = na.steps;
    int sparse = na.sparse;
    uint64_t seed = na.seed;
    int n_out = task == SS_TASK_CLASSIFICATION ? classes : 1;

    ss_net_t net;
    ss_error_t err = {0};
    if (ss_net_create(&net, &model, &tr, inputs, n_out, task, batch, seed, &err) != 0) {
        fprintf(stderr, "net_dump: %s\n", err.msg);
        return 2;
    }

    /* the batch: x ~ N(0, 1); labels uniform, or targets 2 + N(0, 0.5) */
    float *x = malloc((size_t)batch * inputs * sizeof(float));
    float *y = malloc((size_t)batch * sizeof(float));
    double *step_loss = malloc((size_t)steps * sizeof(double));
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, 1000);
    for (size_t k = 0; k < (size_t)batch * inputs; k++) x[k] = (float)ss_rng_normal(&rng);
    if (sparse) {
        for (size_t k = 0; k < (size_t)batch * inputs; k++)
            x[k] = ss_rng_uniform(&rng) < 0.7 ? 0.0f : x[k];
        ss_net_set_sparse_inputs(&net, inputs);
    }
    for (int r = 0; r < batch; r++)
        y[r] = task == SS_TASK_CLASSIFICATION ? (float)ss_rng_below(&rng, (uint64_t)n_out)
                                              : (float)(2.0 + 0.5 * ss_rng_normal(&rng));

    dump_t d;
    if (dump_start(&d, argv[1], &net) != 0)
        return 1;
    for (int l = 0; net.wmask && l < net.n_layers; l++) {
        const ss_layer_t *L = &net.layer[l];
        char name[32];
        snprintf(name, sizeof name, "L%d.mask", l);
        if (!L->spectral)
            rec_f32(&d, name, net.wmask + L->off_w, (uint64_t)L->n_in, (uint64_t)L->n_out);
    }
    rec_f32(&d, "x", x, (uint64_t)batch, (uint64_t)inputs);
    rec_f32(&d, "y", y, (uint64_t)batch, 0);

    for (int s = 0; s < steps; s++) {
        double data = ss_net_forward_backward(&net, x, y, batch, batch, NULL, NULL) / batch;
        double l2 = ss_net_add_l2(&net);
        step_loss[s] = data + l2;
        if (s == 0) {
            rec_f64(&d, "loss_data", &data, 1);
            rec_f64(&d, "l2", &l2, 1);
            rec_params(&d, &net, net.grads, "grad.");
        }
        ss_net_adam_step(&net);
    }
    rec_f64(&d, "step.loss", step_loss, (uint64_t)steps);
    rec_params(&d, &net, net.params, "step.");
    rec_bn_stats(&d, &net, "step.");
    double eloss = 0.0, ecorrect = 0.0;
    ss_net_evaluate(&net, x, y, batch, NULL, &eloss, &ecorrect);
    rec_f64(&d, "eval.loss_sum", &eloss, 1);
    rec_f64(&d, "eval.correct", &ecorrect, 1);

    dump_close(&d);
    free(x);
    free(y);
    free(step_loss);
    ss_net_destroy(&net);
    if (d.failed) {
        fprintf(stderr, "net_dump: writing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
