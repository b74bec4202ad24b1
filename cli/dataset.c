/* dataset.c -- migr workers, migr dataset synth | add | list | show. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char dataset_usage[] =
    "usage: migr dataset synth NAME --clips N [--seed S] [--config FILE] [--wait]\n"
    "       migr dataset add NAME --manifest FILE [--annotations FILE] [--wait]\n"
    "       migr dataset mi NAME [--tau T] [--folds K] [--seed S] [--wait]\n"
    "       migr dataset instruments NAME [--seed S] [--wait]\n"
    "       migr dataset list [--json]\n"
    "       migr dataset show NAME [--json]\n"
    "\n"
    "synth  write a synthetic DFEW-format dataset (real MP4s, clue annotations) into\n"
    "       the store and ingest it; FILE is a YAML generator config (see examples/).\n"
    "add    ingest a DFEW-style manifest: CSV rows \"clip path,label[,subtitle]\", paths\n"
    "       relative to the manifest; annotations are JSON lines keyed by \"clip\".\n"
    "mi     modality importance of every clip: probes trained with modality dropout,\n"
    "       cross-fitted over K folds (default 5), score p(label | only m) for visual,\n"
    "       audio and text; the dominant modality beats the runner-up by tau (default\n"
    "       0.1), else the clip is multimodal.  `show` reports the distribution.\n"
    "instruments  train the GRPO reward verifier (word n-grams, on clue sentences)\n"
    "       and the evaluation judge (character n-grams, on <think> texts) on\n"
    "       disjoint halves of the annotated clips.\n"
    "--wait follow the work to the end, with a progress bar on a terminal.\n";

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
}

static void print_instruments(json_t *inst)
{
    const char *state = json_string_value(json_object_get(inst, "state"));
    json_t *t = json_object_get(inst, "trained");
    if (!state || !strcmp(state, "none"))
        return;
    printf("verifier and judge: %s", state);
    if (json_is_object(t))
        printf(" (verifier %.1f%% on %s, judge %.1f%% on held-out think texts)",
               100 * json_number_value(json_object_get(t, "verifier_accuracy")), "held-out clue sentences",
               100 * json_number_value(json_object_get(t, "judge_accuracy")));
    else if (json_is_string(json_object_get(inst, "error")))
        printf(" (%s)", json_string_value(json_object_get(inst, "error")));
    putchar('\n');
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
    printf("%-24s %-8s %-20s %-6s %s\n", "ID", "PID", "HOST", "STATE", "TASKS");
    json_array_foreach(list, i, w) {
        printf("%-24s %-8lld %-20s %-6s %lld\n", json_string_value(json_object_get(w, "id")),
               (long long)json_integer_value(json_object_get(w, "pid")),
               json_string_value(json_object_get(w, "host")), json_string_value(json_object_get(w, "state")),
               (long long)json_integer_value(json_object_get(w, "tasks")));
    }
}

int cmd_workers(const migr_home *home, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: migr workers [--json]\n\nList the workers connected to migrd: "
               "[{\"id\",\"pid\",\"host\",\"state\",...}].\n");
        return EXIT_OK;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "migr workers: unknown argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    return cli_show(home, "workers", json_object(), cli_has_flag(argc, argv, "--json"), print_workers);
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

/* Parse "NAME --flag value ... [--wait]" into args; returns an exit code or -1 to go on. */
static int parse_ingest(int argc, char **argv, const char *const *flags, json_t *args, int *wait)
{
    if (argc < 1 || argv[0][0] == '-') {
        fputs(dataset_usage, stderr);
        return EXIT_USAGE;
    }
    json_object_set_new(args, "name", json_string(argv[0]));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait")) {
            *wait = 1;
            continue;
        }
        int known = 0;
        for (const char *const *f = flags; *f; f++)
            known |= strcmp(argv[i], *f) == 0;
        if (!known || i + 1 >= argc) {
            fprintf(stderr, "migr dataset: unknown or incomplete argument \"%s\"\n\n%s", argv[i], dataset_usage);
            return EXIT_USAGE;
        }
        const char *key = argv[i] + 2, *value = argv[++i];
        if (!strcmp(key, "clips") || !strcmp(key, "seed")) {
            char *end;
            long long v = strtoll(value, &end, 10);
            if (*end || v < 0) {
                fprintf(stderr, "migr dataset: --%s needs a non-negative integer, got \"%s\"\n", key, value);
                return EXIT_USAGE;
            }
            json_object_set_new(args, key, json_integer(v));
        } else {
            char abs[PATH_MAX];
            if (!realpath(value, abs)) {
                fprintf(stderr, "migr dataset: cannot find %s \"%s\"\n", key, value);
                return EXIT_FAIL;
            }
            json_object_set_new(args, key, json_string(abs));
        }
    }
    return -1;
}

static int ingest(const migr_home *home, const char *verb, int argc, char **argv,
                  const char *const *flags, const char *required)
{
    int wait = 0, status;
    migr_err err;
    json_t *args = json_object();
    int rc = parse_ingest(argc, argv, flags, args, &wait);
    if (rc < 0 && !json_object_get(args, required)) {
        fprintf(stderr, "migr dataset: --%s is required\n\n%s", required, dataset_usage);
        rc = EXIT_USAGE;
    }
    if (rc >= 0) {
        json_decref(args);
        return rc;
    }
    json_t *r = cli_request(home, verb, args, 60000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return status;
    }
    printf("dataset %s: %lld clips queued\n", json_string_value(json_object_get(r, "name")),
           (long long)json_integer_value(json_object_get(r, "clips")));
    json_decref(r);
    return wait ? wait_dataset(home, argv[0]) : EXIT_OK;
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

/* A numeric option of a dataset job and its default. */
typedef struct job_option {
    const char *flag;    /* "--tau" */
    double value;
    int integer;         /* sent as a JSON integer */
} job_option;

/* migr dataset JOB NAME [--option value]... [--wait]: queue the dataset job
 * (request "dataset.JOB", the options as numbers), then optionally follow it. */
static int dataset_job(const migr_home *home, int argc, char **argv, const char *job, job_option *opts,
                       int nopts, const char *what)
{
    int wait = 0, status;
    migr_err err;
    char verb[64];

    if (argc < 1 || argv[0][0] == '-') {
        fputs(dataset_usage, stderr);
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        char *end = argv[i];
        if (!strcmp(argv[i], "--wait")) {
            wait = 1;
            continue;
        }
        for (int k = 0; k < nopts && i + 1 < argc; k++) {
            if (strcmp(argv[i], opts[k].flag) != 0)
                continue;
            opts[k].value = strtod(argv[++i], &end);
            if (opts[k].integer && opts[k].value != (double)(long long)opts[k].value)
                end = argv[i];   /* an integer option given a fraction */
            break;
        }
        if (*end) {
            fprintf(stderr, "migr dataset %s: bad or incomplete argument \"%s\"\n\n%s", job, argv[i], dataset_usage);
            return EXIT_USAGE;
        }
    }
    json_t *args = json_pack("{s:s}", "name", argv[0]);
    for (int k = 0; k < nopts; k++)
        json_object_set_new(args, opts[k].flag + 2, opts[k].integer ? json_integer((json_int_t)opts[k].value)
                                                                    : json_real(opts[k].value));
    snprintf(verb, sizeof verb, "dataset.%s", job);
    json_t *r = cli_request(home, verb, args, 60000, &status, &err);
    if (!r) {
        fprintf(stderr, "migr: %s\n", err.msg);
        return status;
    }
    json_decref(r);
    printf("dataset %s: %s queued\n", argv[0], what);
    return wait ? wait_job(home, argv[0], job) : EXIT_OK;
}

int cmd_dataset(const migr_home *home, int argc, char **argv)
{
    static const char *const synth_flags[] = {"--clips", "--seed", "--config", NULL};
    static const char *const add_flags[] = {"--manifest", "--annotations", NULL};
    int json = cli_has_flag(argc, argv, "--json");

    if (argc < 1 || cli_wants_help(argc, argv)) {
        fputs(dataset_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[0], "synth"))
        return ingest(home, "dataset.synth", argc - 1, argv + 1, synth_flags, "clips");
    if (!strcmp(argv[0], "add"))
        return ingest(home, "dataset.add", argc - 1, argv + 1, add_flags, "manifest");
    if (!strcmp(argv[0], "mi")) {
        job_option opts[] = {{"--tau", 0.1, 0}, {"--folds", 5, 1}, {"--seed", 1, 1}};
        return dataset_job(home, argc - 1, argv + 1, "mi", opts, 3, "modality importance");
    }
    if (!strcmp(argv[0], "instruments")) {
        job_option opts[] = {{"--seed", 1, 1}};
        return dataset_job(home, argc - 1, argv + 1, "instruments", opts, 1, "verifier and judge training");
    }
    if (!strcmp(argv[0], "list") && argc == 1 + json)
        return cli_show(home, "dataset.list", json_object(), json, print_datasets);
    if (!strcmp(argv[0], "show") && argc == 2 + json && argv[1][0] != '-')
        return cli_show(home, "dataset.show", json_pack("{s:s}", "name", argv[1]), json, print_dataset);
    fputs(dataset_usage, stderr);
    return EXIT_USAGE;
}
