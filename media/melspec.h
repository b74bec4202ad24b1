/* melspec.h -- log-mel frames from 16 kHz mono audio (media-internal).
 *
 * 25 ms Hann windows (400 samples), 10 ms hop (160), zero-padded to a 512-point
 * radix-2 FFT; n_mel triangular filters on the HTK mel scale over 0..8 kHz;
 * each value is ln(power + 1e-6).  Pure C, no FFmpeg. */
#ifndef MIGR_MELSPEC_H
#define MIGR_MELSPEC_H

#include <stddef.h>

#include "common/error.h"

enum { MELSPEC_RATE = 16000, MELSPEC_WIN = 400, MELSPEC_HOP = 160, MELSPEC_FFT = 512 };

/* How many frames n samples give: 0 below one window, else 1 + (n - 400) / 160. */
int melspec_frame_count(size_t n_samples);

/* Compute min(melspec_frame_count(n), max_frames) frames of n_mel bands into a
 * malloc'd array (*mel, (n_out, n_mel)) the caller frees; *mel is NULL when
 * *n_out is 0.  Returns -1 (with err) on bad arguments or out of memory. */
int melspec_compute(const float *samples, size_t n_samples, int n_mel, int max_frames,
                    float **mel, int *n_out, migr_err *err);

#endif
