/* worker.c -- see worker.h. */
#include "worker/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/store.h"
#include "common/wire.h"
#include "worker/tasks.h"

/* A task, queued for the task threads; once run, its packed result, queued
 * for the main thread. */
typedef struct job {
    uint64_t task_id, lease;
    char kind[32];
    char *params;
    uint8_t *result;       /* packed Envelope{result}; NULL if out of memory */
    size_t result_len;
    struct job *next;
} job;

/* Jobs in order, under the worker's mutex. */
typedef struct job_list {
    job *head, *tail;
} job_list;

static void list_push(job_list *l, job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

/* Take the whole list. */
static job *list_take(job_list *l)
{
    job *j = l->head;
    l->head = l->tail = NULL;
    return j;
}

static void free_job(job *j)
{
    free(j->params);
    free(j->result);
    free(j);
}

static void free_jobs(job *j)
{
    for (job *next; j; j = next) {
        next = j->next;
        free_job(j);
    }
}

typedef struct worker {
    const worker_options *opt;
    const migr_home *home;
    char id[128], host[128];
    store st;
    void *zctx, *dealer;
    void *watch;           /* migrd refusing our CURVE key (keys_watch), or NULL */
    int connects;
    pthread_t *threads;
    int nthreads;
    /* The job queue, shared with the task threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_list todo;
    int stopping;
    /* Jobs run, for the main thread, under mu; a task thread that makes the
     * list non-empty writes to done_fd, which the main thread polls. */
    job_list done;
    int done_fd;
    /* Leases of tasks queued or running; main thread only. */
    uint64_t *running;
    int nrunning;
    /* Assignments received on this connection, kept or dropped: with the
     * running leases, each heartbeat lets the coordinator settle the
     * assignments this worker no longer holds. */
    uint64_t assigned;
} worker;

/* ---- task threads ---- */

static job *next_job(worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->todo.head && !w->stopping)
        pthread_cond_wait(&w->cv, &w->mu);
    job *j = w->todo.head;
    if (j) {
        w->todo.head = j->next;
        if (!w->todo.head)
            w->todo.tail = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    return j;
}

/* Run one job and pack its result into it. */
static void run_job(worker *w, job *j)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__TaskResult r = MIGR__TASK_RESULT__INIT;
    migr_err err = {{0}};
    json_error_t jerr;
    char *output = NULL;
    int64_t t0 = clock_mono_ms();
    task_ctx ctx = {&w->st, w->opt->threads};
    json_t *params = json_loads(j->params, 0, &jerr), *out = NULL;

    if (!params)
        migr_errf(&err, "task parameters are not JSON: %s", jerr.text);
    else
        out = task_run(&ctx, j->kind, params, &err);
    json_decref(params);
    if (out)
        output = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    r.task_id = j->task_id;
    r.lease = j->lease;
    r.ok = output != NULL;
    r.error = output ? (char *)"" : err.msg;
    r.output = output ? output : (char *)"";
    if (output)
        log_info("task %llu (%s) done in %lld ms", (unsigned long long)j->task_id, j->kind,
                 (long long)(clock_mono_ms() - t0));
    else
        log_warn("task %llu (%s) failed: %s", (unsigned long long)j->task_id, j->kind, err.msg);
    env.version = WIRE_PROTOCOL_VERSION;
    env.body_case = MIGR__ENVELOPE__BODY_RESULT;
    env.result = &r;
    j->result_len = migr__envelope__get_packed_size(&env);
    if ((j->result = malloc(j->result_len)) != NULL)
        migr__envelope__pack(&env, j->result);
    else
        log_error("out of memory sending the result of task %llu; the coordinator will rerun it",
                  (unsigned long long)j->task_id);
    free(output);
}

/* Hand a run job to the main thread, waking it if its list was empty. */
static void hand_back(worker *w, job *j)
{
    static const uint64_t one = 1;
    pthread_mutex_lock(&w->mu);
    int wake = !w->done.head;
    list_push(&w->done, j);
    pthread_mutex_unlock(&w->mu);
    if (wake && write(w->done_fd, &one, sizeof one) != (ssize_t)sizeof one)
        log_error("waking the main thread: %s", strerror(errno));
}

static void *task_thread(void *arg)
{
    worker *w = arg;
    for (job *j; (j = next_job(w));) {
        run_job(w, j);
        free(j->params);
        j->params = NULL;
        hand_back(w, j);
    }
    return NULL;
}

/* ---- the coordinator connection ---- */

static int send_env(worker *w, Migr__Envelope *env)
{
    migr_err err;
    if (wire_send(w->dealer, NULL, env, &err) < 0) {
        log_warn("%s", err.msg);
        return -1;
    }
    return 0;
}

static int connect_coordinator(worker *w, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__WorkerHello hello = MIGR__WORKER_HELLO__INIT;
    int linger = 0;
    int64_t maxmsg = WIRE_MAX_BYTES;

    char watch_name[32];
    int curve;
    w->dealer = zmq_socket(w->zctx, ZMQ_DEALER);
    if (!w->dealer)
        return migr_errf(err, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    snprintf(watch_name, sizeof watch_name, "worker-%d", w->connects++);
    if ((curve = keys_client_setup(w->dealer, w->home, err)) < 0 ||
        (curve && !(w->watch = keys_watch(w->zctx, w->dealer, watch_name, err))))
        return -1;
    if (zmq_setsockopt(w->dealer, ZMQ_ROUTING_ID, w->id, strlen(w->id)) < 0 ||
        zmq_setsockopt(w->dealer, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(w->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_connect(w->dealer, w->home->endpoint) < 0)
        return migr_errf(err, "cannot connect to %s: %s", w->home->endpoint, zmq_strerror(errno));
    w->assigned = 0;
    hello.worker_id = w->id;
    hello.host = w->host;
    hello.pid = (uint32_t)getpid();
    hello.concurrency = (uint32_t)w->opt->concurrency;
    hello.n_running = (size_t)w->nrunning;
    hello.running = w->running;
    env.body_case = MIGR__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    send_env(w, &env);
    log_info("worker %s connecting to %s with %d slots%s", w->id, w->home->endpoint, w->opt->concurrency,
             curve ? " (CURVE)" : "");
    return 0;
}

static void disconnect_coordinator(worker *w)
{
    if (w->watch)
        zmq_close(w->watch);
    if (w->dealer)
        zmq_close(w->dealer);
    w->dealer = w->watch = NULL;
}

static void queue_job(worker *w, const Migr__TaskAssign *a)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->params = strdup(a->params))) {
        free(j);
        log_error("out of memory queueing task %llu; the coordinator will requeue it",
                  (unsigned long long)a->task_id);
        return;
    }
    j->task_id = a->task_id;
    j->lease = a->lease;
    snprintf(j->kind, sizeof j->kind, "%s", a->kind);
    w->running[w->nrunning++] = a->lease;
    log_debug("task %llu (%s) attempt %u received", (unsigned long long)a->task_id, a->kind, a->attempt);
    pthread_mutex_lock(&w->mu);
    list_push(&w->todo, j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The messages from the coordinator waiting on the socket.  Returns -1
 * when it refused us. */
static int on_coordinator(worker *w, migr_err *err)
{
    Migr__Envelope *env;
    wire_status st;
    while ((st = wire_try_recv(w->dealer, NULL, &env, err)) != WIRE_AGAIN) {
        if (st == WIRE_VERSION)
            return -1;
        if (st == WIRE_SOCKET) { /* interrupted, or the socket is going: the poll says which */
            log_warn("%s", err->msg);
            return 0;
        }
        if (st != WIRE_OK) {
            log_warn("ignoring a bad message from the coordinator: %s", err->msg);
            continue;
        }
        int rc = 0;
        if (env->body_case == MIGR__ENVELOPE__BODY_ASSIGN) {
            w->assigned++;
            if (w->nrunning >= w->opt->concurrency * 4)
                log_warn("the coordinator sent more tasks than slots; task %llu dropped (it will be requeued)",
                         (unsigned long long)env->assign->task_id);
            else
                queue_job(w, env->assign);
        } else if (env->body_case == MIGR__ENVELOPE__BODY_REFUSAL) {
            rc = migr_errf(err, "the coordinator refused this worker: %s", env->refusal->reason);
        }
        migr__envelope__free_unpacked(env, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Forward the results of the jobs the task threads finished. */
static void on_results(worker *w)
{
    uint64_t n;
    /* Read the wake-up before taking the list, so that a job handed back
     * after the take wakes the next poll. */
    if (read(w->done_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_error("reading the task threads' wake-up: %s", strerror(errno));
    pthread_mutex_lock(&w->mu);
    job *j = list_take(&w->done);
    pthread_mutex_unlock(&w->mu);
    for (job *next; j; j = next) {
        next = j->next;
        for (int i = 0; i < w->nrunning; i++) {
            if (w->running[i] == j->lease) {
                w->running[i] = w->running[--w->nrunning];
                break;
            }
        }
        if (j->result && zmq_send(w->dealer, j->result, j->result_len, 0) < 0)
            log_warn("sending a result: %s; the coordinator will rerun the task", zmq_strerror(errno));
        free_job(j);
    }
}

static void send_heartbeat(worker *w)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;
    hb.n_running = (size_t)w->nrunning;
    hb.running = w->running;
    hb.assigned = w->assigned;
    env.body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_env(w, &env);
}

static void send_bye(worker *w)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__WorkerBye bye = MIGR__WORKER_BYE__INIT;
    bye.reason = "stopping";
    env.body_case = MIGR__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    send_env(w, &env);
}

/* The Paranoid Pirate loop. */
static int serve(worker *w, volatile int *stop, migr_err *err)
{
    int64_t silence_limit = (int64_t)w->opt->liveness * w->opt->heartbeat_ms;
    int64_t last_heard = clock_mono_ms(), next_beat = 0, backoff = 1000;

    if (connect_coordinator(w, err) < 0)
        return -1;
    while (!*stop) {
        zmq_pollitem_t items[3] = {{w->dealer, 0, ZMQ_POLLIN, 0}, {NULL, w->done_fd, ZMQ_POLLIN, 0},
                                   {w->watch, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, w->watch ? 3 : 2, w->opt->heartbeat_ms);
        if (rc < 0 && errno != EINTR)
            return migr_errf(err, "polling: %s", zmq_strerror(errno));
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            last_heard = clock_mono_ms();
            backoff = 1000;
            if (on_coordinator(w, err) < 0)
                return -1;
        }
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            on_results(w);
        if (rc > 0 && w->watch && (items[2].revents & ZMQ_POLLIN) && keys_refused(w->watch))
            return migr_errf(err, "migrd at %s refused this worker's CURVE key (MIGR_KEY=%s): put its .pub "
                             "in migrd's $MIGR_HOME/keys/, or check MIGR_SERVER_KEY is migrd's key",
                             w->home->endpoint, getenv("MIGR_KEY"));
        int64_t now = clock_mono_ms();
        if (now >= next_beat) {
            send_heartbeat(w);
            next_beat = now + w->opt->heartbeat_ms;
        }
        if (now - last_heard > silence_limit) {
            log_warn("no word from the coordinator for %lld ms; reconnecting in %lld ms",
                     (long long)(now - last_heard), (long long)backoff);
            disconnect_coordinator(w);
            for (int64_t slept = 0; slept < backoff && !*stop; slept += 100)
                usleep(100 * 1000);
            backoff = backoff * 2 > 32000 ? 32000 : backoff * 2;
            if (connect_coordinator(w, err) < 0)
                return -1;
            last_heard = clock_mono_ms();
        }
    }
    send_bye(w);
    return 0;
}

static void stop_threads(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    free_jobs(list_take(&w->todo));
    free_jobs(list_take(&w->done));
}

int worker_run(const worker_options *opt, const migr_home *home, volatile int *stop, migr_err *err)
{
    worker w = {.opt = opt, .home = home, .done_fd = -1};
    int rc = -1;

    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    if (gethostname(w.host, sizeof w.host) < 0)
        snprintf(w.host, sizeof w.host, "unknown");
    if (opt->id[0])
        snprintf(w.id, sizeof w.id, "%s", opt->id);
    else
        snprintf(w.id, sizeof w.id, "%.100s-%ld", w.host, (long)getpid());
    if (store_open(&w.st, home->store, err) < 0)
        goto end;
    w.running = calloc((size_t)opt->concurrency * 4 + 1, sizeof *w.running);
    w.threads = calloc((size_t)opt->concurrency, sizeof *w.threads);
    w.zctx = zmq_ctx_new();
    w.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w.running || !w.threads || !w.zctx || w.done_fd < 0) {
        migr_errf(err, "cannot set up the worker: %s", strerror(errno));
        goto end;
    }
    for (; w.nthreads < opt->concurrency; w.nthreads++) {
        if (pthread_create(&w.threads[w.nthreads], NULL, task_thread, &w) != 0) {
            migr_errf(err, "cannot start task thread %d", w.nthreads);
            goto end;
        }
    }
    rc = serve(&w, stop, err);
end:
    stop_threads(&w);
    disconnect_coordinator(&w);
    if (w.done_fd >= 0)
        close(w.done_fd);
    if (w.zctx)
        zmq_ctx_term(w.zctx);
    free(w.running);
    free(w.threads);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
