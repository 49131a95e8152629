/*
 * record.h - the binary codec of results-log records and MPI result messages.
 *
 * A payload is self-describing and little-endian:
 *     u32 payload version (1) | u32 field count | fields
 * each field  u8 type | u8 name length | name | u64 data length | data.  Types:
 * 1 int64, 2 float64 (IEEE bits), 3 UTF-8 string (no NUL), 4 int64[], 5 float64[],
 * 6 string list (u32 count, then u32 length + bytes per string).
 * Readers skip fields they do not know, so a newer writer's additions are harmless; a
 * payload whose version is newer than this build is an error (-2), never corruption.
 *
 * Three payloads exist: the log header (sweep name, sweep YAML text, creation time), a
 * dataset description (ss_dataset_info_t) and a run result (ss_result_t, encoded field by
 * field from ss_result_fields[]; the training values as float64 fields
 * "training.<key>", so a new training key is recorded without a change here).
 * The framing of payloads into a log file is log.h's business.
 */
#ifndef SPECSWEEP_RECORD_H
#define SPECSWEEP_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "specsweep/data.h"
#include "specsweep/result.h"
#include "specsweep/util.h"

#define SS_RECORD_PAYLOAD_VERSION 1

/* A payload being built. */
typedef struct {
    unsigned char *p;  /* malloc'd; the caller frees it after ss_payload_end */
    size_t len, cap;
    size_t start;      /* offset of the payload (room for a frame head before it) */
    uint32_t n_fields;
} ss_payload_t;

/* Start a payload after `prefix` reserved bytes (a frame head the caller fills in). */
void ss_payload_begin(ss_payload_t *b, size_t prefix);
/* Reserve n bytes at the end; returns where they start (valid until the next grow). */
unsigned char *ss_payload_grow(ss_payload_t *b, size_t n);
/* Finish the payload (writes its field count). */
void ss_payload_end(ss_payload_t *b);

/* The log header record's contents. */
typedef struct {
    char sweep_name[SS_NAME_MAX];
    char *yaml_text;           /* malloc'd */
    char created_utc[32];
} ss_log_header_t;

/* Append the fields of one payload to b (between ss_payload_begin and _end). */
void ss_record_encode_header(ss_payload_t *b, const ss_log_header_t *h);
void ss_record_encode_dataset(ss_payload_t *b, const ss_dataset_info_t *ds);
void ss_record_encode_result(ss_payload_t *b, const ss_result_t *r);

/*
 * Decode one payload of `len` bytes. Every length is checked against the buffer. Returns
 * 0; -1 if it is corrupt (SS_EXIT_RUNTIME: which field and what is wrong; the output is
 * left zeroed); -2 if it was written by a newer specsweep (SS_EXIT_INPUT). The caller
 * frees what a successful decode filled in (ss_result_free, ss_dataset_info_free,
 * free(h->yaml_text)).
 * decode_result: r->absent and *absent (may be NULL) get a bit (1u << index in
 * ss_result_fields) for every SS_FIELD_OPTIONAL field the payload lacks; those keep
 * their zero value. Training keys the payload lacks (not in use when it was written:
 * ss_training_key_in_use) keep their defaults.
 */
int ss_record_decode_header(const unsigned char *p, size_t len, ss_log_header_t *h,
                            ss_error_t *err);
int ss_record_decode_dataset(const unsigned char *p, size_t len, ss_dataset_info_t *ds,
                             ss_error_t *err);
int ss_record_decode_result(const unsigned char *p, size_t len, ss_result_t *r,
                            unsigned *absent, ss_error_t *err);

/* A result as one malloc'd buffer (the MPI message of a finished run; the caller frees
   *buf). Returns -1 (and *buf NULL) if !ss_result_check(r). */
int ss_record_pack_result(const ss_result_t *r, unsigned char **buf, size_t *len);
/* The inverse: 0, or -1 (SS_EXIT_RUNTIME, "corrupt result payload: ...") with *r zeroed.
   A missing task is an error here: messages always carry it; other optional fields may
   be absent (r->absent). */
int ss_record_unpack_result(const unsigned char *buf, size_t len, ss_result_t *r,
                            ss_error_t *err);

/* Little-endian integers, for the log's frames. */
void ss_put_u32(unsigned char *p, uint32_t v);
void ss_put_u64(unsigned char *p, uint64_t v);
uint32_t ss_get_u32(const unsigned char *p);
uint64_t ss_get_u64(const unsigned char *p);

#endif
