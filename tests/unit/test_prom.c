/* test_prom.c -- /metrics on a real SQLite file opened with db_open (so the
 * embedded migrations, and their counting triggers, apply): what a scrape
 * costs as the tables grow, and that the counts it shows are the rows'. */
#include "check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "coordinator/db.h"
#include "coordinator/prom.h"
#include "coordinator/queue.h"

#define Q(handle) (&(db_cache){.db = (handle)})

typedef struct fixture {
    sqlite3 *db;
    int64_t next_clip, lease;
} fixture;

static int open_fixture(fixture *f, migr_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/migr.db", check_tmpdir());
    *f = (fixture){.lease = 1};
    if (db_open(&f->db, path, err) < 0)
        return -1;
    return db_run(f->db, err,
                  "INSERT INTO datasets (id, name, source, manifest, state, created_ms) "
                  "VALUES (1, 'd', 'manifest', '/m.csv', 'featurizing', 0)", NULL);
}

static void close_fixture(fixture *f)
{
    for (sqlite3_stmt *st; (st = sqlite3_next_stmt(f->db, NULL));)
        sqlite3_finalize(st);
    db_close(&f->db);
}

/* n clips (a fifth pending), each with a featurize task, in one
 * transaction; then leases of the oldest queued task, 4n/5 of them (or n for
 * history): a quarter of those stay leased (none for history), the rest are
 * done 20 ms after their lease, and one in eight of those first fails because
 * its worker died (a retry and a lost lease) and goes back to the queue
 * before the next lease.  History leaves as many tasks in flight as before. */
static int grow(fixture *f, int n, int history, migr_err *err)
{
    task_row t;
    char *params;
    if (db_begin(f->db, err) < 0)
        return -1;
    for (int i = 0; i < n; i++, f->next_clip++) {
        if (db_run(f->db, err,
                   "INSERT INTO clips (dataset_id, idx, path, label, state) VALUES (1, ?, '/c.mp4', 'happy', ?)",
                   "is", f->next_clip, i % 5 == 0 ? "pending" : "featurized") < 0 ||
            queue_add(f->db, "dataset", 1, "featurize", f->next_clip, "{}", 3, err) < 0)
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (i % 5 == 0 && !history)
            continue;
        int64_t now = 1000 * i;
        if (queue_lease(Q(f->db), "w1", (uint64_t)f->lease++, now, &t, &params, err) != 1)
            goto fail;
        free(params);
        if (i % 5 == 1 && !history)
            continue;
        if (i % 10 == 2) {
            if (queue_fail(Q(f->db), &t, "worker w1 died", now, 1, NULL, err) != 0 ||
                queue_wake(Q(f->db), t.id, err) != 1 ||
                queue_lease(Q(f->db), "w2", (uint64_t)f->lease++, now, &t, &params, err) != 1)
                goto fail;
            free(params);
        }
        if (queue_done(Q(f->db), &t, "{}", now + 20, err) < 0)
            goto fail;
    }
    return db_commit(f->db, err);
fail:
    db_rollback(f->db);
    return -1;
}

static int count_steps(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)x;
    *(int64_t *)ctx += sqlite3_stmt_status(p, SQLITE_STMTSTATUS_VM_STEP, 0);
    return 0;
}

/* The virtual-machine steps one /metrics page takes: what it reads, in
 * SQLite's own count, not in time. */
static int scrape_steps(sqlite3 *db, int64_t *steps, migr_err *err)
{
    char *text;
    size_t len;
    *steps = 0;
    if (sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, count_steps, steps) != SQLITE_OK)
        return migr_errf(err, "cannot trace statements: %s", sqlite3_errmsg(db));
    int rc = prom_page(db, &text, &len, err);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    free(text);
    return rc;
}

/* A scrape reads the tasks that ended, their events and the clips from
 * counts kept beside the rows: 10,000 more tasks done (and their clips and
 * events) cost it nothing, with the same tasks in flight.  It took 108 times
 * the steps (full scans of tasks, clips and events). */
TEST(metrics_page_costs_the_same_after_ten_thousand_more_tasks_ended)
{
    fixture f;
    migr_err err;
    int64_t small, large;
    CHECK_MSG(open_fixture(&f, &err) == 0, "%s", err.msg);
    int ok = grow(&f, 100, 0, &err) == 0 && scrape_steps(f.db, &small, &err) == 0 &&
             grow(&f, 10000, 1, &err) == 0 && scrape_steps(f.db, &large, &err) == 0;
    close_fixture(&f);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(small > 0 && large <= small + small / 10,
              "a scrape took %" PRId64 " steps at 100 tasks and %" PRId64 " at 10,100", small, large);
}

/* The value of the sample `series` (name and labels, exactly) in page. */
static int64_t sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; (p = strstr(p, series)) != NULL; p += n)
        if ((p == page || p[-1] == '\n') && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    return -1;
}

static int64_t count_of(sqlite3 *db, const char *sql)
{
    int64_t n;
    migr_err err;
    return db_int(db, &err, &n, -2, sql, NULL) < 0 ? -2 : n;
}

/* The counts the page shows are those of the rows, through leases, retries,
 * completions and a cancellation; and trimming old task events keeps them. */
TEST(metrics_counts_are_the_rows_counts_and_survive_trimming_events)
{
    fixture f;
    migr_err err;
    char *page = NULL;
    size_t len;
    CHECK_MSG(open_fixture(&f, &err) == 0, "%s", err.msg);
    int ok = grow(&f, 50, 0, &err) == 0 &&
             queue_cancel_owner(f.db, "dataset", 1, "cancelled by the test", 1, &err) >= 0 &&
             prom_page(f.db, &page, &len, &err) == 0;
    if (!ok) {
        close_fixture(&f);
        CHECK_MSG(0, "%s", err.msg);
    }
    static const struct {
        const char *series, *sql;
    } want[] = {
        {"migr_tasks{kind=\"featurize\",state=\"queued\"}",
         "SELECT COUNT(*) FROM tasks WHERE state IN ('queued', 'waiting')"},
        {"migr_tasks{kind=\"featurize\",state=\"leased\"}", "SELECT COUNT(*) FROM tasks WHERE state = 'leased'"},
        {"migr_tasks{kind=\"featurize\",state=\"done\"}", "SELECT COUNT(*) FROM tasks WHERE state = 'done'"},
        {"migr_tasks{kind=\"featurize\",state=\"failed\"}", "SELECT COUNT(*) FROM tasks WHERE state = 'failed'"},
        {"migr_queue_depth", "SELECT COUNT(*) FROM tasks WHERE state = 'queued'"},
        {"migr_task_retries_total{kind=\"featurize\"}", "SELECT COUNT(*) FROM events WHERE kind = 'task.retry'"},
        {"migr_leases_lost_total",
         "SELECT COUNT(*) FROM events WHERE kind IN ('task.retry', 'task.failed') AND detail LIKE 'worker %'"},
        {"migr_task_duration_seconds_count{kind=\"featurize\"}", "SELECT COUNT(*) FROM tasks WHERE state = 'done'"},
        {"migr_task_duration_seconds_bucket{kind=\"featurize\",le=\"0.01\"}", "SELECT 0"},
        {"migr_task_duration_seconds_bucket{kind=\"featurize\",le=\"0.05\"}",
         "SELECT COUNT(*) FROM tasks WHERE state = 'done'"},
        {"migr_dataset_clips{dataset=\"d\",state=\"pending\"}", "SELECT COUNT(*) FROM clips WHERE state = 'pending'"},
        {"migr_dataset_clips{dataset=\"d\",state=\"featurized\"}",
         "SELECT COUNT(*) FROM clips WHERE state = 'featurized'"},
    };
    int64_t got[sizeof want / sizeof want[0]], rows[sizeof want / sizeof want[0]];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        got[i] = sample(page, want[i].series);
        rows[i] = count_of(f.db, want[i].sql);
    }
    free(page);
    page = NULL;
    /* Every task event is older than now + 1 s: trim them all, 7 at a time. */
    int64_t trimmed = 0, left, after = 0;
    int rc;
    while ((rc = queue_trim_events(Q(f.db), clock_wall_ms() + 1000, 7, &after, &err)) > 0)
        trimmed += rc;
    left = count_of(f.db, "SELECT COUNT(*) FROM events WHERE kind GLOB 'task.*'");
    ok = rc == 0 && prom_page(f.db, &page, &len, &err) == 0;
    int64_t lost_after = ok ? sample(page, "migr_leases_lost_total") : -1;
    free(page);
    close_fixture(&f);
    CHECK_MSG(ok, "%s", err.msg);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(got[i] == rows[i] && rows[i] >= 0, "%s: the page says %" PRId64 ", the rows %" PRId64,
                  want[i].series, got[i], rows[i]);
    CHECK_MSG(rows[2] > 0 && rows[3] > 0 && rows[5] > 0, "the fixture made no done, failed or retried tasks");
    CHECK_MSG(trimmed > 0 && left == 0, "trimmed %" PRId64 " task events, %" PRId64 " left", trimmed, left);
    CHECK_INT(rows[6], lost_after);
}

/* Only task events older than the cut go, in id order, up to the first
 * newer event, `limit` events looked at a call; run events stay whatever
 * their age. */
TEST(trimming_events_removes_old_task_events_only)
{
    fixture f;
    migr_err err;
    CHECK_MSG(open_fixture(&f, &err) == 0, "%s", err.msg);
    int ok = db_run(f.db, &err,
                    "INSERT INTO events (at_ms, kind, owner, owner_id, task_id, detail) VALUES "
                    "(100, 'task.done', 'run', 1, 1, 'w'), (50, 'task.retry', 'run', 1, 2, 'x'), "
                    "(10, 'run.warning', 'run', 1, 1, 'keep'), (300, 'task.done', 'run', 1, 3, 'new')", NULL) == 0;
    int64_t after = 0;
    int first = ok ? queue_trim_events(Q(f.db), 200, 1, &after, &err) : -1;
    int64_t first_left = count_of(f.db, "SELECT COUNT(*) FROM events WHERE id = 1");
    int second = ok ? queue_trim_events(Q(f.db), 200, 10, &after, &err) : -1;
    int third = ok ? queue_trim_events(Q(f.db), 200, 10, &after, &err) : -1;
    int64_t left = count_of(f.db, "SELECT COUNT(*) FROM events WHERE kind = 'run.warning' OR at_ms = 300");
    int64_t all = count_of(f.db, "SELECT COUNT(*) FROM events");
    close_fixture(&f);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(1, first);
    CHECK_INT(0, first_left);
    CHECK_INT(3, after);
    CHECK_INT(1, second);
    CHECK_INT(0, third);
    CHECK_INT(2, left);
    CHECK_INT(2, all);
}
