/* decode.c -- media_featurize: a media file to frames and log-mel features.
 *
 * One pass over the file's packets in read order (clips are short, so no
 * seeking): video frames are matched against n_frames target timestamps,
 * audio is resampled to 16 kHz mono float and appended to a PCM buffer that
 * melspec.c turns into log-mel frames at the end.  Decoders run with one
 * thread so the output is the same bit for bit on every run. */
#include "media/features.h"
#include "media/melspec.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

/* Everything one media_featurize call holds; released by featurize_close. */
typedef struct featurize_state {
    const char *path;
    const featurize_config *cfg;
    AVFormatContext *fmt;
    AVCodecContext *vdec, *adec;
    int vidx, aidx;
    AVFrame *frame;           /* scratch for avcodec_receive_frame */
    AVFrame *last;            /* the most recent video frame, for padding */
    struct SwsContext *sws;
    SwrContext *swr;
    int64_t *targets;         /* (n_frames) in the video stream's time base */
    int next_target;
    float *frames;            /* (n_frames, height, width) output */
    uint8_t *gray;            /* (height, gray_stride) swscale destination */
    int gray_stride;
    float *pcm;               /* 16 kHz mono samples so far */
    size_t n_pcm, cap_pcm, max_pcm;
} featurize_state;

/* Record FFmpeg's message for code, prefixed by the path; returns -1. */
static int av_fail(migr_err *err, const char *path, int code)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, msg, sizeof msg);
    return migr_errf(err, "%s: %s", path, msg);
}

static int check_config(const featurize_config *cfg, const char *path, migr_err *err)
{
    if (cfg->n_frames < 1 || cfg->n_frames > 4096 || cfg->height < 1 || cfg->height > 4096 ||
        cfg->width < 1 || cfg->width > 4096 || cfg->n_mel < 1 || cfg->n_mel > 128 ||
        cfg->max_audio_frames < 0)
        return migr_errf(err,
                         "%s: bad featurize config (n_frames %d, %dx%d, n_mel %d, "
                         "max_audio_frames %d)",
                         path, cfg->n_frames, cfg->height, cfg->width, cfg->n_mel,
                         cfg->max_audio_frames);
    return 0;
}

static int open_decoder(featurize_state *s, int index, AVCodecContext **out, migr_err *err)
{
    AVStream *st = s->fmt->streams[index];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    int ret;

    if (!codec)
        return migr_errf(err, "%s: no decoder for %s stream codec %s", s->path,
                         av_get_media_type_string(st->codecpar->codec_type),
                         avcodec_get_name(st->codecpar->codec_id));
    *out = avcodec_alloc_context3(codec);
    if (!*out)
        return av_fail(err, s->path, AVERROR(ENOMEM));
    if ((ret = avcodec_parameters_to_context(*out, st->codecpar)) < 0)
        return av_fail(err, s->path, ret);
    (*out)->thread_count = 1;
    (*out)->pkt_timebase = st->time_base;
    if ((ret = avcodec_open2(*out, codec, NULL)) < 0)
        return av_fail(err, s->path, ret);
    return 0;
}

/* Open the container, pick the best video (required) and audio (optional)
 * streams and open their decoders. */
static int featurize_open(featurize_state *s, migr_err *err)
{
    int ret;
    if ((ret = avformat_open_input(&s->fmt, s->path, NULL, NULL)) < 0)
        return av_fail(err, s->path, ret);
    if ((ret = avformat_find_stream_info(s->fmt, NULL)) < 0)
        return av_fail(err, s->path, ret);

    s->vidx = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (s->vidx < 0)
        return migr_errf(err, "%s: no video stream", s->path);
    s->aidx = av_find_best_stream(s->fmt, AVMEDIA_TYPE_AUDIO, -1, s->vidx, NULL, 0);
    if (open_decoder(s, s->vidx, &s->vdec, err) < 0)
        return -1;
    if (s->aidx >= 0 && open_decoder(s, s->aidx, &s->adec, err) < 0)
        return -1;
    return 0;
}

/* Targets at the starts of n_frames equal slices of the video stream's
 * span, in its time base; integer arithmetic keeps them exact.  Starts (not
 * centres) so that asking for as many frames as the video has takes each
 * frame once. */
static int plan_targets(featurize_state *s, migr_err *err)
{
    AVStream *st = s->fmt->streams[s->vidx];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int64_t dur = st->duration;
    int n = s->cfg->n_frames;

    if (dur <= 0 && s->fmt->duration > 0)
        dur = av_rescale_q(s->fmt->duration, AV_TIME_BASE_Q, st->time_base);
    if (dur <= 0)
        return migr_errf(err, "%s: cannot determine the video duration", s->path);
    for (int i = 0; i < n; i++)
        s->targets[i] = start + av_rescale(dur, i, n);
    return 0;
}

/* Scale frame to the configured size in 8-bit gray, into frames slot `slot`. */
static int store_frame(featurize_state *s, const AVFrame *frame, int slot, migr_err *err)
{
    int h = s->cfg->height, w = s->cfg->width;
    s->sws = sws_getCachedContext(s->sws, frame->width, frame->height, frame->format, w, h,
                                  AV_PIX_FMT_GRAY8, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                                  NULL, NULL, NULL);
    if (!s->sws)
        return migr_errf(err, "%s: cannot convert %dx%d %s video to gray", s->path, frame->width,
                         frame->height, av_get_pix_fmt_name(frame->format));
    uint8_t *dst[4] = {s->gray, NULL, NULL, NULL};
    int dst_stride[4] = {s->gray_stride, 0, 0, 0};
    sws_scale(s->sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, dst,
              dst_stride);
    float *out = s->frames + (size_t)slot * h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            out[(size_t)y * w + x] = s->gray[(size_t)y * s->gray_stride + x] / 255.0f;
    return 0;
}

/* Fill every target this frame reaches (pts >= target), then keep it as the
 * last frame.  A frame without a timestamp counts as reaching the next one. */
static int take_video(featurize_state *s, AVFrame *frame, migr_err *err)
{
    int64_t pts = frame->best_effort_timestamp;
    while (s->next_target < s->cfg->n_frames &&
           (pts == AV_NOPTS_VALUE || pts >= s->targets[s->next_target])) {
        if (store_frame(s, frame, s->next_target, err) < 0)
            return -1;
        s->next_target++;
        if (pts == AV_NOPTS_VALUE)
            break;
    }
    av_frame_unref(s->last);
    av_frame_move_ref(s->last, frame);
    return 0;
}

static int grow_pcm(featurize_state *s, size_t need, migr_err *err)
{
    if (need <= s->cap_pcm)
        return 0;
    size_t cap = s->cap_pcm ? s->cap_pcm : 16384;
    while (cap < need)
        cap *= 2;
    float *p = realloc(s->pcm, cap * sizeof *p);
    if (!p)
        return migr_errf(err, "%s: out of memory for %zu audio samples", s->path, cap);
    s->pcm = p;
    s->cap_pcm = cap;
    return 0;
}

/* Resample frame (NULL flushes the resampler) and append to the PCM buffer,
 * never beyond max_pcm samples.  The resampler is set up from the first
 * frame, whose layout and rate are the ones actually decoded. */
static int take_audio(featurize_state *s, AVFrame *frame, migr_err *err)
{
    int ret;
    if (!s->swr) {
        if (!frame)
            return 0;
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        ret = swr_alloc_set_opts2(&s->swr, &mono, AV_SAMPLE_FMT_FLT, MELSPEC_RATE,
                                  &frame->ch_layout, frame->format, frame->sample_rate, 0, NULL);
        if (ret < 0 || (ret = swr_init(s->swr)) < 0)
            return av_fail(err, s->path, ret);
    }
    int in_n = frame ? frame->nb_samples : 0;
    int out_max = swr_get_out_samples(s->swr, in_n);
    if (out_max < 0)
        return av_fail(err, s->path, out_max);
    if (grow_pcm(s, s->n_pcm + (size_t)out_max, err) < 0)
        return -1;
    uint8_t *dst = (uint8_t *)(s->pcm + s->n_pcm);
    ret = swr_convert(s->swr, &dst, out_max, frame ? (const uint8_t **)frame->extended_data : NULL,
                      in_n);
    if (ret < 0)
        return av_fail(err, s->path, ret);
    s->n_pcm += (size_t)ret;
    if (s->n_pcm > s->max_pcm)
        s->n_pcm = s->max_pcm;
    return 0;
}

/* Send pkt (NULL flushes) to dec and hand every frame it yields on. */
static int decode_packet(featurize_state *s, AVCodecContext *dec, const AVPacket *pkt,
                         migr_err *err)
{
    int ret = avcodec_send_packet(dec, pkt);
    if (ret < 0)
        return av_fail(err, s->path, ret);
    for (;;) {
        ret = avcodec_receive_frame(dec, s->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return av_fail(err, s->path, ret);
        ret = dec == s->vdec ? take_video(s, s->frame, err) : take_audio(s, s->frame, err);
        av_frame_unref(s->frame);
        if (ret < 0)
            return -1;
    }
}

/* 1 once every frame target is filled and the audio buffer is full (or
 * there is no audio): the rest of the file cannot change the features. */
static int featurize_done(const featurize_state *s)
{
    return s->next_target == s->cfg->n_frames && (!s->adec || s->n_pcm >= s->max_pcm);
}

/* Read and decode packets until the file ends or nothing more is needed,
 * then flush both decoders. */
static int featurize_decode(featurize_state *s, migr_err *err)
{
    AVPacket *pkt = av_packet_alloc();
    int ret = 0;
    if (!pkt)
        return av_fail(err, s->path, AVERROR(ENOMEM));
    while (ret == 0 && !featurize_done(s)) {
        int r = av_read_frame(s->fmt, pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            ret = av_fail(err, s->path, r);
            break;
        }
        if (pkt->stream_index == s->vidx)
            ret = decode_packet(s, s->vdec, pkt, err);
        else if (pkt->stream_index == s->aidx && s->n_pcm < s->max_pcm)
            ret = decode_packet(s, s->adec, pkt, err);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (ret < 0)
        return -1;
    if (decode_packet(s, s->vdec, NULL, err) < 0)
        return -1;
    if (s->adec && decode_packet(s, s->adec, NULL, err) < 0)
        return -1;
    return s->adec ? take_audio(s, NULL, err) : 0;
}

/* Targets past the last decoded frame repeat that frame. */
static int pad_frames(featurize_state *s, migr_err *err)
{
    if (s->next_target == s->cfg->n_frames)
        return 0;
    if (!s->last->data[0])
        return migr_errf(err, "%s: no video frames could be decoded", s->path);
    for (; s->next_target < s->cfg->n_frames; s->next_target++)
        if (store_frame(s, s->last, s->next_target, err) < 0)
            return -1;
    return 0;
}

static int featurize_alloc(featurize_state *s, migr_err *err)
{
    const featurize_config *c = s->cfg;
    s->gray_stride = (c->width + 63) & ~63;
    s->frame = av_frame_alloc();
    s->last = av_frame_alloc();
    s->targets = malloc(sizeof *s->targets * (size_t)c->n_frames);
    s->frames = malloc(sizeof *s->frames * (size_t)c->n_frames * c->height * c->width);
    s->gray = av_malloc((size_t)s->gray_stride * c->height);
    if (!s->frame || !s->last || !s->targets || !s->frames || !s->gray)
        return av_fail(err, s->path, AVERROR(ENOMEM));
    /* Enough samples for max_audio_frames windows and no more. */
    s->max_pcm = c->max_audio_frames
                     ? (size_t)(c->max_audio_frames - 1) * MELSPEC_HOP + MELSPEC_WIN
                     : 0;
    return 0;
}

static void featurize_close(featurize_state *s)
{
    avcodec_free_context(&s->vdec);
    avcodec_free_context(&s->adec);
    avformat_close_input(&s->fmt);
    av_frame_free(&s->frame);
    av_frame_free(&s->last);
    sws_freeContext(s->sws);
    swr_free(&s->swr);
    free(s->targets);
    free(s->frames);
    av_free(s->gray);
    free(s->pcm);
}

int media_featurize(const char *path, const featurize_config *cfg, media_features *out,
                    migr_err *err)
{
    featurize_state s = {.path = path, .cfg = cfg, .vidx = -1, .aidx = -1};
    int ret = -1;

    memset(out, 0, sizeof *out);
    if (check_config(cfg, path, err) < 0)
        return -1;
    if (featurize_alloc(&s, err) < 0 || featurize_open(&s, err) < 0 ||
        plan_targets(&s, err) < 0 || featurize_decode(&s, err) < 0 || pad_frames(&s, err) < 0)
        goto end;

    out->n_frames = cfg->n_frames;
    out->height = cfg->height;
    out->width = cfg->width;
    out->has_audio = s.adec != NULL;
    out->n_mel = cfg->n_mel;
    out->duration = s.fmt->duration > 0 ? s.fmt->duration / (double)AV_TIME_BASE
                    : (double)s.fmt->streams[s.vidx]->duration *
                          av_q2d(s.fmt->streams[s.vidx]->time_base);
    if (melspec_compute(s.pcm, s.n_pcm, cfg->n_mel, cfg->max_audio_frames, &out->mel,
                        &out->n_audio, err) < 0) {
        migr_err_wrap(err, "%s", path);
        goto end;
    }
    out->frames = s.frames;
    s.frames = NULL;
    ret = 0;
end:
    featurize_close(&s);
    return ret;
}
