/* kinds.c -- what the coordinator does when each kind of task ends.
 * A new task kind is one row here plus its handler in the worker. */
#include <string.h>

#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/evals.h"
#include "coordinator/runs.h"

static const task_kind kinds[] = {
    {"synth", datasets_synth_done, datasets_task_exhausted},
    {"featurize", datasets_featurize_done, datasets_task_exhausted},
    {"mi", datasets_mi_done, datasets_job_exhausted},
    {"instruments", datasets_job_done, datasets_job_exhausted},
    {"init", runs_init_done, runs_task_exhausted},
    {"resume", runs_resume_done, runs_task_exhausted},
    {"grpo_init", runs_init_done, runs_task_exhausted},
    {"rollout", runs_rollout_done, runs_task_exhausted},
    {"reward", runs_reward_done, runs_task_exhausted},
    {"grad", runs_grad_done, runs_task_exhausted},
    {"apply", runs_apply_done, runs_task_exhausted},
    {"evaluate", evals_shard_done, runs_task_exhausted},
    {"noop", bench_noop_done, bench_noop_exhausted},
};

const task_kind *task_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}
