/* reward.h -- GRPO rewards: named functions of one completion, and weighted sets of them.
 *
 * A reward reads one sampled completion (its token ids and the parse of them)
 * beside what is known of the clip (label, dominant modality, annotated cues)
 * and returns a number.  Each lives in its own file, ml/rewards/NAME.c, as
 * reward_NAME(); REWARD_TABLE in spec/rewards.h is the registry: adding a
 * reward is that file plus one line there.  A run's YAML names the rewards it
 * uses with a weight each (a reward_set); the total is the weighted sum.
 *
 *   accuracy     1 if the answer is the clip's label, else 0
 *   format       1 if the completion is well formed, else 0
 *   mi_order     1 / 0 / 0.5 / -1: dominant block first / not / multimodal clip / malformed
 *   consistency  share of the sentences of (dominant block + think) that the verifier
 *                reads as the label
 *   grounding    share of annotated description blocks whose text the verifier reads as
 *                that modality's annotated cue (ours, beyond the paper)
 *
 * The exact rules, and the choices beyond design.md, are in each file's head
 * comment.  Rewards are pure: no allocation, no state, the same input gives
 * the same value. */
#ifndef MIGR_REWARD_H
#define MIGR_REWARD_H

#include <stddef.h>

#include "common/emotion.h"
#include "common/error.h"
#include "ml/target.h"
#include "ml/vocab.h"
#include "spec/rewards.h"

/* The sentence-level emotion verifier, as the rewards see it.  Both
 * functions take the caller's ctx and a text as target_render spells words
 * (lowercase tokens separated by one space, punctuation marks as tokens:
 * "the voice is low ."). */
typedef struct reward_verifier {
    void *ctx;
    /* The verifier's probability that sentence expresses emotion label. */
    double (*sentence_p)(void *ctx, const char *sentence, int label);
    /* The verifier's predicted emotion of text (its arg-max over labels). */
    int (*sentence_label)(void *ctx, const char *text);
} reward_verifier;

/* One completion and what is known of its clip.  Fill it with
 * reward_input_init(), which marks the optional parts unknown (a zeroed
 * struct would claim every cue is "happy"), then set what you know. */
typedef struct reward_input {
    const vocab *vocab;
    const int *ids;                 /* (n) the completion, without <bos> */
    int n;
    const target_parsed *parsed;    /* target_parse(vocab, ids, n), computed once by the caller */
    int label;                      /* the clip's true emotion */
    int dominant;                   /* MOD_VISUAL/AUDIO/TEXT, MOD_MULTIMODAL, or -1 when unknown
                                       (label-only data, MI not computed) */
    int cue[MODALITY_COUNT];        /* annotated cue emotion per modality, -1 where none */
    reward_verifier verifier;       /* both functions NULL: no verifier */
} reward_input;

/* in = the completion ids[0..n-1] with its parse and label; dominant and
 * every cue -1, no verifier. */
void reward_input_init(reward_input *in, const vocab *v, const int *ids, int n,
                       const target_parsed *parsed, int label);

typedef double (*reward_fn)(const reward_input *in);

#define REWARD_DECLARE_(name, description) double reward_##name(const reward_input *in);
REWARD_TABLE(REWARD_DECLARE_)
#undef REWARD_DECLARE_

typedef struct reward_def {
    const char *name;
    reward_fn fn;
    const char *description;
} reward_def;

/* The reward called name, or NULL.  (Its name and the others' in
 * table order: reward_names(), spec/rewards.h.) */
const reward_def *reward_find(const char *name);

/* ---- weighted sets ---- */

typedef struct reward_set {
    int n;
    const reward_def *def[REWARD_SET_MAX];   /* (n) in config order */
    double weight[REWARD_SET_MAX];           /* (n) */
} reward_set;

/* Resolve a config list of n {name, weight} into set.  Refuses what
 * reward_list_check() refuses (spec/rewards.h), with its message: -1 with
 * err; set is then left as it was. */
int reward_set_init(reward_set *set, const reward_weight *list, int n, migr_err *err);

/* Score one completion: per_reward[i] = set->def[i]->fn(in) for i < set->n
 * (per_reward may be NULL), returns the sum of weight * value. */
double reward_set_score(const reward_set *set, const reward_input *in, double *per_reward);

/* ---- for reward functions ---- */

/* Texts handed to the verifier are cut (at a token) to fit this many bytes,
 * the NUL included: far more than a completion of max_seq tokens spells. */
enum { REWARD_TEXT_MAX = 4096 };

/* Write ids[from..to-1] of the completion to buf as target_render spells
 * them (vocab_word, one space between tokens), whole tokens only: a token
 * that would not fit ends the text there.  buf is NUL-terminated (cap > 0).
 * Returns the number of tokens written. */
int reward_text(const reward_input *in, int from, int to, char *buf, size_t cap);

/* Whether the input has a verifier. */
int reward_has_verifier(const reward_input *in);

/* The verifier's emotion for text: sentence_label when given, else the
 * arg-max of sentence_p over the EMOTION_COUNT labels (the lowest label on a
 * tie).  -1 without a verifier. */
int reward_text_label(const reward_input *in, const char *text);

#endif
