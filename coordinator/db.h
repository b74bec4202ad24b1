/* db.h -- the coordinator's SQLite database.
 *
 * Statements are written inline with their parameters described by a short
 * format string: 'i' int64_t, 's' const char * (NULL binds NULL), 'd' double.
 *   db_run(db, err, "UPDATE tasks SET state=? WHERE id=?", "si", "done", id);
 */
#ifndef MIGR_DB_H
#define MIGR_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/error.h"

/* Open (creating) the database at path in WAL mode and apply migrations. */
int db_open(sqlite3 **db, const char *path, migr_err *err);
/* Open read-only for a second thread (the HTTP server). */
int db_open_readonly(sqlite3 **db, const char *path, migr_err *err);
void db_close(sqlite3 **db);

/* Prepare sql and bind the arguments; NULL on error.  The caller finalizes. */
sqlite3_stmt *db_prepare(sqlite3 *db, migr_err *err, const char *sql, const char *fmt, ...);

/* Run a statement that returns no rows.  Returns 0 or -1. */
int db_run(sqlite3 *db, migr_err *err, const char *sql, const char *fmt, ...);

/* Run a query returning one integer (e.g. COUNT(*)); *out = fallback when no row. */
int db_int(sqlite3 *db, migr_err *err, int64_t *out, int64_t fallback, const char *sql,
           const char *fmt, ...);

/* A transaction, or a savepoint nested in the caller's (migrd's group
 * commit): db_commit releases it, db_rollback undoes it (or, when no
 * savepoint of ours is open, the whole transaction). */
int db_begin(sqlite3 *db, migr_err *err);
int db_commit(sqlite3 *db, migr_err *err);
void db_rollback(sqlite3 *db);

/* migrd's group commit: one transaction around a batch of messages, whose
 * handlers' db_begin nest as savepoints; one fsync per batch. */
int db_group_begin(sqlite3 *db, migr_err *err);
/* Whether commits fsync the WAL (synchronous=FULL, what db_open sets) or
 * only append to it (NORMAL); outside a transaction only. */
int db_set_durable(sqlite3 *db, int durable, migr_err *err);
int db_group_commit(sqlite3 *db, migr_err *err);

/* Statements prepared once and reused, for the hot path.  The key is the
 * SQL text's address, so sql must be a string literal.  db_cache_prepare's
 * statement stays the cache's: the caller steps it and hands it back with
 * db_cache_release (never sqlite3_finalize). */
#define DB_CACHE_MAX 32
typedef struct db_cache {
    sqlite3 *db;
    int n;
    struct db_cached {
        const char *sql;
        sqlite3_stmt *st;
    } e[DB_CACHE_MAX];
} db_cache;

void db_cache_init(db_cache *dc, sqlite3 *db);
void db_cache_free(db_cache *dc);
sqlite3_stmt *db_cache_prepare(db_cache *dc, migr_err *err, const char *sql, const char *fmt, ...);
void db_cache_release(sqlite3_stmt *st);
int db_cache_run(db_cache *dc, migr_err *err, const char *sql, const char *fmt, ...);
int db_cache_int(db_cache *dc, migr_err *err, int64_t *out, int64_t fallback, const char *sql, const char *fmt,
                 ...);

/* Column text that is never NULL ("" instead). */
const char *db_text(sqlite3_stmt *st, int col);

#endif
