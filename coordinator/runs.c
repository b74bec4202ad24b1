/* runs.c -- see runs.h.
 *
 * Store layout of run ID:
 *   runs/ID/clips.json           the train and holdout clips (written here)
 *   runs/ID/vocab.txt            the vocabulary (init)
 *   runs/ID/ckpt/SSSSSS.ckpt     checkpoint after step S (init writes 0)
 *   runs/ID/grads/SSSSSS-KK.grad shard K's summed gradient for step S
 *
 * Which clips a step trains on is decided here, from (seed, step): the
 * training clips in a fresh permutation per epoch, the global batch cut into
 * `shards` contiguous shards.  The shard count is part of the config, not of
 * the cluster, so the result does not depend on how many workers there are. */
#include "coordinator/runs.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rng.h"
#include "coordinator/db.h"
#include "coordinator/evals.h"
#include "coordinator/views.h"
#include "spec/runconfig.h"

enum { RNG_SPLIT = 1, RNG_EPOCH = 2 };

/* An integer at a dotted path of the resolved config ("train.steps"). */
static int64_t cfg_int(json_t *cfg, const char *section, const char *key)
{
    json_t *s = section ? json_object_get(cfg, section) : cfg;
    return json_integer_value(json_object_get(s, key));
}

static double cfg_real(json_t *cfg, const char *section, const char *key)
{
    return json_number_value(json_object_get(json_object_get(cfg, section), key));
}

static char *dumps(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Queue a task of the run with params (consumed). */
static int add_task(coord *c, int64_t run, const char *kind, int64_t subject, json_t *params,
                    migr_err *err)
{
    char *text = dumps(params);
    json_decref(params);
    if (!text)
        return migr_errf(err, "out of memory");
    int rc = queue_add(c->db, "run", run, kind, subject, text, c->cfg.max_attempts, err);
    free(text);
    return rc;
}

static void ckpt_rel(char *out, size_t cap, int64_t run, int64_t step)
{
    snprintf(out, cap, "runs/%lld/ckpt/%06lld.ckpt", (long long)run, (long long)step);
}

/* ---- submission ---- */

static json_t *run_config(coord *c, int64_t run, migr_err *err);

/* Fisher-Yates over idx[0..n) with a stream of seed. */
static void shuffle(int64_t *idx, int64_t n, uint64_t seed, int index, int purpose)
{
    uint64_t rng = rng_stream(seed, index, purpose);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = rng_below(&rng, (int)(i + 1));
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

json_t *runs_clip_record(sqlite3_stmt *st)
{
    json_t *ann = json_loads(db_text(st, 4), 0, NULL);
    json_t *clip = json_pack("{s:I, s:s, s:s, s:s, s:o}",
        "clip", (json_int_t)sqlite3_column_int64(st, 0), "features", db_text(st, 1),
        "label", db_text(st, 2), "subtitle", db_text(st, 3), "annotation",
        ann ? ann : json_object());
    if (!clip)
        return NULL;
    /* Modality importance, [visual, audio, text], when the dataset has it. */
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_set_new(clip, "mi", json_pack("[f, f, f]", sqlite3_column_double(st, 5),
                            sqlite3_column_double(st, 6), sqlite3_column_double(st, 7)));
    /* The dominant modality for the mi_order reward and the evaluation. */
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        json_object_set_new(clip, "dominant", json_string(db_text(st, 8)));
    return clip;
}

void runs_split_order(int64_t *perm, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    shuffle(perm, n, seed, 0, RNG_SPLIT);
}

/* Validate the config with the same rules as the CLI and workers. */
enum { RUN_TAGS_MAX = 16, RUN_TAGS_TEXT_MAX = RUN_TAGS_MAX * 70 + 8 };

/* A run's tags from a submission's "tags" (absent: none) as JSON text. */
static int tags_text(json_t *tags, char *out, size_t cap, int *status, migr_err *err)
{
    size_t i;
    json_t *t;
    snprintf(out, cap, "[]");
    if (!tags)
        return 0;
    *status = 2;
    if (!json_is_array(tags) || json_array_size(tags) > RUN_TAGS_MAX)
        return migr_errf(err, "tags are a list of at most %d names", RUN_TAGS_MAX);
    json_array_foreach(tags, i, t) {
        const char *s = json_string_value(t);
        size_t n = s ? strlen(s) : 0;
        int ok = n > 0 && n <= 64;
        for (size_t k = 0; ok && k < n; k++)
            ok = isalnum((unsigned char)s[k]) || strchr("_-.:", s[k]);
        if (!ok)
            return migr_errf(err, "tag \"%s\" is not 1-64 letters, digits, '_', '-', '.' or ':'", s ? s : "");
    }
    char *text = json_dumps(tags, JSON_COMPACT);
    if (!text || strlen(text) >= cap) {
        free(text);
        return migr_errf(err, "out of memory");
    }
    snprintf(out, cap, "%s", text);
    free(text);
    *status = 1;
    return 0;
}

int runs_check_config(json_t *cfg, int *status, migr_err *err)
{
    runconfig rc;
    if (runconfig_from_json(cfg, &rc, err) < 0 || runconfig_check(&rc, err) < 0) {
        *status = 2;
        return -1;
    }
    return 0;
}

/* The rewards a GRPO config weights that read text with the verifier. */
static int needs_verifier(json_t *cfg)
{
    const char *name;
    json_t *w;
    json_object_foreach(json_object_get(cfg, "rewards"), name, w)
        if ((strcmp(name, "consistency") == 0 || strcmp(name, "grounding") == 0) && json_number_value(w) != 0)
            return 1;
    return 0;
}

/* A GRPO run starts from (and is held near) an SFT checkpoint: resolve it,
 * take the model section of its run's config (the model is that
 * checkpoint's), and find the verifier if a reward needs one.  extra gets
 * "init" (the checkpoint path) and "verifier" (store path or null), which
 * go into the run's clip list for its tasks. */
static int grpo_prepare(coord *c, json_t *cfg, json_t *extra, migr_err *err)
{
    json_t *g = json_object_get(cfg, "grpo");
    const char *inst = json_string_value(json_object_get(g, "instruments"));
    const char *dataset = json_string_value(json_object_get(cfg, "dataset"));
    char path[PATH_MAX], sha[80], verifier[256], judge[256];
    int64_t source, step;

    if (evals_resolve_ckpt(c, json_string_value(json_object_get(g, "init")), path, sizeof path, &source, &step,
                           sha, sizeof sha, err) < 0)
        return -1;
    json_t *scfg = source ? run_config(c, source, err) : NULL;
    if (source && !scfg)
        return -1;
    if (scfg)
        json_object_set(cfg, "model", json_object_get(scfg, "model"));
    json_decref(scfg);
    json_object_set_new(extra, "init", json_string(path));
    if (!needs_verifier(cfg)) {
        json_object_set_new(extra, "verifier", json_null());
        return 0;
    }
    if (evals_instruments(c, inst && *inst ? inst : dataset, verifier, judge, sizeof verifier, err) < 0)
        return -1;
    json_object_set_new(extra, "verifier", json_string(verifier));
    return 0;
}

static int is_grpo(json_t *cfg)
{
    return strcmp(json_string_value(json_object_get(cfg, "kind")), "grpo") == 0;
}

json_t *runs_submit(coord *c, json_t *args, int *status, migr_err *err)
{
    json_t *cfg = json_object_get(args, "config");
    const char *dataset, *name, *kind;
    int64_t dataset_id, run;

    if (!json_is_object(cfg) || runs_check_config(cfg, status, err) < 0) {
        if (!json_is_object(cfg)) {
            *status = 2;
            migr_errf(err, "run.submit needs a \"config\" object");
        }
        return NULL;
    }
    *status = 1;
    dataset = json_string_value(json_object_get(cfg, "dataset"));
    name = json_string_value(json_object_get(cfg, "name"));
    kind = json_string_value(json_object_get(cfg, "kind"));
    char tags[RUN_TAGS_TEXT_MAX];
    if (tags_text(json_object_get(args, "tags"), tags, sizeof tags, status, err) < 0)
        return NULL;
    run_meta meta = {json_integer_value(json_object_get(args, "schedule_id")),
                     json_integer_value(json_object_get(args, "scheduled_ms")), tags};
    if (strcmp(kind, "eval") == 0)
        return evals_submit(c, cfg, &meta, status, err);
    int grpo = strcmp(kind, "grpo") == 0;
    json_t *extra = json_object();
    if (grpo && grpo_prepare(c, cfg, extra, err) < 0) {
        json_decref(extra);
        return NULL;
    }
    if (db_int(c->db, err, &dataset_id, -1, "SELECT id FROM datasets WHERE name = ? AND state = 'ready'",
               "s", dataset) < 0) {
        json_decref(extra);
        return NULL;
    }
    if (dataset_id < 0) {
        migr_errf(err, "no ready dataset named %s (see `migr dataset list`; wait for it to be ready)", dataset);
        json_decref(extra);
        return NULL;
    }
    /* Enough usable clips for the split, counted no further than needed (the
     * loop makes the split, runprep.h), and for reasoning.order mi the
     * dataset's modality importance (its mi job done; the loop checks each
     * clip). */
    int64_t n, need = 2, shards = cfg_int(cfg, "train", "shards"), mi_done = 1;
    double holdout = cfg_real(cfg, "train", "holdout");
    const char *order = json_string_value(json_object_get(json_object_get(cfg, "reasoning"), "order"));
    while (need - (int64_t)(holdout * (double)need + 0.5) < shards)
        need++;
    if (db_int(c->db, err, &n, 0, "SELECT COUNT(*) FROM (SELECT 1 FROM clips c WHERE " RUN_USABLE_CLIPS " LIMIT ?3)",
               "iii", dataset_id, (int64_t)!grpo, need) < 0 ||
        (!grpo && order && strcmp(order, "mi") == 0 &&
         db_int(c->db, err, &mi_done, 0, "SELECT EXISTS (SELECT 1 FROM tasks WHERE owner = 'dataset' AND "
                "owner_id = ? AND state = 'done' AND kind = 'mi')", "i", dataset_id) < 0)) {
        json_decref(extra);
        return NULL;
    }
    int64_t ntrain = n - (int64_t)(holdout * (double)n + 0.5);
    if (!mi_done)
        migr_errf(err, "reasoning.order is mi but dataset %s has no modality importance for every "
                  "clip; run `migr dataset mi %s --wait` first", dataset, dataset);
    else if (n < 2)
        migr_errf(err, "dataset %s has %lld usable clips%s; a run needs at least 2", dataset, (long long)n,
                  grpo ? "" : " with clue annotations");
    else if (ntrain < shards)
        migr_errf(err, "only %lld training clips for %lld shards; lower train.shards or train.holdout",
                  (long long)ntrain, (long long)shards);
    json_t *resume = json_object_get(args, "resume");
    char *config_text = NULL, *extra_text = NULL, *resume_text = NULL;
    int ok = mi_done && n >= 2 && ntrain >= shards;
    if (ok && (!(config_text = dumps(cfg)) || !(extra_text = dumps(extra)) ||
               (json_is_object(resume) && !(resume_text = dumps(resume))))) {
        migr_errf(err, "out of memory");
        ok = 0;
    }
    json_decref(extra);
    if (!ok || db_begin(c->db, err) < 0)
        goto fail_early;
    if (db_run(c->db, err,
               "INSERT INTO runs (name, kind, state, step, steps, config, created_ms, dataset_id, seed, "
               "schedule_id, scheduled_ms, tags, prepared, prep_extra, prep_resume) VALUES (?, ?, 'queued', 0, ?, "
               "?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, 0, ?, ?)", "ssisiiiiisss", name, kind,
               cfg_int(cfg, "train", "steps"), config_text, clock_wall_ms(), dataset_id,
               cfg_int(cfg, NULL, "seed"), meta.schedule, meta.scheduled_ms, meta.tags, extra_text,
               resume_text) < 0)
        goto fail;
    run = sqlite3_last_insert_rowid(c->db);
    if (queue_event(c->db, "run.submitted", "run", run, 0, name, err) < 0 || db_commit(c->db, err) < 0)
        goto fail;
    runprep_wake(c);
    free(config_text);
    free(extra_text);
    free(resume_text);
    *status = 0;
    log_info("run %lld (%s, %s) submitted on dataset %s; preparing its clips", (long long)run, name, kind, dataset);
    return json_pack("{s:I, s:s}", "id", (json_int_t)run, "name", name);
fail:
    db_rollback(c->db);
fail_early:
    free(config_text);
    free(extra_text);
    free(resume_text);
    return NULL;
}

int runs_prepared(coord *c, int64_t run, int64_t ntrain, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err, "SELECT config, prep_extra, prep_resume FROM runs WHERE id = ?", "i",
                                  run);
    if (!st)
        return -1;
    json_t *cfg = NULL, *extra = NULL, *resume = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        cfg = json_loads(db_text(st, 0), 0, NULL);
        extra = json_loads(db_text(st, 1), 0, NULL);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            resume = json_loads(db_text(st, 2), 0, NULL);
    }
    sqlite3_finalize(st);
    int rc = -1;
    char rel[64];
    snprintf(rel, sizeof rel, "runs/%lld", (long long)run);
    if (!cfg || !extra) {
        migr_errf(err, "run %lld: its config cannot be read back from the database", (long long)run);
    } else if (resume) {
        /* Taken up from another run's checkpoint: no init, a resume task. */
        char from[64], why[128];
        snprintf(from, sizeof from, "runs/%lld", (long long)json_integer_value(json_object_get(resume, "run")));
        snprintf(why, sizeof why, "from run %lld at step %lld", (long long)json_integer_value(json_object_get(resume, "run")),
                 (long long)json_integer_value(json_object_get(resume, "step")));
        if (add_task(c, run, "resume", 0, json_pack("{s:I, s:s, s:O, s:s, s:O, s:O, s:O}", "run", (json_int_t)run,
                     "dir", rel, "config", cfg, "from_dir", from, "step", json_object_get(resume, "step"),
                     "sha0", json_object_get(resume, "sha0"), "sha256", json_object_get(resume, "sha256")), err) == 0 &&
            queue_event(c->db, "run.resumed", "run", run, 0, why, err) == 0)
            rc = 0;
    } else if (add_task(c, run, is_grpo(cfg) ? "grpo_init" : "init", 0, json_pack("{s:I, s:s, s:O, s:O?}", "run",
                        (json_int_t)run, "dir", rel, "config", cfg, "init", json_object_get(extra, "init")), err) == 0) {
        rc = 0;
    }
    json_decref(cfg);
    json_decref(extra);
    json_decref(resume);
    if (rc == 0 && db_run(c->db, err, "UPDATE runs SET prepared = NULL, prep_extra = NULL, prep_resume = NULL "
                          "WHERE id = ?", "i", run) < 0)
        rc = -1;
    if (rc == 0)
        log_info("run %lld: clips prepared, %lld to train on", (long long)run, (long long)ntrain);
    return rc;
}

/* A run that ended needs none of its step scratch: every gradient, rollout
 * and reward file still there (a temp file of a worker killed mid-write, an
 * output never consumed) goes once the transaction ending the run commits. */
static int discard_scratch(coord *c, int64_t run, migr_err *err)
{
    static const char *const dirs[] = {"grads", "rollouts", "rewards"};
    char rel[PATH_MAX], path[PATH_MAX];
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(rel, sizeof rel, "runs/%lld/%s", (long long)run, dirs[i]);
        if (store_path(&c->st, rel, path, sizeof path, err) < 0)
            return -1;
        DIR *d = opendir(path);
        if (!d)
            continue;   /* never made */
        int rc = 0;
        for (struct dirent *e; rc == 0 && (e = readdir(d));) {
            char obj[PATH_MAX + 300];
            if (e->d_name[0] == '.')
                continue;
            snprintf(obj, sizeof obj, "%s/%s", rel, e->d_name);
            rc = coord_discard(c, obj, err);
        }
        closedir(d);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int runs_cancel(coord *c, int64_t run, migr_err *err)
{
    int64_t now = clock_wall_ms();
    int mark = coord_begin(c, err);
    if (mark < 0 || queue_cancel_owner(c->db, "run", run, "cancelled", now, err) < 0 ||
        db_run(c->db, err, "UPDATE runs SET state = 'cancelled', finished_ms = ? WHERE id = ?", "ii", now, run) < 0 ||
        discard_scratch(c, run, err) < 0 || coord_commit(c, err) < 0) {
        coord_rollback(c, mark);
        return -1;
    }
    return 0;
}

/* ---- the step machine ---- */

static json_t *run_config(coord *c, int64_t run, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err, "SELECT config FROM runs WHERE id = ?", "i", run);
    json_t *cfg = NULL;
    if (!st)
        return NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        cfg = json_loads(db_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (!cfg)
        migr_errf(err, "run %lld has no readable config", (long long)run);
    return cfg;
}

/* The training-clip indices (into clips.json's "train") of step's global
 * batch: epoch-wise permutations of the training set, from (seed, epoch). */
static json_t *step_batch(int64_t step, int64_t batch, int64_t ntrain, uint64_t seed)
{
    json_t *out = json_array();
    int64_t *perm = malloc((size_t)ntrain * sizeof *perm), epoch = -1;
    if (!perm)
        return out;
    for (int64_t g = (step - 1) * batch; g < step * batch; g++) {
        if (g / ntrain != epoch) {
            epoch = g / ntrain;
            for (int64_t i = 0; i < ntrain; i++)
                perm[i] = i;
            shuffle(perm, ntrain, seed, (int)epoch, RNG_EPOCH);
        }
        json_array_append_new(out, json_integer(perm[g % ntrain]));
    }
    free(perm);
    return out;
}

/* A run's shard file of a step: runs/ID/WHAT/SSSSSS-KK.EXT. */
static void shard_rel(char *out, size_t cap, int64_t run, const char *what, int64_t step, int64_t shard,
                      const char *ext)
{
    snprintf(out, cap, "runs/%lld/%s/%06lld-%02lld.%s", (long long)run, what, (long long)step,
             (long long)shard, ext);
}


/* Queue the first task of each shard of step (1-based): SFT's grad tasks,
 * GRPO's rollout tasks (each followed by its reward and grad tasks). */
static int schedule_step(coord *c, int64_t run, json_t *cfg, int64_t step, migr_err *err)
{
    int64_t ntrain, batch = cfg_int(cfg, "train", "batch_size"), shards = cfg_int(cfg, "train", "shards");
    char ckpt[128];

    if (db_int(c->db, err, &ntrain, 0, "SELECT COUNT(*) FROM run_clips WHERE run_id = ? AND split = 'train'",
               "i", run) < 0)
        return -1;
    json_t *all = step_batch(step, batch, ntrain, (uint64_t)cfg_int(cfg, NULL, "seed"));
    if ((int64_t)json_array_size(all) != batch) {
        json_decref(all);
        return migr_errf(err, "out of memory choosing the batch of step %lld", (long long)step);
    }
    ckpt_rel(ckpt, sizeof ckpt, run, step - 1);
    for (int64_t k = 0; k < shards; k++) {
        int64_t lo = batch * k / shards, hi = batch * (k + 1) / shards;
        json_t *mine = json_array();
        for (int64_t i = lo; i < hi; i++)
            json_array_append(mine, json_array_get(all, (size_t)i));
        char out[128], dir[64];
        int grpo = is_grpo(cfg);
        shard_rel(out, sizeof out, run, grpo ? "rollouts" : "grads", step, k, grpo ? "json" : "grad");
        snprintf(dir, sizeof dir, "runs/%lld", (long long)run);
        if (add_task(c, run, grpo ? "rollout" : "grad", step, json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:O}",
                     "run", (json_int_t)run, "step", (json_int_t)step, "shard", (json_int_t)k,
                     "dir", dir, "ckpt", ckpt, "out", out, "clips", mine, "config", cfg), err) < 0) {
            json_decref(all);
            return -1;
        }
    }
    json_decref(all);
    return 0;
}

/* Checkpoints are listed with their absolute path, for `migr sample --ckpt`. */
static int record_checkpoint(coord *c, int64_t run, int64_t step, json_t *output, migr_err *err)
{
    const char *rel = json_string_value(json_object_get(output, "ckpt"));
    const char *sha = json_string_value(json_object_get(output, "sha256"));
    char path[PATH_MAX];
    if (!rel || !sha)
        return migr_errf(err, "the task's output lacks \"ckpt\" or \"sha256\"");
    if (store_path(&c->st, rel, path, sizeof path, err) < 0)
        return -1;
    return db_run(c->db, err,
                  "INSERT OR REPLACE INTO checkpoints (run_id, step, path, sha256, created_ms) "
                  "VALUES (?, ?, ?, ?, ?)", "iissi", run, step, path, sha, clock_wall_ms());
}

static int run_state(coord *c, int64_t run, char *out, size_t cap, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err, "SELECT state FROM runs WHERE id = ?", "i", run);
    if (!st)
        return -1;
    snprintf(out, cap, "%s", sqlite3_step(st) == SQLITE_ROW ? db_text(st, 0) : "");
    sqlite3_finalize(st);
    return 0;
}

int runs_init_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    json_t *cfg = run_config(c, t->owner_id, err);
    int rc = cfg ? 0 : -1;
    if (rc == 0)
        rc = record_checkpoint(c, t->owner_id, 0, output, err);
    if (rc == 0)
        rc = db_run(c->db, err, "UPDATE runs SET state = 'running', started_ms = ? WHERE id = ?", "ii",
                    clock_wall_ms(), t->owner_id);
    if (rc == 0)
        rc = schedule_step(c, t->owner_id, cfg, 1, err);
    json_decref(cfg);
    return rc;
}

int runs_resume_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    json_t *cfg = run_config(c, t->owner_id, err);
    json_t *zero = json_pack("{s:O, s:O}", "ckpt", json_object_get(output, "ckpt0"), "sha256",
                             json_object_get(output, "sha0"));
    json_t *step_v = json_object_get(output, "step");
    int64_t step = json_integer_value(step_v);
    int rc = cfg && zero ? 0 : -1;
    if (rc == 0 && (!json_is_integer(step_v) || step < 1 || step >= cfg_int(cfg, "train", "steps")))
        rc = migr_errf(err, "the resume task's output has no step in 1..train.steps-1");
    if (rc == 0)
        rc = record_checkpoint(c, t->owner_id, 0, zero, err);
    if (rc == 0)
        rc = record_checkpoint(c, t->owner_id, step, output, err);
    if (rc == 0)
        rc = db_run(c->db, err, "UPDATE runs SET state = 'running', started_ms = ?, step = ? WHERE id = ?", "iii",
                    clock_wall_ms(), step, t->owner_id);
    if (rc == 0)
        rc = schedule_step(c, t->owner_id, cfg, step + 1, err);
    json_decref(zero);
    json_decref(cfg);
    return rc;
}

/* The params of a finished task, for the next task of its shard. */
static json_t *task_params(coord *c, int64_t task, migr_err *err)
{
    json_t *p = NULL;
    sqlite3_stmt *st = db_prepare(c->db, err, "SELECT params FROM tasks WHERE id = ?", "i", task);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        p = json_loads(db_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (st && !p)
        migr_errf(err, "task %lld has no readable params", (long long)task);
    return p;
}

/* GRPO: queue the next task of t's shard, `kind`, with t's params plus the
 * store path t produced (output[key]) and its own output path. */
static int next_in_shard(coord *c, const task_row *t, json_t *output, const char *key, const char *kind,
                         const char *what, const char *ext, migr_err *err)
{
    json_t *p = task_params(c, t->id, err);
    char out[128];
    if (!p)
        return -1;
    shard_rel(out, sizeof out, t->owner_id, what, t->subject, json_integer_value(json_object_get(p, "shard")), ext);
    json_object_set(p, key, json_object_get(output, key));
    json_object_set_new(p, "out", json_string(out));
    return add_task(c, t->owner_id, kind, t->subject, p, err);
}

/* GRPO: a shard's rollouts are in; score them. */
int runs_rollout_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    return next_in_shard(c, t, output, "rollouts", "reward", "rewards", "json", err);
}

/* GRPO: a shard's completions are scored; its gradient comes next. */
int runs_reward_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    return next_in_shard(c, t, output, "rewards", "grad", "grads", "grad", err);
}

int runs_grad_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    int64_t unfinished, shards, step = t->subject, run = t->owner_id;
    json_t *cfg = run_config(c, run, err);
    (void)output;
    if (!cfg)
        return -1;
    shards = cfg_int(cfg, "train", "shards");
    /* The step's shards start together, so the step is complete when none is
     * still under way; asking that reads only the run's unfinished tasks,
     * not every gradient the run has made (as counting the done ones did). */
    if (db_cache_int(&c->sql, err, &unfinished, 0, RUN_ANY_SHARD_UNFINISHED, "ii", run, step) < 0) {
        json_decref(cfg);
        return -1;
    }
    if (unfinished) {
        json_decref(cfg);
        return 0;
    }
    /* Every shard is in: sum them in shard order. */
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT json_extract(output, '$.grad'), json_extract(output, '$.tokens'), "
        "json_extract(output, '$.loss_sum'), json_extract(output, '$.divisor') FROM tasks "
        "WHERE owner = 'run' AND owner_id = ? "
        "AND kind = 'grad' AND subject = ? AND state = 'done' "
        "ORDER BY json_extract(params, '$.shard')", "ii", run, step);
    json_t *grads = json_array();
    int64_t tokens = 0, divisor = 0;
    double loss_sum = 0;
    int step_rc = SQLITE_DONE;
    while (st && (step_rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_array_append_new(grads, json_string(db_text(st, 0)));
        tokens += sqlite3_column_int64(st, 1);
        loss_sum += sqlite3_column_double(st, 2);
        divisor += sqlite3_column_int64(st, 3);
    }
    if (st && step_rc != SQLITE_DONE) {
        /* A short list would apply a step without some of its shards. */
        migr_errf(err, "reading the gradients of step %lld of run %lld: %s", (long long)step, (long long)run,
                  sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        json_decref(grads);
        json_decref(cfg);
        return -1;
    }
    sqlite3_finalize(st);
    if (st && (int64_t)json_array_size(grads) != shards) {
        migr_errf(err, "step %lld of run %lld has %zu gradients of its %lld shards", (long long)step, (long long)run,
                  json_array_size(grads), (long long)shards);
        json_decref(grads);
        json_decref(cfg);
        return -1;
    }
    char in[128], out[128], dir[64];
    ckpt_rel(in, sizeof in, run, step - 1);
    ckpt_rel(out, sizeof out, run, step);
    snprintf(dir, sizeof dir, "runs/%lld", (long long)run);
    /* The summed shard gradients are divided by the step's divisor: its
     * target tokens in SFT, its completions in GRPO (per-sequence means). */
    int rc = st ? add_task(c, run, "apply", step, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:I, s:I, s:f, s:O}",
                  "run", (json_int_t)run, "step", (json_int_t)step, "dir", dir, "ckpt", in, "out", out,
                  "grads", grads, "tokens", (json_int_t)tokens, "divisor", (json_int_t)divisor,
                  "loss_sum", loss_sum, "config", cfg), err)
                : -1;
    if (!st)
        json_decref(grads);
    json_decref(cfg);
    return rc;
}

static int put_metric(coord *c, int64_t run, int64_t step, const char *name, double value, migr_err *err)
{
    return db_run(c->db, err, "INSERT OR REPLACE INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)",
                  "iisd", run, step, name, value);
}

/* Remove what step no longer needs: its shard gradients, and the previous
 * checkpoint unless it is a kept one. */
static int clean_step(coord *c, int64_t run, int64_t step, json_t *cfg, json_t *grads, migr_err *err)
{
    size_t i;
    json_t *g;
    int64_t every = cfg_int(cfg, "train", "checkpoint_every"), prev = step - 1;
    json_array_foreach(grads, i, g)
        if (coord_discard(c, json_string_value(g), err) < 0)
            return -1;
    if (prev > 0 && prev % every != 0) {
        char rel[128];
        ckpt_rel(rel, sizeof rel, run, prev);
        if (coord_discard(c, rel, err) < 0 ||
            db_run(c->db, err, "DELETE FROM checkpoints WHERE run_id = ? AND step = ?", "ii", run, prev) < 0)
            return -1;
    }
    return 0;
}

/* The wall time of step: from the end of the task that made its input
 * checkpoint to now. */
static double step_seconds(coord *c, int64_t run, int64_t step, migr_err *err)
{
    int64_t started;
    if (db_int(c->db, err, &started, 0,
               "SELECT MAX(finished_ms) FROM tasks WHERE owner = 'run' AND owner_id = ? AND state = 'done' "
               "AND ((kind = 'apply' AND subject = ?) OR (kind IN ('init', 'grpo_init') AND ? = 0))",
               "iii", run, step - 1, step - 1) < 0)
        return -1;
    double s = (double)(clock_wall_ms() - started) / 1000.0;
    return s > 1e-3 ? s : 1e-3;
}

/* A GRPO run in which every group of every step had rewards without
 * variance got no policy gradient at all: it succeeded, but its checkpoint
 * is its init's.  Say so with a run.warning event (run show's "warnings"). */
static int warn_if_never_learned(coord *c, int64_t run, migr_err *err)
{
    int64_t steps, flat;
    if (db_int(c->db, err, &steps, 0, "SELECT COUNT(*) FROM metrics WHERE run_id = ? AND name = "
               "'zero_variance_share'", "i", run) < 0 ||
        db_int(c->db, err, &flat, 0, "SELECT COUNT(*) > 0 AND MIN(value) >= 1 FROM metrics WHERE "
               "run_id = ? AND name = 'zero_variance_share'", "i", run) < 0)
        return -1;
    if (!flat)
        return 0;
    char why[300];
    snprintf(why, sizeof why, "every group of all %lld steps had rewards without variance, so the "
             "policy got no gradient: raise grpo.group_size or grpo.temperature, or start from "
             "another checkpoint", (long long)steps);
    log_warn("run %lld: %s", (long long)run, why);
    return queue_event(c->db, "run.warning", "run", run, 0, why, err);
}

/* GRPO's per-step records, from its shards' reward and grad tasks: the
 * group reward mean and std, the share of groups with zero reward
 * variance, each reward's mean, the KL and clip fraction, and a sampled
 * completion (as an event, for `migr run logs`).  The shards' rollout and
 * reward files are discarded. */
static int grpo_step_metrics(coord *c, int64_t run, int64_t step, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT kind, output, params FROM tasks WHERE owner = 'run' AND owner_id = ? AND subject = ? "
        "AND state = 'done' AND kind IN ('reward', 'grad') ORDER BY id", "ii", run, step);
    double n = 0, sum = 0, sumsq = 0, groups = 0, zero = 0, kl = 0, kl_tokens = 0, clipped = 0;
    json_t *per = json_object();
    int rc = st ? 0 : -1, step_rc = SQLITE_DONE;

    while (rc == 0 && (step_rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_loads(db_text(st, 1), 0, NULL), *p = json_loads(db_text(st, 2), 0, NULL);
        if (strcmp(db_text(st, 0), "reward") == 0) {
            const char *name;
            json_t *v;
            n += json_number_value(json_object_get(o, "n"));
            sum += json_number_value(json_object_get(o, "sum"));
            sumsq += json_number_value(json_object_get(o, "sumsq"));
            groups += json_number_value(json_object_get(o, "groups"));
            zero += json_number_value(json_object_get(o, "zero_variance"));
            json_object_foreach(json_object_get(o, "per_reward"), name, v) {
                json_t *acc = json_object_get(per, name);
                json_object_set_new(per, name, json_real(json_number_value(acc) + json_number_value(v)));
            }
            const char *sample = json_string_value(json_object_get(o, "sample"));
            if (sample && queue_event(c->db, "grpo.sample", "run", run, 0, sample, err) < 0)
                rc = -1;
            if (rc == 0 && (coord_discard(c, json_string_value(json_object_get(o, "rewards")), err) < 0 ||
                            coord_discard(c, json_string_value(json_object_get(p, "rollouts")), err) < 0))
                rc = -1;
        } else {
            kl += json_number_value(json_object_get(o, "kl_sum"));
            kl_tokens += json_number_value(json_object_get(o, "tokens"));
            clipped += json_number_value(json_object_get(o, "clipped"));
        }
        json_decref(o);
        json_decref(p);
    }
    if (rc == 0 && step_rc != SQLITE_DONE)
        rc = migr_errf(err, "reading the reward and grad outputs of step %lld of run %lld: %s", (long long)step,
                       (long long)run, sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    if (rc == 0 && n > 0) {
        double mean = sum / n, var = sumsq / n - mean * mean;
        const char *name;
        json_t *v;
        rc = put_metric(c, run, step, "reward_mean", mean, err);
        if (rc == 0)
            rc = put_metric(c, run, step, "reward_std", var > 0 ? sqrt(var) : 0, err);
        if (rc == 0)
            rc = put_metric(c, run, step, "zero_variance_share", groups > 0 ? zero / groups : 0, err);
        if (rc == 0)
            rc = put_metric(c, run, step, "kl", kl_tokens > 0 ? kl / kl_tokens : 0, err);
        if (rc == 0)
            rc = put_metric(c, run, step, "clip_frac", kl_tokens > 0 ? clipped / kl_tokens : 0, err);
        json_object_foreach(per, name, v) {
            char key[64];
            snprintf(key, sizeof key, "reward_%s", name);
            if (rc == 0)
                rc = put_metric(c, run, step, key, json_number_value(v) / n, err);
        }
    }
    json_decref(per);
    return rc;
}

int runs_apply_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    int64_t run = t->owner_id, step = t->subject;
    char state[32];
    json_t *cfg = run_config(c, run, err), *params = NULL;
    int rc = cfg ? 0 : -1;

    /* The apply task's own params hold the grads, tokens and loss. */
    sqlite3_stmt *st = rc == 0 ? db_prepare(c->db, err, "SELECT params FROM tasks WHERE id = ?", "i", t->id) : NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        params = json_loads(db_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (rc == 0 && !params)
        rc = migr_errf(err, "apply task %lld has no readable params", (long long)t->id);
    int64_t tokens = rc == 0 ? cfg_int(params, NULL, "tokens") : 0;
    int64_t divisor = rc == 0 ? cfg_int(params, NULL, "divisor") : 0;
    double seconds = rc == 0 ? step_seconds(c, run, step, err) : 0;
    if (rc == 0 && seconds < 0)
        rc = -1;
    if (rc == 0)
        rc = record_checkpoint(c, run, step, output, err);
    if (rc == 0)
        rc = put_metric(c, run, step, "loss", json_number_value(json_object_get(params, "loss_sum")) /
                        (double)(divisor > 0 ? divisor : 1), err);
    if (rc == 0 && is_grpo(cfg))
        rc = grpo_step_metrics(c, run, step, err);
    if (rc == 0)
        rc = put_metric(c, run, step, "grad_norm", json_number_value(json_object_get(output, "grad_norm")), err);
    if (rc == 0)
        rc = put_metric(c, run, step, "lr", json_number_value(json_object_get(output, "lr")), err);
    if (rc == 0)
        rc = put_metric(c, run, step, "tokens_per_s", (double)tokens / seconds, err);
    if (rc == 0)
        rc = clean_step(c, run, step, cfg, json_object_get(params, "grads"), err);
    if (rc == 0)
        rc = db_run(c->db, err, "UPDATE runs SET step = ? WHERE id = ?", "ii", step, run);
    if (rc == 0)
        rc = run_state(c, run, state, sizeof state, err);
    if (rc == 0 && strcmp(state, "running") == 0) {
        if (step >= cfg_int(cfg, "train", "steps")) {
            rc = db_run(c->db, err, "UPDATE runs SET state = 'succeeded', finished_ms = ? WHERE id = ?", "ii",
                        clock_wall_ms(), run);
            if (rc == 0)
                rc = queue_event(c->db, "run.succeeded", "run", run, t->id, NULL, err);
            if (rc == 0)
                rc = discard_scratch(c, run, err);
            if (rc == 0 && is_grpo(cfg))
                rc = warn_if_never_learned(c, run, err);
            log_info("run %lld succeeded after %lld steps", (long long)run, (long long)step);
        } else {
            rc = schedule_step(c, run, cfg, step + 1, err);
        }
    }
    json_decref(params);
    json_decref(cfg);
    return rc;
}

int runs_task_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err)
{
    char why[1200];
    int64_t now = clock_wall_ms();
    snprintf(why, sizeof why, "%s task (step %lld) failed %d times: %s", t->kind, (long long)t->subject,
             t->attempts, reason);
    log_warn("run %lld failed: %s", (long long)t->owner_id, why);
    if (queue_cancel_owner(c->db, "run", t->owner_id, "the run failed", now, err) < 0 ||
        queue_event(c->db, "run.failed", "run", t->owner_id, t->id, why, err) < 0 ||
        discard_scratch(c, t->owner_id, err) < 0)
        return -1;
    return db_run(c->db, err,
                  "UPDATE runs SET state = 'failed', error = ?, finished_ms = ? WHERE id = ? "
                  "AND state IN ('queued', 'running')", "sii", why, now, t->owner_id);
}
