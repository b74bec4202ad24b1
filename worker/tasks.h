/* tasks.h -- what a worker does for each task kind.
 *
 * A handler reads its parameters (a JSON object), does the work, writes what
 * it produces into the store and returns its output (a JSON object, the
 * caller's) -- or NULL with err set, and the coordinator retries the task.
 * Handlers keep no state between tasks. */
#ifndef MIGR_WORKER_TASKS_H
#define MIGR_WORKER_TASKS_H

#include <jansson.h>

#include "common/error.h"
#include "common/store.h"

typedef json_t *(*task_handler)(const store *st, json_t *params, migr_err *err);

/* The handler of a kind, or NULL for a kind this worker does not know. */
task_handler task_handler_find(const char *kind);

/* Nothing: the dispatch benchmark's task (`migr bench dispatch`). */
json_t *task_noop(const store *st, json_t *params, migr_err *err);
json_t *task_featurize(const store *st, json_t *params, migr_err *err);
json_t *task_synth(const store *st, json_t *params, migr_err *err);
/* SFT (train.c): vocabulary and checkpoint 0; a shard's summed gradient;
 * the optimizer step that turns shard gradients into the next checkpoint. */
json_t *task_init(const store *st, json_t *params, migr_err *err);
json_t *task_grad(const store *st, json_t *params, migr_err *err);
json_t *task_apply(const store *st, json_t *params, migr_err *err);
/* A run taken up from another's checkpoint (`migr run retry` of a run that
 * failed): its vocabulary, checkpoint 0 and checkpoint "step" copied from
 * "from_dir", each checked against the sha256 migrd recorded. */
json_t *task_resume(const store *st, json_t *params, migr_err *err);
/* GRPO (grpo.c): checkpoint 0 from the SFT checkpoint; G completions per
 * clip with their old log-probs; their rewards and group advantages; the
 * policy gradient (called by task_grad for runs of kind grpo). */
json_t *task_grpo_init(const store *st, json_t *params, migr_err *err);
json_t *task_rollout(const store *st, json_t *params, migr_err *err);
json_t *task_reward(const store *st, json_t *params, migr_err *err);
json_t *grpo_grad(const store *st, json_t *params, migr_err *err);
/* Modality importance (mi.c): cross-fitted probes score every clip. */
json_t *task_mi(const store *st, json_t *params, migr_err *err);
/* The reward verifier and the evaluation judge (instruments.c). */
json_t *task_instruments(const store *st, json_t *params, migr_err *err);
/* One shard of an eval run (evaluate.c). */
json_t *task_evaluate(const store *st, json_t *params, migr_err *err);

#endif
