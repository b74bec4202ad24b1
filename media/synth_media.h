/* synth_media.h -- the generator's media: a planned clip (spec/synth.h)
 * rendered to pictures, sound and an MP4.
 *
 * synth_face draws the procedural face whose expression carries the visual
 * cue; synth_voice synthesizes the voice whose prosody carries the audio cue;
 * synth_render muxes them into a real MP4 (MPEG-4 Part 2 video + AAC audio,
 * encoded with libavcodec, bit-exact flags set).  Face and voice are pure
 * functions of (config, seed, plan) and use no FFmpeg, so they can be tested
 * and timed on their own. */
#ifndef MIGR_SYNTH_MEDIA_H
#define MIGR_SYNTH_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "spec/synth.h"

/* The expression of a face at one instant; neutral is eye_open 1,
 * mouth_width 1 and everything else 0. */
typedef struct synth_expression {
    double eye_open;     /* eye height multiplier: 0.5 narrowed .. 1.7 wide */
    double brow_raise;   /* whole brow up (+) or down (-) */
    double brow_tilt;    /* inner ends up (+, sad/fear) or down (-, angry) */
    double mouth_curve;  /* corners up (+, smile) or down (-, frown) */
    double mouth_open;   /* 0 closed .. 1 wide open */
    double mouth_width;  /* width multiplier */
    double mouth_asym;   /* one corner raised (disgust) */
} synth_expression;

/* One clip's face: geometry and colours (from the seed), and the expression
 * it moves to (from the visual cue). */
typedef struct synth_face {
    int width, height;
    double cx, cy;             /* head centre, pixels */
    double unit;               /* head half-width, pixels; features are in these units */
    double head_aspect;        /* head half-height / half-width */
    double eye_x, eye_y;       /* eye centre offset from the head centre, units */
    double skin, background;   /* luma 0..255 */
    double background_slope;   /* luma change per row */
    double onset_seconds;      /* time the expression takes to reach its peak */
    synth_expression target;   /* the expression at its peak */
} synth_face;

void synth_face_init(synth_face *face, const synth_config *cfg, uint64_t seed,
                     const synth_clip *clip);
/* The expression t seconds into the clip (ramps from neutral to target). */
void synth_face_expression(const synth_face *face, double t, synth_expression *out);
/* Draw the face at t into yuv420p planes of face->width x face->height. */
void synth_face_draw(const synth_face *face, double t, uint8_t *luma, int luma_stride,
                     uint8_t *cb, uint8_t *cr, int chroma_stride);

/* Fill pcm (n_samples mono floats in [-1, 1] at cfg->sample_rate) with the
 * clip's voice. */
void synth_voice_render(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                        float *pcm, size_t n_samples);

/* Render the clip's media to path, atomically (temp file, fsync, rename).
 * The same config, seed and plan give the same bytes. */
int synth_render(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                 const char *path, migr_err *err);

/* Which streams synth_render_tracks writes; synth_render writes both.  Tests
 * use the others to make video-only and audio-only files. */
enum { SYNTH_TRACK_VIDEO = 1, SYNTH_TRACK_AUDIO = 2, SYNTH_TRACK_BOTH = 3 };
int synth_render_tracks(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                        const char *path, int tracks, migr_err *err);

#endif
