/* optim.h -- the optimizer: AdamW, global-norm gradient clipping and the
 * learning-rate schedule.
 *
 * One step, as the apply task runs it over the flat parameter vector:
 *
 *   double norm = optim_grad_norm(grads, n);          (refuse a non-finite norm)
 *   optim_clip(grads, n, norm, train->grad_clip);
 *   adamw_config c = optim_adamw_config(train);
 *   optim_adamw(params, grads, m, v, n, step, optim_lr(train, step), &c);
 *
 * Everything is a fixed sequence of float/double operations over the arrays
 * in index order, so the same inputs give the same bits on every machine. */
#ifndef MIGR_OPTIM_H
#define MIGR_OPTIM_H

#include <stddef.h>

#include "spec/runconfig.h"

typedef struct adamw_config {
    double beta1, beta2;   /* moment decay rates, in [0, 1) */
    double eps;            /* added to sqrt(v_hat) */
    double weight_decay;   /* decoupled: p -= lr * weight_decay * p */
} adamw_config;

adamw_config optim_adamw_config(const runconfig_train *t);

/* The L2 norm of g (n floats), summing squares in double in index order.
 * Inf or NaN when a gradient is; the caller should stop the run then. */
double optim_grad_norm(const float *g, size_t n);

/* Scale g by max_norm / norm when norm > max_norm > 0 (global-norm clipping);
 * max_norm 0 disables clipping.  norm is optim_grad_norm(g, n). */
void optim_clip(float *g, size_t n, double norm, double max_norm);

/* The learning rate of optimizer step `step` (1-based: the step that turns
 * checkpoint step-1 into checkpoint step):
 *
 *   step <= warmup         lr * step / warmup             (0 at step 0)
 *   warmup <= step <= steps  cosine from lr down to lr * min_lr_ratio
 *   step > steps           lr * min_lr_ratio
 *
 * so lr(warmup) = lr, lr(steps) = lr * min_lr_ratio and halfway through the
 * decay it is their mean.  When warmup == steps there is no decay. */
double optim_lr(const runconfig_train *t, int step);

/* One AdamW update of n parameters, as llm.c's gpt2_update:
 *
 *   m = beta1 m + (1 - beta1) g          m_hat = m / (1 - beta1^t)
 *   v = beta2 v + (1 - beta2) g^2        v_hat = v / (1 - beta2^t)
 *   p -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p)
 *
 * t is the 1-based step count (the bias corrections use it).  Weight decay
 * applies to every parameter, biases, LayerNorm gains and embeddings included,
 * as in llm.c: one rule for the flat vector keeps the update a single loop
 * and the checkpoint format free of per-tensor flags; with weight_decay 0.01
 * and a few hundred steps its pull on gains and biases is negligible.
 * m and v start at zero and are updated in place. */
void optim_adamw(float *p, const float *g, float *m, float *v, size_t n, int t, double lr,
                 const adamw_config *c);

#endif
