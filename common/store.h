/* store.h -- the shared checkpoint store: a directory of checksummed objects.
 *
 * An object is a file holding a 48-byte header -- magic "MIGROBJ1", the
 * payload length (u64 little-endian) and the payload's SHA-256 -- then the
 * payload.  Objects are written atomically (temp file, fsync, rename) and
 * verified on every read: a torn, truncated or altered object is refused.
 * Paths are relative to the store root; the root may be a shared mount. */
#ifndef MIGR_STORE_H
#define MIGR_STORE_H

#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

enum { STORE_SHA_HEX = 65 };  /* 64 hex digits + NUL */

typedef struct store {
    char root[PATH_MAX];
} store;

/* Use root as a store, creating it if needed. */
int store_open(store *st, const char *root, migr_err *err);

/* Absolute path of an object. */
int store_path(const store *st, const char *relpath, char *out, size_t cap, migr_err *err);

/* Write an object; parent directories are created.  sha_hex (may be NULL)
 * receives the payload's SHA-256. */
int store_put(const store *st, const char *relpath, const void *data, size_t len,
              char sha_hex[STORE_SHA_HEX], migr_err *err);

/* An object too large to build in memory, written a piece at a time:
 * store_writer_open, store_writer_add as often as needed, then
 * store_writer_commit (its header, fsync, rename: readers see the old object
 * or the whole new one) or store_writer_abort.  Temp files a crash left
 * beside the object are removed at the open. */
typedef struct store_writer {
    FILE *f;                        /* the temp file, NULL when not open */
    crypto_hash_sha256_state sha;   /* of the payload so far */
    uint64_t len;
    char tmp[PATH_MAX], path[PATH_MAX];
} store_writer;

int store_writer_open(const store *st, const char *relpath, store_writer *w, migr_err *err);
/* 0; a write error shows at the commit. */
int store_writer_add(store_writer *w, const void *data, size_t len);
int store_writer_commit(store_writer *w, char sha_hex[STORE_SHA_HEX], migr_err *err);
void store_writer_abort(store_writer *w);

/* Read and verify an object into a malloc'd buffer the caller owns.
 * sha_hex (may be NULL) receives its checksum. */
int store_get(const store *st, const char *relpath, uint8_t **data, size_t *len,
              char sha_hex[STORE_SHA_HEX], migr_err *err);

/* Remove an object; a missing one is not an error. */
int store_remove(const store *st, const char *relpath, migr_err *err);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *bin, size_t n, char *out);

/* Hex SHA-256 of a buffer, and of a whole file. */
void sha256_hex(const void *data, size_t len, char out[STORE_SHA_HEX]);
int sha256_file_hex(const char *path, char out[STORE_SHA_HEX], migr_err *err);

#endif
