/* client.c -- one request, one reply, over a DEALER socket. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/wire.h"

/* 1 (err set) when migrd surely is not running, so that the caller need
 * not wait for an answer: its ipc:// socket is missing, or the migrd that
 * `migr up` recorded in run/migrd.pid is gone.  0 when it may be running
 * (a tcp:// endpoint can only be told by asking). */
static int migrd_surely_down(const migr_home *home, migr_err *err)
{
    const char *path = strncmp(home->endpoint, "ipc://", 6) == 0 ? home->endpoint + 6 : NULL;
    char pidfile[PATH_MAX + 16];
    struct stat sb;

    if (path && stat(path, &sb) < 0 && errno == ENOENT) {
        migr_errf(err, "migrd is not running: there is no socket at %s; start it with `migr up` "
                  "(MIGR_HOME=%s) or set MIGR_ENDPOINT to where it runs", path, home->home);
        return 1;
    }
    snprintf(pidfile, sizeof pidfile, "%s/migrd.pid", home->run);
    pid_t pid = path ? cli_read_pid(pidfile) : -1;
    if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
        migr_errf(err, "migrd is not running: the one `migr up` started (pid %ld) is gone; see "
                  "%s/migrd.log, then `migr down` and `migr up`", (long)pid, home->logs);
        return 1;
    }
    return 0;
}

int cli_check_keys(const migr_home *home, migr_err *err)
{
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int rc = sock ? keys_client_setup(sock, home, err) : migr_errf(err, "cannot create a ZeroMQ socket: %s",
                                                                     zmq_strerror(errno));
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc < 0 ? -1 : 0;
}

json_t *cli_request(const migr_home *home, const char *verb, json_t *args, int timeout_ms,
                    int *status, migr_err *err)
{
    Migr__Envelope env = MIGR__ENVELOPE__INIT, *reply = NULL;
    Migr__Request req = MIGR__REQUEST__INIT;
    json_t *body = NULL;
    json_t *empty = json_object();
    char *text = json_dumps(args ? args : empty, JSON_COMPACT);
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL, *watch = NULL;
    int linger = 0, curve;

    *status = EXIT_FAIL;
    if (migrd_surely_down(home, err))
        goto end;
    if (!text || !sock) {
        migr_errf(err, "cannot set up a connection: %s", text ? zmq_strerror(errno) : "out of memory");
        goto end;
    }
    if ((curve = keys_client_setup(sock, home, err)) < 0 ||
        (curve && !(watch = keys_watch(ctx, sock, "cli", err))))
        goto end;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect(sock, home->endpoint) < 0) {
        migr_errf(err, "cannot connect to migrd at %s: %s", home->endpoint, zmq_strerror(errno));
        goto end;
    }
    req.verb = (char *)verb;
    req.args = text;
    env.body_case = MIGR__ENVELOPE__BODY_REQUEST;
    env.request = &req;
    if (wire_send(sock, NULL, &env, err) < 0)
        goto end;
    zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {watch, 0, ZMQ_POLLIN, 0}};
    int64_t deadline = clock_mono_ms() + timeout_ms, rc;
    while ((rc = zmq_poll(items, watch ? 2 : 1, (long)(deadline - clock_mono_ms()))) > 0 &&
           !(items[0].revents & ZMQ_POLLIN)) {
        if (keys_refused(watch)) {
            migr_errf(err, "migrd at %s refused this side's CURVE key (MIGR_KEY=%s): put its .pub in "
                      "migrd's $MIGR_HOME/keys/, or check MIGR_SERVER_KEY is migrd's key", home->endpoint,
                      getenv("MIGR_KEY"));
            goto end;
        }
        if (clock_mono_ms() >= deadline) {
            rc = 0;
            break;
        }
    }
    if (rc <= 0) {
        migr_errf(err, "migrd at %s did not answer within %d ms; is it running? Start it with `migr up` "
                  "(MIGR_HOME=%s)", home->endpoint, timeout_ms, home->home);
        goto end;
    }
    if (wire_recv(sock, NULL, &reply, err) != WIRE_OK) {
        migr_err_wrap(err, "a bad reply from migrd");
        goto end;
    }
    if (reply->body_case == MIGR__ENVELOPE__BODY_REFUSAL) {
        migr_errf(err, "migrd refused the request: %s", reply->refusal->reason);
    } else if (reply->body_case != MIGR__ENVELOPE__BODY_REPLY) {
        migr_errf(err, "migrd answered with something other than a reply");
    } else if (reply->reply->status != 0) {
        *status = reply->reply->status == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
        migr_errf(err, "%s", reply->reply->error);
    } else {
        json_error_t jerr;
        body = json_loads(reply->reply->body, JSON_DECODE_ANY, &jerr);
        if (!body)
            migr_errf(err, "migrd's reply is not JSON: %s", jerr.text);
        else
            *status = EXIT_OK;
    }
end:
    if (reply)
        migr__envelope__free_unpacked(reply, NULL);
    free(text);
    if (watch)
        zmq_close(watch);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    json_decref(empty);
    json_decref(args);
    return body;
}

int cli_show(const migr_home *home, const char *verb, json_t *args, int json, void (*human)(json_t *))
{
    int status;
    migr_err err;
    json_t *r = cli_request(home, verb, args, 10000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return status;
    }
    if (json)
        cli_print_json(r);
    else
        human(r);
    json_decref(r);
    return EXIT_OK;
}
