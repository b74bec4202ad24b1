/* rewards.h -- the reward registry: which GRPO rewards there are, by name.
 *
 * A GRPO run's config names the rewards it trains on, a weight each
 * (spec/runconfig.h): migrd checks the names when the run is submitted, and
 * workers score completions with the functions of those names (ml/reward.h,
 * each in its own file ml/rewards/NAME.c).  What both sides need is here:
 * the names, in one table, and the rules a weighted list of them follows.
 * Adding a reward is its file plus one line in REWARD_TABLE. */
#ifndef MIGR_REWARDS_H
#define MIGR_REWARDS_H

#include "common/error.h"

/* The registry: X(name, description), one line per reward, in the order
 * reward_names() lists them.  Each name is a function reward_NAME
 * (ml/reward.h). */
#define REWARD_TABLE(X)                                                                      \
    X(accuracy, "1 if the answer is the clip's label, else 0")                               \
    X(format, "1 if the tags are well formed, else 0")                                       \
    X(mi_order, "1 if the dominant modality's block comes first, 0 if not, 0.5 for a "       \
                "multimodal clip, -1 if malformed; 0 when the dominant modality is unknown") \
    X(consistency, "share of the sentences of the dominant block and think that the "        \
                   "verifier reads as the label")                                            \
    X(grounding, "share of annotated description blocks that the verifier reads as the "    \
                 "modality's annotated cue; 0 without annotations")

enum { REWARD_SET_MAX = 16 };  /* rewards in one list (one run) */

/* One entry of a run's config list. */
typedef struct reward_weight {
    const char *name;
    double weight;
} reward_weight;

/* Every reward's name in table order, NULL-terminated. */
const char *const *reward_names(void);

/* The position in REWARD_TABLE of the reward called name, or -1. */
int reward_index(const char *name);

/* Whether a config list of n {name, weight} makes a reward set
 * (reward_set_init, ml/reward.h).  Refuses, naming the entry: an empty
 * list, one longer than REWARD_SET_MAX, an unknown name (the message lists
 * the known ones), a name given twice, a weight that is not finite.
 * Weights may be zero (a reward that is logged but not trained on) or
 * negative.  0, or -1 with err. */
int reward_list_check(const reward_weight *list, int n, migr_err *err);

#endif
