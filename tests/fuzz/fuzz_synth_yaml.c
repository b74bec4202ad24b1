/* fuzz_synth_yaml.c -- the synthetic generator's YAML config
 * (spec/synth.h synth_config_load) on any bytes.
 *
 * The input is written to a file of the harness's scratch directory and
 * loaded over the defaults, as `migr dataset synth --config` is.  A refused
 * file leaves the config as it was and says why; a taken one holds every
 * value in its documented range, and the clips it plans (synth_plan, what
 * the coordinator writes the manifest from) have a label, a dominant
 * modality and cues in range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/synth.h"
#include "tests/fuzz/fuzz_util.h"

static int in_range(const synth_config *c)
{
    double total = 0;
    for (int m = 0; m < MODALITY_COUNT; m++) {
        if (!(c->dominant_weight[m] >= 0 && c->dominant_weight[m] <= 1e6))
            return 0;
        total += c->dominant_weight[m];
    }
    return total > 0 && c->p_misleading >= 0 && c->p_neutral >= 0 && c->p_weak >= 0 &&
           c->p_misleading + c->p_neutral + c->p_weak <= 1 + 1e-9 && c->drift >= 0 &&
           c->drift <= 1 && c->dominant_strength_min >= 0 &&
           c->dominant_strength_min <= c->dominant_strength_max && c->dominant_strength_max <= 1 &&
           c->width >= 16 && c->width <= 4096 && c->width % 2 == 0 && c->height >= 16 &&
           c->height <= 4096 && c->height % 2 == 0 && c->fps >= 1 && c->fps <= 120 &&
           c->seconds >= 0.1 && c->seconds <= 600 && c->sample_rate >= 8000 &&
           c->sample_rate <= 48000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    synth_config cfg, before;
    migr_err err = {{0}};

    fuzz_path(path, sizeof path, "synth.yaml");
    fuzz_write_file(path, data, size);
    synth_config_default(&cfg);
    before = cfg;
    if (synth_config_load(path, &cfg, &err) < 0) {
        if (!err.msg[0] || memcmp(&cfg, &before, sizeof cfg) != 0)
            abort();
        return 0;
    }
    if (!in_range(&cfg)) {
        fprintf(stderr, "fuzz_synth_yaml: a taken config is out of range\n");
        abort();
    }
    static synth_clip clip;
    for (int i = 0; i < 4; i++) {
        synth_plan(&cfg, 7, i, &clip);
        if (clip.label < 0 || clip.label >= EMOTION_COUNT || clip.dominant < 0 ||
            clip.dominant >= MODALITY_COUNT || !memchr(clip.think, '\0', sizeof clip.think) ||
            !memchr(clip.subtitle, '\0', sizeof clip.subtitle))
            abort();
        for (int m = 0; m < MODALITY_COUNT; m++)
            if (clip.cue[m].emotion < 0 || clip.cue[m].emotion >= EMOTION_COUNT ||
                !(clip.cue[m].strength >= 0 && clip.cue[m].strength <= 1))
                abort();
    }
    return 0;
}
