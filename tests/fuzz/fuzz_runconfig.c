/* fuzz_runconfig.c -- a run's config (spec/runconfig.h) on any bytes, in the
 * three forms it arrives in.
 *
 * YAML, as `migr run submit FILE --set k=v` reads it: the input is written to
 * a file of the harness's scratch directory (one per process, rewritten per
 * input) and loaded over the defaults; then the input's lines that start
 * with "#set " (YAML comments, so the file reads the same) are applied with
 * runconfig_set, at most four, in order; then runconfig_check.
 * JSON, as migrd's run.submit reads a client's config: when the whole input
 * is a JSON value it also goes to runconfig_from_json.
 *
 * A refused load or override leaves the config as it was and says why.  A
 * checked config goes to JSON and back, through the text migrd stores, to
 * the same config; one that fails the check is refused by from_json too. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/runconfig.h"
#include "tests/fuzz/fuzz_util.h"

enum { MAX_SETS = 4 };

static void fail(const char *what, const migr_err *err)
{
    fprintf(stderr, "fuzz_runconfig: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    abort();
}

/* to_json, dumped as migrd stores it, loaded and read back as a worker
 * does: the same config if it passed the check, refused if it did not. */
static void round_trip(const runconfig *rc, int checked)
{
    migr_err err = {{0}};
    json_t *j = runconfig_to_json(rc);
    if (!j)
        fail(checked ? "a checked config has no JSON" : "no JSON", NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    json_error_t jerr;
    json_t *back = text ? json_loads(text, 0, &jerr) : NULL;
    if (!back)
        fail("runconfig_to_json gives JSON that does not read back", NULL);
    runconfig again;
    runconfig_defaults(&again);
    int rc2 = runconfig_from_json(back, &again, &err);
    if (checked && rc2 < 0)
        fail("a checked config's JSON is refused", &err);
    if (!checked && rc2 == 0)
        fail("a config that fails runconfig_check is taken from its JSON", NULL);
    if (rc2 == 0) {
        json_t *j2 = runconfig_to_json(&again);
        if (!j2 || !json_equal(j, j2))
            fail("a config changes on its way through JSON", NULL);
        json_decref(j2);
    }
    json_decref(back);
    free(text);
    json_decref(j);
}

static void from_yaml(const uint8_t *data, size_t size)
{
    char path[600], *text = fuzz_cstring(data, size);
    runconfig rc, before;
    migr_err err = {{0}};

    fuzz_path(path, sizeof path, "run.yaml");
    fuzz_write_file(path, data, size);
    runconfig_defaults(&rc);
    before = rc;
    if (runconfig_load_yaml(path, &rc, &err) < 0) {
        if (!err.msg[0] || memcmp(&rc, &before, sizeof rc) != 0)
            fail("a refused YAML file changed the config or said nothing", &err);
    }
    int sets = 0;
    for (char *line = text; line && sets < MAX_SETS; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, "#set ", 5) != 0)
            continue;
        char *end = strpbrk(line, "\r\n"), keep = end ? *end : '\0';
        if (end)
            *end = '\0';
        before = rc;
        err.msg[0] = '\0';
        if (runconfig_set(&rc, line + 5, &err) < 0 &&
            (!err.msg[0] || memcmp(&rc, &before, sizeof rc) != 0))
            fail("a refused --set changed the config or said nothing", &err);
        if (end)
            *end = keep;
        sets++;
    }
    err.msg[0] = '\0';
    int checked = runconfig_check(&rc, &err) == 0;
    if (!checked && !err.msg[0])
        fail("runconfig_check refused without a reason", NULL);
    round_trip(&rc, checked);
    /* The helpers the workers use on a checked config. */
    if (checked) {
        reward_weight list[REWARD_SET_MAX];
        int order[MODALITY_COUNT];
        if (runconfig_reward_list(&rc, list) != rc.rewards.n)
            abort();
        runconfig_fixed_order(&rc, order);
    }
    free(text);
}

static void from_json(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    runconfig rc;
    migr_err err = {{0}};
    if (!j)
        return;
    runconfig_defaults(&rc);
    if (runconfig_from_json(j, &rc, &err) < 0) {
        if (!err.msg[0])
            fail("runconfig_from_json refused without a reason", NULL);
    } else {
        if (runconfig_check(&rc, &err) < 0)
            fail("runconfig_from_json took a config runconfig_check refuses", &err);
        round_trip(&rc, 1);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    from_yaml(data, size);
    from_json(data, size);
    return 0;
}
