/* up.c -- migr up / down: local migrd and workers as background processes
 * with pid files in $MIGR_HOME/run and logs in $MIGR_HOME/logs. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/fs.h"
#include "ml/pool.h"

/* The directory holding this binary, where migrd and migr-worker live too. */
static int bin_dir(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    snprintf(out, cap, "%s", dirname(self));
    return 0;
}

/* Start prog in the background, detached, logging to log; write its pid to
 * pidfile.  Returns the pid, or -1. */
static pid_t spawn(const char *prog, char *const argv[], const char *log, const char *pidfile,
                   migr_err *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return migr_errf(err, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (fd < 0 || devnull < 0 || setsid() < 0 || dup2(devnull, 0) < 0 || dup2(fd, 1) < 0 ||
            dup2(fd, 2) < 0)
            _exit(127);
        execv(prog, argv);
        dprintf(2, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    char text[32];
    size_t len = (size_t)snprintf(text, sizeof text, "%ld\n", (long)pid);
    const void *bufs[1] = {text};
    return fs_write_atomic(pidfile, bufs, &len, 1, err) < 0 ? -1 : pid;
}

/* Say why a process did not start: err names its log, and the log's last
 * line goes to stderr.  Returns -1. */
static int report_start_failure(const char *what, const char *log, migr_err *err)
{
    uint8_t *text;
    size_t len;
    migr_err rerr;
    if (fs_read_file(log, &text, &len, &rerr) == 0) {
        while (len > 0 && text[len - 1] == '\n')
            text[--len] = '\0';
        char *last = strrchr((char *)text, '\n');
        fprintf(stderr, "%s: %s\n", what, last ? last + 1 : (char *)text);
        free(text);
    }
    return migr_errf(err, "%s did not start; see %s", what, log);
}

static int ping(const migr_home *home, int timeout_ms)
{
    int status;
    migr_err err;
    json_t *r = cli_request(home, "ping", NULL, timeout_ms, &status, &err);
    json_decref(r);
    return r ? 0 : -1;
}

static int alive_workers(const migr_home *home)
{
    int status;
    migr_err err;
    json_t *r = cli_request(home, "workers", NULL, 2000, &status, &err);
    int n = r ? (int)json_array_size(r) : -1;
    json_decref(r);
    return n;
}

int cmd_up(const migr_home *home, const cli_args *a)
{
    long long workers = 2;
    if (cli_int(a, "--workers", 0, 64, &workers) < 0)
        return EXIT_USAGE;
    return cli_up(home, (long)workers, cli_flag(a, "--insecure"));
}

int cli_start_migrd(const migr_home *home, const char *const *args, migr_err *err)
{
    char dir[PATH_MAX], prog[PATH_MAX + 32], log[PATH_MAX + 32], pidf[PATH_MAX + 32];

    if (bin_dir(dir, sizeof dir) < 0)
        return migr_errf(err, "cannot find this program's directory: %s", strerror(errno));
    if (ping(home, 300) == 0)
        return migr_errf(err, "migrd is already running at %s; `migr down` first", home->endpoint);
    snprintf(prog, sizeof prog, "%s/migrd", dir);
    snprintf(log, sizeof log, "%s/migrd.log", home->logs);
    snprintf(pidf, sizeof pidf, "%s/migrd.pid", home->run);
    char *dargv[16] = {prog};
    for (int i = 0; args && args[i] && i < 14; i++)
        dargv[i + 1] = (char *)args[i];
    pid_t migrd = spawn(prog, dargv, log, pidf, err);
    if (migrd < 0)
        return -1;
    int64_t deadline = clock_mono_ms() + 15000;
    while (ping(home, 300) < 0) {
        if (waitpid(migrd, NULL, WNOHANG) == migrd || clock_mono_ms() > deadline) {
            if (kill(migrd, SIGTERM) == 0)  /* running but not answering: do not leave it behind */
                waitpid(migrd, NULL, 0);
            unlink(pidf);
            return report_start_failure("migrd", log, err);
        }
        usleep(50 * 1000); /* a ping fails at once while its socket is not there yet */
    }
    return 0;
}

int cli_start_workers(const migr_home *home, long first, long n, migr_err *err)
{
    char dir[PATH_MAX], prog[PATH_MAX + 32], log[PATH_MAX + 32], pidf[PATH_MAX + 32], threads[32];

    if (bin_dir(dir, sizeof dir) < 0)
        return migr_errf(err, "cannot find this program's directory: %s", strerror(errno));
    snprintf(prog, sizeof prog, "%s/migr-worker", dir);
    snprintf(threads, sizeof threads, "%ld", (long)pool_share(pool_cpus(), n));
    for (long i = first; i < first + n; i++) {
        char id[64];
        snprintf(log, sizeof log, "%s/worker-%ld.log", home->logs, i);
        snprintf(pidf, sizeof pidf, "%s/worker-%ld.pid", home->run, i);
        snprintf(id, sizeof id, "local-%ld", i);
        char *wargv[] = {prog, "--id", id, "--threads", threads, NULL};
        if (spawn(prog, wargv, log, pidf, err) < 0)
            return -1;
    }
    int64_t deadline = clock_mono_ms() + 15000;
    while (alive_workers(home) < first + n) {
        if (clock_mono_ms() > deadline)
            return report_start_failure("a worker", log, err);
        usleep(100 * 1000);
    }
    return 0;
}

int cli_up(const migr_home *home_in, long workers, int insecure)
{
    migr_home home = *home_in;
    char pidf[PATH_MAX + 32];
    migr_err err;

    if (migr_home_resolve(&home, 1, &err) < 0 || cli_check_keys(&home, &err) < 0 ||
        cli_start_migrd(&home, (const char *const[]){insecure ? "--insecure" : NULL, NULL}, &err) < 0 || cli_start_workers(&home, 0, workers, &err) < 0) {
        fprintf(stderr, "migr up: %s\n", err.msg);
        return EXIT_FAIL;
    }
    char http[128] = "off (MIGR_HTTP=off)";
    uint8_t *addr;
    size_t len;
    snprintf(pidf, sizeof pidf, "%s/http.addr", home.run);
    if (strcmp(home.http, "off") != 0 && fs_read_file(pidf, &addr, &len, &err) == 0) {
        const uint8_t *nl = memchr(addr, '\n', len);
        snprintf(http, sizeof http, "http://%.*s/", (int)(nl ? (size_t)(nl - addr) : len), (char *)addr);
        free(addr);
    }
    printf("migrd at %s with %ld worker(s); HTTP API and dashboard %s; MIGR_HOME=%s\n", home.endpoint,
           workers, http, home.home);
    return EXIT_OK;
}

pid_t cli_read_pid(const char *path)
{
    uint8_t *text;
    size_t len;
    migr_err err;
    if (fs_read_file(path, &text, &len, &err) < 0)
        return -1;
    long pid = strtol((char *)text, NULL, 10);
    free(text);
    return pid > 1 ? (pid_t)pid : -1;
}

/* SIGTERM, wait up to 10 s, then SIGKILL. */
static void stop_pid(pid_t pid, const char *what)
{
    if (kill(pid, SIGTERM) < 0)
        return;  /* already gone */
    for (int i = 0; i < 100; i++) {
        /* Reap it when it is our own child (migr demo started it), so that
         * it does not linger as a zombie that kill(pid, 0) still finds. */
        waitpid(pid, NULL, WNOHANG);
        if (kill(pid, 0) < 0)
            return;
        usleep(100 * 1000);
    }
    fprintf(stderr, "migr down: %s (pid %ld) ignored SIGTERM; killing it\n", what, (long)pid);
    kill(pid, SIGKILL);
}

int cmd_down(const migr_home *home, const cli_args *a)
{
    (void)a;
    return cli_down(home);
}

int cli_down(const migr_home *home)
{
    printf("stopped %d process(es)\n", cli_stop(home));
    return EXIT_OK;
}

int cli_stop(const migr_home *home)
{
    char pattern[PATH_MAX + 32];
    glob_t g;
    int stopped = 0;

    snprintf(pattern, sizeof pattern, "%s/worker-*.pid", home->run);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            pid_t pid = cli_read_pid(g.gl_pathv[i]);
            if (pid > 0) {
                stop_pid(pid, "a worker");
                stopped++;
            }
            unlink(g.gl_pathv[i]);
        }
        globfree(&g);
    }
    snprintf(pattern, sizeof pattern, "%s/migrd.pid", home->run);
    pid_t pid = cli_read_pid(pattern);
    if (pid > 0) {
        stop_pid(pid, "migrd");
        stopped++;
    }
    unlink(pattern);
    return stopped;
}
