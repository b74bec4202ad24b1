/* test_textclf.c -- the hashed n-gram emotion classifier (verifier and
 * judge): learning a toy set, generalizing to unseen combinations,
 * determinism, the file format, feature kinds, and sentence splitting. */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "ml/textclf.h"

/* Five cue words per emotion, in common/emotion.h order. */
static const char *const cues[EMOTION_COUNT][5] = {
    {"joy", "smiling", "laughter", "delighted", "cheerful"},
    {"tears", "grief", "sobbing", "mourning", "gloomy"},
    {"calm", "flat", "plain", "steady", "composed"},
    {"rage", "shouting", "furious", "glaring", "clenched"},
    {"astonished", "gasp", "shocked", "startled", "unexpected"},
    {"revolted", "grimace", "nausea", "repulsed", "sneer"},
    {"terror", "trembling", "panic", "frightened", "dread"},
};

enum { TOY_PER_CLASS = 8, HELD_PER_CLASS = 4, TOY_MAX = EMOTION_COUNT * TOY_PER_CLASS };

typedef struct toy {
    char text[TOY_MAX][96];
    const char *ptr[TOY_MAX];
    int label[TOY_MAX];
    int n;
} toy;

/* Training: adjacent cue pairs (0,1) (1,2) (2,3) (3,4), each in two
 * sentence frames shared by every class. */
static void toy_train(toy *t)
{
    static const char *const frames[2] = {"The person shows %s and %s.",
                                          "Her voice carries %s, then %s!"};
    t->n = 0;
    for (int e = 0; e < EMOTION_COUNT; e++)
        for (int k = 0; k < 4; k++)
            for (int f = 0; f < 2; f++) {
                snprintf(t->text[t->n], sizeof t->text[0], frames[f], cues[e][k], cues[e][k + 1]);
                t->ptr[t->n] = t->text[t->n];
                t->label[t->n++] = e;
            }
}

/* Held out: cue pairs never seen together, in a frame never seen. */
static void toy_held_out(toy *t)
{
    static const int pairs[HELD_PER_CLASS][2] = {{0, 2}, {1, 3}, {0, 4}, {2, 4}};
    t->n = 0;
    for (int e = 0; e < EMOTION_COUNT; e++)
        for (int k = 0; k < HELD_PER_CLASS; k++) {
            snprintf(t->text[t->n], sizeof t->text[0], "We notice %s with some %s",
                     cues[e][pairs[k][0]], cues[e][pairs[k][1]]);
            t->ptr[t->n] = t->text[t->n];
            t->label[t->n++] = e;
        }
}

static textclf_config small_config(int features)
{
    textclf_config c = textclf_defaults(features);
    c.hash_bits = 12;
    c.epochs = 60;
    c.lr = 0.1;
    return c;
}

static textclf *train_toy(const textclf_config *cfg, migr_err *err)
{
    static toy t;
    toy_train(&t);
    return textclf_train(cfg, t.ptr, t.label, t.n, err);
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", check_tmpdir(), name);
}

/* textclf-1.1: both feature kinds fit the toy set exactly and read the
 * emotion of unseen cue combinations in an unseen frame. */
TEST(textclf_learns_toy_set_and_generalizes)
{
    static toy train, held;
    migr_err err = {{0}};
    static const int kinds[2] = {TEXTCLF_WORDS, TEXTCLF_CHARS};

    toy_train(&train);
    toy_held_out(&held);
    for (int k = 0; k < 2; k++) {
        textclf_config cfg = small_config(kinds[k]);
        textclf *c = textclf_train(&cfg, train.ptr, train.label, train.n, &err);
        CHECK_MSG(c, "kind %d: %s", kinds[k], err.msg);
        double acc_train = textclf_accuracy(c, train.ptr, train.label, train.n);
        double acc_held = textclf_accuracy(c, held.ptr, held.label, held.n);
        for (int i = 0; i < held.n; i++)
            if (textclf_predict(c, held.ptr[i]) != held.label[i])
                fprintf(stderr, "    kind %d: '%s' -> %s\n", kinds[k], held.ptr[i],
                        emotion_name(textclf_predict(c, held.ptr[i])));
        CHECK_INT(train.n, textclf_trained_on(c));
        textclf_free(&c);
        CHECK(c == NULL);
        CHECK_NEAR(1.0, acc_train, 0);
        CHECK_NEAR(1.0, acc_held, 0);
    }
}

/* textclf-1.2: probabilities are a distribution, also for texts with no
 * features at all (scored by the biases). */
TEST(textclf_probs_sum_to_one)
{
    migr_err err = {{0}};
    textclf_config cfg = small_config(TEXTCLF_WORDS);
    textclf *c = train_toy(&cfg, &err);
    CHECK_MSG(c, "%s", err.msg);
    static const char *const texts[] = {"tears of grief", "", "...!?", "unknown words only"};
    for (int i = 0; i < 5; i++) {
        double p[EMOTION_COUNT], sum = 0;
        textclf_probs(c, i < 4 ? texts[i] : NULL, p);
        for (int e = 0; e < EMOTION_COUNT; e++) {
            CHECK(p[e] > 0 && p[e] < 1);
            sum += p[e];
        }
        CHECK_NEAR(1.0, sum, 1e-12);
    }
    CHECK_INT(EMO_SAD, textclf_predict(c, "tears of grief"));
    textclf_free(&c);
}

static int read_all(const char *path, uint8_t **data, size_t *len)
{
    migr_err err;
    return fs_read_file(path, data, len, &err);
}

/* textclf-2.1: the same seed gives the same bytes; with mini-batches the
 * seed sets the order, so another seed gives other weights. */
TEST(textclf_same_seed_same_bytes)
{
    migr_err err = {{0}};
    char p1[512], p2[512], p3[512];
    uint8_t *a = NULL, *b = NULL, *d = NULL;
    size_t la, lb, ld;

    textclf_config cfg = small_config(TEXTCLF_WORDS);
    cfg.batch = 5;
    cfg.epochs = 10;
    cfg.seed = 42;
    textclf *c1 = train_toy(&cfg, &err), *c2 = train_toy(&cfg, &err);
    cfg.seed = 43;
    textclf *c3 = train_toy(&cfg, &err);
    CHECK_MSG(c1 && c2 && c3, "%s", err.msg);
    tmp_path(p1, sizeof p1, "a.tclf");
    tmp_path(p2, sizeof p2, "b.tclf");
    tmp_path(p3, sizeof p3, "c.tclf");
    CHECK_MSG(textclf_save(c1, p1, &err) == 0, "%s", err.msg);
    CHECK_MSG(textclf_save(c2, p2, &err) == 0, "%s", err.msg);
    CHECK_MSG(textclf_save(c3, p3, &err) == 0, "%s", err.msg);
    textclf_free(&c1);
    textclf_free(&c2);
    textclf_free(&c3);
    CHECK(read_all(p1, &a, &la) == 0 && read_all(p2, &b, &lb) == 0 && read_all(p3, &d, &ld) == 0);
    CHECK_INT(TEXTCLF_HEADER_BYTES + 8 * ((1 << 12) * EMOTION_COUNT + EMOTION_COUNT) +
                  TEXTCLF_SUM_BYTES, la);
    int same = la == lb && memcmp(a, b, la) == 0;
    int differs = la != ld || memcmp(a, d, la) != 0;
    free(a);
    free(b);
    free(d);
    CHECK_MSG(same, "two trainings with seed 42 wrote different files");
    CHECK_MSG(differs, "seeds 42 and 43 wrote the same file");
}

/* textclf-2.2: a saved classifier loads with its config and scores every
 * text with bit-identical probabilities. */
TEST(textclf_save_load_round_trip)
{
    migr_err err = {{0}};
    char path[512];
    static toy held;
    static const int kinds[2] = {TEXTCLF_WORDS, TEXTCLF_CHARS};

    toy_held_out(&held);
    tmp_path(path, sizeof path, "clf.tclf");
    for (int k = 0; k < 2; k++) {
        textclf_config cfg = small_config(kinds[k]);
        cfg.l2 = 1e-3;
        textclf *c = train_toy(&cfg, &err);
        CHECK_MSG(c, "%s", err.msg);
        CHECK_MSG(textclf_save(c, path, &err) == 0, "%s", err.msg);
        textclf *l = textclf_load(path, &err);
        CHECK_MSG(l, "%s", err.msg);
        const textclf_config *lc = textclf_config_of(l);
        CHECK_INT(cfg.features, lc->features);
        CHECK_INT(cfg.hash_bits, lc->hash_bits);
        CHECK_INT(cfg.epochs, lc->epochs);
        CHECK(cfg.lr == lc->lr && cfg.l2 == lc->l2);
        CHECK(cfg.seed == lc->seed && cfg.hash_seed == lc->hash_seed);
        CHECK_INT(textclf_trained_on(c), textclf_trained_on(l));
        for (int i = 0; i < held.n; i++) {
            double p[EMOTION_COUNT], q[EMOTION_COUNT];
            textclf_probs(c, held.ptr[i], p);
            textclf_probs(l, held.ptr[i], q);
            CHECK_MSG(memcmp(p, q, sizeof p) == 0, "kind %d: '%s' scores differently after load",
                      kinds[k], held.ptr[i]);
        }
        textclf_free(&c);
        textclf_free(&l);
    }
}

/* Write bytes to name in the scratch directory; its path comes back. */
static int write_variant(const char *name, const uint8_t *data, size_t len, char *path,
                         size_t cap)
{
    migr_err err;
    const void *bufs[1] = {data};
    tmp_path(path, cap, name);
    return fs_write_atomic(path, bufs, &len, 1, &err);
}

/* textclf-2.3: truncated, over-long, corrupted, foreign and future files
 * are refused, each with a message saying which. */
TEST(textclf_refuses_damaged_files)
{
    migr_err err = {{0}};
    char path[512], bad[512];
    uint8_t *data = NULL;
    size_t len;

    textclf_config cfg = small_config(TEXTCLF_WORDS);
    cfg.epochs = 3;
    textclf *c = train_toy(&cfg, &err);
    CHECK_MSG(c, "%s", err.msg);
    tmp_path(path, sizeof path, "good.tclf");
    CHECK_MSG(textclf_save(c, path, &err) == 0, "%s", err.msg);
    textclf_free(&c);
    CHECK(read_all(path, &data, &len) == 0);
    uint8_t *copy = malloc(len + 1);
    CHECK(copy);

    static const struct {
        const char *name;
        size_t keep;          /* bytes kept (SIZE_MAX: all, +1 extra) */
        long flip;            /* byte to flip, or -1 */
        const char *expect;
    } cases[] = {
        {"empty", 0, -1, "truncated"},
        {"half-magic", 4, -1, "truncated"},
        {"header-only", TEXTCLF_HEADER_BYTES, -1, "truncated"},
        {"one-short", (size_t)-2, -1, "truncated"},
        {"one-long", (size_t)-1, -1, "longer than its header"},
        {"weight", (size_t)-3, TEXTCLF_HEADER_BYTES + 100, "checksum"},
        {"checksum", (size_t)-3, -2, "checksum"},
        {"magic", (size_t)-3, 0, "MIGRTCLF"},
        {"version", (size_t)-3, 8, "version"},
        {"bits", (size_t)-3, 16, "hash_bits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].keep == (size_t)-1   ? len + 1
                   : cases[i].keep == (size_t)-2 ? len - 1
                   : cases[i].keep == (size_t)-3 ? len
                                                 : cases[i].keep;
        memcpy(copy, data, len);
        copy[len] = 0;
        if (cases[i].flip == -2)
            copy[len - 1] ^= 0x01;
        else if (cases[i].flip >= 0)
            copy[cases[i].flip] ^= 0x40;
        CHECK(write_variant(cases[i].name, copy, n, bad, sizeof bad) == 0);
        err.msg[0] = '\0';
        textclf *l = textclf_load(bad, &err);
        int refused = l == NULL;
        textclf_free(&l);
        CHECK_MSG(refused, "%s: a damaged file was accepted", cases[i].name);
        CHECK_MSG(strstr(err.msg, cases[i].expect), "%s: expected \"%s\" in \"%s\"",
                  cases[i].name, cases[i].expect, err.msg);
    }
    free(copy);
    free(data);
    CHECK(textclf_load("/nonexistent/x.tclf", &err) == NULL);
}

/* textclf-3.1: word features -- unigrams and bigrams, case-blind,
 * punctuation dropped, counts summed, unit norm. */
TEST(textclf_word_features)
{
    uint32_t idx[64], idx2[64];
    double val[64], val2[64], norm = 0;
    textclf_config cfg = textclf_defaults(TEXTCLF_WORDS);

    /* the, sad (x2), man; "the sad", "sad sad", "sad man" */
    int n = textclf_featurize(&cfg, "The sad, sad man.", idx, val, 64);
    CHECK_INT(6, n);
    for (int i = 0; i < n; i++) {
        norm += val[i] * val[i];
        if (i > 0)
            CHECK(idx[i] > idx[i - 1]);
        CHECK(idx[i] < (1u << cfg.hash_bits));
    }
    CHECK_NEAR(1.0, norm, 1e-12);
    int twice = 0;   /* "sad" counted twice: |value| = 2 / sqrt(4 + 5) */
    for (int i = 0; i < n; i++)
        twice += fabs(fabs(val[i]) - 2 / sqrt(9.0)) < 1e-12;
    CHECK_INT(1, twice);
    CHECK_INT(6, textclf_featurize(&cfg, "THE SAD SAD MAN", idx2, val2, 64));
    CHECK(memcmp(idx, idx2, sizeof(uint32_t) * 6) == 0);
    CHECK(memcmp(val, val2, sizeof(double) * 6) == 0);
    CHECK_INT(6, textclf_featurize(&cfg, "The sad, sad man.", NULL, NULL, 0));
    CHECK_INT(0, textclf_featurize(&cfg, " , . ! ", idx, val, 64));
    CHECK_INT(0, textclf_featurize(&cfg, NULL, idx, val, 64));
    CHECK_INT(1, textclf_featurize(&cfg, "sad", idx, val, 64));
    CHECK_NEAR(1.0, fabs(val[0]), 0);
}

/* textclf-3.2: character features -- 3..5-grams of the normalized text. */
TEST(textclf_char_features)
{
    uint32_t idx[64], idx2[64];
    double val[64], val2[64];
    textclf_config cfg = textclf_defaults(TEXTCLF_CHARS);

    /* " ab ": " ab", "ab ", " ab " */
    CHECK_INT(3, textclf_featurize(&cfg, "ab", idx, val, 64));
    /* case, punctuation and runs of spaces normalize away */
    int n = textclf_featurize(&cfg, "Ab!!  ,Cd", idx, val, 64);
    CHECK_INT(n, textclf_featurize(&cfg, "ab cd", idx2, val2, 64));
    CHECK(memcmp(idx, idx2, sizeof(uint32_t) * (size_t)n) == 0);
    /* " ab cd ": 5 3-grams, 4 4-grams, 3 5-grams */
    CHECK_INT(12, n);
    CHECK_INT(0, textclf_featurize(&cfg, "", idx, val, 64));
    CHECK_INT(0, textclf_featurize(&cfg, "?!", idx, val, 64));
}

static int same_indices(const textclf_config *a, const textclf_config *b, const char *text)
{
    uint32_t ia[256], ib[256];
    double va[256], vb[256];
    int na = textclf_featurize(a, text, ia, va, 256), nb = textclf_featurize(b, text, ib, vb, 256);
    return na == nb && memcmp(ia, ib, sizeof(uint32_t) * (size_t)na) == 0;
}

/* textclf-3.3: the verifier and the judge see the same text through
 * different features: other n-grams, other buckets, other weights. */
TEST(textclf_feature_kinds_differ)
{
    migr_err err = {{0}};
    const char *text = "Tears of grief roll down a gloomy face.";
    textclf_config words = small_config(TEXTCLF_WORDS), chars = small_config(TEXTCLF_CHARS);
    textclf_config words_other_seed = words, chars_as_words = chars;

    CHECK(words.hash_seed != chars.hash_seed);
    CHECK(!same_indices(&words, &chars, text));
    /* the kind alone changes the hashing, even under one hash seed */
    chars_as_words.hash_seed = words.hash_seed;
    CHECK(!same_indices(&words, &chars_as_words, "sad"));
    words_other_seed.hash_seed ^= 1;
    CHECK(!same_indices(&words, &words_other_seed, text));
    CHECK(same_indices(&words, &words, text));

    char pw[512], pc[512];
    uint8_t *a = NULL, *b = NULL;
    size_t la, lb;
    textclf *cw = train_toy(&words, &err), *cc = train_toy(&chars, &err);
    CHECK_MSG(cw && cc, "%s", err.msg);
    tmp_path(pw, sizeof pw, "w.tclf");
    tmp_path(pc, sizeof pc, "c.tclf");
    CHECK(textclf_save(cw, pw, &err) == 0 && textclf_save(cc, pc, &err) == 0);
    CHECK_INT(EMO_SAD, textclf_predict(cw, text));
    CHECK_INT(EMO_SAD, textclf_predict(cc, text));
    textclf_free(&cw);
    textclf_free(&cc);
    CHECK(read_all(pw, &a, &la) == 0 && read_all(pc, &b, &lb) == 0);
    CHECK_INT(la, lb);
    int differ = memcmp(a + TEXTCLF_HEADER_BYTES, b + TEXTCLF_HEADER_BYTES,
                        la - TEXTCLF_HEADER_BYTES - TEXTCLF_SUM_BYTES) != 0;
    free(a);
    free(b);
    CHECK(differ);
}

/* textclf-4.1: bad arguments are refused with the reason. */
TEST(textclf_refuses_bad_training_input)
{
    migr_err err = {{0}};
    const char *texts[2] = {"joy", "tears"};
    int labels[2] = {EMO_HAPPY, EMO_SAD}, bad_labels[2] = {EMO_HAPPY, EMOTION_COUNT};
    const char *null_texts[2] = {"joy", NULL};
    textclf_config cfg = small_config(TEXTCLF_WORDS);

    CHECK(textclf_train(&cfg, texts, bad_labels, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "label 7 of text 1"), "got \"%s\"", err.msg);
    CHECK(textclf_train(&cfg, null_texts, labels, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "text 1 is NULL"), "got \"%s\"", err.msg);
    CHECK(textclf_train(&cfg, texts, labels, 0, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "at least one"), "got \"%s\"", err.msg);

    static const struct {
        const char *field;
        textclf_config cfg;
    } bad[] = {
        {"features", {.features = 3, .hash_bits = 12, .epochs = 1, .lr = 0.1}},
        {"hash_bits", {.features = TEXTCLF_WORDS, .hash_bits = 30, .epochs = 1, .lr = 0.1}},
        {"epochs", {.features = TEXTCLF_WORDS, .hash_bits = 12, .epochs = 0, .lr = 0.1}},
        {"batch",
         {.features = TEXTCLF_WORDS, .hash_bits = 12, .epochs = 1, .batch = -1, .lr = 0.1}},
        {"lr", {.features = TEXTCLF_WORDS, .hash_bits = 12, .epochs = 1, .lr = 0}},
        {"l2", {.features = TEXTCLF_WORDS, .hash_bits = 12, .epochs = 1, .lr = 0.1, .l2 = -1}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(textclf_train(&bad[i].cfg, texts, labels, 2, &err) == NULL);
        CHECK_MSG(strstr(err.msg, bad[i].field), "%s: got \"%s\"", bad[i].field, err.msg);
    }
    /* a single example and a batch larger than the set are fine */
    cfg.batch = 100;
    textclf *c = textclf_train(&cfg, texts, labels, 1, &err);
    CHECK_MSG(c, "%s", err.msg);
    CHECK_INT(EMO_HAPPY, textclf_predict(c, "joy"));
    textclf_free(&c);
}

/* Split text and compare the sentences with the expected ones. */
static int sentences_are(const char *text, const char *const *want, int nwant, char *why,
                         size_t cap)
{
    text_span s[16];
    int n = text_sentences(text, s, 16);
    if (n != nwant) {
        snprintf(why, cap, "'%s': expected %d sentences, got %d", text ? text : "(null)", nwant,
                 n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (strlen(want[i]) != s[i].len || memcmp(want[i], text + s[i].start, s[i].len) != 0) {
            snprintf(why, cap, "'%s': sentence %d: expected '%s', got '%.*s'", text, i, want[i],
                     (int)s[i].len, text + s[i].start);
            return 0;
        }
    return 1;
}

/* textclf-5.1: sentence splitting, edge cases included. */
TEST(text_sentences_edge_cases)
{
    char why[512];
    static const struct {
        const char *text;
        const char *want[4];
        int n;
    } cases[] = {
        {"She smiles. He frowns!", {"She smiles.", "He frowns!"}, 2},
        {"Wait... what?! Oh.", {"Wait...", "what?!", "Oh."}, 3},
        {"It cost 3.5 dollars. Done", {"It cost 3.5 dollars.", "Done"}, 2},
        {"  leading and trailing  ", {"leading and trailing"}, 1},
        {"He said \"no.\" Then he left.", {"He said \"no.\"", "Then he left."}, 2},
        {"the mouth turns down . the voice shakes .",
         {"the mouth turns down .", "the voice shakes ."}, 2},
        {"Sad.\nVery sad.\n", {"Sad.", "Very sad."}, 2},
        {"a.b.c", {"a.b.c"}, 1},
        {"Mr. Smith cries.", {"Mr.", "Smith cries."}, 2},
        {"... !! ?", {""}, 0},
        {"Calm. ... Still calm", {"Calm.", "Still calm"}, 2},
        {"", {""}, 0},
        {"   \t\n", {""}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(sentences_are(cases[i].text, cases[i].want, cases[i].n, why, sizeof why), "%s",
                  why);
    CHECK_INT(0, text_sentences(NULL, NULL, 0));

    /* counting without storing, and storing only the first cap */
    text_span one[1];
    CHECK_INT(3, text_sentences("A. B. C.", NULL, 0));
    CHECK_INT(3, text_sentences("A. B. C.", one, 1));
    CHECK_INT(0, (long long)one[0].start);
    CHECK_INT(2, (long long)one[0].len);
}
