/* views.h -- the JSON the CLI and the HTTP API show, rendered from SQLite.
 * Each returns a new reference (the caller's) or NULL with err set; a view of
 * one thing that does not exist sets *missing. */
#ifndef MIGR_VIEWS_H
#define MIGR_VIEWS_H

#include <jansson.h>
#include <sqlite3.h>

#include "common/error.h"

json_t *view_workers(sqlite3 *db, migr_err *err);
json_t *view_datasets(sqlite3 *db, migr_err *err);
json_t *view_dataset(sqlite3 *db, const char *name, int *missing, migr_err *err);
/* Which runs a listing shows: NULL or 0 fields do not filter; the newest
 * limit of those that match with an id below before, oldest first (pages
 * back in time: the next page's before is this page's first id). */
typedef struct run_filter {
    const char *state, *kind, *tag, *name;
    int64_t limit, before;
} run_filter;

/* 0 when f's state and kind are a run state and kind (or absent); -1 with
 * err naming the ones there are. */
int run_filter_check(const run_filter *f, migr_err *err);

/* Runs (f may be NULL for all), each with its "tags" and "schedule". */
json_t *view_runs(sqlite3 *db, const run_filter *f, migr_err *err);
json_t *view_run(sqlite3 *db, int64_t id, int *missing, migr_err *err);
/* [{"step", "loss", "grad_norm", "lr", "tokens_per_s", ...}] from step `since` on. */
json_t *view_run_metrics(sqlite3 *db, int64_t id, int64_t since, migr_err *err);
/* The run's events, oldest first: [{"at_ms", "kind", "task_id", "detail"}]. */
json_t *view_run_events(sqlite3 *db, int64_t id, migr_err *err);
/* [{"run","step","path","sha256"}] of one run, or of all when run < 0. */
json_t *view_checkpoints(sqlite3 *db, int64_t run, migr_err *err);

/* `migr workers`: each alive worker with the tasks leased to it, found
 * through index tasks_held (its plan is checked by a test). */
#define VIEW_WORKERS                                                                                        \
    "SELECT id, pid, host, state, concurrency, "                                                            \
    "(SELECT COUNT(*) FROM tasks t WHERE t.worker = w.id AND t.state = 'leased') AS tasks, "                \
    "(SELECT group_concat(t.kind || ' ' || t.id || ' (' || t.owner || ' ' || t.owner_id || ')', ', ') "    \
    "FROM tasks t WHERE t.worker = w.id AND t.state = 'leased') AS current, "                               \
    "last_ms AS last_seen_ms FROM workers w WHERE state = 'alive' ORDER BY first_ms, id"

#endif
