/* commands.c -- see commands.h. */
#include "cli/commands.h"

#include <assert.h>
#include <ctype.h>
#include <string.h>

#include "cli/cli.h"

#define JSON_OPT {"--json", NULL, 0, 0, "print JSON instead of a table"}
#define WAIT_OPT {"--wait", NULL, 0, 0, "follow the work to the end (a progress bar on a terminal)"}
#define END_OPT {NULL, NULL, 0, 0, NULL}

static const cli_option up_opts[] = {
    {"--workers", "N", 0, 0, "local workers to start, 0..64 (default 2)"},
    {"--insecure", NULL, 0, 0, "let migrd listen on a non-loopback MIGR_ENDPOINT without CURVE keys"},
    END_OPT};
static const cli_option no_opts[] = {END_OPT};
static const cli_option json_opts[] = {JSON_OPT, END_OPT};
static const cli_option synth_opts[] = {
    {"--clips", "N", 1, 0, "clips to generate, 1..1000000"},
    {"--seed", "S", 0, 0, "generator seed, >= 0 (default 0)"},
    {"--config", "FILE", 0, 0, "a generator config in YAML (see examples/synth.yaml)"},
    WAIT_OPT, END_OPT};
static const cli_option add_opts[] = {
    {"--manifest", "FILE", 1, 0, "CSV rows \"clip path,label[,subtitle]\", paths relative to it"},
    {"--annotations", "FILE", 0, 0, "clue annotations, JSON lines keyed by \"clip\""},
    WAIT_OPT, END_OPT};
static const cli_option mi_opts[] = {
    {"--tau", "T", 0, 0, "margin by which the dominant modality beats the runner-up, 0 <= T < 1 (default 0.1)"},
    {"--folds", "K", 0, 0, "cross-fitting folds, 2..20 (default 5)"},
    {"--repeats", "R", 0, 0, "cross-fits with different folds and probes, MI averaged over them, 1..100 "
                             "(default 10)"},
    {"--seed", "S", 0, 0, "probe seed (default 1)"},
    WAIT_OPT, END_OPT};
static const cli_option instruments_opts[] = {
    {"--seed", "S", 0, 0, "training seed (default 1)"}, WAIT_OPT, END_OPT};
static const cli_option submit_opts[] = {
    {"--set", "key=value", 0, 1, "override a key of the YAML (train.steps=10, dataset=NAME)"},
    {"--tag", "TAG", 0, 1, "label the run, to find it with `migr run list --tag` (letters, digits, _ - . :)"},
    {"--wait", NULL, 0, 0, "follow the run like `migr run watch` and exit 0 if it succeeds"},
    END_OPT};
static const cli_option run_list_opts[] = {
    {"--state", "S", 0, 0, "only runs in state S: queued, running, succeeded, failed or cancelled"},
    {"--kind", "K", 0, 0, "only runs of kind K: sft, grpo or eval"},
    {"--tag", "TAG", 0, 0, "only runs with this tag"},
    {"--name", "NAME", 0, 0, "only runs of this name"},
    {"--limit", "N", 0, 0, "the newest N of those (default all)"},
    JSON_OPT, END_OPT};
static const cli_option retry_opts[] = {
    {"--fresh", NULL, 0, 0, "start over from step 0, even after a checkpoint"}, JSON_OPT, END_OPT};
static const cli_option logs_opts[] = {
    {"--follow", NULL, 0, 0, "print new events and steps as they come, until the run ends"}, JSON_OPT, END_OPT};
static const cli_option metrics_opts[] = {
    {"--csv", NULL, 0, 0, "CSV: a row per step, a column per metric (the default)"}, JSON_OPT, END_OPT};
static const cli_option sample_opts[] = {
    {"--ckpt", "PATH", 1, 0, "a checkpoint file, or run:ID for that run's newest"},
    {"--dataset", "NAME", 1, 0, "a ready dataset"},
    {"--clip", "N", 1, 0, "the clip's row in the manifest, from 0"},
    {"--temperature", "T", 0, 0, "sampling temperature, >= 0; 0 decodes greedily (default 0)"},
    {"--top-k", "K", 0, 0, "sample among the K likeliest tokens, 0 for all (default 0)"},
    {"--max-new", "N", 0, 0, "most tokens to generate, >= 1 (default 200)"},
    {"--seed", "S", 0, 0, "sampling seed (default 1)"},
    JSON_OPT, END_OPT};
static const cli_option schedule_add_opts[] = {
    {"--cron", "EXPR", 1, 0, "when: five cron fields (\"0 2 * * *\") or @daily, @hourly, ..."},
    {"--tz", "ZONE", 0, 0, "the IANA time zone of those times (default: migrd's, e.g. Europe/Berlin)"},
    {"--policy", "P", 0, 0, "while a run of the schedule is active: forbid (skip the firing, the default), "
                            "allow, or replace (cancel it)"},
    {"--deadline", "SECONDS", 0, 0, "a firing later than this after its time (migrd was down) is missed "
                                    "(default: no deadline)"},
    {"--set", "key=value", 0, 1, "override a key of the YAML, as for `migr run submit`"},
    JSON_OPT, END_OPT};
static const cli_option bench_dispatch_opts[] = {
    {"--tasks", "N", 0, 0, "no-op tasks to dispatch, all queued before the workers start, 1..10000000 "
                           "(default 100000)"},
    {"--workers", "N", 0, 0, "migr-worker processes, 1..256 (default 4)"},
    {"--sim-workers", "N", 0, 0, "simulated workers in this process instead, 1..10000"},
    {"--payload", "BYTES", 0, 0, "each task's payload, 0..1048576 (default 64)"},
    {"--prefetch", "N", 0, 0, "migrd --prefetch: tasks queued at each worker beyond its free slot, 0..64 "
                              "(default 1, for short tasks; migrd's own default is 0)"},
    JSON_OPT, END_OPT};
static const cli_option demo_opts[] = {
    {"--quick", NULL, 0, 0, "a smaller experiment that finishes in a few minutes"},
    {"--seed", "S", 0, 0, "the cold-start set's seed; the RL set's is S + 1 (default 7)"},
    {"--drift", "R", 0, 0, "the generator's reasoning drift, 0..1 (default examples/synth.yaml's)"},
    JSON_OPT, END_OPT};

const cli_command cli_commands[] = {
    {"up", NULL, 0, 0, up_opts, "start migrd and N local workers in the background",
     "Logs go to $MIGR_HOME/logs, pids to $MIGR_HOME/run; prints the ZeroMQ endpoint and the HTTP\n"
     "address migrd serves.  Each worker runs one task at a time on max(1, CPUs / N) threads\n"
     "(migr-worker --threads, at most 256; CPUs: those this process may run on), so that the\n"
     "workers use the machine's cores without more threads than cores.", cmd_up},
    {"keygen", "NAME", 1, 1, json_opts, "make a CURVE key pair: $MIGR_HOME/keys/NAME.pub and NAME.key",
     "`migr keygen migrd` gives migrd its pair: from its next start every peer authenticates\n"
     "with CURVE, and migrd admits the keys whose NAME.pub is in its $MIGR_HOME/keys/ (removing\n"
     "the file cuts the peer off within a heartbeat).  A client or worker uses the pair\n"
     "MIGR_KEY names (a NAME in its keys/ or a .key path) and migrd's public key from\n"
     "MIGR_SERVER_KEY or its keys/migrd.pub.  ipc:// and loopback need no keys.",
     cmd_keygen},
    {"down", NULL, 0, 0, no_opts, "stop the workers, then migrd, started by `migr up`", NULL, cmd_down},
    {"workers", NULL, 0, 0, json_opts, "the workers connected to migrd",
     "JSON: [{\"id\",\"pid\",\"host\",\"state\",\"tasks\",\"current\",...}]; current names the\n"
     "tasks each holds (\"grad 812 (run 3)\").", cmd_workers},
    {"dataset synth", "NAME", 1, 1, synth_opts, "write a synthetic DFEW-format dataset and ingest it",
     "Real MP4s (faces, voices, subtitles) with clue annotations, written into the store.",
     cmd_dataset_synth},
    {"dataset add", "NAME", 1, 1, add_opts, "ingest a DFEW-style manifest", NULL, cmd_dataset_add},
    {"dataset mi", "NAME", 1, 1, mi_opts, "modality importance of every clip",
     "Probes trained with modality dropout, cross-fitted over K folds, score p(label | only m)\n"
     "for visual, audio and text, averaged over R cross-fits of different folds and probes;\n"
     "the dominant modality beats the runner-up by tau, else the clip is multimodal.\n"
     "`migr dataset show` reports the distribution.", cmd_dataset_mi},
    {"dataset instruments", "NAME", 1, 1, instruments_opts,
     "train the GRPO reward verifier and the evaluation judge",
     "The verifier (word n-grams, on clue and <think> sentences) and the judge (character\n"
     "n-grams, on whole <think> texts) learn from disjoint halves of the annotated clips.", cmd_dataset_instruments},
    {"dataset list", NULL, 0, 0, json_opts, "every dataset",
     "JSON: [{\"name\",\"clips\",\"featurized\",\"failed\",...}].", cmd_dataset_list},
    {"dataset show", "NAME", 1, 1, json_opts, "one dataset, its failures and its MI distribution",
     NULL, cmd_dataset_show},
    {"run submit", "FILE.yaml", 1, 1, submit_opts, "submit a run and print its id",
     "Kinds sft, grpo and eval (see examples/sft.yaml, grpo.yaml, eval.yaml); unknown keys\n"
     "and bad values are refused before anything is sent.", cmd_run_submit},
    {"run list", NULL, 0, 0, run_list_opts, "runs, oldest first, optionally filtered",
     "JSON: [{\"id\",\"name\",\"kind\",\"state\",\"step\",\"steps\",\"tags\",\"schedule\",...}].",
     cmd_run_list},
    {"run show", "ID", 1, 1, json_opts, "one run: state, latest metrics, evaluation, samples", NULL,
     cmd_run_show},
    {"run watch", "ID", 1, 1, no_opts, "print each step's metrics until the run ends",
     "Exits 0 if the run succeeds, 1 if it fails or is cancelled.", cmd_run_watch},
    {"run logs", "ID", 1, 1, logs_opts, "a run's events (retries, failures) and per-step metrics",
     "With --follow, exits 0 when the run succeeds and 1 when it fails or is cancelled.", cmd_run_logs},
    {"run metrics", "ID", 1, 1, metrics_opts, "every metric a run recorded, per step",
     "CSV for plotting elsewhere: step, then the metrics in name order.", cmd_run_metrics},
    {"run retry", "ID", 1, 1, retry_opts, "submit a finished run's config again; print the new id",
     "The same resolved config and tags, so the same seed and data.  A run that failed or\n"
     "was cancelled after a checkpoint is taken up from its newest one (checked against its\n"
     "sha256): the new run starts at that step and ends with the checkpoint the run would\n"
     "have made.  --fresh starts over from step 0 instead.", cmd_run_retry},
    {"run cancel", "ID", 1, 1, no_opts, "stop a queued or running run within one step",
     "Its checkpoints stay.  States: queued, running, succeeded, failed, cancelled.",
     cmd_run_cancel},
    {"ckpt list", "[RUN]", 0, 1, json_opts, "checkpoints (of one run) with their sha256",
     "JSON: [{\"run\",\"step\",\"path\",\"sha256\"}].", cmd_ckpt_list},
    {"sample", NULL, 0, 0, sample_opts, "one generated explanation and answer for a clip", NULL,
     cmd_sample},
    {"bench dispatch", NULL, 0, 0, bench_dispatch_opts, "migrd's dispatch throughput and latency on no-op tasks",
     "Starts a migrd of its own (temporary MIGR_HOME, loopback TCP, SQLite as in real runs), queues\n"
     "the tasks, then starts the workers and measures until every task is done.  Latency is\n"
     "per task: from migrd reading the message that freed a worker's slot to that worker's next\n"
     "task leaving migrd, its lease committed.  JSON: {\"tasks\",\"workers\",\"seconds\",\n"
     "\"tasks_per_s\",\"p50_ms\",\"p99_ms\",\"max_ms\"}.  bench/dispatch.sh compares it with\n"
     "ZeroMQ and Celery.", cmd_bench_dispatch},
    {"demo", NULL, 0, 0, demo_opts, "the MIGR experiment: baseline and MIGR side by side",
     "Synthetic data, modality importance, visual-first and MI-ordered SFT, GRPO with\n"
     "accuracy + format (baseline) or + mi_order + consistency (MIGR), evaluated on the same\n"
     "held-out clips.  Starts migrd and 2 workers unless one is running; progress goes to\n"
     "stderr.", cmd_demo},
    {"schedule add", "NAME FILE.yaml", 2, 2, schedule_add_opts, "submit a run on a cron calendar",
     "migrd submits FILE.yaml (with --set applied) as an ordinary run at each time the\n"
     "expression names, as a Kubernetes CronJob does: Vixie cron syntax (lists, ranges,\n"
     "steps, month and weekday names, day-of-month OR day-of-week when both are given),\n"
     "wall times in --tz (a time skipped by a daylight-saving change fires shifted by it, a\n"
     "repeated one once).  After downtime the missed times fire once, within --deadline.\n"
     "A nightly evaluation of the newest checkpoint of run 12:\n"
     "  migr schedule add nightly --cron \"0 2 * * *\" --tz Europe/Berlin examples/eval.yaml \\\n"
     "      --set eval.ckpt=run:12 --set dataset=NAME\n"
     "An eval that finds the checkpoint the last one evaluated ends succeeded without work.",
     cmd_schedule_add},
    {"schedule list", NULL, 0, 0, json_opts, "every schedule with its next firing",
     "JSON: [{\"name\",\"cron\",\"tz\",\"policy\",\"next\",\"last_run\",\"paused\",...}].",
     cmd_schedule_list},
    {"schedule show", "NAME", 1, 1, json_opts, "one schedule: its runs and their metrics over time",
     "For eval runs the history shows WAR, UAR and correct_inconsistent per firing.", cmd_schedule_show},
    {"schedule rm", "NAME", 1, 1, json_opts, "remove a schedule (its runs stay)", NULL, cmd_schedule_rm},
    {"schedule pause", "NAME", 1, 1, json_opts, "stop a schedule's firings until resumed", NULL,
     cmd_schedule_pause},
    {"schedule resume", "NAME", 1, 1, json_opts, "fire again from the next time after now",
     "The times that passed while paused are not made up.", cmd_schedule_resume},
    {"schedule run", "NAME", 1, 1, json_opts, "fire once now and print the run id",
     "Whatever the policy, as `kubectl create job --from=cronjob/NAME`.", cmd_schedule_run},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};

/* "NAME --clips N [--seed S] [--wait]" into buf. */
static void synopsis(char *buf, size_t cap, const cli_command *c)
{
    size_t n = (size_t)snprintf(buf, cap, "%s%s%s", c->words, c->operands ? " " : "",
                                c->operands ? c->operands : "");
    for (const cli_option *o = c->options; o->name && n < cap; o++)
        n += (size_t)snprintf(buf + n, cap - n, " %s%s%s%s%s%s", o->required ? "" : "[", o->name,
                              o->value ? " " : "", o->value ? o->value : "", o->required ? "" : "]",
                              o->repeats ? "..." : "");
}

static int in_group(const cli_command *c, const char *group)
{
    size_t n = strlen(group);
    return strncmp(c->words, group, n) == 0 && (c->words[n] == ' ' || c->words[n] == '\0');
}

void cli_print_commands(FILE *out, const char *group)
{
    char line[512];
    for (const cli_command *c = cli_commands; c->words; c++) {
        if (group && !in_group(c, group))
            continue;
        synopsis(line, sizeof line, c);
        fprintf(out, "  migr %s\n        %s\n", line, c->summary);
    }
}

void cli_print_help(FILE *out, const cli_command *c)
{
    char line[512];
    synopsis(line, sizeof line, c);
    fprintf(out, "usage: migr %s\n\n%c%s.\n", line, toupper((unsigned char)c->summary[0]),
            c->summary + 1);
    if (c->details)
        fprintf(out, "%s\n", c->details);
    if (c->options[0].name)
        fprintf(out, "\nOptions:\n");
    for (const cli_option *o = c->options; o->name; o++) {
        snprintf(line, sizeof line, "%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
        fprintf(out, "  %-20s %s%s%s\n", line, o->help, o->required ? " (required)" : "",
                o->repeats ? " (repeatable)" : "");
    }
}

const cli_command *cli_find(int argc, char **argv, int *used)
{
    for (const cli_command *c = cli_commands; c->words; c++) {
        const char *space = strchr(c->words, ' ');
        size_t n = space ? (size_t)(space - c->words) : strlen(c->words);
        if (argc < 1 || strlen(argv[0]) != n || strncmp(argv[0], c->words, n) != 0)
            continue;
        if (!space) {
            *used = 1;
            return c;
        }
        if (argc >= 2 && strcmp(argv[1], space + 1) == 0) {
            *used = 2;
            return c;
        }
    }
    return NULL;
}

static const cli_option *option_named(const cli_command *c, const char *name)
{
    for (const cli_option *o = c->options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

int cli_parse(const cli_command *c, int argc, char **argv, cli_args *a, char *why, size_t cap)
{
    assert(c && a);
    memset(a, 0, sizeof *a);
    a->cmd = c;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] == '-' && arg[1] != '\0') {
            const cli_option *o = option_named(c, arg);
            if (!o) {
                snprintf(why, cap, "unknown option \"%s\" (see migr %s --help)", arg, c->words);
                return -1;
            }
            if (o->value && i + 1 >= argc) {
                snprintf(why, cap, "%s needs a value: %s %s", arg, arg, o->value);
                return -1;
            }
            if (!o->repeats && cli_value(a, arg)) {
                snprintf(why, cap, "%s is given twice; give it once", arg);
                return -1;
            }
            if (a->nopts == CLI_MAX_OPTIONS) {
                snprintf(why, cap, "more than %d options", CLI_MAX_OPTIONS);
                return -1;
            }
            a->opt[a->nopts] = o;
            a->value[a->nopts++] = o->value ? argv[++i] : "";
        } else if (a->noperands < c->max_operands) {
            a->operand[a->noperands++] = arg;
        } else {
            snprintf(why, cap, "unexpected argument \"%s\" (usage: see migr %s --help)", arg, c->words);
            return -1;
        }
    }
    if (a->noperands < c->min_operands) {
        snprintf(why, cap, "missing %s (usage: see migr %s --help)", c->operands, c->words);
        return -1;
    }
    for (const cli_option *o = c->options; o->name; o++) {
        if (o->required && !cli_value(a, o->name)) {
            snprintf(why, cap, "%s %s is required", o->name, o->value ? o->value : "");
            return -1;
        }
    }
    return 0;
}

int cli_run_line(const migr_home *home, int argc, char **argv)
{
    cli_args a;
    char why[512];
    int used;
    const cli_command *c = cli_find(argc, argv, &used);
    if (!c) {
        fprintf(stderr, "migr: unknown command \"%s\"\n", argc ? argv[0] : "");
        return EXIT_USAGE;
    }
    if (cli_parse(c, argc - used, argv + used, &a, why, sizeof why) != 0) {
        fprintf(stderr, "migr %s: %s\n", c->words, why);
        return EXIT_USAGE;
    }
    return c->run(home, &a);
}

const char *cli_value(const cli_args *a, const char *name)
{
    for (int i = a->nopts - 1; i >= 0; i--)
        if (strcmp(a->opt[i]->name, name) == 0)
            return a->value[i];
    return NULL;
}

int cli_flag(const cli_args *a, const char *name)
{
    return cli_value(a, name) != NULL;
}
