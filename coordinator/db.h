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

int db_begin(sqlite3 *db, migr_err *err);
int db_commit(sqlite3 *db, migr_err *err);
void db_rollback(sqlite3 *db);

/* Column text that is never NULL ("" instead). */
const char *db_text(sqlite3_stmt *st, int col);

#endif
