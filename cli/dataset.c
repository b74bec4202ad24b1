/* dataset.c -- migr workers, migr dataset synth | add | list | show. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/mi.h"

static void print_datasets(json_t *list)
{
    size_t i;
    json_t *d;
    printf("%-20s %-7s %-13s %7s %10s %7s\n", "NAME", "SOURCE", "STATE", "CLIPS", "FEATURIZED", "FAILED");
    json_array_foreach(list, i, d) {
        printf("%-20s %-7s %-13s %7lld %10lld %7lld\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "source")),
               json_string_value(json_object_get(d, "state")),
               (long long)json_integer_value(json_object_get(d, "clips")),
               (long long)json_integer_value(json_object_get(d, "featurized")),
               (long long)json_integer_value(json_object_get(d, "failed")));
    }
}

static void print_counts(const char *title, json_t *obj)
{
    const char *k;
    json_t *v;
    if (json_object_size(obj) == 0)
        return;
    printf("%s:", title);
    json_object_foreach(obj, k, v)
        printf(" %s %lld", k, (long long)json_integer_value(v));
    putchar('\n');
}

static void print_mi(json_t *mi)
{
    const char *state = json_string_value(json_object_get(mi, "state"));
    if (!state || !strcmp(state, "none"))
        return;
    printf("modality importance: %s", state);
    json_t *err = json_object_get(mi, "error");
    if (json_is_string(err) && strcmp(state, "failed") == 0)
        printf(" (%s)", json_string_value(err));
    putchar('\n');
    print_counts("dominant modality (MI)", json_object_get(mi, "dominant"));
    json_t *agree = json_object_get(mi, "generator_agreement");
    if (json_is_number(agree))
        printf("MI agrees with the generator's dominant modality on %.1f%% of %lld clips\n",
               100 * json_number_value(agree), (long long)json_integer_value(json_object_get(mi, "generator_compared")));
    const char *m;
    json_t *by;
    json_object_foreach(json_object_get(mi, "generator_agreement_by_modality"), m, by) {
        json_t *rate = json_object_get(by, "agreement");
        if (json_is_number(rate))
            printf("  generator's %-6s dominant: MI agrees on %.1f%% of %lld (%lld more called multimodal)\n", m,
                   100 * json_number_value(rate),
                   (long long)(json_integer_value(json_object_get(by, "clips")) -
                               json_integer_value(json_object_get(by, "multimodal"))),
                   (long long)json_integer_value(json_object_get(by, "multimodal")));
    }
}

static void print_instruments(json_t *inst)
{
    const char *state = json_string_value(json_object_get(inst, "state"));
    json_t *t = json_object_get(inst, "trained");
    if (!state || !strcmp(state, "none"))
        return;
    printf("verifier and judge: %s", state);
    if (json_is_object(t))
        printf(" (verifier %.1f%% on held-out clue and think sentences, judge %.1f%% on held-out think texts)",
               100 * json_number_value(json_object_get(t, "verifier_accuracy")),
               100 * json_number_value(json_object_get(t, "judge_accuracy")));
    else if (json_is_string(json_object_get(inst, "error")))
        printf(" (%s)", json_string_value(json_object_get(inst, "error")));
    putchar('\n');
    if (json_is_string(json_object_get(inst, "warning")))
        printf("warning: %s\n", json_string_value(json_object_get(inst, "warning")));
}

static void print_dataset(json_t *d)
{
    size_t i;
    json_t *f;
    printf("dataset %s (%s): %s\n", json_string_value(json_object_get(d, "name")),
           json_string_value(json_object_get(d, "source")), json_string_value(json_object_get(d, "state")));
    printf("clips %lld, featurized %lld, failed %lld, pending %lld\n",
           (long long)json_integer_value(json_object_get(d, "clips")),
           (long long)json_integer_value(json_object_get(d, "featurized")),
           (long long)json_integer_value(json_object_get(d, "failed")),
           (long long)json_integer_value(json_object_get(d, "pending")));
    if (json_is_integer(json_object_get(d, "planned")))
        printf("planning: %lld of %lld clips planned%s\n", (long long)json_integer_value(json_object_get(d, "planned")),
               (long long)json_integer_value(json_object_get(d, "planned_of")),
               strcmp(json_string_value(json_object_get(d, "source")), "synth") == 0
                   ? " (the manifest is written last)" : "");
    printf("manifest: %s\n", json_string_value(json_object_get(d, "manifest")));
    print_counts("labels", json_object_get(d, "labels"));
    print_counts("dominant modality (generator)", json_object_get(d, "generator_dominant"));
    print_mi(json_object_get(d, "mi"));
    print_instruments(json_object_get(d, "instruments"));
    json_array_foreach(json_object_get(d, "failures"), i, f) {
        printf("failed clip %lld %s: %s\n", (long long)json_integer_value(json_object_get(f, "clip")),
               json_string_value(json_object_get(f, "path")), json_string_value(json_object_get(f, "reason")));
    }
}

static void print_workers(json_t *list)
{
    size_t i;
    json_t *w;
    printf("%-24s %-8s %-20s %-6s %-5s %s\n", "ID", "PID", "HOST", "STATE", "TASKS", "WORKING ON");
    json_array_foreach(list, i, w) {
        json_t *cur = json_object_get(w, "current");
        printf("%-24s %-8lld %-20s %-6s %-5lld %s\n", json_string_value(json_object_get(w, "id")),
               (long long)json_integer_value(json_object_get(w, "pid")),
               json_string_value(json_object_get(w, "host")), json_string_value(json_object_get(w, "state")),
               (long long)json_integer_value(json_object_get(w, "tasks")),
               json_is_string(cur) ? json_string_value(cur) : "-");
    }
}

int cmd_workers(const migr_home *home, const cli_args *a)
{
    return cli_show(home, "workers", json_object(), cli_flag(a, "--json"), print_workers);
}

/* Follow a dataset until it is ready or failed; then show it. */
static int wait_dataset(const migr_home *home, const char *name)
{
    for (;;) {
        int status;
        migr_err err;
        json_t *d = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 10000, &status, &err);
        if (!d) {
            cli_progress_end();
            fprintf(stderr, "migr: %s\n", err.msg);
            return status;
        }
        const char *state = json_string_value(json_object_get(d, "state"));
        long total = (long)json_integer_value(json_object_get(d, "clips"));
        long done = total - (long)json_integer_value(json_object_get(d, "pending"));
        if (json_is_integer(json_object_get(d, "planned"))) /* migrd is still planning its clips */
            cli_progress("planning", (long)json_integer_value(json_object_get(d, "planned")),
                         (long)json_integer_value(json_object_get(d, "planned_of")));
        else
            cli_progress(state, done, total);
        if (!strcmp(state, "ready") || !strcmp(state, "failed")) {
            cli_progress_end();
            print_dataset(d);
            int rc = strcmp(state, "ready") == 0 ? EXIT_OK : EXIT_FAIL;
            json_decref(d);
            return rc;
        }
        json_decref(d);
        usleep(250 * 1000);
    }
}

/* args[key] = the absolute path of option --key, when given.  Returns an
 * exit code, or -1 to go on. */
static int path_arg(const cli_args *a, const char *key, json_t *args)
{
    char opt[64], abs[PATH_MAX];
    snprintf(opt, sizeof opt, "--%s", key);
    const char *v = cli_value(a, opt);
    if (!v)
        return -1;
    if (!realpath(v, abs)) {
        fprintf(stderr, "migr %s: cannot find %s \"%s\": %s\n", a->cmd->words, opt, v, strerror(errno));
        return EXIT_FAIL;
    }
    json_object_set_new(args, key, json_string(abs));
    return -1;
}

/* Send verb with args (consumed) for dataset NAME, then follow it with --wait. */
static int ingest(const migr_home *home, const cli_args *a, const char *verb, json_t *args)
{
    int status;
    migr_err err;
    json_t *r = cli_request(home, verb, args, 60000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr %s: %s\n", a->cmd->words, err.msg);
        return status;
    }
    printf("dataset %s: %lld clips queued\n", json_string_value(json_object_get(r, "name")),
           (long long)json_integer_value(json_object_get(r, "clips")));
    json_decref(r);
    return cli_flag(a, "--wait") ? wait_dataset(home, a->operand[0]) : EXIT_OK;
}

int cmd_dataset_synth(const migr_home *home, const cli_args *a)
{
    long long clips, seed = 0;
    if (cli_int(a, "--clips", 1, 1000000, &clips) < 0 ||
        cli_int(a, "--seed", 0, INT64_MAX, &seed) < 0)
        return EXIT_USAGE;
    json_t *args = json_pack("{s:s, s:I, s:I}", "name", a->operand[0], "clips", (json_int_t)clips,
                             "seed", (json_int_t)seed);
    int rc = path_arg(a, "config", args);
    if (rc >= 0) {
        json_decref(args);
        return rc;
    }
    return ingest(home, a, "dataset.synth", args);
}

int cmd_dataset_add(const migr_home *home, const cli_args *a)
{
    json_t *args = json_pack("{s:s}", "name", a->operand[0]);
    int rc = path_arg(a, "manifest", args);
    if (rc < 0)
        rc = path_arg(a, "annotations", args);
    if (rc >= 0) {
        json_decref(args);
        return rc;
    }
    return ingest(home, a, "dataset.add", args);
}

/* Follow a dataset's job ("mi", "instruments") until it is done or failed. */
static int wait_job(const migr_home *home, const char *name, const char *job)
{
    for (;;) {
        int status;
        migr_err err;
        json_t *d = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 10000, &status, &err);
        if (!d) {
            fprintf(stderr, "migr: %s\n", err.msg);
            return status;
        }
        const char *state = json_string_value(json_object_get(json_object_get(d, job), "state"));
        if (state && (!strcmp(state, "done") || !strcmp(state, "failed"))) {
            print_dataset(d);
            int rc = strcmp(state, "done") == 0 ? EXIT_OK : EXIT_FAIL;
            json_decref(d);
            return rc;
        }
        json_decref(d);
        usleep(250 * 1000);
    }
}

/* Queue dataset job "dataset.JOB" with args (consumed), then follow it
 * with --wait. */
static int dataset_job(const migr_home *home, const cli_args *a, const char *job, json_t *args,
                       const char *what)
{
    int status;
    migr_err err;
    char verb[64];

    snprintf(verb, sizeof verb, "dataset.%s", job);
    json_object_set_new(args, "name", json_string(a->operand[0]));
    json_t *r = cli_request(home, verb, args, 60000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr %s: %s\n", a->cmd->words, err.msg);
        return status;
    }
    json_decref(r);
    printf("dataset %s: %s queued\n", a->operand[0], what);
    return cli_flag(a, "--wait") ? wait_job(home, a->operand[0], job) : EXIT_OK;
}

int cmd_dataset_mi(const migr_home *home, const cli_args *a)
{
    long long folds = 5, repeats = MI_DEFAULT_REPEATS, seed = 1;
    double tau = 0.1;
    if (cli_real(a, "--tau", 0, 1, 1, &tau) < 0 || cli_int(a, "--folds", 2, 20, &folds) < 0 ||
        cli_int(a, "--repeats", 1, MI_MAX_REPEATS, &repeats) < 0 || cli_int(a, "--seed", 0, INT64_MAX, &seed) < 0)
        return EXIT_USAGE;
    return dataset_job(home, a, "mi", json_pack("{s:f, s:I, s:I, s:I}", "tau", tau, "folds", (json_int_t)folds,
                                                "repeats", (json_int_t)repeats, "seed", (json_int_t)seed),
                       "modality importance");
}

int cmd_dataset_instruments(const migr_home *home, const cli_args *a)
{
    long long seed = 1;
    if (cli_int(a, "--seed", 0, INT64_MAX, &seed) < 0)
        return EXIT_USAGE;
    return dataset_job(home, a, "instruments", json_pack("{s:I}", "seed", (json_int_t)seed),
                       "verifier and judge training");
}

int cmd_dataset_list(const migr_home *home, const cli_args *a)
{
    return cli_show(home, "dataset.list", json_object(), cli_flag(a, "--json"), print_datasets);
}

int cmd_dataset_show(const migr_home *home, const cli_args *a)
{
    return cli_show(home, "dataset.show", json_pack("{s:s}", "name", a->operand[0]), cli_flag(a, "--json"),
                    print_dataset);
}
