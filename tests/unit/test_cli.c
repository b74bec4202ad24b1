/* test_cli.c -- the command table: every --help lists exactly what the
 * parser accepts, since both come from cli_commands. */
#include "check.h"

#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"

/* argv for c: its operands, then every option (with a value where it takes
 * one), then extra when not NULL. */
static int build_argv(const cli_command *c, char **argv, const char *extra)
{
    static char operand[] = "x", value[] = "1";
    int n = 0;
    for (int i = 0; i < c->min_operands; i++)
        argv[n++] = operand;
    for (const cli_option *o = c->options; o->name; o++) {
        argv[n++] = (char *)o->name;
        if (o->value)
            argv[n++] = value;
    }
    if (extra)
        argv[n++] = (char *)extra;
    return n;
}

TEST(cli_every_listed_option_of_every_command_is_accepted)
{
    char *argv[64], why[512];
    cli_args a;
    for (const cli_command *c = cli_commands; c->words; c++) {
        int n = build_argv(c, argv, NULL);
        int rc = cli_parse(c, n, argv, &a, why, sizeof why);
        CHECK_MSG(rc == 0, "migr %s with every option it lists: %s", c->words, why);
        for (const cli_option *o = c->options; o->name; o++)
            CHECK_MSG(cli_value(&a, o->name) != NULL, "migr %s: %s given but not seen", c->words, o->name);
    }
}

TEST(cli_an_option_no_command_lists_is_refused_naming_it)
{
    char *argv[64], why[512];
    cli_args a;
    for (const cli_command *c = cli_commands; c->words; c++) {
        int n = build_argv(c, argv, "--no-such-option");
        CHECK_MSG(cli_parse(c, n, argv, &a, why, sizeof why) < 0, "migr %s took --no-such-option", c->words);
        CHECK_MSG(strstr(why, "unknown option \"--no-such-option\"") && strstr(why, "--help"),
                  "migr %s: the refusal does not name the option and --help: %s", c->words, why);
    }
}

TEST(cli_required_options_and_operands_are_required)
{
    char *argv[64], why[512];
    cli_args a;
    for (const cli_command *c = cli_commands; c->words; c++) {
        if (c->min_operands > 0) {
            int n = build_argv(c, argv, NULL);
            CHECK_MSG(cli_parse(c, n - c->min_operands, argv + c->min_operands, &a, why, sizeof why) < 0,
                      "migr %s accepted no %s", c->words, c->operands);
        }
        for (const cli_option *o = c->options; o->name; o++) {
            if (!o->required)
                continue;
            int n = 0;
            for (int i = 0; i < c->min_operands; i++)
                argv[n++] = "x";
            for (const cli_option *other = c->options; other->name; other++) {
                if (other == o)
                    continue;
                argv[n++] = (char *)other->name;
                if (other->value)
                    argv[n++] = "1";
            }
            CHECK_MSG(cli_parse(c, n, argv, &a, why, sizeof why) < 0 && strstr(why, o->name),
                      "migr %s without %s: %s", c->words, o->name, why);
        }
    }
}

TEST(cli_help_of_every_command_shows_its_words_and_every_option)
{
    for (const cli_command *c = cli_commands; c->words; c++) {
        char *text = NULL, *all = NULL;
        size_t len = 0, alllen = 0;
        FILE *f = open_memstream(&text, &len), *g = open_memstream(&all, &alllen);
        CHECK(f && g);
        cli_print_help(f, c);
        cli_print_commands(g, NULL);
        fclose(f);
        fclose(g);
        int ok = strncmp(text, "usage: migr ", 12) == 0 && strncmp(text + 12, c->words, strlen(c->words)) == 0;
        const char *missing = NULL, *where = NULL;
        for (const cli_option *o = c->options; o->name && !missing; o++) {
            char listed[64];
            snprintf(listed, sizeof listed, "\n  %s", o->name);   /* its line under Options */
            if (!strstr(text, listed))
                missing = o->name, where = "its Options";
        }
        char line[128];
        snprintf(line, sizeof line, "  migr %s", c->words);
        int in_top = strstr(all, line) != NULL;
        free(text);
        free(all);
        CHECK_MSG(ok, "migr %s --help does not start with its usage line", c->words);
        CHECK_MSG(!missing, "migr %s --help: %s is missing from %s", c->words, missing, where);
        CHECK_MSG(in_top, "migr --help does not list migr %s", c->words);
    }
}
