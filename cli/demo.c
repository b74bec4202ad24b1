/* demo.c -- migr demo: the data half of the MIGR pipeline on a local cluster.
 *
 * Starts migrd and two workers when none is running, synthesizes a dataset,
 * featurizes it and prints its summary.  (Modality importance, SFT, GRPO and
 * evaluation join this command as they are built.) */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_demo(const migr_home *home, int argc, char **argv)
{
    int quick = cli_has_flag(argc, argv, "--quick"), json = cli_has_flag(argc, argv, "--json");
    int started = 0, status, rc;
    migr_err err;
    char name[64], clips[16];

    if (cli_wants_help(argc, argv) || argc > quick + json) {
        printf("usage: migr demo [--quick] [--json]\n\n"
               "Start a local migrd and 2 workers (unless one is running), synthesize a\n"
               "dataset (200 clips, 24 with --quick), featurize it and show it.\n");
        return cli_wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
    }
    json_t *ping = cli_request(home, "ping", NULL, 500, &status, &err);
    if (!ping) {
        char *up_argv[] = {"--workers", "2"};
        if ((rc = cmd_up(home, 2, up_argv)) != EXIT_OK)
            return rc;
        started = 1;
    }
    json_decref(ping);
    snprintf(clips, sizeof clips, "%d", quick ? 24 : 200);
    snprintf(name, sizeof name, "demo-%s", clips);
    json_t *exists = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 5000, &status, &err);
    if (!exists) {
        char *synth_argv[] = {"synth", name, "--clips", clips, "--seed", "7", "--wait"};
        rc = cmd_dataset(home, 7, synth_argv);
    } else {
        json_decref(exists);
        char *show_argv[] = {"show", name};
        rc = cmd_dataset(home, 2, show_argv);
    }
    if (rc == EXIT_OK && json) {
        char *show_argv[] = {"show", name, "--json"};
        rc = cmd_dataset(home, 3, show_argv);
    }
    if (started) {
        char *down_argv[] = {NULL};
        cmd_down(home, 0, down_argv);
    }
    return rc;
}
