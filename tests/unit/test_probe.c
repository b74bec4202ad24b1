/* The modality-importance probe: feature definitions, the margin rule,
 * hand-written gradients against finite differences, and MI scoring on a
 * probe with known behaviour -- synthetic inputs whose label is carried by
 * the text vector only, the audio vector only, or both equally, the rest
 * being noise -- with cross-fitting, determinism and argument checks. */
#include "check.h"

#include <math.h>
#include <stdlib.h>

#include "common/rng.h"
#include "ml/probe.h"

/* ---- features ------------------------------------------------------------ */

enum { FR = 3, FH = 32, FW = 32, SIDE = 16 };

/* Three 32x32 frames: a 0.8 square "face" of SIDE x SIDE pixels with its
 * top-left pixel at (top, left) on a 0.2 background, and in it a 6x8
 * "mouth" (face rows 8..13, columns 4..11) that is 0.8 in frame 0 and 0.5
 * in frames 1 and 2.  The mean frame is 0.8 or 0.6 on the face, 0.2 off
 * it, so the face window is the square itself and its 16x16 cells are its
 * pixels.  Cell (10, 6) lies inside the mouth with all its pixel
 * neighbours: appearance (0.8 + 0.5 + 0.5) / 3, motion (0.3 + 0) / 2,
 * change 0.5 - 0.8; cell (2, 2) is plain face: 0.8, 0, 0. */
static void face_frames(float *frames, int top, int left)
{
    for (int t = 0; t < FR; t++)
        for (int r = 0; r < FH; r++)
            for (int c = 0; c < FW; c++) {
                int fr = r - top, fc = c - left;
                int face = fr >= 0 && fr < SIDE && fc >= 0 && fc < SIDE;
                int mouth = face && fr >= 8 && fr < 14 && fc >= 4 && fc < 12;
                frames[(t * FH + r) * FW + c] = mouth && t > 0 ? 0.5f : face ? 0.8f : 0.2f;
            }
}

TEST(probe_features_pool_the_face_into_appearance_motion_and_change_cells)
{
    static float frames[FR * FH * FW];
    face_frames(frames, 8, 8);
    media_features f = {.n_frames = FR, .height = FH, .width = FW, .frames = frames};
    probe_input in;
    probe_features(&f, NULL, &in);
    const int G = PROBE_VIS_GRID, A = 0, M = G * G, C = 2 * G * G;
    CHECK_INT(1, in.present[MOD_VISUAL]);
    CHECK_NEAR(1.8 / 3, in.vis[A + 10 * G + 6], 1e-6);
    CHECK_NEAR(0.15, in.vis[M + 10 * G + 6], 1e-6);
    CHECK_NEAR(-0.3, in.vis[C + 10 * G + 6], 1e-6);
    CHECK_NEAR(0.8, in.vis[A + 2 * G + 2], 1e-6);
    CHECK_NEAR(0.0, in.vis[M + 2 * G + 2], 1e-9);
    CHECK_NEAR(0.0, in.vis[C + 2 * G + 2], 1e-9);
    CHECK_INT(PROBE_VIS_DIM, 3 * G * G);
}

/* The same face elsewhere in the frame gives the same features: the grid
 * follows the face, not the frame. */
TEST(probe_features_follow_the_face_where_it_sits)
{
    static float centred[FR * FH * FW], moved[FR * FH * FW];
    face_frames(centred, 8, 8);
    face_frames(moved, 3, 13);
    media_features f = {.n_frames = FR, .height = FH, .width = FW, .frames = centred};
    probe_input a, b;
    probe_features(&f, NULL, &a);
    f.frames = moved;
    probe_features(&f, NULL, &b);
    int same = 0;
    for (int d = 0; d < PROBE_VIS_DIM; d++)
        same += a.vis[d] == b.vis[d];
    CHECK_INT(PROBE_VIS_DIM, same);
}

/* A mean frame with nothing brighter than the rest is pooled whole, and a
 * 2x2 one still fills every cell: the corner cells take the corner pixels. */
TEST(probe_features_pool_a_flat_mean_frame_whole)
{
    float frames[2 * 4] = {0.1f, 0.2f, 0.3f, 0.4f, 0.4f, 0.3f, 0.2f, 0.1f};
    media_features f = {.n_frames = 2, .height = 2, .width = 2, .frames = frames};
    probe_input in;
    probe_features(&f, NULL, &in);
    const int G = PROBE_VIS_GRID, M = G * G, C = 2 * G * G;
    for (int k = 0; k < G * G; k++)
        CHECK_NEAR(0.25, in.vis[k], 1e-6);
    CHECK_NEAR(0.3, in.vis[M + 0], 1e-6);
    CHECK_NEAR(0.1, in.vis[M + G - 1], 1e-6);
    CHECK_NEAR(0.3, in.vis[C + 0], 1e-6);
    CHECK_NEAR(-0.3, in.vis[C + G * G - 1], 1e-6);
}

/* mel[t][b] = 0.1 b + t over 4 frames: every bin has mean 0.1 b + 1.5,
 * standard deviation sqrt(1.25), mean |delta| 1 and late-minus-early 2; the
 * frame energy is t + log(sum_b exp(0.1 b)). */
TEST(probe_features_summarize_log_mel_bands_and_energy)
{
    enum { T = 4, NM = 40 };
    float mel[T * NM];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < NM; b++)
            mel[t * NM + b] = 0.1f * b + t;
    media_features f = {.has_audio = 1, .n_audio = T, .n_mel = NM, .mel = mel};
    probe_input in;
    probe_features(&f, NULL, &in);
    CHECK_INT(1, in.present[MOD_AUDIO]);
    CHECK_INT(0, in.present[MOD_VISUAL]);
    const int NB = PROBE_AUD_BANDS;
    for (int k = 0; k < NB; k++) {
        CHECK_NEAR(0.1 * k + 1.5, in.aud[k], 1e-5);
        CHECK_NEAR(sqrt(1.25), in.aud[NB + k], 1e-5);
        CHECK_NEAR(1.0, in.aud[2 * NB + k], 1e-5);
        CHECK_NEAR(2.0, in.aud[3 * NB + k], 1e-5);
    }
    double lse = 0;
    for (int b = 0; b < NM; b++)
        lse += exp(0.1 * b);
    CHECK_NEAR(1.5 + log(lse), in.aud[4 * NB], 1e-4);
    CHECK_NEAR(sqrt(1.25), in.aud[4 * NB + 1], 1e-4);
}

/* 80 bands pool two by two into the 40 bins. */
TEST(probe_features_pool_other_band_counts_onto_forty_bins)
{
    enum { NM = 80 };
    float mel[NM];
    for (int b = 0; b < NM; b++)
        mel[b] = (float)b;
    media_features f = {.has_audio = 1, .n_audio = 1, .n_mel = NM, .mel = mel};
    probe_input in;
    probe_features(&f, NULL, &in);
    for (int k = 0; k < PROBE_AUD_BANDS; k++) {
        CHECK_NEAR(2 * k + 0.5, in.aud[k], 1e-6);
        CHECK_NEAR(0.0, in.aud[2 * PROBE_AUD_BANDS + k], 1e-9);  /* one frame: no delta */
    }
}

static int nonzero_buckets(const probe_input *in, int *which)
{
    int count = 0;
    for (int i = 0; i < PROBE_TXT_DIM; i++)
        if (in->txt[i] != 0) {
            *which = i;
            count++;
        }
    return count;
}

TEST(probe_features_hash_subtitle_tokens_into_a_unit_vector)
{
    probe_input a, b, c;
    int happy, joy, bang;
    probe_features(NULL, "happy", &a);
    CHECK_INT(1, nonzero_buckets(&a, &happy));
    CHECK_NEAR(1.0, a.txt[happy], 1e-7);
    probe_features(NULL, "JOY", &b);
    CHECK_INT(1, nonzero_buckets(&b, &joy));
    probe_features(NULL, "!", &c);
    CHECK_INT(1, nonzero_buckets(&c, &bang));
    CHECK(happy != joy && happy != bang && joy != bang);

    probe_features(NULL, "Happy, happy joy!", &a);  /* happy x2, joy, ",", "!" */
    CHECK_INT(1, a.present[MOD_TEXT]);
    CHECK_NEAR(2 / sqrt(7.0), a.txt[happy], 1e-6);
    CHECK_NEAR(1 / sqrt(7.0), a.txt[joy], 1e-6);
    CHECK_NEAR(1 / sqrt(7.0), a.txt[bang], 1e-6);
    double sq = 0;
    for (int i = 0; i < PROBE_TXT_DIM; i++)
        sq += (double)a.txt[i] * a.txt[i];
    CHECK_NEAR(1.0, sq, 1e-6);
}

TEST(probe_features_mark_missing_media_silence_and_empty_subtitles_absent)
{
    float frames[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    media_features silent = {.n_frames = 1, .height = 2, .width = 2, .frames = frames,
                             .has_audio = 0, .n_mel = 40};
    const char *empty[] = {NULL, "", " -- ;: "};
    for (int i = 0; i < 3; i++) {
        probe_input in;
        probe_features(&silent, empty[i], &in);
        CHECK_INT(1, in.present[MOD_VISUAL]);
        CHECK_INT(0, in.present[MOD_AUDIO]);
        CHECK_INT(0, in.present[MOD_TEXT]);
        for (int d = 0; d < PROBE_AUD_DIM; d++)
            CHECK_MSG(in.aud[d] == 0, "silent clip: aud[%d] = %g, want 0", d, in.aud[d]);
        int which;
        CHECK_INT(0, nonzero_buckets(&in, &which));
    }
    probe_input none;
    probe_features(NULL, NULL, &none);
    CHECK_INT(0, none.present[MOD_VISUAL] + none.present[MOD_AUDIO] + none.present[MOD_TEXT]);
}

/* ---- the margin rule ----------------------------------------------------- */

TEST(probe_dominant_needs_the_best_to_beat_the_runner_up_by_more_than_tau)
{
    const double clear[3] = {0.9, 0.2, 0.1}, close[3] = {0.5, 0.45, 0.1};
    const double text[3] = {0.125, 0.25, 0.75}, tie[3] = {0.3, 0.1, 0.3};
    CHECK_INT(MOD_VISUAL, probe_dominant(clear, 0.2));
    CHECK_INT(MOD_MULTIMODAL, probe_dominant(close, 0.1));
    CHECK_INT(MOD_VISUAL, probe_dominant(close, 0.0));
    CHECK_INT(MOD_TEXT, probe_dominant(text, 0.375));
    CHECK_INT(MOD_MULTIMODAL, probe_dominant(text, 0.5));   /* margin exactly 0.5 */
    CHECK_INT(MOD_MULTIMODAL, probe_dominant(tie, 0.0));
    CHECK_INT(MOD_VISUAL, probe_dominant(close, -1.0));     /* as tau 0 */
    CHECK_INT(MOD_MULTIMODAL, probe_dominant(tie, -1.0));
}

/* ---- synthetic clips with known behaviour ---------------------------------- */

enum { CARRY_TEXT, CARRY_AUDIO, CARRY_BOTH };
enum { PROTO_DIMS = 12 };

static double gauss(uint64_t *rng)
{
    double u1 = rng_uniform(rng), u2 = rng_uniform(rng);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

static void fill_noise(float *x, int d, uint64_t *rng)
{
    for (int i = 0; i < d; i++)
        x[i] = (float)gauss(rng);
}

/* Adds label's signature in one modality: PROTO_DIMS fixed dimensions moved
 * by +-strength (against unit noise). */
static void add_signature(float *x, int d, int label, int mod, double strength)
{
    uint64_t rng = rng_stream(99, label, mod);
    for (int i = 0; i < PROTO_DIMS; i++) {
        int at = rng_below(&rng, d);
        x[at] += (float)(rng_uniform(&rng) < 0.5 ? -strength : strength);
    }
}

/* n clips, labels i % 7; every both_every-th clip carries its label in text
 * and audio at the same strength, the others alternate (by blocks of 7)
 * between text only and audio only.  Visual is always pure noise. */
static void synth_clips(int n, uint64_t seed, double strength, int both_every, probe_input *in,
                        int *labels, int *carry)
{
    for (int i = 0; i < n; i++) {
        uint64_t rng = rng_stream(seed, i, 1);
        labels[i] = i % EMOTION_COUNT;
        carry[i] = both_every && i % both_every == 0 ? CARRY_BOTH
                   : (i / EMOTION_COUNT) % 2          ? CARRY_AUDIO
                                                      : CARRY_TEXT;
        fill_noise(in[i].vis, PROBE_VIS_DIM, &rng);
        fill_noise(in[i].aud, PROBE_AUD_DIM, &rng);
        fill_noise(in[i].txt, PROBE_TXT_DIM, &rng);
        if (carry[i] != CARRY_TEXT)
            add_signature(in[i].aud, PROBE_AUD_DIM, labels[i], MOD_AUDIO, strength);
        if (carry[i] != CARRY_AUDIO)
            add_signature(in[i].txt, PROBE_TXT_DIM, labels[i], MOD_TEXT, strength);
        for (int m = 0; m < MODALITY_COUNT; m++)
            in[i].present[m] = 1;
    }
}

/* The cross-fitted MI of the standard synthetic set. */
enum { SET_N = 420, SET_FOLDS = 3, SET_BOTH_EVERY = 5 };
#define SET_STRENGTH 3.0
#define SET_TAU 0.3

typedef struct scored_set {
    probe_input *in;
    int labels[SET_N], carry[SET_N];
    double mi[SET_N][MODALITY_COUNT];
} scored_set;

static scored_set *scored_set_new(migr_err *err)
{
    scored_set *s = calloc(1, sizeof *s);
    if (!s || !(s->in = calloc(SET_N, sizeof *s->in))) {
        free(s);
        migr_errf(err, "no memory");
        return NULL;
    }
    synth_clips(SET_N, 5, SET_STRENGTH, SET_BOTH_EVERY, s->in, s->labels, s->carry);
    probe_config cfg;
    probe_config_default(&cfg);
    if (probe_cross_fit(&cfg, s->in, s->labels, SET_N, SET_FOLDS, s->mi, err) < 0) {
        free(s->in);
        free(s);
        return NULL;
    }
    return s;
}

static void scored_set_free(scored_set *s)
{
    if (s)
        free(s->in);
    free(s);
}

TEST(probe_mi_puts_the_modality_that_carries_the_label_on_top)
{
    migr_err err;
    scored_set *s = scored_set_new(&err);
    CHECK_MSG(s, "cross-fit: %s", err.msg);
    int single = 0, on_top = 0, dominant = 0;
    for (int i = 0; i < SET_N; i++) {
        if (s->carry[i] == CARRY_BOTH)
            continue;
        int m = s->carry[i] == CARRY_TEXT ? MOD_TEXT : MOD_AUDIO;
        int other = m == MOD_TEXT ? MOD_AUDIO : MOD_TEXT;
        single++;
        on_top += s->mi[i][m] > s->mi[i][other] && s->mi[i][m] > s->mi[i][MOD_VISUAL];
        dominant += probe_dominant(s->mi[i], SET_TAU) == m;
    }
    scored_set_free(s);
    CHECK_MSG(on_top >= 0.90 * single, "carrier on top for %d of %d clips, want >= 90%%", on_top,
              single);
    CHECK_MSG(dominant >= 0.85 * single, "carrier dominant (tau %.2f) for %d of %d clips, "
              "want >= 85%%", SET_TAU, dominant, single);
}

TEST(probe_mi_calls_clips_carried_by_two_modalities_equally_multimodal)
{
    migr_err err;
    scored_set *s = scored_set_new(&err);
    CHECK_MSG(s, "cross-fit: %s", err.msg);
    int both = 0, multimodal = 0, both_high = 0;
    for (int i = 0; i < SET_N; i++) {
        if (s->carry[i] != CARRY_BOTH)
            continue;
        both++;
        multimodal += probe_dominant(s->mi[i], SET_TAU) == MOD_MULTIMODAL;
        both_high += s->mi[i][MOD_TEXT] > 0.5 && s->mi[i][MOD_AUDIO] > 0.5;
    }
    scored_set_free(s);
    CHECK_MSG(multimodal >= 0.75 * both, "%d of %d two-carrier clips multimodal (tau %.2f), "
              "want >= 75%%", multimodal, both, SET_TAU);
    CHECK_MSG(both_high >= 0.75 * both, "%d of %d two-carrier clips have both MI > 0.5, "
              "want >= 75%%", both_high, both);
}

/* Visual is noise on every clip: calibrated, it answers near chance clip by
 * clip.  Text (audio) is noise on the clips that audio (text) carries: its
 * encoder has learned real signatures and answers noise less evenly (above
 * 0.4 on 3-13% of clips, depending on the draw), but near chance on
 * average and below the carrier (see the test above). */
TEST(probe_mi_of_a_noise_modality_is_near_chance)
{
    migr_err err;
    scored_set *s = scored_set_new(&err);
    CHECK_MSG(s, "cross-fit: %s", err.msg);
    double visual = 0, other = 0;
    int singles = 0, visual_far = 0, other_high = 0;
    for (int i = 0; i < SET_N; i++) {
        visual += s->mi[i][MOD_VISUAL];
        visual_far += fabs(s->mi[i][MOD_VISUAL] - 1.0 / EMOTION_COUNT) > 0.1;
        if (s->carry[i] == CARRY_BOTH)
            continue;
        double mi = s->mi[i][s->carry[i] == CARRY_TEXT ? MOD_AUDIO : MOD_TEXT];
        other += mi;
        other_high += mi > 0.4;
        singles++;
    }
    scored_set_free(s);
    CHECK_NEAR(1.0 / EMOTION_COUNT, visual / SET_N, 0.1);
    CHECK_MSG(visual_far <= SET_N / 20, "visual MI more than 0.1 from chance on %d of %d clips, "
              "want <= 5%%", visual_far, SET_N);
    CHECK_NEAR(1.0 / EMOTION_COUNT, other / singles, 0.1);
    CHECK_MSG(other_high <= singles / 5, "non-carrying modality's MI above 0.4 on %d of %d "
              "clips, want <= 20%%", other_high, singles);
}

/* Without calibration the memorized noise modality answers confidently:
 * the held-out temperature is what brings it to chance. */
TEST(probe_calibration_is_what_brings_a_memorized_noise_modality_to_chance)
{
    enum { N = 168 };
    static probe_input in[N];
    static double mi[N][MODALITY_COUNT];
    int labels[N], carry[N];
    synth_clips(N, 6, SET_STRENGTH, 0, in, labels, carry);
    probe_config cfg;
    probe_config_default(&cfg);
    int far[2] = {0, 0};
    migr_err err;
    for (int calibrated = 0; calibrated < 2; calibrated++) {
        cfg.calibration = calibrated ? 0.2 : 0.0;
        CHECK_MSG(probe_cross_fit(&cfg, in, labels, N, 3, mi, &err) == 0, "%s", err.msg);
        for (int i = 0; i < N; i++)
            far[calibrated] += fabs(mi[i][MOD_VISUAL] - 1.0 / EMOTION_COUNT) > 0.1;
    }
    CHECK_MSG(far[0] >= N / 5, "uncalibrated: visual MI far from chance on only %d of %d clips",
              far[0], N);
    CHECK_MSG(far[1] <= N / 20, "calibrated: visual MI far from chance on %d of %d clips",
              far[1], N);
}

/* ---- training, cross-fitting, determinism -------------------------------- */

/* A quick config for the tests that only need a trained probe. */
static probe_config quick_config(void)
{
    probe_config cfg;
    probe_config_default(&cfg);
    cfg.epochs = 4;
    cfg.hidden = 8;
    return cfg;
}

TEST(probe_gradients_match_finite_differences)
{
    enum { N = 21, B = 7 };
    static probe_input in[N];
    int labels[N], carry[N];
    synth_clips(N, 11, 2.0, 3, in, labels, carry);
    in[3].present[MOD_AUDIO] = 0;  /* one clip without audio */
    probe_config cfg = quick_config();
    cfg.hidden = 5;
    migr_err err;
    probe *p = probe_train(&cfg, in, labels, NULL, N, &err);
    CHECK_MSG(p, "train: %s", err.msg);

    /* Every subset of modalities appears; clip 3 keeps only what it has. */
    const int ids[B] = {0, 1, 2, 3, 4, 5, 6};
    const unsigned kept[B] = {1, 2, 4, 5, 3, 6, 7};
    size_t n;
    float *params = probe_params(p, &n);
    float *grad = malloc(n * sizeof *grad), *dummy = malloc(n * sizeof *dummy);
    double loss, lp, lm;
    int rc = grad && dummy ? probe_batch_gradient(p, in, labels, ids, kept, B, grad, &loss, &err)
                           : -1;
    int bad = 0, checked = 0;
    size_t worst = 0;
    double worst_g = 0, worst_fd = 0;
    for (size_t i = 0; rc == 0 && i < n; i += 19) {
        float saved = params[i];
        const float h = 1e-2f;
        params[i] = saved + h;
        rc |= probe_batch_gradient(p, in, labels, ids, kept, B, dummy, &lp, &err);
        params[i] = saved - h;
        rc |= probe_batch_gradient(p, in, labels, ids, kept, B, dummy, &lm, &err);
        params[i] = saved;
        double fd = (lp - lm) / (2.0 * h);
        checked++;
        if (fabs(fd - grad[i]) > 2e-3 + 0.03 * fabs(fd)) {
            if (!bad++ || fabs(fd - grad[i]) > fabs(worst_fd - worst_g))
                worst = i, worst_g = grad[i], worst_fd = fd;
        }
    }
    free(grad);
    free(dummy);
    probe_free(&p);
    CHECK_MSG(rc == 0, "batch gradient: %s", err.msg);
    CHECK_MSG(checked > 100, "only %d parameters checked", checked);
    CHECK_MSG(bad == 0, "%d of %d gradients off; worst param %zu: analytic %g, numeric %g", bad,
              checked, worst, worst_g, worst_fd);
}

TEST(probe_batch_gradient_refuses_a_modality_the_clip_lacks)
{
    enum { N = 14 };
    static probe_input in[N];
    int labels[N], carry[N];
    synth_clips(N, 3, 2.0, 0, in, labels, carry);
    in[0].present[MOD_TEXT] = 0;
    probe_config cfg = quick_config();
    migr_err err;
    probe *p = probe_train(&cfg, in, labels, NULL, N, &err);
    CHECK_MSG(p, "train: %s", err.msg);
    size_t n;
    (void)probe_params(p, &n);
    float *grad = malloc(n * sizeof *grad);
    const int ids[1] = {0};
    const unsigned text_only[1] = {1u << MOD_TEXT}, none[1] = {0};
    double loss;
    int rc1 = grad ? probe_batch_gradient(p, in, labels, ids, text_only, 1, grad, &loss, &err) : 0;
    int rc2 = grad ? probe_batch_gradient(p, in, labels, ids, none, 1, grad, &loss, &err) : 0;
    free(grad);
    probe_free(&p);
    CHECK(grad != NULL);
    CHECK_INT(-1, rc1);
    CHECK_INT(-1, rc2);
}

TEST(probe_cross_fit_is_deterministic_for_a_seed)
{
    enum { N = 140 };
    static probe_input in[N];
    static double a[N][MODALITY_COUNT], b[N][MODALITY_COUNT], c[N][MODALITY_COUNT];
    int labels[N], carry[N];
    synth_clips(N, 7, 2.0, 5, in, labels, carry);
    probe_config cfg = quick_config();
    migr_err err;
    CHECK_MSG(probe_cross_fit(&cfg, in, labels, N, 3, a, &err) == 0, "%s", err.msg);
    CHECK_MSG(probe_cross_fit(&cfg, in, labels, N, 3, b, &err) == 0, "%s", err.msg);
    cfg.seed = 2;
    CHECK_MSG(probe_cross_fit(&cfg, in, labels, N, 3, c, &err) == 0, "%s", err.msg);
    CHECK_MSG(memcmp(a, b, sizeof a) == 0, "same seed, different MI");
    CHECK_MSG(memcmp(a, c, sizeof a) != 0, "seeds 1 and 2 gave identical MI");
}

/* Repeated cross-fitting is the mean, in repeat order, of the cross-fits
 * seeded probe_repeat_seed(seed, r); repeats outside 1..100 are refused. */
TEST(probe_cross_fit_repeated_is_the_mean_of_its_cross_fits)
{
    enum { N = 140, R = 3 };
    static probe_input in[N];
    static double got[N][MODALITY_COUNT], one[N][MODALITY_COUNT], want[N][MODALITY_COUNT];
    int labels[N], carry[N];
    synth_clips(N, 7, 2.0, 5, in, labels, carry);
    probe_config cfg = quick_config();
    migr_err err;
    CHECK_MSG(probe_cross_fit_repeated(&cfg, in, labels, N, 3, R, got, &err) == 0, "%s", err.msg);
    memset(want, 0, sizeof want);
    for (int r = 0; r < R; r++) {
        probe_config rc = cfg;
        rc.seed = probe_repeat_seed(cfg.seed, r);
        CHECK_MSG(probe_cross_fit(&rc, in, labels, N, 3, one, &err) == 0, "%s", err.msg);
        for (int i = 0; i < N; i++)
            for (int m = 0; m < MODALITY_COUNT; m++)
                want[i][m] += one[i][m];
    }
    int differs = 0;
    for (int i = 0; i < N; i++)
        for (int m = 0; m < MODALITY_COUNT; m++) {
            want[i][m] /= R;
            CHECK_MSG(got[i][m] == want[i][m], "clip %d modality %d: %.17g, the mean is %.17g", i, m,
                      got[i][m], want[i][m]);
            differs += one[i][m] != want[i][m];
        }
    CHECK_MSG(differs > 0, "the last repeat alone equals the mean: the repeats did not differ");
    CHECK_INT(-1, probe_cross_fit_repeated(&cfg, in, labels, N, 3, 0, got, &err));
    CHECK_MSG(strstr(err.msg, "repeats") != NULL, "%s", err.msg);
    CHECK_INT(-1, probe_cross_fit_repeated(&cfg, in, labels, N, 3, MI_MAX_REPEATS + 1, got, &err));
}

TEST(probe_folds_are_balanced_stratified_and_cover_every_clip_once)
{
    enum { N = 101, FOLDS = 4 };
    int labels[N], fold_of[N], again[N];
    for (int i = 0; i < N; i++)
        labels[i] = (i * 5) % EMOTION_COUNT;
    for (int i = 0; i < N; i++)
        fold_of[i] = -1;
    migr_err err;
    CHECK_MSG(probe_assign_folds(labels, N, FOLDS, 9, fold_of, &err) == 0, "%s", err.msg);
    int size[FOLDS] = {0}, per[FOLDS][EMOTION_COUNT] = {{0}};
    for (int i = 0; i < N; i++) {
        CHECK_MSG(fold_of[i] >= 0 && fold_of[i] < FOLDS, "clip %d: fold %d", i, fold_of[i]);
        size[fold_of[i]]++;
        per[fold_of[i]][labels[i]]++;
    }
    for (int f = 0; f < FOLDS; f++) {
        CHECK_MSG(size[f] == N / FOLDS || size[f] == N / FOLDS + 1, "fold %d has %d clips", f,
                  size[f]);
        for (int l = 0; l < EMOTION_COUNT; l++)
            for (int g = 0; g < FOLDS; g++)
                CHECK_MSG(abs(per[f][l] - per[g][l]) <= 1, "label %d: %d clips in fold %d, %d "
                          "in fold %d", l, per[f][l], f, per[g][l], g);
    }
    CHECK_INT(0, probe_assign_folds(labels, N, FOLDS, 9, again, &err));
    CHECK(memcmp(fold_of, again, sizeof again) == 0);
    CHECK_INT(0, probe_assign_folds(labels, N, FOLDS, 10, again, &err));
    CHECK(memcmp(fold_of, again, sizeof again) != 0);
}

/* Each clip's cross-fitted MI is exactly what the probe trained on the
 * other folds gives it. */
TEST(probe_cross_fit_scores_each_clip_once_with_a_probe_that_did_not_see_it)
{
    enum { N = 84, FOLDS = 3 };  /* 56 to train on: 11 held out to calibrate */
    static probe_input in[N];
    static double mi[N][MODALITY_COUNT];
    int labels[N], carry[N], fold_of[N], subset[N], scored[N] = {0};
    synth_clips(N, 4, 2.0, 5, in, labels, carry);
    for (int i = 0; i < N; i++)
        mi[i][0] = mi[i][1] = mi[i][2] = NAN;
    probe_config cfg = quick_config();
    migr_err err;
    CHECK_MSG(probe_cross_fit(&cfg, in, labels, N, FOLDS, mi, &err) == 0, "%s", err.msg);
    CHECK_INT(0, probe_assign_folds(labels, N, FOLDS, cfg.seed, fold_of, &err));
    for (int f = 0; f < FOLDS; f++) {
        int count = 0;
        for (int i = 0; i < N; i++)
            if (fold_of[i] != f)
                subset[count++] = i;
        probe_config fc = cfg;
        fc.seed = probe_fold_seed(cfg.seed, f);
        probe *p = probe_train(&fc, in, labels, subset, count, &err);
        CHECK_MSG(p, "fold %d: %s", f, err.msg);
        int mismatch = -1;
        for (int i = 0; i < N; i++) {
            if (fold_of[i] != f)
                continue;
            double want[MODALITY_COUNT];
            probe_mi(p, &in[i], want, labels[i]);
            scored[i]++;
            if (memcmp(want, mi[i], sizeof want) != 0 && mismatch < 0)
                mismatch = i;
        }
        probe_free(&p);
        CHECK_MSG(mismatch < 0, "clip %d (fold %d): cross-fit MI differs from its fold's probe",
                  mismatch, f);
    }
    for (int i = 0; i < N; i++) {
        CHECK_MSG(scored[i] == 1, "clip %d scored %d times", i, scored[i]);
        for (int m = 0; m < MODALITY_COUNT; m++)
            CHECK_MSG(mi[i][m] >= 0 && mi[i][m] <= 1, "clip %d: mi[%d] = %g", i, m, mi[i][m]);
    }
}

/* A clip without audio scores chance there; a probe whose training clips
 * never had text scores chance for text even on a clip that has it. */
TEST(probe_mi_of_an_absent_or_untrained_modality_is_chance)
{
    enum { N = 28 };
    static probe_input in[N];
    int labels[N], carry[N];
    synth_clips(N, 8, 2.0, 0, in, labels, carry);
    for (int i = 1; i < N; i++)
        in[i].present[MOD_TEXT] = 0;
    in[2].present[MOD_AUDIO] = 0;
    probe_config cfg = quick_config();
    migr_err err;
    const int others[N - 1] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                               15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
    probe *p = probe_train(&cfg, in, labels, others, N - 1, &err);
    CHECK_MSG(p, "train: %s", err.msg);
    double mi0[MODALITY_COUNT], mi2[MODALITY_COUNT], probs[PROBE_MAX_LABELS];
    probe_mi(p, &in[0], mi0, labels[0]);
    probe_mi(p, &in[2], mi2, labels[2]);
    probe_probs(p, &in[2], 1u << MOD_AUDIO | 1u << MOD_TEXT, probs);
    probe_free(&p);
    CHECK_NEAR(1.0 / EMOTION_COUNT, mi0[MOD_TEXT], 1e-12);
    CHECK_NEAR(1.0 / EMOTION_COUNT, mi2[MOD_AUDIO], 1e-12);
    CHECK_NEAR(1.0 / EMOTION_COUNT, mi2[MOD_TEXT], 1e-12);
    CHECK(fabs(mi0[MOD_AUDIO] - 1.0 / EMOTION_COUNT) > 1e-6);  /* audio is trained */
    for (int k = 0; k < EMOTION_COUNT; k++)
        CHECK_NEAR(1.0 / EMOTION_COUNT, probs[k], 1e-12);
}

TEST(probe_rejects_bad_configs_labels_and_fold_counts)
{
    enum { N = 14 };
    static probe_input in[N];
    static double mi[N][MODALITY_COUNT];
    int labels[N], carry[N];
    synth_clips(N, 2, 1.0, 0, in, labels, carry);
    migr_err err;
    probe_config cfg = quick_config();

    cfg.n_labels = 1;
    CHECK(probe_train(&cfg, in, labels, NULL, N, &err) == NULL);
    CHECK(strstr(err.msg, "n_labels") != NULL);
    cfg = quick_config();
    cfg.p_keep = 0;
    CHECK(probe_train(&cfg, in, labels, NULL, N, &err) == NULL);
    CHECK(strstr(err.msg, "p_keep") != NULL);
    cfg = quick_config();
    cfg.calibration = 1;
    CHECK(probe_train(&cfg, in, labels, NULL, N, &err) == NULL);
    CHECK(strstr(err.msg, "calibration") != NULL);
    cfg = quick_config();
    CHECK(probe_train(&cfg, in, labels, NULL, 0, &err) == NULL);

    labels[5] = EMOTION_COUNT;
    CHECK(probe_train(&cfg, in, labels, NULL, N, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "clip 5") != NULL, "message: %s", err.msg);
    CHECK_INT(-1, probe_cross_fit(&cfg, in, labels, N, 2, mi, &err));
    CHECK_MSG(strstr(err.msg, "clip 5") != NULL, "message: %s", err.msg);
    labels[5] = 0;

    CHECK_INT(-1, probe_cross_fit(&cfg, in, labels, N, 1, mi, &err));
    CHECK_MSG(strstr(err.msg, "1 folds") != NULL, "message: %s", err.msg);
    CHECK_INT(-1, probe_cross_fit(&cfg, in, labels, N, N + 1, mi, &err));
}
