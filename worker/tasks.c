/* tasks.c -- running a task with the handler of its kind, and the dataset
 * task kinds: synth (render one synthetic clip) and featurize (decode one
 * clip into features in the store). */
#include "worker/tasks.h"

#include <stdlib.h>
#include <string.h>

#include "media/features.h"
#include "media/synth_media.h"

typedef json_t *(*task_handler)(const task_ctx *ctx, json_t *params, migr_err *err);

/* The handler of a kind, or NULL for a kind this worker does not know. */
static task_handler task_handler_find(const char *kind)
{
    static const struct {
        const char *kind;
        task_handler fn;
    } table[] = {
        {"featurize", task_featurize},
        {"synth", task_synth},
        {"init", task_init},
        {"resume", task_resume},
        {"grad", task_grad},
        {"apply", task_apply},
        {"grpo_init", task_grpo_init},
        {"rollout", task_rollout},
        {"reward", task_reward},
        {"mi", task_mi},
        {"instruments", task_instruments},
        {"evaluate", task_evaluate},
        {"noop", task_noop},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].kind, kind) == 0)
            return table[i].fn;
    return NULL;
}

json_t *task_run(const task_ctx *ctx, const char *kind, json_t *params, migr_err *err)
{
    task_handler fn = task_handler_find(kind);
    if (!fn) {
        migr_errf(err, "this worker does not know task kind \"%s\"; upgrade it", kind);
        return NULL;
    }
    return fn(ctx, params, err);
}

/* `migr bench dispatch`'s task: nothing to do but answer, so that what the
 * bench measures is dispatch (its payload only travels). */
json_t *task_noop(const task_ctx *ctx, json_t *params, migr_err *err)
{
    (void)ctx, (void)params;
    json_t *out = json_object();
    if (!out)
        migr_errf(err, "out of memory");
    return out;
}

static int get_int(json_t *params, const char *key, int *out, migr_err *err)
{
    json_t *v = json_object_get(params, key);
    if (!json_is_integer(v))
        return migr_errf(err, "task parameter \"%s\" is missing or not an integer", key);
    *out = (int)json_integer_value(v);
    return 0;
}

static const char *get_str(json_t *params, const char *key, migr_err *err)
{
    const char *s = json_string_value(json_object_get(params, key));
    if (!s)
        migr_errf(err, "task parameter \"%s\" is missing or not a string", key);
    return s;
}

/* A clip FFmpeg cannot read is a result, not a task failure: the output says
 * {"bad": reason} and the clip is recorded as failed. */
json_t *task_featurize(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    featurize_config cfg;
    media_features f;
    migr_err ferr;
    uint8_t *buf = NULL;
    size_t len = 0;
    char sha[STORE_SHA_HEX];
    const char *path = get_str(params, "path", err), *out = get_str(params, "out", err);

    if (!path || !out || get_int(params, "frames", &cfg.n_frames, err) < 0 ||
        get_int(params, "height", &cfg.height, err) < 0 || get_int(params, "width", &cfg.width, err) < 0 ||
        get_int(params, "mel", &cfg.n_mel, err) < 0 ||
        get_int(params, "max_audio_frames", &cfg.max_audio_frames, err) < 0)
        return NULL;
    if (media_featurize(path, &cfg, &f, &ferr) < 0)
        return json_pack("{s:s}", "bad", ferr.msg);
    int rc = features_encode(&f, &buf, &len, err);
    if (rc == 0)
        rc = store_put(st, out, buf, len, sha, err);
    free(buf);
    json_t *result = rc < 0 ? NULL
                            : json_pack("{s:s, s:s, s:b, s:i, s:i}", "features", out, "sha256", sha,
                                        "has_audio", f.has_audio, "frames", f.n_frames,
                                        "audio_frames", f.n_audio);
    media_features_free(&f);
    return result;
}

json_t *task_synth(const task_ctx *ctx, json_t *params, migr_err *err)
{
    synth_config cfg;
    synth_clip plan;
    int index = 0;
    json_t *seed = json_object_get(params, "seed");
    const char *path = get_str(params, "path", err);
    const char *config = json_string_value(json_object_get(params, "config"));

    (void)ctx;  /* it writes the clip at path, outside the store */
    if (!path || get_int(params, "index", &index, err) < 0)
        return NULL;
    if (!json_is_integer(seed)) {
        migr_errf(err, "task parameter \"seed\" is missing or not an integer");
        return NULL;
    }
    synth_config_default(&cfg);
    if (config && synth_config_load(config, &cfg, err) < 0)
        return NULL;
    synth_plan(&cfg, (uint64_t)json_integer_value(seed), index, &plan);
    if (synth_render(&cfg, (uint64_t)json_integer_value(seed), &plan, path, err) < 0)
        return NULL;
    return json_pack("{s:s}", "path", path);
}
