/* test_migrate.c -- schema migrations: idempotence, refusing a newer
 * database, and rolling back a broken migration whole. */
#include "check.h"

#include "coordinator/db.h"
#include "coordinator/migrate.h"

/* ---- helpers ---- */

/* Run body on a plain SQLite connection (no migrations applied) to a file in
 * the test's scratch directory, closing it whatever body's outcome. */
#define WITH_RAW_DB(body)                                                       \
    do {                                                                        \
        sqlite3 *db_ = NULL;                                                    \
        char path_[4096];                                                       \
        snprintf(path_, sizeof path_, "%s/migr.db", check_tmpdir());            \
        int rc_ = sqlite3_open_v2(path_, &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL); \
        if (rc_ != SQLITE_OK)                                                   \
            sqlite3_close(db_);                                                 \
        CHECK_MSG(rc_ == SQLITE_OK, "opening %s: %s", path_, sqlite3_errstr(rc_)); \
        body(check_self_, db_, path_);                                          \
        sqlite3_close(db_);                                                     \
    } while (0)

static int64_t user_version(sqlite3 *db)
{
    migr_err err;
    int64_t v;
    return db_int(db, &err, &v, -1, "PRAGMA user_version", NULL) == 0 ? v : -2;
}

static int64_t table_exists(sqlite3 *db, const char *name)
{
    migr_err err;
    int64_t n;
    return db_int(db, &err, &n, -1, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                  "s", name) == 0 ? n : -1;
}

static int64_t table_count(sqlite3 *db)
{
    migr_err err;
    int64_t n;
    return db_int(db, &err, &n, -1, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
                  NULL) == 0 ? n : -1;
}

/* Two migrations that would fail if either ran twice (plain CREATE TABLE). */
static const migration two_steps[] = {
    {1, "001_clips", "CREATE TABLE clips (id INTEGER PRIMARY KEY, path TEXT);"},
    {2, "002_labels", "CREATE TABLE labels (clip INTEGER, label TEXT);\n"
                      "INSERT INTO labels VALUES (1, 'happy');"},
};

/* ---- idempotence ---- */

static void apply_twice(check_case *check_self_, sqlite3 *db, const char *path)
{
    migr_err err;
    int64_t rows;
    (void)path;

    CHECK_MSG(migrate_apply(db, two_steps, 2, &err) == 0, "first apply: %s", err.msg);
    CHECK_INT(2, user_version(db));
    CHECK_MSG(migrate_apply(db, two_steps, 2, &err) == 0, "second apply: %s", err.msg);
    CHECK_INT(2, user_version(db));
    CHECK_INT(2, table_count(db));
    CHECK(db_int(db, &err, &rows, -1, "SELECT COUNT(*) FROM labels", NULL) == 0);
    CHECK_INT(1, rows);
}

TEST(migrate_applying_twice_is_a_no_op)
{
    WITH_RAW_DB(apply_twice);
}

TEST(migrate_embedded_migrations_reopened_stay_at_the_last_number)
{
    sqlite3 *db = NULL;
    migr_err err;
    char path[4096];
    int last = migrations[migration_count - 1].number;

    snprintf(path, sizeof path, "%s/migr.db", check_tmpdir());
    CHECK_MSG(db_open(&db, path, &err) == 0, "first db_open: %s", err.msg);
    int64_t first_version = user_version(db), first_tables = table_count(db);
    int again = migrate_apply(db, migrations, migration_count, &err);
    db_close(&db);
    CHECK_INT(last, first_version);
    CHECK_MSG(again == 0, "migrate_apply on a current database: %s", err.msg);

    CHECK_MSG(db_open(&db, path, &err) == 0, "second db_open: %s", err.msg);
    int64_t second_version = user_version(db), second_tables = table_count(db);
    db_close(&db);
    CHECK_INT(last, second_version);
    CHECK_INT(first_tables, second_tables);
}

/* ---- a newer database ---- */

static void newer_database(check_case *check_self_, sqlite3 *db, const char *path)
{
    migr_err err = {{0}};
    char pragma[64], says[128];
    int last = migrations[migration_count - 1].number;
    sqlite3 *opened = NULL;

    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", last + 1);
    CHECK(sqlite3_exec(db, pragma, NULL, NULL, NULL) == SQLITE_OK);

    CHECK_INT(-1, migrate_apply(db, migrations, migration_count, &err));
    snprintf(says, sizeof says, "the database is at schema %d but this migrd knows only up to %d",
             last + 1, last);
    CHECK_MSG(strstr(err.msg, says) != NULL, "expected the error to say \"%s\", got \"%s\"", says,
              err.msg);
    CHECK_INT(last + 1, user_version(db));
    CHECK_INT(0, table_count(db));

    /* db_open refuses it too, naming the file. */
    memset(&err, 0, sizeof err);
    int rc = db_open(&opened, path, &err);
    db_close(&opened);
    CHECK_INT(-1, rc);
    CHECK_MSG(strstr(err.msg, says) != NULL && strstr(err.msg, path) != NULL,
              "expected db_open's error to name %s and say \"%s\", got \"%s\"", path, says, err.msg);
}

TEST(migrate_refuses_a_database_newer_than_its_last_migration)
{
    WITH_RAW_DB(newer_database);
}

/* ---- a broken migration ---- */

static void broken_migration(check_case *check_self_, sqlite3 *db, const char *path)
{
    static const migration broken[] = {
        {1, "001_clips", "CREATE TABLE clips (id INTEGER PRIMARY KEY, path TEXT);"},
        {2, "002_half_done", "CREATE TABLE labels (clip INTEGER, label TEXT);\n"
                             "INSERT INTO clips (path) VALUES ('/a.mp4');\n"
                             "CREATE TABLE oops (;\n"
                             "CREATE TABLE after_oops (x);"},
        {3, "003_later", "CREATE TABLE later (x);"},
    };
    static const migration fixed[] = {
        {1, "001_clips", "CREATE TABLE clips (id INTEGER PRIMARY KEY, path TEXT);"},
        {2, "002_half_done", "CREATE TABLE labels (clip INTEGER, label TEXT);"},
        {3, "003_later", "CREATE TABLE later (x);"},
    };
    migr_err err = {{0}};
    int64_t rows;
    (void)path;

    CHECK_MSG(migrate_apply(db, broken, 1, &err) == 0, "applying 001 alone: %s", err.msg);
    CHECK_INT(1, user_version(db));

    CHECK_INT(-1, migrate_apply(db, broken, 3, &err));
    CHECK_MSG(strstr(err.msg, "002_half_done") != NULL,
              "expected the error to name migration 002_half_done, got \"%s\"", err.msg);
    /* Still at 001; nothing of 002 (or 003) is left behind. */
    CHECK_INT(1, user_version(db));
    CHECK_INT(1, table_exists(db, "clips"));
    CHECK_INT(0, table_exists(db, "labels"));
    CHECK_INT(0, table_exists(db, "after_oops"));
    CHECK_INT(0, table_exists(db, "later"));
    CHECK(db_int(db, &err, &rows, -1, "SELECT COUNT(*) FROM clips", NULL) == 0);
    CHECK_INT(0, rows);
    CHECK_MSG(sqlite3_get_autocommit(db), "expected no transaction left open after the failure");

    /* Once fixed, the migration applies from where it stopped. */
    CHECK_MSG(migrate_apply(db, fixed, 3, &err) == 0, "applying the fixed list: %s", err.msg);
    CHECK_INT(3, user_version(db));
    CHECK_INT(1, table_exists(db, "labels"));
    CHECK_INT(1, table_exists(db, "later"));
}

TEST(migrate_broken_migration_rolls_back_whole_and_the_error_names_it)
{
    WITH_RAW_DB(broken_migration);
}
