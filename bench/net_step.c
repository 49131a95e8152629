/*
 * net_step - the training step against the bare products it is made of.
 *
 *   net_step [CASE...]        CASE: fig3 | mnist | mnist-bn | spectra | wide | sparse | peak
 *                             (default: all but sparse and peak)
 *
 * For each network, one training step on a batch of 500 samples (ss_net_forward_backward
 * + ss_net_update over all parameters, everything the step of train.c does except picking
 * the minibatch) is timed, and so are the step's dense products alone, twice: through
 * the kernels the network chose (mm.h: libxsmm or OpenBLAS per product, SPECSWEEP_KERNELS)
 * and as plain cblas_sgemm calls (OpenBLAS). The products: per layer the forward Z = A W,
 * the weight gradient G = A^T dZ, and for every layer but the first the input gradient
 * dA = dZ W^T. All in rounds of >= 0.25 s, interleaved, best round of each. Prints per
 * network:
 *
 *   NAME  step MS ms  STEP GFLOP/s  products KERN GFLOP/s = PCT %  sgemm SGEMM GFLOP/s
 *
 * where GFLOP/s counts only the products' FLOPs (2 m n k per call), so PCT is the
 * fraction of its own products' rate the whole step reaches. Then per product its shape,
 * kernel and both kernels' measured rates (ss_net_describe_kernels after
 * ss_net_measure_kernels), and machine-readable lines for scripts
 * (bench/torch_compare.py): "KERNEL name=... layer=L product=forward|weight_grad|
 * input_grad flops=... kernel=libxsmm|OpenBLAS" per product and "RESULT name=...
 * step_ms=... step_gflops=... kernels_gflops=... sgemm_gflops=... fraction=..." per case.
 * Before timing, a check: ss_net_update over all parameters gives the same bits as
 * ss_net_add_l2 + ss_net_adam_step, and so does ss_net_update over three ranges (the
 * sharded step of a group of three); a mismatch prints FAIL and the exit status is 1.
 *
 * `sparse`: the MNIST network's step (forward_backward + update) on inputs with a given
 * fraction of nonzero values (random positions, values U(0, 1)), with the first layer's
 * sparse-input path and without it, for densities 0.05 ... 1: where the sparse path stops
 * paying is SS_SPARSE_INPUT_DENSITY (net.h). Prints per density
 *
 *   density D  dense MS ms  sparse MS ms  speed-up X
 *
 * `peak`: the core's peak float32 rate, 12 independent chains of 16-float fused
 * multiply-adds (GCC's vector extension: 512-bit FMAs where the CPU has AVX-512), best
 * of ROUNDS: "RESULT name=peak gflops=...". No float32 training step can beat it.
 *
 * One thread: run with OPENBLAS_NUM_THREADS=1.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/net.h"

#define BATCH 500
#define ROUND_SECONDS 0.25
#define ROUNDS 6

typedef struct {
    const char *name;
    int n_layers;               /* hidden + output */
    int size[SS_MAX_LAYERS + 2];/* inputs, hidden..., outputs */
    ss_act_t act[SS_MAX_LAYERS];
    ss_task_t task;
    int batchnorm;
} bench_case_t;

static const bench_case_t cases[] = {
    {"fig3", 4, {20, 100, 100, 50, 2}, {SS_ACT_TANH, SS_ACT_RELU, SS_ACT_RELU},
     SS_TASK_CLASSIFICATION, 0},
    {"mnist", 4, {784, 100, 100, 50, 10}, {SS_ACT_RELU, SS_ACT_RELU, SS_ACT_RELU},
     SS_TASK_CLASSIFICATION, 0},
    {"mnist-bn", 4, {784, 100, 100, 50, 10}, {SS_ACT_TANH, SS_ACT_RELU, SS_ACT_RELU},
     SS_TASK_CLASSIFICATION, 1},
    {"spectra", 4, {4300, 200, 50, 50, 1}, {SS_ACT_RELU, SS_ACT_RELU, SS_ACT_RELU},
     SS_TASK_REGRESSION, 0},
    {"wide", 3, {1024, 1024, 1024, 10}, {SS_ACT_TANH, SS_ACT_TANH}, SS_TASK_CLASSIFICATION, 0},
};

/* GEMM FLOPs of one step: forward and weight gradient of every layer, input gradient of
   every layer but the first. */
static double step_flops(const bench_case_t *c)
{
    double f = 0.0;
    for (int l = 0; l < c->n_layers; l++)
        f += (l > 0 ? 3.0 : 2.0) * 2.0 * BATCH * c->size[l] * c->size[l + 1];
    return f;
}

typedef struct {
    float *act[SS_MAX_LAYERS + 2];   /* (B, size[l]) layer inputs / outputs */
    float *dz[2];                    /* (B, max width) */
    float *w[SS_MAX_LAYERS + 1];     /* (size[l], size[l+1]) */
    float *g[SS_MAX_LAYERS + 1];
} gemm_bufs_t;

static void sgemm_rm(int ta, int tb, int M, int N, int K, const float *A, const float *B,
                     float *C)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C, N);
}

/* The GEMMs of one step as plain cblas_sgemm calls, in the order the step issues them. */
static void gemm_only_step(const bench_case_t *c, gemm_bufs_t *b)
{
    for (int l = 0; l < c->n_layers; l++)
        sgemm_rm(0, 0, BATCH, c->size[l + 1], c->size[l], b->act[l], b->w[l], b->act[l + 1]);
    for (int l = c->n_layers - 1; l >= 0; l--) {
        float *dz = b->dz[l & 1], *dprev = b->dz[(l + 1) & 1];
        sgemm_rm(1, 0, c->size[l], c->size[l + 1], BATCH, b->act[l], dz, b->g[l]);
        if (l > 0)
            sgemm_rm(0, 1, BATCH, c->size[l], c->size[l + 1], dz, b->w[l], dprev);
    }
}

/* The same products through the network's plans (its kernels); the input gradient on
   the transposed weights wt[l] where the plan is NN (libxsmm), as the step has it. */
static void kernels_only_step(const bench_case_t *c, ss_net_t *net, gemm_bufs_t *b)
{
    for (int l = 0; l < c->n_layers; l++)
        ss_mm_run(&net->layer[l].mm_forward, BATCH, c->size[l + 1], c->size[l], b->act[l],
                  b->w[l], b->act[l + 1]);
    for (int l = c->n_layers - 1; l >= 0; l--) {
        float *dz = b->dz[l & 1], *dprev = b->dz[(l + 1) & 1];
        ss_mm_run(&net->layer[l].mm_weight_grad, c->size[l], c->size[l + 1], BATCH,
                  b->act[l], dz, b->g[l]);
        if (l > 0)
            ss_mm_run(&net->layer[l].mm_input_grad, BATCH, c->size[l], c->size[l + 1], dz,
                      b->w[l], dprev);
    }
}

static void fill(float *v, size_t n, ss_rng_t *rng, float scale)
{
    for (size_t k = 0; k < n; k++)
        v[k] = scale * (float)(2.0 * ss_rng_uniform(rng) - 1.0);
}

/* Parameters after a few steps of (forward_backward, `mode`) from the same start:
   mode 0: ss_net_add_l2 + ss_net_adam_step; 1: ss_net_update(all); 2: three ranges. */
static void steps_with(ss_net_t *net, const float *x, const float *y, int mode, float *out)
{
    for (int s = 0; s < 3; s++) {
        ss_net_forward_backward(net, x, y, BATCH, BATCH, NULL, NULL);
        if (mode == 0) {
            ss_net_add_l2(net);
            ss_net_adam_step(net);
        } else if (mode == 1) {
            ss_net_update(net, 0, net->n_params);
        } else {
            size_t n = net->n_params, a = n / 3 / 16 * 16, b = 2 * n / 3 / 16 * 16;
            long t = net->adam_t;
            ss_net_update(net, 0, a);
            net->adam_t = t;     /* three ranks: each takes the step once */
            ss_net_update(net, a, b);
            net->adam_t = t;
            ss_net_update(net, b, n);
        }
    }
    memcpy(out, net->params, net->n_params * sizeof *out);
}

/* The check described at the top; returns 0 if all three agree bit for bit. */
static int check_update(ss_net_t *net, const float *x, const float *y)
{
    size_t n = net->n_params, bytes = n * sizeof(float);
    float *p0 = ss_alloc_aligned(bytes), *res[3];
    memcpy(p0, net->params, bytes);
    int bad = 0;
    for (int mode = 0; mode < 3; mode++) {
        res[mode] = ss_alloc_aligned(bytes);
        memcpy(net->params, p0, bytes);
        memset(net->adam_m, 0, bytes);
        memset(net->adam_v, 0, bytes);
        net->adam_t = 0;
        steps_with(net, x, y, mode, res[mode]);
        if (mode > 0 && memcmp(res[0], res[mode], bytes) != 0) {
            printf("FAIL: %s differs from ss_net_add_l2 + ss_net_adam_step\n",
                   mode == 1 ? "ss_net_update(all)" : "ss_net_update over three ranges");
            bad = 1;
        }
    }
    memcpy(net->params, p0, bytes);
    for (int mode = 0; mode < 3; mode++)
        free(res[mode]);
    free(p0);
    return bad;
}

/* The network of case c (all layers spectral) with Adam at learning rate lr and the
   first layer's L2 strengths; 0, or -1 after printing why. */
static int create_net(const bench_case_t *c, double lr, double reg_ev, double reg_evec,
                      ss_net_t *net)
{
    ss_model_t m;
    ss_model_defaults(&m);
    m.n_hidden = c->n_layers - 1;
    for (int l = 0; l < m.n_hidden; l++) {
        m.hidden[l] = c->size[l + 1];
        m.act[l] = c->act[l];
    }
    m.spectral = SS_SPECTRAL_ALL;
    m.batchnorm_after_first = c->batchnorm;
    ss_training_t t;
    memset(&t, 0, sizeof t);
    t.learning_rate = lr;
    t.adam_beta1 = 0.9;
    t.adam_beta2 = 0.999;
    t.adam_epsilon = 1e-7;
    t.train_eigenvectors = 1;
    t.reg_eigenvalues = reg_ev;
    t.reg_eigenvectors = reg_evec;
    ss_error_t err = {0};
    if (ss_net_create(net, &m, &t, c->size[0], c->size[c->n_layers], c->task, BATCH, 1,
                      &err) != 0) {
        fprintf(stderr, "net_step: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int run_case(const bench_case_t *c)
{
    int n_in = c->size[0], n_out = c->size[c->n_layers];
    ss_net_t net;
    if (create_net(c, 1e-3, 1e-2, 1e-4, &net) != 0)
        return -1;
    ss_rng_t rng;
    ss_rng_seed(&rng, 1, 1);
    float *x = ss_alloc_aligned((size_t)BATCH * n_in * sizeof(float));
    float *y = ss_alloc_aligned(BATCH * sizeof(float));
    fill(x, (size_t)BATCH * n_in, &rng, 1.0f);
    for (int k = 0; k < BATCH; k++)
        y[k] = c->task == SS_TASK_CLASSIFICATION ? (float)(k % n_out) : 1.0f;

    int bad = check_update(&net, x, y);

    gemm_bufs_t gb;
    memset(&gb, 0, sizeof gb);
    int max_w = 0;
    for (int l = 0; l <= c->n_layers; l++) {
        gb.act[l] = ss_alloc_aligned((size_t)BATCH * c->size[l] * sizeof(float));
        fill(gb.act[l], (size_t)BATCH * c->size[l], &rng, 1.0f);
        max_w = c->size[l] > max_w ? c->size[l] : max_w;
    }
    for (int l = 0; l < c->n_layers; l++) {
        size_t nw = (size_t)c->size[l] * c->size[l + 1];
        gb.w[l] = ss_alloc_aligned(nw * sizeof(float));
        gb.g[l] = ss_alloc_aligned(nw * sizeof(float));
        fill(gb.w[l], nw, &rng, 0.1f);
    }
    for (int k = 0; k < 2; k++) {
        gb.dz[k] = ss_alloc_aligned((size_t)BATCH * max_w * sizeof(float));
        fill(gb.dz[k], (size_t)BATCH * max_w, &rng, 0.01f);
    }

    double flops = step_flops(c), best[3] = {1e30, 1e30, 1e30};
    for (int round = 0; round < ROUNDS; round++) {
        for (int what = 0; what < 3; what++) {
            int n = 0;
            double t0 = ss_now(), el;
            do {
                if (what == 0) {
                    ss_net_forward_backward(&net, x, y, BATCH, BATCH, NULL, NULL);
                    ss_net_update(&net, 0, net.n_params);
                } else if (what == 1) {
                    kernels_only_step(c, &net, &gb);
                } else {
                    gemm_only_step(c, &gb);
                }
                n++;
            } while ((el = ss_now() - t0) < ROUND_SECONDS);
            if (el / n < best[what])
                best[what] = el / n;
        }
    }
    double g_step = flops / best[0] / 1e9, g_kern = flops / best[1] / 1e9;
    double g_gemm = flops / best[2] / 1e9;
    printf("%-10s step %7.3f ms  %6.1f GFLOP/s  products alone %6.1f GFLOP/s = %3.0f %%"
           "  (OpenBLAS sgemm alone %6.1f GFLOP/s)\n", c->name, 1e3 * best[0], g_step, g_kern,
           100.0 * g_step / g_kern, g_gemm);
    ss_net_measure_kernels(&net);
    ss_net_describe_kernels(&net, stdout);
    static const char *kind[3] = {"forward", "weight_grad", "input_grad"};
    for (int l = 0; l < net.n_layers; l++)
        for (int k = 0; k < 3; k++) {
            const ss_mm_t *p = ss_net_product(&net, l, (ss_product_t)k);
            if (p)
                printf("KERNEL name=%s layer=%d product=%s flops=%.0f kernel=%s\n", c->name, l,
                       kind[k], 2.0 * p->m * p->n * p->k,
                       ss_net_product_kernel(&net, l, (ss_product_t)k));
        }
    printf("RESULT name=%s step_ms=%.4f step_gflops=%.2f kernels_gflops=%.2f "
           "sgemm_gflops=%.2f fraction=%.4f flops_per_sample=%.0f\n", c->name, 1e3 * best[0],
           g_step, g_kern, g_gemm, g_step / g_kern, flops / BATCH);
    fflush(stdout);

    for (int l = 0; l <= c->n_layers; l++)
        free(gb.act[l]);
    for (int l = 0; l < c->n_layers; l++) {
        free(gb.w[l]);
        free(gb.g[l]);
    }
    free(gb.dz[0]);
    free(gb.dz[1]);
    free(x);
    free(y);
    ss_net_destroy(&net);
    return bad ? -1 : 0;
}

/* Best-of-ROUNDS time of one step (forward_backward + update) of net on x, y. */
static double time_step(ss_net_t *net, const float *x, const float *y)
{
    double best = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        int n = 0;
        double t0 = ss_now(), el;
        do {
            ss_net_forward_backward(net, x, y, BATCH, BATCH, NULL, NULL);
            ss_net_update(net, 0, net->n_params);
            n++;
        } while ((el = ss_now() - t0) < ROUND_SECONDS / 2);
        if (el / n < best)
            best = el / n;
    }
    return best;
}

typedef float v16 __attribute__((vector_size(64)));

/* 12 independent FMA chains kept in registers (the empty asm pins them there and stops
   the compiler from folding the loop). */
static double peak_gflops(void)
{
    const v16 b = (v16){0} + 0.999999f, c = (v16){0} + 1e-7f;
    v16 a0 = (v16){0} + 0.0f, a1 = a0 + 1.0f, a2 = a0 + 2.0f, a3 = a0 + 3.0f, a4 = a0 + 4.0f,
        a5 = a0 + 5.0f, a6 = a0 + 6.0f, a7 = a0 + 7.0f, a8 = a0 + 8.0f, a9 = a0 + 9.0f,
        a10 = a0 + 10.0f, a11 = a0 + 11.0f;
    const long n = 20000000;
    double best = 0.0;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = ss_now();
        for (long k = 0; k < n; k++) {
            a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c;
            a4 = a4 * b + c; a5 = a5 * b + c; a6 = a6 * b + c; a7 = a7 * b + c;
            a8 = a8 * b + c; a9 = a9 * b + c; a10 = a10 * b + c; a11 = a11 * b + c;
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                             "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
        }
        double g = (double)n * 12 * 16 * 2 / (ss_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    v16 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    printf("peak float32 rate %.1f GFLOP/s (12 chains of 16-float FMAs; checksum %g)\n", best,
           (double)sum[0]);
    printf("RESULT name=peak gflops=%.2f\n", best);
    return best;
}

static int run_sparse(void)
{
    const bench_case_t *c = &cases[1]; /* mnist */
    int n_in = c->size[0], n_out = c->size[c->n_layers];
    ss_net_t net;
    if (create_net(c, 1e-4, 0.0, 0.0, &net) != 0)
        return -1;
    float *x = ss_alloc_aligned((size_t)BATCH * n_in * sizeof(float));
    float *y = ss_alloc_aligned(BATCH * sizeof(float));
    for (int k = 0; k < BATCH; k++)
        y[k] = (float)(k % n_out);
    static const double density[] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0};
    printf("sparse inputs, MNIST network %d-%d-%d-%d-%d, batch %d\n", c->size[0], c->size[1],
           c->size[2], c->size[3], c->size[4], BATCH);
    for (size_t i = 0; i < sizeof density / sizeof density[0]; i++) {
        ss_rng_t rng;
        ss_rng_seed(&rng, 3, 1);
        for (size_t k = 0; k < (size_t)BATCH * n_in; k++) {
            double u = ss_rng_uniform(&rng);
            x[k] = u < density[i] ? (float)ss_rng_uniform(&rng) : 0.0f;
        }
        ss_net_set_sparse_inputs(&net, 0);
        double td = time_step(&net, x, y);
        ss_net_set_sparse_inputs(&net, n_in);
        double ts = time_step(&net, x, y);
        printf("density %4.2f  dense %7.3f ms  sparse %7.3f ms  speed-up %5.2f\n", density[i],
               1e3 * td, 1e3 * ts, td / ts);
        fflush(stdout);
    }
    free(x);
    free(y);
    ss_net_destroy(&net);
    return 0;
}

int main(int argc, char **argv)
{
    int n_cases = (int)(sizeof cases / sizeof cases[0]), rc = 0;
    for (int a = 1; a < argc; a++) {
        int found = strcmp(argv[a], "sparse") == 0 || strcmp(argv[a], "peak") == 0;
        for (int i = 0; i < n_cases; i++)
            found |= strcmp(argv[a], cases[i].name) == 0;
        if (!found) {
            fprintf(stderr,
                    "usage: net_step [fig3|mnist|mnist-bn|spectra|wide|sparse|peak]...\n");
            return 2;
        }
    }
    for (int i = 0; i < n_cases; i++) {
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], cases[i].name) == 0;
        if (wanted && run_case(&cases[i]) != 0)
            rc = 1;
    }
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "sparse") == 0 && run_sparse() != 0)
            rc = 1;
        if (strcmp(argv[a], "peak") == 0)
            peak_gflops();
    }
    return rc;
}
