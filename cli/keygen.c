/* keygen.c -- migr keygen: a CURVE key pair under $MIGR_HOME/keys/. */
#include <stdio.h>

#include "cli/cli.h"
#include "common/fs.h"
#include "common/keys.h"

int cmd_keygen(const migr_home *home, const cli_args *a)
{
    char pub[KEY_Z85_LEN + 1];
    migr_err err;
    const char *name = a->operand[0];

    if (!key_name_valid(name)) {
        fprintf(stderr, "migr keygen: \"%s\" is not a key name: use 1-64 letters, digits, '.', '_' or '-', "
                "not starting with '.'\n", name);
        return EXIT_USAGE;
    }
    if (fs_mkdirs(home->home, &err) < 0 || key_generate(home->keys, name, pub, &err) < 0) {
        fprintf(stderr, "migr keygen: %s\n", err.msg);
        return EXIT_FAIL;
    }
    char pubpath[PATH_MAX + 80], keypath[PATH_MAX + 80];
    snprintf(pubpath, sizeof pubpath, "%s/%s.pub", home->keys, name);
    snprintf(keypath, sizeof keypath, "%s/%s.key", home->keys, name);
    if (cli_flag(a, "--json")) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "public_key", pub, "pub", pubpath,
                              "key", keypath);
        cli_print_json(j);
        json_decref(j);
        return EXIT_OK;
    }
    printf("%s  public key %s\n%s  secret key (mode 0600; keep it on this host)\n", pubpath, pub,
           keypath);
    return EXIT_OK;
}
