/* sample.c -- migr sample: one generated explanation and answer for a clip,
 * computed here from a checkpoint in the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/store.h"
#include "ml/batch.h"
#include "ml/policy.h"
#include "ml/runconfig.h"
#include "ml/sample.h"
#include "ml/target.h"
#include "ml/vocab.h"

static const char sample_usage[] =
    "usage: migr sample --ckpt PATH --dataset NAME --clip N\n"
    "                   [--temperature T] [--top-k K] [--max-new N] [--seed S] [--json]\n"
    "\n"
    "Generate one explanation and answer for clip N (its row in the manifest,\n"
    "from 0) of a dataset, with the checkpoint at PATH (see migr ckpt list).\n"
    "Defaults: temperature 0 (greedy), top-k 0 (all), max-new 200, seed 1.\n";

typedef struct sample_args {
    const char *ckpt, *dataset;
    long clip, max_new, top_k;
    double temperature;
    unsigned long long seed;
    int json;
} sample_args;

static int parse_args(int argc, char **argv, sample_args *a)
{
    *a = (sample_args){.clip = -1, .max_new = 200, .seed = 1};
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(k, "--json")) {
            a->json = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(k, "--ckpt"))
            a->ckpt = v;
        else if (!strcmp(k, "--dataset"))
            a->dataset = v;
        else if (!strcmp(k, "--clip"))
            a->clip = strtol(v, &end, 10);
        else if (!strcmp(k, "--max-new"))
            a->max_new = strtol(v, &end, 10);
        else if (!strcmp(k, "--top-k"))
            a->top_k = strtol(v, &end, 10);
        else if (!strcmp(k, "--temperature"))
            a->temperature = strtod(v, &end);
        else if (!strcmp(k, "--seed"))
            a->seed = strtoull(v, &end, 10);
        else
            return -1;
        if (end && *end)
            return -1;
    }
    return a->ckpt && a->dataset && a->clip >= 0 && a->max_new >= 1 ? 0 : -1;
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

int cmd_sample(const migr_home *home, int argc, char **argv)
{
    sample_args a;
    migr_err err;
    int status, rc = EXIT_FAIL, n = 0;
    policy pol = {0};
    media_features f = {0};
    batch *b = NULL;
    int *out = NULL;

    if (cli_wants_help(argc, argv)) {
        fputs(sample_usage, stdout);
        return EXIT_OK;
    }
    if (parse_args(argc, argv, &a) < 0) {
        fputs(sample_usage, stderr);
        return EXIT_USAGE;
    }
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
