/*
 * fuzz_util.h - what the fuzz targets of tests/fuzz share (tests/fuzz/README.md).
 *
 * The parsers under test read files by path, so an input becomes a file without touching
 * the disk: a memfd, named /proc/self/fd/N, rewritten for every input. The targets check
 * the contracts of the code they drive and abort (a crash for the fuzzer) when one is
 * broken: a failure is SS_EXIT_INPUT (or SS_EXIT_RUNTIME where the contract allows it)
 * with a message that names the file, and a success is consistent.
 */
#ifndef SS_FUZZ_UTIL_H
#define SS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "specsweep/util.h"

/* Every target defines the memory rule it runs under (util.h, ss_memory_limit), so that
   its verdicts are the same on every machine; LLVMFuzzerInitialize (fuzz_util.c) sets it
   and then calls fuzz_setup if the target defines one. */
extern const size_t fuzz_memory_limit;
void fuzz_setup(void) __attribute__((weak));
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A memory-backed file for inputs, created on first use. */
typedef struct {
    int fd;          /* 0 until created */
    char path[64];   /* "/proc/self/fd/N" */
} fuzz_file_t;

/* Replace the contents of *f with data[0..n-1]; returns its path. */
const char *fuzz_file_set(fuzz_file_t *f, const void *data, size_t n);

/* Abort with a message when cond is false: the fuzzer records the input as a crash. */
#define FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* The failure contract of a loader or parser: code SS_EXIT_INPUT (or SS_EXIT_RUNTIME if
   runtime_ok) and a message that contains `name`. */
void fuzz_check_error(const ss_error_t *err, const char *name, int runtime_ok);

/* Bytes of an input taken in order; past the end every read gives 0. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_bytes_t;
uint8_t fuzz_u8(fuzz_bytes_t *b);
uint32_t fuzz_u32(fuzz_bytes_t *b);

#endif
