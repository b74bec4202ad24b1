/* home.h -- where a migr installation keeps things, from the environment.
 *
 *   MIGR_HOME      default ./.migr: database, store, logs, pids
 *   MIGR_STORE     default $MIGR_HOME/store (a shared mount across machines)
 *   MIGR_ENDPOINT  default ipc://$MIGR_HOME/migrd.sock (tcp://HOST:PORT across machines)
 *   MIGR_HTTP      default 127.0.0.1:7870; "off" disables the HTTP API
 */
#ifndef MIGR_HOME_H
#define MIGR_HOME_H

#include <limits.h>

#include "common/error.h"

typedef struct migr_home {
    char home[PATH_MAX];     /* absolute */
    char db[PATH_MAX];
    char store[PATH_MAX];
    char logs[PATH_MAX];
    char run[PATH_MAX];      /* pid files, the HTTP address */
    char keys[PATH_MAX];     /* CURVE key pairs and migrd's allowlist (common/keys.h) */
    char endpoint[PATH_MAX];
    char http[128];
} migr_home;

/* Resolve the paths; creates MIGR_HOME, logs/ and run/ when create is set. */
int migr_home_resolve(migr_home *h, int create, migr_err *err);

#endif
