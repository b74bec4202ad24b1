/* worker.h -- migr-worker: one ZeroMQ connection to migrd, N task threads.
 *
 * The main thread owns the DEALER socket: it says hello, exchanges
 * heartbeats (Paranoid Pirate: interval 1 s, liveness 3, reconnect backoff
 * 1 s doubling to 32 s) and hands assignments to the task threads through a
 * queue.  Task threads run handlers and hand the packed results back on a
 * second queue, waking the main thread through an eventfd it polls beside
 * the socket, so heartbeats keep flowing during long tasks. */
#ifndef MIGR_WORKER_H
#define MIGR_WORKER_H

#include "common/error.h"
#include "common/home.h"

typedef struct worker_options {
    int concurrency;
    int threads;            /* per task (worker/tasks.h: task_ctx) */
    int heartbeat_ms;
    int liveness;
    char id[128];           /* empty: "<host>-<pid>" */
} worker_options;

/* Serve tasks until *stop is set.  Returns 0 after a clean stop, -1 when the
 * coordinator refused us (err says why) or on a fatal error. */
int worker_run(const worker_options *opt, const migr_home *home, volatile int *stop, migr_err *err);

#endif
