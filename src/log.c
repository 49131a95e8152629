/* log.c - the commit log, its contents in memory, the writer lock. See
   include/specsweep/log.h. */
#include "specsweep/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAGIC "SSLOG001"
#define LOG_MAGIC_LEN 8
#define REC_MAGIC 0x53535243u /* "SSRC" */
#define REC_HEAD 16           /* magic, type, length */
#define REC_TAIL 4            /* CRC */

enum { REC_HEADER = 1, REC_DATASET = 2, REC_RESULT = 3 };

/* ---- log contents ------------------------------------------------------------------ */

/* The run index is a hash table over results[]: run_index[h] = result index + 1, 0 =
   empty, open addressing. It always covers every result (put keeps it so), which lets
   lookups run on const contents. */
static int *index_slot(int *table, int cap, const ss_result_t *results, const char *id)
{
    size_t mask = (size_t)cap - 1, h = (size_t)ss_hash_str(id) & mask;
    while (table[h] && strcmp(results[table[h] - 1].run_id, id) != 0)
        h = (h + 1) & mask;
    return &table[h];
}

static void index_rebuild(ss_log_contents_t *c)
{
    int cap = 64;
    while (cap < 2 * (c->n_results + 1))
        cap *= 2;
    free(c->run_index);
    c->run_index = ss_calloc((size_t)cap, sizeof *c->run_index);
    c->run_index_cap = cap;
    for (int i = 0; i < c->n_results; i++) {
        int *slot = index_slot(c->run_index, cap, c->results, c->results[i].run_id);
        if (!*slot)
            *slot = i + 1;
    }
}

/* Index of run_id's result, or -1. */
static int contents_find(const ss_log_contents_t *c, const char *run_id)
{
    if (!c->run_index)
        return -1;
    return *index_slot(c->run_index, c->run_index_cap, c->results, run_id) - 1;
}

/* Take ownership of *r (which is zeroed); a result with the same run id is replaced.
   `offset`: its record's place in the log, or -1 if it has none; a lean contents keeps
   only the scalars of a result that has one. */
static void contents_put_result(ss_log_contents_t *c, ss_result_t *r, long offset)
{
    if (c->lean && offset >= 0)
        ss_result_drop_arrays(r);
    int i = contents_find(c, r->run_id);
    if (i >= 0) {
        ss_result_free(&c->results[i]);
        c->results[i] = *r;
        c->offsets[i] = offset;
    } else {
        if (c->results_cap < c->n_results + 1) {
            int cap = c->results_cap > 0 ? c->results_cap : 16;
            while (cap < c->n_results + 1)
                cap *= 2;
            c->results = ss_realloc(c->results, (size_t)cap * sizeof *c->results);
            c->offsets = ss_realloc(c->offsets, (size_t)cap * sizeof *c->offsets);
            c->results_cap = cap;
        }
        c->offsets[c->n_results] = offset;
        c->results[c->n_results++] = *r;
        if (2 * (c->n_results + 1) > c->run_index_cap) {
            index_rebuild(c);
        } else {
            *index_slot(c->run_index, c->run_index_cap, c->results, r->run_id) = c->n_results;
        }
    }
    memset(r, 0, sizeof *r);
}

static void contents_put_dataset(ss_log_contents_t *c, ss_dataset_info_t *ds)
{
    for (int i = 0; i < c->n_datasets; i++)
        if (!strcmp(c->datasets[i].name, ds->name)) {
            ss_dataset_info_free(&c->datasets[i]);
            c->datasets[i] = *ds;
            memset(ds, 0, sizeof *ds);
            return;
        }
    if (c->datasets_cap < c->n_datasets + 1) {
        int cap = c->datasets_cap > 0 ? 2 * c->datasets_cap : 8;
        if (cap < c->n_datasets + 1)
            cap = c->n_datasets + 1;
        c->datasets = ss_realloc(c->datasets, (size_t)cap * sizeof *c->datasets);
        c->datasets_cap = cap;
    }
    c->datasets[c->n_datasets++] = *ds;
    memset(ds, 0, sizeof *ds);
}

void ss_log_contents_add_result(ss_log_contents_t *c, const ss_result_t *r)
{
    ss_result_t copy;
    ss_result_copy(&copy, r);
    contents_put_result(c, &copy, -1);
}

void ss_log_contents_add_committed(ss_log_contents_t *c, const ss_result_t *r, long offset)
{
    ss_result_t copy;
    ss_result_copy(&copy, r);
    contents_put_result(c, &copy, offset);
}

void ss_log_contents_set_header(ss_log_contents_t *c, const ss_log_header_t *h)
{
    char *yaml = ss_strdup(h->yaml_text ? h->yaml_text : "");
    free(c->header.yaml_text);
    c->header = *h;
    c->header.yaml_text = yaml;
    c->has_header = 1;
}

void ss_log_contents_add_dataset(ss_log_contents_t *c, const ss_dataset_info_t *ds)
{
    ss_dataset_info_t m;
    ss_dataset_info_copy(&m, ds);
    contents_put_dataset(c, &m);
}

const ss_result_t *ss_log_contents_find(const ss_log_contents_t *c, const char *run_id)
{
    int i = contents_find(c, run_id);
    return i >= 0 ? &c->results[i] : NULL;
}

const ss_dataset_info_t *ss_log_contents_find_dataset(const ss_log_contents_t *c,
                                                      const char *name)
{
    for (int i = 0; i < c->n_datasets; i++)
        if (!strcmp(c->datasets[i].name, name))
            return &c->datasets[i];
    return NULL;
}

void ss_log_contents_clone(ss_log_contents_t *dst, const ss_log_contents_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->lean = src->lean;
    dst->path = src->path ? ss_strdup(src->path) : NULL;
    if (src->has_header)
        ss_log_contents_set_header(dst, &src->header);
    for (int i = 0; i < src->n_datasets; i++)
        ss_log_contents_add_dataset(dst, &src->datasets[i]);
    for (int i = 0; i < src->n_results; i++) {
        ss_result_t copy;
        ss_result_copy(&copy, &src->results[i]); /* lean: no arrays to copy */
        contents_put_result(dst, &copy, src->offsets[i]);
    }
    dst->valid_bytes = src->valid_bytes;
}

void ss_log_contents_free(ss_log_contents_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_results; i++)
        ss_result_free(&c->results[i]);
    for (int i = 0; i < c->n_datasets; i++)
        ss_dataset_info_free(&c->datasets[i]);
    free(c->results);
    free(c->datasets);
    free(c->header.yaml_text);
    free(c->run_index);
    free(c->damage);
    free(c->offsets);
    free(c->path);
    if (c->fd > 0)
        close(c->fd);
    memset(c, 0, sizeof *c);
}

/* ---- reading the log --------------------------------------------------------------- */

/* The task of a result record written before results carried one: its dataset's (the
   dataset record always precedes the runs of a log); without one, the convention of
   those records, a NaN accuracy for a finished regression run. */
static ss_task_t legacy_task(const ss_log_contents_t *c, const ss_result_t *r)
{
    const ss_dataset_info_t *ds = ss_log_contents_find_dataset(c, r->dataset);
    if (ds)
        return ds->task;
    return r->status == SS_STATUS_OK && isnan(r->test_accuracy) ? SS_TASK_REGRESSION
                                                               : SS_TASK_CLASSIFICATION;
}

/* Decode one intact record of `type` and add it to c. Returns the decoder's code: 0,
   -1 (corrupt), -2 (newer format). Types this build does not know are skipped (0). */
static int contents_apply(ss_log_contents_t *c, uint32_t type, const unsigned char *payload,
                          size_t len, long offset, ss_error_t *err)
{
    int rc = 0;
    if (type == REC_HEADER) {
        ss_log_header_t h;
        rc = ss_record_decode_header(payload, len, &h, err);
        if (rc == 0) {
            ss_log_contents_set_header(c, &h);
            free(h.yaml_text);
        }
    } else if (type == REC_DATASET) {
        ss_dataset_info_t ds;
        rc = ss_record_decode_dataset(payload, len, &ds, err);
        if (rc == 0)
            contents_put_dataset(c, &ds);
    } else if (type == REC_RESULT) {
        ss_result_t r;
        unsigned absent = 0;
        rc = ss_record_decode_result(payload, len, &r, &absent, err);
        if (rc == 0) {
            if (absent & SS_RESULT_BIT(task)) {
                r.task = legacy_task(c, &r);
                r.absent &= ~SS_RESULT_BIT(task);
            }
            contents_put_result(c, &r, offset);
        }
    }
    return rc;
}

/* Read the record at `off` of a file of `size` bytes into *buf (grown as needed).
   Returns its total length (head + payload + CRC) if an intact record starts there (the
   record magic, a length inside the file and a matching CRC), 0 if none does, -1 on a
   read error (errno). *type and *plen describe it. */
static long record_at(int fd, off_t off, off_t size, unsigned char **buf, size_t *cap,
                      uint32_t *type, size_t *plen)
{
    unsigned char head[REC_HEAD];
    if (size - off < REC_HEAD + REC_TAIL)
        return 0;
    ssize_t got = pread(fd, head, REC_HEAD, off);
    if (got < 0)
        return -1;
    if (got < REC_HEAD || ss_get_u32(head) != REC_MAGIC)
        return 0;
    uint64_t n = ss_get_u64(head + 8);
    if (n > (uint64_t)(size - off) - REC_HEAD - REC_TAIL)
        return 0; /* the length runs past the end of the file */
    size_t need = (size_t)n + REC_TAIL;
    if (*cap < need) {
        *buf = ss_realloc(*buf, need);
        *cap = need;
    }
    got = pread(fd, *buf, need, off + REC_HEAD);
    if (got < 0)
        return -1;
    if ((size_t)got < need)
        return 0;
    uint32_t crc = ss_crc32(ss_crc32(0, head + 4, REC_HEAD - 4), *buf, (size_t)n);
    if (crc != ss_get_u32(*buf + n))
        return 0;
    *type = ss_get_u32(head + 4);
    *plen = (size_t)n;
    return (long)(REC_HEAD + need);
}

/* The offset of the first intact record after `from`, or -1 if there is none (-2 on a
   read error, -3 when *budget runs out). A record is found again by its magic and
   confirmed by its CRC: a chance match inside damaged bytes would also need the right
   length and CRC-32. Every candidate costs the CRC of the length it claims; *budget
   bounds those bytes, so that a file full of false magics (a hostile one) cannot make
   the scan quadratic in its size. */
static off_t next_record(int fd, off_t from, off_t size, unsigned char **buf, size_t *cap,
                         long *budget)
{
    enum { CHUNK = 1 << 16 };
    unsigned char *chunk = ss_malloc(CHUNK + 3);
    off_t found = -1;
    for (off_t base = from; base < size && found == -1; base += CHUNK) {
        ssize_t got = pread(fd, chunk, CHUNK + 3, base);
        if (got < 0) {
            found = -2;
            break;
        }
        for (ssize_t i = 0; i + 4 <= got && i < CHUNK; i++) {
            if (ss_get_u32(chunk + i) != REC_MAGIC)
                continue;
            unsigned char head[REC_HEAD];
            if (pread(fd, head, REC_HEAD, base + i) == REC_HEAD) {
                uint64_t claimed = ss_get_u64(head + 8);
                if (claimed < (uint64_t)(size - base - i)) { /* else record_at refuses it */
                    if ((long)claimed > *budget) {
                        found = -3;
                        break;
                    }
                    *budget -= (long)claimed;
                }
            }
            uint32_t type;
            size_t plen;
            long len = record_at(fd, base + i, size, buf, cap, &type, &plen);
            if (len < 0) {
                found = -2;
                break;
            }
            if (len > 0) {
                found = base + i;
                break;
            }
        }
    }
    free(chunk);
    return found;
}

/* Note the damaged bytes [start, end) of the log. */
static void add_damage(ss_log_contents_t *c, long start, long end)
{
    c->damage = ss_realloc(c->damage, (size_t)(c->n_damage + 1) * sizeof *c->damage);
    c->damage[c->n_damage].start = start;
    c->damage[c->n_damage].end = end;
    c->damage[c->n_damage].intact_after = 0;
    c->n_damage++;
}

/* Records from `off` to the end: intact ones into c, damaged bytes into c->damage. */
static int read_records(int fd, off_t off, off_t size, ss_log_contents_t *c,
                        const char *log_path, ss_error_t *err)
{
    unsigned char *payload = NULL;
    size_t cap = 0;
    int rc = 0;
    long budget = 8 * (long)size + (1L << 20); /* resynchronisation work, next_record */
    while (off < size) {
        uint32_t type = 0;
        size_t plen = 0;
        long len = record_at(fd, off, size, &payload, &cap, &type, &plen);
        if (len < 0)
            goto io_error;
        if (len > 0) {
            ss_error_t derr = {0};
            int drc = contents_apply(c, type, payload, plen, (long)off, &derr);
            if (drc == -2) {
                ss_error_set(err, SS_EXIT_INPUT, "%s: %s", log_path, derr.msg);
                rc = -1;
                break;
            }
            if (drc == 0) {
                for (int k = 0; k < c->n_damage; k++)
                    if (c->damage[k].intact_after >= 0)
                        c->damage[k].intact_after++;
                off += len;
                c->valid_bytes = (long)off;
                continue;
            }
            add_damage(c, (long)off, (long)(off + len)); /* intact bytes that do not decode */
            off += len;
            continue;
        }
        off_t next = next_record(fd, off + 1, size, &payload, &cap, &budget);
        if (next == -2)
            goto io_error;
        add_damage(c, (long)off, (long)(next >= 0 ? next : size));
        if (next == -3) { /* what follows is unknown: never taken for a torn tail */
            c->damage[c->n_damage - 1].intact_after = -1;
            break;
        }
        if (next < 0)
            break;
        off = next;
    }
    free(payload);
    /* Damage with nothing intact after it is a torn tail (a crash during an append): it
       is no damage, and it is cut away when the log is next opened for appending. */
    while (c->n_damage > 0 && c->damage[c->n_damage - 1].intact_after == 0) {
        c->n_damage--;
        c->torn = 1;
    }
    return rc;

io_error:
    free(payload);
    ss_error_set(err, SS_EXIT_RUNTIME, "%s: read error: %s", log_path, strerror(errno));
    return -1;
}

static int log_read(const char *log_path, ss_log_contents_t *c, int lean, ss_error_t *err)
{
    memset(c, 0, sizeof *c);
    c->lean = lean;
    if (lean)
        c->path = ss_strdup(log_path);
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open: %s", log_path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s", log_path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results log (not a regular file)",
                     log_path);
        close(fd);
        return -1;
    }
    off_t size = st.st_size;
    unsigned char magic[LOG_MAGIC_LEN];
    ssize_t got = ss_read_full(fd, magic, LOG_MAGIC_LEN);
    if (got < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: read error: %s", log_path, strerror(errno));
        close(fd);
        return -1;
    }
    if (memcmp(magic, LOG_MAGIC, (size_t)got) != 0 ||
        (got < LOG_MAGIC_LEN && size > got)) {
        if (got == LOG_MAGIC_LEN && !memcmp(magic, LOG_MAGIC, 5))
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s: not a specsweep results log of this version (log format %.3s, "
                         "this specsweep reads %s)", log_path, (const char *)magic + 5,
                         &LOG_MAGIC[5]);
        else
            ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results log", log_path);
        close(fd);
        return -1;
    }
    if (got < LOG_MAGIC_LEN) { /* empty, or a crash while the magic was written */
        c->torn = got > 0;
        close(fd);
        return 0;
    }
    c->valid_bytes = LOG_MAGIC_LEN;
    int rc = read_records(fd, LOG_MAGIC_LEN, size, c, log_path, err);
    if (c->valid_bytes < size && c->n_damage == 0)
        c->torn = 1;
    close(fd);
    return rc;
}

int ss_log_read(const char *log_path, ss_log_contents_t *c, ss_error_t *err)
{
    return log_read(log_path, c, 0, err);
}

int ss_log_read_lean(const char *log_path, ss_log_contents_t *c, ss_error_t *err)
{
    return log_read(log_path, c, 1, err);
}

int ss_log_contents_load(ss_log_contents_t *c, int i, ss_result_t *out, ss_error_t *err)
{
    const ss_result_t *r = &c->results[i];
    if (!c->lean || c->offsets[i] < 0) {
        ss_result_copy(out, r);
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (c->fd <= 0 && (c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0) {
        c->fd = 0;
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open: %s", c->path, strerror(errno));
        return -1;
    }
    struct stat st;
    unsigned char *payload = NULL;
    size_t cap = 0, plen = 0;
    uint32_t type = 0;
    long len = fstat(c->fd, &st) == 0
                   ? record_at(c->fd, (off_t)c->offsets[i], st.st_size, &payload, &cap, &type,
                               &plen)
                   : -1;
    int rc = -1;
    if (len > 0 && type == REC_RESULT &&
        ss_record_decode_result(payload, plen, out, NULL, err) == 0) {
        if (strcmp(out->run_id, r->run_id) == 0) {
            out->task = r->task; /* a legacy record's task came from its dataset */
            rc = 0;
        } else {
            ss_result_free(out);
        }
    }
    free(payload);
    if (rc != 0)
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: the record of run %s at byte offset %ld "
                     "cannot be read back (the log changed while specsweep held it?)",
                     c->path, r->run_id, c->offsets[i]);
    return rc;
}

void ss_log_damage_describe(const ss_log_contents_t *c, const char *log_path, char *buf,
                            size_t cap)
{
    if (c->n_damage == 0) {
        snprintf(buf, cap, "%s: no damage", log_path);
        return;
    }
    const ss_log_damage_t *d = &c->damage[0];
    if (d->intact_after < 0) {
        snprintf(buf, cap, "%s is damaged from byte offset %ld on in a way too costly to scan "
                 "for intact records (a file full of false record marks)", log_path, d->start);
        return;
    }
    long bytes = 0;
    for (int k = 0; k < c->n_damage; k++)
        bytes += c->damage[k].end - c->damage[k].start;
    if (c->n_damage == 1)
        snprintf(buf, cap, "%s is damaged: %ld bytes at byte offset %ld do not read as "
                 "records, and %d intact record%s follow%s them", log_path, bytes, d->start,
                 d->intact_after, d->intact_after == 1 ? "" : "s",
                 d->intact_after == 1 ? "s" : "");
    else
        snprintf(buf, cap, "%s is damaged: %d damaged regions (%ld bytes), the first at byte "
                 "offset %ld, and %d intact record%s follow%s it", log_path, c->n_damage,
                 bytes, d->start, d->intact_after, d->intact_after == 1 ? "" : "s",
                 d->intact_after == 1 ? "s" : "");
}

/* ---- salvage ---------------------------------------------------------------------------- */

/* Copy bytes [start, end) of fd to out: 0, or -1 + errno. */
static int copy_range(int fd, off_t start, off_t end, int out)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = ss_malloc(CHUNK);
    int rc = 0;
    for (off_t o = start; o < end && rc == 0;) {
        size_t n = end - o < CHUNK ? (size_t)(end - o) : CHUNK;
        ssize_t got = pread(fd, buf, n, o);
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            rc = -1;
        } else if (ss_write_all(out, buf, (size_t)got) != 0) {
            rc = -1;
        } else {
            o += got;
        }
    }
    free(buf);
    return rc;
}

/* Create "<log_path>.damaged.<n>" for the first n not taken; its name into *name. */
static int create_damaged_file(const char *log_path, char **name)
{
    for (int n = 0; n < 100000; n++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".damaged.%d", n);
        *name = ss_str_concat(log_path, suffix);
        int fd = open(*name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
        free(*name);
        *name = NULL;
    }
    errno = EEXIST;
    return -1;
}

int ss_log_salvage(const char *log_path, ss_log_contents_t *c, char **moved_to,
                   ss_error_t *err)
{
    *moved_to = NULL;
    char *tmp = ss_str_concat(log_path, ".salvage"), *dir = ss_dirname(log_path);
    const char *step = NULL;
    int fd = -1, dmg = -1, out = -1, rc = -1;
    if ((fd = open(log_path, O_RDONLY | O_CLOEXEC)) < 0) {
        step = "opening the log";
        goto done;
    }
    if ((dmg = create_damaged_file(log_path, moved_to)) < 0) {
        step = "creating the file for the damaged bytes";
        goto done;
    }
    for (int k = 0; k < c->n_damage && !step; k++)
        if (copy_range(fd, c->damage[k].start, c->damage[k].end, dmg) != 0)
            step = "copying the damaged bytes";
    if (!step && fsync(dmg) != 0)
        step = "fsync of the damaged bytes";
    if (step)
        goto done;
    /* the log again, without the damage (and without a torn tail) */
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        step = "creating the rewritten log";
        goto done;
    }
    off_t from = LOG_MAGIC_LEN;
    if (ss_write_all(out, LOG_MAGIC, LOG_MAGIC_LEN) != 0)
        step = "writing the rewritten log";
    for (int k = 0; k <= c->n_damage && !step; k++) {
        off_t to = k < c->n_damage ? c->damage[k].start : c->valid_bytes;
        if (to > from && copy_range(fd, from, to, out) != 0)
            step = "writing the rewritten log";
        if (k < c->n_damage)
            from = c->damage[k].end;
    }
    if (!step && fsync(out) != 0)
        step = "fsync of the rewritten log";
    if (!step && rename(tmp, log_path) != 0)
        step = "renaming the rewritten log over the old one";
    if (!step && ss_fsync_dir(dir) != 0)
        step = "fsync of the log's directory";
    if (!step) {
        int lean = c->lean;
        ss_log_contents_free(c);
        rc = log_read(log_path, c, lean, err);
    }

done:
    if (step) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot salvage the log: %s failed: %s",
                     log_path, step, strerror(errno));
        if (out >= 0)
            unlink(tmp);
    }
    if (fd >= 0)
        close(fd);
    if (dmg >= 0)
        close(dmg);
    if (out >= 0)
        close(out);
    free(tmp);
    free(dir);
    return rc;
}

/* ---- appending to the log ---------------------------------------------------------- */

int ss_log_open(ss_log_t *log, const char *log_path, long valid_bytes, ss_error_t *err)
{
    log->fd = -1;
    log->path = NULL;
    log->size = 0;
    if (valid_bytes < LOG_MAGIC_LEN)
        valid_bytes = 0; /* at most a partial magic: start the file over */
    char bad[4096];
    if (ss_mkdir_parent(log_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot create directory %s: %s", log_path,
                     bad, strerror(errno));
        return -1;
    }

    int created = 1;
    int fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open(log_path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
    if (fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open for appending: %s", log_path,
                     strerror(errno));
        return -1;
    }
    const char *step = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        step = "stat";
        goto fail;
    }
    if (st.st_size > 0) { /* never truncate a file that is not ours */
        unsigned char magic[LOG_MAGIC_LEN];
        size_t n = st.st_size < LOG_MAGIC_LEN ? (size_t)st.st_size : LOG_MAGIC_LEN;
        ssize_t got = pread(fd, magic, n, 0);
        if (got < 0) {
            step = "read";
            goto fail;
        }
        if ((size_t)got != n || memcmp(magic, LOG_MAGIC, n) != 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: not a specsweep results log", log_path);
            close(fd);
            return -1;
        }
    }
    if (st.st_size < valid_bytes) {
        ss_error_set(err, SS_EXIT_RUNTIME,
                     "%s: the log is shorter (%lld bytes) than when it was read (%ld bytes); "
                     "is another process changing it?",
                     log_path, (long long)st.st_size, valid_bytes);
        close(fd);
        return -1;
    }
    if (st.st_size > valid_bytes) {
        if (ftruncate(fd, valid_bytes) != 0) {
            step = "truncating the torn tail";
            goto fail;
        }
        if (fsync(fd) != 0) {
            step = "fsync";
            goto fail;
        }
    }
    if (valid_bytes == 0) {
        if (ss_write_all(fd, LOG_MAGIC, LOG_MAGIC_LEN) != 0) {
            step = "write";
            goto fail;
        }
        if (fsync(fd) != 0) {
            step = "fsync";
            goto fail;
        }
        valid_bytes = LOG_MAGIC_LEN;
    }
    if (created) {
        char *dir = ss_dirname(log_path);
        int rc = ss_fsync_dir(dir);
        free(dir);
        if (rc != 0) {
            step = "fsync of its directory";
            goto fail;
        }
    }
    log->fd = fd;
    log->path = ss_strdup(log_path);
    log->size = valid_bytes;
    return 0;

fail:
    ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s failed: %s", log_path, step, strerror(errno));
    close(fd);
    return -1;
}

void ss_log_close(ss_log_t *log)
{
    if (!log || !log->path)
        return;
    if (log->fd >= 0)
        close(log->fd);
    free(log->path);
    log->fd = -1;
    log->path = NULL;
    log->size = 0;
}

/* Decode a payload of record type `type` as ss_log_read would; 0 if it decodes. */
static int record_decodes(uint32_t type, const unsigned char *payload, size_t len,
                          ss_error_t *err)
{
    ss_log_contents_t scratch;
    memset(&scratch, 0, sizeof scratch);
    int rc = contents_apply(&scratch, type, payload, len, -1, err);
    ss_log_contents_free(&scratch);
    return rc;
}

/* Frame the payload in b (built with a REC_HEAD prefix), write it with one write and
   fsync. Consumes b. A record is decoded before it is written: one that the reader would
   reject would end the log there and hide every later record. */
static int log_append(ss_log_t *log, uint32_t type, ss_payload_t *b, ss_error_t *err)
{
    ss_payload_end(b);
    size_t plen = b->len - REC_HEAD;
    ss_error_t derr = {0};
    if (record_decodes(type, b->p + REC_HEAD, plen, &derr) != 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: refusing to commit a record that would not "
                     "read back (%s)", log && log->path ? log->path : "results log", derr.msg);
        free(b->p);
        return -1;
    }
    ss_put_u32(b->p, REC_MAGIC);
    ss_put_u32(b->p + 4, type);
    ss_put_u64(b->p + 8, plen);
    uint32_t crc = ss_crc32(0, b->p + 4, REC_HEAD - 4 + plen);
    ss_put_u32(ss_payload_grow(b, REC_TAIL), crc);

    int rc = 0;
    const char *step = NULL;
    if (!log || !log->path || log->fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "results log is not open");
        rc = -1;
    } else if (ss_write_all(log->fd, b->p, b->len) != 0) {
        step = "write";
    } else if (fsync(log->fd) != 0) {
        step = "fsync";
    } else {
        log->size += (long)b->len;
    }
    if (step) {
        int e = errno;
        /* Cut back what reached the file, so a later record does not follow a torn one
           (which would hide it from every reader). */
        if (ftruncate(log->fd, log->size) != 0)
            ss_error_set(err, SS_EXIT_RUNTIME,
                         "%s: %s failed: %s; cutting back the partial record failed too: %s",
                         log->path, step, strerror(e), strerror(errno));
        else
            ss_error_set(err, SS_EXIT_RUNTIME, "%s: %s failed: %s", log->path, step,
                         strerror(e));
        rc = -1;
    }
    free(b->p);
    return rc;
}

int ss_log_append_header(ss_log_t *log, const ss_log_header_t *h, ss_error_t *err)
{
    ss_payload_t b;
    ss_payload_begin(&b, REC_HEAD);
    ss_record_encode_header(&b, h);
    return log_append(log, REC_HEADER, &b, err);
}

int ss_log_append_dataset(ss_log_t *log, const ss_dataset_info_t *ds, ss_error_t *err)
{
    if (ds->n_inputs < 0 || ds->n_classes < 0 || ds->n_train < 0 || ds->n_test < 0 ||
        (ds->input_rank == 2 && (ds->input_shape[0] < 0 || ds->input_shape[1] < 0))) {
        ss_error_set(err, SS_EXIT_RUNTIME, "dataset %.64s: inconsistent metadata", ds->name);
        return -1;
    }
    ss_payload_t b;
    ss_payload_begin(&b, REC_HEAD);
    ss_record_encode_dataset(&b, ds);
    return log_append(log, REC_DATASET, &b, err);
}

int ss_log_append_result(ss_log_t *log, const ss_result_t *r, ss_error_t *err)
{
    if (!ss_result_check(r)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "run %.192s: inconsistent result (status, counts or arrays)",
                     r->run_id);
        return -1;
    }
    ss_payload_t b;
    ss_payload_begin(&b, REC_HEAD);
    ss_record_encode_result(&b, r);
    return log_append(log, REC_RESULT, &b, err);
}

/* ---- the writer lock --------------------------------------------------------------- */

int ss_lock_acquire(const char *h5_path, int *lock_fd, ss_error_t *err)
{
    *lock_fd = -1;
    char bad[4096];
    if (ss_mkdir_parent(h5_path, bad, sizeof bad)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot create directory %s: %s", h5_path, bad,
                     strerror(errno));
        return -1;
    }
    char *path = ss_str_concat(h5_path, ".lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot open lock file: %s", path,
                     strerror(errno));
        free(path);
        return -1;
    }
    int locked;
    do
        locked = flock(fd, LOCK_EX | LOCK_NB);
    while (locked != 0 && errno == EINTR);
    if (locked != 0) {
        if (errno == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s is in use by another specsweep run (lock file %s, held by "
                             "pid %ld)", h5_path, path, pid);
            else
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s is in use by another specsweep run (lock file %s)", h5_path,
                             path);
        } else {
            ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot lock: %s", path, strerror(errno));
        }
        close(fd);
        free(path);
        return -1;
    }
    /* The pid is only for the message of a refused writer; the lock itself is flock. */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0) {
        /* not fatal: the message then names no pid */
    }
    free(path);
    *lock_fd = fd;
    return 0;
}

void ss_lock_release(int *lock_fd)
{
    if (lock_fd && *lock_fd >= 0) {
        close(*lock_fd); /* drops the flock; the file stays so no race on its inode */
        *lock_fd = -1;
    }
}

