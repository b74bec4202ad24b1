/* melspec.c -- see melspec.h.
 *
 * Arithmetic is in double and follows one fixed order, so the same samples
 * give the same floats on every run of the same binary. */
#include "media/melspec.h"

#include <math.h>
#include <stdlib.h>

enum { MELSPEC_BINS = MELSPEC_FFT / 2 + 1, MELSPEC_MAX_MEL = 128 };

/* Tables shared by every frame of one call. */
typedef struct melspec_tables {
    double window[MELSPEC_WIN];             /* periodic Hann */
    double cos_tw[MELSPEC_FFT / 2];         /* twiddles e^{-2 pi i k / N} */
    double sin_tw[MELSPEC_FFT / 2];
    int bitrev[MELSPEC_FFT];
    double *filters;                        /* (n_mel, MELSPEC_BINS) triangle weights */
} melspec_tables;

int melspec_frame_count(size_t n_samples)
{
    if (n_samples < MELSPEC_WIN)
        return 0;
    size_t n = 1 + (n_samples - MELSPEC_WIN) / MELSPEC_HOP;
    return n > (size_t)1 << 30 ? 1 << 30 : (int)n;
}

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

static double mel_to_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

/* Triangles with corners at n_mel + 2 points evenly spaced in mel over
 * 0..8 kHz, evaluated at each FFT bin's exact frequency (not rounded to a
 * bin), so narrow low-frequency filters never come out empty. */
static void melspec_filters(double *filters, int n_mel)
{
    double mel_max = hz_to_mel(MELSPEC_RATE / 2.0);
    for (int m = 0; m < n_mel; m++) {
        double lo = mel_to_hz(mel_max * m / (n_mel + 1));
        double mid = mel_to_hz(mel_max * (m + 1) / (n_mel + 1));
        double hi = mel_to_hz(mel_max * (m + 2) / (n_mel + 1));
        for (int k = 0; k < MELSPEC_BINS; k++) {
            double f = (double)k * MELSPEC_RATE / MELSPEC_FFT;
            double up = (f - lo) / (mid - lo), down = (hi - f) / (hi - mid);
            double w = up < down ? up : down;
            filters[(size_t)m * MELSPEC_BINS + k] = w > 0 ? w : 0;
        }
    }
}

static void melspec_tables_init(melspec_tables *t, double *filters, int n_mel)
{
    const double pi = 3.14159265358979323846;
    int bits = 0;
    while ((1 << bits) < MELSPEC_FFT)
        bits++;
    for (int i = 0; i < MELSPEC_WIN; i++)
        t->window[i] = 0.5 - 0.5 * cos(2.0 * pi * i / MELSPEC_WIN);
    for (int k = 0; k < MELSPEC_FFT / 2; k++) {
        t->cos_tw[k] = cos(2.0 * pi * k / MELSPEC_FFT);
        t->sin_tw[k] = -sin(2.0 * pi * k / MELSPEC_FFT);
    }
    for (int i = 0; i < MELSPEC_FFT; i++) {
        int r = 0;
        for (int b = 0; b < bits; b++)
            r |= ((i >> b) & 1) << (bits - 1 - b);
        t->bitrev[i] = r;
    }
    t->filters = filters;
    melspec_filters(filters, n_mel);
}

/* In-place iterative radix-2 decimation-in-time FFT of length MELSPEC_FFT;
 * re/im must already be in bit-reversed order. */
static void melspec_fft(const melspec_tables *t, double *re, double *im)
{
    for (int len = 2; len <= MELSPEC_FFT; len <<= 1) {
        int half = len / 2, step = MELSPEC_FFT / len;
        for (int start = 0; start < MELSPEC_FFT; start += len) {
            for (int j = 0; j < half; j++) {
                double wr = t->cos_tw[j * step], wi = t->sin_tw[j * step];
                int a = start + j, b = a + half;
                double xr = re[b] * wr - im[b] * wi;
                double xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}

/* One frame: window the 400 samples at x, FFT, power, mel, log -> out[n_mel]. */
static void melspec_frame(const melspec_tables *t, const float *x, int n_mel, float *out)
{
    double re[MELSPEC_FFT], im[MELSPEC_FFT], power[MELSPEC_BINS];
    for (int i = 0; i < MELSPEC_FFT; i++) {
        int src = t->bitrev[i];
        re[i] = src < MELSPEC_WIN ? x[src] * t->window[src] : 0.0;
        im[i] = 0.0;
    }
    melspec_fft(t, re, im);
    for (int k = 0; k < MELSPEC_BINS; k++)
        power[k] = re[k] * re[k] + im[k] * im[k];
    for (int m = 0; m < n_mel; m++) {
        const double *w = t->filters + (size_t)m * MELSPEC_BINS;
        double sum = 0.0;
        for (int k = 0; k < MELSPEC_BINS; k++)
            sum += w[k] * power[k];
        out[m] = (float)log(sum + 1e-6);
    }
}

int melspec_compute(const float *samples, size_t n_samples, int n_mel, int max_frames,
                    float **mel, int *n_out, migr_err *err)
{
    melspec_tables t;
    *mel = NULL;
    *n_out = 0;
    if (n_mel < 1 || n_mel > MELSPEC_MAX_MEL || max_frames < 0)
        return migr_errf(err, "melspec: n_mel %d must be 1..%d and max_frames %d >= 0", n_mel,
                         MELSPEC_MAX_MEL, max_frames);
    int n = melspec_frame_count(n_samples);
    if (n > max_frames)
        n = max_frames;
    if (n == 0)
        return 0;

    double *filters = malloc(sizeof(double) * (size_t)n_mel * MELSPEC_BINS);
    float *out = malloc(sizeof(float) * (size_t)n * (size_t)n_mel);
    if (!filters || !out) {
        free(filters);
        free(out);
        return migr_errf(err, "melspec: out of memory for %d frames", n);
    }
    melspec_tables_init(&t, filters, n_mel);
    for (int f = 0; f < n; f++)
        melspec_frame(&t, samples + (size_t)f * MELSPEC_HOP, n_mel, out + (size_t)f * n_mel);
    free(filters);
    *mel = out;
    *n_out = n;
    return 0;
}
