/* optim.c -- see optim.h. */
#include "ml/optim.h"

#include <assert.h>
#include <math.h>

adamw_config optim_adamw_config(const runconfig_train *t)
{
    return (adamw_config){.beta1 = t->beta1, .beta2 = t->beta2, .eps = t->eps,
                          .weight_decay = t->weight_decay};
}

double optim_grad_norm(const float *g, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}

void optim_clip(float *g, size_t n, double norm, double max_norm)
{
    assert(max_norm >= 0);
    if (!(max_norm > 0) || !(norm > max_norm))
        return;
    double scale = max_norm / norm;
    for (size_t i = 0; i < n; i++)
        g[i] = (float)(g[i] * scale);
}

double optim_lr(const runconfig_train *t, int step)
{
    const double pi = 3.14159265358979323846;
    double min_lr = t->lr * t->min_lr_ratio;

    assert(t->warmup >= 0 && t->warmup <= t->steps);
    if (step <= 0)
        return t->warmup > 0 ? 0.0 : t->lr;
    if (step < t->warmup)
        return t->lr * step / t->warmup;
    if (t->steps == t->warmup)
        return t->lr;
    if (step >= t->steps)
        return min_lr;
    double progress = (double)(step - t->warmup) / (double)(t->steps - t->warmup);
    return min_lr + 0.5 * (t->lr - min_lr) * (1.0 + cos(pi * progress));
}

void optim_adamw(float *p, const float *g, float *m, float *v, size_t n, int t, double lr,
                 const adamw_config *c)
{
    assert(t >= 1);
    assert(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1);
    /* Per-step constants in double, the per-parameter arithmetic in float
     * (as llm.c), so the update is the same loop on every machine. */
    float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    float wd = (float)c->weight_decay, flr = (float)lr;
    float corr1 = (float)(1.0 - pow(c->beta1, t)), corr2 = (float)(1.0 - pow(c->beta2, t));
    for (size_t i = 0; i < n; i++) {
        float grad = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * grad;
        float vi = b2 * v[i] + (1.0f - b2) * grad * grad;
        float m_hat = mi / corr1;
        float v_hat = vi / corr2;
        m[i] = mi;
        v[i] = vi;
        p[i] -= flr * (m_hat / (sqrtf(v_hat) + eps) + wd * p[i]);
    }
}
