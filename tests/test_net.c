/*
 * test_net.c - the network module: finite-difference gradient check of every parameter
 * kind, data-parallel equivalence (with and without batch-norm), frozen parameters,
 * trainable subsets of dense weights (the mask a function of the seed alone, frozen
 * weights never moved), Adam and AdaMax, the initialisation settings, evaluation in
 * chunks and with an input mask, relevance, creation errors.
 */
#include "specsweep/net.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- building nets and batches -------------------------------------------------------- */

typedef struct {
    const char *title;
    ss_task_t task;
    ss_spectral_t spectral;
    int n_hidden, hidden[3];
    ss_act_t act[3];
    int batchnorm;
    double dropout;
    int train_evec, train_lout;
    int subset;                 /* dense layers: trainable_weights match_eigenvalues */
    ss_optimizer_t optimizer;
    int paper_init;             /* init: psi and W U(-0.5, 0.5), lambda_out U(-0.01, 0.01) */
} net_case_t;

static ss_model_t case_model(const net_case_t *c)
{
    ss_model_t m;
    ss_model_defaults(&m);
    m.n_hidden = c->n_hidden;
    for (int l = 0; l < c->n_hidden; l++) {
        m.hidden[l] = c->hidden[l];
        m.act[l] = c->act[l];
    }
    m.spectral = c->spectral;
    m.batchnorm_after_first = c->batchnorm;
    m.dropout_after_first = c->dropout;
    m.train_lambda_out = c->train_lout;
    m.trainable_weights = c->subset ? SS_WEIGHTS_MATCH_EIGENVALUES : SS_WEIGHTS_ALL;
    if (c->paper_init) {
        m.init.eigenvectors = 0.5;
        m.init.weights = 0.5;
        m.init.lambda_out[0] = -0.01;
        m.init.lambda_out[1] = 0.01;
    }
    return m;
}

static ss_training_t case_training(const net_case_t *c)
{
    ss_training_t t;
    memset(&t, 0, sizeof t);
    t.learning_rate = 1e-2;
    t.batch_size = 10;
    t.epochs = 1;
    t.reg_eigenvalues = 3e-2;
    t.reg_eigenvectors = 5e-2;
    t.train_eigenvectors = c->train_evec;
    t.adam_beta1 = 0.9;
    t.adam_beta2 = 0.999;
    t.adam_epsilon = 1e-7;
    t.optimizer = c->optimizer;
    t.adamax_beta1 = 0.9;
    t.adamax_beta2 = 0.999;
    t.adamax_epsilon = 1e-7;
    return t;
}

#define N_IN 6
#define N_CLASSES 3
#define BATCH 10

static int make_net(ss_net_t *net, const net_case_t *c, int max_batch, uint64_t seed)
{
    ss_model_t m = case_model(c);
    ss_training_t t = case_training(c);
    ss_error_t err = {0};
    int n_out = c->task == SS_TASK_CLASSIFICATION ? N_CLASSES : 1;
    int rc = ss_net_create(net, &m, &t, N_IN, n_out, c->task, max_batch, seed, &err);
    if (rc != 0)
        fprintf(stderr, "ss_net_create: %s\n", err.msg);
    return rc;
}

/* Inputs ~ N(0, 1); labels 0..2, or regression targets 3 + U(0, 1): far from the
   network's initial outputs, so |residual| stays away from the kink of MAE. */
static void make_batch(float *x, float *y, int n, ss_task_t task, uint64_t seed)
{
    ss_rng_t rng;
    ss_rng_seed(&rng, seed, 99);
    for (int k = 0; k < n * N_IN; k++)
        x[k] = (float)ss_rng_normal(&rng);
    for (int r = 0; r < n; r++)
        y[r] = task == SS_TASK_CLASSIFICATION ? (float)ss_rng_below(&rng, N_CLASSES)
                                              : (float)(3.0 + ss_rng_uniform(&rng));
}

/* ---- parameter kinds ------------------------------------------------------------------ */

enum { K_PSI, K_LIN, K_LOUT, K_BIAS, K_DENSE, K_GAMMA, K_BETA, K_COUNT };
static const char *kind_name[K_COUNT] = {"psi", "lambda_in", "lambda_out", "bias",
                                         "dense W", "bn gamma", "bn beta"};

static int param_kind(const ss_net_t *net, size_t k)
{
    for (int l = 0; l < net->n_layers; l++) {
        const ss_layer_t *L = &net->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        if (k >= L->off_w && k < L->off_w + nw) return L->spectral ? K_PSI : K_DENSE;
        if (L->spectral && k >= L->off_lin && k < L->off_lin + (size_t)L->n_in) return K_LIN;
        if (L->spectral && k >= L->off_lout && k < L->off_lout + (size_t)L->n_out) return K_LOUT;
        if (k >= L->off_b && k < L->off_b + (size_t)L->n_out) return K_BIAS;
    }
    if (net->batchnorm) {
        int n0 = net->layer[0].n_out;
        if (k >= net->off_bn_gamma && k < net->off_bn_gamma + (size_t)n0) return K_GAMMA;
        if (k >= net->off_bn_beta && k < net->off_bn_beta + (size_t)n0) return K_BETA;
    }
    return -1;
}

static int is_trainable(const ss_net_t *net, size_t k)
{
    if (net->wmask && net->wmask[k] == 0.0f)
        return 0;   /* a frozen weight of a trainable subset */
    for (int s = 0; s < net->n_segments; s++)
        if (k >= net->seg_off[s] && k < net->seg_off[s] + net->seg_len[s])
            return 1;
    return 0;
}

/* ---- finite differences --------------------------------------------------------------- */

/* Full loss (mean data loss + L2) with a fixed dropout mask; batch-norm running
   statistics are restored so evaluations have no side effects. */
static double full_loss(ss_net_t *net, const float *x, const float *y, int n)
{
    int n0 = net->layer[0].n_out;
    float mean[SS_MAX_LAYERS * 4], var[SS_MAX_LAYERS * 4];   /* the test nets are narrow */
    if (net->batchnorm && n0 > SS_MAX_LAYERS * 4) {
        CHECK(0, "full_loss: first layer too wide for this test");
        return NAN;
    }
    if (net->batchnorm) {
        memcpy(mean, net->bn_mean, (size_t)n0 * sizeof(float));
        memcpy(var, net->bn_var, (size_t)n0 * sizeof(float));
    }
    ss_rng_t rng;
    ss_rng_seed(&rng, 7, SS_STREAM_DROPOUT);
    double loss = ss_net_forward_backward(net, x, y, n, n, &rng, NULL) / n + ss_net_l2(net);
    if (net->batchnorm) {
        memcpy(net->bn_mean, mean, (size_t)n0 * sizeof(float));
        memcpy(net->bn_var, var, (size_t)n0 * sizeof(float));
    }
    return loss;
}

/*
 * Central differences with step h = 5e-3 * max(|p|, 0.5) on every trainable parameter,
 * compared with the analytic gradient by
 *     err = |g_fd - g| / max(|g_fd| + |g|, 1e-3).
 * float32 rounding of a loss of order 1 is ~1e-7 per evaluation, so the difference
 * quotient carries noise of ~1e-7 / (2 h) ~ 1e-5 absolute, and truncation error of order
 * h^2 relative; the 1e-3 floor keeps that noise from dominating tiny gradients. Correct
 * gradients measure below ~1e-2 here (Debug and Release), a wrong factor or sign gives
 * errors of order 1.
 * Tolerance: 2e-2 per parameter.
 */
#define FD_TOL 2e-2
static double worst[K_COUNT];

/* sparse: the first layer on its sparse-input path, and 60 % of the inputs zero. */
static void gradient_check(const net_case_t *c, int sparse)
{
    ss_net_t net;
    if (make_net(&net, c, BATCH, 11) != 0) {
        CHECK(0, "%s: create failed", c->title);
        return;
    }
    ss_net_set_sparse_inputs(&net, sparse ? N_IN : 0);
    /* move off the symmetric start (lambda_in = 1, lambda_out = 0, bias 0, BN 1/0) */
    ss_rng_t rng;
    ss_rng_seed(&rng, 5, 123);
    for (size_t k = 0; k < net.n_params; k++) {
        int kind = param_kind(&net, k);
        if (kind != K_PSI && kind != K_DENSE)
            net.params[k] += (float)(0.3 * (2.0 * ss_rng_uniform(&rng) - 1.0));
    }
    float x[BATCH * N_IN], y[BATCH];
    make_batch(x, y, BATCH, c->task, 3);
    if (sparse)
        for (int k = 0; k < BATCH * N_IN; k++)
            x[k] = k % 5 < 3 ? 0.0f : x[k];

    full_loss(&net, x, y, BATCH);
    ss_net_add_l2(&net);
    float *g = malloc(net.n_params * sizeof(float));
    memcpy(g, net.grads, net.n_params * sizeof(float));

    double kind_err[K_COUNT];
    int kind_n[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) { kind_err[k] = 0; kind_n[k] = 0; }
    int frozen_nonzero = 0;
    for (size_t k = 0; k < net.n_params; k++) {
        if (!is_trainable(&net, k)) {
            frozen_nonzero += g[k] != 0.0f;
            continue;
        }
        float p0 = net.params[k];
        float h = 5e-3f * fmaxf(fabsf(p0), 0.5f);
        float pp = p0 + h, pm = p0 - h;
        net.params[k] = pp;
        double lp = full_loss(&net, x, y, BATCH);
        net.params[k] = pm;
        double lm = full_loss(&net, x, y, BATCH);
        net.params[k] = p0;
        double fd = (lp - lm) / ((double)pp - (double)pm);
        double e = fabs(fd - g[k]) / fmax(fabs(fd) + fabs(g[k]), 1e-3);
        int kind = param_kind(&net, k);
        if (e > kind_err[kind]) kind_err[kind] = e;
        kind_n[kind]++;
        if (e > FD_TOL)
            fprintf(stderr, "  %s: param %zu (%s): fd %.6g analytic %.6g\n", c->title, k,
                    kind_name[kind], fd, (double)g[k]);
    }
    printf("gradcheck %-34s%s", c->title, sparse ? " (sparse inputs)" : "");
    for (int k = 0; k < K_COUNT; k++) {
        if (!kind_n[k]) continue;
        printf(" %s %.1e", kind_name[k], kind_err[k]);
        CHECK(kind_err[k] < FD_TOL, "%s: %s max error %.3g", c->title, kind_name[k],
              kind_err[k]);
        if (kind_err[k] > worst[k]) worst[k] = kind_err[k];
    }
    printf("\n");
    CHECK(frozen_nonzero == 0, "%s: %d frozen parameters have a gradient", c->title,
          frozen_nonzero);
    free(g);
    ss_net_destroy(&net);
}

static const net_case_t fd_cases[] = {
    {"cls all tanh/sigmoid bn dropout", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
     {SS_ACT_TANH, SS_ACT_SIGMOID}, 1, 0.2, 1, 1, 0, SS_OPT_ADAM, 0},
    {"cls first relu/tanh bn", SS_TASK_CLASSIFICATION, SS_SPECTRAL_FIRST, 2, {5, 4},
     {SS_ACT_RELU, SS_ACT_TANH}, 1, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
    {"cls none sigmoid/relu dropout", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2, {5, 4},
     {SS_ACT_SIGMOID, SS_ACT_RELU}, 0, 0.3, 1, 0, 0, SS_OPT_ADAM, 0},
    {"cls all tanh/linear, lout frozen", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
     {SS_ACT_TANH, SS_ACT_LINEAR}, 0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0},
    {"cls all sigmoid, psi frozen", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 1, {5},
     {SS_ACT_SIGMOID}, 1, 0.0, 0, 1, 0, SS_OPT_ADAM, 0},
    {"cls all, no hidden layer", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 0, {0},
     {SS_ACT_TANH}, 0, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
    {"reg all tanh/relu bn", SS_TASK_REGRESSION, SS_SPECTRAL_ALL, 2, {5, 4},
     {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
    {"reg first relu/tanh", SS_TASK_REGRESSION, SS_SPECTRAL_FIRST, 2, {5, 4},
     {SS_ACT_RELU, SS_ACT_TANH}, 0, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
    {"reg none tanh/sigmoid bn dropout", SS_TASK_REGRESSION, SS_SPECTRAL_NONE, 2, {5, 4},
     {SS_ACT_TANH, SS_ACT_SIGMOID}, 1, 0.25, 1, 0, 0, SS_OPT_ADAM, 0},
    {"reg first sigmoid, psi frozen", SS_TASK_REGRESSION, SS_SPECTRAL_FIRST, 2, {5, 4},
     {SS_ACT_SIGMOID, SS_ACT_TANH}, 0, 0.0, 0, 1, 0, SS_OPT_ADAM, 0},
    /* the spectral-domain regimes: eigenvalues only (both lambdas, psi frozen) on linear
       layers from the paper's initialisation; a trainable subset of dense weights */
    {"cls all linear, eigenvalues only", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
     {SS_ACT_LINEAR, SS_ACT_LINEAR}, 0, 0.0, 0, 1, 0, SS_OPT_ADAM, 1},
    {"cls all, no hidden, eigenvalues only", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 0, {0},
     {SS_ACT_TANH}, 0, 0.0, 0, 1, 0, SS_OPT_ADAMAX, 1},
    {"cls none relu/linear, subset", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2, {5, 4},
     {SS_ACT_RELU, SS_ACT_LINEAR}, 0, 0.0, 1, 0, 1, SS_OPT_ADAMAX, 0},
    {"reg none tanh, subset, paper init", SS_TASK_REGRESSION, SS_SPECTRAL_NONE, 1, {5},
     {SS_ACT_TANH}, 0, 0.0, 1, 0, 1, SS_OPT_ADAM, 1},
    /* layers of 16 columns and more: the activation passes' vectors, with an overlapping
       last vector (17, 40, 133), without (16, 128), one group of them or two (net.c) */
    {"cls all tanh/sigmoid 40/17 dropout", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2,
     {40, 17}, {SS_ACT_TANH, SS_ACT_SIGMOID}, 0, 0.2, 1, 1, 0, SS_OPT_ADAM, 0},
    {"reg first relu/tanh 16/133", SS_TASK_REGRESSION, SS_SPECTRAL_FIRST, 2, {16, 133},
     {SS_ACT_RELU, SS_ACT_TANH}, 0, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
    {"cls none sigmoid/linear 20/128", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2,
     {20, 128}, {SS_ACT_SIGMOID, SS_ACT_LINEAR}, 0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0},
};

/* The regression cases assume residuals far from 0 (MAE has a kink there). */
static void check_residuals_away_from_zero(void)
{
    for (size_t i = 0; i < sizeof fd_cases / sizeof fd_cases[0]; i++) {
        const net_case_t *c = &fd_cases[i];
        if (c->task != SS_TASK_REGRESSION || c->batchnorm)
            continue; /* inference == training forward only without batch-norm */
        ss_net_t net;
        if (make_net(&net, c, BATCH, 11) != 0) continue;
        float x[BATCH * N_IN], y[BATCH];
        make_batch(x, y, BATCH, c->task, 3);
        double min_abs = INFINITY;
        for (int r = 0; r < BATCH; r++) {
            double e = 0.0;
            ss_net_evaluate(&net, x + r * N_IN, y + r, 1, NULL, &e, NULL);
            min_abs = fmin(min_abs, e);
        }
        CHECK(min_abs > 0.5, "%s: a residual is near the MAE kink (%g)", c->title, min_abs);
        ss_net_destroy(&net);
    }
}

/* ---- data parallel ----------------------------------------------------------------- */

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double amax = 0.0, d = 0.0;
    for (size_t k = 0; k < n; k++) {
        amax = fmax(amax, fabs(b[k]));
        d = fmax(d, fabs((double)a[k] - b[k]));
    }
    return d / fmax(amax, 1e-30);
}

static void test_shards_no_bn(void)
{
    net_case_t c = {"shards", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
                    {SS_ACT_TANH, SS_ACT_RELU}, 0, 0.0, 1, 1, 0, SS_OPT_ADAM, 0};
    ss_net_t net;
    if (make_net(&net, &c, BATCH, 2) != 0) { CHECK(0, "create"); return; }
    float x[BATCH * N_IN], y[BATCH];
    make_batch(x, y, BATCH, c.task, 4);
    size_t np = net.n_params;
    float *full = malloc(np * sizeof(float)), *sum = malloc(np * sizeof(float));
    double lf = ss_net_forward_backward(&net, x, y, BATCH, BATCH, NULL, NULL);
    memcpy(full, net.grads, np * sizeof(float));
    double l1 = ss_net_forward_backward(&net, x, y, 4, BATCH, NULL, NULL);
    memcpy(sum, net.grads, np * sizeof(float));
    double l2 = ss_net_forward_backward(&net, x + 4 * N_IN, y + 4, BATCH - 4, BATCH, NULL, NULL);
    for (size_t k = 0; k < np; k++) sum[k] += net.grads[k];
    double d = max_rel_diff(sum, full, np);
    printf("data parallel, no batch-norm: grads max rel diff %.2e, loss diff %.2e\n", d,
           fabs(l1 + l2 - lf));
    CHECK(d < 1e-5, "shard gradients differ from the full batch: %g", d);
    CHECK(fabs(l1 + l2 - lf) < 1e-5 * fabs(lf), "shard losses %g + %g != %g", l1, l2, lf);

    double l0 = ss_net_forward_backward(&net, x, y, 0, BATCH, NULL, NULL);
    int nz = 0;
    for (size_t k = 0; k < np; k++) nz += net.grads[k] != 0.0f;
    CHECK(l0 == 0.0 && nz == 0, "empty shard: loss %g, %d nonzero grads", l0, nz);
    free(full);
    free(sum);
    ss_net_destroy(&net);
}

/* Two nets in lockstep on two threads; red->sum adds their buffers element-wise. */
typedef struct {
    pthread_barrier_t bar;
    float *buf[2];
    int calls[2];
} pair_t;
typedef struct {
    pair_t *pair;
    int rank;
    ss_net_t *net;
    const float *x, *y;
    int b, total;
    double loss;
} shard_job_t;

static void pair_sum(void *ctx, float *buf, size_t n)
{
    shard_job_t *j = ctx;
    pair_t *p = j->pair;
    p->buf[j->rank] = buf;
    p->calls[j->rank]++;
    pthread_barrier_wait(&p->bar);
    if (j->rank == 0)
        for (size_t k = 0; k < n; k++) {
            float s = p->buf[0][k] + p->buf[1][k];
            p->buf[0][k] = s;
            p->buf[1][k] = s;
        }
    pthread_barrier_wait(&p->bar);
}

static void *shard_thread(void *arg)
{
    shard_job_t *j = arg;
    ss_reduce_t red = {pair_sum, j};
    j->loss = ss_net_forward_backward(j->net, j->x, j->y, j->b, j->total, NULL, &red);
    return NULL;
}

static void test_shards_bn(void)
{
    net_case_t c = {"shards bn", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
                    {SS_ACT_TANH, SS_ACT_SIGMOID}, 1, 0.0, 1, 1, 0, SS_OPT_ADAM, 0};
    ss_net_t full, a, b;
    if (make_net(&full, &c, BATCH, 2) || make_net(&a, &c, BATCH, 2) ||
        make_net(&b, &c, BATCH, 2)) { CHECK(0, "create"); return; }
    float x[BATCH * N_IN], y[BATCH];
    make_batch(x, y, BATCH, c.task, 6);
    double lf = ss_net_forward_backward(&full, x, y, BATCH, BATCH, NULL, NULL);

    pair_t pair;
    memset(&pair, 0, sizeof pair);
    pthread_barrier_init(&pair.bar, NULL, 2);
    shard_job_t ja = {&pair, 0, &a, x, y, 3, BATCH, 0};
    shard_job_t jb = {&pair, 1, &b, x + 3 * N_IN, y + 3, BATCH - 3, BATCH, 0};
    pthread_t ta, tb;
    if (pthread_create(&ta, NULL, shard_thread, &ja) != 0 ||
        pthread_create(&tb, NULL, shard_thread, &jb) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1); /* a lone thread would wait at the barrier forever */
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&pair.bar);

    size_t np = full.n_params;
    for (size_t k = 0; k < np; k++) a.grads[k] += b.grads[k];
    double d = max_rel_diff(a.grads, full.grads, np);
    int n0 = full.layer[0].n_out;
    double ds = fmax(max_rel_diff(a.bn_mean, full.bn_mean, (size_t)n0),
                     max_rel_diff(b.bn_var, full.bn_var, (size_t)n0));
    printf("data parallel, batch-norm (2 threads): grads max rel diff %.2e, running stats "
           "%.2e, reductions %d/%d\n", d, ds, pair.calls[0], pair.calls[1]);
    CHECK(pair.calls[0] == 3 && pair.calls[1] == 3, "expected 3 reductions per pass");
    CHECK(d < 1e-4, "batch-norm shard gradients differ from the full batch: %g", d);
    CHECK(ds < 1e-5, "running statistics differ: %g", ds);
    CHECK(fabs(ja.loss + jb.loss - lf) < 1e-5 * fabs(lf), "losses %g + %g != %g", ja.loss,
          jb.loss, lf);
    ss_net_destroy(&full);
    ss_net_destroy(&a);
    ss_net_destroy(&b);
}

/* ---- frozen parameters and Adam ----------------------------------------------------- */

static void test_frozen(void)
{
    net_case_t c = {"frozen", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
                    {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0, 0, 0, 0, SS_OPT_ADAM, 0};
    ss_net_t net;
    if (make_net(&net, &c, BATCH, 9) != 0) { CHECK(0, "create"); return; }
    float x[BATCH * N_IN], y[BATCH];
    make_batch(x, y, BATCH, c.task, 8);
    size_t np = net.n_params;
    float *p0 = malloc(np * sizeof(float));
    memcpy(p0, net.params, np * sizeof(float));
    int moved_frozen = 0, moved_lin = 0, grad_frozen = 0;
    for (int step = 0; step < 3; step++) {
        ss_net_forward_backward(&net, x, y, BATCH, BATCH, NULL, NULL);
        ss_net_add_l2(&net);
        for (size_t k = 0; k < np; k++) {
            int kind = param_kind(&net, k);
            if (kind == K_PSI || kind == K_LOUT) grad_frozen += net.grads[k] != 0.0f;
        }
        ss_net_adam_step(&net);
    }
    size_t trainable = 0;
    for (int s = 0; s < net.n_segments; s++) trainable += net.seg_len[s];
    size_t expect = 0;
    for (size_t k = 0; k < np; k++) {
        int kind = param_kind(&net, k);
        if (kind == K_PSI || kind == K_LOUT)
            moved_frozen += net.params[k] != p0[k];
        else
            expect++;
        if (kind == K_LIN) moved_lin += net.params[k] != p0[k];
    }
    CHECK(grad_frozen == 0, "frozen psi/lambda_out got %d nonzero gradients", grad_frozen);
    CHECK(moved_frozen == 0, "%d frozen parameters moved under Adam", moved_frozen);
    CHECK(moved_lin > 0, "lambda_in did not train");
    CHECK(trainable == expect, "Adam segments cover %zu parameters, expected %zu", trainable,
          expect);
    free(p0);
    ss_net_destroy(&net);
}

static void test_adam(void)
{
    net_case_t c = {"adam", SS_TASK_CLASSIFICATION, SS_SPECTRAL_FIRST, 1, {4},
                    {SS_ACT_TANH}, 0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0};
    ss_net_t net;
    if (make_net(&net, &c, 4, 1) != 0) { CHECK(0, "create"); return; }
    size_t k = net.layer[0].off_lin + 2;            /* one lambda_in */
    double p = net.params[k], m = 0.0, v = 0.0;
    const double g[3] = {0.3, -0.05, 1.7};
    double lr = net.lr, b1 = net.beta1, b2 = net.beta2, eps = net.eps;
    for (int t = 1; t <= 3; t++) {
        memset(net.grads, 0, net.n_params * sizeof(float));
        net.grads[k] = (float)g[t - 1];
        ss_net_adam_step(&net);
        m = b1 * m + (1 - b1) * g[t - 1];
        v = b2 * v + (1 - b2) * g[t - 1] * g[t - 1];
        p -= lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)) * m / (sqrt(v) + eps);
    }
    double d = fabs(net.params[k] - p);
    printf("adam: 3 steps on one parameter, |C - hand| = %.2e\n", d);
    CHECK(d < 1e-6, "Adam update %.9g, expected %.9g", (double)net.params[k], p);
    CHECK(fabs(net.adam_m[k] - m) < 1e-6 && fabs(net.adam_v[k] - v) < 1e-6, "Adam moments");
    CHECK(net.adam_t == 3, "adam_t %ld", net.adam_t);
    ss_net_destroy(&net);
}

/* ss_net_update: the whole range gives the bits of ss_net_add_l2 + ss_net_adam_step, and
   ranges stepped by three "ranks" (each with the full gradient, parameters exchanged
   after every step) give the same parameters; the penalty parts sum to the penalty. */
static void update_ranges(const net_case_t *cp)
{
    net_case_t c = *cp;
    enum { R = 3 };
    ss_net_t ref, whole, part[R];
    int ok = make_net(&ref, &c, 4, 7) == 0 && make_net(&whole, &c, 4, 7) == 0;
    for (int r = 0; r < R; r++)
        ok = ok && make_net(&part[r], &c, 4, 7) == 0;
    if (!ok) { CHECK(0, "create"); return; }
    size_t n = ref.n_params;
    ss_rng_t rng;
    ss_rng_seed(&rng, 11, 5);
    float *g = malloc(n * sizeof *g);
    int same_whole = 1, same_parts = 1;
    double worst_pen = 0.0;
    for (int step = 0; step < 4; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = (float)(ss_rng_normal(&rng) * 0.1);
        memcpy(ref.grads, g, n * sizeof *g);
        double pen = ss_net_add_l2(&ref);
        ss_net_adam_step(&ref);
        memcpy(whole.grads, g, n * sizeof *g);
        double pen_whole = ss_net_update(&whole, 0, n);
        double pen_parts = 0.0;
        for (int r = 0; r < R; r++) {
            size_t lo = n * (size_t)r / R, hi = n * (size_t)(r + 1) / R;
            memcpy(part[r].grads, g, n * sizeof *g);
            pen_parts += ss_net_update(&part[r], lo, hi);
        }
        for (int r = 0; r < R; r++) { /* the exchange: every rank gets every range */
            size_t lo = n * (size_t)r / R, hi = n * (size_t)(r + 1) / R;
            for (int q = 0; q < R; q++)
                if (q != r)
                    memcpy(part[q].params + lo, part[r].params + lo, (hi - lo) * sizeof(float));
        }
        same_whole &= memcmp(ref.params, whole.params, n * sizeof(float)) == 0 &&
                      pen_whole == pen;
        for (int r = 0; r < R; r++)
            same_parts &= memcmp(ref.params, part[r].params, n * sizeof(float)) == 0;
        double d = fabs(pen_parts - pen) / (fabs(pen) > 0 ? fabs(pen) : 1.0);
        worst_pen = d > worst_pen ? d : worst_pen;
    }
    printf("update ranges (%s): whole range bit-identical %d, 3 ranges bit-identical %d, "
           "penalty parts rel diff %.1e\n", c.title, same_whole, same_parts, worst_pen);
    CHECK(same_whole, "ss_net_update(0, n) differs from add_l2 + adam_step");
    CHECK(same_parts, "3 ranges differ from the whole step");
    CHECK(worst_pen < 1e-6, "penalty parts sum off by %.2e", worst_pen);
    CHECK(whole.adam_t == 4 && part[1].adam_t == 4, "adam_t %ld %ld", whole.adam_t, part[1].adam_t);
    free(g);
    ss_net_destroy(&ref);
    ss_net_destroy(&whole);
    for (int r = 0; r < R; r++)
        ss_net_destroy(&part[r]);
}

static void test_update_ranges(void)
{
    static const net_case_t cases[] = {
        {"adam", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
         {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0, 1, 1, 0, SS_OPT_ADAM, 0},
        {"adamax", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
         {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0, 1, 1, 0, SS_OPT_ADAMAX, 1},
        {"dense subset, adam", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2, {5, 4},
         {SS_ACT_LINEAR, SS_ACT_RELU}, 0, 0.0, 1, 0, 1, SS_OPT_ADAM, 0},
        {"dense subset, adamax", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2, {5, 4},
         {SS_ACT_LINEAR, SS_ACT_RELU}, 0, 0.0, 1, 0, 1, SS_OPT_ADAMAX, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        update_ranges(&cases[i]);
}

/* ---- the spectral-domain regimes: trainable subsets, AdaMax, initialisation ---------- */

/* The entries of net's wmask that are 1 in params[off, off + n). */
static size_t mask_ones(const ss_net_t *net, size_t off, size_t n)
{
    size_t ones = 0;
    for (size_t k = 0; k < n; k++)
        ones += net->wmask[off + k] != 0.0f;
    return ones;
}

/*
 * A dense network whose layers train a random subset of their weights: n_in + n_out per
 * layer, the mask a function of the seed alone (the same at another batch capacity, with
 * the sparse-input path, built again: what ranks_per_run and a resume change), another
 * mask for another seed. Over 150 steps of each optimizer, with the first layer's L2 on
 * and both step functions, every frozen weight keeps its initial bits and has a zero
 * gradient at every step, while every trainable weight moves.
 */
static void test_subset(void)
{
    static const int widths[4] = {N_IN, 5, 4, N_CLASSES};
    for (int opt = SS_OPT_ADAM; opt <= SS_OPT_ADAMAX; opt++) {
        net_case_t c = {"subset", SS_TASK_CLASSIFICATION, SS_SPECTRAL_NONE, 2, {5, 4},
                        {SS_ACT_RELU, SS_ACT_LINEAR}, 0, 0.0, 1, 0, 1, (ss_optimizer_t)opt, 1};
        ss_net_t net, big, again, other;
        if (make_net(&net, &c, BATCH, 11) || make_net(&big, &c, 300, 11) ||
            make_net(&again, &c, BATCH, 11) || make_net(&other, &c, BATCH, 12)) {
            CHECK(0, "create");
            return;
        }
        ss_net_set_sparse_inputs(&big, N_IN);
        size_t np = net.n_params;
        CHECK(net.wmask && big.wmask && again.wmask && other.wmask, "masks built");
        if (!net.wmask || !big.wmask || !again.wmask || !other.wmask)
            return;
        CHECK(!memcmp(net.wmask, big.wmask, np * sizeof(float)) &&
              !memcmp(net.wmask, again.wmask, np * sizeof(float)),
              "the mask depends on the batch capacity or the sparse path");
        CHECK(memcmp(net.wmask, other.wmask, np * sizeof(float)) != 0,
              "seeds 11 and 12 give the same mask");
        size_t expect = 0;
        for (int l = 0; l < net.n_layers; l++) {
            const ss_layer_t *L = &net.layer[l];
            size_t ones = mask_ones(&net, L->off_w, (size_t)L->n_in * L->n_out);
            CHECK(ones == (size_t)(widths[l] + widths[l + 1]), "layer %d trains %zu weights, "
                  "expected %d", l, ones, widths[l] + widths[l + 1]);
            CHECK(mask_ones(&net, L->off_b, (size_t)L->n_out) == (size_t)L->n_out,
                  "layer %d: every bias trains", l);
            expect += ones + (size_t)L->n_out;
        }
        CHECK(net.n_trainable == expect, "n_trainable %zu, expected %zu", net.n_trainable,
              expect);

        float *p0 = malloc(np * sizeof(float));
        memcpy(p0, net.params, np * sizeof(float));
        float x[BATCH * N_IN], y[BATCH];
        int grad_frozen = 0;
        for (int step = 0; step < 150; step++) {
            make_batch(x, y, BATCH, c.task, 100 + (uint64_t)step);
            ss_net_forward_backward(&net, x, y, BATCH, BATCH, NULL, NULL);
            if (step % 2) {
                ss_net_add_l2(&net);
                for (size_t k = 0; k < np; k++)
                    grad_frozen += net.wmask[k] == 0.0f && net.grads[k] != 0.0f;
                ss_net_adam_step(&net);
            } else {
                for (size_t k = 0; k < np; k++)
                    grad_frozen += net.wmask[k] == 0.0f && net.grads[k] != 0.0f;
                ss_net_update(&net, 0, np);
            }
        }
        int frozen_moved = 0, trained_still = 0;
        for (size_t k = 0; k < np; k++) {
            int kind = param_kind(&net, k);
            if (net.wmask[k] == 0.0f)
                frozen_moved += memcmp(&net.params[k], &p0[k], sizeof(float)) != 0;
            else if (kind == K_DENSE)
                trained_still += net.params[k] == p0[k];
        }
        printf("trainable subset (%s): %zu of %zu parameters train; 150 steps: %d frozen "
               "weights moved, %d frozen gradients nonzero, %d trainable weights unmoved\n",
               ss_optimizer_name((ss_optimizer_t)opt), net.n_trainable, np, frozen_moved,
               grad_frozen, trained_still);
        CHECK(frozen_moved == 0, "%d frozen weights moved", frozen_moved);
        CHECK(grad_frozen == 0, "%d frozen weights had a gradient", grad_frozen);
        CHECK(trained_still == 0, "%d trainable weights never moved", trained_still);
        free(p0);
        ss_net_destroy(&net);
        ss_net_destroy(&big);
        ss_net_destroy(&again);
        ss_net_destroy(&other);
    }
}

/* AdaMax against the Keras formulas by hand: m = b1 m + (1 - b1) g, u = max(b2 u, |g|),
   p -= lr / (1 - b1^t) m / (u + eps), on one parameter over four steps (the gradient
   shrinks at step 3, so u decays instead of following |g|). */
static void test_adamax(void)
{
    net_case_t c = {"adamax", SS_TASK_CLASSIFICATION, SS_SPECTRAL_FIRST, 1, {4},
                    {SS_ACT_TANH}, 0, 0.0, 1, 0, 0, SS_OPT_ADAMAX, 0};
    ss_net_t net;
    if (make_net(&net, &c, 4, 1) != 0) { CHECK(0, "create"); return; }
    size_t k = net.layer[0].off_lin + 2;
    double p = net.params[k], m = 0.0, u = 0.0;
    const double g[4] = {0.3, -0.05, 1e-4, 1.7};
    double lr = net.lr, b1 = net.beta1, b2 = net.beta2, eps = net.eps;
    for (int t = 1; t <= 4; t++) {
        memset(net.grads, 0, net.n_params * sizeof(float));
        net.grads[k] = (float)g[t - 1];
        ss_net_adam_step(&net);
        m = b1 * m + (1 - b1) * g[t - 1];
        u = fmax(b2 * u, fabs(g[t - 1]));
        p -= lr / (1 - pow(b1, t)) * m / (u + eps);
    }
    double d = fabs(net.params[k] - p);
    printf("adamax: 4 steps on one parameter, |C - hand| = %.2e\n", d);
    CHECK(d < 1e-6, "AdaMax update %.9g, expected %.9g", (double)net.params[k], p);
    CHECK(fabs(net.adam_m[k] - m) < 1e-7 && fabs(net.adam_v[k] - u) < 1e-7,
          "AdaMax moments %g %g, expected %g %g", (double)net.adam_m[k], (double)net.adam_v[k],
          m, u);
    CHECK(net.optimizer == SS_OPT_ADAMAX && net.beta1 == 0.9 && net.beta2 == 0.999 &&
          net.eps == 1e-7, "AdaMax takes the adamax_* settings");
    ss_net_destroy(&net);
}

/*
 * The initialisation settings: psi and W uniform in [-0.5, 0.5] (spread over the range),
 * lambda_in 1, lambda_out in [-0.01, 0.01] and not constant; the eigenvalues come from a
 * stream of their own, so the same seed gives the same eigenvectors whatever the
 * eigenvalues' range.
 */
static void test_init_settings(void)
{
    net_case_t c = {"paper init", SS_TASK_CLASSIFICATION, SS_SPECTRAL_FIRST, 2, {5, 4},
                    {SS_ACT_LINEAR, SS_ACT_LINEAR}, 0, 0.0, 0, 1, 0, SS_OPT_ADAM, 1};
    net_case_t half = c;
    half.paper_init = 0;
    ss_net_t a, b;
    if (make_net(&a, &c, 8, 5) || make_net(&b, &half, 8, 5)) { CHECK(0, "create"); return; }
    int bad = 0;
    double wmax = 0.0, lo = 1.0, hi = -1.0;
    for (int l = 0; l < a.n_layers; l++) {
        const ss_layer_t *L = &a.layer[l];
        for (size_t k = 0; k < (size_t)L->n_in * L->n_out; k++) {
            float w = a.params[L->off_w + k];
            bad += fabsf(w) > 0.5f;
            wmax = fmax(wmax, fabsf(w));
        }
        if (!L->spectral)
            continue;
        for (int i = 0; i < L->n_in; i++)
            bad += a.params[L->off_lin + i] != 1.0f;
        for (int j = 0; j < L->n_out; j++) {
            double v = a.params[L->off_lout + j];
            bad += fabs(v) > 0.01;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    CHECK(bad == 0 && wmax > 0.3 && hi > lo, "paper initialisation: %d out of range, "
          "max |w| %g, lambda_out in [%g, %g]", bad, wmax, lo, hi);
    /* a Glorot-initialised twin: psi of its spectral layer is Glorot's, not the same */
    const ss_layer_t *L0 = &a.layer[0];
    float lim = sqrtf(6.0f / (float)(L0->n_in + L0->n_out));
    int glorot_ok = 1;
    for (size_t k = 0; k < (size_t)L0->n_in * L0->n_out; k++)
        glorot_ok &= fabsf(b.params[L0->off_w + k]) <= lim;
    CHECK(glorot_ok, "Glorot limit of the default initialisation");
    /* the same draws scaled: psi_a / 0.5 == psi_b / lim */
    double scaled_diff = 0.0;
    for (size_t k = 0; k < (size_t)L0->n_in * L0->n_out; k++)
        scaled_diff = fmax(scaled_diff, fabs(a.params[L0->off_w + k] / 0.5 - b.params[L0->off_w + k] / lim));
    CHECK(scaled_diff < 1e-5, "eigenvectors drawn from another sequence (%g)", scaled_diff);
    ss_net_destroy(&a);
    ss_net_destroy(&b);
}

/*
 * The trainable parameters of the four regimes of the spectral-domain paper on its
 * perceptron 784 -> 10, counted by the network: eigenvalues only 784 + 10 (+ 10 biases),
 * eigenvalues and eigenvectors + 7840, all weights 7840 + 10, a subset of 794 weights
 * + 10 biases.
 */
static void test_regime_counts(void)
{
    struct { const char *title; ss_spectral_t spectral; int evec, lout, subset; size_t n; }
        tab[] = {
        {"eigenvalues", SS_SPECTRAL_ALL, 0, 1, 0, 784 + 10 + 10},
        {"eigenvalues and eigenvectors", SS_SPECTRAL_ALL, 1, 1, 0, 784 + 10 + 7840 + 10},
        {"all weights", SS_SPECTRAL_NONE, 1, 0, 0, 7840 + 10},
        {"subset of the weights", SS_SPECTRAL_NONE, 1, 0, 1, 794 + 10},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        ss_model_t m;
        ss_model_defaults(&m);
        m.n_hidden = 0;
        m.spectral = tab[i].spectral;
        m.train_lambda_out = tab[i].lout;
        m.trainable_weights = tab[i].subset ? SS_WEIGHTS_MATCH_EIGENVALUES : SS_WEIGHTS_ALL;
        ss_training_t t;
        ss_training_defaults(&t);
        t.train_eigenvectors = tab[i].evec;
        ss_net_t net;
        ss_error_t err = {0};
        if (ss_net_create(&net, &m, &t, 784, 10, SS_TASK_CLASSIFICATION, 4, 3, &err) != 0) {
            CHECK(0, "%s: %s", tab[i].title, err.msg);
            continue;
        }
        CHECK(net.n_trainable == tab[i].n, "%s: %zu trainable, expected %zu", tab[i].title,
              net.n_trainable, tab[i].n);
        ss_net_destroy(&net);
    }
}

/* ---- saturated activations ----------------------------------------------------------- */

/*
 * The feature-major training step (src/net_fm.c) against the sample-major one on every
 * gradient-check network it takes (no batch-norm or dropout), as it is and with a first
 * layer wider than its inputs (then feature-major too): the same loss and every
 * gradient, for batches of 1, 7, 37 and 64 rows. The two round alike where libxsmm's
 * kernels sum each output in the same order on both layouts, so the bound is rounding:
 * 1e-5 of the largest gradient of the network. The network takes the feature-major step
 * exactly when libxsmm computes its products (SPECSWEEP_KERNELS auto).
 */
static void test_feature_major(void)
{
    enum { B = 64 };
    const int sizes[] = {1, 7, 37, 64};
    ss_mm_policy_t policy;
    int want_fm = ss_mm_policy_from_env(&policy) == 0 && policy == SS_MM_AUTO &&
                  ss_mm_have_xsmm();
    int compared = 0;
    double largest = 0.0;
    for (size_t v = 0; v < 2 * sizeof fd_cases / sizeof fd_cases[0]; v++) {
        /* each network as it is (5 first-layer units for 6 inputs: that layer stays
           sample-major) and with 8 first-layer units (feature-major too); the title
           says which */
        net_case_t wide = fd_cases[v / 2];
        const net_case_t *c = &wide;
        size_t ci = v / 2;
        char title[128];
        if (v % 2) {
            if (wide.n_hidden == 0)
                continue;
            wide.hidden[0] = 8;
            snprintf(title, sizeof title, "%s, 8 first-layer units", wide.title);
            wide.title = title;
        }
        ss_net_t net;
        if (make_net(&net, c, B, 21)) { CHECK(0, "create %s", c->title); continue; }
        int eligible = !c->batchnorm && c->dropout == 0.0;
        CHECK(net.feature_major == (want_fm && eligible), "%s: feature_major %d", c->title,
              net.feature_major);
        CHECK(!net.feature_major || net.fm_first == (N_IN <= net.layer[0].n_out),
              "%s: fm_first %d", c->title, net.fm_first);
        if (!net.feature_major) {
            ss_net_destroy(&net);
            continue;
        }
        float x[B * N_IN], y[B];
        make_batch(x, y, B, c->task, 31 + ci);
        float *g = malloc(net.n_params * sizeof *g);
        if (!g) { CHECK(0, "out of memory"); ss_net_destroy(&net); return; }
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int b = sizes[si];
            double lf = ss_net_forward_backward(&net, x, y, b, b, NULL, NULL);
            memcpy(g, net.grads, net.n_params * sizeof *g);
            net.feature_major = 0;
            double ls = ss_net_forward_backward(&net, x, y, b, b, NULL, NULL);
            net.feature_major = 1;
            double gmax = 0.0, diff = 0.0;
            for (size_t k = 0; k < net.n_params; k++) {
                gmax = fmax(gmax, fabs(net.grads[k]));
                diff = fmax(diff, fabs((double)g[k] - net.grads[k]));
            }
            CHECK(fabs(lf - ls) <= 1e-6 * fabs(ls), "%s, %d rows: loss %.9g vs %.9g",
                  c->title, b, lf, ls);
            CHECK(diff <= 1e-5 * gmax, "%s, %d rows: gradients differ by %.2e (largest %.2e)",
                  c->title, b, diff, gmax);
            largest = fmax(largest, gmax > 0 ? diff / gmax : 0.0);
            compared++;
        }
        free(g);
        ss_net_destroy(&net);
    }
    if (want_fm)
        CHECK(compared > 0, "no network took the feature-major step");
    printf("feature-major step vs sample-major: %d batches, largest difference %.1e of the "
           "largest gradient\n", compared, largest);
}

/*
 * The softmax loss on rows of 2 to 17 classes (37 rows: two full groups of 16 and a
 * partial one) against a float64 reference from the network's own logits: the loss sum
 * and the correct count (first argmax) through an evaluation (net_softmax: the lanes
 * path up to 16 classes, the row path beyond), and the output bias gradient, the mean of
 * p - onehot(y), through a training step (net_softmax_fm where the network takes the
 * feature-major step, net_softmax under SPECSWEEP_KERNELS=blas: test_net_blas).
 */
static void test_softmax(void)
{
    enum { N = 37, IN = 3 };
    const int classes[] = {2, 3, 10, 16, 17};
    for (size_t ci = 0; ci < sizeof classes / sizeof classes[0]; ci++) {
        int n = classes[ci];
        ss_model_t m;
        ss_model_defaults(&m);
        m.spectral = SS_SPECTRAL_NONE;
        m.n_hidden = 1;
        m.hidden[0] = 7;
        m.act[0] = SS_ACT_TANH;
        m.n_act = 1;
        ss_training_t t;
        ss_training_defaults(&t);
        ss_net_t net;
        ss_error_t err = {0};
        if (ss_net_create(&net, &m, &t, IN, n, SS_TASK_CLASSIFICATION, 40, 5, &err) != 0) {
            CHECK(0, "softmax net: %s", err.msg);
            continue;
        }
        ss_rng_t rng;
        ss_rng_seed(&rng, 77 + (uint64_t)n, 0);
        float x[N * IN], y[N], z[N * 17];
        for (int k = 0; k < N * IN; k++)
            x[k] = (float)(4.0 * ss_rng_uniform(&rng) - 2.0);
        for (int r = 0; r < N; r++)
            y[r] = (float)ss_rng_below(&rng, (uint32_t)n);
        for (size_t k = 0; k < net.n_params; k++)   /* logits of a few units' range */
            net.params[k] = (float)(3.0 * ss_rng_uniform(&rng) - 1.5);
        ss_net_predict(&net, x, N, z);
        double ref_loss = 0.0, ref_db[17] = {0};
        int ref_correct = 0;
        for (int r = 0; r < N; r++) {
            const float *zr = z + (size_t)r * n;
            int best = 0, c = (int)y[r];
            for (int j = 1; j < n; j++)
                best = zr[j] > zr[best] ? j : best;
            double s = 0.0;
            for (int j = 0; j < n; j++)
                s += exp((double)zr[j] - zr[best]);
            ref_loss += log(s) + zr[best] - zr[c];
            ref_correct += best == c;
            for (int j = 0; j < n; j++)
                ref_db[j] += (exp((double)zr[j] - zr[best]) / s - (j == c)) / N;
        }
        double loss = 0.0, correct = 0.0;
        ss_net_evaluate(&net, x, y, N, NULL, &loss, &correct);
        CHECK(fabs(loss - ref_loss) <= 1e-6 * fabs(ref_loss), "%d classes: loss %.9g, "
              "reference %.9g", n, loss, ref_loss);
        CHECK(correct == ref_correct, "%d classes: %g correct, reference %d", n, correct,
              ref_correct);
        ss_net_forward_backward(&net, x, y, N, N, NULL, NULL);
        const float *db = net.grads + net.layer[1].off_b;
        double off = 0.0;
        for (int j = 0; j < n; j++)
            off = fmax(off, fabs(db[j] - ref_db[j]));
        CHECK(off <= 1e-6, "%d classes: output bias gradient off by %.2e", n, off);
        ss_net_destroy(&net);
    }
}

/*
 * Beyond their limits tanh is exactly +-1 and e^x (inside sigmoid) the constant at the
 * limit, whatever the width of the layer (the vector passes, and the scalar one below 16
 * columns) and the instruction set, up to 1e31 and infinity, where the formulas
 * themselves overflow: a dense 1 -> w -> 1 network whose hidden unit 0 sees s x and
 * whose output is that unit alone gives act(s x) as its prediction, exactly.
 */
static void test_saturation(void)
{
    const int widths[] = {1, 16, 21};
    enum { NX = 7 };
    const float xs[NX] = {20.0f, -20.0f, 8.0f, -100.0f, 1e30f, INFINITY, -INFINITY};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        for (int a = 0; a < 2; a++) {
            ss_model_t m;
            ss_model_defaults(&m);
            m.spectral = SS_SPECTRAL_NONE;
            m.n_hidden = 1;
            m.hidden[0] = widths[wi];
            m.act[0] = a ? SS_ACT_SIGMOID : SS_ACT_TANH;
            m.n_act = 1;
            ss_training_t t;
            ss_training_defaults(&t);
            ss_net_t net;
            ss_error_t err = {0};
            if (ss_net_create(&net, &m, &t, 1, 1, SS_TASK_REGRESSION, 8, 1, &err) != 0) {
                CHECK(0, "saturation net: %s", err.msg);
                continue;
            }
            const ss_layer_t *h = &net.layer[0], *o = &net.layer[1];
            int w = widths[wi];
            for (int j = 0; j < w; j++) {
                net.params[h->off_w + j] = 10.0f;    /* input -> unit j: 10 x */
                net.params[h->off_b + j] = 0.0f;
                net.params[o->off_w + j] = j == 0 ? 1.0f : 0.0f;
            }
            net.params[o->off_b] = 0.0f;
            float out[NX];
            ss_net_predict(&net, xs, NX, out);
            for (int k = 0; k < NX; k++) {
                float z = 10.0f * xs[k];
                volatile float big = 0x1.6db01p+125f, tiny = 0x1.666d0ep-126f;
                float want = !a ? (z > 0 ? 1.0f : -1.0f)
                                : (z > 0 ? 1.0f / (1.0f + tiny) : 1.0f / (1.0f + big));
                CHECK(memcmp(&out[k], &want, sizeof want) == 0,
                      "width %d %s(%g) = %a, want %a", w, a ? "sigmoid" : "tanh", z, out[k],
                      want);
            }
            ss_net_destroy(&net);
        }
    }
}

/* ---- sparse inputs: the same network as the dense path ------------------------------- */

/*
 * Two nets from one seed, one on the sparse-input path, trained side by side for four
 * steps on batches with ~75 % zero inputs (plus one all-zero sample and one input that
 * is zero throughout): loss, every gradient and the evaluation must agree to float
 * rounding (the paths sum in different orders: relative 1e-5), the parameters after
 * each step to 1e-3 of the distance Adam can move them (lr per step: Adam divides by
 * sqrt(v), so the rounding of a gradient near zero becomes a relative change of its
 * update), and the sparse path must be used. The shapes reach every kernel branch: n_in not a multiple of
 * 16 (the compress loop's scalar tail), first-layer widths of 1, 7, 8 and 9+1 vectors of
 * 16 (one to four vectors per pass, several passes), spectral and dense first layers,
 * frozen psi, batch-norm and dropout, batches and inputs not a multiple of the four sums
 * a pass computes. Two more nets, one per path, train on the same rows read in place
 * (ss_net_forward_backward_rows) from a larger array whose other rows are NaN: the same
 * bits as their twins, and evaluate them in place (ss_net_evaluate_rows) to the same
 * bits as well. Then a NaN input must give a NaN loss, as through sgemm.
 */
typedef struct {
    const char *title;
    int n_in, n0;
    ss_spectral_t spectral;
    int train_evec, batchnorm;
    double dropout;
    ss_task_t task;
} sparse_case_t;

static void sparse_case(const sparse_case_t *sc)
{
    enum { B = 50, STEPS = 4 };
    net_case_t c = {sc->title, sc->task, sc->spectral, 2, {sc->n0, 12},
                    {SS_ACT_TANH, SS_ACT_TANH}, sc->batchnorm, sc->dropout, sc->train_evec, 0, 0, SS_OPT_ADAM, 0};
    ss_model_t m = case_model(&c);
    ss_training_t t = case_training(&c);
    ss_error_t err = {0};
    int n_out = sc->task == SS_TASK_CLASSIFICATION ? N_CLASSES : 1;
    ss_net_t d, s, d_rows, s_rows;
    if (ss_net_create(&d, &m, &t, sc->n_in, n_out, sc->task, 64, 5, &err) ||
        ss_net_create(&s, &m, &t, sc->n_in, n_out, sc->task, 64, 5, &err) ||
        ss_net_create(&d_rows, &m, &t, sc->n_in, n_out, sc->task, 64, 5, &err) ||
        ss_net_create(&s_rows, &m, &t, sc->n_in, n_out, sc->task, 64, 5, &err)) {
        CHECK(0, "%s: create: %s", sc->title, err.msg);
        return;
    }
    /* ~25 % of a row's inputs are nonzero: half the row is room enough for the batch */
    ss_net_set_sparse_inputs(&s, sc->n_in / 2);
    ss_net_set_sparse_inputs(&s_rows, sc->n_in / 2);
    CHECK(s.sparse_inputs == sc->n_in / 2 && d.sparse_inputs == 0, "%s: sparse capacity %d",
          sc->title, s.sparse_inputs);
    size_t nx = (size_t)B * sc->n_in;
    float *x = malloc(nx * sizeof(float)), y[B];
    float *pool = malloc(2 * nx * sizeof(float));   /* the batch's rows at rows[r], NaN */
    uint32_t rows[B];                                /* elsewhere */
    for (int r = 0; r < B; r++)
        rows[r] = (uint32_t)(r * 7 % (2 * B));
    int rows_same = 1;
    ss_rng_t rng;
    ss_rng_seed(&rng, 77, 5);
    double worst_loss = 0, worst_grad = 0, worst_param = 0;
    for (int step = 0; step < STEPS; step++) {
        for (size_t k = 0; k < nx; k++) {
            int row = (int)(k / (size_t)sc->n_in), col = (int)(k % (size_t)sc->n_in);
            double u = ss_rng_uniform(&rng), v = ss_rng_normal(&rng);
            x[k] = (u < 0.75 || row == 3 || col == 1) ? 0.0f : (float)(0.5 + v);
        }
        for (int r = 0; r < B; r++)
            y[r] = sc->task == SS_TASK_CLASSIFICATION ? (float)ss_rng_below(&rng, N_CLASSES)
                                                      : (float)(3.0 + ss_rng_uniform(&rng));
        ss_rng_t rd, rs;
        ss_rng_seed(&rd, 9, SS_STREAM_DROPOUT);
        ss_rng_seed(&rs, 9, SS_STREAM_DROPOUT);
        double ld = ss_net_forward_backward(&d, x, y, B, B, &rd, NULL);
        double ls = ss_net_forward_backward(&s, x, y, B, B, &rs, NULL);
        for (size_t k = 0; k < 2 * nx; k++)
            pool[k] = NAN;
        for (int r = 0; r < B; r++)
            memcpy(pool + rows[r] * (size_t)sc->n_in, x + (size_t)r * sc->n_in,
                   (size_t)sc->n_in * sizeof(float));
        ss_net_t *twin[2] = {&d, &s}, *in_place[2] = {&d_rows, &s_rows};
        double loss[2] = {ld, ls};
        for (int p = 0; p < 2; p++) {
            ss_rng_t rr;
            ss_rng_seed(&rr, 9, SS_STREAM_DROPOUT);
            double l = ss_net_forward_backward_rows(in_place[p], pool, rows, y, B, B, &rr, NULL);
            rows_same &= l == loss[p] && memcmp(in_place[p]->grads, twin[p]->grads,
                                                d.n_params * sizeof(float)) == 0;
            ss_net_update(in_place[p], 0, d.n_params);
        }
        double el = fabs(ld - ls) / fabs(ld);
        if (el > worst_loss) worst_loss = el;
        double gmax = 0, gdiff = 0;
        for (size_t k = 0; k < d.n_params; k++) {
            gmax = fmax(gmax, fabs(d.grads[k]));
            gdiff = fmax(gdiff, fabs(d.grads[k] - s.grads[k]));
        }
        if (gdiff / gmax > worst_grad) worst_grad = gdiff / gmax;
        ss_net_update(&d, 0, d.n_params);
        ss_net_update(&s, 0, s.n_params);
        double pd = 0;
        for (size_t k = 0; k < d.n_params; k++)
            pd = fmax(pd, fabs(d.params[k] - s.params[k]) / (t.learning_rate * (step + 1)));
        if (pd > worst_param) worst_param = pd;
    }
    double ed = 0, es = 0, cd = 0, cs = 0;
    ss_net_evaluate(&d, x, y, B, NULL, &ed, &cd);
    ss_net_evaluate(&s, x, y, B, NULL, &es, &cs);
    double e_rows[2] = {0, 0}, c_rows[2] = {0, 0};
    ss_net_evaluate_rows(&d_rows, pool, rows, y, B, &e_rows[0], &c_rows[0]);
    ss_net_evaluate_rows(&s_rows, pool, rows, y, B, &e_rows[1], &c_rows[1]);
    rows_same &= e_rows[0] == ed && c_rows[0] == cd && e_rows[1] == es && c_rows[1] == cs;
    printf("sparse inputs %-28s loss %.1e  gradient %.1e  parameters %.1e  eval %.1e  "
           "rows in place %s\n", sc->title, worst_loss, worst_grad, worst_param,
           fabs(ed - es) / ed, rows_same ? "same bits" : "DIFFERENT");
    CHECK(rows_same, "%s: rows read in place give other bits", sc->title);
    CHECK(worst_loss < 1e-5, "%s: loss differs by %.3g (relative)", sc->title, worst_loss);
    CHECK(worst_grad < 1e-5, "%s: gradients differ by %.3g of the largest", sc->title,
          worst_grad);
    CHECK(worst_param < 1e-3, "%s: parameters differ by %.3g of Adam's reach after %d steps",
          sc->title, worst_param, STEPS);
    CHECK(fabs(ed - es) < 1e-5 * ed && (sc->task != SS_TASK_CLASSIFICATION || cd == cs),
          "%s: evaluation %g/%g vs %g/%g", sc->title, ed, cd, es, cs);

    /* The sparse path skips the zeros: with an infinite weight on input 1 (zero in every
       sample), the dense products give 0 * inf = NaN, the sparse ones a finite loss. */
    const ss_layer_t *L0 = &s.layer[0];
    for (int j = 0; j < L0->n_out; j++) {
        d.params[L0->off_w + (size_t)L0->n_out + j] = INFINITY;
        s.params[L0->off_w + (size_t)L0->n_out + j] = INFINITY;
    }
    ss_rng_t r1, r2;
    ss_rng_seed(&r1, 9, SS_STREAM_DROPOUT);
    ss_rng_seed(&r2, 9, SS_STREAM_DROPOUT);
    CHECK(isnan(ss_net_forward_backward(&d, x, y, B, B, &r1, NULL)) &&
          isfinite(ss_net_forward_backward(&s, x, y, B, B, &r2, NULL)),
          "%s: the sparse path did not skip the zero inputs", sc->title);

    x[7] = NAN;                                       /* a NaN reaches the loss */
    ss_rng_t rs;
    ss_rng_seed(&rs, 9, SS_STREAM_DROPOUT);
    CHECK(isnan(ss_net_forward_backward(&s, x, y, B, B, &rs, NULL)), "%s: NaN input lost",
          sc->title);
    ss_net_set_sparse_inputs(&s, 0);
    CHECK(s.sparse_inputs == 0, "%s: sparse path not switched off", sc->title);
    free(x);
    free(pool);
    ss_net_destroy(&d);
    ss_net_destroy(&s);
    ss_net_destroy(&d_rows);
    ss_net_destroy(&s_rows);
}

static void test_sparse_inputs(void)
{
    static const sparse_case_t cases[] = {
        {"37 -> 100 spectral all", 37, 100, SS_SPECTRAL_ALL, 1, 0, 0.0, SS_TASK_CLASSIFICATION},
        {"64 -> 150 first, bn, dropout", 64, 150, SS_SPECTRAL_FIRST, 1, 1, 0.2,
         SS_TASK_CLASSIFICATION},
        {"21 -> 5 dense layer, regression", 21, 5, SS_SPECTRAL_NONE, 1, 0, 0.0,
         SS_TASK_REGRESSION},
        {"40 -> 128 psi frozen", 40, 128, SS_SPECTRAL_ALL, 0, 0, 0.0, SS_TASK_CLASSIFICATION},
        {"48 -> 16 spectral all", 48, 16, SS_SPECTRAL_ALL, 1, 0, 0.0, SS_TASK_CLASSIFICATION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        sparse_case(&cases[i]);

    /* The capacity: clamped to n_inputs; a batch with more nonzeros than it holds stops
       the process (exit code SS_EXIT_RUNTIME) instead of writing past the workspace. */
    net_case_t c = {"cap", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 1, {20},
                    {SS_ACT_TANH}, 0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0};
    ss_net_t net;
    if (make_net(&net, &c, 4, 1) != 0) { CHECK(0, "create"); return; }
    ss_net_set_sparse_inputs(&net, 1000);
    CHECK(net.sparse_inputs == N_IN, "capacity %d, expected n_inputs %d", net.sparse_inputs,
          N_IN);
    float x[4 * N_IN], y[4] = {0, 1, 2, 0};
    for (int k = 0; k < 4 * N_IN; k++)
        x[k] = k % N_IN < 3 ? 1.0f + (float)k : 0.0f;       /* 3 nonzeros per sample */
    ss_net_set_sparse_inputs(&net, 3);                        /* exactly enough */
    CHECK(isfinite(ss_net_forward_backward(&net, x, y, 4, 4, NULL, NULL)), "capacity 3");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        ss_net_set_sparse_inputs(&net, 2);                    /* 12 nonzeros, room for 8 */
        ss_net_forward_backward(&net, x, y, 4, 4, NULL, NULL);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SS_EXIT_RUNTIME,
          "overflowing the sparse capacity: status %d, expected exit %d", status,
          SS_EXIT_RUNTIME);
    ss_net_set_sparse_inputs(&net, 0);
    CHECK(net.sparse_inputs == 0, "capacity 0 turns the path off");
    ss_net_destroy(&net);
}

/* ---- initialisation, evaluation, relevance, errors ---------------------------------- */

static void test_init(void)
{
    net_case_t c = {"init", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
                    {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.0, 1, 0, 0, SS_OPT_ADAM, 0};
    ss_net_t a, b, d;
    if (make_net(&a, &c, 8, 42) || make_net(&b, &c, 8, 42) || make_net(&d, &c, 8, 43)) {
        CHECK(0, "create");
        return;
    }
    CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0, "same seed differs");
    CHECK(memcmp(a.params, d.params, a.n_params * sizeof(float)) != 0, "seeds 42/43 equal");
    CHECK(((uintptr_t)a.params | (uintptr_t)a.grads | (uintptr_t)a.adam_m |
           (uintptr_t)a.adam_v) % 64 == 0, "buffers not 64-byte aligned");
    int bad = 0;
    for (int l = 0; l < a.n_layers; l++) {
        const ss_layer_t *L = &a.layer[l];
        float lim = sqrtf(6.0f / (float)(L->n_in + L->n_out));
        for (size_t k = 0; k < (size_t)L->n_in * L->n_out; k++)
            bad += fabsf(a.params[L->off_w + k]) > lim;
        for (int i = 0; i < L->n_in; i++) bad += a.params[L->off_lin + i] != 1.0f;
        for (int j = 0; j < L->n_out; j++)
            bad += a.params[L->off_lout + j] != 0.0f || a.params[L->off_b + j] != 0.0f;
    }
    for (int j = 0; j < a.layer[0].n_out; j++)
        bad += a.params[a.off_bn_gamma + j] != 1.0f || a.params[a.off_bn_beta + j] != 0.0f ||
               a.bn_mean[j] != 0.0f || a.bn_var[j] != 1.0f;
    CHECK(bad == 0, "%d parameters initialised wrongly", bad);
    ss_net_destroy(&a);
    ss_net_destroy(&b);
    ss_net_destroy(&d);
}

static void test_evaluate(void)
{
    enum { N = 23 };
    net_case_t c = {"eval", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 2, {5, 4},
                    {SS_ACT_TANH, SS_ACT_RELU}, 1, 0.3, 1, 0, 0, SS_OPT_ADAM, 0};
    ss_net_t small, big;
    if (make_net(&small, &c, 4, 3) || make_net(&big, &c, 64, 3)) { CHECK(0, "create"); return; }
    float x[N * N_IN], y[N];
    make_batch(x, y, N, c.task, 12);
    /* non-trivial running statistics, identical in both */
    for (int j = 0; j < small.layer[0].n_out; j++) {
        small.bn_mean[j] = big.bn_mean[j] = 0.1f * j;
        small.bn_var[j] = big.bn_var[j] = 0.5f + 0.2f * j;
    }
    double ls = 0, cs = 0, lb = 0, cb = 0;
    ss_net_evaluate(&small, x, y, N, NULL, &ls, &cs);
    ss_net_evaluate(&big, x, y, N, NULL, &lb, &cb);
    CHECK(fabs(ls - lb) < 1e-5 * lb && cs == cb, "chunked eval %g/%g vs %g/%g", ls, cs, lb, cb);
    CHECK(cs >= 0 && cs <= N, "correct count %g", cs);
    double again = 0;
    ss_net_evaluate(&big, x, y, N, NULL, &again, NULL);
    CHECK(again == lb, "evaluation is not repeatable (dropout/BN leaked in)");

    unsigned char mask[N_IN] = {1, 0, 1, 1, 0, 1};
    float xz[N * N_IN];
    for (int k = 0; k < N * N_IN; k++) xz[k] = mask[k % N_IN] ? x[k] : 0.0f;
    double lm = 0, cm = 0, lz = 0, cz = 0;
    ss_net_evaluate(&small, x, y, N, mask, &lm, &cm);
    ss_net_evaluate(&big, xz, y, N, NULL, &lz, &cz);
    CHECK(fabs(lm - lz) < 1e-5 * lz && cm == cz, "masked eval %g/%g vs zeroed %g/%g", lm, cm,
          lz, cz);
    CHECK(fabs(lm - lb) > 1e-6, "the mask changed nothing");
    ss_net_destroy(&small);
    ss_net_destroy(&big);
}

static void test_relevance(void)
{
    net_case_t cs = {"rel", SS_TASK_CLASSIFICATION, SS_SPECTRAL_FIRST, 1, {5},
                     {SS_ACT_TANH}, 0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0};
    net_case_t cd = cs;
    cd.spectral = SS_SPECTRAL_NONE;
    ss_net_t s, d;
    if (make_net(&s, &cs, 4, 1) || make_net(&d, &cd, 4, 1)) { CHECK(0, "create"); return; }
    for (int i = 0; i < N_IN; i++) s.params[s.layer[0].off_lin + i] = -0.5f + 0.3f * i;
    double rel[N_IN], lam[N_IN], reld[N_IN], lamd[N_IN];
    ss_net_relevance(&s, rel, lam);
    ss_net_relevance(&d, reld, lamd);
    int bad = 0;
    for (int i = 0; i < N_IN; i++) {
        double nrm = 0, nrmd = 0;
        for (int j = 0; j < 5; j++) {
            nrm += pow(s.params[s.layer[0].off_w + i * 5 + j], 2);
            nrmd += pow(d.params[d.layer[0].off_w + i * 5 + j], 2);
        }
        bad += fabs(lam[i] - (-0.5 + 0.3 * i)) > 1e-6;
        bad += fabs(rel[i] - lam[i] * sqrt(nrm)) > 1e-6;
        bad += lamd[i] != 1.0 || fabs(reld[i] - sqrt(nrmd)) > 1e-6;
    }
    CHECK(bad == 0, "relevance: %d wrong values", bad);
    ss_net_relevance(&s, NULL, NULL);
    ss_net_destroy(&s);
    ss_net_destroy(&d);
}

static void test_create_errors(void)
{
    net_case_t c = {"err", SS_TASK_CLASSIFICATION, SS_SPECTRAL_ALL, 1, {5}, {SS_ACT_TANH},
                    0, 0.0, 1, 0, 0, SS_OPT_ADAM, 0};
    ss_model_t m = case_model(&c);
    ss_training_t t = case_training(&c);
    struct { const char *title; int n_in, n_out; ss_task_t task; int max_batch, hidden0;
             double dropout; int n_hidden, bn; } tab[] = {
        {"zero inputs", 0, 3, SS_TASK_CLASSIFICATION, 4, 5, 0, 1, 0},
        {"zero outputs", 6, 0, SS_TASK_CLASSIFICATION, 4, 5, 0, 1, 0},
        {"zero max_batch", 6, 3, SS_TASK_CLASSIFICATION, 0, 5, 0, 1, 0},
        {"one class", 6, 1, SS_TASK_CLASSIFICATION, 4, 5, 0, 1, 0},
        {"regression, 2 outputs", 6, 2, SS_TASK_REGRESSION, 4, 5, 0, 1, 0},
        {"zero-width hidden", 6, 3, SS_TASK_CLASSIFICATION, 4, 0, 0, 1, 0},
        {"dropout 1", 6, 3, SS_TASK_CLASSIFICATION, 4, 5, 1.0, 1, 0},
        {"bn, no hidden layer", 6, 3, SS_TASK_CLASSIFICATION, 4, 5, 0, 0, 1},
        {"too many layers", 6, 3, SS_TASK_CLASSIFICATION, 4, 5, 0, SS_MAX_LAYERS + 1, 0},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        ss_model_t mm = m;
        mm.hidden[0] = tab[i].hidden0;
        mm.dropout_after_first = tab[i].dropout;
        mm.n_hidden = tab[i].n_hidden;
        mm.batchnorm_after_first = tab[i].bn;
        ss_net_t net;
        ss_error_t err = {0};
        int rc = ss_net_create(&net, &mm, &t, tab[i].n_in, tab[i].n_out, tab[i].task,
                               tab[i].max_batch, 1, &err);
        CHECK(rc == -1 && err.code == SS_EXIT_INPUT && err.msg[0], "%s: rc %d code %d",
              tab[i].title, rc, err.code);
        CHECK(net.params == NULL && net.work == NULL, "%s: half-built net", tab[i].title);
        ss_net_destroy(&net);
    }
    ss_net_t z;
    memset(&z, 0, sizeof z);
    ss_net_destroy(&z);
    ss_net_destroy(NULL);
    ss_net_t ok;
    ss_error_t err = {0};
    CHECK(ss_net_create(&ok, &m, &t, 6, 3, SS_TASK_CLASSIFICATION, 4, 1, &err) == 0, "%s",
          err.msg);
    ss_net_destroy(&ok);
    ss_net_destroy(&ok); /* destroy nulls the struct: a second call is harmless */
    CHECK(ok.params == NULL, "destroy did not clear the net");
}

int main(void)
{
    for (int sparse = 0; sparse <= 1; sparse++)
        for (size_t i = 0; i < sizeof fd_cases / sizeof fd_cases[0]; i++)
            gradient_check(&fd_cases[i], sparse);
    test_sparse_inputs();
    test_saturation();
    test_softmax();
    test_feature_major();
    printf("gradcheck max error per kind (tolerance %.0e):", FD_TOL);
    for (int k = 0; k < K_COUNT; k++) printf(" %s %.1e", kind_name[k], worst[k]);
    printf("\n");
    check_residuals_away_from_zero();
    test_shards_no_bn();
    test_shards_bn();
    test_frozen();
    test_adam();
    test_adamax();
    test_update_ranges();
    test_subset();
    test_init_settings();
    test_regime_counts();
    test_init();
    test_evaluate();
    test_relevance();
    test_create_errors();
    return ss_test_report();
}
