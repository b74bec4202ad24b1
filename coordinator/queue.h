/* queue.h -- tasks and their leases, in SQLite.
 *
 * A task is queued, leased to one worker under a lease token, then done or
 * failed.  A failure or a lost lease sends it back to the queue after a
 * backoff (base * 2^(attempts-1), capped at 60 s) until it has used its
 * attempts; then it fails for good and its owner decides what that means.
 * Only the holder of the current lease can complete a task, so a task is
 * completed at most once even when a slow worker was presumed dead. */
#ifndef MIGR_QUEUE_H
#define MIGR_QUEUE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct task_row {
    int64_t id;
    char owner[16];        /* "dataset" or "run" */
    int64_t owner_id;
    char kind[32];
    int64_t subject;
    int attempts, max_attempts;
    char worker[128];
    uint64_t lease;
} task_row;

int queue_add(sqlite3 *db, const char *owner, int64_t owner_id, const char *kind,
              int64_t subject, const char *params, int max_attempts, migr_err *err);

/* Lease the oldest ready task to worker.  Returns 1 and fills *t and *params
 * (malloc'd, the caller's), 0 when nothing is ready, -1 on error. */
/* The ready tasks, oldest first, as the lease query selects them (the index
 * it must use is checked by a unit test). */
#define QUEUE_READY "FROM tasks WHERE state = 'queued' AND not_before_ms <= ? ORDER BY id"

int queue_lease(sqlite3 *db, const char *worker, uint64_t lease, int64_t now_ms, task_row *t,
                char **params, migr_err *err);

/* Is (id, lease) the current lease of a leased task?  1 and *t filled, 0 if not. */
int queue_current(sqlite3 *db, int64_t id, uint64_t lease, task_row *t, migr_err *err);

/* Complete t; fails when t->lease is no longer the task's current lease. */
int queue_done(sqlite3 *db, const task_row *t, const char *output, int64_t now_ms, migr_err *err);

/* Record a failed attempt of a task still leased under t->lease (attempts
 * >= 1).  Returns 1 when the task is now failed for good,
 * 0 when it was requeued, -1 on error. */
int queue_fail(sqlite3 *db, const task_row *t, const char *reason, int64_t now_ms,
               int64_t backoff_base_ms, migr_err *err);

/* Fail every queued or leased task of an owner with reason, without retry. */
int queue_cancel_owner(sqlite3 *db, const char *owner, int64_t owner_id, const char *reason,
                       int64_t now_ms, migr_err *err);

/* Every leased task, oldest first, in a malloc'd array the caller frees. */
int queue_leased(sqlite3 *db, task_row **out, size_t *n, migr_err *err);

/* Append an event. */
int queue_event(sqlite3 *db, const char *kind, const char *owner, int64_t owner_id,
                int64_t task_id, const char *detail, migr_err *err);

#endif
