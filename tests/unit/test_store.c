/* Store objects: round trip, checksum verification, atomicity leftovers. */
#include "check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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

static int corrupt_byte(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return -1;
    int rc = fseek(f, offset, SEEK_SET) == 0 && fputc('X', f) != EOF ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

TEST(store_get_refuses_a_corrupted_object)
{
    store st;
    migr_err err;
    char path[4096];
    uint8_t *data = NULL;
    size_t len;

    CHECK(store_open(&st, check_tmpdir(), &err) == 0);
    CHECK(store_put(&st, "obj", "0123456789", 10, NULL, &err) == 0);
    CHECK(store_path(&st, "obj", path, sizeof path, &err) == 0);
    CHECK(corrupt_byte(path, 48 + 3) == 0);
    CHECK_INT(-1, store_get(&st, "obj", &data, &len, NULL, &err));
    CHECK_MSG(strstr(err.msg, "checksum") != NULL, "expected a checksum error, got \"%s\"", err.msg);
}

TEST(store_get_refuses_a_truncated_object)
{
    store st;
    migr_err err;
    char path[4096];
    uint8_t *data = NULL;
    size_t len;

    CHECK(store_open(&st, check_tmpdir(), &err) == 0);
    CHECK(store_put(&st, "obj", "0123456789", 10, NULL, &err) == 0);
    CHECK(store_path(&st, "obj", path, sizeof path, &err) == 0);
    CHECK(truncate(path, 48 + 4) == 0);
    CHECK_INT(-1, store_get(&st, "obj", &data, &len, NULL, &err));
    CHECK_MSG(strstr(err.msg, "truncated") != NULL, "expected a truncation error, got \"%s\"", err.msg);
}

TEST(store_put_leaves_no_temp_files)
{
    store st;
    migr_err err;
    int entries = 0;

    CHECK(store_open(&st, check_tmpdir(), &err) == 0);
    CHECK(store_put(&st, "x", "1", 1, NULL, &err) == 0);
    CHECK(store_put(&st, "x", "22", 2, NULL, &err) == 0);
    DIR *d = opendir(check_tmpdir());
    CHECK(d != NULL);
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    CHECK_INT(1, entries);
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
