/* views.c -- see views.h. */
#include "coordinator/views.h"

#include <stdio.h>
#include <string.h>

#include "common/emotion.h"
#include "coordinator/db.h"

/* Rows of a query as objects, keyed by column name; integer, real and text
 * columns keep their types, NULL becomes null. */
/* Every row of a prepared statement as an object keyed by column name;
 * finalizes st.  NULL with err on a failed step. */
static json_t *rows_of(sqlite3 *db, sqlite3_stmt *st, migr_err *err)
{
    json_t *arr = json_array();
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            json_t *v;
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER:
                v = json_integer(sqlite3_column_int64(st, c));
                break;
            case SQLITE_FLOAT:
                v = json_real(sqlite3_column_double(st, c));
                break;
            case SQLITE_NULL:
                v = json_null();
                break;
            default:
                v = json_string(db_text(st, c));
            }
            json_object_set_new(o, sqlite3_column_name(st, c), v);
        }
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        migr_errf(err, "reading: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return arr;
}

static json_t *rows(sqlite3 *db, migr_err *err, const char *sql, const char *fmt, const char *s,
                    int64_t i)
{
    sqlite3_stmt *st = fmt == NULL    ? db_prepare(db, err, sql, NULL)
                       : *fmt == 's' ? db_prepare(db, err, sql, "s", s)
                                     : db_prepare(db, err, sql, "i", i);
    return st ? rows_of(db, st, err) : NULL;
}

json_t *view_workers(sqlite3 *db, migr_err *err)
{
    return rows(db, err, VIEW_WORKERS, NULL, NULL, 0);
}

/* A dataset's clips in one state, from the counts schema/009 keeps. */
#define DATASET_CLIPS_IN(state) \
    "IFNULL((SELECT n FROM clip_counts c WHERE c.dataset_id = d.id AND c.state = '" state "'), 0) AS " state

#define DATASET_COLUMNS                                                                        \
    "SELECT d.name, d.source, d.state, "                                                       \
    "(SELECT IFNULL(SUM(n), 0) FROM clip_counts c WHERE c.dataset_id = d.id) AS clips, "       \
    DATASET_CLIPS_IN("featurized") ", " DATASET_CLIPS_IN("failed") ", " DATASET_CLIPS_IN("pending") ", " \
    "d.manifest, d.synth_seed AS seed, d.planned, d.plan_clips AS planned_of, d.created_ms, d.finished_ms " \
    "FROM datasets d "

json_t *view_datasets(sqlite3 *db, migr_err *err)
{
    return rows(db, err, DATASET_COLUMNS "ORDER BY d.id", NULL, NULL, 0);
}

/* {"happy": 12, ...} from a two-column (key, count) query. */
static json_t *counts(sqlite3 *db, migr_err *err, const char *sql, const char *name)
{
    json_t *list = rows(db, err, sql, "s", name, 0), *out = json_object();
    size_t i;
    json_t *row;
    if (!list) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(list, i, row) {
        const char *k = json_string_value(json_object_get(row, "k"));
        if (k)
            json_object_set(out, k, json_object_get(row, "n"));
    }
    json_decref(list);
    return out;
}

/* Per modality m the generator made dominant: {"clips", "multimodal" (of
 * them, those MI found no dominant modality in), "agreed" (MI found m),
 * "agreement": agreed / (clips - multimodal), null without such clips}. */
static json_t *agreement_by_modality(sqlite3 *db, const char *name, migr_err *err)
{
    json_t *list = rows(db, err,
        "SELECT json_extract(c.annotation, '$.dominant') AS m, COUNT(*) AS clips, "
        "SUM(c.mi_dominant = 'multimodal') AS multimodal, "
        "SUM(c.mi_dominant = json_extract(c.annotation, '$.dominant')) AS agreed "
        "FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = ? AND c.mi_dominant IS NOT NULL "
        "AND json_extract(c.annotation, '$.dominant') IS NOT NULL GROUP BY m ORDER BY m", "s", name, 0);
    json_t *out = json_object(), *row;
    size_t i;
    if (!list) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(list, i, row) {
        json_int_t clips = json_integer_value(json_object_get(row, "clips"));
        json_int_t multi = json_integer_value(json_object_get(row, "multimodal"));
        json_int_t agreed = json_integer_value(json_object_get(row, "agreed"));
        const char *m = json_string_value(json_object_get(row, "m"));
        if (m)
            json_object_set_new(out, m, json_pack("{s:I, s:I, s:I, s:o}", "clips", clips, "multimodal", multi,
                                                  "agreed", agreed, "agreement",
                                                  clips > multi ? json_real((double)agreed / (double)(clips - multi))
                                                                : json_null()));
    }
    json_decref(list);
    return out;
}

/* The dataset's modality importance: the state of its latest MI job, the
 * distribution of dominant modalities and, on synthetic data, how often it
 * agrees with the generator's recorded dominant modality, overall and per
 * modality. */
static json_t *view_dataset_mi(sqlite3 *db, const char *name, migr_err *err)
{
    json_t *job = rows(db, err,
        "SELECT t.state, t.error, d.mi_tau AS tau FROM datasets d LEFT JOIN tasks t ON t.owner = 'dataset' "
        "AND t.owner_id = d.id AND t.kind = 'mi' WHERE d.name = ? ORDER BY t.id DESC LIMIT 1", "s", name, 0);
    json_t *dominant = counts(db, err,
        "SELECT c.mi_dominant AS k, COUNT(*) AS n FROM clips c JOIN datasets d ON d.id = c.dataset_id "
        "WHERE d.name = ? AND c.mi_dominant IS NOT NULL GROUP BY k ORDER BY k", name);
    json_t *agree = rows(db, err,
        "SELECT COUNT(*) AS compared, COALESCE(SUM(c.mi_dominant = json_extract(c.annotation, '$.dominant')), 0) "
        "AS agreed FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = ? "
        "AND c.mi_dominant IS NOT NULL AND json_extract(c.annotation, '$.dominant') IS NOT NULL", "s", name, 0);
    if (!job || !dominant || !agree) {
        json_decref(job);
        json_decref(dominant);
        json_decref(agree);
        return NULL;
    }
    json_t *j = json_array_get(job, 0), *a = json_array_get(agree, 0);
    json_int_t compared = json_integer_value(json_object_get(a, "compared"));
    json_int_t agreed = json_integer_value(json_object_get(a, "agreed"));
    json_t *state = json_object_get(j, "state");
    json_t *out = json_pack("{s:s, s:O, s:O, s:o, s:I, s:o}",
        "state", json_is_string(state) ? json_string_value(state) : "none",
        "error", json_object_get(j, "error") ? json_object_get(j, "error") : json_null(),
        "tau", json_object_get(j, "tau") ? json_object_get(j, "tau") : json_null(),
        "dominant", dominant, "generator_compared", compared,
        "generator_agreement", compared > 0 ? json_real((double)agreed / (double)compared) : json_null());
    json_decref(job);
    json_decref(agree);
    json_t *by = out ? agreement_by_modality(db, name, err) : NULL;
    if (!by) {
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "generator_agreement_by_modality", by);
    return out;
}

json_t *view_dataset(sqlite3 *db, const char *name, int *missing, migr_err *err)
{
    json_t *list = rows(db, err, DATASET_COLUMNS "WHERE d.name = ?", "s", name, 0);
    json_t *d, *failures, *labels, *dominant;

    if (!list)
        return NULL;
    if (json_array_size(list) == 0) {
        json_decref(list);
        *missing = 1;
        migr_errf(err, "no dataset named %s (see `migr dataset list`)", name);
        return NULL;
    }
    d = json_incref(json_array_get(list, 0));
    json_decref(list);
    failures = rows(db, err,
                    "SELECT c.idx AS clip, c.path, c.error AS reason FROM clips c JOIN datasets d "
                    "ON d.id = c.dataset_id WHERE d.name = ? AND c.state = 'failed' ORDER BY c.idx",
                    "s", name, 0);
    labels = counts(db, err,
                    "SELECT c.label AS k, COUNT(*) AS n FROM clips c JOIN datasets d ON d.id = c.dataset_id "
                    "WHERE d.name = ? GROUP BY c.label ORDER BY c.label", name);
    dominant = counts(db, err,
                      "SELECT json_extract(c.annotation, '$.dominant') AS k, COUNT(*) AS n FROM clips c "
                      "JOIN datasets d ON d.id = c.dataset_id WHERE d.name = ? "
                      "AND json_extract(c.annotation, '$.dominant') IS NOT NULL GROUP BY k ORDER BY k", name);
    if (!failures || !labels || !dominant) {
        json_decref(failures);
        json_decref(labels);
        json_decref(dominant);
        json_decref(d);
        return NULL;
    }
    json_object_set_new(d, "failures", failures);
    json_object_set_new(d, "labels", labels);
    json_object_set_new(d, "generator_dominant", dominant);
    json_t *mi = view_dataset_mi(db, name, err);
    if (!mi) {
        json_decref(d);
        return NULL;
    }
    json_object_set_new(d, "mi", mi);
    json_t *inst = rows(db, err,
        "SELECT t.state, t.error, t.output FROM tasks t JOIN datasets d ON t.owner = 'dataset' AND "
        "t.owner_id = d.id WHERE d.name = ? AND t.kind = 'instruments' ORDER BY t.id DESC LIMIT 1", "s", name, 0);
    if (!inst) {
        json_decref(d);
        return NULL;
    }
    json_t *row = json_array_get(inst, 0);
    const char *out = json_string_value(json_object_get(row, "output"));
    json_t *o = out ? json_loads(out, 0, NULL) : NULL;
    /* A judge no better than guessing grades explanations at random: every
     * consistency figure made with it would mean nothing. */
    char warning[300] = "";
    json_t *jacc = json_object_get(o, "judge_accuracy");
    if (json_is_number(jacc) && json_number_value(jacc) <= 1.0 / EMOTION_COUNT)
        snprintf(warning, sizeof warning,
                 "the judge scores %.1f%% on held-out think texts, no better than chance (%.1f%%): "
                 "consistency figures made with it mean nothing; annotate more clips",
                 100 * json_number_value(jacc), 100.0 / EMOTION_COUNT);
    json_object_set_new(d, "instruments", json_pack("{s:s, s:O, s:o, s:s?}",
        "state", row ? json_string_value(json_object_get(row, "state")) : "none",
        "error", row && json_object_get(row, "error") ? json_object_get(row, "error") : json_null(),
        "trained", o ? o : json_null(), "warning", warning[0] ? warning : NULL));
    json_decref(inst);
    return d;
}

#define RUN_COLUMNS                                                                    \
    "SELECT r.id, r.name, r.kind, r.state, r.step, r.steps, d.name AS dataset, r.seed, r.error, " \
    "r.created_ms, r.started_ms, r.finished_ms, r.tags, s.name AS schedule FROM runs r " \
    "LEFT JOIN datasets d ON d.id = r.dataset_id LEFT JOIN schedules s ON s.id = r.schedule_id "

/* The runs' "tags" column, JSON text, as arrays. */
static json_t *parse_tags(json_t *list)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        json_t *tags = json_loads(json_string_value(json_object_get(r, "tags")), 0, NULL);
        json_object_set_new(r, "tags", json_is_array(tags) ? tags : (json_decref(tags), json_array()));
    }
    return list;
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return 1;
    return 0;
}

int run_filter_check(const run_filter *f, migr_err *err)
{
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
    static const char *const kinds[] = {"sft", "grpo", "eval", NULL};
    if (f->state && !one_of(f->state, states))
        return migr_errf(err, "no run state \"%s\": use queued, running, succeeded, failed or cancelled", f->state);
    if (f->kind && !one_of(f->kind, kinds))
        return migr_errf(err, "no run kind \"%s\": use sft, grpo or eval", f->kind);
    return 0;
}

json_t *view_runs(sqlite3 *db, const run_filter *f, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT * FROM (" RUN_COLUMNS "WHERE (?1 IS NULL OR r.state = ?1) AND (?2 IS NULL OR r.kind = ?2) "
        "AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value = ?3)) "
        "AND (?4 IS NULL OR r.name = ?4) AND (?6 <= 0 OR r.id < ?6) ORDER BY r.id DESC LIMIT ?5) ORDER BY id",
        "ssssii", f ? f->state : NULL, f ? f->kind : NULL, f ? f->tag : NULL, f ? f->name : NULL,
        f && f->limit > 0 ? f->limit : (int64_t)-1, f ? f->before : (int64_t)0);
    json_t *list = st ? rows_of(db, st, err) : NULL;
    return list ? parse_tags(list) : NULL;
}

json_t *view_run(sqlite3 *db, int64_t id, int *missing, migr_err *err)
{
    json_t *list = rows(db, err, RUN_COLUMNS "WHERE r.id = ?", "i", NULL, id);
    if (!list)
        return NULL;
    parse_tags(list);
    if (json_array_size(list) == 0) {
        json_decref(list);
        *missing = 1;
        migr_errf(err, "no run with id %lld (see `migr run list`)", (long long)id);
        return NULL;
    }
    json_t *r = json_incref(json_array_get(list, 0));
    json_decref(list);
    json_t *last = view_run_metrics(db, id, json_integer_value(json_object_get(r, "step")), err);
    json_t *config = rows(db, err, "SELECT config FROM runs WHERE id = ?", "i", NULL, id);
    if (!last || !config) {
        json_decref(last);
        json_decref(config);
        json_decref(r);
        return NULL;
    }
    json_t *last_step = json_array_get(last, json_array_size(last) - 1);
    json_object_set_new(r, "metrics", last_step ? json_incref(last_step) : json_object());
    const char *text = json_string_value(json_object_get(json_array_get(config, 0), "config"));
    json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
    json_object_set_new(r, "config", cfg ? cfg : json_null());
    json_decref(last);
    json_decref(config);
    json_t *holdout = rows(db, err,
        "SELECT c.idx FROM run_clips rc JOIN clips c ON c.id = rc.clip_id WHERE rc.run_id = ? "
        "AND rc.split = 'holdout' ORDER BY c.idx", "i", NULL, id);
    if (!holdout) {
        json_decref(r);
        return NULL;
    }
    json_t *idx = json_array(), *row;
    size_t i;
    json_array_foreach(holdout, i, row)
        json_array_append(idx, json_object_get(row, "idx"));
    json_decref(holdout);
    json_object_set_new(r, "holdout_clips", idx);
    /* GRPO: the latest sampled completions. */
    json_t *samples = rows(db, err, "SELECT detail AS text FROM events WHERE owner = 'run' AND owner_id = ? "
                           "AND kind = 'grpo.sample' ORDER BY id DESC LIMIT 2", "i", NULL, id);
    if (!samples) {
        json_decref(r);
        return NULL;
    }
    if (json_array_size(samples) > 0)
        json_object_set(r, "samples", samples);
    json_decref(samples);
    json_t *warnings = rows(db, err, "SELECT detail FROM events WHERE owner = 'run' AND owner_id = ? "
                            "AND kind = 'run.warning' ORDER BY id", "i", NULL, id);
    if (!warnings) {
        json_decref(r);
        return NULL;
    }
    json_t *texts = json_array();
    json_array_foreach(warnings, i, row)
        json_array_append(texts, json_object_get(row, "detail"));
    json_decref(warnings);
    json_object_set_new(r, "warnings", texts);
    json_t *ev = rows(db, err, "SELECT source_run, ckpt_step, ckpt_path, ckpt_sha256, clips, metrics FROM evals "
                      "WHERE run_id = ?", "i", NULL, id);
    if (!ev) {
        json_decref(r);
        return NULL;
    }
    json_t *e = json_array_get(ev, 0);
    if (e) {
        const char *mtext = json_string_value(json_object_get(e, "metrics"));
        json_t *m = mtext ? json_loads(mtext, 0, NULL) : NULL;
        json_object_set_new(e, "metrics", m ? m : json_null());
        json_object_set(r, "eval", e);
    }
    json_decref(ev);
    return r;
}

json_t *view_run_metrics(sqlite3 *db, int64_t id, int64_t since, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT step, name, value FROM metrics WHERE run_id = ? AND step >= ? ORDER BY step, name",
        "ii", id, since);
    json_t *out = json_array(), *cur = NULL;
    int64_t cur_step = -1;
    int rc;

    if (!st) {
        json_decref(out);
        return NULL;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t step = sqlite3_column_int64(st, 0);
        if (!cur || step != cur_step) {
            cur = json_pack("{s:I}", "step", (json_int_t)step);
            json_array_append_new(out, cur);
            cur_step = step;
        }
        json_object_set_new(cur, db_text(st, 1), json_real(sqlite3_column_double(st, 2)));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(out);
        migr_errf(err, "reading metrics: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return out;
}

json_t *view_run_events(sqlite3 *db, int64_t id, migr_err *err)
{
    return rows(db, err,
                "SELECT e.id, e.at_ms, e.kind, e.task_id, t.kind AS task_kind, e.detail FROM events e "
                "LEFT JOIN tasks t ON t.id = e.task_id WHERE e.owner = 'run' AND e.owner_id = ? "
                "ORDER BY e.id", "i", NULL, id);
}

json_t *view_checkpoints(sqlite3 *db, int64_t run, migr_err *err)
{
    return rows(db, err,
                "SELECT run_id AS run, step, path, sha256 FROM checkpoints WHERE ?1 < 0 OR run_id = ?1 "
                "ORDER BY run_id, step", "i", NULL, run);
}
