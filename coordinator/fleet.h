/* fleet.h -- the workers connected to migrd, in memory.
 *
 * Every message is looked up by its ZeroMQ routing id and every hello by its
 * worker id, each through a hash table; the workers are also kept on a list
 * oldest-heard-from first (so the sweep for dead workers stops at the first
 * live one, as the Paranoid Pirate keeps them) and those with a free slot on
 * a FIFO, doubly linked (so dispatch takes the next one without looking at
 * the others, and a worker that leaves is unlinked wherever it waits).
 * Every operation is O(1) (amortized for fleet_add): no per-message work
 * grows with the number of workers. */
#ifndef MIGR_FLEET_H
#define MIGR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

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

/* A connected worker.  Its busy slots are the assignments it holds, never a
 * counter of its own. */
typedef struct coord_worker {
    char id[128];
    wire_peer peer;
    char host[128];
    int pid;
    int concurrency;
    int slots;             /* assignments it may hold: concurrency + prefetch */
    coord_assignment *held; /* (slots + what it ran at hello), the first nheld in use; owned */
    int nheld;
    uint64_t sent;         /* assignments sent since its hello */
    int64_t last_heard_ms; /* monotonic */
    int64_t freed_us;      /* monotonic: when its slot last became free (a
                            * result, or its hello), for dispatch latency */
    /* The fleet's links. */
    struct coord_worker *next_by_peer, *next_by_id, *older, *newer, *next_free, *prev_free;
    int queued_free;       /* on the free FIFO */
} coord_worker;

typedef struct fleet {
    coord_worker **by_peer, **by_id; /* (nbuckets) hash chains */
    size_t nbuckets;
    coord_worker *oldest, *newest;   /* by last_heard_ms */
    coord_worker *free_head, *free_tail;
    int n;
} fleet;

/* A new worker with this id and peer, newest-heard-from; NULL when out of
 * memory.  The id must not be in the fleet already. */
coord_worker *fleet_add(fleet *f, const char *id, const wire_peer *peer, int64_t now_ms);
coord_worker *fleet_by_peer(const fleet *f, const wire_peer *peer);
coord_worker *fleet_by_id(const fleet *f, const char *id);
/* The worker reconnected under a new routing id. */
void fleet_set_peer(fleet *f, coord_worker *w, const wire_peer *peer);
/* Heard from w at now_ms: it becomes the newest. */
void fleet_touch(fleet *f, coord_worker *w, int64_t now_ms);
/* Unlink w and free it. */
void fleet_remove(fleet *f, coord_worker *w);
/* Queue w for dispatch if it has a free slot and is not queued yet. */
void fleet_offer(fleet *f, coord_worker *w);
/* The worker first in line with a free slot, taken off the FIFO; NULL if none. */
coord_worker *fleet_take_free(fleet *f);
/* Put w back at the head of the FIFO (nothing was ready for it). */
void fleet_return_free(fleet *f, coord_worker *w);
void fleet_free(fleet *f);

#endif
