/* util.c - errors, checked allocation, random numbers, CRC, time. See util.h. */
#include "specsweep/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- errors ------------------------------------------------------------------------ */

void ss_error_set(ss_error_t *err, int code, const char *fmt, ...)
{
    if (!err || err->code)
        return; /* the first error is the cause; later ones are consequences */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
}

void ss_error_at(ss_error_t *err, int code, const char *file, int line, int col,
                 const char *fmt, ...)
{
    if (!err || err->code)
        return;
    int n = snprintf(err->msg, sizeof err->msg, "%s:%d:%d: ", file, line, col);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    err->code = code;
}

void ss_error_clear(ss_error_t *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}

/* ---- fatal errors and allocation ---------------------------------------------------- */

static ss_fatal_fn fatal_handler;

void ss_set_fatal_handler(ss_fatal_fn fn) { fatal_handler = fn; }

void ss_fatal(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("specsweep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    if (fatal_handler)
        fatal_handler(code);
    exit(code);
}

static void *check_alloc(void *p, size_t n, const char *file, int line)
{
    if (!p && n)
        ss_fatal(SS_EXIT_RUNTIME, "out of memory (%zu bytes) at %s:%d", n, file, line);
    return p;
}

void *ss_malloc_at(size_t n, const char *file, int line)
{
    return check_alloc(malloc(n ? n : 1), n, file, line);
}

void *ss_calloc_at(size_t k, size_t n, const char *file, int line)
{
    if (n && k > SIZE_MAX / n)
        ss_fatal(SS_EXIT_RUNTIME, "allocation size overflow at %s:%d", file, line);
    return check_alloc(calloc(k ? k : 1, n ? n : 1), k * n, file, line);
}

void *ss_realloc_at(void *p, size_t n, const char *file, int line)
{
    return check_alloc(realloc(p, n ? n : 1), n, file, line);
}

char *ss_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = ss_malloc(n);
    memcpy(d, s, n);
    return d;
}

void *ss_alloc_aligned(size_t n)
{
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    check_alloc(p, rounded, __FILE__, __LINE__);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

/* ---- random numbers: splitmix64 seeding, xoshiro256** -------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ss_rng_seed(ss_rng_t *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the stream into the seed through one splitmix round, so (seed, stream) pairs
       that differ in either give unrelated states. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&h);
    rng->has_spare = 0;
    rng->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ss_rng_next(ss_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ss_rng_uniform(ss_rng_t *rng)
{
    return (double)(ss_rng_next(rng) >> 11) * 0x1.0p-53;
}

double ss_rng_normal(ss_rng_t *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u, v, s;
    do { /* Marsaglia polar method: no trigonometry, exact on every platform */
        u = 2.0 * ss_rng_uniform(rng) - 1.0;
        v = 2.0 * ss_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    rng->spare = v * f;
    rng->has_spare = 1;
    return u * f;
}

/* Draws are rejected at or above limit = UINT64_MAX - UINT64_MAX % n (the biased tail).
   limit > UINT64_MAX - n, so a draw at or below that is accepted without computing
   limit: one division per call instead of two, the same draws. */
uint64_t ss_rng_below(ss_rng_t *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t r;
    for (;;) {
        r = ss_rng_next(rng);
        if (r <= UINT64_MAX - n || r < UINT64_MAX - UINT64_MAX % n)
            break;
    }
    return r % n;
}

void ss_rng_shuffle(ss_rng_t *rng, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ss_rng_below(rng, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

uint64_t ss_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint32_t ss_crc32(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

/* ---- time and files ------------------------------------------------------------------ */

double ss_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ss_utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ss_read_file(const char *path, char **text, size_t *len, ss_error_t *err)
{
    return ss_read_file_limited(path, SIZE_MAX - 2, 0, text, len, err);
}

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

int ss_open_regular(const char *path, off_t *size, ss_error_t *err)
{
    struct stat st;
    *size = 0;
    if (stat(path, &st) != 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not a regular file (%s): a data file must be "
                     "one", path, file_kind(st.st_mode));
        return -1;
    }
    /* O_NONBLOCK: should the path have become a FIFO since stat, open does not wait for
       a writer; fstat below then refuses it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not a regular file (%s): a data file must be "
                     "one", path, file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *size = st.st_size;
    return fd;
}

int ss_read_file_limited(const char *path, size_t max, unsigned flags, char **text,
                         size_t *len, ss_error_t *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    if (max > SIZE_MAX - 2)
        max = SIZE_MAX - 2;
    off_t size = -1;
    int fd;
    if (flags & SS_READ_REGULAR) {
        fd = ss_open_regular(path, &size, err);
        if (fd < 0)
            return -1;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        struct stat st;
        if (fstat(fd, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                close(fd);
                ss_error_set(err, SS_EXIT_INPUT, "%s: is a directory", path);
                return -1;
            }
            if (S_ISREG(st.st_mode))
                size = st.st_size;
        }
    }
    if (size >= 0 && (uint64_t)size > (uint64_t)max) {
        close(fd);
        return -2;
    }
    /* a regular file: its size + 1 for the NUL + 1 so that reading EOF needs no growth;
       a stream grows as it delivers, up to max + 2 */
    size_t cap = size > 0 ? (size_t)size + 2 : (size_t)1 << 16;
    if (cap > max + 2)
        cap = max + 2;
    char *buf = ss_malloc(cap);
    size_t n = 0;
    int rc = 0;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= max + 2) {
                rc = -2; /* max + 1 bytes read: larger than max */
                break;
            }
            cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
            buf = ss_realloc(buf, cap);
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: read error: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (rc == 0 && n > max)
        rc = -2;
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    if (len)
        *len = n;
    return 0;
}

/* ---- the memory rule ------------------------------------------------------------------ */

static size_t memory_limit_override;

size_t ss_memory_limit(void)
{
    if (memory_limit_override)
        return memory_limit_override;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t limit = SIZE_MAX;
    if (pages > 0 && page > 0 && (unsigned long)pages <= SIZE_MAX / (unsigned long)page)
        limit = (size_t)pages * (size_t)page;
    static const int which[] = {RLIMIT_AS, RLIMIT_DATA};
    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
        struct rlimit rl;
        if (getrlimit(which[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < limit)
            limit = (size_t)rl.rlim_cur;
    }
    return limit;
}

void ss_memory_limit_set(size_t bytes)
{
    memory_limit_override = bytes;
}

const char *ss_format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024.0) {
        snprintf(buf, size, "%.0f bytes", bytes);
        return buf;
    }
    int u = 0;
    bytes /= 1024.0;
    while (bytes >= 1024.0 && u < 5) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.1f %s", bytes, unit[u]);
    return buf;
}

/* A string with its position: sorted by text, then position. */
typedef struct {
    const char *s;
    int index;
} util_indexed_t;

static int util_indexed_order(const void *a, const void *b)
{
    const util_indexed_t *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

int ss_first_repeat(const char *const *s, int n, int *earlier)
{
    if (n < 2)
        return -1;
    util_indexed_t *v = ss_malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) {
        v[i].s = s[i];
        v[i].index = i;
    }
    qsort(v, (size_t)n, sizeof *v, util_indexed_order);
    int again = -1;
    for (int k = 1; k < n; k++)
        if (!strcmp(v[k].s, v[k - 1].s) && (again < 0 || v[k].index < again)) {
            again = v[k].index;   /* equal strings sort by position: v[k - 1] came first */
            *earlier = v[k - 1].index;
        }
    free(v);
    return again;
}

char *ss_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ss_strdup(".");
    if (slash == path)
        return ss_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = ss_malloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

char *ss_str_concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = ss_malloc(na + nb + 1);
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* ---- files ---------------------------------------------------------------------------- */

int ss_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e == EINVAL)
        rc = 0;
    errno = e;
    return rc;
}

int ss_mkdir_parent(const char *path, char *bad, size_t cap)
{
    char *dir = ss_dirname(path);
    int rc = 0, e = 0;
    for (char *q = dir + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char save = *q;
        *q = '\0';
        if (mkdir(dir, 0755) == 0) {
            char *up = ss_dirname(dir);
            ss_fsync_dir(up);
            free(up);
        } else {
            struct stat st;
            if (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                e = errno == EEXIST ? ENOTDIR : errno;
                snprintf(bad, cap, "%s", dir);
                rc = -1;
                break;
            }
        }
        *q = save;
        if (!save)
            break;
    }
    free(dir);
    errno = e;
    return rc;
}

int ss_write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t ss_read_full(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}
