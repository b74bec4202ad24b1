/* bench.c -- migr bench dispatch: migrd's dispatch throughput and latency on
 * no-op tasks, with a migrd of its own in a temporary MIGR_HOME (a real
 * SQLite file, real ZeroMQ over loopback TCP).  The tasks are queued before
 * any worker connects, so the whole queue is there when dispatch starts;
 * then --workers N migr-worker processes, or --sim-workers N simulated
 * workers in this process (a DEALER socket each, speaking the worker
 * protocol: hello, results, heartbeats) take them. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/wire.h"

#define ENQUEUE_CHUNK 100000

/* A loopback TCP port nobody listens on now. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Sockets for a thousand workers (and migrd's end of each): lift the soft
 * descriptor limit to the hard one.  migrd inherits it. */
static void raise_fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* ---- simulated workers ---- */

typedef struct sim_worker {
    void *sock;
    char id[32];
    uint64_t assigned;
} sim_worker;

static int sim_send(sim_worker *s, Migr__Envelope *env, migr_err *err)
{
    return wire_send(s->sock, NULL, env, err) < 0 ? -1 : 0;
}

static int sim_hello(sim_worker *s, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__WorkerHello h = MIGR__WORKER_HELLO__INIT;
    h.worker_id = s->id;
    h.host = "bench";
    h.pid = (uint32_t)getpid();
    h.concurrency = 1;
    env.body_case = MIGR__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    return sim_send(s, &env, err);
}

static int sim_heartbeat(sim_worker *s, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;
    hb.assigned = s->assigned;
    env.body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return sim_send(s, &env, err);
}

/* Answer every message waiting on s: an assignment with its result at once. */
static int sim_read(sim_worker *s, migr_err *err)
{
    for (;;) {
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &events, &sz) < 0 || !(events & ZMQ_POLLIN))
            return 0;
        Migr__Envelope *in;
        if (wire_recv(s->sock, NULL, &in, err) != WIRE_OK)
            return -1;
        int rc = 0;
        if (in->body_case == MIGR__ENVELOPE__BODY_ASSIGN) {
            Migr__Envelope env = MIGR__ENVELOPE__INIT;
            Migr__TaskResult r = MIGR__TASK_RESULT__INIT;
            s->assigned++;
            r.task_id = in->assign->task_id;
            r.lease = in->assign->lease;
            r.ok = 1;
            r.output = "{}";
            r.error = "";
            env.body_case = MIGR__ENVELOPE__BODY_RESULT;
            env.result = &r;
            rc = sim_send(s, &env, err);
        } else if (in->body_case == MIGR__ENVELOPE__BODY_REFUSAL) {
            rc = migr_errf(err, "migrd refused simulated worker %s: %s", s->id, in->refusal->reason);
        }
        migr__envelope__free_unpacked(in, NULL);
        if (rc < 0)
            return -1;
    }
}

typedef struct sim_fleet {
    void *zctx;
    sim_worker *w;
    zmq_pollitem_t *items;
    int n;
    int64_t next_heartbeat_ms;
} sim_fleet;

static void sim_close(sim_fleet *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->w[i].sock)
            zmq_close(f->w[i].sock);
    if (f->zctx)
        zmq_ctx_term(f->zctx);
    free(f->w);
    free(f->items);
    memset(f, 0, sizeof *f);
}

static int sim_open(sim_fleet *f, const char *endpoint, int n, migr_err *err)
{
    int linger = 0;
    memset(f, 0, sizeof *f);
    f->zctx = zmq_ctx_new();
    f->w = calloc((size_t)n, sizeof *f->w);
    f->items = calloc((size_t)n, sizeof *f->items);
    if (!f->zctx || !f->w || !f->items || zmq_ctx_set(f->zctx, ZMQ_MAX_SOCKETS, n + 16) < 0) {
        sim_close(f);
        return migr_errf(err, "cannot set up %d simulated workers: %s", n, zmq_strerror(errno));
    }
    for (int i = 0; i < n; i++, f->n++) {
        sim_worker *s = &f->w[i];
        snprintf(s->id, sizeof s->id, "sim-%d", i);
        s->sock = zmq_socket(f->zctx, ZMQ_DEALER);
        if (!s->sock || zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
            zmq_connect(s->sock, endpoint) < 0 || sim_hello(s, err) < 0) {
            migr_errf(err, "cannot connect simulated worker %d of %d: %s (raise `ulimit -n`?)", i + 1, n,
                      zmq_strerror(errno));
            sim_close(f);
            return -1;
        }
        f->items[i] = (zmq_pollitem_t){s->sock, 0, ZMQ_POLLIN, 0};
    }
    f->next_heartbeat_ms = clock_mono_ms() + 1000;
    return 0;
}

/* Serve the simulated workers for up to timeout_ms. */
static int sim_serve(sim_fleet *f, long timeout_ms, migr_err *err)
{
    int64_t until = clock_mono_ms() + timeout_ms;
    for (int64_t now = clock_mono_ms(); now < until; now = clock_mono_ms()) {
        if (now >= f->next_heartbeat_ms) {
            for (int i = 0; i < f->n; i++)
                if (sim_heartbeat(&f->w[i], err) < 0)
                    return -1;
            f->next_heartbeat_ms = now + 1000;
        }
        int64_t wait = (f->next_heartbeat_ms < until ? f->next_heartbeat_ms : until) - now;
        int rc = zmq_poll(f->items, f->n, (long)wait);
        if (rc < 0 && errno != EINTR)
            return migr_errf(err, "polling the simulated workers: %s", zmq_strerror(errno));
        for (int i = 0; rc > 0 && i < f->n; i++)
            if ((f->items[i].revents & ZMQ_POLLIN) && sim_read(&f->w[i], err) < 0)
                return -1;
    }
    return 0;
}

/* ---- the bench ---- */

typedef struct bench_opts {
    long long tasks, workers, sim_workers, payload, prefetch;
    int json;
} bench_opts;

static int enqueue(const migr_home *home, const bench_opts *o, migr_err *err)
{
    for (long long done = 0; done < o->tasks;) {
        long long n = o->tasks - done < ENQUEUE_CHUNK ? o->tasks - done : ENQUEUE_CHUNK;
        int status;
        json_t *r = cli_request(home, "bench.enqueue", json_pack("{s:I, s:I}", "tasks", (json_int_t)n, "payload",
                                (json_int_t)o->payload), 120000, &status, err);
        if (!r)
            return -1;
        json_decref(r);
        done += n;
        cli_progress("queueing", (long)done, (long)o->tasks);
    }
    cli_progress_end();
    return 0;
}

/* Wait until every task ended; the final stats, or NULL. */
static json_t *wait_done(const migr_home *home, const bench_opts *o, sim_fleet *sim, migr_err *err)
{
    for (;;) {
        int status;
        if (sim) {
            if (sim_serve(sim, 100, err) < 0)
                return NULL;
        } else {
            usleep(100 * 1000);
        }
        json_t *r = cli_request(home, "bench.stats", NULL, 10000, &status, err);
        if (!r)
            return NULL;
        json_int_t done = json_integer_value(json_object_get(r, "done")),
                   failed = json_integer_value(json_object_get(r, "failed"));
        cli_progress("dispatching", (long)(done + failed), (long)o->tasks);
        if (failed > 0) {
            json_decref(r);
            cli_progress_end();
            migr_errf(err, "%lld no-op task(s) failed for good; see the logs", (long long)failed);
            return NULL;
        }
        if (json_object_get(r, "tasks_per_s")) {
            cli_progress_end();
            return r;
        }
        json_decref(r);
    }
}

static int run_bench(const migr_home *home, const bench_opts *o, json_t **stats, migr_err *err)
{
    sim_fleet sim = {0};
    int rc = -1;

    char prefetch[32];
    snprintf(prefetch, sizeof prefetch, "%lld", o->prefetch);
    if (cli_start_migrd(home, (const char *const[]){"--prefetch", prefetch, NULL}, err) < 0)
        return -1;
    if (enqueue(home, o, err) < 0)
        goto out;
    if (o->sim_workers ? sim_open(&sim, home->endpoint, (int)o->sim_workers, err) < 0
                       : cli_start_workers(home, 0, o->workers, err) < 0)
        goto out;
    *stats = wait_done(home, o, o->sim_workers ? &sim : NULL, err);
    rc = *stats ? 0 : -1;
out:
    sim_close(&sim);
    cli_stop(home);
    return rc;
}

static void remove_tree(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "migr bench: could not remove %s\n", dir);
}

int cmd_bench_dispatch(const migr_home *home_in, const cli_args *a)
{
    bench_opts o = {.tasks = 100000, .workers = 4, .payload = 64, .prefetch = 1, .json = cli_flag(a, "--json")};
    char dir[PATH_MAX], endpoint[64];
    const char *tmp = getenv("TMPDIR");
    migr_home home;
    migr_err err;
    json_t *stats = NULL;
    (void)home_in;

    if (cli_int(a, "--tasks", 1, 10000000, &o.tasks) < 0 || cli_int(a, "--workers", 1, 256, &o.workers) < 0 ||
        cli_int(a, "--sim-workers", 1, 10000, &o.sim_workers) < 0 ||
        cli_int(a, "--payload", 0, 1 << 20, &o.payload) < 0 || cli_int(a, "--prefetch", 0, 64, &o.prefetch) < 0)
        return EXIT_USAGE;
    if (o.sim_workers && cli_value(a, "--workers")) {
        fprintf(stderr, "migr bench dispatch: give --workers (processes) or --sim-workers (simulated), not both\n");
        return EXIT_USAGE;
    }
    snprintf(dir, sizeof dir, "%s/migr-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int port = free_port();
    if (port < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "migr bench dispatch: cannot make a temporary MIGR_HOME or find a free port: %s\n",
                strerror(errno));
        return EXIT_FAIL;
    }
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    raise_fd_limit();
    if (setenv("MIGR_HOME", dir, 1) < 0 || setenv("MIGR_ENDPOINT", endpoint, 1) < 0 ||
        setenv("MIGR_HTTP", "off", 1) < 0 || unsetenv("MIGR_STORE") < 0 || unsetenv("MIGR_KEY") < 0 ||
        unsetenv("MIGR_SERVER_KEY") < 0) {
        fprintf(stderr, "migr bench dispatch: cannot set up the environment: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    memset(&home, 0, sizeof home);
    if (migr_home_resolve(&home, 1, &err) < 0 || run_bench(&home, &o, &stats, &err) < 0) {
        fprintf(stderr, "migr bench dispatch: %s (logs kept in %s/logs)\n", err.msg, dir);
        return EXIT_FAIL;
    }
    remove_tree(dir);
    long long workers = o.sim_workers ? o.sim_workers : o.workers;
    double secs = json_real_value(json_object_get(stats, "seconds")),
           tps = json_real_value(json_object_get(stats, "tasks_per_s")),
           p50 = json_real_value(json_object_get(stats, "p50_ms")),
           p99 = json_real_value(json_object_get(stats, "p99_ms")),
           max = json_real_value(json_object_get(stats, "max_ms"));
    json_decref(stats);
    if (o.json) {
        json_t *out = json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "tasks", (json_int_t)o.tasks, "workers",
                                (json_int_t)workers, "seconds", secs, "tasks_per_s", tps, "p50_ms", p50, "p99_ms",
                                p99, "max_ms", max);
        cli_print_json(out);
        json_decref(out);
        return EXIT_OK;
    }
    printf("%lld no-op tasks (%lld-byte payload), %lld %s, prefetch %lld: %.2f s, %.0f tasks/s\n"
           "dispatch latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n"
           "(from migrd reading the message that freed a worker's slot to that worker's next task\n"
           "leaving migrd, its lease committed to SQLite)\n",
           o.tasks, o.payload, workers, o.sim_workers ? "simulated workers" : "migr-worker processes", o.prefetch,
           secs, tps,
           p50, p99, max);
    return EXIT_OK;
}
