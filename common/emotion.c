/* emotion.c -- see emotion.h. */
#include "common/emotion.h"

#include <stddef.h>
#include <strings.h>

static const char *emotion_names[EMOTION_COUNT] = {
    "happy", "sad", "neutral", "angry", "surprise", "disgust", "fear",
};
static const char *modality_names[MODALITY_COUNT + 1] = {"visual", "audio", "text", "multimodal"};
static const char *modality_tags[MODALITY_COUNT] = {"vis", "aud", "txt"};

const char *emotion_name(int e)
{
    return e >= 0 && e < EMOTION_COUNT ? emotion_names[e] : NULL;
}

int emotion_parse(const char *name)
{
    for (int i = 0; i < EMOTION_COUNT; i++)
        if (strcasecmp(name, emotion_names[i]) == 0)
            return i;
    return -1;
}

const char *modality_name(int m)
{
    return m >= 0 && m <= MODALITY_COUNT ? modality_names[m] : NULL;
}

const char *modality_tag(int m)
{
    return m >= 0 && m < MODALITY_COUNT ? modality_tags[m] : NULL;
}

int modality_parse(const char *name)
{
    for (int i = 0; i <= MODALITY_COUNT; i++)
        if (strcasecmp(name, modality_names[i]) == 0)
            return i;
    for (int i = 0; i < MODALITY_COUNT; i++)
        if (strcasecmp(name, modality_tags[i]) == 0)
            return i;
    return -1;
}
