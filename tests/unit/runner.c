/* runner.c -- runs every registered unit test in a scratch directory.
 *
 * Usage: unit-tests [NAME-SUBSTRING]   run all tests, or those whose name
 * contains the argument.  Closes with "N passed, N failed". */
#include "check.h"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "ml/blas.h"

static check_case *cases;
static char tmpdir[256];

void check_register(check_case *c)
{
    /* Append, so tests run in file order. */
    check_case **p = &cases;
    while (*p)
        p = &(*p)->next;
    *p = c;
}

void check_fail(check_case *c, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    c->failed = 1;
}

const char *check_tmpdir(void)
{
    return tmpdir;
}

int check_tmpdir_entries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    blas_pin_kernel(argv);
    for (check_case *c = cases; c; c = c->next) {
        if (argc > 1 && !strstr(c->name, argv[1]))
            continue;
        snprintf(tmpdir, sizeof tmpdir, "%s/migr-unit-XXXXXX", base);
        if (!mkdtemp(tmpdir)) {
            perror("unit-tests: cannot create a scratch directory (set TMPDIR)");
            return 1;
        }
        c->fn(c);
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        printf("%-4s %s\n", c->failed ? "FAIL" : "ok", c->name);
        fflush(stdout);
        if (c->failed)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
