/*
 * config_yaml.c - reading values out of a libyaml document for the sweep file, every
 * failure reported at its node as "FILE:LINE:COLUMN: message". See config_yaml.h.
 */
#include "config_yaml.h"

#include "specsweep/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The style of a scalar tagged !!str (or "!"): libyaml gives every scalar of a document
   a concrete style, so "any" is free to mean "text by its tag" (cfg_yaml_open). */
#define CFG_TAGGED_TEXT YAML_ANY_SCALAR_STYLE

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
            snprintf(buf, size, "'%.40s%s' (%s)", s, more,
                     n->data.scalar.style == CFG_TAGGED_TEXT ? "tagged as text"
                                                             : "quoted, so text");
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

/* ---- repeats in long lists ---------------------------------------------------------------- */

void cfg_seen_init(cfg_seen_t *s, int n)
{
    size_t slots = 16;
    while (slots < 2 * (size_t)(n > 0 ? n : 1))
        slots *= 2;
    s->value = ss_malloc(slots * sizeof *s->value);
    s->index = ss_malloc(slots * sizeof *s->index);
    for (size_t k = 0; k < slots; k++)
        s->index[k] = -1;
    s->mask = slots - 1;
}

int cfg_seen_add(cfg_seen_t *s, long long v, int i)
{
    uint64_t h = (uint64_t)v * UINT64_C(0x9E3779B97F4A7C15);
    for (size_t k = (size_t)(h >> 32) & s->mask;; k = (k + 1) & s->mask) {
        if (s->index[k] < 0) {
            s->value[k] = v;
            s->index[k] = i;
            return -1;
        }
        if (s->value[k] == v)
            return s->index[k];
    }
}

void cfg_seen_free(cfg_seen_t *s)
{
    free(s->value);
    free(s->index);
    memset(s, 0, sizeof *s);
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
    cfg_seen_t seen;
    cfg_seen_init(&seen, len);
    int rc = 0;
    for (int i = 0; i < len && rc == 0; i++) {
        yaml_node_t *it = cfg_seq_item(y, n, i);
        if (cfg_read_int(y, it, item, r, &out[i]) < 0) {
            rc = -1;
            break;
        }
        int j = cfg_seen_add(&seen, out[i], i);
        if (j >= 0) {
            yaml_node_t *first = cfg_seq_item(y, n, j);
            rc = cfg_fail(y, it, "duplicate %s %d in %s (first at line %d, column %d)", item,
                          out[i], what, cfg_line(first), cfg_col(first));
        }
    }
    cfg_seen_free(&seen);
    if (rc == 0)
        *count = len;
    return rc;
}

/* The 1-based line and column of byte `offset` of text (columns count characters, as
   libyaml's marks do: UTF-8 continuation bytes do not start one). */
static void cfg_position(const char *text, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
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
        cfg_position(text, parser->problem_offset, &line, &col);
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

#define CFG_CORE_TAG "tag:yaml.org,2002:"

/* A tag as the file would write it: "!!str" for the core "tag:yaml.org,2002:str". */
static const char *cfg_tag_name(const char *tag, char *buf, size_t size)
{
    size_t n = strlen(CFG_CORE_TAG);
    if (!strncmp(tag, CFG_CORE_TAG, n))
        snprintf(buf, size, "!!%.60s", tag + n);
    else
        snprintf(buf, size, "%.60s", tag);
    return buf;
}

/* The core tag `name` ("str", "int", ...) of a resolved tag, or NULL. */
static const char *cfg_core(const char *tag)
{
    size_t n = strlen(CFG_CORE_TAG);
    return strncmp(tag, CFG_CORE_TAG, n) ? NULL : tag + n;
}

static int cfg_bad_tag(cfg_yaml_t *y, const yaml_event_t *ev, const char *tag,
                       const char *on)
{
    char name[80];
    return cfg_fail_pos(y, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                        "unsupported YAML tag '%s' on %s: a sweep file understands only "
                        "!!str, !!int, !!float, !!bool and !!null on values, !!seq on lists "
                        "and !!map on mappings", cfg_tag_name(tag, name, sizeof name), on);
}

/* The explicit tag of a scalar event: an error unless it is a core scalar tag whose value
   fits it; one that fits is noted in y->tagged. 0 or -1. */
static int cfg_scan_scalar(cfg_yaml_t *y, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    if (!tag)
        return 0;
    const char *v = (const char *)ev->data.scalar.value, *core = cfg_core(tag);
    int text = !strcmp(tag, "!") || (core && !strcmp(core, "str"));
    if (!text) {
        char *end;
        double d = 0.0;
        int fits;
        if (!core)
            return cfg_bad_tag(y, ev, tag, "a value");
        if (!strcmp(core, "int")) {
            errno = 0;
            (void)strtoll(v, &end, 10);
            fits = *v && end != v && !*end && errno != ERANGE;
        } else if (!strcmp(core, "float")) {
            fits = cfg_parse_real(v, &d) == 0;
        } else if (!strcmp(core, "bool")) {
            fits = cfg_parse_bool(v) >= 0;
        } else if (!strcmp(core, "null")) {
            fits = !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
                   !strcmp(v, "NULL");
        } else {
            return cfg_bad_tag(y, ev, tag, "a value");
        }
        if (!fits) {
            static const struct {
                const char *core, *what;
            } what[] = {{"int", "an integer"}, {"float", "a finite number"},
                        {"bool", "true or false"}, {"null", "empty"}};
            const char *w = "";
            for (int k = 0; k < CFG_COUNT(what); k++)
                if (!strcmp(core, what[k].core))
                    w = what[k].what;
            return cfg_fail_pos(y, (int)ev->start_mark.line + 1,
                                (int)ev->start_mark.column + 1,
                                "'%.40s' is tagged !!%s but is not %s", v, core, w);
        }
    }
    if (y->n_tagged == y->cap_tagged) {
        y->cap_tagged = y->cap_tagged ? 2 * y->cap_tagged : 16;
        y->tagged = ss_realloc(y->tagged, (size_t)y->cap_tagged * sizeof *y->tagged);
    }
    y->tagged[y->n_tagged].index = ev->start_mark.index;
    y->tagged[y->n_tagged].text = text;
    y->n_tagged++;
    return 0;
}

/*
 * Read the events of text once before the document is built: nesting deeper than
 * SS_SWEEP_MAX_DEPTH and explicit tags other than the core ones are refused. The events
 * come one at a time, so a deep file is refused after its first SS_SWEEP_MAX_DEPTH + 1
 * levels: libyaml's cost per token grows with the nesting, and a file of brackets alone
 * would otherwise take minutes to build. 0, or -1 with y->err set.
 */
static int cfg_yaml_scan(cfg_yaml_t *y, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        ss_error_set(y->err, SS_EXIT_RUNTIME, "%s: cannot set up the YAML parser (out of "
                     "memory)", y->file);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, rc = 0, end = 0;
    while (!end && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            cfg_yaml_error(y, &parser, text);
            rc = -1;
            break;
        }
        const char *tag = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            end = 1;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > SS_SWEEP_MAX_DEPTH) {
                rc = cfg_fail_pos(y, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                                  "nested deeper than %d levels of mappings and lists, the "
                                  "most a sweep file may have", SS_SWEEP_MAX_DEPTH);
                break;
            }
            if (ev.type == YAML_SEQUENCE_START_EVENT) {
                tag = (const char *)ev.data.sequence_start.tag;
                if (tag && strcmp(tag, "!") && !(cfg_core(tag) && !strcmp(cfg_core(tag), "seq")))
                    rc = cfg_bad_tag(y, &ev, tag, "a list");
            } else {
                tag = (const char *)ev.data.mapping_start.tag;
                if (tag && strcmp(tag, "!") && !(cfg_core(tag) && !strcmp(cfg_core(tag), "map")))
                    rc = cfg_bad_tag(y, &ev, tag, "a mapping");
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            rc = cfg_scan_scalar(y, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Give the scalars of the document that cfg_yaml_scan found tagged the style their tag
   means: CFG_TAGGED_TEXT for !!str, plain for the others. A node starts where its event
   did, at its tag. */
static void cfg_apply_tags(cfg_yaml_t *y)
{
    for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top && y->n_tagged; n++) {
        if (n->type != YAML_SCALAR_NODE)
            continue;
        size_t at = n->start_mark.index;
        int lo = 0, hi = y->n_tagged - 1;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2;
            if (y->tagged[mid].index == at) {
                n->data.scalar.style =
                    y->tagged[mid].text ? CFG_TAGGED_TEXT : YAML_PLAIN_SCALAR_STYLE;
                break;
            }
            if (y->tagged[mid].index < at)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
    }
}

int cfg_yaml_open(cfg_yaml_t *y, const char *file, const char *text, size_t len,
                  ss_error_t *err, yaml_node_t **root)
{
    memset(y, 0, sizeof *y);
    y->file = file;
    y->err = err;
    *root = NULL;
    if (len > SS_SWEEP_MAX_BYTES) {
        ss_error_set(err, SS_EXIT_INPUT, "%s: the sweep file is %zu bytes, more than the %d "
                     "(1 MiB) a sweep file may have", file, len, SS_SWEEP_MAX_BYTES);
        return -1;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line, col;
        cfg_position(text, (size_t)(nul - text), &line, &col);
        ss_error_at(err, SS_EXIT_INPUT, file, line, col, "a NUL byte: a sweep file must be "
                    "text");
        return -1;
    }
    if (cfg_yaml_scan(y, text, len) < 0)
        return -1;
    if (!yaml_parser_initialize(&y->parser)) {
        ss_error_set(err, SS_EXIT_RUNTIME, "%s: cannot set up the YAML parser (out of memory)",
                     file);
        return -1;
    }
    y->have_parser = 1;
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&y->parser, &y->doc)) {
        cfg_yaml_error(y, &y->parser, text);
        return -1;
    }
    y->have_doc = 1;
    cfg_apply_tags(y);
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
    free(y->tagged);
    y->tagged = NULL;
    y->n_tagged = y->cap_tagged = 0;
    y->have_extra = y->have_doc = y->have_parser = 0;
}
