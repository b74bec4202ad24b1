/* datasets.h -- datasets: ingesting manifests, synthesizing, featurizing. */
#ifndef MIGR_DATASETS_H
#define MIGR_DATASETS_H

#include <jansson.h>

#include "coordinator/coord.h"

/* Client verbs.  args is the request's JSON object; on success the reply
 * body is returned (the caller's), else NULL with *status (1 failure, 2 usage). */
json_t *datasets_add(coord *c, json_t *args, int *status, migr_err *err);
json_t *datasets_synth(coord *c, json_t *args, int *status, migr_err *err);
/* Modality importance of every featurized clip: one "mi" task that trains
 * cross-fitted probes and scores each clip (args: name, tau, folds, seed). */
json_t *datasets_mi(coord *c, json_t *args, int *status, migr_err *err);

/* A dataset's plan is complete (clipplan.h): it moves on as its tasks
 * allow. */
int datasets_planned(coord *c, int64_t dataset_id, migr_err *err);
/* Queue the featurize task of clip clip_id, number idx of the dataset, its
 * media at path. */
int datasets_add_featurize(coord *c, int64_t dataset_id, const char *dataset, int64_t clip_id, int64_t idx,
                           const char *path, migr_err *err);

/* Task kinds "synth" and "featurize" (see kinds.c). */
int datasets_synth_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int datasets_featurize_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int datasets_task_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err);
/* The reward verifier and the evaluation judge of a dataset: one
 * "instruments" task (args: name, seed). */
json_t *datasets_instruments(coord *c, json_t *args, int *status, migr_err *err);
int datasets_mi_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int datasets_job_done(coord *c, const task_row *t, json_t *output, migr_err *err);
/* A dataset job (mi, instruments) that used up its attempts. */
int datasets_job_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err);

/* Whether a dataset still has a pending clip, or a synth task not ended:
 * asked at each clip's completion (their plans are checked by a test). */
#define DATASET_ANY_PENDING_CLIP "SELECT 1 FROM clips WHERE dataset_id = ? AND state = 'pending' LIMIT 1"
#define DATASET_ANY_SYNTH_TASK                                                              \
    "SELECT 1 FROM tasks WHERE owner = 'dataset' AND owner_id = ? AND state IN ('queued', 'waiting', 'leased') " \
    "AND kind = 'synth' LIMIT 1"

#endif
