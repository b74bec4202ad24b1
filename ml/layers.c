/* layers.c -- see layers.h. */
#include "ml/layers.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- exp on eight floats at a time --------------------------------------- */

/* GELU and the softmaxes spend most of their time in exponentials, and
 * libm's expf/tanhf take one float per call.  exp8 takes eight, in
 * GCC/Clang generic vectors (no ISA intrinsics: the compiler lowers them to
 * what the target has, two SSE2 registers on baseline x86-64), with Cephes'
 * expf: n = round(x / ln 2), r = x - n ln 2 in two parts, a degree-7
 * polynomial for exp(r), times 2^n from the exponent bits.  Within 1.01 ulp
 * of the exact exp on every float of [-87, 88] with FMA, 0.99 without
 * (checked once against exp() in double); x is clamped to [-87, 88]
 * (exp(-87) = 1.6e-38 stands for anything smaller; nothing here
 * overflows); a NaN or infinite x gives NaN, so that a diverging model
 * shows in its loss.  Same input, same bits: every element of a call goes
 * through these same operations, a tail padded to eight.
 *
 * The loops over these vectors (LAYERS_SIMD) are compiled twice by GCC on
 * x86-64, for x86-64-v3 (AVX2 with FMA) and for the baseline, and the first
 * call picks one for the CPU (target_clones; Clang refuses the clones'
 * 32-byte vector arguments, so it builds the baseline only).  This file is
 * compiled with -ffp-contract=fast (Makefile; the bench scripts), so the v3 clone
 * fuses each multiply and add into one FMA, rounded once; the baseline has
 * no FMA and rounds twice.  The two clones therefore differ in the last
 * bits, as OpenBLAS's kernels for different CPUs do: a run is bit-identical
 * across worker counts and restarts on one CPU type, not across types.
 * Measured on bench/sft_step (one thread): the v3 clones with FMA take the
 * step from 54.6 to 49.8 ms (median of six runs each). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LAYERS_SIMD __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#ifndef LAYERS_SIMD
#define LAYERS_SIMD
#endif

/* Vectors of 32 bytes go in and out of static inline helpers only, never
 * across a call the ABI governs, so the warning that their passing differs
 * with and without AVX does not apply.  (GCC still prints a one-line note
 * about it, which only -Wno-psabi on the command line would silence.) */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Every helper on vectors is inlined by force: into a clone it then takes
 * that clone's vector width, and no vector ever crosses a real call. */
#define VEC_INLINE static inline __attribute__((always_inline))

enum { VL = 8 }; /* lanes */
typedef float vf8 __attribute__((vector_size(32)));
typedef int vi8 __attribute__((vector_size(32)));
typedef unsigned vu8 __attribute__((vector_size(32)));

VEC_INLINE vf8 vf8_splat(float x) { return (vf8){x, x, x, x, x, x, x, x}; }

/* Lanes of a where mask is set (all ones), of b elsewhere. */
VEC_INLINE vf8 vf8_select(vi8 mask, vf8 a, vf8 b)
{
    return (vf8)((mask & (vi8)a) | (~mask & (vi8)b));
}

/* All ones in the lanes where a < b: the sign of a - b, which is exact for
 * finite floats (distinct floats never subtract to zero).  A vector
 * comparison would do, but without AVX GCC splits an 8-lane one into
 * scalar compares and branches; a subtraction and a shift it splits into
 * two SSE2 instructions each. */
VEC_INLINE vi8 vf8_less(vf8 a, vf8 b) { return (vi8)(a - b) >> 31; }

VEC_INLINE vf8 vf8_max(vf8 a, vf8 b) { return vf8_select(vf8_less(b, a), a, b); }

VEC_INLINE vf8 vf8_load(const float *p)
{
    vf8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

VEC_INLINE void vf8_store(float *p, vf8 v) { memcpy(p, &v, sizeof v); }

/* The lanes' sum, added pairwise in a fixed order. */
VEC_INLINE float vf8_sum(vf8 v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* The largest lane (exact, so the order does not matter). */
VEC_INLINE float vf8_hmax(vf8 v)
{
    float m = v[0];
    for (int j = 1; j < VL; j++)
        m = v[j] > m ? v[j] : m;
    return m;
}

/* exp8 past its upper clamp: x <= 88 or NaN; nan_or_zero is the caller's
 * x - x (NaN where the original x was NaN or infinite, else +0). */
VEC_INLINE vf8 exp8_below(vf8 x, vf8 nan_or_zero)
{
    const vf8 lo = vf8_splat(-87.0f);
    const vf8 round = vf8_splat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    x = vf8_select(vf8_less(x, lo), lo, x);
    vf8 n = (x * vf8_splat(1.44269504088896341f) + round) - round;
    vf8 r = x - n * vf8_splat(0.693359375f);
    r = r - n * vf8_splat(-2.12194440e-4f);
    vf8 p = vf8_splat(1.9875691500e-4f);
    p = p * r + vf8_splat(1.3981999507e-3f);
    p = p * r + vf8_splat(8.3334519073e-3f);
    p = p * r + vf8_splat(4.1665795894e-2f);
    p = p * r + vf8_splat(1.6666665459e-1f);
    p = p * r + vf8_splat(5.0000001201e-1f);
    p = p * (r * r) + r + vf8_splat(1.0f);
    vu8 bits = ((vu8)__builtin_convertvector(n, vi8) + 127u) << 23;
    return p * (vf8)bits + nan_or_zero;
}

VEC_INLINE vf8 exp8(vf8 x)
{
    const vf8 hi = vf8_splat(88.0f);
    return exp8_below(vf8_select(vf8_less(hi, x), hi, x), x - x);
}

/* exp8 of x <= 0, as the softmaxes take it (x - the row's max): the same
 * bits without the upper clamp, which cannot bite. */
VEC_INLINE vf8 exp8_nonpos(vf8 x) { return exp8_below(x, x - x); }

/* e (n) = exp(x - m) for n < VL values (a vector's tail), padded to VL. */
VEC_INLINE void exp_tail(float *e, const float *x, int n, float m)
{
    float pad[VL] = {0};
    memcpy(pad, x, (size_t)n * sizeof(float));
    vf8_store(pad, exp8(vf8_load(pad) - vf8_splat(m)));
    memcpy(e, pad, (size_t)n * sizeof(float));
}

/* ---- register tiles ------------------------------------------------------ */

/* The hand-written products (attention, the LM head) share one
 * micro-kernel: TILE_R rows by TILE_L = 16 lanes of sums in twelve vectors
 * (AVX2 has sixteen), each sum over its terms in order, one multiply-add a
 * term.  It is fed in two shapes: a scalar of each tile row against a row
 * of two vectors (tile_rows), or a row of TILE_R scalars against one row of
 * two vectors (tile_cols). */
enum { TILE_R = 6, TILE_L = 2 * VL };

/* acc[r] = sum over k = 0..K-1, in order, of a[r][k] * b[k][0..TILE_L),
 * the rows of b ldb apart. */
VEC_INLINE void tile_rows(vf8 acc[TILE_R][2], const float *const a[TILE_R], const float *b,
                          size_t ldb, int K)
{
#pragma GCC unroll 6
    for (int r = 0; r < TILE_R; r++)
        acc[r][0] = acc[r][1] = vf8_splat(0.0f);
    for (int k = 0; k < K; k++) {
        const float *bk = b + (size_t)k * ldb;
        vf8 b0 = vf8_load(bk), b1 = vf8_load(bk + VL);
#pragma GCC unroll 6
        for (int r = 0; r < TILE_R; r++) {
            float ar = a[r][k];
            acc[r][0] += b0 * ar;
            acc[r][1] += b1 * ar;
        }
    }
}

/* Where row i of a packed causal triangle starts: rows one after the
 * other, row i holding its i + 1 keys (attention's probabilities). */
VEC_INLINE size_t att_tri(int i) { return (size_t)i * (i + 1) / 2; }

/* acc[r] += sum over i = from..n-1, in order, of w_i[r] * x[i][0..TILE_L),
 * where w_i is w + i * ldw, or with ldw 0 row i of a packed triangle, and
 * x's rows are ldx apart. */
VEC_INLINE void tile_cols(vf8 acc[TILE_R][2], const float *w, size_t ldw, const float *x,
                          size_t ldx, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++) {
        const float *wi = ldw ? w + i * ldw : w + att_tri((int)i), *xi = x + i * ldx;
        vf8 x0 = vf8_load(xi), x1 = vf8_load(xi + VL);
#pragma GCC unroll 6
        for (int r = 0; r < TILE_R; r++) {
            acc[r][0] += x0 * wi[r];
            acc[r][1] += x1 * wi[r];
        }
    }
}

/* b (K, N), element (k, n) at b[k * sk + n * sn], as the rows tile_rows
 * reads with ldb = TILE_L: N / TILE_L panels (rounded up) of (K, TILE_L),
 * panel n0 at panels + n0 * K, lanes past N zero. */
static void tile_pack(float *panels, const float *b, int K, int N, size_t sk, size_t sn)
{
    for (int n0 = 0; n0 < N; n0 += TILE_L) {
        float *panel = panels + (size_t)n0 * K;
        for (int k = 0; k < K; k++)
            for (int l = 0; l < TILE_L; l++)
                panel[(size_t)k * TILE_L + l] =
                    n0 + l < N ? b[(size_t)k * sk + (size_t)(n0 + l) * sn] : 0.0f;
    }
}

/* The tile's rows into dst[r] (TILE_L numbers, or the first w of them). */
VEC_INLINE void tile_store(float *const dst[TILE_R], const vf8 acc[TILE_R][2], int rows, int w)
{
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
        if (w == TILE_L) {
            vf8_store(dst[r], acc[r][0]);
            vf8_store(dst[r] + VL, acc[r][1]);
        } else {
            float lanes[TILE_L];
            vf8_store(lanes, acc[r][0]);
            vf8_store(lanes + VL, acc[r][1]);
            memcpy(dst[r], lanes, (size_t)w * sizeof(float));
        }
    }
}

/* ---- splitting work across a pool ---------------------------------------- */

/* The items of the parallel kernels (see layers.h and ml/pool.h): sizes of
 * the blocks they are cut into, fixed numbers (never the thread count), so
 * that each number of an output is computed the same way whichever thread
 * computes it and however many there are. */
enum {
    ROWS_PER_ITEM = 128,     /* rows of a row-wise kernel or of a matrix product */
    FLOATS_PER_ITEM = 16384, /* elements of an elementwise kernel (a multiple of VL) */
    COLS_PER_ITEM = 16,      /* columns of a sum over rows (whole cache lines; TILE_L) */
    ENC_COLS_PER_ITEM = 256, /* columns of an encoder projection's weight gradient */
    ENC_POS_PER_ITEM = 32,   /* positions of wpe's gradient */
    LM_IDS_PER_ITEM = 96,    /* ids of the LM head's weight gradient (a multiple of TILE_R) */
};

/* The blocks of per that cover n (at least one when n > 0). */
static int item_count(size_t n, size_t per) { return (int)((n + per - 1) / per); }

/* [*lo, *hi) = block item of per that cover n. */
static void item_range(int item, size_t per, size_t n, size_t *lo, size_t *hi)
{
    *lo = (size_t)item * per;
    *hi = *lo + per < n ? *lo + per : n;
}

/* The serial pieces the items run, defined with their kernels below. */
static void sgemm_blocked(int ta, int tb, int M, int N, int K, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc);
static void matmul_rows(float *out, const float *inp, const float *weight, const float *bias,
                        size_t N, int C, int OC);
static void sum_rows(float *acc, const float *x, size_t N, int W, int ldx);
static void add_rows(float *out, const float *a, const float *b, size_t N);

/* ---- encoder ---------------------------------------------------------- */

typedef struct encoder_args {
    float *out;
    const model_params *dp;  /* the backward's gradients */
    const float *dout;
    const int *tokens, *types;
    const float *frames, *mel;
    const model_params *p;
    int B, T;
    const model_config *cfg;
    int nv, na;              /* visual and audio positions present */
} encoder_args;

static encoder_args encoder_args_for(int B, int T, const model_config *cfg)
{
    int F = cfg->n_frames, NA = cfg->audio_tokens;
    return (encoder_args){.B = B, .T = T, .cfg = cfg, .nv = T < F ? T : F,
                          .na = T - F < 0 ? 0 : (T - F < NA ? T - F : NA)};
}

/* Item b: sequence b. */
static void encoder_forward_item(void *ctx, int b, int slot)
{
    const encoder_args *e = ctx;
    const model_config *cfg = e->cfg;
    const model_params *p = e->p;
    int C = cfg->channels, F = cfg->n_frames, NA = cfg->audio_tokens, T = e->T;
    int FPIX = cfg->frame_pixels, AIN = cfg->audio_window * cfg->n_mel;
    float *out_b = e->out + (size_t)b * T * C;
    const int *tok_b = e->tokens + (size_t)b * T, *type_b = e->types + (size_t)b * T;

    (void)slot;
    if (e->nv > 0)
        matmul_rows(out_b, e->frames + (size_t)b * F * FPIX, p->wvis, p->bvis, (size_t)e->nv,
                    FPIX, C);
    if (e->na > 0)
        matmul_rows(out_b + (size_t)F * C, e->mel + (size_t)b * NA * AIN, p->waud, p->baud,
                    (size_t)e->na, AIN, C);
    for (int t = F + NA; t < T; t++)
        memcpy(out_b + (size_t)t * C, p->wte + (size_t)tok_b[t] * C, (size_t)C * sizeof(float));
    /* token + wpe[t] + wtype[type], added in that order (sample.c relies on it) */
    add_rows(out_b, out_b, p->wpe, (size_t)T * C);
    for (int t = 0; t < T; t++)
        add_rows(out_b + (size_t)t * C, out_b + (size_t)t * C, p->wtype + (size_t)type_b[t] * C,
                 (size_t)C);
}

void encoder_forward(float *out, const int *tokens, const int *types, const float *frames,
                     const float *mel, const model_params *p, int B, int T,
                     const model_config *cfg, pool *tp)
{
    assert(B >= 1 && T >= 1 && T <= cfg->max_seq);
    encoder_args e = encoder_args_for(B, T, cfg);
    e.out = out;
    e.tokens = tokens;
    e.types = types;
    e.frames = frames;
    e.mel = mel;
    e.p = p;
    pool_for(tp, B, encoder_forward_item, &e);
}

/* The backward's items, in this order: blocks of columns of wvis, then of
 * waud; bvis; baud; blocks of positions of wpe; blocks of columns of wtype
 * and wte together.  Each adds its numbers' terms in the order of b, then
 * t, as one pass over the batch would. */
typedef struct encoder_items {
    int wvis, waud, bvis, baud, wpe, cols;
} encoder_items;

static encoder_items encoder_items_for(const encoder_args *e)
{
    const model_config *c = e->cfg;
    size_t AIN = (size_t)c->audio_window * c->n_mel;
    return (encoder_items){
        .wvis = e->nv > 0 ? item_count((size_t)c->frame_pixels, ENC_COLS_PER_ITEM) : 0,
        .waud = e->na > 0 ? item_count(AIN, ENC_COLS_PER_ITEM) : 0,
        .bvis = e->nv > 0,
        .baud = e->na > 0,
        .wpe = item_count((size_t)e->T, ENC_POS_PER_ITEM),
        .cols = item_count((size_t)c->channels, COLS_PER_ITEM),
    };
}

/* dw (OC, W) columns [lo, hi) += the B sequences' dout^T (OC, n) @ inp (n, W),
 * sequence after sequence: dout_b at dout + b * ldb_out, inp_b at inp + b * ldb_in. */
static void encoder_weight_cols(float *dw, const float *dout, size_t ldb_out, const float *inp,
                                size_t ldb_in, int B, int n, int W, int OC, size_t lo, size_t hi)
{
    for (int b = 0; b < B; b++)
        sgemm_blocked(1, 0, OC, (int)(hi - lo), n, 1.0f, dout + (size_t)b * ldb_out, OC,
                      inp + (size_t)b * ldb_in + lo, W, 1.0f, dw + lo, W);
}

static void encoder_backward_item(void *ctx, int item, int slot)
{
    const encoder_args *e = ctx;
    const model_config *cfg = e->cfg;
    const model_params *dp = e->dp;
    encoder_items n = encoder_items_for(e);
    int C = cfg->channels, F = cfg->n_frames, NA = cfg->audio_tokens, T = e->T, B = e->B;
    int FPIX = cfg->frame_pixels, AIN = cfg->audio_window * cfg->n_mel;
    size_t TC = (size_t)T * C, lo, hi;

    (void)slot;
    if (item < n.wvis) {
        item_range(item, ENC_COLS_PER_ITEM, (size_t)FPIX, &lo, &hi);
        encoder_weight_cols(dp->wvis, e->dout, TC, e->frames, (size_t)F * FPIX, B, e->nv, FPIX, C,
                            lo, hi);
    } else if ((item -= n.wvis) < n.waud) {
        item_range(item, ENC_COLS_PER_ITEM, (size_t)AIN, &lo, &hi);
        encoder_weight_cols(dp->waud, e->dout + (size_t)F * C, TC, e->mel, (size_t)NA * AIN, B,
                            e->na, AIN, C, lo, hi);
    } else if ((item -= n.waud) < n.bvis) {
        for (int b = 0; b < B; b++)
            sum_rows(dp->bvis, e->dout + (size_t)b * TC, (size_t)e->nv, C, C);
    } else if ((item -= n.bvis) < n.baud) {
        for (int b = 0; b < B; b++)
            sum_rows(dp->baud, e->dout + (size_t)b * TC + (size_t)F * C, (size_t)e->na, C, C);
    } else if ((item -= n.baud) < n.wpe) {
        item_range(item, ENC_POS_PER_ITEM, (size_t)T, &lo, &hi);
        for (int b = 0; b < B; b++) {
            const float *d = e->dout + (size_t)b * TC + lo * C;
            add_rows(dp->wpe + lo * C, dp->wpe + lo * C, d, (hi - lo) * C);
        }
    } else {
        item_range(item - n.wpe, COLS_PER_ITEM, (size_t)C, &lo, &hi);
        for (int b = 0; b < B; b++) {
            const int *tok_b = e->tokens + (size_t)b * T, *type_b = e->types + (size_t)b * T;
            for (int t = 0; t < T; t++) {
                const float *d = e->dout + (size_t)b * TC + (size_t)t * C + lo;
                float *dty = dp->wtype + (size_t)type_b[t] * C + lo;
                add_rows(dty, dty, d, hi - lo);
                if (t >= F + NA) {
                    float *dtok = dp->wte + (size_t)tok_b[t] * C + lo;
                    add_rows(dtok, dtok, d, hi - lo);
                }
            }
        }
    }
}

void encoder_backward(const model_params *dp, const float *dout, const int *tokens,
                      const int *types, const float *frames, const float *mel, int B, int T,
                      const model_config *cfg, pool *tp)
{
    encoder_args e = encoder_args_for(B, T, cfg);
    e.dp = dp;
    e.dout = dout;
    e.tokens = tokens;
    e.types = types;
    e.frames = frames;
    e.mel = mel;
    encoder_items n = encoder_items_for(&e);
    pool_for(tp, n.wvis + n.waud + n.bvis + n.baud + n.wpe + n.cols, encoder_backward_item, &e);
}

/* ---- layernorm -------------------------------------------------------- */

/* Rows of C run in lanes: the sums as VL float partial sums over the row
 * (C / VL terms each), added in a fixed order, then the tail; the
 * elementwise parts lane by lane in the same order of operations as one
 * float at a time.  Items: blocks of rows. */
LAYERS_SIMD static void layernorm_rows(float *out, float *mean, float *rstd, const float *inp,
                                       const float *weight, const float *bias, size_t N, int C)
{
    int full = C - C % VL;
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *o = out + n * C;
        vf8 sum8 = vf8_splat(0.0f);
        for (int i = 0; i < full; i += VL)
            sum8 += vf8_load(x + i);
        float sum = vf8_sum(sum8);
        for (int i = full; i < C; i++)
            sum += x[i];
        float m = sum / C;
        vf8 var8 = vf8_splat(0.0f), m8 = vf8_splat(m);
        for (int i = 0; i < full; i += VL) {
            vf8 d = vf8_load(x + i) - m8;
            var8 += d * d;
        }
        float var = vf8_sum(var8);
        for (int i = full; i < C; i++)
            var += (x[i] - m) * (x[i] - m);
        float s = (float)(1.0 / sqrt((double)var / C + 1e-5));
        vf8 s8 = vf8_splat(s);
        for (int i = 0; i < full; i += VL)
            vf8_store(o + i, (vf8_load(x + i) - m8) * s8 * vf8_load(weight + i) +
                                 vf8_load(bias + i));
        for (int i = full; i < C; i++)
            o[i] = (x[i] - m) * s * weight[i] + bias[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

typedef struct layernorm_args {
    float *out, *mean, *rstd, *dinp, *dweight, *dbias;
    const float *inp, *weight, *bias, *dout, *cmean, *crstd;
    size_t N;
    int C;
} layernorm_args;

static void layernorm_forward_item(void *ctx, int item, int slot)
{
    const layernorm_args *a = ctx;
    size_t lo, hi, C = (size_t)a->C;
    (void)slot;
    item_range(item, ROWS_PER_ITEM, a->N, &lo, &hi);
    layernorm_rows(a->out + lo * C, a->mean + lo, a->rstd + lo, a->inp + lo * C, a->weight,
                   a->bias, hi - lo, a->C);
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, size_t N, int C, pool *tp)
{
    layernorm_args a = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .weight = weight,
                        .bias = bias, .N = N, .C = C};
    pool_for(tp, item_count(N, ROWS_PER_ITEM), layernorm_forward_item, &a);
}

/* dinp of N rows: dnorm = weight * dout; dinp += s * (dnorm - mean(dnorm)
 * - norm * mean(dnorm * norm)). */
LAYERS_SIMD static void layernorm_backward_rows(float *dinp, const float *dout, const float *inp,
                                                const float *weight, const float *mean,
                                                const float *rstd, size_t N, int C)
{
    int full = C - C % VL;
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *d = dout + n * C;
        float *dx = dinp + n * C;
        vf8 m8 = vf8_splat(mean[n]), s8 = vf8_splat(rstd[n]);
        vf8 dn8 = vf8_splat(0.0f), dnn8 = vf8_splat(0.0f);
        for (int i = 0; i < full; i += VL) {
            vf8 norm = (vf8_load(x + i) - m8) * s8, dnorm = vf8_load(weight + i) * vf8_load(d + i);
            dn8 += dnorm;
            dnn8 += dnorm * norm;
        }
        float dnorm_sum = vf8_sum(dn8), dnorm_norm_sum = vf8_sum(dnn8);
        for (int i = full; i < C; i++) {
            float norm = (x[i] - mean[n]) * rstd[n], dnorm = weight[i] * d[i];
            dnorm_sum += dnorm;
            dnorm_norm_sum += dnorm * norm;
        }
        float dm = dnorm_sum / C, dnm = dnorm_norm_sum / C;
        vf8 dm8 = vf8_splat(dm), dnm8 = vf8_splat(dnm);
        for (int i = 0; i < full; i += VL) {
            vf8 norm = (vf8_load(x + i) - m8) * s8;
            vf8 dnorm = vf8_load(weight + i) * vf8_load(d + i);
            vf8_store(dx + i, vf8_load(dx + i) + (dnorm - dm8 - norm * dnm8) * s8);
        }
        for (int i = full; i < C; i++) {
            float norm = (x[i] - mean[n]) * rstd[n], dnorm = weight[i] * d[i];
            dx[i] += (dnorm - dm - norm * dnm) * rstd[n];
        }
    }
}

/* dweight and dbias columns [lo, hi) (lo a multiple of VL, at most
 * COLS_PER_ITEM of them) over the N rows, row after row: dbias += dout,
 * dweight += norm * dout, in registers. */
LAYERS_SIMD static void layernorm_backward_cols(float *dweight, float *dbias, const float *dout,
                                                const float *inp, const float *mean,
                                                const float *rstd, size_t N, int C, int lo,
                                                int hi)
{
    enum { NV = COLS_PER_ITEM / VL };
    int full = C - C % VL, vend = hi < full ? hi : full, nv = (vend - lo) / VL;
    vf8 db[NV], dw[NV];
    for (int j = 0; j < nv; j++) {
        db[j] = vf8_load(dbias + lo + j * VL);
        dw[j] = vf8_load(dweight + lo + j * VL);
    }
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C + lo, *d = dout + n * C + lo;
        vf8 m8 = vf8_splat(mean[n]), s8 = vf8_splat(rstd[n]);
        for (int j = 0; j < nv; j++) {
            vf8 norm = (vf8_load(x + j * VL) - m8) * s8, di = vf8_load(d + j * VL);
            db[j] += di;
            dw[j] += norm * di;
        }
    }
    for (int j = 0; j < nv; j++) {
        vf8_store(dbias + lo + j * VL, db[j]);
        vf8_store(dweight + lo + j * VL, dw[j]);
    }
    for (int i = vend > lo ? vend : lo; i < hi; i++) {
        float b = dbias[i], w = dweight[i];
        for (size_t n = 0; n < N; n++) {
            float di = dout[n * C + i], norm = (inp[n * C + i] - mean[n]) * rstd[n];
            b += di;
            w += norm * di;
        }
        dbias[i] = b;
        dweight[i] = w;
    }
}

/* Items: blocks of columns of dweight and dbias (first: each is a pass over
 * every row), then blocks of rows of dinp. */
static void layernorm_backward_item(void *ctx, int item, int slot)
{
    const layernorm_args *a = ctx;
    int cols = item_count((size_t)a->C, COLS_PER_ITEM);
    size_t lo, hi, C = (size_t)a->C;
    (void)slot;
    if (item < cols) {
        item_range(item, COLS_PER_ITEM, C, &lo, &hi);
        layernorm_backward_cols(a->dweight, a->dbias, a->dout, a->inp, a->cmean, a->crstd, a->N,
                                a->C, (int)lo, (int)hi);
        return;
    }
    item_range(item - cols, ROWS_PER_ITEM, a->N, &lo, &hi);
    layernorm_backward_rows(a->dinp + lo * C, a->dout + lo * C, a->inp + lo * C, a->weight,
                            a->cmean + lo, a->crstd + lo, hi - lo, a->C);
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, size_t N, int C, pool *tp)
{
    layernorm_args a = {.dinp = dinp, .dweight = dweight, .dbias = dbias, .dout = dout,
                        .inp = inp, .weight = weight, .cmean = mean, .crstd = rstd, .N = N,
                        .C = C};
    if (N == 0)
        return;
    pool_for(tp, item_count((size_t)C, COLS_PER_ITEM) + item_count(N, ROWS_PER_ITEM),
             layernorm_backward_item, &a);
}

/* ---- matmul ------------------------------------------------------------ */

/* The inner dimension of every sgemm call is cut into blocks of at most
 * this many, accumulated in order.  OpenBLAS cuts a long inner dimension
 * into blocks of its own, and not the same way with one thread as with
 * several: with 0.3.21 (Cooperlake kernels) dinp of the logits (K = V =
 * 2000) differed in 105k of 164k values between OPENBLAS_NUM_THREADS=1 and
 * 2.  With K <= 256, every one of 2352 shapes tried (M, N up to 4096, all
 * four transpositions) gave the same bits at 1, 2 and 4 threads, and the
 * model's gradients are the same bits at 1 to 4 threads
 * (model_gradients_are_the_same_bits_at_1_and_2_blas_threads).  A
 * measurement, not a BLAS guarantee, and no longer what a worker relies on:
 * with a pool, every call is one item's, of a shape fixed by the problem,
 * on an OpenBLAS kept to one thread, so the thread count cannot reach the
 * bits at all.  (Which shape a call has does reach them: OpenBLAS takes
 * other kernels for small products, and the forward's blocks of 128 rows
 * gave other last bits than one call over all 2,560 rows did.) */
#define MATMUL_K_BLOCK 256

/* c (M, N) = beta * c + alpha * op(a) @ op(b), row-major; a is (M, K) or,
 * with ta, (K, M); b is (K, N) or, with tb, (N, K).  K runs in blocks. */
static void sgemm_blocked(int ta, int tb, int M, int N, int K, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int k0 = 0; k0 < K; k0 += MATMUL_K_BLOCK) {
        int kb = K - k0 < MATMUL_K_BLOCK ? K - k0 : MATMUL_K_BLOCK;
        const float *ak = ta ? a + (size_t)k0 * lda : a + k0;
        const float *bk = tb ? b + k0 : b + (size_t)k0 * ldb;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, kb, alpha, ak, lda, bk, ldb, k0 == 0 ? beta : 1.0f, c, ldc);
    }
}

/* acc (W) += the N rows of x (N rows of W, ldx apart), row after row (so
 * each element adds in the same order as one float at a time), TILE_L
 * columns at a time in registers. */
LAYERS_SIMD static void sum_rows(float *acc, const float *x, size_t N, int W, int ldx)
{
    int full = W - W % VL, o = 0;
    for (; o + TILE_L <= full; o += TILE_L) {
        vf8 a0 = vf8_load(acc + o), a1 = vf8_load(acc + o + VL);
        for (size_t n = 0; n < N; n++) {
            a0 += vf8_load(x + n * ldx + o);
            a1 += vf8_load(x + n * ldx + o + VL);
        }
        vf8_store(acc + o, a0);
        vf8_store(acc + o + VL, a1);
    }
    for (; o < full; o += VL) {
        vf8 a0 = vf8_load(acc + o);
        for (size_t n = 0; n < N; n++)
            a0 += vf8_load(x + n * ldx + o);
        vf8_store(acc + o, a0);
    }
    for (; o < W; o++) {
        float a = acc[o];
        for (size_t n = 0; n < N; n++)
            a += x[n * ldx + o];
        acc[o] = a;
    }
}

/* Each of the N rows of x (N, W) = row (W), in lanes (no call per row). */
LAYERS_SIMD static void fill_rows(float *x, const float *row, size_t N, int W)
{
    int full = W - W % VL;
    for (size_t n = 0; n < N; n++) {
        float *xn = x + n * W;
        for (int o = 0; o < full; o += VL)
            vf8_store(xn + o, vf8_load(row + o));
        for (int o = full; o < W; o++)
            xn[o] = row[o];
    }
}

/* matmul_forward's product on one thread. */
static void matmul_rows(float *out, const float *inp, const float *weight, const float *bias,
                        size_t N, int C, int OC)
{
    if (bias)
        fill_rows(out, bias, N, OC);
    sgemm_blocked(0, 1, (int)N, OC, C, 1.0f, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

typedef struct matmul_args {
    float *out, *dinp, *dweight, *dbias, *scratch;
    const float *inp, *weight, *bias, *dout;
    size_t N;
    int C, OC;
    int parts;       /* dweight's partial sums in scratch (0: added to dweight directly) */
    size_t part_rows; /* rows of each partial sum */
} matmul_args;

/* Items: blocks of rows. */
static void matmul_forward_item(void *ctx, int item, int slot)
{
    const matmul_args *a = ctx;
    size_t lo, hi;
    (void)slot;
    item_range(item, ROWS_PER_ITEM, a->N, &lo, &hi);
    matmul_rows(a->out + lo * a->OC, a->inp + lo * a->C, a->weight, a->bias, hi - lo, a->C,
                a->OC);
}

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    size_t N, int C, int OC, pool *tp)
{
    assert(N <= INT_MAX && C > 0 && OC > 0);
    matmul_args a = {.out = out, .inp = inp, .weight = weight, .bias = bias, .N = N, .C = C,
                     .OC = OC};
    pool_for(tp, item_count(N, ROWS_PER_ITEM), matmul_forward_item, &a);
}

/* dweight's sum over rows is cut into at most this many partial sums: one
 * per MATMUL_K_BLOCK rows, or per a few of them on longer inputs, so that
 * the scratch and the pass that adds them up stay small. */
#define MATMUL_MAX_PARTS 16

/* The partial sums dweight's sum over N rows is cut into (none when one
 * block of MATMUL_K_BLOCK rows holds them all), and their rows each. */
static int matmul_parts(size_t N, size_t *rows)
{
    size_t blocks = (N + MATMUL_K_BLOCK - 1) / MATMUL_K_BLOCK;
    size_t per = (blocks + MATMUL_MAX_PARTS - 1) / MATMUL_MAX_PARTS;
    *rows = per * MATMUL_K_BLOCK;
    return blocks <= 1 ? 0 : (int)((blocks + per - 1) / per);
}

size_t matmul_scratch_floats(size_t N, int C, int OC)
{
    size_t blocks = (N + MATMUL_K_BLOCK - 1) / MATMUL_K_BLOCK; /* matmul_parts(n) <= this */
    size_t parts = blocks <= 1 ? 0 : blocks < MATMUL_MAX_PARTS ? blocks : MATMUL_MAX_PARTS;
    return parts * OC * C;
}

/* The backward's items, in this order: dweight's partial sums (the largest:
 * MATMUL_K_BLOCK or more rows each), or dweight itself when it takes one;
 * blocks of rows of dinp; blocks of columns of dbias. */
static void matmul_backward_item(void *ctx, int item, int slot)
{
    const matmul_args *a = ctx;
    int C = a->C, OC = a->OC, parts = a->parts ? a->parts : 1;
    int rows = a->dinp ? item_count(a->N, ROWS_PER_ITEM) : 0;
    size_t lo, hi;
    (void)slot;
    if (item < parts) { /* dweight (OC, C) += dout^T (OC, N) @ inp (N, C) */
        item_range(item, a->parts ? a->part_rows : a->N, a->N, &lo, &hi);
        float *dst = a->parts ? a->scratch + (size_t)item * OC * C : a->dweight;
        sgemm_blocked(1, 0, OC, C, (int)(hi - lo), 1.0f, a->dout + lo * OC, OC,
                      a->inp + lo * C, C, a->parts ? 0.0f : 1.0f, dst, C);
    } else if ((item -= parts) < rows) { /* dinp (N, C) = dout (N, OC) @ weight (OC, C) */
        item_range(item, ROWS_PER_ITEM, a->N, &lo, &hi);
        sgemm_blocked(0, 0, (int)(hi - lo), C, OC, 1.0f, a->dout + lo * OC, OC, a->weight, C,
                      0.0f, a->dinp + lo * C, C);
    } else {
        item_range(item - rows, COLS_PER_ITEM, (size_t)OC, &lo, &hi);
        sum_rows(a->dbias + lo, a->dout + lo, a->N, (int)(hi - lo), OC);
    }
}

/* Items of the second pass: blocks of dweight's numbers, each the partial
 * sums added in order. */
LAYERS_SIMD static void matmul_add_parts_item(void *ctx, int item, int slot)
{
    const matmul_args *a = ctx;
    size_t n = (size_t)a->OC * a->C, lo, hi, stride = n;
    (void)slot;
    item_range(item, FLOATS_PER_ITEM, n, &lo, &hi);
    size_t i = lo;
    for (; i + VL <= hi; i += VL) {
        vf8 acc = vf8_load(a->dweight + i);
        for (int k = 0; k < a->parts; k++)
            acc += vf8_load(a->scratch + k * stride + i);
        vf8_store(a->dweight + i, acc);
    }
    for (; i < hi; i++) {
        float acc = a->dweight[i];
        for (int k = 0; k < a->parts; k++)
            acc += a->scratch[k * stride + i];
        a->dweight[i] = acc;
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, size_t N, int C, int OC,
                     float *scratch, pool *tp)
{
    assert(N <= INT_MAX && C > 0 && OC > 0);
    if (N == 0)
        return;
    matmul_args a = {.dinp = dinp, .dweight = dweight, .dbias = dbias, .scratch = scratch,
                     .dout = dout, .inp = inp, .weight = weight, .N = N, .C = C, .OC = OC};
    a.parts = matmul_parts(N, &a.part_rows);
    assert(!a.parts || scratch);
    int items = (a.parts ? a.parts : 1) + (dinp ? item_count(N, ROWS_PER_ITEM) : 0) +
                (dbias ? item_count((size_t)OC, COLS_PER_ITEM) : 0);
    pool_for(tp, items, matmul_backward_item, &a);
    if (a.parts)
        pool_for(tp, item_count((size_t)OC * C, FLOATS_PER_ITEM), matmul_add_parts_item, &a);
}

/* ---- attention --------------------------------------------------------- */

/* Attention is written out by hand, not as sgemm calls: with heads of 16
 * and sequences of 160 every product is tiny, and OpenBLAS took longer per
 * call (checks, packing, a kernel for small sizes) than the multiplying
 * (bench/sft_step: 13.5 ms of attention per step through 3,840 sgemm calls,
 * about 9 ms this way, packed probabilities included).  One head at a
 * time:
 *
 *   kT (hs, Tp)   keys (or values) transposed into scratch, so that a
 *                 query's scores against 16 keys are two vectors (lanes =
 *                 keys); columns past T are zero
 *   rows          values, keys, queries or output gradients one row per
 *                 position, 16 numbers of the head at a time (lanes =
 *                 dimensions): read in place when hs is a multiple of 16,
 *                 else from a copy in scratch padded with zeros
 *
 * Rows go TILE_R at a time, a tile of TILE_R x 16 sums in twelve vectors
 * (AVX2 has sixteen).  Every sum runs in a fixed order, one element at a
 * time: a score over d = 0..hs-1, an output over keys j = 0..t.  So a
 * row's bits depend on nothing but its inputs, not on the rows tiled with
 * it, the thread count, or whether it came through attention_forward or
 * attention_forward_cached. */

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

size_t attention_scratch_floats(int T, int C, int NH)
{
    size_t hsp = (size_t)round_up(C / NH, TILE_L), Tp = (size_t)round_up(T, TILE_L);
    size_t Tr = (size_t)T + TILE_R - 1; /* the backward's tiles may start at any row */
    size_t fwd = hsp * Tp + (size_t)T * hsp + TILE_R * Tp;
    size_t bwd = hsp * Tp + 3 * (size_t)T * hsp + Tr * Tp;
    return fwd > bwd ? fwd : bwd;
}

/* The eight rows r[0..7] transposed in place: r[k] becomes element k of
 * each (unpack pairs of rows, then pairs of pairs, then swap halves). */
VEC_INLINE void vf8_transpose8(vf8 r[VL])
{
    vf8 t[VL], u[VL];
    for (int i = 0; i < VL; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < VL; i += 4)
        for (int j = 0; j < 2; j++) {
            u[i + 2 * j] =
                __builtin_shufflevector(t[i + j], t[i + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * j + 1] =
                __builtin_shufflevector(t[i + j], t[i + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int j = 0; j < 4; j++) {
        r[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* xT (hs, ldt) = the first hs of each of the n rows of x (stride ldx),
 * transposed; columns n..ldt-1 zero.  Eight rows by eight columns at a
 * time in registers, the rest one number at a time. */
LAYERS_SIMD static void att_transpose(float *xT, int ldt, const float *x, int ldx, int n, int hs)
{
    int n8 = n - n % VL, h8 = hs - hs % VL;
    for (int j = 0; j < n8; j += VL)
        for (int d = 0; d < h8; d += VL) {
            vf8 r[VL];
            for (int i = 0; i < VL; i++)
                r[i] = vf8_load(x + (size_t)(j + i) * ldx + d);
            vf8_transpose8(r);
            for (int i = 0; i < VL; i++)
                vf8_store(xT + (size_t)(d + i) * ldt + j, r[i]);
        }
    for (int j = 0; j < n; j++)
        for (int d = j < n8 ? h8 : 0; d < hs; d++)
            xT[(size_t)d * ldt + j] = x[(size_t)j * ldx + d];
    for (int d = 0; d < hs; d++)
        memset(xT + (size_t)d * ldt + n, 0, (size_t)(ldt - n) * sizeof(float));
}

/* dst (n rows of w <= TILE_L numbers, stride ldd) = the first w of each of
 * the n rows of src (stride lds); whole vectors when w is TILE_L, the head
 * size of the default model. */
LAYERS_SIMD static void att_copy_rows(float *dst, int ldd, const float *src, int lds, int n,
                                      int w)
{
    for (int r = 0; r < n; r++) {
        float *d = dst + (size_t)r * ldd;
        const float *x = src + (size_t)r * lds;
        if (w == TILE_L) {
            vf8_store(d, vf8_load(x));
            vf8_store(d + VL, vf8_load(x + VL));
        } else
            for (int c = 0; c < w; c++)
                d[c] = x[c];
    }
}

/* xh (n, hsp) = the first hs of each of the n rows of x, zero-padded. */
static void att_rows_copy(float *xh, int hsp, const float *x, int ldx, int n, int hs)
{
    for (int c0 = 0; c0 < hsp; c0 += TILE_L) {
        int w = hs - c0 < TILE_L ? (hs - c0 > 0 ? hs - c0 : 0) : TILE_L;
        if (w < TILE_L)
            for (int j = 0; j < n; j++)
                memset(xh + (size_t)j * hsp + c0 + w, 0, (size_t)(TILE_L - w) * sizeof(float));
        att_copy_rows(xh + c0, hsp, x + c0, ldx, n, w);
    }
}

/* The n rows of x (stride ldx) as the tiles read them, 16 numbers of a
 * head at a time: x itself when hs is a multiple of 16 (*ld = ldx), else a
 * zero-padded copy in buf (n, hsp) (*ld = hsp). */
static const float *att_rows(float *buf, int hsp, const float *x, int ldx, int n, int hs, int *ld)
{
    if (hs % TILE_L == 0) {
        *ld = ldx;
        return x;
    }
    att_rows_copy(buf, hsp, x, ldx, n, hs);
    *ld = hsp;
    return buf;
}

/* s[r][0..width) = scale * sum over d = 0..hs-1 of x[r][d] * kT[d][0..width)
 * for the TILE_R rows x[r] into the rows s[r]; width a multiple of TILE_L. */
LAYERS_SIMD static void att_dot_tile(float *const s[TILE_R], const float *const x[TILE_R], int hs,
                                     const float *kT, int ldk, int width, float scale)
{
    for (int j = 0; j < width; j += TILE_L) {
        vf8 acc[TILE_R][2];
        tile_rows(acc, x, kT + j, (size_t)ldk, hs);
#pragma GCC unroll 6
        for (int r = 0; r < TILE_R; r++) {
            vf8_store(s[r] + j, acc[r][0] * scale);
            vf8_store(s[r] + j + VL, acc[r][1] * scale);
        }
    }
}

/* tile[r][0..TILE_L) = sum over j = 0..nk[r]-1, in order, of p[r][j] *
 * v[j][0..TILE_L), for TILE_R rows whose key counts nk never decrease. */
LAYERS_SIMD static void att_mix_tile(float tile[TILE_R][TILE_L], const float *const p[TILE_R],
                                     const int nk[TILE_R], const float *v, int ldv)
{
    vf8 acc[TILE_R][2];
    float *rows[TILE_R];
    tile_rows(acc, p, v, (size_t)ldv, nk[0]);
    for (int r = 1; r < TILE_R; r++)
        for (int j = nk[0]; j < nk[r]; j++) {
            const float *vj = v + (size_t)j * ldv;
            acc[r][0] += vf8_load(vj) * p[r][j];
            acc[r][1] += vf8_load(vj + VL) * p[r][j];
        }
    for (int r = 0; r < TILE_R; r++)
        rows[r] = tile[r];
    tile_store(rows, acc, TILE_R, TILE_L);
}

/* tile[r][0..TILE_L) = sum over i = max(j0, from)..n-1, in order, of
 * w[i][j0+r] * x[i][0..TILE_L) for the keys j0..j0+jn-1 (jn <= TILE_R; the
 * other rows of
 * the tile are left alone), where row i of w (ldw apart, or packed as
 * att_tri says when ldw is 0) holds keys 0..i only: a key past a row's
 * diagonal gets nothing from it. */
LAYERS_SIMD static void att_gather_tile(float tile[TILE_R][TILE_L], const float *w, int ldw, int j0,
                                        int jn, const float *x, int ldx, int from, int n)
{
    vf8 acc[TILE_R][2];
    float *rows[TILE_R];
#pragma GCC unroll 6
    for (int r = 0; r < TILE_R; r++)
        acc[r][0] = acc[r][1] = vf8_splat(0.0f);
    /* rows that end inside the tile's keys; with fewer than TILE_R keys, all */
    int i = j0 > from ? j0 : from, ragged = jn == TILE_R ? j0 + TILE_R - 1 : n;
    for (; i < n && i < ragged; i++) {
        const float *wi = (ldw ? w + (size_t)i * ldw : w + att_tri(i)) + j0;
        const float *xi = x + (size_t)i * ldx;
        int keys = i - j0 + 1 < jn ? i - j0 + 1 : jn;
        for (int r = 0; r < keys; r++) {
            acc[r][0] += vf8_load(xi) * wi[r];
            acc[r][1] += vf8_load(xi + VL) * wi[r];
        }
    }
    if (i < n)
        tile_cols(acc, w + j0, (size_t)ldw, x, (size_t)ldx, (size_t)i, (size_t)n);
    for (int r = 0; r < TILE_R; r++)
        rows[r] = tile[r];
    tile_store(rows, acc, TILE_R, TILE_L);
}

/* Row (the scaled scores of one query against keys 0..nkeys-1) becomes
 * their softmax in place.  The row has room up to the next multiple of VL,
 * which the last vector reads and writes (zeros past nkeys); copy, unless
 * NULL, gets the nkeys probabilities as well.  In lanes, the sum in VL
 * partial sums added in a fixed order. */
LAYERS_SIMD static void softmax_causal_row(float *row, int nkeys, float *copy)
{
    int last = (nkeys - 1) / VL * VL; /* the last vector, partly past nkeys */
    const vi8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
    vi8 keep = (lane - (nkeys - last)) >> 31; /* all ones in lanes before nkeys */
    vf8 m8 = vf8_select(keep, vf8_load(row + last), vf8_splat(row[0]));
    for (int t = 0; t < last; t += VL)
        m8 = vf8_max(vf8_load(row + t), m8);
    vf8 m = vf8_splat(vf8_hmax(m8)), sum8 = vf8_splat(0.0f);
    for (int t = 0; t < last; t += VL) {
        vf8 e = exp8_nonpos(vf8_load(row + t) - m);
        vf8_store(row + t, e);
        sum8 += e;
    }
    vf8 e = vf8_select(keep, exp8_nonpos(vf8_load(row + last) - m), vf8_splat(0.0f));
    vf8_store(row + last, e);
    vf8 inv = vf8_splat(1.0f / vf8_sum(sum8 + e));
    for (int t = 0; t < last; t += VL) {
        vf8 p = vf8_load(row + t) * inv;
        vf8_store(row + t, p);
        if (copy)
            vf8_store(copy + t, p);
    }
    vf8_store(row + last, vf8_load(row + last) * inv);
    if (copy)
        memcpy(copy + last, row + last, (size_t)(nkeys - last) * sizeof(float));
}

/* dst (n rows of w numbers, stride ldd) = the tile's first w of each row. */
static void att_put_tile(float *dst, int ldd, const float tile[TILE_R][TILE_L], int n, int w)
{
    att_copy_rows(dst, ldd, tile[0], TILE_L, n, w);
}

/* One head for the n query rows at positions t0..t0+n-1 (q, stride ldq)
 * against keys and values 0..t0+n-1 (k, v, stride ldkv): out (stride ldo)
 * gets hs numbers per row.  With att, the probabilities of position t are
 * also copied to att + att_tri(t). */
static void attention_head(float *out, int ldo, float *att, float *scratch,
                           const float *q, int ldq, const float *k, const float *v, int ldkv,
                           int t0, int n, int hs, float scale)
{
    int nkv = t0 + n, Tp = round_up(nkv, TILE_L), hsp = round_up(hs, TILE_L);
    float *kT = scratch, *vh = kT + (size_t)hsp * Tp, *srow = vh + (size_t)nkv * hsp;
    float tile[TILE_R][TILE_L];
    int ldv;

    att_transpose(kT, Tp, k, ldkv, nkv, hs);
    const float *vr = att_rows(vh, hsp, v, ldkv, nkv, hs, &ldv);
    for (int i0 = 0; i0 < n; i0 += TILE_R) {
        int rb = n - i0 < TILE_R ? n - i0 : TILE_R; /* rows of the tile; the rest repeat the last */
        const float *x[TILE_R], *p[TILE_R];
        float *s[TILE_R];
        int nk[TILE_R];
        for (int r = 0; r < TILE_R; r++) {
            int i = i0 + (r < rb ? r : rb - 1);
            x[r] = q + (size_t)i * ldq;
            s[r] = srow + (size_t)r * Tp;
            p[r] = srow + (size_t)(r < rb ? r : rb - 1) * Tp;
            nk[r] = t0 + i + 1;
        }
        att_dot_tile(s, x, hs, kT, Tp, round_up(nk[TILE_R - 1], TILE_L), scale);
        for (int r = 0; r < rb; r++) {
            softmax_causal_row(s[r], nk[r], att ? att + att_tri(t0 + i0 + r) : NULL);
        }
        for (int c0 = 0; c0 < hs; c0 += TILE_L) {
            int w = hs - c0 < TILE_L ? hs - c0 : TILE_L;
            att_mix_tile(tile, p, nk, vr + c0, ldv);
            att_put_tile(out + (size_t)i0 * ldo + c0, ldo, tile, rb, w);
        }
    }
}

typedef struct attention_args {
    float *out, *att, *scratch, *dinp;
    const float *inp, *dout, *catt;
    int T, C, NH, q0;
    size_t scratch_floats; /* per slot */
} attention_args;

/* Item b * NH + h: head h of sequence b. */
static void attention_forward_item(void *ctx, int item, int slot)
{
    const attention_args *a = ctx;
    int b = item / a->NH, h = item % a->NH, T = a->T, C = a->C, C3 = 3 * C, hs = C / a->NH;
    const float *q = a->inp + (size_t)b * T * C3 + (size_t)h * hs;
    attention_head(a->out + ((size_t)b * T + a->q0) * C + (size_t)h * hs, C,
                   a->att + (size_t)item * att_tri(T), a->scratch + (size_t)slot * a->scratch_floats,
                   q + (size_t)a->q0 * C3, C3, q + C, q + 2 * C, C3, a->q0, T - a->q0, hs,
                   1.0f / sqrtf((float)hs));
}

void attention_forward(float *out, float *att, float *scratch, const float *inp, int B, int T,
                       int C, int NH, int q0, pool *tp)
{
    assert(C % NH == 0);
    attention_args a = {.out = out, .att = att, .scratch = scratch, .inp = inp, .T = T, .C = C,
                        .NH = NH, .q0 = q0,
                        .scratch_floats = attention_scratch_floats(T, C, NH)};
    pool_for(tp, B * NH, attention_forward_item, &a);
}

void attention_forward_cached(float *out, float *scratch, const float *q, const float *kcache,
                              const float *vcache, int t0, int n, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);

    assert(C % NH == 0);
    for (int h = 0; h < NH; h++)
        attention_head(out + (size_t)h * hs, C, NULL, scratch, q + (size_t)h * hs, 3 * C,
                       kcache + (size_t)h * hs, vcache + (size_t)h * hs, C, t0, n, hs, scale);
}

/* Row t of the softmax's backward: with dp the gradient of the
 * probabilities p (keys 0..t), d(score) = p * (dp - sum(p * dp)) * scale,
 * in place of dp. */
LAYERS_SIMD static void softmax_causal_row_backward(float *drow, const float *prow, int nkeys,
                                                    float scale)
{
    int full = nkeys - nkeys % VL, t2;
    vf8 s8 = vf8_splat(0.0f);
    for (t2 = 0; t2 < full; t2 += VL)
        s8 += vf8_load(prow + t2) * vf8_load(drow + t2);
    float s = vf8_sum(s8);
    for (t2 = full; t2 < nkeys; t2++)
        s += prow[t2] * drow[t2];
    vf8 sv = vf8_splat(s), sc = vf8_splat(scale);
    for (t2 = 0; t2 < full; t2 += VL)
        vf8_store(drow + t2, vf8_load(prow + t2) * (vf8_load(drow + t2) - sv) * sc);
    for (t2 = full; t2 < nkeys; t2++)
        drow[t2] = prow[t2] * (drow[t2] - s) * scale;
}

/* The backward of one head (q, k, v, dq, dk, dv stride ldx; dy stride ldy;
 * p, the forward's probabilities, packed): writes dq, dk and dv. */
static void attention_head_backward(float *dq, float *dk, float *dv, float *scratch,
                                    const float *dy, int ldy, const float *q, const float *k,
                                    const float *v, int ldx, const float *p, int q0, int T,
                                    int hs, float scale)
{
    int Tp = round_up(T, TILE_L), hsp = round_up(hs, TILE_L);
    float *vT = scratch, *kh = vT + (size_t)hsp * Tp, *qh = kh + (size_t)T * hsp;
    float *dyh = qh + (size_t)T * hsp, *ds = dyh + (size_t)T * hsp; /* ds (Tr, Tp) */
    float tile[TILE_R][TILE_L];
    int ldk, ldq, lddy;

    att_transpose(vT, Tp, v, ldx, T, hs);
    const float *kr = att_rows(kh, hsp, k, ldx, T, hs, &ldk);
    const float *qr = att_rows(qh, hsp, q, ldx, T, hs, &ldq);
    const float *dyr = att_rows(dyh, hsp, dy, ldy, T, hs, &lddy);
    /* rows: dp = dy @ v^T, then d(score) in place; dq += dscore @ k; the
     * rows before q0 have no gradient */
    for (int i = 0; i < q0; i++)
        memset(dq + (size_t)i * ldx, 0, (size_t)hs * sizeof(float));
    for (int i0 = q0; i0 < T; i0 += TILE_R) {
        int rb = T - i0 < TILE_R ? T - i0 : TILE_R;
        const float *x[TILE_R], *dsr[TILE_R];
        float *s[TILE_R];
        int nk[TILE_R];
        for (int r = 0; r < TILE_R; r++) {
            int i = i0 + (r < rb ? r : rb - 1);
            x[r] = dy + (size_t)i * ldy;
            s[r] = ds + (size_t)(i0 + r) * Tp; /* rows past T: ds has room */
            nk[r] = i + 1;
        }
        int width = round_up(nk[TILE_R - 1], TILE_L);
        att_dot_tile(s, x, hs, vT, Tp, width, 1.0f);
        for (int r = 0; r < rb; r++) {
            softmax_causal_row_backward(s[r], p + att_tri(i0 + r), nk[r], scale);
            dsr[r] = s[r];
        }
        for (int r = rb; r < TILE_R; r++)
            dsr[r] = dsr[rb - 1];
        for (int c0 = 0; c0 < hs; c0 += TILE_L) {
            att_mix_tile(tile, dsr, nk, kr + c0, ldk);
            att_put_tile(dq + (size_t)i0 * ldx + c0, ldx, tile, rb,
                         hs - c0 < TILE_L ? hs - c0 : TILE_L);
        }
    }
    /* keys: dv += p^T @ dy, dk += dscore^T @ q, over the rows from q0 */
    for (int j0 = 0; j0 < T; j0 += TILE_R) {
        int jn = T - j0 < TILE_R ? T - j0 : TILE_R;
        for (int c0 = 0; c0 < hs; c0 += TILE_L) {
            int w = hs - c0 < TILE_L ? hs - c0 : TILE_L;
            att_gather_tile(tile, p, 0, j0, jn, dyr + c0, lddy, q0, T);
            att_put_tile(dv + (size_t)j0 * ldx + c0, ldx, tile, jn, w);
            att_gather_tile(tile, ds, Tp, j0, jn, qr + c0, ldq, q0, T);
            att_put_tile(dk + (size_t)j0 * ldx + c0, ldx, tile, jn, w);
        }
    }
}

static void attention_backward_item(void *ctx, int item, int slot)
{
    const attention_args *a = ctx;
    int b = item / a->NH, h = item % a->NH, T = a->T, C = a->C, C3 = 3 * C, hs = C / a->NH;
    const float *q = a->inp + (size_t)b * T * C3 + (size_t)h * hs;
    float *dq = a->dinp + (size_t)b * T * C3 + (size_t)h * hs;
    attention_head_backward(dq, dq + C, dq + 2 * C, a->scratch + (size_t)slot * a->scratch_floats,
                            a->dout + (size_t)b * T * C + (size_t)h * hs, C, q, q + C, q + 2 * C,
                            C3, a->catt + (size_t)item * att_tri(T), a->q0, T, hs,
                            1.0f / sqrtf((float)hs));
}

void attention_backward(float *dinp, float *scratch, const float *dout, const float *inp,
                        const float *att, int B, int T, int C, int NH, int q0, pool *tp)
{
    assert(C % NH == 0);
    attention_args a = {.dinp = dinp, .scratch = scratch, .dout = dout, .inp = inp, .catt = att,
                        .T = T, .C = C, .NH = NH, .q0 = q0,
                        .scratch_floats = attention_scratch_floats(T, C, NH)};
    pool_for(tp, B * NH, attention_backward_item, &a);
}

/* ---- gelu, residual ----------------------------------------------------- */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

/* Lanes of gelu: out = x * s and s = sigmoid(2u) = 1 / (1 + exp(-2u)),
 * u = sqrt(2/pi) (x + 0.044715 x^3). */
VEC_INLINE vf8 gelu8(vf8 x, vf8 *s)
{
    vf8 u = vf8_splat(GELU_SCALE) * (x + vf8_splat(0.044715f) * x * x * x);
    *s = vf8_splat(1.0f) / (vf8_splat(1.0f) + exp8(vf8_splat(-2.0f) * u));
    return x * *s;
}

LAYERS_SIMD static void gelu_rows(float *out, float *sig, const float *inp, size_t N)
{
    size_t i = 0;
    vf8 s;
    for (; i + VL <= N; i += VL) {
        vf8_store(out + i, gelu8(vf8_load(inp + i), &s));
        if (sig)
            vf8_store(sig + i, s);
    }
    if (i < N) { /* the tail, padded to VL lanes */
        float x[VL] = {0}, o[VL], sg[VL];
        memcpy(x, inp + i, (N - i) * sizeof(float));
        vf8_store(o, gelu8(vf8_load(x), &s));
        vf8_store(sg, s);
        memcpy(out + i, o, (N - i) * sizeof(float));
        if (sig)
            memcpy(sig + i, sg, (N - i) * sizeof(float));
    }
}

/* d/dx [x s] = s + x s' with s' = 2 s (1 - s) du/dx (the same as
 * 0.5 (1 + tanh u) + 0.5 x sech^2(u) du/dx) */
VEC_INLINE vf8 gelu8_backward(vf8 x, vf8 s, vf8 dout)
{
    vf8 du = vf8_splat(GELU_SCALE) * (vf8_splat(1.0f) + vf8_splat(3.0f * 0.044715f) * x * x);
    return (s + vf8_splat(2.0f) * x * s * (vf8_splat(1.0f) - s) * du) * dout;
}

LAYERS_SIMD static void gelu_backward_rows(float *dinp, const float *inp, const float *sig,
                                           const float *dout, size_t N)
{
    size_t i = 0;
    for (; i + VL <= N; i += VL)
        vf8_store(dinp + i, gelu8_backward(vf8_load(inp + i), vf8_load(sig + i),
                                           vf8_load(dout + i)));
    if (i < N) {
        float x[VL] = {0}, s[VL] = {0}, d[VL] = {0}, g[VL];
        memcpy(x, inp + i, (N - i) * sizeof(float));
        memcpy(s, sig + i, (N - i) * sizeof(float));
        memcpy(d, dout + i, (N - i) * sizeof(float));
        vf8_store(g, gelu8_backward(vf8_load(x), vf8_load(s), vf8_load(d)));
        memcpy(dinp + i, g, (N - i) * sizeof(float));
    }
}

LAYERS_SIMD static void add_rows(float *out, const float *a, const float *b, size_t N)
{
    size_t i = 0;
    for (; i + VL <= N; i += VL)
        vf8_store(out + i, vf8_load(a + i) + vf8_load(b + i));
    for (; i < N; i++)
        out[i] = a[i] + b[i];
}

/* The elementwise kernels' items: blocks of FLOATS_PER_ITEM numbers (whole
 * vectors, so that only the last block has a tail, as in one pass). */
typedef struct elementwise_args {
    float *out, *sig;
    const float *a, *b, *c;
    size_t N;
} elementwise_args;

static void gelu_forward_item(void *ctx, int item, int slot)
{
    const elementwise_args *e = ctx;
    size_t lo, hi;
    (void)slot;
    item_range(item, FLOATS_PER_ITEM, e->N, &lo, &hi);
    gelu_rows(e->out + lo, e->sig ? e->sig + lo : NULL, e->a + lo, hi - lo);
}

void gelu_forward(float *out, float *sig, const float *inp, size_t N, pool *tp)
{
    elementwise_args e = {.out = out, .sig = sig, .a = inp, .N = N};
    pool_for(tp, item_count(N, FLOATS_PER_ITEM), gelu_forward_item, &e);
}

static void gelu_backward_item(void *ctx, int item, int slot)
{
    const elementwise_args *e = ctx;
    size_t lo, hi;
    (void)slot;
    item_range(item, FLOATS_PER_ITEM, e->N, &lo, &hi);
    gelu_backward_rows(e->out + lo, e->a + lo, e->b + lo, e->c + lo, hi - lo);
}

void gelu_backward(float *dinp, const float *inp, const float *sig, const float *dout, size_t N,
                   pool *tp)
{
    elementwise_args e = {.out = dinp, .a = inp, .b = sig, .c = dout, .N = N};
    pool_for(tp, item_count(N, FLOATS_PER_ITEM), gelu_backward_item, &e);
}

static void residual_forward_item(void *ctx, int item, int slot)
{
    const elementwise_args *e = ctx;
    size_t lo, hi;
    (void)slot;
    item_range(item, FLOATS_PER_ITEM, e->N, &lo, &hi);
    add_rows(e->out + lo, e->a + lo, e->b + lo, hi - lo);
}

void residual_forward(float *out, const float *a, const float *b, size_t N, pool *tp)
{
    elementwise_args e = {.out = out, .a = a, .b = b, .N = N};
    pool_for(tp, item_count(N, FLOATS_PER_ITEM), residual_forward_item, &e);
}

void residual_backward(float *da, float *db, const float *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* ---- the LM head's logits ------------------------------------------------- */

/* logits = x @ wte^T with V up to a few thousand and C = 64 is a product
 * with a short inner dimension and a wide output: OpenBLAS ran it at ~75
 * GFLOP/s and first zeroed the whole output.  Here the ids go 16 at a time
 * (TILE_L lanes, two vectors) and rows TILE_R at a time, a tile of 12
 * accumulators over the C products, from a copy of wte laid out as
 * (V / 16) panels of (C, 16): in cache, 92 GFLOP/s, OpenBLAS's own peak on
 * this machine.  Each logit is its own sum over c = 0..C-1, so a row's bits
 * do not depend on the rows computed with it. */
size_t lmhead_panel_floats(int V, int C) { return (size_t)round_up(V, TILE_L) * C; }

void lmhead_pack(float *panels, const float *wte, int V, int C)
{
    tile_pack(panels, wte, C, V, 1, (size_t)C); /* wte^T */
}

/* TILE_R rows of logits (row r at out[r], V of them) from the rows x[r]. */
LAYERS_SIMD static void lmhead_tile(float *const out[TILE_R], const float *const x[TILE_R],
                                    const float *panels, int V, int C)
{
    for (int v0 = 0; v0 < V; v0 += TILE_L) {
        vf8 acc[TILE_R][2];
        float *dst[TILE_R];
        tile_rows(acc, x, panels + (size_t)v0 * C, TILE_L, C);
        for (int r = 0; r < TILE_R; r++)
            dst[r] = out[r] + v0;
        tile_store(dst, acc, TILE_R, V - v0 < TILE_L ? V - v0 : TILE_L);
    }
}

void lmhead_logits(float *logits, const float *x, size_t N, const float *panels, int V, int C)
{
    for (size_t n0 = 0; n0 < N; n0 += TILE_R) {
        int rows = N - n0 < TILE_R ? (int)(N - n0) : TILE_R;
        const float *xr[TILE_R];
        float *out[TILE_R];
        for (int r = 0; r < TILE_R; r++) {
            size_t n = n0 + (size_t)(r < rows ? r : rows - 1);
            xr[r] = x + n * C;
            out[r] = logits + n * V; /* a repeated row writes the same bits again */
        }
        lmhead_tile(out, xr, panels, V, C);
    }
}

/* The first half of the LM head's backward, u (N, C) = g (N, V) @ wte: the
 * same tiles with the roles turned, lanes over C and the sum over the V
 * ids, from a copy of wte as round_up(C, 16) / 16 panels of (V, 16).  Each
 * number is its own sum over v = 0..V-1 in order. */
size_t lmhead_back_panel_floats(int V, int C) { return (size_t)round_up(C, TILE_L) * V; }

void lmhead_back_pack(float *panels, const float *wte, int V, int C)
{
    tile_pack(panels, wte, V, C, (size_t)C, 1);
}

/* u[r][c0..c0+16) for TILE_R rows g[r], from the panel of columns c0... */
LAYERS_SIMD static void lmhead_back_tile(float tile[TILE_R][TILE_L], const float *const g[TILE_R],
                                         const float *panel, int V)
{
    vf8 acc[TILE_R][2];
    float *rows[TILE_R];
    tile_rows(acc, g, panel, TILE_L, V);
    for (int r = 0; r < TILE_R; r++)
        rows[r] = tile[r];
    tile_store(rows, acc, TILE_R, TILE_L);
}

void lmhead_back_rows(float *u, const float *g, size_t N, const float *panels, int V, int C)
{
    float tile[TILE_R][TILE_L];
    for (size_t n0 = 0; n0 < N; n0 += TILE_R) {
        int rows = N - n0 < TILE_R ? (int)(N - n0) : TILE_R;
        const float *gr[TILE_R];
        for (int r = 0; r < TILE_R; r++)
            gr[r] = g + (n0 + (size_t)(r < rows ? r : rows - 1)) * V;
        for (int c0 = 0; c0 < C; c0 += TILE_L) {
            lmhead_back_tile(tile, gr, panels + (size_t)c0 * V, V);
            int w = C - c0 < TILE_L ? C - c0 : TILE_L;
            for (int r = 0; r < rows; r++)
                memcpy(u + (n0 + (size_t)r) * C + c0, tile[r], (size_t)w * sizeof(float));
        }
    }
}

/* The LM head's weight gradient from a block of rows, dw (V, Cp) += g (N,
 * V)^T @ x (N, Cp), with Cp = round_up(C, 16) and x's and dw's columns
 * past C zero, for the ids lo..hi-1 (lo a multiple of TILE_R): TILE_R ids
 * by 16 lanes of accumulators over the N rows, in order, added to dw once
 * per block.  g's rows are read a few numbers at a time, so the block
 * should be in cache. */
LAYERS_SIMD static void lmhead_back_weights_ids(float *dw, const float *g, const float *x,
                                                size_t N, int V, int C, int lo, int hi)
{
    int Cp = round_up(C, TILE_L);
    for (int v0 = lo; v0 < hi; v0 += TILE_R) {
        int ids = hi - v0 < TILE_R ? hi - v0 : TILE_R;
        for (int c0 = 0; c0 < Cp; c0 += TILE_L) {
            vf8 acc[TILE_R][2];
#pragma GCC unroll 6
            for (int r = 0; r < TILE_R; r++)
                acc[r][0] = acc[r][1] = vf8_splat(0.0f);
            if (ids == TILE_R)
                tile_cols(acc, g + v0, (size_t)V, x + c0, (size_t)Cp, 0, N);
            else /* the last ids */
                for (size_t n = 0; n < N; n++) {
                    const float *gn = g + n * V + v0, *xn = x + n * Cp + c0;
                    for (int r = 0; r < ids; r++) {
                        acc[r][0] += vf8_load(xn) * gn[r];
                        acc[r][1] += vf8_load(xn + VL) * gn[r];
                    }
                }
            for (int r = 0; r < ids; r++) {
                float *d = dw + (size_t)(v0 + r) * Cp + c0;
                vf8_store(d, vf8_load(d) + acc[r][0]);
                vf8_store(d + VL, vf8_load(d + VL) + acc[r][1]);
            }
        }
    }
}

typedef struct lmhead_args {
    float *dw;
    int nb, V, C;
    const float *const *g, *const *x;
    const size_t *N;
} lmhead_args;

/* Items: blocks of LM_IDS_PER_ITEM ids, each taking the blocks of rows in order. */
static void lmhead_back_weights_item(void *ctx, int item, int slot)
{
    const lmhead_args *a = ctx;
    size_t lo, hi;
    (void)slot;
    item_range(item, LM_IDS_PER_ITEM, (size_t)a->V, &lo, &hi);
    for (int k = 0; k < a->nb; k++)
        lmhead_back_weights_ids(a->dw, a->g[k], a->x[k], a->N[k], a->V, a->C, (int)lo, (int)hi);
}

void lmhead_back_weights(float *dw, int nb, const float *const g[], const float *const x[],
                         const size_t N[], int V, int C, pool *tp)
{
    lmhead_args a = {.dw = dw, .nb = nb, .V = V, .C = C, .g = g, .x = x, .N = N};
    _Static_assert(LM_IDS_PER_ITEM % TILE_R == 0, "an item's ids start on a tile");
    pool_for(tp, item_count((size_t)V, LM_IDS_PER_ITEM), lmhead_back_weights_item, &a);
}

/* ---- softmax cross-entropy ---------------------------------------------- */

/* The row's maximum (exact, so the lane order does not matter). */
VEC_INLINE float row_max(const float *row, int V)
{
    int full = V - V % VL, v;
    float m = row[0];
    if (full) {
        vf8 m8 = vf8_load(row);
        for (v = VL; v < full; v += VL)
            m8 = vf8_max(vf8_load(row + v), m8);
        m = vf8_hmax(m8);
    }
    for (v = full; v < V; v++)
        m = row[v] > m ? row[v] : m;
    return m;
}

typedef double vd4 __attribute__((vector_size(32)));

/* The eight lanes of x widened to double and added into two accumulators. */
VEC_INLINE void vd8_add(vd4 *lo, vd4 *hi, vf8 x)
{
    *lo += __builtin_convertvector(__builtin_shufflevector(x, x, 0, 1, 2, 3), vd4);
    *hi += __builtin_convertvector(__builtin_shufflevector(x, x, 4, 5, 6, 7), vd4);
}

/* e (V) = exp(row - m) (float exponentials of non-positive arguments);
 * returns their sum, each exponential added in double in its lane (V / VL
 * terms per lane), the lanes then added in a fixed order.  Nothing in the
 * loop waits on a horizontal sum, so it runs at the exponentials' speed
 * (0.79 against 1.45 ns a value for partial float sums folded into a
 * double every 64 values, in cache). */
VEC_INLINE double row_exp_sum(float *e, const float *row, int V, float m)
{
    int full = V - V % VL;
    const vf8 m8 = vf8_splat(m);
    vd4 lo = {0, 0, 0, 0}, hi = lo;
    for (int v = 0; v < full; v += VL) {
        vf8 x = exp8_nonpos(vf8_load(row + v) - m8);
        vf8_store(e + v, x);
        vd8_add(&lo, &hi, x);
    }
    vd4 s4 = lo + hi;
    double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    if (full < V) {
        exp_tail(e + full, row + full, V - full, m);
        for (int v = full; v < V; v++)
            sum += e[v];
    }
    return sum;
}

LAYERS_SIMD void crossentropy_forward(float *losses, float *probs, const float *logits,
                                      const int *targets, size_t N, int V)
{
    for (size_t n = 0; n < N; n++) {
        const float *row = logits + n * V;
        float *prow = probs + n * V;
        if (targets[n] < 0) {
            losses[n] = 0.0f;
            continue;
        }
        assert(targets[n] < V);
        float m = row_max(row, V);
        double sum = row_exp_sum(prow, row, V, m);
        /* -log p = log sum exp(row - m) - (row[target] - m) */
        losses[n] = (float)(log(sum) - ((double)row[targets[n]] - m));
        float inv = (float)(1.0 / sum);
        int v = 0;
        for (; v + VL <= V; v += VL)
            vf8_store(prow + v, vf8_load(prow + v) * vf8_splat(inv));
        for (; v < V; v++)
            prow[v] *= inv;
    }
}

void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
                                   const int *targets, size_t N, int V)
{
    for (size_t n = 0; n < N; n++) {
        const float *prow = probs + n * V;
        float *drow = dlogits + n * V;
        if (targets[n] < 0) {
            memset(drow, 0, (size_t)V * sizeof(float));
            continue;
        }
        float d = dlosses ? dlosses[n] : 1.0f;
        if (drow != prow || d != 1.0f)
            for (int v = 0; v < V; v++)
                drow[v] = d * prow[v];
        drow[targets[n]] -= d;
    }
}

LAYERS_SIMD void crossentropy_softmax_grad_scaled(float *losses, float *grad, float *rscale,
                                                  const float *logits, const int *targets,
                                                  size_t N, int V)
{
    for (size_t n = 0; n < N; n++) {
        const float *row = logits + n * V;
        float *grow = grad + n * V;
        int t = targets[n];
        if (t < 0) {
            losses[n] = 0.0f;
            rscale[n] = 0.0f;
            memset(grow, 0, (size_t)V * sizeof(float));
            continue;
        }
        assert(t < V);
        float m = row_max(row, V), xt = row[t]; /* grad may be logits itself */
        double sum = row_exp_sum(grow, row, V, m);
        losses[n] = (float)(log(sum) - ((double)xt - m));
        grow[t] = (float)((double)grow[t] - sum);
        rscale[n] = (float)(1.0 / sum);
    }
}
