/* runs.h -- training runs: submission, the step machine, task outcomes.
 *
 * An SFT run is a chain of tasks, each scheduled when the one before ends:
 *
 *   init            build the vocabulary, write checkpoint 0
 *   grad  x shards  step s: each shard's summed gradient at checkpoint s-1
 *   apply           sum the shard gradients in shard order, AdamW, checkpoint s
 *
 * A GRPO run starts from an SFT checkpoint (grpo_init copies it, with its
 * vocabulary, as checkpoint 0, which stays as the KL reference); each shard
 * of a step is a chain rollout -> reward -> grad (completions sampled at
 * checkpoint s-1 with their old log-probs; their rewards and group
 * advantages; the GRPO gradient), and apply works as in SFT.
 *
 * All of it is derived from the tasks table, so a restarted coordinator
 * picks up where it was. */
#ifndef MIGR_RUNS_H
#define MIGR_RUNS_H

#include <jansson.h>

#include "coordinator/coord.h"

/* What a run is submitted with besides its config. */
typedef struct run_meta {
    int64_t schedule;       /* the schedule that fired it, 0 for none */
    int64_t scheduled_ms;   /* the scheduled time it is for, 0 for none */
    const char *tags;       /* a JSON array of names, as text */
} run_meta;

/* Submit a run.  args: {"config": the resolved run config}, optionally
 * "tags" (up to 16 names) and, for a run a schedule fires, "schedule_id"
 * and "scheduled_ms" (the scheduled time it is for), kept with the run,
 * and "resume": {"run", "step", "sha0", "sha256"} to take it up from that
 * run's checkpoint of that step (and its checkpoint 0, the GRPO reference)
 * instead of initializing it.  Returns {"id", "name"} and more per kind. */
json_t *runs_submit(coord *c, json_t *args, int *status, migr_err *err);

/* The clips a run on dataset ?1 can use: featurized, and with clue
 * annotations when ?2 is not 0 (SFT needs the clue texts, GRPO only labels);
 * and what clips.json says of each (runs_clip_record reads these columns). */
#define RUN_USABLE_CLIPS "c.dataset_id = ?1 AND c.state = 'featurized' AND (?2 = 0 OR c.annotation IS NOT NULL)"
#define RUN_CLIP_COLUMNS                                                                                      \
    "c.id, c.features, c.label, c.subtitle, c.annotation, c.mi_visual, c.mi_audio, c.mi_text, "             \
    "COALESCE(c.mi_dominant, json_extract(c.annotation, '$.dominant'))"
/* A clip's record in clips.json from a row of RUN_CLIP_COLUMNS, or NULL
 * when out of memory. */
json_t *runs_clip_record(sqlite3_stmt *st);
/* The split order of n usable clips for seed: the first train.holdout
 * share of it is held out. */
void runs_split_order(int64_t *perm, int64_t n, uint64_t seed);
/* A run's clips are prepared (runprep.h), ntrain of them to train on:
 * queue its first task. */
int runs_prepared(coord *c, int64_t run, int64_t ntrain, migr_err *err);

/* 0 if cfg is a valid resolved run config; else -1 with err, status 2. */
int runs_check_config(json_t *cfg, int *status, migr_err *err);

/* Cancel a queued or running run: its tasks are dropped, its checkpoints stay. */
int runs_cancel(coord *c, int64_t run, migr_err *err);

/* A resume task (a retried run taken up from a checkpoint) finished: its
 * checkpoints 0 and "step" are recorded and the next step is scheduled. */
int runs_resume_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_init_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_grad_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_rollout_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_reward_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_apply_done(coord *c, const task_row *t, json_t *output, migr_err *err);
int runs_task_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err);

/* Whether a step still has a shard under way: a gradient (SFT), or a
 * rollout, reward or gradient (GRPO, where each shard runs the three in
 * turn) queued, waiting to be retried or leased.  Asked at each gradient's completion; its plan is
 * checked by a test. */
#define RUN_ANY_SHARD_UNFINISHED                                                             \
    "SELECT 1 FROM tasks WHERE owner = 'run' AND owner_id = ? AND state IN ('queued', 'waiting', 'leased') " \
    "AND subject = ? AND kind IN ('rollout', 'reward', 'grad') LIMIT 1"

#endif
