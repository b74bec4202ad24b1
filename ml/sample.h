/* sample.h -- generating an explanation from a clip's prefix.
 *
 * Given one sequence's prefix (media, subtitle, <bos>), the model samples the
 * next token from softmax(logits / temperature) restricted to the top_k
 * largest logits, appends it (type 3, explanation), and repeats until it
 * emits eos, has made max_new tokens, or the sequence fills max_seq.
 *
 * With the KV cache each layer's keys and values are kept, so each new token
 * costs one position's forward; without it every step reruns model_forward
 * over the whole sequence (for benchmarks and for checking the cache).  Both
 * compute each position's attention the same way; the only possible
 * difference is sgemm rounding on a different number of rows, so the same
 * seed gives the same tokens unless two candidates are within a few ulps.
 *
 * Deterministic: the same model, prefix and config give the same tokens (for
 * a given BLAS; the model's thread count, model_set_pool, does not matter).  The sampler draws one uniform number per
 * sampled token from splitmix64 (common/rng.h) seeded with config.seed;
 * greedy decoding draws none. */
#ifndef MIGR_SAMPLE_H
#define MIGR_SAMPLE_H

#include <stdint.h>

#include "common/error.h"
#include "ml/model.h"

typedef struct sample_config {
    float temperature; /* <= 0: greedy (the largest logit, lowest id on ties) */
    int top_k;         /* keep the k largest logits; <= 0 or >= V: all; 1: greedy */
    int max_new;       /* at most this many new tokens (>= 1) */
    int eos;           /* stop once this id is emitted (it is kept in out); -1: never */
    uint64_t seed;     /* the sampler's stream */
} sample_config;

/* Generates after prefix (B = 1, 1 <= T < max_seq, the prefix ending with
 * <bos>; prefix->targets is not read and may be NULL) into out (room for
 * cfg->max_new ids); *nout gets the count, which is at most
 * min(max_new, max_seq - T).  use_cache 1 decodes with the KV cache, 0
 * recomputes the full forward each step (overwriting the model's last
 * forward, so a model_backward after it differentiates that forward).
 * Returns 0, or -1 with err (bad prefix or config, no memory). */
int model_generate(model *m, const model_batch *prefix, const sample_config *cfg, int *out,
                   int *nout, int use_cache, migr_err *err);

/* n sequences after one prefix, sequence k as model_generate(m, prefix,
 * &cfgs[k], outs[k], &nouts[k], 1, err) makes it (with the KV cache): the
 * same tokens, whatever the thread count.  The prefix's keys and values are
 * computed once and copied; the sequences then run side by side on the
 * model's threads (model_set_pool), an item each.  The model is only read.
 * Returns 0, or -1 with err (a bad prefix or config, no memory). */
int model_generate_many(model *m, const model_batch *prefix, const sample_config *cfgs, int n,
                        int *const outs[], int nouts[], migr_err *err);

/* The token sample_config picks from one row of logits (V): exposed for
 * callers that run their own forward.  idx (V ints) and w (V doubles) are
 * scratch.  Draws one number from *rng unless the choice is greedy. */
int sample_pick(const float *logits, int V, const sample_config *cfg, uint64_t *rng, int *idx,
                double *w);

#endif
