/*
 * dispatch_zmq: the raw ZeroMQ floor that bench/dispatch.sh sets migr's
 * dispatch beside.  No database, no protobuf, no leases: only the sockets.
 *
 *   dispatch_zmq [--workers N] [--tasks T] [--payload BYTES] [--json]
 *
 * The process forks N workers.  Each connects a DEALER over loopback TCP to
 * the parent's ROUTER, says it is ready (an empty frame) and echoes every
 * task it receives, until an empty frame tells it to stop.  The parent is a
 * credit-based dispatcher, as migrd is: a worker holds at most one task, its
 * result frees the credit, and the next task goes to that worker at once.
 * A task is PAYLOAD bytes (default 64) whose first 8 hold its sequence number.
 *
 * Prints one JSON object, the shape of `migr bench dispatch --json`:
 *   {"tasks","workers","seconds","tasks_per_s","p50_ms","p99_ms","max_ms"}
 * seconds runs from the first task sent (every worker connected and ready)
 * to the last result received; a task's latency runs from just before its
 * zmq_send to just after the zmq_recv of its echo.  --json is accepted for
 * symmetry with migr; the output is JSON either way.  Exit 0 ok, 1 failure,
 * 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DISPATCH_ENDPOINT_MAX 256   /* one record on the endpoint pipe */
#define DISPATCH_ID_MAX 256         /* ZeroMQ routing ids are 1..255 bytes */
#define DISPATCH_TIMEOUT_MS 10000   /* a result this late means a worker is gone */

struct dispatch_options {
    int workers;
    uint64_t tasks;
    size_t payload;
};

struct dispatch_worker_id {
    unsigned char bytes[DISPATCH_ID_MAX];
    size_t len;
};

/* The dispatcher's state; it owns every buffer here. */
struct dispatch {
    void *router;
    size_t payload;
    uint64_t tasks;
    uint64_t sent;
    uint64_t done;
    uint64_t *sent_ns;        /* (tasks) when each task was handed to zmq_send */
    uint64_t *latency_ns;     /* (tasks) send to echo, in the order results came */
    unsigned char *task;      /* (payload) the frame being sent */
    unsigned char *result;    /* (payload) the frame being received */
};

static uint64_t dispatch_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int dispatch_usage(void)
{
    fprintf(stderr, "usage: dispatch_zmq [--workers N] [--tasks T] [--payload BYTES] [--json]\n");
    return 2;
}

/* Parses a decimal in [lo, hi] into *out; returns 0, or -1 if it is not one. */
static int dispatch_parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Fills *opt from argv; returns 0, or 2 after printing the usage. */
static int dispatch_parse_args(int argc, char **argv, struct dispatch_options *opt)
{
    opt->workers = 1;
    opt->tasks = 10000;
    opt->payload = 64;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--json") == 0)
            continue;
        if (i + 1 >= argc)
            return dispatch_usage();
        if (strcmp(argv[i], "--workers") == 0 && dispatch_parse_u64(argv[i + 1], 1, 1024, &v) == 0)
            opt->workers = (int)v;
        else if (strcmp(argv[i], "--tasks") == 0 &&
                 dispatch_parse_u64(argv[i + 1], 1, UINT64_C(1) << 32, &v) == 0)
            opt->tasks = v;
        else if (strcmp(argv[i], "--payload") == 0 &&
                 dispatch_parse_u64(argv[i + 1], 8, 1u << 20, &v) == 0)
            opt->payload = (size_t)v;
        else
            return dispatch_usage();
        i++;
    }
    return 0;
}

/*
 * A worker's whole life, in a forked child: read the endpoint from the pipe,
 * connect, say ready, echo tasks until the empty stop frame.  Its ZeroMQ
 * context is its own, made after the fork.  Returns the child's exit status.
 */
static int dispatch_worker_run(int endpoint_fd, size_t payload)
{
    char endpoint[DISPATCH_ENDPOINT_MAX];
    unsigned char *task = malloc(payload);
    void *ctx = NULL, *dealer = NULL;
    int status = 1, linger = 0;

    if (task == NULL)
        goto end;
    if (read(endpoint_fd, endpoint, sizeof endpoint) != (ssize_t)sizeof endpoint)
        goto end;   /* the dispatcher gave up before it could bind */
    endpoint[sizeof endpoint - 1] = '\0';
    ctx = zmq_ctx_new();
    if (ctx == NULL || (dealer = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
        goto end;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, endpoint) != 0 || zmq_send(dealer, "", 0, 0) != 0)
        goto end;
    for (;;) {
        int n = zmq_recv(dealer, task, payload, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto end;
        if (n == 0)
            break;
        if ((size_t)n > payload)
            goto end;   /* truncated: not a task of ours */
        if (zmq_send(dealer, task, (size_t)n, 0) != n)
            goto end;
    }
    status = 0;
end:
    if (dealer != NULL)
        zmq_close(dealer);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    free(task);
    return status;
}

/*
 * Forks opt->workers children that wait on the read end of a pipe for the
 * endpoint.  Fills pids[] and *endpoint_fd (the write end); returns 0, or -1
 * with the children already started left to read EOF and exit.
 */
static int dispatch_fork_workers(const struct dispatch_options *opt, pid_t *pids, int *endpoint_fd)
{
    int fds[2];
    pid_t parent = getpid();

    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < opt->workers; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
        if (pids[i] == 0) {
            close(fds[1]);
            /* A dispatcher killed mid-run must not leave echoers behind. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            _exit(dispatch_worker_run(fds[0], opt->payload));
        }
    }
    close(fds[0]);
    *endpoint_fd = fds[1];
    return 0;
}

/* Hands every worker the endpoint, one fixed-size record each (atomic on a pipe). */
static int dispatch_send_endpoint(int fd, const char *endpoint, int workers)
{
    char record[DISPATCH_ENDPOINT_MAX] = {0};
    snprintf(record, sizeof record, "%s", endpoint);
    for (int i = 0; i < workers; i++)
        if (write(fd, record, sizeof record) != (ssize_t)sizeof record)
            return -1;
    return 0;
}

/*
 * Receives one [routing id][body] message from the ROUTER into id and
 * d->result; returns the body's length, or -1 on error or timeout.
 */
static int dispatch_recv(struct dispatch *d, struct dispatch_worker_id *id)
{
    int more = 0;
    size_t more_len = sizeof more;
    int n;

    do
        n = zmq_recv(d->router, id->bytes, sizeof id->bytes, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        fprintf(stderr, "dispatch_zmq: no message for %d ms: %s\n", DISPATCH_TIMEOUT_MS,
                zmq_strerror(errno));
        return -1;
    }
    id->len = (size_t)n;
    if (zmq_getsockopt(d->router, ZMQ_RCVMORE, &more, &more_len) != 0 || !more)
        return -1;
    do
        n = zmq_recv(d->router, d->result, d->payload, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Sends task number d->sent to the worker named by id; returns 0 or -1. */
static int dispatch_send_task(struct dispatch *d, const struct dispatch_worker_id *id)
{
    uint64_t seq = d->sent;
    memcpy(d->task, &seq, sizeof seq);
    d->sent_ns[seq] = dispatch_now_ns();
    if (zmq_send(d->router, id->bytes, id->len, ZMQ_SNDMORE) != (int)id->len ||
        zmq_send(d->router, d->task, d->payload, 0) != (int)d->payload) {
        fprintf(stderr, "dispatch_zmq: send: %s\n", zmq_strerror(errno));
        return -1;
    }
    d->sent++;
    return 0;
}

/* Waits for every worker's ready frame, recording their ids in ids[]; 0 or -1. */
static int dispatch_wait_ready(struct dispatch *d, struct dispatch_worker_id *ids, int workers)
{
    for (int i = 0; i < workers; i++) {
        int n = dispatch_recv(d, &ids[i]);
        if (n != 0) {
            fprintf(stderr, "dispatch_zmq: expected a ready frame, got %d bytes\n", n);
            return -1;
        }
    }
    return 0;
}

/*
 * Runs all d->tasks over the ready workers ids[]: one to each, then one more
 * each time a result comes back.  Returns 0, or -1 on a stray message, a
 * lost worker or a socket error.
 */
static int dispatch_run(struct dispatch *d, const struct dispatch_worker_id *ids, int workers)
{
    for (int i = 0; i < workers && d->sent < d->tasks; i++)
        if (dispatch_send_task(d, &ids[i]) != 0)
            return -1;
    while (d->done < d->tasks) {
        struct dispatch_worker_id from;
        uint64_t seq;
        int n = dispatch_recv(d, &from);
        uint64_t now = dispatch_now_ns();
        if (n != (int)d->payload) {
            fprintf(stderr, "dispatch_zmq: expected a %zu-byte result, got %d\n", d->payload, n);
            return -1;
        }
        memcpy(&seq, d->result, sizeof seq);
        if (seq >= d->sent) {
            fprintf(stderr, "dispatch_zmq: result for task %" PRIu64 " never sent\n", seq);
            return -1;
        }
        d->latency_ns[d->done++] = now - d->sent_ns[seq];
        if (d->sent < d->tasks && dispatch_send_task(d, &from) != 0)
            return -1;
    }
    return 0;
}

static int dispatch_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank q-quantile of n sorted values, in milliseconds. */
static double dispatch_quantile_ms(const uint64_t *sorted, uint64_t n, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1e6;
}

static void dispatch_report(struct dispatch *d, int workers, uint64_t elapsed_ns)
{
    double seconds = (double)elapsed_ns / 1e9;
    qsort(d->latency_ns, d->done, sizeof *d->latency_ns, dispatch_cmp_u64);
    printf("{\"tasks\":%" PRIu64 ",\"workers\":%d,\"seconds\":%.6f,\"tasks_per_s\":%.1f,"
           "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f}\n",
           d->done, workers, seconds, (double)d->done / seconds,
           dispatch_quantile_ms(d->latency_ns, d->done, 0.50),
           dispatch_quantile_ms(d->latency_ns, d->done, 0.99),
           (double)d->latency_ns[d->done - 1] / 1e6);
}

/* Tells every worker to stop (an empty frame); best effort. */
static void dispatch_stop_workers(struct dispatch *d, const struct dispatch_worker_id *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(d->router, ids[i].bytes, ids[i].len, ZMQ_SNDMORE) == (int)ids[i].len)
            zmq_send(d->router, "", 0, 0);
}

/* Waits for the workers; those that have not exited after stop are killed. */
static int dispatch_reap(const pid_t *pids, int n, int kill_first)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int status;
        if (kill_first)
            kill(pids[i], SIGKILL);
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct dispatch_options opt;
    struct dispatch d = {0};
    struct dispatch_worker_id *ids = NULL;
    pid_t *pids = NULL;
    void *ctx = NULL;
    char endpoint[DISPATCH_ENDPOINT_MAX];
    size_t endpoint_len = sizeof endpoint;
    int endpoint_fd = -1, forked = 0, ok = 0;
    int timeout = DISPATCH_TIMEOUT_MS, linger = 1000, mandatory = 1;
    uint64_t t0 = 0, t1 = 0;

    if (dispatch_parse_args(argc, argv, &opt) != 0)
        return 2;
    d.payload = opt.payload;
    d.tasks = opt.tasks;
    ids = calloc((size_t)opt.workers, sizeof *ids);
    pids = calloc((size_t)opt.workers, sizeof *pids);
    d.sent_ns = malloc(opt.tasks * sizeof *d.sent_ns);
    d.latency_ns = malloc(opt.tasks * sizeof *d.latency_ns);
    d.task = calloc(1, opt.payload);
    d.result = malloc(opt.payload);
    if (!ids || !pids || !d.sent_ns || !d.latency_ns || !d.task || !d.result) {
        fprintf(stderr, "dispatch_zmq: out of memory\n");
        goto end;
    }
    /* Fork before any ZeroMQ context exists: a context does not survive fork. */
    if (dispatch_fork_workers(&opt, pids, &endpoint_fd) != 0) {
        perror("dispatch_zmq: fork");
        goto end;
    }
    forked = 1;
    ctx = zmq_ctx_new();
    if (ctx == NULL || (d.router = zmq_socket(ctx, ZMQ_ROUTER)) == NULL)
        goto zmq_error;
    zmq_setsockopt(d.router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(d.router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d.router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    if (zmq_bind(d.router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(d.router, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len) != 0)
        goto zmq_error;
    if (dispatch_send_endpoint(endpoint_fd, endpoint, opt.workers) != 0) {
        perror("dispatch_zmq: endpoint pipe");
        goto end;
    }
    if (dispatch_wait_ready(&d, ids, opt.workers) != 0)
        goto end;
    t0 = dispatch_now_ns();
    if (dispatch_run(&d, ids, opt.workers) != 0)
        goto end;
    t1 = dispatch_now_ns();
    dispatch_stop_workers(&d, ids, opt.workers);
    ok = 1;
    goto end;
zmq_error:
    fprintf(stderr, "dispatch_zmq: %s\n", zmq_strerror(errno));
end:
    if (endpoint_fd >= 0)
        close(endpoint_fd);
    if (d.router != NULL)
        zmq_close(d.router);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    if (forked && dispatch_reap(pids, opt.workers, !ok) != 0 && ok) {
        fprintf(stderr, "dispatch_zmq: a worker failed\n");
        ok = 0;
    }
    if (ok)
        dispatch_report(&d, opt.workers, t1 - t0);
    free(d.result);
    free(d.task);
    free(d.latency_ns);
    free(d.sent_ns);
    free(pids);
    free(ids);
    return ok ? 0 : 1;
}
