/* schedules.c -- see schedules.h. */
#include "coordinator/schedules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/cron.h"
#include "coordinator/db.h"
#include "coordinator/runs.h"

/* Scheduled times counted at most per firing after downtime: a minute's
 * schedule over 69 days.  Past it the count is a lower bound. */
enum { MISSED_COUNT_MAX = 100000, HISTORY_MAX = 60 };

static const char *const policies[] = {"forbid", "allow", "replace", NULL};

typedef struct schedule {
    int64_t id;
    char name[65];
    char cron[256];
    char tz[128];
    char policy[16];
    int64_t deadline_s;   /* 0: none */
    int paused;
    int64_t next_ms;      /* 0: none */
    char *config;         /* owned */
} schedule;

static const char SELECT_SCHEDULE[] =
    "SELECT id, name, cron, tz, policy, IFNULL(deadline_s, 0), paused, IFNULL(next_ms, 0), config "
    "FROM schedules";

static int read_schedule(sqlite3_stmt *st, schedule *s)
{
    memset(s, 0, sizeof *s);
    s->id = sqlite3_column_int64(st, 0);
    snprintf(s->name, sizeof s->name, "%s", db_text(st, 1));
    snprintf(s->cron, sizeof s->cron, "%s", db_text(st, 2));
    snprintf(s->tz, sizeof s->tz, "%s", db_text(st, 3));
    snprintf(s->policy, sizeof s->policy, "%s", db_text(st, 4));
    s->deadline_s = sqlite3_column_int64(st, 5);
    s->paused = sqlite3_column_int(st, 6);
    s->next_ms = sqlite3_column_int64(st, 7);
    s->config = strdup(db_text(st, 8));
    return s->config ? 0 : -1;
}

/* The schedule called name: 0, or -1 with err (status 1 when there is none). */
static int find_schedule(coord *c, const char *name, schedule *s, int *status, migr_err *err)
{
    char sql[sizeof SELECT_SCHEDULE + 32];
    if (!name) {
        *status = 2;
        return migr_errf(err, "a schedule name is needed");
    }
    snprintf(sql, sizeof sql, "%s WHERE name = ?", SELECT_SCHEDULE);
    sqlite3_stmt *st = db_prepare(c->db, err, sql, "s", name);
    if (!st)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? read_schedule(st, s) : 1;
    sqlite3_finalize(st);
    if (rc < 0)
        return migr_errf(err, "out of memory");
    if (rc > 0)
        return migr_errf(err, "there is no schedule named %s (see `migr schedule list`)", name);
    return 0;
}

/* The next scheduled time after now_ms, in ms; 0 when it never comes; -1 with err. */
static int64_t next_after(const char *cron, const char *tz, int64_t now_ms, migr_err *err)
{
    cron_expr e;
    if (cron_parse(cron, &e, err) < 0)
        return -1;
    cron_zone *z = cron_zone_open(tz, err);
    if (!z)
        return -1;
    int64_t t = cron_next(&e, z, now_ms / 1000);
    cron_zone_free(&z);
    return t < 0 ? 0 : t * 1000;
}

static void rfc3339(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%s", "");
}

/* The eval metrics worth a trend, from the history query's columns 7..12
 * (null when the run has no finished evaluation). */
static json_t *trend_metrics(sqlite3_stmt *st)
{
    if (!sqlite3_column_int(st, 12))
        return json_null();
    json_t *m = json_pack("{s:f, s:f, s:f, s:I, s:I}", "war", sqlite3_column_double(st, 7), "uar",
                          sqlite3_column_double(st, 8), "correct_inconsistent", sqlite3_column_double(st, 9),
                          "ckpt_step", (json_int_t)sqlite3_column_int64(st, 10), "source_run",
                          (json_int_t)sqlite3_column_int64(st, 11));
    return m ? m : json_null();
}

json_t *schedule_view(sqlite3 *db, const char *name, int history, int *missing, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT s.id, s.name, s.cron, s.tz, s.policy, s.deadline_s, s.paused, IFNULL(s.next_ms, 0), "
        "IFNULL(s.last_ms, 0), s.fired, s.missed, s.skipped, s.last_error, s.created_ms, s.config, "
        "(SELECT MAX(r.id) FROM runs r WHERE r.schedule_id = s.id) FROM schedules s WHERE s.name = ?",
        "s", name);
    if (!st)
        return NULL;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (missing)
            *missing = 1;
        migr_errf(err, "there is no schedule named %s (see `migr schedule list`)", name);
        return NULL;
    }
    char next[32], last[32];
    int64_t id = sqlite3_column_int64(st, 0);
    rfc3339(next, sizeof next, sqlite3_column_int64(st, 7));
    rfc3339(last, sizeof last, sqlite3_column_int64(st, 8));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o}",
        "name", db_text(st, 1), "cron", db_text(st, 2), "tz", db_text(st, 3), "policy", db_text(st, 4),
        "deadline_s", sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 5)),
        "paused", sqlite3_column_int(st, 6),
        "next", next[0] ? json_string(next) : json_null(),
        "last", last[0] ? json_string(last) : json_null(),
        "last_run", sqlite3_column_type(st, 15) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 15)),
        "fired", (json_int_t)sqlite3_column_int64(st, 9), "missed", (json_int_t)sqlite3_column_int64(st, 10),
        "skipped", (json_int_t)sqlite3_column_int64(st, 11),
        "last_error", sqlite3_column_type(st, 12) == SQLITE_NULL ? json_null() : json_string(db_text(st, 12)),
        "created_ms", (json_int_t)sqlite3_column_int64(st, 13),
        "config", history ? json_loads(db_text(st, 14), 0, NULL) : json_null());
    sqlite3_finalize(st);
    if (!o) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    if (!history) {
        json_object_del(o, "config");
        return o;
    }
    json_t *runs = json_array();
    st = db_prepare(db, err,
        "SELECT r.id, r.state, IFNULL(r.scheduled_ms, 0), r.created_ms, IFNULL(r.finished_ms, 0), r.error, "
        "EXISTS (SELECT 1 FROM events e WHERE e.owner = 'run' AND e.owner_id = r.id AND e.kind = 'run.nothing_newer'), "
        "json_extract(v.metrics, '$.war'), json_extract(v.metrics, '$.uar'), "
        "json_extract(v.metrics, '$.correct_inconsistent'), v.ckpt_step, v.source_run, v.metrics IS NOT NULL "
        "FROM runs r LEFT JOIN evals v ON v.run_id = r.id WHERE r.schedule_id = ? ORDER BY r.id DESC LIMIT ?",
        "ii", id, (int64_t)HISTORY_MAX);
    if (!st) {
        json_decref(o);
        json_decref(runs);
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char at[32];
        int64_t run = sqlite3_column_int64(st, 0);
        rfc3339(at, sizeof at, sqlite3_column_int64(st, 2));
        json_array_append_new(runs, json_pack("{s:I, s:s, s:s, s:I, s:I, s:o, s:b, s:o}", "run", (json_int_t)run,
            "state", db_text(st, 1), "scheduled", at, "created_ms", (json_int_t)sqlite3_column_int64(st, 3),
            "finished_ms", (json_int_t)sqlite3_column_int64(st, 4),
            "error", sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() : json_string(db_text(st, 5)),
            "nothing_newer", sqlite3_column_int(st, 6), "metrics", trend_metrics(st)));
    }
    if (rc != SQLITE_DONE) {
        migr_errf(err, "reading the runs of schedule %s: %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        json_decref(o);
        json_decref(runs);
        return NULL;
    }
    sqlite3_finalize(st);
    json_object_set_new(o, "history", runs);
    return o;
}

static int valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return 0;
    return 1;
}

static json_t *usage(int *status, migr_err *err, const char *msg)
{
    *status = 2;
    migr_errf(err, "%s", msg);
    return NULL;
}

json_t *schedules_add(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *cron = json_string_value(json_object_get(args, "cron"));
    const char *tz = json_string_value(json_object_get(args, "tz"));
    const char *policy = json_string_value(json_object_get(args, "policy"));
    json_t *deadline = json_object_get(args, "deadline_s"), *cfg = json_object_get(args, "config");
    char zone[128];
    int64_t exists;

    if (!valid_name(name))
        return usage(status, err, "a schedule name is 1-64 letters, digits, '_', '-' or '.'");
    if (!cron)
        return usage(status, err, "schedule.add needs a cron expression");
    if (!policy)
        policy = "forbid";
    int known = 0;
    for (int i = 0; policies[i]; i++)
        known |= !strcmp(policy, policies[i]);
    if (!known)
        return usage(status, err, "the policy is forbid (skip a firing while the last run is active), allow "
                     "or replace (cancel the active run)");
    if (deadline && !json_is_null(deadline) && (!json_is_integer(deadline) || json_integer_value(deadline) < 1))
        return usage(status, err, "the starting deadline is a whole number of seconds >= 1");
    if (!json_is_object(cfg))
        return usage(status, err, "schedule.add needs the run's \"config\" object");
    if (runs_check_config(cfg, status, err) < 0)
        return NULL;
    if (tz && *tz)
        snprintf(zone, sizeof zone, "%s", tz);
    else
        cron_default_zone(zone, sizeof zone);
    int64_t now = clock_wall_ms();
    int64_t next = next_after(cron, zone, now, err);
    if (next < 0) {
        *status = 2;
        return NULL;
    }
    if (next == 0)
        return usage(status, err, "the cron expression never fires (a day that does not exist, such as 30 "
                     "February?)");
    if (db_int(c->db, err, &exists, 0, "SELECT COUNT(*) FROM schedules WHERE name = ?", "s", name) < 0)
        return NULL;
    if (exists) {
        migr_errf(err, "a schedule named %s exists; remove it first (`migr schedule rm %s`) or pick another name",
                  name, name);
        return NULL;
    }
    char *config = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = config ? db_run(c->db, err,
        "INSERT INTO schedules (name, cron, tz, policy, deadline_s, config, next_ms, created_ms) "
        "VALUES (?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?)", "ssssisii", name, cron, zone, policy,
        (int64_t)json_integer_value(deadline), config, next, now) : migr_errf(err, "out of memory");
    free(config);
    if (rc < 0)
        return NULL;
    log_info("schedule %s added: \"%s\" in %s, policy %s", name, cron, zone, policy);
    return schedule_view(c->db, name, 0, NULL, err);
}

json_t *schedule_view_all(sqlite3 *db, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err, "SELECT name FROM schedules ORDER BY name", "");
    json_t *list = json_array();
    if (!st) {
        json_decref(list);
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = schedule_view(db, db_text(st, 0), 0, NULL, err);
        if (!o) {
            sqlite3_finalize(st);
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, o);
    }
    if (rc != SQLITE_DONE) {
        migr_errf(err, "reading the schedules: %s", sqlite3_errmsg(db));
        json_decref(list);
        list = NULL;
    }
    sqlite3_finalize(st);
    return list;
}

json_t *schedules_list(coord *c, json_t *args, int *status, migr_err *err)
{
    (void)args, (void)status;
    return schedule_view_all(c->db, err);
}

json_t *schedules_show(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name)
        return usage(status, err, "schedule.show needs a name");
    return schedule_view(c->db, name, 1, NULL, err);
}

json_t *schedules_rm(coord *c, json_t *args, int *status, migr_err *err)
{
    schedule s;
    if (find_schedule(c, json_string_value(json_object_get(args, "name")), &s, status, err) < 0)
        return NULL;
    json_t *gone = schedule_view(c->db, s.name, 0, NULL, err);
    free(s.config);
    if (!gone || db_begin(c->db, err) < 0 ||
        db_run(c->db, err, "UPDATE runs SET schedule_id = NULL WHERE schedule_id = ?", "i", s.id) < 0 ||
        db_run(c->db, err, "DELETE FROM schedules WHERE id = ?", "i", s.id) < 0 ||
        queue_event(c->db, "schedule.removed", "schedule", s.id, 0, s.name, err) < 0 || db_commit(c->db, err) < 0) {
        db_rollback(c->db);
        json_decref(gone);
        return NULL;
    }
    log_info("schedule %s removed", s.name);
    return gone;
}

static json_t *set_paused(coord *c, json_t *args, int paused, int *status, migr_err *err)
{
    schedule s;
    if (find_schedule(c, json_string_value(json_object_get(args, "name")), &s, status, err) < 0)
        return NULL;
    free(s.config);
    int64_t next = paused ? 0 : next_after(s.cron, s.tz, clock_wall_ms(), err);
    if (next < 0 || db_run(c->db, err, "UPDATE schedules SET paused = ?, next_ms = NULLIF(?, 0) WHERE id = ?",
                           "iii", (int64_t)paused, next, s.id) < 0)
        return NULL;
    log_info("schedule %s %s", s.name, paused ? "paused" : "resumed");
    return schedule_view(c->db, s.name, 0, NULL, err);
}

json_t *schedules_pause(coord *c, json_t *args, int *status, migr_err *err)
{
    return set_paused(c, args, 1, status, err);
}

json_t *schedules_resume(coord *c, json_t *args, int *status, migr_err *err)
{
    return set_paused(c, args, 0, status, err);
}

/* Submit s's config as a run for scheduled time at_ms: the run's id, or 0
 * with err when it could not be submitted. */
static int64_t submit(coord *c, const schedule *s, int64_t at_ms, migr_err *err)
{
    int status = 0;
    json_t *cfg = json_loads(s->config, 0, NULL);
    if (!cfg) {
        migr_errf(err, "schedule %s: its stored config is not JSON", s->name);
        return 0;
    }
    json_t *args = json_pack("{s:o, s:I, s:I}", "config", cfg, "schedule_id", (json_int_t)s->id, "scheduled_ms",
                             (json_int_t)at_ms);
    json_t *r = args ? runs_submit(c, args, &status, err) : NULL;
    json_decref(args);
    int64_t run = r ? json_integer_value(json_object_get(r, "id")) : 0;
    json_decref(r);
    return run;
}

/* Record a firing's outcome: the next time, the counters, the error. */
static void record(coord *c, const schedule *s, int64_t next, int64_t last, int fired, int64_t missed, int skipped,
                   const char *error)
{
    migr_err err;
    if (db_run(c->db, &err,
               "UPDATE schedules SET next_ms = CASE WHEN paused THEN NULL ELSE NULLIF(?, 0) END, "
               "last_ms = IFNULL(NULLIF(?, 0), last_ms), fired = fired + ?, missed = missed + ?, "
               "skipped = skipped + ?, last_error = ? WHERE id = ?", "iiiiisi", next, last, (int64_t)fired,
               missed, (int64_t)skipped, error, s->id) < 0)
        log_error("schedule %s: recording its firing: %s", s->name, err.msg);
}

static void event(coord *c, const schedule *s, const char *kind, const char *detail)
{
    migr_err err;
    if (queue_event(c->db, kind, "schedule", s->id, 0, detail, &err) < 0)
        log_error("schedule %s: %s", s->name, err.msg);
}

/* Fire s, whose next time has come. */
static void fire_due(coord *c, schedule *s, int64_t now)
{
    migr_err err;
    cron_expr e;
    cron_zone *z = NULL;
    char detail[512];

    if (cron_parse(s->cron, &e, &err) < 0 || !(z = cron_zone_open(s->tz, &err))) {
        log_error("schedule %s: %s; pausing it", s->name, err.msg);
        event(c, s, "schedule.broken", err.msg);
        if (db_run(c->db, &err, "UPDATE schedules SET paused = 1, next_ms = NULL WHERE id = ?", "i", s->id) < 0)
            log_error("schedule %s: %s", s->name, err.msg);
        return;
    }
    /* The latest scheduled time that has come, and how many came. */
    int64_t latest = s->next_ms / 1000, count = 1, t;
    while ((t = cron_next(&e, z, latest)) > 0 && t * 1000 <= now && count < MISSED_COUNT_MAX) {
        latest = t;
        count++;
    }
    t = cron_next(&e, z, now / 1000);
    cron_zone_free(&z);
    int64_t next = t > 0 ? t * 1000 : 0, at = latest * 1000;

    if (s->deadline_s > 0 && now - at > s->deadline_s * 1000) {
        snprintf(detail, sizeof detail, "%lld scheduled time(s) missed, the latest %lld s ago, past the starting "
                 "deadline of %lld s", (long long)count, (long long)((now - at) / 1000), (long long)s->deadline_s);
        log_warn("schedule %s: %s", s->name, detail);
        event(c, s, "schedule.missed", detail);
        record(c, s, next, 0, 0, count, 0, NULL);
        return;
    }
    if (count > 1) {
        snprintf(detail, sizeof detail, "%lld scheduled times passed while migrd could not fire; firing the "
                 "latest once", (long long)count);
        log_warn("schedule %s: %s", s->name, detail);
        event(c, s, "schedule.missed", detail);
    }
    int64_t done_run = 0, active = 0;
    if (db_int(c->db, &err, &done_run, 0, "SELECT id FROM runs WHERE schedule_id = ? AND scheduled_ms = ?", "ii",
               s->id, at) < 0 ||
        db_int(c->db, &err, &active, 0,
               "SELECT COUNT(*) FROM runs WHERE schedule_id = ? AND state IN ('queued', 'running')", "i", s->id) < 0) {
        log_error("schedule %s: %s", s->name, err.msg);
        return;
    }
    if (done_run) {   /* submitted before a stop, not recorded */
        record(c, s, next, at, 1, count - 1, 0, NULL);
        return;
    }
    if (active && !strcmp(s->policy, "forbid")) {
        snprintf(detail, sizeof detail, "skipped: %lld run(s) of the schedule still active (policy forbid)",
                 (long long)active);
        log_info("schedule %s: %s", s->name, detail);
        event(c, s, "schedule.skipped", detail);
        record(c, s, next, 0, 0, count - 1, 1, NULL);
        return;
    }
    if (active && !strcmp(s->policy, "replace")) {
        sqlite3_stmt *st = db_prepare(c->db, &err, "SELECT id FROM runs WHERE schedule_id = ? AND state IN "
                                      "('queued', 'running')", "i", s->id);
        int64_t ids[64];
        int n = 0;
        while (st && n < 64 && sqlite3_step(st) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        for (int i = 0; i < n; i++) {
            if (runs_cancel(c, ids[i], &err) < 0)
                log_error("schedule %s: cancelling run %lld: %s", s->name, (long long)ids[i], err.msg);
            else
                log_info("schedule %s: run %lld cancelled to replace it (policy replace)", s->name,
                         (long long)ids[i]);
        }
    }
    int64_t run = submit(c, s, at, &err);
    if (!run) {
        log_error("schedule %s: its run could not be submitted: %s", s->name, err.msg);
        event(c, s, "schedule.failed", err.msg);
        record(c, s, next, at, 0, count - 1, 0, err.msg);
        return;
    }
    snprintf(detail, sizeof detail, "run %lld", (long long)run);
    log_info("schedule %s fired: %s", s->name, detail);
    event(c, s, "schedule.fired", detail);
    record(c, s, next, at, 1, count - 1, 0, NULL);
}

json_t *schedules_run(coord *c, json_t *args, int *status, migr_err *err)
{
    schedule s;
    if (find_schedule(c, json_string_value(json_object_get(args, "name")), &s, status, err) < 0)
        return NULL;
    int64_t now = clock_wall_ms();
    int64_t run = submit(c, &s, now, err);
    if (run) {
        char detail[64];
        snprintf(detail, sizeof detail, "run %lld (schedule run)", (long long)run);
        event(c, &s, "schedule.fired", detail);
        record(c, &s, s.paused ? 0 : s.next_ms, now, 1, 0, 0, NULL);
        log_info("schedule %s fired by hand: %s", s.name, detail);
    }
    free(s.config);
    return run ? json_pack("{s:s, s:I}", "schedule", s.name, "run", (json_int_t)run) : NULL;
}

void schedules_tick(coord *c, int64_t now)
{
    char sql[sizeof SELECT_SCHEDULE + 96];
    migr_err err;
    schedule due[16];
    int n = 0;

    /* Read the due ones first: firing writes to the table being read. */
    snprintf(sql, sizeof sql, "%s WHERE paused = 0 AND next_ms IS NOT NULL AND next_ms <= ? ORDER BY next_ms",
             SELECT_SCHEDULE);
    sqlite3_stmt *st = db_prepare(c->db, &err, sql, "i", now);
    if (!st) {
        log_error("schedules: %s", err.msg);
        return;
    }
    while (n < 16 && sqlite3_step(st) == SQLITE_ROW)
        if (read_schedule(st, &due[n]) == 0)
            n++;
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        fire_due(c, &due[i], now);
        free(due[i].config);
    }
}
