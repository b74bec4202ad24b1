/* runconfig.c -- see runconfig.h.
 *
 * One table lists every key: its dotted name, its type, where it lives in
 * the struct and its range.  The three readers (YAML, --set, JSON) all end
 * in apply_text(), which parses and checks one value given as text, so a
 * key means and accepts the same thing wherever it comes from;
 * runconfig_check() sends every value through it once more.
 *
 * The rewards section is the one map whose keys are not fixed: its keys are
 * reward names (spec/rewards.h), its values weights.  Each reader handles it
 * beside the table, through reward_apply(). */
#include "spec/runconfig.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/yamlfile.h"

typedef enum {
    K_NAME,     /* a run or dataset name */
    K_OPTNAME,  /* a dataset name or "" */
    K_KIND,     /* run_kind */
    K_SEED,     /* uint64_t, 0 .. 2^63-1 */
    K_INT,
    K_REAL,
    K_ORDER,    /* reasoning.order */
    K_CKPT,     /* a checkpoint reference or "" */
    K_CLIPS,    /* eval_clips */
} key_type;

typedef struct key_spec {
    const char *key;   /* dotted: "train.steps" */
    key_type type;
    size_t offset;     /* into runconfig */
    double lo, hi;     /* K_INT and K_REAL: the allowed range */
    int lo_open;       /* K_REAL: lo itself is excluded */
    int hi_open;       /* K_REAL: hi itself is excluded */
} key_spec;

#define AT(field) offsetof(runconfig, field)
static const key_spec keys[] = {
    {"name", K_NAME, AT(name), 0, 0, 0},
    {"kind", K_KIND, AT(kind), 0, 0, 0},
    {"dataset", K_NAME, AT(dataset), 0, 0, 0},
    {"seed", K_SEED, AT(seed), 0, 0, 0},
    {"model.channels", K_INT, AT(model.channels), 8, 4096, 0},
    {"model.layers", K_INT, AT(model.layers), 1, 64, 0},
    {"model.heads", K_INT, AT(model.heads), 1, 256, 0},
    {"model.mlp_ratio", K_INT, AT(model.mlp_ratio), 1, 16, 0},
    {"model.max_seq", K_INT, AT(model.max_seq), 16, 8192, 0},
    {"model.audio_window", K_INT, AT(model.audio_window), 1, 1000, 0},
    {"model.subtitle_max", K_INT, AT(model.subtitle_max), 0, 1024, 0},
    {"vocab.min_count", K_INT, AT(vocab.min_count), 1, 1e9, 0},
    {"vocab.max_size", K_INT, AT(vocab.max_size), 0, 1 << 20, 0},
    {"train.steps", K_INT, AT(train.steps), 1, 1e7, 0},
    {"train.batch_size", K_INT, AT(train.batch_size), 1, 4096, 0},
    {"train.shards", K_INT, AT(train.shards), 1, 256, 0},
    {"train.lr", K_REAL, AT(train.lr), 0, 1, 1},
    {"train.warmup", K_INT, AT(train.warmup), 0, 1e7, 0},
    {"train.min_lr_ratio", K_REAL, AT(train.min_lr_ratio), 0, 1, 0},
    {"train.weight_decay", K_REAL, AT(train.weight_decay), 0, 1, 0},
    {"train.beta1", K_REAL, AT(train.beta1), 0, 0.9999, 0},
    {"train.beta2", K_REAL, AT(train.beta2), 0, 0.9999, 0},
    {"train.eps", K_REAL, AT(train.eps), 0, 1, 1},
    {"train.grad_clip", K_REAL, AT(train.grad_clip), 0, 1e6, 0},
    {"train.checkpoint_every", K_INT, AT(train.checkpoint_every), 1, 1e7, 0},
    {"train.holdout", K_REAL, AT(train.holdout), 0, 0.9, 0},
    {"reasoning.order", K_ORDER, AT(reasoning.order), 0, 0, 0},
    {"grpo.init", K_CKPT, AT(grpo.init), 0, 0, 0},
    {"grpo.instruments", K_OPTNAME, AT(grpo.instruments), 0, 0, 0},
    {"grpo.group_size", K_INT, AT(grpo.group_size), 2, 64, 0},
    {"grpo.temperature", K_REAL, AT(grpo.temperature), 0, 100, 1},
    {"grpo.top_k", K_INT, AT(grpo.top_k), 0, 1 << 20, 0},
    {"grpo.max_new", K_INT, AT(grpo.max_new), 1, 8192, 0},
    {"grpo.beta", K_REAL, AT(grpo.beta), 0, 100, 0},
    {"grpo.clip_eps", K_REAL, AT(grpo.clip_eps), 0, 1, 1, 1},
    {"eval.ckpt", K_CKPT, AT(eval.ckpt), 0, 0, 0},
    {"eval.instruments", K_OPTNAME, AT(eval.instruments), 0, 0, 0},
    {"eval.clips", K_CLIPS, AT(eval.clips), 0, 0, 0},
    {"eval.max_new", K_INT, AT(eval.max_new), 1, 8192, 0},
    {"eval.shards", K_INT, AT(eval.shards), 1, 256, 0},
};
#undef AT
enum { NKEYS = sizeof keys / sizeof keys[0] };

/* The section of reward weights, read beside the table. */
#define REWARDS "rewards"

static const char *const kind_names[] = {"sft", "grpo", "eval"};
static const char *const clips_names[] = {"holdout", "all"};

void runconfig_defaults(runconfig *rc)
{
    memset(rc, 0, sizeof *rc);
    snprintf(rc->name, sizeof rc->name, "run");
    rc->kind = RUN_SFT;
    rc->seed = 1;
    rc->model = (runconfig_model){.channels = 64, .layers = 2, .heads = 4, .mlp_ratio = 4,
                                  .max_seq = 160, .audio_window = 10, .subtitle_max = 24};
    rc->vocab = (runconfig_vocab){.min_count = 1, .max_size = 2000};
    rc->train = (runconfig_train){.steps = 200, .batch_size = 16, .shards = 4, .lr = 3e-3,
                                  .warmup = 20, .min_lr_ratio = 0.1, .weight_decay = 0.01,
                                  .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .grad_clip = 1.0,
                                  .checkpoint_every = 50, .holdout = 0.1};
    snprintf(rc->reasoning.order, sizeof rc->reasoning.order, "visual-first");
    /* The paper's stage 2 settings (design.md section 1); init is required. */
    rc->grpo = (runconfig_grpo){.group_size = 8, .temperature = 1.0, .top_k = 0,
                                .max_new = 120, .beta = 0.04, .clip_eps = 0.2};
    rc->eval = (runconfig_eval){.clips = EVAL_CLIPS_HOLDOUT, .max_new = 200, .shards = 4};
}

const char *run_kind_name(run_kind kind)
{
    return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

const char *eval_clips_name(eval_clips clips)
{
    return (unsigned)clips < sizeof clips_names / sizeof clips_names[0] ? clips_names[clips]
                                                                        : "?";
}

static int valid_name(const char *s);

int runconfig_ckpt_ref(const char *s, long long *run_id, const char **path)
{
    if (!s)
        return -1;
    if (strncmp(s, "run:", 4) == 0) {
        const char *d = s + 4;
        char *end;
        if (isalpha((unsigned char)*d) || *d == '_') {
            if (!valid_name(d))
                return -1;
            if (path)
                *path = d;
            return 3;
        }
        if (!isdigit((unsigned char)*d))
            return -1;  /* no sign, no space: strtoll would take both */
        errno = 0;
        long long id = strtoll(d, &end, 10);
        if (*end != '\0' || errno == ERANGE || id < 1)
            return -1;
        if (run_id)
            *run_id = id;
        return 1;
    }
    size_t n = strlen(s);
    if (n < 2 || s[0] != '/' || s[n - 1] == '/')
        return -1;
    for (size_t i = 0; i < n; i++)
        if (iscntrl((unsigned char)s[i]))
            return -1;  /* a path is logged and sent in JSON: keep it one line */
    if (path)
        *path = s;
    return 2;
}

int runconfig_reward_list(const runconfig *rc, reward_weight list[REWARD_SET_MAX])
{
    assert(rc->rewards.n >= 0 && rc->rewards.n <= REWARD_SET_MAX);
    for (int i = 0; i < rc->rewards.n; i++)
        list[i] = (reward_weight){rc->rewards.item[i].name, rc->rewards.item[i].weight};
    return rc->rewards.n;
}

/* ---- errors ---- */

/* Where a value came from: "path:line", "run config", or nothing (--set). */
typedef struct origin {
    const char *source;
    int line;  /* > 0 for a file */
} origin;

/* Fill err with "origin: key: message"; returns -1. */
static int fail(migr_err *err, const origin *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(migr_err *err, const origin *o, const char *key, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (o->source && o->line > 0)
        return migr_errf(err, "%s:%d: %s: %s", o->source, o->line, key, msg);
    if (o->source)
        return migr_errf(err, "%s: %s: %s", o->source, key, msg);
    return migr_errf(err, "%s: %s", key, msg);
}

/* ---- the key table ---- */

static const key_spec *find_key(const char *dotted)
{
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].key, dotted) == 0)
            return &keys[i];
    return NULL;
}

/* Whether name is a section ("train"), i.e. some key starts with "name.",
 * or the rewards map. */
static int is_section(const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, REWARDS) == 0)
        return 1;
    for (int i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].key, name, n) == 0 && keys[i].key[n] == '.')
            return 1;
    return 0;
}

/* Edit distance, for "did you mean"; strings longer than 63 bytes are far. */
static int distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int row[64], prev;
    if (na > 63 || nb > 63)
        return 99;
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            prev = row[j];
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return row[nb];
}

static int unknown_key(migr_err *err, const origin *o, const char *key)
{
    char best[64] = "", section[64];
    int best_d = 3;  /* suggest only close misspellings */
    if (distance(key, REWARDS) < best_d) {
        best_d = distance(key, REWARDS);
        snprintf(best, sizeof best, "%s", REWARDS);
    }
    for (int i = 0; i < NKEYS; i++) {
        /* Each key, and the section it is in ("train" for "trian"). */
        const char *dot = strchr(keys[i].key, '.');
        snprintf(section, sizeof section, "%.*s",
                 dot ? (int)(dot - keys[i].key) : (int)strlen(keys[i].key), keys[i].key);
        const char *cand[2] = {keys[i].key, section};
        for (int j = 0; j < 2; j++) {
            int d = distance(key, cand[j]);
            if (d < best_d) {
                best_d = d;
                snprintf(best, sizeof best, "%s", cand[j]);
            }
        }
    }
    if (best[0])
        return fail(err, o, key, "unknown key; did you mean %s?", best);
    return fail(err, o, key, "unknown key (examples/sft.yaml, grpo.yaml and eval.yaml list "
                "every key)");
}

/* ---- one value ---- */

/* 1-64 letters, digits, '_', '-' or '.', not starting with '.' (the
 * coordinator's rule for dataset names, used for run names too). */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RUNCONFIG_NAME_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return 0;
    return 1;
}

/* A block order from a list of modality names: a permutation of the three,
 * normalized to "[aud, vis, txt]".  On error, why says what is wrong. */
static int order_from_items(char items[][16], int n, char out[RUNCONFIG_ORDER_MAX],
                            int mods[MODALITY_COUNT], char *why, size_t cap)
{
    int seen[MODALITY_COUNT] = {0}, m[MODALITY_COUNT];
    for (int i = 0; i < n; i++) {
        int mod = modality_parse(items[i]);
        if (mod < 0 || mod >= MODALITY_COUNT) {
            snprintf(why, cap, "'%s' is not a modality (vis|visual, aud|audio, txt|text)",
                     items[i]);
            return -1;
        }
        if (seen[mod]++) {
            snprintf(why, cap, "%s appears twice; list each of vis, aud, txt once",
                     modality_tag(mod));
            return -1;
        }
        if (i < MODALITY_COUNT)
            m[i] = mod;
    }
    if (n != MODALITY_COUNT) {
        snprintf(why, cap, "lists %d modalities; list each of vis, aud, txt once", n);
        return -1;
    }
    snprintf(out, RUNCONFIG_ORDER_MAX, "[%s, %s, %s]", modality_tag(m[0]), modality_tag(m[1]),
             modality_tag(m[2]));
    if (mods)
        memcpy(mods, m, sizeof m);
    return 0;
}

/* A block order as text: "visual-first", "mi", or a list "[aud, vis, txt]"
 * (brackets optional, items separated by commas and/or spaces). */
static int order_from_text(const char *text, char out[RUNCONFIG_ORDER_MAX],
                           int mods[MODALITY_COUNT], char *why, size_t cap)
{
    char items[8][16];
    int n = 0;
    const char *p = text, *end = text + strlen(text);

    if (strcmp(text, "visual-first") == 0 || strcmp(text, "mi") == 0) {
        snprintf(out, RUNCONFIG_ORDER_MAX, "%s", text);
        if (mods && text[0] == 'v')
            for (int i = 0; i < MODALITY_COUNT; i++)
                mods[i] = i;  /* the baseline: MOD_VISUAL, MOD_AUDIO, MOD_TEXT */
        return 0;
    }
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    int bracketed = p < end && *p == '[';
    if (bracketed != (end > p && end[-1] == ']'))
        goto bad;
    if (bracketed)
        p++, end--;
    while (p < end) {
        size_t len = 0;
        while (p < end && (isspace((unsigned char)*p) || *p == ','))
            p++;
        while (p + len < end && !isspace((unsigned char)p[len]) && p[len] != ',')
            len++;
        if (len == 0)
            break;
        if (n == 8 || len >= sizeof items[0])
            goto bad;
        memcpy(items[n], p, len);
        items[n++][len] = '\0';
        p += len;
    }
    if (n == 1 && !bracketed && modality_parse(items[0]) < 0)
        goto bad;
    return order_from_items(items, n, out, mods, why, cap);
bad:
    snprintf(why, cap, "'%s' is not visual-first, mi or a list of vis, aud, txt", text);
    return -1;
}

static int parse_real(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v) ||
        isspace((unsigned char)text[0]))
        return -1;
    *out = v;
    return 0;
}

/* Copy text into a char field of cap bytes, clearing the rest, so that two
 * configs with the same values are the same bytes (runconfig_check and the
 * tests compare whole structs). */
static void set_string(void *field, size_t cap, const char *text)
{
    memset(field, 0, cap);
    snprintf(field, cap, "%s", text);
}

/* Whether text is UTF-8, as JSON strings must be. */
static int utf8(const char *text)
{
    json_t *s = json_string(text);
    json_decref(s);
    return s != NULL;
}

/* 0 with *out set, -1 when text is no integer, -2 when it is one too
 * large for 64 bits. */
static int parse_int(const char *text, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || isspace((unsigned char)text[0]))
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = v;
    return 0;
}

/* Parse text as the value of key k and store it in rc. */
static int apply_text(const key_spec *k, const char *text, runconfig *rc, const origin *o,
                      migr_err *err)
{
    void *field = (char *)rc + k->offset;
    char why[256], order[RUNCONFIG_ORDER_MAX];
    int rc_int;
    long long iv;

    switch (k->type) {
    case K_NAME:
    case K_OPTNAME:
        if (!valid_name(text) && !(k->type == K_OPTNAME && text[0] == '\0'))
            return fail(err, o, k->key, "'%s' is not a name (1-%d letters, digits, '_', '-' or "
                        "'.', not starting with '.')%s", text, RUNCONFIG_NAME_MAX,
                        k->type == K_OPTNAME ? " or \"\"" : "");
        set_string(field, RUNCONFIG_NAME_MAX + 1, text);
        return 0;
    case K_KIND:
        for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
            if (strcmp(text, kind_names[i]) == 0) {
                *(run_kind *)field = (run_kind)i;
                return 0;
            }
        return fail(err, o, k->key, "'%s' is not a run kind (sft, grpo, eval)", text);
    case K_CLIPS:
        for (size_t i = 0; i < sizeof clips_names / sizeof clips_names[0]; i++)
            if (strcmp(text, clips_names[i]) == 0) {
                *(eval_clips *)field = (eval_clips)i;
                return 0;
            }
        return fail(err, o, k->key, "'%s' is not holdout or all", text);
    case K_CKPT:
        if (strlen(text) >= RUNCONFIG_CKPT_MAX)
            return fail(err, o, k->key, "'%.40s...' is longer than %d bytes", text,
                        RUNCONFIG_CKPT_MAX - 1);
        if (text[0] != '\0' && runconfig_ckpt_ref(text, NULL, NULL) < 0)
            return fail(err, o, k->key, "'%s' is not run:ID, run:NAME or an absolute path to a checkpoint",
                        text);
        if (!utf8(text))
            return fail(err, o, k->key, "is not UTF-8 text (the config travels as JSON)");
        set_string(field, RUNCONFIG_CKPT_MAX, text);
        return 0;
    case K_SEED:
        if (parse_int(text, &iv) < 0 || iv < 0)
            return fail(err, o, k->key, "'%s' is not an integer in [0, 2^63-1]", text);
        *(uint64_t *)field = (uint64_t)iv;
        return 0;
    case K_INT:
        if ((rc_int = parse_int(text, &iv)) == -2)
            return fail(err, o, k->key, "%s is out of range [%.0f, %.0f]", text, k->lo, k->hi);
        if (rc_int < 0)
            return fail(err, o, k->key, "'%s' is not an integer", text);
        if ((double)iv < k->lo || (double)iv > k->hi)
            return fail(err, o, k->key, "%lld is out of range [%.0f, %.0f]", iv, k->lo, k->hi);
        *(int *)field = (int)iv;
        return 0;
    case K_REAL: {
        double v;
        if (parse_real(text, &v) < 0)
            return fail(err, o, k->key, "'%s' is not a number", text);
        if (v < k->lo || v > k->hi || (k->lo_open && v == k->lo) || (k->hi_open && v == k->hi))
            return fail(err, o, k->key, "%g is out of range %c%g, %g%c", v,
                        k->lo_open ? '(' : '[', k->lo, k->hi, k->hi_open ? ')' : ']');
        *(double *)field = v;
        return 0;
    }
    case K_ORDER:
        if (order_from_text(text, order, NULL, why, sizeof why) < 0)
            return fail(err, o, k->key, "%s", why);
        set_string(field, RUNCONFIG_ORDER_MAX, order);
        return 0;
    }
    return fail(err, o, k->key, "internal error: unknown key type");
}

static const char *type_desc(key_type t)
{
    switch (t) {
    case K_NAME:
        return "a name";
    case K_OPTNAME:
        return "a dataset name or \"\"";
    case K_KIND:
        return "a run kind (sft, grpo, eval)";
    case K_CLIPS:
        return "holdout or all";
    case K_CKPT:
        return "run:ID or an absolute path to a checkpoint";
    case K_SEED:
    case K_INT:
        return "an integer";
    case K_REAL:
        return "a number";
    case K_ORDER:
        return "visual-first, mi or a list of vis, aud, txt";
    }
    return "?";
}

/* ---- the rewards map ---- */

/* "accuracy, format, ..." for messages. */
static void known_rewards(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const char *const *name = reward_names(); *name && len < cap; name++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", *name);
}

/* Set the weight of reward name to text (a number): replace its weight if
 * the config has it, else append it.  *index receives its position. */
static int reward_apply(runconfig *rc, const char *name, const char *text, const origin *o,
                        int *index, migr_err *err)
{
    runconfig_rewards *r = &rc->rewards;
    char key[96], known[256];
    double weight;
    int i;

    snprintf(key, sizeof key, REWARDS ".%s", name);
    if (reward_index(name) < 0) {
        known_rewards(known, sizeof known);
        return fail(err, o, key, "unknown reward; known rewards: %s", known);
    }
    if (parse_real(text, &weight) < 0)
        return fail(err, o, key, "'%s' is not a number", text);
    for (i = 0; i < r->n; i++)
        if (strcmp(r->item[i].name, name) == 0)
            break;
    if (i == REWARD_SET_MAX)
        return fail(err, o, key, "more than %d rewards", REWARD_SET_MAX);
    if (i == r->n) {
        set_string(r->item[i].name, sizeof r->item[i].name, name);
        r->n++;
    }
    r->item[i].weight = weight;
    *index = i;
    return 0;
}

/* ---- YAML ---- */

typedef struct yaml_reader {
    const char *path;
    yaml_document_t *doc;
    int seen_line[NKEYS];  /* where each key was set, to refuse it twice */
    int reward_line[REWARD_SET_MAX];  /* the same for rewards.item[i] */
    migr_err *err;
} yaml_reader;

/* reasoning.order as a YAML sequence: [aud, vis, txt]. */
static int apply_sequence(yaml_reader *rd, const key_spec *k, const yaml_node_t *v,
                          runconfig *rc)
{
    char items[8][16], why[256], order[RUNCONFIG_ORDER_MAX];
    int n = 0;
    origin o = {rd->path, yamlfile_line(v)};
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const yaml_node_t *item = yaml_document_get_node(rd->doc, *it);
        if (item->type != YAML_SCALAR_NODE || n == 8 ||
            item->data.scalar.length >= sizeof items[0])
            return fail(rd->err, &o, k->key, "must be %s", type_desc(k->type));
        memcpy(items[n++], item->data.scalar.value, item->data.scalar.length + 1);
    }
    if (order_from_items(items, n, order, NULL, why, sizeof why) < 0)
        return fail(rd->err, &o, k->key, "%s", why);
    set_string((char *)rc + k->offset, RUNCONFIG_ORDER_MAX, order);
    return 0;
}

/* The value node of a known key. */
static int apply_node(yaml_reader *rd, const key_spec *k, const yaml_node_t *key_node,
                      const yaml_node_t *v, runconfig *rc)
{
    int i = (int)(k - keys);
    origin o = {rd->path, yamlfile_line(v)};
    if (rd->seen_line[i]) {
        o.line = yamlfile_line(key_node);
        return fail(rd->err, &o, k->key, "given twice (first on line %d)", rd->seen_line[i]);
    }
    rd->seen_line[i] = yamlfile_line(key_node);
    if (v->type == YAML_SCALAR_NODE)
        return apply_text(k, (const char *)v->data.scalar.value, rc, &o, rd->err);
    if (v->type == YAML_SEQUENCE_NODE && k->type == K_ORDER)
        return apply_sequence(rd, k, v, rc);
    return fail(rd->err, &o, k->key, "must be %s", type_desc(k->type));
}

/* The rewards section: a mapping of reward name to weight. */
static int read_rewards(yaml_reader *rd, const yaml_node_t *map, runconfig *rc)
{
    origin o = {rd->path, yamlfile_line(map)};
    if (map->type != YAML_MAPPING_NODE)
        return fail(rd->err, &o, REWARDS, "must be a mapping of reward: weight "
                    "(e.g. accuracy: 1.0)");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(rd->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(rd->doc, p->value);
        int i;
        o.line = yamlfile_line(k);
        if (k->type != YAML_SCALAR_NODE)
            return fail(rd->err, &o, REWARDS, "keys must be plain names");
        const char *name = (const char *)k->data.scalar.value;
        o.line = yamlfile_line(v);
        if (v->type != YAML_SCALAR_NODE) {
            char key[96];
            snprintf(key, sizeof key, REWARDS ".%s", name);
            return fail(rd->err, &o, key, "must be a number");
        }
        if (reward_apply(rc, name, (const char *)v->data.scalar.value, &o, &i, rd->err) < 0)
            return -1;
        if (rd->reward_line[i]) {
            char key[96];
            snprintf(key, sizeof key, REWARDS ".%s", name);
            o.line = yamlfile_line(k);
            return fail(rd->err, &o, key, "given twice (first on line %d)", rd->reward_line[i]);
        }
        rd->reward_line[i] = yamlfile_line(k);
    }
    return 0;
}

/* A mapping of keys, top-level (prefix "") or a section's (prefix "train"). */
static int read_mapping(yaml_reader *rd, const char *prefix, const yaml_node_t *map,
                        runconfig *rc)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(rd->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(rd->doc, p->value);
        origin o = {rd->path, yamlfile_line(k)};
        char dotted[160];
        if (k->type != YAML_SCALAR_NODE)
            return fail(rd->err, &o, prefix[0] ? prefix : "(top level)",
                        "keys must be plain names");
        const char *name = (const char *)k->data.scalar.value;
        snprintf(dotted, sizeof dotted, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        const key_spec *spec = find_key(dotted);
        if (strcmp(dotted, REWARDS) == 0) {
            if (read_rewards(rd, v, rc) < 0)
                return -1;
        } else if (spec) {
            if (apply_node(rd, spec, k, v, rc) < 0)
                return -1;
        } else if (!prefix[0] && is_section(dotted)) {
            if (v->type != YAML_MAPPING_NODE) {
                o.line = yamlfile_line(v);
                return fail(rd->err, &o, dotted, "must be a mapping of %s.* keys", dotted);
            }
            if (read_mapping(rd, dotted, v, rc) < 0)
                return -1;
        } else {
            return unknown_key(rd->err, &o, dotted);
        }
    }
    return 0;
}

static int read_document(yaml_reader *rd, runconfig *rc)
{
    yaml_node_t *root;
    if (yamlfile_root(rd->doc, rd->path, " (see examples/sft.yaml)", &root, rd->err) < 0)
        return -1;
    return root ? read_mapping(rd, "", root, rc) : 0; /* an empty file changes nothing */
}

int runconfig_load_yaml(const char *path, runconfig *rc, migr_err *err)
{
    yaml_document_t doc;
    runconfig next = *rc;

    if (yamlfile_load(path, &doc, err) < 0)
        return -1;
    yaml_reader rd = {.path = path, .doc = &doc, .err = err};
    /* Work on a copy so a bad file leaves *rc as it was. */
    int ret = read_document(&rd, &next);
    if (ret == 0)
        *rc = next;
    yaml_document_delete(&doc);
    return ret;
}

/* ---- --set ---- */

int runconfig_set(runconfig *rc, const char *assignment, migr_err *err)
{
    char key[128], value[256];
    const char *eq = strchr(assignment, '=');
    origin none = {NULL, 0};
    runconfig next = *rc;

    if (!eq)
        return migr_errf(err, "'%s' is not key=value (e.g. train.steps=10)", assignment);
    const char *k0 = assignment, *k1 = eq, *v0 = eq + 1, *v1 = eq + strlen(eq);
    while (k0 < k1 && isspace((unsigned char)*k0))
        k0++;
    while (k1 > k0 && isspace((unsigned char)k1[-1]))
        k1--;
    while (v0 < v1 && isspace((unsigned char)*v0))
        v0++;
    while (v1 > v0 && isspace((unsigned char)v1[-1]))
        v1--;
    if (k1 == k0)
        return migr_errf(err, "'%s' has no key before '='", assignment);
    if ((size_t)(k1 - k0) >= sizeof key || (size_t)(v1 - v0) >= sizeof value)
        return migr_errf(err, "'%.40s...' is too long", assignment);
    memcpy(key, k0, (size_t)(k1 - k0));
    key[k1 - k0] = '\0';
    memcpy(value, v0, (size_t)(v1 - v0));
    value[v1 - v0] = '\0';

    const key_spec *spec = find_key(key);
    if (strncmp(key, REWARDS ".", sizeof REWARDS) == 0) {
        int i;
        if (reward_apply(&next, key + sizeof REWARDS, value, &none, &i, err) < 0)
            return -1;
    } else if (!spec) {
        if (is_section(key))
            return fail(err, &none, key, "is a section; set one of its keys, e.g. %s.%s", key,
                        strcmp(key, "reasoning") == 0 ? "order"
                        : strcmp(key, REWARDS) == 0   ? "accuracy"
                                                      : "...");
        return unknown_key(err, &none, key);
    } else if (apply_text(spec, value, &next, &none, err) < 0) {
        return -1;
    }
    *rc = next;
    return 0;
}

/* ---- rules between keys ---- */

/* Key k's value in rc as text, the form apply_text reads. */
static void value_text(const runconfig *rc, const key_spec *k, char *buf, size_t cap)
{
    const void *field = (const char *)rc + k->offset;
    switch (k->type) {
    case K_NAME:
    case K_OPTNAME:
        snprintf(buf, cap, "%.*s", (int)strnlen(field, RUNCONFIG_NAME_MAX + 1),
                 (const char *)field);
        return;
    case K_ORDER:
        snprintf(buf, cap, "%.*s", (int)strnlen(field, RUNCONFIG_ORDER_MAX),
                 (const char *)field);
        return;
    case K_CKPT:
        snprintf(buf, cap, "%.*s", (int)strnlen(field, RUNCONFIG_CKPT_MAX),
                 (const char *)field);
        return;
    case K_KIND:
        snprintf(buf, cap, "%s", run_kind_name(*(const run_kind *)field));
        return;
    case K_CLIPS:
        snprintf(buf, cap, "%s", eval_clips_name(*(const eval_clips *)field));
        return;
    case K_SEED:
        snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)field);
        return;
    case K_INT:
        snprintf(buf, cap, "%d", *(const int *)field);
        return;
    case K_REAL:
        snprintf(buf, cap, "%.17g", *(const double *)field);  /* reads back exactly */
        return;
    }
    snprintf(buf, cap, "?");
}

/* Every key's value as the parsers would take it: a struct filled or edited
 * by hand meets the same ranges as one read from YAML. */
static int check_values(const runconfig *rc, migr_err *err)
{
    origin none = {NULL, 0};
    runconfig scratch = *rc;
    char text[RUNCONFIG_CKPT_MAX + 8];
    for (int i = 0; i < NKEYS; i++) {
        value_text(rc, &keys[i], text, sizeof text);
        if (apply_text(&keys[i], text, &scratch, &none, err) < 0)
            return -1;
    }
    return 0;
}

/* The rewards hold to reward_list_check's rules (known names, each once,
 * finite weights), so that a checked config always makes a reward set. */
static int check_rewards(const runconfig_rewards *r, migr_err *err)
{
    reward_weight list[REWARD_SET_MAX];
    if (r->n < 0 || r->n > REWARD_SET_MAX)
        return migr_errf(err, "rewards: %d entries; 0 to %d", r->n, REWARD_SET_MAX);
    if (r->n == 0)
        return 0;
    for (int i = 0; i < r->n; i++) {
        if (!memchr(r->item[i].name, '\0', sizeof r->item[i].name))
            return migr_errf(err, "rewards: entry %d has no name", i);
        list[i] = (reward_weight){r->item[i].name, r->item[i].weight};
    }
    return reward_list_check(list, r->n, err);
}

static int check_sft(const runconfig *rc, migr_err *err)
{
    const runconfig_model *m = &rc->model;
    const int min_vocab = RUNCONFIG_VOCAB_MIN;

    if (m->channels % m->heads != 0)
        return migr_errf(err, "model.heads: %d does not divide model.channels %d", m->heads,
                         m->channels);
    if (m->subtitle_max >= m->max_seq)
        return migr_errf(err, "model.subtitle_max: %d leaves no room in model.max_seq %d",
                         m->subtitle_max, m->max_seq);
    if (rc->vocab.max_size != 0 && rc->vocab.max_size < min_vocab)
        return migr_errf(err, "vocab.max_size: %d is below %d, the fixed tokens and punctuation "
                         "(0 means no limit)", rc->vocab.max_size, min_vocab);
    return 0;
}

/* The train rules of the two training kinds. */
static int check_train(const runconfig *rc, migr_err *err)
{
    const runconfig_train *t = &rc->train;
    if (t->shards > t->batch_size)
        return migr_errf(err, "train.shards: %d is more than train.batch_size %d; a shard "
                         "needs at least one %s", t->shards, t->batch_size,
                         rc->kind == RUN_GRPO ? "clip" : "sequence");
    if (t->warmup > t->steps)
        return migr_errf(err, "train.warmup: %d is more than train.steps %d; lower it, e.g. "
                         "--set train.warmup=%d", t->warmup, t->steps, t->steps / 10);
    return 0;
}

static int check_grpo(const runconfig *rc, migr_err *err)
{
    char known[256];
    int nonzero = 0;
    if (rc->grpo.init[0] == '\0')
        return migr_errf(err, "grpo.init: required for kind grpo (run:ID, the SFT run to start "
                         "from, or an absolute path to a checkpoint)");
    for (int i = 0; i < rc->rewards.n; i++)
        nonzero |= rc->rewards.item[i].weight != 0;
    if (!nonzero) {
        known_rewards(known, sizeof known);
        return migr_errf(err, "rewards: kind grpo needs at least one reward with a non-zero "
                         "weight (known rewards: %s)", known);
    }
    return 0;
}

int runconfig_check(const runconfig *rc, migr_err *err)
{
    if (rc->dataset[0] == '\0')
        return migr_errf(err, "dataset: required (a dataset name from `migr dataset list`)");
    if (check_values(rc, err) < 0 || check_rewards(&rc->rewards, err) < 0)
        return -1;
    switch (rc->kind) {
    case RUN_SFT:
        return check_sft(rc, err) < 0 ? -1 : check_train(rc, err);
    case RUN_GRPO:
        return check_grpo(rc, err) < 0 ? -1 : check_train(rc, err);
    case RUN_EVAL:
        if (rc->eval.ckpt[0] == '\0')
            return migr_errf(err, "eval.ckpt: required for kind eval (run:ID, the run whose "
                             "last checkpoint to evaluate, or an absolute path to a checkpoint)");
        return 0;
    }
    return migr_errf(err, "kind: %d is not a run kind", (int)rc->kind);  /* check_values caught it */
}

/* ---- JSON ---- */

/* The object holding key k: root itself or its section (created if make). */
static json_t *parent_of(json_t *root, const key_spec *k, int make, const char **leaf)
{
    const char *dot = strchr(k->key, '.');
    char section[32];
    if (!dot) {
        *leaf = k->key;
        return root;
    }
    *leaf = dot + 1;
    snprintf(section, sizeof section, "%.*s", (int)(dot - k->key), k->key);
    json_t *obj = json_object_get(root, section);
    if (!obj && make && json_object_set_new(root, section, obj = json_object()) < 0)
        return NULL;
    return obj;
}

static json_t *value_json(const runconfig *rc, const key_spec *k)
{
    const void *field = (const char *)rc + k->offset;
    switch (k->type) {
    case K_NAME:
    case K_OPTNAME:
    case K_ORDER:
    case K_CKPT:
        return json_string(field);
    case K_KIND:
        return json_string(run_kind_name(*(const run_kind *)field));
    case K_CLIPS:
        return json_string(eval_clips_name(*(const eval_clips *)field));
    case K_SEED: {
        uint64_t seed = *(const uint64_t *)field;  /* <= 2^63-1, see apply_text */
        return json_integer((json_int_t)seed);
    }
    case K_INT:
        return json_integer(*(const int *)field);
    case K_REAL:
        return json_real(*(const double *)field);
    }
    return NULL;
}

json_t *runconfig_to_json(const runconfig *rc)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    for (int i = 0; i < NKEYS; i++) {
        const char *leaf;
        json_t *parent = parent_of(root, &keys[i], 1, &leaf);
        if (!parent || json_object_set_new(parent, leaf, value_json(rc, &keys[i])) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    /* The rewards in config order (jansson keeps insertion order). */
    json_t *rewards = json_object();
    if (json_object_set_new(root, REWARDS, rewards) < 0) {
        json_decref(root);
        return NULL;
    }
    for (int i = 0; i < rc->rewards.n; i++) {
        const runconfig_reward *r = &rc->rewards.item[i];
        if (json_object_set_new(rewards, r->name, json_real(r->weight)) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

/* Refuse keys this build does not know, at the top and in sections. */
static int json_unknown_keys(const json_t *json, migr_err *err)
{
    origin o = {"run config", 0};
    const char *name, *sub;
    json_t *v, *sv;
    /* jansson's iteration takes a non-const object; nothing is modified. */
    json_object_foreach((json_t *)json, name, v) {
        if (find_key(name) || strcmp(name, REWARDS) == 0)
            continue;  /* the rewards' names are checked as they are read */
        if (!is_section(name))
            return unknown_key(err, &o, name);
        if (!json_is_object(v))
            return fail(err, &o, name, "must be an object of %s.* keys", name);
        json_object_foreach(v, sub, sv) {
            char dotted[160];
            snprintf(dotted, sizeof dotted, "%s.%s", name, sub);
            if (!find_key(dotted))
                return unknown_key(err, &o, dotted);
        }
    }
    return 0;
}

/* Whether a JSON without this section at all may take its defaults.  The
 * sections added with kinds grpo and eval: configs written before them are
 * kept in migrd's database and re-read by workers (see runconfig.h). */
static int section_may_be_missing(const char *section)
{
    return strcmp(section, "grpo") == 0 || strcmp(section, "eval") == 0 ||
           strcmp(section, REWARDS) == 0;
}

/* The rewards object, if any, into rc: {"accuracy": 1.0, ...} in order. */
static int json_rewards(const json_t *json, runconfig *rc, const origin *o, migr_err *err)
{
    const json_t *rewards = json_object_get(json, REWARDS);
    const char *name;
    json_t *v;
    char text[64];
    int i;
    if (!rewards)
        return section_may_be_missing(REWARDS) ? 0 : fail(err, o, REWARDS, "missing");
    if (!json_is_object(rewards))
        return fail(err, o, REWARDS, "must be an object of reward: weight");
    json_object_foreach((json_t *)rewards, name, v) {
        if (!json_is_number(v)) {
            char key[96];
            snprintf(key, sizeof key, REWARDS ".%s", name);
            return fail(err, o, key, "must be a number");
        }
        snprintf(text, sizeof text, "%.17g", json_number_value(v));
        if (reward_apply(rc, name, text, o, &i, err) < 0)
            return -1;
    }
    return 0;
}

int runconfig_from_json(const json_t *json, runconfig *rc, migr_err *err)
{
    origin o = {"run config", 0};
    runconfig next;

    if (!json_is_object(json))
        return migr_errf(err, "run config: expected a JSON object");
    if (json_unknown_keys(json, err) < 0)
        return -1;
    runconfig_defaults(&next);
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &keys[i];
        const char *leaf;
        char text[64];
        const json_t *parent = parent_of((json_t *)json, k, 0, &leaf);
        const json_t *v = parent ? json_object_get(parent, leaf) : NULL;
        if (!parent && leaf != k->key) {
            char section[32];
            snprintf(section, sizeof section, "%.*s", (int)(leaf - 1 - k->key), k->key);
            if (section_may_be_missing(section))
                continue;
        }
        if (!v)
            return fail(err, &o, k->key, "missing");
        if (k->type == K_INT || k->type == K_SEED) {
            if (!json_is_integer(v))
                return fail(err, &o, k->key, "must be an integer");
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        } else if (k->type == K_REAL) {
            if (!json_is_number(v))
                return fail(err, &o, k->key, "must be a number");
            /* %.17g reads back as the same double. */
            snprintf(text, sizeof text, "%.17g", json_number_value(v));
        } else if (!json_is_string(v)) {
            return fail(err, &o, k->key, "must be a string");
        }
        if (apply_text(k, json_is_string(v) ? json_string_value(v) : text, &next, &o, err) < 0)
            return -1;
    }
    if (json_rewards(json, &next, &o, err) < 0)
        return -1;
    if (runconfig_check(&next, err) < 0)
        return migr_err_wrap(err, "run config");
    *rc = next;
    return 0;
}

int runconfig_fixed_order(const runconfig *rc, int order[MODALITY_COUNT])
{
    char normalized[RUNCONFIG_ORDER_MAX], why[256];
    if (strcmp(rc->reasoning.order, "mi") == 0)
        return 0;
    if (order_from_text(rc->reasoning.order, normalized, order, why, sizeof why) < 0) {
        /* Not reachable for a config that went through the parsers. */
        for (int i = 0; i < MODALITY_COUNT; i++)
            order[i] = i;
    }
    return 1;
}
