/* test_features.c -- the MIGRFEAT format, log-mel, and media_featurize on
 * clips the generator renders (and on files that are not clips at all). */
#include "check.h"

#include <libavutil/log.h>
#include <math.h>
#include <stdlib.h>

#include "common/fs.h"
#include "media/features.h"
#include "media/melspec.h"
#include "media/synth_media.h"
#include "spec/synth.h"

/* ---- helpers ---- */

/* FFmpeg logs every rejected file; the tests expect those errors. */
static void quiet_ffmpeg(void)
{
    av_log_set_level(AV_LOG_FATAL);
}

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", check_tmpdir(), name);
}

/* Render the clip of (seed 7, index) with default settings to path. */
static int render_clip(const char *path, int index, int tracks, migr_err *err)
{
    synth_config cfg;
    synth_clip clip;
    synth_config_default(&cfg);
    synth_plan(&cfg, 7, index, &clip);
    return synth_render_tracks(&cfg, 7, &clip, path, tracks, err);
}

static int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* A small hand-made feature set with every field set. */
static void sample_features(media_features *f, float *frames, float *mel)
{
    for (int i = 0; i < 2 * 3 * 4; i++)
        frames[i] = (float)i / 24.0f;
    for (int i = 0; i < 5 * 6; i++)
        mel[i] = -3.5f + 0.25f * (float)i;
    *f = (media_features){.n_frames = 2, .height = 3, .width = 4, .frames = frames,
                          .has_audio = 1, .n_audio = 5, .n_mel = 6, .mel = mel,
                          .duration = 1.875};
}

/* ---- the byte format ---- */

TEST(features_encode_decode_round_trip_keeps_every_field)
{
    float frames[24], mel[30];
    media_features f, g;
    uint8_t *buf;
    size_t len;
    migr_err err = {{0}};
    sample_features(&f, frames, mel);
    CHECK_MSG(features_encode(&f, &buf, &len, &err) == 0, "encode failed: %s", err.msg);
    CHECK_INT(44 + 4 * (24 + 30), len);
    int rc = features_decode(buf, len, &g, &err);
    free(buf);
    CHECK_MSG(rc == 0, "decode failed: %s", err.msg);
    int same = g.n_frames == 2 && g.height == 3 && g.width == 4 && g.has_audio == 1 &&
               g.n_audio == 5 && g.n_mel == 6 && g.duration == 1.875 &&
               memcmp(g.frames, frames, sizeof frames) == 0 && memcmp(g.mel, mel, sizeof mel) == 0;
    media_features_free(&g);
    CHECK_MSG(same, "expected the decoded features to equal the encoded ones, got a difference");
}

TEST(features_round_trip_of_silent_clip_has_no_mel)
{
    float frames[24], mel[30];
    media_features f, g;
    uint8_t *buf;
    size_t len;
    migr_err err = {{0}};
    sample_features(&f, frames, mel);
    f.has_audio = 0;
    f.n_audio = 0;
    f.mel = NULL;
    CHECK_MSG(features_encode(&f, &buf, &len, &err) == 0, "encode failed: %s", err.msg);
    int rc = features_decode(buf, len, &g, &err);
    free(buf);
    CHECK_MSG(rc == 0, "decode failed: %s", err.msg);
    int ok = g.has_audio == 0 && g.n_audio == 0 && g.mel == NULL;
    media_features_free(&g);
    CHECK_MSG(ok, "expected has_audio 0, n_audio 0, mel NULL after a silent round trip");
}

/* Encodes the sample features, sets byte at to value and returns what
 * features_decode says of the result (-2 if encoding failed). */
static int decode_altered(size_t at, uint8_t value, migr_err *err)
{
    float frames[24], mel[30];
    media_features f, g;
    uint8_t *buf;
    size_t len;
    sample_features(&f, frames, mel);
    if (features_encode(&f, &buf, &len, err) < 0)
        return -2;
    buf[at] = value;
    int rc = features_decode(buf, len, &g, err);
    if (rc == 0)
        media_features_free(&g);
    free(buf);
    return rc;
}

TEST(features_decode_rejects_bad_magic)
{
    migr_err err = {{0}};
    CHECK_INT(-1, decode_altered(0, 'X', &err));
    CHECK_MSG(strstr(err.msg, "magic"), "expected a message about the magic, got \"%s\"", err.msg);
}

TEST(features_decode_rejects_unknown_version)
{
    migr_err err = {{0}};
    CHECK_INT(-1, decode_altered(8, 99, &err));
    CHECK_MSG(strstr(err.msg, "version"), "expected a message about the version, got \"%s\"",
              err.msg);
}

TEST(features_decode_rejects_short_and_long_buffers)
{
    float frames[24], mel[30];
    media_features f, g;
    uint8_t *buf;
    size_t len;
    migr_err err = {{0}};
    sample_features(&f, frames, mel);
    CHECK(features_encode(&f, &buf, &len, &err) == 0);
    int header_only = features_decode(buf, 20, &g, &err);
    int one_short = features_decode(buf, len - 1, &g, &err);
    uint8_t *longer = malloc(len + 4);
    CHECK(longer);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 4);
    int four_long = features_decode(longer, len + 4, &g, &err);
    free(longer);
    free(buf);
    CHECK_MSG(header_only == -1 && one_short == -1 && four_long == -1,
              "expected -1 for 20 bytes, len-1 and len+4; got %d, %d, %d", header_only, one_short,
              four_long);
}

/* ---- log-mel ---- */

TEST(melspec_frame_count_follows_window_and_hop)
{
    CHECK_INT(0, melspec_frame_count(399));
    CHECK_INT(1, melspec_frame_count(400));
    CHECK_INT(1, melspec_frame_count(559));
    CHECK_INT(2, melspec_frame_count(560));
    CHECK_INT(198, melspec_frame_count(32000));
}

TEST(melspec_tone_is_loudest_in_its_own_band)
{
    /* A 1 kHz tone: on the HTK mel scale with 40 bands over 0..8 kHz, band
     * centres are at mel(8000) * (m + 1) / 41, so 1 kHz falls in band 13. */
    enum { N = 4000 };
    static float tone[N];
    float *mel = NULL;
    int n = 0;
    migr_err err = {{0}};
    for (int i = 0; i < N; i++)
        tone[i] = (float)(0.5 * sin(2 * 3.14159265358979 * 1000.0 * i / 16000.0));
    CHECK_MSG(melspec_compute(tone, N, 40, 1000, &mel, &n, &err) == 0, "melspec: %s", err.msg);
    int best = 0;
    for (int m = 1; m < 40; m++)
        if (mel[5 * 40 + m] > mel[5 * 40 + best])
            best = m;
    free(mel);
    CHECK_INT(melspec_frame_count(N), n);
    CHECK_NEAR(13, best, 1);
}

/* ---- media_featurize on rendered clips ---- */

TEST(featurize_rendered_clip_has_configured_shape)
{
    char path[512];
    featurize_config cfg;
    media_features f;
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "clip.mp4");
    CHECK_MSG(render_clip(path, 3, SYNTH_TRACK_BOTH, &err) == 0, "render: %s", err.msg);
    featurize_config_default(&cfg);
    cfg.n_frames = 6;
    CHECK_MSG(media_featurize(path, &cfg, &f, &err) == 0, "featurize: %s", err.msg);
    media_features g = f;
    float lo = 1, hi = 0;
    for (int i = 0; i < 6 * 32 * 32; i++) {
        lo = f.frames[i] < lo ? f.frames[i] : lo;
        hi = f.frames[i] > hi ? f.frames[i] : hi;
    }
    media_features_free(&f);
    CHECK_INT(6, g.n_frames);
    CHECK_INT(32, g.height);
    CHECK_INT(32, g.width);
    CHECK_INT(1, g.has_audio);
    CHECK_INT(40, g.n_mel);
    CHECK_NEAR(200, g.n_audio, 6);
    CHECK_NEAR(2.0, g.duration, 0.1);
    CHECK_MSG(lo >= 0 && hi <= 1 && hi - lo > 0.3,
              "expected pixels in [0, 1] with contrast > 0.3, got [%g, %g]", lo, hi);
}

TEST(featurize_same_clip_twice_gives_identical_bytes)
{
    char path[512];
    featurize_config cfg;
    media_features f1, f2;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "clip.mp4");
    CHECK_MSG(render_clip(path, 5, SYNTH_TRACK_BOTH, &err) == 0, "render: %s", err.msg);
    featurize_config_default(&cfg);
    CHECK_MSG(media_featurize(path, &cfg, &f1, &err) == 0, "featurize: %s", err.msg);
    CHECK_MSG(media_featurize(path, &cfg, &f2, &err) == 0, "featurize: %s", err.msg);
    int rc1 = features_encode(&f1, &b1, &n1, &err), rc2 = features_encode(&f2, &b2, &n2, &err);
    media_features_free(&f1);
    media_features_free(&f2);
    int same = rc1 == 0 && rc2 == 0 && n1 == n2 && memcmp(b1, b2, n1) == 0;
    free(b1);
    free(b2);
    CHECK_MSG(same, "expected identical encodings, got %zu and %zu bytes that differ", n1, n2);
}

TEST(featurize_more_frames_than_video_repeats_the_last)
{
    char path[512];
    featurize_config cfg;
    media_features f;
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "clip.mp4");
    CHECK_MSG(render_clip(path, 1, SYNTH_TRACK_BOTH, &err) == 0, "render: %s", err.msg);
    featurize_config_default(&cfg);
    cfg.n_frames = 50;  /* the clip has 20 */
    CHECK_MSG(media_featurize(path, &cfg, &f, &err) == 0, "featurize: %s", err.msg);
    size_t frame = (size_t)32 * 32;
    int last_repeats = memcmp(f.frames + 48 * frame, f.frames + 49 * frame, frame * 4) == 0;
    int moves = memcmp(f.frames, f.frames + 49 * frame, frame * 4) != 0;
    media_features_free(&f);
    CHECK_MSG(last_repeats, "expected the last two of 50 frames to be the same video frame");
    CHECK_MSG(moves, "expected the first and last sampled frames to differ");
}

TEST(featurize_as_many_frames_as_video_takes_each_once)
{
    char path[512];
    featurize_config cfg;
    media_features f;
    migr_err err = {{0}};
    int repeats = 0;
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "clip.mp4");
    CHECK_MSG(render_clip(path, 6, SYNTH_TRACK_BOTH, &err) == 0, "render: %s", err.msg);
    featurize_config_default(&cfg);
    cfg.n_frames = 20;  /* 2 s at 10 fps; the face sways, so no two frames match */
    CHECK_MSG(media_featurize(path, &cfg, &f, &err) == 0, "featurize: %s", err.msg);
    size_t frame = (size_t)32 * 32;
    for (int i = 1; i < 20; i++)
        repeats += memcmp(f.frames + (i - 1) * frame, f.frames + i * frame, frame * 4) == 0;
    media_features_free(&f);
    CHECK_MSG(repeats == 0, "expected 20 distinct frames, got %d repeated", repeats);
}

TEST(featurize_video_only_file_is_silent)
{
    char path[512];
    featurize_config cfg;
    media_features f;
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "video-only.mp4");
    CHECK_MSG(render_clip(path, 2, SYNTH_TRACK_VIDEO, &err) == 0, "render: %s", err.msg);
    featurize_config_default(&cfg);
    CHECK_MSG(media_featurize(path, &cfg, &f, &err) == 0, "featurize: %s", err.msg);
    media_features g = f;
    media_features_free(&f);
    CHECK_INT(0, g.has_audio);
    CHECK_INT(0, g.n_audio);
    CHECK(g.mel == NULL);
    CHECK_INT(8, g.n_frames);
}

/* Featurizing path must fail with a message that names it and contains want. */
static int featurize_fails(const char *path, const char *want, char *got, size_t got_size)
{
    featurize_config cfg;
    media_features f;
    migr_err err = {{0}};
    featurize_config_default(&cfg);
    int rc = media_featurize(path, &cfg, &f, &err);
    snprintf(got, got_size, "rc %d, message \"%s\"", rc, err.msg);
    if (rc == 0)
        media_features_free(&f);
    return rc == -1 && strstr(err.msg, path) && strstr(err.msg, want) && f.frames == NULL;
}

TEST(featurize_missing_file_fails_naming_it)
{
    char path[512], got[1200];
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "absent.mp4");
    CHECK_MSG(featurize_fails(path, "No such file", got, sizeof got),
              "expected -1 with \"%s: No such file or directory\", got %s", path, got);
}

TEST(featurize_zero_byte_file_fails_naming_it)
{
    char path[512], got[1200];
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "empty.mp4");
    CHECK(write_bytes(path, "", 0) == 0);
    CHECK_MSG(featurize_fails(path, ": ", got, sizeof got),
              "expected -1 with a message naming %s, got %s", path, got);
}

TEST(featurize_text_file_named_mp4_fails_naming_it)
{
    char path[512], got[1200];
    const char *text = "This is not a video.\nJust some words in a file.\n";
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "x.mp4");
    CHECK(write_bytes(path, text, strlen(text)) == 0);
    CHECK_MSG(featurize_fails(path, ": ", got, sizeof got),
              "expected -1 with a message naming %s, got %s", path, got);
}

TEST(featurize_truncated_mp4_fails_naming_it)
{
    char path[512], cut[512], got[1200];
    size_t len = 0;
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "whole.mp4");
    tmp_path(cut, sizeof cut, "half.mp4");
    CHECK_MSG(render_clip(path, 4, SYNTH_TRACK_BOTH, &err) == 0, "render: %s", err.msg);
    uint8_t *bytes;
    CHECK_MSG(fs_read_file(path, &bytes, &len, &err) == 0, "%s", err.msg);
    int wrote = write_bytes(cut, bytes, len / 2);
    free(bytes);
    CHECK(wrote == 0);
    CHECK_MSG(featurize_fails(cut, ": ", got, sizeof got),
              "expected -1 with a message naming %s, got %s", cut, got);
}

TEST(featurize_audio_only_file_fails_no_video_stream)
{
    char path[512], got[1200];
    migr_err err = {{0}};
    quiet_ffmpeg();
    tmp_path(path, sizeof path, "audio-only.mp4");
    CHECK_MSG(render_clip(path, 2, SYNTH_TRACK_AUDIO, &err) == 0, "render: %s", err.msg);
    CHECK_MSG(featurize_fails(path, "no video stream", got, sizeof got),
              "expected -1 with \"%s: no video stream\", got %s", path, got);
}
