/* The vocabulary: tokenizer, fixed ids, word order, lookup, encoding, file. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/fs.h"
#include "common/store.h"
#include "ml/vocab.h"

/* The tokens of text joined by '|', into out. */
static const char *tokens_of(const char *text, char *out, size_t cap)
{
    char word[VOCAB_MAX_WORD + 1];
    size_t o = 0;
    out[0] = '\0';
    while (vocab_next_token(&text, word) > 0)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "|" : "", word);
    return out;
}

static vocab *build(const char *const *texts, int n, int min_count, int max_size, migr_err *err)
{
    vocab_builder *b = vocab_builder_new();
    if (!b)
        return NULL;
    for (int i = 0; i < n; i++)
        if (vocab_builder_add_text(b, texts[i], err) < 0) {
            vocab_builder_free(&b);
            return NULL;
        }
    vocab *v = vocab_builder_finish(b, min_count, max_size, err);
    vocab_builder_free(&b);
    return v;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* The fixed header as a file would hold it. */
static const char header[] =
    "<pad>\n<unk>\n<bos>\n<eos>\n<vis>\n</vis>\n<aud>\n</aud>\n<txt>\n</txt>\n<think>\n</think>\n"
    "<answer>\n</answer>\n<happy>\n<sad>\n<neutral>\n<angry>\n<surprise>\n<disgust>\n<fear>\n";

TEST(vocab_tokenizer_lowercases_and_splits_off_punctuation)
{
    char out[256];
    CHECK_STR("hello|,|world|!|it's|3pm|?|.|.|.", tokens_of("Hello, WORLD! It's 3PM?...", out, sizeof out));
    CHECK_STR("", tokens_of("", out, sizeof out));
    CHECK_STR("", tokens_of("  \t\n-- ;: ", out, sizeof out));
}

TEST(vocab_tokenizer_keeps_only_inner_apostrophes)
{
    char out[256];
    CHECK_STR("tis|the|dogs|rock'n'roll|don''t",
              tokens_of("'tis the dogs' rock'n'roll '' ' don''t", out, sizeof out));
    /* U+2019 reads as an apostrophe; other non-ASCII bytes separate. */
    CHECK_STR("don't|caf|s", tokens_of("Don\xE2\x80\x99t caf\xC3\xA9s", out, sizeof out));
}

TEST(vocab_tokenizer_separates_on_everything_else)
{
    char out[256];
    CHECK_STR("a|b|c|vis|d|sad|e|f", tokens_of("a-b_c<vis>d\"<sad>\"e\r\nf", out, sizeof out));
}

TEST(vocab_tokenizer_reports_an_overlong_word_as_one_token)
{
    char text[200], word[VOCAB_MAX_WORD + 1];
    memset(text, 'x', 100);
    strcpy(text + 100, " ok");
    const char *p = text;
    CHECK_INT(100, vocab_next_token(&p, word));
    CHECK_INT(VOCAB_MAX_WORD, strlen(word));
    CHECK_INT(2, vocab_next_token(&p, word));
    CHECK_STR("ok", word);
    CHECK_INT(0, vocab_next_token(&p, word));
}

TEST(vocab_fixed_ids_are_the_documented_ones)
{
    migr_err err;
    vocab *v = build(NULL, 0, 1, 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    CHECK_INT(VOCAB_FIRST_WORD, vocab_size(v));
    CHECK_INT(21, VOCAB_FIRST_WORD);
    const char *want[] = {"<pad>", "<unk>", "<bos>", "<eos>", "<vis>", "</vis>", "<aud>",
                          "</aud>", "<txt>", "</txt>", "<think>", "</think>", "<answer>",
                          "</answer>"};
    for (int i = 0; i < 14; i++) {
        CHECK_STR(want[i], vocab_word(v, i));
        CHECK_INT(i, vocab_id(v, want[i]));
    }
    for (int e = 0; e < EMOTION_COUNT; e++) {
        char label[32];
        snprintf(label, sizeof label, "<%s>", emotion_name(e));
        CHECK_INT(VOCAB_FIRST_LABEL + e, vocab_label_id(e));
        CHECK_STR(label, vocab_word(v, vocab_label_id(e)));
        CHECK_INT(e, vocab_label_of(vocab_label_id(e)));
    }
    CHECK_INT(-1, vocab_label_id(EMOTION_COUNT));
    CHECK_INT(-1, vocab_label_of(VOCAB_ANSWER_CLOSE));
    CHECK_INT(-1, vocab_label_of(VOCAB_FIRST_WORD));
    CHECK_INT(VOCAB_VIS_OPEN, vocab_tag_open(MOD_VISUAL));
    CHECK_INT(VOCAB_AUD_CLOSE, vocab_tag_close(MOD_AUDIO));
    CHECK_INT(VOCAB_TXT_OPEN, vocab_tag_open(MOD_TEXT));
    CHECK_INT(-1, vocab_tag_open(MOD_MULTIMODAL));
    CHECK_INT(MOD_TEXT, vocab_tag_close_modality(VOCAB_TXT_CLOSE));
    CHECK_INT(-1, vocab_tag_close_modality(VOCAB_TXT_OPEN));
    CHECK_INT(MOD_AUDIO, vocab_tag_open_modality(VOCAB_AUD_OPEN));
    CHECK_INT(-1, vocab_tag_open_modality(VOCAB_THINK_OPEN));
    CHECK(vocab_word(v, VOCAB_FIRST_WORD) == NULL);
    CHECK(vocab_word(v, -1) == NULL);
    CHECK(vocab_fixed_token(VOCAB_FIRST_WORD) == NULL);
    vocab_free(&v);
    CHECK(v == NULL);
}

TEST(vocab_words_follow_by_descending_count_ties_in_byte_order)
{
    migr_err err;
    const char *texts[] = {"b a b c.", "C b", "z y"};
    vocab *v = build(texts, 3, 1, 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    /* b 3, c 2, then count 1 in byte order: ".", "a", "y", "z". */
    const char *want[] = {"b", "c", ".", "a", "y", "z"};
    CHECK_INT(VOCAB_FIRST_WORD + 6, vocab_size(v));
    for (int i = 0; i < 6; i++) {
        CHECK_STR(want[i], vocab_word(v, VOCAB_FIRST_WORD + i));
        CHECK_INT(VOCAB_FIRST_WORD + i, vocab_id(v, want[i]));
    }
    vocab_free(&v);
}

TEST(vocab_min_count_and_max_size_cut_the_rare_words)
{
    migr_err err;
    const char *texts[] = {"b a b c", "c b d"};
    vocab *v = build(texts, 2, 2, 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    CHECK_INT(VOCAB_FIRST_WORD + 2, vocab_size(v));
    CHECK_STR("c", vocab_word(v, VOCAB_FIRST_WORD + 1));
    CHECK_INT(VOCAB_UNK, vocab_id(v, "a"));
    vocab_free(&v);

    v = build(texts, 2, 1, VOCAB_FIRST_WORD + 3, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    CHECK_INT(VOCAB_FIRST_WORD + 3, vocab_size(v));
    CHECK_STR("a", vocab_word(v, VOCAB_FIRST_WORD + 2));   /* a, d tie at 1: a kept */
    CHECK_INT(VOCAB_UNK, vocab_id(v, "d"));
    vocab_free(&v);

    v = build(texts, 2, 1, VOCAB_FIRST_WORD, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    CHECK_INT(VOCAB_FIRST_WORD, vocab_size(v));
    vocab_free(&v);
}

TEST(vocab_finish_refuses_bad_limits)
{
    migr_err err;
    vocab *v = build(NULL, 0, 0, 0, &err);
    CHECK(v == NULL);
    CHECK_MSG(strstr(err.msg, "min_count") != NULL, "got \"%s\"", err.msg);
    v = build(NULL, 0, 1, VOCAB_FIRST_WORD - 1, &err);
    CHECK(v == NULL);
    CHECK_MSG(strstr(err.msg, "max_size 20") != NULL, "got \"%s\"", err.msg);
}

TEST(vocab_lookup_is_exact_over_thousands_of_words)
{
    migr_err err;
    vocab_builder *b = vocab_builder_new();
    CHECK(b != NULL);
    char text[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof text, "w%d", i);
        CHECK_MSG(vocab_builder_add_text(b, text, &err) == 0, "%s", err.msg);
    }
    vocab *v = vocab_builder_finish(b, 1, 0, &err);
    vocab_builder_free(&b);
    CHECK_MSG(v != NULL, "%s", err.msg);
    CHECK_INT(VOCAB_FIRST_WORD + 5000, vocab_size(v));
    for (int id = 0; id < vocab_size(v); id++)
        CHECK_INT(id, vocab_id(v, vocab_word(v, id)));
    CHECK_INT(VOCAB_UNK, vocab_id(v, "w5000"));
    CHECK_INT(VOCAB_UNK, vocab_id(v, "W1"));
    CHECK_INT(VOCAB_UNK, vocab_id(v, ""));
    vocab_free(&v);
}

TEST(vocab_encode_maps_unknown_words_to_unk_and_counts_past_cap)
{
    migr_err err;
    const char *texts[] = {"the mouth turns down."};
    vocab *v = build(texts, 1, 1, 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    int ids[8];
    int n = vocab_encode(v, "The MOUTH twitches down!", ids, 8);
    CHECK_INT(5, n);
    CHECK_INT(vocab_id(v, "the"), ids[0]);
    CHECK_INT(vocab_id(v, "mouth"), ids[1]);
    CHECK_INT(VOCAB_UNK, ids[2]);
    CHECK_INT(vocab_id(v, "down"), ids[3]);
    CHECK_INT(VOCAB_UNK, ids[4]);   /* "!" was never seen */
    ids[2] = -7;
    CHECK_INT(5, vocab_encode(v, "the mouth turns down.", ids, 2));
    CHECK_INT(-7, ids[2]);          /* nothing past cap */
    CHECK_INT(5, vocab_encode(v, "the mouth turns down.", NULL, 0));
    CHECK_INT(0, vocab_encode(v, "", ids, 8));
    /* Tags in text are words, never tag tokens. */
    CHECK_INT(1, vocab_encode(v, "<vis>", ids, 8));
    CHECK_INT(VOCAB_UNK, ids[0]);
    vocab_free(&v);
}

TEST(vocab_save_load_round_trip_keeps_ids_and_hash)
{
    migr_err err;
    const char *texts[] = {"b a b c.", "c b"};
    vocab *v = build(texts, 2, 1, 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    char path[512], hash[STORE_SHA_HEX], hash2[STORE_SHA_HEX], file_hash[STORE_SHA_HEX];
    snprintf(path, sizeof path, "%s/vocab.txt", check_tmpdir());
    CHECK_MSG(vocab_save(v, path, &err) == 0, "%s", err.msg);
    vocab_hash(v, hash);
    /* The file is the header then the words, one a line; its hash is fixed. */
    CHECK_STR("b6ed34b6fdf5e99adc22df291ec7b7c225a8527a51db226e08658e69662e0c18", hash);
    CHECK_MSG(sha256_file_hex(path, file_hash, &err) == 0, "%s", err.msg);
    CHECK_STR(hash, file_hash);

    vocab *w = vocab_load(path, &err);
    CHECK_MSG(w != NULL, "%s", err.msg);
    CHECK_INT(vocab_size(v), vocab_size(w));
    for (int id = 0; id < vocab_size(v); id++)
        CHECK_STR(vocab_word(v, id), vocab_word(w, id));
    vocab_hash(w, hash2);
    CHECK_STR(hash, hash2);
    vocab_free(&w);

    /* Texts counted in another order give the same vocabulary. */
    const char *swapped[] = {"c b", "b a b c."};
    w = build(swapped, 2, 1, 0, &err);
    CHECK_MSG(w != NULL, "%s", err.msg);
    vocab_hash(w, hash2);
    CHECK_STR(hash, hash2);
    vocab_free(&w);
    vocab_free(&v);
}

/* Write text to a file, load it, expect a refusal whose message holds want. */
static const char *load_refusal(const char *text, char *msg, size_t cap)
{
    char path[512];
    migr_err err;
    snprintf(path, sizeof path, "%s/bad.txt", check_tmpdir());
    if (write_text(path, text) < 0)
        return "(cannot write the file)";
    vocab *v = vocab_load(path, &err);
    if (v) {
        vocab_free(&v);
        return "(loaded)";
    }
    snprintf(msg, cap, "%s", err.msg);
    return msg;
}

TEST(vocab_load_refuses_a_wrong_header)
{
    char msg[1024], text[1024];
    /* Another label set: a header one label short, then words. */
    snprintf(text, sizeof text, "%.*sword\n", (int)(strlen(header) - strlen("<fear>\n")), header);
    const char *got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, "bad.txt:21") && strstr(got, "<fear>"), "got \"%s\"", got);
    got = load_refusal("<unk>\n<pad>\n", msg, sizeof msg);
    CHECK_MSG(strstr(got, ":1: expected the fixed token \"<pad>\""), "got \"%s\"", got);
    got = load_refusal("<pad>\n<unk>\n", msg, sizeof msg);
    CHECK_MSG(strstr(got, ":3:") && strstr(got, "end of file"), "got \"%s\"", got);
    got = load_refusal("", msg, sizeof msg);
    CHECK_MSG(strstr(got, "empty"), "got \"%s\"", got);
}

TEST(vocab_load_refuses_bad_word_lines_naming_the_line)
{
    char msg[1024], text[1024];
    snprintf(text, sizeof text, "%sgood\nBad\n", header);
    const char *got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, ":23:") && strstr(got, "\"Bad\" is not a token"), "got \"%s\"", got);
    snprintf(text, sizeof text, "%sgood\n\n", header);
    got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, ":23:"), "got \"%s\"", got);
    snprintf(text, sizeof text, "%stwo words\n", header);
    got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, ":22:"), "got \"%s\"", got);
    snprintf(text, sizeof text, "%sgood\nfine\ngood\n", header);
    got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, ":24:") && strstr(got, "twice"), "got \"%s\"", got);
    snprintf(text, sizeof text, "%sgood\ncut", header);
    got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, "no newline"), "got \"%s\"", got);
    snprintf(text, sizeof text, "%s<sad>\n", header);
    got = load_refusal(text, msg, sizeof msg);
    CHECK_MSG(strstr(got, ":22:"), "got \"%s\"", got);
}

TEST(vocab_load_of_a_missing_file_names_it)
{
    migr_err err;
    char path[512];
    snprintf(path, sizeof path, "%s/absent.txt", check_tmpdir());
    vocab *v = vocab_load(path, &err);
    CHECK(v == NULL);
    CHECK_MSG(strstr(err.msg, "absent.txt") && strstr(err.msg, "vocabulary"), "got \"%s\"", err.msg);
}
