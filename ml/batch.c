/* batch.c -- see batch.h. */
#include "ml/batch.h"

#include <stdlib.h>
#include <string.h>

#include "media/face.h"

/* Whether clip b's features and explanation fit cfg and the vocabulary. */
static int clip_check(const model_config *cfg, int V, const batch_clip *c, int b, migr_err *err)
{
    const media_features *f = c->feat;
    if (!f || (cfg->n_frames > 0 && !f->frames))
        return migr_errf(err, "clip %d of the batch has no frames", b);
    if (f->n_frames != cfg->n_frames || (long)f->height * f->width != cfg->frame_pixels)
        return migr_errf(err,
                         "clip %d of the batch has %d frames of %dx%d pixels; the model takes %d "
                         "frames of %d pixels (featurize with the model's settings)",
                         b, f->n_frames, f->height, f->width, cfg->n_frames, cfg->frame_pixels);
    if (f->n_audio < 0 || (f->n_audio > 0 && (f->n_mel != cfg->n_mel || !f->mel)))
        return migr_errf(err, "clip %d of the batch has %d mel bands; the model takes %d", b,
                         f->n_mel, cfg->n_mel);
    if (c->n_expl < 0 || (c->n_expl > 0 && !c->expl))
        return migr_errf(err, "clip %d of the batch has no explanation ids", b);
    for (int i = 0; i < c->n_expl; i++)
        if (c->expl[i] < 0 || c->expl[i] >= V)
            return migr_errf(err,
                             "clip %d of the batch: explanation token %d is id %d, outside the "
                             "vocabulary of %d",
                             b, i, c->expl[i], V);
    return 0;
}

static int config_check(const model_config *cfg, const vocab *v, int subtitle_max, int B,
                        migr_err *err)
{
    if (B < 1)
        return migr_errf(err, "a batch needs at least one clip, got %d", B);
    if (vocab_size(v) != cfg->vocab)
        return migr_errf(err, "the vocabulary has %d tokens but the model expects %d",
                         vocab_size(v), cfg->vocab);
    if (cfg->n_frames < 0 || cfg->frame_pixels < 1 || cfg->audio_tokens < 0 ||
        cfg->audio_window < 1 || cfg->n_mel < 1 || subtitle_max < 0)
        return migr_errf(err, "bad batch settings (frames %d of %d pixels, %d audio tokens of %d "
                         "x %d mel, subtitle_max %d)", cfg->n_frames, cfg->frame_pixels,
                         cfg->audio_tokens, cfg->audio_window, cfg->n_mel, subtitle_max);
    long prefix = (long)cfg->n_frames + cfg->audio_tokens + subtitle_max + 1;
    if (prefix > cfg->max_seq)
        return migr_errf(err,
                         "the prefix (%d frames + %d audio tokens + %d subtitle words + <bos>) "
                         "does not fit in max_seq %d",
                         cfg->n_frames, cfg->audio_tokens, subtitle_max, cfg->max_seq);
    return 0;
}

/* Carve the arrays out of one allocation. */
static batch *batch_alloc(const model_config *cfg, int B, int T)
{
    size_t n_frames = (size_t)B * (size_t)cfg->n_frames * (size_t)cfg->frame_pixels;
    size_t n_mel = (size_t)B * (size_t)cfg->audio_tokens * (size_t)cfg->audio_window *
                   (size_t)cfg->n_mel;
    size_t n_seq = (size_t)B * (size_t)T;
    size_t bytes = sizeof(batch) + (n_frames + n_mel) * sizeof(float) +
                   (3 * n_seq + 3 * (size_t)B) * sizeof(int);
    char *mem = calloc(1, bytes);
    if (!mem)
        return NULL;
    batch *b = (batch *)(void *)mem;
    char *p = mem + sizeof(batch);
    b->B = B;
    b->T = T;
    b->frames = (float *)(void *)p, p += n_frames * sizeof(float);
    b->mel = (float *)(void *)p, p += n_mel * sizeof(float);
    b->tokens = (int *)(void *)p, p += n_seq * sizeof(int);
    b->types = (int *)(void *)p, p += n_seq * sizeof(int);
    b->targets = (int *)(void *)p, p += n_seq * sizeof(int);
    b->bos = (int *)(void *)p, p += (size_t)B * sizeof(int);
    b->length = (int *)(void *)p, p += (size_t)B * sizeof(int);
    b->dropped = (int *)(void *)p;
    b->mb = (model_batch){B, T, b->frames, b->mel, b->tokens, b->types, b->targets};
    return b;
}

/* Fill row i of b from clip c (checked). */
static void batch_fill(batch *b, const model_config *cfg, const vocab *v, int subtitle_max,
                       const batch_clip *c, int i)
{
    const media_features *f = c->feat;
    int F = cfg->n_frames, NA = cfg->audio_tokens, T = b->T;
    size_t pix = (size_t)F * (size_t)cfg->frame_pixels;
    size_t rows = (size_t)NA * (size_t)cfg->audio_window, nm = (size_t)cfg->n_mel;
    size_t have = f->n_audio > 0 ? (size_t)f->n_audio : 0;

    if (pix) {
        float *fr = b->frames + (size_t)i * pix;
        size_t one = (size_t)cfg->frame_pixels;
        face_frames(f, fr);
        for (size_t k = one; k < pix; k++)  /* each later frame as its change from the first */
            fr[k] -= fr[k % one];
    }
    if (have > rows)
        have = rows;
    if (have)  /* the rest stays zero */
        memcpy(b->mel + (size_t)i * rows * nm, f->mel, have * nm * sizeof(float));

    int *tok = b->tokens + (size_t)i * T, *typ = b->types + (size_t)i * T;
    int *tgt = b->targets + (size_t)i * T;
    int t = 0;
    for (; t < F; t++)
        tok[t] = 0, typ[t] = 0;
    for (; t < F + NA; t++)
        tok[t] = 0, typ[t] = 1;
    int nsub = c->subtitle ? vocab_encode(v, c->subtitle, tok + t, subtitle_max) : 0;
    if (nsub > subtitle_max)
        nsub = subtitle_max;
    for (int k = 0; k < nsub; k++, t++)
        typ[t] = 2;
    b->bos[i] = t;
    tok[t] = VOCAB_BOS, typ[t++] = 3;
    int keep = c->n_expl < T - t ? c->n_expl : T - t;
    b->dropped[i] = c->n_expl - keep;
    for (int k = 0; k < keep; k++, t++)
        tok[t] = c->expl[k], typ[t] = 3;
    b->length[i] = t;
    for (; t < T; t++)
        tok[t] = VOCAB_PAD, typ[t] = 3;
    for (t = 0; t < T; t++)
        tgt[t] = -1;
    for (t = b->bos[i]; t + 1 < b->length[i]; t++, b->ntargets++)
        tgt[t] = tok[t + 1];
}

batch *batch_build(const model_config *cfg, const vocab *v, int subtitle_max,
                   const batch_clip *clips, int B, migr_err *err)
{
    if (config_check(cfg, v, subtitle_max, B, err) < 0)
        return NULL;
    int T = 0;
    for (int i = 0; i < B; i++) {
        if (clip_check(cfg, cfg->vocab, &clips[i], i, err) < 0)
            return NULL;
        int nsub = clips[i].subtitle ? vocab_encode(v, clips[i].subtitle, NULL, 0) : 0;
        long len = (long)cfg->n_frames + cfg->audio_tokens +
                   (nsub < subtitle_max ? nsub : subtitle_max) + 1 + clips[i].n_expl;
        if (len > cfg->max_seq)
            len = cfg->max_seq;
        if (len > T)
            T = (int)len;
    }
    batch *b = batch_alloc(cfg, B, T);
    if (!b) {
        migr_errf(err, "out of memory for a batch of %d sequences of %d positions", B, T);
        return NULL;
    }
    for (int i = 0; i < B; i++)
        batch_fill(b, cfg, v, subtitle_max, &clips[i], i);
    return b;
}

batch *batch_prefix(const model_config *cfg, const vocab *v, int subtitle_max,
                    const media_features *feat, const char *subtitle, migr_err *err)
{
    batch_clip c = {feat, subtitle, NULL, 0};
    return batch_build(cfg, v, subtitle_max, &c, 1, err);
}

void batch_free(batch **b)
{
    if (!b || !*b)
        return;
    free(*b);
    *b = NULL;
}
