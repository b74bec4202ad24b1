/* fuzz_csv.c -- the manifest CSV reader (common/csv.h) on any bytes.
 *
 * The input, as a NUL-terminated string, is read row by row as
 * ingest_manifest reads a manifest.  Every row read must have 1 to
 * CSV_MAX_FIELDS fields inside the reader's storage and a line number that
 * never goes back; each row written out again with csv_write_field must read
 * back as the same fields (except a row of one empty field, which is a blank
 * line, and a first field starting with a byte-order mark, which the reader
 * skips). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "tests/fuzz/fuzz_util.h"

static void check_round_trip(const csv_reader *r)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        abort();
    for (int i = 0; i < r->nfields; i++) {
        if (i)
            fputc(',', f);
        csv_write_field(f, r->field[i]);
    }
    fputc('\n', f);
    fclose(f);

    csv_reader back;
    migr_err err;
    csv_init(&back, line);
    int rc = csv_next(&back, &err);
    if (rc != 1 || back.nfields != r->nfields) {
        fprintf(stderr, "csv round trip: %d fields became rc %d, %d fields: %s\n", r->nfields, rc,
                back.nfields, line);
        abort();
    }
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(back.field[i], r->field[i]) != 0) {
            fprintf(stderr, "csv round trip: field %d changed\n", i);
            abort();
        }
    if (csv_next(&back, &err) != 0) {
        fprintf(stderr, "csv round trip: one row written, more read back\n");
        abort();
    }
    csv_free(&back);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    csv_reader r;
    migr_err err = {{0}};
    int rc, last_line = 0;

    csv_init(&r, text);
    while ((rc = csv_next(&r, &err)) == 1) {
        if (r.nfields < 1 || r.nfields > CSV_MAX_FIELDS || r.line < last_line || r.line < 1)
            abort();
        last_line = r.line;
        for (int i = 0; i < r.nfields; i++)
            if (r.field[i] < r.buf || r.field[i] >= r.buf + r.cap ||
                !memchr(r.field[i], '\0', (size_t)(r.buf + r.cap - r.field[i])))
                abort();
        if (!(r.nfields == 1 && r.field[0][0] == '\0') &&
            strncmp(r.field[0], "\xEF\xBB\xBF", 3) != 0)
            check_round_trip(&r);
    }
    if (rc < 0 && !err.msg[0])
        abort();  /* an error always says what */
    csv_free(&r);
    free(text);
    return 0;
}
