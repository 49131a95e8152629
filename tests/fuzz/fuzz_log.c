/*
 * fuzz_log.c - the results log reader (ss_log_read, log.c) and the payload decoder under
 * it (record.c): damage anywhere, lengths past the end, records that decode to nonsense.
 *
 * Contract: a log that is not one fails with SS_EXIT_INPUT (a read error would be
 * SS_EXIT_RUNTIME) naming the file; a read log has its intact records within the file,
 * its damaged regions in order and between them, and every result findable by its id.
 */
#include <string.h>

#include "fuzz_util.h"
#include "specsweep/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The memory rule of this target (fuzz_util.h). */
const size_t fuzz_memory_limit = (size_t)64 << 20;

static fuzz_file_t log_file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_set(&log_file, data, size);
    ss_log_contents_t c;
    ss_error_t err = {0};
    if (ss_log_read(path, &c, &err) != 0) {
        fuzz_check_error(&err, path, 1);
        ss_log_contents_free(&c);
        return 0;
    }
    FUZZ_CHECK(c.valid_bytes >= 0 && (size_t)c.valid_bytes <= size, "valid_bytes %ld of %zu",
               c.valid_bytes, size);
    long prev = 0;
    for (int k = 0; k < c.n_damage; k++) {
        const ss_log_damage_t *d = &c.damage[k];
        FUZZ_CHECK(d->start >= prev && d->start < d->end && (size_t)d->end <= size &&
                   d->intact_after >= 1, "damage [%ld, %ld) after %ld, %d intact after",
                   d->start, d->end, prev, d->intact_after);
        prev = d->end;
    }
    for (int i = 0; i < c.n_results; i++) {
        FUZZ_CHECK(ss_log_contents_find(&c, c.results[i].run_id) == &c.results[i],
                   "result %s not found by its id", c.results[i].run_id);
    }
    char line[1024];
    ss_log_damage_describe(&c, path, line, sizeof line);
    ss_log_contents_free(&c);
    return 0;
}
