/* format.c -- the format reward: are the tags well formed?
 *
 * 1 if target_parse found the completion well formed (the three description
 * blocks in any order, then think, then an answer holding one label, each
 * once, nothing outside them), else 0. */
#include "ml/reward.h"

#include <assert.h>

double reward_format(const reward_input *in)
{
    assert(in && in->parsed);
    return in->parsed->well_formed ? 1.0 : 0.0;
}
