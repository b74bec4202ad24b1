/* probe.c -- see probe.h. */
#include "ml/probe.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "media/face.h"
#include "ml/optim.h"
#include "ml/vocab.h"

/* splitmix64 stream purposes (rng_stream's third argument). */
enum {
    STREAM_INIT = 1, STREAM_ORDER, STREAM_DROPOUT, STREAM_FOLDS, STREAM_FOLD_SEED,
    STREAM_CALIBRATION, STREAM_REPEAT
};

enum { PROBE_MAX_HIDDEN = 1024, ALL_MODALITIES = (1u << MODALITY_COUNT) - 1 };
#define PROBE_MAX_BETA 4.0

static const int probe_dim[MODALITY_COUNT] = {PROBE_VIS_DIM, PROBE_AUD_DIM, PROBE_TXT_DIM};

struct probe {
    probe_config cfg;
    int trained[MODALITY_COUNT];  /* some training clip had the modality */
    double beta[ALL_MODALITIES + 1]; /* inverse temperature per modality subset */
    float *block;                 /* one allocation: normalization, then params */
    float *mean[MODALITY_COUNT];  /* (D_m) feature means over the training clips */
    float *inv_sd[MODALITY_COUNT];/* (D_m) 1 / sqrt(var + PROBE_VAR_EPS) */
    float *params;                /* n_params: the tensors below, in this order */
    size_t n_params;
    float *w[MODALITY_COUNT];     /* (H, D_m) encoder weights */
    float *b[MODALITY_COUNT];     /* (H) encoder biases */
    float *wo;                    /* (K, H) output weights */
    float *bo;                    /* (K) output biases */
};

void probe_config_default(probe_config *cfg)
{
    *cfg = (probe_config){.n_labels = EMOTION_COUNT, .hidden = 32, .epochs = 20, .batch = 32,
                          .lr = 3e-3, .weight_decay = 0.05, .p_keep = 0.5,
                          .calibration = 0.2, .seed = 1};
}

/* ---- features ------------------------------------------------------------ */

/* [lo, hi) of cell i of `cells` over `len` items: never empty. */
static void cell_range(int i, int cells, int len, int *lo, int *hi)
{
    *lo = (int)((long)i * len / cells);
    *hi = (int)((long)(i + 1) * len / cells);
    if (*hi <= *lo)
        *hi = *lo + 1;
}

static void visual_features(const media_features *f, float *vis)
{
    enum { S = PROBE_VIS_SAMPLES };
    const int G = PROBE_VIS_GRID, F = f->n_frames, half = F / 2;
    const size_t plane = (size_t)f->height * f->width;
    const face_window win = face_find(f);
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            double sum = 0, motion = 0, early = 0, late = 0;
            for (int s = 0; s < S * S; s++) {
                double x = win.x0 + (j + (s % S + 0.5) / S) * win.width / G;
                double y = win.y0 + (i + (s / S + 0.5) / S) * win.height / G;
                double prev = 0;
                for (int t = 0; t < F; t++) {
                    double v = face_sample(f->frames + t * plane, f->height, f->width, x, y);
                    sum += v;
                    early += t < half ? v : 0;
                    late += t >= F - half ? v : 0;
                    motion += t > 0 ? fabs(v - prev) : 0;
                    prev = v;
                }
            }
            float *cell = vis + i * G + j;
            cell[0] = (float)(sum / (S * S * F));
            cell[G * G] = F > 1 ? (float)(motion / (S * S * (F - 1))) : 0.0f;
            cell[2 * G * G] = half > 0 ? (float)((late - early) / (S * S * half)) : 0.0f;
        }
}

/* The mean of band bin k of log-mel frame t. */
static double mel_bin(const media_features *f, int t, int k)
{
    int lo, hi;
    cell_range(k, PROBE_AUD_BANDS, f->n_mel, &lo, &hi);
    const float *row = f->mel + (size_t)t * f->n_mel;
    double s = 0;
    for (int b = lo; b < hi; b++)
        s += row[b];
    return s / (hi - lo);
}

static void audio_features(const media_features *f, float *aud)
{
    const int T = f->n_audio, NB = PROBE_AUD_BANDS, half = T / 2;
    for (int k = 0; k < NB; k++) {
        double sum = 0, sq = 0, delta = 0, early = 0, late = 0, prev = 0;
        for (int t = 0; t < T; t++) {
            double x = mel_bin(f, t, k);
            sum += x;
            sq += x * x;
            if (t > 0)
                delta += fabs(x - prev);
            if (t < half)
                early += x;
            if (t >= T - half)
                late += x;
            prev = x;
        }
        double mean = sum / T, var = sq / T - mean * mean;
        aud[k] = (float)mean;
        aud[NB + k] = (float)sqrt(var > 0 ? var : 0);
        aud[2 * NB + k] = T > 1 ? (float)(delta / (T - 1)) : 0.0f;
        aud[3 * NB + k] = half > 0 ? (float)((late - early) / half) : 0.0f;
    }
    double esum = 0, esq = 0;
    for (int t = 0; t < T; t++) {
        const float *row = f->mel + (size_t)t * f->n_mel;
        double top = row[0], s = 0;
        for (int b = 1; b < f->n_mel; b++)
            top = row[b] > top ? row[b] : top;
        for (int b = 0; b < f->n_mel; b++)
            s += exp(row[b] - top);
        double e = top + log(s);
        esum += e;
        esq += e * e;
    }
    double emean = esum / T, evar = esq / T - emean * emean;
    aud[4 * NB] = (float)emean;
    aud[4 * NB + 1] = (float)sqrt(evar > 0 ? evar : 0);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Returns 1 when the subtitle has at least one token. */
static int text_features(const char *subtitle, float *txt)
{
    char word[VOCAB_MAX_WORD + 1];
    int tokens = 0;
    const char *p = subtitle;
    while (p && vocab_next_token(&p, word) > 0) {
        txt[fnv1a(word) % PROBE_TXT_DIM] += 1.0f;
        tokens++;
    }
    if (tokens == 0)
        return 0;
    double sq = 0;
    for (int i = 0; i < PROBE_TXT_DIM; i++)
        sq += (double)txt[i] * txt[i];
    float scale = (float)(1.0 / sqrt(sq));
    for (int i = 0; i < PROBE_TXT_DIM; i++)
        txt[i] *= scale;
    return 1;
}

void probe_features(const media_features *f, const char *subtitle, probe_input *out)
{
    memset(out, 0, sizeof *out);
    if (f && f->n_frames > 0 && f->frames && f->height > 0 && f->width > 0) {
        visual_features(f, out->vis);
        out->present[MOD_VISUAL] = 1;
    }
    if (f && f->has_audio && f->n_audio > 0 && f->mel && f->n_mel > 0) {
        audio_features(f, out->aud);
        out->present[MOD_AUDIO] = 1;
    }
    out->present[MOD_TEXT] = (unsigned char)text_features(subtitle, out->txt);
}

/* ---- the model ----------------------------------------------------------- */

static const float *input_vec(const probe_input *in, int m)
{
    return m == MOD_VISUAL ? in->vis : m == MOD_AUDIO ? in->aud : in->txt;
}

static int config_check(const probe_config *c, migr_err *err)
{
    if (c->n_labels < 2 || c->n_labels > PROBE_MAX_LABELS)
        return migr_errf(err, "probe: n_labels %d is out of range (2..%d)", c->n_labels,
                         PROBE_MAX_LABELS);
    if (c->hidden < 1 || c->hidden > PROBE_MAX_HIDDEN)
        return migr_errf(err, "probe: hidden %d is out of range (1..%d)", c->hidden,
                         PROBE_MAX_HIDDEN);
    if (c->epochs < 1 || c->batch < 1)
        return migr_errf(err, "probe: epochs (%d) and batch (%d) must be at least 1", c->epochs,
                         c->batch);
    if (!(c->lr > 0 && isfinite(c->lr)) || !(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return migr_errf(err, "probe: lr (%g) must be > 0 and weight_decay (%g) >= 0", c->lr,
                         c->weight_decay);
    if (!(c->p_keep > 0 && c->p_keep <= 1))
        return migr_errf(err, "probe: p_keep %g is not in (0, 1]", c->p_keep);
    if (!(c->calibration >= 0 && c->calibration < 1))
        return migr_errf(err, "probe: calibration %g is not in [0, 1)", c->calibration);
    return 0;
}

void probe_free(probe **p)
{
    if (!p || !*p)
        return;
    free((*p)->block);
    free(*p);
    *p = NULL;
}

/* A probe with its arrays carved out of one block, weights initialized
 * (uniform in +-1/sqrt(fan_in), biases 0), normalization unset. */
static probe *probe_new(const probe_config *cfg)
{
    const int H = cfg->hidden, K = cfg->n_labels;
    size_t norm = 0, n_params = (size_t)K * H + K;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        norm += 2 * (size_t)probe_dim[m];
        n_params += (size_t)H * probe_dim[m] + H;
    }
    probe *p = calloc(1, sizeof *p);
    float *block = calloc(norm + n_params, sizeof *block);
    if (!p || !block) {
        free(p);
        free(block);
        return NULL;
    }
    p->cfg = *cfg;
    p->block = block;
    for (unsigned mask = 0; mask <= ALL_MODALITIES; mask++)
        p->beta[mask] = 1.0;
    float *at = block;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        p->mean[m] = at, at += probe_dim[m];
        p->inv_sd[m] = at, at += probe_dim[m];
    }
    p->params = at;
    p->n_params = n_params;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        p->w[m] = at, at += (size_t)H * probe_dim[m];
        p->b[m] = at, at += H;
    }
    p->wo = at, at += (size_t)K * H;
    p->bo = at;

    uint64_t rng = rng_stream(cfg->seed, 0, STREAM_INIT);
    for (int m = 0; m < MODALITY_COUNT; m++) {
        double s = 1.0 / sqrt(probe_dim[m]);
        for (size_t i = 0; i < (size_t)H * probe_dim[m]; i++)
            p->w[m][i] = (float)rng_range(&rng, -s, s);
    }
    double s = 1.0 / sqrt(H);
    for (size_t i = 0; i < (size_t)K * H; i++)
        p->wo[i] = (float)rng_range(&rng, -s, s);
    return p;
}

/* Per-feature mean and inverse deviation of each modality over the clips
 * order[0..n) that have it (two passes, in double, clips in order). */
static void fit_normalization(probe *p, const probe_input *inputs, const int *order, int n)
{
    enum { MAX_DIM = PROBE_VIS_DIM > PROBE_TXT_DIM ? PROBE_VIS_DIM : PROBE_TXT_DIM };
    double mean[MAX_DIM], var[MAX_DIM];
    for (int m = 0; m < MODALITY_COUNT; m++) {
        const int D = probe_dim[m];
        int count = 0;
        memset(mean, 0, sizeof mean);
        memset(var, 0, sizeof var);
        for (int i = 0; i < n; i++) {
            const probe_input *in = &inputs[order[i]];
            if (!in->present[m])
                continue;
            const float *x = input_vec(in, m);
            for (int d = 0; d < D; d++)
                mean[d] += x[d];
            count++;
        }
        for (int d = 0; d < D && count > 0; d++)
            mean[d] /= count;
        for (int i = 0; i < n; i++) {
            const probe_input *in = &inputs[order[i]];
            if (!in->present[m])
                continue;
            const float *x = input_vec(in, m);
            for (int d = 0; d < D; d++)
                var[d] += (x[d] - mean[d]) * (x[d] - mean[d]);
        }
        for (int d = 0; d < D; d++) {
            p->mean[m][d] = (float)mean[d];
            p->inv_sd[m][d] = (float)(1.0 / sqrt((count ? var[d] / count : 0) + PROBE_VAR_EPS));
        }
        p->trained[m] = count > 0;
    }
}

/* z = the normalized, clamped features of modality m of a clip (D_m). */
static void normalize(const probe *p, const probe_input *in, int m, float *z)
{
    const float *x = input_vec(in, m), *mean = p->mean[m], *inv = p->inv_sd[m];
    const float clip = (float)PROBE_Z_CLIP;
    for (int d = 0; d < probe_dim[m]; d++) {
        float v = (x[d] - mean[d]) * inv[d];
        z[d] = v > clip ? clip : v < -clip ? -clip : v;
    }
}

/* The modalities of a clip the probe can use: present and seen in training. */
static unsigned usable(const probe *p, const probe_input *in)
{
    unsigned mask = 0;
    for (int m = 0; m < MODALITY_COUNT; m++)
        if (in->present[m] && p->trained[m])
            mask |= 1u << m;
    return mask;
}

/* Modality dropout: keep each usable modality with p_keep, redrawn until
 * at least one is kept.  usable != 0. */
static unsigned draw_kept(unsigned usable_mask, double p_keep, uint64_t *rng)
{
    assert(usable_mask != 0);
    for (;;) {
        unsigned kept = 0;
        for (int m = 0; m < MODALITY_COUNT; m++)
            if ((usable_mask >> m & 1u) && rng_uniform(rng) < p_keep)
                kept |= 1u << m;
        if (kept)
            return kept;
    }
}

/* The logits (K) of a clip with the modalities in mask (usable ones, not 0). */
static void probe_logits(const probe *p, const probe_input *in, unsigned mask, double *logits)
{
    const int H = p->cfg.hidden, K = p->cfg.n_labels;
    double h[PROBE_MAX_HIDDEN] = {0};
    float z[PROBE_VIS_DIM > PROBE_TXT_DIM ? PROBE_VIS_DIM : PROBE_TXT_DIM];
    for (int m = 0; m < MODALITY_COUNT; m++) {
        if (!(mask >> m & 1u))
            continue;
        const int D = probe_dim[m];
        normalize(p, in, m, z);
        for (int j = 0; j < H; j++) {
            const float *wj = p->w[m] + (size_t)j * D;
            double s = p->b[m][j];
            for (int d = 0; d < D; d++)
                s += (double)wj[d] * z[d];
            h[j] += tanh(s);
        }
    }
    for (int k = 0; k < K; k++) {
        double s = p->bo[k];
        for (int j = 0; j < H; j++)
            s += (double)p->wo[(size_t)k * H + j] * h[j];
        logits[k] = s;
    }
}

/* ---- training ------------------------------------------------------------ */

/* Scratch for training, one block. */
typedef struct probe_work {
    float *block;
    float *grad, *adam_m, *adam_v;  /* (n_params) each */
    float *z[MODALITY_COUNT];       /* (B, D_m) normalized inputs, 0 rows where dropped */
    float *act[MODALITY_COUNT];     /* (B, H) tanh outputs */
    float *keep;                    /* (B, MODALITY_COUNT) 1 kept, 0 dropped */
    float *h;                       /* (B, H) summed encodings */
    float *dh;                      /* (B, H) */
    float *dpre;                    /* (B, H) */
    float *dlogits;                 /* (B, K) softmax, then its gradient */
} probe_work;

static int work_new(probe_work *w, const probe *p, int batch)
{
    const size_t B = (size_t)batch, H = (size_t)p->cfg.hidden, K = (size_t)p->cfg.n_labels;
    size_t total = 3 * p->n_params + B * MODALITY_COUNT + 3 * B * H + B * K;
    for (int m = 0; m < MODALITY_COUNT; m++)
        total += B * (size_t)probe_dim[m] + B * H;
    float *at = w->block = calloc(total, sizeof *at);
    if (!at)
        return -1;
    w->grad = at, at += p->n_params;
    w->adam_m = at, at += p->n_params;
    w->adam_v = at, at += p->n_params;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        w->z[m] = at, at += B * probe_dim[m];
        w->act[m] = at, at += B * H;
    }
    w->keep = at, at += B * MODALITY_COUNT;
    w->h = at, at += B * H;
    w->dh = at, at += B * H;
    w->dpre = at, at += B * H;
    w->dlogits = at;
    return 0;
}

/* The gradient of the parameter tensor that starts at param. */
static float *grad_of(const probe *p, probe_work *w, const float *param)
{
    return w->grad + (param - p->params);
}

/* One minibatch: forward, mean cross-entropy gradient into w->grad (which
 * it overwrites); returns the mean cross-entropy.  ids (bsz clip indices),
 * kept (bsz masks of usable modalities). */
static double batch_gradient(const probe *p, probe_work *w, const probe_input *inputs,
                             const int *labels, const int *ids, const unsigned *kept, int bsz)
{
    const int H = p->cfg.hidden, K = p->cfg.n_labels;
    memset(w->grad, 0, p->n_params * sizeof *w->grad);
    memset(w->h, 0, (size_t)bsz * H * sizeof *w->h);

    /* Encoders: act_m = tanh(z_m W_m^T + b_m), h = sum of the kept ones. */
    int any[MODALITY_COUNT] = {0};
    for (int m = 0; m < MODALITY_COUNT; m++) {
        const int D = probe_dim[m];
        for (int r = 0; r < bsz; r++) {
            int k = (int)(kept[r] >> m & 1u);
            w->keep[r * MODALITY_COUNT + m] = (float)k;
            any[m] |= k;
            if (k)
                normalize(p, &inputs[ids[r]], m, w->z[m] + (size_t)r * D);
            else
                memset(w->z[m] + (size_t)r * D, 0, (size_t)D * sizeof(float));
        }
        if (!any[m])
            continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bsz, H, D, 1.0f, w->z[m], D,
                    p->w[m], D, 0.0f, w->act[m], H);
        for (int r = 0; r < bsz; r++) {
            float *a = w->act[m] + (size_t)r * H, *hr = w->h + (size_t)r * H;
            float k = w->keep[r * MODALITY_COUNT + m];
            for (int j = 0; j < H; j++) {
                a[j] = tanhf(a[j] + p->b[m][j]);
                hr[j] += k * a[j];
            }
        }
    }

    /* Output layer, softmax and the cross-entropy gradient (p - y) / bsz. */
    float *gwo = grad_of(p, w, p->wo), *gbo = grad_of(p, w, p->bo);
    double loss = 0;
    for (int r = 0; r < bsz; r++) {
        const float *hr = w->h + (size_t)r * H;
        float *dl = w->dlogits + (size_t)r * K;
        float top = -INFINITY;
        for (int k = 0; k < K; k++) {
            float s = p->bo[k];
            for (int j = 0; j < H; j++)
                s += p->wo[(size_t)k * H + j] * hr[j];
            dl[k] = s;
            top = s > top ? s : top;
        }
        float sum = 0;
        for (int k = 0; k < K; k++)
            sum += dl[k] = expf(dl[k] - top);
        loss -= log((double)dl[labels[ids[r]]] / sum);
        for (int k = 0; k < K; k++)
            dl[k] = (dl[k] / sum - (k == labels[ids[r]] ? 1.0f : 0.0f)) / (float)bsz;
        float *dhr = w->dh + (size_t)r * H;
        memset(dhr, 0, (size_t)H * sizeof *dhr);
        for (int k = 0; k < K; k++) {
            const float *wok = p->wo + (size_t)k * H;
            float *gwok = gwo + (size_t)k * H;
            gbo[k] += dl[k];
            for (int j = 0; j < H; j++) {
                gwok[j] += dl[k] * hr[j];
                dhr[j] += dl[k] * wok[j];
            }
        }
    }

    /* Encoders backward: dpre = keep * dh * (1 - act^2); dW_m = dpre^T z_m. */
    for (int m = 0; m < MODALITY_COUNT; m++) {
        if (!any[m])
            continue;
        const int D = probe_dim[m];
        float *gb = grad_of(p, w, p->b[m]);
        for (int r = 0; r < bsz; r++) {
            const float *a = w->act[m] + (size_t)r * H, *dhr = w->dh + (size_t)r * H;
            float *dp = w->dpre + (size_t)r * H, k = w->keep[r * MODALITY_COUNT + m];
            for (int j = 0; j < H; j++) {
                dp[j] = k * dhr[j] * (1.0f - a[j] * a[j]);
                gb[j] += dp[j];
            }
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, bsz, 1.0f, w->dpre, H,
                    w->z[m], D, 0.0f, grad_of(p, w, p->w[m]), D);
    }
    return loss / bsz;
}

static void shuffle(int *a, int n, uint64_t *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(rng, i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Fixed-epoch AdamW with modality dropout over the clips train[0..n). */
static int train_epochs(probe *p, const probe_input *inputs, const int *labels, int *train,
                        int n)
{
    const probe_config *cfg = &p->cfg;
    probe_work w = {0};
    int *ids = malloc((size_t)cfg->batch * sizeof *ids);
    unsigned *kept = malloc((size_t)cfg->batch * sizeof *kept);
    if (!ids || !kept || work_new(&w, p, cfg->batch) < 0) {
        free(ids);
        free(kept);
        return -1;
    }
    adamw_config ac = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                       .weight_decay = cfg->weight_decay};
    uint64_t drop_rng = rng_stream(cfg->seed, 0, STREAM_DROPOUT);
    int step = 0;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        uint64_t order_rng = rng_stream(cfg->seed, epoch, STREAM_ORDER);
        shuffle(train, n, &order_rng);
        int i = 0;
        while (i < n) {
            int bsz = 0;
            for (; i < n && bsz < cfg->batch; i++) {
                unsigned use = usable(p, &inputs[train[i]]);
                if (!use)
                    continue;  /* a clip with no modality teaches nothing */
                ids[bsz] = train[i];
                kept[bsz++] = draw_kept(use, cfg->p_keep, &drop_rng);
            }
            if (bsz == 0)
                break;
            (void)batch_gradient(p, &w, inputs, labels, ids, kept, bsz);
            optim_adamw(p->params, w.grad, w.adam_m, w.adam_v, p->n_params, ++step, cfg->lr,
                        &ac);
        }
    }
    free(w.block);
    free(ids);
    free(kept);
    return 0;
}

/* Mean negative log-likelihood of the labels under softmax(beta * logits),
 * logits (n, K). */
static double tempered_nll(const double *logits, const int *y, int n, int K, double beta)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const double *l = logits + (size_t)i * K;
        double top = l[0];
        for (int k = 1; k < K; k++)
            top = l[k] > top ? l[k] : top;
        double sum = 0;
        for (int k = 0; k < K; k++)
            sum += exp(beta * (l[k] - top));
        total += log(sum) - beta * (l[y[i]] - top);
    }
    return total / n;
}

/* The inverse temperature in [0, PROBE_MAX_BETA] that minimizes the NLL
 * (convex in beta), by golden-section search. */
static double fit_beta(const double *logits, const int *y, int n, int K)
{
    const double g = 0.6180339887498949;
    double a = 0, b = PROBE_MAX_BETA;
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = tempered_nll(logits, y, n, K, c), fd = tempered_nll(logits, y, n, K, d);
    for (int it = 0; it < 60; it++) {
        if (fc <= fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = tempered_nll(logits, y, n, K, c);
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = tempered_nll(logits, y, n, K, d);
        }
    }
    return 0.5 * (a + b);
}

/* Per modality subset, the inverse temperature that calibrates the probe's
 * answers on the held-out clips cal[0..n) that have the subset; 1 where
 * fewer than PROBE_MIN_CALIBRATION of them do. */
static int calibrate(probe *p, const probe_input *inputs, const int *labels, const int *cal,
                     int n)
{
    const int K = p->cfg.n_labels;
    double *logits = malloc((size_t)n * K * sizeof *logits);
    int *y = malloc((size_t)n * sizeof *y);
    if (!logits || !y) {
        free(logits);
        free(y);
        return -1;
    }
    for (unsigned mask = 1; mask <= ALL_MODALITIES; mask++) {
        int count = 0;
        for (int i = 0; i < n; i++) {
            const probe_input *in = &inputs[cal[i]];
            if ((usable(p, in) & mask) != mask)
                continue;
            probe_logits(p, in, mask, logits + (size_t)count * K);
            y[count++] = labels[cal[i]];
        }
        p->beta[mask] = count >= PROBE_MIN_CALIBRATION ? fit_beta(logits, y, count, K) : 1.0;
    }
    free(logits);
    free(y);
    return 0;
}

probe *probe_train(const probe_config *cfg, const probe_input *inputs, const int *labels,
                   const int *subset, int n, migr_err *err)
{
    assert(cfg && inputs && labels);
    if (config_check(cfg, err) < 0)
        return NULL;
    if (n < 1) {
        migr_errf(err, "probe: no training clips");
        return NULL;
    }
    int *order = malloc((size_t)n * sizeof *order);
    probe *p = probe_new(cfg);
    if (!order || !p)
        goto nomem;
    for (int i = 0; i < n; i++) {
        int c = subset ? subset[i] : i;
        assert(c >= 0);
        if (labels[c] < 0 || labels[c] >= cfg->n_labels) {
            migr_errf(err, "probe: clip %d has label %d, outside 0..%d", c, labels[c],
                      cfg->n_labels - 1);
            goto fail;
        }
        order[i] = c;
    }

    /* The calibration clips: the first n_cal of a shuffle, never trained on. */
    int n_cal = (int)(n * cfg->calibration + 0.5);
    if (n_cal < PROBE_MIN_CALIBRATION || n - n_cal < 1)
        n_cal = 0;
    if (n_cal > 0) {
        uint64_t rng = rng_stream(cfg->seed, 0, STREAM_CALIBRATION);
        shuffle(order, n, &rng);
    }
    fit_normalization(p, inputs, order + n_cal, n - n_cal);
    if (train_epochs(p, inputs, labels, order + n_cal, n - n_cal) < 0 ||
        (n_cal > 0 && calibrate(p, inputs, labels, order, n_cal) < 0))
        goto nomem;
    free(order);
    return p;

nomem:
    migr_errf(err, "probe: out of memory training on %d clips", n);
fail:
    free(order);
    probe_free(&p);
    return NULL;
}

float *probe_params(probe *p, size_t *n)
{
    *n = p->n_params;
    return p->params;
}

int probe_batch_gradient(const probe *p, const probe_input *inputs, const int *labels,
                         const int *ids, const unsigned *kept, int n, float *grad, double *loss,
                         migr_err *err)
{
    assert(n >= 1);
    for (int r = 0; r < n; r++) {
        if ((kept[r] & ~usable(p, &inputs[ids[r]])) || !kept[r])
            return migr_errf(err, "probe: example %d keeps modalities (mask %u) it cannot use",
                             r, kept[r]);
        if (labels[ids[r]] < 0 || labels[ids[r]] >= p->cfg.n_labels)
            return migr_errf(err, "probe: clip %d has label %d, outside 0..%d", ids[r],
                             labels[ids[r]], p->cfg.n_labels - 1);
    }
    probe_work w = {0};
    if (work_new(&w, p, n) < 0)
        return migr_errf(err, "probe: out of memory for a batch of %d", n);
    *loss = batch_gradient(p, &w, inputs, labels, ids, kept, n);
    memcpy(grad, w.grad, p->n_params * sizeof *grad);
    free(w.block);
    return 0;
}

/* ---- scoring ------------------------------------------------------------- */

void probe_probs(const probe *p, const probe_input *in, unsigned mask, double *probs)
{
    const int K = p->cfg.n_labels;
    mask &= usable(p, in) & ALL_MODALITIES;
    if (!mask) {
        for (int k = 0; k < K; k++)
            probs[k] = 1.0 / K;
        return;
    }
    probe_logits(p, in, mask, probs);
    double beta = p->beta[mask], top = -INFINITY, sum = 0;
    for (int k = 0; k < K; k++)
        top = probs[k] > top ? probs[k] : top;
    for (int k = 0; k < K; k++)
        sum += probs[k] = exp(beta * (probs[k] - top));
    for (int k = 0; k < K; k++)
        probs[k] /= sum;
}

void probe_mi(const probe *p, const probe_input *in, double mi[MODALITY_COUNT], int label)
{
    assert(label >= 0 && label < p->cfg.n_labels);
    double probs[PROBE_MAX_LABELS];
    for (int m = 0; m < MODALITY_COUNT; m++) {
        probe_probs(p, in, 1u << m, probs);
        mi[m] = probs[label];
    }
}

int probe_dominant(const double mi[MODALITY_COUNT], double tau)
{
    if (!(tau > 0))
        tau = 0;
    int best = 0;
    for (int m = 1; m < MODALITY_COUNT; m++)
        if (mi[m] > mi[best])
            best = m;
    double runner = -INFINITY;
    for (int m = 0; m < MODALITY_COUNT; m++)
        if (m != best && mi[m] > runner)
            runner = mi[m];
    return mi[best] - runner > tau ? best : MOD_MULTIMODAL;
}

/* ---- cross-fitting ------------------------------------------------------- */

int probe_assign_folds(const int *labels, int n, int folds, uint64_t seed, int *fold_of,
                       migr_err *err)
{
    if (folds < 2 || folds > n)
        return migr_errf(err, "probe: cannot split %d clips into %d folds (want 2 <= folds "
                         "<= clips)", n, folds);
    int label_max = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0)
            return migr_errf(err, "probe: clip %d has negative label %d", i, labels[i]);
        label_max = labels[i] > label_max ? labels[i] : label_max;
    }
    int *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return migr_errf(err, "probe: out of memory assigning %d clips to folds", n);
    for (int i = 0; i < n; i++)
        order[i] = i;
    uint64_t rng = rng_stream(seed, 0, STREAM_FOLDS);
    shuffle(order, n, &rng);
    int dealt = 0;
    for (int l = 0; l <= label_max; l++)
        for (int i = 0; i < n; i++)
            if (labels[order[i]] == l)
                fold_of[order[i]] = dealt++ % folds;
    free(order);
    return 0;
}

uint64_t probe_fold_seed(uint64_t seed, int fold)
{
    return rng_stream(seed, fold, STREAM_FOLD_SEED);
}

int probe_cross_fit(const probe_config *cfg, const probe_input *inputs, const int *labels, int n,
                    int folds, double (*mi_out)[MODALITY_COUNT], migr_err *err)
{
    assert(cfg && inputs && labels && mi_out);
    if (config_check(cfg, err) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= cfg->n_labels)
            return migr_errf(err, "probe: clip %d has label %d, outside 0..%d", i, labels[i],
                             cfg->n_labels - 1);
    int *fold_of = malloc((size_t)n * sizeof *fold_of);
    int *subset = malloc((size_t)n * sizeof *subset);
    if (!fold_of || !subset) {
        free(fold_of);
        free(subset);
        return migr_errf(err, "probe: out of memory cross-fitting %d clips", n);
    }
    int rc = probe_assign_folds(labels, n, folds, cfg->seed, fold_of, err);
    for (int f = 0; f < folds && rc == 0; f++) {
        int count = 0;
        for (int i = 0; i < n; i++)
            if (fold_of[i] != f)
                subset[count++] = i;
        probe_config fc = *cfg;
        fc.seed = probe_fold_seed(cfg->seed, f);
        probe *p = probe_train(&fc, inputs, labels, subset, count, err);
        if (!p) {
            rc = migr_err_wrap(err, "cross-fitting fold %d of %d", f + 1, folds);
            break;
        }
        for (int i = 0; i < n; i++)
            if (fold_of[i] == f)
                probe_mi(p, &inputs[i], mi_out[i], labels[i]);
        probe_free(&p);
    }
    free(fold_of);
    free(subset);
    return rc;
}

uint64_t probe_repeat_seed(uint64_t seed, int repeat)
{
    return rng_stream(seed, repeat, STREAM_REPEAT);
}

int probe_cross_fit_repeated(const probe_config *cfg, const probe_input *inputs, const int *labels,
                             int n, int folds, int repeats, double (*mi_out)[MODALITY_COUNT],
                             migr_err *err)
{
    assert(cfg && mi_out);
    if (repeats < 1 || repeats > MI_MAX_REPEATS)
        return migr_errf(err, "probe: %d cross-fitting repeats, want 1..%d", repeats, MI_MAX_REPEATS);
    double (*one)[MODALITY_COUNT] = malloc((size_t)(n > 0 ? n : 1) * sizeof *one);
    if (!one)
        return migr_errf(err, "probe: out of memory cross-fitting %d clips", n);
    for (int i = 0; i < n; i++)
        for (int m = 0; m < MODALITY_COUNT; m++)
            mi_out[i][m] = 0;
    int rc = 0;
    for (int r = 0; r < repeats && rc == 0; r++) {
        probe_config rcfg = *cfg;
        rcfg.seed = probe_repeat_seed(cfg->seed, r);
        if (probe_cross_fit(&rcfg, inputs, labels, n, folds, one, err) < 0) {
            rc = migr_err_wrap(err, "cross-fitting repeat %d of %d", r + 1, repeats);
            break;
        }
        for (int i = 0; i < n; i++)
            for (int m = 0; m < MODALITY_COUNT; m++)
                mi_out[i][m] += one[i][m];
    }
    for (int i = 0; i < n && rc == 0; i++)
        for (int m = 0; m < MODALITY_COUNT; m++)
            mi_out[i][m] /= repeats;
    free(one);
    return rc;
}
