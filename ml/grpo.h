/* grpo.h -- the GRPO objective of stage 2 (design.md section 1): group
 * advantages, the clipped surrogate with a k3 KL penalty, and its gradient
 * with respect to each completion token's log-probability.
 *
 * Pure functions on arrays: no model, no allocation, no global state.  Every
 * sum is taken in double in index order, so the same inputs give the same
 * bits on every machine.
 *
 * Advantages.  The rollout samples G completions of each of N clips; rewards
 * are laid out group by group, (N, G).  Within a group
 *
 *   A = (r - mean) / (std + 1e-4)
 *
 * where std is the SAMPLE standard deviation, sqrt(sum (r - mean)^2 / (G - 1)),
 * as TRL's GRPOTrainer (torch.std, unbiased); the population std would give
 * larger advantages by sqrt(G / (G - 1)).  A group whose rewards are all
 * equal carries no signal: its advantages are exactly 0 and its std 0
 * (tested for equality, not computed, so rounding in the mean cannot leave a
 * 1e-13 residue).  grpo_zero_variance_groups counts such groups; a run logs
 * it, since many of them mean G is too small or the task too easy/hard.
 *
 * Loss.  For completion token t of sequence i, with lp = log pi(y_t) under
 * the policy being trained, olp the log-prob recorded at rollout time, rlp
 * the log-prob under the reference (the SFT checkpoint) and A_i the
 * sequence's advantage:
 *
 *   ratio = exp(lp - olp)
 *   surr  = min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)
 *   k3    = exp(rlp - lp) - (rlp - lp) - 1          (>= 0, an estimate of KL(pi || pi_ref))
 *   L_t   = -(surr - beta * k3)
 *
 * Normalization: sequence-level mean, then batch mean, as in DeepSeekMath's
 * GRPO: L = (1/S) sum_i (1/n_i) sum_{t in i} L_t, with n_i the completion
 * tokens of sequence i and S the sequences of the global batch.  So each
 * token weighs 1/(n_i * S).  grpo_loss returns the SUM over its sequences of
 * each sequence's mean, and the gradient of that sum; the caller divides both
 * by the global S, the way SFT shards sum their token losses and divide by
 * the global token count.  A sequence with no completion tokens contributes 0
 * and still counts in S (TRL's mask.sum().clamp(min=1)).
 *
 * Gradient, exactly (d = dL_t / dlp, before the 1/n_i weight):
 *
 *   dratio/dlp = ratio, so d(ratio * A)/dlp = ratio * A.
 *   The clip is ACTIVE when A > 0 and ratio > 1 + eps, or A < 0 and
 *   ratio < 1 - eps: then min picks the constant clip(ratio) * A and its
 *   gradient is 0.  Otherwise surr = ratio * A (inside the interval both
 *   terms are equal; outside it on the other side min picks the unclipped,
 *   pessimistic term).
 *   At ratio exactly 1 - eps or 1 + eps the clip is not active: the token
 *   gets the full gradient ratio * A, as PyTorch's clamp (whose gradient
 *   passes at the bounds) gives; with eps = 0 and lp == olp every token is on
 *   the boundary and still learns.
 *   dk3/dlp = 1 - exp(rlp - lp).
 *   d = -(dsurr - beta * dk3).
 *
 * The model's loss at a position is the cross-entropy c_t = -lp_t, so the
 * weighted backward wants w_t = dLoss/dc_t = -dLoss/dlp_t: grpo_ce_weights.
 *
 * Inputs are float (what the model produces) and all arithmetic is double.
 * Arguments read as the rest of the module is called: inputs, sizes, then
 * outputs.
 * A non-finite input gives a non-finite loss; the caller stops the run. */
#ifndef MIGR_GRPO_H
#define MIGR_GRPO_H

#include <stdint.h>

/* The std offset of the advantage, 1e-4 as the design and TRL. */
#define GRPO_STD_EPS 1e-4

/* Per-token diagnostics of one grpo_loss call.  The counts and sums add
 * across shards (grpo_stats_merge); the means are recomputed from them. */
typedef struct grpo_stats {
    int64_t tokens;        /* completion tokens seen */
    int64_t clipped_high;  /* A > 0 and ratio > 1 + eps: clip active, no gradient */
    int64_t clipped_low;   /* A < 0 and ratio < 1 - eps: clip active, no gradient */
    double kl_sum;         /* sum of k3 over tokens */
    double ratio_sum;      /* sum of ratio over tokens */
    double kl_mean;        /* kl_sum / tokens (0 when no tokens) */
    double clip_frac;      /* (clipped_high + clipped_low) / tokens */
    double ratio_mean;     /* ratio_sum / tokens */
} grpo_stats;

/* Advantages of N groups of G completions (G >= 1; a group of 1 has zero
 * variance).  adv may not alias rewards.  group_std receives each group's
 * sample std (0 for a zero-variance group) unless NULL. */
void grpo_advantages(const double *rewards /* (N*G) */, int N, int G,
                     double *adv /* (N*G) */, double *group_std /* (N), may be NULL */);

/* The number of the N groups of G rewards that are all equal. */
int grpo_zero_variance_groups(const double *rewards /* (N*G) */, int N, int G);

/* The GRPO loss of nseq sequences whose completion tokens are laid out one
 * sequence after another: sequence i owns tokens seq_off[i] .. seq_off[i+1]-1,
 * seq_off[0] = 0, seq_off[nseq] = ntok, non-decreasing.
 *
 * Returns sum_i (1/n_i) sum_t L_t (see the top of this file) and fills
 * dlp[t] = d(that sum)/d lp[t].  eps >= 0, beta >= 0.  st, unless NULL, is
 * overwritten with this call's statistics. */
double grpo_loss(const float *lp /* (ntok) */, const float *olp /* (ntok) */,
                 const float *rlp /* (ntok) */, const int *seq_off /* (nseq+1) */,
                 const double *adv /* (nseq) */, int nseq, int ntok, double beta, double eps,
                 double *dlp /* (ntok) */, grpo_stats *st);

/* Cross-entropy weights for the model's weighted backward:
 * w[t] = -scale * dlp[t], scale = 1 / (global number of sequences). */
void grpo_ce_weights(const double *dlp /* (ntok) */, int ntok, double scale, float *w /* (ntok) */);

/* Add src's counts and sums to dst and recompute dst's means. */
void grpo_stats_merge(grpo_stats *dst, const grpo_stats *src);

#endif
