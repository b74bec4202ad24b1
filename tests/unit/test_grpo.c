/* test_grpo.c -- the GRPO objective: group advantages (sample std, zero-
 * variance groups), the loss on a hand-computed batch, its gradient against
 * central finite differences in every clip case, the identity policy, the
 * boundary convention, the cross-entropy weights and merged statistics. */
#include "check.h"

#include <math.h>

#include "common/rng.h"
#include "ml/grpo.h"

/* Four groups of G = 4, worked by hand (sample std, divide by G - 1 = 3):
 *
 *   {1, 0, 0, 0}      mean 0.25  ss 0.75  std sqrt(0.25) = 0.5
 *                     A = 0.75/0.5001, -0.25/0.5001
 *   {1, 1, 0, 0}      mean 0.5   ss 1     std sqrt(1/3) = 0.57735026918962573
 *                     A = +-0.5/(std + 1e-4)
 *   {2, 1.5, 0, 0.5}  mean 1     ss 2.5   std sqrt(2.5/3) = 0.91287092917527690
 *                     A = (1, 0.5, -1, -0.5)/(std + 1e-4)
 *   {0.5 x 4}         zero variance: A = 0, std 0
 *
 * (The population std of the first group would be sqrt(0.1875) = 0.433.) */
TEST(grpo_advantages_use_the_sample_std_of_each_group)
{
    const double r[16] = {1, 0, 0, 0, 1, 1, 0, 0, 2, 1.5, 0, 0.5, 0.5, 0.5, 0.5, 0.5};
    const double want[16] = {
        1.4997000599880024,  -0.4999000199960008, -0.4999000199960008, -0.4999000199960008,
        0.8658754297607016,  0.8658754297607016,  -0.8658754297607016, -0.8658754297607016,
        1.0953251281542338,  0.5476625640771169,  -1.0953251281542338, -0.5476625640771169,
        0,                   0,                   0,                   0};
    const double want_std[4] = {0.5, 0.5773502691896257, 0.9128709291752769, 0};
    double adv[16], std[4];
    grpo_advantages(r, 4, 4, adv, std);
    for (int i = 0; i < 16; i++)
        CHECK_MSG(fabs(adv[i] - want[i]) < 1e-14, "adv[%d]: expected %.17g, got %.17g", i,
                  want[i], adv[i]);
    for (int g = 0; g < 4; g++)
        CHECK_MSG(fabs(std[g] - want_std[g]) < 1e-15, "std[%d]: expected %.17g, got %.17g", g,
                  want_std[g], std[g]);
    CHECK_INT(1, grpo_zero_variance_groups(r, 4, 4));
}

/* Three copies of 0.1 sum to 0.30000000000000004, whose third is not 0.1:
 * computed, the advantages would be about 1e-13.  Detected, they are 0. */
TEST(grpo_advantages_of_a_zero_variance_group_are_exactly_zero_and_counted)
{
    const double r[9] = {0.1, 0.1, 0.1, 1, 0, 1, 7, 7, 7};
    double adv[9], std[3];
    grpo_advantages(r, 3, 3, adv, std);
    for (int j = 0; j < 3; j++) {
        CHECK_MSG(adv[j] == 0.0, "adv[%d]: expected exactly 0, got %.17g", j, adv[j]);
        CHECK_MSG(adv[6 + j] == 0.0, "adv[%d]: expected exactly 0, got %.17g", 6 + j, adv[6 + j]);
    }
    CHECK(std[0] == 0.0 && std[2] == 0.0);
    CHECK(adv[3] > 0 && adv[4] < 0 && adv[5] == adv[3]);
    CHECK_INT(2, grpo_zero_variance_groups(r, 3, 3));
    /* A group of one completion has no variance either; NULL group_std is fine. */
    grpo_advantages(r + 3, 3, 1, adv, NULL);
    CHECK(adv[0] == 0.0 && adv[1] == 0.0 && adv[2] == 0.0);
    CHECK_INT(3, grpo_zero_variance_groups(r + 3, 3, 1));
}

/* Three sequences, eps 0.2, beta 0.04, one token per case (k(x) = e^x - x - 1):
 *
 *   seq 0, A = 1, 3 tokens
 *     lp -1,   olp -1,     rlp -1     ratio 1         in range   L = -1
 *     lp -0.5, olp -1,     rlp -1     ratio e^0.5     clip high  L = -(1.2 - 0.04 k(-0.5))
 *     lp -2,   olp -1.5,   rlp -2     ratio e^-0.5    unclipped  L = -e^-0.5
 *   seq 1, A = -0.5, 2 tokens
 *     lp -2,   olp -1.5,   rlp -2.5   ratio e^-0.5    clip low   L = 0.4 + 0.04 k(-0.5)
 *     lp -1,   olp -1.125, rlp -0.75  ratio e^0.125   in range   L = 0.5 e^0.125 + 0.04 k(0.25)
 *   seq 2, A = -0.5, 1 token
 *     lp -1,   olp -1.5,   rlp -1     ratio e^0.5     unclipped  L = 0.5 e^0.5
 *
 * loss = mean(seq 0) + mean(seq 1) + seq 2 = 0.3763690590367356;
 * dlp = dL_t/dlp / n_i:
 *   -1/3, 0.04 (1 - e^-0.5)/3, -e^-0.5/3, 0.04 (1 - e^-0.5)/2,
 *   (0.5 e^0.125 + 0.04 (1 - e^0.25))/2, 0.5 e^0.5.
 * Every input is exact in float. */
TEST(grpo_loss_matches_a_hand_computed_batch)
{
    const float lp[6] = {-1, -0.5f, -2, -2, -1, -1};
    const float olp[6] = {-1, -1, -1.5f, -1.5f, -1.125f, -1.5f};
    const float rlp[6] = {-1, -1, -2, -2.5f, -0.75f, -1};
    const int off[4] = {0, 3, 5, 6};
    const double adv[3] = {1, -0.5, -0.5};
    const double want_dlp[6] = {-0.3333333333333333,  0.005246257870498222,
                                -0.20217688657087782, 0.007869386805747332,
                                0.27760660493295175,  0.8243606353500641};
    double dlp[6];
    grpo_stats st;
    double loss = grpo_loss(lp, olp, rlp, off, adv, 3, 6, 0.04, 0.2, dlp, &st);
    CHECK_MSG(fabs(loss - 0.3763690590367356) < 1e-14, "loss: expected %.17g, got %.17g",
              0.3763690590367356, loss);
    for (int t = 0; t < 6; t++)
        CHECK_MSG(fabs(dlp[t] - want_dlp[t]) < 1e-14, "dlp[%d]: expected %.17g, got %.17g", t,
                  want_dlp[t], dlp[t]);
    CHECK_INT(6, st.tokens);
    CHECK_INT(1, st.clipped_high);
    CHECK_INT(1, st.clipped_low);
    CHECK_NEAR(2.0 / 6.0, st.clip_frac, 1e-15);
    CHECK_NEAR(0.04118112268550137, st.kl_mean, 1e-15);
    CHECK_NEAR(1.107275385648725, st.ratio_mean, 1e-14);
}

/* Random tokens with lp - olp drawn inside (-0.15, 0.15), above (0.25, 0.7)
 * or below (-0.7, -0.3) the clip interval [ln 0.8, ln 1.2] = [-0.223, 0.182],
 * and sequences of alternating advantage sign, so every case occurs: in
 * range, clipped above, clipped below, and the two unclipped sides.  No
 * token lies within 0.03 of a kink, far more than the step. */
enum { FD_SEQ = 6, FD_MAXTOK = 64 };

typedef struct fd_batch {
    float lp[FD_MAXTOK], olp[FD_MAXTOK], rlp[FD_MAXTOK];
    int off[FD_SEQ + 1];
    double adv[FD_SEQ];
    int ntok;
} fd_batch;

static void fd_batch_make(fd_batch *b, uint64_t seed)
{
    static const int len[FD_SEQ] = {1, 4, 7, 2, 9, 5};
    uint64_t s = rng_stream(seed, 0, 0);
    int t = 0;
    b->off[0] = 0;
    for (int i = 0; i < FD_SEQ; i++) {
        double mag = rng_range(&s, 0.3, 2.0);
        b->adv[i] = i % 2 == 0 ? mag : -mag;
        for (int k = 0; k < len[i]; k++, t++) {
            double d;
            switch ((t + i) % 3) {
            case 0: d = rng_range(&s, -0.15, 0.15); break;
            case 1: d = rng_range(&s, 0.25, 0.7); break;
            default: d = rng_range(&s, -0.7, -0.3); break;
            }
            double lpv = rng_range(&s, -4.0, -0.2);
            b->lp[t] = (float)lpv;
            b->olp[t] = (float)(lpv - d);
            b->rlp[t] = (float)(lpv + rng_range(&s, -1.0, 1.0));
        }
        b->off[i + 1] = t;
    }
    b->ntok = t;
}

/* Each dlp[j] against (L(lp_j + h) - L(lp_j - h)) / (the float step actually
 * taken), all in double; h = 2^-12. */
static int check_fd(check_case *self, fd_batch *b, double beta, grpo_stats *st)
{
    const double h = 1.0 / 4096.0;
    double dlp[FD_MAXTOK], scratch[FD_MAXTOK];
    grpo_loss(b->lp, b->olp, b->rlp, b->off, b->adv, FD_SEQ, b->ntok, beta, 0.2, dlp, st);
    for (int j = 0; j < b->ntok; j++) {
        float keep = b->lp[j];
        float up = (float)(keep + h), down = (float)(keep - h);
        b->lp[j] = up;
        double lu = grpo_loss(b->lp, b->olp, b->rlp, b->off, b->adv, FD_SEQ, b->ntok, beta,
                              0.2, scratch, NULL);
        b->lp[j] = down;
        double ld = grpo_loss(b->lp, b->olp, b->rlp, b->off, b->adv, FD_SEQ, b->ntok, beta,
                              0.2, scratch, NULL);
        b->lp[j] = keep;
        double fd = (lu - ld) / ((double)up - (double)down);
        if (!(fabs(fd - dlp[j]) <= 1e-7 * (1 + fabs(fd)))) {
            check_fail(self, __FILE__, __LINE__,
                       "beta %g token %d: finite difference %.12g, analytic %.12g", beta, j, fd,
                       dlp[j]);
            return -1;
        }
    }
    return 0;
}

TEST(grpo_loss_gradient_matches_finite_differences_in_every_clip_case)
{
    const double betas[3] = {0.0, 0.04, 0.5};
    for (uint64_t seed = 1; seed <= 4; seed++) {
        fd_batch b;
        fd_batch_make(&b, seed);
        for (int k = 0; k < 3; k++) {
            grpo_stats st;
            if (check_fd(check_self_, &b, betas[k], &st) != 0)
                return;
            /* The draw really covers both clipped cases and unclipped tokens. */
            CHECK(st.clipped_high > 0 && st.clipped_low > 0);
            CHECK(st.clipped_high + st.clipped_low < st.tokens);
        }
    }
}

/* With beta = 0 a clipped token has no gradient at all, and an unclipped one
 * exactly -ratio * A / n_i. */
TEST(grpo_loss_clipped_tokens_get_no_gradient_without_kl)
{
    fd_batch b;
    fd_batch_make(&b, 9);
    double dlp[FD_MAXTOK];
    grpo_loss(b.lp, b.olp, b.rlp, b.off, b.adv, FD_SEQ, b.ntok, 0.0, 0.2, dlp, NULL);
    int clipped = 0;
    for (int i = 0; i < FD_SEQ; i++) {
        int n = b.off[i + 1] - b.off[i];
        for (int t = b.off[i]; t < b.off[i + 1]; t++) {
            double ratio = exp((double)b.lp[t] - (double)b.olp[t]), A = b.adv[i];
            int active = (A > 0 && ratio > 1.2) || (A < 0 && ratio < 0.8);
            double want = active ? 0.0 : -ratio * A / n;
            clipped += active;
            CHECK_MSG(fabs(dlp[t] - want) < 1e-15, "token %d: expected %.17g, got %.17g", t,
                      want, dlp[t]);
        }
    }
    CHECK(clipped > 0);
}

/* lp == olp == rlp: ratio 1, k3 0, so L_t = -A_i and each sequence's mean
 * is -A_i; the returned sum is -sum_i A_i, dlp = -A_i / n_i. */
TEST(grpo_loss_of_the_identity_policy_is_minus_the_advantages)
{
    float lp[10];
    for (int t = 0; t < 10; t++)
        lp[t] = -0.25f * (float)(t + 1);
    const int off[5] = {0, 1, 4, 4, 10}; /* lengths 1, 3, 0 (empty), 6 */
    const double adv[4] = {1.5, -0.75, 3.0, 0.25};
    double dlp[10];
    grpo_stats st;
    double loss = grpo_loss(lp, lp, lp, off, adv, 4, 10, 0.04, 0.2, dlp, &st);
    /* The empty sequence contributes nothing. */
    CHECK_NEAR(-(1.5 - 0.75 + 0.25), loss, 1e-15);
    const int len[4] = {1, 3, 0, 6};
    for (int i = 0; i < 4; i++)
        for (int t = off[i]; t < off[i + 1]; t++)
            CHECK_NEAR(-adv[i] / len[i], dlp[t], 1e-15);
    CHECK_INT(10, st.tokens);
    CHECK(st.kl_sum == 0.0 && st.kl_mean == 0.0);
    CHECK(st.ratio_mean == 1.0);
    CHECK(st.clip_frac == 0.0 && st.clipped_high == 0 && st.clipped_low == 0);
}

/* eps = 0 puts ratio 1 on both bounds at once: the clip is not active there
 * (strict inequality), every token keeps its gradient -A / n. */
TEST(grpo_loss_ratio_on_the_clip_boundary_keeps_its_gradient)
{
    const float lp[4] = {-1, -2, -0.5f, -3};
    const int off[3] = {0, 2, 4};
    const double adv[2] = {2.0, -1.0};
    double dlp[4];
    grpo_stats st;
    double loss = grpo_loss(lp, lp, lp, off, adv, 2, 4, 0.0, 0.0, dlp, &st);
    CHECK_NEAR(-1.0, loss, 1e-15);
    CHECK_NEAR(-1.0, dlp[0], 1e-15);
    CHECK_NEAR(-1.0, dlp[1], 1e-15);
    CHECK_NEAR(0.5, dlp[2], 1e-15);
    CHECK_NEAR(0.5, dlp[3], 1e-15);
    CHECK_INT(0, st.clipped_high + st.clipped_low);
}

/* The model's loss is c = -lp, so its weights are -dlp, divided here by the
 * global number of sequences. */
TEST(grpo_ce_weights_are_minus_dlp_over_the_global_sequences)
{
    const double dlp[3] = {0.5, -0.25, 0};
    float w[3];
    grpo_ce_weights(dlp, 3, 0.25, w);
    CHECK(w[0] == -0.125f && w[1] == 0.0625f && w[2] == 0.0f);
}

/* Two shards of a random batch merge to the statistics of the whole. */
TEST(grpo_stats_merge_equals_the_statistics_of_the_whole_batch)
{
    fd_batch b;
    fd_batch_make(&b, 5);
    double dlp[FD_MAXTOK];
    grpo_stats whole, a, c;
    double lw = grpo_loss(b.lp, b.olp, b.rlp, b.off, b.adv, FD_SEQ, b.ntok, 0.04, 0.2, dlp,
                          &whole);
    /* Shard 1: sequences 0..2; shard 2: sequences 3..5 (offsets rebased). */
    int k = b.off[3];
    int off2[4] = {0, b.off[4] - k, b.off[5] - k, b.off[6] - k};
    double la = grpo_loss(b.lp, b.olp, b.rlp, b.off, b.adv, 3, k, 0.04, 0.2, dlp, &a);
    double lc = grpo_loss(b.lp + k, b.olp + k, b.rlp + k, off2, b.adv + 3, 3, b.ntok - k, 0.04,
                          0.2, dlp, &c);
    CHECK_NEAR(lw, la + lc, 1e-13);
    grpo_stats_merge(&a, &c);
    CHECK_INT(whole.tokens, a.tokens);
    CHECK_INT(whole.clipped_high, a.clipped_high);
    CHECK_INT(whole.clipped_low, a.clipped_low);
    CHECK_NEAR(whole.kl_mean, a.kl_mean, 1e-14);
    CHECK_NEAR(whole.ratio_mean, a.ratio_mean, 1e-14);
    CHECK_NEAR(whole.clip_frac, a.clip_frac, 1e-15);
}
