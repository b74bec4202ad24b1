/* evals.c -- see evals.h. */
#include "coordinator/evals.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fs.h"
#include "common/le.h"
#include "common/log.h"
#include "coordinator/db.h"
#include "spec/bootstrap.h"
#include "spec/ckpt_format.h"
#include "spec/metrics.h"
#include "spec/runconfig.h"

/* 0 if path starts with a checkpoint's magic and a version we read, else
 * -1 with a message naming ref. */
static int sniff_checkpoint(const char *path, const char *ref, migr_err *err)
{
    uint8_t head[12];
    size_t size;
    int fd = fs_open_regular(path, &size, err);
    if (fd < 0)
        return migr_err_wrap(err, "%s is not a usable checkpoint", ref);
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got != (ssize_t)sizeof head || memcmp(head, CKPT_MAGIC, 8) != 0)
        return migr_errf(err, "%s is not a usable checkpoint: it does not start as a migr checkpoint "
                         "does; use run:ID or a path that `migr ckpt list` shows", ref);
    if (le_get_u32(head + 8) != CKPT_VERSION)
        return migr_errf(err, "%s is not a usable checkpoint: format version %u, this migr reads %d",
                         ref, (unsigned)le_get_u32(head + 8), CKPT_VERSION);
    return 0;
}

int evals_resolve_ckpt(coord *c, const char *ref, char *path, size_t cap, int64_t *run, int64_t *step,
                       char *sha, size_t shacap, migr_err *err)
{
    long long id = 0;
    const char *given = NULL;
    int form = runconfig_ckpt_ref(ref, &id, &given);
    sqlite3_stmt *st;

    if (form == 1)
        st = db_prepare(c->db, err, "SELECT path, run_id, step, sha256 FROM checkpoints WHERE run_id = ? "
                        "ORDER BY step DESC LIMIT 1", "i", (int64_t)id);
    else if (form == 2)
        st = db_prepare(c->db, err, "SELECT path, run_id, step, sha256 FROM checkpoints WHERE path = ?",
                        "s", given);
    else if (form == 3)
        st = db_prepare(c->db, err, "SELECT k.path, k.run_id, k.step, k.sha256 FROM checkpoints k "
                        "JOIN runs r ON r.id = k.run_id WHERE r.name = ? ORDER BY r.id DESC, k.step DESC LIMIT 1",
                        "s", given);
    else
        return migr_errf(err, "\"%s\" is not a checkpoint: use run:ID, run:NAME or an absolute path", ref);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        snprintf(path, cap, "%s", db_text(st, 0));
        *run = sqlite3_column_int64(st, 1);
        *step = sqlite3_column_int64(st, 2);
        snprintf(sha, shacap, "%s", db_text(st, 3));
    } else if (rc != SQLITE_DONE) {
        migr_errf(err, "reading the checkpoint %s: %s", ref, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (!found && form == 1)
        return migr_errf(err, "run %lld has no checkpoint (see `migr ckpt list %lld`)", id, id);
    if (!found && form == 3)
        return migr_errf(err, "no run named %s has a checkpoint (see `migr run list`)", given);
    if (!found) {
        snprintf(path, cap, "%s", given);
        *run = 0;
        *step = -1;
        snprintf(sha, shacap, "%s", "");
    }
    if (access(path, R_OK) < 0)
        return migr_errf(err, "checkpoint %s cannot be read from migrd; is the store shared?", path);
    /* One no run of ours wrote must at least start as a checkpoint does,
     * or the run would fail only after every task's retries. */
    return found ? 0 : sniff_checkpoint(path, ref, err);
}

int evals_instruments(coord *c, const char *dataset, char *verifier, char *judge, size_t cap,
                      migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT json_extract(t.output, '$.verifier'), json_extract(t.output, '$.judge') FROM tasks t "
        "JOIN datasets d ON t.owner = 'dataset' AND t.owner_id = d.id WHERE d.name = ? "
        "AND t.kind = 'instruments' AND t.state = 'done' ORDER BY t.id DESC LIMIT 1", "s", dataset);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        snprintf(verifier, cap, "%s", db_text(st, 0));
        snprintf(judge, cap, "%s", db_text(st, 1));
    } else if (rc != SQLITE_DONE) {
        migr_errf(err, "reading the instruments of %s: %s", dataset, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (!found)
        return migr_errf(err, "dataset %s has no trained verifier and judge; run `migr dataset instruments %s "
                         "--wait` first", dataset, dataset);
    return 0;
}

/* The clips to evaluate, as records for the store: features, label,
 * subtitle, annotation and the dominant modality (by MI when the dataset
 * has it, else the generator's). */
static json_t *clips_to_evaluate(coord *c, int64_t dataset_id, int64_t source_run, int holdout, migr_err *err)
{
    const char *sql = holdout
        ? "SELECT c.id, c.features, c.label, c.subtitle, c.annotation, "
          "COALESCE(c.mi_dominant, json_extract(c.annotation, '$.dominant')) FROM run_clips rc "
          "JOIN clips c ON c.id = rc.clip_id WHERE rc.run_id = ?2 AND rc.split = 'holdout' "
          "AND c.dataset_id = ?1 AND c.state = 'featurized' ORDER BY c.idx"
        : "SELECT c.id, c.features, c.label, c.subtitle, c.annotation, "
          "COALESCE(c.mi_dominant, json_extract(c.annotation, '$.dominant')) FROM clips c "
          "WHERE c.dataset_id = ?1 AND ?2 = ?2 AND c.state = 'featurized' ORDER BY c.idx";
    sqlite3_stmt *st = db_prepare(c->db, err, sql, "ii", dataset_id, source_run);
    json_t *list = json_array();
    if (!st) {
        json_decref(list);
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *ann = json_loads(db_text(st, 4), 0, NULL);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:o, s:s?}",
            "clip", (json_int_t)sqlite3_column_int64(st, 0), "features", db_text(st, 1), "label", db_text(st, 2),
            "subtitle", db_text(st, 3), "annotation", ann ? ann : json_null(), "dominant",
            sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : db_text(st, 5)));
    }
    if (rc != SQLITE_DONE) {
        migr_errf(err, "reading the clips to evaluate: %s", sqlite3_errmsg(c->db));
        json_decref(list);
        list = NULL;
    }
    sqlite3_finalize(st);
    return list;
}

static int queue_shards(coord *c, int64_t run, const char *ckpt, const char *verifier, const char *judge,
                        int64_t nclips, json_t *cfg, migr_err *err)
{
    json_t *ev = json_object_get(cfg, "eval");
    int64_t shards = json_integer_value(json_object_get(ev, "shards"));
    char dir[64];
    if (shards > nclips)
        shards = nclips;
    snprintf(dir, sizeof dir, "runs/%lld", (long long)run);
    for (int64_t k = 0; k < shards; k++) {
        json_t *mine = json_array();
        for (int64_t i = nclips * k / shards; i < nclips * (k + 1) / shards; i++)
            json_array_append_new(mine, json_integer(i));
        json_t *p = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:o, s:O}", "run", (json_int_t)run, "shard",
                              (json_int_t)k, "dir", dir, "ckpt", ckpt, "verifier", verifier, "judge", judge,
                              "clips", mine, "max_new", json_object_get(ev, "max_new"));
        char *text = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(p);
        int rc = text ? queue_add(c->db, "run", run, "evaluate", k, text, c->cfg.max_attempts, err)
                      : migr_errf(err, "out of memory");
        free(text);
        if (rc < 0)
            return -1;
    }
    return db_run(c->db, err, "UPDATE runs SET steps = ? WHERE id = ?", "ii", shards, run);
}

/* The schedule's last eval that did not fail (by run id), if it evaluated
 * checkpoint sha on dataset: its run id; else 0; -1 on error. */
static int64_t evaluated_before(coord *c, int64_t schedule, const char *sha, int64_t dataset_id, migr_err *err)
{
    if (schedule <= 0 || !sha[0])
        return 0;
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT r.id, e.ckpt_sha256, e.dataset_id FROM runs r JOIN evals e ON e.run_id = r.id "
        "WHERE r.schedule_id = ? AND r.state NOT IN ('failed', 'cancelled') ORDER BY r.id DESC LIMIT 1",
        "i", schedule);
    if (!st)
        return -1;
    int64_t run = 0;
    if (sqlite3_step(st) == SQLITE_ROW && !strcmp(db_text(st, 1), sha) && sqlite3_column_int64(st, 2) == dataset_id)
        run = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return run;
}

/* Record a scheduled eval that has nothing newer to evaluate than run
 * `before` did: a succeeded run without tasks. */
static json_t *nothing_newer(coord *c, json_t *cfg, const run_meta *meta, int64_t dataset_id, int64_t before,
                             const char *ckpt, int *status, migr_err *err)
{
    char *config_text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS), detail[PATH_MAX + 96];
    int64_t now = clock_wall_ms(), run = 0;
    snprintf(detail, sizeof detail, "nothing newer to evaluate: %s was evaluated by run %lld", ckpt,
             (long long)before);
    if (!config_text || db_begin(c->db, err) < 0) {
        free(config_text);
        return config_text ? NULL : (migr_errf(err, "out of memory"), NULL);
    }
    int rc = db_run(c->db, err,
                    "INSERT INTO runs (name, kind, state, step, steps, config, created_ms, started_ms, finished_ms, "
                    "dataset_id, seed, schedule_id, scheduled_ms, tags) VALUES (?, 'eval', 'succeeded', 0, 0, ?, ?, ?, "
                    "?, ?, 0, NULLIF(?, 0), NULLIF(?, 0), ?)", "ssiiiiiis", json_string_value(json_object_get(cfg, "name")),
                    config_text, now, now, now, dataset_id, meta->schedule, meta->scheduled_ms, meta->tags);
    free(config_text);
    if (rc == 0)
        run = sqlite3_last_insert_rowid(c->db);
    if (rc < 0 || queue_event(c->db, "run.nothing_newer", "run", run, 0, detail, err) < 0 ||
        db_commit(c->db, err) < 0) {
        db_rollback(c->db);
        return NULL;
    }
    *status = 0;
    log_info("run %lld: %s", (long long)run, detail);
    return json_pack("{s:I, s:s, s:b}", "id", (json_int_t)run, "name", json_string_value(json_object_get(cfg, "name")),
                     "nothing_newer", 1);
}

json_t *evals_submit(coord *c, json_t *cfg, const run_meta *meta, int *status, migr_err *err)
{
    json_t *ev = json_object_get(cfg, "eval"), *clips = NULL;
    const char *dataset = json_string_value(json_object_get(cfg, "dataset"));
    const char *inst = json_string_value(json_object_get(ev, "instruments"));
    int holdout = strcmp(json_string_value(json_object_get(ev, "clips")), "holdout") == 0;
    char ckpt[PATH_MAX], sha[80], verifier[256], judge[256], rel[128];
    int64_t dataset_id, source, source_dataset, ckpt_step, run;

    *status = 1;
    if (db_int(c->db, err, &dataset_id, -1, "SELECT id FROM datasets WHERE name = ? AND state = 'ready'", "s",
               dataset) < 0)
        return NULL;
    if (dataset_id < 0) {
        migr_errf(err, "no ready dataset named %s", dataset);
        return NULL;
    }
    if (evals_resolve_ckpt(c, json_string_value(json_object_get(ev, "ckpt")), ckpt, sizeof ckpt, &source,
                           &ckpt_step, sha, sizeof sha, err) < 0 ||
        evals_instruments(c, inst && *inst ? inst : dataset, verifier, judge, sizeof verifier, err) < 0)
        return NULL;
    if (db_int(c->db, err, &source_dataset, -1, "SELECT dataset_id FROM runs WHERE id = ?", "i", source) < 0)
        return NULL;
    if (holdout && source_dataset != dataset_id) {
        migr_errf(err, "eval.clips holdout needs the dataset the checkpoint's run trained on; use eval.clips=all "
                  "for dataset %s", dataset);
        return NULL;
    }
    int64_t before = evaluated_before(c, meta->schedule, sha, dataset_id, err);
    if (before < 0)
        return NULL;
    if (before > 0)
        return nothing_newer(c, cfg, meta, dataset_id, before, ckpt, status, err);
    if (!(clips = clips_to_evaluate(c, dataset_id, source, holdout, err)))
        return NULL;
    int64_t n = (int64_t)json_array_size(clips);
    if (n == 0) {
        json_decref(clips);
        migr_errf(err, "no clips to evaluate in %s", dataset);
        return NULL;
    }
    char *config_text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    if (!config_text || db_begin(c->db, err) < 0) {
        free(config_text);
        json_decref(clips);
        return NULL;
    }
    int64_t now = clock_wall_ms();
    if (db_run(c->db, err,
               "INSERT INTO runs (name, kind, state, step, steps, config, created_ms, started_ms, dataset_id, seed, "
               "schedule_id, scheduled_ms, tags) VALUES (?, 'eval', 'running', 0, 1, ?, ?, ?, ?, 0, NULLIF(?, 0), "
               "NULLIF(?, 0), ?)", "ssiiiiis", json_string_value(json_object_get(cfg, "name")), config_text, now, now,
               dataset_id, meta->schedule, meta->scheduled_ms, meta->tags) < 0)
        goto fail;
    run = sqlite3_last_insert_rowid(c->db);
    snprintf(rel, sizeof rel, "runs/%lld/clips.json", (long long)run);
    json_t *doc = json_pack("{s:O}", "eval", clips);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int rc = text ? store_put(&c->st, rel, text, strlen(text), NULL, err) : migr_errf(err, "out of memory");
    free(text);
    if (rc < 0 ||
        db_run(c->db, err,
               "INSERT INTO evals (run_id, source_run, ckpt_step, ckpt_path, ckpt_sha256, dataset_id, clips, created_ms) "
               "VALUES (?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?)", "iiissiii", run, source, ckpt_step, ckpt,
               sha, dataset_id, n, now) < 0 ||
        queue_shards(c, run, ckpt, verifier, judge, n, cfg, err) < 0 ||
        queue_event(c->db, "run.submitted", "run", run, 0, ckpt, err) < 0 || db_commit(c->db, err) < 0)
        goto fail;
    free(config_text);
    json_decref(clips);
    *status = 0;
    log_info("run %lld: evaluating %s on %lld clips of %s", (long long)run, ckpt, (long long)n, dataset);
    return json_pack("{s:I, s:s}", "id", (json_int_t)run, "name", json_string_value(json_object_get(cfg, "name")));
fail:
    db_rollback(c->db);
    free(config_text);
    json_decref(clips);
    return NULL;
}

/* A record from a shard's output: [label, predicted, well_formed, implied,
 * first_block, dominant, grounded, annotated]. */
static int record_of(json_t *row, metrics_clip *m)
{
    if (json_array_size(row) != 8)
        return -1;
    int v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (int)json_integer_value(json_array_get(row, (size_t)i));
    *m = (metrics_clip){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    return 0;
}

int evals_shard_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    int64_t run = t->owner_id, done, shards;
    (void)output;
    /* The run's step counts its done shards: one more per completion (a
     * task completes once), not a count of them all each time. */
    if (db_run(c->db, err, "UPDATE runs SET step = step + 1 WHERE id = ?", "i", run) < 0 ||
        db_int(c->db, err, &done, 0, "SELECT step FROM runs WHERE id = ?", "i", run) < 0 ||
        db_int(c->db, err, &shards, 0, "SELECT steps FROM runs WHERE id = ?", "i", run) < 0)
        return -1;
    if (done < shards)
        return 0;
    /* Every shard is in: the metrics over all their records, in shard order. */
    sqlite3_stmt *st = db_prepare(c->db, err, "SELECT output FROM tasks WHERE owner = 'run' AND owner_id = ? "
                                  "AND kind = 'evaluate' AND state = 'done' ORDER BY subject", "i", run);
    metrics_clip *recs = NULL;
    size_t n = 0, cap = 0;
    int rc = st ? 0 : -1, step_rc = SQLITE_DONE;
    while (rc == 0 && (step_rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *out = json_loads(db_text(st, 0), 0, NULL), *row;
        size_t i;
        json_array_foreach(json_object_get(out, "records"), i, row) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                metrics_clip *g = realloc(recs, cap * sizeof *recs);
                if (!g) {
                    rc = migr_errf(err, "out of memory");
                    break;
                }
                recs = g;
            }
            if (record_of(row, &recs[n++]) < 0)
                rc = migr_errf(err, "an evaluate record is not 8 integers");
        }
        json_decref(out);
    }
    if (rc == 0 && step_rc != SQLITE_DONE)
        rc = migr_errf(err, "reading the evaluate records of run %lld: %s", (long long)run, sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    metrics m;
    json_t *mj = NULL, *ci = NULL;
    int64_t seed = 0;
    if (rc == 0 && (metrics_compute(recs, (int)n, &m, err) < 0 || !(mj = metrics_to_json(&m))))
        rc = rc == 0 && !mj ? migr_errf(err, "out of memory") : -1;
    /* 95% intervals by resampling the clips, seeded by the run. */
    if (rc == 0 && n > 0 &&
        (db_int(c->db, err, &seed, 0, "SELECT seed FROM runs WHERE id = ?", "i", run) < 0 ||
         !(ci = bootstrap_metrics(recs, (int)n, BOOTSTRAP_RESAMPLES, (uint64_t)seed, err)) ||
         json_object_set_new(mj, "ci", ci) < 0))
        rc = -1;
    free(recs);
    char *text = mj ? json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(mj);
    if (rc == 0 && text &&
        (db_run(c->db, err, "UPDATE evals SET metrics = ? WHERE run_id = ?", "si", text, run) < 0 ||
         db_run(c->db, err, "UPDATE runs SET state = 'succeeded', finished_ms = ? WHERE id = ? AND state = 'running'",
                "ii", clock_wall_ms(), run) < 0 ||
         queue_event(c->db, "run.succeeded", "run", run, t->id, NULL, err) < 0))
        rc = -1;
    free(text);
    if (rc == 0)
        log_info("run %lld: evaluation of %zu clips done", (long long)run, n);
    return rc;
}
