/* test_queue.c -- tasks and leases on a real SQLite file opened with db_open
 * (so the embedded migrations apply).  Times are explicit now_ms values; no
 * test sleeps. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/db.h"
#include "coordinator/queue.h"
#include "coordinator/runs.h"
#include "coordinator/views.h"

/* ---- helpers ---- */

/* Run body on a fresh database in the test's scratch directory, closing it
 * whatever body's outcome. */
#define WITH_DB(body)                                                          \
    do {                                                                       \
        sqlite3 *db_;                                                          \
        migr_err err_;                                                         \
        char path_[4096];                                                      \
        snprintf(path_, sizeof path_, "%s/migr.db", check_tmpdir());           \
        CHECK_MSG(db_open(&db_, path_, &err_) == 0, "db_open: %s", err_.msg);  \
        body(check_self_, db_);                                                \
        for (sqlite3_stmt *st_; (st_ = sqlite3_next_stmt(db_, NULL));)         \
            sqlite3_finalize(st_);                                             \
        db_close(&db_);                                                        \
    } while (0)

/* The hot path's functions take a statement cache: a fresh one per call
 * here (WITH_DB finalizes what they prepared). */
#define Q(db) (&(db_cache){.db = (db)})

/* Add a 'dataset' task of kind featurize for clip `clip`, params {"clip":N}. */
static int add_clip_task(sqlite3 *db, int64_t dataset, int64_t clip, int max_attempts, migr_err *err)
{
    char params[64];
    snprintf(params, sizeof params, "{\"clip\":%lld}", (long long)clip);
    return queue_add(db, "dataset", dataset, "featurize", clip, params, max_attempts, err);
}

/* queue_lease, copying the params into buf so nothing is left to free. */
static int lease_into(sqlite3 *db, const char *worker, uint64_t lease, int64_t now_ms, task_row *t,
                      char *buf, size_t cap, migr_err *err)
{
    char *params = NULL;
    int rc = queue_lease(Q(db), worker, lease, now_ms, t, &params, err);
    snprintf(buf, cap, "%s", params ? params : "");
    free(params);
    return rc;
}

/* A task's text column ("" for NULL, "(no such task)" when missing). */
static const char *task_text(sqlite3 *db, int64_t id, const char *column, char *buf, size_t cap)
{
    char sql[128];
    migr_err err;

    snprintf(sql, sizeof sql, "SELECT %s FROM tasks WHERE id = ?", column);
    sqlite3_stmt *st = db_prepare(db, &err, sql, "i", id);
    if (!st) {
        snprintf(buf, cap, "(error: %s)", err.msg);
        return buf;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(buf, cap, "%s", db_text(st, 0));
    else
        snprintf(buf, cap, "(no such task)");
    sqlite3_finalize(st);
    return buf;
}

/* A task's integer column; -999 for NULL or a missing task. */
static int64_t task_int(sqlite3 *db, int64_t id, const char *column)
{
    char sql[128];
    migr_err err;
    int64_t v;

    snprintf(sql, sizeof sql, "SELECT %s FROM tasks WHERE id = ?", column);
    return db_int(db, &err, &v, -999, sql, "i", id) == 0 ? v : -1000;
}

static int64_t count_events(sqlite3 *db, const char *kind, int64_t task_id)
{
    migr_err err;
    int64_t n;
    return db_int(db, &err, &n, 0, "SELECT COUNT(*) FROM events WHERE kind = ? AND task_id = ?",
                  "si", kind, task_id) == 0 ? n : -1;
}

/* ---- leasing ---- */

static void lease_oldest(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t;
    char params[64], buf[64];

    for (int64_t clip = 10; clip < 13; clip++)
        CHECK_MSG(add_clip_task(db, 1, clip, 3, &err) == 0, "queue_add: %s", err.msg);

    CHECK_MSG(lease_into(db, "w1", 0xa1, 1000, &t, params, sizeof params, &err) == 1,
              "expected a task to be leased, got none (%s)", err.msg);
    CHECK_INT(1, t.id);
    CHECK_STR("dataset", t.owner);
    CHECK_INT(1, t.owner_id);
    CHECK_STR("featurize", t.kind);
    CHECK_INT(10, t.subject);
    CHECK_INT(1, t.attempts);
    CHECK_INT(3, t.max_attempts);
    CHECK_STR("w1", t.worker);
    CHECK_INT(0xa1, t.lease);
    CHECK_STR("{\"clip\":10}", params);
    /* The row says the same. */
    CHECK_STR("leased", task_text(db, 1, "state", buf, sizeof buf));
    CHECK_STR("w1", task_text(db, 1, "worker", buf, sizeof buf));
    CHECK_INT(1, task_int(db, 1, "attempts"));
    CHECK_INT(0xa1, task_int(db, 1, "lease"));
    CHECK_INT(1000, task_int(db, 1, "leased_ms"));
    CHECK_STR("queued", task_text(db, 2, "state", buf, sizeof buf));
}

TEST(queue_lease_gives_oldest_ready_task_with_attempts_1_and_params)
{
    WITH_DB(lease_oldest);
}

static void lease_next_then_none(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t;
    char params[64];

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);
    CHECK(add_clip_task(db, 1, 11, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 1, 1000, &t, params, sizeof params, &err));
    CHECK_INT(10, t.subject);

    CHECK_INT(1, lease_into(db, "w2", 2, 1000, &t, params, sizeof params, &err));
    CHECK_INT(2, t.id);
    CHECK_INT(11, t.subject);
    CHECK_INT(1, t.attempts);
    CHECK_STR("w2", t.worker);
    CHECK_STR("{\"clip\":11}", params);

    CHECK_INT(0, lease_into(db, "w3", 3, 1000, &t, params, sizeof params, &err));
}

TEST(queue_second_lease_gives_the_next_task_and_0_when_none_is_ready)
{
    WITH_DB(lease_next_then_none);
}

/* ---- the current lease ---- */

static void current_lease(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t, cur;
    char params[64];

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 0xbeef, 1000, &t, params, sizeof params, &err));

    memset(&cur, 0, sizeof cur);
    CHECK_INT(1, queue_current(Q(db), t.id, 0xbeef, &cur, &err));
    CHECK_INT(t.id, cur.id);
    CHECK_STR("w1", cur.worker);
    CHECK_INT(1, cur.attempts);
    CHECK_INT(0xbeef, cur.lease);
    CHECK_STR("featurize", cur.kind);

    CHECK_INT(0, queue_current(Q(db), t.id, 0xbeee, &cur, &err));
    CHECK_INT(0, queue_current(Q(db), t.id + 1, 0xbeef, &cur, &err));

    CHECK_MSG(queue_done(Q(db), &t, "{}", 2000, &err) == 0, "queue_done: %s", err.msg);
    CHECK_INT(0, queue_current(Q(db), t.id, 0xbeef, &cur, &err));
}

TEST(queue_current_accepts_the_right_lease_and_rejects_a_wrong_one_and_a_done_task)
{
    WITH_DB(current_lease);
}

static void current_lease_high_bit(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t, cur;
    char params[64];
    const uint64_t token = 0xfedcba9876543210ull;   /* above INT64_MAX */

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", token, 1000, &t, params, sizeof params, &err));
    CHECK_INT(1, queue_current(Q(db), t.id, token, &cur, &err));
    CHECK_MSG(cur.lease == token, "expected lease %llx, got %llx", (unsigned long long)token,
              (unsigned long long)cur.lease);
}

TEST(queue_current_accepts_a_lease_token_with_the_high_bit_set)
{
    WITH_DB(current_lease_high_bit);
}

/* ---- completion ---- */

static void done_once(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t;
    char params[64], buf[64];
    int64_t total;

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 7, 1000, &t, params, sizeof params, &err));
    CHECK_MSG(queue_done(Q(db), &t, "{\"frames\":16}", 2500, &err) == 0, "queue_done: %s", err.msg);

    CHECK_STR("done", task_text(db, t.id, "state", buf, sizeof buf));
    CHECK_STR("{\"frames\":16}", task_text(db, t.id, "output", buf, sizeof buf));
    CHECK_INT(2500, task_int(db, t.id, "finished_ms"));
    CHECK_INT(1, count_events(db, "task.done", t.id));
    CHECK(db_int(db, &err, &total, -1, "SELECT COUNT(*) FROM events", NULL) == 0);
    CHECK_INT(1, total);
    CHECK(db_int(db, &err, &total, -1,
                 "SELECT COUNT(*) FROM events WHERE owner = 'dataset' AND owner_id = 1 "
                 "AND detail = 'w1'", NULL) == 0);
    CHECK_INT(1, total);
    /* A done task is never leased again. */
    CHECK_INT(0, lease_into(db, "w2", 8, 1000000, &t, params, sizeof params, &err));
}

TEST(queue_done_marks_the_task_done_and_writes_exactly_one_done_event)
{
    WITH_DB(done_once);
}

/* ---- failure and retry ---- */

static void fail_backoff(check_case *check_self_, sqlite3 *db)
{
    const int64_t base = 100;
    migr_err err;
    task_row t;
    char params[64], buf[64];

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);

    /* Attempt 1 fails at 1000: ready again at 1000 + base. */
    CHECK_INT(1, lease_into(db, "w1", 1, 1000, &t, params, sizeof params, &err));
    int64_t wake = 0;
    CHECK_INT(0, queue_fail(Q(db), &t, "decoder crashed", 1000, base, &wake, &err));
    CHECK_STR("waiting", task_text(db, t.id, "state", buf, sizeof buf));
    CHECK_STR("decoder crashed", task_text(db, t.id, "error", buf, sizeof buf));
    CHECK_INT(1000 + base, task_int(db, t.id, "not_before_ms"));
    CHECK_INT(1000 + base, wake);
    CHECK_INT(-999, task_int(db, t.id, "lease"));
    CHECK_INT(-999, task_int(db, t.id, "worker"));
    /* Waiting, it is not leased, whatever the time, until woken. */
    CHECK_INT(0, lease_into(db, "w2", 2, 1000 + 10 * base, &t, params, sizeof params, &err));
    CHECK_INT(1, queue_wake(Q(db), t.id, &err));
    CHECK_INT(0, queue_wake(Q(db), t.id, &err));   /* queued now: nothing to wake */
    CHECK_INT(1, lease_into(db, "w2", 2, 1000 + base, &t, params, sizeof params, &err));
    CHECK_INT(2, t.attempts);
    CHECK_STR("{\"clip\":10}", params);

    /* Attempt 2 fails at 5000: ready again at 5000 + 2 * base. */
    CHECK_INT(0, queue_fail(Q(db), &t, "decoder crashed again", 5000, base, &wake, &err));
    CHECK_INT(5000 + 2 * base, task_int(db, t.id, "not_before_ms"));
    CHECK_INT(5000 + 2 * base, wake);
    CHECK_INT(0, lease_into(db, "w3", 3, 5000 + 2 * base, &t, params, sizeof params, &err));
    CHECK_INT(1, queue_wake(Q(db), t.id, &err));
    CHECK_INT(1, lease_into(db, "w3", 3, 5000 + 2 * base, &t, params, sizeof params, &err));
    CHECK_INT(3, t.attempts);
    CHECK_INT(2, count_events(db, "task.retry", t.id));
}

TEST(queue_fail_requeues_with_backoff_base_then_twice_base)
{
    WITH_DB(fail_backoff);
}

static void fail_for_good(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t;
    char params[64], buf[64];

    CHECK(add_clip_task(db, 1, 10, 2, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 1, 1000, &t, params, sizeof params, &err));
    CHECK_INT(0, queue_fail(Q(db), &t, "first", 1000, 100, NULL, &err));
    CHECK_INT(1, queue_wake(Q(db), t.id, &err));
    CHECK_INT(1, lease_into(db, "w1", 2, 2000, &t, params, sizeof params, &err));
    CHECK_INT(2, t.attempts);

    CHECK_INT(1, queue_fail(Q(db), &t, "out of memory decoding", 3000, 100, NULL, &err));
    CHECK_STR("failed", task_text(db, t.id, "state", buf, sizeof buf));
    CHECK_STR("out of memory decoding", task_text(db, t.id, "error", buf, sizeof buf));
    CHECK_INT(3000, task_int(db, t.id, "finished_ms"));
    CHECK_INT(1, count_events(db, "task.failed", t.id));
    CHECK_INT(0, queue_current(Q(db), t.id, 2, &t, &err));
    CHECK_INT(0, lease_into(db, "w2", 3, 1000000, &t, params, sizeof params, &err));
}

static void fail_backoff_cap(check_case *check_self_, sqlite3 *db)
{
    /* base * 2^(attempts-1): 1, 2, 4, 8, 16, 32 s, then 64 s capped at 60 s. */
    static const int64_t expected_ms[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    migr_err err;
    task_row t;
    char params[64];
    int64_t now = 0;

    CHECK(add_clip_task(db, 1, 10, 20, &err) == 0);
    for (int attempt = 1; attempt <= 8; attempt++) {
        CHECK_INT(1, lease_into(db, "w1", (uint64_t)attempt, now, &t, params, sizeof params, &err));
        CHECK_INT(attempt, t.attempts);
        CHECK_INT(0, queue_fail(Q(db), &t, "again", now, 1000, NULL, &err));
        CHECK_MSG(task_int(db, t.id, "not_before_ms") - now == expected_ms[attempt - 1],
                  "attempt %d: expected a backoff of %lld ms, got %lld", attempt,
                  (long long)expected_ms[attempt - 1],
                  (long long)(task_int(db, t.id, "not_before_ms") - now));
        CHECK_INT(1, queue_wake(Q(db), t.id, &err));
        now += expected_ms[attempt - 1];
    }
}

TEST(queue_fail_backoff_doubles_and_is_capped_at_60_s)
{
    WITH_DB(fail_backoff_cap);
}

TEST(queue_fail_returns_1_and_fails_for_good_once_attempts_reach_max)
{
    WITH_DB(fail_for_good);
}

static void stale_lease(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row old, fresh, cur;
    char params[64];

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "slow", 0x51, 1000, &old, params, sizeof params, &err));
    /* The slow worker is presumed dead: its task goes back and is re-leased. */
    CHECK_INT(0, queue_fail(Q(db), &old, "worker slow stopped responding", 4000, 100, NULL, &err));
    CHECK_INT(1, queue_wake(Q(db), old.id, &err));
    CHECK_INT(1, lease_into(db, "fast", 0xfa, 4100, &fresh, params, sizeof params, &err));
    CHECK_INT(old.id, fresh.id);

    CHECK_INT(0, queue_current(Q(db), old.id, old.lease, &cur, &err));
    CHECK_INT(1, queue_current(Q(db), fresh.id, fresh.lease, &cur, &err));
    CHECK_STR("fast", cur.worker);
    CHECK_INT(2, cur.attempts);

    /* Even called directly, the old holder can neither complete nor fail it. */
    old.attempts = 1;
    CHECK_INT(-1, queue_done(Q(db), &old, "{}", 4200, &err));
    CHECK_MSG(strstr(err.msg, "no longer held") != NULL, "expected \"no longer held\", got \"%s\"", err.msg);
    CHECK_INT(-1, queue_fail(Q(db), &old, "late failure", 4200, 100, NULL, &err));
    CHECK_INT(0, count_events(db, "task.done", old.id));
    CHECK_INT(1, queue_current(Q(db), fresh.id, fresh.lease, &cur, &err));
}

TEST(queue_stale_lease_is_not_current_after_the_task_was_requeued_and_re_leased)
{
    WITH_DB(stale_lease);
}

/* ---- cancelling an owner ---- */

static void cancel_owner(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row leased, done, t;
    char params[64], buf[64];

    CHECK(add_clip_task(db, 1, 10, 3, &err) == 0);   /* 1: dataset 1, will be done */
    CHECK(add_clip_task(db, 1, 11, 3, &err) == 0);   /* 2: dataset 1, will be leased */
    CHECK(add_clip_task(db, 1, 12, 3, &err) == 0);   /* 3: dataset 1, queued */
    CHECK(add_clip_task(db, 2, 20, 3, &err) == 0);   /* 4: dataset 2, queued */
    CHECK(queue_add(db, "run", 1, "grad", 0, "{}", 3, &err) == 0);   /* 5: run 1, queued */
    CHECK_INT(1, lease_into(db, "w1", 1, 1000, &done, params, sizeof params, &err));
    CHECK(queue_done(Q(db), &done, "{}", 1500, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 2, 1000, &leased, params, sizeof params, &err));
    CHECK_INT(2, leased.id);

    CHECK_MSG(queue_cancel_owner(db, "dataset", 1, "dataset removed", 2000, &err) == 0,
              "queue_cancel_owner: %s", err.msg);

    CHECK_STR("done", task_text(db, 1, "state", buf, sizeof buf));
    for (int64_t id = 2; id <= 3; id++) {
        CHECK_STR("failed", task_text(db, id, "state", buf, sizeof buf));
        CHECK_STR("dataset removed", task_text(db, id, "error", buf, sizeof buf));
        CHECK_INT(2000, task_int(db, id, "finished_ms"));
    }
    CHECK_STR("queued", task_text(db, 4, "state", buf, sizeof buf));
    CHECK_STR("queued", task_text(db, 5, "state", buf, sizeof buf));
    CHECK_INT(0, queue_current(Q(db), leased.id, leased.lease, &t, &err));

    CHECK_INT(1, lease_into(db, "w1", 3, 3000, &t, params, sizeof params, &err));
    CHECK_INT(4, t.id);
    CHECK_INT(1, lease_into(db, "w1", 4, 3000, &t, params, sizeof params, &err));
    CHECK_INT(5, t.id);
    CHECK_INT(0, lease_into(db, "w1", 5, 3000, &t, params, sizeof params, &err));
}

TEST(queue_cancel_owner_fails_queued_and_leased_tasks_of_that_owner_only)
{
    WITH_DB(cancel_owner);
}

/* ---- listing leases ---- */

static void list_leased(check_case *check_self_, sqlite3 *db)
{
    migr_err err;
    task_row t, *rows = NULL;
    size_t n = 99;
    char params[64];

    CHECK_MSG(queue_leased(db, &rows, &n, &err) == 0, "queue_leased: %s", err.msg);
    CHECK_INT(0, n);
    free(rows);
    rows = NULL;

    for (int64_t clip = 10; clip < 14; clip++)
        CHECK(add_clip_task(db, 1, clip, 3, &err) == 0);
    CHECK_INT(1, lease_into(db, "w1", 0x11, 1000, &t, params, sizeof params, &err));   /* task 1 */
    CHECK_INT(1, lease_into(db, "w2", 0x22, 1001, &t, params, sizeof params, &err));   /* task 2 */
    CHECK_INT(1, lease_into(db, "w3", 0x33, 1002, &t, params, sizeof params, &err));   /* task 3 */
    CHECK(queue_current(Q(db), 2, 0x22, &t, &err) == 1);
    CHECK(queue_done(Q(db), &t, "{}", 1500, &err) == 0);   /* task 2 leaves; task 4 stays queued */

    CHECK_MSG(queue_leased(db, &rows, &n, &err) == 0, "queue_leased: %s", err.msg);
    task_row got[2];
    size_t count = n;
    if (rows && n <= 2)
        memcpy(got, rows, n * sizeof *rows);
    free(rows);
    CHECK_INT(2, count);
    CHECK_INT(1, got[0].id);
    CHECK_STR("w1", got[0].worker);
    CHECK_INT(0x11, got[0].lease);
    CHECK_INT(1, got[0].attempts);
    CHECK_INT(3, got[1].id);
    CHECK_STR("w3", got[1].worker);
    CHECK_INT(0x33, got[1].lease);
}

TEST(queue_leased_lists_leased_tasks_oldest_first)
{
    WITH_DB(list_leased);
}

/* The lease query walks an index in id order and stops at the first ready
 * task: no sort of every ready row (it took 20 ms a lease at 200,000 queued
 * tasks with the old index, which could not give id order). */
static void lease_plan(check_case *check_self_, sqlite3 *db)
{
    sqlite3_stmt *st;
    char plan[1024] = "";
    CHECK(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT id " QUEUE_READY " LIMIT 1", -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s; ", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    CHECK_MSG(strstr(plan, "INDEX tasks_queue") != NULL, "plan: %s", plan);
    CHECK_MSG(strstr(plan, "TEMP B-TREE") == NULL, "the lease query sorts: %s", plan);
}

TEST(queue_lease_query_walks_an_index_in_id_order_without_sorting)
{
    WITH_DB(lease_plan);
}

/* The plan of sql, its rows' details joined with "; ". */
static void plan_of(sqlite3 *db, const char *sql, char *plan, size_t cap)
{
    char explain[2048];
    sqlite3_stmt *st;
    plan[0] = '\0';
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    if (sqlite3_prepare_v2(db, explain, -1, &st, NULL) != SQLITE_OK) {
        snprintf(plan, cap, "(cannot prepare: %s)", sqlite3_errmsg(db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(plan + strlen(plan), cap - strlen(plan), "%s; ", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

/* Every query migrd runs per message, per task completion or per worker on
 * each tick, with the index its plan must use.  None may scan a table or
 * sort (a temp b-tree): their cost must not grow with the tasks stored. */
static void hot_plans(check_case *check_self_, sqlite3 *db)
{
    static const struct {
        const char *name, *sql, *uses;
    } hot[] = {
        {"lease: the oldest ready task", "SELECT id " QUEUE_READY " LIMIT 1", "INDEX tasks_queue"},
        {"a result's lease", "SELECT id " QUEUE_CURRENT, "USING INTEGER PRIMARY KEY"},
        {"a worker's leases (hello, loss)", "SELECT id " QUEUE_LEASED_TO, "USING INDEX tasks_held"},
        {"a dataset's pending clip", DATASET_ANY_PENDING_CLIP, "USING COVERING INDEX clips_by_state"},
        {"a dataset's synth task", DATASET_ANY_SYNTH_TASK, "USING INDEX tasks_by_owner"},
        {"a run step's unfinished shard", RUN_ANY_SHARD_UNFINISHED, "USING INDEX tasks_by_owner"},
        {"a worker heard from", WORKER_HEARD, "USING INDEX sqlite_autoindex_workers_1"},
        {"migr workers: tasks per worker", VIEW_WORKERS, "USING INDEX tasks_held"},
    };
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        char plan[2048];
        plan_of(db, hot[i].sql, plan, sizeof plan);
        CHECK_MSG(strstr(plan, hot[i].uses) != NULL, "%s: expected a plan %s, got: %s", hot[i].name, hot[i].uses,
                  plan);
        CHECK_MSG(strstr(plan, "TEMP B-TREE") == NULL || i == sizeof hot / sizeof hot[0] - 1,
                  "%s sorts: %s", hot[i].name, plan);
        /* Only migr workers may scan, and only the workers table it lists. */
        for (const char *p = plan; (p = strstr(p, "SCAN ")) != NULL; p += 5)
            CHECK_MSG(i == sizeof hot / sizeof hot[0] - 1 && strncmp(p, "SCAN w", 6) == 0, "%s scans: %s",
                      hot[i].name, plan);
    }
}

TEST(hot_queries_search_an_index_and_never_scan_the_tasks)
{
    WITH_DB(hot_plans);
}
