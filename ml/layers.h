/* layers.h -- the model's layer kernels, forward and backward by hand.
 *
 * Layers come in pairs, x_forward / x_backward, in llm.c's argument order:
 * outputs first, then inputs, then dimensions.  A backward ADDS into its
 * gradient outputs (dinp, dweight, dbias), so a tensor used twice (the tied
 * wte, the residual stream) collects both contributions; the caller zeroes
 * them first.  Attention's, GELU's and the matrix product's backwards,
 * whose inputs have no other consumer, write dinp instead (saving a pass of
 * zeroes).  Every product of dimensions is a size_t.
 *
 * Threads: a kernel that takes a pool (ml/pool.h; NULL runs on the caller
 * alone) splits its work into items cut from the shapes, never from the
 * thread count: blocks of rows, (sequence, head) pairs, blocks of columns,
 * blocks of the inner dimension.  Every number is computed by one item, and
 * a sum that spans items is made from per-item partial sums added in index
 * order, so every output has the same bits at any thread count, the same as
 * with no pool (test_layers checks each kernel at 1, 2 and 3 threads).
 * Kernels without a pool are the per-row pieces that callers run inside
 * their own items.
 *
 * Determinism: every reduction runs in a fixed order.  Matrix products go
 * through cblas_sgemm, one call per item, with the inner dimension cut into
 * blocks of 256, which with OpenBLAS 0.3.21 also makes the bits independent
 * of OpenBLAS's own thread count (see MATMUL_K_BLOCK in layers.c; the
 * caller sets that count, no kernel here does; with a pool, keep it at 1).
 * Across BLAS builds or CPU kernels the last bits differ.  No kernel
 * allocates memory. */
#ifndef MIGR_LAYERS_H
#define MIGR_LAYERS_H

#include <stddef.h>

#include "ml/model.h"
#include "ml/pool.h"

/* Encoder: position t of sequence b becomes
 *   token + wpe[t] + wtype[types[b][t]]
 * where token is wvis @ frames[b][t] + bvis for t < F, waud @ the audio
 * window mel[b][t-F] + baud for F <= t < F+NA, and wte[tokens[b][t]] after.
 * Ids and types must already be in range (model_forward checks them).
 *   out     (B, T, C)
 *   tokens  (B, T), types (B, T)
 *   frames  (B, F, F_PIX), mel (B, NA, A_IN): the audio windows are
 *           contiguous, so mel (B, NA*W, n_mel) is read as (B, NA, W*n_mel)
 *   p       the parameters (wte, wpe, wtype, wvis, bvis, waud, baud used) */
void encoder_forward(float *out, const int *tokens, const int *types, const float *frames,
                     const float *mel, const model_params *p, int B, int T,
                     const model_config *cfg, pool *tp);
/* Adds dout's contributions into dp->wte, wpe, wtype, wvis, bvis, waud, baud
 * (each number's in the order of b, then t). */
void encoder_backward(const model_params *dp, const float *dout, const int *tokens,
                      const int *types, const float *frames, const float *mel, int B, int T,
                      const model_config *cfg, pool *tp);

/* LayerNorm over the last dimension, eps 1e-5.
 *   out (N, C), mean (N), rstd (N) (kept for the backward), inp (N, C),
 *   weight (C), bias (C) */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, size_t N, int C, pool *tp);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, size_t N, int C, pool *tp);

/* out (N, OC) = inp (N, C) @ weight^T (weight (OC, C)) + bias (OC).
 * bias may be NULL (no bias); in the backward dinp and dbias may be NULL
 * (not wanted), and dinp is written, not added to.  The backward sums
 * dweight over the N rows in blocks of 256 rows (of more on long inputs: at
 * most 16 partial sums), each block's product made apart (by whichever
 * thread) into scratch, matmul_scratch_floats(N, C, OC) floats (enough for
 * any number of rows up to N), and the blocks then added to dweight in
 * order: the same bits as one pass over the blocks. */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    size_t N, int C, int OC, pool *tp);
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, size_t N, int C, int OC,
                     float *scratch, pool *tp);
size_t matmul_scratch_floats(size_t N, int C, int OC);

/* Causal multi-head self-attention, NH heads of size hs = C / NH, scale
 * 1/sqrt(hs), for the query rows q0..T-1 (0: all; the others' outputs
 * are left alone, for a caller that reads none of them).
 *   out     (B, T, C)
 *   att     (B, NH, T (T + 1) / 2): softmax probabilities, kept for the
 *           backward: each head's rows one after the other, row t holding
 *           its keys 0..t only (the causal triangle, packed; row t starts
 *           t (t + 1) / 2 in)
 *   scratch pool_threads(tp) * attention_scratch_floats(T, C, NH) floats of
 *           workspace (a share per thread; each (sequence, head) is an item)
 *   inp     (B, T, 3C): query, key, value of each position, in that order */
void attention_forward(float *out, float *att, float *scratch, const float *inp, int B, int T,
                       int C, int NH, int q0, pool *tp);
/* The backward of a forward with the same q0, whose dout rows before q0
 * are taken as zero (not read): dinp (B, T, 3C) is written, not added to
 * (each input feeds attention alone). */
void attention_backward(float *dinp, float *scratch, const float *dout, const float *inp,
                        const float *att, int B, int T, int C, int NH, int q0, pool *tp);
/* The workspace either attention takes per thread for sequences of up to T
 * positions. */
size_t attention_scratch_floats(int T, int C, int NH);

/* The same attention for n new positions t0..t0+n-1 of one sequence whose
 * keys and values for positions 0..t0+n-1 are already in kcache/vcache.
 * Each row goes through the same code as in attention_forward, so it gets
 * the same bits.
 *   out (n, C), q (n, 3C) (the query is the first C of each row),
 *   kcache (t0+n, C), vcache (t0+n, C),
 *   scratch attention_scratch_floats(t0+n, C, NH) floats */
void attention_forward_cached(float *out, float *scratch, const float *q, const float *kcache,
                              const float *vcache, int t0, int n, int C, int NH);

/* GELU, tanh approximation: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as x * sigmoid(2u) (the same function) with layers.c's exp8.
 *   out (N), inp (N)
 *   sig (N): sigmoid(2u) = (1 + tanh(u)) / 2 of each input, kept for the
 *            backward; NULL when no backward follows
 * The backward takes the forward's inp and sig; it writes dinp rather than
 * adding to it (the MLP's hidden layer has no other consumer). */
void gelu_forward(float *out, float *sig, const float *inp, size_t N, pool *tp);
void gelu_backward(float *dinp, const float *inp, const float *sig, const float *dout, size_t N,
                   pool *tp);

/* out = a + b, elementwise (N); the backward adds dout into da and db. */
void residual_forward(float *out, const float *a, const float *b, size_t N, pool *tp);
void residual_backward(float *da, float *db, const float *dout, size_t N);

/* The LM head's logits (N, V) = x (N, C) @ wte^T, wte (V, C), from panels:
 * wte rearranged by lmhead_pack into lmhead_panel_floats(V, C) floats
 * (sixteen ids at a time; pack again whenever wte changes).  Each logit is
 * a sum over c = 0..C-1 in order, whatever N. */
size_t lmhead_panel_floats(int V, int C);
void lmhead_pack(float *panels, const float *wte, int V, int C);
void lmhead_logits(float *logits, const float *x, size_t N, const float *panels, int V, int C);

/* u (N, C) = g (N, V) @ wte, the logits' gradient taken back to the LM
 * head's input, from panels: wte rearranged by lmhead_back_pack into
 * lmhead_back_panel_floats(V, C) floats.  Each number is a sum over
 * v = 0..V-1 in order, whatever N. */
size_t lmhead_back_panel_floats(int V, int C);
void lmhead_back_pack(float *panels, const float *wte, int V, int C);
void lmhead_back_rows(float *u, const float *g, size_t N, const float *panels, int V, int C);

/* dw (V, Cp) += g[k] (N[k], V)^T @ x[k] (N[k], Cp) for the blocks
 * k = 0..nb-1 one after the other, Cp = C rounded up to a multiple of 16,
 * x's columns past C zero (dw's stay zero): the LM head's weight gradient
 * from blocks of rows, each block's number a sum over its rows in order,
 * added to dw once.  The items are blocks of 96 ids. */
void lmhead_back_weights(float *dw, int nb, const float *const g[], const float *const x[],
                         const size_t N[], int V, int C, pool *tp);

/* Softmax cross-entropy per position (exponentials by layers.c's exp8):
 *   losses (N): -log softmax(logits[i])[targets[i]], 0 where targets[i] < 0
 *   probs (N, V): softmax(logits[i]), for the backward; rows with
 *          targets[i] < 0 are left as they were
 *   logits (N, V), targets (N) in -1..V-1 */
void crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets,
                          size_t N, int V);
/* dlogits (N, V) = dlosses[i] * (probs[i] - onehot(targets[i])) at positions
 * with targets[i] >= 0, 0 at the others; dlosses NULL means 1 everywhere
 * (the gradient of the summed loss).  probs is the forward's.  Unlike the
 * other backwards this one writes dlogits instead of adding to it, so that
 * dlogits may be probs itself: the gradient of the summed loss then takes
 * one subtraction per row. */
void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, size_t N, int V);
/* The forward and the gradient of the summed loss in one, with the
 * softmax's normalization left out of the gradient: losses as
 * crossentropy_forward's, and
 *   rscale[i] * grad[i] = softmax(logits[i]) - onehot(targets[i]),
 * grad (N, V) holding exp(logits[i] - max) with the row's sum subtracted at
 * the target and rscale[i] = 1 / that sum.  Whoever consumes grad through a
 * linear map (a matrix product) can apply rscale to the few numbers of the
 * product's row instead of to V; the pass over grad that a division would
 * take is saved.  Rows with targets[i] < 0: loss 0, grad 0, rscale 0.
 * grad may be logits (in place). */
void crossentropy_softmax_grad_scaled(float *losses, float *grad, float *rscale,
                                      const float *logits, const int *targets, size_t N, int V);

#endif
