/* runprep.c -- see runprep.h. */
#include "coordinator/runprep.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "coordinator/slices.h"
#include "coordinator/runs.h"

/* Clip ids read per statement while loading; rows inserted, or records
 * written, between looks at the clock. */
enum { LOAD_CHUNK = 4096, SLICE = 32 };

void runprep_wake(coord *c)
{
    c->prep.look = 1;
}

void runprep_close(run_job *j)
{
    store_writer_abort(&j->out);
    free(j->ids);
    free(j->perm);
    json_decref(j->extra);
    json_decref(j->keys);
    *j = (run_job){.look = j->look};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* clips.json's top-level keys in the order JSON_SORT_KEYS writes them. */
static json_t *sorted_keys(json_t *extra)
{
    size_t n = json_object_size(extra) + 2, k = 2;
    const char **names = malloc(n * sizeof *names), *key;
    json_t *v, *out = names ? json_array() : NULL;
    if (!out) {
        free(names);
        return NULL;
    }
    names[0] = "holdout";
    names[1] = "train";
    json_object_foreach(extra, key, v)
        names[k++] = key;
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_string(names[i]));
    free(names);
    return out;
}

/* Load the next run waiting to be prepared into the job: 1, or 0 when none
 * is waiting (then look no more until woken). */
static int load_job(coord *c, migr_err *err)
{
    run_job *j = &c->prep;
    if (!j->look)
        return 0;
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT r.id, r.dataset_id, r.seed, r.prepared, r.prep_extra, r.kind, "
        "json_extract(r.config, '$.train.holdout'), json_extract(r.config, '$.reasoning.order') = 'mi', d.name "
        "FROM runs r JOIN datasets d ON d.id = r.dataset_id WHERE r.prepared IS NOT NULL ORDER BY r.id LIMIT 1",
        NULL);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            j->look = 0;
        return rc == SQLITE_DONE ? 0 : migr_errf(err, "finding a run to prepare: %s", sqlite3_errmsg(c->db));
    }
    runprep_close(j);
    j->run_id = sqlite3_column_int64(st, 0);
    j->dataset_id = sqlite3_column_int64(st, 1);
    j->seed = (uint64_t)sqlite3_column_int64(st, 2);
    j->next = sqlite3_column_int64(st, 3);
    j->extra = json_loads(db_text(st, 4), 0, NULL);
    j->annotated = strcmp(db_text(st, 5), "grpo") != 0;
    j->holdout = sqlite3_column_double(st, 6);
    j->need_mi = j->annotated && sqlite3_column_int(st, 7);
    snprintf(j->dataset, sizeof j->dataset, "%s", db_text(st, 8));
    j->last_idx = -1;
    sqlite3_finalize(st);
    if (!json_is_object(j->extra) || !(j->keys = sorted_keys(j->extra)))
        return migr_errf(err, "its clip list's other keys are not a JSON object");
    return 1;
}

/* Read the usable clips' ids, in manifest order; once all are in, their
 * split order.  1 when done, 0 when more is left, -1 on error. */
static int load_ids(coord *c, run_job *j, int64_t until_us, migr_err *err)
{
    do {
        sqlite3_stmt *st = db_cache_prepare(&c->sql, err,
            "SELECT c.id, c.idx, c.mi_visual IS NULL FROM clips c WHERE " RUN_USABLE_CLIPS " AND c.idx > ?3 "
            "ORDER BY c.idx LIMIT ?4",
            "iiii", j->dataset_id, (int64_t)j->annotated, j->last_idx, (int64_t)LOAD_CHUNK);
        int rc, got = 0;
        if (!st)
            return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (j->n == j->cap) {
                int64_t cap = j->cap ? 2 * j->cap : LOAD_CHUNK, *g = realloc(j->ids, (size_t)cap * sizeof *g);
                if (!g) {
                    db_cache_release(st);
                    return migr_errf(err, "out of memory reading %lld clip ids", (long long)cap);
                }
                j->ids = g;
                j->cap = cap;
            }
            if (j->need_mi && sqlite3_column_int(st, 2)) {
                db_cache_release(st);
                return migr_errf(err, "reasoning.order is mi but dataset %s has no modality importance for "
                                 "every clip; run `migr dataset mi %s --wait` first", j->dataset, j->dataset);
            }
            j->ids[j->n++] = sqlite3_column_int64(st, 0);
            j->last_idx = sqlite3_column_int64(st, 1);
            got++;
        }
        db_cache_release(st);
        if (rc != SQLITE_DONE)
            return migr_errf(err, "reading the clips: %s", sqlite3_errmsg(c->db));
        if (got < LOAD_CHUNK) {
            if (j->n < 2)
                return migr_errf(err, "its dataset has %lld usable clips; a run needs at least 2", (long long)j->n);
            if (!(j->perm = malloc((size_t)j->n * sizeof *j->perm)))
                return migr_errf(err, "out of memory ordering %lld clips", (long long)j->n);
            runs_split_order(j->perm, j->n, j->seed);
            j->nhold = (int64_t)(j->holdout * (double)j->n + 0.5);
            return 1;
        }
    } while (clock_mono_us() < until_us);
    return 0;
}

/* Insert run_clips rows: the first nhold of the split order are held out,
 * the rest trained on; ord is the row's place in its list. */
static int insert_rows(coord *c, run_job *j, int64_t until_us, migr_err *err)
{
    do {
        for (int k = 0; k < SLICE && j->next < j->n; k++, j->next++) {
            int hold = j->next < j->nhold;
            if (db_cache_run(&c->sql, err, "INSERT INTO run_clips (run_id, clip_id, split, ord) VALUES (?, ?, ?, ?)",
                             "iisi", j->run_id, j->ids[j->perm[j->next]], hold ? "holdout" : "train",
                             hold ? j->next : j->next - j->nhold) < 0)
                return -1;
        }
    } while (j->next < j->n && clock_mono_us() < until_us);
    if (db_cache_run(&c->sql, err, "UPDATE runs SET prepared = ? WHERE id = ?", "ii", j->next, j->run_id) < 0)
        return -1;
    if (j->next == j->n)
        j->writing = 1;
    return 0;
}

static int add_to_writer(const char *buffer, size_t size, void *w)
{
    return store_writer_add(w, buffer, size);
}

/* Write value compactly, keys sorted, as the rest of clips.json. */
static void write_json(store_writer *w, json_t *value)
{
    json_dump_callback(value, add_to_writer, w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void write_char(store_writer *w, char ch)
{
    store_writer_add(w, &ch, 1);
}

/* Up to SLICE records of an array key from ord on; how many, or -1. */
static int write_records(coord *c, run_job *j, const char *split, migr_err *err)
{
    sqlite3_stmt *st = db_cache_prepare(&c->sql, err,
        "SELECT " RUN_CLIP_COLUMNS " FROM run_clips rc JOIN clips c ON c.id = rc.clip_id "
        "WHERE rc.run_id = ? AND rc.split = ? AND rc.ord >= ? ORDER BY rc.ord LIMIT ?",
        "isii", j->run_id, split, j->ord, (int64_t)SLICE);
    int rc, got = 0;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *rec = runs_clip_record(st);
        if (!rec) {
            db_cache_release(st);
            return migr_errf(err, "out of memory");
        }
        if (j->ord++ > 0)
            write_char(&j->out, ',');
        write_json(&j->out, rec);
        json_decref(rec);
        got++;
    }
    db_cache_release(st);
    if (rc != SQLITE_DONE)
        return migr_errf(err, "reading the run's clips: %s", sqlite3_errmsg(c->db));
    return got;
}

/* Write clips.json as dumps would the whole document, a slice at a time:
 * 1 once it is in the store, 0 when more is left, -1 on error. */
static int write_file(coord *c, run_job *j, int64_t until_us, migr_err *err)
{
    if (!j->out.f) {
        char rel[64];
        snprintf(rel, sizeof rel, "runs/%lld/clips.json", (long long)j->run_id);
        if (store_writer_open(&c->st, rel, &j->out, err) < 0)
            return -1;
        write_char(&j->out, '{');
        j->part = 0;
        j->ord = -1;
    }
    do {
        if (j->part == json_array_size(j->keys)) {
            write_char(&j->out, '}');
            return store_writer_commit(&j->out, NULL, err) < 0 ? -1 : 1;
        }
        json_t *key = json_array_get(j->keys, j->part);
        const char *name = json_string_value(key);
        if (j->ord < 0) {
            if (j->part > 0)
                write_char(&j->out, ',');
            write_json(&j->out, key);
            write_char(&j->out, ':');
            if (strcmp(name, "holdout") != 0 && strcmp(name, "train") != 0) {
                write_json(&j->out, json_object_get(j->extra, name));
                j->part++;
                continue;
            }
            write_char(&j->out, '[');
            j->ord = 0;
        }
        int got = write_records(c, j, name, err);
        if (got < 0)
            return -1;
        if (got < SLICE) {
            write_char(&j->out, ']');
            j->part++;
            j->ord = -1;
        }
    } while (clock_mono_us() < until_us);
    return 0;
}

/* The run cannot be prepared: it fails with the reason. */
static void fail_job(coord *c, const char *why)
{
    run_job *j = &c->prep;
    migr_err err;
    char reason[1200];
    snprintf(reason, sizeof reason, "preparing its clips failed: %s", why);
    log_error("run %lld: %s", (long long)j->run_id, reason);
    int mark = coord_begin(c, &err);
    if (mark < 0 ||
        db_run(c->db, &err, "UPDATE runs SET state = 'failed', error = ?, finished_ms = ?, prepared = NULL "
               "WHERE id = ?", "sii", reason, clock_wall_ms(), j->run_id) < 0 ||
        queue_event(c->db, "run.failed", "run", j->run_id, 0, reason, &err) < 0 || coord_commit(c, &err) < 0) {
        if (mark >= 0)
            coord_rollback(c, mark);
        log_error("run %lld: recording that it failed: %s", (long long)j->run_id, err.msg);
    }
    runprep_close(j);
}

/* One slice of the job.  1 when the run is prepared, 0 when more is left. */
static int run_job_slice(coord *c, int64_t until_us, migr_err *err)
{
    run_job *j = &c->prep;
    int64_t queued;
    if (db_cache_int(&c->sql, err, &queued, 0, "SELECT state = 'queued' FROM runs WHERE id = ?", "i", j->run_id) < 0)
        return -1;
    if (!queued) { /* cancelled meanwhile */
        log_info("run %lld: no longer queued; its preparation stops", (long long)j->run_id);
        if (db_run(c->db, err, "UPDATE runs SET prepared = NULL WHERE id = ?", "i", j->run_id) < 0)
            return -1;
        runprep_close(j);
        return 0;
    }
    if (!j->perm) {
        int rc = load_ids(c, j, until_us, err);
        if (rc <= 0)
            return rc;
    }
    if (!j->writing)
        return insert_rows(c, j, until_us, err);
    int rc = write_file(c, j, until_us, err);
    if (rc <= 0)
        return rc;
    if (runs_prepared(c, j->run_id, j->n - j->nhold, err) < 0)
        return -1;
    runprep_close(j);
    return 1;
}

static int64_t current(coord *c)
{
    return c->prep.run_id;
}

static void drop(coord *c)
{
    runprep_close(&c->prep);
}

int runprep_step(coord *c, int64_t budget_us)
{
    static const slice_work work = {"preparing run", current, load_job, run_job_slice, fail_job, drop};
    return slices_step(c, &work, budget_us);
}
