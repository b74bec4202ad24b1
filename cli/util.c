/* util.c -- output helpers shared by the commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

void cli_format_time(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(buf, cap, "%lld ms", (long long)ms);
        return;
    }
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, ".%03d", (int)(ms % 1000));
}

int cli_int(const cli_args *a, const char *name, long long lo, long long hi, long long *out)
{
    const char *v = cli_value(a, name);
    char *end;
    if (!v)
        return 0;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < lo || n > hi) {
        fprintf(stderr, "migr %s: %s needs an integer in %lld..%lld, got \"%s\"\n", a->cmd->words, name,
                lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

int cli_real(const cli_args *a, const char *name, double lo, double hi, int hi_open, double *out)
{
    const char *v = cli_value(a, name);
    char *end;
    if (!v)
        return 0;
    double x = strtod(v, &end);
    if (!*v || *end || !(x >= lo && (hi_open ? x < hi : x <= hi))) {
        fprintf(stderr, "migr %s: %s needs a number in %g..%g%s, got \"%s\"\n", a->cmd->words, name, lo, hi,
                hi_open ? " (the upper end excluded)" : "", v);
        return -1;
    }
    *out = x;
    return 0;
}
