/* api.c -- client requests: a verb and a JSON object of arguments in, a JSON
 * body out. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/db.h"
#include "coordinator/runs.h"
#include "coordinator/schedules.h"
#include "coordinator/views.h"

typedef json_t *(*verb_fn)(coord *c, json_t *args, int *status, migr_err *err);

static json_t *verb_ping(coord *c, json_t *args, int *status, migr_err *err)
{
    (void)args, (void)status, (void)err;
    return json_pack("{s:s, s:i, s:s}", "endpoint", c->home.endpoint, "workers", c->fleet.n,
                     "store", c->st.root);
}

static json_t *verb_workers(coord *c, json_t *args, int *status, migr_err *err)
{
    (void)args, (void)status;
    return view_workers(c->db, err);
}

static json_t *verb_dataset_list(coord *c, json_t *args, int *status, migr_err *err)
{
    (void)args, (void)status;
    return view_datasets(c->db, err);
}

static json_t *verb_dataset_show(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    int missing = 0;
    if (!name) {
        *status = 2;
        migr_errf(err, "dataset.show needs a name");
        return NULL;
    }
    return view_dataset(c->db, name, &missing, err);
}

static json_t *verb_run_list(coord *c, json_t *args, int *status, migr_err *err)
{
    run_filter f = {
        .state = json_string_value(json_object_get(args, "state")),
        .kind = json_string_value(json_object_get(args, "kind")),
        .tag = json_string_value(json_object_get(args, "tag")),
        .name = json_string_value(json_object_get(args, "name")),
        .limit = json_integer_value(json_object_get(args, "limit")),
        .before = json_integer_value(json_object_get(args, "before")),
    };
    if (run_filter_check(&f, err) < 0) {
        *status = 2;
        return NULL;
    }
    return view_runs(c->db, &f, err);
}

/* The run named by args' "id", or NULL: status 2 for a missing or
 * non-numeric id, 1 for a run that does not exist. */
static json_t *run_of_args(coord *c, json_t *args, const char *verb, int64_t *id, int *status,
                           migr_err *err)
{
    int missing = 0;
    json_t *v = json_object_get(args, "id");
    if (!json_is_integer(v)) {
        *status = 2;
        migr_errf(err, "%s needs a numeric run id", verb);
        return NULL;
    }
    *id = json_integer_value(v);
    return view_run(c->db, *id, &missing, err);
}

static json_t *verb_run_show(coord *c, json_t *args, int *status, migr_err *err)
{
    int64_t id;
    return run_of_args(c, args, "run.show", &id, status, err);
}

static json_t *verb_run_cancel(coord *c, json_t *args, int *status, migr_err *err)
{
    int64_t id;
    int missing = 0;
    json_t *run = run_of_args(c, args, "run.cancel", &id, status, err);
    if (!run)
        return NULL;
    const char *state = json_string_value(json_object_get(run, "state"));
    if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0) {
        migr_errf(err, "run %lld is already %s", (long long)id, state);
        json_decref(run);
        return NULL;
    }
    json_decref(run);
    return runs_cancel(c, id, err) < 0 ? NULL : view_run(c->db, id, &missing, err);
}

/* The newest checkpoint of a run that failed or was cancelled, to take it
 * up from: *from = {"run", "step", "sha0", "sha256"}, or NULL when it has
 * none past step 0 (or no step-0 checkpoint) or is of another kind or
 * state.  Returns 0, or -1 with err when the checkpoints cannot be read:
 * the retry must then fail, not start the run over from step 0 unasked. */
static int resume_point(coord *c, json_t *run, int64_t id, json_t **from, migr_err *err)
{
    const char *state = json_string_value(json_object_get(run, "state"));
    const char *kind = json_string_value(json_object_get(run, "kind"));
    int64_t step = 0;
    sqlite3_stmt *st;
    char why[sizeof err->msg];

    *from = NULL;
    if ((strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0) || !strcmp(kind, "eval"))
        return 0;
    if (db_int(c->db, err, &step, 0, "SELECT MAX(step) FROM checkpoints WHERE run_id = ?", "i", id) < 0)
        goto fail;
    if (step < 1)
        return 0;
    st = db_prepare(c->db, err,
        "SELECT (SELECT sha256 FROM checkpoints WHERE run_id = ?1 AND step = 0), sha256 FROM checkpoints "
        "WHERE run_id = ?1 AND step = ?2", "ii", id, step);
    if (!st)
        goto fail;
    int rc = sqlite3_step(st), bad = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (bad)
        migr_errf(err, "reading its checkpoint of step %lld: %s", (long long)step, sqlite3_errmsg(c->db));
    else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
             !(*from = json_pack("{s:I, s:I, s:s, s:s}", "run", (json_int_t)id, "step", (json_int_t)step,
                                 "sha0", db_text(st, 0), "sha256", db_text(st, 1))))
        bad = migr_errf(err, "out of memory");
    sqlite3_finalize(st);
    if (!bad)
        return 0;
fail:
    snprintf(why, sizeof why, "%s", err->msg);
    return migr_errf(err, "run %lld was not retried: its newest checkpoint cannot be read from migrd's "
                     "database (%.600s).  `migr run retry %lld --fresh` starts it over from step 0 instead; "
                     "`sqlite3 %s 'PRAGMA integrity_check'` checks the database", (long long)id, why,
                     (long long)id, c->home.db);
}

/* Submit a finished run's config (and tags) again as a new run; one that
 * failed or was cancelled after a checkpoint is taken up from its newest. */
static json_t *verb_run_retry(coord *c, json_t *args, int *status, migr_err *err)
{
    int64_t id;
    json_t *run = run_of_args(c, args, "run.retry", &id, status, err);
    if (!run)
        return NULL;
    const char *state = json_string_value(json_object_get(run, "state"));
    json_t *out = NULL;
    if (!strcmp(state, "queued") || !strcmp(state, "running")) {
        migr_errf(err, "run %lld is still %s; cancel it first (`migr run cancel %lld`) or wait for it", (long long)id,
                  state, (long long)id);
    } else {
        json_t *from = NULL;
        if (json_is_true(json_object_get(args, "fresh")) || resume_point(c, run, id, &from, err) == 0) {
            json_t *again = json_pack("{s:O, s:O}", "config", json_object_get(run, "config"), "tags",
                                      json_object_get(run, "tags"));
            if (again && from)
                json_object_set(again, "resume", from);
            out = again ? runs_submit(c, again, status, err) : NULL;
            json_decref(again);
            if (out) {
                json_object_set_new(out, "retry_of", json_integer(id));
                if (from)
                    json_object_set_new(out, "resumed_from_step", json_incref(json_object_get(from, "step")));
            }
            json_decref(from);
        }
    }
    json_decref(run);
    return out;
}

static json_t *verb_run_metrics(coord *c, json_t *args, int *status, migr_err *err)
{
    int64_t id;
    json_t *run = run_of_args(c, args, "run.metrics", &id, status, err);
    if (!run)
        return NULL;
    json_t *metrics = view_run_metrics(c->db, id, json_integer_value(json_object_get(args, "since")), err);
    if (metrics)
        json_object_set_new(run, "steps_done", metrics);
    return metrics ? run : (json_decref(run), NULL);
}

static json_t *verb_run_logs(coord *c, json_t *args, int *status, migr_err *err)
{
    int64_t id;
    json_t *run = run_of_args(c, args, "run.logs", &id, status, err);
    json_t *events = run ? view_run_events(c->db, id, err) : NULL;
    json_t *metrics = events ? view_run_metrics(c->db, id, 0, err) : NULL;
    json_decref(run);
    if (!metrics) {
        json_decref(events);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "events", events, "metrics", metrics);
}

static json_t *verb_ckpt_list(coord *c, json_t *args, int *status, migr_err *err)
{
    json_t *run = json_object_get(args, "run");
    int64_t exists = 1;
    (void)status;
    if (json_is_integer(run) &&
        db_int(c->db, err, &exists, 0, "SELECT COUNT(*) FROM runs WHERE id = ?", "i",
               (int64_t)json_integer_value(run)) < 0)
        return NULL;
    if (!exists) {
        migr_errf(err, "there is no run %lld (see `migr run list`)", (long long)json_integer_value(run));
        return NULL;
    }
    return view_checkpoints(c->db, json_is_integer(run) ? json_integer_value(run) : -1, err);
}

/* One clip of a dataset by its manifest row: the store root and its
 * features' path in the store, label, subtitle and annotation. */
static json_t *verb_dataset_clip(coord *c, json_t *args, int *status, migr_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    json_t *idx = json_object_get(args, "clip");
    json_t *out = NULL;

    int64_t exists = 0;
    if (!name || !json_is_integer(idx)) {
        *status = 2;
        migr_errf(err, "dataset.clip needs a dataset name and a clip number");
        return NULL;
    }
    if (db_int(c->db, err, &exists, 0, "SELECT COUNT(*) FROM datasets WHERE name = ?", "s", name) < 0)
        return NULL;
    if (!exists) {
        migr_errf(err, "there is no dataset named %s (see `migr dataset list`)", name);
        return NULL;
    }
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT c.state, c.features, c.label, c.subtitle, c.annotation, c.path, c.error FROM clips c "
        "JOIN datasets d ON d.id = c.dataset_id WHERE d.name = ? AND c.idx = ?", "si", name,
        (int64_t)json_integer_value(idx));
    if (!st)
        return NULL;
    if (sqlite3_step(st) != SQLITE_ROW) {
        migr_errf(err, "dataset %s has no clip %lld", name, (long long)json_integer_value(idx));
    } else if (strcmp(db_text(st, 0), "featurized") != 0) {
        migr_errf(err, "clip %lld of %s is %s: %s", (long long)json_integer_value(idx), name,
                  db_text(st, 0), db_text(st, 6));
    } else {
        json_t *ann = json_loads(db_text(st, 4), 0, NULL);
        out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "store", c->st.root, "features",
                        db_text(st, 1), "label", db_text(st, 2), "subtitle", db_text(st, 3), "media",
                        db_text(st, 5), "annotation", ann ? ann : json_null());
    }
    sqlite3_finalize(st);
    return out;
}

static const struct {
    const char *verb;
    verb_fn fn;
} verbs[] = {
    {"ping", verb_ping},
    {"bench.enqueue", bench_enqueue},
    {"bench.stats", bench_stats},
    {"workers", verb_workers},
    {"dataset.add", datasets_add},
    {"dataset.synth", datasets_synth},
    {"dataset.list", verb_dataset_list},
    {"dataset.show", verb_dataset_show},
    {"dataset.clip", verb_dataset_clip},
    {"dataset.mi", datasets_mi},
    {"dataset.instruments", datasets_instruments},
    {"run.submit", runs_submit},
    {"run.metrics", verb_run_metrics},
    {"run.logs", verb_run_logs},
    {"ckpt.list", verb_ckpt_list},
    {"run.list", verb_run_list},
    {"run.show", verb_run_show},
    {"run.cancel", verb_run_cancel},
    {"run.retry", verb_run_retry},
    {"schedule.add", schedules_add},
    {"schedule.list", schedules_list},
    {"schedule.show", schedules_show},
    {"schedule.rm", schedules_rm},
    {"schedule.pause", schedules_pause},
    {"schedule.resume", schedules_resume},
    {"schedule.run", schedules_run},
};

char *api_handle(coord *c, const char *verb, const char *args, int *status, migr_err *err)
{
    json_error_t jerr;
    json_t *a = json_loads(args && *args ? args : "{}", 0, &jerr);
    json_t *body = NULL;

    *status = 0;
    if (!a || !json_is_object(a)) {
        json_decref(a);
        *status = 2;
        migr_errf(err, "request arguments are not a JSON object");
        return NULL;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verbs[i].verb, verb) != 0)
            continue;
        body = verbs[i].fn(c, a, status, err);
        json_decref(a);
        if (!body) {
            if (*status == 0)
                *status = 1;
            return NULL;
        }
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (!text) {
            *status = 1;
            migr_errf(err, "out of memory");
        }
        return text;
    }
    json_decref(a);
    *status = 2;
    migr_errf(err, "unknown request \"%s\"; is migr newer than migrd?", verb);
    return NULL;
}
