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

/* What a handler is given besides its parameters: the store, and the
 * threads of the task (migr-worker --threads).  A handler that runs the
 * model makes a pool of that many for the task -- its own thread and
 * threads - 1 more (ml/pool.h; model_set_pool); the task's results are the
 * same bits whatever the count. */
typedef struct task_ctx {
    const store *st;
    int threads;            /* 1..POOL_MAX_THREADS */
} task_ctx;

/* Run a task of this kind on params, as migrd sent them (the handler does
 * not change them): the handler's output, or NULL with err -- also for a
 * kind this worker does not know. */
json_t *task_run(const task_ctx *ctx, const char *kind, json_t *params, migr_err *err);

/* Nothing: the dispatch benchmark's task (`migr bench dispatch`). */
json_t *task_noop(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_featurize(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_synth(const task_ctx *ctx, json_t *params, migr_err *err);
/* SFT (train.c): vocabulary and checkpoint 0; a shard's summed gradient;
 * the optimizer step that turns shard gradients into the next checkpoint. */
json_t *task_init(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_grad(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_apply(const task_ctx *ctx, json_t *params, migr_err *err);
/* A run taken up from another's checkpoint (`migr run retry` of a run that
 * failed): its vocabulary, checkpoint 0 and checkpoint "step" copied from
 * "from_dir", each checked against the sha256 migrd recorded. */
json_t *task_resume(const task_ctx *ctx, json_t *params, migr_err *err);
/* GRPO (grpo.c): checkpoint 0 from the SFT checkpoint; G completions per
 * clip with their old log-probs; their rewards and group advantages; the
 * policy gradient (called by task_grad for runs of kind grpo). */
json_t *task_grpo_init(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_rollout(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *task_reward(const task_ctx *ctx, json_t *params, migr_err *err);
json_t *grpo_grad(const task_ctx *ctx, json_t *params, migr_err *err);
/* Modality importance (mi.c): cross-fitted probes score every clip. */
json_t *task_mi(const task_ctx *ctx, json_t *params, migr_err *err);
/* The reward verifier and the evaluation judge (instruments.c). */
json_t *task_instruments(const task_ctx *ctx, json_t *params, migr_err *err);
/* One shard of an eval run (evaluate.c). */
json_t *task_evaluate(const task_ctx *ctx, json_t *params, migr_err *err);

#endif
