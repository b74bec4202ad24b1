/* emotion.h -- the label set and the three modalities.
 *
 * DFEW's seven labels are the default label set; their order is fixed and is
 * the index used everywhere (features, plans, metrics). */
#ifndef MIGR_EMOTION_H
#define MIGR_EMOTION_H

enum { EMOTION_COUNT = 7 };
typedef enum {
    EMO_HAPPY, EMO_SAD, EMO_NEUTRAL, EMO_ANGRY, EMO_SURPRISE, EMO_DISGUST, EMO_FEAR
} emotion;

typedef enum { MOD_VISUAL, MOD_AUDIO, MOD_TEXT, MODALITY_COUNT } modality;
/* A clip whose modalities support the label about equally has no dominant one. */
enum { MOD_MULTIMODAL = MODALITY_COUNT };

/* "happy", "sad", ...; NULL for an out-of-range value. */
const char *emotion_name(int e);
/* The index of a label name, or -1. Case-insensitive. */
int emotion_parse(const char *name);

/* "visual", "audio", "text", "multimodal"; and the block tags "vis", "aud", "txt". */
const char *modality_name(int m);
const char *modality_tag(int m);
/* Accepts the long names and the tags; returns -1 for anything else. */
int modality_parse(const char *name);

#endif
