/* synthplan.c -- see synthplan.h. */
#include "coordinator/synthplan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/csv.h"
#include "common/emotion.h"
#include "common/fs.h"
#include "common/log.h"
#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/db.h"

/* A synthetic clip's annotation line.  "think_first" holds, by block tag,
 * the reasoning of a describer who starts from a misleading block and
 * drifts with it (synth_clip.think_first); the trainer uses it when that
 * block comes first, "think" otherwise.  "clip" is the manifest's path. */
static char *synth_annotation(const synth_clip *p, const char *clip)
{
    static const char *const tag[MODALITY_COUNT] = {"vis", "aud", "txt"};
    json_t *cues = json_object(), *drifted = json_object();
    for (int m = 0; m < MODALITY_COUNT; m++) {
        json_object_set_new(cues, modality_name(m),
                            json_pack("{s:s, s:f}", "emotion", emotion_name(p->cue[m].emotion),
                                      "strength", p->cue[m].strength));
        if (p->drifted & (1u << m))
            json_object_set_new(drifted, tag[m], json_string(p->think_first[m]));
    }
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "clip", clip,
                          "vis", p->clue[MOD_VISUAL], "aud", p->clue[MOD_AUDIO],
                          "txt", p->clue[MOD_TEXT], "think", p->think,
                          "dominant", modality_name(p->dominant), "cues", cues,
                          "think_first", drifted);
    char *s = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(a);
    return s;
}

/* Clip j->next's row (pending) and its synth task. */
static int plan_row(coord *c, synth_job *j, migr_err *err)
{
    synth_clip p;
    char path[PATH_MAX], rel[128];
    synth_plan(&j->cfg, j->seed, (int)j->next, &p);
    snprintf(rel, sizeof rel, "media/%s", p.file);
    if (fs_join(path, sizeof path, j->dir, rel) < 0)
        return migr_errf(err, "path too long under %s", j->dir);
    char *ann = synth_annotation(&p, p.file);
    if (!ann)
        return migr_errf(err, "out of memory");
    int rc = db_cache_run(&c->sql, err,
                          "INSERT INTO clips (dataset_id, idx, path, label, subtitle, annotation, state) "
                          "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                          "iissss", j->dataset_id, j->next, path, emotion_name(p.label), p.subtitle, ann);
    free(ann);
    if (rc < 0)
        return -1;
    int64_t clip_id = sqlite3_last_insert_rowid(c->db);
    json_t *params = json_pack("{s:I, s:I, s:s, s:s*}", "index", (json_int_t)j->next, "seed", (json_int_t)j->seed,
                               "path", path, "config", j->config[0] ? j->config : NULL);
    char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(params);
    if (!text)
        return migr_errf(err, "out of memory");
    rc = db_cache_run(&c->sql, err,
                      "INSERT INTO tasks (owner, owner_id, kind, subject, params, state, max_attempts) "
                      "VALUES ('dataset', ?, 'synth', ?, ?, 'queued', ?)",
                      "iisi", j->dataset_id, clip_id, text, (int64_t)c->cfg.max_attempts);
    free(text);
    return rc;
}

/* Clip j->next's manifest and annotations lines. */
static int write_lines(synth_job *j, migr_err *err)
{
    synth_clip p;
    char rel[128];
    synth_plan(&j->cfg, j->seed, (int)j->next, &p);
    snprintf(rel, sizeof rel, "media/%s", p.file);
    char *ann = synth_annotation(&p, rel);
    if (!ann)
        return migr_errf(err, "out of memory");
    csv_write_field(j->csv, rel);
    fprintf(j->csv, ",%s,", emotion_name(p.label));
    csv_write_field(j->csv, p.subtitle);
    fputc('\n', j->csv);
    fputs(ann, j->jsonl);
    fputc('\n', j->jsonl);
    free(ann);
    if (ferror(j->csv) || ferror(j->jsonl))
        return migr_errf(err, "writing the manifest of %s: %s", j->dir, strerror(errno));
    return 0;
}

static void discard_temp(FILE **f, const char *path)
{
    if (!*f)
        return;
    fclose(*f);
    *f = NULL;
    unlink(path);
}

void synthplan_close(synth_job *j)
{
    discard_temp(&j->csv, j->csv_tmp);
    discard_temp(&j->jsonl, j->jsonl_tmp);
    j->dataset_id = 0;
    j->writing = 0;
}

void synthplan_wake(coord *c)
{
    c->synth.look = 1;
}

/* Open a temp file beside dir/name for the job's writing phase, after
 * removing any a crash left. */
static FILE *open_temp(const synth_job *j, const char *name, char *tmp, size_t cap, migr_err *err)
{
    char path[PATH_MAX];
    if (fs_join(path, sizeof path, j->dir, name) < 0) {
        migr_errf(err, "path too long under %s", j->dir);
        return NULL;
    }
    if (fs_remove_temps(path, err) < 0)
        return NULL;
    int fd = fs_temp_beside(path, tmp, cap, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        migr_errf(err, "opening %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

/* Load the next dataset waiting for its plan into the job: 1, or 0 when
 * none is waiting. */
static int load_job(coord *c, migr_err *err)
{
    synth_job *j = &c->synth;
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT id, name, synth_seed, synth_clips, planned, synth_config FROM datasets "
        "WHERE planned IS NOT NULL ORDER BY id LIMIT 1", NULL);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : migr_errf(err, "finding a dataset to plan: %s", sqlite3_errmsg(c->db));
    }
    *j = (synth_job){.look = 1, .dataset_id = sqlite3_column_int64(st, 0)};
    j->seed = (uint64_t)sqlite3_column_int64(st, 2);
    j->clips = sqlite3_column_int64(st, 3);
    j->next = sqlite3_column_int64(st, 4);
    snprintf(j->config, sizeof j->config, "%s", sqlite3_column_type(st, 5) == SQLITE_NULL ? "" : db_text(st, 5));
    int bad = snprintf(j->dir, sizeof j->dir, "%s/datasets/%s", c->st.root, db_text(st, 1)) >= (int)sizeof j->dir;
    sqlite3_finalize(st);
    if (bad)
        return migr_errf(err, "the store path %s is too long", c->st.root);
    synth_config_default(&j->cfg);
    if (j->config[0] && synth_config_load(j->config, &j->cfg, err) < 0)
        return -1;
    if (j->next >= j->clips) /* the rows are in: (re)write the files from the first clip */
        j->next = 0, j->writing = 1;
    return 1;
}

/* Publish the two files and mark the plan complete. */
static int finish_job(coord *c, migr_err *err)
{
    synth_job *j = &c->synth;
    char csv[PATH_MAX], jsonl[PATH_MAX];
    int bad = fflush(j->csv) != 0 || fflush(j->jsonl) != 0;
    bad = fclose(j->csv) != 0 || bad;
    bad = fclose(j->jsonl) != 0 || bad;
    j->csv = j->jsonl = NULL;
    if (bad)
        return migr_errf(err, "writing the manifest of %s: %s", j->dir, strerror(errno));
    if (fs_join(csv, sizeof csv, j->dir, "manifest.csv") < 0 || fs_join(jsonl, sizeof jsonl, j->dir, "annotations.jsonl") < 0)
        return migr_errf(err, "path too long under %s", j->dir);
    if (fs_publish(j->csv_tmp, csv, err) < 0 || fs_publish(j->jsonl_tmp, jsonl, err) < 0)
        return -1;
    if (db_run(c->db, err, "UPDATE datasets SET planned = NULL, annotations = ? WHERE id = ?", "si", jsonl,
               j->dataset_id) < 0)
        return -1;
    log_info("dataset %lld: all %lld clips planned; manifest %s", (long long)j->dataset_id, (long long)j->clips, csv);
    return datasets_planned(c, j->dataset_id, err);
}

/* Plan until the budget is spent or the job is done. */
static int plan_slice(coord *c, int64_t until_us, migr_err *err)
{
    synth_job *j = &c->synth;
    if (j->writing && !j->csv) {
        if (!(j->csv = open_temp(j, "manifest.csv", j->csv_tmp, sizeof j->csv_tmp, err)))
            return -1;
        if (!(j->jsonl = open_temp(j, "annotations.jsonl", j->jsonl_tmp, sizeof j->jsonl_tmp, err)))
            return -1;
        fputs("path,label,subtitle\n", j->csv);
    }
    do {
        for (int k = 0; k < 16 && j->next < j->clips; k++, j->next++)
            if ((j->writing ? write_lines(j, err) : plan_row(c, j, err)) < 0)
                return -1;
    } while (j->next < j->clips && clock_mono_us() < until_us);
    if (!j->writing) {
        if (db_cache_run(&c->sql, err, "UPDATE datasets SET planned = ? WHERE id = ?", "ii", j->next,
                         j->dataset_id) < 0)
            return -1;
        if (j->next == j->clips)
            j->next = 0, j->writing = 1;
        return 0;
    }
    if (j->next < j->clips)
        return 0;
    int rc = finish_job(c, err);
    synthplan_close(j);
    return rc;
}

/* The dataset cannot be planned: it fails, its tasks too. */
static void fail_job(coord *c, const char *why)
{
    synth_job *j = &c->synth;
    migr_err err;
    char reason[1200];
    snprintf(reason, sizeof reason, "planning its clips failed: %s; mend that and synthesize it again under a "
             "new name", why);
    log_error("dataset %lld: %s", (long long)j->dataset_id, reason);
    int mark = coord_begin(c, &err);
    if (mark < 0 ||
        db_run(c->db, &err, "UPDATE datasets SET state = 'failed', error = ?, planned = NULL, finished_ms = ? "
               "WHERE id = ?", "sii", reason, clock_wall_ms(), j->dataset_id) < 0 ||
        queue_cancel_owner(c->db, "dataset", j->dataset_id, reason, clock_wall_ms(), &err) < 0 ||
        coord_commit(c, &err) < 0) {
        if (mark >= 0)
            coord_rollback(c, mark);
        log_error("dataset %lld: recording that it failed: %s", (long long)j->dataset_id, err.msg);
    }
    synthplan_close(j);
}

int synthplan_step(coord *c, int64_t budget_us)
{
    synth_job *j = &c->synth;
    migr_err err;
    if (!j->dataset_id) {
        if (!j->look)
            return 0;
        int rc = load_job(c, &err);
        if (rc == 0) {
            j->look = 0;
            return 0;
        }
        if (rc < 0) {
            if (j->dataset_id)
                fail_job(c, err.msg);
            else
                log_error("%s", err.msg);
            return 0;
        }
    }
    int mark = coord_begin(c, &err);
    if (mark < 0) {
        log_error("planning dataset %lld: %s", (long long)j->dataset_id, err.msg);
        return 0;
    }
    if (plan_slice(c, clock_mono_us() + budget_us, &err) < 0) {
        coord_rollback(c, mark);
        fail_job(c, err.msg); /* which drops the job */
        return 1;
    }
    if (coord_commit(c, &err) < 0) {
        coord_rollback(c, mark);
        log_error("planning dataset %lld: %s", (long long)j->dataset_id, err.msg);
        synthplan_close(j);
        return 1;
    }
    return 1;
}
