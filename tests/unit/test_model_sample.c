/* Generation: the sampler's choices, and the KV-cached decode against the
 * full recomputation (same tokens for the same seed, greedy and sampled). */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/rng.h"
#include "ml/model.h"
#include "ml/sample.h"

enum { SV = 20, SMAXT = 24, SPRE = 8 };

static const model_config scfg = {.vocab = SV, .max_seq = SMAXT, .channels = 16, .layers = 2,
                                  .heads = 2, .mlp_ratio = 2, .n_frames = 2, .frame_pixels = 6,
                                  .audio_tokens = 2, .audio_window = 2, .n_mel = 3};

typedef struct {
    model *m;
    float frames[2 * 6], mel[4 * 3];
    int tokens[SPRE], types[SPRE];
    model_batch prefix;
} gen_ctx;

/* A model with parameters uniform in [-0.6, 0.6] (so that its choices vary)
 * and a prefix [v v a a s s s <bos>=1]. */
static int gen_setup(gen_ctx *g, uint64_t seed, migr_err *err)
{
    static const int tok[SPRE] = {0, 0, 0, 0, 7, 12, 4, 1};
    static const int typ[SPRE] = {0, 0, 1, 1, 2, 2, 2, 3};
    uint64_t rng = seed;
    g->m = model_new(&scfg, seed, err);
    if (!g->m)
        return -1;
    float *flat = model_params_flat(g->m);
    for (size_t i = 0; i < model_num_params(g->m); i++)
        flat[i] = (float)rng_range(&rng, -0.6, 0.6);
    for (size_t i = 0; i < sizeof g->frames / sizeof(float); i++)
        g->frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < sizeof g->mel / sizeof(float); i++)
        g->mel[i] = (float)rng_range(&rng, -2, 1);
    memcpy(g->tokens, tok, sizeof tok);
    memcpy(g->types, typ, sizeof typ);
    g->prefix = (model_batch){.B = 1, .T = SPRE, .frames = g->frames, .mel = g->mel,
                              .tokens = g->tokens, .types = g->types, .targets = NULL};
    return 0;
}

TEST(sample_pick_greedy_takes_the_largest_logit_lowest_id_on_ties)
{
    float logits[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
    int idx[5];
    double w[5];
    uint64_t rng = 1, before = rng;
    sample_config greedy = {.temperature = 0.0f, .top_k = 0, .max_new = 1, .eos = -1};
    sample_config k1 = {.temperature = 1.0f, .top_k = 1, .max_new = 1, .eos = -1};
    CHECK_INT(1, sample_pick(logits, 5, &greedy, &rng, idx, w));
    CHECK_INT(1, sample_pick(logits, 5, &k1, &rng, idx, w));
    CHECK(rng == before); /* greedy draws nothing */
}

TEST(sample_pick_top_k_stays_in_the_top_k_and_follows_the_softmax)
{
    /* p(1) : p(3) = e^1 : 1 at temperature 1, top 2 of {0.5, 1, -3, 0, -0.1} = ids 1, 0 */
    float logits[5] = {0.5f, 1.0f, -3.0f, 0.0f, -0.1f};
    int idx[5], count[5] = {0};
    double w[5];
    uint64_t rng = rng_stream(9, 0, 0);
    sample_config sc = {.temperature = 1.0f, .top_k = 2, .max_new = 1, .eos = -1};
    for (int i = 0; i < 4000; i++)
        count[sample_pick(logits, 5, &sc, &rng, idx, w)]++;
    CHECK_INT(0, count[2] + count[3] + count[4]);
    double p1 = 1.0 / (1.0 + exp(-0.5)); /* e^1 / (e^1 + e^0.5) */
    CHECK_NEAR(p1, count[1] / 4000.0, 0.03);
    /* temperature 2 flattens: p(1) = 1 / (1 + e^-0.25) */
    sc.temperature = 2.0f;
    count[0] = count[1] = 0;
    for (int i = 0; i < 4000; i++)
        count[sample_pick(logits, 5, &sc, &rng, idx, w)]++;
    CHECK_NEAR(1.0 / (1.0 + exp(-0.25)), count[1] / 4000.0, 0.03);
}

/* Generates with and without the cache under sc; both must agree. */
static int both_ways(gen_ctx *g, const sample_config *sc, int *out, int *n, char *msg, size_t len)
{
    migr_err err;
    int out2[SMAXT], n2;
    if (model_generate(g->m, &g->prefix, sc, out, n, 1, &err) != 0 ||
        model_generate(g->m, &g->prefix, sc, out2, &n2, 0, &err) != 0) {
        snprintf(msg, len, "model_generate: %s", err.msg);
        return -1;
    }
    if (*n != n2 || memcmp(out, out2, (size_t)n2 * sizeof(int)) != 0) {
        snprintf(msg, len, "cached made %d tokens (first %d), uncached %d (first %d)", *n, out[0],
                 n2, out2[0]);
        return -1;
    }
    return 0;
}

TEST(model_generate_with_and_without_the_kv_cache_gives_the_same_tokens)
{
    gen_ctx g;
    migr_err err;
    char msg[512];
    int out[SMAXT], n, distinct = 0;
    CHECK_MSG(gen_setup(&g, 3, &err) == 0, "%s", err.msg);
    sample_config configs[] = {
        {.temperature = 0.0f, .top_k = 0, .max_new = 16, .eos = -1, .seed = 1},
        {.temperature = 1.0f, .top_k = 5, .max_new = 16, .eos = -1, .seed = 2},
        {.temperature = 0.8f, .top_k = 0, .max_new = 16, .eos = -1, .seed = 3},
        {.temperature = 1.5f, .top_k = 0, .max_new = 16, .eos = -1, .seed = 4},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0] && ok; i++) {
        ok = both_ways(&g, &configs[i], out, &n, msg, sizeof msg) == 0 && n == 16;
        for (int j = 0; j < n; j++)
            distinct |= 1 << out[j];
    }
    model_free(&g.m);
    CHECK_MSG(ok, "%s", msg);
    /* the outputs are not degenerate */
    CHECK(__builtin_popcount((unsigned)distinct) >= 5);
}

TEST(model_generate_stops_at_eos_and_at_max_seq)
{
    gen_ctx g;
    migr_err err;
    char msg[512];
    int out[SMAXT], n, first[SMAXT], nfirst;
    CHECK_MSG(gen_setup(&g, 4, &err) == 0, "%s", err.msg);
    sample_config sc = {.temperature = 1.0f, .top_k = 8, .max_new = 100, .eos = -1, .seed = 5};
    int ok = both_ways(&g, &sc, first, &nfirst, msg, sizeof msg) == 0;
    /* the sequence fills max_seq: 24 - 8 prefix positions */
    int filled = ok && nfirst == SMAXT - SPRE;
    /* make the 4th token the eos: the same seed stops at its first occurrence */
    sc.eos = first[3];
    int j0 = 0;
    while (first[j0] != sc.eos)
        j0++;
    ok = ok && both_ways(&g, &sc, out, &n, msg, sizeof msg) == 0;
    int stopped = n == j0 + 1 && memcmp(out, first, (size_t)n * sizeof(int)) == 0;
    /* max_new */
    sc.eos = -1;
    sc.max_new = 2;
    ok = ok && both_ways(&g, &sc, out, &n, msg, sizeof msg) == 0;
    int capped = n == 2 && out[0] == first[0] && out[1] == first[1];
    model_free(&g.m);
    CHECK_MSG(ok, "%s", msg);
    CHECK(filled);
    CHECK(stopped);
    CHECK(capped);
}

TEST(model_generate_is_reproducible_per_seed_and_refuses_a_bad_prefix)
{
    gen_ctx g;
    migr_err err;
    int a[SMAXT], b[SMAXT], c[SMAXT], na, nb, nc;
    CHECK_MSG(gen_setup(&g, 5, &err) == 0, "%s", err.msg);
    sample_config sc = {.temperature = 2.0f, .top_k = 0, .max_new = 12, .eos = -1, .seed = 77};
    int ok = model_generate(g.m, &g.prefix, &sc, a, &na, 1, &err) == 0 &&
             model_generate(g.m, &g.prefix, &sc, b, &nb, 1, &err) == 0;
    sc.seed = 78;
    ok = ok && model_generate(g.m, &g.prefix, &sc, c, &nc, 1, &err) == 0;
    int same = ok && na == nb && memcmp(a, b, (size_t)na * sizeof(int)) == 0;
    int differ = ok && memcmp(a, c, (size_t)na * sizeof(int)) != 0;
    g.prefix.B = 2;
    int refused = model_generate(g.m, &g.prefix, &sc, a, &na, 1, &err) == -1 && na == 0 &&
                  strstr(err.msg, "B=2") != NULL;
    g.prefix.B = 1;
    g.tokens[5] = SV;
    int bad_id = model_generate(g.m, &g.prefix, &sc, a, &na, 1, &err) == -1;
    model_free(&g.m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(same);
    CHECK(differ);
    CHECK(refused);
    CHECK(bad_id);
}

/* ---- a rollout on several threads ------------------------------------------- */

enum { RG = 6, RMAX = SMAXT - SPRE };

/* What a rollout task makes of one prefix (worker/grpo.c): RG completions
 * side by side (model_generate_many), then their log-probs from one forward
 * over the RG sequences. */
typedef struct {
    int tokens[RG][RMAX], n[RG];
    float logprobs[RG * RMAX];
    int ntok;
} rollout_bits;

static int rollout_take(gen_ctx *g, rollout_bits *r, migr_err *err)
{
    sample_config sc[RG];
    int *outs[RG];
    for (int k = 0; k < RG; k++) {
        /* sampled, some stopping at eos (5), some at max_seq, one greedy */
        sc[k] = (sample_config){.temperature = k == 0 ? 0.0f : 1.2f, .top_k = k % 2 ? 6 : 0,
                                .max_new = k == 5 ? 3 : 100, .eos = k % 3 ? 5 : -1,
                                .seed = 40 + (uint64_t)k};
        outs[k] = r->tokens[k];
    }
    if (model_generate_many(g->m, &g->prefix, sc, RG, outs, r->n, err) != 0)
        return -1;
    enum { T = SMAXT };
    static float frames[RG * 2 * 6], mel[RG * 4 * 3];
    static int tokens[RG * T], types[RG * T], targets[RG * T];
    for (int k = 0; k < RG; k++) {
        memcpy(frames + k * 12, g->frames, sizeof g->frames);
        memcpy(mel + k * 12, g->mel, sizeof g->mel);
        for (int t = 0; t < T; t++) {
            int i = k * T + t, j = t - SPRE; /* completion token j */
            tokens[i] = t < SPRE ? g->tokens[t] : j < r->n[k] ? r->tokens[k][j] : 0;
            types[i] = t < SPRE ? g->types[t] : 3;
            targets[i] = t >= SPRE - 1 && j + 1 < r->n[k] ? r->tokens[k][j + 1] : -1;
        }
    }
    model_batch bt = {.B = RG, .T = T, .frames = frames, .mel = mel, .tokens = tokens,
                      .types = types, .targets = targets};
    if (model_forward(g->m, &bt, NULL, &r->ntok, err) != 0)
        return -1;
    for (int i = 0; i < r->ntok; i++)
        r->logprobs[i] = -model_token_losses(g->m)[i];
    return 0;
}

/* A rollout's sampled tokens and log-probs are the same bits with no pool
 * as on 1, 2 and 3 threads, and each completion is what model_generate
 * makes of its config alone. */
TEST(rollout_tokens_and_logprobs_are_the_same_bits_at_1_2_and_3_threads)
{
    gen_ctx g;
    migr_err err;
    static rollout_bits r[4];
    CHECK_MSG(gen_setup(&g, 6, &err) == 0, "%s", err.msg);
    int ok = 1;
    for (int k = 0; k < 4 && ok; k++) {
        pool *tp = k ? pool_new(k, &err) : NULL;
        ok = !k || tp;
        if (ok) {
            model_set_pool(g.m, tp);
            ok = rollout_take(&g, &r[k], &err) == 0;
            model_set_pool(g.m, NULL);
        }
        pool_free(&tp);
    }
    int alone[RMAX], nalone = 0, lengths = 0;
    for (int j = 0; j < RG && ok; j++) {
        sample_config sc = {.temperature = j == 0 ? 0.0f : 1.2f, .top_k = j % 2 ? 6 : 0,
                            .max_new = j == 5 ? 3 : 100, .eos = j % 3 ? 5 : -1,
                            .seed = 40 + (uint64_t)j};
        ok = model_generate(g.m, &g.prefix, &sc, alone, &nalone, 1, &err) == 0;
        CHECK_MSG(!ok || (nalone == r[0].n[j] &&
                          memcmp(alone, r[0].tokens[j], (size_t)nalone * sizeof(int)) == 0),
                  "completion %d: model_generate_many made %d tokens, model_generate %d", j,
                  r[0].n[j], nalone);
        lengths |= 1 << r[0].n[j];
    }
    model_free(&g.m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(__builtin_popcount((unsigned)lengths) >= 3, "the completions' lengths hardly vary (%x)", lengths);
    for (int k = 1; k < 4; k++) {
        CHECK_INT(r[0].ntok, r[k].ntok);
        CHECK_MSG(memcmp(r[0].n, r[k].n, sizeof r[0].n) == 0 &&
                      memcmp(r[0].tokens, r[k].tokens, sizeof r[0].tokens) == 0,
                  "the sampled tokens differ at %d thread(s)", k);
        CHECK_MSG(memcmp(r[0].logprobs, r[k].logprobs, (size_t)r[0].ntok * sizeof(float)) == 0,
                  "the log-probs differ at %d thread(s)", k);
    }
}
