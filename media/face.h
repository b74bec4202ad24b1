/* face.h -- where the face is in a clip's frames, and the frames taken on it.
 *
 * The face is the set of pixels of the mean frame (over the clip's frames)
 * brighter than the midpoint of its darkest and brightest pixel: the head
 * against its background, or in face-cropped sets such as DFEW's the lit
 * part of the face.  Its window is the square of its area centred on its
 * centroid; when no pixel is brighter than another, the whole frame.
 * Coordinates are in pixels, pixel (r, c) covering [c, c + 1) x [r, r + 1).
 *
 * Both readers of the frames look through the window -- the modality
 * probe's grid and the model's visual tokens -- so that where the head sits
 * and how large it is do not move an expression from pixel to pixel: a
 * 400-clip set is then enough to tell expressions apart. */
#ifndef MIGR_FACE_H
#define MIGR_FACE_H

#include "media/features.h"

typedef struct face_window {
    double x0, y0, width, height;
} face_window;

/* The window of f's frames (f->n_frames >= 1, height and width >= 1). */
face_window face_find(const media_features *f);

/* The h x w frame at the point (x, y), interpolated bilinearly between
 * pixel centres; beyond the outer centres, the nearest edge pixel. */
double face_sample(const float *frame, int h, int w, double x, double y);

/* Every frame of f resampled onto its own height x width over the window
 * of f: out (n_frames, height, width), pixel (r, c) the sample at the
 * window's point ((c + 0.5) / width, (r + 0.5) / height).  A window that is
 * the whole frame copies the frames exactly. */
void face_frames(const media_features *f, float *out);

#endif
