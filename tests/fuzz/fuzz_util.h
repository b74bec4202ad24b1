/* fuzz_util.h -- what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness writes only inside one temporary directory of its own process
 * (fuzz_tmpdir(), made on first use under $TMPDIR or /tmp and removed with
 * everything in it at exit), and frees whatever it allocates per input, so
 * that LeakSanitizer's per-input checks see real leaks only. */
#ifndef MIGR_FUZZ_UTIL_H
#define MIGR_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_tmp_[512];

static inline int fuzz_rm_entry_(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fuzz_rm_tmpdir_(void)
{
    if (fuzz_tmp_[0])
        nftw(fuzz_tmp_, fuzz_rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
    fuzz_tmp_[0] = '\0';
}

/* The process's scratch directory; aborts if it cannot be made. */
static inline const char *fuzz_tmpdir(void)
{
    if (!fuzz_tmp_[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fuzz_tmp_, sizeof fuzz_tmp_, "%s/migr-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(fuzz_tmp_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_rm_tmpdir_);
    }
    return fuzz_tmp_;
}

/* name inside the scratch directory, into out. */
static inline const char *fuzz_path(char *out, size_t cap, const char *name)
{
    if ((size_t)snprintf(out, cap, "%s/%s", fuzz_tmpdir(), name) >= cap)
        abort();
    return out;
}

/* Replace the file at path with exactly these bytes; aborts on failure (a
 * harness that cannot write its scratch file tests nothing). */
static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror(path);
            abort();
        }
        p += w;
        size -= (size_t)w;
    }
    close(fd);
}

/* The bytes as a malloc'd NUL-terminated string (cut at an inner NUL, as
 * C string parsers see it); the caller frees it. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
