/* grpo.c -- see grpo.h. */
#include "ml/grpo.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* 1 when the G rewards of one group are all equal. */
static int group_is_constant(const double *r, int G)
{
    for (int j = 1; j < G; j++)
        if (r[j] != r[0])
            return 0;
    return 1;
}

void grpo_advantages(const double *rewards, int N, int G, double *adv, double *group_std)
{
    assert(N >= 0 && G >= 1);
    assert(rewards && adv && rewards != adv);
    for (int g = 0; g < N; g++) {
        const double *r = rewards + (size_t)g * (size_t)G;
        double *a = adv + (size_t)g * (size_t)G;
        double std = 0;
        if (group_is_constant(r, G)) {
            for (int j = 0; j < G; j++)
                a[j] = 0;
        } else {
            /* G >= 2 here: a group of one is constant. */
            double sum = 0, ss = 0;
            for (int j = 0; j < G; j++)
                sum += r[j];
            double mean = sum / G;
            for (int j = 0; j < G; j++)
                ss += (r[j] - mean) * (r[j] - mean);
            std = sqrt(ss / (G - 1));
            for (int j = 0; j < G; j++)
                a[j] = (r[j] - mean) / (std + GRPO_STD_EPS);
        }
        if (group_std)
            group_std[g] = std;
    }
}

int grpo_zero_variance_groups(const double *rewards, int N, int G)
{
    assert(N >= 0 && G >= 1);
    int n = 0;
    for (int g = 0; g < N; g++)
        n += group_is_constant(rewards + (size_t)g * (size_t)G, G);
    return n;
}

/* One token's loss L_t and dL_t/dlp (unweighted); *clip is +1 when the clip
 * is active above, -1 below, 0 otherwise. */
static double token_loss(double lp, double olp, double rlp, double A, double beta, double eps,
                         double *ratio_out, double *k3_out, double *dlp_out, int *clip)
{
    double ratio = exp(lp - olp);
    double surr, dsurr;
    *clip = 0;
    if (A > 0 && ratio > 1 + eps) {
        surr = (1 + eps) * A, dsurr = 0, *clip = 1;
    } else if (A < 0 && ratio < 1 - eps) {
        surr = (1 - eps) * A, dsurr = 0, *clip = -1;
    } else {
        surr = ratio * A, dsurr = ratio * A;
    }
    double x = rlp - lp, ex = exp(x);
    double k3 = ex - x - 1;
    double dk3 = 1 - ex;
    *ratio_out = ratio;
    *k3_out = k3;
    *dlp_out = -(dsurr - beta * dk3);
    return -(surr - beta * k3);
}

static void stats_finish(grpo_stats *st)
{
    double n = (double)st->tokens;
    st->kl_mean = st->tokens > 0 ? st->kl_sum / n : 0;
    st->ratio_mean = st->tokens > 0 ? st->ratio_sum / n : 0;
    st->clip_frac = st->tokens > 0 ? (double)(st->clipped_high + st->clipped_low) / n : 0;
}

double grpo_loss(const float *lp, const float *olp, const float *rlp, const int *seq_off,
                 const double *adv, int nseq, int ntok, double beta, double eps, double *dlp,
                 grpo_stats *st)
{
    assert(nseq >= 0 && ntok >= 0);
    assert(seq_off[0] == 0 && seq_off[nseq] == ntok);
    assert(beta >= 0 && eps >= 0);
    grpo_stats s = {0};
    double total = 0;
    for (int i = 0; i < nseq; i++) {
        int t0 = seq_off[i], t1 = seq_off[i + 1];
        assert(t1 >= t0);
        if (t1 == t0)
            continue;
        double w = 1.0 / (t1 - t0), seq_sum = 0;
        for (int t = t0; t < t1; t++) {
            double ratio, k3, d;
            int clip;
            seq_sum += token_loss(lp[t], olp[t], rlp[t], adv[i], beta, eps, &ratio, &k3, &d,
                                  &clip);
            dlp[t] = d * w;
            s.kl_sum += k3;
            s.ratio_sum += ratio;
            s.clipped_high += clip > 0;
            s.clipped_low += clip < 0;
        }
        s.tokens += t1 - t0;
        total += seq_sum * w;
    }
    if (st) {
        stats_finish(&s);
        *st = s;
    }
    return total;
}

void grpo_ce_weights(const double *dlp, int ntok, double scale, float *w)
{
    assert(ntok >= 0);
    for (int t = 0; t < ntok; t++)
        w[t] = (float)(-scale * dlp[t]);
}

void grpo_stats_merge(grpo_stats *dst, const grpo_stats *src)
{
    dst->tokens += src->tokens;
    dst->clipped_high += src->clipped_high;
    dst->clipped_low += src->clipped_low;
    dst->kl_sum += src->kl_sum;
    dst->ratio_sum += src->ratio_sum;
    stats_finish(dst);
}
