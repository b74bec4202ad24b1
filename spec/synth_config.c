/* synth_config.c -- synth_config_load: the generator's settings from YAML.
 *
 *   dominant_weight: {visual: 0.5, audio: 0.25, text: 0.25}
 *   p_misleading: 0.5
 *   seconds: 2.0
 *
 * The file is loaded whole with libyaml's document API, then walked; every
 * error names the file, the line and the key.  Values are checked one by one
 * as they are read and together at the end (the rates must not exceed 1). */
#include "spec/synth.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/yamlfile.h"

/* What one synth_config_load call is reading, for error messages. */
typedef struct config_reader {
    const char *path;
    yaml_document_t *doc;
    migr_err *err;
} config_reader;

static int scalar_number(config_reader *rd, const char *key, const yaml_node_t *node,
                         double lo, double hi, double *out)
{
    char *end;
    if (node->type != YAML_SCALAR_NODE)
        return migr_errf(rd->err, "%s:%d: %s must be a number", rd->path, yamlfile_line(node), key);
    const char *text = (const char *)node->data.scalar.value;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return migr_errf(rd->err, "%s:%d: %s: '%s' is not a number", rd->path, yamlfile_line(node),
                         key, text);
    if (v < lo || v > hi)
        return migr_errf(rd->err, "%s:%d: %s: %g is out of range [%g, %g]", rd->path,
                         yamlfile_line(node), key, v, lo, hi);
    *out = v;
    return 0;
}

static int scalar_int(config_reader *rd, const char *key, const yaml_node_t *node, long lo,
                      long hi, int *out)
{
    char *end;
    if (node->type != YAML_SCALAR_NODE)
        return migr_errf(rd->err, "%s:%d: %s must be an integer", rd->path, yamlfile_line(node), key);
    const char *text = (const char *)node->data.scalar.value;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE)
        return migr_errf(rd->err, "%s:%d: %s: '%s' is not an integer", rd->path, yamlfile_line(node),
                         key, text);
    if (v < lo || v > hi)
        return migr_errf(rd->err, "%s:%d: %s: %ld is out of range [%ld, %ld]", rd->path,
                         yamlfile_line(node), key, v, lo, hi);
    *out = (int)v;
    return 0;
}

/* dominant_weight: a mapping of modality name to a weight >= 0. */
static int read_weights(config_reader *rd, const yaml_node_t *node, synth_config *cfg)
{
    if (node->type != YAML_MAPPING_NODE)
        return migr_errf(rd->err, "%s:%d: dominant_weight must be a mapping of visual/audio/text",
                         rd->path, yamlfile_line(node));
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(rd->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(rd->doc, p->value);
        const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        int m = 0;
        while (m < MODALITY_COUNT && strcmp(name, modality_name(m)) != 0)
            m++;
        if (m == MODALITY_COUNT)
            return migr_errf(rd->err,
                             "%s:%d: dominant_weight: unknown modality '%s' "
                             "(expected visual, audio or text)",
                             rd->path, yamlfile_line(k), name);
        if (scalar_number(rd, "dominant_weight", v, 0, 1e6, &cfg->dominant_weight[m]) < 0)
            return -1;
    }
    return 0;
}

/* One top-level key: dispatch by name. */
static int read_key(config_reader *rd, const char *key, const yaml_node_t *k,
                    const yaml_node_t *v, synth_config *cfg)
{
    static const struct {
        const char *name;
        size_t offset;
        double lo, hi;
    } numbers[] = {
        {"p_misleading", offsetof(synth_config, p_misleading), 0, 1},
        {"p_neutral", offsetof(synth_config, p_neutral), 0, 1},
        {"p_weak", offsetof(synth_config, p_weak), 0, 1},
        {"drift", offsetof(synth_config, drift), 0, 1},
        {"dominant_strength_min", offsetof(synth_config, dominant_strength_min), 0, 1},
        {"dominant_strength_max", offsetof(synth_config, dominant_strength_max), 0, 1},
        {"seconds", offsetof(synth_config, seconds), 0.1, 600},
    };
    static const struct {
        const char *name;
        size_t offset;
        long lo, hi;
    } ints[] = {
        {"width", offsetof(synth_config, width), 16, 4096},
        {"height", offsetof(synth_config, height), 16, 4096},
        {"fps", offsetof(synth_config, fps), 1, 120},
        {"sample_rate", offsetof(synth_config, sample_rate), 8000, 48000},
    };

    if (strcmp(key, "dominant_weight") == 0)
        return read_weights(rd, v, cfg);
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (strcmp(key, numbers[i].name) == 0)
            return scalar_number(rd, key, v, numbers[i].lo, numbers[i].hi,
                                 (double *)((char *)cfg + numbers[i].offset));
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i].name) == 0)
            return scalar_int(rd, key, v, ints[i].lo, ints[i].hi,
                              (int *)((char *)cfg + ints[i].offset));
    return migr_errf(rd->err, "%s:%d: unknown key '%s'", rd->path, yamlfile_line(k), key);
}

/* Rules between keys, checked once all are read. */
static int check_together(const char *path, const synth_config *cfg, migr_err *err)
{
    double total = 0;
    for (int m = 0; m < MODALITY_COUNT; m++)
        total += cfg->dominant_weight[m];
    if (!(total > 0))
        return migr_errf(err, "%s: dominant_weight: at least one weight must be above 0", path);
    if (cfg->p_misleading + cfg->p_neutral + cfg->p_weak > 1 + 1e-9)
        return migr_errf(err, "%s: p_misleading + p_neutral + p_weak is %g, above 1", path,
                         cfg->p_misleading + cfg->p_neutral + cfg->p_weak);
    if (cfg->dominant_strength_min > cfg->dominant_strength_max)
        return migr_errf(err, "%s: dominant_strength_min %g is above dominant_strength_max %g",
                         path, cfg->dominant_strength_min, cfg->dominant_strength_max);
    if (cfg->width % 2 || cfg->height % 2)
        return migr_errf(err, "%s: width and height must be even (got %dx%d)", path, cfg->width,
                         cfg->height);
    return 0;
}

static int read_document(config_reader *rd, synth_config *cfg)
{
    yaml_node_t *root;
    if (yamlfile_root(rd->doc, rd->path, "", &root, rd->err) < 0)
        return -1;
    if (!root)
        return 0; /* an empty file changes nothing */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(rd->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(rd->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return migr_errf(rd->err, "%s:%d: keys must be plain names", rd->path, yamlfile_line(k));
        if (read_key(rd, (const char *)k->data.scalar.value, k, v, cfg) < 0)
            return -1;
    }
    return 0;
}

int synth_config_load(const char *yaml_path, synth_config *cfg, migr_err *err)
{
    yaml_document_t doc;
    synth_config next = *cfg;
    int ret = -1;

    if (yamlfile_load(yaml_path, &doc, err) < 0)
        return -1;
    config_reader rd = {yaml_path, &doc, err};
    /* Work on a copy so a bad file leaves *cfg as it was. */
    if (read_document(&rd, &next) == 0 && check_together(yaml_path, &next, err) == 0) {
        *cfg = next;
        ret = 0;
    }
    yaml_document_delete(&doc);
    return ret;
}
