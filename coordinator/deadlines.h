/* deadlines.h -- when each lease ends and when each task backing off after
 * a failure may run again: one min-heap ordered by deadline, as Disque keeps
 * its jobs, so that finding what is due costs O(due x log n) on migrd's
 * tick instead of a scan of the task table.
 *
 * Entries are not removed when a task finishes early: the tick checks each
 * expired entry against the database (queue_current) and skips the stale
 * ones, and the owner filters the stale ones out when they outnumber the
 * live ones (deadlines_filter_due), so the heap stays O(leases held). */
#ifndef MIGR_DEADLINES_H
#define MIGR_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DEADLINE_LEASE, DEADLINE_RETRY } deadline_kind;

typedef struct deadline_entry {
    int64_t at_ms;         /* wall clock */
    int64_t task_id;
    uint64_t lease;        /* DEADLINE_LEASE: the lease that ends */
    deadline_kind kind;    /* DEADLINE_RETRY: the task's backoff ends */
} deadline_entry;

typedef struct deadlines {
    deadline_entry *heap;  /* owned; heap[0] is the soonest */
    size_t n, cap;
} deadlines;

/* Add an entry; -1 when out of memory. */
int deadlines_push(deadlines *d, deadline_kind kind, int64_t at_ms, int64_t task_id, uint64_t lease);

/* Take the soonest entry if its deadline is at or before now_ms: 1 with *out
 * filled, 0 when none is due. */
int deadlines_pop_due(deadlines *d, int64_t now_ms, deadline_entry *out);

/* The soonest deadline, INT64_MAX when there is none. */
int64_t deadlines_next_ms(const deadlines *d);

/* Whether the heap holds more than twice the live leases (plus slack), so
 * that filtering it is worth its cost. */
int deadlines_filter_due(const deadlines *d, size_t live);

/* Keep the entries for which keep(ctx, entry) is non-zero. */
void deadlines_filter(deadlines *d, int (*keep)(void *ctx, const deadline_entry *e), void *ctx);

void deadlines_free(deadlines *d);

#endif
