/* Cron expressions: parsing, refusals, and next firings against
 * tests/golden/cron.tsv, whose instants come from systemd-analyze calendar and
 * Python's zoneinfo (tests/golden/make_cron.py).  The fixture is found under
 * $MIGR_SOURCE_DIR, else from the working directory (the repository root
 * under `make unit`). */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

#include "coordinator/cron.h"

/* cron_next from `after` and then from each firing, against the fixture's
 * three firings per line; every line and every instant must match. */
TEST(cron_next_matches_systemd_and_zoneinfo)
{
    char path[4096], line[512];
    const char *src = getenv("MIGR_SOURCE_DIR");
    snprintf(path, sizeof path, "%s%stests/golden/cron.tsv", src ? src : "", src ? "/" : "");
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s (set MIGR_SOURCE_DIR to the repository root)", path);
    int lines = 0, instants = 0, zones = 0, wrong = 0;
    while (fgets(line, sizeof line, f)) {
        char expr[128], zone[64];
        long long after, want[3];
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%127[^\t]\t%63[^\t]\t%lld\t%lld\t%lld\t%lld", expr, zone, &after, &want[0], &want[1],
                   &want[2]) != 6) {
            fclose(f);
            CHECK_MSG(0, "%s: unreadable line \"%s\"", path, line);
        }
        cron_expr e;
        migr_err err = {0};
        cron_zone *z = NULL;
        if (cron_parse(expr, &e, &err) < 0 || !(z = cron_zone_open(zone, &err))) {
            fclose(f);
            CHECK_MSG(0, "\"%s\" in %s: %s", expr, zone, err.msg);
        }
        zones += strcmp(zone, "UTC") != 0;
        long long t = after;
        for (int i = 0; i < 3; i++) {
            long long got = cron_next(&e, z, t);
            if (got != want[i]) {
                fprintf(stderr, "    \"%s\" %s after %lld: firing %d is %lld, want %lld\n", expr, zone, t, i + 1,
                        got, want[i]);
                wrong++;
                break;
            }
            t = got;
            instants++;
        }
        cron_zone_free(&z);
        lines++;
    }
    fclose(f);
    CHECK_MSG(wrong == 0, "%d of %d fixture lines differ (above)", wrong, lines);
    CHECK_MSG(lines >= 40 && zones >= 10, "the fixture has %d lines, %d outside UTC: too few", lines, zones);
    CHECK_INT(3 * lines, instants);
}

TEST(cron_parses_fields_names_and_macros)
{
    cron_expr e;
    migr_err err = {0};
    CHECK_MSG(cron_parse("0-10/5,30 */6 1,15 JAN-mar mon-fri", &e, &err) == 0, "%s", err.msg);
    CHECK(e.minute == (1ull << 0 | 1ull << 5 | 1ull << 10 | 1ull << 30));
    CHECK_INT(1u << 0 | 1u << 6 | 1u << 12 | 1u << 18, e.hour);
    CHECK_INT(1u << 1 | 1u << 15, e.mday);
    CHECK_INT(1u << 1 | 1u << 2 | 1u << 3, e.month);
    CHECK_INT(0x3e, e.wday);
    CHECK(!e.mday_star && !e.wday_star);

    CHECK(cron_parse("  @Daily  ", &e, &err) == 0);
    CHECK(e.minute == 1 && e.hour == 1 && e.mday_star && e.wday_star && e.month == 0x1ffe);
    CHECK(cron_parse("0 0 * * 7", &e, &err) == 0);
    CHECK_INT(1, e.wday);
    CHECK(cron_parse("0 0 */2 * 5-7", &e, &err) == 0);
    CHECK(e.mday_star && !e.wday_star);
    CHECK_INT(1u << 0 | 1u << 5 | 1u << 6, e.wday);
}

/* Each bad expression is refused with a message naming what is wrong. */
TEST(cron_refuses_bad_expressions_saying_why)
{
    static const struct {
        const char *expr, *says;
    } bad[] = {
        {"", "0 fields"},
        {"0 2 * *", "4 fields"},
        {"0 2 * * * *", "more than five"},
        {"60 * * * *", "out of range 0-59"},
        {"* 24 * * *", "out of range 0-23"},
        {"* * 0 * *", "out of range 1-31"},
        {"* * 32 * *", "out of range 1-31"},
        {"* * * 13 *", "out of range 1-12"},
        {"* * * * 8", "out of range 0-7"},
        {"99999999999999999999 * * * *", "out of range"},
        {"5-1 * * * *", "runs backwards"},
        {"5/10 * * * *", "a step needs a range"},
        {"*/0 * * * *", "step must be"},
        {"*/61 * * * *", "step must be"},
        {"*/ * * * *", "expected a step"},
        {"1,,2 * * * *", "expected a number"},
        {"1, * * * *", "expected a number"},
        {"* * * foo *", "three-letter English name"},
        {"* * * * mo", "three-letter English name"},
        {"jan * * * *", "expected a number at"},
        {"1-2-3 * * * *", "unexpected \"-\""},
        {"@reboot", "unknown cron macro"},
        {"@daily 1", "unknown cron macro"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cron_expr e;
        migr_err err = {0};
        CHECK_MSG(cron_parse(bad[i].expr, &e, &err) < 0, "\"%s\" was accepted", bad[i].expr);
        CHECK_MSG(strstr(err.msg, bad[i].says) != NULL, "\"%s\": the message \"%s\" does not say \"%s\"",
                  bad[i].expr, err.msg, bad[i].says);
    }
}

TEST(cron_a_day_that_never_comes_never_fires)
{
    cron_expr e;
    migr_err err = {0};
    cron_zone *z = cron_zone_open("UTC", &err);
    CHECK_MSG(z != NULL, "%s", err.msg);
    CHECK(cron_parse("0 0 30 2 *", &e, &err) == 0);
    long long t = cron_next(&e, z, 1767225600);
    CHECK(cron_parse("0 0 31 apr,jun,sep,nov *", &e, &err) == 0);
    long long u = cron_next(&e, z, 1767225600);
    cron_zone_free(&z);
    CHECK_INT(-1, t);
    CHECK_INT(-1, u);
}

TEST(cron_zone_refuses_unknown_names)
{
    migr_err err = {0};
    cron_zone *z = cron_zone_open("Mars/Olympus_Mons", &err);
    CHECK(z == NULL);
    CHECK_MSG(strstr(err.msg, "unknown time zone \"Mars/Olympus_Mons\"") && strstr(err.msg, "Europe/Berlin"),
              "%s", err.msg);
    CHECK(cron_zone_open("", &err) == NULL);
    z = cron_zone_open("America/New_York", &err);
    CHECK_MSG(z != NULL, "%s", err.msg);
    CHECK_STR("America/New_York", cron_zone_name(z));
    cron_zone_free(&z);
    CHECK(z == NULL);
}
