/* threads.c -- see threads.h. */
#include "worker/threads.h"

pool *task_threads(json_t *params, migr_err *err)
{
    json_t *v = json_object_get(params, TASK_THREADS_PARAM);
    json_int_t n = v ? json_integer_value(v) : 1;
    if (v && (!json_is_integer(v) || n < 1 || n > POOL_MAX_THREADS)) {
        migr_errf(err, "task parameter \"%s\" must be an integer in 1..%d", TASK_THREADS_PARAM,
                  POOL_MAX_THREADS);
        return NULL;
    }
    return pool_new((int)n, err);
}
