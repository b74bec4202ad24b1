/* demo.c -- migr demo: the data stage of the MIGR pipeline on a local cluster.
 *
 * Starts migrd and two workers when none is running, synthesizes a dataset,
 * featurizes it and shows it; stops what it started.  (Modality importance,
 * SFT, GRPO and evaluation join this command as they are built.) */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* Synthesize (or reuse) the demo dataset and return its summary. */
static json_t *demo_dataset(const migr_home *home, int quick, int *rc)
{
    char name[64], clips[16];
    int status;
    migr_err err;

    snprintf(clips, sizeof clips, "%d", quick ? 24 : 200);
    snprintf(name, sizeof name, "demo-%s", clips);
    json_t *d = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 5000, &status, &err);
    if (!d) {
        char *synth_argv[] = {"synth", name, "--clips", clips, "--seed", "7", "--wait"};
        if ((*rc = cmd_dataset(home, 7, synth_argv)) != EXIT_OK)
            return NULL;
        d = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 5000, &status, &err);
    }
    if (!d) {
        fprintf(stderr, "migr demo: %s\n", err.msg);
        *rc = status;
    }
    return d;
}

int cmd_demo(const migr_home *home, int argc, char **argv)
{
    int quick = cli_has_flag(argc, argv, "--quick"), json = cli_has_flag(argc, argv, "--json");
    int status, rc = EXIT_OK;
    migr_err err;

    if (cli_wants_help(argc, argv) || argc > quick + json) {
        printf("usage: migr demo [--quick] [--json]\n\n"
               "Start a local migrd and 2 workers (unless one is running), synthesize a\n"
               "dataset (200 clips, 24 with --quick), featurize it and show it.  With\n"
               "--json, stdout carries only the dataset's JSON; progress goes to stderr.\n");
        return cli_wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
    }
    /* With --json, everything but the final JSON goes to stderr. */
    int saved_stdout = json ? dup(STDOUT_FILENO) : -1;
    if (json && (saved_stdout < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)) {
        perror("migr demo: redirecting output");
        return EXIT_FAIL;
    }
    json_t *ping = cli_request(home, "ping", NULL, 500, &status, &err);
    int started = !ping;
    json_decref(ping);
    if (started) {
        char *up_argv[] = {"--workers", "2"};
        rc = cmd_up(home, 2, up_argv);
    }
    json_t *summary = rc == EXIT_OK ? demo_dataset(home, quick, &rc) : NULL;
    if (started) {
        char *down_argv[] = {NULL};
        cmd_down(home, 0, down_argv);
    }
    fflush(stdout);
    if (json && (dup2(saved_stdout, STDOUT_FILENO) < 0 || close(saved_stdout) < 0)) {
        perror("migr demo: restoring output");
        rc = EXIT_FAIL;
    }
    if (summary && json)
        cli_print_json(summary);
    json_decref(summary);
    return rc;
}
