/* zap.c -- see zap.h. */
#include "coordinator/zap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES 7   /* version, request id, domain, address, identity, mechanism, key */

int zap_endpoint_is_local(const char *ep)
{
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *host = ep + 6;
    if (!strncmp(host, "localhost:", 10) || !strncmp(host, "[::1]:", 6))
        return 1;
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    /* 127.a.b.c: digits and dots up to the port, and no interface name
     * ("127.0.0.1;eth0:" would connect out through eth0). */
    size_t n = strspn(host, "0123456789.");
    return host[n] == ':';
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const zap_key *)a)->key, ((const zap_key *)b)->key);
}

static int is_pub_name(const char *fname, char *stem, size_t cap)
{
    size_t n = strlen(fname);
    if (n <= 4 || strcmp(fname + n - 4, ".pub") != 0 || n - 4 >= cap)
        return 0;
    memcpy(stem, fname, n - 4);
    stem[n - 4] = '\0';
    return key_name_valid(stem) && strcmp(stem, KEYS_SERVER_NAME) != 0;
}

/* A file time this close to the check that saw it may hide a second change
 * within the same tick of the file system's clock (coarse, up to 2 s on
 * some file systems), which would leave every time, size and inode as they
 * were; such a check is not trusted, and the next reads the files again. */
#define ZAP_RACY_NS (2 * 1000000000LL)

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const zap_file *)a)->name, ((const zap_file *)b)->name);
}

static void scan_free(zap_scan *s)
{
    free(s->files);
    memset(s, 0, sizeof *s);
}

/* List dir's NAME.pub files into *out with their inode, size and
 * modification time, reading none of them. */
static int scan_dir(const char *dir, zap_scan *out, migr_err *err)
{
    zap_scan s = {0};
    struct timespec now;
    struct stat st;
    int cap = 0;

    clock_gettime(CLOCK_REALTIME, &now);
    int64_t recent = ns_of(&now) - ZAP_RACY_NS;
    DIR *d = opendir(dir);
    if (!d)
        return migr_errf(err, "cannot read the key directory %s: %s", dir, strerror(errno));
    if (fstat(dirfd(d), &st) < 0) {
        closedir(d);
        return migr_errf(err, "cannot stat the key directory %s: %s", dir, strerror(errno));
    }
    s.dir_ino = st.st_ino;
    s.dir_mtime_ns = ns_of(&st.st_mtim);
    s.racy = s.dir_mtime_ns > recent;
    for (struct dirent *e; (e = readdir(d));) {
        zap_file f = {.size = -1};
        if (!is_pub_name(e->d_name, f.name, sizeof f.name))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0) {  /* else reading it says why */
            f.ino = st.st_ino;
            f.size = st.st_size;
            f.mtime_ns = ns_of(&st.st_mtim);
            s.racy |= f.mtime_ns > recent;
        }
        if (s.nfiles == cap) {
            cap = cap ? 2 * cap : 16;
            zap_file *grown = realloc(s.files, (size_t)cap * sizeof *grown);
            if (!grown) {
                scan_free(&s);
                closedir(d);
                return migr_errf(err, "out of memory listing the key directory");
            }
            s.files = grown;
        }
        s.files[s.nfiles++] = f;
    }
    closedir(d);
    if (s.nfiles)
        qsort(s.files, (size_t)s.nfiles, sizeof *s.files, by_name);
    *out = s;
    return 0;
}

static int same_scan(const zap_scan *a, const zap_scan *b)
{
    if (a->dir_ino != b->dir_ino || a->dir_mtime_ns != b->dir_mtime_ns || a->nfiles != b->nfiles)
        return 0;
    for (int i = 0; i < a->nfiles; i++) {
        const zap_file *x = &a->files[i], *y = &b->files[i];
        if (strcmp(x->name, y->name) != 0 || x->ino != y->ino || x->size != y->size ||
            x->mtime_ns != y->mtime_ns)
            return 0;
    }
    return 1;
}

/* Read the keys of scan's files into a new array sorted by key (*out, *nout).
 * A file that is not a key is skipped, and why goes to *bad (a new array
 * of *nbad; NULL when none), for the caller to log or not. */
static int read_keys(zap *z, const zap_scan *scan, zap_key **out, int *nout, migr_err **bad, int *nbad,
                     migr_err *err)
{
    zap_key *keys = malloc((size_t)(scan->nfiles ? scan->nfiles : 1) * sizeof *keys);
    migr_err *why = NULL;
    int n = 0, nwhy = 0, cap = 0;
    char path[PATH_MAX + 80];

    if (!keys)
        return migr_errf(err, "out of memory reading the allowlist");
    for (int i = 0; i < scan->nfiles; i++) {
        migr_err kerr;
        snprintf(path, sizeof path, "%s/%s.pub", z->dir, scan->files[i].name);
        z->key_reads++;
        if (key_read_public(path, keys[n].key, &kerr) == 0) {
            memcpy(keys[n++].name, scan->files[i].name, sizeof keys->name);
            continue;
        }
        if (nwhy == cap) {
            cap = cap ? 2 * cap : 4;
            migr_err *grown = realloc(why, (size_t)cap * sizeof *grown);
            if (!grown) {
                free(keys);
                free(why);
                return migr_errf(err, "out of memory reading the allowlist");
            }
            why = grown;
        }
        why[nwhy++] = kerr;
    }
    if (n)
        qsort(keys, (size_t)n, sizeof *keys, by_key);
    *out = keys;
    *nout = n;
    *bad = why;
    *nbad = nwhy;
    return 0;
}

static void log_bad(const migr_err *bad, int nbad)
{
    for (int i = 0; i < nbad; i++)
        log_warn("%s; that key is not allowed", bad[i].msg);
}

static int same_list(const zap_key *a, int na, const zap_key *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].name, b[i].name) != 0)
            return 0;
    return 1;
}

/* zap_reload, reading the files even when they look unchanged if force is
 * set. */
static int reload(zap *z, int force, migr_err *err)
{
    zap_scan scan;
    zap_key *keys;
    migr_err *bad;
    int n, nbad;

    z->reloaded_ms = clock_mono_ms();
    if (scan_dir(z->dir, &scan, err) < 0)
        return -1;
    if (!force && !z->seen.racy && same_scan(&scan, &z->seen)) {
        scan_free(&scan);
        return 0;
    }
    if (read_keys(z, &scan, &keys, &n, &bad, &nbad, err) < 0) {
        scan_free(&scan);
        return -1;
    }
    scan_free(&z->seen);
    z->seen = scan;
    int changed = !same_list(keys, n, z->allow, z->nallow);
    if (changed)
        log_bad(bad, nbad);
    free(bad);
    if (!changed) {
        free(keys);
        return 0;
    }
    free(z->allow);
    z->allow = keys;
    z->nallow = n;
    z->generation++;
    log_info("allowlist changed: %d key%s in %s", n, n == 1 ? "" : "s", z->dir);
    return 1;
}

int zap_reload(zap *z, migr_err *err)
{
    return reload(z, 0, err);
}

const char *zap_allowed(const zap *z, const char *key)
{
    zap_key probe;
    if (!key || strlen(key) != KEY_Z85_LEN || !z->nallow)
        return NULL;
    memcpy(probe.key, key, KEY_Z85_LEN + 1);
    const zap_key *k = bsearch(&probe, z->allow, (size_t)z->nallow, sizeof *z->allow, by_key);
    return k ? k->name : NULL;
}

int zap_open(zap *z, void *zctx, void *router, const migr_home *home, int insecure, migr_err *err)
{
    char keypath[PATH_MAX + 16], sec[KEY_Z85_LEN + 1], pub[KEY_Z85_LEN + 1];
    int one = 1, local = zap_endpoint_is_local(home->endpoint);

    memset(z, 0, sizeof *z);
    snprintf(z->dir, sizeof z->dir, "%s", home->keys);
    snprintf(keypath, sizeof keypath, "%s/" KEYS_SERVER_NAME ".key", home->keys);
    if (access(keypath, F_OK) < 0) {
        if (!local && !insecure)
            return migr_errf(err, "refusing to listen on %s without CURVE authentication: anyone who can "
                             "reach it could take tasks, write into the store and read every run. Make "
                             "migrd's key pair with `migr keygen " KEYS_SERVER_NAME "` and one per client "
                             "or worker host with `migr keygen NAME` (its NAME.pub in %s is its "
                             "allowlist entry; the host sets MIGR_KEY=NAME), or pass --insecure on a "
                             "network you trust", home->endpoint, home->keys);
        if (!local)
            log_warn("listening on %s WITHOUT authentication (--insecure)", home->endpoint);
        return 0;
    }
    if (key_read_secret(keypath, sec, pub, err) < 0)
        return migr_err_wrap(err, "reading migrd's key pair");
    z->on = 1;
    z->handler = zmq_socket(zctx, ZMQ_REP);
    if (!z->handler || zmq_bind(z->handler, ZAP_ENDPOINT) < 0) {
        migr_errf(err, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        zap_close(z);
        return -1;
    }
    if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, sec, KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "migr", 4) < 0) {
        migr_errf(err, "cannot make %s a CURVE server: %s", home->endpoint, zmq_strerror(errno));
        zap_close(z);
        return -1;
    }
    migr_err *bad;
    int nbad;
    if (scan_dir(z->dir, &z->seen, err) < 0 ||
        read_keys(z, &z->seen, &z->allow, &z->nallow, &bad, &nbad, err) < 0) {
        zap_close(z);
        return -1;
    }
    log_bad(bad, nbad);
    free(bad);
    z->reloaded_ms = clock_mono_ms();
    log_info("CURVE on: migrd's key %s; %d key%s allowed (%s/*.pub)", pub, z->nallow,
             z->nallow == 1 ? "" : "s", z->dir);
    return 0;
}

static void reply(void *sock, zmq_msg_t *request_id, const char *code, const char *text, const char *user)
{
    if (zmq_send(sock, "1.0", 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, code, strlen(code), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(sock, "", 0, 0) < 0)
        log_error("answering a ZAP request: %s", zmq_strerror(errno));
}

void zap_handle(zap *z)
{
    zmq_msg_t f[ZAP_FRAMES + 1];
    int n = 0, more = 1;
    size_t sz = sizeof more;

    while (more && n <= ZAP_FRAMES) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], z->handler, 0) < 0) {
            zmq_msg_close(&f[n]);
            log_warn("reading a ZAP request: %s", zmq_strerror(errno));
            goto end;
        }
        n++;
        if (zmq_getsockopt(z->handler, ZMQ_RCVMORE, &more, &sz) < 0)
            more = 0;
    }
    while (more) {  /* more frames than CURVE sends: drain them */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        more = zmq_msg_recv(&extra, z->handler, 0) >= 0 &&
               zmq_getsockopt(z->handler, ZMQ_RCVMORE, &more, &sz) == 0 && more;
        zmq_msg_close(&extra);
    }
    if (n < 2) {
        log_warn("a ZAP request of %d frame%s; ignored", n, n == 1 ? "" : "s");
        if (n == 1)  /* a REP socket must answer before it can read again */
            reply(z->handler, &f[0], "500", "malformed request", "");
        goto end;
    }
    char addr[64] = "", mech[16] = "", key[KEY_Z85_LEN + 1] = "";
    if (n == ZAP_FRAMES) {
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]));
        snprintf(mech, sizeof mech, "%.*s", (int)zmq_msg_size(&f[5]), (const char *)zmq_msg_data(&f[5]));
        if (zmq_msg_size(&f[6]) == 32)
            zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
    }
    int curve = strcmp(mech, "CURVE") == 0;
    const char *name = curve ? zap_allowed(z, key) : NULL;
    if (curve && !name && clock_mono_ms() - z->reloaded_ms >= 200) {
        migr_err err;
        if (reload(z, 1, &err) < 0)
            log_error("%s", err.msg);
        name = zap_allowed(z, key);
    }
    if (name) {
        log_debug("CURVE key %s (%s) from %s accepted", key, name, addr);
        reply(z->handler, &f[1], "200", "OK", key);
    } else {
        log_warn("refused a connection from %s: %s key %s is not in the allowlist (%s/*.pub)",
                 addr[0] ? addr : "an unknown address", mech[0] ? mech : "no", key[0] ? key : "(none)",
                 z->dir);
        reply(z->handler, &f[1], "400", "key not allowed", "");
    }
end:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

void zap_close(zap *z)
{
    if (z->handler)
        zmq_close(z->handler);
    z->handler = NULL;
    free(z->allow);
    z->allow = NULL;
    z->nallow = 0;
    scan_free(&z->seen);
    z->on = 0;
}
