/*
 * config_yaml.h - reading values out of a libyaml document, with every failure reported
 * as "FILE:LINE:COLUMN: message" (SS_EXIT_INPUT) at the offending node.
 *
 * Internal to the config module: included by config.c (the sweep file's sections and
 * checks) and config_yaml.c (this reader) only; no other file may include it. Nothing
 * here knows what a sweep file contains: the sections, their keys and defaults are
 * config.c's.
 *
 * Every reader returns 0 (or a non-NULL pointer) on success and -1 (or NULL) with the
 * error recorded on y->err on failure; the first error recorded is the one reported.
 * Node pointers belong to the document and live until cfg_yaml_close.
 */
#ifndef SPECSWEEP_CONFIG_YAML_H
#define SPECSWEEP_CONFIG_YAML_H

#include <stddef.h>
#include <yaml.h>

#include "specsweep/util.h"

#define CFG_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A scalar with an explicit tag that the reader understands (cfg_yaml_open). */
typedef struct {
    size_t index;                          /* where it starts: the byte of its tag */
    int text;                              /* 1: !!str or the non-specific "!" (text, even
                                              when it reads as a number); 0: !!int,
                                              !!float, !!bool or !!null (its value was
                                              checked; it reads as unquoted) */
} cfg_tagged_t;

/* One YAML text loaded as a document. */
typedef struct {
    const char *file;                      /* the path, for messages */
    ss_error_t *err;                       /* where failures are recorded */
    yaml_parser_t parser;
    yaml_document_t doc;                   /* the document */
    yaml_document_t extra;                 /* what follows it: must be nothing */
    int have_parser, have_doc, have_extra;
    cfg_tagged_t *tagged;                  /* in file order */
    int n_tagged, cap_tagged;
} cfg_yaml_t;

/* ---- the document ---------------------------------------------------------------------- */

/*
 * Load `text` (`len` bytes; only read during this call) as exactly one YAML document;
 * `file` names it in messages. Before libyaml builds the document, the text is refused
 * if it is longer than SS_SWEEP_MAX_BYTES or holds a NUL byte, and its events are read
 * once to refuse nesting deeper than SS_SWEEP_MAX_DEPTH and explicit tags other than the
 * core ones: !!str (and "!") make a scalar text, as quotes do; !!int, !!float, !!bool and
 * !!null must match the value, which then reads as if unquoted; !!seq and !!map must tag
 * a list and a mapping. Returns 0 with *root its root node, or -1 with y->err set:
 * SS_EXIT_INPUT for any of these, a syntax or encoding error (libyaml's problem and
 * position), an empty text or a second document; SS_EXIT_RUNTIME when libyaml runs out
 * of memory. Call cfg_yaml_close in either case.
 */
int cfg_yaml_open(cfg_yaml_t *y, const char *file, const char *text, size_t len,
                  ss_error_t *err, yaml_node_t **root);
/* Release the parser and documents; accepts a zeroed or half-opened reader. */
void cfg_yaml_close(cfg_yaml_t *y);

/* ---- nodes and positions ----------------------------------------------------------------- */

/* The node of the document with this index (from a pair or a sequence item). */
yaml_node_t *cfg_node(cfg_yaml_t *y, int index);
/* Item i of sequence node n. */
yaml_node_t *cfg_seq_item(cfg_yaml_t *y, const yaml_node_t *n, int i);

/* 1-based line and column of node n (1 for NULL: the start of the file). */
static inline int cfg_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}
static inline int cfg_col(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.column + 1 : 1;
}
/* The text of scalar node n. */
static inline const char *cfg_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}
/* The number of items of sequence node n. */
static inline int cfg_seq_len(const yaml_node_t *n)
{
    return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* 1 for an unquoted scalar (or one tagged !!int, !!float, !!bool or !!null); 0 for a
   quoted one or one tagged !!str. */
int cfg_is_plain(const yaml_node_t *n);

/* ---- messages ---------------------------------------------------------------------------- */

/* Record a user error at node `at` (NULL: the start of the file). Returns -1. */
int cfg_fail(cfg_yaml_t *y, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record a user error at a 1-based line and column. Returns -1. */
int cfg_fail_pos(cfg_yaml_t *y, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* How node n reads in "got ..." of a message ("a mapping", "'text'", "12", ...) into
   buf[size]. Returns buf. */
const char *cfg_got(const yaml_node_t *n, char *buf, size_t size);
/* "a, b, c" of names[0..n-1] into buf[size] (cut short when it does not fit). */
void cfg_join(const char *const *names, int n, char *buf, size_t size);
/* Fail on key node `key` unknown in a mapping `where` (e.g. "in training") whose keys
   are known[0..n_known-1]: the message lists them and suggests the closest one. -1. */
int cfg_unknown_key(cfg_yaml_t *y, const yaml_node_t *key, const char *where,
                    const char *const *known, int n_known);

/* ---- mappings ---------------------------------------------------------------------------- */

/* The key of pair `pr` of mapping `map`: a non-empty scalar not used by an earlier pair
   (libyaml accepts duplicate keys; a sweep file must not). NULL + error otherwise. */
const char *cfg_key(cfg_yaml_t *y, const yaml_node_t *map, const yaml_node_pair_t *pr);
/* The first pair of mapping `map` with key `name`, or NULL (also when map is not a
   mapping). Records no error. */
yaml_node_pair_t *cfg_find(cfg_yaml_t *y, yaml_node_t *map, const char *name);
/* A section `what` that must be a mapping; an empty value counts as an empty mapping.
   Returns 1 for a mapping, 0 for empty, -1 + error otherwise. */
int cfg_section(cfg_yaml_t *y, const yaml_node_t *n, const char *what);

/* ---- repeats in long lists ----------------------------------------------------------------- */

/* The values a list has shown so far, with where: the duplicate checks of lists that may
   be long (seeds, topk) in time linear in the list, in file order. Zero it, then
   cfg_seen_init; free with cfg_seen_free. */
typedef struct {
    long long *value;
    int *index;              /* -1: empty slot */
    size_t mask;             /* slots - 1, a power of 2 minus 1 */
} cfg_seen_t;

/* Room for n values. */
void cfg_seen_init(cfg_seen_t *s, int n);
/* Note value v of entry i: returns the index of an earlier entry with the same value
   (v is then not noted again), or -1. */
int cfg_seen_add(cfg_seen_t *s, long long v, int i);
void cfg_seen_free(cfg_seen_t *s);

/* ---- typed values ------------------------------------------------------------------------ */

typedef enum { CFG_REAL, CFG_INT, CFG_I64, CFG_BOOL } cfg_type_t;
typedef enum {
    CFG_ANY,      /* any finite value */
    CFG_POS,      /* > 0 (integers: >= 1) */
    CFG_NONNEG,   /* >= 0 */
    CFG_UNIT_CO,  /* [0, 1) */
    CFG_UNIT_OO,  /* (0, 1) */
    CFG_UNIT_CC   /* [0, 1] */
} cfg_range_t;

/* 1 if v lies in range r. */
int cfg_in_range(cfg_range_t r, double v);
/* "must be ..." for a type and range, for messages (static text). */
const char *cfg_rule(cfg_type_t t, cfg_range_t r);
/* Parse a whole string as an integer: "12", or any integral number such as "1e3".
   Returns 0, -1 if it is not an integer, -2 if it is one beyond 64 bits. */
int cfg_parse_integer(const char *s, long long *out);

/* Scalar n as a value of type t within range r; `what` names it in messages. *v gets the
   value (booleans 0/1); *iv (may be NULL) gets integers exactly. 0 or -1. */
int cfg_read(cfg_yaml_t *y, const yaml_node_t *n, const char *what, cfg_type_t t,
             cfg_range_t r, double *v, long long *iv);
/* An int (CFG_INT) in range r. 0 or -1. */
int cfg_read_int(cfg_yaml_t *y, const yaml_node_t *n, const char *what, cfg_range_t r,
                 int *out);
/* true/yes or false/no as 1/0. 0 or -1. */
int cfg_read_bool(cfg_yaml_t *y, const yaml_node_t *n, const char *what, int *out);
/* A non-empty text value (plain or quoted); *out points into the document. 0 or -1. */
int cfg_read_string(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                    const char **out);
/* One of names[0..count-1]: its index in *out. 0 or -1. */
int cfg_read_choice(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                    const char *const *names, int count, int *out);
/* A name that becomes part of file names, HDF5 groups and run ids: [A-Za-z0-9_.-]+, not
   "." or "..", shorter than size; copied into out. 0 or -1. */
int cfg_read_name(cfg_yaml_t *y, const yaml_node_t *n, const char *what, char *out,
                  size_t size);
/* A list of min_n..max_n distinct integers in range r into out[] (room for max_n),
   *count their number; `item` names one entry in messages. 0 or -1. */
int cfg_read_int_list(cfg_yaml_t *y, const yaml_node_t *n, const char *what,
                      const char *item, int min_n, int max_n, cfg_range_t r, int *out,
                      int *count);

#endif
