#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ss_test_passed, ss_test_failed;

int ss_test_report(void)
{
    printf("%d passed, %d failed\n", ss_test_passed, ss_test_failed);
    return ss_test_failed ? 1 : 0;
}

const char *ss_test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/specsweep-test-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

const char *ss_test_write_file(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", ss_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) { perror(path); exit(1); }
    fclose(f);
    return path;
}
