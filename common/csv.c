/* csv.c -- see csv.h. */
#include "common/csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(csv_reader *r, const char *text)
{
    memset(r, 0, sizeof *r);
    r->p = text;
    r->next_line = 1;
    /* Skip a UTF-8 byte-order mark, which spreadsheet exports add. */
    if (strncmp(r->p, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
}

void csv_free(csv_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

static int ensure(csv_reader *r, size_t need)
{
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(r->buf, cap);
    if (!grown)
        return -1;
    r->buf = grown;
    r->cap = cap;
    return 0;
}

/* Append byte c to the row's field storage, growing it as needed (by
 * doubling, so a row costs time linear in its length). */
static int put(csv_reader *r, size_t *o, char c)
{
    if (*o >= r->cap && ensure(r, *o + 1) < 0)
        return -1;
    r->buf[(*o)++] = c;
    return 0;
}

int csv_next(csv_reader *r, migr_err *err)
{
    size_t o = 0;
    size_t starts[CSV_MAX_FIELDS];

    while (*r->p == '\n' || *r->p == '\r') {   /* blank lines */
        r->next_line += *r->p == '\n';
        r->p++;
    }
    if (!*r->p)
        return 0;
    r->line = r->next_line;
    r->nfields = 0;
    /* The storage grows with the row (put); sizing it from the rest of the
     * text, row after row, would take time quadratic in the rows. */
    for (;;) {
        if (r->nfields == CSV_MAX_FIELDS)
            return migr_errf(err, "line %d: more than %d fields", r->line, CSV_MAX_FIELDS);
        starts[r->nfields++] = o;
        if (*r->p == '"') {
            r->p++;
            for (;;) {
                if (!*r->p)
                    return migr_errf(err, "line %d: a quoted field is not closed", r->line);
                if (*r->p == '"' && r->p[1] == '"') {
                    if (put(r, &o, '"') < 0)
                        return migr_errf(err, "line %d: out of memory", r->line);
                    r->p += 2;
                } else if (*r->p == '"') {
                    r->p++;
                    break;
                } else {
                    r->next_line += *r->p == '\n';
                    if (put(r, &o, *r->p++) < 0)
                        return migr_errf(err, "line %d: out of memory", r->line);
                }
            }
            if (*r->p && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
                return migr_errf(err, "line %d: text after a closing quote", r->line);
        } else {
            while (*r->p && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
                if (put(r, &o, *r->p++) < 0)
                    return migr_errf(err, "line %d: out of memory", r->line);
        }
        if (put(r, &o, '\0') < 0)
            return migr_errf(err, "line %d: out of memory", r->line);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == '\r')
            r->p++;
        if (*r->p == '\n') {
            r->p++;
            r->next_line++;
        }
        break;
    }
    for (int i = 0; i < r->nfields; i++)
        r->field[i] = r->buf + starts[i];
    return 1;
}

void csv_write_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
