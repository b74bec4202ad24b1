/* train.c -- the SFT task kinds: init, grad and apply.
 *
 * Every task reads what it needs from the store (the run's clip list, its
 * vocabulary, the checkpoint it starts from) and writes what it makes back
 * there; the coordinator only sees paths, checksums and a few numbers. */
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "media/features.h"
#include "ml/batch.h"
#include "ml/ckpt.h"
#include "ml/model.h"
#include "ml/optim.h"
#include "ml/pool.h"
#include "ml/target.h"
#include "ml/vocab.h"
#include "spec/runconfig.h"
#include "worker/runfiles.h"
#include "worker/tasks.h"

/* ---- init ---- */

static vocab *build_vocab(const run_inputs *in, migr_err *err)
{
    static const char *keys[] = {"vis", "aud", "txt", "think"};
    vocab_builder *b = vocab_builder_new();
    size_t i;
    json_t *clip;
    vocab *v = NULL;

    if (!b) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    json_array_foreach(json_object_get(in->clips, "train"), i, clip) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (runfiles_ann(clip, keys[k]) && vocab_builder_add_text(b, runfiles_ann(clip, keys[k]), err) < 0)
                goto end;
        const char *tag;
        json_t *drifted;
        json_object_foreach(json_object_get(json_object_get(clip, "annotation"), "think_first"), tag, drifted)
            if (json_is_string(drifted) && vocab_builder_add_text(b, json_string_value(drifted), err) < 0)
                goto end;
        const char *sub = json_string_value(json_object_get(clip, "subtitle"));
        if (sub && vocab_builder_add_text(b, sub, err) < 0)
            goto end;
    }
    v = vocab_builder_finish(b, in->rc.vocab.min_count, in->rc.vocab.max_size, err);
end:
    vocab_builder_free(&b);
    return v;
}

/* The model's shape: sizes from the config, media dimensions from the
 * features of the first training clip. */
static int shape_model(const store *st, const run_inputs *in, const vocab *v, model_config *mc,
                       migr_err *err)
{
    media_features f;
    if (runfiles_features(st, json_array_get(json_object_get(in->clips, "train"), 0), &f, err) < 0)
        return -1;
    featurize_config fc;
    featurize_config_default(&fc);
    *mc = (model_config){
        .vocab = vocab_size(v),
        .max_seq = in->rc.model.max_seq,
        .channels = in->rc.model.channels,
        .layers = in->rc.model.layers,
        .heads = in->rc.model.heads,
        .mlp_ratio = in->rc.model.mlp_ratio,
        .n_frames = f.n_frames,
        .frame_pixels = f.height * f.width,
        .audio_tokens = fc.max_audio_frames / in->rc.model.audio_window,
        .audio_window = in->rc.model.audio_window,
        .n_mel = f.n_mel > 0 ? f.n_mel : fc.n_mel,
    };
    media_features_free(&f);
    return model_config_check(mc, err);
}

json_t *task_init(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    vocab *v = NULL;
    model *m = NULL;
    model_config mc;
    ckpt_header h = {0};
    char vocab_path[PATH_MAX], ckpt_path[PATH_MAX], sha[STORE_SHA_HEX];
    float *zeros = NULL;
    json_t *out = NULL;

    if (runfiles_load(st, params, &in, err) < 0)
        goto end;
    if (!(v = build_vocab(&in, err)) || shape_model(st, &in, v, &mc, err) < 0 ||
        !(m = model_new(&mc, in.rc.seed, err)))
        goto end;
    if (runfiles_path(st, in.dir, "vocab.txt", vocab_path, sizeof vocab_path, err) < 0 ||
        runfiles_path(st, in.dir, "ckpt/000000.ckpt", ckpt_path, sizeof ckpt_path, err) < 0 ||
        runfiles_mkdirs_for(ckpt_path, err) < 0 || vocab_save(v, vocab_path, err) < 0 ||
        runfiles_save_config(st, &in, err) < 0)
        goto end;
    if (!(zeros = calloc(model_num_params(m), sizeof *zeros))) {
        migr_errf(err, "out of memory");
        goto end;
    }
    h.config = mc;
    vocab_hash(v, h.vocab_sha);
    h.step = 0;
    h.num_params = model_num_params(m);
    h.seed = in.rc.seed;
    if (ckpt_save(ckpt_path, &h, model_params_flat(m), zeros, zeros, sha, err) < 0)
        goto end;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/ckpt/000000.ckpt", in.dir);
    out = json_pack("{s:s, s:s, s:i, s:I}", "ckpt", rel, "sha256", sha, "vocab_size", vocab_size(v),
                    "params", (json_int_t)model_num_params(m));
end:
    free(zeros);
    model_free(&m);
    vocab_free(&v);
    runfiles_free(&in);
    return out;
}

/* ---- resume ---- */

/* Copy from/name to to/name in the store, checking the source against the
 * sha256 migrd recorded for it (so an altered or torn checkpoint is never
 * taken up); sha receives the copy's. */
static int copy_checked(const store *st, const char *from, const char *to, const char *name, const char *want,
                        char sha[STORE_SHA_HEX], migr_err *err)
{
    char src[PATH_MAX], dst[PATH_MAX];
    if (runfiles_path(st, from, name, src, sizeof src, err) < 0 ||
        runfiles_path(st, to, name, dst, sizeof dst, err) < 0 || sha256_file_hex(src, sha, err) < 0)
        return -1;
    if (want && strcmp(want, sha) != 0)
        return migr_errf(err, "%s does not match the sha256 recorded for it (%s); it cannot be resumed from", src,
                         want);
    return runfiles_mkdirs_for(dst, err) < 0 || fs_copy(src, dst, err) < 0 ? -1 : 0;
}

json_t *task_resume(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    char name[64], sha0[STORE_SHA_HEX], sha[STORE_SHA_HEX], vsha[STORE_SHA_HEX], rel0[PATH_MAX], rel[PATH_MAX];
    const char *from = json_string_value(json_object_get(params, "from_dir"));
    json_t *step_v = json_object_get(params, "step");
    json_t *out = NULL;

    if (!from || !json_is_integer(step_v) || json_integer_value(step_v) < 1) {
        migr_errf(err, "a resume task needs \"from_dir\" and a \"step\" >= 1");
        return NULL;
    }
    long long step = json_integer_value(step_v);
    if (runfiles_load(st, params, &in, err) < 0)
        return NULL;
    snprintf(name, sizeof name, "ckpt/%06lld.ckpt", step);
    if (copy_checked(st, from, in.dir, "vocab.txt", NULL, vsha, err) == 0 &&
        copy_checked(st, from, in.dir, "ckpt/000000.ckpt", json_string_value(json_object_get(params, "sha0")), sha0,
                     err) == 0 &&
        copy_checked(st, from, in.dir, name, json_string_value(json_object_get(params, "sha256")), sha, err) == 0 &&
        runfiles_save_config(st, &in, err) == 0) {
        snprintf(rel0, sizeof rel0, "%s/ckpt/000000.ckpt", in.dir);
        snprintf(rel, sizeof rel, "%s/%s", in.dir, name);
        out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "ckpt0", rel0, "sha0", sha0, "ckpt", rel, "sha256", sha,
                        "step", (json_int_t)step);
    }
    runfiles_free(&in);
    return out;
}

/* ---- grad ---- */

/* The state a grad or apply task resumes from: checkpoint, vocabulary. */
typedef struct resume {
    ckpt_header h;
    float *state;      /* (3, N): params, m, v */
    vocab *v;
} resume;

static int resume_load(const store *st, const run_inputs *in, const char *ckpt_rel, resume *r,
                       migr_err *err)
{
    char path[PATH_MAX], vpath[PATH_MAX], sha[STORE_SHA_HEX];
    memset(r, 0, sizeof *r);
    if (store_path(st, ckpt_rel, path, sizeof path, err) < 0 ||
        ckpt_load(path, &r->h, &r->state, NULL, err) < 0)
        return -1;
    if (runfiles_path(st, in->dir, "vocab.txt", vpath, sizeof vpath, err) < 0 || !(r->v = vocab_load(vpath, err)))
        return -1;
    vocab_hash(r->v, sha);
    return ckpt_match(&r->h, NULL, sha, err);
}

static void resume_free(resume *r)
{
    free(r->state);
    vocab_free(&r->v);
}

/* The block order of one clip under reasoning.order "mi". */
static int mi_order(json_t *clip, target_order *to, migr_err *err)
{
    json_t *mi = json_object_get(clip, "mi");
    double scores[MODALITY_COUNT];
    if (json_array_size(mi) != MODALITY_COUNT)
        return migr_errf(err, "a clip of the run has no modality importance");
    for (int m = 0; m < MODALITY_COUNT; m++)
        scores[m] = json_number_value(json_array_get(mi, (size_t)m));
    target_order_by_scores(scores, to);
    return 0;
}

/* Build the shard's batch: each clip's features and its explanation in the
 * run's block order (fixed, or per clip by modality importance). */
static batch *shard_batch(const store *st, const run_inputs *in, const resume *r, json_t *indices,
                          media_features *feats, int **expl, migr_err *err)
{
    int n = (int)json_array_size(indices), order[MODALITY_COUNT];
    int cap = r->h.config.max_seq + 1;
    batch_clip *clips = calloc((size_t)n, sizeof *clips);
    int fixed = runconfig_fixed_order(&in->rc, order);
    target_order to = {0};
    batch *b = NULL;

    if (!clips) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    if (fixed)
        memcpy(to.mod, order, sizeof order);
    for (int i = 0; i < n; i++) {
        json_t *clip = json_array_get(json_object_get(in->clips, "train"),
                                      (size_t)json_integer_value(json_array_get(indices, (size_t)i)));
        if (!clip) {
            migr_errf(err, "shard clip %d is not in the run's clip list", i);
            goto end;
        }
        if ((!fixed && mi_order(clip, &to, err) < 0) || runfiles_features(st, clip, &feats[i], err) < 0)
            goto end;
        target_text tt = {{runfiles_ann(clip, "vis"), runfiles_ann(clip, "aud"), runfiles_ann(clip, "txt")},
                          runfiles_think(clip, to.mod[0]),
                          emotion_parse(json_string_value(json_object_get(clip, "label")))};
        if (!(expl[i] = malloc((size_t)cap * sizeof **expl))) {
            migr_errf(err, "out of memory");
            goto end;
        }
        int len = target_build(r->v, &tt, &to, expl[i], cap, err);
        if (len < 0)
            goto end;
        clips[i] = (batch_clip){&feats[i], json_string_value(json_object_get(clip, "subtitle")), expl[i], len};
    }
    b = batch_build(&r->h.config, r->v, in->rc.model.subtitle_max, clips, n, err);
end:
    free(clips);
    return b;
}

static json_t *sft_grad(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    resume r = {0};
    model *m = NULL;
    pool *tp = NULL;
    batch *b = NULL;
    json_t *indices = json_object_get(params, "clips"), *out = NULL;
    const char *ckpt = json_string_value(json_object_get(params, "ckpt"));
    const char *grad = json_string_value(json_object_get(params, "out"));
    int n = (int)json_array_size(indices), ntokens = 0;
    media_features *feats = calloc((size_t)(n ? n : 1), sizeof *feats);
    int **expl = calloc((size_t)(n ? n : 1), sizeof *expl);
    double loss = 0;

    if (!feats || !expl || !ckpt || !grad || n == 0) {
        migr_errf(err, feats && expl ? "grad task parameters need ckpt, out and clips" : "out of memory");
        goto end;
    }
    if (runfiles_load(st, params, &in, err) < 0 || resume_load(st, &in, ckpt, &r, err) < 0 ||
        !(m = model_new(&r.h.config, r.h.seed, err)) || !(tp = pool_new(ctx->threads, err)))
        goto end;
    model_set_pool(m, tp);
    memcpy(model_params_flat(m), r.state, model_num_params(m) * sizeof(float));
    if (!(b = shard_batch(st, &in, &r, indices, feats, expl, err)) ||
        model_forward_backward(m, &b->mb, &loss, &ntokens, err) < 0)
        goto end;
    if (store_put(st, grad, model_grads_flat(m), model_num_params(m) * sizeof(float), NULL, err) < 0)
        goto end;
    out = json_pack("{s:s, s:i, s:i, s:f}", "grad", grad, "tokens", ntokens, "divisor", ntokens,
                    "loss_sum", loss);
end:
    for (int i = 0; feats && expl && i < n; i++) {
        media_features_free(&feats[i]);
        free(expl[i]);
    }
    free(feats);
    free(expl);
    batch_free(&b);
    model_free(&m);
    pool_free(&tp);
    resume_free(&r);
    runfiles_free(&in);
    return out;
}

/* A shard's gradient: of the SFT loss, or of the GRPO objective. */
json_t *task_grad(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const char *kind = json_string_value(json_object_get(json_object_get(params, "config"), "kind"));
    return kind && strcmp(kind, "grpo") == 0 ? grpo_grad(ctx, params, err) : sft_grad(ctx, params, err);
}

/* ---- apply ---- */

/* Sum the shard gradients into sum, in the order given. */
static int sum_grads(const store *st, json_t *paths, float *sum, size_t n, migr_err *err)
{
    size_t i;
    json_t *p;
    memset(sum, 0, n * sizeof *sum);
    json_array_foreach(paths, i, p) {
        uint8_t *buf;
        size_t len;
        if (store_get(st, json_string_value(p), &buf, &len, NULL, err) < 0)
            return -1;
        if (len != n * sizeof(float)) {
            free(buf);
            return migr_errf(err, "%s holds %zu bytes, expected %zu for %zu parameters",
                             json_string_value(p), len, n * sizeof(float), n);
        }
        const float *g = (const float *)buf;
        for (size_t k = 0; k < n; k++)
            sum[k] += g[k];
        free(buf);
    }
    return 0;
}

json_t *task_apply(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    resume r = {0};
    float *grad = NULL;
    json_t *out = NULL;
    const char *ckpt = json_string_value(json_object_get(params, "ckpt"));
    const char *dest = json_string_value(json_object_get(params, "out"));
    json_int_t step = json_integer_value(json_object_get(params, "step"));
    /* The summed gradients' divisor: the step's target tokens (SFT) or
     * completions (GRPO); older apply tasks carry only "tokens". */
    json_int_t tokens = json_integer_value(json_object_get(params, json_object_get(params, "divisor")
                                                                       ? "divisor" : "tokens"));
    char path[PATH_MAX], sha[STORE_SHA_HEX];

    if (!ckpt || !dest || step < 1 || tokens < 1) {
        migr_errf(err, "apply task parameters need ckpt, out, step >= 1 and a divisor >= 1");
        return NULL;
    }
    if (runfiles_load(st, params, &in, err) < 0 || resume_load(st, &in, ckpt, &r, err) < 0)
        goto end;
    size_t n = r.h.num_params;
    if (!(grad = malloc(n * sizeof *grad))) {
        migr_errf(err, "out of memory");
        goto end;
    }
    if (sum_grads(st, json_object_get(params, "grads"), grad, n, err) < 0)
        goto end;
    float scale = 1.0f / (float)tokens;
    for (size_t k = 0; k < n; k++)
        grad[k] *= scale;
    double norm = optim_grad_norm(grad, n);
    if (!isfinite(norm)) {
        migr_errf(err, "the gradient norm at step %lld is %g; the run diverged (lower train.lr or raise "
                  "train.warmup)", (long long)step, norm);
        goto end;
    }
    optim_clip(grad, n, norm, in.rc.train.grad_clip);
    double lr = optim_lr(&in.rc.train, (int)step);
    adamw_config ac = optim_adamw_config(&in.rc.train);
    optim_adamw(r.state, grad, r.state + n, r.state + 2 * n, n, (int)step, lr, &ac);
    r.h.step = step;
    if (store_path(st, dest, path, sizeof path, err) < 0 || runfiles_mkdirs_for(path, err) < 0 ||
        ckpt_save(path, &r.h, r.state, r.state + n, r.state + 2 * n, sha, err) < 0)
        goto end;
    out = json_pack("{s:s, s:s, s:f, s:f}", "ckpt", dest, "sha256", sha, "grad_norm", norm, "lr", lr);
end:
    free(grad);
    resume_free(&r);
    runfiles_free(&in);
    return out;
}
