/* db.c -- see db.h. */
#include "coordinator/db.h"

#include <stdarg.h>
#include <string.h>

#include "coordinator/migrate.h"

static int exec(sqlite3 *db, const char *sql, migr_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        migr_errf(err, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_open(sqlite3 **db, const char *path, migr_err *err)
{
    *db = NULL;
    /* NOMUTEX: one thread uses this connection (the HTTP server opens its
     * own), so SQLite need not lock it around every call. */
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        migr_errf(err, "cannot open the database %s: %s", path,
                  *db ? sqlite3_errmsg(*db) : "out of memory");
        db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(*db, 5000);
    if (exec(*db, "PRAGMA journal_mode=WAL", err) < 0 ||
        /* FULL: a commit is durable when it returns.  migrd deletes store
         * objects right after the commit that stopped needing them, so a
         * commit lost to a power cut (as NORMAL allows in WAL mode) could
         * leave the database needing what is gone. */
        exec(*db, "PRAGMA synchronous=FULL", err) < 0 ||
        exec(*db, "PRAGMA foreign_keys=ON", err) < 0 ||
        migrate_apply(*db, migrations, migration_count, err) < 0) {
        migr_err_wrap(err, "opening %s", path);
        db_close(db);
        return -1;
    }
    return 0;
}

int db_open_readonly(sqlite3 **db, const char *path, migr_err *err)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        migr_errf(err, "cannot open the database %s read-only: %s", path,
                  *db ? sqlite3_errmsg(*db) : "out of memory");
        db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(*db, 5000);
    return 0;
}

void db_close(sqlite3 **db)
{
    if (*db) {
        sqlite3_close_v2(*db);
        *db = NULL;
    }
}

static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; fmt && fmt[i] && rc == SQLITE_OK; i++) {
        switch (fmt[i]) {
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
            break;
        }
        case 'd':
            rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double));
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

static sqlite3_stmt *prepare_va(sqlite3 *db, migr_err *err, const char *sql, const char *fmt,
                                va_list ap)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        migr_errf(err, "preparing \"%s\": %s", sql, sqlite3_errmsg(db));
        return NULL;
    }
    int rc = bind_va(st, fmt, ap);
    if (rc != SQLITE_OK) {
        migr_errf(err, "binding \"%s\": %s", sql, sqlite3_errstr(rc));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *db_prepare(sqlite3 *db, migr_err *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare_va(db, err, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* Step st once and release it (finalize, or reset for a kept statement);
 * with out, its first column is the result (fallback when no row or NULL). */
static int step_once(sqlite3 *db, sqlite3_stmt *st, int kept, int64_t *out, int64_t fallback, const char *sql,
                     migr_err *err)
{
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (out)
        *out = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0)
                                                                              : fallback;
    if (kept)
        db_cache_release(st);
    else
        sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return migr_errf(err, "running \"%s\": %s", sql, sqlite3_errmsg(db));
    return 0;
}

int db_run(sqlite3 *db, migr_err *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare_va(db, err, sql, fmt, ap);
    va_end(ap);
    return step_once(db, st, 0, NULL, 0, sql, err);
}

int db_int(sqlite3 *db, migr_err *err, int64_t *out, int64_t fallback, const char *sql,
           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare_va(db, err, sql, fmt, ap);
    va_end(ap);
    return step_once(db, st, 0, out, fallback, sql, err);
}

/* Transactions are savepoints: outside a transaction one begins a (deferred)
 * transaction and its release commits; inside migrd's group commit (the
 * loop's BEGIN IMMEDIATE around a batch of messages) it nests, and a
 * handler's rollback undoes only its own changes. */
int db_begin(sqlite3 *db, migr_err *err)
{
    return exec(db, "SAVEPOINT tx", err);
}

int db_commit(sqlite3 *db, migr_err *err)
{
    return exec(db, "RELEASE tx", err);
}

void db_rollback(sqlite3 *db)
{
    if (sqlite3_get_autocommit(db))
        return;
    /* Not in a savepoint of ours (a plain BEGIN, or db_begin failed): end
     * the whole transaction. */
    if (sqlite3_exec(db, "ROLLBACK TO tx; RELEASE tx", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_set_durable(sqlite3 *db, int durable, migr_err *err)
{
    return exec(db, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err);
}

int db_group_begin(sqlite3 *db, migr_err *err)
{
    return exec(db, "BEGIN IMMEDIATE", err);
}

int db_group_commit(sqlite3 *db, migr_err *err)
{
    return exec(db, "COMMIT", err);
}

/* ---- statements kept prepared ---- */

void db_cache_init(db_cache *dc, sqlite3 *db)
{
    memset(dc, 0, sizeof *dc);
    dc->db = db;
}

void db_cache_free(db_cache *dc)
{
    for (int i = 0; i < dc->n; i++)
        sqlite3_finalize(dc->e[i].st);
    dc->n = 0;
}

static sqlite3_stmt *cache_prepare_va(db_cache *dc, migr_err *err, const char *sql, const char *fmt,
                                      va_list ap)
{
    sqlite3_stmt *st = NULL;
    for (int i = 0; i < dc->n && !st; i++)
        if (dc->e[i].sql == sql)
            st = dc->e[i].st;
    if (!st) {
        if (dc->n == DB_CACHE_MAX) {
            migr_errf(err, "more than %d cached statements: raise DB_CACHE_MAX", DB_CACHE_MAX);
            return NULL;
        }
        if (sqlite3_prepare_v3(dc->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            migr_errf(err, "preparing \"%s\": %s", sql, sqlite3_errmsg(dc->db));
            return NULL;
        }
        dc->e[dc->n++] = (struct db_cached){sql, st};
    }
    int rc = bind_va(st, fmt, ap);
    if (rc != SQLITE_OK) {
        migr_errf(err, "binding \"%s\": %s", sql, sqlite3_errstr(rc));
        db_cache_release(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *db_cache_prepare(db_cache *dc, migr_err *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = cache_prepare_va(dc, err, sql, fmt, ap);
    va_end(ap);
    return st;
}

int db_cache_int(db_cache *dc, migr_err *err, int64_t *out, int64_t fallback, const char *sql, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = cache_prepare_va(dc, err, sql, fmt, ap);
    va_end(ap);
    return step_once(dc->db, st, 1, out, fallback, sql, err);
}

void db_cache_release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int db_cache_run(db_cache *dc, migr_err *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = cache_prepare_va(dc, err, sql, fmt, ap);
    va_end(ap);
    return step_once(dc->db, st, 1, NULL, 0, sql, err);
}

const char *db_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}
