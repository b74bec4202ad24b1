/* queue.h -- tasks and their leases, in SQLite.
 *
 * A task is queued, leased to one worker under a lease token, then done or
 * failed.  A failure or a lost lease makes it wait out a backoff (base *
 * 2^(attempts-1), capped at 60 s; state 'waiting', until not_before_ms) and
 * then go back to the queue (queue_wake, called by migrd's deadline heap),
 * until it has used its attempts; then it fails for good and its owner
 * decides what that means.
 * Only the holder of the current lease can complete a task, so a task is
 * completed at most once even when a slow worker was presumed dead. */
#ifndef MIGR_QUEUE_H
#define MIGR_QUEUE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "coordinator/db.h"

typedef struct task_row {
    int64_t id;
    char owner[16];        /* "dataset" or "run" */
    int64_t owner_id;
    char kind[32];
    int64_t subject;
    int attempts, max_attempts;
    int64_t not_before_ms; /* while waiting: when it may be queued again */
    char worker[128];
    uint64_t lease;
} task_row;

int queue_add(sqlite3 *db, const char *owner, int64_t owner_id, const char *kind,
              int64_t subject, const char *params, int max_attempts, migr_err *err);

/* The ready tasks, oldest first, as the lease query selects them (the index
 * it must use is checked by a unit test). */
#define QUEUE_READY "FROM tasks WHERE state = 'queued' ORDER BY id"

/* Lease the oldest ready task to worker.  Returns 1 and fills *t and *params
 * (malloc'd, the caller's), 0 when nothing is ready, -1 on error.  The hot
 * path (lease, current, done, fail) runs on statements kept prepared. */
int queue_lease(db_cache *dc, const char *worker, uint64_t lease, int64_t now_ms, task_row *t,
                char **params, migr_err *err);

/* Is (id, lease) the current lease of a leased task?  1 and *t filled, 0 if not. */
#define QUEUE_CURRENT "FROM tasks WHERE id = ? AND lease = ? AND state = 'leased'"
int queue_current(db_cache *dc, int64_t id, uint64_t lease, task_row *t, migr_err *err);

/* Complete t; fails when t->lease is no longer the task's current lease. */
int queue_done(db_cache *dc, const task_row *t, const char *output, int64_t now_ms, migr_err *err);

/* Record a failed attempt of a task still leased under t->lease (attempts
 * >= 1).  Returns 1 when the task is now failed for good, 0 when it waits
 * to be retried (*wake_ms, if not NULL, says until when), -1 on error. */
int queue_fail(db_cache *dc, const task_row *t, const char *reason, int64_t now_ms,
               int64_t backoff_base_ms, int64_t *wake_ms, migr_err *err);

/* A waiting task's backoff is over: queue it.  1 if it was waiting, 0 if
 * not (cancelled meanwhile), -1 on error. */
int queue_wake(db_cache *dc, int64_t id, migr_err *err);

/* Fail every queued, waiting or leased task of an owner with reason, without retry. */
int queue_cancel_owner(sqlite3 *db, const char *owner, int64_t owner_id, const char *reason,
                       int64_t now_ms, migr_err *err);

/* Every leased task, or those leased to one worker (by index tasks_held),
 * oldest first, in a malloc'd array the caller frees. */
#define QUEUE_LEASED "FROM tasks WHERE state = 'leased'"
#define QUEUE_WAITING "FROM tasks WHERE state = 'waiting'"
#define QUEUE_LEASED_TO "FROM tasks WHERE state = 'leased' AND worker = ?"
int queue_leased(sqlite3 *db, task_row **out, size_t *n, migr_err *err);
int queue_leased_to(sqlite3 *db, const char *worker, task_row **out, size_t *n, migr_err *err);
/* Every waiting task, for the deadline heap at start. */
int queue_waiting(sqlite3 *db, task_row **out, size_t *n, migr_err *err);

/* Delete the task events (kinds task.*) among the next `limit` events after
 * id *after_id, in id order (which is time order), up to the first from
 * before_ms on; *after_id moves past the events looked at.  No index: a
 * range of the rowid.  The number deleted, or -1 with err.  The counters
 * /metrics draws from events are kept apart (schema/009_counts.sql). */
int queue_trim_events(db_cache *dc, int64_t before_ms, int limit, int64_t *after_id, migr_err *err);

/* Append an event. */
int queue_event(sqlite3 *db, const char *kind, const char *owner, int64_t owner_id,
                int64_t task_id, const char *detail, migr_err *err);

#endif
