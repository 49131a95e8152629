/* fuzz_util.c - see fuzz_util.h. */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ss_memory_limit_set(fuzz_memory_limit);
    if (fuzz_setup)
        fuzz_setup();
    return 0;
}

const char *fuzz_file_set(fuzz_file_t *f, const void *data, size_t n)
{
    if (f->fd <= 0) {
        f->fd = memfd_create("specsweep-fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(f->fd > 0, "memfd_create failed");
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    }
    FUZZ_CHECK(ftruncate(f->fd, 0) == 0, "ftruncate failed");
    FUZZ_CHECK(n == 0 || pwrite(f->fd, data, n, 0) == (ssize_t)n, "pwrite failed");
    return f->path;
}

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz contract broken at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void fuzz_check_error(const ss_error_t *err, const char *name, int runtime_ok)
{
    FUZZ_CHECK(err->code == SS_EXIT_INPUT || (runtime_ok && err->code == SS_EXIT_RUNTIME),
               "failure with code %d: %s", err->code, err->msg);
    FUZZ_CHECK(strstr(err->msg, name) != NULL, "message does not name %s: %s", name, err->msg);
}

uint8_t fuzz_u8(fuzz_bytes_t *b)
{
    if (!b->n)
        return 0;
    b->n--;
    return *b->p++;
}

uint32_t fuzz_u32(fuzz_bytes_t *b)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fuzz_u8(b);
    return v;
}
