/*
 * test_mm.c - the dense products of mm.h against a float64 triple loop: every transpose
 * combination, under every policy, at the planned shape and at smaller ones (a smaller
 * batch in any dimension, an empty sum); the recorded kernel choice; the policy read
 * from SPECSWEEP_KERNELS. On libxsmm's kernel, every product without a transposed B
 * (libxsmm's own kernels and mm.c's for few output columns) must give the bits of the
 * chain of multiply-adds over k in increasing order.
 */
#include "specsweep/mm.h"
#include "specsweep/util.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* C (m, n) = op(A) op(B) in double, row-major, tight leading dimensions. */
static void reference(int ta, int tb, int m, int n, int k, const float *A, const float *B,
                      double *C)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? A[(size_t)p * m + i] : A[(size_t)i * k + p]) *
                     (double)(tb ? B[(size_t)j * k + p] : B[(size_t)p * n + j]);
            C[(size_t)i * n + j] = s;
        }
}

/* Max |c - ref| over max |ref|. */
static double rel_err(const float *c, const double *ref, size_t n)
{
    double d = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)c[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    return d / (scale > 0 ? scale : 1.0);
}

typedef struct {
    const char *title;
    int ta, tb, m, n, k;      /* the plan */
    int rm, rn, rk;           /* the call (<= the plan) */
} mm_case_t;

static const mm_case_t cases[] = {
    {"forward 500x100x20", 0, 0, 500, 100, 20, 500, 100, 20},
    {"forward, smaller batch", 0, 0, 500, 100, 20, 37, 100, 20},
    {"weight gradient 100x50x500", 1, 0, 100, 50, 500, 100, 50, 500},
    {"weight gradient, smaller batch", 1, 0, 100, 50, 500, 100, 50, 123},
    {"input gradient NT 500x50x100", 0, 1, 500, 50, 100, 500, 50, 100},
    {"input gradient NN, odd sizes", 0, 0, 61, 37, 13, 61, 37, 13},
    {"one output column", 0, 0, 64, 1, 50, 64, 1, 50},
    {"transposed both", 1, 1, 17, 9, 33, 17, 9, 33},
    {"weight gradient, two columns", 1, 0, 50, 2, 500, 50, 2, 500},
    {"weight gradient, 1 to 4 columns", 1, 0, 37, 3, 300, 37, 3, 77},
    {"weight gradient, one vector", 1, 0, 16, 1, 40, 16, 1, 40},
    {"weight gradient, 4 columns, 9 vectors", 1, 0, 133, 4, 64, 133, 4, 64},
    {"weight gradient, 5 columns", 1, 0, 50, 5, 100, 50, 5, 100},
    {"weight gradient, 15 rows", 1, 0, 15, 2, 100, 15, 2, 100},
    {"forward, two columns", 0, 0, 500, 2, 50, 64, 2, 50},
    {"forward, 1 to 4 columns", 0, 0, 37, 3, 21, 37, 3, 21},
    {"forward, one tile", 0, 0, 16, 4, 16, 16, 4, 16},
    {"forward, one column, 9 tiles", 0, 0, 133, 1, 140, 100, 1, 140},
    {"forward, 15 terms", 0, 0, 64, 2, 15, 64, 2, 15},
    {"empty sum", 0, 0, 8, 8, 8, 8, 8, 0},
    {"empty batch", 0, 0, 8, 8, 8, 0, 8, 8},
};

static void run_case(const mm_case_t *c, ss_mm_policy_t policy)
{
    static const char *pol_name[3] = {"auto", "measure", "blas"};
    ss_mm_t p;
    ss_mm_plan(&p, c->ta, c->tb, c->m, c->n, c->k, policy);
    /* the recorded choice follows the policy */
    int xsmm_possible = ss_mm_have_xsmm() && !c->tb;
    if (policy == SS_MM_ONLY_BLAS || !xsmm_possible)
        CHECK(p.kernel == SS_MM_BLAS, "%s/%s: kernel %s, expected OpenBLAS", c->title,
              pol_name[policy], ss_mm_kernel_name(p.kernel));
    else if (policy == SS_MM_AUTO)
        CHECK(p.kernel == SS_MM_XSMM, "%s/auto: kernel %s, expected libxsmm", c->title,
              ss_mm_kernel_name(p.kernel));
    else
        CHECK(p.gflops[SS_MM_BLAS] > 0 && p.gflops[SS_MM_XSMM] > 0 &&
              p.kernel == (p.gflops[SS_MM_XSMM] >= p.gflops[SS_MM_BLAS] ? SS_MM_XSMM
                                                                        : SS_MM_BLAS),
              "%s/measure: rates %g %g, kernel %s", c->title, p.gflops[SS_MM_BLAS],
              p.gflops[SS_MM_XSMM], ss_mm_kernel_name(p.kernel));

    size_t na = (size_t)c->rm * c->rk, nb = (size_t)c->rk * c->rn, nc = (size_t)c->rm * c->rn;
    float *A = malloc((na + 1) * sizeof(float)), *B = malloc((nb + 1) * sizeof(float));
    float *C = malloc((nc + 1) * sizeof(float));
    double *R = malloc((nc + 1) * sizeof(double));
    ss_rng_t rng;
    ss_rng_seed(&rng, 3, 7);
    for (size_t i = 0; i < na; i++) A[i] = (float)ss_rng_normal(&rng);
    for (size_t i = 0; i < nb; i++) B[i] = (float)ss_rng_normal(&rng);
    for (size_t i = 0; i < nc; i++) C[i] = NAN;   /* beta = 0: no NaN may survive */
    reference(c->ta, c->tb, c->rm, c->rn, c->rk, A, B, R);
    for (int rep = 0; rep < 2; rep++) {           /* the second call: the kept kernel */
        ss_mm_run(&p, c->rm, c->rn, c->rk, A, B, C);
        double e = rel_err(C, R, nc);
        /* float32 sums of k terms: relative error of order k * 6e-8 of the largest */
        CHECK(e <= 1e-6 * (c->rk > 8 ? c->rk : 8), "%s/%s call %d: rel error %.3g",
              c->title, pol_name[policy], rep + 1, e);
    }
    if (p.kernel == SS_MM_XSMM && !c->tb) {
        size_t same = 0;
        for (int i = 0; i < c->rm; i++)
            for (int j = 0; j < c->rn; j++) {
                float s = 0.0f;
                for (int q = 0; q < c->rk; q++)
                    s = fmaf(c->ta ? A[(size_t)q * c->rm + i] : A[(size_t)i * c->rk + q],
                             B[(size_t)q * c->rn + j], s);
                same += memcmp(&s, &C[(size_t)i * c->rn + j], sizeof s) == 0;
            }
        CHECK(same == nc, "%s/%s: %zu of %zu sums are not libxsmm's chain", c->title,
              pol_name[policy], nc - same, nc);
    }
    ss_mm_release(&p);
    ss_mm_release(&p);   /* harmless twice */
    free(A);
    free(B);
    free(C);
    free(R);
}

static void test_policy_env(void)
{
    static const struct { const char *value; int ok; ss_mm_policy_t policy; } tab[] = {
        {NULL, 1, SS_MM_AUTO}, {"", 1, SS_MM_AUTO}, {"auto", 1, SS_MM_AUTO},
        {"measure", 1, SS_MM_MEASURE}, {"blas", 1, SS_MM_ONLY_BLAS}, {"xsmm", 0, SS_MM_AUTO},
        {"BLAS", 0, SS_MM_AUTO},
    };
    char *saved = getenv("SPECSWEEP_KERNELS") ? ss_strdup(getenv("SPECSWEEP_KERNELS")) : NULL;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (tab[i].value)
            setenv("SPECSWEEP_KERNELS", tab[i].value, 1);
        else
            unsetenv("SPECSWEEP_KERNELS");
        ss_mm_policy_t pol = SS_MM_ONLY_BLAS;
        int rc = ss_mm_policy_from_env(&pol);
        CHECK(tab[i].ok ? rc == 0 && pol == tab[i].policy : rc == -1,
              "SPECSWEEP_KERNELS=%s: rc %d policy %d", tab[i].value ? tab[i].value : "(unset)",
              rc, (int)pol);
    }
    if (saved)
        setenv("SPECSWEEP_KERNELS", saved, 1);
    else
        unsetenv("SPECSWEEP_KERNELS");
    free(saved);
}

int main(void)
{
    printf("libxsmm kernels on this CPU: %s\n", ss_mm_have_xsmm() ? "yes" : "no");
    for (int policy = SS_MM_AUTO; policy <= SS_MM_ONLY_BLAS; policy++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_case(&cases[i], (ss_mm_policy_t)policy);
    test_policy_env();
    return ss_test_report();
}
