/* Batch assembly: exact layout of types, tokens and targets, padding,
 * truncation at max_seq, audio padding and cutting, silent clips, refusals,
 * and the generation prefix. */
#include "check.h"

#include "ml/batch.h"

/* F = 2 frames of 2x2, NA = 2 audio tokens of W = 2 frames of 3 mel bands. */
enum { F = 2, PIX = 4, NA = 2, W = 2, NMEL = 3, SUBMAX = 3 };

static vocab *words_vocab(void)
{
    migr_err err;
    vocab_builder *b = vocab_builder_new();
    if (!b)
        return NULL;
    vocab_builder_add_text(b, "a b c d e x y z ,", &err);
    vocab *v = vocab_builder_finish(b, 1, 0, &err);
    vocab_builder_free(&b);
    return v;
}

static model_config tiny_config(const vocab *v, int max_seq)
{
    model_config c = {0};
    c.vocab = vocab_size(v);
    c.max_seq = max_seq;
    c.channels = 8, c.layers = 1, c.heads = 2, c.mlp_ratio = 4;
    c.n_frames = F, c.frame_pixels = PIX;
    c.audio_tokens = NA, c.audio_window = W, c.n_mel = NMEL;
    return c;
}

/* A hand-made clip: frame pixel p of frame f is base + 10 f + p; mel row r
 * band k is base + 100 + 10 r + k (n_audio rows; 0 = silent). */
typedef struct clip_data {
    media_features f;
    float frames[F * PIX];
    float mel[8 * NMEL];
} clip_data;

static void make_clip(clip_data *c, float base, int n_audio)
{
    memset(c, 0, sizeof *c);
    c->f.n_frames = F, c->f.height = 2, c->f.width = 2;
    c->f.frames = c->frames;
    /* Pixel p is base + p in frame 0 and base + 3 - p in frame 1: the mean
     * frame is flat, so the face window is the whole frame (media/face.h). */
    for (int i = 0; i < F * PIX; i++)
        c->frames[i] = base + (i < PIX ? i % PIX : 3 - i % PIX);
    c->f.n_mel = NMEL;
    c->f.n_audio = n_audio;
    c->f.has_audio = n_audio > 0;
    c->f.mel = n_audio > 0 ? c->mel : NULL;
    for (int i = 0; i < n_audio * NMEL; i++)
        c->mel[i] = base + 100 + 10 * (i / NMEL) + i % NMEL;
}

/* Compare one row position by position; -1 (a recorded failure) at the first difference. */
static int check_row(check_case *self, int line, const char *what, int row, const int *got,
                     const int *want, int T)
{
    for (int t = 0; t < T; t++)
        if (got[t] != want[t]) {
            check_fail(self, __FILE__, line, "%s of sequence %d at position %d: expected %d, got %d",
                       what, row, t, want[t], got[t]);
            return -1;
        }
    return 0;
}
#define CHECK_ROW(what, row, got, want, T)                                       \
    do {                                                                         \
        if (check_row(check_self_, __LINE__, what, row, got, want, T) < 0)        \
            return;                                                              \
    } while (0)

TEST(batch_lays_out_media_subtitle_and_explanation_with_shifted_targets)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 32);
    int a = vocab_id(v, "a"), b = vocab_id(v, "b");
    int x = vocab_id(v, "x"), y = vocab_id(v, "y"), z = vocab_id(v, "z");
    clip_data c0, c1;
    make_clip(&c0, 0, 4);
    make_clip(&c1, 1000, 2);
    int e0[] = {x, y, z, VOCAB_EOS};
    int e1[] = {z, VOCAB_EOS};
    batch_clip clips[2] = {
        {&c0.f, "A b", e0, 4},
        {&c1.f, "a, b c d", e1, 2},   /* 5 tokens, cut to SUBMAX = 3: a , b */
    };
    migr_err err;
    batch *bt = batch_build(&cfg, v, SUBMAX, clips, 2, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    /* Row 0: 4 media + 2 subtitle + <bos> + 4 = 11; row 1: 4 + 3 + 1 + 2 = 10. */
    CHECK_INT(2, bt->B);
    CHECK_INT(11, bt->T);
    CHECK_INT(11, bt->mb.T);
    CHECK(bt->mb.tokens == bt->tokens && bt->mb.targets == bt->targets);
    const int P = VOCAB_PAD, B_ = VOCAB_BOS, E = VOCAB_EOS, comma = vocab_id(v, ",");
    CHECK(comma != VOCAB_UNK);

    int tok0[] = {0, 0, 0, 0, a, b, B_, x, y, z, E};
    int typ0[] = {0, 0, 1, 1, 2, 2, 3, 3, 3, 3, 3};
    int tgt0[] = {-1, -1, -1, -1, -1, -1, x, y, z, E, -1};
    int tok1[] = {0, 0, 0, 0, a, comma, b, B_, z, E, P};
    int typ1[] = {0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3};
    int tgt1[] = {-1, -1, -1, -1, -1, -1, -1, z, E, -1, -1};
    CHECK_ROW("tokens", 0, bt->tokens, tok0, 11);
    CHECK_ROW("types", 0, bt->types, typ0, 11);
    CHECK_ROW("targets", 0, bt->targets, tgt0, 11);
    CHECK_ROW("tokens", 1, bt->tokens + 11, tok1, 11);
    CHECK_ROW("types", 1, bt->types + 11, typ1, 11);
    CHECK_ROW("targets", 1, bt->targets + 11, tgt1, 11);
    CHECK_INT(6, bt->bos[0]);
    CHECK_INT(7, bt->bos[1]);
    CHECK_INT(11, bt->length[0]);
    CHECK_INT(10, bt->length[1]);
    CHECK_INT(0, bt->dropped[0]);
    CHECK_INT(6, bt->ntargets);

    /* Frames: the first as it is (the window is the whole frame), the later
     * ones as their change from it.  Mel rows: clip 0 fills NA*W = 4, clip 1
     * has 2 then zeros. */
    for (int i = 0; i < F * PIX; i++) {
        float first0 = i < PIX ? 0 : c0.frames[i % PIX], first1 = i < PIX ? 0 : c1.frames[i % PIX];
        CHECK_NEAR(c0.frames[i] - first0, bt->frames[i], 0);
        CHECK_NEAR(c1.frames[i] - first1, bt->frames[F * PIX + i], 0);
    }
    for (int i = 0; i < NA * W * NMEL; i++) {
        CHECK_NEAR(c0.mel[i], bt->mel[i], 0);
        CHECK_NEAR(i < 2 * NMEL ? c1.mel[i] : 0.0, bt->mel[NA * W * NMEL + i], 0);
    }
    batch_free(&bt);
    CHECK(bt == NULL);
    vocab_free(&v);
}

TEST(batch_truncates_at_max_seq_keeping_the_prefix)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 9);
    int x = vocab_id(v, "x"), y = vocab_id(v, "y"), z = vocab_id(v, "z"), a = vocab_id(v, "a");
    clip_data c0;
    make_clip(&c0, 0, 6);   /* more audio than NA*W = 4 rows: cut */
    int e0[] = {x, y, z, VOCAB_EOS};
    batch_clip clip = {&c0.f, "a", e0, 4};
    migr_err err;
    batch *bt = batch_build(&cfg, v, SUBMAX, &clip, 1, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    /* 4 media + 1 subtitle + <bos> + 4 = 10 > 9: the <eos> is dropped. */
    CHECK_INT(9, bt->T);
    CHECK_INT(1, bt->dropped[0]);
    CHECK_INT(9, bt->length[0]);
    int tok[] = {0, 0, 0, 0, a, VOCAB_BOS, x, y, z};
    int tgt[] = {-1, -1, -1, -1, -1, x, y, z, -1};
    CHECK_ROW("tokens", 0, bt->tokens, tok, 9);
    CHECK_ROW("targets", 0, bt->targets, tgt, 9);
    CHECK_INT(3, bt->ntargets);
    for (int i = 0; i < NA * W * NMEL; i++)
        CHECK_NEAR(c0.mel[i], bt->mel[i], 0);
    batch_free(&bt);
    vocab_free(&v);
}

TEST(batch_silent_clip_has_zero_audio_and_no_subtitle_is_fine)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 16);
    clip_data c0;
    make_clip(&c0, 5, 0);
    c0.f.n_mel = 0;          /* a silent clip may carry no band count */
    int e0[] = {VOCAB_UNK, VOCAB_EOS};
    batch_clip clip = {&c0.f, NULL, e0, 2};
    migr_err err;
    batch *bt = batch_build(&cfg, v, SUBMAX, &clip, 1, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    CHECK_INT(4 + 1 + 2, bt->T);
    CHECK_INT(4, bt->bos[0]);
    CHECK_INT(3, bt->types[4]);
    CHECK_INT(VOCAB_UNK, bt->targets[4]);
    CHECK_INT(VOCAB_EOS, bt->targets[5]);
    for (int i = 0; i < NA * W * NMEL; i++)
        CHECK_NEAR(0.0, bt->mel[i], 0);
    batch_free(&bt);
    vocab_free(&v);
}

TEST(batch_maps_unknown_subtitle_words_to_unk)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 16);
    clip_data c0;
    make_clip(&c0, 0, 1);
    int e0[] = {VOCAB_EOS};
    batch_clip clip = {&c0.f, "a zebra", e0, 1};
    migr_err err;
    batch *bt = batch_build(&cfg, v, SUBMAX, &clip, 1, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    CHECK_INT(vocab_id(v, "a"), bt->tokens[4]);
    CHECK_INT(VOCAB_UNK, bt->tokens[5]);
    CHECK_INT(VOCAB_EOS, bt->targets[6]);   /* <bos> predicts <eos> */
    CHECK_INT(1, bt->ntargets);
    batch_free(&bt);
    vocab_free(&v);
}

TEST(batch_refuses_clips_that_do_not_fit_the_model)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 16);
    clip_data c0, c1;
    make_clip(&c0, 0, 2);
    make_clip(&c1, 0, 2);
    int e0[] = {VOCAB_EOS};
    batch_clip clips[2] = {{&c0.f, "a", e0, 1}, {&c1.f, "a", e0, 1}};
    migr_err err;

    c1.f.width = 3;   /* 2x3 pixels */
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "clip 1") && strstr(err.msg, "2x3"), "got \"%s\"", err.msg);
    c1.f.width = 2;
    c1.f.n_frames = 3;
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "3 frames"), "got \"%s\"", err.msg);
    c1.f.n_frames = F;
    c1.f.n_mel = 4;
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "4 mel bands"), "got \"%s\"", err.msg);
    c1.f.n_mel = NMEL;

    int bad[] = {vocab_size(v)};
    clips[0].expl = bad;
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "clip 0") && strstr(err.msg, "outside the vocabulary"), "got \"%s\"",
              err.msg);
    clips[0].expl = e0;

    cfg.vocab++;
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "vocabulary"), "got \"%s\"", err.msg);
    cfg.vocab--;
    cfg.max_seq = F + NA + SUBMAX;   /* no room for <bos> */
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "max_seq 7"), "got \"%s\"", err.msg);
    cfg.max_seq = 16;
    CHECK(batch_build(&cfg, v, SUBMAX, clips, 0, &err) == NULL);

    batch *bt = batch_build(&cfg, v, SUBMAX, clips, 2, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    batch_free(&bt);
    vocab_free(&v);
}

TEST(batch_prefix_ends_with_bos_and_has_no_targets)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 16);
    clip_data c0;
    make_clip(&c0, 0, 3);
    migr_err err;
    batch *bt = batch_prefix(&cfg, v, SUBMAX, &c0.f, "b c d e x", &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    CHECK_INT(1, bt->B);
    CHECK_INT(F + NA + SUBMAX + 1, bt->T);
    int tok[] = {0, 0, 0, 0, vocab_id(v, "b"), vocab_id(v, "c"), vocab_id(v, "d"), VOCAB_BOS};
    int typ[] = {0, 0, 1, 1, 2, 2, 2, 3};
    int none[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    CHECK_ROW("tokens", 0, bt->tokens, tok, 8);
    CHECK_ROW("types", 0, bt->types, typ, 8);
    CHECK_ROW("targets", 0, bt->targets, none, 8);
    CHECK_INT(0, bt->ntargets);
    CHECK_INT(7, bt->bos[0]);
    batch_free(&bt);
    vocab_free(&v);
}

TEST(batch_feeds_model_forward_which_counts_its_targets)
{
    vocab *v = words_vocab();
    CHECK(v != NULL);
    model_config cfg = tiny_config(v, 16);
    clip_data c0, c1;
    make_clip(&c0, 0.25f, 4);
    make_clip(&c1, 0.5f, 0);
    int x = vocab_id(v, "x"), y = vocab_id(v, "y");
    int e0[] = {x, y, VOCAB_EOS}, e1[] = {y, VOCAB_EOS};
    batch_clip clips[2] = {{&c0.f, "a b", e0, 3}, {&c1.f, NULL, e1, 2}};
    migr_err err;
    batch *bt = batch_build(&cfg, v, SUBMAX, clips, 2, &err);
    CHECK_MSG(bt != NULL, "%s", err.msg);
    model *m = model_new(&cfg, 7, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    double loss = 0;
    int ntokens = 0;
    int rc = model_forward(m, &bt->mb, &loss, &ntokens, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(bt->ntargets, ntokens);
    CHECK_INT(5, ntokens);
    CHECK_MSG(loss > 0 && loss < 1e6, "loss %g", loss);
    model_free(&m);
    batch_free(&bt);
    vocab_free(&v);
}
