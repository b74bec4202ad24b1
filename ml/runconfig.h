/* runconfig.h -- a training run's settings: YAML in, typed struct, JSON out.
 *
 * A run is described by a YAML file (examples/sft.yaml documents every key):
 *
 *   name: sft-baseline
 *   kind: sft
 *   dataset: demo-200
 *   seed: 1
 *   model: {channels: 64, layers: 2, heads: 4, mlp_ratio: 4, max_seq: 160,
 *           audio_window: 10, subtitle_max: 24}
 *   vocab: {min_count: 1, max_size: 2000}
 *   train: {steps: 200, batch_size: 16, shards: 4, lr: 0.003, warmup: 20, ...}
 *   reasoning: {order: visual-first}
 *
 * Keys are named with dots ("train.steps") in errors and in --set overrides.
 * The life of a config:
 *
 *   runconfig_defaults(&rc);                  every key has a default except dataset
 *   runconfig_load_yaml(path, &rc, err);      keys in the file replace defaults
 *   runconfig_set(&rc, "train.steps=10", err) each --set override
 *   runconfig_check(&rc, err);                rules between keys, once, at the end
 *   runconfig_to_json(&rc)                    the resolved config migrd stores
 *   runconfig_from_json(json, &rc, err)       what workers receive (checked)
 *
 * Every parser is strict: an unknown key, a value of the wrong type or out of
 * range is an error naming the key (and, for YAML, "file:line:").  On error
 * the runconfig is left as it was. */
#ifndef MIGR_RUNCONFIG_H
#define MIGR_RUNCONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "common/emotion.h"
#include "common/error.h"

enum {
    RUNCONFIG_NAME_MAX = 64,   /* run and dataset names: 1-64 of [A-Za-z0-9_.-] */
    RUNCONFIG_ORDER_MAX = 32,  /* "visual-first", "mi" or "[aud, vis, txt]" + NUL */
};

/* Run kinds.  Only SFT is implemented; grpo and eval come later. */
typedef enum { RUN_SFT } run_kind;

typedef struct runconfig_model {
    int channels;      /* C; a multiple of heads */
    int layers;        /* L transformer blocks */
    int heads;         /* NH attention heads */
    int mlp_ratio;     /* MLP width = mlp_ratio * C */
    int max_seq;       /* positions: media prefix + subtitle + explanation */
    int audio_window;  /* log-mel frames per audio token */
    int subtitle_max;  /* subtitle words kept in the prefix (< max_seq) */
} runconfig_model;

typedef struct runconfig_vocab {
    int min_count;     /* a word enters the vocabulary if counted this often */
    int max_size;      /* tokens in all, fixed ones included; 0 = no limit */
} runconfig_vocab;

typedef struct runconfig_train {
    int steps;            /* optimizer steps */
    int batch_size;       /* sequences per step (the global batch) */
    int shards;           /* grad tasks per step; <= batch_size */
    double lr;            /* peak learning rate */
    int warmup;           /* steps of linear warmup from 0 to lr; <= steps */
    double min_lr_ratio;  /* the cosine decay ends at lr * min_lr_ratio */
    double weight_decay;  /* AdamW decoupled weight decay */
    double beta1, beta2;  /* AdamW moment decay rates */
    double eps;           /* AdamW denominator epsilon */
    double grad_clip;     /* max global gradient L2 norm; 0 = no clipping */
    int checkpoint_every; /* keep the checkpoint of every N-th step (and the last) */
    double holdout;       /* share of the dataset's clips held out from training */
} runconfig_train;

typedef struct runconfig_reasoning {
    /* Order of the description blocks in the SFT targets, normalized:
     * "visual-first" (the baseline, the fixed order [vis, aud, txt]),
     * "mi" (each clip's dominant modality first, by modality importance),
     * or a fixed permutation such as "[aud, vis, txt]". */
    char order[RUNCONFIG_ORDER_MAX];
} runconfig_reasoning;

typedef struct runconfig {
    char name[RUNCONFIG_NAME_MAX + 1];
    run_kind kind;
    char dataset[RUNCONFIG_NAME_MAX + 1];  /* required: "" until set */
    uint64_t seed;                         /* 0 .. 2^63-1 (a JSON integer) */
    runconfig_model model;
    runconfig_vocab vocab;
    runconfig_train train;
    runconfig_reasoning reasoning;
} runconfig;

/* Every key at its default; dataset is empty (runconfig_check requires it). */
void runconfig_defaults(runconfig *rc);

/* Read a YAML mapping of the keys above over *rc: keys present replace the
 * current values, the others stay.  Errors read "path:line: key: what". */
int runconfig_load_yaml(const char *path, runconfig *rc, migr_err *err);

/* One override "key=value" with a dotted key ("train.lr=0.001",
 * "reasoning.order=[aud, vis, txt]").  Same validation as YAML; errors read
 * "key: what" (the caller says which --set it was). */
int runconfig_set(runconfig *rc, const char *assignment, migr_err *err);

/* Rules between keys: dataset given, heads divide channels, subtitle_max <
 * max_seq, shards <= batch_size, warmup <= steps, vocab.max_size 0 or large
 * enough for the fixed tokens.  Run it after the last override. */
int runconfig_check(const runconfig *rc, migr_err *err);

/* The whole config as a JSON object with every key, nested as in YAML.
 * The caller owns the result (json_decref); NULL on no memory. */
json_t *runconfig_to_json(const runconfig *rc);

/* The inverse, strict: every key must be present (the JSON is a resolved
 * config, so a missing key means a writer that does not match this build),
 * none unknown, each of its type and range; then runconfig_check.
 * Errors read "run config: key: what". */
int runconfig_from_json(const json_t *json, runconfig *rc, migr_err *err);

/* "sft", ... */
const char *run_kind_name(run_kind kind);

/* The fixed block order of a config's reasoning.order: fills order[] with
 * MOD_VISUAL/MOD_AUDIO/MOD_TEXT and returns 1; "visual-first" gives
 * {visual, audio, text}.  Returns 0 for "mi" (order decided per clip). */
int runconfig_fixed_order(const runconfig *rc, int order[MODALITY_COUNT]);

#endif
