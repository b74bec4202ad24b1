/* wire.h -- protobuf envelopes over ZeroMQ.
 *
 * A message is [routing id,] envelope: a ROUTER sees the peer's routing id in
 * the first frame; DEALER peers send the envelope alone.  Anything else --
 * extra frames, bytes that are not an Envelope, a wrong protocol version --
 * is rejected by wire_recv with an error that says which, after the whole
 * message has been consumed from the socket.  A frame over WIRE_MAX_BYTES
 * never gets that far: both ends set ZMQ_MAXMSGSIZE to it, so libzmq drops
 * the peer that sends one before allocating it (wire_recv checks the size
 * too, for sockets set up otherwise). */
#ifndef MIGR_WIRE_H
#define MIGR_WIRE_H

#include <stddef.h>

#include "common/error.h"
#include "migr.pb-c.h"

enum {
    WIRE_PROTOCOL_VERSION = 1,
    WIRE_MAX_BYTES = 16 << 20,        /* largest frame (envelope) accepted: ZMQ_MAXMSGSIZE */
};

typedef struct wire_peer {
    unsigned char id[256];
    size_t len;
    char user[48];         /* the CURVE key migrd's ZAP handler accepted it
                            * under (its User-Id), "" without CURVE */
} wire_peer;

/* What went wrong with a message that wire_recv rejected. */
typedef enum { WIRE_OK, WIRE_MALFORMED, WIRE_VERSION, WIRE_TOO_BIG, WIRE_SOCKET, WIRE_AGAIN } wire_status;

/* Send env (version is set here).  peer is the routing id for a ROUTER
 * socket, NULL otherwise.  env stays the caller's.  To a peer the send never
 * blocks: one whose queue is full (it does not read) or who is gone fails
 * at once -- -2 for a full queue, -1 otherwise -- so that no peer can stall
 * the sender's loop. */
int wire_send(void *sock, const wire_peer *peer, Migr__Envelope *env, migr_err *err);

/* Receive one message.  For a ROUTER, pass peer to receive the routing id.
 * On WIRE_OK *env is the caller's, freed with migr__envelope__free_unpacked(env, NULL). */
wire_status wire_recv(void *sock, wire_peer *peer, Migr__Envelope **env, migr_err *err);

/* wire_recv for a message already waiting: WIRE_AGAIN, with nothing
 * received, when none is.  A loop that reads until WIRE_AGAIN costs libzmq
 * one look at its command pipe per empty socket, where asking ZMQ_EVENTS
 * before each message costs one per message. */
wire_status wire_try_recv(void *sock, wire_peer *peer, Migr__Envelope **env, migr_err *err);

/* Send a Refusal with reason to peer (best effort; logged on failure). */
void wire_refuse(void *sock, const wire_peer *peer, const char *reason);

/* Printable form of a routing id, for logs. */
const char *wire_peer_str(const wire_peer *peer, char *buf, size_t cap);

#endif
