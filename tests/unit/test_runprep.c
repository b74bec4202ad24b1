/* test_runprep.c -- a submitted run's clip split, prepared by the loop a
 * slice at a time, on a coordinator with a real SQLite file and store. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "coordinator/queue.h"
#include "coordinator/runprep.h"
#include "coordinator/runs.h"
#include "spec/runconfig.h"
#include "tests/unit/coord_fixture.h"

enum { CLIPS = 300 };

static int64_t number(sqlite3 *db, const char *sql)
{
    int64_t n;
    migr_err err;
    return db_int(db, &err, &n, -2, sql, "") < 0 ? -2 : n;
}

/* A ready dataset d of CLIPS annotated clips, added once. */
static int add_dataset(coord *c, migr_err *err)
{
    int ok = db_run(c->db, err, "INSERT INTO datasets (id, name, source, manifest, state, created_ms) "
                    "VALUES (1, 'd', 'synth', '', 'ready', 0)", "") == 0;
    for (int64_t i = 0; ok && i < CLIPS; i++)
        ok = db_run(c->db, err, "INSERT INTO clips (dataset_id, idx, path, label, subtitle, annotation, state, "
                    "features) VALUES (1, ?, '/clip.mp4', 'happy', 'words', '{\"dominant\": \"visual\"}', "
                    "'featurized', 'datasets/d/features/clip.feat')", "i", i) == 0;
    return ok ? 0 : -1;
}

/* Submit an SFT run on d, with one more setting if extra is not NULL; 0,
 * or -1 with err. */
static int submit_with(coord *c, const char *extra, migr_err *err)
{
    static const char *const sets[] = {"dataset=d", "train.steps=10", "train.batch_size=4", "train.shards=2",
                                       "train.warmup=1", "train.holdout=0.1", "seed=9"};
    runconfig rc;
    runconfig_defaults(&rc);
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (runconfig_set(&rc, sets[i], err) < 0)
            return -1;
    if (extra && runconfig_set(&rc, extra, err) < 0)
        return -1;
    json_t *args = json_pack("{s:o}", "config", runconfig_to_json(&rc));
    char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
    json_decref(args);
    int status = 0;
    char *out = text ? api_handle(c, "run.submit", text, &status, err) : NULL;
    free(text);
    free(out);
    return out ? 0 : -1;
}

static int submit(coord *c, migr_err *err)
{
    return submit_with(c, NULL, err);
}

/* Steps with no time budget (each does the least it can) until nothing is
 * left; how many it took, or -1 if it never ended. */
static int prepare_all(coord *c)
{
    for (int steps = 1; steps < 10 * CLIPS; steps++)
        if (runprep_step(c, 0) == 0)
            return steps;
    return -1;
}

/* Run run's clips.json, as the string of its bytes (a JSON string holds
 * any bytes), or NULL with err. */
static json_t *clips_text(coord *c, int64_t run, migr_err *err)
{
    char rel[64];
    uint8_t *data;
    size_t len;
    snprintf(rel, sizeof rel, "runs/%lld/clips.json", (long long)run);
    if (store_get(&c->st, rel, &data, &len, NULL, err) < 0)
        return NULL;
    json_t *text = json_stringn_nocheck((const char *)data, len);
    free(data);
    return text;
}

static json_t *clips_json(coord *c, int64_t run, migr_err *err)
{
    json_t *text = clips_text(c, run, err);
    json_t *doc = text ? json_loads(json_string_value(text), 0, NULL) : NULL;
    json_decref(text);
    return doc;
}

/* The request only records the run (on 100,000 clips it held the loop
 * 12.5 s); the loop inserts its split and writes clips.json a slice per
 * step, then queues its init task.  The split is the seeded order's. */
TEST(a_run_is_prepared_by_the_loop_a_slice_at_a_time)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add_dataset(&c, &err) == 0 && submit(&c, &err) == 0;
    int64_t rows_at_reply = number(c.db, "SELECT COUNT(*) FROM run_clips"),
            tasks_at_reply = number(c.db, "SELECT COUNT(*) FROM tasks");
    int steps = ok ? prepare_all(&c) : -1;
    int64_t init = number(c.db, "SELECT COUNT(*) FROM tasks WHERE kind = 'init'"),
            prepared = number(c.db, "SELECT prepared IS NULL AND prep_extra IS NULL FROM runs");
    json_t *doc = ok ? clips_json(&c, 1, &err) : NULL;
    /* The holdout is the first 30 of the seeded order of the clip ids. */
    int64_t ids[CLIPS], perm[CLIPS], mismatched = 0;
    for (int i = 0; i < CLIPS; i++)
        ids[i] = i + 1;
    runs_split_order(perm, CLIPS, 9);
    json_t *hold = json_object_get(doc, "holdout"), *train = json_object_get(doc, "train");
    for (size_t i = 0; i < json_array_size(hold) + json_array_size(train); i++) {
        json_t *rec = i < json_array_size(hold) ? json_array_get(hold, i)
                                                 : json_array_get(train, i - json_array_size(hold));
        mismatched += json_integer_value(json_object_get(rec, "clip")) != ids[perm[i]];
    }
    size_t nhold = json_array_size(hold), ntrain = json_array_size(train);
    json_decref(doc);
    coord_close(&c);
    CHECK_MSG(ok && doc, "%s", err.msg);
    CHECK_INT(0, rows_at_reply);
    CHECK_INT(0, tasks_at_reply);
    CHECK_MSG(steps > 5, "the preparation took %d steps", steps);
    CHECK_INT(1, init);
    CHECK_INT(1, prepared);
    CHECK_INT(30, nhold);
    CHECK_INT(270, ntrain);
    CHECK_INT(0, mismatched);
}

/* Stopped halfway through its rows, and again halfway through clips.json,
 * a run's preparation goes on after each restart to the same clips.json as
 * one never stopped; a run cancelled meanwhile is dropped. */
TEST(a_run_preparation_survives_restarts_and_stops_at_a_cancel)
{
    coord c;
    migr_err err = {0};
    json_t *whole = NULL, *resumed = NULL;
    int64_t rows_at_stop = -1, rows_at_second_stop = -1;

    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add_dataset(&c, &err) == 0 && submit(&c, &err) == 0 && prepare_all(&c) > 0 &&
             (whole = clips_text(&c, 1, &err)) != NULL && submit(&c, &err) == 0;
    for (int i = 0; ok && i < 4; i++)
        ok = runprep_step(&c, 0) == 1;
    rows_at_stop = number(c.db, "SELECT prepared FROM runs WHERE id = 2");
    coord_close(&c); /* stopped while inserting rows */
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        while (ok && number(c.db, "SELECT prepared < 300 FROM runs WHERE id = 2") == 1)
            ok = runprep_step(&c, 0) == 1;
        for (int i = 0; ok && i < 3; i++)
            ok = runprep_step(&c, 0) == 1;
        rows_at_second_stop = number(c.db, "SELECT prepared FROM runs WHERE id = 2");
        coord_close(&c); /* stopped while writing clips.json */
    }
    ok = ok && open_test_coord(&c, &err) == 0;
    int64_t rows = -1, cancelled_tasks = -1, cancelled_prepared = -1;
    if (ok) {
        ok = prepare_all(&c) > 0 && (resumed = clips_text(&c, 2, &err)) != NULL;
        rows = number(c.db, "SELECT COUNT(*) FROM run_clips WHERE run_id = 2");
        /* A third run, cancelled after one slice. */
        ok = ok && submit(&c, &err) == 0 && runprep_step(&c, 0) == 1 && runs_cancel(&c, 3, &err) == 0 &&
             prepare_all(&c) > 0;
        cancelled_tasks = number(c.db, "SELECT COUNT(*) FROM tasks WHERE owner_id = 3");
        cancelled_prepared = number(c.db, "SELECT prepared IS NULL FROM runs WHERE id = 3");
        coord_close(&c);
    }
    int same = whole && resumed && json_equal(whole, resumed); /* byte for byte */
    json_decref(whole);
    json_decref(resumed);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(rows_at_stop > 0 && rows_at_stop < CLIPS, "stopped with %lld rows in", (long long)rows_at_stop);
    CHECK_INT(CLIPS, rows_at_second_stop);
    CHECK_INT(CLIPS, rows);
    CHECK_MSG(same, "the resumed run's clips.json differs from the run prepared at once");
    CHECK_INT(0, cancelled_tasks);
    CHECK_INT(1, cancelled_prepared);
}

/* The request counts no further than the split needs: too few clips for
 * the shards is refused there, as is reasoning.order mi on a dataset whose
 * mi job never ran.  A clip without modality importance all the same is
 * found while preparing: the run fails saying so. */
TEST(a_run_without_the_clips_it_needs_is_refused_or_fails_saying_why)
{
    coord c;
    migr_err err = {0}, refused = {0}, refused_mi = {0};
    char reason[1024] = "";
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add_dataset(&c, &err) == 0;
    int no_mi = ok ? submit_with(&c, "reasoning.order=mi", &refused_mi) : 0;
    ok = ok && db_run(c.db, &err, "UPDATE clips SET mi_visual = 0.5, mi_audio = 0.25, mi_text = 0.25 WHERE idx != 200",
                      "") == 0 &&
         queue_add(c.db, "dataset", 1, "mi", 0, "{}", 3, &err) == 0 &&
         db_run(c.db, &err, "UPDATE tasks SET state = 'done' WHERE kind = 'mi'", "") == 0;
    ok = ok && submit_with(&c, "reasoning.order=mi", &err) == 0 && prepare_all(&c) > 0;
    /* two clips, one held out, for two shards */
    ok = ok && db_run(c.db, &err, "DELETE FROM clips WHERE idx >= 2", "") == 0;
    int too_many = ok ? submit_with(&c, "train.holdout=0.5", &refused) : 0;
    sqlite3_stmt *st = ok ? db_prepare(c.db, &err, "SELECT state || ': ' || error FROM runs WHERE id = 1", "") : NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        snprintf(reason, sizeof reason, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    int64_t tasks = number(c.db, "SELECT COUNT(*) FROM tasks WHERE kind != 'mi'");
    coord_close(&c);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(-1, no_mi);
    CHECK_MSG(strstr(refused_mi.msg, "run `migr dataset mi d --wait` first") != NULL, "%s", refused_mi.msg);
    CHECK_INT(-1, too_many);
    CHECK_MSG(strstr(refused.msg, "only 1 training clips for 2 shards") != NULL, "%s", refused.msg);
    CHECK_MSG(strstr(reason, "failed: ") == reason && strstr(reason, "has no modality importance for every clip") &&
              strstr(reason, "migr dataset mi d --wait"), "%s", reason);
    CHECK_INT(0, tasks);
}
