/* log.c -- see log.h.  One write(2) per line, so lines from threads and from
 * processes sharing a log file do not interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once in main() before any thread starts; read-only afterwards. */
static log_level threshold = LOG_INFO;
static char program_name[32] = "migr";

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static int parse_level(const char *name, log_level *out)
{
    static const char *lower[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, lower[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_init(const char *program, const char *level_name)
{
    const char *env = getenv("MIGR_LOG_LEVEL");
    snprintf(program_name, sizeof program_name, "%s", program);
    if (!level_name && env && *env)
        level_name = env;
    if (level_name && parse_level(level_name, &threshold) < 0)
        return -1;
    return 0;
}

void log_msg(log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if (level < threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %-5s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, program_name, level_names[level]);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* A failed log write has nowhere to be reported; the line is dropped. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}
