/* cli.h -- pieces shared by the migr commands. */
#ifndef MIGR_CLI_H
#define MIGR_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/home.h"

/* Exit codes of every command. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Send verb with args (a JSON object or NULL; consumed) to migrd and wait up to
 * timeout_ms.  Returns the reply body (the caller's) or NULL with err set and
 * *status 1 (failure, including an unreachable migrd) or 2 (usage). */
json_t *cli_request(const migr_home *home, const char *verb, json_t *args, int timeout_ms,
                    int *status, migr_err *err);

/* Whether this side can talk to migrd as far as keys go: 0 when CURVE is
 * not in use or its key pair is readable, -1 with err saying what to do. */
int cli_check_keys(const migr_home *home, migr_err *err);

/* Request verb (args consumed) and print the reply: as JSON with json set,
 * else through human.  Returns an exit code; errors go to stderr. */
int cli_show(const migr_home *home, const char *verb, json_t *args, int json, void (*human)(json_t *));

/* Print v as indented JSON on stdout. */
void cli_print_json(json_t *v);

/* Draw "label [#####.....] done/total" on stderr when it is a terminal. */
void cli_progress(const char *label, long done, long total);
void cli_progress_end(void);

/* The commands of the table in commands.c, each given its parsed command
 * line (operands and options as the table declares them).  They return an
 * exit code. */
int cmd_up(const migr_home *home, const cli_args *a);
int cmd_down(const migr_home *home, const cli_args *a);
int cmd_keygen(const migr_home *home, const cli_args *a);
int cmd_workers(const migr_home *home, const cli_args *a);
int cmd_dataset_synth(const migr_home *home, const cli_args *a);
int cmd_dataset_add(const migr_home *home, const cli_args *a);
int cmd_dataset_mi(const migr_home *home, const cli_args *a);
int cmd_dataset_instruments(const migr_home *home, const cli_args *a);
int cmd_dataset_list(const migr_home *home, const cli_args *a);
int cmd_dataset_show(const migr_home *home, const cli_args *a);
int cmd_run_submit(const migr_home *home, const cli_args *a);
int cmd_run_list(const migr_home *home, const cli_args *a);
int cmd_run_show(const migr_home *home, const cli_args *a);
int cmd_run_watch(const migr_home *home, const cli_args *a);
int cmd_run_logs(const migr_home *home, const cli_args *a);
int cmd_run_cancel(const migr_home *home, const cli_args *a);
int cmd_run_retry(const migr_home *home, const cli_args *a);
int cmd_run_metrics(const migr_home *home, const cli_args *a);
int cmd_ckpt_list(const migr_home *home, const cli_args *a);
int cmd_sample(const migr_home *home, const cli_args *a);
int cmd_demo(const migr_home *home, const cli_args *a);
int cmd_bench_dispatch(const migr_home *home, const cli_args *a);
int cmd_schedule_add(const migr_home *home, const cli_args *a);
int cmd_schedule_list(const migr_home *home, const cli_args *a);
int cmd_schedule_show(const migr_home *home, const cli_args *a);
int cmd_schedule_rm(const migr_home *home, const cli_args *a);
int cmd_schedule_pause(const migr_home *home, const cli_args *a);
int cmd_schedule_resume(const migr_home *home, const cli_args *a);
int cmd_schedule_run(const migr_home *home, const cli_args *a);

/* The run config of YAML file path with a's --set options applied and
 * checked, as migrd takes it; NULL after saying what is wrong, with *code
 * the exit code. */
json_t *cli_run_config(const cli_args *a, const char *path, int *code);

/* ms since the epoch as local "YYYY-MM-DD HH:MM:SS.mmm" into buf. */
void cli_format_time(char *buf, size_t cap, int64_t ms);

/* Start migrd (with --insecure if insecure is set) and workers local workers
 * for home, as `migr up` does; stop what `migr up` started.  Exit codes. */
int cli_up(const migr_home *home, long workers, int insecure);
int cli_down(const migr_home *home);
/* The parts of cli_up and cli_down, quiet: start migrd with args (up to 14,
 * NULL-terminated; NULL for none) and wait until it answers; start workers local-FIRST.. local-(FIRST+N-1),
 * each with --threads pool_share(pool_cpus(), N), and wait until
 * migrd lists FIRST+N workers; stop them all, returning how many. */
int cli_start_migrd(const migr_home *home, const char *const *args, migr_err *err);
int cli_start_workers(const migr_home *home, long first, long n, migr_err *err);
int cli_stop(const migr_home *home);
/* The pid in a pid file `migr up` wrote, or -1 when it cannot be read. */
pid_t cli_read_pid(const char *path);

/* Option name's value as an integer in lo..hi, or as a number in lo..hi
 * (hi itself excluded with hi_open), into *out; *out keeps its default when
 * the option was not given.  On a bad value prints "migr WORDS: NAME needs
 * ... got ..." and returns -1. */
int cli_int(const cli_args *a, const char *name, long long lo, long long hi, long long *out);
int cli_real(const cli_args *a, const char *name, double lo, double hi, int hi_open, double *out);

#endif
