/* test_run_retry.c -- `migr run retry` (the run.retry request) on a
 * coordinator with a real SQLite file: a failed run with a checkpoint past
 * step 0 is taken up from it, and when its checkpoints cannot be read the
 * retry fails with the database's error instead of starting the run over. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "spec/runconfig.h"
#include "tests/unit/coord_fixture.h"

/* A ready dataset d of 4 annotated clips, and run 1 on it that failed after
 * its checkpoint of step 5 (and its step-0 one). */
static int failed_run_with_a_checkpoint(coord *c, migr_err *err)
{
    static const char *const sets[] = {"dataset=d", "train.steps=10", "train.batch_size=2", "train.shards=1",
                                       "train.warmup=1"};
    runconfig rc;
    runconfig_defaults(&rc);
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (runconfig_set(&rc, sets[i], err) < 0)
            return -1;
    json_t *cfg = runconfig_to_json(&rc);
    json_t *args = cfg ? json_pack("{s:o}", "config", cfg) : NULL;
    char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
    json_decref(args);
    if (!text)
        return migr_errf(err, "out of memory");
    int ok = db_run(c->db, err, "INSERT INTO datasets (id, name, source, manifest, state, created_ms) "
                    "VALUES (1, 'd', 'synth', '', 'ready', 0)", "") == 0;
    for (int64_t i = 0; ok && i < 4; i++)
        ok = db_run(c->db, err, "INSERT INTO clips (dataset_id, idx, path, label, annotation, state, features) "
                    "VALUES (1, ?, '/clip.mp4', 'joy', '{}', 'featurized', 'datasets/d/features/clip.feat')",
                    "i", i) == 0;
    int status = 0;
    char *out = ok ? api_handle(c, "run.submit", text, &status, err) : NULL;
    free(text);
    if (!out)
        return -1;
    free(out);
    return db_run(c->db, err, "UPDATE runs SET state = 'failed' WHERE id = 1", "") < 0 ||
                   db_run(c->db, err, "INSERT INTO checkpoints (run_id, step, path, sha256, created_ms) VALUES "
                          "(1, 0, 'runs/1/ckpt/000000.ckpt', 'sha-0', 0), "
                          "(1, 5, 'runs/1/ckpt/000005.ckpt', 'sha-5', 0)", "") < 0
               ? -1 : 0;
}

/* The runs there are now. */
static int64_t count_runs(coord *c)
{
    int64_t n = -1;
    migr_err err;
    db_int(c->db, &err, &n, -1, "SELECT COUNT(*) FROM runs", "");
    return n;
}

TEST(run_retry_takes_a_failed_run_up_from_its_newest_checkpoint)
{
    coord c;
    migr_err err = {0};
    int status = -1;
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int setup = failed_run_with_a_checkpoint(&c, &err) == 0;
    char *out = setup ? api_handle(&c, "run.retry", "{\"id\": 1}", &status, &err) : NULL;
    json_t *body = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    coord_close(&c);
    CHECK_MSG(setup, "setting up: %s", err.msg);
    CHECK_MSG(body, "the retry failed: %s", err.msg);
    CHECK_INT(0, status);
    CHECK_INT(5, json_integer_value(json_object_get(body, "resumed_from_step")));
    CHECK_INT(1, json_integer_value(json_object_get(body, "retry_of")));
    json_decref(body);
}

/* The checkpoints table is gone (a damaged or hand-edited database): the
 * query for the newest checkpoint cannot be prepared. */
TEST(run_retry_fails_when_the_checkpoint_table_cannot_be_read)
{
    coord c;
    migr_err err = {0};
    int status = -1;
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int setup = failed_run_with_a_checkpoint(&c, &err) == 0 &&
                db_run(c.db, &err, "DROP TABLE checkpoints", "") == 0;
    char *out = setup ? api_handle(&c, "run.retry", "{\"id\": 1}", &status, &err) : NULL;
    int64_t runs = count_runs(&c);
    coord_close(&c);
    CHECK_MSG(setup, "setting up: %s", err.msg);
    CHECK_MSG(!out, "the retry started the run over without its checkpoint: %s", out);
    CHECK_INT(1, status);
    CHECK_MSG(strstr(err.msg, "no such table: checkpoints"), "the error does not say what was wrong: %s",
              err.msg);
    CHECK_MSG(strstr(err.msg, "run 1") && strstr(err.msg, "--fresh"), "the error does not say what to do: %s",
              err.msg);
    CHECK_INT(1, runs);
}

/* The newest checkpoint's row fails while it is read (an integer overflow
 * in a view standing in for the table): the error comes from stepping the
 * statement, not from preparing it. */
TEST(run_retry_fails_when_the_newest_checkpoint_cannot_be_read)
{
    coord c;
    migr_err err = {0};
    int status = -1;
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int setup = failed_run_with_a_checkpoint(&c, &err) == 0 &&
                db_run(c.db, &err, "ALTER TABLE checkpoints RENAME TO checkpoints_kept", "") == 0 &&
                db_run(c.db, &err, "CREATE VIEW checkpoints AS SELECT run_id, step, path, created_ms, "
                       "CASE WHEN step > 0 THEN abs(-9223372036854775807 - 1) ELSE sha256 END AS sha256 "
                       "FROM checkpoints_kept", "") == 0;
    char *out = setup ? api_handle(&c, "run.retry", "{\"id\": 1}", &status, &err) : NULL;
    int64_t runs = count_runs(&c);
    coord_close(&c);
    CHECK_MSG(setup, "setting up: %s", err.msg);
    CHECK_MSG(!out, "the retry started the run over without its checkpoint: %s", out);
    CHECK_INT(1, status);
    CHECK_MSG(strstr(err.msg, "integer overflow"), "the error does not say what was wrong: %s", err.msg);
    CHECK_MSG(strstr(err.msg, "run 1") && strstr(err.msg, "--fresh"), "the error does not say what to do: %s",
              err.msg);
    CHECK_INT(1, runs);
}
