/* test_util.c - random numbers, CRC, error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "specsweep/util.h"
#include "testutil.h"

static void test_rng(void)
{
    ss_rng_t a, b, c;
    ss_rng_seed(&a, 42, 1);
    ss_rng_seed(&b, 42, 1);
    ss_rng_seed(&c, 42, 2);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = ss_rng_next(&a), y = ss_rng_next(&b), z = ss_rng_next(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same, "same seed and stream give the same sequence");
    CHECK(differ == 1000, "another stream gives another sequence (%d of 1000 differ)", differ);

    /* moments of 200000 draws: uniform mean 1/2 var 1/12, normal mean 0 var 1, within
       5 standard errors */
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    ss_rng_seed(&a, 7, 3);
    for (int i = 0; i < n; i++) {
        double u = ss_rng_uniform(&a), g = ss_rng_normal(&a);
        CHECK(u >= 0 && u < 1, "uniform in [0,1): %g", u);
        su += u; su2 += u * u; sn += g; sn2 += g * g;
        if (ss_test_failed > 10) return;
    }
    ss_test_passed -= n - 1; /* count the range check once */
    double mu = su / n, vu = su2 / n - mu * mu, mn = sn / n, vn = sn2 / n - mn * mn;
    CHECK(fabs(mu - 0.5) < 5 * sqrt(1.0 / 12 / n), "uniform mean %g", mu);
    CHECK(fabs(vu - 1.0 / 12) < 5 * 0.0745 / sqrt(n) , "uniform variance %g", vu);
    CHECK(fabs(mn) < 5 / sqrt(n), "normal mean %g", mn);
    CHECK(fabs(vn - 1) < 5 * sqrt(2.0 / n), "normal variance %g", vn);

    /* ss_rng_below: unbiased over 3 buckets */
    int cnt[3] = {0};
    for (int i = 0; i < 30000; i++)
        cnt[ss_rng_below(&a, 3)]++;
    for (int k = 0; k < 3; k++)
        CHECK(abs(cnt[k] - 10000) < 5 * 82, "bucket %d: %d", k, cnt[k]);

    /* shuffle is a permutation */
    uint32_t p[100];
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) p[i] = (uint32_t)i;
    ss_rng_shuffle(&a, p, 100);
    for (int i = 0; i < 100; i++) { seen[p[i]]++; moved += p[i] != (uint32_t)i; }
    int perm = 1;
    for (int i = 0; i < 100; i++) perm &= seen[i] == 1;
    CHECK(perm && moved > 50, "shuffle permutes (%d moved)", moved);
}

static void test_crc_and_errors(void)
{
    CHECK(ss_crc32(0, "123456789", 9) == 0xCBF43926u, "CRC-32 check value");
    uint32_t part = ss_crc32(0, "1234", 4);
    CHECK(ss_crc32(part, "56789", 5) == 0xCBF43926u, "CRC-32 continues");

    ss_error_t err = {0};
    ss_error_at(&err, SS_EXIT_INPUT, "s.yaml", 3, 14, "epochs must be positive, got %d", 0);
    CHECK(err.code == SS_EXIT_INPUT, "code kept");
    CHECK(!strcmp(err.msg, "s.yaml:3:14: epochs must be positive, got 0"), "message: %s", err.msg);
    ss_error_set(&err, SS_EXIT_RUNTIME, "later");
    CHECK(err.code == SS_EXIT_INPUT && strstr(err.msg, "s.yaml"), "first error kept");
    ss_error_clear(&err);
    CHECK(err.code == 0 && !err.msg[0], "cleared");

    char *text;
    size_t len;
    CHECK(ss_read_file("/nonexistent/x.yaml", &text, &len, &err) == -1 &&
          err.code == SS_EXIT_INPUT && strstr(err.msg, "/nonexistent/x.yaml"), "%s", err.msg);
    const char *p = ss_test_write_file("r.txt", "hello", 5);
    ss_error_clear(&err);
    CHECK(ss_read_file(p, &text, &len, &err) == 0 && len == 5 && !strcmp(text, "hello"), "read");
    free(text);
    ss_error_clear(&err);
    CHECK(ss_read_file(ss_test_tmpdir(), &text, &len, &err) == -1 && strstr(err.msg, "directory"),
          "a directory is refused: %s", err.msg);

    const char *cases[][2] = {{"a/b/c.yaml", "a/b"}, {"c.yaml", "."}, {"/c.yaml", "/"},
                              {"/x/y", "/x"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = ss_dirname(cases[i][0]);
        CHECK(!strcmp(d, cases[i][1]), "dirname(%s) = %s", cases[i][0], d);
        free(d);
    }
    char *cat = ss_str_concat("r.h5", ".log");
    CHECK(!strcmp(cat, "r.h5.log"), "concat: %s", cat);
    free(cat);
}

int main(void)
{
    test_rng();
    test_crc_and_errors();
    return ss_test_report();
}
