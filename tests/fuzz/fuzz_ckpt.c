/* fuzz_ckpt.c -- the checkpoint file (ml/ckpt.h) and the store object
 * (common/store.h) readers on any bytes.
 *
 * Input: one mode byte, then the file.  Mode bit 0 writes the checkpoint
 * with its SHA-256 trailer recomputed, and bit 1 the store object with its
 * header's length and SHA-256 recomputed, so that the fuzzer also gets past
 * the checksums to what is read after them; without them the bytes are
 * written as they are.
 *
 * Checkpoint: ckpt_peek and ckpt_load refuse with a message or succeed; a
 * file ckpt_load takes, ckpt_peek takes with the same header, its state has
 * 3 x num_params floats, and ckpt_save of what was loaded writes the same
 * bytes back.  Store: store_get of the object refuses with a message or
 * gives a NUL-terminated payload of the length its header says. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/le.h"
#include "common/store.h"
#include "ml/ckpt.h"
#include "tests/fuzz/fuzz_util.h"

enum { FIX_CKPT_SUM = 1, FIX_STORE_HEADER = 2, OBJ_HEADER = 48 };

static store st;
static int st_open;

static void check_ckpt(const uint8_t *file, size_t size)
{
    char path[600], again[600], sha[STORE_SHA_HEX], sha2[STORE_SHA_HEX];
    ckpt_header h, peeked;
    float *state = (float *)1;
    migr_err err = {{0}}, perr = {{0}};

    fuzz_path(path, sizeof path, "in.ckpt");
    fuzz_write_file(path, file, size);
    int peek = ckpt_peek(path, &peeked, &perr);
    if (peek < 0 && !perr.msg[0])
        abort();
    if (ckpt_load(path, &h, &state, sha, &err) < 0) {
        if (!err.msg[0] || state)
            abort();
        return;
    }
    if (peek < 0 || memcmp(&h, &peeked, sizeof h) != 0) {
        fprintf(stderr, "fuzz_ckpt: ckpt_load takes a file ckpt_peek refuses (%s)\n", perr.msg);
        abort();
    }
    if (ckpt_file_size(h.num_params) != size || ckpt_match(&h, &h.config, h.vocab_sha, &err) < 0)
        abort();
    size_t n = (size_t)h.num_params;
    volatile float sink = 0;
    for (size_t i = 0; i < 3 * n; i++)
        sink += state[i];
    (void)sink;
    fuzz_path(again, sizeof again, "again.ckpt");
    if (ckpt_save(again, &h, state, state + n, state + 2 * n, sha2, &err) < 0) {
        fprintf(stderr, "fuzz_ckpt: a loaded checkpoint does not save: %s\n", err.msg);
        abort();
    }
    uint8_t *back;
    size_t len;
    if (fs_read_file(again, &back, &len, &err) < 0)
        abort();
    if (len != size || memcmp(back, file, size) != 0 || strcmp(sha, sha2) != 0) {
        fprintf(stderr, "fuzz_ckpt: load then save changed the checkpoint\n");
        abort();
    }
    free(back);
    free(state);
}

static void check_store(const uint8_t *file, size_t size)
{
    char path[PATH_MAX];
    uint8_t *payload = NULL;
    size_t len = 0;
    char sha[STORE_SHA_HEX];
    migr_err err = {{0}};
    const char *rel = "datasets/fuzz/features/000000.feat";

    if (!st_open) {
        char root[600];
        if (store_open(&st, fuzz_path(root, sizeof root, "store"), &err) < 0 ||
            store_put(&st, rel, "", 0, NULL, &err) < 0) {
            fprintf(stderr, "fuzz_ckpt: %s\n", err.msg);
            abort();
        }
        st_open = 1;
    }
    if (store_path(&st, rel, path, sizeof path, &err) < 0)
        abort();
    fuzz_write_file(path, file, size);
    if (store_get(&st, rel, &payload, &len, sha, &err) < 0) {
        if (!err.msg[0])
            abort();
        return;
    }
    if (size < OBJ_HEADER || len != size - OBJ_HEADER || le_get_u64(file + 8) != len ||
        memcmp(payload, file + OBJ_HEADER, len) != 0 || payload[len] != '\0')
        abort();
    free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (sodium_init() < 0)
        abort();
    int mode = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    uint8_t *copy = malloc(n + OBJ_HEADER + 1);
    if (!copy)
        abort();

    memcpy(copy, body, n);
    if ((mode & FIX_CKPT_SUM) && n >= CKPT_SUM_BYTES)
        crypto_hash_sha256(copy + n - CKPT_SUM_BYTES, copy, n - CKPT_SUM_BYTES);
    check_ckpt(copy, n);

    if (mode & FIX_STORE_HEADER) {
        /* body is the payload: an object made the way store_put makes it. */
        memcpy(copy, "MIGROBJ1", 8);
        le_put_u64(copy + 8, n);
        crypto_hash_sha256(copy + 16, body, n);
        memcpy(copy + OBJ_HEADER, body, n);
        check_store(copy, n + OBJ_HEADER);
    } else {
        check_store(body, n);
    }
    free(copy);
    return 0;
}
