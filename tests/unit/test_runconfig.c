/* test_runconfig.c -- run configs: defaults, YAML, --set, cross-key rules,
 * JSON round trip, and examples/{sft,grpo,eval}.yaml, for the three kinds. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "ml/reward.h"
#include "spec/runconfig.h"

/* The end of every unknown-key message. */
#define EVERY_KEY "(examples/sft.yaml, grpo.yaml and eval.yaml list every key)"

/* Write text to name in the test's scratch directory; path receives it. */
static int write_yaml(char *path, size_t cap, const char *name, const char *text)
{
    snprintf(path, cap, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Load text as a YAML file over the defaults; returns what runconfig_load_yaml did. */
static int load_text(const char *text, runconfig *rc, migr_err *err)
{
    char path[512];
    runconfig_defaults(rc);
    if (write_yaml(path, sizeof path, "run.yaml", text) < 0)
        return migr_errf(err, "cannot write the test file");
    return runconfig_load_yaml(path, rc, err);
}

/* The error message of a YAML text that must fail, with the scratch
 * directory cut off so that it reads "run.yaml:LINE: ...". */
static const char *yaml_error(const char *text, migr_err *err)
{
    runconfig rc;
    if (load_text(text, &rc, err) == 0)
        return "(it loaded)";
    const char *base = strstr(err->msg, "run.yaml");
    return base ? base : err->msg;
}

TEST(runconfig_defaults_are_the_documented_values_and_need_only_a_dataset)
{
    runconfig rc;
    migr_err err;
    runconfig_defaults(&rc);
    CHECK_STR("run", rc.name);
    CHECK_STR("sft", run_kind_name(rc.kind));
    CHECK_STR("", rc.dataset);
    CHECK_INT(1, rc.seed);
    CHECK_INT(64, rc.model.channels);
    CHECK_INT(2, rc.model.layers);
    CHECK_INT(4, rc.model.heads);
    CHECK_INT(4, rc.model.mlp_ratio);
    CHECK_INT(160, rc.model.max_seq);
    CHECK_INT(10, rc.model.audio_window);
    CHECK_INT(24, rc.model.subtitle_max);
    CHECK_INT(1, rc.vocab.min_count);
    CHECK_INT(2000, rc.vocab.max_size);
    CHECK_INT(200, rc.train.steps);
    CHECK_INT(16, rc.train.batch_size);
    CHECK_INT(4, rc.train.shards);
    CHECK(rc.train.lr == 0.003);
    CHECK_INT(20, rc.train.warmup);
    CHECK(rc.train.min_lr_ratio == 0.1);
    CHECK(rc.train.weight_decay == 0.01);
    CHECK(rc.train.beta1 == 0.9 && rc.train.beta2 == 0.95 && rc.train.eps == 1e-8);
    CHECK(rc.train.grad_clip == 1.0);
    CHECK_INT(50, rc.train.checkpoint_every);
    CHECK(rc.train.holdout == 0.1);
    CHECK_STR("visual-first", rc.reasoning.order);

    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("dataset: required (a dataset name from `migr dataset list`)", err.msg);
    CHECK_MSG(runconfig_set(&rc, "dataset=demo-200", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
}

TEST(runconfig_yaml_reads_every_section_in_block_and_flow_style)
{
    runconfig rc;
    migr_err err;
    int rc_load = load_text("name: mi-run\n"
                            "kind: sft\n"
                            "dataset: demo-200\n"
                            "seed: 42\n"
                            "model: {channels: 32, layers: 3, heads: 8, mlp_ratio: 2, max_seq: 128,\n"
                            "        audio_window: 5, subtitle_max: 16}\n"
                            "vocab:\n"
                            "  min_count: 2\n"
                            "  max_size: 500\n"
                            "train:\n"
                            "  steps: 300\n"
                            "  batch_size: 8\n"
                            "  shards: 2\n"
                            "  lr: 1e-3\n"
                            "  warmup: 30\n"
                            "  min_lr_ratio: 0.05\n"
                            "  weight_decay: 0\n"
                            "  beta1: 0.8\n"
                            "  beta2: 0.99\n"
                            "  eps: 1e-6\n"
                            "  grad_clip: 0.5\n"
                            "  checkpoint_every: 100\n"
                            "  holdout: 0.2\n"
                            "reasoning:\n"
                            "  order: mi\n",
                            &rc, &err);
    CHECK_MSG(rc_load == 0, "%s", err.msg);
    CHECK_STR("mi-run", rc.name);
    CHECK_STR("demo-200", rc.dataset);
    CHECK_INT(42, rc.seed);
    CHECK_INT(32, rc.model.channels);
    CHECK_INT(3, rc.model.layers);
    CHECK_INT(8, rc.model.heads);
    CHECK_INT(2, rc.model.mlp_ratio);
    CHECK_INT(128, rc.model.max_seq);
    CHECK_INT(5, rc.model.audio_window);
    CHECK_INT(16, rc.model.subtitle_max);
    CHECK_INT(2, rc.vocab.min_count);
    CHECK_INT(500, rc.vocab.max_size);
    CHECK_INT(300, rc.train.steps);
    CHECK_INT(8, rc.train.batch_size);
    CHECK_INT(2, rc.train.shards);
    CHECK(rc.train.lr == 1e-3);
    CHECK_INT(30, rc.train.warmup);
    CHECK(rc.train.min_lr_ratio == 0.05);
    CHECK(rc.train.weight_decay == 0);
    CHECK(rc.train.beta1 == 0.8 && rc.train.beta2 == 0.99 && rc.train.eps == 1e-6);
    CHECK(rc.train.grad_clip == 0.5);
    CHECK_INT(100, rc.train.checkpoint_every);
    CHECK(rc.train.holdout == 0.2);
    CHECK_STR("mi", rc.reasoning.order);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
}

TEST(runconfig_yaml_keeps_the_keys_it_does_not_mention)
{
    runconfig rc;
    migr_err err;
    CHECK_MSG(load_text("dataset: d\ntrain: {steps: 7, warmup: 0}\n", &rc, &err) == 0, "%s",
              err.msg);
    CHECK_INT(7, rc.train.steps);
    CHECK_INT(16, rc.train.batch_size);
    CHECK_INT(64, rc.model.channels);
    CHECK_STR("run", rc.name);
    /* An empty file (or only comments) changes nothing. */
    CHECK_MSG(load_text("# nothing here\n", &rc, &err) == 0, "%s", err.msg);
    CHECK_INT(200, rc.train.steps);
}

TEST(runconfig_yaml_unknown_key_names_the_file_line_and_key)
{
    migr_err err;
    const char *text = "name: x\n"
                       "dataset: d\n"
                       "\n"
                       "train:\n"
                       "  steps: 10\n"
                       "  # a comment\n"
                       "  stepz: 10\n";
    CHECK_STR("run.yaml:7: train.stepz: unknown key; did you mean train.steps?",
              yaml_error(text, &err));
    CHECK_STR("run.yaml:2: colour: unknown key " EVERY_KEY,
              yaml_error("dataset: d\ncolour: blue\n", &err));
    CHECK_STR("run.yaml:1: trian: unknown key; did you mean train?",
              yaml_error("trian: {steps: 3}\n", &err));
    /* A section inside a section is not a key either. */
    CHECK_STR("run.yaml:1: train.model: unknown key " EVERY_KEY,
              yaml_error("train: {model: {channels: 3}}\n", &err));
}

TEST(runconfig_yaml_type_and_range_errors_name_the_key_and_line)
{
    migr_err err;
    CHECK_STR("run.yaml:2: train.steps: 'ten' is not an integer",
              yaml_error("train:\n  steps: ten\n", &err));
    CHECK_STR("run.yaml:1: train.steps: '1.5' is not an integer",
              yaml_error("train: {steps: 1.5}\n", &err));
    CHECK_STR("run.yaml:1: train.steps: 0 is out of range [1, 10000000]",
              yaml_error("train: {steps: 0}\n", &err));
    /* An integer too large for 64 bits is still an integer: out of range. */
    CHECK_STR("run.yaml:1: train.steps: 12345678901234567890 is out of range [1, 10000000]",
              yaml_error("train: {steps: 12345678901234567890}\n", &err));
    CHECK_STR("run.yaml:1: train.lr: 0 is out of range (0, 1]",
              yaml_error("train: {lr: 0}\n", &err));
    CHECK_STR("run.yaml:1: train.lr: 'fast' is not a number",
              yaml_error("train: {lr: fast}\n", &err));
    CHECK_STR("run.yaml:1: train.eps: 'nan' is not a number",
              yaml_error("train: {eps: nan}\n", &err));
    CHECK_STR("run.yaml:1: train.beta2: 1 is out of range [0, 0.9999]",
              yaml_error("train: {beta2: 1}\n", &err));
    CHECK_STR("run.yaml:2: model: must be a mapping of model.* keys",
              yaml_error("model:\n  64\n", &err));
    CHECK_STR("run.yaml:1: seed: must be an integer", yaml_error("seed: [1, 2]\n", &err));
    CHECK_STR("run.yaml:1: seed: '-1' is not an integer in [0, 2^63-1]",
              yaml_error("seed: -1\n", &err));
    CHECK_STR("run.yaml:1: name: 'a b' is not a name (1-64 letters, digits, '_', '-' or '.', "
              "not starting with '.')",
              yaml_error("name: a b\n", &err));
    CHECK_STR("run.yaml:1: dataset: '' is not a name (1-64 letters, digits, '_', '-' or '.', "
              "not starting with '.')",
              yaml_error("dataset:\n", &err));
    CHECK_STR("run.yaml:3: train.steps: given twice (first on line 1)",
              yaml_error("train: {steps: 3}\nseed: 2\ntrain: {steps: 4}\n", &err));
    CHECK_STR("run.yaml:1: expected a mapping of settings (see examples/sft.yaml)",
              yaml_error("- a\n- b\n", &err));
    CHECK_STR("run.yaml:3: a second YAML document; a config is one mapping",
              yaml_error("seed: 1\n---\nseed: 2\n", &err));
    const char *msg = yaml_error("train: {steps: [\n", &err);
    CHECK_MSG(strstr(msg, "YAML error") != NULL, "got: %s", msg);
}

TEST(runconfig_yaml_error_leaves_the_config_as_it_was)
{
    runconfig rc, before;
    migr_err err;
    char path[512];
    runconfig_defaults(&rc);
    CHECK(runconfig_set(&rc, "train.steps=77", &err) == 0);
    before = rc;
    CHECK(write_yaml(path, sizeof path, "bad.yaml", "train: {steps: 5}\nseed: x\n") == 0);
    CHECK(runconfig_load_yaml(path, &rc, &err) < 0);
    CHECK(memcmp(&rc, &before, sizeof rc) == 0);
    CHECK_INT(77, rc.train.steps);
    snprintf(path, sizeof path, "%s/missing.yaml", check_tmpdir());
    CHECK(runconfig_load_yaml(path, &rc, &err) < 0);
    CHECK_MSG(strstr(err.msg, "missing.yaml: cannot open") != NULL, "got: %s", err.msg);
}

TEST(runconfig_kind_is_sft_grpo_or_eval)
{
    runconfig rc;
    migr_err err;
    static const struct {
        const char *yaml;
        run_kind kind;
    } ok[] = {{"kind: sft\n", RUN_SFT}, {"kind: grpo\n", RUN_GRPO}, {"kind: eval\n", RUN_EVAL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK_MSG(load_text(ok[i].yaml, &rc, &err) == 0, "%s: %s", ok[i].yaml, err.msg);
        CHECK_INT(ok[i].kind, rc.kind);
    }
    CHECK_STR("sft", run_kind_name(RUN_SFT));
    CHECK_STR("grpo", run_kind_name(RUN_GRPO));
    CHECK_STR("eval", run_kind_name(RUN_EVAL));
    CHECK_STR("?", run_kind_name((run_kind)3));
    CHECK_STR("run.yaml:1: kind: 'train' is not a run kind (sft, grpo, eval)",
              yaml_error("kind: train\n", &err));
    CHECK_STR("run.yaml:1: kind: 'GRPO' is not a run kind (sft, grpo, eval)",
              yaml_error("kind: GRPO\n", &err));
}

TEST(runconfig_reasoning_order_accepts_keywords_and_permutations_normalized)
{
    runconfig rc;
    migr_err err;
    static const struct {
        const char *yaml, *normalized;
    } ok[] = {
        {"reasoning: {order: visual-first}\n", "visual-first"},
        {"reasoning: {order: mi}\n", "mi"},
        {"reasoning: {order: [aud, vis, txt]}\n", "[aud, vis, txt]"},
        {"reasoning: {order: [audio, text, visual]}\n", "[aud, txt, vis]"},
        {"reasoning:\n  order:\n    - Text\n    - VIS\n    - aud\n", "[txt, vis, aud]"},
        {"reasoning: {order: '[txt,aud,vis]'}\n", "[txt, aud, vis]"},
        {"reasoning: {order: vis aud txt}\n", "[vis, aud, txt]"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK_MSG(load_text(ok[i].yaml, &rc, &err) == 0, "%s: %s", ok[i].yaml, err.msg);
        CHECK_STR(ok[i].normalized, rc.reasoning.order);
    }
    CHECK_STR("run.yaml:1: reasoning.order: vis appears twice; list each of vis, aud, txt once",
              yaml_error("reasoning: {order: [vis, visual, txt]}\n", &err));
    CHECK_STR("run.yaml:1: reasoning.order: lists 2 modalities; list each of vis, aud, txt once",
              yaml_error("reasoning: {order: [vis, txt]}\n", &err));
    CHECK_STR("run.yaml:1: reasoning.order: 'multimodal' is not a modality (vis|visual, "
              "aud|audio, txt|text)",
              yaml_error("reasoning: {order: [multimodal, vis, txt]}\n", &err));
    CHECK_STR("run.yaml:1: reasoning.order: 'audio-first' is not visual-first, mi or a list of "
              "vis, aud, txt",
              yaml_error("reasoning: {order: audio-first}\n", &err));
    CHECK_STR("run.yaml:1: reasoning.order: must be visual-first, mi or a list of vis, aud, txt",
              yaml_error("reasoning: {order: {first: vis}}\n", &err));
    CHECK_STR("run.yaml:1: reasoning: must be a mapping of reasoning.* keys",
              yaml_error("reasoning: mi\n", &err));
}

TEST(runconfig_fixed_order_gives_modalities_or_zero_for_mi)
{
    runconfig rc;
    migr_err err;
    int order[MODALITY_COUNT];
    runconfig_defaults(&rc);
    CHECK_INT(1, runconfig_fixed_order(&rc, order));
    CHECK(order[0] == MOD_VISUAL && order[1] == MOD_AUDIO && order[2] == MOD_TEXT);
    CHECK(runconfig_set(&rc, "reasoning.order=[txt, aud, vis]", &err) == 0);
    CHECK_INT(1, runconfig_fixed_order(&rc, order));
    CHECK(order[0] == MOD_TEXT && order[1] == MOD_AUDIO && order[2] == MOD_VISUAL);
    CHECK(runconfig_set(&rc, "reasoning.order=mi", &err) == 0);
    CHECK_INT(0, runconfig_fixed_order(&rc, order));
}

TEST(runconfig_set_overrides_dotted_keys_with_the_same_validation)
{
    runconfig rc;
    migr_err err;
    runconfig_defaults(&rc);
    CHECK_MSG(runconfig_set(&rc, "train.steps=10", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, " train.warmup = 2 ", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "train.lr=0.01", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "dataset=demo-200", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "seed=9007199254740993", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "reasoning.order=aud,txt,vis", &err) == 0, "%s", err.msg);
    CHECK_INT(10, rc.train.steps);
    CHECK_INT(2, rc.train.warmup);
    CHECK(rc.train.lr == 0.01);
    CHECK_STR("demo-200", rc.dataset);
    CHECK(rc.seed == 9007199254740993ULL);
    CHECK_STR("[aud, txt, vis]", rc.reasoning.order);

    runconfig before = rc;
    CHECK(runconfig_set(&rc, "train.stepz=10", &err) < 0);
    CHECK_STR("train.stepz: unknown key; did you mean train.steps?", err.msg);
    CHECK(runconfig_set(&rc, "train.steps=many", &err) < 0);
    CHECK_STR("train.steps: 'many' is not an integer", err.msg);
    CHECK(runconfig_set(&rc, "train.steps=", &err) < 0);
    CHECK_STR("train.steps: '' is not an integer", err.msg);
    CHECK(runconfig_set(&rc, "train.steps", &err) < 0);
    CHECK_STR("'train.steps' is not key=value (e.g. train.steps=10)", err.msg);
    CHECK(runconfig_set(&rc, "=3", &err) < 0);
    CHECK_STR("'=3' has no key before '='", err.msg);
    CHECK(runconfig_set(&rc, "train=3", &err) < 0);
    CHECK_STR("train: is a section; set one of its keys, e.g. train....", err.msg);
    CHECK(runconfig_set(&rc, "reasoning=mi", &err) < 0);
    CHECK_STR("reasoning: is a section; set one of its keys, e.g. reasoning.order", err.msg);
    CHECK(runconfig_set(&rc, "model.heads=0", &err) < 0);
    CHECK_STR("model.heads: 0 is out of range [1, 256]", err.msg);
    CHECK(runconfig_set(&rc, "kind=train", &err) < 0);
    CHECK_STR("kind: 'train' is not a run kind (sft, grpo, eval)", err.msg);
    CHECK(memcmp(&rc, &before, sizeof rc) == 0);
}

TEST(runconfig_check_enforces_the_rules_between_keys)
{
    static const struct {
        const char *set, *msg;
    } cases[] = {
        {"model.heads=6", "model.heads: 6 does not divide model.channels 64"},
        {"model.subtitle_max=160", "model.subtitle_max: 160 leaves no room in model.max_seq 160"},
        {"vocab.max_size=20",
         "vocab.max_size: 20 is below 25, the fixed tokens and punctuation (0 means no limit)"},
        {"train.shards=17",
         "train.shards: 17 is more than train.batch_size 16; a shard needs at least one sequence"},
        {"train.warmup=201", "train.warmup: 201 is more than train.steps 200; lower it, e.g. --set train.warmup=20"},
    };
    migr_err err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        runconfig rc;
        runconfig_defaults(&rc);
        CHECK(runconfig_set(&rc, "dataset=d", &err) == 0);
        CHECK_MSG(runconfig_set(&rc, cases[i].set, &err) == 0, "%s: %s", cases[i].set, err.msg);
        CHECK_MSG(runconfig_check(&rc, &err) < 0, "%s passed the check", cases[i].set);
        CHECK_STR(cases[i].msg, err.msg);
    }
    /* The edges are allowed. */
    runconfig rc;
    runconfig_defaults(&rc);
    CHECK(runconfig_set(&rc, "dataset=d", &err) == 0);
    CHECK(runconfig_set(&rc, "vocab.max_size=0", &err) == 0);
    CHECK(runconfig_set(&rc, "train.shards=16", &err) == 0);
    CHECK(runconfig_set(&rc, "train.warmup=200", &err) == 0);
    CHECK(runconfig_set(&rc, "model.subtitle_max=159", &err) == 0);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
}

TEST(runconfig_json_round_trip_is_exact)
{
    runconfig rc, back;
    migr_err err;
    runconfig_defaults(&rc);
    CHECK(runconfig_set(&rc, "dataset=demo-200", &err) == 0);
    CHECK(runconfig_set(&rc, "name=round.trip_1", &err) == 0);
    CHECK(runconfig_set(&rc, "seed=9223372036854775807", &err) == 0);
    CHECK(runconfig_set(&rc, "train.lr=0.30000000000000004", &err) == 0);
    CHECK(runconfig_set(&rc, "train.eps=1e-8", &err) == 0);
    CHECK(runconfig_set(&rc, "train.grad_clip=2", &err) == 0);
    CHECK(runconfig_set(&rc, "reasoning.order=[vis, txt, aud]", &err) == 0);

    json_t *j = runconfig_to_json(&rc);
    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    CHECK(text != NULL);
    json_t *parsed = json_loads(text, 0, NULL);
    int from = parsed ? runconfig_from_json(parsed, &back, &err) : -1;
    json_t *again = from == 0 ? runconfig_to_json(&back) : NULL;
    int same = again && json_equal(parsed, again);
    json_decref(parsed);
    json_decref(again);
    CHECK_MSG(from == 0, "%s (from %s)", err.msg, text);
    free(text);
    CHECK(same);
    CHECK_STR(rc.name, back.name);
    CHECK_STR(rc.dataset, back.dataset);
    CHECK(rc.kind == back.kind);
    CHECK(back.seed == 9223372036854775807ULL);
    CHECK(memcmp(&rc.model, &back.model, sizeof rc.model) == 0);
    CHECK(memcmp(&rc.vocab, &back.vocab, sizeof rc.vocab) == 0);
    CHECK(memcmp(&rc.train, &back.train, sizeof rc.train) == 0);
    CHECK_STR("[vis, txt, aud]", back.reasoning.order);
}

TEST(runconfig_json_has_every_key_nested_as_in_yaml)
{
    runconfig rc;
    runconfig_defaults(&rc);
    json_t *j = runconfig_to_json(&rc);
    CHECK(j != NULL);
    const json_t *train = json_object_get(j, "train");
    int ok = json_object_size(j) == 11 && json_is_string(json_object_get(j, "name")) &&
             json_is_string(json_object_get(j, "kind")) &&
             json_is_integer(json_object_get(j, "seed")) &&
             json_object_size(json_object_get(j, "model")) == 7 &&
             json_object_size(json_object_get(j, "vocab")) == 2 && json_object_size(train) == 13 &&
             json_integer_value(json_object_get(train, "steps")) == 200 &&
             json_real_value(json_object_get(train, "lr")) == 0.003 &&
             json_is_string(json_object_get(json_object_get(j, "reasoning"), "order")) &&
             json_object_size(json_object_get(j, "grpo")) == 8 &&
             json_object_size(json_object_get(j, "eval")) == 5 &&
             json_is_object(json_object_get(j, "rewards")) &&
             json_object_size(json_object_get(j, "rewards")) == 0;
    json_decref(j);
    CHECK(ok);
}

/* from_json of the defaults (dataset set) after edit() changed the JSON. */
static int from_edited(void (*edit)(json_t *), migr_err *err)
{
    runconfig rc;
    runconfig_defaults(&rc);
    snprintf(rc.dataset, sizeof rc.dataset, "d");
    json_t *j = runconfig_to_json(&rc);
    if (!j)
        return migr_errf(err, "no memory");
    edit(j);
    int r = runconfig_from_json(j, &rc, err);
    json_decref(j);
    return r;
}

static void drop_steps(json_t *j) { json_object_del(json_object_get(j, "train"), "steps"); }
static void add_unknown(json_t *j) { json_object_set_new(json_object_get(j, "train"), "momentum", json_real(0.9)); }
static void add_top(json_t *j) { json_object_set_new(j, "colour", json_object()); }
static void real_steps(json_t *j) { json_object_set_new(json_object_get(j, "train"), "steps", json_real(10)); }
static void int_lr(json_t *j) { json_object_set_new(json_object_get(j, "train"), "lr", json_integer(1)); }
static void string_seed(json_t *j) { json_object_set_new(j, "seed", json_string("1")); }
static void section_scalar(json_t *j) { json_object_set_new(j, "vocab", json_integer(3)); }
static void bad_rule(json_t *j) { json_object_set_new(json_object_get(j, "train"), "shards", json_integer(99)); }
static void no_dataset(json_t *j) { json_object_del(j, "dataset"); }

TEST(runconfig_from_json_is_strict)
{
    migr_err err;
    CHECK(from_edited(drop_steps, &err) < 0);
    CHECK_STR("run config: train.steps: missing", err.msg);
    CHECK(from_edited(no_dataset, &err) < 0);
    CHECK_STR("run config: dataset: missing", err.msg);
    CHECK(from_edited(add_unknown, &err) < 0);
    CHECK_STR("run config: train.momentum: unknown key " EVERY_KEY, err.msg);
    CHECK(from_edited(add_top, &err) < 0);
    CHECK_STR("run config: colour: unknown key " EVERY_KEY, err.msg);
    CHECK(from_edited(real_steps, &err) < 0);
    CHECK_STR("run config: train.steps: must be an integer", err.msg);
    CHECK(from_edited(string_seed, &err) < 0);
    CHECK_STR("run config: seed: must be an integer", err.msg);
    CHECK(from_edited(section_scalar, &err) < 0);
    CHECK_STR("run config: vocab: must be an object of vocab.* keys", err.msg);
    CHECK(from_edited(bad_rule, &err) < 0);
    CHECK_STR("run config: train.shards: 99 is more than train.batch_size 16; a shard needs at "
              "least one sequence", err.msg);
    /* A whole number for a real key is fine. */
    CHECK_MSG(from_edited(int_lr, &err) == 0, "%s", err.msg);
    runconfig rc;
    json_t *arr = json_array();
    CHECK(runconfig_from_json(arr, &rc, &err) < 0);
    json_decref(arr);
    CHECK_STR("run config: expected a JSON object", err.msg);
}

/* Load the example at path over the defaults, then look in its text for
 * every key of the resolved config's entries named in reads (" name seed
 * train "): each must start a line ("key:", indented in a section) that
 * also has a comment.  missing receives the first that does not ("" if
 * none).  -1 with err if the file does not load or pass the check. */
static int example_keys(const char *path, const char *reads, runconfig *rc, char *missing,
                        size_t cap, migr_err *err)
{
    uint8_t *text;
    size_t len;
    const char *name, *sub;
    json_t *v, *sv;
    char word[40];

    missing[0] = '\0';
    runconfig_defaults(rc);
    if (runconfig_load_yaml(path, rc, err) < 0 || runconfig_check(rc, err) < 0 ||
        fs_read_file(path, &text, &len, err) < 0)
        return -1;
    json_t *j = runconfig_to_json(rc);
    json_object_foreach(j, name, v) {
        snprintf(word, sizeof word, " %s ", name);
        if (!strstr(reads, word))
            continue;
        json_t *one = json_object();
        if (json_is_object(v))
            json_object_foreach(v, sub, sv)
                json_object_set(one, sub, sv);
        else
            json_object_set(one, name, v);
        json_object_foreach(one, sub, sv) {
            char pat[64];
            snprintf(pat, sizeof pat, "\n%s%s:", json_is_object(v) ? "  " : "", sub);
            const char *at = strstr((const char *)text, pat);
            const char *eol = at ? strchr(at + 1, '\n') : NULL;
            const char *hash = at ? strchr(at + 1, '#') : NULL;
            if ((!at || !hash || (eol && hash > eol)) && !missing[0])
                snprintf(missing, cap, "%s%s%s", json_is_object(v) ? name : "",
                         json_is_object(v) ? "." : "", sub);
        }
        json_decref(one);
    }
    json_decref(j);
    free(text);
    return 0;
}

TEST(runconfig_example_sft_yaml_loads_and_comments_every_key)
{
    runconfig rc;
    migr_err err;
    char missing[128];
    CHECK_MSG(example_keys("examples/sft.yaml", " name kind dataset seed model vocab train "
                           "reasoning ", &rc, missing, sizeof missing, &err) == 0, "%s", err.msg);
    CHECK_STR("sft", run_kind_name(rc.kind));
    CHECK_MSG(missing[0] == '\0', "examples/sft.yaml: %s is missing or has no comment on its line",
              missing);
}

TEST(runconfig_example_grpo_yaml_loads_and_comments_every_key)
{
    runconfig rc;
    migr_err err;
    char missing[128];
    long long run = 0;
    CHECK_MSG(example_keys("examples/grpo.yaml", " name kind dataset seed grpo rewards train ",
                           &rc, missing, sizeof missing, &err) == 0, "%s", err.msg);
    CHECK_MSG(missing[0] == '\0',
              "examples/grpo.yaml: %s is missing or has no comment on its line", missing);
    CHECK_STR("grpo", run_kind_name(rc.kind));
    CHECK_STR("demo-200", rc.dataset);
    CHECK_INT(1, runconfig_ckpt_ref(rc.grpo.init, &run, NULL));
    CHECK_INT(1, run);
    CHECK_STR("", rc.grpo.instruments);
    CHECK_INT(8, rc.grpo.group_size);
    CHECK(rc.grpo.temperature == 1.0 && rc.grpo.beta == 0.04 && rc.grpo.clip_eps == 0.2);
    CHECK_INT(0, rc.grpo.top_k);
    CHECK_INT(120, rc.grpo.max_new);
    /* MIGR's rewards, in the file's order. */
    CHECK_INT(4, rc.rewards.n);
    CHECK_STR("accuracy", rc.rewards.item[0].name);
    CHECK_STR("format", rc.rewards.item[1].name);
    CHECK_STR("mi_order", rc.rewards.item[2].name);
    CHECK_STR("consistency", rc.rewards.item[3].name);
    for (int i = 0; i < rc.rewards.n; i++)
        CHECK(rc.rewards.item[i].weight == 1.0);
    CHECK_INT(30, rc.train.steps);
    CHECK_INT(8, rc.train.batch_size);
    CHECK_INT(4, rc.train.shards);
    CHECK(rc.train.lr == 1e-4);
    /* The R1-Omni baseline, as the file's comment says to make it. */
    CHECK(runconfig_set(&rc, "rewards.mi_order=0", &err) == 0);
    CHECK(runconfig_set(&rc, "rewards.consistency=0", &err) == 0);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
}

TEST(runconfig_example_eval_yaml_loads_and_comments_every_key)
{
    runconfig rc;
    migr_err err;
    char missing[128];
    long long run = 0;
    CHECK_MSG(example_keys("examples/eval.yaml", " name kind dataset eval ", &rc, missing,
                           sizeof missing, &err) == 0, "%s", err.msg);
    CHECK_MSG(missing[0] == '\0',
              "examples/eval.yaml: %s is missing or has no comment on its line", missing);
    CHECK_STR("eval", run_kind_name(rc.kind));
    CHECK_STR("demo-200", rc.dataset);
    CHECK_INT(1, runconfig_ckpt_ref(rc.eval.ckpt, &run, NULL));
    CHECK_INT(2, run);
    CHECK_STR("", rc.eval.instruments);
    CHECK_STR("holdout", eval_clips_name(rc.eval.clips));
    CHECK_INT(200, rc.eval.max_new);
    CHECK_INT(4, rc.eval.shards);
}

/* ---- kinds grpo and eval ---- */

TEST(runconfig_defaults_of_grpo_eval_and_rewards)
{
    runconfig rc;
    migr_err err;
    runconfig_defaults(&rc);
    CHECK_STR("", rc.grpo.init);
    CHECK_STR("", rc.grpo.instruments);
    CHECK_INT(8, rc.grpo.group_size);
    CHECK(rc.grpo.temperature == 1.0);
    CHECK_INT(0, rc.grpo.top_k);
    CHECK_INT(120, rc.grpo.max_new);
    CHECK(rc.grpo.beta == 0.04);
    CHECK(rc.grpo.clip_eps == 0.2);
    CHECK_INT(0, rc.rewards.n);
    CHECK_STR("", rc.eval.ckpt);
    CHECK_STR("", rc.eval.instruments);
    CHECK_INT(EVAL_CLIPS_HOLDOUT, rc.eval.clips);
    CHECK_INT(200, rc.eval.max_new);
    CHECK_INT(4, rc.eval.shards);
    /* The train section keeps its defaults whatever the kind. */
    CHECK(runconfig_set(&rc, "kind=grpo", &err) == 0);
    CHECK_INT(200, rc.train.steps);
    CHECK(rc.train.lr == 0.003);

    /* What each kind needs beyond the defaults: sft a dataset; grpo also
     * init and a reward; eval also ckpt. */
    static const struct {
        const char *kind, *sets[3], *first_error;
    } need[] = {
        {"sft", {"dataset=d"}, NULL},
        {"grpo", {"dataset=d", "grpo.init=run:3", "rewards.accuracy=1"},
         "grpo.init: required for kind grpo (run:ID, the SFT run to start from, or an absolute "
         "path to a checkpoint)"},
        {"eval", {"dataset=d", "eval.ckpt=run:3"},
         "eval.ckpt: required for kind eval (run:ID, the run whose last checkpoint to evaluate, "
         "or an absolute path to a checkpoint)"},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        char kind[32];
        runconfig_defaults(&rc);
        snprintf(kind, sizeof kind, "kind=%s", need[i].kind);
        CHECK(runconfig_set(&rc, kind, &err) == 0);
        CHECK(runconfig_set(&rc, need[i].sets[0], &err) == 0);
        if (need[i].first_error) {
            CHECK_MSG(runconfig_check(&rc, &err) < 0, "%s passed without its checkpoint",
                      need[i].kind);
            CHECK_STR(need[i].first_error, err.msg);
        }
        for (int s = 1; s < 3 && need[i].sets[s]; s++)
            CHECK_MSG(runconfig_set(&rc, need[i].sets[s], &err) == 0, "%s", err.msg);
        CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s: %s", need[i].kind, err.msg);
    }
}

TEST(runconfig_yaml_reads_grpo_rewards_and_eval)
{
    runconfig rc;
    migr_err err;
    int r = load_text("kind: grpo\n"
                      "dataset: demo-200\n"
                      "grpo:\n"
                      "  init: /store/runs/3/ckpt/000200.ckpt\n"
                      "  instruments: emer-verifier\n"
                      "  group_size: 16\n"
                      "  temperature: 0.7\n"
                      "  top_k: 50\n"
                      "  max_new: 90\n"
                      "  beta: 0\n"
                      "  clip_eps: 0.1\n"
                      "rewards: {consistency: 0.5, accuracy: 1, grounding: -0.25}\n"
                      "eval: {ckpt: run:12, instruments: '', clips: all, max_new: 64, shards: 2}\n",
                      &rc, &err);
    CHECK_MSG(r == 0, "%s", err.msg);
    CHECK_INT(RUN_GRPO, rc.kind);
    CHECK_STR("/store/runs/3/ckpt/000200.ckpt", rc.grpo.init);
    CHECK_STR("emer-verifier", rc.grpo.instruments);
    CHECK_INT(16, rc.grpo.group_size);
    CHECK(rc.grpo.temperature == 0.7);
    CHECK_INT(50, rc.grpo.top_k);
    CHECK_INT(90, rc.grpo.max_new);
    CHECK(rc.grpo.beta == 0);
    CHECK(rc.grpo.clip_eps == 0.1);
    CHECK_INT(3, rc.rewards.n);
    CHECK_STR("consistency", rc.rewards.item[0].name);
    CHECK(rc.rewards.item[0].weight == 0.5);
    CHECK_STR("accuracy", rc.rewards.item[1].name);
    CHECK(rc.rewards.item[1].weight == 1);
    CHECK_STR("grounding", rc.rewards.item[2].name);
    CHECK(rc.rewards.item[2].weight == -0.25);
    CHECK_STR("run:12", rc.eval.ckpt);
    CHECK_STR("", rc.eval.instruments);
    CHECK_INT(EVAL_CLIPS_ALL, rc.eval.clips);
    CHECK_INT(64, rc.eval.max_new);
    CHECK_INT(2, rc.eval.shards);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);

    /* The model, vocab and reasoning sections are accepted in a grpo file
     * (they are in every JSON) and held only to their ranges: a rule
     * between model keys that grpo does not read is not applied. */
    r = load_text("kind: grpo\ndataset: d\ngrpo: {init: run:1}\nrewards: {format: 1}\n"
                  "model: {channels: 64, heads: 6}\nreasoning: {order: mi}\n",
                  &rc, &err);
    CHECK_MSG(r == 0, "%s", err.msg);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
    CHECK(runconfig_set(&rc, "kind=sft", &err) == 0);
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("model.heads: 6 does not divide model.channels 64", err.msg);
}

TEST(runconfig_yaml_grpo_and_eval_errors_name_the_file_line_and_key)
{
    migr_err err;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"grpo:\n  group_size: 1\n", "run.yaml:2: grpo.group_size: 1 is out of range [2, 64]"},
        {"grpo:\n  group_size: 65\n", "run.yaml:2: grpo.group_size: 65 is out of range [2, 64]"},
        {"grpo: {temperature: 0}\n", "run.yaml:1: grpo.temperature: 0 is out of range (0, 100]"},
        {"grpo: {beta: -0.1}\n", "run.yaml:1: grpo.beta: -0.1 is out of range [0, 100]"},
        {"grpo: {clip_eps: 0}\n", "run.yaml:1: grpo.clip_eps: 0 is out of range (0, 1)"},
        {"grpo: {clip_eps: 1}\n", "run.yaml:1: grpo.clip_eps: 1 is out of range (0, 1)"},
        {"grpo: {top_k: -1}\n", "run.yaml:1: grpo.top_k: -1 is out of range [0, 1048576]"},
        {"grpo: {max_new: 0}\n", "run.yaml:1: grpo.max_new: 0 is out of range [1, 8192]"},
        {"grpo: {group_size: eight}\n", "run.yaml:1: grpo.group_size: 'eight' is not an integer"},
        {"grpo:\n  init: runs/3/ckpt/000200.ckpt\n",
         "run.yaml:2: grpo.init: 'runs/3/ckpt/000200.ckpt' is not run:ID, run:NAME or an absolute "
         "path to a checkpoint"},
        {"grpo: {init: 'run:0'}\n",
         "run.yaml:1: grpo.init: 'run:0' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"grpo: {init: 'run:thr ee'}\n",
         "run.yaml:1: grpo.init: 'run:thr ee' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"grpo: {init: [run:3]}\n",
         "run.yaml:1: grpo.init: must be run:ID or an absolute path to a checkpoint"},
        {"grpo: {instruments: a b}\n",
         "run.yaml:1: grpo.instruments: 'a b' is not a name (1-64 letters, digits, '_', '-' or "
         "'.', not starting with '.') or \"\""},
        {"grpo: {groupsize: 4}\n",
         "run.yaml:1: grpo.groupsize: unknown key; did you mean grpo.group_size?"},
        {"grpo: 8\n", "run.yaml:1: grpo: must be a mapping of grpo.* keys"},
        {"eval: {ckpt: ckpt.bin}\n",
         "run.yaml:1: eval.ckpt: 'ckpt.bin' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"eval: {ckpt: /}\n",
         "run.yaml:1: eval.ckpt: '/' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"eval:\n  clips: train\n", "run.yaml:2: eval.clips: 'train' is not holdout or all"},
        {"eval: {clips: [all]}\n", "run.yaml:1: eval.clips: must be holdout or all"},
        {"eval: {max_new: 0}\n", "run.yaml:1: eval.max_new: 0 is out of range [1, 8192]"},
        {"eval: {shards: 0}\n", "run.yaml:1: eval.shards: 0 is out of range [1, 256]"},
        {"eval: {instruments: .hidden}\n",
         "run.yaml:1: eval.instruments: '.hidden' is not a name (1-64 letters, digits, '_', '-' "
         "or '.', not starting with '.') or \"\""},
        {"kind: grpo\nrewards:\n  accuracy: 1\n  acuracy: 1\n",
         "run.yaml:4: rewards.acuracy: unknown reward; known rewards: accuracy, format, mi_order, "
         "consistency, grounding"},
        {"rewards: {accuracy: high}\n", "run.yaml:1: rewards.accuracy: 'high' is not a number"},
        {"rewards: {accuracy: .nan}\n", "run.yaml:1: rewards.accuracy: '.nan' is not a number"},
        {"rewards:\n  format: [1]\n", "run.yaml:2: rewards.format: must be a number"},
        {"rewards: [accuracy, format]\n",
         "run.yaml:1: rewards: must be a mapping of reward: weight (e.g. accuracy: 1.0)"},
        {"rewards:\n  accuracy: 1\n  format: 1\n  accuracy: 2\n",
         "run.yaml:4: rewards.accuracy: given twice (first on line 2)"},
        {"rewards: {format: 1}\nseed: 2\nrewards: {format: 2}\n",
         "run.yaml:3: rewards.format: given twice (first on line 1)"},
        {"reward: {accuracy: 1}\n", "run.yaml:1: reward: unknown key; did you mean rewards?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(cases[i].msg, yaml_error(cases[i].yaml, &err));
}

/* A config of kind grpo that passes the check, for edits. */
static void grpo_config(runconfig *rc)
{
    migr_err err;
    runconfig_defaults(rc);
    runconfig_set(rc, "kind=grpo", &err);
    runconfig_set(rc, "dataset=d", &err);
    runconfig_set(rc, "grpo.init=run:3", &err);
    runconfig_set(rc, "rewards.accuracy=1", &err);
    runconfig_set(rc, "rewards.format=1", &err);
}

TEST(runconfig_check_enforces_the_grpo_and_eval_rules)
{
    runconfig rc;
    migr_err err;

    grpo_config(&rc);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
    /* No reward, or none with a non-zero weight. */
    rc.rewards.n = 0;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("rewards: kind grpo needs at least one reward with a non-zero weight (known "
              "rewards: accuracy, format, mi_order, consistency, grounding)", err.msg);
    grpo_config(&rc);
    CHECK(runconfig_set(&rc, "rewards.accuracy=0", &err) == 0);
    CHECK(runconfig_set(&rc, "rewards.format=0", &err) == 0);
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_MSG(strncmp(err.msg, "rewards: kind grpo needs", 24) == 0, "got: %s", err.msg);
    /* A negative weight is a weight. */
    CHECK(runconfig_set(&rc, "rewards.format=-1", &err) == 0);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
    /* The train rules, counted in clips. */
    grpo_config(&rc);
    CHECK(runconfig_set(&rc, "train.shards=17", &err) == 0);
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("train.shards: 17 is more than train.batch_size 16; a shard needs at least one clip",
              err.msg);
    grpo_config(&rc);
    CHECK(runconfig_set(&rc, "train.warmup=201", &err) == 0);
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("train.warmup: 201 is more than train.steps 200; lower it, e.g. --set train.warmup=20", err.msg);
    /* Eval ignores train: its own shards are what count. */
    CHECK(runconfig_set(&rc, "kind=eval", &err) == 0);
    CHECK(runconfig_set(&rc, "eval.ckpt=/x/y.ckpt", &err) == 0);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);

    /* A struct edited by hand is held to the parsers' ranges and forms. */
    grpo_config(&rc);
    rc.grpo.group_size = 1;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("grpo.group_size: 1 is out of range [2, 64]", err.msg);
    grpo_config(&rc);
    rc.grpo.temperature = 0;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("grpo.temperature: 0 is out of range (0, 100]", err.msg);
    grpo_config(&rc);
    rc.grpo.beta = -1;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("grpo.beta: -1 is out of range [0, 100]", err.msg);
    grpo_config(&rc);
    rc.grpo.clip_eps = 1;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("grpo.clip_eps: 1 is out of range (0, 1)", err.msg);
    grpo_config(&rc);
    snprintf(rc.grpo.init, sizeof rc.grpo.init, "run:-2");
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("grpo.init: 'run:-2' is not run:ID, run:NAME or an absolute path to a checkpoint", err.msg);
    grpo_config(&rc);
    snprintf(rc.rewards.item[1].name, sizeof rc.rewards.item[1].name, "speed");
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("rewards[1]: unknown reward \"speed\"; known rewards: accuracy, format, mi_order, "
              "consistency, grounding", err.msg);
    grpo_config(&rc);
    snprintf(rc.rewards.item[1].name, sizeof rc.rewards.item[1].name, "accuracy");
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("rewards[1]: \"accuracy\" is already rewards[0]; name each reward once", err.msg);
    grpo_config(&rc);
    rc.rewards.item[0].weight = NAN;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("rewards[0]: the weight of \"accuracy\" is not a finite number", err.msg);

    runconfig_defaults(&rc);
    CHECK(runconfig_set(&rc, "kind=eval", &err) == 0);
    CHECK(runconfig_set(&rc, "dataset=d", &err) == 0);
    CHECK(runconfig_set(&rc, "eval.ckpt=run:4", &err) == 0);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
    rc.eval.clips = (eval_clips)7;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("eval.clips: '?' is not holdout or all", err.msg);
    rc.eval.clips = EVAL_CLIPS_ALL;
    rc.eval.max_new = 0;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("eval.max_new: 0 is out of range [1, 8192]", err.msg);
    rc.eval.max_new = 1;
    rc.eval.shards = 0;
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("eval.shards: 0 is out of range [1, 256]", err.msg);
    rc.eval.shards = 1;
    snprintf(rc.eval.ckpt, sizeof rc.eval.ckpt, "latest");
    CHECK(runconfig_check(&rc, &err) < 0);
    CHECK_STR("eval.ckpt: 'latest' is not run:ID, run:NAME or an absolute path to a checkpoint", err.msg);
}

TEST(runconfig_set_reaches_rewards_and_grpo_and_eval_keys)
{
    runconfig rc, before;
    migr_err err;
    grpo_config(&rc);
    CHECK_MSG(runconfig_set(&rc, "rewards.accuracy=2.5", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "rewards.mi_order=0.5", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, " rewards.grounding = -1 ", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "grpo.group_size=4", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "grpo.init=run:42", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "grpo.instruments=verifier-set", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "grpo.instruments=", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "grpo.clip_eps=0.3", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "eval.clips=all", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "eval.ckpt=/abs/path/step 7.ckpt", &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_set(&rc, "eval.max_new=33", &err) == 0, "%s", err.msg);
    /* An existing reward keeps its place; a new one goes at the end. */
    CHECK_INT(4, rc.rewards.n);
    CHECK_STR("accuracy", rc.rewards.item[0].name);
    CHECK(rc.rewards.item[0].weight == 2.5);
    CHECK_STR("format", rc.rewards.item[1].name);
    CHECK_STR("mi_order", rc.rewards.item[2].name);
    CHECK(rc.rewards.item[2].weight == 0.5);
    CHECK_STR("grounding", rc.rewards.item[3].name);
    CHECK(rc.rewards.item[3].weight == -1);
    CHECK_INT(4, rc.grpo.group_size);
    CHECK_STR("run:42", rc.grpo.init);
    CHECK_STR("", rc.grpo.instruments);
    CHECK(rc.grpo.clip_eps == 0.3);
    CHECK_INT(EVAL_CLIPS_ALL, rc.eval.clips);
    CHECK_STR("/abs/path/step 7.ckpt", rc.eval.ckpt);
    CHECK_INT(33, rc.eval.max_new);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);

    before = rc;
    static const struct {
        const char *set, *msg;
    } bad[] = {
        {"rewards.speed=1", "rewards.speed: unknown reward; known rewards: accuracy, format, "
                            "mi_order, consistency, grounding"},
        {"rewards.=1", "rewards.: unknown reward; known rewards: accuracy, format, mi_order, "
                       "consistency, grounding"},
        {"rewards.accuracy=", "rewards.accuracy: '' is not a number"},
        {"rewards.accuracy=inf", "rewards.accuracy: 'inf' is not a number"},
        {"rewards=1", "rewards: is a section; set one of its keys, e.g. rewards.accuracy"},
        {"grpo=1", "grpo: is a section; set one of its keys, e.g. grpo...."},
        {"grpo.group_size=1", "grpo.group_size: 1 is out of range [2, 64]"},
        {"grpo.temperature=0", "grpo.temperature: 0 is out of range (0, 100]"},
        {"grpo.init=run:", "grpo.init: 'run:' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"eval.clips=some", "eval.clips: 'some' is not holdout or all"},
        {"eval.ckpt=x", "eval.ckpt: 'x' is not run:ID, run:NAME or an absolute path to a checkpoint"},
        {"eval.ckpt=/a/\xff.ckpt", "eval.ckpt: is not UTF-8 text (the config travels as JSON)"},
        {"eval.shards=0", "eval.shards: 0 is out of range [1, 256]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(runconfig_set(&rc, bad[i].set, &err) < 0, "%s was taken", bad[i].set);
        CHECK_STR(bad[i].msg, err.msg);
    }
    CHECK(memcmp(&rc, &before, sizeof rc) == 0);
}

TEST(runconfig_ckpt_ref_parses_run_ids_and_absolute_paths)
{
    long long run = -5;
    const char *path = NULL;
    const char *p = "/srv/migr/store/runs/3/ckpt/000200.ckpt";
    CHECK_INT(1, runconfig_ckpt_ref("run:3", &run, &path));
    CHECK_INT(3, run);
    CHECK(path == NULL);
    CHECK_INT(1, runconfig_ckpt_ref("run:9223372036854775807", &run, NULL));
    CHECK(run == 9223372036854775807LL);
    CHECK_INT(2, runconfig_ckpt_ref(p, &run, &path));
    CHECK(path == p);
    CHECK(run == 9223372036854775807LL);  /* untouched */
    CHECK_INT(2, runconfig_ckpt_ref("/a", NULL, NULL));
    CHECK_INT(3, runconfig_ckpt_ref("run:grpo-migr", &run, &path));
    CHECK_STR("grpo-migr", path);
    CHECK_INT(3, runconfig_ckpt_ref("run:x", NULL, NULL));
    path = NULL;
    static const char *const bad[] = {
        "", "run:", "run:0", "run:-1", "run:+1", "run: 1", "run:1 ", "run:1x", "run:x y", "run:.x", "run:x/y",
        "run:9223372036854775808", "RUN:1", "3", "runs/3/ckpt/000200.ckpt", "./x.ckpt",
        "~/x.ckpt", "/", "/store/runs/3/", "/a\nb.ckpt",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run = -5;
        path = NULL;
        CHECK_MSG(runconfig_ckpt_ref(bad[i], &run, &path) == -1, "'%s' was taken", bad[i]);
        CHECK(run == -5 && path == NULL);
    }
    CHECK_INT(-1, runconfig_ckpt_ref(NULL, &run, &path));
}

TEST(runconfig_reward_list_feeds_reward_set_init)
{
    runconfig rc;
    migr_err err;
    reward_weight list[REWARD_SET_MAX];
    reward_set set;
    grpo_config(&rc);
    CHECK(runconfig_set(&rc, "rewards.mi_order=0.5", &err) == 0);
    int n = runconfig_reward_list(&rc, list);
    CHECK_INT(3, n);
    CHECK_STR("mi_order", list[2].name);
    CHECK(list[2].weight == 0.5);
    CHECK_MSG(reward_set_init(&set, list, n, &err) == 0, "%s", err.msg);
    CHECK_INT(3, set.n);
    CHECK_STR("accuracy", set.def[0]->name);
    CHECK_STR("format", set.def[1]->name);
    CHECK_STR("mi_order", set.def[2]->name);
}

/* to_json, text, from_json: the same struct, byte for byte, and the same JSON. */
static int round_trip(const runconfig *rc, runconfig *back, char **text_out, migr_err *err)
{
    json_t *j = runconfig_to_json(rc);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return migr_errf(err, "no memory");
    json_t *parsed = json_loads(text, 0, NULL);
    int r = parsed ? runconfig_from_json(parsed, back, err) : migr_errf(err, "bad JSON");
    json_t *again = r == 0 ? runconfig_to_json(back) : NULL;
    if (r == 0 && !json_equal(parsed, again))
        r = migr_errf(err, "the JSON changed in the round trip");
    json_decref(parsed);
    json_decref(again);
    *text_out = text;
    return r;
}

TEST(runconfig_json_round_trip_is_exact_for_every_kind)
{
    runconfig rc[3], back;
    migr_err err;
    runconfig_defaults(&rc[0]);
    CHECK(runconfig_set(&rc[0], "dataset=demo-200", &err) == 0);
    CHECK(runconfig_set(&rc[0], "reasoning.order=mi", &err) == 0);
    CHECK(runconfig_set(&rc[0], "train.lr=0.30000000000000004", &err) == 0);

    grpo_config(&rc[1]);
    CHECK(runconfig_set(&rc[1], "grpo.init=/store/runs/3/ckpt/000200.ckpt", &err) == 0);
    CHECK(runconfig_set(&rc[1], "grpo.instruments=other", &err) == 0);
    CHECK(runconfig_set(&rc[1], "grpo.temperature=0.1", &err) == 0);
    CHECK(runconfig_set(&rc[1], "grpo.beta=0", &err) == 0);
    CHECK(runconfig_set(&rc[1], "grpo.top_k=40", &err) == 0);
    CHECK(runconfig_set(&rc[1], "rewards.consistency=0.30000000000000004", &err) == 0);
    CHECK(runconfig_set(&rc[1], "rewards.accuracy=-2", &err) == 0);
    CHECK(runconfig_set(&rc[1], "seed=9223372036854775807", &err) == 0);

    runconfig_defaults(&rc[2]);
    CHECK(runconfig_set(&rc[2], "kind=eval", &err) == 0);
    CHECK(runconfig_set(&rc[2], "dataset=demo-200", &err) == 0);
    CHECK(runconfig_set(&rc[2], "eval.ckpt=run:17", &err) == 0);
    CHECK(runconfig_set(&rc[2], "eval.clips=all", &err) == 0);
    CHECK(runconfig_set(&rc[2], "eval.instruments=judge-set", &err) == 0);
    CHECK(runconfig_set(&rc[2], "eval.shards=3", &err) == 0);

    for (int k = 0; k < 3; k++) {
        char *text = NULL, shown[4096];
        memset(&back, 0xa5, sizeof back);
        int r = round_trip(&rc[k], &back, &text, &err);
        snprintf(shown, sizeof shown, "%s", text ? text : "");
        free(text);
        CHECK_MSG(r == 0, "%s: %s (from %s)", run_kind_name(rc[k].kind), err.msg, shown);
        CHECK_MSG(memcmp(&rc[k], &back, sizeof back) == 0, "%s: the struct changed (from %s)",
                  run_kind_name(rc[k].kind), shown);
        /* The rewards keep the config's order in the JSON text. */
        if (k == 1) {
            const char *acc = strstr(shown, "\"accuracy\":-2"), *fmt = strstr(shown, "\"format\"");
            const char *con = strstr(shown, "\"consistency\"");
            CHECK_MSG(acc && fmt && con && acc < fmt && fmt < con, "order lost: %s", shown);
        }
    }
}

/* The JSON an sft run's config had before kinds grpo and eval: no grpo,
 * eval or rewards section.  migrd's database still holds such configs. */
static const char old_sft_json[] =
    "{\"name\": \"sft-baseline\", \"kind\": \"sft\", \"dataset\": \"demo-200\", \"seed\": 7,"
    " \"model\": {\"channels\": 32, \"layers\": 2, \"heads\": 4, \"mlp_ratio\": 4,"
    " \"max_seq\": 160, \"audio_window\": 10, \"subtitle_max\": 24},"
    " \"vocab\": {\"min_count\": 1, \"max_size\": 2000},"
    " \"train\": {\"steps\": 200, \"batch_size\": 16, \"shards\": 4, \"lr\": 0.003,"
    " \"warmup\": 20, \"min_lr_ratio\": 0.1, \"weight_decay\": 0.01, \"beta1\": 0.9,"
    " \"beta2\": 0.95, \"eps\": 1e-08, \"grad_clip\": 1.0, \"checkpoint_every\": 50,"
    " \"holdout\": 0.1},"
    " \"reasoning\": {\"order\": \"mi\"}}";

TEST(runconfig_from_json_reads_an_sft_config_written_before_grpo_and_eval)
{
    runconfig rc, want;
    migr_err err;
    json_t *j = json_loads(old_sft_json, 0, NULL);
    CHECK(j != NULL);
    int r = runconfig_from_json(j, &rc, &err);
    json_decref(j);
    CHECK_MSG(r == 0, "%s", err.msg);
    runconfig_defaults(&want);
    CHECK(runconfig_set(&want, "name=sft-baseline", &err) == 0);
    CHECK(runconfig_set(&want, "dataset=demo-200", &err) == 0);
    CHECK(runconfig_set(&want, "seed=7", &err) == 0);
    CHECK(runconfig_set(&want, "model.channels=32", &err) == 0);
    CHECK(runconfig_set(&want, "reasoning.order=mi", &err) == 0);
    CHECK_MSG(memcmp(&rc, &want, sizeof rc) == 0, "not the defaults with the JSON's values");
}

static void grpo_missing_beta(json_t *j)
{
    json_object_set_new(j, "grpo", json_pack("{s:s, s:s, s:i, s:f, s:i, s:i, s:f}", "init", "",
                                             "instruments", "", "group_size", 8, "temperature",
                                             1.0, "top_k", 0, "max_new", 120, "clip_eps", 0.2));
}
static void eval_unknown(json_t *j) { json_object_set_new(json_object_get(j, "eval"), "greedy", json_true()); }
static void eval_clips_number(json_t *j) { json_object_set_new(json_object_get(j, "eval"), "clips", json_integer(1)); }
static void rewards_array(json_t *j) { json_object_set_new(j, "rewards", json_array()); }
static void rewards_unknown(json_t *j) { json_object_set_new(json_object_get(j, "rewards"), "speed", json_real(1)); }
static void rewards_string(json_t *j) { json_object_set_new(json_object_get(j, "rewards"), "format", json_string("1")); }
static void rewards_fine(json_t *j) { json_object_set_new(json_object_get(j, "rewards"), "format", json_integer(2)); }

TEST(runconfig_from_json_is_strict_about_the_new_sections_it_has)
{
    migr_err err;
    /* A section that is there must be whole. */
    CHECK(from_edited(grpo_missing_beta, &err) < 0);
    CHECK_STR("run config: grpo.beta: missing", err.msg);
    CHECK(from_edited(eval_unknown, &err) < 0);
    CHECK_STR("run config: eval.greedy: unknown key " EVERY_KEY, err.msg);
    CHECK(from_edited(eval_clips_number, &err) < 0);
    CHECK_STR("run config: eval.clips: must be a string", err.msg);
    CHECK(from_edited(rewards_array, &err) < 0);
    CHECK_STR("run config: rewards: must be an object of reward: weight", err.msg);
    CHECK(from_edited(rewards_unknown, &err) < 0);
    CHECK_STR("run config: rewards.speed: unknown reward; known rewards: accuracy, format, "
              "mi_order, consistency, grounding", err.msg);
    CHECK(from_edited(rewards_string, &err) < 0);
    CHECK_STR("run config: rewards.format: must be a number", err.msg);
    CHECK_MSG(from_edited(rewards_fine, &err) == 0, "%s", err.msg);

    /* A grpo config is checked as one: without init it is refused. */
    runconfig rc;
    grpo_config(&rc);
    rc.grpo.init[0] = '\0';
    json_t *j = runconfig_to_json(&rc);
    CHECK(j != NULL);
    int r = runconfig_from_json(j, &rc, &err);
    json_decref(j);
    CHECK(r < 0);
    CHECK_STR("run config: grpo.init: required for kind grpo (run:ID, the SFT run to start from, "
              "or an absolute path to a checkpoint)", err.msg);
}
