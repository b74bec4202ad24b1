/* Explanation targets: block orders, building, parsing (well formed and
 * malformed), rendering. */
#include "check.h"

#include "ml/target.h"

static const char *const clue_vis = "The mouth turns down.";
static const char *const clue_aud = "The voice is low and slow.";
static const char *const clue_txt = "He says it is over.";
static const char *const think = "Everything points to sadness.";

static vocab *small_vocab(void)
{
    migr_err err;
    vocab_builder *b = vocab_builder_new();
    if (!b)
        return NULL;
    const char *texts[] = {clue_vis, clue_aud, clue_txt, think};
    for (int i = 0; i < 4; i++)
        if (vocab_builder_add_text(b, texts[i], &err) < 0)
            break;
    vocab *v = vocab_builder_finish(b, 1, 0, &err);
    vocab_builder_free(&b);
    return v;
}

static target_text sad_clip(void)
{
    target_text t = {{clue_vis, clue_aud, clue_txt}, think, EMO_SAD};
    return t;
}

/* Append the ids of a block: open, the encoded text, close. */
static int put_block(const vocab *v, int *ids, int n, int open, const char *text, int close)
{
    ids[n++] = open;
    n += vocab_encode(v, text, ids + n, 64);
    ids[n++] = close;
    return n;
}

/* ---- orders ---- */

TEST(target_order_parses_named_orders_and_lists)
{
    target_order o;
    migr_err err;
    char buf[64];
    CHECK_MSG(target_order_parse(" Visual-First ", &o, &err) == 0, "%s", err.msg);
    CHECK_INT(0, o.by_mi);
    CHECK_INT(MOD_VISUAL, o.mod[0]);
    CHECK_INT(MOD_AUDIO, o.mod[1]);
    CHECK_INT(MOD_TEXT, o.mod[2]);
    target_order_format(&o, buf, sizeof buf);
    CHECK_STR("[vis, aud, txt]", buf);

    CHECK_MSG(target_order_parse("[aud, vis, txt]", &o, &err) == 0, "%s", err.msg);
    CHECK_INT(MOD_AUDIO, o.mod[0]);
    CHECK_INT(MOD_VISUAL, o.mod[1]);
    CHECK_INT(MOD_TEXT, o.mod[2]);
    CHECK_MSG(target_order_parse("txt,aud,vis", &o, &err) == 0, "%s", err.msg);
    target_order_format(&o, buf, sizeof buf);
    CHECK_STR("[txt, aud, vis]", buf);
    CHECK_MSG(target_order_parse("[ Text , visual,AUDIO ]", &o, &err) == 0, "%s", err.msg);
    target_order_format(&o, buf, sizeof buf);
    CHECK_STR("[txt, vis, aud]", buf);

    CHECK_MSG(target_order_parse("mi", &o, &err) == 0, "%s", err.msg);
    CHECK_INT(1, o.by_mi);
    target_order_format(&o, buf, sizeof buf);
    CHECK_STR("mi", buf);
}

/* Parse s, expect a refusal whose message holds want. */
static const char *order_refusal(const char *s, char *msg, size_t cap)
{
    target_order o;
    migr_err err;
    if (target_order_parse(s, &o, &err) == 0)
        return "(accepted)";
    snprintf(msg, cap, "%s", err.msg);
    return msg;
}

TEST(target_order_refusals_say_what_was_wrong)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "empty"},
        {"  ", "empty"},
        {"[aud, vis]", "txt is missing"},
        {"aud,aud,txt", "aud appears twice"},
        {"aud, visual, vis", "vis appears twice"},
        {"aud,vis,txt,vis", "more than three"},
        {"aud,face,txt", "\"face\" is not a modality"},
        {"multimodal,vis,aud", "\"multimodal\" is not a modality"},
        {"[aud,vis,txt", "unbalanced"},
        {"aud,vis,txt]", "unbalanced"},
        {"aud,,txt", "empty item"},
        {"audio-first", "not a modality"},
    };
    char msg[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = order_refusal(cases[i].in, msg, sizeof msg);
        CHECK_MSG(strstr(got, cases[i].want) != NULL, "order \"%s\": expected \"%s\", got \"%s\"",
                  cases[i].in, cases[i].want, got);
    }
}

/* ---- building ---- */

TEST(target_build_visual_first_gives_the_exact_ids)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    target_order o;
    target_order_visual_first(&o);
    target_text t = sad_clip();
    int ids[128], want[128], n = 0;
    migr_err err;
    n = put_block(v, want, n, VOCAB_VIS_OPEN, clue_vis, VOCAB_VIS_CLOSE);
    n = put_block(v, want, n, VOCAB_AUD_OPEN, clue_aud, VOCAB_AUD_CLOSE);
    n = put_block(v, want, n, VOCAB_TXT_OPEN, clue_txt, VOCAB_TXT_CLOSE);
    n = put_block(v, want, n, VOCAB_THINK_OPEN, think, VOCAB_THINK_CLOSE);
    want[n++] = VOCAB_ANSWER_OPEN;
    want[n++] = VOCAB_FIRST_LABEL + 1;   /* <sad> */
    want[n++] = VOCAB_ANSWER_CLOSE;
    want[n++] = VOCAB_EOS;
    /* 5 + 7 + 6 + 5 words, 12 tags and <eos> */
    CHECK_INT(35, n);
    int got = target_build(v, &t, &o, ids, 128, &err);
    CHECK_MSG(got == n, "expected %d tokens, got %d (%s)", n, got, got < 0 ? err.msg : "");
    for (int i = 0; i < n; i++)
        CHECK_MSG(ids[i] == want[i], "token %d: expected %d, got %d", i, want[i], ids[i]);
    /* Spot-check against the vocabulary by spelling. */
    CHECK_INT(vocab_id(v, "the"), ids[1]);
    CHECK_INT(vocab_id(v, "."), ids[5]);
    CHECK_INT(VOCAB_VIS_CLOSE, ids[6]);
    vocab_free(&v);
}

TEST(target_build_custom_order_puts_the_blocks_in_that_order)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    target_order o;
    migr_err err;
    CHECK_MSG(target_order_parse("[aud, txt, vis]", &o, &err) == 0, "%s", err.msg);
    target_text t = sad_clip();
    t.label = EMO_FEAR;
    t.clue[MOD_TEXT] = NULL;     /* an empty block */
    int ids[128], want[128], n = 0;
    n = put_block(v, want, n, VOCAB_AUD_OPEN, clue_aud, VOCAB_AUD_CLOSE);
    want[n++] = VOCAB_TXT_OPEN;
    want[n++] = VOCAB_TXT_CLOSE;
    n = put_block(v, want, n, VOCAB_VIS_OPEN, clue_vis, VOCAB_VIS_CLOSE);
    n = put_block(v, want, n, VOCAB_THINK_OPEN, think, VOCAB_THINK_CLOSE);
    want[n++] = VOCAB_ANSWER_OPEN;
    want[n++] = vocab_label_id(EMO_FEAR);
    want[n++] = VOCAB_ANSWER_CLOSE;
    want[n++] = VOCAB_EOS;
    int got = target_build(v, &t, &o, ids, 128, &err);
    CHECK_MSG(got == n, "expected %d tokens, got %d (%s)", n, got, got < 0 ? err.msg : "");
    for (int i = 0; i < n; i++)
        CHECK_MSG(ids[i] == want[i], "token %d: expected %d, got %d", i, want[i], ids[i]);
    CHECK_INT(VOCAB_AUD_OPEN, ids[0]);
    vocab_free(&v);
}

TEST(target_build_refuses_what_it_cannot_build)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    target_order o;
    target_text t = sad_clip();
    int ids[128];
    migr_err err;
    target_order_visual_first(&o);
    ids[0] = 12345;
    CHECK_INT(-1, target_build(v, &t, &o, ids, 34, &err));
    CHECK_MSG(strstr(err.msg, "35 tokens") && strstr(err.msg, "34"), "got \"%s\"", err.msg);
    CHECK_INT(12345, ids[0]);   /* nothing written */
    CHECK_INT(35, target_build(v, &t, &o, ids, 35, &err));

    t.label = 7;
    CHECK_INT(-1, target_build(v, &t, &o, ids, 128, &err));
    CHECK_MSG(strstr(err.msg, "label 7"), "got \"%s\"", err.msg);
    t.label = EMO_SAD;

    CHECK(target_order_parse("mi", &o, &err) == 0);
    CHECK_INT(-1, target_build(v, &t, &o, ids, 128, &err));
    CHECK_MSG(strstr(err.msg, "resolved per clip"), "got \"%s\"", err.msg);
    o.by_mi = 0;
    o.mod[0] = MOD_AUDIO, o.mod[1] = MOD_AUDIO, o.mod[2] = MOD_TEXT;
    CHECK_INT(-1, target_build(v, &t, &o, ids, 128, &err));
    vocab_free(&v);
}

/* ---- parsing ---- */

TEST(target_parse_reads_a_built_target)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    target_order o;
    migr_err err;
    CHECK(target_order_parse("txt,vis,aud", &o, &err) == 0);
    target_text t = sad_clip();
    int ids[128];
    int n = target_build(v, &t, &o, ids, 128, &err);
    CHECK_MSG(n > 0, "%s", err.msg);

    target_parsed p;
    target_parse(v, ids, n, &p);
    CHECK_MSG(p.well_formed, "not well formed: %s", p.why);
    CHECK_STR("", p.why);
    CHECK_INT(3, p.nblocks);
    CHECK_INT(MOD_TEXT, p.order[0]);
    CHECK_INT(MOD_VISUAL, p.order[1]);
    CHECK_INT(MOD_AUDIO, p.order[2]);
    CHECK_INT(EMO_SAD, p.label);
    CHECK_INT(n, p.length);
    /* <txt> he says it is over . </txt>: 6 words at 1..6, close at 7. */
    CHECK_INT(0, p.block[MOD_TEXT].open);
    CHECK_INT(7, p.block[MOD_TEXT].close);
    CHECK_INT(8, p.block[MOD_VISUAL].open);
    CHECK_INT(VOCAB_VIS_CLOSE, ids[p.block[MOD_VISUAL].close]);
    CHECK_INT(VOCAB_AUD_OPEN, ids[p.block[MOD_AUDIO].open]);
    CHECK_INT(VOCAB_THINK_OPEN, ids[p.think.open]);
    CHECK_INT(VOCAB_THINK_CLOSE, ids[p.think.close]);
    CHECK_INT(n - 4, p.answer.open);
    CHECK_INT(n - 2, p.answer.close);

    /* Without <eos> (generation stopped at the length limit after the
     * answer) it is still well formed; after <eos> nothing is read. */
    target_parse(v, ids, n - 1, &p);
    CHECK_MSG(p.well_formed, "without eos: %s", p.why);
    CHECK_INT(n - 1, p.length);
    int longer[130];
    memcpy(longer, ids, (size_t)n * sizeof(int));
    longer[n] = VOCAB_PAD;
    longer[n + 1] = 99999;
    target_parse(v, longer, n + 2, &p);
    CHECK_MSG(p.well_formed, "with trailing pads: %s", p.why);
    CHECK_INT(n, p.length);
    vocab_free(&v);
}

/* A short well-formed explanation to break: 17 tokens. */
static int base_seq(const vocab *v, int *ids)
{
    int w = vocab_id(v, "the"), n = 0;
    const int seq[] = {VOCAB_VIS_OPEN, w, VOCAB_VIS_CLOSE, VOCAB_AUD_OPEN, w, VOCAB_AUD_CLOSE,
                       VOCAB_TXT_OPEN, w, VOCAB_TXT_CLOSE, VOCAB_THINK_OPEN, w, w,
                       VOCAB_THINK_CLOSE, VOCAB_ANSWER_OPEN, vocab_label_id(EMO_ANGRY),
                       VOCAB_ANSWER_CLOSE, VOCAB_EOS};
    for (; n < (int)(sizeof seq / sizeof seq[0]); n++)
        ids[n] = seq[n];
    return n;
}

TEST(target_parse_accepts_the_base_sequence)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    int ids[32];
    int n = base_seq(v, ids);
    target_parsed p;
    target_parse(v, ids, n, &p);
    CHECK_MSG(p.well_formed, "%s", p.why);
    CHECK_INT(EMO_ANGRY, p.label);
    /* <unk> counts as a word. */
    ids[1] = VOCAB_UNK;
    target_parse(v, ids, n, &p);
    CHECK_MSG(p.well_formed, "%s", p.why);
    vocab_free(&v);
}

/* Edits of the base sequence: at position pos, delete (del = 1) or replace
 * (del = 0) and/or insert `ins` before it (ins = -1: nothing). */
typedef struct edit {
    const char *name;
    int pos, del, repl, ins;   /* repl = -1: no replacement */
    const char *why;           /* expected in target_parsed.why */
    int label;                 /* expected label, or -1 */
} edit;

static int apply_edit(const int *in, int n, const edit *e, int *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i == e->pos && e->ins != -1)
            out[m++] = e->ins;
        if (i == e->pos && e->del)
            continue;
        out[m++] = i == e->pos && e->repl != -1 ? e->repl : in[i];
    }
    return m;
}

TEST(target_parse_flags_malformed_sequences_with_the_first_problem)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    int base[32], ids[40];
    int n = base_seq(v, base);
    int w = vocab_id(v, "the"), angry = vocab_label_id(EMO_ANGRY);
    const edit edits[] = {
        {"missing </vis>", 2, 1, -1, -1, "<aud> at 2 inside <vis> opened at 0", EMO_ANGRY},
        {"nested <aud> in <vis>", 1, 0, -1, VOCAB_AUD_OPEN, "<aud> at 1 inside <vis>", EMO_ANGRY},
        {"duplicated <vis>", 3, 0, VOCAB_VIS_OPEN, -1, "a second <vis> block at 3", EMO_ANGRY},
        {"no <txt> block", 6, 0, VOCAB_AUD_OPEN, -1, "a second <aud>", EMO_ANGRY},
        {"label in <think>", 10, 0, angry, -1, "label token <angry> at 10 outside the answer",
         EMO_ANGRY},
        {"label outside every block", 9, 0, -1, vocab_label_id(EMO_SAD),
         "label token <sad> at 9 outside the answer", EMO_ANGRY},
        {"two labels", 14, 0, -1, vocab_label_id(EMO_SAD), "holds 2 label tokens", -1},
        {"no label", 14, 1, -1, -1, "holds 0 label tokens", -1},
        {"word in the answer", 14, 0, w, -1, "inside the answer", -1},
        {"word outside blocks", 3, 0, -1, w, "outside any block", EMO_ANGRY},
        {"</aud> closes <vis>", 2, 0, VOCAB_AUD_CLOSE, -1, "</aud> at 2 closes <vis>", EMO_ANGRY},
        {"close without open", 0, 0, -1, VOCAB_TXT_CLOSE, "</txt> at 0 without an open <txt>",
         EMO_ANGRY},
        {"<think> before <txt>", 6, 0, -1, VOCAB_THINK_OPEN, "comes before any <txt>", EMO_ANGRY},
        {"no <think>", 9, 0, VOCAB_TXT_OPEN, -1, "a second <txt>", EMO_ANGRY},
        {"text after the answer", 16, 0, -1, w, "after </answer>", EMO_ANGRY},
        {"id out of range", 4, 0, 100000, -1, "id 100000 at 4 is outside the vocabulary", EMO_ANGRY},
        {"negative id", 4, 0, -3, -1, "id -3 at 4", EMO_ANGRY},
        {"<pad> inside", 4, 0, VOCAB_PAD, -1, "<pad> at 4", EMO_ANGRY},
        {"<bos> first", 0, 0, -1, VOCAB_BOS, "<bos> at 0", EMO_ANGRY},
        {"eos before the answer", 13, 0, VOCAB_EOS, -1, "no <answer> block", -1},
        {"unclosed answer at eos", 15, 1, -1, -1, "<answer> opened at 13 is not closed", -1},
        {"no <vis> tag", 0, 1, -1, -1, "\"the\" at 0 outside any block", EMO_ANGRY},
    };
    target_parsed p;
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        const edit *e = &edits[k];
        int m = apply_edit(base, n, e, ids);
        target_parse(v, ids, m, &p);
        CHECK_MSG(!p.well_formed, "%s: parsed as well formed", e->name);
        CHECK_MSG(strstr(p.why, e->why) != NULL, "%s: expected \"%s\" in \"%s\"", e->name, e->why,
                  p.why);
        CHECK_MSG(p.label == e->label, "%s: expected label %d, got %d", e->name, e->label, p.label);
    }

    /* Blocks in a late place, and the empty sequence. */
    int late[] = {VOCAB_AUD_OPEN, VOCAB_AUD_CLOSE, VOCAB_TXT_OPEN, VOCAB_TXT_CLOSE,
                  VOCAB_THINK_OPEN, VOCAB_THINK_CLOSE, VOCAB_VIS_OPEN, VOCAB_VIS_CLOSE,
                  VOCAB_ANSWER_OPEN, angry, VOCAB_ANSWER_CLOSE};
    target_parse(v, late, 11, &p);
    CHECK(!p.well_formed);
    CHECK_MSG(strstr(p.why, "comes before any <vis>"), "got \"%s\"", p.why);
    CHECK_INT(EMO_ANGRY, p.label);
    target_parse(v, late, 0, &p);
    CHECK(!p.well_formed);
    CHECK_MSG(strstr(p.why, "empty"), "got \"%s\"", p.why);
    CHECK_INT(-1, p.label);
    CHECK_INT(0, p.nblocks);
    CHECK_INT(-1, p.block[MOD_VISUAL].open);
    vocab_free(&v);
}

TEST(target_parse_keeps_the_spans_it_could_read)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    int base[32], ids[40];
    int n = base_seq(v, base);
    /* A duplicated <vis> block after the audio one: the first counts. */
    edit e = {"dup", 6, 0, -1, VOCAB_VIS_OPEN, "", -1};
    int m = apply_edit(base, n, &e, ids);
    /* <vis> w </vis> <aud> w </aud> <vis> <txt> w </txt> <think> ... */
    target_parsed p;
    target_parse(v, ids, m, &p);
    CHECK(!p.well_formed);
    CHECK_MSG(strstr(p.why, "a second <vis> block at 6"), "got \"%s\"", p.why);
    CHECK_INT(0, p.block[MOD_VISUAL].open);
    CHECK_INT(2, p.block[MOD_VISUAL].close);
    CHECK_INT(3, p.block[MOD_AUDIO].open);
    CHECK_INT(MOD_VISUAL, p.order[0]);
    CHECK_INT(MOD_AUDIO, p.order[1]);
    CHECK_INT(MOD_TEXT, p.order[2]);   /* <txt> opened inside the duplicate, then closed */
    vocab_free(&v);
}

/* ---- rendering ---- */

TEST(target_render_detokenizes_with_plain_label_in_the_answer)
{
    vocab *v = small_vocab();
    CHECK(v != NULL);
    target_order o;
    target_order_visual_first(&o);
    target_text t = sad_clip();
    int ids[128];
    migr_err err;
    int n = target_build(v, &t, &o, ids, 128, &err);
    CHECK_MSG(n > 0, "%s", err.msg);
    char buf[512];
    const char *want = "<vis> the mouth turns down . </vis> <aud> the voice is low and slow . "
                       "</aud> <txt> he says it is over . </txt> <think> everything points to "
                       "sadness . </think> <answer> sad </answer>";
    int len = target_render(v, ids, n, buf, sizeof buf);
    CHECK_STR(want, buf);
    CHECK_INT(strlen(want), len);

    /* Cut output keeps the full length as the return value. */
    char small[10];
    CHECK_INT(strlen(want), target_render(v, ids, n, small, sizeof small));
    CHECK_STR("<vis> the", small);

    int odd[] = {vocab_label_id(EMO_FEAR), VOCAB_UNK, 4242, VOCAB_ANSWER_OPEN,
                 vocab_label_id(EMO_FEAR), VOCAB_ANSWER_CLOSE, vocab_label_id(EMO_FEAR), VOCAB_EOS,
                 VOCAB_VIS_OPEN};
    target_render(v, odd, 9, buf, sizeof buf);
    CHECK_STR("<fear> <unk> <?4242> <answer> fear </answer> <fear>", buf);
    CHECK_INT(0, target_render(v, odd, 0, buf, sizeof buf));
    CHECK_STR("", buf);
    vocab_free(&v);
}

TEST(target_order_by_scores_puts_the_most_important_modality_first)
{
    target_order o;
    double audio_first[MODALITY_COUNT] = {0.2, 0.7, 0.1};   /* visual, audio, text */
    target_order_by_scores(audio_first, &o);
    CHECK_INT(MOD_AUDIO, o.mod[0]);
    CHECK_INT(MOD_VISUAL, o.mod[1]);
    CHECK_INT(MOD_TEXT, o.mod[2]);
    CHECK_INT(0, o.by_mi);
    double text_first[MODALITY_COUNT] = {0.1, 0.3, 0.6};
    target_order_by_scores(text_first, &o);
    CHECK_INT(MOD_TEXT, o.mod[0]);
    CHECK_INT(MOD_AUDIO, o.mod[1]);
    CHECK_INT(MOD_VISUAL, o.mod[2]);
    /* Ties keep the visual-first order. */
    double tied[MODALITY_COUNT] = {0.3, 0.3, 0.3};
    target_order_by_scores(tied, &o);
    CHECK_INT(MOD_VISUAL, o.mod[0]);
    CHECK_INT(MOD_AUDIO, o.mod[1]);
    CHECK_INT(MOD_TEXT, o.mod[2]);
}
