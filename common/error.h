/* error.h -- the one way migr reports an error.
 *
 * A function that can fail returns 0 on success and -1 on failure, and on
 * failure fills the migr_err its caller passed in with a sentence that says
 * what was wrong and, where it can, what to do.  Callers add context with
 * migr_err_wrap() as the error travels up. */
#ifndef MIGR_ERROR_H
#define MIGR_ERROR_H

#include <stddef.h>

typedef struct migr_err {
    char msg[1024];
} migr_err;

/* Set the message; returns -1 so that "return migr_errf(err, ...);" reads well.
 * err may be NULL, in which case nothing is recorded. */
int migr_errf(migr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the existing message with context ("loading x: <old message>"); returns -1. */
int migr_err_wrap(migr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
