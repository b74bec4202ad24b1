/* policy.c -- see policy.h. */
#include "ml/policy.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"

static int read_config(const char *path, runconfig *rc, migr_err *err)
{
    uint8_t *text;
    size_t len;
    json_error_t jerr;
    if (fs_read_file(path, &text, &len, err) < 0)
        return -1;
    json_t *j = json_loadb((const char *)text, len, 0, &jerr);
    free(text);
    if (!j)
        return migr_errf(err, "%s: %s", path, jerr.text);
    int rc_ = runconfig_from_json(j, rc, err);
    json_decref(j);
    return rc_ < 0 ? migr_err_wrap(err, "%s", path) : 0;
}

int policy_load(const char *ckpt_path, policy *p, migr_err *err)
{
    char dir[PATH_MAX], copy[PATH_MAX], path[PATH_MAX + 16], sha[STORE_SHA_HEX];
    float *state = NULL;

    memset(p, 0, sizeof *p);
    snprintf(copy, sizeof copy, "%s", ckpt_path);
    snprintf(dir, sizeof dir, "%s", dirname(dirname(copy)));
    if (ckpt_load(ckpt_path, &p->h, &state, NULL, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (!(p->v = vocab_load(path, err)))
        goto fail;
    vocab_hash(p->v, sha);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (ckpt_match(&p->h, NULL, sha, err) < 0 || read_config(path, &p->rc, err) < 0 ||
        !(p->m = model_new(&p->h.config, p->h.seed, err)))
        goto fail;
    memcpy(model_params_flat(p->m), state, p->h.num_params * sizeof(float));
    free(state);
    return 0;
fail:
    free(state);
    policy_free(p);
    return -1;
}

void policy_free(policy *p)
{
    model_free(&p->m);
    vocab_free(&p->v);
}
