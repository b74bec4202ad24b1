/* consistency.c -- the consistency reward: does the reasoning the answer
 * rests on express the true label?
 *
 * The share of the sentences of (the dominant modality's block + think) that
 * the verifier reads as the clip's label.
 *
 *   - Which block: the dominant modality's, wherever it stands.  For a
 *     multimodal clip, and for one whose dominant modality is unknown, the
 *     block the completion put first: with no modality privileged, the
 *     reasoning starts from the model's own choice, and that is where drift
 *     begins.
 *   - Sentences: the block's and then think's word tokens, split after each
 *     ". ! ?" token (a mark is part of the sentence it ends); the text after
 *     the last mark of a block is a sentence too.  Sentences never run across
 *     blocks.  A piece with no word in it (". ." or a lone ",") is not a
 *     sentence.  Each is handed to the verifier as reward_text spells it:
 *     "the voice is low ."
 *   - "Assigns the true label": the verifier's arg-max label equals it
 *     (reward_text_label: sentence_label, else the arg-max of sentence_p),
 *     not sentence_p >= 0.5.  Over seven labels a sentence can be the
 *     verifier's clear favourite for a label below 0.5; the arg-max is also
 *     how the evaluation's judge decides, and how grounding reads blocks.
 *   - 0 when the completion is malformed, there is no verifier, the label is
 *     not an emotion, or there are no sentences. */
#include "ml/reward.h"

#include <assert.h>
#include <string.h>

typedef struct tally {
    int sentences, agreeing;
} tally;

static int is_mark(const char *word, const char *marks)
{
    return word && word[0] && !word[1] && strchr(marks, word[0]);
}

/* Score the sentence ids[from..to-1] if it holds a word. */
static void score_sentence(const reward_input *in, int from, int to, tally *t)
{
    char text[REWARD_TEXT_MAX];
    int words = 0;
    for (int i = from; i < to; i++)
        words += !is_mark(vocab_word(in->vocab, in->ids[i]), ".,!?");
    if (words == 0)
        return;
    reward_text(in, from, to, text, sizeof text);
    t->sentences++;
    t->agreeing += reward_text_label(in, text) == in->label;
}

/* Split the words of span s into sentences and score each. */
static void score_span(const reward_input *in, target_span s, tally *t)
{
    assert(s.open >= 0 && s.close > s.open && s.close <= in->n);
    int start = s.open + 1;
    for (int i = start; i < s.close; i++) {
        if (is_mark(vocab_word(in->vocab, in->ids[i]), ".!?")) {
            score_sentence(in, start, i + 1, t);
            start = i + 1;
        }
    }
    score_sentence(in, start, s.close, t);
}

double reward_consistency(const reward_input *in)
{
    assert(in && in->parsed);
    const target_parsed *p = in->parsed;
    tally t = {0, 0};

    if (!p->well_formed || !reward_has_verifier(in) || in->label < 0 ||
        in->label >= EMOTION_COUNT)
        return 0.0;
    int block = in->dominant >= 0 && in->dominant < MODALITY_COUNT ? in->dominant : p->order[0];
    score_span(in, p->block[block], &t);
    score_span(in, p->think, &t);
    return t.sentences > 0 ? (double)t.agreeing / t.sentences : 0.0;
}
