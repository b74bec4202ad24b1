/* test_clipplan.c -- a synthetic dataset's clips planned by the loop, a
 * slice at a time, on a coordinator with a real SQLite file and store. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/db.h"
#include "coordinator/clipplan.h"
#include "tests/unit/coord_fixture.h"

enum { CLIPS = 100 };

static int64_t number(sqlite3 *db, const char *sql)
{
    int64_t n;
    migr_err err;
    return db_int(db, &err, &n, -2, sql, "") < 0 ? -2 : n;
}

/* Ask for the dataset; 0, or -1 with err. */
static int ask(coord *c, migr_err *err)
{
    int status = 0;
    char args[96];
    snprintf(args, sizeof args, "{\"name\": \"s\", \"clips\": %d, \"seed\": 5}", CLIPS);
    char *out = api_handle(c, "dataset.synth", args, &status, err);
    free(out);
    return out ? 0 : -1;
}

/* Steps with no time budget (each plans the least it can) until the plan is
 * complete; how many it took, or -1 if it never ended. */
static int plan_all(coord *c)
{
    for (int steps = 1; steps < 10 * CLIPS; steps++)
        if (clipplan_step(c, 0) == 0)
            return steps;
    return -1;
}

/* Every planned byte: the clip rows, their tasks, and with_files, the two
 * files a synthetic plan writes. */
static int plan_text(coord *c, int with_files, char **text, size_t *len, migr_err *err)
{
    FILE *f = open_memstream(text, len);
    if (!f)
        return migr_errf(err, "out of memory");
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT 'clip', idx, path, label, subtitle, annotation, state FROM clips UNION ALL "
        "SELECT 'task', subject, kind, params, state, max_attempts, NULL FROM tasks ORDER BY 1, 2", "");
    int rc = st ? 0 : -1;
    while (st && sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 7; i++)
            fprintf(f, "%s%c", sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "-",
                    i == 6 ? '\n' : '|');
    sqlite3_finalize(st);
    static const char *const files[] = {"manifest.csv", "annotations.jsonl"};
    for (int i = 0; i < 2 * with_files && rc == 0; i++) {
        char path[4096 + 64];
        uint8_t *data;
        size_t n;
        snprintf(path, sizeof path, "%s/datasets/s/%s", c->st.root, files[i]);
        if ((rc = fs_read_file(path, &data, &n, err)) == 0) {
            fwrite(data, 1, n, f);
            free(data);
        }
    }
    fclose(f);
    return rc;
}

/* The request only records the dataset: no clip is planned in it (a million
 * took the loop 150 s in one request).  The loop then plans a slice per
 * step, and the dataset does not move on before its plan is complete. */
TEST(a_synthetic_dataset_is_planned_by_the_loop_a_slice_at_a_time)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = ask(&c, &err) == 0;
    int64_t clips_at_reply = number(c.db, "SELECT COUNT(*) FROM clips");
    int first = ok ? clipplan_step(&c, 0) : -1;
    int64_t after_one = number(c.db, "SELECT COUNT(*) FROM clips");
    /* Every clip so far rendered and featurized: the plan is not complete,
     * so the dataset stays where it is. */
    ok = ok && db_run(c.db, &err, "UPDATE tasks SET state = 'done'", "") == 0 &&
         db_run(c.db, &err, "UPDATE clips SET state = 'featurized'", "") == 0 &&
         datasets_planned(&c, 1, &err) == 0;
    int64_t early = number(c.db, "SELECT state = 'synthesizing' FROM datasets");
    int steps = ok ? plan_all(&c) : -1;
    int64_t clips = number(c.db, "SELECT COUNT(*) FROM clips"),
            tasks = number(c.db, "SELECT COUNT(*) FROM tasks WHERE kind = 'synth'"),
            planned = number(c.db, "SELECT planned IS NULL AND annotations LIKE '%/annotations.jsonl' FROM datasets");
    char *text = NULL;
    size_t len = 0;
    ok = ok && plan_text(&c, 1, &text, &len, &err) == 0;
    coord_close(&c);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    free(text);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(0, clips_at_reply);
    CHECK_INT(1, first);
    CHECK_MSG(after_one > 0 && after_one < CLIPS, "one step planned %lld of %d clips", (long long)after_one, CLIPS);
    CHECK_INT(1, early);
    CHECK_MSG(steps > 2, "the plan took %d steps", steps);
    CHECK_INT(CLIPS, clips);
    CHECK_INT(CLIPS, tasks);
    CHECK_INT(1, planned);
    CHECK_INT(2 * CLIPS + 1 + 2 * CLIPS, lines); /* rows and tasks, the manifest with its header, annotations */
}

/* Stopped halfway through its rows, and again halfway through its files,
 * the plan goes on after each restart to the same bytes as one never
 * stopped. */
TEST(a_plan_stopped_midway_goes_on_after_a_restart_to_the_same_bytes)
{
    coord c;
    migr_err err = {0};
    char *whole = NULL, *resumed = NULL;
    size_t whole_len = 0, resumed_len = 0;

    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = ask(&c, &err) == 0 && plan_all(&c) > 0 && plan_text(&c, 1, &whole, &whole_len, &err) == 0 &&
             db_run(c.db, &err, "DELETE FROM tasks", "") == 0 && db_run(c.db, &err, "DELETE FROM clips", "") == 0 &&
             db_run(c.db, &err, "DELETE FROM datasets", "") == 0;
    coord_close(&c);
    /* Start again from nothing, the files included. */
    static const char *const files[] = {"manifest.csv", "annotations.jsonl"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/store/datasets/s/%s", check_tmpdir(), files[i]);
        ok = ok && unlink(path) == 0;
    }
    int64_t rows_at_stop = -1, files_at_stop = -1;
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        ok = ask(&c, &err) == 0;
        for (int i = 0; ok && i < 3; i++)
            ok = clipplan_step(&c, 0) == 1;
        rows_at_stop = number(c.db, "SELECT planned FROM datasets");
        coord_close(&c); /* stopped while inserting rows */
    }
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        /* the rows, then a few slices of the files */
        while (ok && number(c.db, "SELECT planned < plan_clips FROM datasets") == 1)
            ok = clipplan_step(&c, 0) == 1;
        for (int i = 0; ok && i < 3; i++)
            ok = clipplan_step(&c, 0) == 1;
        files_at_stop = number(c.db, "SELECT planned FROM datasets");
        coord_close(&c); /* stopped while writing the files */
    }
    /* and a crash had left a temp file there before */
    char stale[4096];
    snprintf(stale, sizeof stale, "%s/store/datasets/s/manifest.csv.tmp.AbC123", check_tmpdir());
    FILE *f = fopen(stale, "w");
    ok = ok && f && fclose(f) == 0;
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        ok = plan_all(&c) > 0 && plan_text(&c, 1, &resumed, &resumed_len, &err) == 0;
        coord_close(&c);
    }
    int stale_left = access(stale, F_OK) == 0;
    int same = whole && resumed && whole_len == resumed_len && memcmp(whole, resumed, whole_len) == 0;
    free(whole);
    free(resumed);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(rows_at_stop > 0 && rows_at_stop < CLIPS, "stopped with %lld rows in", (long long)rows_at_stop);
    CHECK_INT(CLIPS, files_at_stop);
    CHECK_MSG(!stale_left, "%s was left behind", stale);
    CHECK_MSG(same, "the resumed plan differs from the whole one (%zu and %zu bytes)", whole_len, resumed_len);
}

/* ---- manifests ---- */

enum { ROWS = 40 };

/* Write a manifest of ROWS clips (a header, quoted subtitles with commas,
 * some empty) and annotations of three of them under the test's directory;
 * extra, if not NULL, is appended to the manifest. */
static int write_manifest(const char *extra, migr_err *err)
{
    static const char *const labels[] = {"happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"};
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/m", check_tmpdir());
    if (fs_mkdirs(dir, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return migr_errf(err, "cannot write %s", path);
    fputs("path,label,subtitle\n", f);
    for (int i = 0; i < ROWS; i++)
        fprintf(f, i % 3 ? "v/c%02d.mp4,%s,\"line %d, said\"\n" : "v/c%02d.mp4,%s\n", i, labels[i % 7], i);
    if (extra)
        fputs(extra, f);
    int bad = fclose(f) != 0;
    snprintf(path, sizeof path, "%s/annotations.jsonl", dir);
    if (!bad && (f = fopen(path, "w")) != NULL) {
        for (int i = 5; i < 20; i += 7)
            fprintf(f, "{\"clip\": \"v/c%02d.mp4\", \"vis\": \"clue %d\"}\n", i, i);
        bad = fclose(f) != 0;
    }
    return bad || !f ? migr_errf(err, "cannot write %s", path) : 0;
}

/* Ask for dataset "m" of the manifest; 0, or -1 with err. */
static int add(coord *c, migr_err *err)
{
    int status = 0;
    char args[9000];
    snprintf(args, sizeof args, "{\"name\": \"m\", \"manifest\": \"%s/m/manifest.csv\", "
             "\"annotations\": \"%s/m/annotations.jsonl\"}", check_tmpdir(), check_tmpdir());
    char *out = api_handle(c, "dataset.add", args, &status, err);
    free(out);
    return out ? 0 : -1;
}

/* `migr dataset add` checks the manifest and records the dataset: its rows
 * are inserted by the loop (100,000 took the loop 4.7 s in one request),
 * each with its featurize task, and the dataset is not ready before all
 * are in. */
TEST(a_manifest_is_checked_by_the_request_and_inserted_by_the_loop)
{
    coord c;
    migr_err err = {0};
    CHECK_MSG(write_manifest(NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add(&c, &err) == 0;
    int64_t clips_at_reply = number(c.db, "SELECT COUNT(*) FROM clips");
    int first = ok ? clipplan_step(&c, 0) : -1;
    int64_t after_one = number(c.db, "SELECT COUNT(*) FROM clips");
    ok = ok && db_run(c.db, &err, "UPDATE clips SET state = 'featurized'", "") == 0 &&
         datasets_planned(&c, 1, &err) == 0;
    int64_t early = number(c.db, "SELECT state = 'featurizing' FROM datasets");
    int steps = ok ? plan_all(&c) : -1;
    int64_t clips = number(c.db, "SELECT COUNT(*) FROM clips"),
            tasks = number(c.db, "SELECT COUNT(*) FROM tasks WHERE kind = 'featurize' AND state = 'queued'"),
            planned = number(c.db, "SELECT planned IS NULL AND plan_offset IS NULL FROM datasets"),
            quoted = number(c.db, "SELECT COUNT(*) FROM clips WHERE subtitle = 'line ' || idx || ', said'"),
            bare = number(c.db, "SELECT COUNT(*) FROM clips WHERE subtitle IS NULL AND idx % 3 = 0"),
            labelled = number(c.db, "SELECT COUNT(*) FROM clips WHERE label = (CASE idx % 7 WHEN 0 THEN 'happy' "
                              "WHEN 1 THEN 'sad' WHEN 2 THEN 'neutral' WHEN 3 THEN 'angry' WHEN 4 THEN 'surprise' "
                              "WHEN 5 THEN 'disgust' ELSE 'fear' END)"),
            annotated = number(c.db, "SELECT COUNT(*) FROM clips WHERE json_extract(annotation, '$.vis') = "
                               "'clue ' || idx AND idx IN (5, 12, 19)"),
            annotations = number(c.db, "SELECT COUNT(*) FROM clips WHERE annotation IS NOT NULL"),
            tasked = number(c.db, "SELECT COUNT(*) FROM tasks t JOIN clips c ON c.id = t.subject "
                            "WHERE json_extract(t.params, '$.path') = c.path AND json_extract(t.params, '$.clip') = c.idx"),
            pathed = number(c.db, "SELECT COUNT(*) FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE "
                            "c.path = substr(d.manifest, 1, length(d.manifest) - length('manifest.csv')) || 'v/c' || "
                            "printf('%02d', c.idx) || '.mp4'");
    ok = ok && db_run(c.db, &err, "UPDATE clips SET state = 'featurized'", "") == 0 &&
         datasets_planned(&c, 1, &err) == 0;
    int64_t ready = number(c.db, "SELECT state = 'ready' FROM datasets");
    coord_close(&c);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(0, clips_at_reply);
    CHECK_INT(1, first);
    CHECK_MSG(after_one > 0 && after_one < ROWS, "one step inserted %lld of %d clips", (long long)after_one, ROWS);
    CHECK_INT(1, early);
    CHECK_MSG(steps > 2, "the plan took %d steps", steps);
    CHECK_INT(ROWS, clips);
    CHECK_INT(ROWS, tasks);
    CHECK_INT(1, planned);
    CHECK_INT(ROWS - (ROWS + 2) / 3, quoted);
    CHECK_INT((ROWS + 2) / 3, bare);
    CHECK_INT(ROWS, labelled);
    CHECK_INT(3, annotated);
    CHECK_INT(3, annotations);
    CHECK_INT(ROWS, tasked);
    CHECK_INT(ROWS, pathed);
    CHECK_INT(1, ready);
}

/* Stopped partway, the insertion goes on after a restart from the row it
 * reached, to the same rows and tasks as one never stopped. */
TEST(a_manifest_stopped_midway_goes_on_after_a_restart_to_the_same_rows)
{
    coord c;
    migr_err err = {0};
    char *whole = NULL, *resumed = NULL;
    size_t whole_len = 0, resumed_len = 0;
    int64_t rows_at_stop = -1, offset_at_stop = -1;

    CHECK_MSG(write_manifest(NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add(&c, &err) == 0 && plan_all(&c) > 0 && plan_text(&c, 0, &whole, &whole_len, &err) == 0 &&
             db_run(c.db, &err, "DELETE FROM tasks", "") == 0 && db_run(c.db, &err, "DELETE FROM clips", "") == 0 &&
             db_run(c.db, &err, "DELETE FROM datasets", "") == 0;
    coord_close(&c);
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        ok = add(&c, &err) == 0;
        for (int i = 0; ok && i < 2; i++) /* 16 rows a step at budget 0 */
            ok = clipplan_step(&c, 0) == 1;
        rows_at_stop = number(c.db, "SELECT planned FROM datasets");
        offset_at_stop = number(c.db, "SELECT plan_offset FROM datasets");
        coord_close(&c);
    }
    ok = ok && open_test_coord(&c, &err) == 0;
    if (ok) {
        ok = plan_all(&c) > 0 && plan_text(&c, 0, &resumed, &resumed_len, &err) == 0;
        coord_close(&c);
    }
    int same = whole && resumed && whole_len == resumed_len && memcmp(whole, resumed, whole_len) == 0;
    free(whole);
    free(resumed);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(rows_at_stop > 0 && rows_at_stop < ROWS, "stopped with %lld rows in", (long long)rows_at_stop);
    CHECK_MSG(offset_at_stop > (int64_t)strlen("path,label,subtitle\n"), "stopped at byte %lld",
              (long long)offset_at_stop);
    CHECK_MSG(same, "the resumed rows differ from the whole ones (%zu and %zu bytes)", whole_len, resumed_len);
}

/* A manifest edited after the request checked it is not read as something
 * it was not: after a restart the dataset fails, saying so, and its queued
 * tasks are cancelled. */
TEST(a_manifest_changed_after_its_request_fails_its_dataset_with_the_reason)
{
    coord c;
    migr_err err = {0};
    char *error = NULL;
    CHECK_MSG(write_manifest(NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(open_test_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int ok = add(&c, &err) == 0 && clipplan_step(&c, 0) == 1;
    coord_close(&c);
    ok = ok && write_manifest("v/extra.mp4,happy\n", &err) == 0 && open_test_coord(&c, &err) == 0;
    if (!ok) {
        CHECK_MSG(ok, "%s", err.msg);
        return;
    }
    int more = clipplan_step(&c, 0);
    int64_t failed = number(c.db, "SELECT state = 'failed' AND planned IS NULL FROM datasets"),
            queued = number(c.db, "SELECT COUNT(*) FROM tasks WHERE state = 'queued'");
    sqlite3_stmt *st = db_prepare(c.db, &err, "SELECT error FROM datasets", "");
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        error = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    coord_close(&c);
    CHECK_INT(0, more);
    CHECK_INT(1, failed);
    CHECK_INT(0, queued);
    CHECK_MSG(error && strstr(error, "manifest.csv changed after `migr dataset add` checked it") &&
                  strstr(error, "add it again under a new name"),
              "the dataset's error: %s", error ? error : "(none)");
    free(error);
}
