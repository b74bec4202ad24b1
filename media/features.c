/* features.c -- the MIGRFEAT byte format.
 *
 * Layout (all little-endian):
 *   0  magic "MIGRFEAT"           8 bytes
 *   8  version                    u32 (FEATURES_VERSION)
 *  12  n_frames, height, width    u32 x 3
 *  24  has_audio, n_audio, n_mel  u32 x 3
 *  36  duration                   f64 (IEEE-754 bits)
 *  44  frames                     f32 x n_frames*height*width
 *  ..  mel                        f32 x n_audio*n_mel
 * The length must match exactly, so a truncated or padded buffer is rejected. */
#include "media/features.h"

#include <stdlib.h>
#include <string.h>

#include "common/le.h"
enum { FEATURES_VERSION = 1, FEATURES_HEADER = 44 };
static const char features_magic[8] = {'M', 'I', 'G', 'R', 'F', 'E', 'A', 'T'};

/* Dimension caps: far above any real use, low enough that products of two
 * or three of them cannot overflow size_t or ask for absurd allocations. */
enum { FEATURES_MAX_DIM = 1 << 16, FEATURES_MAX_FRAMES = 1 << 12 };

void media_features_free(media_features *f)
{
    if (!f)
        return;
    free(f->frames);
    free(f->mel);
    memset(f, 0, sizeof *f);
}

static void put_floats(uint8_t *p, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        le_put_u32(p + 4 * i, bits);
    }
}

static void get_floats(float *dst, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = le_get_u32(p + 4 * i);
        memcpy(&dst[i], &bits, 4);
    }
}

/* Element counts of the two arrays; -1 when a dimension is out of range. */
static int features_counts(long n_frames, long height, long width, long n_audio, long n_mel,
                           size_t *n_pix, size_t *n_mel_vals)
{
    if (n_frames < 0 || n_frames > FEATURES_MAX_FRAMES || height < 0 ||
        height > FEATURES_MAX_DIM || width < 0 || width > FEATURES_MAX_DIM || n_audio < 0 ||
        n_audio > FEATURES_MAX_DIM || n_mel < 0 || n_mel > FEATURES_MAX_FRAMES)
        return -1;
    *n_pix = (size_t)n_frames * (size_t)height * (size_t)width;
    *n_mel_vals = (size_t)n_audio * (size_t)n_mel;
    /* Keep one encoded buffer below 1 GiB. */
    if (*n_pix > (1u << 28) || *n_mel_vals > (1u << 28))
        return -1;
    return 0;
}

int features_encode(const media_features *f, uint8_t **buf, size_t *len, migr_err *err)
{
    size_t n_pix, n_mel_vals;
    uint64_t dur_bits;
    uint8_t *p;

    *buf = NULL;
    *len = 0;
    if (features_counts(f->n_frames, f->height, f->width, f->n_audio, f->n_mel, &n_pix,
                        &n_mel_vals) < 0)
        return migr_errf(err, "features: dimensions out of range (%d frames %dx%d, %d x %d mel)",
                         f->n_frames, f->height, f->width, f->n_audio, f->n_mel);
    if ((n_pix && !f->frames) || (n_mel_vals && !f->mel))
        return migr_errf(err, "features: missing frame or mel data");

    size_t total = FEATURES_HEADER + 4 * (n_pix + n_mel_vals);
    p = malloc(total);
    if (!p)
        return migr_errf(err, "features: out of memory encoding %zu bytes", total);
    memcpy(p, features_magic, 8);
    le_put_u32(p + 8, FEATURES_VERSION);
    le_put_u32(p + 12, (uint32_t)f->n_frames);
    le_put_u32(p + 16, (uint32_t)f->height);
    le_put_u32(p + 20, (uint32_t)f->width);
    le_put_u32(p + 24, f->has_audio ? 1u : 0u);
    le_put_u32(p + 28, (uint32_t)f->n_audio);
    le_put_u32(p + 32, (uint32_t)f->n_mel);
    memcpy(&dur_bits, &f->duration, 8);
    le_put_u64(p + 36, dur_bits);
    put_floats(p + FEATURES_HEADER, f->frames, n_pix);
    put_floats(p + FEATURES_HEADER + 4 * n_pix, f->mel, n_mel_vals);
    *buf = p;
    *len = total;
    return 0;
}

int features_decode(const uint8_t *buf, size_t len, media_features *out, migr_err *err)
{
    size_t n_pix, n_mel_vals;
    media_features f = {0};
    uint64_t dur_bits;

    memset(out, 0, sizeof *out);
    if (len < FEATURES_HEADER)
        return migr_errf(err, "features: buffer of %zu bytes is shorter than the %d-byte header",
                         len, FEATURES_HEADER);
    if (memcmp(buf, features_magic, 8) != 0)
        return migr_errf(err, "features: bad magic (not a MIGRFEAT buffer)");
    if (le_get_u32(buf + 8) != FEATURES_VERSION)
        return migr_errf(err, "features: unsupported format version %u (expected %d)",
                         le_get_u32(buf + 8), FEATURES_VERSION);

    uint32_t nf = le_get_u32(buf + 12), h = le_get_u32(buf + 16), w = le_get_u32(buf + 20);
    uint32_t has_audio = le_get_u32(buf + 24), na = le_get_u32(buf + 28), nm = le_get_u32(buf + 32);
    if (has_audio > 1 || features_counts(nf, h, w, na, nm, &n_pix, &n_mel_vals) < 0)
        return migr_errf(err, "features: header fields out of range");
    size_t want = FEATURES_HEADER + 4 * (n_pix + n_mel_vals);
    if (len != want)
        return migr_errf(err, "features: buffer is %zu bytes, header implies %zu", len, want);

    f.n_frames = (int)nf;
    f.height = (int)h;
    f.width = (int)w;
    f.has_audio = (int)has_audio;
    f.n_audio = (int)na;
    f.n_mel = (int)nm;
    dur_bits = le_get_u64(buf + 36);
    memcpy(&f.duration, &dur_bits, 8);
    f.frames = malloc(n_pix ? 4 * n_pix : 1);
    f.mel = n_mel_vals ? malloc(4 * n_mel_vals) : NULL;
    if (!f.frames || (n_mel_vals && !f.mel)) {
        media_features_free(&f);
        return migr_errf(err, "features: out of memory decoding %zu bytes", len);
    }
    get_floats(f.frames, buf + FEATURES_HEADER, n_pix);
    if (n_mel_vals)
        get_floats(f.mel, buf + FEATURES_HEADER + 4 * n_pix, n_mel_vals);
    *out = f;
    return 0;
}
