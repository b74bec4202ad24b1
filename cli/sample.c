/* sample.c -- migr sample: one generated explanation and answer for a clip,
 * computed here from a checkpoint in the store. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/store.h"
#include "ml/batch.h"
#include "ml/policy.h"
#include "ml/sample.h"
#include "ml/target.h"
#include "ml/vocab.h"
#include "spec/runconfig.h"

typedef struct sample_args {
    const char *ckpt, *dataset;
    long clip, max_new, top_k;
    double temperature;
    unsigned long long seed;
    int json;
} sample_args;

/* The options of a into *s; -1 after saying which is wrong. */
static int parse_args(const cli_args *a, sample_args *s)
{
    long long clip = 0, max_new = 200, top_k = 0, seed = 1; /* --clip is required */

    *s = (sample_args){.ckpt = cli_value(a, "--ckpt"), .dataset = cli_value(a, "--dataset"),
                       .json = cli_flag(a, "--json")};
    if (cli_int(a, "--clip", 0, INT32_MAX, &clip) < 0 ||
        cli_int(a, "--max-new", 1, 4096, &max_new) < 0 ||
        cli_int(a, "--top-k", 0, INT32_MAX, &top_k) < 0 ||
        cli_int(a, "--seed", 0, INT64_MAX, &seed) < 0 ||
        cli_real(a, "--temperature", 0, 100, 0, &s->temperature) < 0)
        return -1;
    s->clip = (long)clip;
    s->max_new = (long)max_new;
    s->top_k = (long)top_k;
    s->seed = (unsigned long long)seed;
    return 0;
}

/* The checkpoint path --ckpt names: run:ID is that run's newest (asked of
 * migrd), anything else a path.  Returns an exit code. */
static int resolve_ckpt(const migr_home *home, const char *ref, char *path, size_t cap)
{
    long long run;
    const char *given;
    int status;
    migr_err err;

    if (runconfig_ckpt_ref(ref, &run, &given) != 1) {
        snprintf(path, cap, "%s", ref);
        return EXIT_OK;
    }
    json_t *list = cli_request(home, "ckpt.list", json_pack("{s:I}", "run", (json_int_t)run), 10000,
                               &status, &err);
    if (!list) {
        fprintf(stderr, "migr sample: --ckpt %s: %s\n", ref, err.msg);
        return status;
    }
    json_t *last = json_array_get(list, json_array_size(list) - 1);
    status = last ? EXIT_OK : EXIT_FAIL;
    if (last)
        snprintf(path, cap, "%s", json_string_value(json_object_get(last, "path")));
    else
        fprintf(stderr, "migr sample: --ckpt %s: run %lld has no checkpoint yet\n", ref, run);
    json_decref(list);
    return status;
}

static int load_clip_features(json_t *clip, media_features *f, migr_err *err)
{
    store st;
    uint8_t *buf;
    size_t len;
    if (store_open(&st, json_string_value(json_object_get(clip, "store")), err) < 0 ||
        store_get(&st, json_string_value(json_object_get(clip, "features")), &buf, &len, NULL, err) < 0)
        return -1;
    int rc = features_decode(buf, len, f, err);
    free(buf);
    return rc;
}

static void print_result(const sample_args *a, json_t *clip, const vocab *v, const int *out, int n)
{
    target_parsed p;
    char text[8192];
    target_parse(v, out, n, &p);
    target_render(v, out, n, text, sizeof text);
    const char *answer = p.label >= 0 ? emotion_name(p.label) : "";
    const char *label = json_string_value(json_object_get(clip, "label"));
    if (a->json) {
        json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:i}", "dataset", a->dataset, "clip",
                              (json_int_t)a->clip, "explanation", text, "answer", answer, "label", label,
                              "well_formed", p.well_formed, "tokens", n);
        cli_print_json(j);
        json_decref(j);
        return;
    }
    printf("%s\n", text);
    printf("answer: %s (label: %s)%s%s\n", *answer ? answer : "none", label,
           p.well_formed ? "" : "; malformed: ", p.well_formed ? "" : p.why);
}

int cmd_sample(const migr_home *home, const cli_args *args)
{
    sample_args a;
    migr_err err;
    int status, rc = EXIT_FAIL, n = 0;
    policy pol = {0};
    media_features f = {0};
    batch *b = NULL;
    int *out = NULL;

    char ckpt[PATH_MAX];
    if (parse_args(args, &a) < 0)
        return EXIT_USAGE;
    if ((rc = resolve_ckpt(home, a.ckpt, ckpt, sizeof ckpt)) != EXIT_OK)
        return rc;
    rc = EXIT_FAIL;
    a.ckpt = ckpt;
    json_t *clip = cli_request(home, "dataset.clip", json_pack("{s:s, s:I}", "name", a.dataset, "clip",
                               (json_int_t)a.clip), 10000, &status, &err);
    if (!clip) {
        fprintf(stderr, "migr sample: %s\n", err.msg);
        return status;
    }
    if (policy_load(a.ckpt, &pol, &err) < 0 || load_clip_features(clip, &f, &err) < 0 ||
        !(b = batch_prefix(model_cfg(pol.m), pol.v, pol.rc.model.subtitle_max, &f,
                           json_string_value(json_object_get(clip, "subtitle")), &err)))
        goto end;
    sample_config sc = {(float)a.temperature, (int)a.top_k, (int)a.max_new, VOCAB_EOS, a.seed};
    if (!(out = malloc((size_t)a.max_new * sizeof *out))) {
        migr_errf(&err, "out of memory");
        goto end;
    }
    if (model_generate(pol.m, &b->mb, &sc, out, &n, 1, &err) < 0)
        goto end;
    print_result(&a, clip, pol.v, out, n);
    rc = EXIT_OK;
end:
    if (rc != EXIT_OK)
        fprintf(stderr, "migr sample: %s\n", err.msg);
    free(out);
    batch_free(&b);
    media_features_free(&f);
    policy_free(&pol);
    json_decref(clip);
    return rc;
}
