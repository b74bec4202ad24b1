/* prom.c -- see prom.h. */
#include "coordinator/prom.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "coordinator/db.h"

static const char *const task_states[] = {"queued", "leased", "done", "failed", NULL};
static const char *const run_states[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
static const char *const run_kinds[] = {"sft", "grpo", "eval", NULL};
static const char *const dataset_states[] = {"synthesizing", "featurizing", "ready", "failed", NULL};
static const char *const worker_states[] = {"alive", "dead", "gone", NULL};

/* The tasks under way, counted on each scrape by index tasks_queue; those
 * that ended are counted in task_counts (schema/009_counts.sql). */
#define TASKS_IN_FLIGHT "FROM tasks WHERE state IN ('queued', 'waiting', 'leased')"

/* At most this many task-duration buckets (schema table duration_buckets). */
enum { DURATION_BUCKETS_MAX = 32 };

/* A growing text buffer; after an allocation failure it stops growing and
 * sets oom, which the caller checks once at the end. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
    int oom;
} text_buf;

static void buf_reserve(text_buf *b, size_t extra)
{
    if (b->oom || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->data = p;
    b->cap = cap;
}

static void buf_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(text_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    buf_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A label value, quoted and escaped as the format asks: \\, \" and \n. */
static void buf_label(text_buf *b, const char *v)
{
    buf_printf(b, "\"");
    for (; *v; v++) {
        if (*v == '\\')
            buf_printf(b, "\\\\");
        else if (*v == '"')
            buf_printf(b, "\\\"");
        else if (*v == '\n')
            buf_printf(b, "\\n");
        else
            buf_printf(b, "%c", *v);
    }
    buf_printf(b, "\"");
}

static void header(text_buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* migr_dataset_clips{dataset, state}: every dataset, all three clip states. */
static int gauge_dataset_clips(sqlite3 *db, text_buf *b, migr_err *err)
{
    static const char *const states[] = {"featurized", "failed", "pending"};
    sqlite3_stmt *st = db_prepare(
        db, err,
        "SELECT d.name, "
        "IFNULL(SUM(CASE c.state WHEN 'featurized' THEN c.n END), 0), "
        "IFNULL(SUM(CASE c.state WHEN 'failed' THEN c.n END), 0), "
        "IFNULL(SUM(CASE c.state WHEN 'pending' THEN c.n END), 0) "
        "FROM datasets d LEFT JOIN clip_counts c ON c.dataset_id = d.id GROUP BY d.id ORDER BY d.id",
        NULL);
    int rc;

    if (!st)
        return -1;
    header(b, "migr_dataset_clips", "gauge", "Clips of each dataset by state.");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < 3; i++) {
            buf_printf(b, "migr_dataset_clips{dataset=");
            buf_label(b, db_text(st, 0));
            buf_printf(b, ",state=\"%s\"} %" PRId64 "\n", states[i],
                       (int64_t)sqlite3_column_int64(st, i + 1));
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return migr_errf(err, "reading clip counts: %s", sqlite3_errmsg(db));
    return 0;
}

/* migr_run_step{run,name} and the latest value of each training metric of
 * the runs that are going (migr_run_loss{run}, ...), one group per metric as
 * the format requires. */
static int gauge_active_runs(sqlite3 *db, text_buf *b, migr_err *err)
{
    /* The exposed names spell units out, as promtool asks (tokens_per_s is
     * the metric's key in the database). */
    static const char *const names[] = {"step", "loss", "grad_norm", "lr", "tokens_per_second", "reward", "kl"};
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT r.id, r.name, r.step, "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'loss'), "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'grad_norm'), "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'lr'), "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'tokens_per_s'), "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'reward_mean'), "
        "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.step = r.step AND m.name = 'kl') "
        "FROM runs r WHERE r.state IN ('queued', 'running') ORDER BY r.id", NULL);
    int rc = SQLITE_DONE;

    if (!st)
        return -1;
    for (int i = 0; i < 7 && rc == SQLITE_DONE; i++) {
        char name[64], help[96];
        snprintf(name, sizeof name, "migr_run_%s", names[i]);
        if (i == 0)
            snprintf(help, sizeof help, "Steps done by each queued or running run.");
        else
            snprintf(help, sizeof help, "The %s of the last step of each queued or running run.", names[i]);
        header(b, name, "gauge", help);
        sqlite3_reset(st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (sqlite3_column_type(st, 2 + i) == SQLITE_NULL)
                continue;
            buf_printf(b, "%s{run=\"%lld\",name=", name, (long long)sqlite3_column_int64(st, 0));
            buf_label(b, db_text(st, 1));
            buf_printf(b, "} %.9g\n", sqlite3_column_double(st, 2 + i));
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return migr_errf(err, "reading run metrics: %s", sqlite3_errmsg(db));
    return 0;
}

static int step_error(sqlite3 *db, int rc, const char *what, migr_err *err)
{
    return rc == SQLITE_DONE ? 0 : migr_errf(err, "reading %s: %s", what, sqlite3_errmsg(db));
}

static int index_of(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return i;
    return -1;
}

/* A gauge with a "state" label from a (state, count) query: one sample per
 * listed state, 0 where the query has no row. */
static int gauge_by_state(sqlite3 *db, text_buf *b, migr_err *err, const char *name, const char *help,
                          const char *sql, const char *const *states)
{
    int64_t counts[8] = {0};
    sqlite3_stmt *st = db_prepare(db, err, sql, NULL);
    int rc;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = index_of(states, db_text(st, 0));
        if (i >= 0)
            counts[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (step_error(db, rc, name, err) < 0)
        return -1;
    header(b, name, "gauge", help);
    for (int i = 0; states[i]; i++)
        buf_printf(b, "%s{state=\"%s\"} %" PRId64 "\n", name, states[i], counts[i]);
    return 0;
}

/* migr_runs{kind,state}: every kind and state, 0 where there is none. */
static int gauge_runs(sqlite3 *db, text_buf *b, migr_err *err)
{
    int64_t n[3][5] = {{0}};
    sqlite3_stmt *st = db_prepare(db, err, "SELECT kind, state, COUNT(*) FROM runs GROUP BY kind, state", NULL);
    int rc;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = index_of(run_kinds, db_text(st, 0)), s = index_of(run_states, db_text(st, 1));
        if (k >= 0 && s >= 0)
            n[k][s] = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (step_error(db, rc, "runs", err) < 0)
        return -1;
    header(b, "migr_runs", "gauge", "Runs by kind and state.");
    for (int k = 0; run_kinds[k]; k++)
        for (int s = 0; run_states[s]; s++)
            buf_printf(b, "migr_runs{kind=\"%s\",state=\"%s\"} %" PRId64 "\n", run_kinds[k], run_states[s], n[k][s]);
    return 0;
}

/* migr_tasks{kind,state}: each task kind seen, every state. */
static int gauge_tasks(sqlite3 *db, text_buf *b, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT kind, SUM(CASE WHEN state IN ('queued', 'waiting') THEN n ELSE 0 END), "
        "SUM(CASE state WHEN 'leased' THEN n ELSE 0 END), SUM(CASE state WHEN 'done' THEN n ELSE 0 END), "
        "SUM(CASE state WHEN 'failed' THEN n ELSE 0 END) FROM (SELECT kind, state, n FROM task_counts UNION ALL "
        "SELECT kind, state, COUNT(*) " TASKS_IN_FLIGHT " GROUP BY kind, state) GROUP BY kind ORDER BY kind", NULL);
    int rc;
    if (!st)
        return -1;
    header(b, "migr_tasks", "gauge", "Tasks by kind and state.");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        for (int s = 0; task_states[s]; s++) {
            buf_printf(b, "migr_tasks{kind=");
            buf_label(b, db_text(st, 0));
            buf_printf(b, ",state=\"%s\"} %" PRId64 "\n", task_states[s], (int64_t)sqlite3_column_int64(st, 1 + s));
        }
    sqlite3_finalize(st);
    return step_error(db, rc, "tasks", err);
}

/* The task-duration bucket bounds, ascending, into le; their number, or -1
 * with err. */
static int duration_bounds(sqlite3 *db, double *le, migr_err *err)
{
    sqlite3_stmt *st = db_prepare(db, err, "SELECT le FROM duration_buckets ORDER BY i", NULL);
    int n = 0, rc;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < DURATION_BUCKETS_MAX)
        le[n++] = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return migr_errf(err, "duration_buckets holds more than %d bounds", DURATION_BUCKETS_MAX);
    return step_error(db, rc, "task duration buckets", err) < 0 ? -1 : n;
}

/* One kind's histogram from its per-bucket counts (count[nb]: above every
 * bound). */
static void histogram_kind(text_buf *b, const char *kind, const double *le, int nb, const int64_t *count,
                           double sum)
{
    int64_t cum = 0;
    for (int i = 0; i <= nb; i++) {
        cum += count[i];
        buf_printf(b, "migr_task_duration_seconds_bucket{kind=");
        buf_label(b, kind);
        if (i < nb)
            buf_printf(b, ",le=\"%g\"} %" PRId64 "\n", le[i], cum);
        else
            buf_printf(b, ",le=\"+Inf\"} %" PRId64 "\n", cum);
    }
    buf_printf(b, "migr_task_duration_seconds_sum{kind=");
    buf_label(b, kind);
    buf_printf(b, "} %.6f\nmigr_task_duration_seconds_count{kind=", sum);
    buf_label(b, kind);
    buf_printf(b, "} %" PRId64 "\n", cum);
}

/* migr_task_duration_seconds{kind}: done tasks, from their lease to their
 * result, as the task_durations trigger counted them. */
static int histogram_durations(sqlite3 *db, text_buf *b, migr_err *err)
{
    double le[DURATION_BUCKETS_MAX];
    int nb = duration_bounds(db, le, err);
    if (nb < 0)
        return -1;
    sqlite3_stmt *st = db_prepare(db, err, "SELECT kind, bucket, n, sum FROM task_durations ORDER BY kind, bucket",
                                  NULL);
    int rc;
    char kind[64] = "";
    int64_t count[DURATION_BUCKETS_MAX + 1] = {0};
    double sum = 0;
    if (!st)
        return -1;
    header(b, "migr_task_duration_seconds", "histogram", "Seconds from a task's lease to its result, done tasks.");
    for (;;) {
        rc = sqlite3_step(st);
        const char *k = rc == SQLITE_ROW ? db_text(st, 0) : NULL;
        if (kind[0] && (!k || strcmp(k, kind) != 0)) {
            histogram_kind(b, kind, le, nb, count, sum);
            memset(count, 0, sizeof count);
            sum = 0;
        }
        if (!k)
            break;
        snprintf(kind, sizeof kind, "%s", k);
        int64_t bucket = sqlite3_column_int64(st, 1);
        count[bucket >= 0 && bucket < nb ? bucket : nb] += sqlite3_column_int64(st, 2);
        sum += sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    return step_error(db, rc, "task durations", err);
}

/* A counter with a "kind" label: events of event_kind per task kind. */
static int counter_task_events(sqlite3 *db, text_buf *b, migr_err *err, const char *name, const char *help,
                               const char *event_kind)
{
    sqlite3_stmt *st = db_prepare(db, err,
        "SELECT t.kind, IFNULL(c.n, 0) FROM (SELECT kind FROM task_counts UNION SELECT kind " TASKS_IN_FLIGHT ") t "
        "LEFT JOIN event_counts c ON c.counter = ? AND c.kind = t.kind ORDER BY t.kind", "s", event_kind);
    int rc;
    if (!st)
        return -1;
    header(b, name, "counter", help);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_printf(b, "%s{kind=", name);
        buf_label(b, db_text(st, 0));
        buf_printf(b, "} %" PRId64 "\n", (int64_t)sqlite3_column_int64(st, 1));
    }
    sqlite3_finalize(st);
    return step_error(db, rc, name, err);
}

/* A counter without labels: event_counts' counter of that name. */
static int counter(sqlite3 *db, text_buf *b, migr_err *err, const char *name, const char *help,
                   const char *counter_name)
{
    int64_t n;
    if (db_int(db, err, &n, 0, "SELECT IFNULL(SUM(n), 0) FROM event_counts WHERE counter = ?", "s",
               counter_name) < 0)
        return -1;
    header(b, name, "counter", help);
    buf_printf(b, "%s %" PRId64 "\n", name, n);
    return 0;
}

/* Per schedule: firings, misses and skips (counters) and the next firing. */
static int schedules(sqlite3 *db, text_buf *b, migr_err *err)
{
    static const char *const names[] = {"migr_schedule_firings_total", "migr_schedule_misses_total",
                                        "migr_schedule_skips_total", "migr_schedule_next_firing_timestamp_seconds"};
    static const char *const helps[] = {"Runs each schedule submitted.",
                                        "Scheduled times that passed without a firing (downtime, deadline).",
                                        "Firings skipped because a run of the schedule was still active (Forbid).",
                                        "When each unpaused schedule fires next."};
    sqlite3_stmt *st = db_prepare(db, err, "SELECT name, fired, missed, skipped, next_ms FROM schedules ORDER BY name",
                                  NULL);
    int rc = SQLITE_DONE;
    if (!st)
        return -1;
    for (int i = 0; i < 4 && rc == SQLITE_DONE; i++) {
        header(b, names[i], i < 3 ? "counter" : "gauge", helps[i]);
        sqlite3_reset(st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (sqlite3_column_type(st, 1 + i) == SQLITE_NULL)
                continue;
            buf_printf(b, "%s{schedule=", names[i]);
            buf_label(b, db_text(st, 0));
            if (i < 3)
                buf_printf(b, "} %" PRId64 "\n", (int64_t)sqlite3_column_int64(st, 1 + i));
            else
                buf_printf(b, "} %.3f\n", sqlite3_column_int64(st, 1 + i) / 1000.0);
        }
    }
    sqlite3_finalize(st);
    return step_error(db, rc, "schedules", err);
}

int prom_page(sqlite3 *db, char **text, size_t *len, migr_err *err)
{
    text_buf b = {0};
    int64_t alive, depth;

    *text = NULL;
    *len = 0;
    if (db_int(db, err, &alive, 0, "SELECT COUNT(*) FROM workers WHERE state = 'alive'", NULL) < 0 ||
        db_int(db, err, &depth, 0, "SELECT COUNT(*) FROM tasks WHERE state = 'queued'", NULL) < 0)
        return -1;
    header(&b, "migr_workers_alive", "gauge", "Workers whose heartbeats are current.");
    buf_printf(&b, "migr_workers_alive %" PRId64 "\n", alive);
    header(&b, "migr_queue_depth", "gauge", "Queued tasks ready to lease (their retry backoff over).");
    buf_printf(&b, "migr_queue_depth %" PRId64 "\n", depth);
    if (gauge_by_state(db, &b, err, "migr_workers", "Workers by state.",
                       "SELECT state, COUNT(*) FROM workers GROUP BY state", worker_states) < 0 ||
        gauge_runs(db, &b, err) < 0 || gauge_tasks(db, &b, err) < 0 || histogram_durations(db, &b, err) < 0 ||
        counter_task_events(db, &b, err, "migr_task_retries_total", "Failed task attempts put back in the queue.",
                            "task.retry") < 0 ||
        counter_task_events(db, &b, err, "migr_task_failures_total", "Tasks that used up their attempts.",
                            "task.failed") < 0 ||
        counter(db, &b, err, "migr_leases_lost_total",
                "Leases taken back from a worker that died, did not come back after a restart, or no longer held them.",
                "lease.lost") < 0 ||
        counter(db, &b, err, "migr_stale_results_total", "Results refused because their lease had been taken back.",
                "task.stale") < 0 ||
        counter(db, &b, err, "migr_worker_deaths_total", "Workers declared dead after missed heartbeats.",
                "worker.dead") < 0 ||
        schedules(db, &b, err) < 0 ||
        gauge_by_state(db, &b, err, "migr_datasets", "Datasets by state.",
                       "SELECT state, COUNT(*) FROM datasets GROUP BY state", dataset_states) < 0 ||
        gauge_dataset_clips(db, &b, err) < 0 || gauge_active_runs(db, &b, err) < 0) {
        free(b.data);
        return -1;
    }
    if (b.oom) {
        free(b.data);
        return migr_errf(err, "out of memory rendering /metrics");
    }
    *text = b.data;
    *len = b.len;
    return 0;
}
