/*
 * config_yaml.c - reading values out of a libyaml document for the sweep file, every
 * failure reported at its node as "FILE:LINE:COLUMN: message". See config_yaml.h.
 */
#include "config_yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nodes, positions, messages ------------------------------------------------------ */

yaml_node_t *cfg_node(cfg_yaml_t *y, int index)
{
    return yaml_document_get_node(&y->doc, index);
}

static int cfg_vfail(cfg_yaml_t *y, int line, int col, const char *fmt, va_list ap)
{
    char msg[960];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ss_error_at(y->err, SS_EXIT_INPUT, y->file, line, col, "%s", msg);
    return -1;
}

/* Record a user error at node `at` (NULL: the start of the file). Returns -1. */
int cfg_fail(cfg_yaml_t *y, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vfail(y, cfg_line(at), cfg_col(at), fmt, ap);
    va_end(ap);
    return -1;
}

/* Record a user error at a 1-based line and column. Returns -1. */
int cfg_fail_pos(cfg_yaml_t *y, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vfail(y, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

int cfg_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A YAML null: an empty plain value, ~ or null. */
static int cfg_is_null(const yaml_node_t *n)
{
    if (!cfg_is_plain(n))
        return 0;
    const char *s = cfg_text(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* Parse a whole string as a finite double (no trailing characters, no overflow). */
static int cfg_parse_real(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v == 0.0 ? 0.0 : v;             /* no "-0" in run ids */
    return 0;
}

/* Parse a whole string as an integer: "12", or any integral number such as "1e3".
   Returns 0, -1 if it is not an integer, -2 if it is one beyond 64 bits. */
int cfg_parse_integer(const char *s, long long *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && !*end) {
        if (errno == ERANGE)
            return -2;
        *out = v;
        return 0;
    }
    double d = 0.0;
    if (cfg_parse_real(s, &d) < 0 || d != floor(d) || fabs(d) > 9007199254740992.0)
        return -1;
    *out = (long long)d;
    return 0;
}

/* 1 for true/yes, 0 for false/no (lower case, Capitalised or UPPER), -1 otherwise. */
static int cfg_parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO"};
    for (int i = 0; i < CFG_COUNT(yes); i++) {
        if (!strcmp(s, yes[i]))
            return 1;
        if (!strcmp(s, no[i]))
            return 0;
    }
    return -1;
}

/* How a node reads in "got ..." of a message. Returns buf. */
const char *cfg_got(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE) {
        snprintf(buf, size, "a mapping");
    } else if (n->type == YAML_SEQUENCE_NODE) {
        long len = (long)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (len == 0)
            snprintf(buf, size, "an empty list");
        else
            snprintf(buf, size, "a list of %ld value%s", len, len == 1 ? "" : "s");
    }
    else if (n->type != YAML_SCALAR_NODE)
        snprintf(buf, size, "nothing");
    else if (cfg_is_null(n))
        snprintf(buf, size, "nothing (an empty value)");
    else {
        const char *s = cfg_text(n);
        const char *more = strlen(s) > 40 ? "..." : "";
        double d = 0.0;
        char *end;
        int numeric = 0;
        if (cfg_is_plain(n)) {
            strtod(s, &end);
            numeric = end != s && !*end;   /* reads as a number, maybe not a finite one */
        }
        if (cfg_is_plain(n) && (cfg_parse_real(s, &d) == 0 || cfg_parse_bool(s) >= 0))
            snprintf(buf, size, "%.40s%s", s, more);
        else if (numeric)
            snprintf(buf, size, "%.40s%s (out of range)", s, more);
        else if (!cfg_is_plain(n) && cfg_parse_real(s, &d) == 0)
            snprintf(buf, size, "'%.40s%s' (quoted, so text)", s, more);
        else
            snprintf(buf, size, "'%.40s%s'", s, more);
    }
    return buf;
}

/* Levenshtein distance of two short names (large for long ones). */
static int cfg_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* "a, b, c" into buf. */
void cfg_join(const char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Unknown key `key` in a mapping `where` (e.g. "in training") whose keys are `known`. */
int cfg_unknown_key(cfg_yaml_t *y, const yaml_node_t *key, const char *where,
                    const char *const *known, int n_known)
{
    const char *name = cfg_text(key);
    char list[512];
    cfg_join(known, n_known, list, sizeof list);
    const char *best = NULL;
    int best_d = strlen(name) > 4 ? 3 : 2;
    for (int i = 0; i < n_known; i++) {
        int d = cfg_distance(name, known[i]);
        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    if (best)
        return cfg_fail(y, key, "unknown key '%s' %s (known: %s); did you mean '%s'?", name,
                        where, list, best);
    return cfg_fail(y, key, "unknown key '%s' %s (known: %s)", name, where, list);
}

/*
 * The key of pair `pr` of mapping `map`: a non-empty scalar, not already used by an earlier
 * pair (libyaml accepts duplicate keys; a sweep file must not). NULL + error otherwise.
 */
const char *cfg_key(cfg_yaml_t *y, const yaml_node_t *map, const yaml_node_pair_t *pr)
{
    yaml_node_t *k = cfg_node(y, pr->key);
    char got[96];
    if (!k || k->type != YAML_SCALAR_NODE || cfg_is_null(k)) {
        cfg_fail(y, k, "a key must be a name, got %s",
                 k ? cfg_got(k, got, sizeof got) : "nothing");
        return NULL;
    }
    for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
        yaml_node_t *k2 = cfg_node(y, q->key);
        if (k2 && k2->type == YAML_SCALAR_NODE && !strcmp(cfg_text(k2), cfg_text(k))) {
            cfg_fail(y, k, "duplicate key '%s' (first at line %d)", cfg_text(k), cfg_line(k2));
            return NULL;
        }
    }
    return cfg_text(k);
}

/* First pair of mapping `map` with key `name`, or NULL. */
yaml_node_pair_t *cfg_find(cfg_yaml_t *y, yaml_node_t *map, const char *name)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < map->data.mapping.pairs.top;
         q++) {
        yaml_node_t *k = cfg_node(y, q->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(cfg_text(k), name))
            return q;
    }
    return NULL;
}

/* A section that must be a mapping; an empty value counts as an empty mapping. Returns 1
   for a mapping, 0 for empty, -1 + error otherwise. */
int cfg_section(cfg_yaml_t *y, const yaml_node_t *n, const char *what)
{
    char got[96];
    if (n->type == YAML_MAPPING_NODE)
        return 1;
    if (cfg_is_null(n))
        return 0;
    return cfg_fail(y, n, "%s must be a mapping of keys, got %s", what,
                    cfg_got(n, got, sizeof got));
}

yaml_node_t *cfg_seq_item(cfg_yaml_t *y, const yaml_node_t *n, int i)
{
    return cfg_node(y, n->data.sequence.items.start[i]);
}

/* ---- typed values ---------------------------------------------------------------------- */

int cfg_in_range(cfg_range_t r, double v)
{
    switch (r) {
    case CFG_ANY: return 1;
    case CFG_POS: return v > 0.0;
    case CFG_NONNEG: return v >= 0.0;
    case CFG_UNIT_CO: return v >= 0.0 && v < 1.0;
    case CFG_UNIT_OO: return v > 0.0 && v < 1.0;
    case CFG_UNIT_CC: return v >= 0.0 && v <= 1.0;
    }
    return 0;
}

/* "must be ..." for a type and range. */
const char *cfg_rule(cfg_type_t t, cfg_range_t r)
{
    if (t == CFG_BOOL)
        return "must be true or false";
    if (t != CFG_REAL) {
        if (r == CFG_POS)
            return "must be a positive integer";
        if (r == CFG_NONNEG)
            return "must be a non-negative integer";
        return "must be an integer";
    }
    switch (r) {
    case CFG_ANY: return "must be a number";
    case CFG_POS: return "must be a positive number";
    case CFG_NONNEG: return "must be a non-negative number";
    case CFG_UNIT_CO: return "must be a number in [0, 1)";
    case CFG_UNIT_OO: return "must be a number in (0, 1), both ends excluded";
    case CFG_UNIT_CC: return "must be a number in [0, 1]";
    }
    return "must be a number";
}

/*
 * Read scalar `n` as a value of type `t` within range `r`; `what` names it in messages.
 * *v gets the value (booleans 0/1); *iv (may be NULL) gets integers exactly.
 */
int cfg_read(cfg_yaml_t *y, const yaml_node_t *n, const char *what, cfg_type_t t,
             cfg_range_t r, double *v, long long *iv)
{
    char got[96];
    double d = 0.0;
    long long i = 0;
    int ok = 0;
    if (cfg_is_plain(n) && !cfg_is_null(n)) {
        const char *s = cfg_text(n);
        if (t == CFG_BOOL) {
            int b = cfg_parse_bool(s);
            ok = b >= 0;
            i = b;
            d = b;
        } else if (t == CFG_REAL) {
            ok = cfg_parse_real(s, &d) == 0 && cfg_in_range(r, d);
        } else {
            int rc = cfg_parse_integer(s, &i);
            if (rc == -2 || (rc == 0 && t == CFG_INT && i > INT_MAX))
                return cfg_fail(y, n, "%s is too large (at most %lld), got %s", what,
                                t == CFG_INT ? (long long)INT_MAX : LLONG_MAX, s);
            d = (double)i;
            ok = rc == 0 && (r == CFG_POS ? i >= 1 : cfg_in_range(r, d));
        }
    }
    if (!ok)
        return cfg_fail(y, n, "%s %s, got %s", what, cfg_rule(t, r), cfg_got(n, got, sizeof got));
    *v = d;
    if (iv)
        *iv = i;
    return 0;
}

int cfg_read_int(cfg_yaml_t *y, const yaml_node_t *n, const char *what, cfg_range_t r,
                 int *out)
{
    double d = 0.0;
    long long i = 0;
    if (cfg_read(y, n, what, CFG_INT, r, &d, &i) < 0)
        return -1;
    *out = (int)i;
    return 0;
}

int cfg_read_bool(cfg_yaml_t *y, const yaml_node_t *n, const char *what, int *out)
{
    double d = 0.0;
    if (cfg_read(y, n, what, CFG_BOOL, CFG_ANY, &d, NULL) < 0)
        return -1;
    *out = d != 0.0;
    return 0;
}

/* A non-empty text value (plain or quoted). */
int cfg_read_string(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                    const char **out)
{
    char got[96];
    if (n->type != YAML_SCALAR_NODE || cfg_is_null(n) || !*cfg_text(n))
        return cfg_fail(y, n, "%s must be a non-empty text value, got %s", what,
                        cfg_got(n, got, sizeof got));
    *out = cfg_text(n);
    return 0;
}

/* One of `names` (its index in *out). */
int cfg_read_choice(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                    const char *const *names, int count, int *out)
{
    char got[96], list[256];
    if (n->type == YAML_SCALAR_NODE)
        for (int i = 0; i < count; i++)
            if (!strcmp(cfg_text(n), names[i])) {
                *out = i;
                return 0;
            }
    cfg_join(names, count, list, sizeof list);
    return cfg_fail(y, n, "%s must be one of %s, got %s", what, list, cfg_got(n, got, sizeof got));
}

/* A name that becomes part of file names, HDF5 groups and run ids: [A-Za-z0-9_.-]+. */
int cfg_read_name(cfg_yaml_t *y, const yaml_node_t *n, const char *what, char *out,
                  size_t size)
{
    const char *s = NULL;
    if (cfg_read_string(y, n, what, &s) < 0)
        return -1;
    size_t len = strlen(s);
    if (len >= size)
        return cfg_fail(y, n, "%s '%.40s...' is too long (at most %zu characters)", what, s,
                        size - 1);
    for (const char *c = s; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
        if (!ok)
            return cfg_fail(y, n,
                            "%s '%s' may contain only letters, digits, '_', '.' and '-' (it "
                            "becomes part of file, group and run names)", what, s);
    }
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return cfg_fail(y, n, "%s cannot be '%s'", what, s);
    memcpy(out, s, len + 1);
    return 0;
}

/* A list of distinct integers (classes): at least `min_n`, at most `max_n`. */
int cfg_read_int_list(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                      const char *item, int min_n, int max_n, cfg_range_t r, int *out,
                      int *count)
{
    char got[96];
    if (n->type != YAML_SEQUENCE_NODE)
        return cfg_fail(y, n, "%s must be a list, got %s", what, cfg_got(n, got, sizeof got));
    int len = cfg_seq_len(n);
    if (len < min_n || len > max_n)
        return cfg_fail(y, n, "%s must list %d to %d entries, got %d", what, min_n, max_n, len);
    for (int i = 0; i < len; i++) {
        yaml_node_t *it = cfg_seq_item(y, n, i);
        if (cfg_read_int(y, it, item, r, &out[i]) < 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (out[j] == out[i]) {
                yaml_node_t *first = cfg_seq_item(y, n, j);
                return cfg_fail(y, it, "duplicate %s %d in %s (first at line %d, column %d)",
                                item, out[i], what, cfg_line(first), cfg_col(first));
            }
    }
    *count = len;
    return 0;
}

/* A libyaml failure as "FILE:LINE:COLUMN: YAML syntax error: ...". */
static void cfg_yaml_error(cfg_yaml_t *y, const yaml_parser_t *parser, const char *text)
{
    if (parser->error == YAML_MEMORY_ERROR) {
        ss_error_set(y->err, SS_EXIT_RUNTIME, "%s: out of memory while reading YAML", y->file);
        return;
    }
    const char *problem = parser->problem ? parser->problem : "unreadable YAML";
    int line, col;
    if (parser->error == YAML_READER_ERROR) {
        /* encoding problems carry a byte offset, not a mark */
        line = 1;
        col = 1;
        for (size_t i = 0; i < parser->problem_offset && text[i]; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        ss_error_at(y->err, SS_EXIT_INPUT, y->file, line, col,
                    "not readable as UTF-8 text: %s (byte %zu)", problem,
                    parser->problem_offset);
        return;
    }
    line = (int)parser->problem_mark.line + 1;
    col = (int)parser->problem_mark.column + 1;

    /* a tab in the indentation is the classic cause of this one */
    const char *hint = "";
    if (strstr(problem, "cannot start any token")) {
        const char *s = text;
        for (int l = 1; l < line && s; l++) {
            s = strchr(s, '\n');
            if (s)
                s++;
        }
        if (s) {
            size_t len = strcspn(s, "\n");
            if (memchr(s, '\t', len))
                hint = "; YAML does not allow tabs for indentation, use spaces";
        }
    }
    if (parser->context)
        ss_error_at(y->err, SS_EXIT_INPUT, y->file, line, col,
                    "YAML syntax error: %s (%s at line %d, column %d)%s", problem,
                    parser->context, (int)parser->context_mark.line + 1,
                    (int)parser->context_mark.column + 1, hint);
    else
        ss_error_at(y->err, SS_EXIT_INPUT, y->file, line, col, "YAML syntax error: %s%s",
                    problem, hint);
}

/* ---- the document ---------------------------------------------------------------------- */

int cfg_yaml_open(cfg_yaml_t *y, const char *file, const char *text, ss_error_t *err,
                  yaml_node_t **root)
{
    memset(y, 0, sizeof *y);
    y->file = file;
    y->err = err;
    *root = NULL;
    if (!yaml_parser_initialize(&y->parser)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot set up the YAML parser (out of memory)",
                     file);
        return -1;
    }
    y->have_parser = 1;
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&y->parser, &y->doc)) {
        cfg_yaml_error(y, &y->parser, text);
        return -1;
    }
    y->have_doc = 1;
    yaml_node_t *first = yaml_document_get_root_node(&y->doc);
    if (!first) {
        ss_error_at(err, SS_EXIT_INPUT, file, 1, 1, "the sweep file is empty: it needs at "
                    "least 'name' and 'datasets'");
        return -1;
    }
    if (!yaml_parser_load(&y->parser, &y->extra)) {
        cfg_yaml_error(y, &y->parser, text);
        return -1;
    }
    y->have_extra = 1;
    yaml_node_t *second = yaml_document_get_root_node(&y->extra);
    if (second) {
        ss_error_at(err, SS_EXIT_INPUT, file, cfg_line(second), cfg_col(second),
                    "a sweep file holds one YAML document; found a second one");
        return -1;
    }
    *root = first;
    return 0;
}

void cfg_yaml_close(cfg_yaml_t *y)
{
    if (y->have_extra)
        yaml_document_delete(&y->extra);
    if (y->have_doc)
        yaml_document_delete(&y->doc);
    if (y->have_parser)
        yaml_parser_delete(&y->parser);
    y->have_extra = y->have_doc = y->have_parser = 0;
}
