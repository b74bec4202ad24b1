/* model.h -- the small multimodal language model, forward and backward by hand.
 *
 * A sequence is a prefix of media tokens followed by the explanation:
 *
 *   [F visual][NA audio][S subtitle words][<bos> target tokens ...][<pad> ...]
 *
 *   visual token f  = wvis @ frame_f (h*w pixels) + bvis              (F = n_frames;
 *                     the batch's frames, ml/batch.h: on the face, later
 *                     ones as changes from the first)
 *   audio token a   = waud @ mel[a*W .. a*W+W-1] (W*n_mel values) + baud
 *                     (NA = audio_tokens; frames past the clip's end are 0)
 *   word token      = wte[id]
 *   x_t             = token_t + wpe[t] + wtype[type_t]
 *                     (type 0 visual, 1 audio, 2 subtitle, 3 explanation)
 *
 * then n_layers pre-LayerNorm blocks (x += attn(ln1(x)); x += mlp(ln2(x))),
 * causal multi-head attention with scale 1/sqrt(head_dim), an MLP of width
 * mlp_ratio*C with GELU (tanh approximation), LayerNorm eps 1e-5, a final
 * LayerNorm and logits = lnf(x) @ wte^T (tied).  Trailing padding never
 * influences earlier positions (attention is causal).
 *
 * The loss is the SUM over positions with target[b][t] >= 0 of
 * -log softmax(logits[b][t])[target[b][t]]; the caller divides by the token
 * count of the global batch, so that shard gradients add up exactly.
 *
 * Shapes follow llm.c: B sequences of T positions, C channels, V words. */
#ifndef MIGR_MODEL_H
#define MIGR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "ml/pool.h"

typedef struct model_config {
    int vocab;          /* V, from the vocabulary */
    int max_seq;        /* maxT: positions */
    int channels;       /* C */
    int layers;         /* L */
    int heads;          /* NH; C % NH == 0 */
    int mlp_ratio;      /* MLP width = mlp_ratio * C (4) */
    int n_frames;       /* F visual tokens per clip */
    int frame_pixels;   /* h * w */
    int audio_tokens;   /* NA */
    int audio_window;   /* W log-mel frames per audio token */
    int n_mel;
} model_config;

/* The parameters, in this order, one allocation (also the order of the
 * checkpoint and of the golden fixture). */
enum { MODEL_NUM_PARAMS = 21 };
typedef struct model_params {
    float *wte;      /* (V, C) */
    float *wpe;      /* (maxT, C) */
    float *wtype;    /* (4, C) */
    float *wvis;     /* (C, F_PIX)  F_PIX = frame_pixels */
    float *bvis;     /* (C) */
    float *waud;     /* (C, A_IN)   A_IN = audio_window * n_mel */
    float *baud;     /* (C) */
    float *ln1w;     /* (L, C) */
    float *ln1b;     /* (L, C) */
    float *qkvw;     /* (L, 3*C, C) */
    float *qkvb;     /* (L, 3*C) */
    float *attprojw; /* (L, C, C) */
    float *attprojb; /* (L, C) */
    float *ln2w;     /* (L, C) */
    float *ln2b;     /* (L, C) */
    float *fcw;      /* (L, R*C, C)  R = mlp_ratio */
    float *fcb;      /* (L, R*C) */
    float *fcprojw;  /* (L, C, R*C) */
    float *fcprojb;  /* (L, C) */
    float *lnfw;     /* (C) */
    float *lnfb;     /* (C) */
} model_params;

/* One batch of B sequences of T positions (T <= max_seq), built by
 * ml/batch.c.  All arrays are the caller's.
 *
 * Training needs the logits only where there is a loss, so by default the
 * forward computes the LM head (logits, softmax), and the last block past
 * its attention, only at positions with a target >= 0: in an SFT batch the
 * media/subtitle prefix and the padding (about 40% of the positions) skip
 * the largest matmul.  all_logits = 1 asks for the logits of every
 * position (checking, uncached generation); the loss and the gradients are
 * the same bits either way. */
typedef struct model_batch {
    int B, T;
    const float *frames;  /* (B, F, F_PIX) */
    const float *mel;     /* (B, NA*W, n_mel), zero past each clip's audio */
    const int *tokens;    /* (B, T) token ids; positions < F+NA hold 0 (ignored) */
    const int *types;     /* (B, T) 0..3 as above */
    const int *targets;   /* (B, T) next-token id to predict, or -1 (no loss) */
    int all_logits;       /* 0: logits only where targets >= 0; 1: everywhere */
} model_batch;

typedef struct model model;

/* Sizes of the parameter tensors in model_params order; returns their count. */
int model_param_sizes(const model_config *cfg, size_t sizes[MODEL_NUM_PARAMS]);
int model_config_check(const model_config *cfg, migr_err *err);

/* A model with parameters initialized from seed (normal(0, 0.02) weights,
 * projections scaled by 1/sqrt(2L), LayerNorm weights 1, biases 0).
 * NULL with err on bad config or no memory. */
model *model_new(const model_config *cfg, uint64_t seed, migr_err *err);
void model_free(model **m);

const model_config *model_cfg(const model *m);
size_t model_num_params(const model *m);
float *model_params_flat(model *m);   /* (num_params) */
float *model_grads_flat(model *m);    /* (num_params), after model_backward */
const model_params *model_param_ptrs(const model *m);
const model_params *model_grad_ptrs(const model *m);

/* The threads the model's forward and backward split their kernels over
 * (and model_generate_many its sequences); NULL, the default, runs them on
 * the caller alone.  The losses, logits and gradients are the same bits at
 * any thread count (ml/layers.h says how).  The model borrows tp, which must
 * outlive its use here.  Setting it discards the last forward (a backward
 * needs a forward first). */
void model_set_pool(model *m, pool *tp);
pool *model_pool(const model *m);

/* Forward: computes the logits (at the positions batch->all_logits asks
 * for) and returns the summed loss over target positions (and *ntokens,
 * their count).  Activations for a batch of this B and T are (re)allocated
 * as needed. */
int model_forward(model *m, const model_batch *batch, double *loss, int *ntokens, migr_err *err);
/* The V logits of position t of sequence b in the last forward, or NULL
 * when that forward did not compute them: a position without a target in a
 * batch without all_logits, (b, t) out of range, or no forward yet.  Valid
 * until the next forward. */
const float *model_logits_row(const model *m, int b, int t);

/* Backward of the last forward's summed loss: zeroes and fills the
 * gradients of every parameter. */
int model_backward(model *m, migr_err *err);

/* The loss (cross-entropy, -log p(target)) of each position of the last
 * forward that has a target, in (b, t) order: ntokens values.  NULL before
 * a forward. */
const float *model_token_losses(const model *m);

/* model_forward then model_backward, with the LM head's weight gradient
 * summed during the forward while each block of rows is in cache, and the
 * logits kept only with batch->all_logits (model_logits_row is NULL
 * otherwise).  The same loss and, to the last bits of dwte, the same
 * gradients; the SFT step.  A model_backward may follow (the same
 * gradients again); a model_backward_weighted needs a model_forward first. */
int model_forward_backward(model *m, const model_batch *batch, double *loss, int *ntokens,
                           migr_err *err);

/* Backward of sum_r weights[r] * loss_r (weights in model_token_losses'
 * order) -- the policy gradient of GRPO; model_backward is every weight 1. */
int model_backward_weighted(model *m, const float *weights, migr_err *err);

#endif
