/* sft_step.c -- times our SFT step (model_forward_backward, the call a
 * worker's grad task makes; no optimizer) on the default-sized model and a
 * random batch, and a plain
 * cblas_sgemm in the same process as the machine's peak.  Driven by
 * bench/sft_step.sh, which puts PyTorch's number beside it.
 *
 *   sft_step [--threads N] [B T ITERS V]      defaults 1, 16 160 10 2000
 *
 * The model is runconfig's default (C=64, L=2, NH=4, mlp_ratio 4,
 * max_seq 160) on featurization's default media (8 frames of 32x32, 30
 * audio tokens of 10 x 40 log-mel); V defaults to the vocabulary cap (2000).
 * Each sequence is [8 visual][30 audio][24 subtitle][<bos> words <eos>],
 * every explanation position a target (T - 63 of the T positions; the
 * media/subtitle prefix and the last position have none, and our forward
 * computes the LM head only at the positions with a target).  The step runs
 * on a pool of N threads (ml/pool.h, as a worker's --threads), OpenBLAS on
 * one thread inside it; the sgemm peak on N OpenBLAS threads.
 *
 * Prints one line of key=value pairs: tokens/s (positions of B*T per
 * second of step), ms per step, the step's GFLOP/s (analytic count, below),
 * the sgemm peak in GFLOP/s, and FNV-1a hashes of the gradients and of an
 * sgemm result, to compare bits across thread counts. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "ml/blas.h"
#include "ml/model.h"
#include "ml/pool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* FLOPs of one forward + backward: matmuls 2*N*in*out forward and twice that
 * backward (dinp and dweight; the media projections have no dinp), causal
 * attention 4*hs per (query, key<=query) pair forward and 8*hs backward.
 * The LM head and the last block past its attention count only the ntok
 * positions with a target, the only ones our model computes them for
 * (PyTorch's side computes them at all B*T). */
static double step_flops(const model_config *c, int B, int T, int ntok)
{
    double N = (double)B * T, C = c->channels, RC = (double)c->mlp_ratio * C;
    double qkv = 2 * N * 3 * C * C, tail = 2 * (C * C + 2 * RC * C);
    double layer = qkv + N * tail, last = qkv + ntok * tail;
    double logits = 2.0 * ntok * C * c->vocab;
    double media = 2.0 * B * C * ((double)c->n_frames * c->frame_pixels +
                                  (double)c->audio_tokens * c->audio_window * c->n_mel);
    double pairs = (double)B * c->heads * T * (T + 1) / 2.0, hs = C / c->heads;
    return 3 * ((c->layers - 1) * layer + last + logits) + 2 * media +
           12 * pairs * hs * c->layers;
}

/* Best GFLOP/s of an n x n x n sgemm over reps runs; *hash gets its result's. */
static double sgemm_peak(int n, int reps, uint64_t *hash)
{
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *c = malloc(nn * sizeof(float));
    uint64_t rng = 99;
    double best = 0;
    if (!a || !b || !c) {
        fprintf(stderr, "sft_step: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)rng_range(&rng, -1, 1);
        b[i] = (float)rng_range(&rng, -1, 1);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now() - t0, g = 2.0 * n * n * (double)n / dt * 1e-9;
        best = g > best ? g : best;
    }
    *hash = fnv1a(c, nn * sizeof(float));
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv)
{
    blas_pin_kernel(argv);
    int threads = 1;
    if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
        threads = atoi(argv[2]);
        argc -= 2;
        argv += 2;
    }
    int B = argc > 1 ? atoi(argv[1]) : 16, T = argc > 2 ? atoi(argv[2]) : 160;
    int iters = argc > 3 ? atoi(argv[3]) : 10, V = argc > 4 ? atoi(argv[4]) : 2000;
    model_config cfg = {.vocab = V, .max_seq = 160, .channels = 64, .layers = 2, .heads = 4,
                        .mlp_ratio = 4, .n_frames = 8, .frame_pixels = 1024, .audio_tokens = 30,
                        .audio_window = 10, .n_mel = 40};
    migr_err err;
    if (T > cfg.max_seq)
        cfg.max_seq = T;
    int prefix = cfg.n_frames + cfg.audio_tokens + 24 + 1;
    if (B < 1 || T <= prefix || iters < 1 || V < 8 || threads < 1 || threads > POOL_MAX_THREADS) {
        fprintf(stderr, "usage: sft_step [--threads 1..%d] [B T(>%d) ITERS V(>=8)]\n",
                POOL_MAX_THREADS, prefix);
        return 2;
    }
    openblas_set_num_threads(1);
    pool *tp = pool_new(threads, &err);
    model *m = tp ? model_new(&cfg, 1, &err) : NULL;
    if (!m) {
        fprintf(stderr, "sft_step: %s\n", err.msg);
        return 1;
    }
    model_set_pool(m, tp);
    size_t BT = (size_t)B * T;
    size_t nfr = (size_t)B * cfg.n_frames * cfg.frame_pixels;
    size_t nmel = (size_t)B * cfg.audio_tokens * cfg.audio_window * cfg.n_mel;
    float *frames = malloc(nfr * sizeof(float)), *mel = malloc(nmel * sizeof(float));
    int *tokens = malloc(BT * sizeof(int)), *types = malloc(BT * sizeof(int));
    int *targets = malloc(BT * sizeof(int));
    if (!frames || !mel || !tokens || !types || !targets) {
        fprintf(stderr, "sft_step: out of memory\n");
        return 1;
    }
    uint64_t rng = 7;
    for (size_t i = 0; i < nfr; i++)
        frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < nmel; i++)
        mel[i] = (float)rng_range(&rng, -8, 0);
    int media = cfg.n_frames + cfg.audio_tokens;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            types[i] = t < cfg.n_frames ? 0 : t < media ? 1 : t < prefix - 1 ? 2 : 3;
            tokens[i] = t < media ? 0 : t == prefix - 1 ? 1 : 3 + rng_below(&rng, V - 3);
        }
    for (size_t i = 0; i < BT; i++) {
        int t = (int)(i % (size_t)T);
        targets[i] = t >= prefix - 1 && t < T - 1 ? tokens[i + 1] : -1;
    }
    model_batch bt = {.B = B, .T = T, .frames = frames, .mel = mel, .tokens = tokens,
                      .types = types, .targets = targets};

    double loss = 0;
    int ntok = 0;
    /* one warm-up step (allocates the activations), then the timed ones */
    if (model_forward_backward(m, &bt, &loss, &ntok, &err)) {
        fprintf(stderr, "sft_step: %s\n", err.msg);
        return 1;
    }
    double best = 1e30, total = 0;
    for (int i = 0; i < iters; i++) {
        double t0 = now();
        if (model_forward_backward(m, &bt, &loss, &ntok, &err)) {
            fprintf(stderr, "sft_step: %s\n", err.msg);
            return 1;
        }
        double dt = now() - t0;
        total += dt;
        best = dt < best ? dt : best;
    }
    double mean = total / iters, flops = step_flops(&cfg, B, T, ntok);
    uint64_t grad_hash = fnv1a(model_grads_flat(m), model_num_params(m) * sizeof(float));
    uint64_t sgemm_hash;
    openblas_set_num_threads(threads);
    double peak = sgemm_peak(1024, 5, &sgemm_hash);
    printf("impl=c threads=%d B=%d T=%d V=%d params=%zu tokens_per_s=%.0f ms_per_step=%.2f "
           "best_ms=%.2f step_gflops=%.2f sgemm_peak_gflops=%.2f loss_per_token=%.4f "
           "grad_hash=%016llx sgemm_hash=%016llx\n",
           threads, B, T, V, model_num_params(m), (double)BT / mean, mean * 1e3, best * 1e3,
           flops / mean * 1e-9, peak, loss / ntok, (unsigned long long)grad_hash,
           (unsigned long long)sgemm_hash);
    model_free(&m);
    pool_free(&tp);
    free(frames);
    free(mel);
    free(tokens);
    free(types);
    free(targets);
    return 0;
}
