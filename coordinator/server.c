/* server.c -- migrd's event loop: workers, leases, heartbeats, client requests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "coordinator/schedules.h"

static void outbox_drop(coord *c);

/* ---- deferred removal of store objects ---- */

/* A path a worker reported is something migrd may delete: relative to the
 * store, under runs/ or datasets/, without a ".." component. */
static int store_object_path(const char *rel)
{
    if (strncmp(rel, "runs/", 5) != 0 && strncmp(rel, "datasets/", 9) != 0)
        return 0;
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    for (const char *p = rel; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == rel || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
            return 0;
    return 1;
}

int coord_discard(coord *c, const char *relpath, migr_err *err)
{
    if (!relpath)
        return migr_errf(err, "the task's output names no store object to remove");
    if (!store_object_path(relpath))
        return migr_errf(err, "\"%.200s\" is not a store object migrd may remove (runs/... or datasets/..., "
                         "no \"..\")", relpath);
    if (c->ndiscard == c->capdiscard) {
        int cap = c->capdiscard ? 2 * c->capdiscard : 16;
        char **grown = realloc(c->discard, (size_t)cap * sizeof *grown);
        if (!grown)
            return migr_errf(err, "out of memory");
        c->discard = grown;
        c->capdiscard = cap;
    }
    if (db_run(c->db, err, "INSERT OR IGNORE INTO discards (path) VALUES (?)", "s", relpath) < 0)
        return -1;
    if (!(c->discard[c->ndiscard] = strdup(relpath)))
        return migr_errf(err, "out of memory");
    c->ndiscard++;
    return 0;
}

/* Remove the store object relpath and its discards row; the row stays (and
 * is tried again at the next start) if the object cannot be removed. */
static void discard_one(coord *c, const char *relpath)
{
    migr_err err;
    if (store_remove(&c->st, relpath, &err) < 0)
        log_warn("%s (left in the store; tried again when migrd next starts)", err.msg);
    else if (db_run(c->db, &err, "DELETE FROM discards WHERE path = ?", "s", relpath) < 0)
        log_error("%s", err.msg);
}

/* Forget the objects discarded since mark (their rows were rolled back). */
static void discard_forget_from(coord *c, int mark)
{
    while (c->ndiscard > mark)
        free(c->discard[--c->ndiscard]);
}

/* After a commit (remove = 1) or a rollback (remove = 0, the rows went with it). */
void coord_discard_flush(coord *c, int remove)
{
    migr_err err;
    if (remove && (c->batch || !c->durable))
        return;  /* after the next durable commit (see batch_begin) */
    int batch = remove && c->ndiscard > 1 && db_begin(c->db, &err) == 0;
    for (int i = 0; i < c->ndiscard; i++) {
        if (remove)
            discard_one(c, c->discard[i]);
        free(c->discard[i]);
    }
    if (batch && db_commit(c->db, &err) < 0) {
        log_error("%s", err.msg);
        db_rollback(c->db);
    }
    c->ndiscard = 0;
}

/* The savepoints of db_begin and db_commit, on kept statements: a task's
 * completion opens one. */
int coord_begin(coord *c, migr_err *err)
{
    return db_cache_run(&c->sql, err, "SAVEPOINT tx", NULL) < 0 ? -1 : c->ndiscard;
}

int coord_commit(coord *c, migr_err *err)
{
    if (db_cache_run(&c->sql, err, "RELEASE tx", NULL) < 0)
        return -1;
    coord_discard_flush(c, 1);
    return 0;
}

void coord_rollback(coord *c, int mark)
{
    db_rollback(c->db);
    discard_forget_from(c, mark < 0 ? c->ndiscard : mark);
}

/* Objects whose removal a crash interrupted, from the discards table. */
static int discard_leftovers(coord *c, migr_err *err)
{
    sqlite3_stmt *st;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (sqlite3_prepare_v2(c->db, "SELECT path FROM discards ORDER BY path", -1, &st, NULL) != SQLITE_OK)
        return migr_errf(err, "reading the discards: %s", sqlite3_errmsg(c->db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(paths, cap * sizeof *grown);
            if (!grown)
                break;
            paths = grown;
        }
        if (!(paths[n] = strdup((const char *)sqlite3_column_text(st, 0))))
            break;
        n++;
    }
    sqlite3_finalize(st);
    int ok = rc == SQLITE_DONE;
    if (!ok)
        migr_errf(err, "reading the discards: %s", rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(c->db));
    for (size_t i = 0; i < n; i++) {
        if (ok)
            discard_one(c, paths[i]);
        free(paths[i]);
    }
    free(paths);
    if (ok && n)
        log_info("removed %zu store object%s a crash left after their removal was committed", n,
                 n == 1 ? "" : "s");
    return ok ? 0 : -1;
}

void coord_config_default(coord_config *cfg)
{
    cfg->heartbeat_ms = 1000;
    cfg->liveness = 3;
    cfg->max_attempts = 3;
    cfg->backoff_ms = 1000;
    cfg->insecure = 0;
    cfg->task_timeout_s = 3600;
    cfg->prefetch = 0;
    cfg->keep_events_days = 14;
}

static int lease_deadline(coord *c, int64_t task_id, uint64_t lease)
{
    return deadlines_push(&c->deadlines, DEADLINE_LEASE, clock_wall_ms() + (int64_t)c->cfg.task_timeout_s * 1000,
                          task_id, lease);
}

static int retry_deadline(coord *c, int64_t task_id, int64_t wake_ms)
{
    if (deadlines_push(&c->deadlines, DEADLINE_RETRY, wake_ms, task_id, 0) < 0)
        return -1;
    c->nwaiting++;
    return 0;
}

int coord_open(coord *c, const coord_config *cfg, const migr_home *home, migr_err *err)
{
    int linger = 0, mandatory = 1;
    int64_t maxmsg = WIRE_MAX_BYTES;

    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->home = *home;
    if (store_open(&c->st, home->store, err) < 0 || db_open(&c->db, home->db, err) < 0)
        return -1;
    db_cache_init(&c->sql, c->db);
    c->durable = 1;  /* db_open's synchronous=FULL */
    if (walkeeper_start(&c->wal, c->db, home->db, err) < 0) {
        coord_close(c);
        return -1;
    }
    clipplan_wake(c); /* a plan or preparation a stop interrupted goes on */
    runprep_wake(c);
    c->zctx = zmq_ctx_new();
    c->router = c->zctx ? zmq_socket(c->zctx, ZMQ_ROUTER) : NULL;
    if (!c->router) {
        migr_errf(err, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        coord_close(c);
        return -1;
    }
    if (zmq_setsockopt(c->router, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(c->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_setsockopt(c->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) < 0) {
        migr_errf(err, "cannot set up the ZeroMQ socket: %s", zmq_strerror(errno));
        coord_close(c);
        return -1;
    }
    if (zap_open(&c->auth, c->zctx, c->router, home, cfg->insecure, err) < 0) {
        coord_close(c);
        return -1;
    }
    if (zmq_bind(c->router, home->endpoint) < 0) {
        migr_errf(err, "cannot listen on %s: %s (is another migrd running? set MIGR_ENDPOINT)",
                  home->endpoint, zmq_strerror(errno));
        coord_close(c);
        return -1;
    }
    c->started_ms = clock_mono_ms();
    if (discard_leftovers(c, err) < 0) {
        coord_close(c);
        return -1;
    }
    /* Leases from before a restart get a whole timeout from now. */
    task_row *rows = NULL;
    size_t n = 0;
    if (queue_leased(c->db, &rows, &n, err) < 0) {
        coord_close(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (lease_deadline(c, rows[i].id, rows[i].lease) < 0) {
            free(rows);
            coord_close(c);
            return migr_errf(err, "out of memory");
        }
    free(rows);
    /* Tasks backing off wake when their backoff ends, as before the restart. */
    if (queue_waiting(c->db, &rows, &n, err) < 0) {
        coord_close(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (retry_deadline(c, rows[i].id, rows[i].not_before_ms) < 0) {
            free(rows);
            coord_close(c);
            return migr_errf(err, "out of memory");
        }
    free(rows);
    if (queue_event(c->db, "coord.start", NULL, 0, 0, home->endpoint, err) < 0) {
        coord_close(c);
        return -1;
    }
    return 0;
}

void coord_close(coord *c)
{
    if (c->router)
        zmq_close(c->router);
    zap_close(&c->auth);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    c->router = c->zctx = NULL;
    walkeeper_stop(&c->wal);
    db_cache_free(&c->sql);
    db_close(&c->db);
    coord_discard_flush(c, 0);
    free(c->discard);
    c->discard = NULL;
    outbox_drop(c);
    free(c->outbox);
    c->outbox = NULL;
    fleet_free(&c->fleet);
    deadlines_free(&c->deadlines);
    bench_free(&c->bench);
    clipplan_close(&c->plan);
    runprep_close(&c->prep);
}

/* ---- the worker table (fleet.h) ---- */

static coord_worker *worker_touch(coord *c, coord_worker *w)
{
    fleet_touch(&c->fleet, w, clock_mono_ms());
    return w;
}

/* The worker answered for the assignment under lease, or no longer holds
 * it: its slot is free.  Returns 1 if w held it, 0 if not. */
static int worker_settle(coord_worker *w, uint64_t lease)
{
    for (int i = 0; i < w->nheld; i++) {
        if (w->held[i].lease == lease) {
            w->held[i] = w->held[--w->nheld];
            return 1;
        }
    }
    return 0;
}

/* ---- task outcomes ---- */

/* Record a failed attempt of t and, when it has used its attempts, let its
 * kind decide what that means for the owner.  One transaction. */
static int task_failed(coord *c, const task_row *t, const char *reason, migr_err *err)
{
    const task_kind *kind = task_kind_find(t->kind);
    int mark = coord_begin(c, err);
    if (mark < 0)
        return -1;
    int64_t wake_ms = 0;
    int exhausted = queue_fail(&c->sql, t, reason, clock_wall_ms(), c->cfg.backoff_ms, &wake_ms, err);
    if (exhausted < 0 || (exhausted && kind && kind->on_exhausted(c, t, reason, err) < 0) ||
        coord_commit(c, err) < 0) {
        coord_rollback(c, mark);
        return -1;
    }
    if (!exhausted && retry_deadline(c, t->id, wake_ms) < 0)
        log_error("out of memory: task %lld waits for no wake-up; it stays waiting until migrd restarts",
                  (long long)t->id);
    if (exhausted)
        log_warn("task %lld (%s) failed for good after %d attempts: %s", (long long)t->id,
                 t->kind, t->attempts, reason);
    else
        log_info("task %lld (%s) attempt %d failed, will retry: %s", (long long)t->id, t->kind,
                 t->attempts, reason);
    return 0;
}

static int task_succeeded(coord *c, const task_row *t, const char *output, migr_err *err)
{
    const task_kind *kind = task_kind_find(t->kind);
    json_error_t jerr;
    json_t *out = json_loads(output && *output ? output : "{}", 0, &jerr);

    if (!out || !json_is_object(out)) {
        json_decref(out);
        return task_failed(c, t, "the worker's output is not a JSON object", err);
    }
    int mark = coord_begin(c, err);
    if (mark < 0 || queue_done(&c->sql, t, output, clock_wall_ms(), err) < 0 ||
        (kind && kind->on_done(c, t, out, err) < 0) || coord_commit(c, err) < 0) {
        /* Worker output is input: what migrd cannot take is an attempt that
         * failed, retried and in the end failing its owner with the reason,
         * not a task left leased for the same output to come again. */
        char reason[sizeof err->msg + 64];
        coord_rollback(c, mark);
        json_decref(out);
        snprintf(reason, sizeof reason, "the worker's output was refused: %s", err->msg);
        log_warn("task %lld (%s): %s", (long long)t->id, t->kind, reason);
        return task_failed(c, t, reason, err);
    }
    json_decref(out);
    return 0;
}

/* A worker is gone: every task leased to it goes back to the queue. */
static void worker_lost(coord *c, coord_worker *w, const char *why)
{
    task_row *rows = NULL;
    size_t n = 0;
    migr_err err;
    char reason[512];

    log_warn("worker %s (%s pid %d) %s; requeueing its tasks", w->id, w->host, w->pid, why);
    snprintf(reason, sizeof reason, "worker %s (%s pid %d) %s", w->id, w->host, w->pid, why);
    if (queue_leased_to(c->db, w->id, &rows, &n, &err) < 0) {
        log_error("%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (task_failed(c, &rows[i], reason, &err) < 0)
            log_error("requeueing task %lld: %s", (long long)rows[i].id, err.msg);
    free(rows);
    if (db_cache_run(&c->sql, &err, "UPDATE workers SET state = 'dead' WHERE id = ?", "s", w->id) < 0 ||
        queue_event(c->db, "worker.dead", NULL, 0, 0, reason, &err) < 0)
        log_error("%s", err.msg);
    fleet_remove(&c->fleet, w);
}

/* Task events older than --keep-events days, at most EVENTS_TRIMMED_PER_TICK
 * a tick: a backlog (the first start with the option, or a change to it)
 * goes over many ticks instead of stalling the loop. */
enum { EVENTS_TRIMMED_PER_TICK = 2000 };

static void trim_events(coord *c)
{
    migr_err err;
    if (c->cfg.keep_events_days == 0)
        return;
    if (queue_trim_events(&c->sql, clock_wall_ms() - (int64_t)c->cfg.keep_events_days * 86400000, EVENTS_TRIMMED_PER_TICK,
                          &c->events_trimmed_to, &err) < 0)
        log_error("deleting old task events: %s", err.msg);
}

/* Tasks leased to workers that never came back after a coordinator restart:
 * once, a liveness period after the start (afterwards every lease belongs
 * to a worker in the table, and worker_lost requeues a lost worker's). */
static void sweep_orphans(coord *c)
{
    task_row *rows = NULL;
    size_t n = 0;
    migr_err err;
    char reason[256];
    int clean = 1;

    if (c->orphans_swept || clock_mono_ms() - c->started_ms < (int64_t)c->cfg.liveness * c->cfg.heartbeat_ms)
        return;
    if (queue_leased(c->db, &rows, &n, &err) < 0) {
        log_error("%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (fleet_by_id(&c->fleet, rows[i].worker))
            continue;
        snprintf(reason, sizeof reason, "worker %s did not come back", rows[i].worker);
        if (task_failed(c, &rows[i], reason, &err) < 0) {
            log_error("requeueing task %lld: %s", (long long)rows[i].id, err.msg);
            clean = 0;
        }
    }
    free(rows);
    c->orphans_swept = clean;
}

static int deadline_is_live(void *ctx, const deadline_entry *e)
{
    coord *c = ctx;
    task_row t;
    migr_err err;
    if (e->kind == DEADLINE_RETRY)
        return 1;  /* few, and each goes when due */
    return queue_current(&c->sql, e->task_id, e->lease, &t, &err) != 0;  /* kept on errors */
}

/* A lease past its deadline goes back to the queue as a failed attempt,
 * even when its worker lives on (a hung task, a lost result it still lists);
 * its late result is stale and refused.  The worker's slot stays taken
 * while its heartbeats still list the lease: its thread is still busy. */
static void lease_ended(coord *c, const deadline_entry *e)
{
    task_row t;
    migr_err err;
    char reason[256];
    int current = queue_current(&c->sql, e->task_id, e->lease, &t, &err);
    if (current < 0)
        log_error("%s", err.msg);
    if (current <= 0)
        return;
    snprintf(reason, sizeof reason, "its lease ended: worker %s held it for %d s (migrd --task-timeout)", t.worker,
             c->cfg.task_timeout_s);
    log_warn("task %lld (%s): %s; requeueing it", (long long)t.id, t.kind, reason);
    if (task_failed(c, &t, reason, &err) < 0)
        log_error("requeueing task %lld: %s", (long long)t.id, err.msg);
}

/* What the deadline heap says is due: leases that ended, tasks whose retry
 * backoff is over (queued again, at their old place in line). */
static void deadlines_due(coord *c)
{
    deadline_entry e;
    migr_err err;
    int64_t now = clock_wall_ms();

    while (deadlines_pop_due(&c->deadlines, now, &e)) {
        if (e.kind == DEADLINE_LEASE) {
            lease_ended(c, &e);
            continue;
        }
        c->nwaiting--;
        if (queue_wake(&c->sql, e.task_id, &err) < 0)
            log_error("%s", err.msg);
    }
}

/* Entries of leases that ended early (their task finished) stay in the
 * heap until due; on the tick, drop them once they outnumber the live ones. */
static void deadlines_prune(coord *c)
{
    size_t live = 0;
    for (coord_worker *w = c->fleet.oldest; w; w = w->newer)
        live += (size_t)w->nheld;
    if (deadlines_filter_due(&c->deadlines, live + c->nwaiting))
        deadlines_filter(&c->deadlines, deadline_is_live, c);
}

static void sweep_dead(coord *c)
{
    int64_t limit = (int64_t)c->cfg.liveness * c->cfg.heartbeat_ms;
    int64_t now = clock_mono_ms();
    while (c->fleet.oldest && now - c->fleet.oldest->last_heard_ms > limit)
        worker_lost(c, c->fleet.oldest, "stopped responding");
}

/* ---- the outbox ---- */

static void outgoing_free(coord_outgoing *o)
{
    free(o->params);
    free(o->body);
    free(o->error);
}

static coord_outgoing *outbox_push(coord *c, const wire_peer *peer)
{
    if (c->noutbox == c->capoutbox) {
        int cap = c->capoutbox ? 2 * c->capoutbox : 64;
        coord_outgoing *grown = realloc(c->outbox, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        c->outbox = grown;
        c->capoutbox = cap;
    }
    coord_outgoing *o = &c->outbox[c->noutbox++];
    memset(o, 0, sizeof *o);
    o->peer = *peer;
    return o;
}

static void outbox_drop(coord *c)
{
    for (int i = 0; i < c->noutbox; i++)
        outgoing_free(&c->outbox[i]);
    c->noutbox = 0;
}

static int send_reply(coord *c, const coord_outgoing *o, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Reply reply = MIGR__REPLY__INIT;

    reply.status = (uint32_t)o->status;
    reply.error = o->error ? o->error : (char *)"";
    reply.body = o->body ? o->body : (char *)"";
    env.body_case = MIGR__ENVELOPE__BODY_REPLY;
    env.reply = &reply;
    return wire_send(c->router, &o->peer, &env, err);
}

static int send_assign(coord *c, const coord_outgoing *o, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__TaskAssign a = MIGR__TASK_ASSIGN__INIT;

    a.task_id = (uint64_t)o->task_id;
    a.lease = o->lease;
    a.kind = (char *)o->kind;
    a.params = o->params;
    a.attempt = o->attempt;
    env.body_case = MIGR__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    return wire_send(c->router, &o->peer, &env, err);
}

/* Send what the committed batch decided.  A worker that cannot be reached
 * is lost, with the tasks leased to it. */
static void outbox_flush(coord *c)
{
    migr_err err;
    for (int i = 0; i < c->noutbox; i++) {
        coord_outgoing *o = &c->outbox[i];
        if (!o->is_assign) {
            int sent = send_reply(c, o, &err);
            if (sent == -2)
                log_debug("replying: %s", err.msg);  /* a client flooding without reading */
            else if (sent < 0)
                log_warn("replying: %s", err.msg);
            continue;
        }
        coord_worker *w = fleet_by_id(&c->fleet, o->worker);
        if (!w || w->peer.len != o->peer.len || memcmp(w->peer.id, o->peer.id, o->peer.len) != 0)
            continue;  /* lost in this batch: its tasks went back already */
        if (send_assign(c, o, &err) < 0) {
            char why[sizeof err.msg + 32];
            snprintf(why, sizeof why, "is unreachable (%s)", err.msg);
            worker_lost(c, w, why); /* requeues this task with the others it held */
            continue;
        }
        if (strcmp(o->kind, "noop") == 0)
            bench_sent(c, clock_mono_us() - o->freed_us);
        log_debug("task %lld (%s) -> %s, attempt %u", (long long)o->task_id, o->kind, o->worker, o->attempt);
    }
    outbox_drop(c);
}

/* The batch did not commit: nothing it decided happened.  Assignments are
 * taken back from their workers; replies become the error. */
static void outbox_fail(coord *c, const char *why)
{
    for (int i = 0; i < c->noutbox; i++) {
        coord_outgoing *o = &c->outbox[i];
        if (o->is_assign) {
            coord_worker *w = fleet_by_id(&c->fleet, o->worker);
            if (w && worker_settle(w, o->lease))
                fleet_offer(&c->fleet, w);
            continue;
        }
        free(o->body);
        free(o->error);
        o->body = NULL;
        o->status = 1;
        o->error = strdup(why);
    }
}

/* ---- messages ---- */

static void on_hello(coord *c, const wire_peer *peer, const Migr__WorkerHello *h)
{
    migr_err err;
    coord_worker *w = fleet_by_id(&c->fleet, h->worker_id);
    task_row *rows = NULL;
    size_t n = 0;

    if (w && strcmp(w->peer.user, peer->user) != 0) {
        log_warn("refused a hello claiming worker id %s: that worker connected with another key", w->id);
        wire_refuse(c->router, peer, "this worker id is in use by a worker with another key; give this "
                    "worker its own --id");
        return;
    }
    /* Room for its slots and for what it says it still runs, which a
     * smaller --concurrency after a restart may exceed. */
    int concurrency = h->concurrency > 0 ? (int)h->concurrency : 1;
    /* A worker queues up to 4 x its concurrency (worker.c). */
    int slots = concurrency + (c->cfg.prefetch < 3 * concurrency ? c->cfg.prefetch : 3 * concurrency);
    coord_assignment *held = calloc((size_t)slots + h->n_running, sizeof *held);
    if (!held) {
        log_error("out of memory registering worker %s", h->worker_id);
        return;
    }
    if (!w)
        w = fleet_add(&c->fleet, h->worker_id, peer, clock_mono_ms());
    else
        fleet_set_peer(&c->fleet, w, peer);
    if (!w) {
        free(held);
        log_error("out of memory registering worker %s", h->worker_id);
        return;
    }
    free(w->held);
    w->held = held;
    w->nheld = 0;
    w->sent = 0;
    snprintf(w->host, sizeof w->host, "%s", h->host);
    w->pid = (int)h->pid;
    w->concurrency = concurrency;
    w->slots = slots;
    w->freed_us = clock_mono_us();
    w = worker_touch(c, w);
    log_info("worker %s (%s pid %d, %d slots) connected", w->id, w->host, w->pid, w->concurrency);

    /* Leases it still holds stay; leases it forgot (it restarted) go back. */
    if (queue_leased_to(c->db, w->id, &rows, &n, &err) < 0) {
        log_error("%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int kept = 0;
        for (size_t j = 0; j < h->n_running; j++)
            kept |= h->running[j] == rows[i].lease;
        if (kept)
            w->held[w->nheld++] = (coord_assignment){rows[i].id, rows[i].lease, 0};
        else if (task_failed(c, &rows[i], "the worker restarted without finishing it", &err) < 0)
            log_error("%s", err.msg);
    }
    free(rows);
    fleet_offer(&c->fleet, w);
    int64_t now = clock_wall_ms();
    if (db_run(c->db, &err,
               "INSERT INTO workers (id, host, pid, concurrency, state, first_ms, last_ms) "
               "VALUES (?, ?, ?, ?, 'alive', ?, ?) ON CONFLICT(id) DO UPDATE SET host = excluded.host, "
               "pid = excluded.pid, concurrency = excluded.concurrency, state = 'alive', "
               "last_ms = excluded.last_ms",
               "ssiiii", w->id, w->host, (int64_t)w->pid, (int64_t)w->concurrency, now, now) < 0)
        log_error("%s", err.msg);
}

static void on_result(coord *c, const wire_peer *peer, const Migr__TaskResult *r)
{
    task_row t;
    migr_err err;
    coord_worker *w = fleet_by_peer(&c->fleet, peer);
    int current = queue_current(&c->sql, (int64_t)r->task_id, r->lease, &t, &err);

    if (w) {
        w = worker_touch(c, w);
        if (worker_settle(w, r->lease)) {
            w->freed_us = clock_mono_us();
            fleet_offer(&c->fleet, w);
        }
    }
    if (current < 0) {
        log_error("%s", err.msg);
        return;
    }
    if (!current) {
        /* A worker declared dead has left the table; its routing id is its
         * worker id (migr-worker sets it), so the event still names it. */
        char who[128];
        const char *from = w ? w->id : wire_peer_str(peer, who, sizeof who);
        log_warn("ignoring a result for task %llu under lease %llx from %s: the lease is no longer current",
                 (unsigned long long)r->task_id, (unsigned long long)r->lease, from);
        if (queue_event(c->db, "task.stale", NULL, 0, (int64_t)r->task_id, from, &err) < 0)
            log_error("%s", err.msg);
        return;
    }
    int rc = r->ok ? task_succeeded(c, &t, r->output, &err)
                   : task_failed(c, &t, r->error && *r->error ? r->error : "unknown error", &err);
    if (rc < 0)
        log_error("recording the result of task %lld: %s", (long long)t.id, err.msg);
}

/* A heartbeat from worker w.  Every assignment the worker had received when
 * it sent it and no longer lists is settled: its result is either already
 * here (results and heartbeats share one ordered pipe) or was lost, and so
 * was the assignment if the worker dropped it.  A task still leased under
 * such an assignment goes back to the queue. */
static void on_heartbeat(coord *c, coord_worker *w, const Migr__Heartbeat *hb)
{
    migr_err err;
    char reason[300];

    for (int i = 0; i < w->nheld; i++) {
        coord_assignment a = w->held[i];
        int listed = 0;
        for (size_t j = 0; j < hb->n_running && !listed; j++)
            listed = hb->running[j] == a.lease;
        if (listed || a.seq > hb->assigned)
            continue;
        worker_settle(w, a.lease);
        w->freed_us = clock_mono_us();
        fleet_offer(&c->fleet, w);
        i--;
        task_row t;
        int current = queue_current(&c->sql, a.task_id, a.lease, &t, &err);
        if (current < 0) {
            log_error("%s", err.msg);
            continue;
        }
        if (!current)
            continue;
        snprintf(reason, sizeof reason,
                 "worker %s no longer holds it: the assignment or its result was lost", w->id);
        log_warn("task %lld: %s; requeueing it", (long long)t.id, reason);
        if (task_failed(c, &t, reason, &err) < 0)
            log_error("requeueing task %lld: %s", (long long)t.id, err.msg);
    }
}

static void on_request(coord *c, const wire_peer *peer, const Migr__Request *req)
{
    migr_err err = {{0}};
    int status = 0;
    char *body = api_handle(c, req->verb, req->args, &status, &err);
    coord_outgoing *o = outbox_push(c, peer);

    if (status)
        log_info("request %s failed: %s", req->verb, err.msg);
    if (!o) {
        log_error("out of memory replying to %s", req->verb);
        free(body);
        return;
    }
    o->status = status;
    o->body = body;
    if (status && !(o->error = strdup(err.msg)))
        log_error("out of memory replying to %s", req->verb);
}

/* Handle one message (consumed). */
static void handle_message(coord *c, const wire_peer *in, Migr__Envelope *env)
{
    wire_peer peer = *in;
    char who[300];
    coord_worker *w = fleet_by_peer(&c->fleet, &peer);
    if (c->auth.on && !zap_allowed(&c->auth, peer.user)) {
        /* Its key left the allowlist after the handshake. */
        log_warn("refused a message from peer %s: key %s is no longer in the allowlist",
                 wire_peer_str(&peer, who, sizeof who), peer.user);
        if (w)
            worker_lost(c, w, "was cut off: its key left the allowlist");
        wire_refuse(c->router, &peer, "this key is no longer in migrd's allowlist");
        migr__envelope__free_unpacked(env, NULL);
        return;
    }
    switch (env->body_case) {
    case MIGR__ENVELOPE__BODY_HELLO:
        on_hello(c, &peer, env->hello);
        break;
    case MIGR__ENVELOPE__BODY_HEARTBEAT:
        if (w)
            on_heartbeat(c, worker_touch(c, w), env->heartbeat);
        break;
    case MIGR__ENVELOPE__BODY_RESULT:
        on_result(c, &peer, env->result);
        break;
    case MIGR__ENVELOPE__BODY_BYE:
        if (w)
            worker_lost(c, w, "left");
        break;
    case MIGR__ENVELOPE__BODY_REQUEST:
        on_request(c, &peer, env->request);
        break;
    default:
        log_warn("peer %s sent a message only the coordinator sends (case %d); ignored",
                 wire_peer_str(&peer, who, sizeof who), (int)env->body_case);
    }
    migr__envelope__free_unpacked(env, NULL);
}

/* ---- dispatch and heartbeats ---- */

/* Lease the next ready task to w; the assignment leaves when the batch
 * commits.  Returns 1 when one was leased, 0 when nothing is ready (or on
 * an error, logged). */
static int assign_one(coord *c, coord_worker *w)
{
    task_row t;
    char *params = NULL;
    migr_err err;
    uint64_t lease;

    randombytes_buf(&lease, sizeof lease);
    lease &= INT64_MAX;   /* SQLite integers are signed */
    int got = queue_lease(&c->sql, w->id, lease, clock_wall_ms(), &t, &params, &err);
    if (got <= 0) {
        if (got < 0)
            log_error("leasing a task: %s", err.msg);
        return 0;
    }
    coord_outgoing *o = outbox_push(c, &w->peer);
    if (!o) {
        /* Leased but never sent: its worker will not list it, and its lease
         * deadline (or the worker's loss) sends it back. */
        log_error("out of memory sending task %lld", (long long)t.id);
        free(params);
    } else {
        o->is_assign = 1;
        snprintf(o->worker, sizeof o->worker, "%s", w->id);
        o->task_id = t.id;
        o->lease = lease;
        o->attempt = (uint32_t)t.attempts;
        snprintf(o->kind, sizeof o->kind, "%s", t.kind);
        o->params = params;
        o->freed_us = w->freed_us;
    }
    w->held[w->nheld++] = (coord_assignment){t.id, lease, ++w->sent};
    if (lease_deadline(c, t.id, lease) < 0)
        log_error("out of memory: task %lld has no lease deadline", (long long)t.id);
    return 1;
}

/* Hand ready tasks to workers with free slots, taking them in turn from the
 * free FIFO (one per worker per turn), so work spreads evenly. */
static void dispatch(coord *c)
{
    coord_worker *w;
    while ((w = fleet_take_free(&c->fleet)) != NULL) {
        if (w->nheld >= w->slots)
            continue;
        if (!assign_one(c, w)) {
            fleet_return_free(&c->fleet, w);
            return;  /* nothing ready */
        }
        fleet_offer(&c->fleet, w);
    }
}

/* Re-read the allowlist; when it changed (here or in the ZAP handler),
 * workers whose key left it are cut off now, not at their next message. */
static void reload_allowlist(coord *c)
{
    migr_err err;
    if (zap_reload(&c->auth, &err) < 0)
        log_error("%s (keeping the previous allowlist)", err.msg);
    if (c->auth_seen == c->auth.generation)
        return;
    c->auth_seen = c->auth.generation;
    for (coord_worker *w = c->fleet.oldest, *next; w; w = next) {
        next = w->newer;
        if (zap_allowed(&c->auth, w->peer.user))
            continue;
        wire_peer peer = w->peer;
        worker_lost(c, w, "was cut off: its key left the allowlist");
        wire_refuse(c->router, &peer, "this worker's key was removed from migrd's allowlist");
    }
}

static void send_heartbeats(coord *c)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;
    migr_err err;
    int64_t now = clock_wall_ms();

    env.body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    for (coord_worker *w = c->fleet.oldest; w; w = w->newer) {
        if (wire_send(c->router, &w->peer, &env, &err) < 0)
            log_debug("heartbeat to %s: %s", w->id, err.msg);
        if (db_cache_run(&c->sql, &err, WORKER_HEARD, "is", now, w->id) < 0)
            log_error("%s", err.msg);
    }
}

/* ---- the loop ---- */

/* Messages handled per transaction.  A commit without an fsync costs little,
 * so few are enough; and the first message of a batch waits for the last
 * before its worker's next task can leave (the dispatch latency `migr bench
 * dispatch` reports).  Measured at 1,000 simulated workers on 2 cores: 64
 * gave a p99 of 8.7-9.1 ms, 16 gave 4.8-5.1 ms, 8 gave 4.6 ms, at the same
 * 20-25k tasks/s. */
#define BATCH_MESSAGES 8

/* Durability.  A batch of worker messages commits with synchronous=NORMAL:
 * appended to the WAL, not yet fsynced.  A power cut can lose the last such
 * batches, and what they recorded happens again -- a lost lease's result is
 * refused as stale and the task redone, a lost completion is redone --
 * which costs work but tells no one anything false.  A batch that answers a
 * client, and the one at each heartbeat tick, commits with FULL, which makes
 * everything before it durable too; store objects whose removal batches
 * decided are removed only after such a commit. */
static void batch_begin(coord *c, int durable)
{
    migr_err err;
    if (durable != c->durable && db_set_durable(c->db, durable, &err) < 0)
        log_error("%s", err.msg);
    else
        c->durable = durable;
    c->batch_discards = c->ndiscard;
    if (db_group_begin(c->db, &err) < 0)
        log_error("%s (handling this batch without a group commit)", err.msg);
    else
        c->batch = 1;
}

/* Commit the batch, then send what it decided and, once durable, remove
 * the store objects it and the batches before it stopped needing. */
static void batch_end(coord *c)
{
    migr_err err;
    if (c->batch) {
        c->batch = 0;
        if (db_group_commit(c->db, &err) < 0) {
            char why[sizeof err.msg + 64];
            log_error("%s: nothing of this batch happened", err.msg);
            db_rollback(c->db);
            discard_forget_from(c, c->batch_discards);
            snprintf(why, sizeof why, "migrd could not commit: %s; try again", err.msg);
            outbox_fail(c, why);
            outbox_flush(c);
            return;
        }
    }
    coord_discard_flush(c, 1);
    outbox_flush(c);
}

/* Read and handle up to BATCH_MESSAGES messages; 1 if it stopped at that
 * limit (more may be waiting), 0 when the router had no more.  A client's
 * request moves the batch to a durable one (the messages before it commit
 * first). */
static int drain(coord *c)
{
    for (int i = 0; i < BATCH_MESSAGES; i++) {
        wire_peer peer;
        Migr__Envelope *env;
        migr_err err;
        char who[300];
        wire_status st = wire_try_recv(c->router, &peer, &env, &err);
        if (st == WIRE_AGAIN)
            return 0;
        if (st == WIRE_SOCKET) { /* interrupted, or the socket is going: the poll says which */
            log_warn("%s", err.msg);
            return 0;
        }
        if (st != WIRE_OK) {
            log_warn("rejected a message from peer %s: %s", wire_peer_str(&peer, who, sizeof who), err.msg);
            if (st == WIRE_VERSION)
                wire_refuse(c->router, &peer, err.msg);
            continue;
        }
        if (env->body_case != MIGR__ENVELOPE__BODY_REQUEST) {
            handle_message(c, &peer, env);
            continue;
        }
        /* A request commits on its own, durably, so the worker messages
         * around it do not wait for its fsync. */
        dispatch(c);
        batch_end(c);
        batch_begin(c, 1);
        handle_message(c, &peer, env);
        batch_end(c);
        batch_begin(c, 0);
    }
    return 1;
}

/* The time a turn of the loop gives a synthetic dataset's plan, and as much
 * a run's preparation: short next to the heartbeat. */
enum { PLAN_BUDGET_US = 5000 };

int coord_serve(coord *c, volatile int *stop, migr_err *err)
{
    zmq_pollitem_t items[2] = {{c->router, 0, ZMQ_POLLIN, 0}, {c->auth.handler, 0, ZMQ_POLLIN, 0}};

    log_info("migrd listening on %s; database %s; store %s", c->home.endpoint, c->home.db,
             c->st.root);
    c->next_heartbeat_ms = clock_mono_ms();
    while (!*stop) {
        int64_t now = clock_mono_ms();
        if (now >= c->next_heartbeat_ms) {
            /* The tick commits on its own, durably (batch_begin). */
            batch_begin(c, 1);
            if (c->auth.on)
                reload_allowlist(c);
            send_heartbeats(c);
            sweep_dead(c);
            sweep_orphans(c);
            trim_events(c);
            deadlines_prune(c);
            schedules_tick(c, clock_wall_ms());
            c->next_heartbeat_ms = now + c->cfg.heartbeat_ms;
            batch_end(c);
        }
        batch_begin(c, 0);
        deadlines_due(c);
        int more = drain(c);
        more |= clipplan_step(c, PLAN_BUDGET_US) | runprep_step(c, PLAN_BUDGET_US);
        dispatch(c);
        batch_end(c);
        if (more)
            continue;  /* more is waiting: no need to poll */
        long timeout = (long)(c->next_heartbeat_ms - clock_mono_ms());
        int64_t next = deadlines_next_ms(&c->deadlines) - clock_wall_ms();
        if (next < timeout)
            timeout = next < 0 ? 0 : (long)next;
        int rc = zmq_poll(items, c->auth.on ? 2 : 1, timeout > 0 ? timeout : 0);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return migr_errf(err, "polling: %s", zmq_strerror(errno));
        }
        for (int i = 0; c->auth.on && (items[1].revents & ZMQ_POLLIN) && i < 1000; i++) {
            int events = 0;
            size_t sz = sizeof events;
            if (zmq_getsockopt(c->auth.handler, ZMQ_EVENTS, &events, &sz) < 0 || !(events & ZMQ_POLLIN))
                break;
            zap_handle(&c->auth);
        }
    }
    log_info("migrd stopping");
    return 0;
}
