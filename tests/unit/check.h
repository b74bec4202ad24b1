/* check.h -- the unit-test harness.
 *
 * A test is a function declared with TEST(name); it registers itself at load
 * time.  CHECK* macros record a failure with what was expected and what was
 * got, and end the test.  The runner (runner.c) prints one line per test and
 * closes with "N passed, N failed"; it exits non-zero if any test failed. */
#ifndef MIGR_CHECK_H
#define MIGR_CHECK_H

#include <stdio.h>
#include <string.h>

typedef struct check_case {
    const char *name;
    const char *file;
    void (*fn)(struct check_case *self);
    int failed;
    struct check_case *next;
} check_case;

void check_register(check_case *c);
void check_fail(check_case *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A scratch directory for the running test, created empty; removed after it. */
const char *check_tmpdir(void);
/* The entries in check_tmpdir() other than . and .., or -1 if it cannot
 * be read: how a test sees that nothing was left behind. */
int check_tmpdir_entries(void);

#define TEST(name)                                                         \
    static void name(check_case *check_self_);                             \
    static check_case name##_case_ = {#name, __FILE__, name, 0, NULL};     \
    __attribute__((constructor)) static void name##_register_(void)        \
    {                                                                      \
        check_register(&name##_case_);                                     \
    }                                                                      \
    static void name(check_case *check_self_)

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            check_fail(check_self_, __FILE__, __LINE__, "expected %s", #cond); \
            return;                                                        \
        }                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                               \
    do {                                                                   \
        if (!(cond)) {                                                     \
            check_fail(check_self_, __FILE__, __LINE__, __VA_ARGS__);      \
            return;                                                        \
        }                                                                  \
    } while (0)

#define CHECK_INT(expected, got)                                           \
    do {                                                                   \
        long long e_ = (long long)(expected), g_ = (long long)(got);       \
        if (e_ != g_) {                                                    \
            check_fail(check_self_, __FILE__, __LINE__,                    \
                       "%s: expected %lld, got %lld", #got, e_, g_);       \
            return;                                                        \
        }                                                                  \
    } while (0)

#define CHECK_STR(expected, got)                                           \
    do {                                                                   \
        const char *e_ = (expected), *g_ = (got);                          \
        if (!g_ || strcmp(e_, g_) != 0) {                                  \
            check_fail(check_self_, __FILE__, __LINE__,                    \
                       "%s: expected \"%s\", got \"%s\"", #got, e_,        \
                       g_ ? g_ : "(null)");                                \
            return;                                                        \
        }                                                                  \
    } while (0)

#define CHECK_NEAR(expected, got, tol)                                     \
    do {                                                                   \
        double e_ = (expected), g_ = (got);                                \
        if (!(g_ >= e_ - (tol) && g_ <= e_ + (tol))) {                     \
            check_fail(check_self_, __FILE__, __LINE__,                    \
                       "%s: expected %g (+-%g), got %g", #got, e_,         \
                       (double)(tol), g_);                                 \
            return;                                                        \
        }                                                                  \
    } while (0)

#endif
