/* GRPO rewards: the registry, each reward's exact value on hand-written
 * completions (right, wrong, malformed, by dominant modality, with a stub
 * verifier), and weighted sets. */
#include "check.h"

#include <math.h>

#include "ml/reward.h"

/* Every word the completions below use. */
static const char *const corpus =
    "the voice is low . a polite smile . he says it is over ! is it over ? well , "
    "the low voice wins . it is sadness . the smile misleads . she shouts .";

static vocab *reward_vocab(void)
{
    migr_err err;
    vocab_builder *b = vocab_builder_new();
    if (!b)
        return NULL;
    vocab *v = NULL;
    if (vocab_builder_add_text(b, corpus, &err) == 0)
        v = vocab_builder_finish(b, 1, 0, &err);
    vocab_builder_free(&b);
    return v;
}

/* Encode a completion written as text: tags and label tokens ("<vis>",
 * "<sad>") by their spelling, everything else through the tokenizer; <eos>
 * appended.  Returns the length, or -1 if a "<...>" is not a fixed token or
 * cap is too small. */
static int encode(const vocab *v, const char *text, int *ids, int cap)
{
    int n = 0;
    char piece[1024];
    while (*text) {
        const char *lt = strchr(text, '<');
        size_t plain = lt ? (size_t)(lt - text) : strlen(text);
        if (plain >= sizeof piece)
            return -1;
        memcpy(piece, text, plain);
        piece[plain] = '\0';
        int k = vocab_encode(v, piece, ids + n, cap - n);
        if (k > cap - n)
            return -1;
        n += k;
        text += plain;
        if (!lt)
            break;
        const char *gt = strchr(lt, '>');
        if (!gt || (size_t)(gt - lt + 1) >= sizeof piece || n >= cap)
            return -1;
        memcpy(piece, lt, (size_t)(gt - lt + 1));
        piece[gt - lt + 1] = '\0';
        int id = vocab_id(v, piece);
        if (id == VOCAB_UNK || id >= VOCAB_FIRST_WORD)
            return -1;
        ids[n++] = id;
        text = gt + 1;
    }
    if (n >= cap)
        return -1;
    ids[n++] = VOCAB_EOS;
    return n;
}

/* ---- the stub verifier: a label by keyword ---- */

typedef struct stub_verifier {
    int calls;
    char seen[16][128];   /* the first 16 texts it was asked about */
} stub_verifier;

/* The label of the keyword that comes first in text; neutral without one. */
static int stub_label(void *ctx, const char *text)
{
    static const struct {
        const char *word;
        int label;
    } keywords[] = {
        {"smile", EMO_HAPPY}, {"low", EMO_SAD},       {"over", EMO_SAD},
        {"sadness", EMO_SAD}, {"shouts", EMO_ANGRY},
    };
    stub_verifier *sv = ctx;
    if (sv) {
        if (sv->calls < 16)
            snprintf(sv->seen[sv->calls], sizeof sv->seen[0], "%s", text);
        sv->calls++;
    }
    const char *first = NULL;
    int label = EMO_NEUTRAL;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        const char *at = strstr(text, keywords[k].word);
        if (at && (!first || at < first))
            first = at, label = keywords[k].label;
    }
    return label;
}

/* Probabilities whose arg-max is stub_label but never reach 0.5. */
static double stub_p(void *ctx, const char *sentence, int label)
{
    (void)ctx;
    return stub_label(NULL, sentence) == label ? 0.4 : 0.1;
}

/* ---- clips and completions ---- */

/* A sad clip whose voice carries the emotion; the face shows a polite smile. */
enum { CLIP_LABEL = EMO_SAD, CLIP_DOMINANT = MOD_AUDIO };

static const char *const perfect =
    "<aud> the voice is low . </aud> <vis> a polite smile . </vis> "
    "<txt> he says it is over ! </txt> <think> the low voice wins . it is sadness . </think> "
    "<answer> <sad> </answer>";
static const char *const wrong_answer =
    "<aud> the voice is low . </aud> <vis> a polite smile . </vis> "
    "<txt> he says it is over ! </txt> <think> the low voice wins . it is sadness . </think> "
    "<answer> <happy> </answer>";
static const char *const visual_first =
    "<vis> a polite smile . </vis> <aud> the voice is low . </aud> "
    "<txt> he says it is over ! </txt> <think> the smile misleads . the voice is low . </think> "
    "<answer> <sad> </answer>";

/* One parsed completion and its reward input, for the sad clip above. */
typedef struct completion {
    int ids[256];
    int n;
    target_parsed parsed;
    reward_input in;
    stub_verifier sv;
} completion;

/* Encode and parse text; dominant modality audio, no cues, the stub verifier. */
static int complete(completion *c, const vocab *v, const char *text)
{
    memset(c, 0, sizeof *c);
    c->n = encode(v, text, c->ids, 256);
    if (c->n < 0)
        return -1;
    target_parse(v, c->ids, c->n, &c->parsed);
    reward_input_init(&c->in, v, c->ids, c->n, &c->parsed, CLIP_LABEL);
    c->in.dominant = CLIP_DOMINANT;
    c->in.verifier = (reward_verifier){&c->sv, NULL, stub_label};
    return 0;
}

/* The five rewards of one completion, in table order. */
typedef struct scores {
    double accuracy, format, mi_order, consistency, grounding;
} scores;

/* In this order, one at a time (initializers are not sequenced), so that the
 * stub verifier sees consistency's sentences first. */
static scores score(const reward_input *in)
{
    scores s;
    s.accuracy = reward_accuracy(in);
    s.format = reward_format(in);
    s.mi_order = reward_mi_order(in);
    s.consistency = reward_consistency(in);
    s.grounding = reward_grounding(in);
    return s;
}

#define CHECK_SCORES(want, in)                                                            \
    do {                                                                                  \
        scores w_ = (want), g_ = score(in);                                               \
        CHECK_MSG(w_.accuracy == g_.accuracy && w_.format == g_.format &&                 \
                      w_.mi_order == g_.mi_order && w_.consistency == g_.consistency &&   \
                      w_.grounding == g_.grounding,                                       \
                  "expected accuracy %g format %g mi_order %g consistency %g "            \
                  "grounding %g, got %g %g %g %g %g",                                     \
                  w_.accuracy, w_.format, w_.mi_order, w_.consistency, w_.grounding,      \
                  g_.accuracy, g_.format, g_.mi_order, g_.consistency, g_.grounding);     \
    } while (0)

static void annotate_all(reward_input *in)
{
    in->cue[MOD_VISUAL] = EMO_HAPPY;   /* the misleading smile */
    in->cue[MOD_AUDIO] = EMO_SAD;
    in->cue[MOD_TEXT] = EMO_SAD;
}

/* ---- the registry ---- */

TEST(reward_registry_finds_every_reward_by_name)
{
    static const char *const want[] = {"accuracy", "format", "mi_order", "consistency",
                                       "grounding"};
    const char *const *names = reward_names();
    int n = 0;
    for (; names[n]; n++) {
        CHECK_MSG(n < 5, "more than 5 rewards: %s", names[n]);
        CHECK_STR(want[n], names[n]);
        const reward_def *def = reward_find(names[n]);
        CHECK_INT(n, reward_index(names[n]));
        CHECK(def != NULL);
        CHECK_STR(want[n], def->name);
        CHECK(def->fn != NULL);
        CHECK(def->description && def->description[0]);
    }
    CHECK_INT(5, n);
    CHECK(reward_find("accuracy")->fn == reward_accuracy);
    CHECK(reward_find("grounding")->fn == reward_grounding);
    CHECK(reward_find("Accuracy") == NULL);
    CHECK(reward_find("") == NULL);
    CHECK(reward_find("acc") == NULL);
    CHECK_INT(-1, reward_index("Accuracy"));
    CHECK_INT(-1, reward_index(""));
}

TEST(reward_input_init_marks_the_unknowns)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    reward_input in;
    reward_input_init(&in, v, c.ids, c.n, &c.parsed, EMO_SAD);
    vocab_free(&v);
    CHECK_INT(-1, in.dominant);
    for (int m = 0; m < MODALITY_COUNT; m++)
        CHECK_INT(-1, in.cue[m]);
    CHECK(!reward_has_verifier(&in));
    CHECK_INT(EMO_SAD, in.label);
    CHECK_INT(c.n, in.n);
}

/* ---- each reward on the sad clip ---- */

TEST(reward_perfect_completion_scores_one_everywhere)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    annotate_all(&c.in);
    CHECK_MSG(c.parsed.well_formed, "parse: %s", c.parsed.why);
    CHECK_SCORES(((scores){1, 1, 1, 1, 1}), &c.in);
    vocab_free(&v);
}

TEST(reward_wrong_answer_loses_accuracy_only)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, wrong_answer) == 0);
    annotate_all(&c.in);
    CHECK_INT(EMO_HAPPY, c.parsed.label);
    /* Consistency reads the reasoning against the true label, not the answer. */
    CHECK_SCORES(((scores){0, 1, 1, 1, 1}), &c.in);
    vocab_free(&v);
}

TEST(reward_missing_answer_scores_zero_accuracy_and_is_malformed)
{
    static const char *const missing[] = {
        /* an empty answer */
        "<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
        "<think> it is sadness . </think> <answer> </answer>",
        /* no answer block */
        "<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
        "<think> it is sadness . </think>",
        /* two labels */
        "<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
        "<think> it is sadness . </think> <answer> <sad> <happy> </answer>",
    };
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        completion c;
        CHECK(complete(&c, v, missing[i]) == 0);
        annotate_all(&c.in);
        CHECK_MSG(!c.parsed.well_formed && c.parsed.label == -1, "case %zu: well_formed %d label %d",
                  i, c.parsed.well_formed, c.parsed.label);
        CHECK_SCORES(((scores){0, 0, -1, 0, 0}), &c.in);
    }
    vocab_free(&v);
}

TEST(reward_malformed_completions_keep_accuracy_and_lose_the_rest)
{
    static const struct {
        const char *text;
        double accuracy;   /* the answer is judged apart from form */
    } cases[] = {
        /* missing close tag: </think> */
        {"<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<think> it is sadness . <answer> <sad> </answer>",
         1},
        /* missing close tag: </aud> */
        {"<aud> the voice is low . <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<think> it is sadness . </think> <answer> <sad> </answer>",
         1},
        /* a duplicated block */
        {"<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<vis> a polite smile . </vis> <think> it is sadness . </think> <answer> <sad> </answer>",
         1},
        /* the answer before think */
        {"<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<answer> <sad> </answer> <think> it is sadness . </think>",
         1},
        /* a label outside the answer */
        {"<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<think> it is sadness . </think> <sad> <answer> <sad> </answer>",
         1},
        /* words after the answer */
        {"<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
         "<think> it is sadness . </think> <answer> <sad> </answer> it is over",
         1},
        /* words outside any block, wrong answer */
        {"<aud> the voice is low . </aud> well <vis> a polite smile . </vis> "
         "<txt> it is over . </txt> <think> it is sadness . </think> <answer> <angry> </answer>",
         0},
        /* a block missing */
        {"<aud> the voice is low . </aud> <txt> it is over . </txt> "
         "<think> it is sadness . </think> <answer> <sad> </answer>",
         1},
    };
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        completion c;
        CHECK(complete(&c, v, cases[i].text) == 0);
        annotate_all(&c.in);
        CHECK_MSG(!c.parsed.well_formed, "case %zu parsed as well formed", i);
        scores s = score(&c.in);
        CHECK_MSG(s.accuracy == cases[i].accuracy && s.format == 0 && s.mi_order == -1 &&
                      s.consistency == 0 && s.grounding == 0,
                  "case %zu (%s): got accuracy %g format %g mi_order %g consistency %g "
                  "grounding %g",
                  i, c.parsed.why, s.accuracy, s.format, s.mi_order, s.consistency, s.grounding);
    }
    vocab_free(&v);
}

TEST(reward_empty_completion_scores_nothing)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    int eos = VOCAB_EOS;
    target_parse(v, &eos, 0, &c.parsed);
    reward_input_init(&c.in, v, &eos, 0, &c.parsed, CLIP_LABEL);
    c.in.dominant = CLIP_DOMINANT;
    c.in.verifier = (reward_verifier){&c.sv, NULL, stub_label};
    annotate_all(&c.in);
    CHECK_SCORES(((scores){0, 0, -1, 0, 0}), &c.in);
    /* <eos> alone is as empty. */
    target_parse(v, &eos, 1, &c.parsed);
    reward_input_init(&c.in, v, &eos, 1, &c.parsed, CLIP_LABEL);
    c.in.dominant = CLIP_DOMINANT;
    CHECK_SCORES(((scores){0, 0, -1, 0, 0}), &c.in);
    CHECK_INT(0, c.sv.calls);
    vocab_free(&v);
}

TEST(reward_accuracy_is_zero_for_a_label_that_is_not_an_emotion)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    c.in.label = -1;
    CHECK(reward_accuracy(&c.in) == 0);
    CHECK(reward_consistency(&c.in) == 0);
    vocab_free(&v);
}

/* ---- mi_order ---- */

TEST(reward_mi_order_by_dominant_modality_and_form)
{
    static const char *const malformed =
        "<aud> the voice is low . </aud> <think> it is sadness . </think> <answer> <sad> </answer>";
    static const struct {
        int dominant;
        double audio_first, visual_first, malformed;
    } rows[] = {
        {MOD_AUDIO, 1, 0, -1},        {MOD_VISUAL, 0, 1, -1}, {MOD_TEXT, 0, 0, -1},
        {MOD_MULTIMODAL, 0.5, 0.5, -1}, {-1, 0, 0, 0},
    };
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion a, b, m;
    CHECK(complete(&a, v, perfect) == 0);
    CHECK(complete(&b, v, visual_first) == 0);
    CHECK(complete(&m, v, malformed) == 0);
    CHECK(a.parsed.well_formed && b.parsed.well_formed && !m.parsed.well_formed);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        a.in.dominant = b.in.dominant = m.in.dominant = rows[i].dominant;
        double got[3] = {reward_mi_order(&a.in), reward_mi_order(&b.in), reward_mi_order(&m.in)};
        CHECK_MSG(got[0] == rows[i].audio_first && got[1] == rows[i].visual_first &&
                      got[2] == rows[i].malformed,
                  "dominant %d: expected %g %g %g, got %g %g %g", rows[i].dominant,
                  rows[i].audio_first, rows[i].visual_first, rows[i].malformed, got[0], got[1],
                  got[2]);
    }
    vocab_free(&v);
}

TEST(reward_non_dominant_first_block_scores_zero_order_and_reads_the_dominant_block)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, visual_first) == 0);
    annotate_all(&c.in);
    /* Consistency: the audio block ("the voice is low ." sad) and think ("the
     * smile misleads ." happy, "the voice is low ." sad): 2 of 3. */
    CHECK_SCORES(((scores){1, 1, 0, 2.0 / 3.0, 1}), &c.in);
    CHECK_INT(3 + 3, c.sv.calls);   /* 3 sentences, 3 blocks */
    CHECK_STR("the voice is low .", c.sv.seen[0]);
    CHECK_STR("the smile misleads .", c.sv.seen[1]);
    CHECK_STR("the voice is low .", c.sv.seen[2]);
    vocab_free(&v);
}

TEST(reward_multimodal_clip_takes_any_order_and_reads_the_first_block)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, visual_first) == 0);
    annotate_all(&c.in);
    c.in.dominant = MOD_MULTIMODAL;
    /* The first block ("a polite smile ." happy) and think (happy, sad): 1 of 3. */
    CHECK_SCORES(((scores){1, 1, 0.5, 1.0 / 3.0, 1}), &c.in);
    CHECK_STR("a polite smile .", c.sv.seen[0]);

    CHECK(complete(&c, v, perfect) == 0);
    c.in.dominant = MOD_MULTIMODAL;
    CHECK_SCORES(((scores){1, 1, 0.5, 1, 0}), &c.in);
    vocab_free(&v);
}

TEST(reward_unknown_dominant_modality_scores_zero_order_and_reads_the_first_block)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, visual_first) == 0);
    c.in.dominant = -1;
    CHECK_SCORES(((scores){1, 1, 0, 1.0 / 3.0, 0}), &c.in);
    CHECK(complete(&c, v, perfect) == 0);
    c.in.dominant = -1;
    CHECK_SCORES(((scores){1, 1, 0, 1, 0}), &c.in);
    vocab_free(&v);
}

/* ---- consistency ---- */

TEST(reward_consistency_splits_sentences_on_marks_within_blocks)
{
    /* Text dominant.  The text block holds "he says it is over !", "is it
     * over ?", "well , ." (neutral), a lone "." (no word: not a sentence) and
     * "it is over" (no mark, still a sentence, ending with its block); think
     * holds "it is sadness .".  4 of 5. */
    static const char *const text =
        "<txt> he says it is over ! is it over ? well , . . it is over </txt> "
        "<vis> a polite smile . </vis> <aud> the voice is low . </aud> "
        "<think> it is sadness . </think> <answer> <sad> </answer>";
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, text) == 0);
    CHECK_MSG(c.parsed.well_formed, "parse: %s", c.parsed.why);
    c.in.dominant = MOD_TEXT;
    CHECK_NEAR(0.8, reward_consistency(&c.in), 1e-12);
    CHECK_INT(5, c.sv.calls);
    CHECK_STR("he says it is over !", c.sv.seen[0]);
    CHECK_STR("is it over ?", c.sv.seen[1]);
    CHECK_STR("well , .", c.sv.seen[2]);
    CHECK_STR("it is over", c.sv.seen[3]);
    CHECK_STR("it is sadness .", c.sv.seen[4]);
    CHECK(reward_consistency(&c.in) == 0.8);   /* the same value again */
    vocab_free(&v);
}

TEST(reward_consistency_uses_the_arg_max_not_a_half_threshold)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, visual_first) == 0);
    /* Only sentence_p, and every probability below 0.5: the arg-max rule
     * still finds 2 of 3 sentences sad. */
    c.in.verifier = (reward_verifier){NULL, stub_p, NULL};
    CHECK(reward_has_verifier(&c.in));
    CHECK_NEAR(2.0 / 3.0, reward_consistency(&c.in), 1e-12);
    CHECK_INT(EMO_HAPPY, reward_text_label(&c.in, "a polite smile ."));
    CHECK_INT(EMO_NEUTRAL, reward_text_label(&c.in, "well ."));
    vocab_free(&v);
}

TEST(reward_consistency_is_zero_without_verifier_or_sentences)
{
    static const char *const wordless =
        "<aud> . </aud> <vis> a polite smile . </vis> <txt> it is over . </txt> "
        "<think> , . ! </think> <answer> <sad> </answer>";
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    c.in.verifier = (reward_verifier){NULL, NULL, NULL};
    CHECK(!reward_has_verifier(&c.in));
    CHECK_INT(-1, reward_text_label(&c.in, "the voice is low ."));
    CHECK(reward_consistency(&c.in) == 0);

    CHECK(complete(&c, v, wordless) == 0);
    CHECK_MSG(c.parsed.well_formed, "parse: %s", c.parsed.why);
    CHECK(reward_consistency(&c.in) == 0);
    CHECK_INT(0, c.sv.calls);
    vocab_free(&v);
}

/* ---- grounding ---- */

TEST(reward_grounding_counts_only_annotated_modalities)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    /* Visual annotated happy (the block says smile: grounded), audio
     * annotated angry (the block says low: sad, not grounded), text not
     * annotated: 1 of 2. */
    c.in.cue[MOD_VISUAL] = EMO_HAPPY;
    c.in.cue[MOD_AUDIO] = EMO_ANGRY;
    CHECK(reward_grounding(&c.in) == 0.5);
    CHECK_INT(2, c.sv.calls);
    CHECK_STR("a polite smile .", c.sv.seen[0]);   /* blocks in modality order */
    CHECK_STR("the voice is low .", c.sv.seen[1]);

    /* Only text annotated, and right. */
    c.in.cue[MOD_VISUAL] = c.in.cue[MOD_AUDIO] = -1;
    c.in.cue[MOD_TEXT] = EMO_SAD;
    CHECK(reward_grounding(&c.in) == 1);
    /* A misleading cue is grounded when the block describes it, whatever the label. */
    c.in.cue[MOD_TEXT] = -1;
    c.in.cue[MOD_VISUAL] = EMO_HAPPY;
    CHECK(reward_grounding(&c.in) == 1);

    /* No annotations: 0, as on label-only data. */
    c.in.cue[MOD_VISUAL] = -1;
    CHECK(reward_grounding(&c.in) == 0);
    /* No verifier: 0. */
    annotate_all(&c.in);
    c.in.verifier = (reward_verifier){NULL, NULL, NULL};
    CHECK(reward_grounding(&c.in) == 0);
    vocab_free(&v);
}

TEST(reward_grounding_counts_an_empty_annotated_block_as_not_grounded)
{
    static const char *const empty_text =
        "<aud> the voice is low . </aud> <vis> a polite smile . </vis> <txt> </txt> "
        "<think> it is sadness . </think> <answer> <sad> </answer>";
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, empty_text) == 0);
    CHECK_MSG(c.parsed.well_formed, "parse: %s", c.parsed.why);
    annotate_all(&c.in);
    CHECK_NEAR(2.0 / 3.0, reward_grounding(&c.in), 1e-12);
    CHECK_INT(2, c.sv.calls);   /* the empty block is not read */
    vocab_free(&v);
}

/* ---- text for the verifier ---- */

TEST(reward_text_cuts_at_whole_tokens)
{
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    completion c;
    CHECK(complete(&c, v, perfect) == 0);
    target_span aud = c.parsed.block[MOD_AUDIO];
    char buf[REWARD_TEXT_MAX];
    CHECK_INT(5, reward_text(&c.in, aud.open + 1, aud.close, buf, sizeof buf));
    CHECK_STR("the voice is low .", buf);
    /* "the voice is low ." needs 19 bytes with its NUL; 18 holds 4 tokens. */
    CHECK_INT(5, reward_text(&c.in, aud.open + 1, aud.close, buf, 19));
    CHECK_INT(4, reward_text(&c.in, aud.open + 1, aud.close, buf, 18));
    CHECK_STR("the voice is low", buf);
    CHECK_INT(0, reward_text(&c.in, aud.open + 1, aud.close, buf, 3));
    CHECK_STR("", buf);
    CHECK_INT(0, reward_text(&c.in, aud.open + 1, aud.open + 1, buf, sizeof buf));
    CHECK_STR("", buf);
    vocab_free(&v);
}

/* ---- weighted sets ---- */

TEST(reward_set_sums_weighted_rewards_in_config_order)
{
    static const reward_weight list[] = {{"mi_order", 2}, {"accuracy", 1}, {"format", 0.5},
                                         {"grounding", 0}};
    vocab *v = reward_vocab();
    CHECK(v != NULL);
    reward_set set;
    migr_err err;
    CHECK_MSG(reward_set_init(&set, list, 4, &err) == 0, "%s", err.msg);
    CHECK_INT(4, set.n);
    CHECK_STR("mi_order", set.def[0]->name);
    CHECK_STR("grounding", set.def[3]->name);

    completion c;
    double per[REWARD_SET_MAX];
    CHECK(complete(&c, v, visual_first) == 0);   /* order 0, accuracy 1, format 1 */
    annotate_all(&c.in);
    CHECK(reward_set_score(&set, &c.in, per) == 2 * 0 + 1 * 1 + 0.5 * 1 + 0 * 1);
    CHECK(per[0] == 0 && per[1] == 1 && per[2] == 1 && per[3] == 1);

    CHECK(complete(&c, v, perfect) == 0);
    CHECK(reward_set_score(&set, &c.in, NULL) == 2 * 1 + 1 + 0.5);

    /* Malformed with a right answer: 2 * -1 + 1 + 0. */
    CHECK(complete(&c, v,
                   "<aud> the voice is low . </aud> <think> it is sadness . </think> "
                   "<answer> <sad> </answer>") == 0);
    CHECK(reward_set_score(&set, &c.in, per) == -1);
    CHECK(per[0] == -1 && per[1] == 1 && per[2] == 0 && per[3] == 0);

    /* The baseline (R1-Omni): accuracy + format. */
    static const reward_weight baseline[] = {{"accuracy", 1}, {"format", 1}};
    CHECK_MSG(reward_set_init(&set, baseline, 2, &err) == 0, "%s", err.msg);
    CHECK(complete(&c, v, wrong_answer) == 0);
    CHECK(reward_set_score(&set, &c.in, per) == 1);
    vocab_free(&v);
}

TEST(reward_set_refuses_unknown_duplicate_and_empty_lists)
{
    static const struct {
        reward_weight list[3];
        int n;
        const char *want[2];
    } cases[] = {
        {{{"accuracy", 1}, {"acuracy", 1}},
         2,
         {"rewards[1]: unknown reward \"acuracy\"",
          "known rewards: accuracy, format, mi_order, consistency, grounding"}},
        {{{"Format", 1}}, 1, {"unknown reward \"Format\"", "known rewards: accuracy,"}},
        {{{"format", 1}, {"accuracy", 1}, {"format", 2}},
         3,
         {"rewards[2]: \"format\" is already rewards[0]", "once"}},
        {{{"format", NAN}}, 1, {"rewards[0]: the weight of \"format\" is not a finite", ""}},
        {{{"format", INFINITY}}, 1, {"not a finite number", ""}},
        {{{"format", 1}}, 0, {"the list is empty", "accuracy, format, mi_order"}},
    };
    static const reward_weight good[] = {{"consistency", 1}};
    reward_set set;
    migr_err err, check_err;
    CHECK_MSG(reward_list_check(good, 1, &err) == 0, "%s", err.msg);
    CHECK_MSG(reward_set_init(&set, good, 1, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_MSG(reward_set_init(&set, cases[i].list, cases[i].n, &err) == -1,
                  "case %zu accepted", i);
        for (int k = 0; k < 2; k++)
            CHECK_MSG(strstr(err.msg, cases[i].want[k]), "case %zu: expected \"%s\" in \"%s\"", i,
                      cases[i].want[k], err.msg);
        /* The registry's check (what migrd runs) refuses it the same way. */
        CHECK_MSG(reward_list_check(cases[i].list, cases[i].n, &check_err) == -1,
                  "case %zu: reward_list_check accepted it", i);
        CHECK_STR(err.msg, check_err.msg);
        /* A refused list leaves the set as it was. */
        CHECK_INT(1, set.n);
        CHECK_STR("consistency", set.def[0]->name);
    }
}
