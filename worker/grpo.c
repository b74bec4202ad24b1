/* grpo.c -- the GRPO task kinds (stage 2 of MIGR).
 *
 *   grpo_init  checkpoint 0 = the SFT checkpoint's weights with fresh AdamW
 *              moments, plus its vocabulary; it stays as the KL reference
 *   rollout    for each clip of the shard, G completions sampled from
 *              checkpoint s-1, and their log-probs under it (the "old" ones)
 *   reward     the run's weighted rewards of each completion and the group
 *              advantages A = (r - mean) / (std + 1e-4)
 *   grad       the gradient of the clipped surrogate + beta * KL (k3) at
 *              checkpoint s-1, summed over the shard's sequence means
 *
 * Rollouts and rewards travel through the store as JSON objects. */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/rng.h"
#include "ml/batch.h"
#include "ml/grpo.h"
#include "ml/policy.h"
#include "ml/pool.h"
#include "ml/reward.h"
#include "ml/sample.h"
#include "ml/target.h"
#include "ml/textclf.h"
#include "worker/runfiles.h"
#include "worker/tasks.h"

enum { RNG_ROLLOUT = 7 };

/* ---- helpers ---- */

static json_t *store_json(const store *st, const char *rel, migr_err *err)
{
    uint8_t *text;
    size_t len;
    json_error_t jerr;
    if (!rel) {
        migr_errf(err, "a task parameter naming a store object is missing");
        return NULL;
    }
    if (store_get(st, rel, &text, &len, NULL, err) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)text, len, 0, &jerr);
    free(text);
    if (!j)
        migr_errf(err, "%s is not JSON: %s", rel, jerr.text);
    return j;
}

static int put_json(const store *st, const char *rel, json_t *j, migr_err *err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    int rc = text ? store_put(st, rel, text, strlen(text), NULL, err) : migr_errf(err, "out of memory");
    free(text);
    return rc;
}

static int load_policy(const store *st, const char *rel, policy *p, migr_err *err)
{
    char path[PATH_MAX];
    if (!rel)
        return migr_errf(err, "a task parameter naming a checkpoint is missing");
    return store_path(st, rel, path, sizeof path, err) < 0 ? -1 : policy_load(path, p, err);
}

static json_t *train_clip(const run_inputs *in, json_t *idx)
{
    return json_array_get(json_object_get(in->clips, "train"), (size_t)json_integer_value(idx));
}

/* ---- grpo_init ---- */

json_t *task_grpo_init(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    ckpt_header h;
    float *state = NULL, *zeros = NULL;
    const char *init = json_string_value(json_object_get(params, "init"));
    char dst[PATH_MAX], from[PATH_MAX], to[PATH_MAX], copy[PATH_MAX], sha[STORE_SHA_HEX], rel[PATH_MAX];
    json_t *out = NULL;

    if (runfiles_load(st, params, &in, err) < 0)
        goto end;
    if (!init) {
        migr_errf(err, "grpo_init needs the path of the starting checkpoint");
        goto end;
    }
    if (ckpt_load(init, &h, &state, NULL, err) < 0)
        goto end;
    if (!(zeros = calloc(h.num_params, sizeof *zeros))) {
        migr_errf(err, "out of memory");
        goto end;
    }
    snprintf(copy, sizeof copy, "%s", init);
    snprintf(from, sizeof from, "%s/vocab.txt", dirname(dirname(copy)));
    h.step = 0;
    h.seed = in.rc.seed;
    snprintf(rel, sizeof rel, "%s/ckpt/000000.ckpt", in.dir);
    if (runfiles_path(st, in.dir, "vocab.txt", to, sizeof to, err) < 0 ||
        store_path(st, rel, dst, sizeof dst, err) < 0 || runfiles_mkdirs_for(dst, err) < 0 ||
        fs_copy(from, to, err) < 0 || runfiles_save_config(st, &in, err) < 0 ||
        ckpt_save(dst, &h, state, zeros, zeros, sha, err) < 0)
        goto end;
    out = json_pack("{s:s, s:s}", "ckpt", rel, "sha256", sha);
end:
    free(state);
    free(zeros);
    runfiles_free(&in);
    return out;
}

/* ---- rollout ---- */

/* The log-probs of each completion's tokens under the policy, concatenated
 * in completion order; *ntok receives their count. */
static float *completion_logprobs(const policy *p, const run_inputs *in, const batch_clip *clips, int n,
                                  int *ntok, migr_err *err)
{
    double loss;
    float *lp = NULL;
    batch *b = batch_build(model_cfg(p->m), p->v, in->rc.model.subtitle_max, clips, n, err);
    if (!b || model_forward(p->m, &b->mb, &loss, ntok, err) < 0)
        goto end;
    const float *losses = model_token_losses(p->m);
    if (!(lp = malloc((size_t)(*ntok ? *ntok : 1) * sizeof *lp))) {
        migr_errf(err, "out of memory");
        goto end;
    }
    for (int i = 0; i < *ntok; i++)
        lp[i] = -losses[i];
end:
    batch_free(&b);
    return lp;
}

/* G completions of one clip and their old log-probs, appended to items. */
static int rollout_clip(const store *st, const run_inputs *in, const policy *p, json_t *idx, int64_t step,
                        json_t *items, int *total, migr_err *err)
{
    const runconfig_grpo *g = &in->rc.grpo;
    json_t *clip = train_clip(in, idx);
    media_features f;
    batch *prefix = NULL;
    int G = g->group_size, rc = -1, ntok = 0;
    int **tokens = calloc((size_t)G, sizeof *tokens), *len = calloc((size_t)G, sizeof *len);
    batch_clip *bc = calloc((size_t)G, sizeof *bc);
    sample_config *sc = calloc((size_t)G, sizeof *sc);
    float *lp = NULL;

    if (!tokens || !len || !bc || !sc || !clip) {
        free(tokens);
        free(len);
        free(bc);
        free(sc);
        return migr_errf(err, clip ? "out of memory" : "a rollout clip is not in the run's list");
    }
    if (runfiles_features(st, clip, &f, err) < 0)
        goto free_arrays;
    const char *subtitle = json_string_value(json_object_get(clip, "subtitle"));
    if (!(prefix = batch_prefix(model_cfg(p->m), p->v, in->rc.model.subtitle_max, &f, subtitle, err)))
        goto end;
    for (int k = 0; k < G; k++) {
        /* Each completion's seed depends on (run seed, step, clip, k) only. */
        uint64_t rng = rng_stream(in->rc.seed ^ ((uint64_t)step << 20), (int)json_integer_value(idx), RNG_ROLLOUT);
        sc[k] = (sample_config){(float)g->temperature, g->top_k, g->max_new, VOCAB_EOS, rng + (uint64_t)k};
        if (!(tokens[k] = malloc((size_t)g->max_new * sizeof **tokens))) {
            migr_errf(err, "out of memory");
            goto end;
        }
    }
    /* the G completions side by side on the task's threads */
    if (model_generate_many(p->m, &prefix->mb, sc, G, tokens, len, err) < 0)
        goto end;
    for (int k = 0; k < G; k++)
        bc[k] = (batch_clip){&f, subtitle, tokens[k], len[k]};
    if (!(lp = completion_logprobs(p, in, bc, G, &ntok, err)))
        goto end;
    for (int k = 0, off = 0; k < G; k++) {
        json_t *t = json_array(), *o = json_array();
        for (int i = 0; i < len[k]; i++) {
            json_array_append_new(t, json_integer(tokens[k][i]));
            json_array_append_new(o, json_real(off + i < ntok ? lp[off + i] : 0));
        }
        off += len[k];
        json_array_append_new(items, json_pack("{s:O, s:i, s:o, s:o}", "clip", idx, "g", k, "tokens", t, "olp", o));
        *total += len[k];
    }
    rc = 0;
end:
    batch_free(&prefix);
    media_features_free(&f);
free_arrays:
    for (int k = 0; k < G; k++)
        free(tokens[k]);
    free(tokens);
    free(len);
    free(bc);
    free(sc);
    free(lp);
    return rc;
}

json_t *task_rollout(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    policy p = {0};
    pool *tp = NULL;
    json_t *items = json_array(), *out = NULL, *idx;
    const char *dest = json_string_value(json_object_get(params, "out"));
    int64_t step = json_integer_value(json_object_get(params, "step"));
    int total = 0;
    size_t i;

    if (runfiles_load(st, params, &in, err) < 0 ||
        load_policy(st, json_string_value(json_object_get(params, "ckpt")), &p, err) < 0 ||
        !(tp = pool_new(ctx->threads, err)))
        goto end;
    model_set_pool(p.m, tp);
    json_array_foreach(json_object_get(params, "clips"), i, idx)
        if (rollout_clip(st, &in, &p, idx, step, items, &total, err) < 0)
            goto end;
    json_t *doc = json_pack("{s:O}", "items", items);
    int rc = dest ? put_json(st, dest, doc, err) : migr_errf(err, "rollout task parameter \"out\" is missing");
    json_decref(doc);
    if (rc == 0)
        out = json_pack("{s:s, s:i, s:i}", "rollouts", dest, "n", (int)json_array_size(items), "tokens", total);
end:
    json_decref(items);
    policy_free(&p);
    pool_free(&tp);
    runfiles_free(&in);
    return out;
}

/* ---- reward ---- */

static double verifier_p(void *ctx, const char *sentence, int label)
{
    double probs[EMOTION_COUNT];
    textclf_probs(ctx, sentence, probs);
    return label >= 0 && label < EMOTION_COUNT ? probs[label] : 0;
}

static int verifier_label(void *ctx, const char *text)
{
    return textclf_predict(ctx, text);
}

/* The reward input of one completion of clip. */
static void reward_of(const vocab *v, json_t *clip, const int *ids, int n, const target_parsed *parsed,
                      textclf *verifier, reward_input *ri)
{
    json_t *ann = json_object_get(clip, "annotation");
    const char *dom = json_string_value(json_object_get(clip, "dominant"));
    reward_input_init(ri, v, ids, n, parsed, emotion_parse(json_string_value(json_object_get(clip, "label"))));
    ri->dominant = dom ? modality_parse(dom) : -1;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        json_t *cue = json_object_get(json_object_get(ann, "cues"), modality_name(m));
        const char *e = json_string_value(json_object_get(cue, "emotion"));
        ri->cue[m] = e ? emotion_parse(e) : -1;
    }
    if (verifier)
        ri->verifier = (reward_verifier){verifier, verifier_p, verifier_label};
}

/* Score every completion; rewards[i], per[i * nrewards + j]. */
static int score_items(const run_inputs *in, const vocab *v, const reward_set *set, textclf *verifier,
                       json_t *items, double *rewards, double *per, int max_new, migr_err *err)
{
    size_t i;
    json_t *item;
    int *ids = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *ids);
    if (!ids)
        return migr_errf(err, "out of memory");
    json_array_foreach(items, i, item) {
        json_t *toks = json_object_get(item, "tokens");
        int n = (int)json_array_size(toks);
        if (n > max_new) {
            free(ids);
            return migr_errf(err, "completion %zu has %d tokens, more than grpo.max_new %d", i, n, max_new);
        }
        for (int k = 0; k < n; k++)
            ids[k] = (int)json_integer_value(json_array_get(toks, (size_t)k));
        target_parsed parsed;
        reward_input ri;
        target_parse(v, ids, n, &parsed);
        reward_of(v, train_clip(in, json_object_get(item, "clip")), ids, n, &parsed, verifier, &ri);
        rewards[i] = reward_set_score(set, &ri, per + i * (size_t)set->n);
    }
    free(ids);
    return 0;
}

json_t *task_reward(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    vocab *v = NULL;
    textclf *verifier = NULL;
    json_t *ro = NULL, *out = NULL;
    double *rewards = NULL, *per = NULL, *adv = NULL;
    reward_set set;
    reward_weight list[REWARD_SET_MAX];
    char path[PATH_MAX];
    const char *dest = json_string_value(json_object_get(params, "out"));

    if (runfiles_load(st, params, &in, err) < 0 ||
        !(ro = store_json(st, json_string_value(json_object_get(params, "rollouts")), err)) ||
        runfiles_path(st, in.dir, "vocab.txt", path, sizeof path, err) < 0 || !(v = vocab_load(path, err)) ||
        reward_set_init(&set, list, runconfig_reward_list(&in.rc, list), err) < 0)
        goto end;
    const char *vrel = json_string_value(json_object_get(in.clips, "verifier"));
    if (vrel && (store_path(st, vrel, path, sizeof path, err) < 0 || !(verifier = textclf_load(path, err))))
        goto end;
    json_t *items = json_object_get(ro, "items");
    int n = (int)json_array_size(items), G = in.rc.grpo.group_size;
    if (n == 0 || n % G != 0) {
        migr_errf(err, "%d completions do not make groups of %d", n, G);
        goto end;
    }
    rewards = calloc((size_t)n, sizeof *rewards);
    per = calloc((size_t)n * (size_t)set.n, sizeof *per);
    adv = calloc((size_t)n, sizeof *adv);
    if (!rewards || !per || !adv) {
        migr_errf(err, "out of memory");
        goto end;
    }
    if (score_items(&in, v, &set, verifier, items, rewards, per, in.rc.grpo.max_new, err) < 0)
        goto end;
    grpo_advantages(rewards, n / G, G, adv, NULL);
    json_t *r = json_array(), *a = json_array(), *sums = json_object();
    double sum = 0, sumsq = 0;
    for (int i = 0; i < n; i++) {
        json_array_append_new(r, json_real(rewards[i]));
        json_array_append_new(a, json_real(adv[i]));
        sum += rewards[i];
        sumsq += rewards[i] * rewards[i];
    }
    for (int j = 0; j < set.n; j++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += per[(size_t)i * set.n + j];
        json_object_set_new(sums, set.def[j]->name, json_real(s));
    }
    json_t *doc = json_pack("{s:o, s:o}", "rewards", r, "adv", a);
    int rc = dest ? put_json(st, dest, doc, err) : migr_errf(err, "reward task parameter \"out\" is missing");
    json_decref(doc);
    char sample[4096];
    json_t *first = json_object_get(json_array_get(items, 0), "tokens");
    int ids[512], k = 0;
    for (; k < (int)json_array_size(first) && k < 512; k++)
        ids[k] = (int)json_integer_value(json_array_get(first, (size_t)k));
    target_render(v, ids, k, sample, sizeof sample);
    if (rc == 0)
        out = json_pack("{s:s, s:i, s:f, s:f, s:i, s:i, s:o, s:s}", "rewards", dest, "n", n, "sum", sum,
                        "sumsq", sumsq, "groups", n / G, "zero_variance", grpo_zero_variance_groups(rewards, n / G, G),
                        "per_reward", sums, "sample", sample);
    else
        json_decref(sums);
end:
    free(rewards);
    free(per);
    free(adv);
    json_decref(ro);
    textclf_free(&verifier);
    vocab_free(&v);
    runfiles_free(&in);
    return out;
}

/* ---- grad ---- */

/* The shard's completions as batch clips (features loaded once per clip). */
typedef struct shard_seqs {
    int n;                    /* completions */
    batch_clip *clips;        /* (n) */
    int **ids;                /* (n) */
    media_features *feats;    /* (nclip) */
    int nclip;
    int *seq_off;             /* (n + 1) completion token offsets */
    float *olp;               /* (ntok) */
    double *adv;              /* (n) */
} shard_seqs;

static void seqs_free(shard_seqs *s)
{
    for (int i = 0; s->ids && i < s->n; i++)
        free(s->ids[i]);
    for (int i = 0; s->feats && i < s->nclip; i++)
        media_features_free(&s->feats[i]);
    free(s->ids);
    free(s->feats);
    free(s->clips);
    free(s->seq_off);
    free(s->olp);
    free(s->adv);
    memset(s, 0, sizeof *s);
}

static int seqs_load(const store *st, const run_inputs *in, json_t *items, json_t *adv, shard_seqs *s,
                     migr_err *err)
{
    int G = in->rc.grpo.group_size, ntok = 0;
    size_t i;
    json_t *item;
    memset(s, 0, sizeof *s);
    s->n = (int)json_array_size(items);
    s->nclip = s->n / G;
    s->clips = calloc((size_t)s->n, sizeof *s->clips);
    s->ids = calloc((size_t)s->n, sizeof *s->ids);
    s->feats = calloc((size_t)(s->nclip ? s->nclip : 1), sizeof *s->feats);
    s->seq_off = calloc((size_t)s->n + 1, sizeof *s->seq_off);
    s->adv = calloc((size_t)s->n, sizeof *s->adv);
    if (!s->clips || !s->ids || !s->feats || !s->seq_off || !s->adv)
        return migr_errf(err, "out of memory");
    if ((int)json_array_size(adv) != s->n)
        return migr_errf(err, "%d completions but %zu advantages", s->n, json_array_size(adv));
    json_array_foreach(items, i, item)
        ntok += (int)json_array_size(json_object_get(item, "tokens"));
    if (!(s->olp = malloc((size_t)(ntok ? ntok : 1) * sizeof *s->olp)))
        return migr_errf(err, "out of memory");
    json_array_foreach(items, i, item) {
        json_t *clip = train_clip(in, json_object_get(item, "clip")), *toks = json_object_get(item, "tokens");
        int c = (int)i / G, n = (int)json_array_size(toks);
        if (i % (size_t)G == 0 && runfiles_features(st, clip, &s->feats[c], err) < 0)
            return -1;
        if (!(s->ids[i] = malloc((size_t)(n ? n : 1) * sizeof **s->ids)))
            return migr_errf(err, "out of memory");
        for (int k = 0; k < n; k++) {
            s->ids[i][k] = (int)json_integer_value(json_array_get(toks, (size_t)k));
            s->olp[s->seq_off[i] + k] = (float)json_number_value(json_array_get(json_object_get(item, "olp"), (size_t)k));
        }
        s->seq_off[i + 1] = s->seq_off[i] + n;
        s->adv[i] = json_number_value(json_array_get(adv, i));
        s->clips[i] = (batch_clip){&s->feats[c], json_string_value(json_object_get(clip, "subtitle")), s->ids[i], n};
    }
    return 0;
}

/* Log-probs of the shard's completion tokens under a policy (lp[ntok]). */
static int seqs_logprobs(const policy *p, const run_inputs *in, const shard_seqs *s, float *lp, migr_err *err)
{
    int ntok = 0;
    float *got = completion_logprobs(p, in, s->clips, s->n, &ntok, err);
    if (!got)
        return -1;
    if (ntok != s->seq_off[s->n]) {
        free(got);
        return migr_errf(err, "the batch holds %d completion tokens, the rollouts %d (max_seq too small?)", ntok,
                         s->seq_off[s->n]);
    }
    memcpy(lp, got, (size_t)ntok * sizeof *lp);
    free(got);
    return 0;
}

json_t *grpo_grad(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    run_inputs in;
    policy pol = {0}, ref = {0};
    pool *tp = NULL;
    shard_seqs s = {0};
    json_t *ro = NULL, *rw = NULL, *out = NULL;
    float *lp = NULL, *rlp = NULL, *w = NULL;
    double *dlp = NULL;
    char refrel[PATH_MAX];
    const char *dest = json_string_value(json_object_get(params, "out"));
    grpo_stats stats = {0};

    if (runfiles_load(st, params, &in, err) < 0)
        goto end;
    snprintf(refrel, sizeof refrel, "%s/ckpt/000000.ckpt", in.dir);
    if (load_policy(st, json_string_value(json_object_get(params, "ckpt")), &pol, err) < 0 ||
        load_policy(st, refrel, &ref, err) < 0 || !(tp = pool_new(ctx->threads, err)) ||
        !(ro = store_json(st, json_string_value(json_object_get(params, "rollouts")), err)) ||
        !(rw = store_json(st, json_string_value(json_object_get(params, "rewards")), err)) ||
        seqs_load(st, &in, json_object_get(ro, "items"), json_object_get(rw, "adv"), &s, err) < 0)
        goto end;
    model_set_pool(pol.m, tp); /* the two run one after the other */
    model_set_pool(ref.m, tp);
    int ntok = s.seq_off[s.n];
    lp = malloc((size_t)(ntok ? ntok : 1) * sizeof *lp);
    rlp = malloc((size_t)(ntok ? ntok : 1) * sizeof *rlp);
    w = malloc((size_t)(ntok ? ntok : 1) * sizeof *w);
    dlp = malloc((size_t)(ntok ? ntok : 1) * sizeof *dlp);
    if (!lp || !rlp || !w || !dlp) {
        migr_errf(err, "out of memory");
        goto end;
    }
    /* The reference first: the policy's forward must be the last one, its
     * activations are what the weighted backward differentiates. */
    if (seqs_logprobs(&ref, &in, &s, rlp, err) < 0 || seqs_logprobs(&pol, &in, &s, lp, err) < 0)
        goto end;
    double loss = grpo_loss(lp, s.olp, rlp, s.seq_off, s.adv, s.n, ntok, in.rc.grpo.beta, in.rc.grpo.clip_eps,
                            dlp, &stats);
    if (!isfinite(loss)) {
        migr_errf(err, "the GRPO loss is %g; the run diverged (lower train.lr)", loss);
        goto end;
    }
    grpo_ce_weights(dlp, ntok, 1.0, w);
    if (model_backward_weighted(pol.m, w, err) < 0 ||
        (dest ? store_put(st, dest, model_grads_flat(pol.m), model_num_params(pol.m) * sizeof(float), NULL, err)
              : migr_errf(err, "grad task parameter \"out\" is missing")) < 0)
        goto end;
    out = json_pack("{s:s, s:i, s:i, s:f, s:f, s:I}", "grad", dest, "tokens", ntok, "divisor", s.n, "loss_sum", loss,
                    "kl_sum", stats.kl_sum, "clipped", (json_int_t)(stats.clipped_high + stats.clipped_low));
end:
    free(lp);
    free(rlp);
    free(w);
    free(dlp);
    seqs_free(&s);
    json_decref(ro);
    json_decref(rw);
    policy_free(&pol);
    policy_free(&ref);
    pool_free(&tp);
    runfiles_free(&in);
    return out;
}
