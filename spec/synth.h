/* synth.h -- the synthetic DFEW-format dataset generator: its config and
 * its plans.
 *
 * A clip's plan (label, dominant modality, each modality's cue, subtitle and
 * clue annotations) is a pure function of (config, seed, index): the
 * coordinator computes plans to write the manifest, workers recompute them to
 * render media.  Rendering (media/synth_media.h) writes a real MP4 whose face
 * carries the visual cue and whose voice carries the audio cue. */
#ifndef MIGR_SYNTH_H
#define MIGR_SYNTH_H

#include <stdint.h>

#include "common/emotion.h"
#include "common/error.h"

typedef struct synth_config {
    /* How often each modality is the dominant one (normalized at use). */
    double dominant_weight[MODALITY_COUNT];
    /* For a non-dominant modality: the chance its cue is misleading (another
     * emotion at moderate strength), neutral, or weak (the true label at low
     * strength); the remainder agrees with the label at low-moderate strength. */
    double p_misleading, p_neutral, p_weak;
    double dominant_strength_min, dominant_strength_max;  /* e.g. 0.7 .. 1.0 */
    /* Reasoning drift: the share of clips whose reasoning, when written
     * starting from a modality that shows another emotion than the label (a
     * misleading cue, or a neutral one over a label that is not), follows
     * what that modality shows instead of the evidence (the answer stays the
     * label); 0 = none.  See synth_clip.think_first. */
    double drift;
    /* Media. */
    int width, height, fps;     /* default 64 x 64 at 10 fps */
    double seconds;             /* default 2.0 */
    int sample_rate;            /* default 16000 */
} synth_config;

typedef struct synth_cue {
    int emotion;                /* emotion index */
    double strength;            /* 0 = absent .. 1 = unmistakable */
} synth_cue;

typedef struct synth_clip {
    int index;
    int label;                  /* the true emotion */
    int dominant;               /* MOD_VISUAL, MOD_AUDIO or MOD_TEXT */
    synth_cue cue[MODALITY_COUNT];
    char file[64];              /* "clip_000123.mp4" */
    char subtitle[256];         /* wording carries the text cue */
    char clue[MODALITY_COUNT][320]; /* one or two clue sentences per modality */
    char think[640];            /* reasoning from the dominant modality, ending in the label */
    /* The reasoning as a describer writes it who starts from modality m
     * (the block an explanation describes first).  It is `think`, except
     * when m's cue shows another emotion than the label (misleading, or
     * neutral over a non-neutral label) and the clip drifts (drifted bit
     * m): then it follows m's emotion and never reaches the label.  Which order an
     * explanation uses is the trainer's choice; the facts are these. */
    char think_first[MODALITY_COUNT][640];
    unsigned drifted;           /* bit m: think_first[m] follows m's cue, not the label */
} synth_clip;

void synth_config_default(synth_config *cfg);
/* Read a YAML mapping whose keys are the field names above (dominant_weight as
 * a mapping visual/audio/text -> number); unknown keys and bad values are errors
 * that name the key and the line. Keys not present keep their current value. */
int synth_config_load(const char *yaml_path, synth_config *cfg, migr_err *err);

/* Deterministic plan of clip `index` for `seed`. */
void synth_plan(const synth_config *cfg, uint64_t seed, int index, synth_clip *out);

/* Random streams drawn for one clip (common/rng.h), kept apart so adding
 * draws to one (say, the face) never changes another (the plan). */
enum { SYNTH_STREAM_PLAN = 1, SYNTH_STREAM_FACE = 2, SYNTH_STREAM_VOICE = 3, SYNTH_STREAM_DRIFT = 4 };

#endif
