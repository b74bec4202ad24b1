/* ckpt.h -- checkpoint files: a model's parameters and AdamW state, saved
 * and loaded in the layout spec/ckpt_format.h gives. */
#ifndef MIGR_CKPT_H
#define MIGR_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/store.h"
#include "ml/model.h"
#include "spec/ckpt_format.h"

typedef struct ckpt_header {
    model_config config;
    char vocab_sha[STORE_SHA_HEX];  /* hex SHA-256 of the vocabulary (vocab_hash) */
    int64_t step;                   /* optimizer steps taken; 0 = initial weights */
    uint64_t num_params;            /* N: floats in each of params, m and v */
    uint64_t seed;                  /* the run's seed */
} ckpt_header;

/* Bytes of a checkpoint of n parameters (0 if that overflows size_t). */
size_t ckpt_file_size(uint64_t num_params);

/* Write a checkpoint atomically (temp file, fsync, rename): the header h,
 * then params, m and v, num_params floats each.  Refuses a header whose
 * parameter count does not match its config.  sha_hex (may be NULL) receives
 * the SHA-256 of the whole file, as `sha256sum` prints it. */
int ckpt_save(const char *path, const ckpt_header *h, const float *params, const float *m,
              const float *v, char sha_hex[STORE_SHA_HEX], migr_err *err);

/* Read and verify a checkpoint: magic, version, length, checksum, and the
 * parameter count against the config.  On success *state is one malloc'd
 * block the caller frees: (3, N) floats -- params, then m, then v -- and
 * sha_hex (may be NULL) holds the file's SHA-256.  On failure nothing is
 * allocated and err says which check failed. */
int ckpt_load(const char *path, ckpt_header *h, float **state, char sha_hex[STORE_SHA_HEX],
              migr_err *err);

/* Read only the header (for listings): checks magic, version, the header's
 * own consistency and the file's length, but not the checksum. */
int ckpt_peek(const char *path, ckpt_header *h, migr_err *err);

/* Whether a checkpoint fits a model: the same config (unless cfg is NULL)
 * and, when vocab_sha is not NULL, the same vocabulary.  The error names the first difference. */
int ckpt_match(const ckpt_header *h, const model_config *cfg, const char *vocab_sha,
               migr_err *err);

#endif
