/* synth_render.c -- encode a planned clip to MP4 with libavcodec.
 *
 * Video: MPEG-4 Part 2 ("mpeg4") in yuv420p at a fixed quantizer.  Audio:
 * FFmpeg's native AAC at the configured rate, mono, fltp.  Both encoders and
 * the muxer run bit-exact and single-threaded, so the same (config, seed,
 * plan) give the same bytes.  The file appears atomically: written to
 * a temp file of its own beside path (fs_temp_beside), then published as
 * fs_publish does: fsynced, renamed over path, the directory fsynced. */
#include "media/synth_media.h"

#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"

enum { RENDER_QSCALE = 4, RENDER_AUDIO_BITRATE = 64000 };

/* Everything one render holds; released by render_close. */
typedef struct render_state {
    const synth_config *cfg;
    const char *path;             /* the final path, for messages */
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vst, *ast;
    AVFrame *vframe, *aframe;
    AVPacket *pkt;
    synth_face face;
    int n_video, next_video;      /* frames in all, and the next to encode */
    float *pcm;                   /* (n_pcm) the whole voice track */
    size_t n_pcm, next_sample;
} render_state;

static int av_fail(migr_err *err, const char *path, int code)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, msg, sizeof msg);
    return migr_errf(err, "%s: %s", path, msg);
}

/* Reject configurations the encoders cannot take, before touching a file. */
static int check_config(const synth_config *cfg, const char *path, migr_err *err)
{
    if (cfg->width < 16 || cfg->width > 4096 || cfg->width % 2 || cfg->height < 16 ||
        cfg->height > 4096 || cfg->height % 2)
        return migr_errf(err, "%s: frame size %dx%d must be even and 16..4096", path,
                         cfg->width, cfg->height);
    if (cfg->fps < 1 || cfg->fps > 120)
        return migr_errf(err, "%s: fps %d must be 1..120", path, cfg->fps);
    if (!(cfg->seconds > 0 && cfg->seconds <= 600))
        return migr_errf(err, "%s: seconds %g must be in (0, 600]", path, cfg->seconds);
    if (cfg->sample_rate < 8000 || cfg->sample_rate > 48000)
        return migr_errf(err, "%s: sample_rate %d must be 8000..48000", path, cfg->sample_rate);
    return 0;
}

/* Encoder settings both streams share: reproducible output. */
static void reproducible(AVCodecContext *enc, const AVFormatContext *oc)
{
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    enc->thread_count = 1;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
}

/* Open enc with codec and copy its parameters to a new stream of r->oc. */
static int open_stream(render_state *r, AVCodecContext *enc, const AVCodec *codec,
                       AVStream **st, migr_err *err)
{
    int ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0)
        return av_fail(err, r->path, ret);
    *st = avformat_new_stream(r->oc, NULL);
    if (!*st)
        return av_fail(err, r->path, AVERROR(ENOMEM));
    (*st)->time_base = enc->time_base;
    if ((ret = avcodec_parameters_from_context((*st)->codecpar, enc)) < 0)
        return av_fail(err, r->path, ret);
    return 0;
}

static int add_video(render_state *r, uint64_t seed, const synth_clip *clip, migr_err *err)
{
    const synth_config *cfg = r->cfg;
    const AVCodec *codec = avcodec_find_encoder_by_name("mpeg4");
    int ret;
    if (!codec)
        return migr_errf(err, "%s: this FFmpeg has no mpeg4 encoder", r->path);
    if (!(r->venc = avcodec_alloc_context3(codec)))
        return av_fail(err, r->path, AVERROR(ENOMEM));
    r->venc->width = cfg->width;
    r->venc->height = cfg->height;
    r->venc->pix_fmt = AV_PIX_FMT_YUV420P;
    r->venc->time_base = (AVRational){1, cfg->fps};
    r->venc->framerate = (AVRational){cfg->fps, 1};
    r->venc->gop_size = cfg->fps;
    r->venc->max_b_frames = 0;
    /* A fixed quantizer rather than a bitrate: quality does not depend on
     * clip length, and small faces stay sharp. */
    r->venc->flags |= AV_CODEC_FLAG_QSCALE;
    r->venc->global_quality = FF_QP2LAMBDA * RENDER_QSCALE;
    reproducible(r->venc, r->oc);
    if (open_stream(r, r->venc, codec, &r->vst, err) < 0)
        return -1;

    if (!(r->vframe = av_frame_alloc()))
        return av_fail(err, r->path, AVERROR(ENOMEM));
    r->vframe->format = AV_PIX_FMT_YUV420P;
    r->vframe->width = cfg->width;
    r->vframe->height = cfg->height;
    if ((ret = av_frame_get_buffer(r->vframe, 0)) < 0)
        return av_fail(err, r->path, ret);
    synth_face_init(&r->face, cfg, seed, clip);
    r->n_video = (int)(cfg->seconds * cfg->fps + 0.5);
    if (r->n_video < 1)
        r->n_video = 1;
    return 0;
}

static int codec_has_format(const AVCodec *codec, enum AVSampleFormat fmt)
{
    for (const enum AVSampleFormat *f = codec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == fmt)
            return 1;
    return 0;
}

static int codec_has_rate(const AVCodec *codec, int rate)
{
    if (!codec->supported_samplerates)
        return 1;
    for (const int *r = codec->supported_samplerates; *r; r++)
        if (*r == rate)
            return 1;
    return 0;
}

static int add_audio(render_state *r, uint64_t seed, const synth_clip *clip, migr_err *err)
{
    const synth_config *cfg = r->cfg;
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int ret;
    if (!codec)
        return migr_errf(err, "%s: this FFmpeg has no aac encoder", r->path);
    if (!codec_has_format(codec, AV_SAMPLE_FMT_FLTP) || !codec_has_rate(codec, cfg->sample_rate))
        return migr_errf(err, "%s: the aac encoder cannot take fltp audio at %d Hz", r->path,
                         cfg->sample_rate);
    if (!(r->aenc = avcodec_alloc_context3(codec)))
        return av_fail(err, r->path, AVERROR(ENOMEM));
    r->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    r->aenc->sample_rate = cfg->sample_rate;
    r->aenc->time_base = (AVRational){1, cfg->sample_rate};
    r->aenc->bit_rate = RENDER_AUDIO_BITRATE;
    if ((ret = av_channel_layout_copy(&r->aenc->ch_layout, &mono)) < 0)
        return av_fail(err, r->path, ret);
    reproducible(r->aenc, r->oc);
    /* The default two-loop search costs more time than the whole video
     * track; the fast coder is plenty for a synthetic voice. */
    if ((ret = av_opt_set(r->aenc->priv_data, "aac_coder", "fast", 0)) < 0)
        return av_fail(err, r->path, ret);
    if (open_stream(r, r->aenc, codec, &r->ast, err) < 0)
        return -1;

    r->n_pcm = (size_t)(cfg->seconds * cfg->sample_rate + 0.5);
    if (!(r->pcm = malloc(r->n_pcm * sizeof *r->pcm)) || !(r->aframe = av_frame_alloc()))
        return av_fail(err, r->path, AVERROR(ENOMEM));
    synth_voice_render(cfg, seed, clip, r->pcm, r->n_pcm);
    r->aframe->format = AV_SAMPLE_FMT_FLTP;
    r->aframe->sample_rate = cfg->sample_rate;
    r->aframe->nb_samples = r->aenc->frame_size;
    if ((ret = av_channel_layout_copy(&r->aframe->ch_layout, &mono)) < 0 ||
        (ret = av_frame_get_buffer(r->aframe, 0)) < 0)
        return av_fail(err, r->path, ret);
    return 0;
}

/* Send frame (NULL flushes) to enc and write every packet it yields. */
static int encode_write(render_state *r, AVCodecContext *enc, AVStream *st, AVFrame *frame,
                        migr_err *err)
{
    int ret = avcodec_send_frame(enc, frame);
    if (ret < 0)
        return av_fail(err, r->path, ret);
    for (;;) {
        ret = avcodec_receive_packet(enc, r->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return av_fail(err, r->path, ret);
        /* A video packet lasts one frame.  The encoder leaves duration 0,
         * and the mp4 muxer would then end the edit list at the last
         * frame's start, so players (and our featurizer) drop that frame. */
        if (enc == r->venc && r->pkt->duration == 0)
            r->pkt->duration = 1;
        av_packet_rescale_ts(r->pkt, enc->time_base, st->time_base);
        r->pkt->stream_index = st->index;
        /* Takes the packet's reference; pkt comes back blank. */
        ret = av_interleaved_write_frame(r->oc, r->pkt);
        if (ret < 0)
            return av_fail(err, r->path, ret);
    }
}

static int write_video_frame(render_state *r, migr_err *err)
{
    AVFrame *f = r->vframe;
    int ret = av_frame_make_writable(f);
    if (ret < 0)
        return av_fail(err, r->path, ret);
    synth_face_draw(&r->face, (double)r->next_video / r->cfg->fps, f->data[0], f->linesize[0],
                    f->data[1], f->data[2], f->linesize[1]);
    f->pts = r->next_video++;
    f->quality = r->venc->global_quality;
    return encode_write(r, r->venc, r->vst, f, err);
}

static int write_audio_frame(render_state *r, migr_err *err)
{
    AVFrame *f = r->aframe;
    size_t left = r->n_pcm - r->next_sample;
    int ret = av_frame_make_writable(f);
    if (ret < 0)
        return av_fail(err, r->path, ret);
    /* Only the last frame may be shorter than the encoder's frame size. */
    f->nb_samples = left < (size_t)r->aenc->frame_size ? (int)left : r->aenc->frame_size;
    memcpy(f->data[0], r->pcm + r->next_sample, (size_t)f->nb_samples * sizeof(float));
    f->pts = (int64_t)r->next_sample;
    r->next_sample += (size_t)f->nb_samples;
    return encode_write(r, r->aenc, r->ast, f, err);
}

/* Encode both tracks in timestamp order, then flush the encoders. */
static int write_tracks(render_state *r, migr_err *err)
{
    for (;;) {
        int video_left = r->venc && r->next_video < r->n_video;
        int audio_left = r->aenc && r->next_sample < r->n_pcm;
        if (!video_left && !audio_left)
            break;
        int video_first = video_left &&
                          (!audio_left || av_compare_ts(r->next_video, r->venc->time_base,
                                                        (int64_t)r->next_sample,
                                                        r->aenc->time_base) <= 0);
        if ((video_first ? write_video_frame(r, err) : write_audio_frame(r, err)) < 0)
            return -1;
    }
    if (r->venc && encode_write(r, r->venc, r->vst, NULL, err) < 0)
        return -1;
    if (r->aenc && encode_write(r, r->aenc, r->ast, NULL, err) < 0)
        return -1;
    return 0;
}

/* Write the whole file to tmp_path. */
static int render_file(render_state *r, uint64_t seed, const synth_clip *clip,
                       const char *tmp_path, int tracks, migr_err *err)
{
    int ret = avformat_alloc_output_context2(&r->oc, NULL, "mp4", tmp_path);
    if (ret < 0)
        return av_fail(err, r->path, ret);
    r->oc->flags |= AVFMT_FLAG_BITEXACT;
    if (!(r->pkt = av_packet_alloc()))
        return av_fail(err, r->path, AVERROR(ENOMEM));
    if ((tracks & SYNTH_TRACK_VIDEO) && add_video(r, seed, clip, err) < 0)
        return -1;
    if ((tracks & SYNTH_TRACK_AUDIO) && add_audio(r, seed, clip, err) < 0)
        return -1;
    if ((ret = avio_open(&r->oc->pb, tmp_path, AVIO_FLAG_WRITE)) < 0)
        return av_fail(err, r->path, ret);
    if ((ret = avformat_write_header(r->oc, NULL)) < 0)
        return av_fail(err, r->path, ret);
    if (write_tracks(r, err) < 0)
        return -1;
    if ((ret = av_write_trailer(r->oc)) < 0)
        return av_fail(err, r->path, ret);
    if ((ret = avio_closep(&r->oc->pb)) < 0)
        return av_fail(err, r->path, ret);
    return 0;
}

static void render_close(render_state *r)
{
    avcodec_free_context(&r->venc);
    avcodec_free_context(&r->aenc);
    av_frame_free(&r->vframe);
    av_frame_free(&r->aframe);
    av_packet_free(&r->pkt);
    if (r->oc) {
        avio_closep(&r->oc->pb);
        avformat_free_context(r->oc);
    }
    free(r->pcm);
}

int synth_render_tracks(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                        const char *path, int tracks, migr_err *err)
{
    render_state r = {.cfg = cfg, .path = path};
    char tmp_path[4096];
    int ret = -1;

    if (check_config(cfg, path, err) < 0)
        return -1;
    if (!(tracks & SYNTH_TRACK_BOTH))
        return migr_errf(err, "%s: nothing to render (no tracks)", path);
    int fd = fs_temp_beside(path, tmp_path, sizeof tmp_path, err);
    if (fd < 0)
        return -1;
    close(fd);   /* FFmpeg opens it again by name: it is ours alone */
    if (render_file(&r, seed, clip, tmp_path, tracks, err) < 0)
        goto end;
    if (fs_publish(tmp_path, path, err) < 0)
        goto end;
    ret = 0;
end:
    render_close(&r);
    if (ret < 0)
        unlink(tmp_path);
    return ret;
}

int synth_render(const synth_config *cfg, uint64_t seed, const synth_clip *clip,
                 const char *path, migr_err *err)
{
    return synth_render_tracks(cfg, seed, clip, path, SYNTH_TRACK_BOTH, err);
}
