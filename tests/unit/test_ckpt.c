/* test_ckpt.c -- the checkpoint format: bit-exact round trip, and refusal of
 * truncated, corrupted, foreign and wrong-version files with a clear message. */
#include "check.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/store.h"
#include "ml/ckpt.h"

static const char vocab_sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* A tiny model: every tensor non-empty, a few thousand parameters. */
static model_config tiny_config(void)
{
    return (model_config){.vocab = 30, .max_seq = 16, .channels = 8, .layers = 1, .heads = 2,
                          .mlp_ratio = 2, .n_frames = 2, .frame_pixels = 4, .audio_tokens = 2,
                          .audio_window = 2, .n_mel = 3};
}

static uint64_t count_params(const model_config *c)
{
    size_t sizes[MODEL_NUM_PARAMS];
    uint64_t n = 0;
    int k = model_param_sizes(c, sizes);
    for (int i = 0; i < k; i++)
        n += sizes[i];
    return n;
}

static ckpt_header tiny_header(void)
{
    ckpt_header h;
    memset(&h, 0, sizeof h);
    h.config = tiny_config();
    memcpy(h.vocab_sha, vocab_sha, sizeof vocab_sha);
    h.step = 37;
    h.num_params = count_params(&h.config);
    h.seed = 0xfedcba9876543210ULL;
    return h;
}

/* (3, n) floats with awkward values: signed zeros, subnormals, infinities,
 * a NaN with a payload, and a spread of ordinary numbers. */
static float *fill_state(uint64_t n)
{
    float *s = malloc(3 * n * sizeof *s);
    if (!s)
        return NULL;
    for (uint64_t i = 0; i < 3 * n; i++)
        s[i] = (float)sin((double)i * 0.7) * (float)(1 + i % 5) * 1e-3f * (float)(i % 97);
    uint32_t nan_bits = 0x7fc12345u;
    memcpy(&s[1], &nan_bits, 4);
    s[2] = -0.0f;
    s[3] = 1e-40f;
    s[4] = INFINITY;
    s[n + 5] = -INFINITY;
    s[3 * n - 1] = 3.4e38f;
    return s;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", check_tmpdir(), name);
}

/* Save the tiny checkpoint to name; its path, size and state come back. */
static int save_tiny(const char *name, char *path, size_t cap, float **state, size_t *size,
                     migr_err *err)
{
    ckpt_header h = tiny_header();
    tmp_path(path, cap, name);
    *state = fill_state(h.num_params);
    if (!*state)
        return migr_errf(err, "no memory");
    *size = ckpt_file_size(h.num_params);
    return ckpt_save(path, &h, *state, *state + h.num_params, *state + 2 * h.num_params, NULL,
                     err);
}

static int write_bytes(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* ckpt_load's error for the file at path, or "(loaded)". */
static const char *load_error(const char *path, migr_err *err)
{
    ckpt_header h;
    float *state = (float *)1;
    if (ckpt_load(path, &h, &state, NULL, err) == 0) {
        free(state);
        return "(loaded)";
    }
    if (state != NULL)
        return "(failed but left *state set)";
    return err->msg;
}

TEST(ckpt_round_trip_is_bit_exact_and_reports_the_file_sha256)
{
    ckpt_header h = tiny_header(), back;
    migr_err err;
    char path[512], sha_save[STORE_SHA_HEX], sha_load[STORE_SHA_HEX], sha_file[STORE_SHA_HEX];
    float *state = fill_state(h.num_params), *loaded = NULL;
    uint64_t n = h.num_params;
    CHECK(state != NULL);
    tmp_path(path, sizeof path, "step37.ckpt");
    int saved = ckpt_save(path, &h, state, state + n, state + 2 * n, sha_save, &err);
    int got = saved == 0 ? ckpt_load(path, &back, &loaded, sha_load, &err) : -1;
    int same = got == 0 && memcmp(state, loaded, 3 * n * sizeof(float)) == 0;
    free(state);
    free(loaded);
    CHECK_MSG(saved == 0, "save: %s", err.msg);
    CHECK_MSG(got == 0, "load: %s", err.msg);
    CHECK_MSG(same, "params, m and v differ after the round trip");
    CHECK(memcmp(&back.config, &h.config, sizeof h.config) == 0);
    CHECK_STR(vocab_sha, back.vocab_sha);
    CHECK_INT(37, back.step);
    CHECK_INT(n, back.num_params);
    CHECK(back.seed == 0xfedcba9876543210ULL);
    CHECK_MSG(sha256_file_hex(path, sha_file, &err) == 0, "%s", err.msg);
    CHECK_STR(sha_file, sha_save);
    CHECK_STR(sha_file, sha_load);

    /* Exactly header + 3 N floats + checksum, and nothing else left behind. */
    uint8_t *bytes;
    size_t len;
    CHECK(fs_read_file(path, &bytes, &len, &err) == 0);
    int magic = memcmp(bytes, "MIGRCKPT", 8) == 0 && bytes[8] == CKPT_VERSION && bytes[9] == 0;
    free(bytes);
    CHECK(magic);
    CHECK_INT(CKPT_HEADER_BYTES + 12 * n + CKPT_SUM_BYTES, len);
    CHECK_INT(1, check_tmpdir_entries());
}

TEST(ckpt_peek_reads_the_header_without_the_payload)
{
    migr_err err;
    char path[512];
    float *state;
    size_t size;
    ckpt_header h;
    CHECK_MSG(save_tiny("a.ckpt", path, sizeof path, &state, &size, &err) == 0, "%s", err.msg);
    free(state);
    CHECK_MSG(ckpt_peek(path, &h, &err) == 0, "%s", err.msg);
    CHECK_INT(37, h.step);
    CHECK_INT(count_params(&h.config), h.num_params);
    CHECK_STR(vocab_sha, h.vocab_sha);
    CHECK_INT(8, h.config.channels);
    /* peek does not read the payload, so a flipped parameter goes unnoticed
     * there; ckpt_load catches it (below). */
    uint8_t *bytes;
    size_t len;
    CHECK(fs_read_file(path, &bytes, &len, &err) == 0);
    bytes[CKPT_HEADER_BYTES + 8] ^= 0x01;
    int wrote = write_bytes(path, bytes, len);
    free(bytes);
    CHECK(wrote == 0);
    CHECK_MSG(ckpt_peek(path, &h, &err) == 0, "%s", err.msg);
    tmp_path(path, sizeof path, "missing.ckpt");
    CHECK(ckpt_peek(path, &h, &err) < 0);
    CHECK_MSG(strstr(err.msg, "cannot open") && strstr(err.msg, "missing.ckpt"), "%s", err.msg);
}

TEST(ckpt_truncated_at_any_length_is_refused_naming_both_sizes)
{
    migr_err err;
    char path[512], cut[512], want[600];
    float *state;
    size_t size;
    uint8_t *bytes;
    size_t len;
    CHECK_MSG(save_tiny("full.ckpt", path, sizeof path, &state, &size, &err) == 0, "%s", err.msg);
    free(state);
    CHECK(fs_read_file(path, &bytes, &len, &err) == 0);
    CHECK_INT(size, len);
    const size_t lengths[] = {0, 4, 8, 11, 50, 111, 112, 113, size / 2, size - 32, size - 1};
    tmp_path(cut, sizeof cut, "cut.ckpt");
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t l = lengths[i];
        ckpt_header h;
        if (write_bytes(cut, bytes, l) < 0)
            break;
        if (l < CKPT_HEADER_BYTES)
            snprintf(want, sizeof want, "%s is truncated: expected at least %d bytes, found %zu",
                     cut, CKPT_HEADER_BYTES + CKPT_SUM_BYTES, l);
        else
            snprintf(want, sizeof want, "%s is truncated: expected %zu bytes, found %zu", cut,
                     size, l);
        const char *got = load_error(cut, &err);
        if (strcmp(want, got) != 0) {
            free(bytes);
            CHECK_STR(want, got);
        }
        if (ckpt_peek(cut, &h, &err) == 0 || strcmp(want, err.msg) != 0) {
            free(bytes);
            CHECK_MSG(0, "peek at %zu bytes: expected \"%s\", got \"%s\"", l, want, err.msg);
        }
    }
    /* One byte too many is refused as well. */
    uint8_t *longer = malloc(len + 1);
    if (longer) {
        memcpy(longer, bytes, len);
        longer[len] = 0;
        CHECK(write_bytes(cut, longer, len + 1) == 0);
        free(longer);
    }
    free(bytes);
    snprintf(want, sizeof want, "%s is longer than its header says: expected %zu bytes, found %zu",
             cut, size, size + 1);
    CHECK_STR(want, load_error(cut, &err));
}

/* Flip one bit of byte `at` of the file at path in place. */
static int flip(const char *path, size_t at, uint8_t mask)
{
    migr_err err;
    uint8_t *bytes;
    size_t len;
    if (fs_read_file(path, &bytes, &len, &err) < 0)
        return -1;
    int rc = at < len ? 0 : -1;
    if (rc == 0) {
        bytes[at] ^= mask;
        rc = write_bytes(path, bytes, len);
    }
    free(bytes);
    return rc;
}

TEST(ckpt_one_flipped_byte_in_params_header_or_checksum_fails)
{
    migr_err err;
    char path[512], want[600];
    float *state;
    size_t size;
    CHECK_MSG(save_tiny("x.ckpt", path, sizeof path, &state, &size, &err) == 0, "%s", err.msg);
    free(state);
    snprintf(want, sizeof want, "%s failed its checksum: the file is corrupted", path);
    uint64_t n = tiny_header().num_params;
    /* params, m, v, the header's config, vocabulary hash, step and seed, and
     * the checksum itself: each is caught by the checksum. */
    const size_t where[] = {CKPT_HEADER_BYTES,        CKPT_HEADER_BYTES + 4 * n - 1,
                            CKPT_HEADER_BYTES + 4 * n + 17, CKPT_HEADER_BYTES + 8 * n + 3,
                            12, 12 + 4 * 2, 56, 87, 88, 104, 111, size - 32, size - 1};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        CHECK(flip(path, where[i], 0x10) == 0);
        const char *got = load_error(path, &err);
        CHECK_MSG(strcmp(want, got) == 0, "byte %zu flipped: expected \"%s\", got \"%s\"",
                  where[i], want, got);
        CHECK(flip(path, where[i], 0x10) == 0);
    }
    CHECK_STR("(loaded)", load_error(path, &err));
    /* Every header byte, flipped, is refused one way or another. */
    for (size_t at = 0; at < CKPT_HEADER_BYTES; at++) {
        CHECK(flip(path, at, 0x01) == 0);
        const char *got = load_error(path, &err);
        CHECK_MSG(strcmp(got, "(loaded)") != 0, "flipping header byte %zu went unnoticed", at);
        CHECK(flip(path, at, 0x01) == 0);
    }
    /* The magic and the parameter count have messages of their own. */
    CHECK(flip(path, 0, 0x01) == 0);
    snprintf(want, sizeof want, "%s is not a migr checkpoint (no MIGRCKPT magic)", path);
    CHECK_STR(want, load_error(path, &err));
    CHECK(flip(path, 0, 0x01) == 0);
    CHECK(flip(path, 96, 0x01) == 0);
    CHECK_MSG(strstr(load_error(path, &err), "expected") != NULL, "%s", err.msg);
}

TEST(ckpt_wrong_version_is_refused_naming_both_versions)
{
    migr_err err;
    char path[512], want[600];
    float *state;
    size_t size;
    ckpt_header h;
    CHECK_MSG(save_tiny("v.ckpt", path, sizeof path, &state, &size, &err) == 0, "%s", err.msg);
    free(state);
    CHECK(flip(path, 8, 0x03) == 0);   /* version 1 -> 2 */
    snprintf(want, sizeof want, "%s has checkpoint format version 2, this build reads 1", path);
    CHECK_STR(want, load_error(path, &err));
    CHECK(ckpt_peek(path, &h, &err) < 0);
    CHECK_STR(want, err.msg);
}

TEST(ckpt_other_files_are_not_checkpoints)
{
    migr_err err;
    char path[512], want[600];
    tmp_path(path, sizeof path, "notes.txt");
    const char *text = "MIGRFEAT this is some other migr file, long enough to hold a header";
    CHECK(write_bytes(path, (const uint8_t *)text, strlen(text)) == 0);
    snprintf(want, sizeof want, "%s is not a migr checkpoint (no MIGRCKPT magic)", path);
    CHECK_STR(want, load_error(path, &err));
    CHECK(write_bytes(path, (const uint8_t *)"MIGX", 4) == 0);
    CHECK_STR(want, load_error(path, &err));
}

TEST(ckpt_parameter_count_must_match_the_config)
{
    migr_err err;
    char path[512], want[600];
    ckpt_header h = tiny_header();
    float *state = fill_state(h.num_params);
    CHECK(state != NULL);
    uint64_t n = h.num_params;
    tmp_path(path, sizeof path, "count.ckpt");

    /* The writer refuses a header that does not add up. */
    h.num_params = n - 1;
    int saved = ckpt_save(path, &h, state, state + n, state + 2 * n, NULL, &err);
    h.num_params = n;
    if (saved == 0) {
        free(state);
        CHECK_MSG(0, "saved a header with the wrong parameter count");
    }
    snprintf(want, sizeof want, "saving: %s: parameter count %llu does not match its model "
             "config, which has %llu parameters", path, (unsigned long long)(n - 1),
             (unsigned long long)n);
    if (strcmp(want, err.msg) != 0) {
        free(state);
        CHECK_STR(want, err.msg);
    }
    saved = ckpt_save(path, &h, state, state + n, state + 2 * n, NULL, &err);
    free(state);
    CHECK_MSG(saved == 0, "%s", err.msg);

    /* A file whose config was changed, checksum recomputed: the reader sees
     * that the config implies another count.  channels 8 -> 16 at byte 20. */
    uint8_t *bytes;
    size_t len;
    CHECK(fs_read_file(path, &bytes, &len, &err) == 0);
    bytes[12 + 4 * 2] = 16;
    CHECK(sodium_init() >= 0);
    crypto_hash_sha256(bytes + len - 32, bytes, len - 32);
    int wrote = write_bytes(path, bytes, len);
    free(bytes);
    CHECK(wrote == 0);
    model_config wide = tiny_config();
    wide.channels = 16;
    snprintf(want, sizeof want, "%s: parameter count %llu does not match its model config, "
             "which has %llu parameters", path, (unsigned long long)n,
             (unsigned long long)count_params(&wide));
    CHECK_STR(want, load_error(path, &err));
}

TEST(ckpt_save_refuses_a_bad_vocabulary_hash_and_replaces_files_atomically)
{
    migr_err err;
    char path[512], sha1[STORE_SHA_HEX], sha2[STORE_SHA_HEX];
    ckpt_header h = tiny_header();
    uint64_t n = h.num_params;
    float *state = fill_state(n);
    CHECK(state != NULL);
    tmp_path(path, sizeof path, "c.ckpt");
    snprintf(h.vocab_sha, sizeof h.vocab_sha, "not-hex");
    int bad = ckpt_save(path, &h, state, state + n, state + 2 * n, NULL, &err);
    h = tiny_header();
    int first = ckpt_save(path, &h, state, state + n, state + 2 * n, sha1, &err);
    h.step = 38;
    state[0] += 1.0f;
    int second = ckpt_save(path, &h, state, state + n, state + 2 * n, sha2, &err);
    free(state);
    CHECK(bad < 0);
    CHECK_MSG(first == 0 && second == 0, "%s", err.msg);
    CHECK(strcmp(sha1, sha2) != 0);
    CHECK(ckpt_peek(path, &h, &err) == 0);
    CHECK_INT(38, h.step);
    CHECK_INT(1, check_tmpdir_entries());
}

TEST(ckpt_match_names_the_first_difference)
{
    migr_err err;
    ckpt_header h = tiny_header();
    model_config c = tiny_config();
    CHECK_MSG(ckpt_match(&h, &c, vocab_sha, &err) == 0, "%s", err.msg);
    CHECK(ckpt_match(&h, &c, NULL, &err) == 0);
    c.layers = 3;
    CHECK(ckpt_match(&h, &c, NULL, &err) < 0);
    CHECK_STR("the checkpoint's model has layers = 1, this model has 3", err.msg);
    c = tiny_config();
    CHECK(ckpt_match(&h, &c, "ffff", &err) < 0);
    CHECK_STR("the checkpoint was trained with vocabulary 0123456789ab..., this model uses "
              "ffff...", err.msg);
}
