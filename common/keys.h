/* keys.h -- CURVE key pairs on disk, and the client side of CURVE.
 *
 * `migr keygen NAME` writes $MIGR_HOME/keys/NAME.pub (the Z85 public key,
 * 40 characters and a newline, mode 0644) and NAME.key (the Z85 secret key,
 * mode 0600; the public key is derived from it).
 *
 * migrd uses CURVE when keys/migrd.key exists, and then accepts the peers
 * whose public keys are in keys/ as NAME.pub (its own aside): copying a .pub
 * there allows a peer, removing it cuts the peer off (coordinator/zap.h).
 *
 * A client -- the CLI or a worker -- uses CURVE when it knows migrd's public
 * key: the file MIGR_SERVER_KEY, or else $MIGR_HOME/keys/migrd.pub.  Its own
 * pair is MIGR_KEY: a NAME under $MIGR_HOME/keys/ or a path to a .key file. */
#ifndef MIGR_KEYS_H
#define MIGR_KEYS_H

#include <stddef.h>

#include "common/error.h"
#include "common/home.h"

#define KEY_Z85_LEN 40   /* a 32-byte key in Z85 */
#define KEYS_SERVER_NAME "migrd"

/* A key name is 1-64 of [A-Za-z0-9._-], not starting with '.'. */
int key_name_valid(const char *name);

/* Write dir/NAME.pub and dir/NAME.key for a fresh key pair, creating dir
 * (mode 0700) if needed; never overwrites an existing pair.  pub receives
 * the public key. */
int key_generate(const char *dir, const char *name, char pub[KEY_Z85_LEN + 1], migr_err *err);

/* Read a public key file (Z85, optional trailing newline). */
int key_read_public(const char *path, char pub[KEY_Z85_LEN + 1], migr_err *err);

/* Read a secret key file and derive its public key.  A file that others
 * than its owner may read is refused, as ssh refuses one. */
int key_read_secret(const char *path, char sec[KEY_Z85_LEN + 1], char pub[KEY_Z85_LEN + 1],
                    migr_err *err);

/* Make sock a CURVE client of migrd when migrd's public key is known (see
 * above): returns 1 when it did, 0 when CURVE is not in use, -1 with err when
 * it is but the client's own key pair is missing or unreadable. */
int keys_client_setup(void *sock, const migr_home *home, migr_err *err);

/* Watch a CURVE client socket for migrd refusing its key: a PAIR socket in
 * ctx (the caller closes it) that becomes readable on a failed handshake, or
 * NULL with err.  name makes the monitor's inproc endpoint unique in ctx. */
void *keys_watch(void *ctx, void *sock, const char *name, migr_err *err);

/* Read one event from a keys_watch socket: 1 when it was a refusal of the
 * key, 0 for anything else. */
int keys_refused(void *watch);

#endif
