/* test_synth.c -- the synthetic generator: plans, their rates and wording,
 * reproducible rendering, and the YAML config. */
#include "check.h"

#include <ctype.h>
#include <libavutil/log.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "media/synth_media.h"
#include "spec/synth.h"

/* ---- helpers ---- */

static void quiet_ffmpeg(void)
{
    av_log_set_level(AV_LOG_FATAL);
}

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", check_tmpdir(), name);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = fwrite(text, 1, strlen(text), f);
    return fclose(f) == 0 && n == strlen(text) ? 0 : -1;
}

/* 1 if s holds a double quote or a line break. */
static int has_bad_char(const char *s)
{
    return strpbrk(s, "\"\n\r") != NULL;
}

/* ---- config ---- */

TEST(synth_config_default_matches_the_documented_values)
{
    synth_config c;
    synth_config_default(&c);
    CHECK_NEAR(0.34, c.dominant_weight[MOD_VISUAL], 1e-12);
    CHECK_NEAR(0.33, c.dominant_weight[MOD_AUDIO], 1e-12);
    CHECK_NEAR(0.33, c.dominant_weight[MOD_TEXT], 1e-12);
    CHECK_NEAR(0.5, c.p_misleading, 1e-12);
    CHECK_NEAR(0.2, c.p_neutral, 1e-12);
    CHECK_NEAR(0.2, c.p_weak, 1e-12);
    CHECK_NEAR(0.7, c.dominant_strength_min, 1e-12);
    CHECK_NEAR(1.0, c.dominant_strength_max, 1e-12);
    CHECK_NEAR(0.75, c.drift, 1e-12);
    CHECK_INT(64, c.width);
    CHECK_INT(64, c.height);
    CHECK_INT(10, c.fps);
    CHECK_NEAR(2.0, c.seconds, 1e-12);
    CHECK_INT(16000, c.sample_rate);
}

TEST(synth_config_load_reads_yaml_and_keeps_absent_keys)
{
    char path[512];
    synth_config c;
    migr_err err = {{0}};
    tmp_path(path, sizeof path, "synth.yaml");
    CHECK(write_text(path, "# generator settings\n"
                           "dominant_weight:\n"
                           "  visual: 0.5\n"
                           "  text: 0.1\n"
                           "p_misleading: 0.4\n"
                           "drift: 0.25\n"
                           "seconds: 1.5\n"
                           "width: 96\n") == 0);
    synth_config_default(&c);
    CHECK_MSG(synth_config_load(path, &c, &err) == 0, "load failed: %s", err.msg);
    CHECK_NEAR(0.5, c.dominant_weight[MOD_VISUAL], 1e-12);
    CHECK_NEAR(0.33, c.dominant_weight[MOD_AUDIO], 1e-12);
    CHECK_NEAR(0.1, c.dominant_weight[MOD_TEXT], 1e-12);
    CHECK_NEAR(0.4, c.p_misleading, 1e-12);
    CHECK_NEAR(0.2, c.p_neutral, 1e-12);
    CHECK_NEAR(0.25, c.drift, 1e-12);
    CHECK_NEAR(1.5, c.seconds, 1e-12);
    CHECK_INT(96, c.width);
    CHECK_INT(64, c.height);
}

TEST(synth_config_load_rejects_unknown_key_naming_key_and_line)
{
    char path[512];
    synth_config c, before;
    migr_err err = {{0}};
    tmp_path(path, sizeof path, "synth.yaml");
    CHECK(write_text(path, "p_weak: 0.1\nframe_rate: 25\n") == 0);
    synth_config_default(&c);
    before = c;
    CHECK_INT(-1, synth_config_load(path, &c, &err));
    CHECK_MSG(strstr(err.msg, "frame_rate") && strstr(err.msg, ":2:"),
              "expected a message naming frame_rate on line 2, got \"%s\"", err.msg);
    CHECK_MSG(memcmp(&c, &before, sizeof c) == 0,
              "expected the config unchanged after a failed load");
}

TEST(synth_config_load_rejects_bad_values_naming_the_key)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"p_misleading: lots\n", "p_misleading"},
        {"fps: 0\n", "fps"},
        {"width: 63.5\n", "width"},
        {"dominant_weight:\n  smell: 1\n", "smell"},
        {"dominant_weight: 3\n", "dominant_weight"},
        {"p_misleading: 0.6\np_neutral: 0.6\n", "p_misleading + p_neutral"},
        {"dominant_strength_min: 0.9\ndominant_strength_max: 0.8\n", "dominant_strength_min"},
        {"p_weak: [0.1\n", "YAML"},
        {"- p_weak\n- 0.1\n", ":1: expected a mapping of settings"},
    };
    char path[512];
    tmp_path(path, sizeof path, "synth.yaml");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        synth_config c;
        migr_err err = {{0}};
        synth_config_default(&c);
        CHECK(write_text(path, cases[i].yaml) == 0);
        int rc = synth_config_load(path, &c, &err);
        CHECK_MSG(rc == -1 && strstr(err.msg, cases[i].want),
                  "case %zu: expected -1 with a message containing \"%s\", got %d, \"%s\"", i,
                  cases[i].want, rc, err.msg);
    }
}

TEST(synth_config_load_missing_file_fails_naming_it)
{
    char path[512];
    synth_config c;
    migr_err err = {{0}};
    tmp_path(path, sizeof path, "absent.yaml");
    synth_config_default(&c);
    CHECK_INT(-1, synth_config_load(path, &c, &err));
    CHECK_MSG(strstr(err.msg, path), "expected the message to name %s, got \"%s\"", path, err.msg);
}

/* ---- plans ---- */

TEST(synth_plan_is_a_pure_function_of_seed_and_index)
{
    synth_config cfg;
    synth_clip a, b, other;
    synth_config_default(&cfg);
    synth_plan(&cfg, 12345, 17, &a);
    synth_plan(&cfg, 99, 3, &other);  /* nothing carries over between calls */
    synth_plan(&cfg, 12345, 17, &b);
    CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "expected two plans of (12345, 17) to be identical");
    CHECK_INT(17, a.index);
    CHECK_STR("clip_000017.mp4", a.file);
    int differ = 0;
    for (int i = 0; i < 20 && !differ; i++) {
        synth_plan(&cfg, 12346, i, &b);
        synth_plan(&cfg, 12345, i, &a);
        differ = a.label != b.label || strcmp(a.think, b.think) != 0;
    }
    CHECK_MSG(differ, "expected seeds 12345 and 12346 to give different plans");
}

TEST(synth_plan_rates_match_the_config_over_2000_clips)
{
    enum { N = 2000 };
    synth_config cfg;
    int dominant[MODALITY_COUNT] = {0}, label[EMOTION_COUNT] = {0};
    int minor = 0, misleading = 0, neutral = 0, weak = 0;
    synth_config_default(&cfg);
    for (int i = 0; i < N; i++) {
        synth_clip c;
        synth_plan(&cfg, 2024, i, &c);
        CHECK_MSG(c.label >= 0 && c.label < EMOTION_COUNT, "clip %d: label %d", i, c.label);
        CHECK_MSG(c.dominant >= 0 && c.dominant < MODALITY_COUNT, "clip %d: dominant %d", i,
                  c.dominant);
        dominant[c.dominant]++;
        label[c.label]++;
        const synth_cue *d = &c.cue[c.dominant];
        CHECK_MSG(d->emotion == c.label && d->strength >= 0.7 && d->strength <= 1.0,
                  "clip %d: expected the dominant cue to be the label at 0.7..1, got %d at %g", i,
                  d->emotion, d->strength);
        for (int m = 0; m < MODALITY_COUNT; m++) {
            const synth_cue *q = &c.cue[m];
            if (m == c.dominant)
                continue;
            CHECK_MSG(q->strength < d->strength, "clip %d: a minor cue outweighs the dominant",
                      i);
            minor++;
            if (q->emotion != c.label && q->emotion != EMO_NEUTRAL)
                misleading++;
            else if (q->emotion == EMO_NEUTRAL && c.label != EMO_NEUTRAL)
                neutral++;
            else if (q->emotion == c.label && q->strength < 0.3)
                weak++;
        }
    }
    for (int m = 0; m < MODALITY_COUNT; m++)
        CHECK_MSG(fabs((double)dominant[m] / N - cfg.dominant_weight[m]) <= 0.05,
                  "%s dominant: expected share %.2f +- 0.05, got %.3f", modality_name(m),
                  cfg.dominant_weight[m], (double)dominant[m] / N);
    for (int e = 0; e < EMOTION_COUNT; e++)
        CHECK_MSG(fabs((double)label[e] / N - 1.0 / EMOTION_COUNT) <= 0.04,
                  "label %s: expected share %.3f +- 0.04, got %.3f", emotion_name(e),
                  1.0 / EMOTION_COUNT, (double)label[e] / N);
    /* Neutral cues under a neutral label count as agreeing, so the neutral
     * share is p_neutral scaled by the six non-neutral labels' share. */
    CHECK_MSG(fabs((double)misleading / minor - cfg.p_misleading) <= 0.05,
              "misleading: expected share %.2f +- 0.05, got %.3f", cfg.p_misleading,
              (double)misleading / minor);
    CHECK_MSG(fabs((double)neutral / minor - cfg.p_neutral * 6 / 7) <= 0.05,
              "neutral: expected share %.3f +- 0.05, got %.3f", cfg.p_neutral * 6 / 7,
              (double)neutral / minor);
    CHECK_MSG(fabs((double)weak / minor - cfg.p_weak) <= 0.05,
              "weak: expected share %.2f +- 0.05, got %.3f", cfg.p_weak, (double)weak / minor);
}

TEST(synth_plan_weights_steer_the_dominant_modality)
{
    synth_config cfg;
    int text = 0;
    synth_config_default(&cfg);
    cfg.dominant_weight[MOD_VISUAL] = 0;
    cfg.dominant_weight[MOD_AUDIO] = 0;
    cfg.dominant_weight[MOD_TEXT] = 2;
    for (int i = 0; i < 200; i++) {
        synth_clip c;
        synth_plan(&cfg, 5, i, &c);
        text += c.dominant == MOD_TEXT;
    }
    CHECK_INT(200, text);
}

TEST(synth_plan_text_is_clean_and_think_concludes_the_label)
{
    synth_config cfg;
    synth_config_default(&cfg);
    for (int i = 0; i < 500; i++) {
        synth_clip c;
        char want[64];
        synth_plan(&cfg, 77, i, &c);
        CHECK_MSG(c.subtitle[0] && !has_bad_char(c.subtitle), "clip %d subtitle: \"%s\"", i,
                  c.subtitle);
        for (int m = 0; m < MODALITY_COUNT; m++)
            CHECK_MSG(c.clue[m][0] && !has_bad_char(c.clue[m]), "clip %d %s clue: \"%s\"", i,
                      modality_name(m), c.clue[m]);
        CHECK_MSG(!has_bad_char(c.think), "clip %d think: \"%s\"", i, c.think);
        snprintf(want, sizeof want, "so the emotion is %s.", emotion_name(c.label));
        size_t n = strlen(c.think), w = strlen(want);
        CHECK_MSG(n > w && strcmp(c.think + n - w, want) == 0,
                  "clip %d: expected think to end with \"%s\", got \"%s\"", i, want, c.think);
        const char *noun[] = {"The face", "The voice", "The subtitle"};
        CHECK_MSG(strncmp(c.think, noun[c.dominant], strlen(noun[c.dominant])) == 0,
                  "clip %d: expected think to start from the dominant %s, got \"%s\"", i,
                  modality_name(c.dominant), c.think);
    }
}

/* A faint text cue is worded faintly: each sentence a faint cue uses stands
 * for three emotions, so a faint subtitle alone does not name its cue's
 * emotion (one sentence per emotion let modality importance read the label
 * off it as surely as off a strong one).  Strong and moderate cues keep
 * wording of their own. */
TEST(synth_faint_subtitles_are_shared_by_three_emotions_and_stronger_ones_by_one)
{
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.p_misleading = 0, cfg.p_neutral = 0, cfg.p_weak = 1; /* every minor text cue faint */
    enum { MAX_SENTENCES = 64 };
    char seen[MAX_SENTENCES][256];
    unsigned emotions[MAX_SENTENCES] = {0}, stronger[MAX_SENTENCES] = {0};
    int n = 0, faint_clips = 0;
    for (int i = 0; i < 3000; i++) {
        synth_clip c;
        synth_plan(&cfg, 21, i, &c);
        const synth_cue *t = &c.cue[MOD_TEXT];
        if (t->emotion == EMO_NEUTRAL)
            continue;
        int k = 0;
        while (k < n && strcmp(seen[k], c.subtitle) != 0)
            k++;
        if (k == n) {
            CHECK_MSG(n < MAX_SENTENCES, "more than %d distinct subtitles", MAX_SENTENCES);
            snprintf(seen[n++], sizeof seen[0], "%s", c.subtitle);
        }
        if (t->strength < 0.35) {
            emotions[k] |= 1u << t->emotion;
            faint_clips++;
        } else {
            stronger[k] |= 1u << t->emotion;
        }
    }
    CHECK_MSG(faint_clips > 1000, "only %d faint text cues", faint_clips);
    for (int k = 0; k < n; k++) {
        CHECK_MSG(!emotions[k] || __builtin_popcount(emotions[k]) == 3,
                  "faint subtitle \"%s\" stands for %d emotions, not 3", seen[k], __builtin_popcount(emotions[k]));
        CHECK_MSG(!stronger[k] || __builtin_popcount(stronger[k]) == 1,
                  "subtitle \"%s\" of a stronger cue stands for %d emotions", seen[k], __builtin_popcount(stronger[k]));
    }
}

/* ---- reasoning drift ---- */

/* The emotion words a text names other than want's (-1: none), as the
 * first one found, or -1. */
static int names_other_emotion(const char *text, int want)
{
    static const char *const words[EMOTION_COUNT][2] = {
        {"happy", "happy"}, {"sad", "sad"}, {"neutral", "neutral"}, {"angry", "anger"},
        {"surprised", "surprise"}, {"disgusted", "disgust"}, {"afraid", "fear"}};
    for (int e = 0; e < EMOTION_COUNT; e++) {
        if (e == want)
            continue;
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(words[e][k]);
            for (const char *p = strstr(text, words[e][k]); p; p = strstr(p + 1, words[e][k]))
                if ((p == text || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[n]))
                    return e;
        }
    }
    return -1;
}

/* A block that shows another emotion than the label: a misleading cue, or
 * a blank (neutral) one over a label that is not neutral. */
static int misleads(const synth_clip *c, int m)
{
    return m != c->dominant && c->cue[m].emotion != c->label;
}

TEST(synth_drift_0_gives_no_think_that_names_another_emotion_than_the_label)
{
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.drift = 0;
    for (int i = 0; i < 1000; i++) {
        synth_clip c;
        synth_plan(&cfg, 31, i, &c);
        CHECK_MSG(c.drifted == 0, "clip %d drifted at rate 0", i);
        for (int m = 0; m < MODALITY_COUNT; m++) {
            int other = names_other_emotion(c.think_first[m], c.label);
            CHECK_MSG(other < 0, "clip %d (%s), first block %s: its think names %s: \"%s\"", i,
                      emotion_name(c.label), modality_name(m), emotion_name(other), c.think_first[m]);
            CHECK_MSG(strcmp(c.think_first[m], c.think) == 0, "clip %d: think_first[%s] is not think", i,
                      modality_name(m));
        }
    }
}

TEST(synth_drift_1_makes_every_misleading_or_blank_first_block_s_think_follow_it)
{
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.drift = 1;
    int seen = 0;
    for (int i = 0; i < 1000; i++) {
        synth_clip c;
        synth_plan(&cfg, 31, i, &c);
        for (int m = 0; m < MODALITY_COUNT; m++) {
            if (!misleads(&c, m)) {
                CHECK_MSG(!(c.drifted & (1u << m)) && strcmp(c.think_first[m], c.think) == 0,
                          "clip %d: %s does not mislead, yet its think drifted: \"%s\"", i,
                          modality_name(m), c.think_first[m]);
                continue;
            }
            seen++;
            int named = names_other_emotion(c.think_first[m], c.label);
            CHECK_MSG(c.drifted & (1u << m), "clip %d: misleading %s did not drift", i, modality_name(m));
            CHECK_MSG(named == c.cue[m].emotion && names_other_emotion(c.think_first[m], -1) == named,
                      "clip %d (%s), misleading %s (%s): expected a think that names only %s: \"%s\"", i,
                      emotion_name(c.label), modality_name(m), emotion_name(c.cue[m].emotion),
                      emotion_name(c.cue[m].emotion), c.think_first[m]);
        }
    }
    CHECK_MSG(seen > 500, "only %d misleading or blank blocks in 1000 clips", seen);
}

/* The rate is a share of clips, drawn from a stream of its own: the rest of
 * a plan is the same whatever the rate. */
TEST(synth_drift_rate_is_the_share_of_clips_and_changes_nothing_else)
{
    synth_config cfg0, cfg;
    synth_config_default(&cfg0);
    cfg0.drift = 0;
    cfg = cfg0;
    cfg.drift = 0.5;
    int with_misleading = 0, drifted = 0;
    for (int i = 0; i < 2000; i++) {
        synth_clip a, b;
        synth_plan(&cfg0, 8, i, &a);
        synth_plan(&cfg, 8, i, &b);
        CHECK_MSG(a.label == b.label && a.dominant == b.dominant && strcmp(a.think, b.think) == 0 &&
                      strcmp(a.subtitle, b.subtitle) == 0 && memcmp(a.cue, b.cue, sizeof a.cue) == 0,
                  "clip %d: the drift rate changed more than the drifted thinks", i);
        int any = misleads(&b, 0) || misleads(&b, 1) || misleads(&b, 2);
        with_misleading += any;
        drifted += b.drifted != 0;
    }
    double share = (double)drifted / with_misleading;
    CHECK_MSG(share > 0.45 && share < 0.55, "%d of %d clips with a misleading block drifted (%.3f), not half",
              drifted, with_misleading, share);
}

/* ---- rendering ---- */

TEST(synth_render_same_clip_twice_gives_identical_bytes)
{
    char p1[512], p2[512];
    synth_config cfg;
    synth_clip clip;
    size_t n1 = 0, n2 = 0;
    migr_err err = {{0}};
    quiet_ffmpeg();
    synth_config_default(&cfg);
    synth_plan(&cfg, 31, 8, &clip);
    tmp_path(p1, sizeof p1, "one.mp4");
    tmp_path(p2, sizeof p2, "two.mp4");
    CHECK_MSG(synth_render(&cfg, 31, &clip, p1, &err) == 0, "render: %s", err.msg);
    CHECK_MSG(synth_render(&cfg, 31, &clip, p2, &err) == 0, "render: %s", err.msg);
    uint8_t *b1 = NULL, *b2 = NULL;
    int same = fs_read_file(p1, &b1, &n1, &err) == 0 && fs_read_file(p2, &b2, &n2, &err) == 0 &&
               n1 == n2 && memcmp(b1, b2, n1) == 0;
    free(b1);
    free(b2);
    CHECK_MSG(same, "expected identical files, got %zu and %zu bytes that differ", n1, n2);
    CHECK_MSG(n1 > 1000, "expected a real MP4, got %zu bytes", n1);
}

TEST(synth_render_leaves_only_the_clip_in_its_directory)
{
    char path[512];
    synth_config cfg;
    synth_clip clip;
    migr_err err = {{0}};
    quiet_ffmpeg();
    synth_config_default(&cfg);
    synth_plan(&cfg, 1, 0, &clip);
    tmp_path(path, sizeof path, clip.file);
    CHECK_MSG(synth_render(&cfg, 1, &clip, path, &err) == 0, "render: %s", err.msg);
    int entries = check_tmpdir_entries(), found = access(path, F_OK) == 0;
    CHECK_MSG(entries == 1 && found,
              "expected only %s in the directory, got %d entries (clip found: %d)", clip.file,
              entries, found);
}

/* As fs_write_atomic: another writer's temp file, named path.tmp.PID as the
 * old code named them, is left alone. */
TEST(synth_render_never_writes_into_another_writers_temp_file)
{
    char path[512], other[600];
    synth_config cfg;
    synth_clip clip;
    migr_err err = {{0}};
    quiet_ffmpeg();
    synth_config_default(&cfg);
    synth_plan(&cfg, 1, 0, &clip);
    tmp_path(path, sizeof path, clip.file);
    snprintf(other, sizeof other, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(other, "w");
    CHECK(f != NULL);
    CHECK(fputs("another writer's half", f) >= 0 && fclose(f) == 0);
    CHECK_MSG(synth_render(&cfg, 1, &clip, path, &err) == 0, "render: %s", err.msg);
    f = fopen(other, "r");
    char got[64] = "";
    int read_ok = f && fgets(got, sizeof got, f) != NULL;
    if (f)
        fclose(f);
    CHECK_MSG(read_ok && !strcmp(got, "another writer's half"), "the other writer's temp file was taken: \"%s\"",
              got);
    CHECK_INT(2, check_tmpdir_entries());
}

TEST(synth_render_into_missing_directory_fails_naming_the_path)
{
    char path[512];
    synth_config cfg;
    synth_clip clip;
    migr_err err = {{0}};
    quiet_ffmpeg();
    synth_config_default(&cfg);
    synth_plan(&cfg, 1, 0, &clip);
    tmp_path(path, sizeof path, "no/such/dir/clip.mp4");
    CHECK_INT(-1, synth_render(&cfg, 1, &clip, path, &err));
    CHECK_MSG(strstr(err.msg, path), "expected the message to name %s, got \"%s\"", path, err.msg);
}
