/* walkeeper.h -- SQLite WAL checkpoints off migrd's loop.
 *
 * SQLite checkpoints the write-ahead log when a commit finds it past 1,000
 * pages, inside that commit, with an fsync of the database: a few times a
 * second under load, on the loop's thread, it held the assignments decided
 * in that batch (dispatch p99 8.9 ms at 1,000 simulated workers; 3.7 ms
 * without).  migrd turns that off on its connection and a thread of its own
 * checkpoints passively (never waiting on the loop's writes) from a second
 * connection, once a second. */
#ifndef MIGR_WALKEEPER_H
#define MIGR_WALKEEPER_H

#include <pthread.h>
#include <sqlite3.h>

#include "common/error.h"

typedef struct walkeeper {
    sqlite3 *db;           /* its own connection */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
} walkeeper;

/* Stop checkpointing in loop's commits and start the thread on path's
 * database.  0, or -1 with err (nothing started). */
int walkeeper_start(walkeeper *k, sqlite3 *loop, const char *path, migr_err *err);

/* One passive checkpoint on db: *frames (may be NULL) gets the WAL's frames
 * not yet copied into the database after it.  0, or -1 with err. */
int walkeeper_checkpoint(sqlite3 *db, int *frames, migr_err *err);

/* Stop and join the thread, close its connection; a no-op if not started. */
void walkeeper_stop(walkeeper *k);

#endif
