/* migrd -- the migr coordinator.  See README.md. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stop.h"
#include "common/version.h"
#include "coordinator/coord.h"
#include "coordinator/http.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: migrd [--log-level LEVEL] [--heartbeat-ms N] [--liveness N] [--max-attempts N]\n"
            "             [--task-timeout SECONDS] [--prefetch N] [--keep-events DAYS] [--insecure]\n"
            "       migrd --version\n"
            "\n"
            "The migr coordinator: owns the SQLite database, hands tasks to workers\n"
            "under leases, answers the migr CLI and serves the HTTP API.\n"
            "\n"
            "Environment:\n"
            "  MIGR_HOME      state directory (default ./.migr): migr.db, store/, logs/, run/\n"
            "  MIGR_STORE     store directory (default $MIGR_HOME/store)\n"
            "  MIGR_ENDPOINT  ZeroMQ endpoint to bind (default ipc://$MIGR_HOME/migrd.sock)\n"
            "  MIGR_HTTP      HTTP address (default 127.0.0.1:7870; \"off\" to disable;\n"
            "                 port 0 picks one and writes it to $MIGR_HOME/run/http.addr);\n"
            "                 beyond loopback it needs the bearer token in\n"
            "                 $MIGR_HOME/keys/http.token (made on first use)\n"
            "  MIGR_HTTP_CERT, MIGR_HTTP_KEY  PEM certificate and key: serve HTTPS\n"
            "  MIGR_HTTP_TOKEN_FILE           another file for the bearer token\n"
            "\n"
            "Authentication: with $MIGR_HOME/keys/migrd.key (`migr keygen migrd`) every peer\n"
            "authenticates with CURVE, and the peers allowed are the keys/NAME.pub files\n"
            "(`migr keygen NAME` on the peer's host, NAME.pub copied here; removing it cuts\n"
            "the peer off).  Without that key migrd refuses a non-loopback tcp:// endpoint\n"
            "unless given --insecure.\n"
            "\n"
            "A task's lease ends --task-timeout seconds (default 3600) after it was handed\n"
            "out, even if its worker lives on; the task is retried elsewhere and the late\n"
            "result refused.\n"
            "\n"
            "--prefetch N (default 0, at most 3 x a worker's --concurrency) hands each worker\n"
            "N tasks beyond its free slots, queued at the worker: its next task is there when\n"
            "one ends, hiding the dispatch round trip of short tasks, at the price of a task\n"
            "waiting behind another while a worker elsewhere may be idle (as training steps'\n"
            "shards would: hence 0 by default).\n"
            "\n"
            "--keep-events DAYS (default 14; 0 keeps all) deletes task events (task.done,\n"
            "task.retry, task.failed, task.stale) once they are that old, a few thousand a\n"
            "second; run, schedule and worker events stay, and so do the counters /metrics\n"
            "shows.\n"
            "\n"
            "Stops cleanly on SIGTERM or SIGINT; restarted, it resumes from the database.\n"
            "Usually started by `migr up`.\n");
}

/* value as an integer in min..1000000 into *out; on a bad or missing value
 * says so, naming flag and the range, and returns -1. */
static int parse_int_arg(const char *flag, const char *value, int min, int *out)
{
    char *end;
    long v = value && *value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || *end || v < min || v > 1000000) {
        fprintf(stderr, "migrd: %s needs an integer in %d..1000000, got %s%s%s (see migrd --help)\n", flag,
                min, value ? "\"" : "", value ? value : "nothing", value ? "\"" : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Hold an exclusive lock on run/migrd.lock for the life of the process. */
static int lock_home(const migr_home *home, migr_err *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/migrd.lock", home->run);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return migr_errf(err, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return migr_errf(err, "another migrd is running with MIGR_HOME=%s; stop it with `migr down`",
                         home->home);
    }
    return fd;  /* deliberately kept open until exit */
}

int main(int argc, char **argv)
{
    const char *level = NULL;
    coord_config cfg;
    migr_home home;
    migr_err err;
    coord c;
    http_server *http = NULL;

    /* Each batch of the loop allocates and frees a few hundred KiB (SQLite's
     * dirty pages, messages); glibc's default would give that back to the
     * kernel at every batch's end and take it again at the next, a brk pair
     * per batch (8% of migrd's time under `migr bench dispatch`). */
    if (!mallopt(M_TRIM_THRESHOLD, 64 << 20) || !mallopt(M_TOP_PAD, 4 << 20))
        fprintf(stderr, "migrd: could not tune malloc (continuing)\n");
    /* SQLite's memory statistics take a global mutex around every
     * allocation; migrd reads none of them. */
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        fprintf(stderr, "migrd: could not turn SQLite's memory statistics off (continuing)\n");
    coord_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("migrd %s (wire protocol %d)\n", MIGR_VERSION, WIRE_PROTOCOL_VERSION);
            return 0;
        } else if (!strcmp(a, "--log-level") && v) {
            level = v, i++;
        } else if (!strcmp(a, "--heartbeat-ms")) {
            if (parse_int_arg(a, v, 1, &cfg.heartbeat_ms) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--liveness")) {
            if (parse_int_arg(a, v, 1, &cfg.liveness) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--task-timeout")) {
            if (parse_int_arg(a, v, 1, &cfg.task_timeout_s) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--prefetch")) {
            if (parse_int_arg(a, v, 0, &cfg.prefetch) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--keep-events")) {
            if (parse_int_arg(a, v, 0, &cfg.keep_events_days) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--insecure")) {
            cfg.insecure = 1;
        } else if (!strcmp(a, "--max-attempts")) {
            if (parse_int_arg(a, v, 1, &cfg.max_attempts) < 0)
                return 2;
            i++;
        } else {
            fprintf(stderr, "migrd: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (log_init("migrd", level) < 0) {
        fprintf(stderr, "migrd: unknown log level; use debug, info, warn or error\n");
        return 2;
    }
    /* Handlers first, so a SIGTERM during start-up still ends in a clean stop. */
    volatile int *stop = stop_flag_install();
    signal(SIGPIPE, SIG_IGN);
    if (migr_home_resolve(&home, 1, &err) < 0 || lock_home(&home, &err) < 0 ||
        coord_open(&c, &cfg, &home, &err) < 0) {
        log_error("%s", err.msg);
        return 1;
    }
    if (http_start(&http, &home, &err) < 0) {
        log_error("%s", err.msg);
        coord_close(&c);
        return 1;
    }
    int rc = coord_serve(&c, stop, &err);
    if (rc < 0)
        log_error("%s", err.msg);
    http_stop(&http);
    coord_close(&c);
    log_info("migrd stopped");
    return rc < 0 ? 1 : 0;
}
