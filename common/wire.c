/* wire.c -- see wire.h. */
#include "common/wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/log.h"

int wire_send(void *sock, const wire_peer *peer, Migr__Envelope *env, migr_err *err)
{
    uint8_t stack[4096], *buf = stack;
    size_t len;
    int rc = 0;

    env->version = WIRE_PROTOCOL_VERSION;
    len = migr__envelope__get_packed_size(env);
    if (len > sizeof stack && !(buf = malloc(len)))
        return migr_errf(err, "out of memory packing a %zu-byte message", len);
    migr__envelope__pack(env, buf);
    /* A ROUTER queues a message's frames atomically: if the routing frame is
     * taken, the body is too (it fails only when the peer is gone). */
    int dontwait = peer ? ZMQ_DONTWAIT : 0;
    if (peer && zmq_send(sock, peer->id, peer->len, ZMQ_SNDMORE | dontwait) < 0)
        rc = errno == EAGAIN ? -2 : -1;
    else if (zmq_send(sock, buf, len, dontwait) < 0)
        rc = errno == EAGAIN ? -2 : -1;
    if (rc == -2)
        migr_errf(err, "the peer's queue is full (it is not reading); message dropped");
    else if (rc < 0)
        migr_errf(err, "sending a message: %s", zmq_strerror(errno));
    if (buf != stack)
        free(buf);
    return rc;
}

/* Drain the remaining frames of a message we are rejecting. */
static void drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    zmq_msg_t part;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, 0) < 0) {
            zmq_msg_close(&part);
            return;
        }
        zmq_msg_close(&part);
    }
}

static int has_more(void *sock)
{
    int more = 0;
    size_t sz = sizeof more;
    return zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more;
}

/* Receive one message; flags apply to its first frame (the rest of a
 * message arrive with it).  Nothing is written to peer on WIRE_AGAIN. */
static wire_status recv_message(void *sock, wire_peer *peer, Migr__Envelope **env, migr_err *err, int flags)
{
    zmq_msg_t msg;
    wire_status st = WIRE_OK;

    *env = NULL;
    if (peer) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, flags) < 0) {
            zmq_msg_close(&msg);
            if (errno == EAGAIN && (flags & ZMQ_DONTWAIT))
                return WIRE_AGAIN;
            peer->len = 0;
            peer->user[0] = '\0';
            migr_errf(err, "receiving: %s", zmq_strerror(errno));
            return WIRE_SOCKET;
        }
        peer->user[0] = '\0';
        size_t n = zmq_msg_size(&msg);
        peer->len = n < sizeof peer->id ? n : sizeof peer->id;
        memcpy(peer->id, zmq_msg_data(&msg), peer->len);
        zmq_msg_close(&msg);
        if (!has_more(sock)) {
            migr_errf(err, "a message with only a routing id and no envelope");
            return WIRE_MALFORMED;
        }
        flags = 0;
    }
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, flags) < 0) {
        zmq_msg_close(&msg);
        if (errno == EAGAIN && (flags & ZMQ_DONTWAIT))
            return WIRE_AGAIN;
        migr_errf(err, "receiving: %s", zmq_strerror(errno));
        return WIRE_SOCKET;
    }
    size_t size = zmq_msg_size(&msg);
    if (peer) {  /* ROUTER's routing-id frame carries no metadata; the peer's frames do */
        const char *user = zmq_msg_gets(&msg, "User-Id");
        snprintf(peer->user, sizeof peer->user, "%s", user ? user : "");
    }
    if (has_more(sock)) {
        drain(sock);
        migr_errf(err, "a message with more frames than [routing id,] envelope");
        st = WIRE_MALFORMED;
    } else if (size > WIRE_MAX_BYTES) {
        migr_errf(err, "a %zu-byte message, over the %d-byte limit", size, WIRE_MAX_BYTES);
        st = WIRE_TOO_BIG;
    } else {
        *env = migr__envelope__unpack(NULL, size, zmq_msg_data(&msg));
        if (!*env) {
            migr_errf(err, "%zu bytes that are not a migr Envelope", size);
            st = WIRE_MALFORMED;
        } else if ((*env)->version != WIRE_PROTOCOL_VERSION) {
            migr_errf(err, "protocol version %u, but this side speaks version %d; run the same migr release on both ends",
                      (*env)->version, WIRE_PROTOCOL_VERSION);
            migr__envelope__free_unpacked(*env, NULL);
            *env = NULL;
            st = WIRE_VERSION;
        } else if ((*env)->body_case == MIGR__ENVELOPE__BODY__NOT_SET) {
            migr__envelope__free_unpacked(*env, NULL);
            *env = NULL;
            migr_errf(err, "an Envelope with no body");
            st = WIRE_MALFORMED;
        }
    }
    zmq_msg_close(&msg);
    return st;
}

wire_status wire_recv(void *sock, wire_peer *peer, Migr__Envelope **env, migr_err *err)
{
    return recv_message(sock, peer, env, err, 0);
}

wire_status wire_try_recv(void *sock, wire_peer *peer, Migr__Envelope **env, migr_err *err)
{
    return recv_message(sock, peer, env, err, ZMQ_DONTWAIT);
}

void wire_refuse(void *sock, const wire_peer *peer, const char *reason)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Refusal refusal = MIGR__REFUSAL__INIT;
    migr_err err;

    refusal.reason = (char *)reason;
    env.body_case = MIGR__ENVELOPE__BODY_REFUSAL;
    env.refusal = &refusal;
    if (wire_send(sock, peer, &env, &err) < 0)
        log_warn("could not send a refusal: %s", err.msg);
}

const char *wire_peer_str(const wire_peer *peer, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < peer->len && o + 5 < cap; i++) {
        unsigned char c = peer->id[i];
        if (isprint(c) && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}
