/* synth_voice.c -- the synthetic voice whose prosody carries the audio cue.
 *
 * A vowel-like source: a fundamental and its harmonics, each weighted by
 * three formant resonances of the syllable's vowel and a spectral tilt, sung
 * in syllable bursts.  The emotion moves the prosody: pitch level and range,
 * tempo, energy, brightness, tremor (vibrato), creak and an overall rising
 * contour.  Harmonics come from the Chebyshev recurrence
 * sin((k+1)p) = 2 cos(p) sin(kp) - sin((k-1)p), one sin/cos per sample. */
#include "media/synth_media.h"

#include "common/rng.h"

#include <math.h>
#include <string.h>

enum { VOICE_MAX_HARMONICS = 48, VOICE_BLOCK = 80, VOICE_VOWELS = 5 };

static const double voice_pi = 3.14159265358979323846;

/* Prosody of one clip's voice. */
typedef struct voice_prosody {
    double f0;          /* mean pitch, Hz */
    double range;       /* pitch excursion per syllable, fraction of f0 */
    double tempo;       /* syllables per second */
    double energy;      /* loudness; 0.9 (the loudest) peaks just under full scale */
    double tilt;        /* harmonic k has amplitude k^-tilt: low = bright, harsh */
    double tremor;      /* vibrato depth, fraction of f0 */
    double creak;       /* cycle-to-cycle irregularity, 0..1 */
    double rise;        /* pitch rise over the clip, fraction of f0 */
} voice_prosody;

/* Prosody at strength 1; f0 is a multiplier of the speaker's own pitch. */
static const voice_prosody emotion_prosody[EMOTION_COUNT] = {
    [EMO_HAPPY] = {1.35, 0.35, 5.5, 0.75, 1.0, 0, 0, 0},
    [EMO_SAD] = {0.75, 0.04, 2.5, 0.22, 1.5, 0, 0, 0},
    [EMO_NEUTRAL] = {1.0, 0.12, 4.0, 0.5, 1.2, 0, 0, 0},
    [EMO_ANGRY] = {1.2, 0.2, 5.5, 0.9, 0.6, 0, 0.1, 0},
    [EMO_SURPRISE] = {1.25, 0.25, 4.0, 0.7, 1.0, 0, 0, 0.6},
    [EMO_DISGUST] = {0.8, 0.08, 2.8, 0.45, 1.2, 0, 0.8, 0},
    [EMO_FEAR] = {1.45, 0.15, 5.0, 0.5, 1.1, 0.08, 0, 0},
};

/* Formants F1..F3 (Hz) of the vowels a, i, u, e, o. */
static const double vowel_formant[VOICE_VOWELS][3] = {
    {730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240}, {530, 1840, 2480}, {570, 840, 2410},
};
static const double formant_bandwidth[3] = {90, 120, 180};
static const double formant_gain[3] = {1.0, 0.6, 0.3};

/* Neutral blended toward the cue's emotion by its strength, on a speaker
 * whose own pitch (base_f0) comes from the seed. */
static void voice_prosody_for(const synth_cue *cue, double base_f0, voice_prosody *p)
{
    int e = cue->emotion >= 0 && cue->emotion < EMOTION_COUNT ? cue->emotion : EMO_NEUTRAL;
    double s = cue->strength < 0 ? 0 : cue->strength > 1 ? 1 : cue->strength;
    const voice_prosody *n = &emotion_prosody[EMO_NEUTRAL], *x = &emotion_prosody[e];
    p->f0 = base_f0 * (n->f0 + s * (x->f0 - n->f0));
    p->range = n->range + s * (x->range - n->range);
    p->tempo = n->tempo + s * (x->tempo - n->tempo);
    p->energy = n->energy + s * (x->energy - n->energy);
    p->tilt = n->tilt + s * (x->tilt - n->tilt);
    p->tremor = n->tremor + s * (x->tremor - n->tremor);
    p->creak = n->creak + s * (x->creak - n->creak);
    p->rise = n->rise + s * (x->rise - n->rise);
}

/* Harmonic amplitudes for pitch f0 on a vowel, scaled so their sum has an
 * RMS of about 0.35 whatever the vowel and pitch, leaving loudness to
 * energy alone.  Returns the harmonic count. */
static int voice_harmonics(double f0, const double formant[3], double tilt, int sample_rate,
                           double *amp)
{
    double nyquist = sample_rate / 2.0 - 200, norm = 0;
    int n = 0;
    for (int k = 1; k <= VOICE_MAX_HARMONICS && k * f0 < nyquist && k * f0 < 5000; k++) {
        double f = k * f0, w = 0.03;
        for (int i = 0; i < 3; i++) {
            double d = (f - formant[i]) / formant_bandwidth[i];
            w += formant_gain[i] / (1 + d * d);
        }
        amp[n] = w * pow(k, -tilt);
        norm += amp[n] * amp[n];
        n++;
    }
    norm = norm > 0 ? 1.0 / (2.0 * sqrt(norm)) : 0;
    for (int k = 0; k < n; k++)
        amp[k] *= norm;
    return n;
}

/* One syllable's plan: when, which vowel, pitch at its start and end. */
typedef struct voice_syllable {
    size_t start, length;       /* samples; the next syllable starts at start + length */
    size_t voiced;              /* the sounding part of length, the rest is a pause */
    int vowel;
    double pitch0, pitch1;      /* multipliers of f0 */
    double accent;              /* loudness multiplier */
} voice_syllable;

static void voice_syllable_plan(const voice_prosody *p, uint64_t *rng, size_t start,
                                int sample_rate, voice_syllable *syl)
{
    double period = rng_range(rng, 0.8, 1.2) / p->tempo;
    syl->start = start;
    syl->length = (size_t)(period * sample_rate) + 1;
    syl->voiced = (size_t)(syl->length * rng_range(rng, 0.6, 0.8));
    syl->vowel = rng_below(rng, VOICE_VOWELS);
    syl->pitch0 = 1 + p->range * rng_range(rng, -1, 1);
    syl->pitch1 = syl->pitch0 + p->range * rng_range(rng, -0.6, 0.6);
    syl->accent = rng_range(rng, 0.75, 1.0);
}

/* Render one syllable into pcm[syl->start ..]; phase and cycle state carry
 * across syllables so the voice has no clicks. */
static void voice_syllable_render(const voice_prosody *p, const voice_syllable *syl,
                                  uint64_t *rng, int sample_rate, double seconds, float *pcm,
                                  size_t n_samples, double *phase)
{
    double amp[VOICE_MAX_HARMONICS], cycle_gain = 1, cycle_jitter = 1;
    int n_harm = 0;
    for (size_t i = 0; i < syl->voiced && syl->start + i < n_samples; i++) {
        size_t at = syl->start + i;
        double t = (double)at / sample_rate, x = (double)i / syl->voiced;
        double pitch = syl->pitch0 + (syl->pitch1 - syl->pitch0) * x;
        double f0 = p->f0 * pitch * (1 + p->rise * t / seconds) *
                    (1 + p->tremor * sin(2 * voice_pi * 6.0 * t)) * cycle_jitter;
        if (i % VOICE_BLOCK == 0)
            n_harm = voice_harmonics(f0, vowel_formant[syl->vowel], p->tilt, sample_rate, amp);
        *phase += 2 * voice_pi * f0 / sample_rate;
        if (*phase >= 2 * voice_pi) {
            /* A new glottal cycle: creak makes its strength and length irregular. */
            *phase -= 2 * voice_pi;
            cycle_gain = 1 - p->creak * 0.7 * rng_uniform(rng);
            cycle_jitter = 1 + p->creak * 0.12 * (rng_uniform(rng) - 0.5);
        }
        double s1 = sin(*phase), c2 = 2 * cos(*phase), prev = 0, cur = s1, sum = 0;
        for (int k = 0; k < n_harm; k++) {
            sum += amp[k] * cur;
            double next = c2 * cur - prev;
            prev = cur;
            cur = next;
        }
        double envelope = sin(voice_pi * x);  /* soft attack and release */
        pcm[at] += (float)(p->energy * syl->accent * envelope * cycle_gain * sum);
    }
}

void synth_voice_render(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                        float *pcm, size_t n_samples)
{
    uint64_t rng = rng_stream(seed, clip->index, SYNTH_STREAM_VOICE);
    double base_f0 = rng_range(&rng, 110, 210);
    double phase = 0;
    voice_prosody p;
    size_t at = (size_t)(rng_range(&rng, 0.02, 0.12) * cfg->sample_rate);

    voice_prosody_for(&clip->cue[MOD_AUDIO], base_f0, &p);
    memset(pcm, 0, n_samples * sizeof *pcm);
    while (at < n_samples) {
        voice_syllable syl;
        voice_syllable_plan(&p, &rng, at, cfg->sample_rate, &syl);
        voice_syllable_render(&p, &syl, &rng, cfg->sample_rate, cfg->seconds, pcm, n_samples,
                              &phase);
        at += syl.length;
    }
    /* A breath of noise under everything, so silence is not digital zero. */
    for (size_t i = 0; i < n_samples; i++) {
        double v = pcm[i] + 0.004 * (rng_uniform(&rng) - 0.5);
        pcm[i] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
    }
}
