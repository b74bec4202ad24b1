/* runfiles.c -- see runfiles.h. */
#include "worker/runfiles.h"

#include <assert.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"

int runfiles_load(const store *st, json_t *params, run_inputs *in, migr_err *err)
{
    char rel[PATH_MAX];
    uint8_t *text;
    size_t len;
    json_error_t jerr;

    memset(in, 0, sizeof *in);
    in->dir = json_string_value(json_object_get(params, "dir"));
    if (!in->dir)
        return migr_errf(err, "task parameter \"dir\" is missing");
    if (runconfig_from_json(json_object_get(params, "config"), &in->rc, err) < 0)
        return -1;
    snprintf(rel, sizeof rel, "%s/clips.json", in->dir);
    if (store_get(st, rel, &text, &len, NULL, err) < 0)
        return -1;
    in->clips = json_loadb((const char *)text, len, 0, &jerr);
    free(text);
    if (!json_is_array(json_object_get(in->clips, "train")))
        return migr_errf(err, "%s is not a run clip list: %s", rel, jerr.text);
    return 0;
}

void runfiles_free(run_inputs *in)
{
    json_decref(in->clips);
    in->clips = NULL;
}

const char *runfiles_ann(json_t *clip, const char *key)
{
    return json_string_value(json_object_get(json_object_get(clip, "annotation"), key));
}

const char *runfiles_block_tag(int m)
{
    static const char *const tag[MODALITY_COUNT] = {"vis", "aud", "txt"};
    assert(m >= 0 && m < MODALITY_COUNT);
    return tag[m];
}

const char *runfiles_think(json_t *clip, int first)
{
    json_t *drifted = json_object_get(json_object_get(clip, "annotation"), "think_first");
    const char *think = json_string_value(json_object_get(drifted, runfiles_block_tag(first)));
    return think ? think : runfiles_ann(clip, "think");
}

int runfiles_features(const store *st, json_t *clip, media_features *f, migr_err *err)
{
    uint8_t *buf;
    size_t len;
    const char *rel = json_string_value(json_object_get(clip, "features"));
    if (!rel)
        return migr_errf(err, "a clip of the run has no features path");
    if (store_get(st, rel, &buf, &len, NULL, err) < 0)
        return -1;
    int rc = features_decode(buf, len, f, err);
    free(buf);
    return rc;
}

/* An absolute store path for a file the ml/ modules write themselves. */
int runfiles_path(const store *st, const char *dir, const char *name, char *out, size_t cap, migr_err *err)
{
    char rel[PATH_MAX];
    if (snprintf(rel, sizeof rel, "%s/%s", dir, name) >= (int)sizeof rel)
        return migr_errf(err, "path too long: %s/%s", dir, name);
    return store_path(st, rel, out, cap, err);
}

int runfiles_mkdirs_for(const char *path, migr_err *err)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    return fs_mkdirs(dirname(copy), err);
}

/* runs/ID/config.json: the resolved config beside the checkpoints, for
 * readers that hold only a checkpoint path (migr sample). */
int runfiles_save_config(const store *st, const run_inputs *in, migr_err *err)
{
    char path[PATH_MAX];
    json_t *j = runconfig_to_json(&in->rc);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return migr_errf(err, "out of memory");
    size_t len = strlen(text);
    const void *bufs[1] = {text};
    int rc = runfiles_path(st, in->dir, "config.json", path, sizeof path, err) < 0 ? -1
             : fs_write_atomic(path, bufs, &len, 1, err);
    free(text);
    return rc;
}

