/* face.c -- see face.h. */
#include "media/face.h"

#include <math.h>

/* The mean over the frames of pixel `at`. */
static double mean_pixel(const media_features *f, size_t at)
{
    const size_t plane = (size_t)f->height * f->width;
    double s = 0;
    for (int t = 0; t < f->n_frames; t++)
        s += f->frames[t * plane + at];
    return s / f->n_frames;
}

face_window face_find(const media_features *f)
{
    const int h = f->height, w = f->width;
    const size_t plane = (size_t)h * w;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t at = 0; at < plane; at++) {
        double v = mean_pixel(f, at);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    double sx = 0, sy = 0, area = 0, mid = (lo + hi) / 2;
    for (int r = 0; r < h && hi > lo; r++)
        for (int c = 0; c < w; c++)
            if (mean_pixel(f, (size_t)r * w + c) > mid) {
                sx += c + 0.5;
                sy += r + 0.5;
                area++;
            }
    if (area == 0)
        return (face_window){0, 0, w, h};
    double side = sqrt(area);
    return (face_window){sx / area - side / 2, sy / area - side / 2, side, side};
}

double face_sample(const float *frame, int h, int w, double x, double y)
{
    double u = fmin(fmax(x - 0.5, 0), w - 1), v = fmin(fmax(y - 0.5, 0), h - 1);
    int c0 = (int)u, r0 = (int)v;
    int c1 = c0 + 1 < w ? c0 + 1 : c0, r1 = r0 + 1 < h ? r0 + 1 : r0;
    double fu = u - c0, fv = v - r0;
    return (1 - fv) * ((1 - fu) * frame[(size_t)r0 * w + c0] + fu * frame[(size_t)r0 * w + c1]) +
           fv * ((1 - fu) * frame[(size_t)r1 * w + c0] + fu * frame[(size_t)r1 * w + c1]);
}

void face_frames(const media_features *f, float *out)
{
    const int h = f->height, w = f->width;
    const size_t plane = (size_t)h * w;
    const face_window win = face_find(f);
    for (int t = 0; t < f->n_frames; t++)
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                out[t * plane + (size_t)r * w + c] =
                    (float)face_sample(f->frames + t * plane, h, w, win.x0 + (c + 0.5) * win.width / w,
                                       win.y0 + (r + 0.5) * win.height / h);
}
