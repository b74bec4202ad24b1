/* yamlfile.h -- reading a YAML config file into a libyaml document. */
#ifndef MIGR_YAMLFILE_H
#define MIGR_YAMLFILE_H

#include <yaml.h>

#include "common/error.h"

/* Parse the file at path, which must hold exactly one YAML document, into
 * *doc (the caller's, released with yaml_document_delete).  Errors name the
 * file and line: "x.yaml:3: YAML error: ...", "x.yaml:9: a second YAML
 * document; a config is one mapping". */
int yamlfile_load(const char *path, yaml_document_t *doc, migr_err *err);

/* The document's top-level mapping in *root, or NULL for an empty file
 * (which changes nothing).  Anything else at the top is an error naming
 * path and line, then hint (e.g. " (see examples/sft.yaml)", or ""). */
int yamlfile_root(yaml_document_t *doc, const char *path, const char *hint, yaml_node_t **root,
                  migr_err *err);

/* The 1-based line of a node, for error messages. */
int yamlfile_line(const yaml_node_t *node);

#endif
