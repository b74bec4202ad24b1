/* test_runconfig.c -- run configs: defaults, YAML, --set, cross-key rules,
 * JSON round trip, and examples/sft.yaml. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "ml/runconfig.h"

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
    CHECK_STR("run.yaml:2: colour: unknown key (examples/sft.yaml lists every key)",
              yaml_error("dataset: d\ncolour: blue\n", &err));
    CHECK_STR("run.yaml:1: trian: unknown key; did you mean train?",
              yaml_error("trian: {steps: 3}\n", &err));
    /* A section inside a section is not a key either. */
    CHECK_STR("run.yaml:1: train.model: unknown key (examples/sft.yaml lists every key)",
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

TEST(runconfig_kind_accepts_only_sft_for_now)
{
    migr_err err;
    CHECK_STR("run.yaml:1: kind: 'grpo' is not supported yet; this build runs kind sft",
              yaml_error("kind: grpo\n", &err));
    CHECK_STR("run.yaml:1: kind: 'eval' is not supported yet; this build runs kind sft",
              yaml_error("kind: eval\n", &err));
    CHECK_STR("run.yaml:1: kind: 'train' is not a run kind (sft)",
              yaml_error("kind: train\n", &err));
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
    CHECK(runconfig_set(&rc, "kind=grpo", &err) < 0);
    CHECK_STR("kind: 'grpo' is not supported yet; this build runs kind sft", err.msg);
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
        {"train.warmup=201", "train.warmup: 201 is more than train.steps 200"},
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
    int ok = json_object_size(j) == 8 && json_is_string(json_object_get(j, "name")) &&
             json_is_string(json_object_get(j, "kind")) &&
             json_is_integer(json_object_get(j, "seed")) &&
             json_object_size(json_object_get(j, "model")) == 7 &&
             json_object_size(json_object_get(j, "vocab")) == 2 && json_object_size(train) == 13 &&
             json_integer_value(json_object_get(train, "steps")) == 200 &&
             json_real_value(json_object_get(train, "lr")) == 0.003 &&
             json_is_string(json_object_get(json_object_get(j, "reasoning"), "order"));
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
static void add_top(json_t *j) { json_object_set_new(j, "grpo", json_object()); }
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
    CHECK_STR("run config: train.momentum: unknown key (examples/sft.yaml lists every key)",
              err.msg);
    CHECK(from_edited(add_top, &err) < 0);
    CHECK_STR("run config: grpo: unknown key (examples/sft.yaml lists every key)", err.msg);
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

TEST(runconfig_example_sft_yaml_loads_and_comments_every_key)
{
    runconfig rc;
    migr_err err;
    uint8_t *text;
    size_t len;
    runconfig_defaults(&rc);
    CHECK_MSG(runconfig_load_yaml("examples/sft.yaml", &rc, &err) == 0, "%s", err.msg);
    CHECK_MSG(runconfig_check(&rc, &err) == 0, "%s", err.msg);
    CHECK_STR("sft", run_kind_name(rc.kind));
    CHECK_MSG(fs_read_file("examples/sft.yaml", &text, &len, &err) == 0, "%s", err.msg);

    /* Every key of the resolved config is in the file on a commented line. */
    json_t *j = runconfig_to_json(&rc);
    const char *name, *sub;
    json_t *v, *sv;
    char missing[128] = "";
    json_object_foreach(j, name, v) {
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
            if (!at || !hash || (eol && hash > eol))
                snprintf(missing, sizeof missing, "%s%s%s", json_is_object(v) ? name : "",
                         json_is_object(v) ? "." : "", sub);
        }
        json_decref(one);
    }
    json_decref(j);
    free(text);
    CHECK_MSG(missing[0] == '\0', "examples/sft.yaml: %s is missing or has no comment on its line",
              missing);
}
