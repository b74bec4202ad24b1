/* poke -- sends hostile traffic to migrd, for the robustness tests.
 *
 * usage: poke ENDPOINT random|frames|version|big|empty|drop|liar|hoard|deaf
 *   random   one frame of random bytes
 *   frames   five frames of random bytes
 *   version  a well-formed request with protocol version 999 (expects a refusal)
 *   big      a 100 MB frame
 *   empty    an Envelope with no body
 *   drop     a worker (id poke-drop, one slot) that loses the first task it
 *            is given and holds any later one, heartbeating for 4 s, then
 *            leaves; prints the id of the lost task
 *   liar     a worker (id poke-liar, one slot) that answers every task it is
 *            given for 10 s at once, "succeeded" with the output {}; prints
 *            how many it answered
 *   hoard    a worker (id poke-hoard, one slot) that keeps every task it is
 *            given, listing it in its heartbeats, and answers none for 20 s;
 *            then sends a late "succeeded" for the first and leaves; prints
 *            the first task's id
 *   deaf     a client that sends requests as fast as migrd takes them
 *            (up to 200,000 pings), reads no reply, and stays connected for
 *            8 s; prints how many it sent
 * Exits 0 once the message is sent (and, for "version", the refusal read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/wire.h"
#include "migr.pb-c.h"

static int send_random(void *sock, size_t len, int more)
{
    unsigned char *buf = malloc(len);
    if (!buf)
        return -1;
    unsigned x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    int rc = zmq_send(sock, buf, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
    free(buf);
    return rc;
}

static int send_envelope(void *sock, Migr__Envelope *env)
{
    size_t len = migr__envelope__get_packed_size(env);
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    migr__envelope__pack(env, buf);
    int rc = zmq_send(sock, buf, len, 0) < 0 ? -1 : 0;
    free(buf);
    return rc;
}

/* Say hello as a one-slot worker called id; env is then a heartbeat (hb). */
static int hello_as(void *sock, const char *id, Migr__Envelope *env, Migr__WorkerHello *hello, Migr__Heartbeat *hb)
{
    env->version = WIRE_PROTOCOL_VERSION;
    hello->worker_id = (char *)id;
    hello->host = "poke";
    hello->concurrency = 1;
    env->body_case = MIGR__ENVELOPE__BODY_HELLO;
    env->hello = hello;
    if (send_envelope(sock, env) < 0)
        return -1;
    env->body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env->heartbeat = hb;
    return 0;
}

static int say_bye(void *sock, Migr__Envelope *env)
{
    Migr__WorkerBye bye = MIGR__WORKER_BYE__INIT;
    bye.reason = "poke is done";
    env->body_case = MIGR__ENVELOPE__BODY_BYE;
    env->bye = &bye;
    return send_envelope(sock, env);
}

/* What a holding worker lists in its heartbeats: the caller's, so that the
 * envelope pointing at it stays valid for as long as the caller uses it. */
typedef struct held_leases {
    Migr__Heartbeat hb;   /* hb.running points into leases */
    uint64_t leases[16];
} held_leases;

/* Say hello as worker id and hold the tasks given for hold_ms after the
 * first (or 30 s without one), listing them in heartbeats every 300 ms; the
 * first is listed too when keep_first is set, else it is lost.  The first's
 * task id and lease go to *first; 0 once one came, -1 if none or on error.
 * env's body is then held->hb, which the caller owns. */
static int hold_assignments(void *sock, const char *id, int keep_first, int hold_ms, Migr__Envelope *env,
                            held_leases *held, Migr__TaskResult *first)
{
    Migr__WorkerHello hello = MIGR__WORKER_HELLO__INIT;
    Migr__Heartbeat *hb = &held->hb;
    uint64_t assigned = 0;
    char buf[65536];

    *hb = (Migr__Heartbeat)MIGR__HEARTBEAT__INIT;
    if (hello_as(sock, id, env, &hello, hb) < 0)
        return -1;
    int64_t deadline = clock_mono_ms() + 30000, next_beat = 0;
    while (clock_mono_ms() < deadline) {
        int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
        Migr__Envelope *in = n > 0 && n < (int)sizeof buf
                                 ? migr__envelope__unpack(NULL, (size_t)n, (uint8_t *)buf) : NULL;
        if (in && in->body_case == MIGR__ENVELOPE__BODY_ASSIGN) {
            int is_first = !assigned++;
            if (is_first) {
                first->task_id = in->assign->task_id;
                first->lease = in->assign->lease;
                deadline = clock_mono_ms() + hold_ms;
            }
            if ((keep_first || !is_first) && hb->n_running < sizeof held->leases / sizeof *held->leases)
                held->leases[hb->n_running++] = in->assign->lease;
        }
        if (in)
            migr__envelope__free_unpacked(in, NULL);
        if (clock_mono_ms() >= next_beat) {
            hb->assigned = assigned;
            hb->running = held->leases;
            if (send_envelope(sock, env) < 0)
                return -1;
            next_beat = clock_mono_ms() + 300;
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (!assigned) {
        fprintf(stderr, "poke: %s: no task was assigned in 30 s\n", id);
        return -1;
    }
    return 0;
}

/* The "drop" mode; sock is connected with routing id poke-drop. */
static int drop_assignments(void *sock)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__TaskResult first = MIGR__TASK_RESULT__INIT;
    held_leases held;
    if (hold_assignments(sock, "poke-drop", 0, 4000, &env, &held, &first) < 0 || say_bye(sock, &env) < 0)
        return -1;
    printf("%llu\n", (unsigned long long)first.task_id);
    return 0;
}

/* The "liar" mode; sock is connected with routing id poke-liar. */
static int lie(void *sock)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT, out = MIGR__ENVELOPE__INIT;
    Migr__WorkerHello hello = MIGR__WORKER_HELLO__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;
    Migr__TaskResult res = MIGR__TASK_RESULT__INIT;
    uint64_t assigned = 0;
    char buf[65536];

    out.version = WIRE_PROTOCOL_VERSION;
    if (hello_as(sock, "poke-liar", &env, &hello, &hb) < 0)
        return -1;
    out.body_case = MIGR__ENVELOPE__BODY_RESULT;
    out.result = &res;
    res.ok = 1;
    res.output = "{}";
    int64_t deadline = clock_mono_ms() + 10000, next_beat = 0;
    while (clock_mono_ms() < deadline) {
        int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
        Migr__Envelope *in = n > 0 && n < (int)sizeof buf
                                 ? migr__envelope__unpack(NULL, (size_t)n, (uint8_t *)buf) : NULL;
        if (in && in->body_case == MIGR__ENVELOPE__BODY_ASSIGN) {
            assigned++;
            res.task_id = in->assign->task_id;
            res.lease = in->assign->lease;
            if (send_envelope(sock, &out) < 0) {
                migr__envelope__free_unpacked(in, NULL);
                return -1;
            }
        }
        if (in)
            migr__envelope__free_unpacked(in, NULL);
        if (clock_mono_ms() >= next_beat) {
            hb.assigned = assigned;
            if (send_envelope(sock, &env) < 0)
                return -1;
            next_beat = clock_mono_ms() + 300;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (say_bye(sock, &env) < 0)
        return -1;
    printf("%llu\n", (unsigned long long)assigned);
    return 0;
}

/* The "hoard" mode; sock is connected with routing id poke-hoard. */
static int hoard(void *sock)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT, out = MIGR__ENVELOPE__INIT;
    Migr__TaskResult res = MIGR__TASK_RESULT__INIT;
    held_leases held;

    if (hold_assignments(sock, "poke-hoard", 1, 20000, &env, &held, &res) < 0)
        return -1;
    out.version = WIRE_PROTOCOL_VERSION;
    out.body_case = MIGR__ENVELOPE__BODY_RESULT;
    out.result = &res;
    res.ok = 1;
    res.output = "{}";
    if (send_envelope(sock, &out) < 0 || say_bye(sock, &env) < 0)
        return -1;
    printf("%llu\n", (unsigned long long)res.task_id);
    return 0;
}

/* The "deaf" mode. */
static int deaf(void *sock)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Request req = MIGR__REQUEST__INIT;
    long sent = 0;

    env.version = WIRE_PROTOCOL_VERSION;
    req.verb = "ping";
    req.args = "{}";
    env.body_case = MIGR__ENVELOPE__BODY_REQUEST;
    env.request = &req;
    size_t len = migr__envelope__get_packed_size(&env);
    unsigned char buf[256];
    if (len > sizeof buf)
        return -1;
    migr__envelope__pack(&env, buf);
    int64_t until = clock_mono_ms() + 3000;
    while (sent < 200000 && clock_mono_ms() < until) {
        if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0) {
            nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
            continue;
        }
        sent++;
    }
    nanosleep(&(struct timespec){8, 0}, NULL);
    printf("%ld\n", sent);
    return 0;
}

int main(int argc, char **argv)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Request req = MIGR__REQUEST__INIT;
    int linger = 2000, timeout = 5000, rc = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: poke ENDPOINT random|frames|version|big|empty|drop|liar|hoard|deaf\n");
        return 2;
    }
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!strcmp(argv[2], "drop"))
        zmq_setsockopt(sock, ZMQ_ROUTING_ID, "poke-drop", 9);
    if (!strcmp(argv[2], "liar"))
        zmq_setsockopt(sock, ZMQ_ROUTING_ID, "poke-liar", 9);
    if (!strcmp(argv[2], "hoard"))
        zmq_setsockopt(sock, ZMQ_ROUTING_ID, "poke-hoard", 10);
    if (!strcmp(argv[2], "deaf")) {
        int one = 1;
        zmq_setsockopt(sock, ZMQ_RCVHWM, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_RCVBUF, &one, sizeof one);
        linger = 0;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(sock, argv[1]) < 0) {
        fprintf(stderr, "poke: cannot connect to %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    const char *mode = argv[2];
    if (!strcmp(mode, "random")) {
        rc = send_random(sock, 333, 0);
    } else if (!strcmp(mode, "frames")) {
        for (int i = 0; i < 5 && rc == 0; i++)
            rc = send_random(sock, 17 + (size_t)i, i < 4);
    } else if (!strcmp(mode, "big")) {
        rc = send_random(sock, 100u << 20, 0);
    } else if (!strcmp(mode, "drop")) {
        rc = drop_assignments(sock);
    } else if (!strcmp(mode, "liar")) {
        rc = lie(sock);
    } else if (!strcmp(mode, "hoard")) {
        rc = hoard(sock);
    } else if (!strcmp(mode, "deaf")) {
        rc = deaf(sock);
    } else if (!strcmp(mode, "empty")) {
        env.version = 1;
        rc = send_envelope(sock, &env);
    } else if (!strcmp(mode, "version")) {
        req.verb = "ping";
        req.args = "{}";
        env.version = 999;
        env.body_case = MIGR__ENVELOPE__BODY_REQUEST;
        env.request = &req;
        rc = send_envelope(sock, &env);
        char buf[4096];
        int n = rc == 0 ? zmq_recv(sock, buf, sizeof buf, 0) : -1;
        Migr__Envelope *reply = n > 0 ? migr__envelope__unpack(NULL, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf), (uint8_t *)buf) : NULL;
        if (!reply || reply->body_case != MIGR__ENVELOPE__BODY_REFUSAL) {
            fprintf(stderr, "poke: expected a refusal for version 999, got %s\n", reply ? "another message" : "nothing");
            rc = -1;
        } else {
            printf("refused: %s\n", reply->refusal->reason);
        }
        if (reply)
            migr__envelope__free_unpacked(reply, NULL);
    } else {
        fprintf(stderr, "poke: unknown mode %s\n", mode);
        rc = -1;
    }
    if (rc < 0)
        fprintf(stderr, "poke: %s failed: %s\n", mode, zmq_strerror(zmq_errno()));
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc < 0 ? 1 : 0;
}
