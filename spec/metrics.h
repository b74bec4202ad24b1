/* metrics.h -- the paper's evaluation of generated explanations.
 *
 * One record per test clip (metrics_clip) goes in; out come:
 *
 *   war          weighted average recall = accuracy over all clips; a clip
 *                without an answer counts as wrong.
 *   uar          unweighted average recall: the mean of per-class recall over
 *                the classes present among the true labels.
 *   recall[e]    per-class recall; undefined (NaN) for a class with no clips.
 *   confusion    rows the true label, columns the predicted one, plus a last
 *                column METRICS_NONE for clips without an answer.
 *   format_rate  share of clips whose explanation is well formed.
 *   four bins    prediction correct/wrong x explanation consistent/
 *                inconsistent, each a fraction of ALL clips (they sum to 1).
 *                An explanation is *consistent* when the emotion it implies
 *                -- the judge's label for the <think> text alone, the judge
 *                never seeing the answer -- equals the model's predicted
 *                answer.  A clip without an answer is wrong and inconsistent
 *                (there is nothing to agree with); a clip without a <think>
 *                (implied = -1) is inconsistent.
 *   mi_order_agreement
 *                among clips with a dominant modality (not multimodal, not
 *                unknown) whose explanation is well formed: the share whose
 *                first description block is the dominant modality.  Malformed
 *                explanations are left out here; format_rate reports them.
 *   grounding    cue-grounding rate: grounded blocks / annotated blocks,
 *                summed over clips.
 *
 * Rates are fractions in [0, 1], not percentages.  A rate whose denominator
 * is zero (no clips; no clip with a dominant modality, e.g. an all-multimodal
 * set; no annotated blocks; a class with no clips) is undefined: NaN in the
 * struct, null in JSON.
 *
 * Counts are kept beside the rates, so shards of a test set can be scored
 * apart and merged (metrics_merge) before metrics_finish. */
#ifndef MIGR_METRICS_H
#define MIGR_METRICS_H

#include <jansson.h>

#include "common/emotion.h"
#include "common/error.h"

enum { METRICS_NONE = EMOTION_COUNT };   /* confusion column of "no answer" */

/* What the evaluation knows about one clip. */
typedef struct metrics_clip {
    int label;          /* the true emotion */
    int predicted;      /* the answer's emotion; -1 when there is no answer */
    int well_formed;    /* 1 if the explanation's tags are well formed (target_parsed) */
    int implied;        /* the judge's emotion for the <think> text; -1 when there is none */
    int first_block;    /* modality of the first description block; -1 when none */
    int dominant;       /* the clip's dominant modality, MOD_MULTIMODAL, or -1 (unknown) */
    int grounded;       /* description blocks whose cue matches the annotated cue */
    int annotated;      /* description blocks with an annotated cue (grounded <= annotated) */
} metrics_clip;

typedef struct metrics {
    /* counts */
    long n;                                             /* clips */
    long confusion[EMOTION_COUNT][EMOTION_COUNT + 1];   /* [true][predicted or METRICS_NONE] */
    long well_formed;
    long bins[2][2];                 /* [correct][consistent] */
    long mi_order_clips, mi_order_agree;
    long grounded, annotated;

    /* rates, set by metrics_finish; NaN when undefined */
    double war, uar, format_rate;
    double recall[EMOTION_COUNT];
    double correct_consistent, correct_inconsistent, wrong_consistent, wrong_inconsistent;
    double mi_order_agreement;
    double grounding;
} metrics;

/* Whether a clip's explanation is consistent, by the definition above. */
int metrics_consistent(const metrics_clip *clip);

/* Zero counts, undefined rates. */
void metrics_init(metrics *m);
/* Count one clip.  -1 with err (and m unchanged) when a field is out of
 * range: label not an emotion, predicted/implied neither -1 nor an emotion,
 * first_block neither -1 nor a modality, dominant neither -1, a modality nor
 * MOD_MULTIMODAL, grounded/annotated negative or grounded > annotated. */
int metrics_add(metrics *m, const metrics_clip *clip, migr_err *err);
/* Add src's counts to dst (shards of one test set). */
void metrics_merge(metrics *dst, const metrics *src);
/* Compute the rates from the counts. */
void metrics_finish(metrics *m);

/* init, add each of the n clips, finish.  -1 with err naming the first bad
 * clip. */
int metrics_compute(const metrics_clip *clips, int n, metrics *out, migr_err *err);

/* The finished metrics as a JSON object (a new reference; NULL on no
 * memory):
 *
 *   {"n", "war", "uar", "format_rate",
 *    "correct_consistent", "correct_inconsistent", "wrong_consistent",
 *    "wrong_inconsistent", "mi_order_agreement", "mi_order_clips",
 *    "grounding", "grounded_blocks", "annotated_blocks",
 *    "per_class_recall": {"happy": r, ...},     (every emotion; null if no clips)
 *    "confusion": [[...8 counts...] x 7],       (rows true in emotion order,
 *    "confusion_columns": ["happy", ..., "fear", "none"]}   columns as named)
 *
 * Undefined rates are null. */
json_t *metrics_to_json(const metrics *m);

#endif
