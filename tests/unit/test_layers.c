/* Layer kernels: each backward against central finite differences of its
 * forward, on every coordinate of small random inputs.
 *
 * The scalar differentiated is S = sum_i w_i * out_i (w fixed, random),
 * accumulated in double; the backward gets dout = w.  Central differences
 * with step EPS = 1e-2 in float have a truncation error ~EPS^2 * S''' and a
 * rounding error ~1e-7 * |S| / EPS, both well under 1e-3 at these sizes, so
 * the bound is
 *     |analytic - numeric| <= FD_ATOL + FD_RTOL * |numeric|
 * with FD_ATOL = 1e-3 and FD_RTOL = 1e-2; a wrong backward misses by the
 * size of the gradient itself (0.1 .. 1 here). */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/rng.h"
#include "ml/layers.h"
#include "ml/model.h"

#define EPS 1e-2f
#define FD_ATOL 1e-3
#define FD_RTOL 1e-2

static void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_range(rng, lo, hi);
}

static double dot_w(const float *out, const float *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)out[i] * w[i];
    return s;
}

/* Compares grad (n) with central differences of loss(ctx) in x (n).
 * Returns 0, or -1 with msg naming the first coordinate out of bounds;
 * *maxerr gets the largest |analytic - numeric| seen. */
static int fd_compare(const char *name, float *x, const float *grad, size_t n,
                      double (*loss)(void *), void *ctx, double *maxerr, char *msg, size_t msglen)
{
    *maxerr = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + EPS;
        double lp = loss(ctx);
        x[i] = keep - EPS;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * EPS), diff = fabs(grad[i] - num);
        if (diff > *maxerr)
            *maxerr = diff;
        if (!(diff <= FD_ATOL + FD_RTOL * fabs(num))) {
            snprintf(msg, msglen, "%s[%zu]: analytic %.6g, numeric %.6g", name, i, grad[i], num);
            return -1;
        }
    }
    return 0;
}

#define CHECK_FD(name, x, grad, n, loss, ctx)                                   \
    do {                                                                        \
        char msg_[256];                                                         \
        double maxerr_;                                                         \
        CHECK_MSG(fd_compare(name, x, grad, n, loss, ctx, &maxerr_, msg_, sizeof msg_) == 0, \
                  "%s", msg_);                                                  \
        if (getenv("MIGR_TEST_VERBOSE"))                                        \
            fprintf(stderr, "    %-10s max |analytic - numeric| %.3g\n", name, maxerr_); \
    } while (0)

/* ---- layernorm ----------------------------------------------------------- */

enum { LN_N = 3, LN_C = 7 };
typedef struct {
    float x[LN_N * LN_C], w[LN_C], b[LN_C], out[LN_N * LN_C], mean[LN_N], rstd[LN_N];
    float dout[LN_N * LN_C];
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, LN_N, LN_C, NULL);
    return dot_w(c->out, c->dout, LN_N * LN_C);
}

TEST(layernorm_backward_matches_finite_differences)
{
    ln_ctx c;
    float dx[LN_N * LN_C] = {0}, dw[LN_C] = {0}, db[LN_C] = {0};
    uint64_t rng = 1;
    fill_uniform(c.x, LN_N * LN_C, -2, 2, &rng);
    fill_uniform(c.w, LN_C, 0.5f, 1.5f, &rng);
    fill_uniform(c.b, LN_C, -0.5f, 0.5f, &rng);
    fill_uniform(c.dout, LN_N * LN_C, -1, 1, &rng);
    ln_loss(&c);
    layernorm_backward(dx, dw, db, c.dout, c.x, c.w, c.mean, c.rstd, LN_N, LN_C, NULL);
    CHECK_FD("ln.dinp", c.x, dx, LN_N * LN_C, ln_loss, &c);
    CHECK_FD("ln.dweight", c.w, dw, LN_C, ln_loss, &c);
    CHECK_FD("ln.dbias", c.b, db, LN_C, ln_loss, &c);
}

TEST(layernorm_output_has_zero_mean_unit_variance_before_the_affine)
{
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 100}, w[8], b[8] = {0}, out[8], mean, rstd;
    for (int i = 0; i < 8; i++)
        w[i] = 1.0f;
    layernorm_forward(out, &mean, &rstd, x, w, b, 1, 8, NULL);
    double m = 0, v = 0;
    for (int i = 0; i < 8; i++)
        m += out[i];
    for (int i = 0; i < 8; i++)
        v += (out[i] - m / 8) * (out[i] - m / 8);
    CHECK_NEAR(0.0, m / 8, 1e-6);
    CHECK_NEAR(1.0, v / 8, 1e-4);
    CHECK_NEAR(16.0, mean, 1e-5);
}

/* ---- matmul -------------------------------------------------------------- */

enum { MM_N = 5, MM_C = 4, MM_OC = 3 };
typedef struct {
    float x[MM_N * MM_C], w[MM_OC * MM_C], b[MM_OC], out[MM_N * MM_OC], dout[MM_N * MM_OC];
    int use_bias;
} mm_ctx;

static double mm_loss(void *p)
{
    mm_ctx *c = p;
    matmul_forward(c->out, c->x, c->w, c->use_bias ? c->b : NULL, MM_N, MM_C, MM_OC, NULL);
    return dot_w(c->out, c->dout, MM_N * MM_OC);
}

TEST(matmul_backward_matches_finite_differences)
{
    mm_ctx c;
    uint64_t rng = 2;
    fill_uniform(c.x, MM_N * MM_C, -1, 1, &rng);
    fill_uniform(c.w, MM_OC * MM_C, -1, 1, &rng);
    fill_uniform(c.b, MM_OC, -1, 1, &rng);
    fill_uniform(c.dout, MM_N * MM_OC, -1, 1, &rng);
    for (c.use_bias = 1; c.use_bias >= 0; c.use_bias--) {
        float dx[MM_N * MM_C] = {0}, dw[MM_OC * MM_C] = {0}, db[MM_OC] = {0};
        mm_loss(&c);
        matmul_backward(dx, dw, c.use_bias ? db : NULL, c.dout, c.x, c.w, MM_N, MM_C, MM_OC, NULL,
                        NULL);
        CHECK_FD("mm.dinp", c.x, dx, MM_N * MM_C, mm_loss, &c);
        CHECK_FD("mm.dweight", c.w, dw, MM_OC * MM_C, mm_loss, &c);
        if (c.use_bias)
            CHECK_FD("mm.dbias", c.b, db, MM_OC, mm_loss, &c);
    }
}

TEST(matmul_forward_is_inp_times_weight_transposed_plus_bias)
{
    float x[2 * 3] = {1, 2, 3, 4, 5, 6}, w[2 * 3] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    float b[2] = {10, 20}, out[4];
    matmul_forward(out, x, w, b, 2, 3, 2, NULL);
    CHECK_NEAR(1 - 3 + 10, out[0], 1e-6);
    CHECK_NEAR(3 + 20, out[1], 1e-6);
    CHECK_NEAR(4 - 6 + 10, out[2], 1e-6);
    CHECK_NEAR(7.5 + 20, out[3], 1e-6);
}

/* ---- attention ----------------------------------------------------------- */

enum { AT_B = 2, AT_T = 5, AT_C = 6, AT_NH = 2, AT_SCRATCH = 4096 };
typedef struct {
    float inp[AT_B * AT_T * 3 * AT_C], out[AT_B * AT_T * AT_C];
    float att[AT_B * AT_NH * AT_T * (AT_T + 1) / 2];
    float dout[AT_B * AT_T * AT_C];
    float scratch[AT_SCRATCH];
} at_ctx;

static double at_loss(void *p)
{
    at_ctx *c = p;
    attention_forward(c->out, c->att, c->scratch, c->inp, AT_B, AT_T, AT_C, AT_NH, 0, NULL);
    return dot_w(c->out, c->dout, sizeof c->out / sizeof(float));
}

TEST(attention_backward_matches_finite_differences)
{
    at_ctx c;
    float dinp[AT_B * AT_T * 3 * AT_C] = {0}, scratch[AT_SCRATCH];
    uint64_t rng = 3;
    CHECK(attention_scratch_floats(AT_T, AT_C, AT_NH) <= AT_SCRATCH);
    fill_uniform(c.inp, sizeof c.inp / sizeof(float), -1.5f, 1.5f, &rng);
    fill_uniform(c.dout, sizeof c.dout / sizeof(float), -1, 1, &rng);
    at_loss(&c);
    attention_backward(dinp, scratch, c.dout, c.inp, c.att, AT_B, AT_T, AT_C, AT_NH, 0, NULL);
    CHECK_FD("att.dinp", c.inp, dinp, sizeof c.inp / sizeof(float), at_loss, &c);
}

TEST(attention_is_causal_and_rows_are_distributions)
{
    at_ctx c;
    float before[AT_B * AT_T * AT_C];
    uint64_t rng = 4;
    fill_uniform(c.inp, sizeof c.inp / sizeof(float), -1, 1, &rng);
    attention_forward(c.out, c.att, c.scratch, c.inp, AT_B, AT_T, AT_C, AT_NH, 0, NULL);
    /* each head's rows packed one after the other, row t with keys 0..t */
    const float *row = c.att;
    for (int r = 0; r < AT_B * AT_NH * AT_T; r++) {
        int t = r % AT_T;
        double s = 0;
        for (int t2 = 0; t2 <= t; t2++) {
            CHECK_MSG(row[t2] > 0.0f && row[t2] <= 1.0f, "att row %d key %d is %g", r, t2, row[t2]);
            s += row[t2];
        }
        CHECK_NEAR(1.0, s, 1e-5);
        row += t + 1;
    }
    CHECK(row == c.att + sizeof c.att / sizeof c.att[0]);
    /* Changing the last position of sequence 0 leaves every earlier output alone. */
    memcpy(before, c.out, sizeof before);
    for (int i = 0; i < 3 * AT_C; i++)
        c.inp[(AT_T - 1) * 3 * AT_C + i] += 1.0f;
    attention_forward(c.out, c.att, c.scratch, c.inp, AT_B, AT_T, AT_C, AT_NH, 0, NULL);
    CHECK(memcmp(before, c.out, (AT_T - 1) * AT_C * sizeof(float)) == 0);
}

TEST(attention_cached_gives_the_same_bits_as_the_full_attention)
{
    at_ctx c;
    float kc[AT_T * AT_C], vc[AT_T * AT_C], out[AT_T * AT_C], scratch[AT_SCRATCH];
    uint64_t rng = 5;
    fill_uniform(c.inp, sizeof c.inp / sizeof(float), -1, 1, &rng);
    attention_forward(c.out, c.att, c.scratch, c.inp, 1, AT_T, AT_C, AT_NH, 0, NULL);
    for (int t = 0; t < AT_T; t++) {
        memcpy(kc + t * AT_C, c.inp + t * 3 * AT_C + AT_C, AT_C * sizeof(float));
        memcpy(vc + t * AT_C, c.inp + t * 3 * AT_C + 2 * AT_C, AT_C * sizeof(float));
    }
    /* positions 0..2 at once, then 3 and 4 one at a time */
    attention_forward_cached(out, scratch, c.inp, kc, vc, 0, 3, AT_C, AT_NH);
    attention_forward_cached(out + 3 * AT_C, scratch, c.inp + 3 * 3 * AT_C, kc, vc, 3, 1, AT_C,
                             AT_NH);
    attention_forward_cached(out + 4 * AT_C, scratch, c.inp + 4 * 3 * AT_C, kc, vc, 4, 1, AT_C,
                             AT_NH);
    CHECK(memcmp(out, c.out, sizeof out) == 0);
}

/* Sequences of many of attention's tiles (layers.c takes 6 query rows and
 * 16 keys at a time, and transposes 8 x 8 blocks), at head sizes that take
 * each path: 4 (padded copies, no whole block), 16 (rows read in place,
 * the default model's), 20 (two chunks of 16, a transpose tail).  For each:
 * gradients against finite differences, rows that sum to one, the cached
 * attention's bits, a prefix then one position at a time, and the query
 * rows after that prefix alone. */
typedef struct {
    int T, C, NH;
    float *inp, *out, *att, *dout, *scratch;
} al_ctx;

static double al_loss(void *p)
{
    al_ctx *c = p;
    attention_forward(c->out, c->att, c->scratch, c->inp, 1, c->T, c->C, c->NH, 0, NULL);
    return dot_w(c->out, c->dout, (size_t)c->T * c->C);
}

static void attention_long_check(check_case *check_self_, int T, int C, int NH, int prefix,
                                 uint64_t seed)
{
    size_t n3 = (size_t)T * 3 * C, n = (size_t)T * C, na = (size_t)NH * T * (T + 1) / 2;
    size_t ns = attention_scratch_floats(T, C, NH);
    al_ctx c = {T, C, NH, calloc(n3, 4), calloc(n, 4), calloc(na, 4), calloc(n, 4), calloc(ns, 4)};
    float *dinp = calloc(n3, 4), *kc = calloc(n, 4), *vc = calloc(n, 4), *out = calloc(n, 4);
    CHECK(c.inp && c.out && c.att && c.dout && c.scratch && dinp && kc && vc && out);
    uint64_t rng = seed;
    fill_uniform(c.inp, n3, -1.5f, 1.5f, &rng);
    fill_uniform(c.dout, n, -1, 1, &rng);
    al_loss(&c);
    const float *row = c.att;
    for (int r = 0; r < NH * T; r++) {
        double sum = 0;
        for (int t2 = 0; t2 <= r % T; t2++)
            sum += row[t2];
        CHECK_NEAR(1.0, sum, 1e-5);
        row += r % T + 1;
    }
    attention_backward(dinp, c.scratch, c.dout, c.inp, c.att, 1, T, C, NH, 0, NULL);
    CHECK_FD("att.long.dinp", c.inp, dinp, n3, al_loss, &c);
    al_loss(&c);
    for (int t = 0; t < T; t++) {
        memcpy(kc + (size_t)t * C, c.inp + (size_t)t * 3 * C + C, (size_t)C * sizeof(float));
        memcpy(vc + (size_t)t * C, c.inp + (size_t)t * 3 * C + 2 * C, (size_t)C * sizeof(float));
    }
    attention_forward_cached(out, c.scratch, c.inp, kc, vc, 0, prefix, C, NH);
    for (int t = prefix; t < T; t++)
        attention_forward_cached(out + (size_t)t * C, c.scratch, c.inp + (size_t)t * 3 * C, kc,
                                 vc, t, 1, C, NH);
    CHECK_MSG(memcmp(out, c.out, n * sizeof(float)) == 0, "T=%d C=%d NH=%d: cached differs", T,
              C, NH);
    /* Query rows from q0 only: the same bits in those rows, and with the
     * output gradient zero before q0, the same input gradient (as floats:
     * a skipped zero term may leave -0 where adding it gave +0). */
    int q0 = prefix;
    for (size_t i = 0; i < (size_t)q0 * C; i++)
        c.dout[i] = 0.0f;
    al_loss(&c);
    attention_backward(dinp, c.scratch, c.dout, c.inp, c.att, 1, T, C, NH, 0, NULL);
    memcpy(out, c.out, n * sizeof(float));
    memset(c.out, 0, n * sizeof(float));
    attention_forward(c.out, c.att, c.scratch, c.inp, 1, T, C, NH, q0, NULL);
    CHECK(memcmp(out + (size_t)q0 * C, c.out + (size_t)q0 * C, (n - (size_t)q0 * C) * 4) == 0);
    float *dq0 = calloc(n3, 4);
    CHECK(dq0 != NULL);
    attention_backward(dq0, c.scratch, c.dout, c.inp, c.att, 1, T, C, NH, q0, NULL);
    int same = 1;
    for (size_t i = 0; i < n3; i++)
        same = same && dq0[i] == dinp[i];
    CHECK_MSG(same, "T=%d C=%d NH=%d: gradients from q0=%d differ", T, C, NH, q0);
    free(dq0);
    free(c.inp), free(c.out), free(c.att), free(c.dout), free(c.scratch);
    free(dinp), free(kc), free(vc), free(out);
}

TEST(attention_longer_than_a_tile_is_differentiable_and_cacheable_at_every_head_size_path)
{
    attention_long_check(check_self_, 70, 8, 2, 45, 9);   /* head size 4 */
    attention_long_check(check_self_, 21, 32, 2, 13, 10); /* 16 */
    attention_long_check(check_self_, 19, 40, 2, 9, 11);  /* 20 */
}

/* ---- gelu, residual ------------------------------------------------------- */

enum { GE_N = 24 };
typedef struct {
    float x[GE_N], out[GE_N], sig[GE_N], dout[GE_N];
} ge_ctx;

static double ge_loss(void *p)
{
    ge_ctx *c = p;
    gelu_forward(c->out, c->sig, c->x, GE_N, NULL);
    return dot_w(c->out, c->dout, GE_N);
}

TEST(gelu_backward_matches_finite_differences)
{
    ge_ctx c;
    float dx[GE_N] = {0};
    uint64_t rng = 6;
    fill_uniform(c.x, GE_N, -4, 4, &rng);
    fill_uniform(c.dout, GE_N, -1, 1, &rng);
    ge_loss(&c);
    gelu_backward(dx, c.x, c.sig, c.dout, GE_N, NULL);
    CHECK_FD("gelu.dinp", c.x, dx, GE_N, ge_loss, &c);
    /* the tanh approximation: gelu(1) = 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)) */
    float one = 1.0f, g;
    gelu_forward(&g, NULL, &one, 1, NULL);
    CHECK_NEAR(0.841192, g, 1e-5);
}

/* gelu against the tanh formula in double over [-12, 12], with the tail
 * (N not a multiple of four) and sig == (1 + tanh u) / 2 */
TEST(gelu_matches_the_tanh_formula_to_float_precision)
{
    enum { N = 4803 };
    static float x[N], out[N], sig[N];
    double worst = 0, worst_sig = 0;
    for (int i = 0; i < N; i++)
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    gelu_forward(out, sig, x, N, NULL);
    for (int i = 0; i < N; i++) {
        double u = 0.7978845608028654 * (x[i] + 0.044715 * (double)x[i] * x[i] * x[i]);
        double ref = 0.5 * x[i] * (1.0 + tanh(u));
        worst = fmax(worst, fabs(out[i] - ref) / fmax(fabs(ref), 1e-3));
        worst_sig = fmax(worst_sig, fabs(sig[i] - 0.5 * (1.0 + tanh(u))));
    }
    CHECK_MSG(worst <= 1e-6, "gelu off by %g (relative)", worst);
    CHECK_MSG(worst_sig <= 2e-7, "sigmoid off by %g", worst_sig);
}

TEST(residual_backward_passes_dout_to_both_inputs)
{
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, out[3], da[3] = {1, 1, 1}, db[3] = {0};
    float dout[3] = {0.5f, -1, 2};
    residual_forward(out, a, b, 3, NULL);
    CHECK_NEAR(33.0, out[2], 0);
    residual_backward(da, db, dout, 3);
    CHECK_NEAR(1.5, da[0], 0);
    CHECK_NEAR(-1.0, db[1], 0);
    CHECK_NEAR(3.0, da[2], 0);
}

/* ---- cross-entropy --------------------------------------------------------- */

enum { CE_N = 5, CE_V = 6 };
typedef struct {
    float logits[CE_N * CE_V], losses[CE_N], probs[CE_N * CE_V], w[CE_N];
    int targets[CE_N];
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *c = p;
    crossentropy_forward(c->losses, c->probs, c->logits, c->targets, CE_N, CE_V);
    return dot_w(c->losses, c->w, CE_N);
}

TEST(crossentropy_backward_matches_finite_differences_and_skips_negative_targets)
{
    ce_ctx c = {.targets = {2, -1, 0, 5, -1}};
    float dl[CE_N * CE_V], dsum[CE_N * CE_V];
    uint64_t rng = 7;
    fill_uniform(c.logits, CE_N * CE_V, -3, 3, &rng);
    fill_uniform(c.w, CE_N, 0.5f, 2, &rng);
    ce_loss(&c);
    CHECK(c.losses[1] == 0.0f && c.losses[4] == 0.0f);
    memset(dl, 0xff, sizeof dl); /* written, not added to */
    crossentropy_softmax_backward(dl, c.w, c.probs, c.targets, CE_N, CE_V);
    CHECK_FD("ce.dlogits", c.logits, dl, CE_N * CE_V, ce_loss, &c);
    for (int v = 0; v < CE_V; v++)
        CHECK(dl[1 * CE_V + v] == 0.0f && dl[4 * CE_V + v] == 0.0f);
    /* NULL dlosses is the summed loss: weight 1 everywhere. */
    for (int n = 0; n < CE_N; n++)
        c.w[n] = 1.0f;
    ce_loss(&c);
    crossentropy_softmax_backward(dsum, NULL, c.probs, c.targets, CE_N, CE_V);
    /* in place, as the model does it: the same bits at the rows with a target */
    crossentropy_softmax_backward(c.probs, NULL, c.probs, c.targets, CE_N, CE_V);
    CHECK(memcmp(c.probs, dsum, sizeof dsum) == 0);
    CHECK_FD("ce.sum", c.logits, dsum, CE_N * CE_V, ce_loss, &c);
    /* -log softmax of a uniform row is log V */
    float flat[CE_V] = {0}, loss, probs[CE_V];
    int target = 3;
    crossentropy_forward(&loss, probs, flat, &target, 1, CE_V);
    CHECK_NEAR(log(CE_V), loss, 1e-6);
}

TEST(crossentropy_softmax_grad_scaled_is_the_forward_and_summed_gradient_up_to_row_factors)
{
    ce_ctx c = {.targets = {2, -1, 0, 5, -1}};
    float grad[CE_N * CE_V], rscale[CE_N], losses[CE_N];
    uint64_t rng = 11;
    fill_uniform(c.logits, CE_N * CE_V, -3, 3, &rng);
    crossentropy_forward(c.losses, c.probs, c.logits, c.targets, CE_N, CE_V);
    crossentropy_softmax_backward(c.probs, NULL, c.probs, c.targets, CE_N, CE_V);
    memset(grad, 0xff, sizeof grad); /* written, not added to */
    crossentropy_softmax_grad_scaled(losses, grad, rscale, c.logits, c.targets, CE_N, CE_V);
    for (int n = 0; n < CE_N; n++) {
        CHECK_NEAR(c.losses[n], losses[n], 0);
        for (int v = 0; v < CE_V; v++)
            CHECK_NEAR(c.probs[n * CE_V + v], rscale[n] * grad[n * CE_V + v], 1e-6);
    }
    CHECK(rscale[1] == 0.0f && rscale[4] == 0.0f && grad[1 * CE_V] == 0.0f);
}

/* A vocabulary-sized row (not a multiple of four) against the softmax in
 * double of the same float differences logit - max: loss to 1e-6 relative,
 * each probability to 1e-6 relative. */
TEST(crossentropy_matches_the_double_softmax_on_a_wide_row)
{
    enum { V = 2003 };
    static float logits[V], probs[V];
    double ref[V], sum = 0, worst = 0;
    float loss;
    int target = 1234;
    uint64_t rng = 8;
    fill_uniform(logits, V, -20, 12, &rng);
    logits[2002] = 15.0f; /* the maximum, in the tail */
    crossentropy_forward(&loss, probs, logits, &target, 1, V);
    for (int v = 0; v < V; v++)
        sum += ref[v] = exp((double)(logits[v] - 15.0f));
    for (int v = 0; v < V; v++)
        worst = fmax(worst, fabs(probs[v] - ref[v] / sum) / (ref[v] / sum));
    double ref_loss = log(sum) - ((double)logits[target] - 15.0);
    CHECK_NEAR(ref_loss, loss, 1e-6 * ref_loss);
    CHECK_MSG(worst <= 1e-6, "a probability is off by %g (relative)", worst);
    /* a NaN logit (a diverged model) shows in the loss, whatever its sign bit */
    logits[7] = -NAN;
    crossentropy_forward(&loss, probs, logits, &target, 1, V);
    CHECK_MSG(isnan(loss), "loss %g with a -NaN logit", loss);
    logits[7] = NAN;
    crossentropy_forward(&loss, probs, logits, &target, 1, V);
    CHECK_MSG(isnan(loss), "loss %g with a NaN logit", loss);
}

/* ---- encoder ----------------------------------------------------------------- */

enum { EN_B = 2, EN_T = 9 };
typedef struct {
    model *m;
    float frames[EN_B * 2 * 6], mel[EN_B * 2 * 2 * 3], out[EN_B * EN_T * 4], dout[EN_B * EN_T * 4];
    int tokens[EN_B * EN_T], types[EN_B * EN_T];
} en_ctx;

static const model_config en_cfg = {.vocab = 5, .max_seq = 10, .channels = 4, .layers = 1,
                                    .heads = 1, .mlp_ratio = 1, .n_frames = 2, .frame_pixels = 6,
                                    .audio_tokens = 2, .audio_window = 2, .n_mel = 3};

static double en_loss(void *p)
{
    en_ctx *c = p;
    encoder_forward(c->out, c->tokens, c->types, c->frames, c->mel, model_param_ptrs(c->m), EN_B,
                    EN_T, &en_cfg, NULL);
    return dot_w(c->out, c->dout, sizeof c->out / sizeof(float));
}

TEST(encoder_backward_matches_finite_differences)
{
    en_ctx c;
    migr_err err;
    uint64_t rng = 8;
    c.m = model_new(&en_cfg, 1, &err);
    CHECK_MSG(c.m != NULL, "model_new: %s", err.msg);
    const model_params *p = model_param_ptrs(c.m), *g = model_grad_ptrs(c.m);
    size_t sizes[MODEL_NUM_PARAMS];
    model_param_sizes(&en_cfg, sizes);
    fill_uniform(model_params_flat(c.m), model_num_params(c.m), -1, 1, &rng);
    fill_uniform(c.frames, sizeof c.frames / sizeof(float), 0, 1, &rng);
    fill_uniform(c.mel, sizeof c.mel / sizeof(float), -2, 2, &rng);
    fill_uniform(c.dout, sizeof c.dout / sizeof(float), -1, 1, &rng);
    for (int b = 0; b < EN_B; b++)
        for (int t = 0; t < EN_T; t++) {
            int i = b * EN_T + t;
            c.types[i] = t < 2 ? 0 : t < 4 ? 1 : t < 6 ? 2 : 3;
            c.tokens[i] = t < 4 ? 0 : (b + 3 * t) % 5; /* word 1 twice in sequence 0 */
        }
    en_loss(&c);
    encoder_backward(g, c.dout, c.tokens, c.types, c.frames, c.mel, EN_B, EN_T, &en_cfg, NULL);
    float *px[] = {p->wte, p->wpe, p->wtype, p->wvis, p->bvis, p->waud, p->baud};
    float *gx[] = {g->wte, g->wpe, g->wtype, g->wvis, g->bvis, g->waud, g->baud};
    const char *names[] = {"wte", "wpe", "wtype", "wvis", "bvis", "waud", "baud"};
    for (int k = 0; k < 7; k++)
        CHECK_FD(names[k], px[k], gx[k], sizes[k], en_loss, &c);
    model_free(&c.m);
    CHECK(c.m == NULL);
}

/* ---- threads ------------------------------------------------------------------ */

/* Every kernel that takes a pool, on shapes that cut into several items of
 * each kind (blocks of rows with a short last one, several partial sums of
 * dweight and a grouping of them, blocks of columns with a scalar tail,
 * (sequence, head) pairs, blocks of ids with a partial tile), gives the
 * same bits with no pool as with pools of 1, 2 and 3 threads.  The outputs
 * that a backward adds into start from the same nonzero values each time. */
enum { TH_N = 300, TH_C = 20, TH_MN = 600, TH_OC = 36, TH_BIGN = 4400, TH_EW = 40000 };
enum { TH_B = 2, TH_T = 40, TH_AC = 32, TH_NH = 4, TH_V = 250, TH_CP = 32, TH_EB = 3 };
enum { TH_FLOATS = 1 << 20 };

static const model_config th_cfg = {.vocab = 7, .max_seq = TH_T, .channels = TH_C, .layers = 1,
                                    .heads = 1, .mlp_ratio = 1, .n_frames = 2,
                                    .frame_pixels = 300, .audio_tokens = 2, .audio_window = 2,
                                    .n_mel = 150};

typedef struct {
    float *in, *out, *init; /* TH_FLOATS each: inputs; outputs, and what they start from */
    size_t nout;            /* outputs written by the last run */
    model *m;               /* the encoder's parameters and gradients */
} th_ctx;

/* n floats from *base, which moves past them. */
static float *th_take(float **base, size_t n)
{
    float *p = *base;
    *base += n;
    return p;
}

#define TH_ATT ((size_t)TH_B * TH_NH * TH_T * (TH_T + 1) / 2)

/* Runs every pooled kernel on tp, from c->in, into c->out (reset from
 * c->init first), the encoder's gradients last. */
static void th_run(th_ctx *c, pool *tp)
{
    float *i = c->in, *o = c->out;
    memcpy(c->out, c->init, TH_FLOATS * sizeof(float));
    memcpy(model_grads_flat(c->m), c->init, model_num_params(c->m) * sizeof(float));
    /* layernorm */
    float *x = th_take(&i, TH_N * TH_C), *w = th_take(&i, TH_C), *bias = th_take(&i, TH_C);
    float *dy = th_take(&i, TH_N * TH_C);
    float *y = th_take(&o, TH_N * TH_C), *mean = th_take(&o, TH_N), *rstd = th_take(&o, TH_N);
    float *dx = th_take(&o, TH_N * TH_C), *dw = th_take(&o, TH_C), *db = th_take(&o, TH_C);
    layernorm_forward(y, mean, rstd, x, w, bias, TH_N, TH_C, tp);
    layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, TH_N, TH_C, tp);
    /* matmul, and a long dweight whose 18 blocks of rows go in 9 partial sums */
    float *mx = th_take(&i, TH_BIGN * TH_C), *mw = th_take(&i, TH_OC * TH_C);
    float *mb = th_take(&i, TH_OC), *mdy = th_take(&i, TH_BIGN * TH_OC);
    size_t mscr = matmul_scratch_floats(TH_BIGN, TH_C, TH_OC);
    float *scratch = th_take(&o, mscr);
    float *my = th_take(&o, TH_MN * TH_OC), *mdx = th_take(&o, TH_MN * TH_C);
    float *mdw = th_take(&o, TH_OC * TH_C), *mdb = th_take(&o, TH_OC);
    float *bdw = th_take(&o, TH_OC * TH_C);
    matmul_forward(my, mx, mw, mb, TH_MN, TH_C, TH_OC, tp);
    matmul_backward(mdx, mdw, mdb, mdy, mx, mw, TH_MN, TH_C, TH_OC, scratch, tp);
    matmul_backward(NULL, bdw, NULL, mdy, mx, mw, TH_BIGN, TH_C, TH_OC, scratch, tp);
    memset(scratch, 0, mscr * sizeof(float)); /* workspace, not an output */
    /* attention, from the first query and from query 7 */
    float *qkv = th_take(&i, (size_t)TH_B * TH_T * 3 * TH_AC);
    float *ady = th_take(&i, (size_t)TH_B * TH_T * TH_AC);
    size_t ascr = 3 * attention_scratch_floats(TH_T, TH_AC, TH_NH);
    float *ascratch = th_take(&o, ascr);
    for (int q0 = 0; q0 <= 7; q0 += 7) {
        float *ay = th_take(&o, (size_t)TH_B * TH_T * TH_AC), *att = th_take(&o, TH_ATT);
        float *adx = th_take(&o, (size_t)TH_B * TH_T * 3 * TH_AC);
        attention_forward(ay, att, ascratch, qkv, TH_B, TH_T, TH_AC, TH_NH, q0, tp);
        attention_backward(adx, ascratch, ady, qkv, att, TH_B, TH_T, TH_AC, TH_NH, q0, tp);
    }
    memset(ascratch, 0, ascr * sizeof(float));
    /* gelu and the residual add */
    float *ex = th_take(&i, TH_EW), *edy = th_take(&i, TH_EW);
    float *ey = th_take(&o, TH_EW), *esig = th_take(&o, TH_EW), *edx = th_take(&o, TH_EW);
    float *er = th_take(&o, TH_EW);
    gelu_forward(ey, esig, ex, TH_EW, tp);
    gelu_backward(edx, ex, esig, edy, TH_EW, tp);
    residual_forward(er, ex, edy, TH_EW, tp);
    /* the encoder: words 1 and 3 twice in a sequence */
    int tokens[TH_EB * TH_T], types[TH_EB * TH_T];
    for (int k = 0; k < TH_EB * TH_T; k++) {
        int t = k % TH_T;
        types[k] = t < 2 ? 0 : t < 4 ? 1 : t < 6 ? 2 : 3;
        tokens[k] = t < 4 ? 0 : (k * 5 + 1) % 7 % 4 + 1;
    }
    float *frames = th_take(&i, (size_t)TH_EB * 2 * 300);
    float *mel = th_take(&i, (size_t)TH_EB * 4 * 150);
    float *endy = th_take(&i, (size_t)TH_EB * TH_T * TH_C);
    float *eny = th_take(&o, (size_t)TH_EB * TH_T * TH_C);
    encoder_forward(eny, tokens, types, frames, mel, model_param_ptrs(c->m), TH_EB, TH_T, &th_cfg,
                    tp);
    encoder_backward(model_grad_ptrs(c->m), endy, tokens, types, frames, mel, TH_EB, TH_T,
                     &th_cfg, tp);
    /* the LM head's weight gradient from two blocks of rows (x zero past C) */
    float *g0 = th_take(&i, 48 * TH_V), *g1 = th_take(&i, 17 * TH_V);
    float *x0 = th_take(&i, 48 * TH_CP), *x1 = th_take(&i, 17 * TH_CP);
    for (int r = 0; r < 48; r++)
        memset(x0 + r * TH_CP + TH_C, 0, (TH_CP - TH_C) * sizeof(float));
    for (int r = 0; r < 17; r++)
        memset(x1 + r * TH_CP + TH_C, 0, (TH_CP - TH_C) * sizeof(float));
    float *lw = th_take(&o, TH_V * TH_CP);
    const float *g[2] = {g0, g1}, *xs[2] = {x0, x1};
    size_t rows[2] = {48, 17};
    lmhead_back_weights(lw, 2, g, xs, rows, TH_V, TH_C, tp);
    size_t np = model_num_params(c->m);
    memcpy(th_take(&o, np), model_grads_flat(c->m), np * sizeof(float));
    c->nout = (size_t)(o - c->out);
}

TEST(layer_kernels_give_the_same_bits_at_1_2_and_3_threads)
{
    th_ctx c = {0};
    migr_err err;
    uint64_t rng = 21;
    pool *tp[4] = {NULL};
    float *ref = malloc(TH_FLOATS * sizeof(float));
    c.in = malloc(TH_FLOATS * sizeof(float));
    c.out = malloc(TH_FLOATS * sizeof(float));
    c.init = malloc(TH_FLOATS * sizeof(float));
    c.m = model_new(&th_cfg, 3, &err);
    CHECK(ref && c.in && c.out && c.init && c.m);
    fill_uniform(c.in, TH_FLOATS, -1.5f, 1.5f, &rng);
    fill_uniform(c.init, TH_FLOATS, -1, 1, &rng);
    fill_uniform(model_params_flat(c.m), model_num_params(c.m), -0.5f, 0.5f, &rng);
    th_run(&c, NULL);
    CHECK(c.nout <= TH_FLOATS);
    memcpy(ref, c.out, c.nout * sizeof(float));
    for (int n = 1; n <= 3; n++) {
        tp[n] = pool_new(n, &err);
        CHECK_MSG(tp[n] != NULL, "%s", err.msg);
        th_run(&c, tp[n]);
        size_t ndiff = 0, first = 0;
        for (size_t k = c.nout; k-- > 0;)
            if (memcmp(&ref[k], &c.out[k], sizeof(float)) != 0)
                ndiff++, first = k;
        CHECK_MSG(ndiff == 0, "%zu of %zu outputs differ at %d thread(s), the first at %zu", ndiff,
                  c.nout, n, first);
    }
    for (int n = 1; n <= 3; n++)
        pool_free(&tp[n]);
    model_free(&c.m);
    free(ref), free(c.in), free(c.out), free(c.init);
}
