/* home.c -- see home.h. */
#include "common/home.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int set(char *dst, size_t cap, migr_err *err, const char *fmt, const char *a, const char *b)
{
    if (snprintf(dst, cap, fmt, a, b) >= (int)cap)
        return migr_errf(err, "path too long under %s; use a shorter MIGR_HOME", a);
    return 0;
}

int migr_home_resolve(migr_home *h, int create, migr_err *err)
{
    const char *home = env_or("MIGR_HOME", "./.migr");
    char cwd[PATH_MAX];

    if (home[0] == '/') {
        snprintf(h->home, sizeof h->home, "%s", home);
    } else {
        while (home[0] == '.' && home[1] == '/')
            home += 2;
        if (!getcwd(cwd, sizeof cwd))
            return migr_errf(err, "cannot read the current directory: %s", strerror(errno));
        if (set(h->home, sizeof h->home, err, "%s/%s", cwd, home) < 0)
            return -1;
    }
    if (set(h->db, sizeof h->db, err, "%s%s", h->home, "/migr.db") < 0 ||
        set(h->logs, sizeof h->logs, err, "%s%s", h->home, "/logs") < 0 ||
        set(h->run, sizeof h->run, err, "%s%s", h->home, "/run") < 0 ||
        set(h->keys, sizeof h->keys, err, "%s%s", h->home, "/keys") < 0)
        return -1;
    if (getenv("MIGR_STORE") && *getenv("MIGR_STORE"))
        snprintf(h->store, sizeof h->store, "%s", getenv("MIGR_STORE"));
    else if (set(h->store, sizeof h->store, err, "%s%s", h->home, "/store") < 0)
        return -1;
    if (getenv("MIGR_ENDPOINT") && *getenv("MIGR_ENDPOINT"))
        snprintf(h->endpoint, sizeof h->endpoint, "%s", getenv("MIGR_ENDPOINT"));
    else if (set(h->endpoint, sizeof h->endpoint, err, "ipc://%s%s", h->home, "/migrd.sock") < 0)
        return -1;
    snprintf(h->http, sizeof h->http, "%s", env_or("MIGR_HTTP", "127.0.0.1:7870"));
    if (create && (fs_mkdirs(h->home, err) < 0 || fs_mkdirs(h->logs, err) < 0 ||
                   fs_mkdirs(h->run, err) < 0))
        return migr_err_wrap(err, "preparing MIGR_HOME");
    return 0;
}
