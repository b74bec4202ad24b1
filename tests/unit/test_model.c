/* The model's contract beyond its gradients: configuration checks, the
 * parameter layout and initialization, batch validation, the summed loss,
 * causality over trailing padding, determinism, and that shard gradients
 * add up to the whole batch's. */
#include "check.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "ml/model.h"

enum { MB = 3, MT = 12 };

static const model_config small = {.vocab = 13, .max_seq = 16, .channels = 8, .layers = 2,
                                   .heads = 2, .mlp_ratio = 4, .n_frames = 2, .frame_pixels = 6,
                                   .audio_tokens = 2, .audio_window = 2, .n_mel = 3};

typedef struct {
    float frames[MB * 2 * 6], mel[MB * 4 * 3];
    int tokens[MB * MT], types[MB * MT], targets[MB * MT];
} batch_data;

/* Sequence b: 2 frames, 2 audio tokens, a subtitle word, <bos>=1, then
 * words and <eos>=2, padded with 0 from position 8 + b on. */
static model_batch make_batch(batch_data *d, int B, uint64_t seed)
{
    uint64_t rng = seed;
    for (int b = 0; b < B; b++) {
        int end = 8 + b; /* first pad position */
        for (int t = 0; t < MT; t++) {
            int i = b * MT + t;
            d->types[i] = t < 2 ? 0 : t < 4 ? 1 : t == 4 ? 2 : 3;
            d->tokens[i] = t < 4 ? 0 : t == 5 ? 1 : t == end - 1 ? 2 : t >= end ? 0 : 3 + rng_below(&rng, 10);
            d->targets[i] = -1;
        }
        for (int t = 5; t < end - 1; t++)
            d->targets[b * MT + t] = d->tokens[b * MT + t + 1];
    }
    for (size_t i = 0; i < sizeof d->frames / sizeof(float); i++)
        d->frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < sizeof d->mel / sizeof(float); i++)
        d->mel[i] = (float)rng_range(&rng, -3, 1);
    return (model_batch){.B = B, .T = MT, .frames = d->frames, .mel = d->mel,
                         .tokens = d->tokens, .types = d->types, .targets = d->targets};
}

TEST(model_config_check_names_the_bad_field)
{
    migr_err err;
    model_config c = small;
    CHECK(model_config_check(&c, &err) == 0);
    c.heads = 3;
    CHECK_INT(-1, model_config_check(&c, &err));
    CHECK_MSG(strstr(err.msg, "heads") != NULL, "got \"%s\"", err.msg);
    c = small;
    c.layers = 0;
    CHECK_INT(-1, model_config_check(&c, &err));
    CHECK_MSG(strstr(err.msg, "layers") != NULL, "got \"%s\"", err.msg);
    c = small;
    c.max_seq = 4; /* 2 frames + 2 audio leave no room */
    CHECK_INT(-1, model_config_check(&c, &err));
    CHECK_MSG(strstr(err.msg, "max_seq") != NULL, "got \"%s\"", err.msg);
    CHECK(model_new(&c, 1, &err) == NULL);
}

TEST(model_params_follow_the_header_order_and_sizes)
{
    migr_err err;
    size_t sizes[MODEL_NUM_PARAMS], total = 0;
    CHECK_INT(MODEL_NUM_PARAMS, model_param_sizes(&small, sizes));
    for (int i = 0; i < MODEL_NUM_PARAMS; i++)
        total += sizes[i];
    CHECK_INT(13 * 8, sizes[0]);          /* wte (V, C) */
    CHECK_INT(8 * 3 * 2, sizes[5]);       /* waud (C, W * n_mel) */
    CHECK_INT(2 * 3 * 8 * 8, sizes[9]);   /* qkvw (L, 3C, C) */
    CHECK_INT(2 * 8 * 32, sizes[17]);     /* fcprojw (L, C, RC) */
    model *m = model_new(&small, 1, &err);
    CHECK_MSG(m != NULL, "model_new: %s", err.msg);
    const model_params *p = model_param_ptrs(m), *g = model_grad_ptrs(m);
    float *flat = model_params_flat(m);
    int ok = model_num_params(m) == total && p->wte == flat && p->wpe == flat + sizes[0] &&
             p->lnfb == flat + total - 8 && g->wte == model_grads_flat(m) &&
             g->lnfb == model_grads_flat(m) + total - 8;
    model_free(&m);
    CHECK(ok);
}

static double stddev(const float *x, size_t n)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    return sqrt(s2 / n - (s / n) * (s / n));
}

TEST(model_init_is_seeded_normal_with_scaled_projections_unit_ln_and_zero_biases)
{
    migr_err err;
    model_config c = small;
    c.vocab = 4000; /* enough samples for the statistics */
    c.layers = 8;
    c.channels = 32;
    c.heads = 4;
    model *a = model_new(&c, 11, &err), *b = model_new(&c, 11, &err), *d = model_new(&c, 12, &err);
    CHECK_MSG(a && b && d, "model_new: %s", err.msg);
    const model_params *p = model_param_ptrs(a);
    size_t n = model_num_params(a);
    int same = memcmp(model_params_flat(a), model_params_flat(b), n * sizeof(float)) == 0;
    int differ = memcmp(model_params_flat(a), model_params_flat(d), n * sizeof(float)) != 0;
    double sd_wte = stddev(p->wte, (size_t)c.vocab * c.channels);
    double sd_fcproj = stddev(p->fcprojw, (size_t)c.layers * c.channels * 4 * c.channels);
    int ln_ok = p->ln1w[5] == 1.0f && p->ln2w[100] == 1.0f && p->lnfw[31] == 1.0f;
    int bias_ok = p->bvis[0] == 0.0f && p->qkvb[17] == 0.0f && p->fcb[3] == 0.0f &&
                  p->ln1b[2] == 0.0f && p->lnfb[0] == 0.0f;
    model_free(&a);
    model_free(&b);
    model_free(&d);
    CHECK(same);
    CHECK(differ);
    CHECK_NEAR(0.02, sd_wte, 0.0005);
    CHECK_NEAR(0.02 / 4.0, sd_fcproj, 0.0002); /* 1/sqrt(2L) = 1/4 */
    CHECK(ln_ok);
    CHECK(bias_ok);
}

TEST(model_forward_refuses_bad_ids_types_and_lengths)
{
    migr_err err;
    batch_data d;
    model *m = model_new(&small, 1, &err);
    CHECK(m != NULL);
    model_batch bt = make_batch(&d, 2, 5);
    d.tokens[7] = 13;
    int bad_token = model_forward(m, &bt, NULL, NULL, &err) == -1 && strstr(err.msg, "token id 13");
    d.tokens[7] = 3;
    d.types[7] = 4;
    int bad_type = model_forward(m, &bt, NULL, NULL, &err) == -1 && strstr(err.msg, "type 4");
    d.types[7] = 3;
    d.targets[7] = 99;
    int bad_target = model_forward(m, &bt, NULL, NULL, &err) == -1 && strstr(err.msg, "target 99");
    d.targets[7] = -1;
    bt.T = 17;
    int too_long = model_forward(m, &bt, NULL, NULL, &err) == -1;
    int no_backward = model_backward(m, &err) == -1 && strstr(err.msg, "no forward");
    bt.T = MT;
    int fine = model_forward(m, &bt, NULL, NULL, &err) == 0;
    model_free(&m);
    CHECK(bad_token);
    CHECK(bad_type);
    CHECK(bad_target);
    CHECK(too_long);
    CHECK(no_backward);
    CHECK(fine);
}

TEST(model_loss_is_the_sum_of_target_log_probs_and_counts_them)
{
    migr_err err;
    batch_data d;
    double loss, ref = 0.0;
    int ntok, count = 0;
    model *m = model_new(&small, 3, &err);
    CHECK(m != NULL);
    model_batch bt = make_batch(&d, MB, 6);
    CHECK_MSG(model_forward(m, &bt, &loss, &ntok, &err) == 0, "%s", err.msg);
    for (int i = 0; i < MB * MT; i++) {
        if (d.targets[i] < 0)
            continue;
        const float *row = model_logits_row(m, i / MT, i % MT);
        CHECK(row != NULL);
        double s = 0;
        for (int v = 0; v < small.vocab; v++)
            s += exp((double)row[v]);
        ref += log(s) - row[d.targets[i]];
        count++;
    }
    model_free(&m);
    CHECK_INT(count, ntok);
    CHECK_INT(2 + 3 + 4, ntok);
    CHECK_NEAR(ref, loss, 1e-5 * ref);
    /* near-uniform predictions at init: about log(V) per token */
    CHECK_NEAR(log(13.0), loss / ntok, 0.1);
}

TEST(model_trailing_padding_never_changes_earlier_positions)
{
    migr_err err;
    batch_data d;
    int V = small.vocab;
    model *m = model_new(&small, 4, &err);
    CHECK(m != NULL);
    model_batch bt = make_batch(&d, 1, 7); /* pad from position 8 */
    bt.all_logits = 1;
    CHECK(model_forward(m, &bt, NULL, NULL, &err) == 0);
    float before[8 * 13];
    for (int t = 0; t < 8; t++)
        memcpy(before + t * V, model_logits_row(m, 0, t), V * sizeof(float));
    for (int t = 8; t < MT; t++)
        d.tokens[t] = 9;
    CHECK(model_forward(m, &bt, NULL, NULL, &err) == 0);
    double maxdiff = 0;
    for (int i = 0; i < 8 * V; i++)
        maxdiff = fmax(maxdiff, fabs(before[i] - model_logits_row(m, 0, i / V)[i % V]));
    model_free(&m);
    CHECK_MSG(maxdiff <= 1e-6, "logits before the padding moved by %g", maxdiff);
}

TEST(model_all_logits_adds_rows_but_changes_no_loss_or_gradient_bit)
{
    migr_err err;
    batch_data d;
    double l1, l2;
    int n1, n2;
    model *m = model_new(&small, 6, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m);
    float *g1 = malloc(n * sizeof(float));
    float row[13];
    CHECK(g1 != NULL);
    model_batch bt = make_batch(&d, MB, 10);
    int ok = model_forward(m, &bt, &l1, &n1, &err) == 0 && model_backward(m, &err) == 0;
    memcpy(g1, model_grads_flat(m), n * sizeof(float));
    /* by default only rows with a target have logits: [0][5] has, [0][4] and [0][11] not */
    int rows_default = ok && model_logits_row(m, 0, 5) != NULL &&
                       model_logits_row(m, 0, 4) == NULL && model_logits_row(m, 0, 11) == NULL &&
                       model_logits_row(m, MB, 5) == NULL && model_logits_row(m, 0, MT) == NULL;
    if (ok)
        memcpy(row, model_logits_row(m, 2, 6), sizeof row);
    bt.all_logits = 1;
    ok = ok && model_forward(m, &bt, &l2, &n2, &err) == 0 && model_backward(m, &err) == 0;
    int rows_all = ok;
    for (int i = 0; ok && i < MB * MT; i++)
        rows_all = rows_all && model_logits_row(m, i / MT, i % MT) != NULL;
    double rowdiff = 0;
    for (int v = 0; ok && v < 13; v++)
        rowdiff = fmax(rowdiff, fabs(row[v] - model_logits_row(m, 2, 6)[v]));
    int same = ok && l1 == l2 && n1 == n2 && memcmp(g1, model_grads_flat(m), n * sizeof(float)) == 0;
    free(g1);
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(rows_default);
    CHECK(rows_all);
    CHECK_MSG(rowdiff <= 1e-6, "a target row's logits moved by %g with all_logits", rowdiff);
    CHECK(same);
}

TEST(model_batch_without_targets_has_zero_loss_and_zero_gradients)
{
    migr_err err;
    batch_data d;
    double loss = -1;
    int ntok = -1;
    model *m = model_new(&small, 11, &err);
    CHECK(m != NULL);
    model_batch bt = make_batch(&d, MB, 12);
    for (int i = 0; i < MB * MT; i++)
        d.targets[i] = -1;
    int ok = model_forward(m, &bt, &loss, &ntok, &err) == 0 && model_backward(m, &err) == 0;
    size_t n = model_num_params(m), nonzero = 0;
    for (size_t i = 0; ok && i < n; i++)
        nonzero += model_grads_flat(m)[i] != 0.0f;
    int no_rows = model_logits_row(m, 0, 5) == NULL;
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(0, ntok);
    CHECK(loss == 0.0);
    CHECK_INT(0, nonzero);
    CHECK(no_rows);
}

TEST(model_forward_backward_is_bitwise_deterministic_and_survives_regrowth)
{
    migr_err err;
    batch_data d;
    double l1, l2;
    model *m = model_new(&small, 5, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m);
    float *g1 = malloc(n * sizeof(float));
    CHECK(g1 != NULL);
    model_batch big = make_batch(&d, MB, 8);
    model_batch one = big;
    one.B = 1;
    one.T = 6;
    int ok = model_forward(m, &big, &l1, NULL, &err) == 0 && model_backward(m, &err) == 0;
    memcpy(g1, model_grads_flat(m), n * sizeof(float));
    /* shrink, then grow back: the activations are re-carved each time */
    ok = ok && model_forward(m, &one, NULL, NULL, &err) == 0 && model_backward(m, &err) == 0;
    ok = ok && model_forward(m, &big, &l2, NULL, &err) == 0 && model_backward(m, &err) == 0;
    int same = ok && l1 == l2 && memcmp(g1, model_grads_flat(m), n * sizeof(float)) == 0;
    free(g1);
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(same);
}

TEST(model_shard_gradients_sum_to_the_whole_batch_gradient)
{
    migr_err err;
    batch_data d;
    double whole, part, sum = 0.0;
    int ntok, nsum = 0;
    model *m = model_new(&small, 6, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m);
    float *gw = malloc(n * sizeof(float)), *gs = calloc(n, sizeof(float));
    CHECK(gw && gs);
    model_batch bt = make_batch(&d, MB, 9);
    int ok = model_forward(m, &bt, &whole, NULL, &err) == 0 && model_backward(m, &err) == 0;
    memcpy(gw, model_grads_flat(m), n * sizeof(float));
    /* shard 0 = sequence 0, shard 1 = sequences 1 and 2 */
    model_batch s0 = bt, s1 = bt;
    s0.B = 1;
    s1.B = 2;
    s1.frames += 2 * 6;
    s1.mel += 4 * 3;
    s1.tokens += MT;
    s1.types += MT;
    s1.targets += MT;
    const model_batch *shards[2] = {&s0, &s1};
    for (int s = 0; s < 2 && ok; s++) {
        ok = model_forward(m, shards[s], &part, &ntok, &err) == 0 && model_backward(m, &err) == 0;
        sum += part;
        nsum += ntok;
        for (size_t i = 0; i < n; i++)
            gs[i] += model_grads_flat(m)[i];
    }
    double maxdiff = 0, maxg = 0;
    for (size_t i = 0; i < n; i++) {
        maxdiff = fmax(maxdiff, fabs(gw[i] - gs[i]));
        maxg = fmax(maxg, fabs(gw[i]));
    }
    free(gw);
    free(gs);
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_INT(9, nsum);
    CHECK_NEAR(whole, sum, 1e-5 * whole);
    CHECK_MSG(maxdiff <= 1e-5 * maxg, "shard sum differs by %g (max |grad| %g)", maxdiff, maxg);
}

/* Bits across OpenBLAS thread counts.  Long inner dimensions (V = 600 for
 * dinp of the logits, B*T = 320 rows for every dweight) are where OpenBLAS
 * sums differently with 1 and 2 threads; layers.c cuts them into blocks so
 * that it does not.  A measurement on this BLAS, guarded here. */
TEST(model_gradients_are_the_same_bits_at_1_and_2_blas_threads)
{
    migr_err err;
    model_config c = small;
    c.vocab = 600;
    c.max_seq = 80;
    enum { B = 4, T = 80 };
    static float frames[B * 2 * 6], mel[B * 4 * 3];
    static int tokens[B * T], types[B * T], targets[B * T];
    uint64_t rng = 12;
    for (size_t i = 0; i < sizeof frames / sizeof(float); i++)
        frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < sizeof mel / sizeof(float); i++)
        mel[i] = (float)rng_range(&rng, -3, 1);
    for (int i = 0; i < B * T; i++) {
        int t = i % T;
        types[i] = t < 2 ? 0 : t < 4 ? 1 : 3;
        tokens[i] = t < 4 ? 0 : rng_below(&rng, 600);
    }
    for (int i = 0; i < B * T; i++)
        targets[i] = i % T >= 4 && i % T < T - 1 ? tokens[i + 1] : -1;
    model_batch bt = {.B = B, .T = T, .frames = frames, .mel = mel, .tokens = tokens,
                      .types = types, .targets = targets};
    model *m = model_new(&c, 8, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m);
    float *g1 = malloc(n * sizeof(float));
    CHECK(g1 != NULL);
    int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int ok = model_forward(m, &bt, NULL, NULL, &err) == 0 && model_backward(m, &err) == 0;
    memcpy(g1, model_grads_flat(m), n * sizeof(float));
    openblas_set_num_threads(2);
    ok = ok && model_forward(m, &bt, NULL, NULL, &err) == 0 && model_backward(m, &err) == 0;
    openblas_set_num_threads(before);
    size_t ndiff = 0;
    for (size_t i = 0; i < n; i++)
        ndiff += memcmp(&g1[i], &model_grads_flat(m)[i], sizeof(float)) != 0;
    free(g1);
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(ndiff == 0, "%zu of %zu gradient values differ between 1 and 2 BLAS threads", ndiff, n);
}

/* What a run of the model gives, to compare bit for bit: the SFT step's
 * loss and gradients (model_forward_backward), then an unfused forward's
 * token losses and every logit, and the GRPO backward's gradients
 * (model_backward_weighted) after it. */
typedef struct {
    double loss;
    float *grads, *token_losses, *logits, *weighted;
    int ntok;
} model_bits;

static int model_bits_take(model *m, model_batch bt, const float *weights, model_bits *r,
                           migr_err *err)
{
    size_t n = model_num_params(m);
    int V = model_cfg(m)->vocab;
    if (model_forward_backward(m, &bt, &r->loss, NULL, err) != 0)
        return -1;
    memcpy(r->grads, model_grads_flat(m), n * sizeof(float));
    bt.all_logits = 1;
    if (model_forward(m, &bt, NULL, &r->ntok, err) != 0)
        return -1;
    memcpy(r->token_losses, model_token_losses(m), (size_t)r->ntok * sizeof(float));
    for (int b = 0; b < bt.B; b++)
        for (int t = 0; t < bt.T; t++)
            memcpy(r->logits + ((size_t)b * bt.T + t) * V, model_logits_row(m, b, t),
                   (size_t)V * sizeof(float));
    if (model_backward_weighted(m, weights, err) != 0)
        return -1;
    memcpy(r->weighted, model_grads_flat(m), n * sizeof(float));
    return 0;
}

/* Values of a and b (n floats) whose bits differ. */
static size_t bits_differ(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* The same batch on no pool and on pools of 1, 2 and 3 threads: every loss,
 * logit and gradient the same bits.  B*T = 320 rows make three blocks of
 * rows and two partial sums in every weight gradient, 16 (sequence, head)
 * pairs, and 7 blocks of LM-head rows, which go in rounds of 1, 2 and 3. */
TEST(model_losses_logits_and_gradients_are_the_same_bits_at_1_2_and_3_threads)
{
    migr_err err;
    model_config c = small;
    c.vocab = 600;
    c.max_seq = 80;
    c.heads = 4;
    enum { B = 4, T = 80 };
    static float frames[B * 2 * 6], mel[B * 4 * 3], weights[B * T];
    static int tokens[B * T], types[B * T], targets[B * T];
    uint64_t rng = 31;
    for (size_t i = 0; i < sizeof frames / sizeof(float); i++)
        frames[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < sizeof mel / sizeof(float); i++)
        mel[i] = (float)rng_range(&rng, -3, 1);
    for (int i = 0; i < B * T; i++) {
        int t = i % T;
        types[i] = t < 2 ? 0 : t < 4 ? 1 : t < 6 ? 2 : 3;
        tokens[i] = t < 4 ? 0 : rng_below(&rng, 600);
        weights[i] = (float)rng_range(&rng, -1, 1);
    }
    for (int i = 0; i < B * T; i++) /* sequence b has targets from position 6 + b */
        targets[i] = i % T >= 6 + i / T && i % T < T - 1 ? tokens[i + 1] : -1;
    model_batch bt = {.B = B, .T = T, .frames = frames, .mel = mel, .tokens = tokens,
                      .types = types, .targets = targets};
    model *m = model_new(&c, 9, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m), nlog = (size_t)B * T * c.vocab;
    model_bits r[4];
    for (int k = 0; k < 4; k++) {
        r[k].grads = malloc(n * sizeof(float));
        r[k].weighted = malloc(n * sizeof(float));
        r[k].token_losses = malloc((size_t)B * T * sizeof(float));
        r[k].logits = malloc(nlog * sizeof(float));
        CHECK(r[k].grads && r[k].weighted && r[k].token_losses && r[k].logits);
    }
    int ok = 1;
    for (int k = 0; k < 4 && ok; k++) {
        pool *tp = k ? pool_new(k, &err) : NULL;
        ok = !k || tp;
        if (ok) {
            model_set_pool(m, tp);
            ok = model_bits_take(m, bt, weights, &r[k], &err) == 0;
            model_set_pool(m, NULL); /* before the pool goes */
        }
        pool_free(&tp);
    }
    model_free(&m);
    CHECK_MSG(ok, "%s", err.msg);
    for (int k = 1; k < 4; k++) {
        CHECK_MSG(memcmp(&r[0].loss, &r[k].loss, sizeof(double)) == 0,
                  "loss %.17g at %d thread(s), %.17g with no pool", r[k].loss, k, r[0].loss);
        CHECK_INT(r[0].ntok, r[k].ntok);
        size_t dg = bits_differ(r[0].grads, r[k].grads, n);
        size_t dl = bits_differ(r[0].token_losses, r[k].token_losses, (size_t)r[0].ntok);
        size_t dz = bits_differ(r[0].logits, r[k].logits, nlog);
        size_t dw = bits_differ(r[0].weighted, r[k].weighted, n);
        CHECK_MSG(dg + dl + dz + dw == 0,
                  "at %d thread(s), values that differ from no pool's: %zu of %zu gradients, "
                  "%zu token losses, %zu of %zu logits, %zu weighted gradients",
                  k, dg, n, dl, dz, nlog, dw);
    }
    for (int k = 0; k < 4; k++)
        free(r[k].grads), free(r[k].weighted), free(r[k].token_losses), free(r[k].logits);
}

/* The GRPO backward: weighting each target position's loss.  Weights of 1
 * give model_backward's bits; a one-hot weight gives the gradient of that
 * position's loss alone (the forward with only that target); and the
 * per-position losses add up to the summed loss. */
TEST(model_backward_weighted_is_the_gradient_of_the_weighted_token_losses)
{
    migr_err err;
    batch_data d, only;
    model_batch b = make_batch(&d, MB, 5), b1;
    model *m = model_new(&small, 3, &err);
    size_t n = m ? model_num_params(m) : 0;
    float *ref = malloc(n * sizeof *ref), *w = NULL;
    double loss, sum = 0;
    int ntok = 0, ok = 1;

    CHECK(m && ref);
    CHECK(model_forward(m, &b, &loss, &ntok, &err) == 0 && model_backward(m, &err) == 0);
    memcpy(ref, model_grads_flat(m), n * sizeof *ref);
    const float *losses = model_token_losses(m);
    for (int r = 0; r < ntok; r++)
        sum += losses[r];
    CHECK_NEAR(loss, sum, 1e-4 * fabs(loss));
    w = malloc((size_t)ntok * sizeof *w);
    CHECK(w);
    for (int r = 0; r < ntok; r++)
        w[r] = 1.0f;
    CHECK(model_backward_weighted(m, w, &err) == 0);
    ok = memcmp(ref, model_grads_flat(m), n * sizeof *ref) == 0;
    CHECK_MSG(ok, "weights of 1 changed the gradient");

    /* One-hot on the third target position, found in (b, t) order. */
    int third = -1;
    for (int i = 0, r = 0; i < MB * MT; i++)
        if (d.targets[i] >= 0 && r++ == 2)
            third = i;
    for (int r = 0; r < ntok; r++)
        w[r] = r == 2 ? 1.0f : 0.0f;
    CHECK(model_backward_weighted(m, w, &err) == 0);
    memcpy(ref, model_grads_flat(m), n * sizeof *ref);
    b1 = make_batch(&only, MB, 5);
    for (int i = 0; i < MB * MT; i++)
        if (i != third)
            only.targets[i] = -1;
    CHECK(model_forward(m, &b1, &loss, &ntok, &err) == 0 && model_backward(m, &err) == 0);
    CHECK_INT(1, ntok);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(ref[i] - model_grads_flat(m)[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    free(ref);
    free(w);
    model_free(&m);
    CHECK_MSG(worst <= 1e-5 * scale, "one-hot weighted gradient differs by %g (scale %g)", worst, scale);
}

/* The SFT step's fused call against the plain pair: the same loss and
 * token count to the bit, gradients the same but for dwte's last bits
 * (its LM-head part is summed block by block instead of by sgemm), no
 * logits kept, and a weighted backward refused until a plain forward. */
TEST(model_forward_backward_matches_forward_then_backward)
{
    migr_err err;
    batch_data d;
    double l1 = 0, l2 = 0;
    int n1 = 0, n2 = 0;
    model *m = model_new(&small, 8, &err);
    CHECK(m != NULL);
    size_t n = model_num_params(m);
    float *g1 = malloc(n * sizeof(float)), w[MB * MT];
    CHECK(g1 != NULL);
    for (int i = 0; i < MB * MT; i++)
        w[i] = 1.0f;
    model_batch bt = make_batch(&d, MB, 12);
    CHECK_MSG(model_forward(m, &bt, &l1, &n1, &err) == 0 && model_backward(m, &err) == 0, "%s",
              err.msg);
    memcpy(g1, model_grads_flat(m), n * sizeof(float));
    CHECK_MSG(model_forward_backward(m, &bt, &l2, &n2, &err) == 0, "%s", err.msg);
    CHECK(l1 == l2);
    CHECK_INT(n1, n2);
    const float *g2 = model_grads_flat(m);
    const float *wte = model_grad_ptrs(m)->wte;
    size_t wte_at = (size_t)(wte - g2), wte_n = (size_t)small.vocab * small.channels;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(g1[i]));
        if (i >= wte_at && i < wte_at + wte_n)
            worst = fmax(worst, fabs((double)g1[i] - g2[i]));
        else
            CHECK_MSG(g1[i] == g2[i], "gradient %zu outside wte: %g vs %g", i, g1[i], g2[i]);
    }
    CHECK_MSG(worst <= 1e-6 * scale, "dwte differs by %g (largest gradient %g)", worst, scale);
    CHECK(model_logits_row(m, 0, 5) == NULL);
    CHECK_INT(-1, model_backward_weighted(m, w, &err));
    CHECK_MSG(strstr(err.msg, "model_forward") != NULL, "got \"%s\"", err.msg);
    memcpy(g1, g2, n * sizeof(float));
    CHECK(model_backward(m, &err) == 0); /* the same gradients again */
    CHECK(memcmp(g1, model_grads_flat(m), n * sizeof(float)) == 0);
    CHECK(model_forward(m, &bt, &l1, &n1, &err) == 0 && model_backward_weighted(m, w, &err) == 0);
    free(g1);
    model_free(&m);
}
