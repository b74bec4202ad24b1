/* queue.c -- see queue.h. */
#include "coordinator/queue.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "coordinator/db.h"

#define TASK_COLUMNS "id, owner, owner_id, kind, subject, attempts, max_attempts, worker, lease, not_before_ms"

static void read_row(sqlite3_stmt *st, task_row *t)
{
    t->id = sqlite3_column_int64(st, 0);
    snprintf(t->owner, sizeof t->owner, "%s", db_text(st, 1));
    t->owner_id = sqlite3_column_int64(st, 2);
    snprintf(t->kind, sizeof t->kind, "%s", db_text(st, 3));
    t->subject = sqlite3_column_int64(st, 4);
    t->attempts = sqlite3_column_int(st, 5);
    t->max_attempts = sqlite3_column_int(st, 6);
    snprintf(t->worker, sizeof t->worker, "%s", db_text(st, 7));
    t->lease = (uint64_t)sqlite3_column_int64(st, 8);
    t->not_before_ms = sqlite3_column_int64(st, 9);
}

int queue_add(sqlite3 *db, const char *owner, int64_t owner_id, const char *kind,
              int64_t subject, const char *params, int max_attempts, migr_err *err)
{
    return db_run(db, err,
                  "INSERT INTO tasks (owner, owner_id, kind, subject, params, state, max_attempts) "
                  "VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                  "sisisi", owner, owner_id, kind, subject, params, (int64_t)max_attempts);
}

int queue_lease(db_cache *dc, const char *worker, uint64_t lease, int64_t now_ms, task_row *t,
                char **params, migr_err *err)
{
    sqlite3_stmt *st = db_cache_prepare(dc, err,
        "SELECT " TASK_COLUMNS ", params " QUEUE_READY " LIMIT 1", NULL);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        db_cache_release(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        migr_errf(err, "finding a ready task: %s", sqlite3_errmsg(dc->db));
        db_cache_release(st);
        return -1;
    }
    read_row(st, t);
    *params = strdup(db_text(st, 10));
    db_cache_release(st);
    if (!*params)
        return migr_errf(err, "out of memory");
    t->attempts++;
    t->lease = lease;
    snprintf(t->worker, sizeof t->worker, "%s", worker);
    if (db_cache_run(dc, err,
               "UPDATE tasks SET state = 'leased', attempts = ?, lease = ?, worker = ?, leased_ms = ? "
               "WHERE id = ?", "iisii", (int64_t)t->attempts, (int64_t)lease, worker, now_ms, t->id) < 0) {
        free(*params);
        *params = NULL;
        return -1;
    }
    return 1;
}

int queue_current(db_cache *dc, int64_t id, uint64_t lease, task_row *t, migr_err *err)
{
    sqlite3_stmt *st = db_cache_prepare(dc, err,
        "SELECT " TASK_COLUMNS " " QUEUE_CURRENT,
        "ii", id, (int64_t)lease);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_row(st, t);
    db_cache_release(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return migr_errf(err, "looking up task %lld: %s", (long long)id, sqlite3_errmsg(dc->db));
    return rc == SQLITE_ROW;
}

/* Every state change below is conditional on the lease still being held, so
 * a stale holder can neither complete nor fail a task, whatever its caller
 * checked before. */
static int still_held(db_cache *dc, const task_row *t, migr_err *err)
{
    if (sqlite3_changes(dc->db) == 1)
        return 0;
    return migr_errf(err, "task %lld is no longer held under lease %llx", (long long)t->id,
                     (unsigned long long)t->lease);
}

#define EVENT_INSERT "INSERT INTO events (at_ms, kind, owner, owner_id, task_id, detail) VALUES (?, ?, ?, ?, ?, ?)"

/* The counters /metrics draws from events (event_counts, schema/009), for
 * an event of kind about task_id with detail.  Every event is inserted by
 * task_event or queue_event, so they are counted here. */
static int count_event(sqlite3 *db, const char *kind, int64_t task_id, const char *detail, migr_err *err)
{
    if (!strcmp(kind, "task.retry") || !strcmp(kind, "task.failed")) {
        if (db_run(db, err, "INSERT INTO event_counts SELECT ?, kind, 1 FROM tasks WHERE id = ? "
                   "ON CONFLICT (counter, kind) DO UPDATE SET n = n + 1", "si", kind, task_id) < 0)
            return -1;
        if (detail && !strncmp(detail, "worker ", 7)) /* migrd took the lease back */
            kind = "lease.lost";
        else
            return 0;
    } else if (strcmp(kind, "task.stale") != 0 && strcmp(kind, "worker.dead") != 0) {
        return 0;
    }
    return db_run(db, err, "INSERT INTO event_counts VALUES (?, '', 1) ON CONFLICT (counter, kind) DO UPDATE SET n = n + 1",
                  "s", kind);
}

static int task_event(db_cache *dc, const char *kind, const task_row *t, const char *detail, migr_err *err)
{
    if (db_cache_run(dc, err, EVENT_INSERT, "issiis", clock_wall_ms(), kind, t->owner, t->owner_id, t->id,
                     detail) < 0)
        return -1;
    return count_event(dc->db, kind, t->id, detail, err);
}

int queue_done(db_cache *dc, const task_row *t, const char *output, int64_t now_ms, migr_err *err)
{
    if (db_cache_run(dc, err,
               "UPDATE tasks SET state = 'done', output = ?, finished_ms = ? "
               "WHERE id = ? AND lease = ? AND state = 'leased'",
               "siii", output, now_ms, t->id, (int64_t)t->lease) < 0 ||
        still_held(dc, t, err) < 0)
        return -1;
    return task_event(dc, "task.done", t, t->worker, err);
}

int queue_fail(db_cache *dc, const task_row *t, const char *reason, int64_t now_ms,
               int64_t backoff_base_ms, int64_t *wake_ms, migr_err *err)
{
    assert(t->attempts >= 1);
    if (t->attempts >= t->max_attempts) {
        if (db_cache_run(dc, err,
                   "UPDATE tasks SET state = 'failed', error = ?, finished_ms = ?, lease = NULL "
                   "WHERE id = ? AND lease = ? AND state = 'leased'",
                   "siii", reason, now_ms, t->id, (int64_t)t->lease) < 0 ||
            still_held(dc, t, err) < 0 ||
            task_event(dc, "task.failed", t, reason, err) < 0)
            return -1;
        return 1;
    }
    int64_t backoff = backoff_base_ms << (t->attempts > 6 ? 6 : t->attempts - 1);
    if (backoff > 60000)
        backoff = 60000;
    if (db_cache_run(dc, err,
               "UPDATE tasks SET state = 'waiting', error = ?, not_before_ms = ?, lease = NULL, "
               "worker = NULL WHERE id = ? AND lease = ? AND state = 'leased'",
               "siii", reason, now_ms + backoff, t->id, (int64_t)t->lease) < 0 ||
        still_held(dc, t, err) < 0 ||
        task_event(dc, "task.retry", t, reason, err) < 0)
        return -1;
    if (wake_ms)
        *wake_ms = now_ms + backoff;
    return 0;
}

int queue_wake(db_cache *dc, int64_t id, migr_err *err)
{
    if (db_cache_run(dc, err, "UPDATE tasks SET state = 'queued' WHERE id = ? AND state = 'waiting'", "i", id) < 0)
        return -1;
    return sqlite3_changes(dc->db) == 1;
}

int queue_cancel_owner(sqlite3 *db, const char *owner, int64_t owner_id, const char *reason,
                       int64_t now_ms, migr_err *err)
{
    return db_run(db, err,
                  "UPDATE tasks SET state = 'failed', error = ?, finished_ms = ?, lease = NULL "
                  "WHERE owner = ? AND owner_id = ? AND state IN ('queued', 'waiting', 'leased')",
                  "sisi", reason, now_ms, owner, owner_id);
}

static int read_rows(sqlite3 *db, sqlite3_stmt *st, task_row **out, size_t *n, migr_err *err)
{
    task_row *rows = NULL;
    size_t count = 0, cap = 0;
    int rc;

    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            task_row *grown = realloc(rows, cap * sizeof *rows);
            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            rows = grown;
        }
        read_row(st, &rows[count++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(rows);
        return migr_errf(err, "listing tasks: %s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
    }
    *out = rows;
    *n = count;
    return 0;
}

int queue_leased(sqlite3 *db, task_row **out, size_t *n, migr_err *err)
{
    return read_rows(db, db_prepare(db, err, "SELECT " TASK_COLUMNS " " QUEUE_LEASED " ORDER BY id", NULL),
                     out, n, err);
}

int queue_leased_to(sqlite3 *db, const char *worker, task_row **out, size_t *n, migr_err *err)
{
    return read_rows(db, db_prepare(db, err, "SELECT " TASK_COLUMNS " " QUEUE_LEASED_TO " ORDER BY id", "s",
                                    worker), out, n, err);
}

int queue_waiting(sqlite3 *db, task_row **out, size_t *n, migr_err *err)
{
    return read_rows(db, db_prepare(db, err, "SELECT " TASK_COLUMNS " " QUEUE_WAITING " ORDER BY id", NULL), out,
                     n, err);
}

int queue_trim_events(db_cache *dc, int64_t before_ms, int limit, int64_t *after_id, migr_err *err)
{
    sqlite3_stmt *st = db_cache_prepare(dc, err, "SELECT id, at_ms FROM events WHERE id > ? ORDER BY id LIMIT ?", "ii",
                                        *after_id, (int64_t)limit);
    int64_t upto = *after_id;
    int rc;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 1) < before_ms)
        upto = sqlite3_column_int64(st, 0);
    db_cache_release(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return migr_errf(err, "reading old events: %s", sqlite3_errmsg(dc->db));
    if (upto == *after_id)
        return 0;
    if (db_cache_run(dc, err, "DELETE FROM events WHERE id > ? AND id <= ? AND kind GLOB 'task.*'", "ii", *after_id,
                     upto) < 0)
        return -1;
    *after_id = upto;
    return sqlite3_changes(dc->db);
}

int queue_event(sqlite3 *db, const char *kind, const char *owner, int64_t owner_id,
                int64_t task_id, const char *detail, migr_err *err)
{
    if (db_run(db, err, EVENT_INSERT, "issiis", clock_wall_ms(), kind, owner, owner_id, task_id, detail) < 0)
        return -1;
    return count_event(db, kind, task_id, detail, err);
}
