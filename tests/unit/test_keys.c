/* test_keys.c -- CURVE key files (common/keys.c) and migrd's ZAP handler
 * (coordinator/zap.c) over real ZeroMQ sockets: an allowed key gets through
 * under its User-Id, an unlisted one is refused at the handshake, a key
 * removed from the allowlist stops being allowed on reload, and a reload
 * reads the key files only when they changed. */
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/keys.h"
#include "common/wire.h"
#include "coordinator/zap.h"

TEST(keygen_writes_a_private_secret_and_a_public_key_that_derive_from_each_other)
{
    char pub[KEY_Z85_LEN + 1], pub2[KEY_Z85_LEN + 1], sec[KEY_Z85_LEN + 1], path[512];
    struct stat st;
    migr_err err;
    snprintf(path, sizeof path, "%s/keys", check_tmpdir());
    CHECK_MSG(key_generate(path, "lab-1", pub, &err) == 0, "%s", err.msg);
    CHECK_INT(KEY_Z85_LEN, strlen(pub));

    snprintf(path, sizeof path, "%s/keys/lab-1.key", check_tmpdir());
    CHECK(stat(path, &st) == 0);
    CHECK_INT(0600, st.st_mode & 0777);
    CHECK_MSG(key_read_secret(path, sec, pub2, &err) == 0, "%s", err.msg);
    CHECK_STR(pub, pub2);

    snprintf(path, sizeof path, "%s/keys/lab-1.pub", check_tmpdir());
    CHECK(stat(path, &st) == 0);
    CHECK_INT(0644, st.st_mode & 0777);
    CHECK_MSG(key_read_public(path, pub2, &err) == 0, "%s", err.msg);
    CHECK_STR(pub, pub2);
}

TEST(keygen_never_overwrites_a_pair_and_refuses_bad_names)
{
    char pub[KEY_Z85_LEN + 1], again[KEY_Z85_LEN + 1], path[512];
    migr_err err;
    snprintf(path, sizeof path, "%s/keys", check_tmpdir());
    CHECK(key_generate(path, "w", pub, &err) == 0);
    CHECK(key_generate(path, "w", again, &err) < 0);
    CHECK(strstr(err.msg, "already exists") != NULL);
    const char *bad[] = {"", ".hidden", "../up", "a/b", "sp ace", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(!key_name_valid(bad[i]), "\"%s\" accepted as a key name", bad[i]);
        CHECK(key_generate(path, bad[i], again, &err) < 0);
    }
    CHECK(key_name_valid("migrd") && key_name_valid("node-07.lab_a"));
}

TEST(a_secret_key_others_may_read_is_refused)
{
    char pub[KEY_Z85_LEN + 1], sec[KEY_Z85_LEN + 1], path[512];
    migr_err err;
    snprintf(path, sizeof path, "%s/keys", check_tmpdir());
    CHECK(key_generate(path, "w", pub, &err) == 0);
    snprintf(path, sizeof path, "%s/keys/w.key", check_tmpdir());
    CHECK(chmod(path, 0644) == 0);
    CHECK(key_read_secret(path, sec, pub, &err) < 0);
    CHECK_MSG(strstr(err.msg, "chmod 600") != NULL, "%s", err.msg);
}

TEST(a_file_that_is_not_a_z85_key_is_refused)
{
    char pub[KEY_Z85_LEN + 1], path[512];
    migr_err err;
    const char *bodies[] = {"", "short\n", "0123456789012345678901234567890123456789012\n",
                            "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        snprintf(path, sizeof path, "%s/k%zu.pub", check_tmpdir(), i);
        FILE *f = fopen(path, "w");
        CHECK(f && fputs(bodies[i], f) >= 0 && fclose(f) == 0);
        CHECK_MSG(key_read_public(path, pub, &err) < 0, "body %zu accepted", i);
        CHECK(strstr(err.msg, "migr keygen") != NULL);
    }
}

TEST(only_ipc_inproc_and_loopback_tcp_count_as_local)
{
    CHECK(zap_endpoint_is_local("ipc:///tmp/x.sock"));
    CHECK(zap_endpoint_is_local("inproc://x"));
    CHECK(zap_endpoint_is_local("tcp://127.0.0.1:5555"));
    CHECK(zap_endpoint_is_local("tcp://127.1.2.3:1"));
    CHECK(zap_endpoint_is_local("tcp://localhost:5555"));
    CHECK(zap_endpoint_is_local("tcp://[::1]:5555"));
    CHECK(!zap_endpoint_is_local("tcp://0.0.0.0:5555"));
    CHECK(!zap_endpoint_is_local("tcp://*:5555"));
    CHECK(!zap_endpoint_is_local("tcp://10.1.2.3:5555"));
    CHECK(!zap_endpoint_is_local("tcp://127.0.0.1;10.0.0.1:5555"));
    CHECK(!zap_endpoint_is_local("tcp://localhost.example.org:5555"));
    CHECK(!zap_endpoint_is_local("udp://127.0.0.1:5555"));
}

/* ---- the handler over real sockets ---- */

static void home_in_tmpdir(migr_home *h, const char *endpoint)
{
    memset(h, 0, sizeof *h);
    snprintf(h->home, sizeof h->home, "%s", check_tmpdir());
    snprintf(h->keys, sizeof h->keys, "%s/keys", check_tmpdir());
    snprintf(h->endpoint, sizeof h->endpoint, "%s", endpoint);
}

TEST(a_non_local_endpoint_without_migrds_key_needs_insecure)
{
    migr_home h;
    migr_err err;
    zap z;
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    home_in_tmpdir(&h, "tcp://0.0.0.0:5555");
    int refused = zap_open(&z, ctx, router, &h, 0, &err) < 0;
    int has_hint = refused && strstr(err.msg, "CURVE") && strstr(err.msg, "migr keygen");
    int insecure = zap_open(&z, ctx, router, &h, 1, &err) == 0 && !z.on;
    zap_close(&z);
    home_in_tmpdir(&h, "tcp://127.0.0.1:5555");
    int loopback = zap_open(&z, ctx, router, &h, 0, &err) == 0 && !z.on;
    zap_close(&z);
    zmq_close(router);
    zmq_ctx_term(ctx);
    CHECK(refused);
    CHECK_MSG(has_hint, "%s", err.msg);
    CHECK(insecure);
    CHECK(loopback);
}

/* One client DEALER with key pair name (from dir) to the server at ep. */
static void *client(void *ctx, const char *dir, const char *name, const char *server_pub, const char *ep)
{
    char path[600], sec[KEY_Z85_LEN + 1], pub[KEY_Z85_LEN + 1];
    migr_err err;
    int linger = 0;
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if (!s || key_read_secret(path, sec, pub, &err) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, KEY_Z85_LEN) < 0 || zmq_connect(s, ep) < 0) {
        if (s)
            zmq_close(s);
        return NULL;
    }
    return s;
}

/* Serve the handler and wait up to ms for a message on router; returns 1
 * with the sender's User-Id in user, 0 on timeout. */
static int serve_until_message(zap *z, void *router, int ms, char *user, size_t cap)
{
    for (int waited = 0; waited < ms; waited += 20) {
        zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {z->handler, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, 20) < 0)
            return 0;
        if (items[1].revents & ZMQ_POLLIN)
            zap_handle(z);
        if (items[0].revents & ZMQ_POLLIN) {
            wire_peer peer;
            Migr__Envelope *env;
            migr_err err;
            if (wire_recv(router, &peer, &env, &err) != WIRE_OK)
                return 0;
            migr__envelope__free_unpacked(env, NULL);
            snprintf(user, cap, "%s", peer.user);
            return 1;
        }
    }
    return 0;
}

static int send_ping(void *dealer)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT;
    Migr__Request req = MIGR__REQUEST__INIT;
    migr_err err;
    req.verb = "ping";
    req.args = "{}";
    env.body_case = MIGR__ENVELOPE__BODY_REQUEST;
    env.request = &req;
    return wire_send(dealer, NULL, &env, &err);
}

TEST(zap_admits_listed_keys_under_their_key_refuses_others_and_follows_the_allowlist)
{
    char pub[KEY_Z85_LEN + 1], lab[KEY_Z85_LEN + 1], stranger[KEY_Z85_LEN + 1], user[64], ep[600],
        elsewhere[512], path[PATH_MAX + 16];
    migr_home h;
    migr_err err;
    zap z;
    snprintf(ep, sizeof ep, "ipc://%s/zap.sock", check_tmpdir());
    snprintf(elsewhere, sizeof elsewhere, "%s/other-host", check_tmpdir());
    home_in_tmpdir(&h, ep);
    CHECK(key_generate(h.keys, KEYS_SERVER_NAME, pub, &err) == 0);
    CHECK(key_generate(h.keys, "lab", lab, &err) == 0);
    CHECK(key_generate(elsewhere, "stranger", stranger, &err) == 0);

    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    CHECK(router && zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger) == 0);
    CHECK_MSG(zap_open(&z, ctx, router, &h, 0, &err) == 0, "%s", err.msg);
    CHECK(z.on && z.nallow == 1);
    CHECK(zmq_bind(router, ep) == 0);

    void *good = client(ctx, h.keys, "lab", pub, ep), *bad = client(ctx, elsewhere, "stranger", pub, ep);
    migr_err werr;
    void *watch = bad ? keys_watch(ctx, bad, "test", &werr) : NULL;
    int good_sent = good && send_ping(good) == 0, bad_sent = bad && send_ping(bad) == 0;
    int got_good = serve_until_message(&z, router, 3000, user, sizeof user);
    char good_user[64];
    snprintf(good_user, sizeof good_user, "%s", user);
    int got_bad = serve_until_message(&z, router, 500, user, sizeof user);
    zmq_pollitem_t w = {watch, 0, ZMQ_POLLIN, 0};
    int bad_told = watch && zmq_poll(&w, 1, 2000) == 1 && keys_refused(watch);

    char name_before[72];
    snprintf(name_before, sizeof name_before, "%s", zap_allowed(&z, lab) ? zap_allowed(&z, lab) : "");
    int stranger_listed = zap_allowed(&z, stranger) != NULL;
    snprintf(path, sizeof path, "%s/lab.pub", h.keys);
    int removed = unlink(path) == 0;
    int changed = zap_reload(&z, &err), unchanged = zap_reload(&z, &err);
    int listed_after = zap_allowed(&z, lab) != NULL;

    if (watch)
        zmq_close(watch);
    if (good)
        zmq_close(good);
    if (bad)
        zmq_close(bad);
    zap_close(&z);
    zmq_close(router);
    zmq_ctx_term(ctx);
    CHECK(good_sent && bad_sent);
    CHECK_MSG(got_good, "the listed key's message did not arrive");
    CHECK_STR(lab, good_user);
    CHECK_MSG(!got_bad, "the unlisted key's message arrived");
    CHECK_MSG(bad_told, "the unlisted client saw no handshake refusal");
    CHECK_STR("lab", name_before);
    CHECK(!stranger_listed);
    CHECK(removed);
    CHECK_INT(1, changed);
    CHECK_INT(0, unchanged);
    CHECK(!listed_after);
}

/* ---- the allowlist check on migrd's tick ---- */

/* Write text over path in place (same inode), then give it mtime. */
static int rewrite_in_place(const char *path, const char *text, const struct timespec *mtime)
{
    FILE *f = fopen(path, "r+");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    struct timespec times[2] = {*mtime, *mtime};
    return ok && utimensat(AT_FDCWD, path, times, 0) == 0 ? 0 : -1;
}

/* Set the modification time of dir and of every NAME.pub in it to at. */
static int backdate_keys(const char *dir, const char *const *names, int n, const struct timespec *at)
{
    char path[PATH_MAX + 80];
    struct timespec times[2] = {*at, *at};
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.pub", dir, names[i]);
        if (utimensat(AT_FDCWD, path, times, 0) < 0)
            return -1;
    }
    return utimensat(AT_FDCWD, dir, times, 0);
}

/* migrd checks the allowlist every second: with nothing changed a check
 * stats the files and reads none; a key replaced in place, its size and
 * inode the same and its time changed by a nanosecond only, is read at the
 * next check. */
TEST(zap_reload_reads_no_key_file_until_one_changes)
{
    static const char *const names[] = {"lab", "spare"};
    char pub[KEY_Z85_LEN + 1], lab[KEY_Z85_LEN + 1], spare[KEY_Z85_LEN + 1], other[KEY_Z85_LEN + 1],
        line[KEY_Z85_LEN + 2], elsewhere[512], path[PATH_MAX + 16];
    migr_home h;
    migr_err err;
    zap z;
    struct stat before, after;
    home_in_tmpdir(&h, "ipc:///nowhere");
    snprintf(elsewhere, sizeof elsewhere, "%s/other-host", check_tmpdir());
    CHECK(key_generate(h.keys, KEYS_SERVER_NAME, pub, &err) == 0);
    CHECK(key_generate(h.keys, "lab", lab, &err) == 0);
    CHECK(key_generate(h.keys, "spare", spare, &err) == 0);
    CHECK(key_generate(elsewhere, "other", other, &err) == 0);
    /* Times well in the past: what a check sees is not too recent to trust. */
    struct timespec then;
    CHECK(clock_gettime(CLOCK_REALTIME, &then) == 0);
    then.tv_sec -= 60;
    then.tv_nsec = 0;
    CHECK(backdate_keys(h.keys, names, 2, &then) == 0);

    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    int opened = zap_open(&z, ctx, router, &h, 0, &err) == 0;
    unsigned long at_open = z.key_reads;
    int idle1 = opened ? zap_reload(&z, &err) : -1;
    unsigned long after_idle1 = z.key_reads;
    int idle2 = opened ? zap_reload(&z, &err) : -1;
    unsigned long after_idle2 = z.key_reads;

    snprintf(path, sizeof path, "%s/lab.pub", h.keys);
    snprintf(line, sizeof line, "%s\n", other);
    struct timespec tick = then;
    tick.tv_nsec = 1;  /* the same second */
    int rewritten = stat(path, &before) == 0 && rewrite_in_place(path, line, &tick) == 0 &&
                    utimensat(AT_FDCWD, h.keys, (struct timespec[2]){then, then}, 0) == 0 &&
                    stat(path, &after) == 0;
    int changed = opened ? zap_reload(&z, &err) : -1;
    unsigned long after_change = z.key_reads;
    int other_allowed = zap_allowed(&z, other) != NULL, lab_allowed = zap_allowed(&z, lab) != NULL,
        spare_allowed = zap_allowed(&z, spare) != NULL;
    int idle3 = opened ? zap_reload(&z, &err) : -1;
    unsigned long after_idle3 = z.key_reads;

    zap_close(&z);
    zmq_close(router);
    zmq_ctx_term(ctx);
    CHECK_MSG(opened, "%s", err.msg);
    CHECK_INT(2, at_open);
    CHECK_INT(0, idle1);
    CHECK_MSG(after_idle1 == at_open, "a check with nothing changed read %lu key files",
              after_idle1 - at_open);
    CHECK_INT(0, idle2);
    CHECK_INT(at_open, after_idle2);
    CHECK(rewritten);
    CHECK_INT(before.st_ino, after.st_ino);
    CHECK_INT(before.st_size, after.st_size);
    CHECK_INT(1, changed);
    CHECK_INT(at_open + 2, after_change);
    CHECK(other_allowed && !lab_allowed && spare_allowed);
    CHECK_INT(0, idle3);
    CHECK_INT(after_change, after_idle3);
}

/* A key replaced within the same tick of the file system's clock keeps
 * every time, size and inode a check compares (here the old time is put
 * back by hand).  A check that saw times that recent does not trust them:
 * the next check reads the files again and finds the new key. */
TEST(zap_reload_reads_again_after_seeing_times_too_recent_to_trust)
{
    char pub[KEY_Z85_LEN + 1], lab[KEY_Z85_LEN + 1], other[KEY_Z85_LEN + 1], line[KEY_Z85_LEN + 2],
        elsewhere[512], path[PATH_MAX + 16];
    migr_home h;
    migr_err err;
    zap z;
    struct stat before, after;
    home_in_tmpdir(&h, "ipc:///nowhere");
    snprintf(elsewhere, sizeof elsewhere, "%s/other-host", check_tmpdir());
    CHECK(key_generate(h.keys, KEYS_SERVER_NAME, pub, &err) == 0);
    CHECK(key_generate(h.keys, "lab", lab, &err) == 0);
    CHECK(key_generate(elsewhere, "other", other, &err) == 0);

    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    int opened = zap_open(&z, ctx, router, &h, 0, &err) == 0;
    snprintf(path, sizeof path, "%s/lab.pub", h.keys);
    snprintf(line, sizeof line, "%s\n", other);
    int rewritten = stat(path, &before) == 0 && rewrite_in_place(path, line, &before.st_mtim) == 0 &&
                    stat(path, &after) == 0;
    int changed = opened ? zap_reload(&z, &err) : -1;
    int other_allowed = zap_allowed(&z, other) != NULL, lab_allowed = zap_allowed(&z, lab) != NULL;

    zap_close(&z);
    zmq_close(router);
    zmq_ctx_term(ctx);
    CHECK_MSG(opened, "%s", err.msg);
    CHECK(rewritten);
    CHECK_INT(before.st_ino, after.st_ino);
    CHECK_INT(before.st_size, after.st_size);
    CHECK_INT(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    CHECK_INT(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    CHECK_INT(1, changed);
    CHECK(other_allowed && !lab_allowed);
}
