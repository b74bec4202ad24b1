/* run.c -- migr run submit | list | show | watch | logs | cancel, and
 * migr ckpt list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/runconfig.h"

static double metric(json_t *m, const char *name)
{
    return json_number_value(json_object_get(m, name));
}

static void print_run(json_t *r)
{
    json_t *err = json_object_get(r, "error"), *t;
    char tags[256] = "";
    size_t i, len = 0;
    json_array_foreach(json_object_get(r, "tags"), i, t)
        if (len < sizeof tags)
            len += (size_t)snprintf(tags + len, sizeof tags - len, "%s%s", i ? "," : "", json_string_value(t));
    printf("%-5lld %-20s %-5s %-10s %5lld/%-5lld %-12s %-16s %s\n",
           (long long)json_integer_value(json_object_get(r, "id")), json_string_value(json_object_get(r, "name")),
           json_string_value(json_object_get(r, "kind")), json_string_value(json_object_get(r, "state")),
           (long long)json_integer_value(json_object_get(r, "step")),
           (long long)json_integer_value(json_object_get(r, "steps")),
           json_is_string(json_object_get(r, "dataset")) ? json_string_value(json_object_get(r, "dataset")) : "",
           tags, json_is_string(err) ? json_string_value(err) : "");
}

/* One step's metrics: SFT's four, then GRPO's rewards and KL when present. */
static void print_step(FILE *out, json_t *m)
{
    const char *name;
    json_t *v;
    fprintf(out, "step %5lld  loss %.4f  grad_norm %.4f  lr %.2e  %.0f tokens/s",
           (long long)json_integer_value(json_object_get(m, "step")), metric(m, "loss"),
           metric(m, "grad_norm"), metric(m, "lr"), metric(m, "tokens_per_s"));
    if (json_object_get(m, "reward_mean"))
        fprintf(out, "  reward %.3f +- %.3f  zero-var %.2f  kl %.4f", metric(m, "reward_mean"), metric(m, "reward_std"),
               metric(m, "zero_variance_share"), metric(m, "kl"));
    json_object_foreach(m, name, v)
        if (strncmp(name, "reward_", 7) == 0 && strcmp(name, "reward_mean") != 0 && strcmp(name, "reward_std") != 0)
            fprintf(out, "  %s %.3f", name + 7, json_number_value(v));
    fputc('\n', out);
}

static void print_runs(json_t *list)
{
    size_t i;
    json_t *run;
    printf("%-5s %-20s %-5s %-10s %-11s %-12s %-16s %s\n", "ID", "NAME", "KIND", "STATE", "STEP", "DATASET", "TAGS",
           "ERROR");
    json_array_foreach(list, i, run)
        print_run(run);
}

/* A rate of m and, when m has one, its 95% interval. */
static void print_rate(const char *name, json_t *m)
{
    json_t *v = json_object_get(m, name), *ci = json_object_get(json_object_get(m, "ci"), name);
    if (!json_is_number(v)) {
        printf("  %-22s %7s\n", name, "n/a");
        return;
    }
    printf("  %-22s %6.2f%%", name, 100 * json_number_value(v));
    if (json_array_size(ci) == 2)
        printf("  (95%% interval %.1f%% to %.1f%%)", 100 * json_number_value(json_array_get(ci, 0)),
               100 * json_number_value(json_array_get(ci, 1)));
    putchar('\n');
}

static void print_eval(json_t *e)
{
    static const char *rates[] = {"war", "uar", "format_rate", "correct_consistent", "correct_inconsistent",
                                  "wrong_consistent", "wrong_inconsistent", "mi_order_agreement", "grounding"};
    json_t *m = json_object_get(e, "metrics");
    printf("checkpoint %s (step %lld), %lld clips\n", json_string_value(json_object_get(e, "ckpt_path")),
           (long long)json_integer_value(json_object_get(e, "ckpt_step")),
           (long long)json_integer_value(json_object_get(e, "clips")));
    if (!json_is_object(m))
        return;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        print_rate(rates[i], m);
}

static void print_run_detail(json_t *r)
{
    print_run(r);
    json_t *m = json_object_get(r, "metrics"), *e = json_object_get(r, "eval");
    if (json_object_get(m, "step"))
        print_step(stdout, m);
    if (json_is_object(e))
        print_eval(e);
    size_t i;
    json_t *sample;
    json_array_foreach(json_object_get(r, "samples"), i, sample)
        printf("sample: %s\n", json_string_value(json_object_get(sample, "text")));
    json_array_foreach(json_object_get(r, "warnings"), i, sample)
        printf("warning: %s\n", json_string_value(sample));
}

static void print_checkpoints(json_t *list)
{
    size_t i;
    json_t *c;
    printf("%-5s %-6s %-64s %s\n", "RUN", "STEP", "SHA256", "PATH");
    json_array_foreach(list, i, c)
        printf("%-5lld %-6lld %-64s %s\n", (long long)json_integer_value(json_object_get(c, "run")),
               (long long)json_integer_value(json_object_get(c, "step")),
               json_string_value(json_object_get(c, "sha256")), json_string_value(json_object_get(c, "path")));
}

static int parse_id(const char *s, long long *id)
{
    char *end;
    *id = strtoll(s, &end, 10);
    return *end || *id < 1 ? -1 : 0;
}

static int request_or_report(const migr_home *home, const char *verb, json_t *args, json_t **out)
{
    int status;
    migr_err err;
    *out = cli_request(home, verb, args, 10000, &status, &err);
    if (!*out)
        fprintf(stderr, "migr: %s\n", err.msg);
    return *out ? EXIT_OK : status;
}

/* Print steps to out as they complete until the run ends; exit 0 if it
 * succeeded. */
static int watch(const migr_home *home, long long id, FILE *out)
{
    long long next = 1;
    for (;;) {
        json_t *r;
        int rc = request_or_report(home, "run.metrics", json_pack("{s:I, s:I}", "id", (json_int_t)id,
                                   "since", (json_int_t)next), &r);
        if (rc != EXIT_OK)
            return rc;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(r, "steps_done"), i, m) {
            if (isatty(STDERR_FILENO))
                fputs("\r\033[K", stderr);
            print_step(out, m);
            next = json_integer_value(json_object_get(m, "step")) + 1;
        }
        fflush(out);
        const char *state = json_string_value(json_object_get(r, "state"));
        cli_progress(state, (long)json_integer_value(json_object_get(r, "step")),
                     (long)json_integer_value(json_object_get(r, "steps")));
        if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0) {
            cli_progress_end();
            json_t *e = json_object_get(r, "error");
            size_t k;
            json_t *w;
            json_array_foreach(json_object_get(r, "warnings"), k, w)
                fprintf(out, "warning: %s\n", json_string_value(w));
            fprintf(out, "run %lld %s%s%s\n", id, state, json_is_string(e) ? ": " : "",
                   json_is_string(e) ? json_string_value(e) : "");
            rc = strcmp(state, "succeeded") == 0 ? EXIT_OK : EXIT_FAIL;
            json_decref(r);
            return rc;
        }
        json_decref(r);
        usleep(300 * 1000);
    }
}

json_t *cli_run_config(const cli_args *a, const char *path, int *code)
{
    runconfig rc;
    migr_err err;

    *code = EXIT_USAGE;
    runconfig_defaults(&rc);
    if (runconfig_load_yaml(path, &rc, &err) < 0) {
        fprintf(stderr, "migr %s: %s\n", a->cmd->words, err.msg);
        return NULL;
    }
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "--set") == 0 && runconfig_set(&rc, a->value[i], &err) < 0) {
            fprintf(stderr, "migr %s: --set %s: %s\n", a->cmd->words, a->value[i], err.msg);
            return NULL;
        }
    }
    if (runconfig_check(&rc, &err) < 0) {
        fprintf(stderr, "migr %s: %s\n", a->cmd->words, err.msg);
        return NULL;
    }
    json_t *cfg = runconfig_to_json(&rc);
    if (!cfg) {
        *code = EXIT_FAIL;
        fprintf(stderr, "migr %s: out of memory\n", a->cmd->words);
    }
    return cfg;
}

int cmd_run_submit(const migr_home *home, const cli_args *a)
{
    json_t *r;
    int code;
    json_t *cfg = cli_run_config(a, a->operand[0], &code);
    if (!cfg)
        return code;
    json_t *tags = json_array();
    for (int i = 0; i < a->nopts; i++)
        if (!strcmp(a->opt[i]->name, "--tag"))
            json_array_append_new(tags, json_string(a->value[i]));
    code = request_or_report(home, "run.submit", json_pack("{s:o, s:o}", "config", cfg, "tags", tags), &r);
    if (code != EXIT_OK)
        return code;
    long long id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    printf("%lld\n", id);
    fflush(stdout);
    /* Only the id goes to stdout, as for a submit without --wait: the steps
     * followed are progress. */
    return cli_flag(a, "--wait") ? watch(home, id, stderr) : EXIT_OK;
}

/* Print the events after event *seen and the steps after step *step, and
 * move both on. */
static void print_logs(json_t *r, long long *seen, long long *step)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "events"), i, e) {
        if (json_integer_value(json_object_get(e, "id")) <= *seen)
            continue;
        *seen = json_integer_value(json_object_get(e, "id"));
        json_t *d = json_object_get(e, "detail"), *tk = json_object_get(e, "task_kind");
        char when[40], task[64] = "";
        cli_format_time(when, sizeof when, json_integer_value(json_object_get(e, "at_ms")));
        if (json_integer_value(json_object_get(e, "task_id")) > 0)
            snprintf(task, sizeof task, "task %lld (%s)", (long long)json_integer_value(json_object_get(e, "task_id")),
                     json_is_string(tk) ? json_string_value(tk) : "?");
        printf("%s  %-14s %-20s %s\n", when, json_string_value(json_object_get(e, "kind")), task,
               json_is_string(d) ? json_string_value(d) : "");
    }
    json_array_foreach(json_object_get(r, "metrics"), i, e) {
        if (json_integer_value(json_object_get(e, "step")) <= *step)
            continue;
        *step = json_integer_value(json_object_get(e, "step"));
        print_step(stdout, e);
    }
    fflush(stdout);
}

/* A run's events and steps; with follow, new ones as they come until the
 * run ends (exit 0 if it succeeded). */
static int logs(const migr_home *home, long long id, int json, int follow)
{
    long long seen = 0, step = -1;
    for (;;) {
        json_t *r = NULL, *run = NULL;
        /* The state before the logs: a run that had ended by then has all
         * its steps and events in them (asked the other way round, a run
         * ending between the two answers lost its last ones). */
        int rc = follow ? request_or_report(home, "run.show", json_pack("{s:I}", "id", (json_int_t)id), &run)
                        : EXIT_OK;
        if (rc == EXIT_OK)
            rc = request_or_report(home, "run.logs", json_pack("{s:I}", "id", (json_int_t)id), &r);
        if (rc != EXIT_OK) {
            json_decref(run);
            json_decref(r);
            return rc;
        }
        if (json)
            cli_print_json(r);
        else
            print_logs(r, &seen, &step);
        json_decref(r);
        if (!follow)
            return EXIT_OK;
        const char *state = json_string_value(json_object_get(run, "state"));
        int done = strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
        rc = strcmp(state, "succeeded") == 0 ? EXIT_OK : EXIT_FAIL;
        json_decref(run);
        if (done)
            return rc;
        usleep(500 * 1000);
    }
}

/* The run id operand of a, or -1 after saying what is wrong with it. */
static long long run_id(const cli_args *a)
{
    long long id;
    if (parse_id(a->operand[0], &id) < 0) {
        fprintf(stderr, "migr %s: \"%s\" is not a run id (see migr run list)\n", a->cmd->words,
                a->operand[0]);
        return -1;
    }
    return id;
}

int cmd_run_list(const migr_home *home, const cli_args *a)
{
    json_t *args = json_object();
    long long limit = 0;
    if (cli_int(a, "--limit", 1, 1000000, &limit) < 0) {
        json_decref(args);
        return EXIT_USAGE;
    }
    for (int i = 0; i < a->nopts; i++)
        if (a->value[i] && strcmp(a->opt[i]->name, "--limit") != 0)
            json_object_set_new(args, a->opt[i]->name + 2, json_string(a->value[i]));
    if (limit)
        json_object_set_new(args, "limit", json_integer(limit));
    return cli_show(home, "run.list", args, cli_flag(a, "--json"), print_runs);
}

static void print_retried(json_t *r)
{
    json_t *from = json_object_get(r, "resumed_from_step");
    if (from)
        fprintf(stderr, "run %lld takes up run %lld from its checkpoint of step %lld\n",
                (long long)json_integer_value(json_object_get(r, "id")),
                (long long)json_integer_value(json_object_get(r, "retry_of")), (long long)json_integer_value(from));
    printf("%lld\n", (long long)json_integer_value(json_object_get(r, "id")));
}

int cmd_run_retry(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    return id < 0 ? EXIT_USAGE
                  : cli_show(home, "run.retry", json_pack("{s:I, s:b}", "id", (json_int_t)id, "fresh",
                                                          cli_flag(a, "--fresh")),
                             cli_flag(a, "--json"), print_retried);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every recorded metric of every step as CSV: step, then the metric names
 * in order. */
static void print_csv(json_t *run)
{
    json_t *steps = json_object_get(run, "steps_done"), *m, *v;
    json_t *names = json_object();
    const char *name;
    size_t i;
    json_array_foreach(steps, i, m)
        json_object_foreach(m, name, v)
            if (strcmp(name, "step") != 0)
                json_object_set_new(names, name, json_true());
    const char **order = malloc((json_object_size(names) + 1) * sizeof *order);
    size_t n = 0;
    if (!order) {
        json_decref(names);
        fprintf(stderr, "migr run metrics: out of memory\n");
        return;
    }
    json_object_foreach(names, name, v)
        order[n++] = name;
    qsort(order, n, sizeof *order, cmp_str);
    printf("step");
    for (size_t k = 0; k < n; k++)
        printf(",%s", order[k]);
    putchar('\n');
    json_array_foreach(steps, i, m) {
        printf("%lld", (long long)json_integer_value(json_object_get(m, "step")));
        for (size_t k = 0; k < n; k++) {
            v = json_object_get(m, order[k]);
            if (json_is_number(v))
                printf(",%.17g", json_number_value(v));
            else
                putchar(',');
        }
        putchar('\n');
    }
    free(order);
    json_decref(names);
}

int cmd_run_metrics(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    if (id < 0)
        return EXIT_USAGE;
    if (cli_flag(a, "--csv") && cli_flag(a, "--json")) {
        fprintf(stderr, "migr run metrics: give --csv or --json, not both\n");
        return EXIT_USAGE;
    }
    return cli_show(home, "run.metrics", json_pack("{s:I, s:I}", "id", (json_int_t)id, "since", (json_int_t)0),
                    cli_flag(a, "--json"), print_csv);
}

int cmd_run_show(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    return id < 0 ? EXIT_USAGE
                  : cli_show(home, "run.show", json_pack("{s:I}", "id", (json_int_t)id), cli_flag(a, "--json"),
                             print_run_detail);
}

int cmd_run_watch(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    return id < 0 ? EXIT_USAGE : watch(home, id, stdout);
}

int cmd_run_logs(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    return id < 0 ? EXIT_USAGE : logs(home, id, cli_flag(a, "--json"), cli_flag(a, "--follow"));
}

int cmd_run_cancel(const migr_home *home, const cli_args *a)
{
    long long id = run_id(a);
    return id < 0 ? EXIT_USAGE
                  : cli_show(home, "run.cancel", json_pack("{s:I}", "id", (json_int_t)id), 0, print_run_detail);
}

int cmd_ckpt_list(const migr_home *home, const cli_args *a)
{
    long long id = 0;
    if (a->noperands && (id = run_id(a)) < 0)
        return EXIT_USAGE;
    json_t *args = id > 0 ? json_pack("{s:I}", "run", (json_int_t)id) : json_object();
    return cli_show(home, "ckpt.list", args, cli_flag(a, "--json"), print_checkpoints);
}
