/* coord.h -- the coordinator's state and the seams other modules plug into.
 *
 * migrd is one thread around one ROUTER socket (workers and clients alike)
 * plus the HTTP server's thread, which only reads the database.  All state
 * lives in SQLite; the in-memory worker table is rebuilt from heartbeats. */
#ifndef MIGR_COORD_H
#define MIGR_COORD_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/error.h"
#include "common/home.h"
#include "common/store.h"
#include "common/wire.h"
#include "coordinator/deadlines.h"
#include "coordinator/queue.h"
#include "coordinator/zap.h"

typedef struct coord_config {
    int heartbeat_ms;      /* interval both ways (1000) */
    int liveness;          /* missed heartbeats before a worker is dead (3) */
    int max_attempts;      /* tries per task before it fails for good (3) */
    int backoff_ms;        /* first retry delay, doubling (1000) */
    int insecure;          /* allow a non-local endpoint without CURVE */
    int task_timeout_s;    /* a lease ends this long after it began, even if
                            * its worker lives on (3600) */
} coord_config;

/* A task sent to a worker that has not answered for it yet.  It holds one
 * of the worker's slots until the worker's result for the lease arrives,
 * current or stale (the run may have been cancelled meanwhile), or until a
 * heartbeat sent after the worker received it no longer lists the lease. */
typedef struct coord_assignment {
    int64_t task_id;
    uint64_t lease;
    uint64_t seq;          /* its number among the assignments sent on the
                            * worker's connection; 0 if held since its hello */
} coord_assignment;

/* A connected worker.  The table is kept oldest-heard-from first, so a sweep
 * for dead workers stops at the first live one.  Its busy slots are the
 * assignments it holds, never a counter of its own. */
typedef struct coord_worker {
    char id[128];
    wire_peer peer;
    char host[128];
    int pid;
    int concurrency;
    coord_assignment *held; /* (concurrency), the first nheld in use; owned */
    int nheld;
    uint64_t sent;         /* assignments sent since its hello */
    int64_t last_heard_ms; /* monotonic */
} coord_worker;

typedef struct coord {
    coord_config cfg;
    migr_home home;
    store st;
    sqlite3 *db;
    void *zctx, *router;
    zap auth;              /* CURVE and the allowlist, when migrd has a key */
    unsigned auth_seen;    /* the allowlist generation workers were checked against */
    coord_worker *workers;
    int nworkers, capworkers;
    deadlines leases;      /* when each lease ends (deadlines.h) */
    int64_t started_ms;    /* monotonic; leases held at start get one liveness period */
    int64_t next_heartbeat_ms;
    /* Store objects to remove once the transaction that stopped needing
     * them commits (coord_discard); dropped if it rolls back. */
    char **discard;
    int ndiscard, capdiscard;
} coord;

/* What the coordinator does when a task of a kind finishes.  Registered per
 * kind in kinds.c; a new task kind adds a row there. */
typedef struct task_kind {
    const char *name;
    /* The task succeeded with output (a JSON object).  Runs in the transaction
     * that marks it done; a failure rolls the completion back. */
    int (*on_done)(coord *c, const task_row *t, json_t *output, migr_err *err);
    /* The task used up its attempts; reason says why. */
    int (*on_exhausted)(coord *c, const task_row *t, const char *reason, migr_err *err);
} task_kind;

const task_kind *task_kind_find(const char *name);

/* Remove store object relpath after the current transaction commits, so a
 * crash before the commit never leaves the database pointing at a deleted
 * file.  Paths come from worker output, so relpath must be a store object
 * under runs/ or datasets/ without a ".." component; -1 with err for any
 * other (NULL included) and when out of memory. */
int coord_discard(coord *c, const char *relpath, migr_err *err);

/* Once the transaction that called coord_discard ends: remove the objects
 * after a commit (remove = 1), forget them after a rollback (remove = 0). */
void coord_discard_flush(coord *c, int remove);

void coord_config_default(coord_config *cfg);
int coord_open(coord *c, const coord_config *cfg, const migr_home *home, migr_err *err);
void coord_close(coord *c);
/* Serve until *stop becomes non-zero (set by a signal handler). */
int coord_serve(coord *c, volatile int *stop, migr_err *err);

/* Handle one client request; returns the reply body (malloc'd JSON) or NULL
 * with *status 1 or 2 and err set.  Defined in api.c. */
char *api_handle(coord *c, const char *verb, const char *args, int *status, migr_err *err);

#endif
