/* walkeeper.c -- see walkeeper.h. */
#include "coordinator/walkeeper.h"

#include <errno.h>
#include <time.h>

#include "common/log.h"

enum { CHECKPOINT_EVERY_MS = 1000 };

int walkeeper_checkpoint(sqlite3 *db, int *frames, migr_err *err)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return migr_errf(err, "checkpointing the database's write-ahead log: %s", sqlite3_errmsg(db));
    if (frames)
        *frames = log - copied;
    return 0;
}

static void *keep(void *arg)
{
    walkeeper *k = arg;
    migr_err err;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += CHECKPOINT_EVERY_MS / 1000;
        while (!k->stop && pthread_cond_timedwait(&k->cv, &k->mu, &until) != ETIMEDOUT)
            ;
        if (k->stop)
            break;
        pthread_mutex_unlock(&k->mu);
        if (walkeeper_checkpoint(k->db, NULL, &err) < 0)
            log_warn("%s", err.msg);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int walkeeper_start(walkeeper *k, sqlite3 *loop, const char *path, migr_err *err)
{
    *k = (walkeeper){0};
    if (sqlite3_exec(loop, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK)
        return migr_errf(err, "turning off the automatic checkpoints: %s", sqlite3_errmsg(loop));
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        migr_errf(err, "cannot open %s for checkpoints: %s", path, k->db ? sqlite3_errmsg(k->db) : "out of memory");
        sqlite3_close(k->db);
        k->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(k->db, 1000);
    int mu = pthread_mutex_init(&k->mu, NULL) == 0, cv = mu && pthread_cond_init(&k->cv, NULL) == 0;
    if (!cv || pthread_create(&k->thread, NULL, keep, k) != 0) {
        if (cv)
            pthread_cond_destroy(&k->cv);
        if (mu)
            pthread_mutex_destroy(&k->mu);
        sqlite3_close(k->db);
        k->db = NULL;
        return migr_errf(err, "cannot start the checkpoint thread");
    }
    k->started = 1;
    return 0;
}

void walkeeper_stop(walkeeper *k)
{
    if (!k->started)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    sqlite3_close(k->db);
    *k = (walkeeper){0};
}
