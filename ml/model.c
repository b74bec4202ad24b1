/* model.c -- see model.h.  The layer kernels are in layers.c. */
#include "ml/model.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "ml/layers.h"
#include "ml/pool.h"

/* Activations of one forward for B sequences of T positions, carved out of
 * one allocation (see acts_layout), plus the backward's scratch. */
typedef struct model_acts {
    /* the batch, copied so that the caller's arrays need not outlive the call */
    int *tokens;       /* (B, T) */
    int *types;        /* (B, T) */
    int *targets;      /* (B, T) */
    float *frames;     /* (B, F, F_PIX) */
    float *mel;        /* (B, NA, A_IN) */
    /* forward */
    float *encoded;    /* (B, T, C) */
    float *ln1;        /* (L, B, T, C) */
    float *ln1_mean;   /* (L, B, T) */
    float *ln1_rstd;   /* (L, B, T) */
    float *qkv;        /* (L, B, T, 3C) */
    float *atty;       /* (L, B, T, C) */
    float *att;        /* (L, B, NH, T(T+1)/2) the causal triangles, packed */
    float *residual2;  /* (L, B, T, C) */
    float *ln2;        /* (L, B, T, C) */
    float *ln2_mean;   /* (L, B, T) */
    float *ln2_rstd;   /* (L, B, T) */
    float *fch;        /* (L, B, T, R*C) */
    float *fch_gelu;   /* (L, B, T, R*C) */
    float *fch_sig;    /* (L, B, T, R*C) GELU's sigmoid(2u), for its backward */
    float *residual3;  /* (L, B, T, C) */
    /* The LM head runs on n_lm of the B*T positions, its rows: first the
     * n_target positions with a target, in (b, t) order, then, when the
     * batch asks for all logits, every other position in (b, t) order.  The
     * backward only needs the first n_target rows.  Only the LM head reads
     * the last block's output, so that block, past its attention (whose
     * keys and values every position needs), runs on these rows alone: its
     * slices of residual2 .. residual3 hold n_lm rows in this order. */
    int *lm_pos;       /* (n_lm) position b*T + t of each LM-head row */
    int *lm_row;       /* (B, T) LM-head row of each position, or -1 */
    int *lm_targets;   /* (n_lm) the target of each row (-1 past n_target) */
    float *lm_x;       /* (n_lm, C) the last block's input residual at each row */
    float *lm_atty;    /* (n_lm, C) the last block's attention output at each row */
    float *lnf_mean;   /* (n_lm) */
    float *lnf_rstd;   /* (n_lm) */
    float *lm_in;      /* (n_lm, C) the final LayerNorm's output at each row */
    float *logits;     /* (n_lm, V) */
    float *losses;     /* (n_lm) */
    float *proj;       /* (B, T, C) projection output before its residual add */
    /* backward scratch, reused layer after layer */
    float *dresidual;  /* (B, T, C) gradient of the residual stream */
    float *dln;        /* (B, T, C) gradient of a LayerNorm output */
    float *datty;      /* (B, T, C) */
    float *dqkv;       /* (B, T, 3C) */
    float *dfch;       /* (B, T, R*C) */
    float *dfch_gelu;  /* (B, T, R*C) */
    float *dlm_in;     /* (n_target, C) gradient of lm_in */
    float *dlm_x;      /* (n_target, C) gradient of residual3, then of lm_x, at the LM-head rows */
    float *dlm_atty;   /* (n_target, C) gradient of lm_atty */
    float *lm_in_w;    /* (n_target, C) lm_in rows times their loss weight */
    float *dlogits;    /* (n_target, V) made by the forward (see model_forward) */
    float *dlogits_scale; /* (n_target) the forward's row factors of dlogits */
    float *att_scratch; /* attention's workspace, forward and backward, a share per thread */
    float *mm_scratch; /* matmul_backward's partial sums */
    float *wte_panels; /* wte as lmhead_logits reads it */
    float *wte_back_panels; /* wte as lmhead_back_rows reads it */
    float *dlm_u;      /* (n_target, C) dlogits[r] @ wte, made by the forward */
    float *lm_xs;      /* (threads, LM_BLOCK, Cp) a fused forward's blocks of lm_in rows, scaled */
    float *dwte_lm;    /* (V, Cp) a fused forward's LM-head part of dwte */
} model_acts;

struct model {
    model_config cfg;
    size_t sizes[MODEL_NUM_PARAMS];
    size_t num_params;
    float *params_mem;      /* (num_params) */
    float *grads_mem;       /* (num_params) */
    model_params params;    /* pointers into params_mem */
    model_params grads;     /* pointers into grads_mem */
    void *acts_mem;         /* acts_cap bytes */
    size_t acts_cap;
    model_acts acts;        /* pointers into acts_mem for (B, T) */
    int B, T;               /* of the last forward; 0 before the first */
    int n_lm, n_target;     /* LM-head rows of the last forward, those with a target */
    int fused;              /* the last forward was model_forward_backward's */
    int q0_last;            /* the last forward's first LM-head position in a sequence */
    int logits_kept;        /* the last forward kept its logits */
    pool *tp;               /* the threads kernels split over (borrowed), or NULL */
};

/* ---- configuration and parameters -------------------------------------- */

int model_param_sizes(const model_config *c, size_t sizes[MODEL_NUM_PARAMS])
{
    size_t V = (size_t)c->vocab, maxT = (size_t)c->max_seq, C = (size_t)c->channels;
    size_t L = (size_t)c->layers, RC = (size_t)c->mlp_ratio * C;
    size_t FPIX = (size_t)c->frame_pixels, AIN = (size_t)c->audio_window * c->n_mel;
    size_t s[MODEL_NUM_PARAMS] = {
        V * C,      /* wte */
        maxT * C,   /* wpe */
        4 * C,      /* wtype */
        C * FPIX,   /* wvis */
        C,          /* bvis */
        C * AIN,    /* waud */
        C,          /* baud */
        L * C,      /* ln1w */
        L * C,      /* ln1b */
        L * 3 * C * C, /* qkvw */
        L * 3 * C,  /* qkvb */
        L * C * C,  /* attprojw */
        L * C,      /* attprojb */
        L * C,      /* ln2w */
        L * C,      /* ln2b */
        L * RC * C, /* fcw */
        L * RC,     /* fcb */
        L * C * RC, /* fcprojw */
        L * C,      /* fcprojb */
        C,          /* lnfw */
        C,          /* lnfb */
    };
    memcpy(sizes, s, sizeof s);
    return MODEL_NUM_PARAMS;
}

int model_config_check(const model_config *c, migr_err *err)
{
    const struct {
        const char *name;
        int value, min;
    } f[] = {
        {"vocab", c->vocab, 1},           {"max_seq", c->max_seq, 1},
        {"channels", c->channels, 1},     {"layers", c->layers, 1},
        {"heads", c->heads, 1},           {"mlp_ratio", c->mlp_ratio, 1},
        {"n_frames", c->n_frames, 0},     {"frame_pixels", c->frame_pixels, 1},
        {"audio_tokens", c->audio_tokens, 0}, {"audio_window", c->audio_window, 1},
        {"n_mel", c->n_mel, 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].value < f[i].min)
            return migr_errf(err, "model config: %s is %d, must be at least %d", f[i].name,
                             f[i].value, f[i].min);
    if (c->channels % c->heads != 0)
        return migr_errf(err, "model config: channels (%d) must be a multiple of heads (%d)",
                         c->channels, c->heads);
    if ((long long)c->n_frames + c->audio_tokens >= c->max_seq)
        return migr_errf(err,
                         "model config: max_seq (%d) leaves no room for words after %d visual "
                         "and %d audio tokens",
                         c->max_seq, c->n_frames, c->audio_tokens);
    /* Keep every matrix dimension within BLAS's int and every tensor far from overflow. */
    long long big = (long long)INT_MAX / 4;
    if ((long long)c->mlp_ratio * c->channels > big || c->vocab > big || c->max_seq > 65536 ||
        (long long)c->audio_window * c->n_mel > big || c->layers > 4096 ||
        (long long)c->vocab * c->channels > big * 4)
        return migr_errf(err, "model config: sizes too large (vocab %d, channels %d, max_seq %d)",
                         c->vocab, c->channels, c->max_seq);
    return 0;
}

static void params_carve(model_params *p, float *mem, const size_t sizes[MODEL_NUM_PARAMS])
{
    float **ptrs[MODEL_NUM_PARAMS] = {
        &p->wte,  &p->wpe,  &p->wtype,    &p->wvis,     &p->bvis,    &p->waud,    &p->baud,
        &p->ln1w, &p->ln1b, &p->qkvw,     &p->qkvb,     &p->attprojw, &p->attprojb, &p->ln2w,
        &p->ln2b, &p->fcw,  &p->fcb,      &p->fcprojw,  &p->fcprojb, &p->lnfw,    &p->lnfb,
    };
    for (int i = 0; i < MODEL_NUM_PARAMS; i++) {
        *ptrs[i] = mem;
        mem += sizes[i];
    }
}

/* A standard normal from two uniforms (Box-Muller, the cosine branch). */
static double normal01(uint64_t *rng)
{
    double u1 = rng_uniform(rng), u2 = rng_uniform(rng);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

static void fill_normal(float *x, size_t n, double std, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(std * normal01(rng));
}

static void fill_const(float *x, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

/* Weights normal(0, 0.02), the two projections into the residual stream
 * (attprojw, fcprojw) normal(0, 0.02 / sqrt(2L)), LayerNorm weights 1,
 * biases 0.  Each tensor draws from its own stream of the seed. */
static void params_init(model *m, uint64_t seed)
{
    model_params *p = &m->params;
    double std = 0.02, proj_std = 0.02 / sqrt(2.0 * m->cfg.layers);
    float *weights[] = {p->wte, p->wpe, p->wtype, p->wvis, p->waud, p->qkvw, p->attprojw, p->fcw,
                        p->fcprojw};
    const size_t *s = m->sizes;
    size_t wsizes[] = {s[0], s[1], s[2], s[3], s[5], s[9], s[11], s[15], s[17]};

    memset(m->params_mem, 0, m->num_params * sizeof(float));
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) {
        uint64_t rng = rng_stream(seed, (int)i, 'w');
        int is_proj = weights[i] == p->attprojw || weights[i] == p->fcprojw;
        fill_normal(weights[i], wsizes[i], is_proj ? proj_std : std, &rng);
    }
    fill_const(p->ln1w, s[7], 1.0f);
    fill_const(p->ln2w, s[13], 1.0f);
    fill_const(p->lnfw, s[19], 1.0f);
}

model *model_new(const model_config *cfg, uint64_t seed, migr_err *err)
{
    if (model_config_check(cfg, err) != 0)
        return NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) {
        migr_errf(err, "model_new: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    model_param_sizes(cfg, m->sizes);
    for (int i = 0; i < MODEL_NUM_PARAMS; i++)
        m->num_params += m->sizes[i];
    m->params_mem = malloc(m->num_params * sizeof(float));
    m->grads_mem = calloc(m->num_params, sizeof(float));
    if (!m->params_mem || !m->grads_mem) {
        migr_errf(err, "model_new: out of memory for %zu parameters", m->num_params);
        model_free(&m);
        return NULL;
    }
    params_carve(&m->params, m->params_mem, m->sizes);
    params_carve(&m->grads, m->grads_mem, m->sizes);
    params_init(m, seed);
    return m;
}

void model_free(model **mp)
{
    if (!mp || !*mp)
        return;
    model *m = *mp;
    free(m->params_mem);
    free(m->grads_mem);
    free(m->acts_mem);
    free(m);
    *mp = NULL;
}

const model_config *model_cfg(const model *m) { return &m->cfg; }
size_t model_num_params(const model *m) { return m->num_params; }
float *model_params_flat(model *m) { return m->params_mem; }
float *model_grads_flat(model *m) { return m->grads_mem; }
const model_params *model_param_ptrs(const model *m) { return &m->params; }
const model_params *model_grad_ptrs(const model *m) { return &m->grads; }
void model_set_pool(model *m, pool *tp)
{
    m->tp = tp;
    m->B = 0; /* the activations' layout depends on the thread count */
}

pool *model_pool(const model *m) { return m->tp; }

const float *model_logits_row(const model *m, int b, int t)
{
    if (m->B == 0 || !m->logits_kept || b < 0 || b >= m->B || t < 0 || t >= m->T)
        return NULL;
    int row = m->acts.lm_row[(size_t)b * m->T + t];
    return row < 0 ? NULL : m->acts.logits + (size_t)row * m->cfg.vocab;
}

/* ---- activations -------------------------------------------------------- */

/* Rows of logits made and turned into their loss gradient at a time: 48 x
 * V = 2000 floats (384 KB) stay in a core's cache between the two. */
#define LM_BLOCK 48

/* C rounded up to whole 16-lane vectors, as lmhead_back_weights lays rows out. */
static size_t round_up16(int C) { return ((size_t)C + 15) / 16 * 16; }

/* Lays the activations for (B, T) out from base, each tensor 64-byte
 * aligned, and returns the bytes they take.  With base NULL only measures.
 * threads: of the pool the kernels run on (workspace per thread). */
static size_t acts_layout(model_acts *a, char *base, const model_config *c, int B, int T,
                          int threads)
{
    size_t BT = (size_t)B * T, C = (size_t)c->channels, L = (size_t)c->layers;
    size_t RC = (size_t)c->mlp_ratio * C, V = (size_t)c->vocab, NH = (size_t)c->heads;
    size_t S = (size_t)threads, off = 0;
    size_t widest = RC > 3 * C ? RC : 3 * C; /* the weights fc, fcproj and qkv: widest x C */
    size_t mm = matmul_scratch_floats(BT, (int)C, (int)widest);
    if (matmul_scratch_floats(BT, (int)C, (int)V) > mm) /* the LM head's, unfused */
        mm = matmul_scratch_floats(BT, (int)C, (int)V);
#define CARVE(field, type, count)                                        \
    do {                                                                 \
        off = (off + 63) & ~(size_t)63;                                  \
        a->field = base ? (type *)(void *)(base + off) : NULL;           \
        off += (size_t)(count) * sizeof(type);                           \
    } while (0)
    CARVE(tokens, int, BT);
    CARVE(types, int, BT);
    CARVE(targets, int, BT);
    CARVE(frames, float, (size_t)B * c->n_frames * c->frame_pixels);
    CARVE(mel, float, (size_t)B * c->audio_tokens * c->audio_window * c->n_mel);
    CARVE(encoded, float, BT * C);
    CARVE(ln1, float, L * BT * C);
    CARVE(ln1_mean, float, L * BT);
    CARVE(ln1_rstd, float, L * BT);
    CARVE(qkv, float, L * BT * 3 * C);
    CARVE(atty, float, L * BT * C);
    CARVE(att, float, L * B * NH * T * (T + 1) / 2);
    CARVE(residual2, float, L * BT * C);
    CARVE(ln2, float, L * BT * C);
    CARVE(ln2_mean, float, L * BT);
    CARVE(ln2_rstd, float, L * BT);
    CARVE(fch, float, L * BT * RC);
    CARVE(fch_gelu, float, L * BT * RC);
    CARVE(fch_sig, float, L * BT * RC);
    CARVE(residual3, float, L * BT * C);
    CARVE(lm_pos, int, BT);
    CARVE(lm_row, int, BT);
    CARVE(lm_targets, int, BT);
    CARVE(lm_x, float, BT * C);
    CARVE(lm_atty, float, BT * C);
    CARVE(lnf_mean, float, BT);
    CARVE(lnf_rstd, float, BT);
    CARVE(lm_in, float, BT * C);
    CARVE(logits, float, BT * V);
    CARVE(losses, float, BT);
    CARVE(proj, float, BT * C);
    CARVE(dresidual, float, BT * C);
    CARVE(dln, float, BT * C);
    CARVE(datty, float, BT * C);
    CARVE(dqkv, float, BT * 3 * C);
    CARVE(dfch, float, BT * RC);
    CARVE(dfch_gelu, float, BT * RC);
    CARVE(dlm_in, float, BT * C);
    CARVE(dlm_x, float, BT * C);
    CARVE(dlm_atty, float, BT * C);
    CARVE(lm_in_w, float, BT * C);
    CARVE(dlogits, float, BT * V);
    CARVE(dlogits_scale, float, BT);
    CARVE(att_scratch, float, S * attention_scratch_floats(T, c->channels, c->heads));
    CARVE(mm_scratch, float, mm);
    CARVE(wte_panels, float, lmhead_panel_floats(c->vocab, c->channels));
    CARVE(wte_back_panels, float, lmhead_back_panel_floats(c->vocab, c->channels));
    CARVE(dlm_u, float, BT * C);
    CARVE(lm_xs, float, S * LM_BLOCK * round_up16(c->channels));
    CARVE(dwte_lm, float, V * round_up16(c->channels));
#undef CARVE
    return off;
}

/* Points m->acts at room for (B, T), growing the allocation when it is too small. */
static int acts_ensure(model *m, int B, int T, migr_err *err)
{
    model_acts measure;
    int threads = pool_threads(m->tp);
    size_t need = acts_layout(&measure, NULL, &m->cfg, B, T, threads);
    if (need > m->acts_cap) {
        void *mem = NULL;
        if (posix_memalign(&mem, 64, need) != 0)
            return migr_errf(err, "model: out of memory for activations of B=%d T=%d (%zu bytes)",
                             B, T, need);
        free(m->acts_mem);
        m->acts_mem = mem;
        m->acts_cap = need;
    }
    acts_layout(&m->acts, m->acts_mem, &m->cfg, B, T, threads);
    return 0;
}

/* ---- forward and backward ----------------------------------------------- */

static int batch_check(const model_config *c, const model_batch *bt, migr_err *err)
{
    if (bt->B < 1 || bt->T < 1 || bt->T > c->max_seq)
        return migr_errf(err, "model_forward: batch is B=%d T=%d; need B >= 1 and 1 <= T <= %d",
                         bt->B, bt->T, c->max_seq);
    if ((size_t)bt->B * bt->T > (size_t)INT_MAX / 4)
        return migr_errf(err, "model_forward: batch B=%d T=%d is too large", bt->B, bt->T);
    if (!bt->tokens || !bt->types || !bt->targets ||
        (c->n_frames > 0 && !bt->frames) || (c->audio_tokens > 0 && bt->T > c->n_frames && !bt->mel))
        return migr_errf(err, "model_forward: batch is missing an array");
    int media = c->n_frames + c->audio_tokens;
    for (int b = 0; b < bt->B; b++)
        for (int t = 0; t < bt->T; t++) {
            size_t i = (size_t)b * bt->T + t;
            if (t >= media && (bt->tokens[i] < 0 || bt->tokens[i] >= c->vocab))
                return migr_errf(err, "model_forward: token id %d at [%d][%d] outside 0..%d",
                                 bt->tokens[i], b, t, c->vocab - 1);
            if (bt->types[i] < 0 || bt->types[i] > 3)
                return migr_errf(err, "model_forward: type %d at [%d][%d] outside 0..3",
                                 bt->types[i], b, t);
            if (bt->targets[i] >= c->vocab)
                return migr_errf(err, "model_forward: target %d at [%d][%d] outside 0..%d",
                                 bt->targets[i], b, t, c->vocab - 1);
        }
    return 0;
}

/* Fills the LM-head row lists (see model_acts) from a->targets; returns
 * n_target.  all: also list the positions without a target, after them. */
static int lm_rows_pick(model_acts *a, size_t BT, int all)
{
    int n = 0;
    for (size_t i = 0; i < BT; i++) {
        a->lm_row[i] = -1;
        if (a->targets[i] >= 0) {
            a->lm_row[i] = n;
            a->lm_targets[n] = a->targets[i];
            a->lm_pos[n++] = (int)i;
        }
    }
    int n_target = n;
    for (size_t i = 0; all && i < BT; i++)
        if (a->lm_row[i] < 0) {
            a->lm_row[i] = n;
            a->lm_targets[n] = -1;
            a->lm_pos[n++] = (int)i;
        }
    return n_target;
}

/* Per-layer slices of the parameters and activations. */
#define PL(ptr, l, n) ((ptr) + (size_t)(l) * (n))

/* Block l past its attention, on rows r0 .. r0 + N - 1: x (r0 + N, C) is
 * the block's input residual and atty (r0 + N, C) its attention output;
 * fills those rows of the layer's residual2, ln2, fch, fch_gelu, fch_sig and
 * residual3 slices (which step by BT rows).  A row's bits depend on the rows
 * the matmuls take it with (OpenBLAS picks kernels by shape), so callers
 * that want a row's value independent of others pass the same spans. */
static void block_tail_forward(model *m, int l, size_t BT, size_t r0, size_t N, const float *x,
                               const float *atty)
{
    const model_config *c = &m->cfg;
    const model_params *p = &m->params;
    model_acts *a = &m->acts;
    int C = c->channels, RC = c->mlp_ratio * c->channels;
    size_t BTC = BT * C, NC = N * C, rc0 = r0 * C, rr0 = r0 * (size_t)RC;
    float *res2 = PL(a->residual2, l, BTC) + rc0, *ln2 = PL(a->ln2, l, BTC) + rc0;
    float *fch = PL(a->fch, l, BT * RC) + rr0, *fchg = PL(a->fch_gelu, l, BT * RC) + rr0;
    float *proj = a->proj + rc0;
    pool *tp = m->tp;

    matmul_forward(proj, atty + rc0, PL(p->attprojw, l, (size_t)C * C), PL(p->attprojb, l, C), N,
                   C, C, tp);
    residual_forward(res2, x + rc0, proj, NC, tp);
    layernorm_forward(ln2, PL(a->ln2_mean, l, BT) + r0, PL(a->ln2_rstd, l, BT) + r0, res2,
                      PL(p->ln2w, l, C), PL(p->ln2b, l, C), N, C, tp);
    matmul_forward(fch, ln2, PL(p->fcw, l, (size_t)RC * C), PL(p->fcb, l, RC), N, C, RC, tp);
    gelu_forward(fchg, PL(a->fch_sig, l, BT * RC) + rr0, fch, N * RC, tp);
    matmul_forward(proj, fchg, PL(p->fcprojw, l, (size_t)C * RC), PL(p->fcprojb, l, C), N,
                   RC, C, tp);
    residual_forward(PL(a->residual3, l, BTC) + rc0, res2, proj, NC, tp);
}

/* The backward of block_tail_forward on its N rows.  dres (N, C) comes in
 * as the gradient of residual3 and leaves as that of x (the residual adds
 * pass it on unchanged, LayerNorm adds its part); datty (N, C) gets the
 * attention output's gradient. */
static void block_tail_backward(model *m, int l, size_t BT, size_t N, float *dres,
                                const float *atty, float *datty)
{
    const model_config *c = &m->cfg;
    const model_params *p = &m->params, *g = &m->grads;
    model_acts *a = &m->acts;
    int C = c->channels, RC = c->mlp_ratio * c->channels;
    size_t BTC = BT * C;
    pool *tp = m->tp;
    float *mm = a->mm_scratch;

    matmul_backward(a->dfch_gelu, PL(g->fcprojw, l, (size_t)C * RC), PL(g->fcprojb, l, C), dres,
                    PL(a->fch_gelu, l, BT * RC), PL(p->fcprojw, l, (size_t)C * RC), N, RC, C, mm,
                    tp);
    gelu_backward(a->dfch, PL(a->fch, l, BT * RC), PL(a->fch_sig, l, BT * RC), a->dfch_gelu,
                  N * RC, tp);
    matmul_backward(a->dln, PL(g->fcw, l, (size_t)RC * C), PL(g->fcb, l, RC), a->dfch,
                    PL(a->ln2, l, BTC), PL(p->fcw, l, (size_t)RC * C), N, C, RC, mm, tp);
    layernorm_backward(dres, PL(g->ln2w, l, C), PL(g->ln2b, l, C), a->dln,
                       PL(a->residual2, l, BTC), PL(p->ln2w, l, C), PL(a->ln2_mean, l, BT),
                       PL(a->ln2_rstd, l, BT), N, C, tp);
    matmul_backward(datty, PL(g->attprojw, l, (size_t)C * C), PL(g->attprojb, l, C), dres, atty,
                    PL(p->attprojw, l, (size_t)C * C), N, C, C, mm, tp);
}

/* The LM head of a forward: logits of the n_lm rows of lm_in, and the
 * loss, its gradient in the logits and that gradient taken back through
 * wte at the n_target rows with a target.  The gradient of the summed loss
 * in the logits needs nothing but the softmax, so it is made here, LM_BLOCK
 * rows at a time while their logits are in cache, and taken on through wte
 * (dlm_u) while it still is: the backward (however often it runs) starts
 * below.  Row r of the gradient is dlogits_scale[r] * dlogits[r]; the
 * backward applies the factor, with the row's loss weight, to dlm_u[r] and
 * to lm_in[r] (for dwte, which needs the weights inside its sum over rows).
 * Fused (model_forward_backward: every weight 1), dwte's part is summed
 * here too, block by block into dwte_lm, and neither the logits (unless
 * all_logits) nor their gradient is kept past its block.
 *
 * Threads: the blocks are the items, each on its own rows.  Fused, they go
 * a round of one block per thread at a time, each into buffers of its own
 * (by its place in the round), and then the round's blocks are added into
 * dwte_lm, split by ids, each id's sum taking the blocks in order: the same
 * sums, in the same order, at any thread count. */
typedef struct lm_head_args {
    model *m;
    int n_lm, n_target, fused;
    int first; /* the round's first block (fused) */
} lm_head_args;

/* Item k: block first + k, its buffers (fused) the k-th of the round's. */
static void lm_head_block(void *ctx, int item, int slot)
{
    const lm_head_args *h = ctx;
    model *m = h->m;
    model_acts *a = &m->acts;
    int C = m->cfg.channels, V = m->cfg.vocab, place = item;
    size_t Cp = round_up16(C);
    int r0 = (h->first + item) * LM_BLOCK;
    int rows = h->n_lm - r0 < LM_BLOCK ? h->n_lm - r0 : LM_BLOCK;
    int targets = h->n_target - r0 < rows ? h->n_target - r0 : rows;
    float *logits = m->logits_kept ? a->logits + (size_t)r0 * V
                                   : a->logits + (size_t)place * LM_BLOCK * V;

    (void)slot;
    lmhead_logits(logits, a->lm_in + (size_t)r0 * C, (size_t)rows, a->wte_panels, V, C);
    if (targets <= 0)
        return;
    float *grad = !h->fused ? a->dlogits + (size_t)r0 * V
                  : m->logits_kept ? a->dlogits + (size_t)place * LM_BLOCK * V
                                   : logits;
    crossentropy_softmax_grad_scaled(a->losses + r0, grad, a->dlogits_scale + r0, logits,
                                     a->lm_targets + r0, (size_t)targets, V);
    lmhead_back_rows(a->dlm_u + (size_t)r0 * C, grad, (size_t)targets, a->wte_back_panels, V, C);
    if (!h->fused)
        return;
    float *xs = a->lm_xs + (size_t)place * LM_BLOCK * Cp;
    for (int r = 0; r < targets; r++) {
        float s = a->dlogits_scale[r0 + r];
        const float *x = a->lm_in + (size_t)(r0 + r) * C;
        for (int i = 0; i < C; i++)
            xs[(size_t)r * Cp + i] = s * x[i];
    }
}

static void lm_head_forward(model *m, int n_lm, int n_target, int fused)
{
    const model_params *p = &m->params;
    model_acts *a = &m->acts;
    int C = m->cfg.channels, V = m->cfg.vocab, S = pool_threads(m->tp);
    int blocks = (n_lm + LM_BLOCK - 1) / LM_BLOCK;
    size_t Cp = round_up16(C);
    lm_head_args h = {.m = m, .n_lm = n_lm, .n_target = n_target, .fused = fused};

    lmhead_pack(a->wte_panels, p->wte, V, C);
    lmhead_back_pack(a->wte_back_panels, p->wte, V, C);
    if (!fused) {
        pool_for(m->tp, blocks, lm_head_block, &h);
        return;
    }
    memset(a->dwte_lm, 0, (size_t)V * Cp * sizeof(float));
    memset(a->lm_xs, 0, (size_t)S * LM_BLOCK * Cp * sizeof(float));
    for (h.first = 0; h.first < blocks; h.first += S) {
        int nb = blocks - h.first < S ? blocks - h.first : S, with = 0;
        const float *g[POOL_MAX_THREADS], *x[POOL_MAX_THREADS];
        size_t rows[POOL_MAX_THREADS];
        pool_for(m->tp, nb, lm_head_block, &h);
        for (int k = 0; k < nb; k++) {
            int r0 = (h.first + k) * LM_BLOCK;
            int targets = n_target - r0 < LM_BLOCK ? n_target - r0 : LM_BLOCK;
            if (targets <= 0)
                break;
            g[with] = m->logits_kept ? a->dlogits + (size_t)k * LM_BLOCK * V
                                     : a->logits + (size_t)k * LM_BLOCK * V;
            x[with] = a->lm_xs + (size_t)k * LM_BLOCK * Cp;
            rows[with++] = (size_t)targets;
        }
        if (with > 0)
            lmhead_back_weights(a->dwte_lm, with, g, x, rows, V, C, m->tp);
    }
}

static int forward(model *m, const model_batch *batch, int fused, double *loss, int *ntokens,
                   migr_err *err)
{
    const model_config *c = &m->cfg;
    const model_params *p = &m->params;
    model_acts *a = &m->acts;

    assert(m && batch);
    if (batch_check(c, batch, err) != 0)
        return -1;
    int B = batch->B, T = batch->T, C = c->channels, NH = c->heads;
    int L = c->layers;
    size_t BT = (size_t)B * T, BTC = BT * C;
    m->B = 0; /* no valid forward until this one completes */
    if (acts_ensure(m, B, T, err) != 0)
        return -1;

    memcpy(a->tokens, batch->tokens, BT * sizeof(int));
    memcpy(a->types, batch->types, BT * sizeof(int));
    memcpy(a->targets, batch->targets, BT * sizeof(int));
    size_t nframes = (size_t)B * c->n_frames * c->frame_pixels;
    size_t nmel = (size_t)B * c->audio_tokens * c->audio_window * c->n_mel;
    if (nframes)
        memcpy(a->frames, batch->frames, nframes * sizeof(float));
    if (nmel && batch->mel)
        memcpy(a->mel, batch->mel, nmel * sizeof(float));
    else if (nmel)
        memset(a->mel, 0, nmel * sizeof(float));

    int n_target = lm_rows_pick(a, BT, batch->all_logits);
    int n_lm = batch->all_logits ? (int)BT : n_target;
    m->fused = fused;
    m->logits_kept = !fused || batch->all_logits;
    /* The last block's attention is read at the LM-head rows alone, so its
     * queries before the first of them (the media and subtitle prefix) are
     * skipped. */
    m->q0_last = T;
    for (int r = 0; r < n_lm; r++)
        if (a->lm_pos[r] % T < m->q0_last)
            m->q0_last = a->lm_pos[r] % T;

    encoder_forward(a->encoded, a->tokens, a->types, a->frames, a->mel, p, B, T, c, m->tp);
    for (int l = 0; l < L; l++) {
        const float *residual = l == 0 ? a->encoded : PL(a->residual3, l - 1, BTC);
        float *ln1 = PL(a->ln1, l, BTC), *qkv = PL(a->qkv, l, 3 * BTC);
        float *atty = PL(a->atty, l, BTC);

        layernorm_forward(ln1, PL(a->ln1_mean, l, BT), PL(a->ln1_rstd, l, BT), residual,
                          PL(p->ln1w, l, C), PL(p->ln1b, l, C), BT, C, m->tp);
        matmul_forward(qkv, ln1, PL(p->qkvw, l, (size_t)3 * C * C), PL(p->qkvb, l, 3 * C), BT, C,
                       3 * C, m->tp);
        attention_forward(atty, PL(a->att, l, BT * NH * (T + 1) / 2), a->att_scratch, qkv, B, T,
                          C, NH, l == L - 1 ? m->q0_last : 0, m->tp);
        if (l < L - 1) {
            block_tail_forward(m, l, BT, 0, BT, residual, atty);
            continue;
        }
        for (int r = 0; r < n_lm; r++) { /* the last block: the LM-head rows only */
            size_t pos = (size_t)a->lm_pos[r];
            memcpy(a->lm_x + (size_t)r * C, residual + pos * C, (size_t)C * sizeof(float));
            memcpy(a->lm_atty + (size_t)r * C, atty + pos * C, (size_t)C * sizeof(float));
        }
        /* The rows with a target apart from the others, so that asking for
         * every row's logits changes none of their bits. */
        block_tail_forward(m, l, BT, 0, (size_t)n_target, a->lm_x, a->lm_atty);
        if (n_lm > n_target)
            block_tail_forward(m, l, BT, (size_t)n_target, (size_t)(n_lm - n_target), a->lm_x, a->lm_atty);
    }
    layernorm_forward(a->lm_in, a->lnf_mean, a->lnf_rstd, PL(a->residual3, L - 1, BTC), p->lnfw,
                      p->lnfb, (size_t)n_lm, C, m->tp);
    lm_head_forward(m, n_lm, n_target, fused);
    double sum = 0.0;
    for (int r = 0; r < n_target; r++)
        sum += a->losses[r];
    m->B = B;
    m->T = T;
    m->n_lm = n_lm;
    m->n_target = n_target;
    if (loss)
        *loss = sum;
    if (ntokens)
        *ntokens = n_target;
    return 0;
}

int model_forward(model *m, const model_batch *batch, double *loss, int *ntokens, migr_err *err)
{
    return forward(m, batch, 0, loss, ntokens, err);
}

/* Backward of sum_r w[r] * loss_r over the target rows of the last forward
 * (w NULL: every weight 1).  The forward left d loss_r / d logits_r in
 * dlogits, up to the row factor dlogits_scale[r]; scaling row r scales
 * both products it feeds, so the factor times w[r] goes into a copy of
 * lm_in (for dwte) and onto dlm_in (for everything below), and dlogits
 * stays as the forward left it. */
static int backward(model *m, const float *w, migr_err *err);

int model_backward(model *m, migr_err *err)
{
    return backward(m, NULL, err);
}

int model_forward_backward(model *m, const model_batch *batch, double *loss, int *ntokens,
                           migr_err *err)
{
    return forward(m, batch, 1, loss, ntokens, err) != 0 ? -1 : backward(m, NULL, err);
}

int model_backward_weighted(model *m, const float *weights, migr_err *err)
{
    return backward(m, weights, err);
}

const float *model_token_losses(const model *m)
{
    return m->B ? m->acts.losses : NULL;
}

static int backward(model *m, const float *w, migr_err *err)
{
    const model_config *c = &m->cfg;
    const model_params *p = &m->params, *g = &m->grads;
    model_acts *a = &m->acts;

    if (m->B == 0)
        return migr_errf(err, "model_backward: no forward to differentiate");
    if (m->fused && w)
        return migr_errf(err, "model_backward_weighted: the last forward was "
                              "model_forward_backward's, which sums every row with weight 1; "
                              "run model_forward before a weighted backward");
    int B = m->B, T = m->T, C = c->channels, NH = c->heads, V = c->vocab;
    int L = c->layers;
    size_t BT = (size_t)B * T, BTC = BT * C;

    size_t NT = (size_t)m->n_target;

    memset(m->grads_mem, 0, m->num_params * sizeof(float));
    /* the LM head, on the rows with a target (dlogits is the forward's);
     * dlnf is 0 at the others */
    for (size_t r = 0; r < NT; r++) {
        float s = a->dlogits_scale[r] * (w ? w[r] : 1.0f);
        for (int i = 0; i < C; i++)
            a->dlm_in[r * C + i] = s * a->dlm_u[r * C + i];
        for (int i = 0; !m->fused && i < C; i++)
            a->lm_in_w[r * C + i] = s * a->lm_in[r * C + i];
    }
    if (m->fused) /* the forward summed dwte's part */
        for (int v = 0; v < V; v++)
            for (int i = 0; i < C; i++)
                g->wte[(size_t)v * C + i] += a->dwte_lm[(size_t)v * round_up16(C) + i];
    else
        matmul_backward(NULL, g->wte, NULL, a->dlogits, a->lm_in_w, p->wte, NT, C, V,
                        a->mm_scratch, m->tp);
    /* the final LayerNorm and the last block past its attention, on the
     * target rows alone (the others' gradients are 0) */
    memset(a->dlm_x, 0, NT * C * sizeof(float));
    layernorm_backward(a->dlm_x, g->lnfw, g->lnfb, a->dlm_in, PL(a->residual3, L - 1, BTC),
                       p->lnfw, a->lnf_mean, a->lnf_rstd, NT, C, m->tp);
    block_tail_backward(m, L - 1, BT, NT, a->dlm_x, a->lm_atty, a->dlm_atty);
    memset(a->dresidual, 0, BTC * sizeof(float));
    memset(a->datty, 0, BTC * sizeof(float));
    for (size_t r = 0; r < NT; r++) {
        size_t pos = (size_t)a->lm_pos[r];
        memcpy(a->dresidual + pos * C, a->dlm_x + r * C, (size_t)C * sizeof(float));
        memcpy(a->datty + pos * C, a->dlm_atty + r * C, (size_t)C * sizeof(float));
    }

    /* a->dresidual is the gradient of the residual stream; the residual adds
     * pass it through unchanged to both of their inputs, so it is both the
     * gradient of each projection's output and the running gradient below. */
    for (int l = L - 1; l >= 0; l--) {
        const float *residual = l == 0 ? a->encoded : PL(a->residual3, l - 1, BTC);
        float *ln1 = PL(a->ln1, l, BTC), *qkv = PL(a->qkv, l, 3 * BTC);

        if (l < L - 1) /* the last block's tail ran above, on its rows */
            block_tail_backward(m, l, BT, BT, a->dresidual, PL(a->atty, l, BTC), a->datty);
        attention_backward(a->dqkv, a->att_scratch, a->datty, qkv,
                           PL(a->att, l, BT * NH * (T + 1) / 2), B, T, C, NH,
                           l == L - 1 ? m->q0_last : 0, m->tp);
        matmul_backward(a->dln, PL(g->qkvw, l, (size_t)3 * C * C), PL(g->qkvb, l, 3 * C), a->dqkv,
                        ln1, PL(p->qkvw, l, (size_t)3 * C * C), BT, C, 3 * C, a->mm_scratch,
                        m->tp);
        layernorm_backward(a->dresidual, PL(g->ln1w, l, C), PL(g->ln1b, l, C), a->dln, residual,
                           PL(p->ln1w, l, C), PL(a->ln1_mean, l, BT), PL(a->ln1_rstd, l, BT), BT,
                           C, m->tp);
    }
    encoder_backward(g, a->dresidual, a->tokens, a->types, a->frames, a->mel, B, T, c, m->tp);
    return 0;
}
