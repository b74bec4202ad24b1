/* csv.h -- RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF.
 *
 * The reader walks a NUL-terminated buffer it does not own; each row's
 * fields are copied into storage the reader owns until the next row. */
#ifndef MIGR_CSV_H
#define MIGR_CSV_H

#include <stdio.h>

#include "common/error.h"

enum { CSV_MAX_FIELDS = 16 };

typedef struct csv_reader {
    const char *p;             /* next unread byte */
    int line;                  /* line of the row just read, from 1 */
    int next_line;
    char *buf;                 /* field storage for the current row */
    size_t cap;
    char *field[CSV_MAX_FIELDS];
    int nfields;
} csv_reader;

void csv_init(csv_reader *r, const char *text);
/* Read the next row: 1 on a row, 0 at the end, -1 on a malformed row (err
 * names the line).  Blank lines are skipped. */
int csv_next(csv_reader *r, migr_err *err);
void csv_free(csv_reader *r);

/* Write s as one CSV field, quoted when it needs to be. */
void csv_write_field(FILE *f, const char *s);

#endif
