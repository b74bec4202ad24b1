/* cron.h -- five-field cron expressions, and when they fire in a time zone.
 *
 * Syntax, as Vixie cron reads a crontab line's schedule:
 *
 *     minute hour day-of-month month day-of-week
 *     0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
 *
 * Each field is a comma-separated list of items; an item is "*", a number N
 * or a range N-M (N <= M), optionally followed by "/S" (every S-th value of
 * the range or of "*", S >= 1).  Months and weekdays may be given by their
 * three-letter English names (jan..dec, sun..sat, any case), also as range
 * ends.  A lone "@yearly" (or "@annually"), "@monthly", "@weekly", "@daily"
 * (or "@midnight") or "@hourly" stands for "0 0 1 1 *", "0 0 1 * *",
 * "0 0 * * 0", "0 0 * * *" and "0 * * * *".
 *
 * Days, as Vixie cron decides them: when both day-of-month and day-of-week
 * are restricted, a day matches if either does ("0 0 13 * 5": every 13th and
 * every Friday); when either field begins with "*" (including "*" followed
 * by a step), a day must match both.
 *
 * Time zones and daylight-saving changes.  An expression names wall-clock
 * times in a zone (IANA name, "Europe/Berlin"; ICU's calendar does the
 * arithmetic).  A wall time that happens twice, when clocks fall back, fires
 * once: at its first occurrence.  A wall time that does not happen, when
 * clocks spring forward, fires once, shifted by the change: a 02:30 job on
 * a night the clock jumps from 02:00 to 03:00 fires at 03:30.  Both are what
 * Python's zoneinfo gives for fold=0 (PEP 495); the first is also systemd's
 * rule for its calendar timers, which skip the second.  Two wall times that
 * fall on one instant fire once. */
#ifndef MIGR_CRON_H
#define MIGR_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* A parsed expression: one bit per allowed value of each field. */
typedef struct cron_expr {
    uint64_t minute;    /* bits 0..59 */
    uint32_t hour;      /* bits 0..23 */
    uint32_t mday;      /* bits 1..31 */
    uint16_t month;     /* bits 1..12 */
    uint8_t wday;       /* bits 0..6, Sunday = 0 */
    bool mday_star;     /* the field began with "*" (Vixie's rule for days) */
    bool wday_star;
} cron_expr;

/* Parse text (the five fields, or a macro) into e.  -1 with err naming the
 * field and what is wrong in it. */
int cron_parse(const char *text, cron_expr *e, migr_err *err);

/* A time zone, opened by IANA name. */
typedef struct cron_zone cron_zone;

/* Open zone name; "UTC" always exists.  NULL with err for a name the time
 * zone database does not know. */
cron_zone *cron_zone_open(const char *name, migr_err *err);
void cron_zone_free(cron_zone **z);
/* The canonical name the zone was opened as. */
const char *cron_zone_name(const cron_zone *z);

/* The system's time zone (ICU's default: TZ, else /etc/localtime) into buf
 * as an IANA name; "UTC" when it cannot be told. */
void cron_default_zone(char *buf, size_t cap);

/* The first firing of e in zone z strictly after `after` (Unix seconds), or
 * -1 if there is none in the next ten years (the expression names a day
 * that does not exist, such as 30 February). */
int64_t cron_next(const cron_expr *e, cron_zone *z, int64_t after);

#endif
