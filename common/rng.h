/* rng.h -- deterministic random numbers: splitmix64.
 *
 * Tiny, fast, and every (seed, index, purpose) triple gives its own
 * well-mixed stream, so what one consumer draws never shifts another's
 * numbers.  The state lives in the caller; nothing is global. */
#ifndef MIGR_RNG_H
#define MIGR_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The starting state of stream `purpose` of item `index` under `seed`. */
static inline uint64_t rng_stream(uint64_t seed, int index, int purpose)
{
    uint64_t s = seed ^ ((uint64_t)(uint32_t)index * 0x9E3779B97F4A7C15ull);
    s ^= (uint64_t)purpose << 56;
    (void)rng_next(&s);
    return s;
}

/* Uniform in [0, 1), 53 bits. */
static inline double rng_uniform(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double rng_range(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(state);
}

/* Uniform integer in [0, n), n > 0. */
static inline int rng_below(uint64_t *state, int n)
{
    return (int)(rng_uniform(state) * n);
}

#endif
