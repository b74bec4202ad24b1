/* featurize.c -- see featurize.h. */
#include "spec/featurize.h"

void featurize_config_default(featurize_config *cfg)
{
    cfg->n_frames = 8;
    cfg->height = 32;
    cfg->width = 32;
    cfg->n_mel = 40;
    cfg->max_audio_frames = 300;
}
