/* cron.c -- cron expressions (cron.h): parsing, and next firings with ICU's
 * calendar for the time-zone arithmetic. */
#include "coordinator/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

/* ---- parsing ---- */

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names;   /* names[i] is the value lo + i; NULL: numbers only */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, FIELDS };

static const field_def fields[FIELDS] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, wday_names},   /* 7 is Sunday again */
};

static const struct {
    const char *name, *expands;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A number or a name at *p, advancing past it. */
static int parse_value(const char **p, const field_def *f, const char *field, int *out, migr_err *err)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v <= f->hi)
            v = 10 * v + (*s++ - '0');
        if (isdigit((unsigned char)*s) || v < f->lo || v > f->hi)
            return migr_errf(err, "cron %s field \"%s\": %.*s is out of range %d-%d", f->name, field,
                             (int)strspn(*p, "0123456789"), *p, f->lo, f->hi);
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3]))
        for (int i = 0; f->names[i]; i++)
            if (!strncasecmp(s, f->names[i], 3)) {
                *out = f->lo + i;
                *p = s + 3;
                return 0;
            }
    return migr_errf(err, "cron %s field \"%s\": expected a number%s at \"%s\"", f->name, field,
                     f->names ? " or a three-letter English name" : "", s);
}

/* One field's text (NUL-terminated) into bits; star says whether it began with "*". */
static int parse_field(const char *field, const field_def *f, uint64_t *bits, bool *star, migr_err *err)
{
    const char *p = field;
    *bits = 0;
    *star = field[0] == '*';
    for (;;) {
        int lo, hi, step = 1;
        int ranged = 1;
        if (*p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if (parse_value(&p, f, field, &lo, err) < 0)
                return -1;
            hi = lo;
            ranged = 0;
            if (*p == '-') {
                p++;
                if (parse_value(&p, f, field, &hi, err) < 0)
                    return -1;
                if (hi < lo)
                    return migr_errf(err, "cron %s field \"%s\": the range %d-%d runs backwards; write it low-high",
                                     f->name, field, lo, hi);
                ranged = 1;
            }
        }
        if (*p == '/') {
            if (!ranged)
                return migr_errf(err, "cron %s field \"%s\": a step needs a range or *; write %d-%d/... for "
                                 "every step from %d", f->name, field, lo, f->hi, lo);
            p++;
            if (!isdigit((unsigned char)*p))
                return migr_errf(err, "cron %s field \"%s\": expected a step after /", f->name, field);
            long s = 0;
            while (isdigit((unsigned char)*p) && s <= f->hi + 1)
                s = 10 * s + (*p++ - '0');
            if (s < 1 || s > f->hi + 1 || isdigit((unsigned char)*p))
                return migr_errf(err, "cron %s field \"%s\": the step must be 1-%d", f->name, field, f->hi + 1);
            step = (int)s;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ull << v;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            return migr_errf(err, "cron %s field \"%s\": unexpected \"%c\"; an item is *, N or N-M, then "
                             "optionally /STEP, and items are separated by commas", f->name, field, *p);
        p++;
    }
}

int cron_parse(const char *text, cron_expr *e, migr_err *err)
{
    char buf[256], *field[FIELDS + 1];
    int n = 0;

    if (!text)
        return migr_errf(err, "no cron expression");
    while (isspace((unsigned char)*text))
        text++;
    if (text[0] == '@') {
        size_t len = strcspn(text, " \t\r\n");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i].name) == len && !strncasecmp(text, macros[i].name, len) &&
                text[len + strspn(text + len, " \t\r\n")] == '\0')
                return cron_parse(macros[i].expands, e, err);
        return migr_errf(err, "unknown cron macro \"%.*s\": use @yearly, @annually, @monthly, @weekly, "
                         "@daily, @midnight or @hourly", (int)len, text);
    }
    if (strlen(text) >= sizeof buf)
        return migr_errf(err, "cron expression longer than %zu characters", sizeof buf - 1);
    strcpy(buf, text);
    for (char *save = NULL, *tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == FIELDS)
            return migr_errf(err, "cron expression \"%s\" has more than five fields (minute hour "
                             "day-of-month month day-of-week)", text);
        field[n++] = tok;
    }
    if (n != FIELDS)
        return migr_errf(err, "cron expression \"%s\" has %d field%s; five are needed: minute hour "
                         "day-of-month month day-of-week, as in \"0 2 * * *\"", text, n, n == 1 ? "" : "s");

    uint64_t bits[FIELDS];
    bool star[FIELDS];
    for (int i = 0; i < FIELDS; i++)
        if (parse_field(field[i], &fields[i], &bits[i], &star[i], err) < 0)
            return -1;
    memset(e, 0, sizeof *e);
    e->minute = bits[F_MINUTE];
    e->hour = (uint32_t)bits[F_HOUR];
    e->mday = (uint32_t)bits[F_MDAY];
    e->month = (uint16_t)bits[F_MONTH];
    e->wday = (uint8_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);   /* 7 -> Sunday */
    e->mday_star = star[F_MDAY];
    e->wday_star = star[F_WDAY];
    return 0;
}

/* ---- time zones ---- */

enum { ZONE_NAME_MAX = 128 };

struct cron_zone {
    UCalendar *cal;
    char name[ZONE_NAME_MAX];
};

cron_zone *cron_zone_open(const char *name, migr_err *err)
{
    UChar id[ZONE_NAME_MAX], canon[ZONE_NAME_MAX];
    UErrorCode st = U_ZERO_ERROR;
    UBool known = 0;

    if (!name || !*name || strlen(name) >= ZONE_NAME_MAX) {
        migr_errf(err, "time zone name \"%s\" is empty or too long", name ? name : "");
        return NULL;
    }
    u_uastrncpy(id, name, ZONE_NAME_MAX);
    int32_t len = ucal_getCanonicalTimeZoneID(id, -1, canon, ZONE_NAME_MAX, &known, &st);
    if (U_FAILURE(st) || !known || len <= 0) {
        migr_errf(err, "unknown time zone \"%s\": give an IANA name such as Europe/Berlin, "
                  "America/New_York or UTC", name);
        return NULL;
    }
    cron_zone *z = calloc(1, sizeof *z);
    if (!z) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    snprintf(z->name, sizeof z->name, "%s", name);
    z->cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        migr_errf(err, "time zone %s: ICU cannot open a calendar (%s)", name, u_errorName(st));
        cron_zone_free(&z);
        return NULL;
    }
    /* First occurrence of a repeated wall time; a skipped one with the offset
     * from before the change (shifted forward by it). */
    ucal_setAttribute(z->cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    ucal_setAttribute(z->cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
    return z;
}

void cron_zone_free(cron_zone **z)
{
    if (!*z)
        return;
    if ((*z)->cal)
        ucal_close((*z)->cal);
    free(*z);
    *z = NULL;
}

const char *cron_zone_name(const cron_zone *z)
{
    return z->name;
}

void cron_default_zone(char *buf, size_t cap)
{
    UChar id[ZONE_NAME_MAX];
    UErrorCode st = U_ZERO_ERROR;
    int32_t len = ucal_getDefaultTimeZone(id, ZONE_NAME_MAX, &st);
    snprintf(buf, cap, "UTC");
    if (U_SUCCESS(st) && len > 0 && len < ZONE_NAME_MAX && (size_t)len < cap) {
        u_austrncpy(buf, id, (int32_t)cap);
        buf[len] = '\0';
        if (!strcmp(buf, "Etc/Unknown"))
            snprintf(buf, cap, "UTC");
    }
}

/* ---- next firing ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
 * civil calendar algorithms). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The instant (Unix seconds) of a wall time in z, by cron.h's rules. */
static int64_t wall_to_utc(cron_zone *z, int64_t y, int m, int d, int h, int min)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(z->cal);
    ucal_setDateTime(z->cal, (int32_t)y, m - 1, d, h, min, 0, &st);
    UDate ms = ucal_getMillis(z->cal, &st);
    return U_FAILURE(st) ? INT64_MIN : (int64_t)(ms / 1000);
}

/* The wall time of an instant in z, as minutes since 1970-01-01 00:00 wall. */
static int64_t utc_to_wall(cron_zone *z, int64_t t)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(z->cal, (UDate)t * 1000.0, &st);
    int64_t y = ucal_get(z->cal, UCAL_EXTENDED_YEAR, &st);
    int m = ucal_get(z->cal, UCAL_MONTH, &st) + 1;
    int d = ucal_get(z->cal, UCAL_DATE, &st);
    int h = ucal_get(z->cal, UCAL_HOUR_OF_DAY, &st);
    int min = ucal_get(z->cal, UCAL_MINUTE, &st);
    return days_from_civil(y, m, d) * 1440 + h * 60 + min;
}

static bool day_matches(const cron_expr *e, int64_t day, int m, int d)
{
    if (!(e->month >> m & 1))
        return false;
    int wd = (int)(((day + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday */
    bool by_mday = e->mday >> d & 1, by_wday = e->wday >> wd & 1;
    return e->mday_star || e->wday_star ? by_mday && by_wday : by_mday || by_wday;
}

/* Wall times more than this far apart keep their order as instants: the
 * largest daylight-saving shift in use is two hours. */
enum { SHIFT_MAX_MIN = 180, HORIZON_DAYS = 3660 };

int64_t cron_next(const cron_expr *e, cron_zone *z, int64_t after)
{
    int64_t from = utc_to_wall(z, after) - SHIFT_MAX_MIN;
    int64_t day0 = from >= 0 ? from / 1440 : (from - 1439) / 1440;
    int64_t best = -1, limit = INT64_MAX;

    for (int64_t day = day0; day <= day0 + HORIZON_DAYS && day * 1440 <= limit; day++) {
        int64_t y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        if (!day_matches(e, day, m, d))
            continue;
        for (uint32_t hours = e->hour; hours; hours &= hours - 1) {
            int h = __builtin_ctz(hours);
            for (uint64_t mins = e->minute; mins; mins &= mins - 1) {
                int min = __builtin_ctzll(mins);
                int64_t wall = day * 1440 + h * 60 + min;
                if (wall < from)
                    continue;
                if (wall > limit)
                    return best;
                int64_t t = wall_to_utc(z, y, m, d, h, min);
                if (t > after && (best < 0 || t < best)) {
                    best = t;
                    if (limit == INT64_MAX)
                        limit = wall + SHIFT_MAX_MIN;
                }
            }
        }
    }
    return best;
}
