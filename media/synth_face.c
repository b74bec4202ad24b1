/* synth_face.c -- the procedural face whose expression carries the visual cue.
 *
 * A head ellipse on a shaded background, with eyes, brows, a nose shadow and
 * a mouth, each described in "face units" (the head's half-width) relative to
 * the head centre, so the same expression reads the same at any size.  Pixels
 * are 3x3 supersampled, so features a pixel or two wide still move smoothly
 * as the expression ramps up. */
#include "media/synth_media.h"

#include "common/rng.h"

#include <math.h>
#include <string.h>

enum { FACE_SUPERSAMPLE = 3 };

static const double face_pi = 3.14159265358979323846;

/* How far each emotion moves the face from neutral at strength 1. */
static const synth_expression emotion_delta[EMOTION_COUNT] = {
    [EMO_HAPPY] = {.eye_open = -0.2, .brow_raise = 0.1, .mouth_curve = 1.0, .mouth_open = 0.15,
                   .mouth_width = 0.2},
    [EMO_SAD] = {.eye_open = -0.3, .brow_raise = 0.1, .brow_tilt = 1.0, .mouth_curve = -0.9,
                 .mouth_width = -0.1},
    [EMO_NEUTRAL] = {0},
    [EMO_ANGRY] = {.eye_open = -0.3, .brow_raise = -0.6, .brow_tilt = -1.0, .mouth_curve = -0.3,
                   .mouth_width = -0.2},
    [EMO_SURPRISE] = {.eye_open = 0.7, .brow_raise = 1.0, .mouth_open = 1.0, .mouth_width = -0.35},
    [EMO_DISGUST] = {.eye_open = -0.45, .brow_raise = -0.3, .brow_tilt = -0.3, .mouth_curve = -0.4,
                     .mouth_asym = 1.0},
    [EMO_FEAR] = {.eye_open = 0.6, .brow_raise = 0.6, .brow_tilt = 0.7, .mouth_curve = -0.2,
                  .mouth_open = 0.45, .mouth_width = 0.3},
};

static const synth_expression neutral_expression = {.eye_open = 1.0, .mouth_width = 1.0};

/* a + k * d, field by field. */
static void expression_add(synth_expression *out, const synth_expression *a, double k,
                           const synth_expression *d)
{
    out->eye_open = a->eye_open + k * d->eye_open;
    out->brow_raise = a->brow_raise + k * d->brow_raise;
    out->brow_tilt = a->brow_tilt + k * d->brow_tilt;
    out->mouth_curve = a->mouth_curve + k * d->mouth_curve;
    out->mouth_open = a->mouth_open + k * d->mouth_open;
    out->mouth_width = a->mouth_width + k * d->mouth_width;
    out->mouth_asym = a->mouth_asym + k * d->mouth_asym;
}

void synth_face_init(synth_face *face, const synth_config *cfg, uint64_t seed,
                     const synth_clip *clip)
{
    uint64_t rng = rng_stream(seed, clip->index, SYNTH_STREAM_FACE);
    const synth_cue *cue = &clip->cue[MOD_VISUAL];
    int e = cue->emotion >= 0 && cue->emotion < EMOTION_COUNT ? cue->emotion : EMO_NEUTRAL;
    double strength = cue->strength < 0 ? 0 : cue->strength > 1 ? 1 : cue->strength;
    double w = cfg->width, h = cfg->height;

    memset(face, 0, sizeof *face);
    face->width = cfg->width;
    face->height = cfg->height;
    /* Per-clip variation: where the head sits, its size and proportions, the
     * tones, and how fast the expression comes on. */
    face->cx = w / 2 + rng_range(&rng, -0.05, 0.05) * w;
    face->cy = h / 2 + rng_range(&rng, -0.04, 0.04) * h;
    face->unit = (w < h ? w : h) * 0.30 * rng_range(&rng, 0.9, 1.1);
    face->head_aspect = rng_range(&rng, 1.2, 1.35);
    face->eye_x = rng_range(&rng, 0.36, 0.42);
    face->eye_y = rng_range(&rng, -0.30, -0.20);
    face->skin = rng_range(&rng, 150, 200);
    face->background = rng_range(&rng, 40, 90);
    face->background_slope = rng_range(&rng, -0.4, 0.4) * 64.0 / h;
    face->onset_seconds = cfg->seconds * rng_range(&rng, 0.25, 0.35);
    expression_add(&face->target, &neutral_expression, strength, &emotion_delta[e]);
}

void synth_face_expression(const synth_face *face, double t, synth_expression *out)
{
    double x = face->onset_seconds > 0 ? t / face->onset_seconds : 1.0;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    double ramp = x * x * (3 - 2 * x);  /* smoothstep: starts and ends gently */
    synth_expression delta;
    expression_add(&delta, &face->target, -1.0, &neutral_expression);
    expression_add(out, &neutral_expression, ramp, &delta);
}

/* Distance from (u, v) to the segment (x0, y0)-(x1, y1). */
static double segment_distance(double u, double v, double x0, double y0, double x1, double y1)
{
    double dx = x1 - x0, dy = y1 - y0;
    double k = ((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy);
    k = k < 0 ? 0 : k > 1 ? 1 : k;
    double ex = u - (x0 + k * dx), ey = v - (y0 + k * dy);
    return sqrt(ex * ex + ey * ey);
}

/* Luma of the eye at `side` (-1 left, +1 right) at (u, v), or -1 if outside it:
 * white with a dark pupil, rimmed by a darker lid line. */
static double eye_luma(const synth_face *face, const synth_expression *x, int side, double u,
                       double v, double skin)
{
    double ex = side * face->eye_x, ey = face->eye_y;
    double half_w = 0.21, half_h = 0.13 * (x->eye_open > 0.05 ? x->eye_open : 0.05);
    double du = (u - ex) / half_w, dv = (v - ey) / half_h;
    double d = du * du + dv * dv;
    if (d > 1.5)
        return -1;
    if (d > 1.0)
        return skin * 0.55;  /* lid line */
    double pu = u - ex, pv = v - ey;
    return pu * pu + pv * pv <= 0.095 * 0.095 ? 35 : 235;
}

/* Luma of the brow at `side` at (u, v), or -1 if outside it. */
static double brow_luma(const synth_face *face, const synth_expression *x, int side, double u,
                        double v)
{
    double base = face->eye_y - 0.30 - 0.20 * x->brow_raise;
    double inner_y = base - 0.16 * x->brow_tilt, outer_y = base + 0.05 * x->brow_tilt;
    double d = segment_distance(u, v, side * 0.14, inner_y, side * 0.62, outer_y);
    return d <= 0.065 ? 55 : -1;
}

/* Luma of the mouth at (u, v), or -1 if outside it.  The lips follow a
 * parabola whose ends rise with mouth_curve and tilt with mouth_asym; an
 * open mouth parts them around a dark cavity. */
static double mouth_luma(const synth_expression *x, double u, double v)
{
    double half_w = 0.36 * (x->mouth_width > 0.2 ? x->mouth_width : 0.2);
    double s = u / half_w;
    if (s <= -1 || s >= 1)
        return -1;
    double across = sqrt(1 - s * s);
    double centre = 0.62 - x->mouth_curve * 0.16 * (s * s - 0.33) + x->mouth_asym * 0.10 * s;
    double gap = (x->mouth_open > 0 ? x->mouth_open : 0) * 0.17 * across;
    double lip = 0.045 * (0.5 + 0.5 * across);
    double dv = fabs(v - centre);
    if (dv <= gap)
        return 25;
    return dv <= gap + lip ? 85 : -1;
}

/* Luma at one point of the picture (pixel coordinates px, py). */
static double face_luma(const synth_face *face, const synth_expression *x, double cx, double cy,
                        double px, double py)
{
    double bg = face->background + face->background_slope * (py - face->height / 2.0);
    double u = (px - cx) / face->unit, v = (py - cy) / face->unit;
    double hv = v / face->head_aspect, r2 = u * u + hv * hv;
    if (r2 > 1)
        return bg;
    double skin = face->skin * (1 - 0.15 * r2);  /* rounder-looking head */
    double nose_u = u / 0.08, nose_v = (v - 0.22) / 0.16;
    double lum = nose_u * nose_u + nose_v * nose_v <= 1 ? skin * 0.85 : skin;
    for (int side = -1; side <= 1; side += 2) {
        double e = eye_luma(face, x, side, u, v, skin);
        if (e >= 0)
            lum = e;
        double b = brow_luma(face, x, side, u, v);
        if (b >= 0)
            lum = b;
    }
    double m = mouth_luma(x, u, v);
    return m >= 0 ? m : lum;
}

static uint8_t clamp_byte(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

void synth_face_draw(const synth_face *face, double t, uint8_t *luma, int luma_stride,
                     uint8_t *cb, uint8_t *cr, int chroma_stride)
{
    synth_expression x;
    synth_face_expression(face, t, &x);
    /* A slow sway of under a pixel, so consecutive frames are not identical. */
    double cx = face->cx + 0.6 * sin(2 * face_pi * t / 1.7);
    double cy = face->cy + 0.4 * sin(2 * face_pi * t / 2.3 + 1.0);
    double reach = face->unit * (face->head_aspect + 0.1);

    for (int py = 0; py < face->height; py++) {
        for (int px = 0; px < face->width; px++) {
            double sum = 0;
            if (fabs(px + 0.5 - cx) > reach || fabs(py + 0.5 - cy) > reach) {
                sum = face_luma(face, &x, cx, cy, px + 0.5, py + 0.5);
            } else {
                for (int j = 0; j < FACE_SUPERSAMPLE; j++)
                    for (int i = 0; i < FACE_SUPERSAMPLE; i++)
                        sum += face_luma(face, &x, cx, cy, px + (i + 0.5) / FACE_SUPERSAMPLE,
                                         py + (j + 0.5) / FACE_SUPERSAMPLE);
                sum /= FACE_SUPERSAMPLE * FACE_SUPERSAMPLE;
            }
            luma[(size_t)py * luma_stride + px] = clamp_byte(sum);
        }
    }
    /* Chroma: a faint warm tint on the head, grey elsewhere. */
    for (int py = 0; py < (face->height + 1) / 2; py++) {
        for (int px = 0; px < (face->width + 1) / 2; px++) {
            double u = (2 * px + 1 - cx) / face->unit, v = (2 * py + 1 - cy) / face->unit;
            double hv = v / face->head_aspect;
            int on_head = u * u + hv * hv <= 1;
            cb[(size_t)py * chroma_stride + px] = on_head ? 122 : 128;
            cr[(size_t)py * chroma_stride + px] = on_head ? 136 : 128;
        }
    }
}
