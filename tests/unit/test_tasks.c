/* test_tasks.c -- a worker running a task (worker/tasks.c). */
#include "check.h"

#include <stdlib.h>

#include "worker/tasks.h"

/* The parameters are migrd's: the handler is given them as sent, and the
 * worker's own --threads beside them, even when they hold a "threads". */
TEST(a_task_gets_the_parameters_migrd_sent_and_the_workers_threads_beside_them)
{
    store st;
    migr_err err = {0};
    CHECK_MSG(store_open(&st, check_tmpdir(), &err) == 0, "%s", err.msg);
    task_ctx ctx = {&st, 3};
    json_t *params = json_pack("{s:s, s:i}", "payload", "xyz", "threads", 7), *sent = json_deep_copy(params);
    json_t *out = task_run(&ctx, "noop", params, &err);
    char *dump = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS), now[256];
    snprintf(now, sizeof now, "%s", dump ? dump : "(out of memory)");
    int ran = out != NULL, same = json_equal(params, sent);
    free(dump);
    json_decref(params);
    json_decref(sent);
    json_decref(out);
    CHECK_MSG(ran, "the noop task failed: %s", err.msg);
    CHECK_MSG(same, "the parameters became %s", now);
}

TEST(a_task_of_a_kind_the_worker_does_not_know_is_refused_naming_it)
{
    store st;
    migr_err err = {0};
    CHECK_MSG(store_open(&st, check_tmpdir(), &err) == 0, "%s", err.msg);
    task_ctx ctx = {&st, 1};
    json_t *params = json_object();
    json_t *out = task_run(&ctx, "frobnicate", params, &err);
    json_decref(params);
    CHECK(out == NULL);
    CHECK_MSG(strstr(err.msg, "\"frobnicate\"") && strstr(err.msg, "upgrade"), "said: %s", err.msg);
}
