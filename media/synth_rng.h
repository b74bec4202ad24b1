/* synth_rng.h -- the generator's deterministic random numbers (media-internal).
 *
 * splitmix64: tiny, fast, and every (seed, index, purpose) triple gives its own
 * well-mixed stream, so a clip's plan and its media never depend on the order
 * clips are generated in.  The state lives in the caller; nothing is global. */
#ifndef MIGR_SYNTH_RNG_H
#define MIGR_SYNTH_RNG_H

#include <stdint.h>

/* Streams drawn for one clip, kept apart so adding draws to one (say, the
 * face) never changes another (the plan). */
enum { SYNTH_STREAM_PLAN = 1, SYNTH_STREAM_FACE = 2, SYNTH_STREAM_VOICE = 3 };

static inline uint64_t synth_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The starting state of clip `index`'s stream `purpose` under `seed`. */
static inline uint64_t synth_rng_seed(uint64_t seed, int index, int purpose)
{
    uint64_t s = seed ^ ((uint64_t)(uint32_t)index * 0x9E3779B97F4A7C15ull);
    s ^= (uint64_t)purpose << 56;
    (void)synth_rng_next(&s);
    return s;
}

/* Uniform in [0, 1), 53 bits. */
static inline double synth_rng_uniform(uint64_t *state)
{
    return (double)(synth_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double synth_rng_range(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * synth_rng_uniform(state);
}

/* Uniform integer in [0, n), n > 0. */
static inline int synth_rng_below(uint64_t *state, int n)
{
    return (int)(synth_rng_uniform(state) * n);
}

#endif
