/* migr-worker -- runs migr tasks for a coordinator.  See README.md. */
#include <cblas.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/stop.h"
#include "common/version.h"
#include "common/wire.h"
#include "ml/blas.h"
#include "ml/pool.h"
#include "worker/worker.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: migr-worker [--concurrency N] [--threads N|auto] [--id NAME]\n"
            "                   [--log-level LEVEL]\n"
            "       migr-worker --version\n"
            "\n"
            "A stateless migr worker: connects to migrd at $MIGR_ENDPOINT, runs the\n"
            "tasks it is given (synth, featurize, ...) N at a time, and writes what\n"
            "they produce into the store at $MIGR_STORE.  Reconnects with backoff\n"
            "when the coordinator goes away; logs to stderr.\n"
            "\n"
            "  --concurrency N   tasks run at once (default 1)\n"
            "  --threads N|auto  threads per task for its model work (a grad task's step,\n"
            "                    a rollout's completions), 1..%d (default 1); the results\n"
            "                    are the same bits at any N.  auto: the CPUs this process\n"
            "                    may run on divided by --concurrency, within 1..%d, for a\n"
            "                    worker with a machine to itself (a container's CPU quota\n"
            "                    is not seen: give N there)\n"
            "  --id NAME         worker id (default HOST-PID)\n"
            "  --log-level L     debug, info, warn or error (default info, or $MIGR_LOG_LEVEL)\n"
            "\n"
            "Environment: MIGR_HOME, MIGR_STORE, MIGR_ENDPOINT (see migrd --help).\n",
            POOL_MAX_THREADS, POOL_MAX_THREADS);
}

int main(int argc, char **argv)
{
    worker_options opt = {.concurrency = 1, .threads = 1, .heartbeat_ms = 1000, .liveness = 3};
    const char *level = NULL;
    migr_home home;
    migr_err err;

    blas_pin_kernel(argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("migr-worker %s (wire protocol %d)\n", MIGR_VERSION, WIRE_PROTOCOL_VERSION);
            return 0;
        } else if (!strcmp(a, "--concurrency") && v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "migr-worker: --concurrency needs 1..256, got \"%s\"\n", v);
                return 2;
            }
            opt.concurrency = (int)n, i++;
        } else if (!strcmp(a, "--threads") && v) {
            char *end;
            long n = strcmp(v, "auto") ? strtol(v, &end, 10) : 0; /* 0: auto */
            if (strcmp(v, "auto") && (*end || n < 1 || n > POOL_MAX_THREADS)) {
                fprintf(stderr, "migr-worker: --threads needs 1..%d or auto, got \"%s\"\n",
                        POOL_MAX_THREADS, v);
                return 2;
            }
            opt.threads = (int)n, i++;
        } else if (!strcmp(a, "--id") && v) {
            snprintf(opt.id, sizeof opt.id, "%s", v), i++;
        } else if (!strcmp(a, "--log-level") && v) {
            level = v, i++;
        } else {
            fprintf(stderr, "migr-worker: unknown or incomplete argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (log_init("migr-worker", level) < 0) {
        fprintf(stderr, "migr-worker: unknown log level; use debug, info, warn or error\n");
        return 2;
    }
    if (migr_home_resolve(&home, 0, &err) < 0) {
        log_error("%s", err.msg);
        return 1;
    }
    /* Tasks x threads should fit the CPUs: threads waiting for a CPU hold
     * up the others of their task at every kernel. */
    int cpus = pool_cpus();
    if (opt.threads == 0)
        opt.threads = pool_share(cpus, opt.concurrency);
    else if ((long)opt.threads * opt.concurrency > cpus)
        log_warn("%d task(s) at once x %d threads each is more than the %d CPUs this worker may "
                 "run on; its threads will wait for each other", opt.concurrency, opt.threads,
                 cpus);
    log_info("%d task(s) at once, %d thread(s) each (%d CPUs)", opt.concurrency, opt.threads,
             cpus);
    /* Task errors carry FFmpeg's message; its own chatter (encoder
     * statistics) would only bury the worker's log. */
    av_log_set_level(AV_LOG_ERROR);
    /* One BLAS thread per task thread: a task's --threads split the matrix
     * products themselves, in blocks fixed by the shapes (ml/layers.h), so
     * that a gradient does not depend on how many threads computed it; BLAS
     * threads of its own would only compete with them. */
    openblas_set_num_threads(1);
    volatile int *stop = stop_flag_install();
    if (worker_run(&opt, &home, stop, &err) < 0) {
        log_error("%s", err.msg);
        return 1;
    }
    log_info("worker stopped");
    return 0;
}
