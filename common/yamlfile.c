/* yamlfile.c -- see yamlfile.h. */
#include "common/yamlfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int yamlfile_line(const yaml_node_t *node)
{
    return (int)node->start_mark.line + 1;
}

int yamlfile_root(yaml_document_t *doc, const char *path, const char *hint, yaml_node_t **root,
                  migr_err *err)
{
    yaml_node_t *node = yaml_document_get_root_node(doc);
    *root = NULL;
    if (!node || (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0))
        return 0;
    if (node->type != YAML_MAPPING_NODE)
        return migr_errf(err, "%s:%d: expected a mapping of settings%s", path, yamlfile_line(node),
                         hint);
    *root = node;
    return 0;
}

static int parse_error(const yaml_parser_t *parser, const char *path, migr_err *err)
{
    return migr_errf(err, "%s:%d: YAML error: %s", path, (int)parser->problem_mark.line + 1,
                     parser->problem ? parser->problem : "unknown");
}

int yamlfile_load(const char *path, yaml_document_t *doc, migr_err *err)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int ret = -1;
    FILE *f = fopen(path, "rb");

    if (!f)
        return migr_errf(err, "%s: cannot open: %s", path, strerror(errno));
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return migr_errf(err, "%s: out of memory starting the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, doc)) {
        parse_error(&parser, path, err);
        goto end;
    }
    /* A second document would be silently ignored; refuse it instead. */
    if (!yaml_parser_load(&parser, &extra)) {
        parse_error(&parser, path, err);
    } else {
        yaml_node_t *more = yaml_document_get_root_node(&extra);
        if (more)
            migr_errf(err, "%s:%d: a second YAML document; a config is one mapping", path,
                      yamlfile_line(more));
        else
            ret = 0;
        yaml_document_delete(&extra);
    }
    if (ret < 0)
        yaml_document_delete(doc);
end:
    yaml_parser_delete(&parser);
    fclose(f);
    return ret;
}
