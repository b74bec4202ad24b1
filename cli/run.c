/* run.c -- migr run list | show | cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char run_usage[] =
    "usage: migr run list [--json]\n"
    "       migr run show ID [--json]\n"
    "       migr run cancel ID\n"
    "\n"
    "Runs are SFT, GRPO and eval jobs; states: queued, running, succeeded, failed,\n"
    "cancelled.  `cancel` stops a queued or running run.\n";

static void print_run(json_t *r)
{
    printf("%-6lld %-20s %-5s %-10s %lld/%lld %s\n", (long long)json_integer_value(json_object_get(r, "id")),
           json_string_value(json_object_get(r, "name")), json_string_value(json_object_get(r, "kind")),
           json_string_value(json_object_get(r, "state")),
           (long long)json_integer_value(json_object_get(r, "step")),
           (long long)json_integer_value(json_object_get(r, "steps")),
           json_is_string(json_object_get(r, "error")) ? json_string_value(json_object_get(r, "error")) : "");
}

static int parse_id(const char *s, long long *id)
{
    char *end;
    *id = strtoll(s, &end, 10);
    return *end || *id < 1 ? -1 : 0;
}

int cmd_run(const migr_home *home, int argc, char **argv)
{
    int json = cli_has_flag(argc, argv, "--json"), status;
    migr_err err;
    json_t *args = NULL, *r;
    const char *verb = NULL;
    long long id = 0;

    if (argc < 1 || cli_wants_help(argc, argv)) {
        fputs(run_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[0], "list") && argc == 1 + json) {
        verb = "run.list";
        args = json_object();
    } else if ((!strcmp(argv[0], "show") && argc == 2 + json) ||
               (!strcmp(argv[0], "cancel") && argc == 2)) {
        if (parse_id(argv[1], &id) < 0) {
            fprintf(stderr, "migr run: \"%s\" is not a run id (see migr run list)\n", argv[1]);
            return EXIT_USAGE;
        }
        verb = !strcmp(argv[0], "show") ? "run.show" : "run.cancel";
        args = json_pack("{s:I}", "id", (json_int_t)id);
    } else {
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    r = cli_request(home, verb, args, 10000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return status;
    }
    if (json) {
        cli_print_json(r);
    } else if (json_is_array(r)) {
        size_t i;
        json_t *run;
        printf("%-6s %-20s %-5s %-10s %s\n", "ID", "NAME", "KIND", "STATE", "STEP");
        json_array_foreach(r, i, run)
            print_run(run);
    } else {
        print_run(r);
    }
    json_decref(r);
    return EXIT_OK;
}
