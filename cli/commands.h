/* commands.h -- every migr command, its operands and its options, in one
 * table (commands.c).  The parser accepts exactly what the table lists and
 * every --help text is generated from it, so the two cannot drift apart. */
#ifndef MIGR_CLI_COMMANDS_H
#define MIGR_CLI_COMMANDS_H

#include <stdio.h>

#include "common/home.h"

enum { CLI_MAX_OPERANDS = 2, CLI_MAX_OPTIONS = 64 };

typedef struct cli_option {
    const char *name;      /* "--clips" */
    const char *value;     /* what it takes ("N"), NULL for a flag */
    int required;
    int repeats;           /* may be given more than once */
    const char *help;
} cli_option;

struct cli_args;

typedef struct cli_command {
    const char *words;     /* "dataset synth" */
    const char *operands;  /* "NAME", "[RUN]"; NULL for none */
    int min_operands, max_operands;
    const cli_option *options; /* ends with {NULL} */
    const char *summary;   /* one line, for migr --help */
    const char *details;   /* more, for migr WORDS --help; may be NULL */
    int (*run)(const migr_home *home, const struct cli_args *args);
} cli_command;

/* A command line parsed against its command's entry. */
typedef struct cli_args {
    const cli_command *cmd;
    const char *operand[CLI_MAX_OPERANDS];
    int noperands;
    const cli_option *opt[CLI_MAX_OPTIONS]; /* in the order given */
    const char *value[CLI_MAX_OPTIONS];     /* NULL for a flag */
    int nopts;
} cli_args;

/* The table, ending with {NULL}. */
extern const cli_command cli_commands[];

/* The commands whose first word is group (every one for NULL), in table
 * order, are printed as "  migr WORDS SYNOPSIS" lines with their summary. */
void cli_print_commands(FILE *out, const char *group);

/* The full help of one command: usage, summary, details, options. */
void cli_print_help(FILE *out, const cli_command *cmd);

/* Find the command that argv (after "migr") names; *used is set to the
 * words it takes (1 or 2).  NULL if none. */
const cli_command *cli_find(int argc, char **argv, int *used);

/* Parse the arguments after the command's words.  Returns 0 with *a
 * filled, 1 when they ask for --help, -1 with why filled (what was wrong
 * and what to do) on a usage error. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *a, char *why, size_t cap);

/* Run the command line argv (after "migr") as if typed: find, parse, run.
 * Returns its exit code. */
int cli_run_line(const migr_home *home, int argc, char **argv);

/* The last value given to option name, or NULL. */
const char *cli_value(const cli_args *a, const char *name);
/* 1 if flag name was given. */
int cli_flag(const cli_args *a, const char *name);

#endif
