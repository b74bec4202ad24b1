/* cli.h -- pieces shared by the migr commands. */
#ifndef MIGR_CLI_H
#define MIGR_CLI_H

#include <jansson.h>

#include "common/error.h"
#include "common/home.h"

/* Exit codes of every command. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Send verb with args (a JSON object or NULL; consumed) to migrd and wait up to
 * timeout_ms.  Returns the reply body (the caller's) or NULL with err set and
 * *status 1 (failure, including an unreachable migrd) or 2 (usage). */
json_t *cli_request(const migr_home *home, const char *verb, json_t *args, int timeout_ms,
                    int *status, migr_err *err);

/* Request verb (args consumed) and print the reply: as JSON with json set,
 * else through human.  Returns an exit code; errors go to stderr. */
int cli_show(const migr_home *home, const char *verb, json_t *args, int json, void (*human)(json_t *));

/* Print v as indented JSON on stdout. */
void cli_print_json(json_t *v);

/* Draw "label [#####.....] done/total" on stderr when it is a terminal. */
void cli_progress(const char *label, long done, long total);
void cli_progress_end(void);

/* Commands: argc/argv start after the command word.  Return an exit code. */
int cmd_up(const migr_home *home, int argc, char **argv);
int cmd_down(const migr_home *home, int argc, char **argv);
int cmd_workers(const migr_home *home, int argc, char **argv);
int cmd_dataset(const migr_home *home, int argc, char **argv);
int cmd_run(const migr_home *home, int argc, char **argv);
int cmd_ckpt(const migr_home *home, int argc, char **argv);
int cmd_sample(const migr_home *home, int argc, char **argv);
int cmd_demo(const migr_home *home, int argc, char **argv);

/* 1 if argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);
/* 1 if argv holds --json. */
int cli_has_flag(int argc, char **argv, const char *flag);

#endif
