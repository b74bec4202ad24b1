/* migr -- the command line of the migr coordinator.  See README.md. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/version.h"
#include "common/wire.h"
#include "ml/blas.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: migr COMMAND [ARGS]   (migr COMMAND --help for details)\n\n");
    cli_print_commands(out, NULL);
    fprintf(out,
            "  migr --version\n"
            "        the version of migr and of its wire protocol\n"
            "\n"
            "Environment: MIGR_HOME (default ./.migr), MIGR_ENDPOINT, MIGR_STORE, MIGR_HTTP.\n"
            "Exit codes: 0 ok, 1 failure, 2 usage error.\n");
}

static int is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help") || !strcmp(arg, "help");
}

/* argv[1] names no command: a group word alone or with --help gets the
 * group's commands, anything else a usage error. */
static int no_command(int argc, char **argv)
{
    int group = 0;
    for (const cli_command *c = cli_commands; c->words && !group; c++)
        group = strncmp(c->words, argv[1], strlen(argv[1])) == 0 && c->words[strlen(argv[1])] == ' ';
    if (!group) {
        fprintf(stderr, "migr: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    int help = argc == 3 && is_help(argv[2]);
    if (argc > 2 && !help)
        fprintf(stderr, "migr %s: unknown command \"%s\"\n\n", argv[1], argv[2]);
    FILE *out = help ? stdout : stderr;
    fprintf(out, "usage:\n");
    cli_print_commands(out, argv[1]);
    fprintf(out, "(migr %s COMMAND --help for details)\n", argv[1]);
    return help ? EXIT_OK : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    migr_home home;
    migr_err err;
    cli_args args;
    char why[512];
    int used;

    if (argc < 2 || is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") && argc == 2) {
        printf("migr %s (wire protocol %d)\n", MIGR_VERSION, WIRE_PROTOCOL_VERSION);
        return EXIT_OK;
    }
    const cli_command *cmd = cli_find(argc - 1, argv + 1, &used);
    if (!cmd)
        return no_command(argc, argv);
    int parsed = cli_parse(cmd, argc - 1 - used, argv + 1 + used, &args, why, sizeof why);
    if (parsed > 0) {
        cli_print_help(stdout, cmd);
        return EXIT_OK;
    }
    if (parsed < 0) {
        fprintf(stderr, "migr %s: %s\n", cmd->words, why);
        return EXIT_USAGE;
    }
    if (cmd->run == cmd_sample) /* the one command that runs the model here */
        blas_pin_kernel(argv);
    if (log_init("migr", NULL) < 0) {
        fprintf(stderr, "migr: MIGR_LOG_LEVEL must be debug, info, warn or error\n");
        return EXIT_USAGE;
    }
    if (migr_home_resolve(&home, 0, &err) < 0) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return EXIT_FAIL;
    }
    return cmd->run(&home, &args);
}
