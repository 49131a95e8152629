/* testutil.h - tiny test harness: every check counts; main returns the failure count. */
#ifndef SS_TESTUTIL_H
#define SS_TESTUTIL_H
#include <stdio.h>

extern int ss_test_passed, ss_test_failed;

#define CHECK(cond, ...) do { \
    if (cond) { ss_test_passed++; } \
    else { ss_test_failed++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* Print the closing "N passed, N failed" line; returns the exit status (0 = all passed). */
int ss_test_report(void);
/* Write `text` to a fresh file under a temporary directory; returns its path (static). */
const char *ss_test_write_file(const char *name, const void *data, size_t len);
/* A fresh temporary directory for this test process (created once). */
const char *ss_test_tmpdir(void);
#endif
