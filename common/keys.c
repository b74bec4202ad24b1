/* keys.c -- see keys.h. */
#include "common/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int key_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Write text to path, which must not exist yet. */
static int write_new(const char *path, const char *text, mode_t mode, migr_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return migr_errf(err, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = (w == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    if (rc < 0)
        migr_errf(err, "cannot write %s: %s", path, w < 0 ? strerror(errno) : "short write");
    if (close(fd) < 0 && rc == 0)
        rc = migr_errf(err, "cannot write %s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(path);
    return rc;
}

int key_generate(const char *dir, const char *name, char pub[KEY_Z85_LEN + 1], migr_err *err)
{
    char sec[KEY_Z85_LEN + 1], pubpath[PATH_MAX], keypath[PATH_MAX], line[KEY_Z85_LEN + 2];

    if (!key_name_valid(name))
        return migr_errf(err, "\"%.100s\" is not a key name: use 1-64 letters, digits, '.', '_' or '-', "
                         "not starting with '.'", name);
    if (snprintf(pubpath, sizeof pubpath, "%s/%s.pub", dir, name) >= (int)sizeof pubpath ||
        snprintf(keypath, sizeof keypath, "%s/%s.key", dir, name) >= (int)sizeof keypath)
        return migr_errf(err, "the key directory %s is too long a path", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return migr_errf(err, "cannot create the key directory %s: %s", dir, strerror(errno));
    if (access(pubpath, F_OK) == 0 || access(keypath, F_OK) == 0)
        return migr_errf(err, "a key pair named %s already exists in %s; remove %s.pub and %s.key "
                         "first to replace it (peers holding the old key lose access)", name, dir, name, name);
    if (zmq_curve_keypair(pub, sec) < 0)
        return migr_errf(err, "cannot make a CURVE key pair: %s (is libzmq built with libsodium?)",
                         zmq_strerror(errno));
    snprintf(line, sizeof line, "%s\n", sec);
    if (write_new(keypath, line, 0600, err) < 0)
        return -1;
    snprintf(line, sizeof line, "%s\n", pub);
    if (write_new(pubpath, line, 0644, err) < 0) {
        unlink(keypath);
        return -1;
    }
    return 0;
}

/* Read one Z85 key from path into out: 40 characters and an optional
 * newline, decoding to 32 bytes. */
static int read_key(const char *path, int fd, char out[KEY_Z85_LEN + 1], migr_err *err)
{
    char buf[KEY_Z85_LEN + 3];
    uint8_t raw[32];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        return migr_errf(err, "cannot read %s: %s", path, strerror(errno));
    if (n == KEY_Z85_LEN + 1 && buf[KEY_Z85_LEN] == '\n')
        n--;
    if (n != KEY_Z85_LEN)
        return migr_errf(err, "%s does not hold a key (%d Z85 characters and a newline); make keys with "
                         "`migr keygen NAME`", path, KEY_Z85_LEN);
    memcpy(out, buf, KEY_Z85_LEN);
    out[KEY_Z85_LEN] = '\0';
    if (!zmq_z85_decode(raw, out))
        return migr_errf(err, "%s does not hold a Z85 key; make keys with `migr keygen NAME`", path);
    return 0;
}

int key_read_public(const char *path, char pub[KEY_Z85_LEN + 1], migr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return migr_errf(err, "cannot open the public key %s: %s", path, strerror(errno));
    int rc = read_key(path, fd, pub, err);
    close(fd);
    return rc;
}

int key_read_secret(const char *path, char sec[KEY_Z85_LEN + 1], char pub[KEY_Z85_LEN + 1],
                    migr_err *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return migr_errf(err, "cannot open the secret key %s: %s", path, strerror(errno));
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = migr_errf(err, "cannot stat %s: %s", path, strerror(errno));
    else if (st.st_mode & 077)
        rc = migr_errf(err, "the secret key %s may be read by others (mode %03o); `chmod 600 %s`", path,
                       (unsigned)(st.st_mode & 0777), path);
    else
        rc = read_key(path, fd, sec, err);
    close(fd);
    if (rc == 0 && zmq_curve_public(pub, sec) < 0)
        rc = migr_errf(err, "cannot derive the public key of %s: %s", path, zmq_strerror(errno));
    return rc;
}

int keys_client_setup(void *sock, const migr_home *home, migr_err *err)
{
    char server_path[PATH_MAX + 16], key_path[PATH_MAX + 80];
    char server[KEY_Z85_LEN + 1], pub[KEY_Z85_LEN + 1], sec[KEY_Z85_LEN + 1];
    const char *server_env = getenv("MIGR_SERVER_KEY"), *mine = getenv("MIGR_KEY");

    if (server_env && *server_env) {
        snprintf(server_path, sizeof server_path, "%s", server_env);
    } else {
        if (snprintf(server_path, sizeof server_path, "%s/" KEYS_SERVER_NAME ".pub", home->keys) >=
            (int)sizeof server_path)
            return migr_errf(err, "MIGR_HOME is too long a path; use a shorter one");
        if (access(server_path, F_OK) < 0)
            return 0;
    }
    if (key_read_public(server_path, server, err) < 0)
        return migr_err_wrap(err, "reading migrd's public key (MIGR_SERVER_KEY)");
    if (!mine || !*mine)
        return migr_errf(err, "migrd uses CURVE (its public key is %s), so this side needs a key pair: "
                         "make one with `migr keygen NAME`, put NAME.pub in migrd's $MIGR_HOME/keys/, "
                         "and set MIGR_KEY=NAME", server_path);
    if (strchr(mine, '/'))
        snprintf(key_path, sizeof key_path, "%s", mine);
    else if (!key_name_valid(mine))
        return migr_errf(err, "MIGR_KEY=\"%.100s\" is neither a key name nor a path to a .key file", mine);
    else
        snprintf(key_path, sizeof key_path, "%s/%s.key", home->keys, mine);
    if (key_read_secret(key_path, sec, pub, err) < 0)
        return migr_err_wrap(err, "reading this side's key pair (MIGR_KEY)");
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, KEY_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, KEY_Z85_LEN) < 0)
        return migr_errf(err, "cannot set up CURVE: %s", zmq_strerror(errno));
    return 1;
}

void *keys_watch(void *ctx, void *sock, const char *name, migr_err *err)
{
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://migr-keys-watch-%s", name);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) < 0) {
        migr_errf(err, "cannot watch the connection to migrd: %s", zmq_strerror(errno));
        return NULL;
    }
    void *watch = zmq_socket(ctx, ZMQ_PAIR);
    if (!watch || zmq_connect(watch, ep) < 0) {
        migr_errf(err, "cannot watch the connection to migrd: %s", zmq_strerror(errno));
        if (watch)
            zmq_close(watch);
        return NULL;
    }
    return watch;
}

int keys_refused(void *watch)
{
    /* An event is two frames: 16-bit event and 32-bit value, then the address. */
    uint8_t head[6];
    uint16_t event = 0;
    int more = 0;
    size_t sz = sizeof more;
    int n = zmq_recv(watch, head, sizeof head, 0);
    if (n == (int)sizeof head)
        memcpy(&event, head, sizeof event);
    while (n >= 0 && zmq_getsockopt(watch, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        char addr[256];
        n = zmq_recv(watch, addr, sizeof addr, 0);
    }
    return event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
}
