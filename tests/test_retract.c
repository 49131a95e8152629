/*
 * test_retract.c - telescopic retraction (retract.h): trained-looking networks (random
 * parameters away from the initial ones) and their compact networks give the same
 * outputs within float rounding on a test set:
 *   - three spectral linear layers 12 -> 9 -> 7 -> 4 into one layer 12 -> 4;
 *   - the paper's non-linear family 12 -> 9 (linear) -> 6 (relu) -> 4 into 12 -> 6 -> 4
 *     (mode linear), with dropout after the first layer (the identity at inference);
 *   - a dense network with a linear layer, and a network with no hidden layer (itself);
 * the compact network is dense and its layer 0 is the product of the effective weights;
 * retraction across a non-linear layer or the batch-norm is refused; the histogram of the
 * equivalent weights counts what lies in its range, with the edges it reports.
 */
#include "specsweep/net.h"
#include "specsweep/retract.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_TEST 200

typedef struct {
    const char *title;
    ss_spectral_t spectral;
    int n_hidden, hidden[3];
    ss_act_t act[3];
    double dropout;
    int batchnorm;
    ss_retract_t mode;
    int expect_layers;            /* of the compact network */
} retract_case_t;

static int make(const retract_case_t *c, ss_net_t *net, int n_in, int n_out)
{
    ss_model_t m;
    ss_model_defaults(&m);
    m.n_hidden = c->n_hidden;
    for (int l = 0; l < c->n_hidden; l++) {
        m.hidden[l] = c->hidden[l];
        m.act[l] = c->act[l];
    }
    m.spectral = c->spectral;
    m.dropout_after_first = c->dropout;
    m.batchnorm_after_first = c->batchnorm;
    ss_training_t t;
    ss_training_defaults(&t);
    ss_error_t err = {0};
    if (ss_net_create(net, &m, &t, n_in, n_out, SS_TASK_CLASSIFICATION, 64, 7, &err) != 0) {
        CHECK(0, "%s: create: %s", c->title, err.msg);
        return -1;
    }
    /* away from the initial values: lambdas, biases and weights all matter */
    ss_rng_t rng;
    ss_rng_seed(&rng, 3, 77);
    for (size_t k = 0; k < net->n_params; k++)
        net->params[k] += (float)(0.4 * (2.0 * ss_rng_uniform(&rng) - 1.0));
    return 0;
}

static void retract_case(const retract_case_t *c)
{
    enum { N_IN = 12 };
    int n_out = 4;
    ss_net_t net, compact;
    if (make(c, &net, N_IN, n_out) != 0)
        return;
    ss_error_t err = {0};
    if (ss_retract(&net, c->mode, 64, &compact, &err) != 0) {
        CHECK(0, "%s: retract: %s", c->title, err.msg);
        ss_net_destroy(&net);
        return;
    }
    CHECK(compact.n_layers == c->expect_layers, "%s: %d compact layers, expected %d", c->title,
          compact.n_layers, c->expect_layers);
    for (int l = 0; l < compact.n_layers; l++)
        CHECK(!compact.layer[l].spectral, "%s: compact layer %d is dense", c->title, l);

    float *x = malloc((size_t)N_TEST * N_IN * sizeof *x);
    float *za = malloc((size_t)N_TEST * n_out * sizeof *za);
    float *zb = malloc((size_t)N_TEST * n_out * sizeof *zb);
    float y[N_TEST];
    ss_rng_t rng;
    ss_rng_seed(&rng, 9, 1);
    for (int k = 0; k < N_TEST * N_IN; k++)
        x[k] = (float)ss_rng_normal(&rng);
    for (int r = 0; r < N_TEST; r++)
        y[r] = (float)ss_rng_below(&rng, (uint64_t)n_out);
    ss_net_predict(&net, x, N_TEST, za);
    ss_net_predict(&compact, x, N_TEST, zb);
    /* Rounding: both are float32 networks; the full one rounds after every layer, the
       compact one once per chain (its product is exact in double before one rounding).
       Logits of order 1-10 agree to a few float ulps times the depth: relative 1e-5 of
       the largest logit. */
    double scale = 0.0, diff = 0.0;
    for (int k = 0; k < N_TEST * n_out; k++) {
        scale = fmax(scale, fabs(za[k]));
        diff = fmax(diff, fabs((double)za[k] - zb[k]));
    }
    double la = 0, ca = 0, lb = 0, cb = 0;
    ss_net_evaluate(&net, x, y, N_TEST, NULL, &la, &ca);
    ss_net_evaluate(&compact, x, y, N_TEST, NULL, &lb, &cb);
    printf("retraction %-42s %d -> %d layers: max |logit diff| %.2e of max |logit| %.3g; "
           "correct %g vs %g\n", c->title, net.n_layers, compact.n_layers, diff, scale, ca, cb);
    CHECK(scale > 0.5 && diff <= 1e-5 * scale, "%s: logits differ by %.3g (max |logit| %g)",
          c->title, diff, scale);
    CHECK(fabs(ca - cb) <= 1.0 && fabs(la - lb) <= 1e-4 * fabs(la),
          "%s: evaluation %g/%g vs %g/%g", c->title, la, ca, lb, cb);
    free(x);
    free(za);
    free(zb);
    ss_net_destroy(&compact);
    ss_net_destroy(&net);
}

/* The compact layer of a fully linear network is W1 W2 W3 of the effective weights
   (double products), element by element; its bias (b1 W2 + b2) W3 + b3. */
static void test_product(void)
{
    retract_case_t c = {"product", SS_SPECTRAL_ALL, 2, {5, 4}, {SS_ACT_LINEAR, SS_ACT_LINEAR},
                        0.0, 0, SS_RETRACT_ALL, 1};
    ss_net_t net, compact;
    if (make(&c, &net, 6, 3) != 0)
        return;
    ss_error_t err = {0};
    if (ss_retract(&net, SS_RETRACT_ALL, 8, &compact, &err) != 0) {
        CHECK(0, "retract: %s", err.msg);
        return;
    }
    double w[3][6 * 5];
    float f[6 * 5];
    for (int l = 0; l < 3; l++) {
        ss_net_layer_weights(&net, l, f);
        for (int k = 0; k < net.layer[l].n_in * net.layer[l].n_out; k++)
            w[l][k] = f[k];
    }
    const float *b0 = net.params + net.layer[0].off_b, *b1 = net.params + net.layer[1].off_b,
                *b2 = net.params + net.layer[2].off_b;
    double worst = 0.0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0.0;
            for (int a = 0; a < 5; a++)
                for (int b = 0; b < 4; b++)
                    s += w[0][i * 5 + a] * w[1][a * 4 + b] * w[2][b * 3 + j];
            worst = fmax(worst, fabs(s - compact.params[compact.layer[0].off_w + i * 3 + j]));
        }
    for (int j = 0; j < 3; j++) {
        double s = b2[j];
        for (int b = 0; b < 4; b++) {
            double t = b1[b];
            for (int a = 0; a < 5; a++)
                t += b0[a] * w[1][a * 4 + b];
            s += t * w[2][b * 3 + j];
        }
        worst = fmax(worst, fabs(s - compact.params[compact.layer[0].off_b + j]));
    }
    printf("retraction product W1 W2 W3 and its bias: max |diff| %.2e\n", worst);
    CHECK(worst < 1e-6, "compact weights differ from the product by %g", worst);
    ss_net_destroy(&compact);
    ss_net_destroy(&net);
}

static void test_refused(void)
{
    static const retract_case_t bad[] = {
        {"all across relu", SS_SPECTRAL_ALL, 2, {5, 4}, {SS_ACT_LINEAR, SS_ACT_RELU}, 0.0, 0,
         SS_RETRACT_ALL, 0},
        {"linear across batch-norm", SS_SPECTRAL_ALL, 2, {5, 4},
         {SS_ACT_LINEAR, SS_ACT_LINEAR}, 0.0, 1, SS_RETRACT_LINEAR, 0},
        {"mode none", SS_SPECTRAL_ALL, 1, {5}, {SS_ACT_LINEAR}, 0.0, 0, SS_RETRACT_NONE, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_net_t net, compact;
        if (make(&bad[i], &net, 6, 3) != 0)
            continue;
        ss_error_t err = {0};
        int rc = ss_retract(&net, bad[i].mode, 8, &compact, &err);
        CHECK(rc == -1 && err.code == SS_EXIT_INPUT && err.msg[0] && !compact.params,
              "%s: rc %d code %d", bad[i].title, rc, err.code);
        if (getenv("SS_TEST_VERBOSE"))
            printf("%-26s %s\n", bad[i].title, err.msg);
        ss_net_destroy(&compact);
        ss_net_destroy(&net);
    }
}

/* Bins of equal width over [-range, range]; the weights inside are counted once each,
   those outside not at all; a weight at +range is in the last bin. */
static void test_histogram(void)
{
    retract_case_t c = {"histogram", SS_SPECTRAL_NONE, 0, {0}, {SS_ACT_TANH}, 0.0, 0,
                        SS_RETRACT_ALL, 1};
    ss_net_t net;
    if (make(&c, &net, 10, 3) != 0)
        return;
    float *w = net.params + net.layer[0].off_w;
    w[0] = 0.5f;                       /* exactly +range */
    w[1] = -0.5f;                      /* exactly -range: the first bin */
    w[2] = 0.75f;                      /* outside */
    w[3] = -2.0f;                      /* outside */
    int inside = 0;
    for (int k = 0; k < 30; k++)
        inside += fabsf(w[k]) <= 0.5f;
    int64_t counts[8];
    double edges[9];
    ss_retract_histogram(&net, 8, 0.5, counts, edges);
    int64_t total = 0;
    int ok = 1;
    for (int b = 0; b < 8; b++) {
        total += counts[b];
        int64_t n = 0;
        for (int k = 0; k < 30; k++)
            n += w[k] >= edges[b] && (b == 7 ? w[k] <= edges[b + 1] : w[k] < edges[b + 1]);
        ok &= n == counts[b];
        ok &= fabs(edges[b + 1] - edges[b] - 0.125) < 1e-15;
    }
    CHECK(edges[0] == -0.5 && edges[8] == 0.5 && ok && total == inside,
          "histogram: %lld counted, %d inside, bins %s", (long long)total, inside,
          ok ? "right" : "wrong");
    CHECK(counts[0] >= 1 && counts[7] >= 1, "the ends of the range are counted");
    ss_net_destroy(&net);
}

int main(void)
{
    static const retract_case_t cases[] = {
        {"3 spectral linear layers into one", SS_SPECTRAL_ALL, 2, {9, 7},
         {SS_ACT_LINEAR, SS_ACT_LINEAR}, 0.0, 0, SS_RETRACT_ALL, 1},
        {"the same with mode linear", SS_SPECTRAL_ALL, 2, {9, 7},
         {SS_ACT_LINEAR, SS_ACT_LINEAR}, 0.0, 0, SS_RETRACT_LINEAR, 1},
        {"4 linear layers, spectral first only", SS_SPECTRAL_FIRST, 3, {9, 8, 7},
         {SS_ACT_LINEAR, SS_ACT_LINEAR, SS_ACT_LINEAR}, 0.0, 0, SS_RETRACT_ALL, 1},
        {"linear -> relu -> out (the non-linear family)", SS_SPECTRAL_ALL, 2, {9, 6},
         {SS_ACT_LINEAR, SS_ACT_RELU}, 0.2, 0, SS_RETRACT_LINEAR, 2},
        {"dense, tanh -> linear -> out", SS_SPECTRAL_NONE, 2, {9, 7},
         {SS_ACT_TANH, SS_ACT_LINEAR}, 0.0, 0, SS_RETRACT_LINEAR, 2},
        {"no hidden layer", SS_SPECTRAL_ALL, 0, {0}, {SS_ACT_TANH}, 0.0, 0, SS_RETRACT_ALL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        retract_case(&cases[i]);
    test_product();
    test_refused();
    test_histogram();
    return ss_test_report();
}
