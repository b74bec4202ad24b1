/* datasets.c -- dataset ingestion.
 *
 * A manifest is checked by the request; its lines become clip rows, each
 * with its featurize task, in the loop (clipplan.h).  A synthetic dataset's
 * clips, each with a synth task, and its manifest and annotations are
 * planned by the loop too; each rendered clip then gets its featurize task.  A dataset is ready once its
 * plan is complete and no clip is pending. */
#include "coordinator/datasets.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/csv.h"
#include "common/emotion.h"
#include "common/fs.h"
#include "common/log.h"
#include "coordinator/db.h"
#include "spec/featurize.h"
#include "spec/mi.h"
#include "spec/synth.h"

static int usage(int *status, migr_err *err, const char *msg)
{
    *status = 2;
    return migr_errf(err, "%s", msg);
}

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return 0;
    return name[0] != '.';
}

static int check_new_name(coord *c, const char *name, int *status, migr_err *err)
{
    int64_t n;
    if (!valid_name(name))
        return usage(status, err, "a dataset name is 1-64 letters, digits, '_', '-' or '.'");
    if (db_int(c->db, err, &n, 0, "SELECT COUNT(*) FROM datasets WHERE name = ?", "s", name) < 0)
        return -1;
    if (n > 0) {
        *status = 1;
        return migr_errf(err, "a dataset named %s already exists; choose another name", name);
    }
    return 0;
}

/* The featurize task of clip (id, idx) of a dataset. */
int datasets_add_featurize(coord *c, int64_t dataset_id, const char *dataset, int64_t clip_id, int64_t idx,
                           const char *path, migr_err *err)
{
    featurize_config fc;
    char out[128];
    featurize_config_default(&fc);
    snprintf(out, sizeof out, "datasets/%s/features/%06lld.feat", dataset, (long long)idx);
    json_t *p = json_pack("{s:s, s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "dataset", dataset,
                          "clip", (json_int_t)idx, "path", path, "out", out, "frames", fc.n_frames,
                          "height", fc.height, "width", fc.width, "mel", fc.n_mel,
                          "max_audio_frames", fc.max_audio_frames);
    char *params = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!params)
        return migr_errf(err, "out of memory");
    int rc = queue_add(c->db, "dataset", dataset_id, "featurize", clip_id, params,
                       c->cfg.max_attempts, err);
    free(params);
    return rc;
}

static json_t *ok_body(const char *name, int64_t clips)
{
    return json_pack("{s:s, s:I}", "name", name, "clips", (json_int_t)clips);
}

json_t *datasets_add(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *manifest = json_string_value(json_object_get(args, "manifest"));
    const char *annotations_path = json_string_value(json_object_get(args, "annotations"));
    char manifest_sha[STORE_SHA_HEX], annotations_sha[STORE_SHA_HEX];
    int64_t clips;

    if (!name || !manifest || manifest[0] != '/') {
        usage(status, err, "dataset.add needs a name and an absolute manifest path");
        return NULL;
    }
    if (check_new_name(c, name, status, err) < 0)
        return NULL;
    *status = 1;
    if ((clips = clipplan_check_manifest(manifest, annotations_path, manifest_sha, annotations_sha, err)) < 0)
        return NULL;
    /* The clips are inserted by the loop (clipplan.h). */
    if (db_run(c->db, err,
               "INSERT INTO datasets (name, source, manifest, annotations, state, plan_clips, planned, plan_offset, "
               "manifest_sha256, annotations_sha256, created_ms) VALUES (?, 'manifest', ?, NULLIF(?, ''), "
               "'featurizing', ?, 0, 0, ?, NULLIF(?, ''), ?)",
               "sssissi", name, manifest, annotations_path ? annotations_path : "", clips, manifest_sha,
               annotations_sha, clock_wall_ms()) < 0)
        return NULL;
    clipplan_wake(c);
    *status = 0;
    log_info("dataset %s: %lld clips from %s", name, (long long)clips, manifest);
    return ok_body(name, clips);
}

/* ---- synthetic datasets ---- */

json_t *datasets_synth(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *config_path = json_string_value(json_object_get(args, "config"));
    json_int_t clips = json_integer_value(json_object_get(args, "clips"));
    json_int_t seed = json_integer_value(json_object_get(args, "seed"));
    char dir[PATH_MAX], media[PATH_MAX], config_copy[PATH_MAX] = "";
    synth_config cfg;

    if (!name || clips < 1 || clips > 1000000 || seed < 0) {
        usage(status, err, "dataset.synth needs a name, 1..1000000 clips and a seed >= 0");
        return NULL;
    }
    if (check_new_name(c, name, status, err) < 0)
        return NULL;
    *status = 1;
    synth_config_default(&cfg);
    if (config_path && synth_config_load(config_path, &cfg, err) < 0)
        return NULL;
    if (snprintf(dir, sizeof dir, "%s/datasets/%s", c->st.root, name) >= (int)sizeof dir ||
        snprintf(media, sizeof media, "%s/media", dir) >= (int)sizeof media) {
        migr_errf(err, "the store path %s is too long", c->st.root);
        return NULL;
    }
    if (fs_mkdirs(media, err) < 0)
        return NULL;
    if (config_path && (fs_join(config_copy, sizeof config_copy, dir, "synth.yaml") < 0 ||
                        fs_copy(config_path, config_copy, err) < 0))
        return NULL;
    char manifest[PATH_MAX];
    if (fs_join(manifest, sizeof manifest, dir, "manifest.csv") < 0) {
        migr_errf(err, "the store path %s is too long", c->st.root);
        return NULL;
    }
    /* The clips are planned by the loop (clipplan.h). */
    if (db_run(c->db, err,
               "INSERT INTO datasets (name, source, manifest, state, synth_seed, plan_clips, synth_config, planned, "
               "created_ms) VALUES (?, 'synth', ?, 'synthesizing', ?, ?, ?, 0, ?)",
               "ssiisi", name, manifest, (int64_t)seed, (int64_t)clips, config_path ? config_copy : NULL,
               clock_wall_ms()) < 0)
        return NULL;
    clipplan_wake(c);
    *status = 0;
    log_info("dataset %s: synthesizing %lld clips with seed %lld", name, (long long)clips,
             (long long)seed);
    return ok_body(name, clips);
}

/* ---- task outcomes ---- */

/* Mark the dataset ready once its plan is complete and no clip is pending.
 * Runs at every clip's completion, so it asks whether one clip is still
 * pending (stopping at the first) rather than counting them: an ingest stays
 * linear in its clips. */
static int maybe_finish(coord *c, int64_t dataset_id, migr_err *err)
{
    int64_t planning, pending, synthesizing;
    if (db_cache_int(&c->sql, err, &planning, 0, "SELECT planned IS NOT NULL FROM datasets WHERE id = ?", "i",
                     dataset_id) < 0)
        return -1;
    if (planning)
        return 0;
    if (db_cache_int(&c->sql, err, &pending, 0, DATASET_ANY_PENDING_CLIP, "i", dataset_id) < 0 ||
        db_cache_int(&c->sql, err, &synthesizing, 0, DATASET_ANY_SYNTH_TASK, "i", dataset_id) < 0)
        return -1;
    if (synthesizing == 0 &&
        db_run(c->db, err, "UPDATE datasets SET state = 'featurizing' WHERE id = ? AND state = 'synthesizing'",
               "i", dataset_id) < 0)
        return -1;
    if (pending > 0)
        return 0;
    log_info("dataset %lld is ready", (long long)dataset_id);
    return db_run(c->db, err,
                  "UPDATE datasets SET state = 'ready', finished_ms = ? WHERE id = ? AND state != 'ready'",
                  "ii", clock_wall_ms(), dataset_id);
}

int datasets_planned(coord *c, int64_t dataset_id, migr_err *err)
{
    return maybe_finish(c, dataset_id, err);
}

int datasets_synth_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT c.idx, c.path, d.name FROM clips c JOIN datasets d ON d.id = c.dataset_id "
        "WHERE c.id = ?", "i", t->subject);
    (void)output;
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return migr_errf(err, "synth task %lld names clip %lld, which does not exist",
                         (long long)t->id, (long long)t->subject);
    }
    int rc = datasets_add_featurize(c, t->owner_id, db_text(st, 2), t->subject,
                                sqlite3_column_int64(st, 0), db_text(st, 1), err);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : maybe_finish(c, t->owner_id, err);
}

int datasets_featurize_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    const char *bad = json_string_value(json_object_get(output, "bad"));
    int rc;
    if (bad) {
        rc = db_run(c->db, err, "UPDATE clips SET state = 'failed', error = ? WHERE id = ?", "si",
                    bad, t->subject);
    } else {
        const char *features = json_string_value(json_object_get(output, "features"));
        const char *sha = json_string_value(json_object_get(output, "sha256"));
        if (!features || !sha)
            return migr_errf(err, "featurize output lacks \"features\" or \"sha256\"");
        rc = db_run(c->db, err,
                    "UPDATE clips SET state = 'featurized', error = NULL, features = ?, sha256 = ?, "
                    "has_audio = ? WHERE id = ?", "ssii", features, sha,
                    (int64_t)json_is_true(json_object_get(output, "has_audio")), t->subject);
    }
    return rc < 0 ? -1 : maybe_finish(c, t->owner_id, err);
}

int datasets_task_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err)
{
    char why[1200];
    snprintf(why, sizeof why, "%s task failed %d times: %s", t->kind, t->attempts, reason);
    if (db_run(c->db, err, "UPDATE clips SET state = 'failed', error = ? WHERE id = ?", "si", why,
               t->subject) < 0)
        return -1;
    return maybe_finish(c, t->owner_id, err);
}

/* ---- modality importance ---- */

/* A dataset-wide job: one task of `kind` on the ready dataset `name`, its
 * clip list (rows of `select`, which binds the dataset id) written to the
 * store as datasets/NAME/KIND-input.json, params extended with "input".
 * Refused while a job of that kind is pending.  Consumes params. */
static int dataset_job(coord *c, const char *name, const char *kind, const char *select, json_t *params,
                       int min_clips, migr_err *err)
{
    int64_t id, pending;
    char rel[160];
    int rc = -1;

    if (db_int(c->db, err, &id, -1, "SELECT id FROM datasets WHERE name = ? AND state = 'ready'", "s",
               name) < 0)
        goto end;
    if (id < 0) {
        migr_errf(err, "no ready dataset named %s (see `migr dataset list`)", name);
        goto end;
    }
    if (db_int(c->db, err, &pending, 0, "SELECT COUNT(*) FROM tasks WHERE owner = 'dataset' AND "
               "owner_id = ? AND kind = ? AND state IN ('queued', 'waiting', 'leased')", "is", id, kind) < 0)
        goto end;
    if (pending > 0) {
        migr_errf(err, "a %s job of %s is already under way", kind, name);
        goto end;
    }
    sqlite3_stmt *st = db_prepare(c->db, err, select, "i", id);
    if (!st)
        goto end;
    json_t *clips = json_array();
    int step_rc;
    while ((step_rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *ann = json_loads(db_text(st, 4), 0, NULL);
        json_array_append_new(clips, json_pack("{s:I, s:s, s:s, s:s, s:o}", "clip",
            (json_int_t)sqlite3_column_int64(st, 0), "features", db_text(st, 1), "label", db_text(st, 2),
            "subtitle", db_text(st, 3), "annotation", ann ? ann : json_null()));
    }
    if (step_rc != SQLITE_DONE) {
        migr_errf(err, "reading the clips of %s: %s", name, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        json_decref(clips);
        goto end;
    }
    sqlite3_finalize(st);
    if ((int)json_array_size(clips) < min_clips) {
        migr_errf(err, "%s has %zu usable clips; its %s job needs at least %d", name, json_array_size(clips),
                  kind, min_clips);
        json_decref(clips);
        goto end;
    }
    /* The clip list goes through the store, not through the task's params. */
    snprintf(rel, sizeof rel, "datasets/%s/%s-input.json", name, kind);
    json_t *input = json_pack("{s:o}", "clips", clips);
    char *text = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    rc = text ? store_put(&c->st, rel, text, strlen(text), NULL, err) : migr_errf(err, "out of memory");
    free(text);
    if (rc < 0)
        goto end;
    json_object_set_new(params, "input", json_string(rel));
    char *ptext = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    rc = ptext ? queue_add(c->db, "dataset", id, kind, 0, ptext, c->cfg.max_attempts, err)
               : migr_errf(err, "out of memory");
    free(ptext);
end:
    json_decref(params);
    return rc;
}

#define JOB_CLIPS "SELECT id, features, label, subtitle, annotation FROM clips WHERE dataset_id = ? "

_Static_assert(MI_MAX_REPEATS == 100, "the usage message of dataset.mi names the limit");

json_t *datasets_mi(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    double tau = json_number_value(json_object_get(args, "tau"));
    json_int_t folds = json_integer_value(json_object_get(args, "folds"));
    json_int_t seed = json_integer_value(json_object_get(args, "seed"));
    json_t *jrepeats = json_object_get(args, "repeats");
    json_int_t repeats = jrepeats ? json_integer_value(jrepeats) : MI_DEFAULT_REPEATS;

    if (!name || tau < 0 || tau >= 1 || folds < 2 || folds > 20 || seed < 0 || repeats < 1 ||
        repeats > MI_MAX_REPEATS) {
        usage(status, err, "dataset.mi needs a name, 0 <= tau < 1, 2..20 folds, 1..100 repeats and a seed >= 0");
        return NULL;
    }
    *status = 1;
    if (db_begin(c->db, err) < 0)
        return NULL;
    if (dataset_job(c, name, "mi", JOB_CLIPS "AND state = 'featurized' ORDER BY idx",
                    json_pack("{s:s, s:f, s:I, s:I, s:I}", "dataset", name, "tau", tau, "folds", folds,
                              "repeats", repeats, "seed", seed),
                    (int)(2 * folds), err) < 0 ||
        db_run(c->db, err, "UPDATE datasets SET mi_tau = ? WHERE name = ?", "ds", tau, name) < 0 ||
        db_commit(c->db, err) < 0) {
        db_rollback(c->db);
        return NULL;
    }
    *status = 0;
    log_info("dataset %s: modality importance queued (tau %.3f, %lld folds, %lld repeats)", name, tau,
             (long long)folds, (long long)repeats);
    return json_pack("{s:s, s:s}", "name", name, "mi", "queued");
}

json_t *datasets_instruments(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    json_int_t seed = json_integer_value(json_object_get(args, "seed"));
    char verifier[160], judge[160];

    if (!name || seed < 0) {
        usage(status, err, "dataset.instruments needs a name and a seed >= 0");
        return NULL;
    }
    *status = 1;
    snprintf(verifier, sizeof verifier, "datasets/%s/verifier.clf", name);
    snprintf(judge, sizeof judge, "datasets/%s/judge.clf", name);
    if (db_begin(c->db, err) < 0)
        return NULL;
    if (dataset_job(c, name, "instruments", JOB_CLIPS "AND annotation IS NOT NULL ORDER BY idx",
                    json_pack("{s:s, s:I, s:s, s:s}", "dataset", name, "seed", seed, "verifier", verifier,
                              "judge", judge), 4, err) < 0 ||
        db_commit(c->db, err) < 0) {
        db_rollback(c->db);
        return NULL;
    }
    *status = 0;
    log_info("dataset %s: verifier and judge training queued", name);
    return json_pack("{s:s, s:s}", "name", name, "instruments", "queued");
}

int datasets_job_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    (void)c, (void)output, (void)err;
    log_info("dataset %lld: %s job done", (long long)t->owner_id, t->kind);
    return 0;
}

/* output: {"clips": [[clip id, mi visual, mi audio, mi text, dominant], ...]} */
int datasets_mi_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(output, "clips"), i, row) {
        const char *dom = modality_name((int)json_integer_value(json_array_get(row, 4)));
        if (json_array_size(row) != 5 || !dom)
            return migr_errf(err, "mi output row %zu is not [clip, visual, audio, text, dominant]", i);
        if (db_run(c->db, err,
                   "UPDATE clips SET mi_visual = ?, mi_audio = ?, mi_text = ?, mi_dominant = ? "
                   "WHERE id = ? AND dataset_id = ?", "dddsii",
                   json_number_value(json_array_get(row, 1)), json_number_value(json_array_get(row, 2)),
                   json_number_value(json_array_get(row, 3)), dom,
                   (int64_t)json_integer_value(json_array_get(row, 0)), t->owner_id) < 0)
            return -1;
    }
    log_info("dataset %lld: modality importance of %zu clips recorded", (long long)t->owner_id,
             json_array_size(json_object_get(output, "clips")));
    return 0;
}

int datasets_job_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err)
{
    (void)c, (void)err;
    log_warn("dataset %lld: %s job failed: %s", (long long)t->owner_id, t->kind, reason);
    return 0;  /* the task row keeps the reason; dataset show reports it */
}
