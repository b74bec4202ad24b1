/* grounding.c -- the grounding reward (ours, beyond the paper): does each
 * description block describe the cue that modality actually carries?
 *
 * Among the description blocks whose modality has an annotated cue
 * (cue[m] >= 0), the share whose text -- the whole block, as reward_text
 * spells it -- the verifier reads as that cue's emotion (the arg-max rule of
 * reward_text_label).  A cue need not be the clip's label: a misleading
 * polite smile over a sad voice is grounded when the visual block says
 * happy.  An empty block describes nothing and counts as not grounded.
 *
 * 0 when the completion is malformed, when there is no verifier, and when no
 * modality is annotated.  That last 0 carries no information: on label-only
 * data (no cue annotations) every completion scores 0, so callers should not
 * weight grounding for such datasets.  It would move no GRPO advantage (the
 * same 0 for a whole group), but it would show as a reward of 0 in the
 * run's metrics, read as "never grounded" rather than "not measured". */
#include "ml/reward.h"

#include <assert.h>

double reward_grounding(const reward_input *in)
{
    assert(in && in->parsed);
    const target_parsed *p = in->parsed;
    int annotated = 0, grounded = 0;
    char text[REWARD_TEXT_MAX];

    if (!p->well_formed || !reward_has_verifier(in))
        return 0.0;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        target_span s = p->block[m];
        if (in->cue[m] < 0 || s.open < 0)
            continue;
        annotated++;
        if (reward_text(in, s.open + 1, s.close, text, sizeof text) > 0)
            grounded += reward_text_label(in, text) == in->cue[m];
    }
    return annotated > 0 ? (double)grounded / annotated : 0.0;
}
