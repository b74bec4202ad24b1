/* log.h -- leveled logging to stderr.
 *
 * Lines look like "2026-11-27T12:00:00.123Z migrd INFO  message".  The level
 * and program name are set once by main() through log_init(); everything else
 * only logs. */
#ifndef MIGR_LOG_H
#define MIGR_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Set the program name and threshold.  level_name is "debug", "info", "warn"
 * or "error"; NULL keeps the default (info, or $MIGR_LOG_LEVEL when set).
 * Returns -1 for an unknown level name. */
int log_init(const char *program, const char *level_name);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
