/* bench.c -- what `migr bench dispatch` measures: no-op tasks ("noop",
 * owner "bench") dispatched like any other (leased, committed, completed in
 * SQLite), and the dispatch latency of each: from migrd reading the message
 * that freed the worker's slot (its previous result, or its hello) to the
 * assignment leaving migrd after the batch that leased it committed.
 *
 * The verbs serve the bench's own migrd (the CLI starts one in a temporary
 * MIGR_HOME); on a shared migrd the tasks would run on its workers. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "coordinator/coord.h"
#include "coordinator/db.h"

#define BENCH_MAX_BATCH 100000
#define BENCH_MAX_PAYLOAD (1 << 20)

/* bench.enqueue {"tasks": N, "payload": BYTES}: N no-op tasks whose params
 * carry a payload of that many bytes.  Returns {"enqueued": total so far}. */
json_t *bench_enqueue(coord *c, json_t *args, int *status, migr_err *err)
{
    json_t *jn = json_object_get(args, "tasks"), *jp = json_object_get(args, "payload");
    json_int_t n = json_integer_value(jn), payload = jp ? json_integer_value(jp) : 0;

    if (!json_is_integer(jn) || n < 1 || n > BENCH_MAX_BATCH || (jp && !json_is_integer(jp)) || payload < 0 ||
        payload > BENCH_MAX_PAYLOAD) {
        *status = 2;
        migr_errf(err, "bench.enqueue needs tasks 1..%d and payload 0..%d bytes", BENCH_MAX_BATCH,
                  BENCH_MAX_PAYLOAD);
        return NULL;
    }
    char *params = malloc((size_t)payload + 16);
    if (!params) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    memcpy(params, "{\"payload\":\"", 12);
    memset(params + 12, 'x', (size_t)payload);
    memcpy(params + 12 + payload, "\"}", 3);
    int mark = coord_begin(c, err);
    for (json_int_t i = 0; mark >= 0 && i < n; i++)
        if (db_cache_run(&c->sql, err,
                         "INSERT INTO tasks (owner, owner_id, kind, subject, params, state, max_attempts) "
                         "VALUES ('bench', 0, 'noop', ?, ?, 'queued', ?)",
                         "isi", (int64_t)(c->bench.enqueued + i), params, (int64_t)c->cfg.max_attempts) < 0) {
            coord_rollback(c, mark);
            mark = -1;
        }
    free(params);
    if (mark < 0 || coord_commit(c, err) < 0) {
        if (mark >= 0)
            coord_rollback(c, mark);
        return NULL;
    }
    c->bench.enqueued += n;
    return json_pack("{s:I}", "enqueued", (json_int_t)c->bench.enqueued);
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* bench.stats: {"enqueued","done","failed"} and, once every no-op task has
 * ended, "seconds" (first sent to last done), "tasks_per_s" and the
 * dispatch latency's "p50_ms","p99_ms","max_ms". */
json_t *bench_stats(coord *c, json_t *args, int *status, migr_err *err)
{
    coord_bench *b = &c->bench;
    (void)args, (void)status;
    json_t *r = json_pack("{s:I, s:I, s:I}", "enqueued", (json_int_t)b->enqueued, "done", (json_int_t)b->done,
                          "failed", (json_int_t)b->failed);
    if (!r) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    if (b->enqueued == 0 || b->done + b->failed < b->enqueued || b->nlatency == 0)
        return r;
    qsort(b->latency_us, b->nlatency, sizeof *b->latency_us, by_value);
    double seconds = (double)(b->last_us - b->first_us) / 1e6;
    size_t p50 = (b->nlatency - 1) / 2, p99 = (size_t)((double)(b->nlatency - 1) * 0.99);
    json_object_set_new(r, "seconds", json_real(seconds));
    json_object_set_new(r, "tasks_per_s", json_real(seconds > 0 ? (double)b->done / seconds : 0));
    json_object_set_new(r, "p50_ms", json_real(b->latency_us[p50] / 1e3));
    json_object_set_new(r, "p99_ms", json_real(b->latency_us[p99] / 1e3));
    json_object_set_new(r, "max_ms", json_real(b->latency_us[b->nlatency - 1] / 1e3));
    return r;
}

int bench_noop_done(coord *c, const task_row *t, json_t *output, migr_err *err)
{
    (void)t, (void)output, (void)err;
    c->bench.done++;
    c->bench.last_us = clock_mono_us();
    return 0;
}

int bench_noop_exhausted(coord *c, const task_row *t, const char *reason, migr_err *err)
{
    (void)t, (void)reason, (void)err;
    c->bench.failed++;
    return 0;
}

void bench_sent(coord *c, int64_t latency_us)
{
    coord_bench *b = &c->bench;
    if (!b->first_us)
        b->first_us = clock_mono_us();
    if (b->nlatency == b->caplatency) {
        size_t cap = b->caplatency ? 2 * b->caplatency : 1024;
        uint32_t *grown = realloc(b->latency_us, cap * sizeof *grown);
        if (!grown)
            return;  /* the sample is lost; the counts are not */
        b->latency_us = grown;
        b->caplatency = cap;
    }
    b->latency_us[b->nlatency++] = latency_us < 0 ? 0 : latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
}

void bench_free(coord_bench *b)
{
    free(b->latency_us);
    memset(b, 0, sizeof *b);
}
