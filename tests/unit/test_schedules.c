/* test_schedules.c -- firing after downtime, on a coordinator with a real
 * SQLite file: the tick is given the time, so three nights pass at once.
 * (tests/integration/t_schedule.sh fires schedules on the real clock.) */
#include "check.h"

#include <stdio.h>

#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "coordinator/schedules.h"
#include "spec/runconfig.h"
#include "tests/unit/coord_fixture.h"

static const int64_t DAY_MS = 86400 * 1000LL;

/* A nightly eval at 02:00 UTC, with deadline_s if > 0; its next time in ms. */
static int64_t add_nightly(coord *c, const char *name, int64_t deadline_s, migr_err *err)
{
    runconfig rc;
    int status = 0;
    runconfig_defaults(&rc);
    if (runconfig_set(&rc, "kind=eval", err) < 0 || runconfig_set(&rc, "dataset=none", err) < 0 ||
        runconfig_set(&rc, "eval.ckpt=run:1", err) < 0)
        return -1;
    json_t *args = json_pack("{s:s, s:s, s:s, s:o}", "name", name, "cron", "0 2 * * *", "tz", "UTC", "config",
                             runconfig_to_json(&rc));
    if (deadline_s > 0)
        json_object_set_new(args, "deadline_s", json_integer(deadline_s));
    json_t *r = schedules_add(c, args, &status, err);
    json_decref(args);
    json_decref(r);
    int64_t next = -1;
    if (r && db_int(c->db, err, &next, -1, "SELECT next_ms FROM schedules WHERE name = ?", "s", name) < 0)
        next = -1;
    return next;
}

/* Firings attempted (a run submitted, or refused) for a schedule. */
static int64_t attempts(coord *c, const char *name)
{
    int64_t n = -1;
    migr_err err;
    db_int(c->db, &err, &n, -1,
           "SELECT COUNT(*) FROM events e JOIN schedules s ON s.id = e.owner_id WHERE e.owner = 'schedule' "
           "AND s.name = ? AND e.kind IN ('schedule.fired', 'schedule.failed')", "s", name);
    return n;
}

static int64_t column(coord *c, const char *col, const char *name)
{
    char sql[128];
    int64_t v = -1;
    migr_err err;
    snprintf(sql, sizeof sql, "SELECT IFNULL(%s, 0) FROM schedules WHERE name = ?", col);
    db_int(c->db, &err, &v, -1, sql, "s", name);
    return v;
}

/* Three nights and an hour down: the four 02:00s that passed fire once, for
 * the latest, and the other three are counted missed; a second tick at the
 * same time fires nothing more. */
TEST(schedule_after_downtime_fires_the_missed_times_once)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int64_t next = add_nightly(&c, "nightly", 0, &err);
    if (next <= 0) {
        coord_close(&c);
        CHECK_MSG(0, "schedule add: %s", err.msg);
    }
    int64_t now = next + 3 * DAY_MS + 3600 * 1000;
    schedules_tick(&c, now);
    schedules_tick(&c, now);
    int64_t tried = attempts(&c, "nightly"), missed = column(&c, "missed", "nightly");
    int64_t last = column(&c, "last_ms", "nightly"), after = column(&c, "next_ms", "nightly");
    coord_close(&c);
    CHECK_INT(1, tried);
    CHECK_INT(3, missed);
    CHECK_INT(next + 3 * DAY_MS, last);
    CHECK_INT(next + 4 * DAY_MS, after);
}

/* With a starting deadline of an hour, two hours late is too late: nothing
 * fires, the three times are missed, and the schedule waits for the next. */
TEST(schedule_past_its_starting_deadline_misses_instead_of_firing)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int64_t next = add_nightly(&c, "strict", 3600, &err);
    if (next <= 0) {
        coord_close(&c);
        CHECK_MSG(0, "schedule add: %s", err.msg);
    }
    schedules_tick(&c, next + 2 * DAY_MS + 2 * 3600 * 1000);
    int64_t tried = attempts(&c, "strict"), missed = column(&c, "missed", "strict");
    int64_t after = column(&c, "next_ms", "strict");
    schedules_tick(&c, next + 3 * DAY_MS + 60 * 1000);   /* the next night, a minute late: in time */
    int64_t tried_later = attempts(&c, "strict");
    coord_close(&c);
    CHECK_INT(0, tried);
    CHECK_INT(3, missed);
    CHECK_INT(next + 3 * DAY_MS, after);
    CHECK_INT(1, tried_later);
}
