/* runconfig.h -- a run's settings: YAML in, typed struct, JSON out.
 *
 * A run is described by a YAML file; examples/sft.yaml, grpo.yaml and
 * eval.yaml document every key.  Three kinds of run share one struct:
 *
 *   kind: sft    stage 1, supervised fine-tuning from scratch
 *                reads: name, dataset, seed, model, vocab, train, reasoning
 *   kind: grpo   stage 2, GRPO from an SFT checkpoint (grpo.init), which is
 *                also the KL reference; the model comes from that checkpoint
 *                reads: name, dataset, seed, grpo, rewards, train
 *   kind: eval   the paper's evaluation of one checkpoint (eval.ckpt)
 *                reads: name, dataset, eval
 *
 * Every section is always present in the struct and in its JSON; the ones a
 * kind does not read are accepted, validated key by key, and ignored (so a
 * grpo run's model section says nothing: its model is the checkpoint's).
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
 *   grpo: {init: run:3, instruments: "", group_size: 8, temperature: 1.0,
 *          top_k: 0, max_new: 120, beta: 0.04, clip_eps: 0.2}
 *   rewards: {accuracy: 1.0, format: 1.0}
 *   eval: {ckpt: run:4, instruments: "", clips: holdout, max_new: 200, shards: 4}
 *
 * Keys are named with dots ("train.steps", "rewards.mi_order") in errors and
 * in --set overrides.  The life of a config:
 *
 *   runconfig_defaults(&rc);                  every key has a default except dataset
 *                                             (and grpo.init / eval.ckpt for those kinds)
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
#include "spec/rewards.h"

enum {
    RUNCONFIG_NAME_MAX = 64,   /* run and dataset names: 1-64 of [A-Za-z0-9_.-] */
    RUNCONFIG_ORDER_MAX = 32,  /* "visual-first", "mi" or "[aud, vis, txt]" + NUL */
    RUNCONFIG_CKPT_MAX = 1024, /* a checkpoint reference ("run:3" or a path) + NUL */
    RUNCONFIG_REWARD_NAME_MAX = 32, /* a reward's name (spec/rewards.h) + NUL */
    /* The least vocab.max_size but 0: the vocabulary's fixed tokens and the
     * four punctuation marks (VOCAB_FIRST_WORD + 4, ml/vocab.h, which checks
     * that it is). */
    RUNCONFIG_VOCAB_MIN = 25,
};

/* Run kinds: the two training stages and the evaluation. */
typedef enum { RUN_SFT, RUN_GRPO, RUN_EVAL } run_kind;

/* Which clips an eval run scores. */
typedef enum {
    EVAL_CLIPS_HOLDOUT,  /* those the checkpoint's run held out from training */
    EVAL_CLIPS_ALL,      /* every featurized clip of the dataset */
} eval_clips;

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
    int batch_size;       /* sequences (grpo: clips) per step, the global batch */
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

/* Checkpoint references (grpo.init, eval.ckpt) take three forms, see
 * runconfig_ckpt_ref(): "run:ID", the last checkpoint of run ID when the
 * reference is resolved; "run:NAME", the last checkpoint of the newest run
 * called NAME that has one; or an absolute path to a checkpoint file.  ""
 * means not given. */

/* Stage 2: GRPO (kind grpo).  The run's clips come from dataset; train.*
 * sets the optimizer and the steps, train.batch_size counting clips (each
 * sampled group_size times). */
typedef struct runconfig_grpo {
    char init[RUNCONFIG_CKPT_MAX];  /* the start and KL reference; required */
    char instruments[RUNCONFIG_NAME_MAX + 1];  /* dataset whose reward verifier (and judge)
                                                  to use; "" = the run's dataset */
    int group_size;                 /* G completions per clip, 2..64 */
    double temperature;             /* sampling temperature, > 0 */
    int top_k;                      /* sample among the k likeliest; 0 = all */
    int max_new;                    /* tokens generated per completion */
    double beta;                    /* weight of KL(pi || pi_ref), k3 estimator */
    double clip_eps;                /* PPO ratio clip, in (0, 1) */
} runconfig_grpo;

/* One weighted reward of a GRPO run: a name reward_index() knows. */
typedef struct runconfig_reward {
    char name[RUNCONFIG_REWARD_NAME_MAX];
    double weight;                  /* finite; 0 = logged, not trained on */
} runconfig_reward;

/* The rewards, in the order the config gave them (YAML map order, then
 * --set additions).  Empty by default: a grpo run must name its rewards. */
typedef struct runconfig_rewards {
    int n;
    runconfig_reward item[REWARD_SET_MAX];  /* (n) names distinct */
} runconfig_rewards;

/* The evaluation (kind eval): greedy decoding of every chosen clip. */
typedef struct runconfig_eval {
    char ckpt[RUNCONFIG_CKPT_MAX];  /* the checkpoint evaluated; required */
    char instruments[RUNCONFIG_NAME_MAX + 1];  /* dataset whose judge (and verifier, for
                                                  grounding) to use; "" = dataset */
    eval_clips clips;               /* holdout needs dataset to be the checkpoint's run's
                                       dataset: migrd, which knows runs, must check it */
    int max_new;                    /* tokens generated per clip */
    int shards;                     /* eval tasks, results merged in order */
} runconfig_eval;

typedef struct runconfig {
    char name[RUNCONFIG_NAME_MAX + 1];
    run_kind kind;
    char dataset[RUNCONFIG_NAME_MAX + 1];  /* required: "" until set */
    uint64_t seed;                         /* 0 .. 2^63-1 (a JSON integer) */
    runconfig_model model;                 /* sft only */
    runconfig_vocab vocab;                 /* sft only */
    runconfig_train train;                 /* sft and grpo */
    runconfig_reasoning reasoning;         /* sft only */
    runconfig_grpo grpo;                   /* grpo only */
    runconfig_rewards rewards;             /* grpo only */
    runconfig_eval eval;                   /* eval only */
} runconfig;

/* Every key at its default; dataset, grpo.init and eval.ckpt are empty and
 * rewards has none (runconfig_check requires what the kind needs). */
void runconfig_defaults(runconfig *rc);

/* Read a YAML mapping of the keys above over *rc: keys present replace the
 * current values, the others stay.  Errors read "path:line: key: what". */
int runconfig_load_yaml(const char *path, runconfig *rc, migr_err *err);

/* One override "key=value" with a dotted key ("train.lr=0.001",
 * "reasoning.order=[aud, vis, txt]", "grpo.group_size=4").  A reward is set
 * as "rewards.NAME=WEIGHT": it replaces that reward's weight, or adds the
 * reward at the end of the list.  Same validation as YAML; errors read
 * "key: what" (the caller says which --set it was). */
int runconfig_set(runconfig *rc, const char *assignment, migr_err *err);

/* Every value in its range (as the parsers would take it, so that a struct
 * filled by hand is held to the same rules), then the rules between keys:
 *   all kinds: dataset given
 *   sft:  heads divide channels, subtitle_max < max_seq, vocab.max_size 0 or
 *         large enough for the fixed tokens, shards <= batch_size,
 *         warmup <= steps
 *   grpo: grpo.init given, at least one reward with a non-zero weight,
 *         shards <= batch_size, warmup <= steps
 *   eval: eval.ckpt given
 * The sections a kind ignores are held only to their ranges.  Run it after
 * the last override. */
int runconfig_check(const runconfig *rc, migr_err *err);

/* The whole config as a JSON object with every key, nested as in YAML.
 * The caller owns the result (json_decref); NULL on no memory. */
json_t *runconfig_to_json(const runconfig *rc);

/* The inverse, strict: every key must be present (the JSON is a resolved
 * config, so a missing key means a writer that does not match this build),
 * none unknown, each of its type and range; then runconfig_check.
 * One exception: a JSON without a grpo, eval or rewards section at all takes
 * that section's defaults.  Builds before kinds grpo and eval wrote no such
 * sections, and migrd keeps each run's config JSON in its database for the
 * workers to re-read, so the runs submitted before must still load.
 * Errors read "run config: key: what". */
int runconfig_from_json(const json_t *json, runconfig *rc, migr_err *err);

/* "sft", "grpo", "eval"; "?" for anything else. */
const char *run_kind_name(run_kind kind);

/* "holdout", "all"; "?" for anything else. */
const char *eval_clips_name(eval_clips clips);

/* Parse a checkpoint reference.  "run:ID" (ID a positive decimal integer)
 * returns 1 and sets *run_id; an absolute path ("/...", not ending in '/')
 * returns 2 and sets *path = s; "run:NAME" (a run name that does not begin
 * with a digit, a sign or '.') returns 3 and sets *path to the name;
 * anything else, "" included, returns -1.  run_id and path may be NULL; what
 * is not returned is left as it was. */
int runconfig_ckpt_ref(const char *s, long long *run_id, const char **path);

/* The config's rewards as reward_set_init() (ml/reward.h) takes them:
 * list[i] = {name, weight} of rewards.item[i]; the names point into rc.
 * Returns rewards.n. */
int runconfig_reward_list(const runconfig *rc, reward_weight list[REWARD_SET_MAX]);

/* The fixed block order of a config's reasoning.order: fills order[] with
 * MOD_VISUAL/MOD_AUDIO/MOD_TEXT and returns 1; "visual-first" gives
 * {visual, audio, text}.  Returns 0 for "mi" (order decided per clip). */
int runconfig_fixed_order(const runconfig *rc, int order[MODALITY_COUNT]);

#endif
