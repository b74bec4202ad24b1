/* mi_order.c -- the MI-order reward: does the explanation start from the
 * modality that carries the emotion?
 *
 *   dominant visual/audio/text:  1 if well formed and that block comes first,
 *                                0 if well formed and another comes first,
 *                               -1 if malformed;
 *   multimodal:                  0.5 for any well-formed order, -1 if malformed;
 *   unknown (-1, label-only data, no MI): 0, well formed or not.
 *
 * Why 0 for an unknown dominant modality even when malformed: the reward has
 * nothing to say about order there, and the form of the completion is the
 * format reward's to judge; keeping it 0 means a run that weights mi_order
 * on label-only data is not silently given a second format penalty. */
#include "ml/reward.h"

#include <assert.h>

double reward_mi_order(const reward_input *in)
{
    assert(in && in->parsed);
    const target_parsed *p = in->parsed;
    int dominant = in->dominant;

    if (dominant < 0 || dominant > MOD_MULTIMODAL)
        return 0.0;
    if (!p->well_formed)
        return -1.0;
    if (dominant == MOD_MULTIMODAL)
        return 0.5;
    return p->order[0] == dominant ? 1.0 : 0.0;
}
