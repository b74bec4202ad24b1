/* test_coord.c -- the coordinator's checks of what workers report, on a
 * coordinator with a real SQLite file. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "coordinator/evals.h"
#include "coordinator/queue.h"
#include "coordinator/runs.h"
#include "tests/unit/coord_fixture.h"

/* Store paths to remove come from worker output: a missing one (it reached
 * strdup(NULL) and crashed migrd, again on every restart) and one outside
 * the store's objects are refused; a run's gradient is taken. */
TEST(coord_discard_refuses_paths_workers_should_not_give)
{
    static const char *const bad[] = {"/etc/passwd", "../migr.db", "runs/1/../../../x", "runs/..", "store.db",
                                      "datasets/a/\nb", "", "runs"};
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int null_refused = coord_discard(&c, NULL, &err) < 0;
    char null_msg[sizeof err.msg];
    snprintf(null_msg, sizeof null_msg, "%s", err.msg);
    int taken = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        taken += coord_discard(&c, bad[i], &err) == 0;
    int ok = coord_discard(&c, "runs/1/grads/000001-00.grad", &err) == 0 &&
             coord_discard(&c, "runs/1/ckpt/..hidden", &err) == 0;
    int queued = c.ndiscard;
    coord_close(&c);
    CHECK(null_refused);
    CHECK_MSG(strstr(null_msg, "names no store object") != NULL, "%s", null_msg);
    CHECK_INT(0, taken);
    CHECK_MSG(ok, "a run's gradient was refused: %s", err.msg);
    CHECK_INT(2, queued);
}

/* A step's gradient list is read in one query; a row that cannot be read
 * (here: a shard's output that is not JSON) must fail the step, not give an
 * apply task the shards read before it.  The old loop stopped at the error
 * as if at the end and queued the apply with one gradient of two. */
TEST(runs_grad_done_fails_when_a_gradient_cannot_be_read)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int64_t applies = -1;
    int setup = db_run(c.db, &err, "INSERT INTO runs (id, name, kind, state, steps, config, created_ms) "
                       "VALUES (1, 'r', 'sft', 'running', 1, '{\"train\": {\"shards\": 2}}', 0)", "") == 0 &&
                queue_add(c.db, "run", 1, "grad", 1, "{\"shard\": 0}", 3, &err) == 0 &&
                queue_add(c.db, "run", 1, "grad", 1, "{\"shard\": 1}", 3, &err) == 0 &&
                db_run(c.db, &err, "UPDATE tasks SET state = 'done', output = ? WHERE id = 1", "s",
                       "{\"grad\": \"runs/1/grads/000001-00.grad\", \"tokens\": 5, \"loss_sum\": 1.5, "
                       "\"divisor\": 5}") == 0 &&
                db_run(c.db, &err, "UPDATE tasks SET state = 'done', output = 'not json {' WHERE id = 2", "") == 0;
    task_row t = {.id = 2, .owner = "run", .owner_id = 1, .kind = "grad", .subject = 1};
    int rc = setup ? runs_grad_done(&c, &t, NULL, &err) : 0;
    char msg[sizeof err.msg];
    snprintf(msg, sizeof msg, "%s", err.msg);
    db_int(c.db, &err, &applies, -1, "SELECT COUNT(*) FROM tasks WHERE kind = 'apply'", "");
    coord_close(&c);
    CHECK_MSG(setup, "setting up: %s", msg);
    CHECK_MSG(rc < 0, "the step went on with a gradient it could not read (%lld apply task)", (long long)applies);
    CHECK_MSG(strstr(msg, "reading the gradients of step 1") != NULL, "%s", msg);
    CHECK_INT(0, applies);
}

/* Store objects are removed after the commit that stopped needing them.  A
 * crash in between (here: closing without the flush) used to leak them for
 * good; the discards table carries them to the next start.  One discarded
 * in a transaction that rolled back stays. */
TEST(store_objects_a_crash_left_behind_are_removed_at_the_next_start)
{
    const char *const kept = "runs/1/grads/000001-00.grad", *const gone = "runs/1/grads/000001-01.grad";
    char path[PATH_MAX];
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int put = store_put(&c.st, kept, "g0", 2, NULL, &err) == 0 && store_put(&c.st, gone, "g1", 2, NULL, &err) == 0;
    int rolled = db_begin(c.db, &err) == 0 && coord_discard(&c, kept, &err) == 0;
    db_rollback(c.db);
    c.ndiscard = 0;  /* as the rollback path's flush does */
    free(c.discard[0]);
    int committed = db_begin(c.db, &err) == 0 && coord_discard(&c, gone, &err) == 0 && db_commit(c.db, &err) == 0;
    coord_close(&c);  /* the crash: no flush after the commit */
    snprintf(path, sizeof path, "%s/store/%s", check_tmpdir(), gone);
    int still_there = access(path, F_OK) == 0;

    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open again: %s", err.msg);
    int64_t rows = -1;
    int counted = db_int(c.db, &err, &rows, -1, "SELECT COUNT(*) FROM discards", "") == 0;
    coord_close(&c);
    CHECK(put && rolled && committed);
    CHECK(still_there);
    CHECK_MSG(access(path, F_OK) != 0, "%s is still in the store after a restart", gone);
    snprintf(path, sizeof path, "%s/store/%s", check_tmpdir(), kept);
    CHECK_MSG(access(path, F_OK) == 0, "%s was removed though its discard rolled back", kept);
    CHECK(counted);
    CHECK_INT(0, rows);
}

/* migrd's database starts durable (synchronous=FULL).  Batches of worker
 * messages commit without an fsync (server.c); a store object they stopped
 * needing is removed only after a durable commit, so a power cut can never
 * leave the database needing an object that is gone. */
TEST(store_objects_are_removed_only_after_a_durable_commit)
{
    const char *const obj = "runs/1/grads/000001-00.grad";
    char path[PATH_MAX];
    coord c;
    migr_err err = {0};
    int64_t sync = -1;
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = db_int(c.db, &err, &sync, -1, "PRAGMA synchronous", "") == 0 &&
             store_put(&c.st, obj, "g0", 2, NULL, &err) == 0 && db_set_durable(c.db, 0, &err) == 0;
    c.durable = 0;
    int mark = coord_begin(&c, &err);
    ok = ok && mark >= 0 && coord_discard(&c, obj, &err) == 0 && coord_commit(&c, &err) == 0;
    snprintf(path, sizeof path, "%s/store/%s", check_tmpdir(), obj);
    int after_fast_commit = access(path, F_OK) == 0;
    ok = ok && db_set_durable(c.db, 1, &err) == 0;
    c.durable = 1;
    coord_discard_flush(&c, 1);
    int after_durable = access(path, F_OK) == 0;
    coord_close(&c);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(2, sync);
    CHECK_MSG(after_fast_commit, "%s was removed after a commit that was not durable", obj);
    CHECK_MSG(!after_durable, "%s is still in the store after a durable commit", obj);
}

static int count_vm_steps(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)x;
    *(int64_t *)ctx += sqlite3_stmt_status(p, SQLITE_STMTSTATUS_VM_STEP, 0);
    return 0;
}

/* An evaluation's shard completion costs the same whichever shard it is:
 * each used to count the run's done shards, so an evaluation in S shards
 * read O(S^2) rows (shard 299 of 300 took 27 times the steps of shard 2).
 * The last completion computes the metrics over every shard's records. */
TEST(evals_shard_done_costs_the_same_for_every_shard)
{
    enum { SHARDS = 300 };
    coord c;
    migr_err err = {0};
    int64_t steps[SHARDS] = {0}, done = -1;
    char state[32] = "";
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = db_run(c.db, &err, "INSERT INTO datasets (id, name, source, manifest, state, created_ms) "
                    "VALUES (1, 'd', 'manifest', '/m.csv', 'ready', 0)", "") == 0 &&
             db_run(c.db, &err, "INSERT INTO runs (id, name, kind, state, step, steps, config, created_ms) "
                    "VALUES (1, 'e', 'eval', 'running', 0, ?, '{}', 0)", "i", (int64_t)SHARDS) == 0 &&
             db_run(c.db, &err, "INSERT INTO evals (run_id, ckpt_path, dataset_id, clips, created_ms) "
                    "VALUES (1, 'runs/9/ckpt/000001.ckpt', 1, ?, 0)", "i", (int64_t)SHARDS) == 0;
    for (int k = 0; ok && k < SHARDS; k++)
        ok = queue_add(c.db, "run", 1, "evaluate", k, "{}", 3, &err) == 0;
    for (int k = 0; ok && k < SHARDS; k++) {
        task_row t = {.id = k + 1, .owner = "run", .owner_id = 1, .kind = "evaluate", .subject = k};
        ok = db_run(c.db, &err, "UPDATE tasks SET state = 'done', output = ? WHERE id = ?", "si",
                    k % 2 ? "{\"records\": [[1, 1, 1, 1, 0, 0, 1, 1]]}" : "{\"records\": [[2, 1, 1, 2, 1, 1, 0, 1]]}",
                    (int64_t)k + 1) == 0 &&
             sqlite3_trace_v2(c.db, SQLITE_TRACE_PROFILE, count_vm_steps, &steps[k]) == SQLITE_OK &&
             evals_shard_done(&c, &t, NULL, &err) == 0;
        sqlite3_trace_v2(c.db, 0, NULL, NULL);
    }
    if (ok) {
        sqlite3_stmt *st = db_prepare(c.db, &err, "SELECT step, state FROM runs WHERE id = 1", "");
        if (st && sqlite3_step(st) == SQLITE_ROW) {
            done = sqlite3_column_int64(st, 0);
            snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    coord_close(&c);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(SHARDS, done);
    CHECK_STR("succeeded", state);
    CHECK_MSG(steps[1] > 0 && steps[SHARDS - 2] == steps[1],
              "shard 2 took %lld steps, shard %d %lld", (long long)steps[1], SHARDS - 1,
              (long long)steps[SHARDS - 2]);
}

/* The loop's commits never checkpoint the write-ahead log (an fsync of the
 * database inside a batch, which held its assignments: p99 8.9 ms at 1,000
 * simulated workers, 3.7 ms without); the checkpoint thread's connection
 * copies it all back. */
TEST(the_loop_never_checkpoints_and_the_wal_keeper_does)
{
    coord c;
    migr_err err = {0};
    int64_t autockpt = -1;
    int before = -1, after = -1;
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = db_int(c.db, &err, &autockpt, -1, "PRAGMA wal_autocheckpoint", "") == 0;
    for (int i = 0; ok && i < 3000; i++) /* well past the 1,000 pages SQLite would checkpoint at */
        ok = db_run(c.db, &err, "INSERT INTO events (at_ms, kind, detail) VALUES (?, 'test', zeroblob(900))", "i",
                    (int64_t)i) == 0;
    /* the log's frames: 24-byte header each, then a page */
    char wal[sizeof c.home.db + 8];
    struct stat st;
    int64_t page = 0;
    snprintf(wal, sizeof wal, "%s-wal", c.home.db);
    ok = ok && db_int(c.db, &err, &page, 0, "PRAGMA page_size", "") == 0 && stat(wal, &st) == 0;
    if (ok)
        before = (int)((st.st_size - 32) / (page + 24));
    ok = ok && walkeeper_checkpoint(c.wal.db, &after, &err) == 0;
    coord_close(&c);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(0, autockpt);
    CHECK_MSG(before > 1000, "the log held %d frames: the loop's commits checkpointed it", before);
    CHECK_INT(0, after);
}
