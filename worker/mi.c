/* mi.c -- the "mi" task: modality importance of every clip of a dataset,
 * from probes cross-fitted over the clips, averaged over repeated
 * cross-fits (ml/probe.h). */
#include <stdlib.h>
#include <string.h>

#include "ml/probe.h"
#include "worker/tasks.h"

/* Probe inputs and labels of the clips listed in the task's input object. */
static int load_inputs(const store *st, json_t *clips, probe_input *in, int *labels, migr_err *err)
{
    size_t i;
    json_t *clip;
    json_array_foreach(clips, i, clip) {
        media_features f;
        uint8_t *buf;
        size_t len;
        const char *rel = json_string_value(json_object_get(clip, "features"));
        labels[i] = emotion_parse(json_string_value(json_object_get(clip, "label")));
        if (!rel || labels[i] < 0)
            return migr_errf(err, "clip %zu of the MI input lacks features or a known label", i);
        if (store_get(st, rel, &buf, &len, NULL, err) < 0)
            return -1;
        int rc = features_decode(buf, len, &f, err);
        free(buf);
        if (rc < 0)
            return -1;
        probe_features(&f, json_string_value(json_object_get(clip, "subtitle")), &in[i]);
        media_features_free(&f);
    }
    return 0;
}

json_t *task_mi(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    const char *rel = json_string_value(json_object_get(params, "input"));
    double tau = json_number_value(json_object_get(params, "tau"));
    int folds = (int)json_integer_value(json_object_get(params, "folds"));
    json_t *jrepeats = json_object_get(params, "repeats");  /* absent in tasks of older migrds */
    int repeats = jrepeats ? (int)json_integer_value(jrepeats) : 1;
    probe_config cfg;
    uint8_t *text = NULL;
    size_t len;
    json_t *input = NULL, *out = NULL;
    probe_input *in = NULL;
    int *labels = NULL;
    double (*mi)[MODALITY_COUNT] = NULL;

    if (!rel) {
        migr_errf(err, "mi task parameter \"input\" is missing");
        return NULL;
    }
    if (store_get(st, rel, &text, &len, NULL, err) < 0)
        return NULL;
    input = json_loadb((const char *)text, len, 0, NULL);
    free(text);
    json_t *clips = json_object_get(input, "clips");
    size_t n = json_array_size(clips);
    if (n == 0) {
        migr_errf(err, "%s lists no clips", rel);
        goto end;
    }
    in = malloc(n * sizeof *in);
    labels = malloc(n * sizeof *labels);
    mi = malloc(n * sizeof *mi);
    if (!in || !labels || !mi) {
        migr_errf(err, "out of memory for %zu clips", n);
        goto end;
    }
    probe_config_default(&cfg);
    cfg.seed = (uint64_t)json_integer_value(json_object_get(params, "seed"));
    if (load_inputs(st, clips, in, labels, err) < 0 ||
        probe_cross_fit_repeated(&cfg, in, labels, (int)n, folds, repeats, mi, err) < 0)
        goto end;
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, json_pack("[O, f, f, f, i]", json_object_get(json_array_get(clips, i), "clip"),
                                              mi[i][MOD_VISUAL], mi[i][MOD_AUDIO], mi[i][MOD_TEXT],
                                              probe_dominant(mi[i], tau)));
    out = json_pack("{s:o}", "clips", rows);
end:
    free(in);
    free(labels);
    free(mi);
    json_decref(input);
    return out;
}
