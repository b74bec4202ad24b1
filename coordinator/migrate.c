/* migrate.c -- see migrate.h. */
#include "coordinator/migrate.h"

#include <stdio.h>

#include "common/log.h"

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int migrate_apply(sqlite3 *db, const migration *list, int count, migr_err *err)
{
    int current;
    char *msg = NULL;
    char bump[64];

    if (user_version(db, &current) < 0)
        return migr_errf(err, "reading the schema version: %s", sqlite3_errmsg(db));
    if (count > 0 && current > list[count - 1].number)
        return migr_errf(err, "the database is at schema %d but this migrd knows only up to %d; "
                         "run a newer migrd", current, list[count - 1].number);
    for (int i = 0; i < count; i++) {
        if (list[i].number <= current)
            continue;
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", list[i].number);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, list[i].sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            migr_errf(err, "applying migration %s: %s", list[i].name, msg ? msg : "unknown error");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        log_info("applied schema migration %s", list[i].name);
    }
    return 0;
}
