/* The whole model's backward against central finite differences of its
 * summed loss, on EVERY coordinate of every parameter tensor of a tiny
 * model (V=13, maxT=16, C=8, L=2, NH=2, R=2, F=2 frames of 6 pixels, NA=2
 * audio tokens of W=2 x 3 mel), batch B=2, T=12 with targets -1 inside the
 * explanation and trailing padding.
 *
 * Parameters are drawn uniform in [-0.5, 0.5] (LayerNorm weights 1 +- 0.5),
 * larger than the real init, so that every path carries gradient well above
 * the noise.  The loss (about 40) is summed in double; its rounding noise is
 * ~1e-5 and divided by 2*EPS = 2e-2 gives ~1e-3 in the numeric gradient, so
 * the bound is
 *     |analytic - numeric| <= 4e-3 + 1e-2 * |numeric|
 * while the gradients themselves are 0.1 .. 10. */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/rng.h"
#include "ml/model.h"

#define EPS 1e-2f
#define FD_ATOL 4e-3
#define FD_RTOL 1e-2

enum { TB = 2, TT = 12 };

static const model_config tiny = {.vocab = 13, .max_seq = 16, .channels = 8, .layers = 2,
                                  .heads = 2, .mlp_ratio = 2, .n_frames = 2, .frame_pixels = 6,
                                  .audio_tokens = 2, .audio_window = 2, .n_mel = 3};

static const char *param_names[MODEL_NUM_PARAMS] = {
    "wte",  "wpe",  "wtype", "wvis",    "bvis",     "waud", "baud",    "ln1w",    "ln1b",
    "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb",
    "lnfw", "lnfb"};

typedef struct {
    model *m;
    model_batch batch;
    float frames[TB * 2 * 6], mel[TB * 4 * 3];
    int tokens[TB * TT], types[TB * TT], targets[TB * TT];
} grad_ctx;

/* [v v a a s s <bos>=1 w w w <eos>=2 pad] and a shorter second sequence. */
static void tiny_batch(grad_ctx *c, uint64_t *rng)
{
    static const int tok[TB][TT] = {{0, 0, 0, 0, 7, 8, 1, 5, 9, 11, 2, 0},
                                    {0, 0, 0, 0, 12, 1, 6, 3, 2, 0, 0, 0}};
    static const int typ[TB][TT] = {{0, 0, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3},
                                    {0, 0, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3}};
    static const int tgt[TB][TT] = {{-1, -1, -1, -1, -1, -1, 5, 9, -1, 2, -1, -1},
                                    {-1, -1, -1, -1, -1, 6, 3, 2, -1, -1, -1, -1}};
    memcpy(c->tokens, tok, sizeof tok);
    memcpy(c->types, typ, sizeof typ);
    memcpy(c->targets, tgt, sizeof tgt);
    for (size_t i = 0; i < sizeof c->frames / sizeof(float); i++)
        c->frames[i] = (float)rng_uniform(rng);
    for (size_t i = 0; i < sizeof c->mel / sizeof(float); i++)
        c->mel[i] = (float)rng_range(rng, -2, 2);
    c->batch = (model_batch){.B = TB, .T = TT, .frames = c->frames, .mel = c->mel,
                             .tokens = c->tokens, .types = c->types, .targets = c->targets};
}

static void randomize_params(model *m, uint64_t *rng)
{
    const model_params *p = model_param_ptrs(m);
    float *flat = model_params_flat(m);
    size_t L = (size_t)model_cfg(m)->layers, C = (size_t)model_cfg(m)->channels;
    for (size_t i = 0; i < model_num_params(m); i++)
        flat[i] = (float)rng_range(rng, -0.5, 0.5);
    for (size_t i = 0; i < L * C; i++) {
        p->ln1w[i] += 1.0f;
        p->ln2w[i] += 1.0f;
    }
    for (size_t i = 0; i < C; i++)
        p->lnfw[i] += 1.0f;
}

static double loss_at(grad_ctx *c)
{
    double loss = 0.0;
    migr_err err;
    if (model_forward(c->m, &c->batch, &loss, NULL, &err) != 0)
        return NAN;
    return loss;
}

TEST(model_backward_matches_finite_differences_on_every_parameter)
{
    grad_ctx c;
    migr_err err;
    uint64_t rng = 42;
    double loss;
    int ntok;
    size_t sizes[MODEL_NUM_PARAMS];

    c.m = model_new(&tiny, 7, &err);
    CHECK_MSG(c.m != NULL, "model_new: %s", err.msg);
    randomize_params(c.m, &rng);
    tiny_batch(&c, &rng);
    CHECK_MSG(model_forward(c.m, &c.batch, &loss, &ntok, &err) == 0, "forward: %s", err.msg);
    CHECK_INT(6, ntok);
    CHECK_MSG(model_backward(c.m, &err) == 0, "backward: %s", err.msg);

    /* A copy of the analytic gradient: the numeric loop runs more forwards. */
    size_t n = model_num_params(c.m);
    float *grad = malloc(n * sizeof(float));
    CHECK(grad != NULL);
    memcpy(grad, model_grads_flat(c.m), n * sizeof(float));
    float *flat = model_params_flat(c.m);
    model_param_sizes(&tiny, sizes);

    int failed = 0;
    size_t off = 0;
    char msg[256] = "";
    for (int k = 0; k < MODEL_NUM_PARAMS && !failed; k++) {
        double maxerr = 0.0, maxgrad = 0.0;
        for (size_t i = off; i < off + sizes[k]; i++) {
            float keep = flat[i];
            flat[i] = keep + EPS;
            double lp = loss_at(&c);
            flat[i] = keep - EPS;
            double lm = loss_at(&c);
            flat[i] = keep;
            double num = (lp - lm) / (2.0 * EPS), diff = fabs(grad[i] - num);
            maxerr = diff > maxerr ? diff : maxerr;
            maxgrad = fabs(num) > maxgrad ? fabs(num) : maxgrad;
            if (!(diff <= FD_ATOL + FD_RTOL * fabs(num))) {
                snprintf(msg, sizeof msg, "%s[%zu]: analytic %.6g, numeric %.6g", param_names[k],
                         i - off, grad[i], num);
                failed = 1;
                break;
            }
        }
        if (getenv("MIGR_TEST_VERBOSE"))
            fprintf(stderr, "    %-9s max |grad| %-9.3g max |analytic - numeric| %.3g\n",
                    param_names[k], maxgrad, maxerr);
        off += sizes[k];
    }
    free(grad);
    model_free(&c.m);
    CHECK_MSG(!failed, "%s", msg);
}
