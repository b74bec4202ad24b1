/* evaluate.c -- the "evaluate" task: one shard of an eval run.  Each clip
 * is decoded greedily from the checkpoint; the record says what the paper's
 * evaluation needs: the answer, whether the tags are well formed, the
 * emotion the judge reads in the <think> alone, the first block, the
 * dominant modality, and how many annotated blocks describe their cue. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ml/batch.h"
#include "ml/policy.h"
#include "ml/sample.h"
#include "ml/target.h"
#include "ml/textclf.h"
#include "worker/tasks.h"

enum { TEXT_MAX = 8192 };

typedef struct evaluator {
    policy pol;
    textclf *judge, *verifier;
    json_t *clips;         /* runs/ID/clips.json "eval" */
    int max_new;
    int *out;              /* (max_new) */
} evaluator;

static textclf *load_clf(const store *st, const char *rel, migr_err *err)
{
    char path[PATH_MAX];
    if (!rel) {
        migr_errf(err, "evaluate task parameters lack a verifier or judge path");
        return NULL;
    }
    return store_path(st, rel, path, sizeof path, err) < 0 ? NULL : textclf_load(path, err);
}

/* The text of a span's words (between its tags), or "" when absent. */
static void span_text(const evaluator *e, const int *ids, target_span s, char *buf)
{
    buf[0] = '\0';
    if (s.open >= 0 && s.close > s.open + 1)
        target_render(e->pol.v, ids + s.open + 1, s.close - s.open - 1, buf, TEXT_MAX);
}

/* Annotated blocks, and those whose text the verifier reads as their cue. */
static void grounding(const evaluator *e, json_t *ann, const int *ids, const target_parsed *p, int *grounded,
                      int *annotated)
{
    char *text = malloc(TEXT_MAX);
    *grounded = *annotated = 0;
    for (int m = 0; text && m < MODALITY_COUNT; m++) {
        json_t *cue = json_object_get(json_object_get(ann, "cues"), modality_name(m));
        const char *name = json_string_value(json_object_get(cue, "emotion"));
        int cue_emotion = name ? emotion_parse(name) : -1;
        if (cue_emotion < 0)
            continue;
        (*annotated)++;
        span_text(e, ids, p->block[m], text);
        if (p->well_formed && text[0] && textclf_predict(e->verifier, text) == cue_emotion)
            (*grounded)++;
    }
    free(text);
}

/* Decode one clip and fill its record; *sample gets the rendered text. */
static int evaluate_clip(const store *st, evaluator *e, json_t *clip, json_t **record, char *sample,
                         migr_err *err)
{
    media_features f;
    uint8_t *buf;
    size_t len;
    batch *b = NULL;
    int n = 0, rc = -1;
    const char *rel = json_string_value(json_object_get(clip, "features"));

    if (!rel || store_get(st, rel, &buf, &len, NULL, err) < 0)
        return rel ? -1 : migr_errf(err, "a clip to evaluate has no features path");
    rc = features_decode(buf, len, &f, err);
    free(buf);
    if (rc < 0)
        return -1;
    rc = -1;
    sample_config sc = {0.0f, 0, e->max_new, VOCAB_EOS, 1};
    if (!(b = batch_prefix(model_cfg(e->pol.m), e->pol.v, e->pol.rc.model.subtitle_max, &f,
                           json_string_value(json_object_get(clip, "subtitle")), err)) ||
        model_generate(e->pol.m, &b->mb, &sc, e->out, &n, 1, err) < 0)
        goto end;
    target_parsed p;
    target_parse(e->pol.v, e->out, n, &p);
    span_text(e, e->out, p.think, sample);
    int implied = sample[0] ? textclf_predict(e->judge, sample) : -1;
    int grounded, annotated;
    grounding(e, json_object_get(clip, "annotation"), e->out, &p, &grounded, &annotated);
    const char *dom = json_string_value(json_object_get(clip, "dominant"));
    *record = json_pack("[i, i, i, i, i, i, i, i]", emotion_parse(json_string_value(json_object_get(clip, "label"))),
                        p.label, p.well_formed, implied, p.nblocks > 0 ? p.order[0] : -1,
                        dom ? modality_parse(dom) : -1, grounded, annotated);
    target_render(e->pol.v, e->out, n, sample, TEXT_MAX);
    rc = *record ? 0 : migr_errf(err, "out of memory");
end:
    batch_free(&b);
    media_features_free(&f);
    return rc;
}

static int evaluator_open(const store *st, json_t *params, evaluator *e, migr_err *err)
{
    char rel[PATH_MAX];
    uint8_t *text;
    size_t len;
    const char *ckpt = json_string_value(json_object_get(params, "ckpt"));
    const char *dir = json_string_value(json_object_get(params, "dir"));

    memset(e, 0, sizeof *e);
    e->max_new = (int)json_integer_value(json_object_get(params, "max_new"));
    if (!ckpt || !dir || e->max_new < 1)
        return migr_errf(err, "evaluate task parameters need ckpt, dir and max_new >= 1");
    if (policy_load(ckpt, &e->pol, err) < 0 ||
        !(e->judge = load_clf(st, json_string_value(json_object_get(params, "judge")), err)) ||
        !(e->verifier = load_clf(st, json_string_value(json_object_get(params, "verifier")), err)))
        return -1;
    snprintf(rel, sizeof rel, "%s/clips.json", dir);
    if (store_get(st, rel, &text, &len, NULL, err) < 0)
        return -1;
    e->clips = json_loadb((const char *)text, len, 0, NULL);
    free(text);
    if (!json_is_array(json_object_get(e->clips, "eval")))
        return migr_errf(err, "%s is not an eval clip list", rel);
    if (!(e->out = malloc((size_t)e->max_new * sizeof *e->out)))
        return migr_errf(err, "out of memory");
    return 0;
}

static void evaluator_close(evaluator *e)
{
    policy_free(&e->pol);
    textclf_free(&e->judge);
    textclf_free(&e->verifier);
    json_decref(e->clips);
    free(e->out);
}

json_t *task_evaluate(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    evaluator e;
    json_t *records = json_array(), *samples = json_array(), *out = NULL, *idx;
    char *sample = malloc(TEXT_MAX);
    size_t i;

    if (!sample || evaluator_open(st, params, &e, err) < 0)
        goto end;
    json_array_foreach(json_object_get(params, "clips"), i, idx) {
        json_t *clip = json_array_get(json_object_get(e.clips, "eval"), (size_t)json_integer_value(idx));
        json_t *record = NULL;
        if (!clip) {
            migr_errf(err, "clip %lld is not in the eval list", (long long)json_integer_value(idx));
            goto end;
        }
        if (evaluate_clip(st, &e, clip, &record, sample, err) < 0)
            goto end;
        json_array_append_new(records, record);
        if (json_array_size(samples) < 2)
            json_array_append_new(samples, json_pack("{s:O, s:s}", "clip", json_object_get(clip, "clip"),
                                                     "text", sample));
    }
    out = json_pack("{s:O, s:O}", "records", records, "samples", samples);
end:
    if (sample)
        evaluator_close(&e);
    free(sample);
    json_decref(records);
    json_decref(samples);
    return out;
}
