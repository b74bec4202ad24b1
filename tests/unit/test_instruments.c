/* test_instruments.c -- the verifier and judge trained by the "instruments"
 * task, on annotations the synthetic generator writes. */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>

#include "common/store.h"
#include "spec/synth.h"
#include "ml/textclf.h"
#include "tests/unit/check.h"
#include "worker/tasks.h"

enum { TRAIN_CLIPS = 400, TEST_CLIPS = 400 };

static const uint64_t SEED = 17;

/* The annotation of a planned clip, as the coordinator hands it to the task. */
static json_t *clip_json(const synth_clip *c)
{
    json_t *cues = json_object();
    for (int m = 0; m < MODALITY_COUNT; m++)
        json_object_set_new(cues, modality_name(m),
                            json_pack("{s:s, s:f}", "emotion", emotion_name(c->cue[m].emotion), "strength",
                                      c->cue[m].strength));
    return json_pack("{s:s, s:{s:s, s:s, s:s, s:o, s:s, s:s}}", "label", emotion_name(c->label), "annotation",
                     "vis", c->clue[MOD_VISUAL], "aud", c->clue[MOD_AUDIO], "txt", c->clue[MOD_TEXT], "cues", cues,
                     "dominant", modality_name(c->dominant), "think", c->think);
}

/* Train the instruments on clips 0..TRAIN_CLIPS-1 of the default plan; the
 * verifier is the caller's. */
static textclf *train_verifier(const synth_config *cfg, migr_err *err)
{
    store st;
    char path[PATH_MAX];
    textclf *verifier = NULL;
    json_t *clips = json_array(), *params = NULL, *out = NULL;
    synth_clip c;

    for (int i = 0; i < TRAIN_CLIPS; i++) {
        synth_plan(cfg, SEED, i, &c);
        json_array_append_new(clips, clip_json(&c));
    }
    json_t *input = json_pack("{s:o}", "clips", clips);
    char *text = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    if (text && store_open(&st, check_tmpdir(), err) == 0 &&
        store_put(&st, "input.json", text, strlen(text), NULL, err) == 0) {
        params = json_pack("{s:s, s:s, s:s, s:I}", "input", "input.json", "verifier", "verifier.clf", "judge",
                           "judge.clf", "seed", (json_int_t)SEED);
        out = task_instruments(&(task_ctx){&st, 1}, params, err);
        if (out && store_path(&st, "verifier.clf", path, sizeof path, err) == 0)
            verifier = textclf_load(path, err);
    }
    free(text);
    json_decref(params);
    json_decref(out);
    return verifier;
}

/* The consistency reward reads think sentences with the verifier.  The
 * sentences that name the emotion -- the first ("... and sounds neutral.")
 * and the verdict ("... so the emotion is neutral.") -- must read as it, for
 * every label, on clips the instruments never saw.  Trained on clue sentences
 * alone the verifier had never met the word "neutral" and read neutral
 * thinks as other emotions. */
TEST(verifier_reads_the_thinks_emotion_naming_sentences_as_their_label)
{
    synth_config cfg;
    migr_err err = {0};
    synth_config_default(&cfg);
    textclf *v = train_verifier(&cfg, &err);
    CHECK_MSG(v != NULL, "training the instruments: %s", err.msg);

    int seen[EMOTION_COUNT] = {0}, read[EMOTION_COUNT] = {0};
    for (int i = TRAIN_CLIPS; i < TRAIN_CLIPS + TEST_CLIPS; i++) {
        synth_clip c;
        text_span s[8];
        synth_plan(&cfg, SEED, i, &c);
        int n = text_sentences(c.think, s, 8);
        if (n < 2 || n > 8)
            continue;
        char first[640], last[640];
        snprintf(first, sizeof first, "%.*s", (int)s[0].len, c.think + s[0].start);
        snprintf(last, sizeof last, "%.*s", (int)s[n - 1].len, c.think + s[n - 1].start);
        seen[c.label] += 2;
        read[c.label] += (textclf_predict(v, first) == c.label) + (textclf_predict(v, last) == c.label);
    }
    textclf_free(&v);
    for (int e = 0; e < EMOTION_COUNT; e++) {
        CHECK_MSG(seen[e] >= 20, "only %d %s sentences in %d clips: too few to judge", seen[e], emotion_name(e),
                  TEST_CLIPS);
        CHECK_MSG(read[e] >= 0.9 * seen[e], "the verifier reads %d of %d emotion-naming %s think sentences as %s",
                  read[e], seen[e], emotion_name(e), emotion_name(e));
    }
}

/* What GRPO learned to write for neutral clips when the verifier rewarded
 * it: the dominant clause without its emotion, and the wording the
 * annotations use for a blank cue under another label. */
TEST(verifier_does_not_read_a_think_that_drops_the_neutral_clause_as_neutral)
{
    synth_config cfg;
    migr_err err = {0};
    synth_config_default(&cfg);
    textclf *v = train_verifier(&cfg, &err);
    CHECK_MSG(v != NULL, "training the instruments: %s", err.msg);
    int got = textclf_predict(
        v, "the voice gives the clearest cue and the face shows no clear emotion , and the subtitle shows no "
           "clear emotion .");
    int neutral = textclf_predict(v, "the voice gives the clearest cue and sounds neutral .");
    textclf_free(&v);
    CHECK_MSG(got != EMO_NEUTRAL, "a think sentence that never says neutral reads as neutral");
    CHECK_INT(EMO_NEUTRAL, neutral);
}
