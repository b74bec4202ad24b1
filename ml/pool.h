/* pool.h -- a task's threads: a fixed set that splits a kernel's work.
 *
 * pool_for(p, n, fn, ctx) runs fn(ctx, item, slot) once for every item of
 * 0..n-1 and returns when all have run.  The calling thread works too; the
 * items go one at a time to whichever thread is free, so which thread runs
 * an item, and when, changes from run to run.  slot (0..pool_threads(p)-1)
 * names the thread running the item, for per-thread scratch; the caller is
 * slot 0.
 *
 * Determinism is the caller's part of the contract, and every parallel
 * kernel in ml/ keeps it the same way: an item's result depends on its index
 * alone (never on its slot, the thread count or the other items), items
 * write disjoint memory, and the items themselves are cut from the problem's
 * shape (fixed row blocks, heads, chunks of the inner dimension), never from
 * the thread count.  A sum that spans items is made afterwards from per-item
 * (per-chunk) partial sums added in index order.  Then the bits of every
 * result are the same at any thread count, including 1.
 *
 * The threads are made once, by pool_new; between calls they wait (a short
 * spin, then asleep on a condition variable), so a call costs microseconds,
 * not a thread creation.  A NULL pool or a pool of one thread runs the items
 * in order on the caller; so does a pool_for made from inside an item (the
 * pool is busy: the nested call's items run on the thread that made it).
 * One pool serves one caller (a task) at a time. */
#ifndef MIGR_POOL_H
#define MIGR_POOL_H

#include "common/error.h"

typedef struct pool pool;

typedef void (*pool_fn)(void *ctx, int item, int slot);

/* A pool of threads threads in all (the caller and threads - 1 more),
 * 1 <= threads <= POOL_MAX_THREADS; NULL with err when a thread cannot be
 * started.  Its threads block every signal (the process's own threads
 * handle them). */
enum { POOL_MAX_THREADS = 256 };
pool *pool_new(int threads, migr_err *err);
/* Stops and joins the threads; *p becomes NULL.  Not during a pool_for. */
void pool_free(pool **p);

/* The threads in all, 1 for NULL. */
int pool_threads(const pool *p);

/* The CPUs this process may run on (its affinity mask, or the online CPUs
 * when that cannot be read), at least 1: what a machine's task threads
 * should not exceed. */
int pool_cpus(void);

/* Threads for each of `tasks` sharing `cpus` (migr up's workers, a worker's
 * --threads auto): cpus / tasks, at least 1, at most POOL_MAX_THREADS. */
int pool_share(int cpus, long tasks);

/* Runs fn(ctx, item, slot) for item = 0..n-1 (none when n <= 0) and returns
 * once every one has returned. */
void pool_for(pool *p, int n, pool_fn fn, void *ctx);

#endif
