/* features.h -- what a clip becomes after featurization, and its byte format.
 *
 * Video: n_frames frames sampled uniformly over the clip's duration, converted
 * to 8-bit grayscale and resized with libswscale to height x width, stored as
 * floats in [0, 1].  Audio: resampled with libswresample to 16 kHz mono, then
 * log-mel frames (25 ms Hann window, 10 ms hop, n_mel triangular mel filters
 * over 0..8 kHz, natural log of power + 1e-6), at most max_audio_frames frames
 * (the rest are dropped; a shorter clip has fewer).  A clip without an audio
 * stream gets n_audio = 0 and has_audio = 0 ("silent"). */
#ifndef MIGR_FEATURES_H
#define MIGR_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "spec/featurize.h"

typedef struct media_features {
    int n_frames, height, width;
    float *frames;        /* (n_frames, height, width), row-major, in [0, 1] */
    int has_audio;
    int n_audio, n_mel;
    float *mel;           /* (n_audio, n_mel) log-mel; NULL when n_audio == 0 */
    double duration;      /* seconds, from the container */
} media_features;

/* Decode the media file at path with FFmpeg's libraries and fill out (which
 * the caller later releases with media_features_free).  On failure -- file
 * missing, not media, truncated, no video stream, decode error -- returns -1
 * and err holds FFmpeg's message with the path.  Deterministic: the same file
 * gives the same features, bit for bit. */
int media_featurize(const char *path, const featurize_config *cfg, media_features *out,
                    migr_err *err);

void media_features_free(media_features *f);

/* Serialize to a malloc'd buffer the caller owns (little-endian header with
 * magic "MIGRFEAT" and a format version, then the float arrays). */
int features_encode(const media_features *f, uint8_t **buf, size_t *len, migr_err *err);
/* Parse a buffer written by features_encode; rejects bad magic, version or size. */
int features_decode(const uint8_t *buf, size_t len, media_features *out, migr_err *err);

#endif
