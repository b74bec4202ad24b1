/* ckpt.c -- see ckpt.h.
 *
 * A checkpoint is encoded whole into one buffer (portable little-endian
 * stores, no dependence on the host's byte order), hashed and written with
 * fs_write_atomic.  Loading reads the whole file, checks it in the order that
 * gives the most useful message -- magic, version, length, checksum, then the
 * parameter count against the config -- and decodes the floats in place. */
#include "ml/ckpt.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/le.h"

static const uint8_t ckpt_magic[8] = CKPT_MAGIC;

enum {
    OFF_VERSION = 8,
    OFF_CONFIG = 12,
    NCONFIG = 11,
    OFF_VOCAB = OFF_CONFIG + 4 * NCONFIG,  /* 56 */
    OFF_STEP = OFF_VOCAB + 32,             /* 88 */
    OFF_NPARAMS = OFF_STEP + 8,            /* 96 */
    OFF_SEED = OFF_NPARAMS + 8,            /* 104 */
};
_Static_assert(OFF_SEED + 8 == CKPT_HEADER_BYTES, "header layout");
_Static_assert(CKPT_SUM_BYTES == crypto_hash_sha256_BYTES, "checksum is a SHA-256");
/* Every model_config field is in the header; a new field means a new version. */
_Static_assert(sizeof(model_config) == NCONFIG * sizeof(int), "model_config changed: bump CKPT_VERSION");

/* The model_config fields in header order, with their names for messages,
 * and caps that keep any product of them far from overflow even for a
 * header nobody has checksummed yet (ckpt_peek). */
static const struct {
    const char *name;
    size_t offset;
    int max;
} config_fields[NCONFIG] = {
    {"vocab", offsetof(model_config, vocab), 1 << 22},
    {"max_seq", offsetof(model_config, max_seq), 1 << 16},
    {"channels", offsetof(model_config, channels), 1 << 14},
    {"layers", offsetof(model_config, layers), 1 << 10},
    {"heads", offsetof(model_config, heads), 1 << 14},
    {"mlp_ratio", offsetof(model_config, mlp_ratio), 64},
    {"n_frames", offsetof(model_config, n_frames), 1 << 12},
    {"frame_pixels", offsetof(model_config, frame_pixels), 1 << 22},
    {"audio_tokens", offsetof(model_config, audio_tokens), 1 << 14},
    {"audio_window", offsetof(model_config, audio_window), 1 << 12},
    {"n_mel", offsetof(model_config, n_mel), 1 << 10},
};

static int *config_field(model_config *c, int i)
{
    return (int *)((char *)c + config_fields[i].offset);
}

static int config_value(const model_config *c, int i)
{
    return *(const int *)((const char *)c + config_fields[i].offset);
}

/* ---- bytes ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 64 hex digits to 32 bytes; -1 if it is not exactly that. */
static int from_hex(const char *hex, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[64] == '\0' ? 0 : -1;
}

/* ---- the header ---- */

size_t ckpt_file_size(uint64_t num_params)
{
    if (num_params > (SIZE_MAX - CKPT_HEADER_BYTES - CKPT_SUM_BYTES) / 12)
        return 0;
    return CKPT_HEADER_BYTES + 12 * (size_t)num_params + CKPT_SUM_BYTES;
}

/* The number of parameters a config has, or -1 with the reason in err. */
static int config_count(const model_config *c, uint64_t *count, migr_err *err)
{
    size_t sizes[MODEL_NUM_PARAMS];
    for (int i = 0; i < NCONFIG; i++) {
        int v = config_value(c, i);
        if (v < 0 || v > config_fields[i].max)
            return migr_errf(err, "model config %s = %d is outside [0, %d]",
                             config_fields[i].name, v, config_fields[i].max);
    }
    if (model_config_check(c, err) < 0)
        return -1;
    int n = model_param_sizes(c, sizes);
    *count = 0;
    for (int i = 0; i < n; i++)
        *count += sizes[i];
    return 0;
}

/* The header's parameter count must be what its config implies. */
static int check_count(const char *path, const ckpt_header *h, migr_err *err)
{
    uint64_t expected = 0;
    if (config_count(&h->config, &expected, err) < 0)
        return migr_err_wrap(err, "%s", path);
    if (h->num_params != expected)
        return migr_errf(err, "%s: parameter count %llu does not match its model config, "
                         "which has %llu parameters", path, (unsigned long long)h->num_params,
                         (unsigned long long)expected);
    return 0;
}

static void encode_header(const ckpt_header *h, const uint8_t vocab_raw[32], uint8_t *p)
{
    memcpy(p, ckpt_magic, sizeof ckpt_magic);
    le_put_u32(p + OFF_VERSION, CKPT_VERSION);
    for (int i = 0; i < NCONFIG; i++)
        le_put_u32(p + OFF_CONFIG + 4 * i, (uint32_t)config_value(&h->config, i));
    memcpy(p + OFF_VOCAB, vocab_raw, 32);
    le_put_u64(p + OFF_STEP, (uint64_t)h->step);
    le_put_u64(p + OFF_NPARAMS, h->num_params);
    le_put_u64(p + OFF_SEED, h->seed);
}

static void decode_header(const uint8_t *p, ckpt_header *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < NCONFIG; i++)
        *config_field(&h->config, i) = (int)(int32_t)le_get_u32(p + OFF_CONFIG + 4 * i);
    hex_encode(p + OFF_VOCAB, 32, h->vocab_sha);
    h->step = (int64_t)le_get_u64(p + OFF_STEP);
    h->num_params = le_get_u64(p + OFF_NPARAMS);
    h->seed = le_get_u64(p + OFF_SEED);
}

/* Check what can be checked from the first min(file_len, header) bytes and
 * the file's length: magic, version, and that the length is what the
 * header's parameter count implies.  Fills h. */
static int check_header(const char *path, const uint8_t *p, size_t file_len, ckpt_header *h,
                        migr_err *err)
{
    size_t have = file_len < CKPT_HEADER_BYTES ? file_len : CKPT_HEADER_BYTES;
    size_t nmagic = have < sizeof ckpt_magic ? have : sizeof ckpt_magic;

    if (memcmp(p, ckpt_magic, nmagic) != 0)
        return migr_errf(err, "%s is not a migr checkpoint (no MIGRCKPT magic)", path);
    if (have >= OFF_VERSION + 4 && le_get_u32(p + OFF_VERSION) != CKPT_VERSION)
        return migr_errf(err, "%s has checkpoint format version %u, this build reads %d", path,
                         le_get_u32(p + OFF_VERSION), CKPT_VERSION);
    if (have < CKPT_HEADER_BYTES)
        return migr_errf(err, "%s is truncated: expected at least %d bytes, found %zu", path,
                         CKPT_HEADER_BYTES + CKPT_SUM_BYTES, file_len);
    decode_header(p, h);
    if (h->step < 0)
        return migr_errf(err, "%s has a corrupted header: step %lld", path, (long long)h->step);
    size_t expected = ckpt_file_size(h->num_params);
    if (expected == 0)
        return migr_errf(err, "%s has a corrupted header: %llu parameters is impossible", path,
                         (unsigned long long)h->num_params);
    if (file_len < expected)
        return migr_errf(err, "%s is truncated: expected %zu bytes, found %zu", path, expected,
                         file_len);
    if (file_len > expected)
        return migr_errf(err, "%s is longer than its header says: expected %zu bytes, found %zu",
                         path, expected, file_len);
    return 0;
}

/* ---- save, load, peek ---- */

static uint8_t *put_floats(uint8_t *p, const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++, p += 4) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        le_put_u32(p, bits);
    }
    return p;
}

int ckpt_save(const char *path, const ckpt_header *h, const float *params, const float *m,
              const float *v, char sha_hex[STORE_SHA_HEX], migr_err *err)
{
    uint8_t vocab_raw[32], digest[crypto_hash_sha256_BYTES];
    uint64_t n = h->num_params;

    if (sodium_init() < 0)
        return migr_errf(err, "libsodium failed to initialize");
    if (from_hex(h->vocab_sha, vocab_raw) < 0)
        return migr_errf(err, "saving %s: the vocabulary hash '%.70s' is not 64 hex digits",
                         path, h->vocab_sha);
    if (h->step < 0)
        return migr_errf(err, "saving %s: step %lld is negative", path, (long long)h->step);
    if (check_count(path, h, err) < 0)
        return migr_err_wrap(err, "saving");
    size_t size = ckpt_file_size(n);
    uint8_t *buf = malloc(size);
    if (!buf)
        return migr_errf(err, "saving %s: out of memory for %zu bytes", path, size);
    encode_header(h, vocab_raw, buf);
    uint8_t *p = buf + CKPT_HEADER_BYTES;
    p = put_floats(p, params, n);
    p = put_floats(p, m, n);
    p = put_floats(p, v, n);
    crypto_hash_sha256(p, buf, (unsigned long long)(p - buf));
    if (sha_hex) {
        crypto_hash_sha256(digest, buf, size);
        hex_encode(digest, sizeof digest, sha_hex);
    }
    const void *bufs[1] = {buf};
    int rc = fs_write_atomic(path, bufs, &size, 1, err);
    free(buf);
    return rc;
}

int ckpt_load(const char *path, ckpt_header *h, float **state, char sha_hex[STORE_SHA_HEX],
              migr_err *err)
{
    uint8_t *buf, sum[crypto_hash_sha256_BYTES];
    size_t len;
    ckpt_header hdr;

    *state = NULL;
    if (sodium_init() < 0)
        return migr_errf(err, "libsodium failed to initialize");
    if (fs_read_file(path, &buf, &len, err) < 0)
        return -1;
    if (check_header(path, buf, len, &hdr, err) < 0)
        goto fail;
    crypto_hash_sha256(sum, buf, len - CKPT_SUM_BYTES);
    if (memcmp(sum, buf + len - CKPT_SUM_BYTES, sizeof sum) != 0) {
        migr_errf(err, "%s failed its checksum: the file is corrupted", path);
        goto fail;
    }
    if (check_count(path, &hdr, err) < 0)
        goto fail;
    if (sha_hex) {
        crypto_hash_sha256(sum, buf, len);
        hex_encode(sum, sizeof sum, sha_hex);
    }
    /* Decode the floats in place, to the front of the buffer: float i is
     * read from bytes HEADER+4i.. before bytes 4i.. are written, and every
     * later read is further on, so nothing is overwritten before it is read. */
    size_t nfloat = 3 * (size_t)hdr.num_params;
    float *out = (float *)(void *)buf;
    for (size_t i = 0; i < nfloat; i++) {
        uint32_t bits = le_get_u32(buf + CKPT_HEADER_BYTES + 4 * i);
        float x;
        memcpy(&x, &bits, 4);
        out[i] = x;
    }
    float *shrunk = realloc(out, nfloat * sizeof(float));
    *state = shrunk ? shrunk : out;
    *h = hdr;
    return 0;
fail:
    free(buf);
    return -1;
}

int ckpt_peek(const char *path, ckpt_header *h, migr_err *err)
{
    uint8_t buf[CKPT_HEADER_BYTES];
    size_t got = 0, file_len;
    ckpt_header hdr;
    int fd = fs_open_regular(path, &file_len, err);

    if (fd < 0)
        return -1;
    while (got < sizeof buf) {
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            migr_errf(err, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    /* A file that shrank while we read is judged by what we could read. */
    if (got < sizeof buf && got < file_len)
        file_len = got;
    if (check_header(path, buf, file_len, &hdr, err) < 0 || check_count(path, &hdr, err) < 0)
        return -1;
    *h = hdr;
    return 0;
}

int ckpt_match(const ckpt_header *h, const model_config *cfg, const char *vocab_sha,
               migr_err *err)
{
    for (int i = 0; cfg && i < NCONFIG; i++) {
        int have = config_value(&h->config, i), want = config_value(cfg, i);
        if (have != want)
            return migr_errf(err, "the checkpoint's model has %s = %d, this model has %d",
                             config_fields[i].name, have, want);
    }
    if (vocab_sha && strcasecmp(h->vocab_sha, vocab_sha) != 0)
        return migr_errf(err, "the checkpoint was trained with vocabulary %.12s..., this model "
                         "uses %.12s...", h->vocab_sha, vocab_sha);
    return 0;
}
