/* featurize.h -- a featurize task's settings: the shape of a clip's features.
 *
 * migrd writes them, at their defaults, into each featurize task it queues;
 * the worker decodes the clip to that shape (media_featurize,
 * media/features.h), and the trainer sizes the model's audio input by the
 * defaults (worker/train.c). */
#ifndef MIGR_FEATURIZE_H
#define MIGR_FEATURIZE_H

typedef struct featurize_config {
    int n_frames;         /* video frames sampled per clip (default 8) */
    int height, width;    /* frame size after resize (default 32 x 32) */
    int n_mel;            /* mel bands (default 40) */
    int max_audio_frames; /* cap on log-mel frames (default 300 = 3 s) */
} featurize_config;

void featurize_config_default(featurize_config *cfg);

#endif
