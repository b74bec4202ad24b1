/* zap.h -- who may talk to migrd: CURVE through ZeroMQ's ZAP protocol.
 *
 * When $MIGR_HOME/keys/migrd.key exists, migrd's socket is a CURVE server and
 * every handshake asks this handler (RFC 27, on inproc://zeromq.zap.01 in
 * migrd's context, served from migrd's own loop) whether the peer's public
 * key is one of keys/NAME.pub; a refusal is logged with the key.  The
 * handler names each accepted connection by its key (the messages' User-Id),
 * so that migrd can drop a peer whose key leaves the allowlist: the list is
 * checked on every heartbeat tick.  A check lists keys/ and stats its .pub
 * files; it reads them only when the directory or one of them changed
 * (inode, size, modification time to the nanosecond) or when a time it saw
 * was too recent to rule out a second change within the same clock tick.
 *
 * Our own handler rather than CZMQ's zauth: it is a page of code on the
 * socket migrd already polls, it logs through migrd's log, reloads the
 * allowlist on migrd's tick and hands migrd the key name of each message --
 * zauth would add a library, an actor thread and its own configuration. */
#ifndef MIGR_ZAP_H
#define MIGR_ZAP_H

#include <stdint.h>

#include "common/error.h"
#include "common/home.h"
#include "common/keys.h"

typedef struct zap_key {
    char key[KEY_Z85_LEN + 1];
    char name[72];
} zap_key;

/* A .pub file as a check last saw it, without reading it. */
typedef struct zap_file {
    char name[72];         /* NAME of NAME.pub */
    uint64_t ino;
    int64_t size;          /* -1 when it could not be stat'ed */
    int64_t mtime_ns;
} zap_file;

/* The key directory as a check last saw it. */
typedef struct zap_scan {
    uint64_t dir_ino;
    int64_t dir_mtime_ns;
    zap_file *files;       /* owned, sorted by name */
    int nfiles;
    int racy;              /* a time in it was too recent to trust: read again */
} zap_scan;

typedef struct zap {
    int on;                /* CURVE in use */
    void *handler;         /* the ZAP REP socket, when on */
    char dir[PATH_MAX];
    zap_key *allow;        /* owned, sorted by key */
    int nallow;
    unsigned generation;   /* counts the changes of the list */
    int64_t reloaded_ms;   /* monotonic time of the last check */
    zap_scan seen;         /* the directory when the list was last read */
    unsigned long key_reads;  /* key files read since zap_open: how a test sees a check read none */
} zap;

/* Whether a ZeroMQ endpoint is reachable from this machine only (ipc://,
 * inproc://, tcp:// on a loopback address). */
int zap_endpoint_is_local(const char *endpoint);

/* Set up router (not yet bound) for home's endpoint: CURVE with the allowlist
 * when migrd's key exists; otherwise plain, which a non-local endpoint is
 * refused unless insecure is set. */
int zap_open(zap *z, void *zctx, void *router, const migr_home *home, int insecure, migr_err *err);

/* Answer one pending ZAP request on z->handler.  An unknown key makes it
 * re-read the allowlist first, changed or not (at most every 200 ms), so a
 * peer whose .pub was just copied in is admitted at once. */
void zap_handle(zap *z);

/* Check the allowlist (see above), reading it again if its files changed.
 * Returns 1 if it changed (and bumps generation), 0 if not, -1 with err
 * (the old list stays).  Files that are not keys are logged when the list
 * changed. */
int zap_reload(zap *z, migr_err *err);

/* The name of an allowed key, or NULL when key is not (or no longer) listed. */
const char *zap_allowed(const zap *z, const char *key);

void zap_close(zap *z);

#endif
