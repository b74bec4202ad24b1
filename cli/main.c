/* migr -- the command line of the migr coordinator.  See README.md. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "ml/blas.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: migr COMMAND [ARGS]   (migr COMMAND --help for details)\n"
            "\n"
            "  up [--workers N]             start migrd and N local workers in the background\n"
            "  down                         stop them\n"
            "  workers [--json]             list connected workers\n"
            "  dataset synth NAME --clips N [--seed S] [--config FILE] [--wait]\n"
            "  dataset add NAME --manifest FILE [--annotations FILE] [--wait]\n"
            "  dataset list [--json] | show NAME [--json]\n"
            "  run submit FILE.yaml [--set key=value]... [--wait]\n"
            "  run list | show ID | watch ID | logs ID | cancel ID   [--json]\n"
            "  ckpt list [RUN] [--json]     checkpoints with their sha256\n"
            "  sample --ckpt PATH --dataset NAME --clip N   one generated explanation\n"
            "  demo [--json]                synthesize, featurize and summarize a dataset\n"
            "\n"
            "Environment: MIGR_HOME (default ./.migr), MIGR_ENDPOINT, MIGR_STORE, MIGR_HTTP.\n"
            "Exit codes: 0 ok, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const migr_home *, int, char **);
    } commands[] = {
        {"up", cmd_up},           {"down", cmd_down}, {"workers", cmd_workers},
        {"dataset", cmd_dataset}, {"run", cmd_run},   {"demo", cmd_demo},
        {"ckpt", cmd_ckpt},       {"sample", cmd_sample},
    };
    migr_home home;
    migr_err err;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "sample")) /* the one command that runs the model here */
        blas_pin_kernel(argv);
    if (log_init("migr", NULL) < 0) {
        fprintf(stderr, "migr: MIGR_LOG_LEVEL must be debug, info, warn or error\n");
        return EXIT_USAGE;
    }
    if (migr_home_resolve(&home, 0, &err) < 0) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(&home, argc - 2, argv + 2);
    fprintf(stderr, "migr: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
