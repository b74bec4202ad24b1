/* instruments.c -- the "instruments" task: the GRPO reward verifier and the
 * evaluation judge of a dataset, trained on disjoint halves of its clips
 * with different features (ml/textclf.h), so that we never grade with the
 * instrument we optimized.
 *
 *   verifier  word n-grams; the sentences of half A: each clue sentence
 *             labelled with its modality's annotated cue emotion (the clip's
 *             label where the annotation records no cue), and each sentence
 *             of the <think> with the clip's label.  The consistency reward
 *             reads think sentences, so the verifier learns their wording
 *             too: trained on clues alone it never met the word "neutral"
 *             (a neutral clue says "relaxed", "even", "no clear emotion"),
 *             read "so the emotion is neutral." as happy and a think that
 *             says "shows no clear emotion" -- the think's wording for a
 *             blank cue under another label -- as neutral, and GRPO learned
 *             to write the latter for neutral clips.
 *   judge     character n-grams; the <think> texts of half B, labelled with
 *             the clip's label
 *
 * Each is scored on the other half's texts of its own kind. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "ml/textclf.h"
#include "worker/tasks.h"

enum { RNG_HALVES = 3, MAX_SENTENCES = 64 };

/* A growing list of (text, label); texts are owned. */
typedef struct corpus {
    char **text;
    int *label;
    int n, cap;
} corpus;

static int corpus_add(corpus *c, const char *text, size_t len, int label)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        char **t = realloc(c->text, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        c->text = t;
        int *l = realloc(c->label, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        c->label = l;
        c->cap = cap;
    }
    if (!(c->text[c->n] = strndup(text, len)))
        return -1;
    c->label[c->n++] = label;
    return 0;
}

static void corpus_free(corpus *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->text[i]);
    free(c->text);
    free(c->label);
    memset(c, 0, sizeof *c);
}

/* The emotion of modality m's cue in an annotation, or fallback. */
static int cue_of(json_t *ann, int m, int fallback)
{
    json_t *cue = json_object_get(json_object_get(ann, "cues"), modality_name(m));
    const char *name = json_string_value(json_object_get(cue, "emotion"));
    int e = name ? emotion_parse(name) : -1;
    return e >= 0 ? e : fallback;
}

/* Add each sentence of text to c, labelled label. */
static int add_sentences(corpus *c, const char *text, int label)
{
    text_span spans[MAX_SENTENCES];
    int n = text ? text_sentences(text, spans, MAX_SENTENCES) : 0;
    for (int s = 0; s < n && s < MAX_SENTENCES; s++)
        if (corpus_add(c, text + spans[s].start, spans[s].len, label) < 0)
            return -1;
    return 0;
}

/* Add one clip's texts: its clue and think sentences to sentences, its
 * think to thinks. */
static int add_clip(json_t *clip, corpus *sentences, corpus *thinks)
{
    json_t *ann = json_object_get(clip, "annotation");
    int label = emotion_parse(json_string_value(json_object_get(clip, "label")));
    static const char *keys[MODALITY_COUNT] = {"vis", "aud", "txt"};

    if (label < 0)
        return 0;
    for (int m = 0; m < MODALITY_COUNT; m++)
        if (add_sentences(sentences, json_string_value(json_object_get(ann, keys[m])), cue_of(ann, m, label)) < 0)
            return -1;
    const char *think = json_string_value(json_object_get(ann, "think"));
    if (add_sentences(sentences, think, label) < 0 || (think && corpus_add(thinks, think, strlen(think), label) < 0))
        return -1;
    return 0;
}

/* Train one instrument on `train`, score it on `test`, save it at rel. */
static int train_one(const store *st, int features, uint64_t seed, const corpus *train, const corpus *test,
                     const char *rel, double *accuracy, migr_err *err)
{
    char path[PATH_MAX];
    textclf_config cfg = textclf_defaults(features);
    cfg.seed = seed;
    if (train->n == 0)
        return migr_errf(err, "no annotated texts to train the %s on", features == TEXTCLF_WORDS ? "verifier" : "judge");
    textclf *clf = textclf_train(&cfg, (const char *const *)train->text, train->label, train->n, err);
    if (!clf)
        return -1;
    *accuracy = test->n ? textclf_accuracy(clf, (const char *const *)test->text, test->label, test->n) : 0;
    int rc = store_path(st, rel, path, sizeof path, err) < 0 ? -1 : textclf_save(clf, path, err);
    textclf_free(&clf);
    return rc;
}

json_t *task_instruments(const task_ctx *ctx, json_t *params, migr_err *err)
{
    const store *st = ctx->st;
    const char *input_rel = json_string_value(json_object_get(params, "input"));
    const char *verifier = json_string_value(json_object_get(params, "verifier"));
    const char *judge = json_string_value(json_object_get(params, "judge"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(params, "seed"));
    corpus sentences[2] = {{0}}, thinks[2] = {{0}};
    uint8_t *text;
    size_t len;
    json_t *input = NULL, *out = NULL;
    double vacc = 0, jacc = 0;

    if (!input_rel || !verifier || !judge) {
        migr_errf(err, "instruments task parameters need input, verifier and judge");
        return NULL;
    }
    if (store_get(st, input_rel, &text, &len, NULL, err) < 0)
        return NULL;
    input = json_loadb((const char *)text, len, 0, NULL);
    free(text);
    json_t *clips = json_object_get(input, "clips");
    size_t n = json_array_size(clips), i;
    int *half = malloc((n ? n : 1) * sizeof *half);
    if (!half) {
        migr_errf(err, "out of memory");
        goto end;
    }
    /* Halves from a seeded shuffle: A = 0 (verifier), B = 1 (judge). */
    for (i = 0; i < n; i++)
        half[i] = (int)(i % 2);
    uint64_t rng = rng_stream(seed, 0, RNG_HALVES);
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)rng_below(&rng, (int)k);
        int tmp = half[k - 1];
        half[k - 1] = half[j];
        half[j] = tmp;
    }
    for (i = 0; i < n; i++)
        if (add_clip(json_array_get(clips, i), &sentences[half[i]], &thinks[half[i]]) < 0) {
            migr_errf(err, "out of memory");
            goto end;
        }
    if (train_one(st, TEXTCLF_WORDS, seed, &sentences[0], &sentences[1], verifier, &vacc, err) < 0 ||
        train_one(st, TEXTCLF_CHARS, seed + 1, &thinks[1], &thinks[0], judge, &jacc, err) < 0)
        goto end;
    out = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f}", "verifier", verifier, "judge", judge,
                    "verifier_sentences", sentences[0].n, "judge_texts", thinks[1].n,
                    "verifier_accuracy", vacc, "judge_accuracy", jacc);
end:
    free(half);
    for (int h = 0; h < 2; h++) {
        corpus_free(&sentences[h]);
        corpus_free(&thinks[h]);
    }
    json_decref(input);
    return out;
}
