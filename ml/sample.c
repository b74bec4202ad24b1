/* sample.c -- see sample.h.  The cached decode runs the layer kernels of
 * layers.c on the model's parameters, position range by position range, in
 * the same order model_forward does. */
#include "ml/sample.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "ml/layers.h"

enum { SAMPLE_STREAM = 0x53 }; /* rng_stream purpose of the sampler */

/* ---- choosing a token ----------------------------------------------------- */

int sample_pick(const float *logits, int V, const sample_config *cfg, uint64_t *rng, int *idx,
                double *w)
{
    int k = cfg->top_k <= 0 || cfg->top_k > V ? V : cfg->top_k;

    if (cfg->temperature <= 0.0f || k == 1) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best])
                best = v;
        return best;
    }
    if (k == V) {
        for (int v = 0; v < V; v++)
            idx[v] = v;
    } else {
        /* idx[0..k) = the k largest, largest first, lower id first on ties */
        int n = 0;
        for (int v = 0; v < V; v++) {
            if (n == k && !(logits[v] > logits[idx[k - 1]]))
                continue;
            int j = n < k ? n++ : k - 1;
            while (j > 0 && logits[v] > logits[idx[j - 1]]) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
    }
    float maxv = logits[idx[0]];
    for (int i = 1; i < k; i++)
        if (logits[idx[i]] > maxv)
            maxv = logits[idx[i]];
    double sum = 0.0, inv_t = 1.0 / cfg->temperature;
    for (int i = 0; i < k; i++) {
        w[i] = exp(((double)logits[idx[i]] - maxv) * inv_t);
        sum += w[i];
    }
    double u = rng_uniform(rng) * sum, cum = 0.0;
    for (int i = 0; i < k; i++) {
        cum += w[i];
        if (u < cum)
            return idx[i];
    }
    return idx[k - 1];
}

/* ---- the KV-cached forward ------------------------------------------------ */

/* Buffers of one cached decode, one allocation; rows = the positions added
 * at once (the prefix length, or 1 to decode after a copied prefix). */
typedef struct kv_state {
    float *k;        /* (L, maxT, C) keys of every position so far */
    float *v;        /* (L, maxT, C) values */
    float *x;        /* (rows, C) residual stream of the positions being added */
    float *ln;       /* (rows, C) */
    float *mean;     /* (rows) */
    float *rstd;     /* (rows) */
    float *qkv;      /* (rows, 3C) */
    float *atty;     /* (rows, C) */
    float *proj;     /* (rows, C) */
    float *fch;      /* (rows, R*C) */
    float *fch_gelu; /* (rows, R*C) */
    float *logits;   /* (V) of the last position */
    float *scratch;  /* attention's workspace for maxT positions */
    float *panels;   /* wte as lmhead_logits reads it (own, or another state's) */
    float *mem;
} kv_state;

/* own_panels 0: s->panels is left NULL, for the caller to point at
 * another state's. */
static int kv_new(kv_state *s, const model_config *c, int rows, int own_panels, migr_err *err)
{
    size_t C = (size_t)c->channels, RC = (size_t)c->mlp_ratio * C, n = (size_t)rows;
    size_t cache = (size_t)c->layers * c->max_seq * C;
    size_t counts[] = {cache, cache, n * C, n * C, n, n, n * 3 * C, n * C, n * C, n * RC, n * RC,
                       (size_t)c->vocab, attention_scratch_floats(c->max_seq, c->channels, c->heads),
                       own_panels ? lmhead_panel_floats(c->vocab, c->channels) : 0};
    float **ptrs[] = {&s->k,    &s->v,    &s->x,   &s->ln,       &s->mean,
                      &s->rstd, &s->qkv,  &s->atty, &s->proj,    &s->fch,
                      &s->fch_gelu, &s->logits, &s->scratch, &s->panels};
    size_t total = 0;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        total += counts[i];
    s->mem = malloc(total * sizeof(float));
    if (!s->mem)
        return migr_errf(err, "model_generate: out of memory for the KV cache");
    float *p = s->mem;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        *ptrs[i] = p;
        p += counts[i];
    }
    if (!own_panels)
        s->panels = NULL;
    return 0;
}

#define PL(ptr, l, n) ((ptr) + (size_t)(l) * (n))

/* Runs positions t0..t0+n-1, whose embeddings are in s->x, through every
 * block (storing their keys and values), then the final LayerNorm and the
 * logits of the last one into s->logits. */
static void kv_advance(kv_state *s, const model *m, int t0, int n)
{
    const model_config *c = model_cfg(m);
    const model_params *p = model_param_ptrs(m);
    int C = c->channels, RC = c->mlp_ratio * C, NH = c->heads;
    size_t cache = (size_t)c->max_seq * C, nC = (size_t)n * C;

    for (int l = 0; l < c->layers; l++) {
        float *kl = PL(s->k, l, cache), *vl = PL(s->v, l, cache);
        layernorm_forward(s->ln, s->mean, s->rstd, s->x, PL(p->ln1w, l, C), PL(p->ln1b, l, C),
                          (size_t)n, C, NULL);
        matmul_forward(s->qkv, s->ln, PL(p->qkvw, l, (size_t)3 * C * C), PL(p->qkvb, l, 3 * C),
                       (size_t)n, C, 3 * C, NULL);
        for (int j = 0; j < n; j++) {
            const float *row = s->qkv + (size_t)j * 3 * C;
            memcpy(kl + (size_t)(t0 + j) * C, row + C, (size_t)C * sizeof(float));
            memcpy(vl + (size_t)(t0 + j) * C, row + 2 * (size_t)C, (size_t)C * sizeof(float));
        }
        attention_forward_cached(s->atty, s->scratch, s->qkv, kl, vl, t0, n, C, NH);
        matmul_forward(s->proj, s->atty, PL(p->attprojw, l, (size_t)C * C),
                       PL(p->attprojb, l, C), (size_t)n, C, C, NULL);
        residual_forward(s->x, s->x, s->proj, nC, NULL);
        layernorm_forward(s->ln, s->mean, s->rstd, s->x, PL(p->ln2w, l, C), PL(p->ln2b, l, C),
                          (size_t)n, C, NULL);
        matmul_forward(s->fch, s->ln, PL(p->fcw, l, (size_t)RC * C), PL(p->fcb, l, RC),
                       (size_t)n, C, RC, NULL);
        gelu_forward(s->fch_gelu, NULL, s->fch, (size_t)n * RC, NULL);
        matmul_forward(s->proj, s->fch_gelu, PL(p->fcprojw, l, (size_t)C * RC),
                       PL(p->fcprojb, l, C), (size_t)n, RC, C, NULL);
        residual_forward(s->x, s->x, s->proj, nC, NULL);
    }
    layernorm_forward(s->ln, s->mean, s->rstd, s->x + (size_t)(n - 1) * C, p->lnfw, p->lnfb, 1, C,
                      NULL);
    lmhead_logits(s->logits, s->ln, 1, s->panels, c->vocab, C);
}

/* The embedding of explanation token id at position t, added in
 * encoder_forward's order. */
static void embed_word(float *x, const model *m, int id, int t)
{
    const model_config *c = model_cfg(m);
    const model_params *p = model_param_ptrs(m);
    size_t C = (size_t)c->channels;
    const float *tok = p->wte + (size_t)id * C, *pos = p->wpe + (size_t)t * C;
    const float *ty = p->wtype + 3 * C;
    for (size_t i = 0; i < C; i++)
        x[i] = (tok[i] + pos[i]) + ty[i];
}

/* ---- generation ----------------------------------------------------------- */

static int prefix_check(const model_config *c, const model_batch *pb, const sample_config *sc,
                        migr_err *err)
{
    if (pb->B != 1 || pb->T < 1 || pb->T >= c->max_seq)
        return migr_errf(err, "model_generate: prefix is B=%d T=%d; need B = 1 and 1 <= T < %d",
                         pb->B, pb->T, c->max_seq);
    if (!pb->tokens || !pb->types || (c->n_frames > 0 && !pb->frames) ||
        (c->audio_tokens > 0 && pb->T > c->n_frames && !pb->mel))
        return migr_errf(err, "model_generate: prefix is missing an array");
    for (int t = 0; t < pb->T; t++) {
        if (t >= c->n_frames + c->audio_tokens && (pb->tokens[t] < 0 || pb->tokens[t] >= c->vocab))
            return migr_errf(err, "model_generate: token id %d at %d outside 0..%d", pb->tokens[t],
                             t, c->vocab - 1);
        if (pb->types[t] < 0 || pb->types[t] > 3)
            return migr_errf(err, "model_generate: type %d at %d outside 0..3", pb->types[t], t);
    }
    if (sc->max_new < 1)
        return migr_errf(err, "model_generate: max_new is %d, must be at least 1", sc->max_new);
    return 0;
}

/* The prefix through the model: every position's keys and values into s
 * (made for pb->T rows, with its own panels), the last one's logits into
 * s->logits. */
static void kv_prefix(kv_state *s, const model *m, const model_batch *pb)
{
    const model_config *c = model_cfg(m);
    lmhead_pack(s->panels, model_param_ptrs(m)->wte, c->vocab, c->channels);
    encoder_forward(s->x, pb->tokens, pb->types, pb->frames, pb->mel, model_param_ptrs(m), 1, pb->T,
                    c, NULL);
    kv_advance(s, m, 0, pb->T);
}

/* dst continues where src stands after a prefix of T positions: their keys,
 * values and last logits copied, src's panels shared. */
static void kv_fork(kv_state *dst, const kv_state *src, const model_config *c, int T)
{
    size_t C = (size_t)c->channels, cache = (size_t)c->max_seq * C;
    for (int l = 0; l < c->layers; l++) {
        memcpy(PL(dst->k, l, cache), PL(src->k, l, cache), (size_t)T * C * sizeof(float));
        memcpy(PL(dst->v, l, cache), PL(src->v, l, cache), (size_t)T * C * sizeof(float));
    }
    memcpy(dst->logits, src->logits, (size_t)c->vocab * sizeof(float));
    dst->panels = src->panels;
}

/* Samples after a prefix of T positions already in s, into out (at most
 * limit ids); returns the count. */
static int kv_decode(kv_state *s, const model *m, int T, const sample_config *sc, int *out,
                     int limit, uint64_t *rng, int *idx, double *w)
{
    int n = 0;
    for (;;) {
        int id = sample_pick(s->logits, model_cfg(m)->vocab, sc, rng, idx, w);
        out[n++] = id;
        if (id == sc->eos || n == limit)
            break;
        embed_word(s->x, m, id, T + n - 1);
        kv_advance(s, m, T + n - 1, 1);
    }
    return n;
}

static int generate_cached(model *m, const model_batch *pb, const sample_config *sc, int *out,
                           int limit, uint64_t *rng, int *idx, double *w, migr_err *err)
{
    kv_state s;
    if (kv_new(&s, model_cfg(m), pb->T, 1, err) != 0)
        return -1;
    kv_prefix(&s, m, pb);
    int n = kv_decode(&s, m, pb->T, sc, out, limit, rng, idx, w);
    free(s.mem);
    return n;
}

static int generate_uncached(model *m, const model_batch *pb, const sample_config *sc, int *out,
                             int limit, uint64_t *rng, int *idx, double *w, migr_err *err)
{
    const model_config *c = model_cfg(m);
    int maxT = c->max_seq, V = c->vocab, n = 0;
    int *mem = malloc((size_t)3 * maxT * sizeof(int));
    if (!mem)
        return migr_errf(err, "model_generate: out of memory");
    int *tokens = mem, *types = mem + maxT, *targets = mem + 2 * maxT;
    memcpy(tokens, pb->tokens, (size_t)pb->T * sizeof(int));
    memcpy(types, pb->types, (size_t)pb->T * sizeof(int));
    for (int t = 0; t < maxT; t++)
        targets[t] = -1;
    /* no targets, so the last position's logits must be asked for */
    model_batch b = {.B = 1, .T = pb->T, .frames = pb->frames, .mel = pb->mel, .tokens = tokens,
                     .types = types, .targets = targets, .all_logits = 1};
    for (;;) {
        if (model_forward(m, &b, NULL, NULL, err) != 0) {
            free(mem);
            return -1;
        }
        int id = sample_pick(model_logits_row(m, 0, b.T - 1), V, sc, rng, idx, w);
        out[n++] = id;
        if (id == sc->eos || n == limit)
            break;
        tokens[b.T] = id;
        types[b.T] = 3;
        b.T++;
    }
    free(mem);
    return n;
}

int model_generate(model *m, const model_batch *prefix, const sample_config *sc, int *out,
                   int *nout, int use_cache, migr_err *err)
{
    const model_config *c = model_cfg(m);
    assert(m && prefix && sc && out && nout);
    *nout = 0;
    if (prefix_check(c, prefix, sc, err) != 0)
        return -1;
    int limit = sc->max_new < c->max_seq - prefix->T ? sc->max_new : c->max_seq - prefix->T;
    uint64_t rng = rng_stream(sc->seed, 0, SAMPLE_STREAM);
    int *idx = malloc((size_t)c->vocab * sizeof(int));
    double *w = malloc((size_t)c->vocab * sizeof(double));
    int n = -1;
    if (!idx || !w)
        migr_errf(err, "model_generate: out of memory");
    else if (use_cache)
        n = generate_cached(m, prefix, sc, out, limit, &rng, idx, w, err);
    else
        n = generate_uncached(m, prefix, sc, out, limit, &rng, idx, w, err);
    free(idx);
    free(w);
    if (n < 0)
        return -1;
    *nout = n;
    return 0;
}

/* ---- many sequences of one prefix ----------------------------------------- */

typedef struct many_args {
    const model *m;
    const kv_state *base; /* after the prefix */
    int T;
    const sample_config *cfgs;
    int *const *outs;
    int *nouts;
    migr_err *errs;       /* one per sequence */
    int *failed;          /* one per sequence */
} many_args;

/* Item k: sequence k, on a KV cache of its own forked from the prefix's. */
static void generate_item(void *ctx, int k, int slot)
{
    const many_args *a = ctx;
    const model_config *c = model_cfg(a->m);
    const sample_config *sc = &a->cfgs[k];
    kv_state s = {0};
    int *idx = malloc((size_t)c->vocab * sizeof(int));
    double *w = malloc((size_t)c->vocab * sizeof(double));

    (void)slot;
    if (!idx || !w) {
        migr_errf(&a->errs[k], "model_generate: out of memory");
        a->failed[k] = 1;
    } else if (kv_new(&s, c, 1, 0, &a->errs[k]) != 0) {
        a->failed[k] = 1;
    } else {
        int limit = sc->max_new < c->max_seq - a->T ? sc->max_new : c->max_seq - a->T;
        uint64_t rng = rng_stream(sc->seed, 0, SAMPLE_STREAM);
        kv_fork(&s, a->base, c, a->T);
        a->nouts[k] = kv_decode(&s, a->m, a->T, sc, a->outs[k], limit, &rng, idx, w);
    }
    free(s.mem);
    free(idx);
    free(w);
}

int model_generate_many(model *m, const model_batch *prefix, const sample_config *cfgs, int n,
                        int *const outs[], int nouts[], migr_err *err)
{
    const model_config *c = model_cfg(m);
    kv_state base;
    assert(m && prefix && cfgs && outs && nouts && n >= 0);
    for (int k = 0; k < n; k++)
        nouts[k] = 0;
    for (int k = 0; k < n; k++)
        if (prefix_check(c, prefix, &cfgs[k], err) != 0)
            return -1;
    if (n == 0)
        return 0;
    migr_err *errs = calloc((size_t)n, sizeof *errs);
    int *failed = calloc((size_t)n, sizeof *failed);
    if (!errs || !failed || kv_new(&base, c, prefix->T, 1, err) != 0) {
        if (!errs || !failed)
            migr_errf(err, "model_generate: out of memory");
        free(errs);
        free(failed);
        return -1;
    }
    kv_prefix(&base, m, prefix);
    many_args a = {m, &base, prefix->T, cfgs, outs, nouts, errs, failed};
    pool_for(model_pool(m), n, generate_item, &a);
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++)
        if (failed[k]) {
            *err = errs[k];
            rc = -1;
        }
    free(base.mem);
    free(errs);
    free(failed);
    return rc;
}
