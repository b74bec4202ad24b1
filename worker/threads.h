/* threads.h -- the threads of a task.
 *
 * migr-worker --threads N gives every task N threads: its own task thread
 * and N - 1 more.  run_job (worker.c) hands N to the handler as the task
 * parameter "threads" (set by the worker, over anything migrd sent), and a
 * handler that runs the model makes a pool of that many for the task
 * (ml/pool.h; model_set_pool).  The task's results are the same bits
 * whatever N is. */
#ifndef MIGR_WORKER_THREADS_H
#define MIGR_WORKER_THREADS_H

#include <jansson.h>

#include "common/error.h"
#include "ml/pool.h"

/* The name of the parameter. */
#define TASK_THREADS_PARAM "threads"

/* A pool of params' "threads" (1, no extra thread, when it is absent);
 * NULL with err when it is out of range or a thread cannot start.  The
 * caller frees it with pool_free. */
pool *task_threads(json_t *params, migr_err *err);

#endif
