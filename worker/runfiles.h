/* runfiles.h -- what the training tasks (SFT and GRPO) read from and write
 * to a run's directory in the store (runs/ID): its clip list, its config,
 * the features of its clips, paths for the files ml/ writes itself. */
#ifndef MIGR_RUNFILES_H
#define MIGR_RUNFILES_H

#include <jansson.h>

#include "common/error.h"
#include "common/store.h"
#include "media/features.h"
#include "spec/runconfig.h"

/* What every training task starts from. */
typedef struct run_inputs {
    runconfig rc;
    const char *dir;       /* runs/ID, store-relative (borrowed from the params) */
    json_t *clips;         /* runs/ID/clips.json: {"train": [...], "holdout": [...], ...} */
} run_inputs;

/* Read params' "dir" and "config" and the run's clip list. */
int runfiles_load(const store *st, json_t *params, run_inputs *in, migr_err *err);
void runfiles_free(run_inputs *in);

/* A clip record's annotation text ("vis", "aud", "txt", "think"), or NULL. */
const char *runfiles_ann(json_t *clip, const char *key);
/* The block tag of modality m in annotations and targets: "vis", "aud", "txt". */
const char *runfiles_block_tag(int m);
/* The reasoning of clip's annotation for an explanation whose first block is
 * modality first: its "think_first" entry for that block when it has one (a
 * describer who started there and drifted), else its "think"; NULL when it
 * has neither. */
const char *runfiles_think(json_t *clip, int first);
/* Decode the features of a clip record from the store. */
int runfiles_features(const store *st, json_t *clip, media_features *f, migr_err *err);
/* The absolute store path of dir/name, for files ml/ writes itself. */
int runfiles_path(const store *st, const char *dir, const char *name, char *out, size_t cap, migr_err *err);
/* Create the directory that will hold path. */
int runfiles_mkdirs_for(const char *path, migr_err *err);
/* runs/ID/config.json: the resolved config beside the checkpoints. */
int runfiles_save_config(const store *st, const run_inputs *in, migr_err *err);

#endif
