/* fuzz_cron.c -- cron expressions and time zones (coordinator/cron.h) on
 * any bytes, as a schedule's `cron` and `tz` arrive from a client.
 *
 * The input, as a NUL-terminated string, is "EXPR" or "EXPR|ZONE".  EXPR goes
 * to cron_parse; an error must say what is wrong.  A parsed expression has no
 * bit outside its fields' ranges, and cron_next in UTC from a fixed instant
 * gives either -1 or a time after it whose minute, hour, day and month the
 * expression allows, with no allowed minute between the two (checked minute
 * by minute over the first three days); three firings in a row.  ZONE, if
 * any, goes to cron_zone_open, and a zone it opens gives three increasing
 * firings of a parsed EXPR from the same instant (or -1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/cron.h"
#include "tests/fuzz/fuzz_util.h"

enum { SCAN = 3 * 86400 }; /* seconds checked minute by minute */

static cron_zone *utc;

static void close_zone(void)
{
    cron_zone_free(&utc);
}

/* Whether e allows the UTC minute t (Vixie's day rule, cron.h). */
static int allows(const cron_expr *e, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_sec != 0)
        return 0;
    int by_mday = e->mday >> tm.tm_mday & 1, by_wday = e->wday >> tm.tm_wday & 1;
    int day = e->mday_star || e->wday_star ? by_mday && by_wday : by_mday || by_wday;
    return (e->minute >> tm.tm_min & 1) && (e->hour >> tm.tm_hour & 1) &&
           (e->month >> (tm.tm_mon + 1) & 1) && day;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    migr_err err = {{0}};
    cron_expr e;

    if (!utc) {
        utc = cron_zone_open("UTC", &err);
        if (!utc) {
            fprintf(stderr, "fuzz_cron: %s\n", err.msg);
            abort();
        }
        atexit(close_zone);
    }
    char *text = fuzz_cstring(data, size), *bar = strchr(text, '|');
    cron_zone *zone = NULL;
    if (bar) {
        *bar = '\0';
        zone = cron_zone_open(bar + 1, &err);
        if (!zone && !err.msg[0])
            abort();
        err.msg[0] = '\0';
    }
    int parsed = cron_parse(text, &e, &err);
    free(text);
    if (parsed < 0) {
        if (!err.msg[0])
            abort();
        cron_zone_free(&zone);
        return 0;
    }
    if (zone) {
        int64_t t = 1767225600;
        for (int i = 0; i < 3; i++) {
            int64_t next = cron_next(&e, zone, t);
            if (next == -1)
                break;
            if (next <= t) {
                fprintf(stderr, "fuzz_cron: in %s, cron_next(%lld) = %lld\n", cron_zone_name(zone),
                        (long long)t, (long long)next);
                abort();
            }
            t = next;
        }
        cron_zone_free(&zone);
    }
    if (e.minute >> 60 || e.hour >> 24 || (e.mday & 1) || (e.month & 1) ||
        e.month >> 13 || e.wday >> 7 || !e.minute || !e.hour || !e.mday || !e.month || !e.wday) {
        fprintf(stderr, "fuzz_cron: bits outside the fields' ranges\n");
        abort();
    }
    int64_t t = 1767225600; /* 2026-01-01T00:00:00Z */
    for (int i = 0; i < 3; i++) {
        int64_t next = cron_next(&e, utc, t);
        if (next != -1 && (next <= t || !allows(&e, next))) {
            fprintf(stderr, "fuzz_cron: cron_next(%lld) = %lld is not a firing after it\n",
                    (long long)t, (long long)next);
            abort();
        }
        /* No firing skipped: nothing allowed in between (or, for -1, soon). */
        int64_t until = next == -1 || next - t > SCAN ? t + SCAN : next;
        for (int64_t m = t - t % 60 + 60; m < until; m += 60)
            if (allows(&e, m)) {
                fprintf(stderr, "fuzz_cron: cron_next(%lld) = %lld skips %lld\n", (long long)t,
                        (long long)next, (long long)m);
                abort();
            }
        if (next == -1)
            break;
        t = next;
    }
    return 0;
}
