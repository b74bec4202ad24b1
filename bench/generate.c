/* generate.c -- tokens/s of model_generate with the KV cache and without
 * it (the full forward recomputed each step), on the default-sized model,
 * from one clip's prefix until max_seq; and whether both made the same
 * tokens.  Driven by bench/generate.sh.
 *
 *   generate [NEW REPS V TOPK]   defaults 97 3 2000 40
 *
 * The model is runconfig's default (C=64, L=2, NH=4, mlp_ratio 4,
 * max_seq 160) on featurization's default media (8 frames of 32x32, 30
 * audio tokens of 10 x 40 log-mel); the prefix is 8 + 30 media positions,
 * 24 subtitle words and <bos> (63 positions), so up to 97 new tokens.
 * Parameters are random at 10x the init scale so that sampling is not
 * near-uniform; sampling at temperature 1 from the TOPK largest logits
 * (TOPK 1: greedy), no eos.  bench/generate.sh runs it beside the same
 * generation in PyTorch (bench/generate.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "ml/blas.h"
#include "ml/model.h"
#include "ml/sample.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    blas_pin_kernel(argv);
    int want = argc > 1 ? atoi(argv[1]) : 97, reps = argc > 2 ? atoi(argv[2]) : 3;
    int V = argc > 3 ? atoi(argv[3]) : 2000, top_k = argc > 4 ? atoi(argv[4]) : 40;
    model_config cfg = {.vocab = V, .max_seq = 160, .channels = 64, .layers = 2, .heads = 4,
                        .mlp_ratio = 4, .n_frames = 8, .frame_pixels = 1024, .audio_tokens = 30,
                        .audio_window = 10, .n_mel = 40};
    enum { PREFIX = 8 + 30 + 24 + 1 };
    migr_err err;
    if (want < 1 || reps < 1 || V < 8 || top_k < 1) {
        fprintf(stderr, "usage: generate [NEW REPS V TOPK]\n");
        return 2;
    }
    model *m = model_new(&cfg, 1, &err);
    if (!m) {
        fprintf(stderr, "generate: %s\n", err.msg);
        return 1;
    }
    uint64_t rng = 3;
    float *flat = model_params_flat(m);
    for (size_t i = 0; i < model_num_params(m); i++)
        flat[i] *= 10.0f;
    static float frames[8 * 1024], mel[300 * 40];
    static int tokens[PREFIX], types[PREFIX];
    for (size_t i = 0; i < sizeof frames / sizeof(float); i++)
        frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < sizeof mel / sizeof(float); i++)
        mel[i] = (float)rng_range(&rng, -8, 0);
    for (int t = 0; t < PREFIX; t++) {
        types[t] = t < 8 ? 0 : t < 38 ? 1 : t < PREFIX - 1 ? 2 : 3;
        tokens[t] = t < 38 ? 0 : t == PREFIX - 1 ? 1 : 3 + rng_below(&rng, V - 3);
    }
    model_batch prefix = {.B = 1, .T = PREFIX, .frames = frames, .mel = mel, .tokens = tokens,
                          .types = types};
    sample_config sc = {.temperature = 1.0f, .top_k = top_k, .max_new = want, .eos = -1,
                        .seed = 11};
    int *out[2], nout[2] = {0, 0};
    double best[2] = {1e30, 1e30};
    out[0] = malloc((size_t)want * sizeof(int));
    out[1] = malloc((size_t)want * sizeof(int));
    if (!out[0] || !out[1])
        return 1;
    for (int r = 0; r < reps; r++)
        for (int cache = 1; cache >= 0; cache--) {
            double t0 = now();
            if (model_generate(m, &prefix, &sc, out[cache], &nout[cache], cache, &err) != 0) {
                fprintf(stderr, "generate: %s\n", err.msg);
                return 1;
            }
            double dt = now() - t0;
            best[cache] = dt < best[cache] ? dt : best[cache];
        }
    int same = nout[0] == nout[1] && memcmp(out[0], out[1], (size_t)nout[0] * sizeof(int)) == 0;
    int distinct = 0;
    for (int i = 0; i < nout[1]; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= out[1][j] == out[1][i];
        distinct += !seen;
    }
    printf("prefix=%d new=%d distinct=%d top_k=%d cached_tokens_per_s=%.0f "
           "uncached_tokens_per_s=%.0f speedup=%.1f same_tokens=%s\n",
           PREFIX, nout[1], distinct, top_k, nout[1] / best[1], nout[0] / best[0],
           best[0] / best[1], same ? "yes" : "NO");
    free(out[0]);
    free(out[1]);
    model_free(&m);
    return same ? 0 : 1;
}
