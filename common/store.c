/* store.c -- see store.h. */
#include "common/store.h"

#include <errno.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/le.h"

#define OBJ_MAGIC "MIGROBJ1"
enum { OBJ_HEADER = 8 + 8 + crypto_hash_sha256_BYTES };

void hex_encode(const uint8_t *bin, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[STORE_SHA_HEX])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    hex_encode(digest, sizeof digest, out);
}

int sha256_file_hex(const char *path, char out[STORE_SHA_HEX], migr_err *err)
{
    uint8_t *data;
    size_t len;
    if (fs_read_file(path, &data, &len, err) < 0)
        return -1;
    sha256_hex(data, len, out);
    free(data);
    return 0;
}

int store_open(store *st, const char *root, migr_err *err)
{
    if (sodium_init() < 0)
        return migr_errf(err, "libsodium failed to initialize");
    if (snprintf(st->root, sizeof st->root, "%s", root) >= (int)sizeof st->root)
        return migr_errf(err, "store path too long: %s", root);
    if (fs_mkdirs(root, err) < 0)
        return migr_err_wrap(err, "opening the store");
    return 0;
}

int store_path(const store *st, const char *relpath, char *out, size_t cap, migr_err *err)
{
    if (relpath[0] == '/' || strstr(relpath, ".."))
        return migr_errf(err, "store paths are relative and stay inside the store: %s", relpath);
    if (fs_join(out, cap, st->root, relpath) < 0)
        return migr_errf(err, "store path too long: %s/%s", st->root, relpath);
    return 0;
}

int store_put(const store *st, const char *relpath, const void *data, size_t len,
              char sha_hex[STORE_SHA_HEX], migr_err *err)
{
    char path[PATH_MAX], dir[PATH_MAX];
    unsigned char header[OBJ_HEADER];

    if (store_path(st, relpath, path, sizeof path, err) < 0)
        return -1;
    snprintf(dir, sizeof dir, "%s", path);
    if (fs_mkdirs(dirname(dir), err) < 0)
        return -1;
    memcpy(header, OBJ_MAGIC, 8);
    le_put_u64(header + 8, len);
    crypto_hash_sha256(header + 16, data, len);
    const void *bufs[2] = {header, data};
    size_t lens[2] = {sizeof header, len};
    if (fs_write_atomic(path, bufs, lens, 2, err) < 0)
        return -1;
    if (sha_hex)
        hex_encode(header + 16, crypto_hash_sha256_BYTES, sha_hex);
    return 0;
}

int store_writer_open(const store *st, const char *relpath, store_writer *w, migr_err *err)
{
    char dir[PATH_MAX];
    static const unsigned char blank[OBJ_HEADER];

    w->f = NULL;
    if (store_path(st, relpath, w->path, sizeof w->path, err) < 0)
        return -1;
    snprintf(dir, sizeof dir, "%s", w->path);
    if (fs_mkdirs(dirname(dir), err) < 0 || fs_remove_temps(w->path, err) < 0)
        return -1;
    int fd = fs_temp_beside(w->path, w->tmp, sizeof w->tmp, err);
    if (fd < 0)
        return -1;
    if (!(w->f = fdopen(fd, "w"))) {
        migr_errf(err, "cannot open %s: %s", w->tmp, strerror(errno));
        close(fd);
        unlink(w->tmp);
        return -1;
    }
    crypto_hash_sha256_init(&w->sha);
    w->len = 0;
    fwrite(blank, 1, sizeof blank, w->f); /* the header, once the payload is known */
    return 0;
}

int store_writer_add(store_writer *w, const void *data, size_t len)
{
    crypto_hash_sha256_update(&w->sha, data, len);
    w->len += len;
    return fwrite(data, 1, len, w->f) == len ? 0 : -1;
}

int store_writer_commit(store_writer *w, char sha_hex[STORE_SHA_HEX], migr_err *err)
{
    unsigned char header[OBJ_HEADER];
    memcpy(header, OBJ_MAGIC, 8);
    le_put_u64(header + 8, w->len);
    crypto_hash_sha256_final(&w->sha, header + 16);
    int bad = ferror(w->f) || fflush(w->f) != 0 || pwrite(fileno(w->f), header, sizeof header, 0) != (ssize_t)sizeof header;
    int saved = errno;
    bad = fclose(w->f) != 0 || bad;
    w->f = NULL;
    if (bad) {
        unlink(w->tmp);
        return migr_errf(err, "cannot write %s: %s (is the disk full?)", w->tmp, strerror(saved ? saved : errno));
    }
    if (fs_publish(w->tmp, w->path, err) < 0)
        return -1;
    if (sha_hex)
        hex_encode(header + 16, crypto_hash_sha256_BYTES, sha_hex);
    return 0;
}

void store_writer_abort(store_writer *w)
{
    if (!w->f)
        return;
    fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
}

int store_get(const store *st, const char *relpath, uint8_t **data, size_t *len,
              char sha_hex[STORE_SHA_HEX], migr_err *err)
{
    char path[PATH_MAX];
    unsigned char digest[crypto_hash_sha256_BYTES];
    uint8_t *raw;
    size_t rawlen;

    if (store_path(st, relpath, path, sizeof path, err) < 0)
        return -1;
    if (fs_read_file(path, &raw, &rawlen, err) < 0)
        return -1;
    if (rawlen < OBJ_HEADER || memcmp(raw, OBJ_MAGIC, 8) != 0) {
        free(raw);
        return migr_errf(err, "%s is not a store object (bad header); remove it and rerun the task that wrote it", path);
    }
    uint64_t plen = le_get_u64(raw + 8);
    if (plen != rawlen - OBJ_HEADER) {
        free(raw);
        return migr_errf(err, "%s is truncated or padded: header says %llu payload bytes, file has %zu",
                         path, (unsigned long long)plen, rawlen - OBJ_HEADER);
    }
    crypto_hash_sha256(digest, raw + OBJ_HEADER, plen);
    if (memcmp(digest, raw + 16, sizeof digest) != 0) {
        free(raw);
        return migr_errf(err, "%s failed its checksum: the object is corrupt", path);
    }
    if (sha_hex)
        hex_encode(digest, sizeof digest, sha_hex);
    memmove(raw, raw + OBJ_HEADER, plen);
    raw[plen] = '\0';
    *data = raw;
    *len = plen;
    return 0;
}

int store_remove(const store *st, const char *relpath, migr_err *err)
{
    char path[PATH_MAX];
    if (store_path(st, relpath, path, sizeof path, err) < 0)
        return -1;
    if (unlink(path) < 0 && errno != ENOENT)
        return migr_errf(err, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}
