/* migrate.h -- numbered schema migrations (schema/NNN_name.sql), embedded at
 * build time and applied in order at start; PRAGMA user_version records the
 * last one applied. */
#ifndef MIGR_MIGRATE_H
#define MIGR_MIGRATE_H

#include <sqlite3.h>

#include "common/error.h"

typedef struct migration {
    int number;
    const char *name;
    const char *sql;
} migration;

extern const migration migrations[];
extern const int migration_count;

/* Apply every migration newer than the database, each in its own
 * transaction.  Refuses a database newer than this binary. */
int migrate_apply(sqlite3 *db, const migration *list, int count, migr_err *err);

#endif
