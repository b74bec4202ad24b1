/* CSV reading: plain, quoted, doubled quotes, blank lines, errors. */
#include "check.h"

#include "common/csv.h"

TEST(csv_reads_plain_and_quoted_fields)
{
    csv_reader r;
    migr_err err;
    csv_init(&r, "path,label,subtitle\r\na.mp4,sad,\"Well, \"\"fine\"\".\"\n\nb.mp4,happy\n");
    int rc = csv_next(&r, &err);
    CHECK_INT(1, rc);
    CHECK_INT(3, r.nfields);
    CHECK_STR("subtitle", r.field[2]);
    CHECK_INT(1, csv_next(&r, &err));
    CHECK_INT(2, r.line);
    CHECK_STR("Well, \"fine\".", r.field[2]);
    CHECK_INT(1, csv_next(&r, &err));
    CHECK_INT(4, r.line);
    CHECK_INT(2, r.nfields);
    CHECK_STR("happy", r.field[1]);
    CHECK_INT(0, csv_next(&r, &err));
    csv_free(&r);
}

TEST(csv_rejects_an_unclosed_quote_naming_the_line)
{
    csv_reader r;
    migr_err err;
    csv_init(&r, "a,b\n\"open,c\n");
    CHECK_INT(1, csv_next(&r, &err));
    int rc = csv_next(&r, &err);
    csv_free(&r);
    CHECK_INT(-1, rc);
    CHECK_MSG(strstr(err.msg, "line 2") != NULL, "expected the error to name line 2, got \"%s\"", err.msg);
}
