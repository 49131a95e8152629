/*
 * datafile.c - the file loaders: CSV (header row, one column the label), IDX (MNIST
 * format, gzip or plain) and HDF5 (datasets X, y and optionally X_test, y_test). What
 * each reads is described in include/specsweep/data.h and docs/FORMATS.md; the shared
 * row tables and steps are data_table.c's (data_internal.h).
 *
 * A bad file (missing, truncated, corrupt, wrong magic, ragged or non-numeric CSV) is
 * SS_EXIT_INPUT with a message that names it, "FILE: ..." or "FILE:LINE: ...". Every
 * loader frees what it built on its error path. Nothing here writes a file.
 */
#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "specsweep/h5io.h"

/* ---- CSV -------------------------------------------------------------------------------- */

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int at_eol(const char *p, const char *end)
{
    return p >= end || *p == '\n' || *p == '\r';
}

/* Step over one line ending ("\n", "\r\n" or a lone "\r") if p is at one. */
static const char *skip_eol(const char *p, const char *end)
{
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    return p;
}

static int is_cell_end(char c)
{
    return c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\0';
}

/*
 * A number from s (NUL-terminated text): *endp gets where it ends. Returns 0 if no
 * number starts at s. The result is always exactly strtof's; the common cases take a
 * fast path that is ~4x quicker (Clinger's): with at most 15 significant digits and a
 * decimal exponent of at most 22, m and 10^k are exact doubles, so m * 10^k or m / 10^k
 * is the correctly rounded double, and rounding that to float is correct unless the
 * double lies exactly halfway between two floats (checked; then strtof decides).
 */
static int parse_number(const char *s, const char **endp, float *v)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s;
    int neg = (*p == '-');
    if (*p == '-' || *p == '+')
        p++;
    uint64_t m = 0;
    int sig = 0, exp10 = 0, any = 0;
    for (; (unsigned)(*p - '0') < 10u; p++, any = 1) {
        if ((m || *p != '0') && ++sig > 15)
            goto slow;
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.')
        for (p++; (unsigned)(*p - '0') < 10u; p++, any = 1) {
            if ((m || *p != '0') && ++sig > 15)
                goto slow;
            m = m * 10 + (uint64_t)(*p - '0');
            exp10--;
        }
    if (!any)
        goto slow;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = (*q == '-'), e = 0, nd = 0;
        if (*q == '-' || *q == '+')
            q++;
        for (; (unsigned)(*q - '0') < 10u; q++) {
            if (++nd > 4)
                goto slow;
            e = e * 10 + (*q - '0');
        }
        if (nd == 0)
            goto slow;
        exp10 += eneg ? -e : e;
        p = q;
    }
    if (!is_cell_end(*p))
        goto slow;
    if (m == 0) {
        *v = neg ? -0.0f : 0.0f;
        *endp = p;
        return 1;
    }
    if (exp10 < -22 || exp10 > 22)
        goto slow;
    double d = exp10 < 0 ? (double)m / pow10[-exp10] : (double)m * pow10[exp10];
    if (!(d >= FLT_MIN && d <= FLT_MAX))
        goto slow; /* subnormal or overflowing floats */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if ((bits & ((UINT64_C(1) << 29) - 1)) == (UINT64_C(1) << 28))
        goto slow; /* exactly halfway between two floats: the double may have rounded */
    *v = (float)(neg ? -d : d);
    *endp = p;
    return 1;
slow:;
    char *q;
    float f = strtof(s, &q);
    if (q == s)
        return 0;
    *v = f;
    *endp = q;
    return 1;
}

/*
 * One data cell at p: [*s, *e) is its text without surrounding blanks and quotes; *next
 * is where it ends (at ',' or the end of the line). Returns 1 if something follows a
 * closing quote (then [*s, *e) spans all of it), -1 for a quote that is never closed.
 */
static int csv_cell(const char *p, const char *end, const char **s, const char **e,
                    const char **next)
{
    int bad = 0;
    p = skip_blanks(p, end);
    if (p < end && *p == '"') {
        const char *open = p;
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q)
            return -1;
        *s = skip_blanks(p + 1, q);
        *e = q;
        p = skip_blanks(q + 1, end);
        if (!at_eol(p, end) && *p != ',') {
            bad = 1;
            *s = open;
            while (!at_eol(p, end) && *p != ',')
                p++;
            *e = p;
        }
    } else {
        *s = p;
        while (!at_eol(p, end) && *p != ',')
            p++;
        *e = p;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
    *next = p;
    return bad;
}

/* Parse the header line at *pp into names (allocated array of allocated strings). */
static int csv_header(const char *file, const char **pp, const char *end, int *line,
                      char ***names_out, int *ncols_out, ss_error_t *err)
{
    const char *p = *pp;
    int ncols = 0, cap = 64;
    char **names = ss_malloc((size_t)cap * sizeof *names);
    size_t bcap = 256;
    char *buf = ss_malloc(bcap);
    int start_line = *line;
    for (;;) {
        size_t bl = 0;
        p = skip_blanks(p, end);
        if (p < end && *p == '"') { /* RFC 4180 quoting: "" is one quote */
            p++;
            int closed = 0;
            while (p < end) {
                char c = *p++;
                if (c == '"') {
                    if (p < end && *p == '"')
                        p++;
                    else {
                        closed = 1;
                        break;
                    }
                } else if (c == '\n')
                    (*line)++;
                if (bl + 1 >= bcap)
                    buf = ss_realloc(buf, bcap *= 2);
                buf[bl++] = c;
            }
            if (!closed) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d: unterminated quoted column name", file,
                             start_line);
                goto fail;
            }
            p = skip_blanks(p, end);
            if (!at_eol(p, end) && *p != ',') {
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s:%d: unexpected character after a quoted column name", file,
                             *line);
                goto fail;
            }
        } else {
            const char *s = p;
            while (!at_eol(p, end) && *p != ',')
                p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            bl = (size_t)(e - s);
            if (bl + 1 >= bcap)
                buf = ss_realloc(buf, bcap = bl + 1);
            memcpy(buf, s, bl);
        }
        buf[bl] = '\0';
        if (ncols == cap)
            names = ss_realloc(names, (size_t)(cap *= 2) * sizeof *names);
        names[ncols++] = ss_strdup(buf);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    free(buf);
    *pp = skip_eol(p, end);
    *names_out = names;
    *ncols_out = ncols;
    return 0;
fail:
    free(buf);
    for (int i = 0; i < ncols; i++)
        free(names[i]);
    free(names);
    return -1;
}

/* Every column name of the header must be unique: a feature name is how the results name
   an input, and the label column must be unambiguous. Returns 0, or -1 with err set
   naming the first column (in file order) whose name an earlier column already has. */
static int csv_unique_names(const char *file, int header_line, char *const *names, int ncols,
                            ss_error_t *err)
{
    int first = -1, again = ss_first_repeat((const char *const *)names, ncols, &first);
    if (again < 0)
        return 0;
    ss_error_set(err, SS_EXIT_INPUT, "%s:%d: column %d has the name \"%.100s\" of column %d: "
                 "column names must be unique (they name the inputs)", file, header_line,
                 again + 1, names[again], first + 1);
    return -1;
}

/* The index of the label column `label` among the header's names[ncols] (read at line
   header_line; the names are unique); -1 with err set when it is missing, or the only
   column. */
static int csv_label_column(const char *file, int header_line, char *const *names, int ncols,
                            const char *label, ss_error_t *err)
{
    int label_col = -1;
    for (int c = 0; c < ncols; c++)
        if (strcmp(names[c], label) == 0)
            label_col = c;
    if (label_col < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d: no label column \"%s\" in the header", file,
                     header_line, label);
        return -1;
    }
    if (ncols < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d: no input columns besides the label \"%s\"",
                     file, header_line, label);
        return -1;
    }
    return label_col;
}

/* The most data rows of ncols cells the text p..end can hold, counting a last row that
   is only begun: every data row is one line, so at most the number of line breaks + 1;
   and every complete row has ncols non-empty cells and ncols - 1 commas, so at most
   (end - p) / (2 ncols - 1) + 1. The second bound keeps a wide header over many blank
   lines from claiming rows x inputs that the text cannot hold. */
static size_t csv_max_rows(const char *p, const char *end, int ncols)
{
    size_t by_size = (size_t)(end - p) / (2 * (size_t)ncols - 1) + 1;
    size_t max_rows = 1;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        max_rows++;
    for (const char *q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++)
        if (q + 1 >= end || q[1] != '\n')
            max_rows++; /* a lone carriage return also ends a line */
    return max_rows < by_size ? max_rows : by_size;
}

/*
 * One data line of a CSV file at *pp (not blank; `line` is its number): its ncols cells,
 * column label_col into *label and the others into xr[ncols - 1] in file order; *pp ends
 * where the line's cells end. Returns 0, or -1 with err set ("FILE:LINE: ...") for an
 * unterminated quote, an empty, non-numeric or non-finite cell, or a wrong number of cells.
 */
static int csv_row(const char *file, int line, char *const *names, int ncols, int label_col,
                   const char **pp, const char *end, float *xr, float *label, ss_error_t *err)
{
    const char *p = *pp;
    float yv = 0.0f;
    int col = 0, fi = 0;
    for (;;) {
        const char *s, *e;
        int bad = csv_cell(p, end, &s, &e, &p);
        if (bad < 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s:%d: unterminated quoted cell", file, line);
            return -1;
        }
        if (col < ncols) { /* cells past the header's width are only counted */
            const char *q = NULL;
            float v = 0.0f;
            if (!bad && s == e) {
                ss_error_set(err, SS_EXIT_INPUT, "%s:%d: column %d (\"%s\") is empty", file,
                             line, col + 1, names[col]);
                return -1;
            }
            if (bad || !parse_number(s, &q, &v) || q != e) {
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s:%d: column %d (\"%s\"): \"%.*s\" is not a number", file,
                             line, col + 1, names[col], (int)(e - s > 40 ? 40 : e - s), s);
                return -1;
            }
            if (!isfinite(v)) {
                ss_error_set(err, SS_EXIT_INPUT,
                             "%s:%d: column %d (\"%s\") is not a finite number", file, line,
                             col + 1, names[col]);
                return -1;
            }
            if (col == label_col)
                yv = v;
            else
                xr[fi++] = v;
        }
        col++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    if (col != ncols) {
        ss_error_set(err, SS_EXIT_INPUT, "%s:%d: expected %d columns, found %d", file, line,
                     ncols, col);
        return -1;
    }
    *pp = p;
    *label = yv;
    return 0;
}

/* The data rows of [p, end), the first on line `line`, into all (rows counted in *rows):
   blank lines skipped, every row ncols values, a classification label a class index. */
static int csv_rows(const char *file, const char *p, const char *end, int line,
                    char *const *names, int ncols, int label_col, int classification,
                    data_table_t *all, size_t *rows, ss_error_t *err)
{
    size_t row = 0, d = (size_t)ncols - 1;
    for (; p < end; line++) {
        const char *first = skip_blanks(p, end);
        if (first >= end)
            break;
        if (*first == '\n' || *first == '\r') { /* blank lines are skipped */
            p = skip_eol(first, end);
            continue;
        }
        float yv = 0.0f;
        if (csv_row(file, line, names, ncols, label_col, &p, end, all->x + row * d, &yv, err))
            return -1;
        if (classification && !(yv >= 0.0f && yv < (float)SS_MAX_CLASSES && yv == floorf(yv))) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s:%d: label %g is not a class index (an integer from 0 to %d)", file,
                         line, (double)yv, SS_MAX_CLASSES - 1);
            return -1;
        }
        all->y[row++] = yv;
        p = skip_eol(p, end);
    }
    *rows = row;
    return 0;
}

int datafile_csv(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    const char *file = spec->path;
    char *text = NULL;
    char **names = NULL;
    int ncols = 0, rc = -1;
    data_table_t all = {0}, test = {0};
    int classification = spec->task == SS_TASK_CLASSIFICATION;

    if (!file) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind csv needs a path", spec->name);
        return -1;
    }
    /* the memory rule (util.h) bounds the text; the rows can take at most twice as much
       again (csv_max_rows), and the table is checked when it is allocated */
    size_t len;
    int rrc = ss_read_file_limited(file, ss_memory_limit(), SS_READ_REGULAR, &text, &len, err);
    if (rrc == -2) {
        char a[32];
        ss_error_set(err, SS_EXIT_INPUT, "%s: larger than this machine's memory (%s)", file,
                     ss_format_bytes((double)ss_memory_limit(), a, sizeof a));
        return -1;
    }
    if (rrc)
        return -1;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
        p += 3;

    /* the header is the first non-blank line */
    int line = 1;
    for (;;) {
        const char *q = skip_blanks(p, end);
        if (q >= end) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: empty file (expected a header row)", file);
            goto done;
        }
        if (*q != '\n' && *q != '\r')
            break;
        p = skip_eol(q, end);
        line++;
    }
    int header_line = line;
    if (csv_header(file, &p, end, &line, &names, &ncols, err))
        goto done;
    line++; /* the line after the header */

    if (csv_unique_names(file, header_line, names, ncols, err))
        goto done;
    int label_col = csv_label_column(file, header_line, names, ncols, spec->label, err);
    if (label_col < 0)
        goto done;
    int d = ncols - 1;
    if (data_table_alloc(&all, csv_max_rows(p, end, ncols), d, file, err))
        goto done;

    size_t row = 0;
    if (csv_rows(file, p, end, line, names, ncols, label_col, classification, &all, &row, err))
        goto done;
    free(text);
    text = NULL;
    if (row == 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no data rows after the header", file);
        goto done;
    }
    all.n = (int)row;

    if (data_apply_classes(spec, file, &all, &test, &ds->info.n_classes, err) ||
        data_finish(spec, file, &all, &test, ds, err))
        goto done;
    /* feature names: every column but the label, in file order */
    ds->info.feature_names = ss_calloc((size_t)d, sizeof(char *));
    for (int c = 0, j = 0; c < ncols; c++)
        if (c != label_col)
            ds->info.feature_names[j++] = ss_strdup(names[c]);
    rc = 0;
done:
    free(text);
    if (names) {
        for (int c = 0; c < ncols; c++)
            free(names[c]);
        free(names);
    }
    data_table_free(&all);
    data_table_free(&test);
    return rc;
}

/* ---- IDX (MNIST format), gzip or plain ------------------------------------------------- */

#define IDX_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS 0x00000801u /* unsigned bytes, 1 dimension */

typedef struct {
    unsigned char *data; /* n * rows * cols pixels, or n labels */
    size_t n, rows, cols;
} idx_t;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* zlib's message for the last error on f, without the "PATH: " it puts in front. */
static const char *gz_message(gzFile f, const char *file, int *zerr)
{
    const char *msg = gzerror(f, zerr);
    size_t n = strlen(file);
    if (strncmp(msg, file, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* Read up to n bytes into buf; returns how many were read (fewer only at the end of the
   data or on an error, which gz_short_read tells apart). */
static size_t gz_read_some(gzFile f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* The error of a read that gave `got` of the n bytes of `what` it wanted: zlib's (a
   corrupt stream), an empty file, or a truncated one. Returns -1. */
static int gz_short_read(gzFile f, const char *file, size_t n, size_t got, const char *what,
                         ss_error_t *err)
{
    int zerr;
    const char *zmsg = gz_message(f, file, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR) /* Z_BUF_ERROR: the gzip stream was cut */
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read: %s", file, zmsg);
    else if (got == 0 && gztell(f) == 0)
        ss_error_set(err, SS_EXIT_INPUT, "%s: empty file", file);
    else
        ss_error_set(err, SS_EXIT_INPUT, "%s: truncated: expected %zu bytes of %s, found %zu",
                     file, n, what, got);
    return -1;
}

/* Read exactly n bytes; a short read means the file is truncated. */
static int gz_read_exact(gzFile f, const char *file, void *buf, size_t n, const char *what,
                         ss_error_t *err)
{
    size_t got = gz_read_some(f, buf, n);
    return got == n ? 0 : gz_short_read(f, file, n, got, what, err);
}

/* Read the n bytes of `what` that a header announced into a new buffer *out (the caller
   frees it), grown as the data arrives: a header that claims more than the file holds
   costs only the memory of what was really there (for gzip, what was decompressed),
   never the claim. */
static int gz_read_claimed(gzFile f, const char *file, size_t n, const char *what,
                           unsigned char **out, ss_error_t *err)
{
    enum { FIRST = 1 << 20 };
    size_t cap = n < FIRST ? n : FIRST, got = 0;
    unsigned char *buf = ss_malloc(cap);
    for (;;) {
        size_t r = gz_read_some(f, buf + got, cap - got);
        got += r;
        if (got < cap || cap == n)
            break;                          /* the end of the data, or all of it */
        cap = cap > n / 2 ? n : cap * 2;
        buf = ss_realloc(buf, cap);
    }
    if (got < n) {
        free(buf);
        return gz_short_read(f, file, n, got, what, err);
    }
    *out = buf;
    return 0;
}

/* The header of IDX file f (`magic`: images or labels) into out->n, rows, cols and the
   data's size into *bytes_out, checked: the magic, the dimensions, and for a plain file
   (file_size bytes) that it holds exactly the data the header announces. */
static int idx_header(gzFile f, const char *file, uint32_t magic, off_t file_size, idx_t *out,
                      size_t *bytes_out, ss_error_t *err)
{
    const char *kind = magic == IDX_IMAGES ? "image" : "label";
    int ndim = magic == IDX_IMAGES ? 3 : 1;
    unsigned char head[16];
    if (gz_read_exact(f, file, head, 4, "header", err))
        return -1;
    uint32_t m = be32(head);
    if (m != magic) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: not an IDX %s file (magic number 0x%08x, expected 0x%08x)", file, kind,
                     (unsigned)m, (unsigned)magic);
        return -1;
    }
    if (gz_read_exact(f, file, head + 4, 4 * (size_t)ndim, "header", err))
        return -1;
    out->n = be32(head + 4);
    out->rows = ndim == 3 ? be32(head + 8) : 1;
    out->cols = ndim == 3 ? be32(head + 12) : 1;
    if (out->n == 0 || out->n > (size_t)INT_MAX) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the header announces %zu %ss", file, out->n, kind);
        return -1;
    }
    if (out->rows == 0 || out->cols == 0 || out->rows * out->cols > (1u << 24)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: bad image size %zu x %zu", file, out->rows,
                     out->cols);
        return -1;
    }
    size_t bytes = out->n * out->rows * out->cols;   /* < 2^55: no overflow */
    *bytes_out = bytes;
    size_t head_len = 4 + 4 * (size_t)ndim;
    if (gzdirect(f)) {
        /* a plain file holds exactly the header and the data it announces */
        uint64_t want = (uint64_t)head_len + bytes, have = (uint64_t)file_size;
        if (have < want) {
            char a[32], shape[48] = "";
            if (ndim == 3)
                snprintf(shape, sizeof shape, " of %zu x %zu pixels", out->rows, out->cols);
            ss_error_set(err, SS_EXIT_INPUT, "%s: truncated: the header announces %zu %ss%s "
                         "(%s), but the file holds only %llu bytes after its %zu-byte header",
                         file, out->n, kind, shape, ss_format_bytes((double)bytes, a, sizeof a),
                         (unsigned long long)(have - head_len), head_len);
            return -1;
        }
        if (have > want) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s: data continues after the %zu %ss the header announces", file,
                         out->n, kind);
            return -1;
        }
    }
    return 0;
}

/*
 * Read one IDX file: `magic` says images or labels. It must be a regular file
 * (ss_open_regular). Checks the magic, the dimensions, that the data is all there and
 * that nothing follows it; for gzip files also that the stream ends cleanly (its trailer
 * and CRC are checked when the end is reached). The sizes in the header are checked
 * before anything is allocated: against the file's size for a plain file, against the
 * memory rule (the images as floats) for both; a gzip file is read incrementally, so
 * its header is never trusted beyond the data actually decompressed.
 */
static int idx_read(const char *file, uint32_t magic, idx_t *out, ss_error_t *err)
{
    memset(out, 0, sizeof *out);
    off_t file_size = 0;
    int fd = ss_open_regular(file, &file_size, err);
    if (fd < 0)
        return -1;
    errno = 0;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open: %s", file,
                     errno ? strerror(errno) : "out of memory");
        close(fd);
        return -1;
    }
    gzbuffer(f, 1u << 17);
    const char *kind = magic == IDX_IMAGES ? "image" : "label";
    const char *what = magic == IDX_IMAGES ? "pixels" : "labels";
    size_t bytes = 0;
    if (idx_header(f, file, magic, file_size, out, &bytes, err))
        goto fail;
    if (magic == IDX_IMAGES &&
        data_check_memory((double)out->n, (double)(out->rows * out->cols), file,
                          "the images the header announces", err))
        goto fail;
    if (gz_read_claimed(f, file, bytes, what, &out->data, err))
        goto fail;
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    int zerr;
    const char *zmsg = gz_message(f, file, &zerr);
    if (r > 0) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: data continues after the %zu %ss the header announces", file, out->n,
                     kind);
        goto fail;
    }
    if (r < 0 || zerr != Z_OK) {
        if (zerr == Z_BUF_ERROR)
            ss_error_set(err, SS_EXIT_INPUT, "%s: truncated: the gzip stream ends early", file);
        else
            ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read: %s", file, zmsg);
        goto fail;
    }
    if (gzclose(f) != Z_OK) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read to the end", file);
        free(out->data);
        out->data = NULL;
        return -1;
    }
    return 0;
fail:
    gzclose(f);
    free(out->data);
    out->data = NULL;
    return -1;
}

/* Read an image file and its label file and check they belong together. */
static int idx_pair(const char *images_file, const char *labels_file, idx_t *im, idx_t *lb,
                    ss_error_t *err)
{
    if (idx_read(images_file, IDX_IMAGES, im, err) || idx_read(labels_file, IDX_LABELS, lb, err))
        return -1;
    if (lb->n != im->n) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: %zu labels, but %s has %zu images", labels_file,
                     lb->n, images_file, im->n);
        return -1;
    }
    return 0;
}

/* The kept images of one file, as floats, into a new table. */
static int idx_table(const idx_t *im, const idx_t *lb, const int map[SS_MAX_CLASSES],
                     const float lut[256], const char *file, data_table_t *t, ss_error_t *err)
{
    size_t kept = 0, d = im->rows * im->cols;
    for (size_t i = 0; i < lb->n; i++)
        kept += map[lb->data[i]] >= 0;
    if (data_table_alloc(t, kept, (int)d, file, err))
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < lb->n; i++) {
        int c = map[lb->data[i]];
        if (c < 0)
            continue;
        const unsigned char *src = im->data + i * d;
        float *dst = t->x + k * d;
        for (size_t j = 0; j < d; j++)
            dst[j] = lut[src[j]];
        t->y[k++] = (float)c;
    }
    t->n = (int)kept;
    return 0;
}

int datafile_idx(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    idx_t tri = {0}, trl = {0}, tei = {0}, tel = {0};
    data_table_t train = {0}, test = {0};
    int rc = -1;
    int has_test = spec->test_images != NULL;

    if (!spec->train_images || !spec->train_labels) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind idx needs train_images and train_labels",
                     spec->name);
        return -1;
    }
    if ((spec->test_images == NULL) != (spec->test_labels == NULL)) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "dataset %s: give both test_images and test_labels, or neither", spec->name);
        return -1;
    }
    if (!(spec->scale > 0.0 && isfinite(spec->scale))) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: scale must be positive, not %g", spec->name,
                     spec->scale);
        return -1;
    }
    int map[SS_MAX_CLASSES];
    if (data_class_map(spec, map, err))
        return -1;

    if (idx_pair(spec->train_images, spec->train_labels, &tri, &trl, err))
        goto done;
    if (has_test) {
        if (idx_pair(spec->test_images, spec->test_labels, &tei, &tel, err))
            goto done;
        if (tei.rows != tri.rows || tei.cols != tri.cols) {
            ss_error_set(err, SS_EXIT_INPUT,
                         "%s: images are %zu x %zu, but those of %s are %zu x %zu",
                         spec->test_images, tei.rows, tei.cols, spec->train_images, tri.rows,
                         tri.cols);
            goto done;
        }
    }

    /* classes: every label is a byte, so below SS_MAX_CLASSES */
    int k = spec->n_class_subset;
    if (k > 0) {
        size_t count[SS_MAX_CLASSES] = {0};
        for (size_t i = 0; i < trl.n; i++)
            count[trl.data[i]]++;
        for (int i = 0; i < k; i++)
            if (count[spec->class_subset[i]] == 0) {
                ss_error_set(err, SS_EXIT_INPUT, "%s: class %d does not occur in the data",
                             spec->train_labels, spec->class_subset[i]);
                goto done;
            }
        ds->info.n_classes = k;
    } else {
        int top = 0;
        for (size_t i = 0; i < trl.n; i++)
            top = trl.data[i] > top ? trl.data[i] : top;
        for (size_t i = 0; i < tel.n; i++)
            top = tel.data[i] > top ? tel.data[i] : top;
        ds->info.n_classes = top + 1;
    }
    if (ds->info.n_classes < 2) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: classification needs at least 2 classes, found %d",
                     spec->train_labels, ds->info.n_classes);
        goto done;
    }

    float lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = (float)(v * spec->scale);
    if (idx_table(&tri, &trl, map, lut, spec->train_images, &train, err))
        goto done;
    free(tri.data);
    tri.data = NULL;
    if (has_test) {
        if (idx_table(&tei, &tel, map, lut, spec->test_images, &test, err))
            goto done;
        if (test.n == 0) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: none of the requested classes occurs",
                         spec->test_labels);
            goto done;
        }
    }
    if (data_finish(spec, spec->train_images, &train, &test, ds, err))
        goto done;
    ds->info.input_rank = 2;
    ds->info.input_shape[0] = (int)tri.rows;
    ds->info.input_shape[1] = (int)tri.cols;
    rc = 0;
done:
    free(tri.data);
    free(trl.data);
    free(tei.data);
    free(tel.data);
    data_table_free(&train);
    data_table_free(&test);
    return rc;
}

/* ---- HDF5 ----------------------------------------------------------------------------- */

/* What h5_open_numeric learns of a dataset. */
typedef struct {
    int rank;
    hsize_t dims[3];
    size_t type_size;       /* bytes of one value in the file */
    int filtered;           /* stored through filters (compression): its size in the file
                               says nothing of its size in memory */
} h5_shape_t;

/* HDF5's external link traversal: refused, so that no link (direct, or reached through
   a soft link) can lead the loader into another file. */
static herr_t h5_no_external(const char *parent_file, const char *parent_group,
                             const char *child_file, const char *child_object,
                             unsigned *acc_flags, hid_t fapl, void *op_data)
{
    (void)parent_file, (void)parent_group, (void)child_file, (void)child_object;
    (void)acc_flags, (void)fapl, (void)op_data;
    return -1;
}

/*
 * Open dataset `name` of f and check it: a dataset of this file (not an external link to
 * another file, no external or virtual storage: data paths are only ever the files the
 * sweep names), numeric, rank 1..3. *shape describes it. Returns the dataset id, or -1
 * with the error set.
 */
static hid_t h5_open_numeric(hid_t f, const char *file, const char *name, h5_shape_t *shape,
                             ss_error_t *err)
{
    memset(shape, 0, sizeof *shape);
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: no dataset \"%s\"", file, name);
        return -1;
    }
    H5L_info_t link;
    if (H5Lget_info(f, name, &link, H5P_DEFAULT) >= 0 && link.type == H5L_TYPE_EXTERNAL) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" is a link to another file; the data must "
                     "be in the file itself", file, name);
        return -1;
    }
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0)
        H5Pset_elink_cb(dapl, h5_no_external, NULL);
    hid_t dset = dapl >= 0 ? H5Dopen2(f, name, dapl) : -1;
    if (dapl >= 0)
        H5Pclose(dapl);
    if (dset < 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" is not a readable dataset", file, name);
        return -1;
    }
    hid_t dcpl = H5Dget_create_plist(dset);
    int external = dcpl >= 0 ? H5Pget_external_count(dcpl) : 0;
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    shape->filtered = dcpl >= 0 && H5Pget_nfilters(dcpl) > 0;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    hid_t type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    shape->type_size = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0)
        H5Tclose(type);
    hid_t space = H5Dget_space(dset);
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (r >= 1 && r <= 3)
        H5Sget_simple_extent_dims(space, shape->dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    if (external != 0 || layout == H5D_VIRTUAL) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" keeps its data in other files "
                     "(%s storage); the data must be in the file itself", file, name,
                     external != 0 ? "external" : "virtual");
        H5Dclose(dset);
        return -1;
    }
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" is not numeric", file, name);
        H5Dclose(dset);
        return -1;
    }
    if (r < 1 || r > 3) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has rank %d", file, name, r);
        H5Dclose(dset);
        return -1;
    }
    shape->rank = r;
    return dset;
}

/* The sizes a dataset declares (values values of shape->type_size bytes) against the file
   (size bytes): without filters the data is stored as it is, so it cannot be larger than
   the file (a larger declaration would be read as fill values that were never written).
   0, or -1 with err set. */
static int h5_check_stored(const char *file, const char *name, const h5_shape_t *shape,
                           double values, off_t size, ss_error_t *err)
{
    double bytes = values * (double)shape->type_size;
    if (shape->filtered || bytes <= (double)size)
        return 0;
    char a[32], b[32];
    ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" declares %.0f values (%s), but the "
                 "file holds only %s", file, name, values, ss_format_bytes(bytes, a, sizeof a),
                 ss_format_bytes((double)size, b, sizeof b));
    return -1;
}

/* A dataset that HDF5 cannot read (corrupt, or a filter this HDF5 lacks): SS_EXIT_INPUT
   with HDF5's own message. */
static void h5_read_failed(const char *file, const char *name, ss_error_t *err)
{
    char detail[400];
    ss_h5_detail(detail, sizeof detail);
    ss_error_set(err, SS_EXIT_INPUT, "%s: cannot read dataset \"%s\": %s", file, name, detail);
}

/*
 * Read inputs `xname` and targets `yname` into a new table. X is n x d, or n x rows x cols
 * (images: shape gets {rows, cols}); y is n or n x 1. Labels of a classification must be
 * class indices. `want_d` > 0 requires that many inputs (the test set matches training).
 */
static int h5_read_xy(hid_t f, const char *file, off_t file_size, const char *xname,
                      const char *yname, int classification, int want_d, int shape[2],
                      data_table_t *t, ss_error_t *err)
{
    hid_t xd = -1, yd = -1;
    double *yb = NULL;
    int rc = -1;
    h5_shape_t xs, ys;

    if ((xd = h5_open_numeric(f, file, xname, &xs, err)) < 0 ||
        (yd = h5_open_numeric(f, file, yname, &ys, err)) < 0)
        goto done;
    int xr = xs.rank, yr = ys.rank;
    const hsize_t *xdim = xs.dims, *ydim = ys.dims;
    if (xr == 1) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has rank 1, expected samples x inputs",
                     file, xname);
        goto done;
    }
    if (yr > 2 || (yr == 2 && ydim[1] != 1)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" must be one value per sample",
                     file, yname);
        goto done;
    }
    /* rows x cols of an image must not wrap around: (2^62 + 1) x 4 would be 4 */
    int wraps = xr == 3 && xdim[2] != 0 && xdim[1] > (hsize_t)INT_MAX / xdim[2];
    hsize_t d64 = xr == 3 ? xdim[1] * xdim[2] : xdim[1];
    if (xdim[0] == 0 || xdim[0] > INT_MAX || wraps || d64 == 0 || d64 > INT_MAX) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: dataset \"%s\" has an unusable shape", file, xname);
        goto done;
    }
    if (ydim[0] != xdim[0]) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" has %llu values but \"%s\" has %llu rows",
                     file, yname, (unsigned long long)ydim[0], xname,
                     (unsigned long long)xdim[0]);
        goto done;
    }
    int n = (int)xdim[0], d = (int)d64;
    /* the claim against the file and the machine, before anything is allocated */
    char what[64];
    snprintf(what, sizeof what, "dataset \"%s\"", xname);
    if (h5_check_stored(file, xname, &xs, (double)n * (double)d, file_size, err) ||
        h5_check_stored(file, yname, &ys, (double)n, file_size, err) ||
        data_check_memory((double)n, (double)d, file, what, err))
        goto done;
    if (want_d > 0 && d != want_d) {
        ss_error_set(err, SS_EXIT_INPUT,
                     "%s: \"%s\" has %d inputs per sample, the training data %d", file, xname,
                     d, want_d);
        goto done;
    }
    if (shape) {
        shape[0] = xr == 3 ? (int)xdim[1] : 0;
        shape[1] = xr == 3 ? (int)xdim[2] : 0;
    }
    if (data_table_alloc(t, (size_t)n, d, file, err))
        goto done;
    if (H5Dread(xd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->x) < 0) {
        h5_read_failed(file, xname, err);
        goto done;
    }
    yb = ss_malloc((size_t)n * sizeof(double));
    if (H5Dread(yd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, yb) < 0) {
        h5_read_failed(file, yname, err);
        goto done;
    }
    size_t total = (size_t)n * (size_t)d;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(t->x[i])) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" row %zu, input %zu is not a finite number",
                         file, xname, i / (size_t)d, i % (size_t)d);
            goto done;
        }
    for (int i = 0; i < n; i++) {
        double v = yb[i];
        if (classification ? !(v >= 0.0 && v < SS_MAX_CLASSES && v == floor(v))
                           : !isfinite((float)v)) {
            ss_error_set(err, SS_EXIT_INPUT, "%s: \"%s\" row %d: %g is not %s", file, yname, i, v,
                         classification ? "a class index (an integer from 0 to 255)"
                                        : "a finite number");
            goto done;
        }
        t->y[i] = (float)v;
    }
    t->n = n;
    rc = 0;
done:
    free(yb);
    if (xd >= 0)
        H5Dclose(xd);
    if (yd >= 0)
        H5Dclose(yd);
    if (rc)
        data_table_free(t);
    return rc;
}

int datafile_hdf5(const ss_dataset_spec_t *spec, ss_dataset_t *ds, ss_error_t *err)
{
    const char *file = spec->path;
    data_table_t train = {0}, test = {0};
    hid_t f = -1;
    int rc = -1;
    int classification = spec->task == SS_TASK_CLASSIFICATION;
    if (!file) {
        ss_error_set(err, SS_EXIT_INPUT, "dataset %s: kind hdf5 needs a path", spec->name);
        return -1;
    }
    off_t file_size = 0;
    int fd = ss_open_regular(file, &file_size, err);   /* HDF5 opens it again by name */
    if (fd < 0)
        return -1;
    close(fd);

    /* HDF5 would print its error stack on every failed call; our messages say it all */
    ss_h5_quiet_t quiet;
    ss_h5_quiet(&quiet);

    if (H5Fis_hdf5(file) <= 0) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: not an HDF5 file", file);
        goto done;
    }
    /* without HDF5's file locks, which fail where the file system has none (h5io.h) */
    hid_t fapl = ss_h5_fapl();
    f = fapl >= 0 ? H5Fopen(file, H5F_ACC_RDONLY, fapl) : -1;
    if (f < 0) {
        char detail[400];
        ss_h5_detail(detail, sizeof detail);
        ss_error_set(err, SS_EXIT_INPUT, "%s: cannot open as an HDF5 file: %s", file, detail);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0)
        goto done;
    int shape[2];
    if (h5_read_xy(f, file, file_size, "X", "y", classification, 0, shape, &train, err))
        goto done;
    htri_t has_xt = H5Lexists(f, "X_test", H5P_DEFAULT);
    htri_t has_yt = H5Lexists(f, "y_test", H5P_DEFAULT);
    if ((has_xt > 0) != (has_yt > 0)) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: has \"%s\" but no \"%s\"", file,
                     has_xt > 0 ? "X_test" : "y_test", has_xt > 0 ? "y_test" : "X_test");
        goto done;
    }
    if (has_xt > 0 &&
        h5_read_xy(f, file, file_size, "X_test", "y_test", classification, train.d, NULL,
                   &test, err))
        goto done;
    if (data_apply_classes(spec, file, &train, &test, &ds->info.n_classes, err) ||
        data_finish(spec, file, &train, &test, ds, err))
        goto done;
    if (shape[0] > 0) {
        ds->info.input_rank = 2;
        ds->info.input_shape[0] = shape[0];
        ds->info.input_shape[1] = shape[1];
    }
    rc = 0;
done:
    if (f >= 0)
        H5Fclose(f);
    ss_h5_loud(&quiet);
    data_table_free(&train);
    data_table_free(&test);
    return rc;
}

