/* test_optim.c -- AdamW against hand-computed steps, gradient norm and
 * clipping, the learning-rate schedule, and AdamW minimizing a quadratic. */
#include "check.h"

#include <math.h>

#include "ml/optim.h"

static runconfig_train schedule(int steps, int warmup, double lr, double min_lr_ratio)
{
    runconfig rc;
    runconfig_defaults(&rc);
    rc.train.steps = steps;
    rc.train.warmup = warmup;
    rc.train.lr = lr;
    rc.train.min_lr_ratio = min_lr_ratio;
    return rc.train;
}

/* Betas 0.5 and 0.75, eps 1 and gradients 3, -1, 0 keep every intermediate
 * a short binary fraction, so the first step is exact in float:
 *
 *   m = 0.5 g = [1.5, -0.5, 0]       m_hat = m / 0.5  = [3, -1, 0]
 *   v = 0.25 g^2 = [2.25, 0.25, 0]   v_hat = v / 0.25 = [9, 1, 0]
 *   m_hat / (sqrt(v_hat) + 1)        = [3/4, -1/2, 0]
 *   p -= 0.5 * (that + 0.5 p), p = [1, -2, 0.5]
 *     = [1 - 0.5*1.25, -2 - 0.5*(-1.5), 0.5 - 0.5*0.25] = [0.375, -1.25, 0.375] */
TEST(optim_adamw_first_step_matches_the_hand_computation_exactly)
{
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {3.0f, -1.0f, 0.0f};
    float m[3] = {0}, v[3] = {0};
    adamw_config c = {.beta1 = 0.5, .beta2 = 0.75, .eps = 1.0, .weight_decay = 0.5};
    optim_adamw(p, g, m, v, 3, 1, 0.5, &c);
    const float want_p[3] = {0.375f, -1.25f, 0.375f};
    const float want_m[3] = {1.5f, -0.5f, 0.0f}, want_v[3] = {2.25f, 0.25f, 0.0f};
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(p[i] == want_p[i], "p[%d]: expected %.9g, got %.9g", i, want_p[i], p[i]);
        CHECK_MSG(m[i] == want_m[i], "m[%d]: expected %.9g, got %.9g", i, want_m[i], m[i]);
        CHECK_MSG(v[i] == want_v[i], "v[%d]: expected %.9g, got %.9g", i, want_v[i], v[i]);
    }
}

/* Step 2 of the same run, against the formulas in double: the bias
 * corrections are now 1 - 0.25 and 1 - 0.5625. */
TEST(optim_adamw_second_step_applies_the_bias_corrections_of_t_2)
{
    float p[3] = {1.0f, -2.0f, 0.5f}, g1[3] = {3.0f, -1.0f, 0.0f}, g2[3] = {-1.0f, 2.0f, 0.5f};
    float m[3] = {0}, v[3] = {0};
    adamw_config c = {.beta1 = 0.5, .beta2 = 0.75, .eps = 1.0, .weight_decay = 0.5};
    optim_adamw(p, g1, m, v, 3, 1, 0.5, &c);
    const double p1[3] = {0.375, -1.25, 0.375}, m1[3] = {1.5, -0.5, 0}, v1[3] = {2.25, 0.25, 0};
    optim_adamw(p, g2, m, v, 3, 2, 0.25, &c);
    for (int i = 0; i < 3; i++) {
        double mi = 0.5 * m1[i] + 0.5 * g2[i], vi = 0.75 * v1[i] + 0.25 * g2[i] * g2[i];
        double upd = (mi / 0.75) / (sqrt(vi / 0.4375) + 1.0) + 0.5 * p1[i];
        double want = p1[i] - 0.25 * upd;
        CHECK_NEAR(mi, m[i], 1e-6);
        CHECK_NEAR(vi, v[i], 1e-6);
        CHECK_NEAR(want, p[i], 1e-6);
    }
}

/* With the usual betas, the first step moves each parameter by about lr
 * against the sign of its gradient, plus the decay lr * wd * p. */
TEST(optim_adamw_first_step_with_default_betas_is_lr_times_sign)
{
    runconfig rc;
    runconfig_defaults(&rc);
    adamw_config c = optim_adamw_config(&rc.train);
    CHECK(c.beta1 == 0.9 && c.beta2 == 0.95 && c.eps == 1e-8 && c.weight_decay == 0.01);
    float p[3] = {0.5f, 0.5f, 0.5f}, g[3] = {1e-3f, -20.0f, 0.0f}, m[3] = {0}, v[3] = {0};
    optim_adamw(p, g, m, v, 3, 1, 0.01, &c);
    CHECK_NEAR(0.5 - 0.01 * (1 + 0.005), p[0], 1e-6);
    CHECK_NEAR(0.5 - 0.01 * (-1 + 0.005), p[1], 1e-6);
    CHECK_NEAR(0.5 - 0.01 * 0.005, p[2], 1e-7);
}

TEST(optim_grad_norm_is_the_l2_norm_summed_in_double)
{
    float g[2] = {3.0f, -4.0f};
    CHECK(optim_grad_norm(g, 2) == 5.0);
    CHECK(optim_grad_norm(g, 0) == 0.0);
    /* Squares of 1e20 overflow float but not double. */
    float big[2] = {1e20f, 1e20f};
    CHECK_NEAR(sqrt(2.0) * 1e20f, optim_grad_norm(big, 2), 1e6);
    float bad[2] = {1.0f, INFINITY};
    CHECK(!isfinite(optim_grad_norm(bad, 2)));
}

TEST(optim_clip_scales_a_large_gradient_to_the_limit_and_leaves_a_small_one)
{
    float g[2] = {3.0f, -4.0f};
    optim_clip(g, 2, optim_grad_norm(g, 2), 1.0);
    CHECK_NEAR(0.6, g[0], 1e-7);
    CHECK_NEAR(-0.8, g[1], 1e-7);
    CHECK_NEAR(1.0, optim_grad_norm(g, 2), 1e-6);

    float h[2] = {3.0f, -4.0f};
    optim_clip(h, 2, 5.0, 5.0);   /* at the limit: unchanged */
    CHECK(h[0] == 3.0f && h[1] == -4.0f);
    optim_clip(h, 2, 5.0, 10.0);
    CHECK(h[0] == 3.0f && h[1] == -4.0f);
    optim_clip(h, 2, 5.0, 0.0);   /* 0: clipping off */
    CHECK(h[0] == 3.0f && h[1] == -4.0f);
}

TEST(optim_lr_warms_up_linearly_then_decays_by_cosine)
{
    runconfig_train t = schedule(200, 20, 0.003, 0.1);
    CHECK(optim_lr(&t, 0) == 0.0);
    CHECK_NEAR(0.003 / 20, optim_lr(&t, 1), 1e-15);
    CHECK_NEAR(0.0015, optim_lr(&t, 10), 1e-15);
    CHECK_NEAR(0.003, optim_lr(&t, 20), 1e-15);
    CHECK_NEAR(0.5 * (0.003 + 0.0003), optim_lr(&t, 110), 1e-15);   /* mid-decay */
    CHECK_NEAR(0.0003 + 0.5 * 0.0027 * (1 + cos(M_PI * 0.25)), optim_lr(&t, 65), 1e-15);
    CHECK_NEAR(0.0003, optim_lr(&t, 200), 1e-15);
    CHECK_NEAR(0.0003, optim_lr(&t, 250), 1e-15);
    /* Non-decreasing through warmup, non-increasing after. */
    for (int s = 1; s <= 200; s++) {
        double prev = optim_lr(&t, s - 1), cur = optim_lr(&t, s);
        CHECK_MSG(s <= 20 ? cur >= prev : cur <= prev, "lr(%d) = %g after lr(%d) = %g", s, cur,
                  s - 1, prev);
    }
}

TEST(optim_lr_without_warmup_or_without_decay)
{
    runconfig_train none = schedule(100, 0, 0.01, 0.0);
    CHECK_NEAR(0.01, optim_lr(&none, 0), 1e-15);
    CHECK_NEAR(0.005, optim_lr(&none, 50), 1e-15);
    CHECK_NEAR(0.0, optim_lr(&none, 100), 1e-15);
    runconfig_train flat = schedule(10, 10, 0.01, 0.1);
    CHECK_NEAR(0.005, optim_lr(&flat, 5), 1e-15);
    CHECK_NEAR(0.01, optim_lr(&flat, 10), 1e-15);
    CHECK_NEAR(0.01, optim_lr(&flat, 11), 1e-15);
}

/* f(p) = sum_i a_i (p_i - c_i)^2 / 2, badly scaled (a from 0.01 to 100):
 * AdamW with the schedule brings every coordinate to its minimum. */
TEST(optim_adamw_minimizes_a_badly_scaled_quadratic)
{
    const double a[3] = {100.0, 1.0, 0.01}, c[3] = {1.0, -2.0, 0.5};
    float p[3] = {0, 0, 0}, g[3], m[3] = {0}, v[3] = {0};
    runconfig_train t = schedule(1000, 50, 0.05, 0.01);
    t.weight_decay = 0;
    adamw_config ac = optim_adamw_config(&t);
    double f0 = 0, f = 0;
    for (int i = 0; i < 3; i++)
        f0 += 0.5 * a[i] * c[i] * c[i];
    for (int step = 1; step <= t.steps; step++) {
        for (int i = 0; i < 3; i++)
            g[i] = (float)(a[i] * (p[i] - c[i]));
        optim_clip(g, 3, optim_grad_norm(g, 3), 10.0);
        optim_adamw(p, g, m, v, 3, step, optim_lr(&t, step), &ac);
    }
    for (int i = 0; i < 3; i++) {
        f += 0.5 * a[i] * (p[i] - c[i]) * (p[i] - c[i]);
        CHECK_NEAR(c[i], p[i], 1e-2);
    }
    CHECK_MSG(f < 1e-4 * f0, "f went from %g to %g", f0, f);
}
