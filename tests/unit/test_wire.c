/* test_wire.c -- protobuf envelopes over real ZeroMQ sockets: a ROUTER and a
 * DEALER in one process over inproc://.  Every receive is preceded by a
 * zmq_poll with a timeout, so a broken test fails instead of hanging. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <zmq.h>

#include "common/wire.h"

enum { RECV_TIMEOUT_MS = 2000 };

#define DEALER_ID "worker-7"

/* ---- helpers ---- */

/* A ROUTER bound and a DEALER (routing id DEALER_ID) connected to it. */
typedef struct wire_pair {
    void *ctx;
    void *router;
    void *dealer;
    Migr__Envelope *got;   /* the last envelope received; freed by the next receive or pair_close */
} wire_pair;

static void pair_close(wire_pair *p)
{
    if (p->got)
        migr__envelope__free_unpacked(p->got, NULL);
    p->got = NULL;
    if (p->dealer)
        zmq_close(p->dealer);
    if (p->router)
        zmq_close(p->router);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    memset(p, 0, sizeof *p);
}

/* Returns 0, or -1 with a reason in why. */
static int pair_open(wire_pair *p, char *why, size_t cap)
{
    const char *endpoint = "inproc://wire-test";
    int linger = 0;

    memset(p, 0, sizeof *p);
    if (!(p->ctx = zmq_ctx_new()) ||
        !(p->router = zmq_socket(p->ctx, ZMQ_ROUTER)) ||
        !(p->dealer = zmq_socket(p->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(p->router, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(p->dealer, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, DEALER_ID, strlen(DEALER_ID)) < 0 ||
        zmq_bind(p->router, endpoint) < 0 ||
        zmq_connect(p->dealer, endpoint) < 0) {
        snprintf(why, cap, "setting up a ROUTER/DEALER pair: %s", zmq_strerror(zmq_errno()));
        pair_close(p);
        return -1;
    }
    return 0;
}

/* Wait for a message on sock, then wire_recv it into p->got. */
static wire_status pair_recv(wire_pair *p, void *sock, wire_peer *peer, migr_err *err)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};

    if (p->got)
        migr__envelope__free_unpacked(p->got, NULL);
    p->got = NULL;
    int n = zmq_poll(&item, 1, RECV_TIMEOUT_MS);
    if (n < 0) {
        migr_errf(err, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        return WIRE_SOCKET;
    }
    if (n == 0) {
        migr_errf(err, "nothing arrived within %d ms", RECV_TIMEOUT_MS);
        return WIRE_SOCKET;
    }
    return wire_recv(sock, peer, &p->got, err);
}

/* Send a packed Envelope with the given version and a Heartbeat body, as raw
 * bytes (bypassing wire_send, which always sets the current version). */
static int send_raw_envelope(void *sock, uint32_t version, uint64_t assigned, int flags)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;
    uint8_t buf[64];

    hb.assigned = assigned;
    env.version = version;
    env.body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    size_t len = migr__envelope__get_packed_size(&env);
    if (len > sizeof buf)
        return -1;
    migr__envelope__pack(&env, buf);
    return zmq_send(sock, buf, len, flags) == (int)len ? 0 : -1;
}

static int send_heartbeat(void *sock, const wire_peer *peer, uint64_t assigned, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Heartbeat hb = MIGR__HEARTBEAT__INIT;

    hb.assigned = assigned;
    env.body_case = MIGR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return wire_send(sock, peer, &env, err);
}

static const char *status_name(wire_status st)
{
    switch (st) {
    case WIRE_OK: return "WIRE_OK";
    case WIRE_MALFORMED: return "WIRE_MALFORMED";
    case WIRE_VERSION: return "WIRE_VERSION";
    case WIRE_TOO_BIG: return "WIRE_TOO_BIG";
    case WIRE_SOCKET: return "WIRE_SOCKET";
    case WIRE_AGAIN: return "WIRE_AGAIN";
    }
    return "(unknown)";
}

#define CHECK_STATUS(expected, got, err)                                           \
    CHECK_MSG((got) == (expected), "expected %s, got %s (\"%s\")", status_name(expected), \
              status_name(got), (err).msg)

/* The receiving side must still work after a rejected message: the next good
 * message from the DEALER arrives whole at the ROUTER. */
static void check_next_good_message_arrives(check_case *check_self_, wire_pair *p)
{
    wire_peer peer;
    migr_err err = {{0}};

    CHECK_MSG(send_heartbeat(p->dealer, NULL, 9, &err) == 0, "wire_send: %s", err.msg);
    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_INT(MIGR__ENVELOPE__BODY_HEARTBEAT, p->got->body_case);
    CHECK_INT(9, p->got->heartbeat->assigned);
    CHECK_INT(strlen(DEALER_ID), peer.len);
    CHECK(memcmp(peer.id, DEALER_ID, peer.len) == 0);
}

/* Run body on a fresh pair, closing it whatever body's outcome. */
#define WITH_PAIR(body)                                                   \
    do {                                                                  \
        wire_pair p_;                                                     \
        char why_[256];                                                   \
        CHECK_MSG(pair_open(&p_, why_, sizeof why_) == 0, "%s", why_);    \
        body(check_self_, &p_);                                           \
        pair_close(&p_);                                                  \
    } while (0)

/* ---- round trip ---- */

static void round_trip(check_case *check_self_, wire_pair *p)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Request req = MIGR__REQUEST__INIT;
    Migr__Reply reply = MIGR__REPLY__INIT;
    wire_peer peer;
    migr_err err = {{0}};
    char shown[64];

    req.verb = "run.list";
    req.args = "{\"limit\":3}";
    env.body_case = MIGR__ENVELOPE__BODY_REQUEST;
    env.request = &req;
    CHECK_MSG(wire_send(p->dealer, NULL, &env, &err) == 0, "wire_send from the DEALER: %s", err.msg);

    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_STR(DEALER_ID, wire_peer_str(&peer, shown, sizeof shown));
    CHECK_INT(WIRE_PROTOCOL_VERSION, p->got->version);
    CHECK_INT(MIGR__ENVELOPE__BODY_REQUEST, p->got->body_case);
    CHECK_STR("run.list", p->got->request->verb);
    CHECK_STR("{\"limit\":3}", p->got->request->args);

    reply.status = 2;
    reply.error = "usage: migr run list";
    reply.body = "{}";
    memset(&env, 0, sizeof env);
    migr__envelope__init(&env);
    env.body_case = MIGR__ENVELOPE__BODY_REPLY;
    env.reply = &reply;
    CHECK_MSG(wire_send(p->router, &peer, &env, &err) == 0, "wire_send to the peer: %s", err.msg);

    st = pair_recv(p, p->dealer, NULL, &err);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_INT(MIGR__ENVELOPE__BODY_REPLY, p->got->body_case);
    CHECK_INT(2, p->got->reply->status);
    CHECK_STR("usage: migr run list", p->got->reply->error);
    CHECK_STR("{}", p->got->reply->body);
}

TEST(wire_envelope_from_dealer_arrives_at_router_with_peer_id_and_reply_routes_back)
{
    WITH_PAIR(round_trip);
}

/* wire_try_recv takes what is waiting, on both sides, and says WIRE_AGAIN
 * when nothing is, without touching the peer or the next message. */
static void try_recv(check_case *check_self_, wire_pair *p)
{
    wire_peer peer;
    Migr__Envelope *env = NULL;
    migr_err err = {{0}};

    CHECK_STATUS(WIRE_AGAIN, wire_try_recv(p->router, &peer, &env, &err), err);
    CHECK(env == NULL);
    CHECK_STATUS(WIRE_AGAIN, wire_try_recv(p->dealer, NULL, &env, &err), err);
    for (uint64_t i = 1; i <= 2; i++)
        CHECK_MSG(send_heartbeat(p->dealer, NULL, i, &err) == 0, "wire_send: %s", err.msg);
    /* Both are waiting once the first is: a DEALER's messages arrive in order. */
    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_INT(1, p->got->heartbeat->assigned);
    int tries = 0;
    while ((st = wire_try_recv(p->router, &peer, &env, &err)) == WIRE_AGAIN && tries++ < RECV_TIMEOUT_MS)
        zmq_poll(NULL, 0, 1);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_INT(2, env->heartbeat->assigned);
    CHECK_INT(strlen(DEALER_ID), peer.len);
    CHECK(memcmp(peer.id, DEALER_ID, peer.len) == 0);
    migr__envelope__free_unpacked(env, NULL);
    env = NULL;
    CHECK_STATUS(WIRE_AGAIN, wire_try_recv(p->router, &peer, &env, &err), err);
    CHECK(env == NULL);

    CHECK_MSG(send_heartbeat(p->router, &peer, 7, &err) == 0, "wire_send to the DEALER: %s", err.msg);
    st = pair_recv(p, p->dealer, NULL, &err);
    CHECK_STATUS(WIRE_OK, st, err);
    CHECK_INT(7, p->got->heartbeat->assigned);
    CHECK_STATUS(WIRE_AGAIN, wire_try_recv(p->dealer, NULL, &env, &err), err);
}

TEST(wire_try_recv_takes_what_is_waiting_and_says_again_when_nothing_is)
{
    WITH_PAIR(try_recv);
}

/* ---- rejected messages ---- */

static void random_bytes(check_case *check_self_, wire_pair *p)
{
    uint8_t junk[64];
    uint32_t x = 0x2545f491u;   /* xorshift32, fixed seed: the same bytes every run */
    wire_peer peer;
    migr_err err = {{0}};

    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        junk[i] = (uint8_t)x;
    }
    CHECK(zmq_send(p->dealer, junk, sizeof junk, 0) == (int)sizeof junk);
    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_MALFORMED, st, err);
    CHECK(p->got == NULL);
    CHECK_MSG(strstr(err.msg, "64 bytes that are not a migr Envelope") != NULL,
              "expected the error to say 64 bytes are not an Envelope, got \"%s\"", err.msg);
    check_next_good_message_arrives(check_self_, p);
}

TEST(wire_random_bytes_are_malformed_with_a_message)
{
    WITH_PAIR(random_bytes);
}

static void extra_frames(check_case *check_self_, wire_pair *p)
{
    wire_peer peer;
    migr_err err = {{0}};

    CHECK(send_raw_envelope(p->dealer, WIRE_PROTOCOL_VERSION, 1, ZMQ_SNDMORE) == 0);
    CHECK(zmq_send(p->dealer, "extra-1", 7, ZMQ_SNDMORE) == 7);
    CHECK(zmq_send(p->dealer, "extra-2", 7, ZMQ_SNDMORE) == 7);
    CHECK(zmq_send(p->dealer, "extra-3", 7, 0) == 7);

    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_MALFORMED, st, err);
    CHECK(p->got == NULL);
    CHECK_MSG(strstr(err.msg, "more frames") != NULL,
              "expected the error to mention extra frames, got \"%s\"", err.msg);
    /* Had any of the extra frames been left on the socket, the next receive
     * would see "extra-N" where the routing id belongs. */
    check_next_good_message_arrives(check_self_, p);
}

TEST(wire_extra_frames_are_malformed_and_fully_drained)
{
    WITH_PAIR(extra_frames);
}

static void wrong_version(check_case *check_self_, wire_pair *p)
{
    wire_peer peer;
    migr_err err = {{0}};

    CHECK(send_raw_envelope(p->dealer, 7, 1, 0) == 0);
    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_VERSION, st, err);
    CHECK(p->got == NULL);
    CHECK_MSG(strstr(err.msg, "version 7") != NULL,
              "expected the error to name the peer's version 7, got \"%s\"", err.msg);
    CHECK_MSG(strstr(err.msg, "version 1") != NULL,
              "expected the error to name our version 1, got \"%s\"", err.msg);
    check_next_good_message_arrives(check_self_, p);
}

TEST(wire_wrong_version_is_refused_naming_both_versions)
{
    WITH_PAIR(wrong_version);
}

static void too_big(check_case *check_self_, wire_pair *p)
{
    wire_peer peer;
    migr_err err = {{0}};
    size_t len = (size_t)WIRE_MAX_BYTES + 1;
    char expected[64];

    uint8_t *big = calloc(1, len);
    CHECK(big != NULL);
    int sent = zmq_send(p->dealer, big, len, 0);
    free(big);
    CHECK_INT(len, sent);

    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_TOO_BIG, st, err);
    CHECK(p->got == NULL);
    snprintf(expected, sizeof expected, "a %zu-byte message", len);
    CHECK_MSG(strstr(err.msg, expected) != NULL, "expected the error to say \"%s\", got \"%s\"",
              expected, err.msg);
    check_next_good_message_arrives(check_self_, p);
}

TEST(wire_message_over_the_limit_is_too_big)
{
    WITH_PAIR(too_big);
}

static void no_body(check_case *check_self_, wire_pair *p)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    wire_peer peer;
    migr_err err = {{0}};

    CHECK_MSG(wire_send(p->dealer, NULL, &env, &err) == 0, "wire_send: %s", err.msg);
    wire_status st = pair_recv(p, p->router, &peer, &err);
    CHECK_STATUS(WIRE_MALFORMED, st, err);
    CHECK(p->got == NULL);
    CHECK_MSG(strstr(err.msg, "no body") != NULL,
              "expected the error to say the Envelope has no body, got \"%s\"", err.msg);
    check_next_good_message_arrives(check_self_, p);
}

TEST(wire_envelope_without_body_is_malformed)
{
    WITH_PAIR(no_body);
}

/* ---- wire_peer_str ---- */

TEST(wire_peer_str_escapes_non_printable_bytes)
{
    wire_peer peer = {.id = {'w', 0x00, 0xff, '\\', 'a', '\n'}, .len = 6};
    char buf[64];

    CHECK_STR("w\\x00\\xff\\x5ca\\x0a", wire_peer_str(&peer, buf, sizeof buf));
}

TEST(wire_peer_str_truncates_at_a_whole_escape)
{
    wire_peer peer = {.id = {0x01, 0x02, 0x03}, .len = 3};
    char buf[8];

    /* Room for one 4-character escape and the NUL, not for half of a second. */
    CHECK_STR("\\x01", wire_peer_str(&peer, buf, sizeof buf));
}
