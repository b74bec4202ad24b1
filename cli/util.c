/* util.c -- output helpers shared by the commands. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

void cli_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', stdout);
}

void cli_progress(const char *label, long done, long total)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    if (!isatty(STDERR_FILENO) || total <= 0)
        return;
    int fill = (int)(done * WIDTH / total);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %ld/%ld", label, bar, done, total);
    fflush(stderr);
}

void cli_progress_end(void)
{
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
}

int cli_has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

int cli_wants_help(int argc, char **argv)
{
    return cli_has_flag(argc, argv, "-h") || cli_has_flag(argc, argv, "--help");
}
