/*
 * util.h - errors, checked allocation, deterministic random numbers, CRC, time.
 *
 * Errors: library functions return 0 on success and -1 on failure; the details live
 * in an ss_error_t the caller passes in (never in a global). The message is complete
 * and user-facing: "FILE:LINE:COLUMN: what is wrong" where a position exists, else
 * "FILE: what is wrong". The code says which exit status the CLI should use.
 */
#ifndef SPECSWEEP_UTIL_H
#define SPECSWEEP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SS_VERSION "0.1.0"

/* Exit codes of the command line (README.md, "Using it"). */
enum {
    SS_EXIT_OK = 0,
    SS_EXIT_RUNTIME = 1, /* runtime failure (I/O error, allocation, MPI) */
    SS_EXIT_INPUT = 2,   /* bad usage or bad input; nothing was written */
    SS_EXIT_STOPPED = 3  /* stopped by a signal with work left; resumable */
};

typedef struct {
    int code;       /* one of SS_EXIT_*; 0 while no error was set */
    char msg[1024]; /* complete user-facing message, no trailing newline */
} ss_error_t;

/* Record an error (printf-style). Keeps the first error if one is already set. */
void ss_error_set(ss_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, prefixed "FILE:LINE:COLUMN: " (line and column 1-based). */
void ss_error_at(ss_error_t *err, int code, const char *file, int line, int col,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void ss_error_clear(ss_error_t *err);

/*
 * Allocation that cannot fail silently: on failure prints "specsweep: out of memory
 * (N bytes) at FILE:LINE" and calls the fatal handler (default: exit(1); the MPI
 * engine installs one that aborts the whole job). Memory is zeroed for ss_calloc.
 */
#define ss_malloc(n) ss_malloc_at((n), __FILE__, __LINE__)
#define ss_calloc(k, n) ss_calloc_at((k), (n), __FILE__, __LINE__)
#define ss_realloc(p, n) ss_realloc_at((p), (n), __FILE__, __LINE__)
void *ss_malloc_at(size_t n, const char *file, int line);
void *ss_calloc_at(size_t k, size_t n, const char *file, int line);
void *ss_realloc_at(void *p, size_t n, const char *file, int line);
char *ss_strdup(const char *s);
/* 64-byte aligned allocation for numeric buffers; free with free(). Zeroed. */
void *ss_alloc_aligned(size_t n);

typedef void (*ss_fatal_fn)(int code);
/* Install the handler called after a fatal message was printed. NULL restores exit(). */
void ss_set_fatal_handler(ss_fatal_fn fn);
/* Print "specsweep: <msg>" to stderr and call the fatal handler; never returns. */
void ss_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/*
 * Deterministic random numbers: xoshiro256** seeded by splitmix64 from (seed, stream).
 * Identical sequences on every platform; different streams are independent.
 */
typedef struct {
    uint64_t s[4];
    int has_spare;   /* Box-Muller keeps its second value */
    double spare;
} ss_rng_t;

void ss_rng_seed(ss_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t ss_rng_next(ss_rng_t *rng);
double ss_rng_uniform(ss_rng_t *rng);               /* [0, 1) with 53 random bits */
double ss_rng_normal(ss_rng_t *rng);                /* standard normal */
uint64_t ss_rng_below(ss_rng_t *rng, uint64_t n);   /* uniform in [0, n), unbiased */
void ss_rng_shuffle(ss_rng_t *rng, uint32_t *a, size_t n); /* Fisher-Yates */

/* Stream ids, so every consumer of randomness draws from its own sequence. */
enum {
    SS_STREAM_DATA = 1,     /* synthetic data generation (seeded by data_seed) */
    SS_STREAM_SPLIT = 2,    /* train/test and validation splits */
    SS_STREAM_INIT = 3,     /* parameter initialisation (seeded by run seed) */
    SS_STREAM_SHUFFLE = 4,  /* minibatch order */
    SS_STREAM_DROPOUT = 5,  /* dropout masks (+ group rank) */
    SS_STREAM_RANDOMK = 6,  /* random-k baseline input choice */
    SS_STREAM_INIT_LAMBDA = 16, /* eigenvalues drawn from a range (init.lambda_in/out) */
    SS_STREAM_SUBSET = 17,  /* the trainable subset of dense weights (run seed) */
    SS_STREAM_RETRAIN = 18  /* the random inputs of a retraining run (its seed and id) */
};

/* 64-bit FNV-1a of a string: used to mix names into seeds. */
uint64_t ss_hash_str(const char *s);
/* CRC-32 (zlib polynomial) of a buffer, continuing from crc (start with 0). */
uint32_t ss_crc32(uint32_t crc, const void *buf, size_t n);

/* Monotonic wall time in seconds. */
double ss_now(void);
/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void ss_utc_now(char out[32]);

/* Read a whole file into one NUL-terminated buffer (caller frees); *len (may be NULL)
   gets its length. -1 + err (SS_EXIT_INPUT, naming the file) on failure. */
int ss_read_file(const char *path, char **text, size_t *len, ss_error_t *err);
/* Flags of ss_read_file_limited. */
enum {
    SS_READ_REGULAR = 1 /* refuse anything but a regular file, before reading (no FIFO,
                           device or directory: see ss_open_regular) */
};
/* ss_read_file for at most `max` bytes: a regular file larger than max is refused before
   anything is read, and any other file (a pipe) after max + 1 bytes, so neither a huge
   file nor /dev/zero costs more than max + 2 bytes of memory. Returns 0; -1 with err set
   (SS_EXIT_INPUT naming the file); or -2 when the file is larger than max, with err left
   alone for the caller to say why that is too large. */
int ss_read_file_limited(const char *path, size_t max, unsigned flags, char **text,
                         size_t *len, ss_error_t *err);
/* Open a data file for reading: it must be a regular file. A FIFO, a device, a socket or
   a directory is refused at once (never opened for blocking, never read), since none has
   a size to check a header against and a FIFO without a writer would block forever.
   Returns the descriptor (close-on-exec, blocking) with *size the file's length, or -1
   with err set (SS_EXIT_INPUT: "FILE: cannot open: ..." or "FILE: not a regular file
   (a FIFO)"). */
int ss_open_regular(const char *path, off_t *size, ss_error_t *err);

/*
 * The memory rule: a size that a file or a sweep file claims (rows x inputs of a data
 * file, the samples of a generator) is refused before anything is allocated when the
 * arrays it needs would exceed ss_memory_limit(): the machine's physical memory
 * (sysconf(_SC_PHYS_PAGES) x page size), or the process's RLIMIT_AS / RLIMIT_DATA if
 * lower. Such a size could never be loaded on this machine; refusing it names the file
 * instead of ending in "out of memory" or the kernel's OOM killer.
 */
size_t ss_memory_limit(void);
/* Replace the limit (tests and fuzzing, to exercise the rule with small files); 0 goes
   back to the machine's. */
void ss_memory_limit_set(size_t bytes);
/* A byte count for messages: "512 bytes", "1.5 KiB", "23.4 GiB", "1.6 TiB", into buf. */
const char *ss_format_bytes(double bytes, char *buf, size_t size);
/* The first of the strings s[0..n-1] (in their order) equal to an earlier one: returns its
   index, with *earlier the index of the first string it repeats; -1 when all differ.
   Sorts a copy, so that long lists (CSV headers, sweep axes) cost n log n. */
int ss_first_repeat(const char *const *s, int n, int *earlier);
/* The directory part of a path, malloc'd: "." when there is no '/', "/" for "/x". */
char *ss_dirname(const char *path);
/* a followed by b, malloc'd. */
char *ss_str_concat(const char *a, const char *b);

/* ---- files: what durable writes need (POSIX) ---------------------------------------- */

/* fsync a directory so that entries created or renamed in it survive a crash. File
   systems that cannot sync directories (EINVAL) have nothing to flush: 0. -1 + errno. */
int ss_fsync_dir(const char *dir);
/* mkdir -p of the directory holding `path`. New directories are fsync'd into their
   parents, so a file created inside them is reachable after a crash. On failure returns
   -1 with errno set and the directory that could not be created in bad[cap]. */
int ss_mkdir_parent(const char *path, char *bad, size_t cap);
/* write(2) all of buf, across partial writes and EINTR: 0, or -1 + errno. */
int ss_write_all(int fd, const void *buf, size_t n);
/* read(2) up to n bytes across EINTR; returns the count (short only at end of file) or
   -1 + errno. */
ssize_t ss_read_full(int fd, void *buf, size_t n);

#endif
