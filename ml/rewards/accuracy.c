/* accuracy.c -- the accuracy reward: is the answer the clip's label?
 *
 * 1 if the completion's answer is the true label, else 0; a missing answer
 * (no closed <answer>, or one not holding exactly one label token) is 0.
 *
 * Accuracy is judged apart from form, as target_parse reads it: a
 * completion whose answer is right but whose tags are wrong elsewhere still
 * scores 1 here and is penalized by format and mi_order instead, so the two
 * signals stay separate. */
#include "ml/reward.h"

#include <assert.h>

double reward_accuracy(const reward_input *in)
{
    assert(in && in->parsed);
    return in->label >= 0 && in->parsed->label == in->label ? 1.0 : 0.0;
}
