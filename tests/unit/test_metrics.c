/* test_metrics.c -- the paper's evaluation: WAR, UAR, per-class recall, the
 * confusion matrix, format rate, the four bins, MI-order agreement and
 * cue grounding, on hand-made sets whose answers are worked out below. */
#include "check.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "spec/metrics.h"

enum { H = EMO_HAPPY, S = EMO_SAD, N = EMO_NEUTRAL, A = EMO_ANGRY, U = EMO_SURPRISE,
       F = EMO_FEAR, NONE = -1 };
enum { V = MOD_VISUAL, AU = MOD_AUDIO, T = MOD_TEXT, MM = MOD_MULTIMODAL };

/* Ten clips.  Fields: label, predicted, well_formed, implied (judge on
 * <think>), first_block, dominant, grounded, annotated.
 *
 *  #  true     pred     judge     bin  wf  first dom   mi-order    grounded
 *  1  happy    happy    happy     CC   1   vis   vis   agree       3/3
 *  2  happy    happy    sad       CI   1   vis   aud   disagree    1/3
 *  3  happy    sad      sad       WC   1   vis   multi (out)       0/0
 *  4  sad      sad      sad       CC   1   txt   txt   agree       2/3
 *  5  sad      (none)   sad       WI   0   aud   aud   (malformed) 0/0
 *  6  sad      angry    happy     WI   0   --    vis   (malformed) 0/0
 *  7  angry    angry    (no think)CI   1   vis   ??    (unknown)   0/0
 *  8  angry    angry    angry     CC   1   aud   aud   agree       0/0
 *  9  neutral  happy    happy     WC   1   aud   vis   disagree    0/2
 * 10  fear     surprise surprise  WC   1   vis   multi (out)       0/0
 *
 * Correct: 1 2 4 7 8 -> WAR 5/10 = 0.5.
 * Recall: happy 2/3, sad 1/3, angry 2/2, neutral 0/1, fear 0/1; surprise and
 * disgust have no clips -> UAR = (2/3 + 1/3 + 1 + 0 + 0) / 5 = 0.4.
 * Bins: CC 1 4 8 = 0.3; CI 2 7 = 0.2; WC 3 9 10 = 0.3; WI 5 6 = 0.2.
 * Format: 8/10.  MI order: clips 1 2 4 8 9 count, 1 4 8 agree -> 3/5 = 0.6.
 * Grounding: (3 + 1 + 2 + 0) / (3 + 3 + 3 + 2) = 6/11. */
static const metrics_clip hand_made[10] = {
    {H, H, 1, H, V, V, 3, 3},
    {H, H, 1, S, V, AU, 1, 3},
    {H, S, 1, S, V, MM, 0, 0},
    {S, S, 1, S, T, T, 2, 3},
    {S, NONE, 0, S, AU, AU, 0, 0},
    {S, A, 0, H, -1, V, 0, 0},
    {A, A, 1, NONE, V, -1, 0, 0},
    {A, A, 1, A, AU, AU, 0, 0},
    {N, H, 1, H, AU, V, 0, 2},
    {F, U, 1, U, V, MM, 0, 0},
};

/* metrics-1.1: every number of the hand-made set. */
TEST(metrics_hand_made_set)
{
    metrics m;
    migr_err err = {{0}};

    CHECK_MSG(metrics_compute(hand_made, 10, &m, &err) == 0, "%s", err.msg);
    CHECK_INT(10, m.n);
    CHECK_NEAR(0.5, m.war, 1e-12);
    CHECK_NEAR(0.4, m.uar, 1e-12);
    CHECK_NEAR(2.0 / 3, m.recall[EMO_HAPPY], 1e-12);
    CHECK_NEAR(1.0 / 3, m.recall[EMO_SAD], 1e-12);
    CHECK_NEAR(0.0, m.recall[EMO_NEUTRAL], 0);
    CHECK_NEAR(1.0, m.recall[EMO_ANGRY], 0);
    CHECK_NEAR(0.0, m.recall[EMO_FEAR], 0);
    CHECK(isnan(m.recall[EMO_SURPRISE]));
    CHECK(isnan(m.recall[EMO_DISGUST]));
    CHECK_NEAR(0.8, m.format_rate, 1e-12);
    CHECK_NEAR(0.3, m.correct_consistent, 1e-12);
    CHECK_NEAR(0.2, m.correct_inconsistent, 1e-12);
    CHECK_NEAR(0.3, m.wrong_consistent, 1e-12);
    CHECK_NEAR(0.2, m.wrong_inconsistent, 1e-12);
    CHECK_NEAR(1.0, m.correct_consistent + m.correct_inconsistent + m.wrong_consistent +
                        m.wrong_inconsistent, 1e-12);
    CHECK_INT(5, m.mi_order_clips);
    CHECK_INT(3, m.mi_order_agree);
    CHECK_NEAR(0.6, m.mi_order_agreement, 1e-12);
    CHECK_INT(6, m.grounded);
    CHECK_INT(11, m.annotated);
    CHECK_NEAR(6.0 / 11, m.grounding, 1e-12);
}

/* metrics-1.2: the confusion matrix, rows true, columns predicted, the
 * missing answer in its own column. */
TEST(metrics_confusion_matrix)
{
    metrics m;
    migr_err err = {{0}};
    static const long want[EMOTION_COUNT][EMOTION_COUNT + 1] = {
        /*            H  S  N  A  U  D  F  none */
        [EMO_HAPPY] = {2, 1, 0, 0, 0, 0, 0, 0},
        [EMO_SAD] = {0, 1, 0, 1, 0, 0, 0, 1},
        [EMO_NEUTRAL] = {1, 0, 0, 0, 0, 0, 0, 0},
        [EMO_ANGRY] = {0, 0, 0, 2, 0, 0, 0, 0},
        [EMO_FEAR] = {0, 0, 0, 0, 1, 0, 0, 0},
    };

    CHECK_MSG(metrics_compute(hand_made, 10, &m, &err) == 0, "%s", err.msg);
    for (int t = 0; t < EMOTION_COUNT; t++)
        for (int p = 0; p <= METRICS_NONE; p++)
            CHECK_MSG(want[t][p] == m.confusion[t][p], "confusion[%s][%s]: expected %ld, got %ld",
                      emotion_name(t), p < EMOTION_COUNT ? emotion_name(p) : "none", want[t][p],
                      m.confusion[t][p]);
}

/* metrics-1.3: a clip without an answer is wrong and inconsistent, even
 * when its think implies the true label. */
TEST(metrics_missing_answers)
{
    metrics m;
    migr_err err = {{0}};
    const metrics_clip clips[3] = {
        {S, NONE, 0, S, -1, V, 0, 0},
        {H, NONE, 0, NONE, -1, AU, 0, 0},
        {H, H, 1, H, AU, AU, 0, 0},
    };

    CHECK(!metrics_consistent(&clips[0]));
    CHECK(metrics_consistent(&clips[2]));
    CHECK_MSG(metrics_compute(clips, 3, &m, &err) == 0, "%s", err.msg);
    CHECK_NEAR(1.0 / 3, m.war, 1e-12);
    CHECK_NEAR(0.0, m.recall[EMO_SAD], 0);
    CHECK_NEAR(0.5, m.recall[EMO_HAPPY], 1e-12);
    CHECK_NEAR(0.25, m.uar, 1e-12);   /* (0.5 + 0) / 2 */
    CHECK_INT(1, m.confusion[EMO_SAD][METRICS_NONE]);
    CHECK_INT(1, m.confusion[EMO_HAPPY][METRICS_NONE]);
    CHECK_NEAR(2.0 / 3, m.wrong_inconsistent, 1e-12);
    CHECK_NEAR(1.0 / 3, m.correct_consistent, 1e-12);
    CHECK_NEAR(0.0, m.wrong_consistent, 0);
    CHECK_NEAR(1.0 / 3, m.format_rate, 1e-12);
    /* only the well-formed clip counts for MI order */
    CHECK_INT(1, m.mi_order_clips);
    CHECK_NEAR(1.0, m.mi_order_agreement, 0);
    CHECK(isnan(m.grounding));
}

/* metrics-1.4: classes without clips are left out of UAR and read null in
 * JSON; a set of one class has UAR = that class's recall. */
TEST(metrics_empty_classes)
{
    metrics m;
    migr_err err = {{0}};
    const metrics_clip clips[4] = {
        {F, F, 1, F, V, V, 0, 0},
        {F, F, 1, F, V, V, 0, 0},
        {F, F, 1, F, V, V, 0, 0},
        {F, S, 1, S, V, V, 0, 0},
    };

    CHECK_MSG(metrics_compute(clips, 4, &m, &err) == 0, "%s", err.msg);
    CHECK_NEAR(0.75, m.war, 1e-12);
    CHECK_NEAR(0.75, m.uar, 1e-12);
    for (int e = 0; e < EMOTION_COUNT; e++)
        if (e != EMO_FEAR)
            CHECK_MSG(isnan(m.recall[e]), "recall of %s: expected NaN, got %g", emotion_name(e),
                      m.recall[e]);
    json_t *j = metrics_to_json(&m);
    CHECK(j);
    json_t *r = json_object_get(j, "per_class_recall");
    int ok = json_is_null(json_object_get(r, "sad")) && json_is_null(json_object_get(r, "happy")) &&
             json_is_real(json_object_get(r, "fear")) &&
             fabs(json_real_value(json_object_get(r, "fear")) - 0.75) < 1e-12 &&
             json_object_size(r) == EMOTION_COUNT;
    json_decref(j);
    CHECK(ok);
}

/* metrics-1.5: with no clip that has a dominant modality, MI-order
 * agreement is undefined: NaN, and null in JSON (not 0, which would read as
 * "never agrees"). */
TEST(metrics_all_multimodal)
{
    metrics m;
    migr_err err = {{0}};
    const metrics_clip clips[3] = {
        {H, H, 1, H, V, MM, 0, 0},
        {S, S, 1, S, AU, MM, 0, 0},
        {A, A, 1, A, T, -1, 0, 0},
    };

    CHECK_MSG(metrics_compute(clips, 3, &m, &err) == 0, "%s", err.msg);
    CHECK_INT(0, m.mi_order_clips);
    CHECK(isnan(m.mi_order_agreement));
    CHECK_NEAR(1.0, m.war, 0);
    json_t *j = metrics_to_json(&m);
    CHECK(j);
    int ok = json_is_null(json_object_get(j, "mi_order_agreement")) &&
             json_integer_value(json_object_get(j, "mi_order_clips")) == 0 &&
             json_is_null(json_object_get(j, "grounding")) &&
             json_real_value(json_object_get(j, "war")) == 1.0;
    json_decref(j);
    CHECK(ok);
}

/* metrics-1.6: an empty set has every rate undefined. */
TEST(metrics_empty_set)
{
    metrics m;
    migr_err err = {{0}};

    CHECK(metrics_compute(NULL, 0, &m, &err) == 0);
    CHECK_INT(0, m.n);
    CHECK(isnan(m.war) && isnan(m.uar) && isnan(m.format_rate));
    CHECK(isnan(m.correct_consistent) && isnan(m.wrong_inconsistent));
    json_t *j = metrics_to_json(&m);
    CHECK(j);
    static const char *const nulls[] = {"war", "uar", "format_rate", "correct_consistent",
                                        "correct_inconsistent", "wrong_consistent",
                                        "wrong_inconsistent", "mi_order_agreement", "grounding"};
    int bad = -1;
    for (int i = 0; i < (int)(sizeof nulls / sizeof nulls[0]); i++)
        if (!json_is_null(json_object_get(j, nulls[i])))
            bad = i;
    long n = (long)json_integer_value(json_object_get(j, "n"));
    json_decref(j);
    CHECK_MSG(bad < 0, "%s: expected null", nulls[bad < 0 ? 0 : bad]);
    CHECK_INT(0, n);
}

/* metrics-2.1: the JSON object has the documented keys and values. */
TEST(metrics_json)
{
    metrics m;
    migr_err err = {{0}};

    CHECK_MSG(metrics_compute(hand_made, 10, &m, &err) == 0, "%s", err.msg);
    json_t *j = metrics_to_json(&m);
    CHECK(j);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *conf = json_object_get(j, "confusion"), *cols = json_object_get(j, "confusion_columns");
    json_t *sad = json_array_get(conf, EMO_SAD);
    int ok = json_integer_value(json_object_get(j, "n")) == 10 &&
             fabs(json_real_value(json_object_get(j, "war")) - 0.5) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "uar")) - 0.4) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "format_rate")) - 0.8) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "correct_inconsistent")) - 0.2) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "correct_consistent")) - 0.3) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "wrong_consistent")) - 0.3) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "wrong_inconsistent")) - 0.2) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "mi_order_agreement")) - 0.6) < 1e-12 &&
             fabs(json_real_value(json_object_get(j, "grounding")) - 6.0 / 11) < 1e-12 &&
             json_array_size(conf) == EMOTION_COUNT && json_array_size(sad) == EMOTION_COUNT + 1 &&
             json_integer_value(json_array_get(sad, METRICS_NONE)) == 1 &&
             json_integer_value(json_array_get(sad, EMO_ANGRY)) == 1 &&
             json_array_size(cols) == EMOTION_COUNT + 1 &&
             strcmp(json_string_value(json_array_get(cols, METRICS_NONE)), "none") == 0 &&
             strcmp(json_string_value(json_array_get(cols, 0)), "happy") == 0 &&
             fabs(json_real_value(json_object_get(json_object_get(j, "per_class_recall"), "sad")) -
                  1.0 / 3) < 1e-12;
    json_decref(j);
    CHECK_MSG(ok, "unexpected JSON: %s", text ? text : "(null)");
    free(text);
}

/* metrics-2.2: shards merged give the metrics of the whole set. */
TEST(metrics_merge_equals_whole)
{
    metrics whole, a, b;
    migr_err err = {{0}};

    CHECK(metrics_compute(hand_made, 10, &whole, &err) == 0);
    CHECK(metrics_compute(hand_made, 4, &a, &err) == 0);
    CHECK(metrics_compute(hand_made + 4, 6, &b, &err) == 0);
    metrics_merge(&a, &b);
    metrics_finish(&a);
    CHECK(memcmp(a.confusion, whole.confusion, sizeof a.confusion) == 0);
    CHECK(memcmp(a.bins, whole.bins, sizeof a.bins) == 0);
    CHECK_NEAR(whole.war, a.war, 0);
    CHECK_NEAR(whole.uar, a.uar, 0);
    CHECK_NEAR(whole.mi_order_agreement, a.mi_order_agreement, 0);
    CHECK_NEAR(whole.grounding, a.grounding, 0);
    CHECK_NEAR(whole.format_rate, a.format_rate, 0);
}

/* metrics-3.1: out-of-range records are refused and leave the counts as
 * they were. */
TEST(metrics_rejects_bad_clips)
{
    metrics m;
    migr_err err = {{0}};
    static const struct {
        metrics_clip clip;
        const char *expect;
    } bad[] = {
        {{EMOTION_COUNT, H, 1, H, V, V, 0, 0}, "label 7"},
        {{-1, H, 1, H, V, V, 0, 0}, "label -1"},
        {{H, 9, 1, H, V, V, 0, 0}, "predicted 9"},
        {{H, -2, 1, H, V, V, 0, 0}, "predicted -2"},
        {{H, H, 1, 7, V, V, 0, 0}, "implied 7"},
        {{H, H, 1, H, MM, V, 0, 0}, "first_block 3"},
        {{H, H, 1, H, V, 4, 0, 0}, "dominant 4"},
        {{H, H, 1, H, V, V, 3, 2}, "grounded 3 of 2"},
        {{H, H, 1, H, V, V, 0, -1}, "grounded 0 of -1"},
    };

    metrics_init(&m);
    CHECK(metrics_add(&m, &hand_made[0], &err) == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK(metrics_add(&m, &bad[i].clip, &err) < 0);
        CHECK_MSG(strstr(err.msg, bad[i].expect), "expected \"%s\" in \"%s\"", bad[i].expect,
                  err.msg);
    }
    CHECK_INT(1, m.n);
    CHECK_INT(1, m.confusion[EMO_HAPPY][EMO_HAPPY]);
    metrics_clip clips[2] = {hand_made[0], bad[2].clip};
    CHECK(metrics_compute(clips, 2, &m, &err) < 0);
    CHECK_MSG(strstr(err.msg, "evaluation clip 1"), "got \"%s\"", err.msg);
}
