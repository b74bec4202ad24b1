/* coord.h -- the coordinator's state and the seams other modules plug into.
 *
 * migrd is one thread around one ROUTER socket (workers and clients alike)
 * plus the HTTP server's thread, which only reads the database.  All state
 * lives in SQLite; the in-memory worker table is rebuilt from heartbeats.
 *
 * Group commit: each turn of the loop handles a batch of messages inside one
 * transaction and commits it once; handlers' own transactions are savepoints
 * within it (coord_begin), and what they send waits in an outbox until the
 * commit (coord_outgoing), so nothing a peer sees can be lost by a crash. */
#ifndef MIGR_COORD_H
#define MIGR_COORD_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/error.h"
#include "common/home.h"
#include "common/store.h"
#include "common/wire.h"
#include "coordinator/db.h"
#include "coordinator/deadlines.h"
#include "coordinator/fleet.h"
#include "coordinator/queue.h"
#include "coordinator/runprep.h"
#include "coordinator/clipplan.h"
#include "coordinator/walkeeper.h"
#include "coordinator/zap.h"

typedef struct coord_config {
    int heartbeat_ms;      /* interval both ways (1000) */
    int liveness;          /* missed heartbeats before a worker is dead (3) */
    int max_attempts;      /* tries per task before it fails for good (3) */
    int backoff_ms;        /* first retry delay, doubling (1000) */
    int insecure;          /* allow a non-local endpoint without CURVE */
    int task_timeout_s;    /* a lease ends this long after it began, even if
                            * its worker lives on (3600) */
    int prefetch;          /* tasks queued at a worker beyond its free slots (0) */
    int keep_events_days;  /* task events older than this are deleted; 0 keeps
                            * them all (14) */
} coord_config;

/* A message that leaves migrd only once the batch that decided it has
 * committed: an assignment (its lease is durable before the worker sees it)
 * or a reply (what it reports is durable before the client reads it). */
typedef struct coord_outgoing {
    wire_peer peer;
    int is_assign;
    /* assignment */
    char worker[128];
    int64_t task_id;
    uint64_t lease;
    uint32_t attempt;
    char kind[32];
    char *params;          /* owned */
    int64_t freed_us;      /* when the worker's slot became free */
    /* reply */
    int status;
    char *body;            /* owned */
    char *error;           /* owned */
} coord_outgoing;

/* What `migr bench dispatch` measures: its no-op tasks (bench.c). */
typedef struct coord_bench {
    int64_t first_us, last_us; /* monotonic: first no-op sent, last one done */
    int64_t enqueued, done, failed;
    uint32_t *latency_us;  /* (done..) dispatch latency of each no-op sent; owned */
    size_t nlatency, caplatency;
} coord_bench;

typedef struct coord {
    coord_config cfg;
    migr_home home;
    store st;
    sqlite3 *db;
    void *zctx, *router;
    zap auth;              /* CURVE and the allowlist, when migrd has a key */
    unsigned auth_seen;    /* the allowlist generation workers were checked against */
    db_cache sql;          /* the hot path's statements */
    walkeeper wal;         /* checkpoints the WAL off the loop (walkeeper.h) */
    int batch;             /* inside the loop's group-commit transaction */
    int durable;           /* commits fsync (synchronous=FULL; server.c) */
    int batch_discards;    /* ndiscard when the batch began */
    coord_outgoing *outbox; /* sent when the batch commits */
    int noutbox, capoutbox;
    fleet fleet;           /* the connected workers */
    int orphans_swept;     /* leases of workers that never came back after a
                            * restart have been requeued */
    coord_bench bench;
    clip_job plan;         /* the dataset whose clips are being planned (clipplan.h) */
    run_job prep;          /* the run whose clips are being prepared (runprep.h) */
    deadlines deadlines;   /* when each lease ends and each retry may run (deadlines.h) */
    size_t nwaiting;       /* retry entries in it */
    int64_t started_ms;    /* monotonic; leases held at start get one liveness period */
    int64_t next_heartbeat_ms;
    int64_t events_trimmed_to; /* old task events are gone up to this id (server.c) */
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

/* Each tick, for every connected worker (its plan is checked by a test). */
#define WORKER_HEARD "UPDATE workers SET last_ms = ? WHERE id = ?"

/* A handler's transaction: a savepoint in the loop's batch (or a transaction
 * of its own outside it).  coord_begin returns a mark for coord_rollback, or
 * -1; coord_rollback also forgets the store objects discarded since. */
int coord_begin(coord *c, migr_err *err);
int coord_commit(coord *c, migr_err *err);
void coord_rollback(coord *c, int mark);

/* Remove store object relpath after the current transaction commits, so a
 * crash before the commit never leaves the database pointing at a deleted
 * file.  Paths come from worker output, so relpath must be a store object
 * under runs/ or datasets/ without a ".." component; -1 with err for any
 * other (NULL included) and when out of memory. */
int coord_discard(coord *c, const char *relpath, migr_err *err);

/* Once the transaction that called coord_discard ends: remove the objects
 * after a commit (remove = 1), forget them after a rollback (remove = 0).
 * Inside the loop's batch, a commit defers the removal to the batch's. */
void coord_discard_flush(coord *c, int remove);

void coord_config_default(coord_config *cfg);
int coord_open(coord *c, const coord_config *cfg, const migr_home *home, migr_err *err);
void coord_close(coord *c);
/* Serve until *stop becomes non-zero (set by a signal handler). */
int coord_serve(coord *c, volatile int *stop, migr_err *err);

/* Handle one client request; returns the reply body (malloc'd JSON) or NULL
 * with *status 1 or 2 and err set.  Defined in api.c. */
char *api_handle(coord *c, const char *verb, const char *args, int *status, migr_err *err);

/* The bench's verbs and its no-op task kind (bench.c). */
json_t *bench_enqueue(coord *c, json_t *args, int *status, migr_err *err);
json_t *bench_stats(coord *c, json_t *args, int *status, migr_err *err);
int bench_noop_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int bench_noop_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err);
/* A no-op task left migrd latency_us after its worker's slot became free. */
void bench_sent(coord *c, int64_t latency_us);
void bench_free(coord_bench *b);

#endif
