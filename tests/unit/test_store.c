/* Store objects: round trip, checksum verification, atomicity leftovers. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/store.h"

TEST(store_put_then_get_returns_same_bytes_and_checksum)
{
    store st;
    migr_err err;
    char sha_put[STORE_SHA_HEX], sha_get[STORE_SHA_HEX];
    uint8_t *data = NULL;
    size_t len = 0;

    CHECK_MSG(store_open(&st, check_tmpdir(), &err) == 0, "store_open: %s", err.msg);
    CHECK_MSG(store_put(&st, "a/b/obj.bin", "hello store", 11, sha_put, &err) == 0, "put: %s", err.msg);
    CHECK_MSG(store_get(&st, "a/b/obj.bin", &data, &len, sha_get, &err) == 0, "get: %s", err.msg);
    CHECK_INT(11, len);
    int same = memcmp(data, "hello store", 11) == 0;
    free(data);
    CHECK(same);
    CHECK_STR(sha_put, sha_get);
    /* sha256("hello store") computed independently with sha256sum. */
    CHECK_STR("f7951f67a2e96701afd5b350877708392673b9b7ef43b0f939e71e4503e09026", sha_put);
}

/* Overwrites the byte at offset with 'X' (truncate's shape, for get_damaged). */
static int corrupt_byte(const char *path, off_t offset)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return -1;
    int rc = fseeko(f, offset, SEEK_SET) == 0 && fputc('X', f) != EOF ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* Stores ten bytes as "obj", damages its file with damage(path, at) and
 * returns what store_get does then (0, -1), or -2 if the setup failed. */
static int get_damaged(int (*damage)(const char *, off_t), off_t at, migr_err *err)
{
    store st;
    char path[4096];
    uint8_t *data = NULL;
    size_t len;

    if (store_open(&st, check_tmpdir(), err) < 0 ||
        store_put(&st, "obj", "0123456789", 10, NULL, err) < 0 ||
        store_path(&st, "obj", path, sizeof path, err) < 0 || damage(path, at) < 0)
        return -2;
    int rc = store_get(&st, "obj", &data, &len, NULL, err);
    free(data);
    return rc;
}

TEST(store_get_refuses_a_corrupted_object)
{
    migr_err err;
    CHECK_INT(-1, get_damaged(corrupt_byte, 48 + 3, &err));
    CHECK_MSG(strstr(err.msg, "checksum") != NULL, "expected a checksum error, got \"%s\"", err.msg);
}

TEST(store_get_refuses_a_truncated_object)
{
    migr_err err;
    CHECK_INT(-1, get_damaged(truncate, 48 + 4, &err));
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "expected a truncation error, got \"%s\"", err.msg);
}

TEST(store_put_leaves_no_temp_files)
{
    store st;
    migr_err err;

    CHECK(store_open(&st, check_tmpdir(), &err) == 0);
    CHECK(store_put(&st, "x", "1", 1, NULL, &err) == 0);
    CHECK(store_put(&st, "x", "22", 2, NULL, &err) == 0);
    CHECK_INT(1, check_tmpdir_entries());
}

TEST(store_path_refuses_escaping_paths)
{
    store st;
    migr_err err;
    char path[4096];

    CHECK(store_open(&st, check_tmpdir(), &err) == 0);
    CHECK_INT(-1, store_path(&st, "../etc/passwd", path, sizeof path, &err));
    CHECK_INT(-1, store_path(&st, "/etc/passwd", path, sizeof path, &err));
}

/* A temp file named as the old code named it (path.tmp.PID), held by another
 * writer of the same path -- a container on a shared store has the same pid
 * as every other -- is neither clobbered nor taken: each writer gets a temp
 * file of its own. */
TEST(fs_write_atomic_never_writes_into_another_writers_temp_file)
{
    char path[4096], other[4200];
    migr_err err;
    const void *buf[] = {"new"};
    size_t len[] = {3};
    uint8_t *data = NULL;
    size_t n = 0;

    snprintf(path, sizeof path, "%s/obj", check_tmpdir());
    snprintf(other, sizeof other, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(other, "w");
    CHECK(f != NULL);
    CHECK(fputs("another writer's half", f) >= 0 && fclose(f) == 0);
    CHECK_MSG(fs_write_atomic(path, buf, len, 1, &err) == 0, "write: %s", err.msg);
    CHECK_MSG(fs_read_file(path, &data, &n, &err) == 0, "read: %s", err.msg);
    int same = n == 3 && memcmp(data, "new", 3) == 0;
    free(data);
    CHECK(same);
    CHECK_MSG(fs_read_file(other, &data, &n, &err) == 0, "the other writer's temp file is gone: %s", err.msg);
    same = n == 21 && memcmp(data, "another writer's half", 21) == 0;
    free(data);
    CHECK_MSG(same, "the other writer's temp file was overwritten");
    CHECK_INT(2, check_tmpdir_entries());
}
