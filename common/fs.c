/* fs.c -- see fs.h. */
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fs_mkdirs(const char *path, migr_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof buf)
        return migr_errf(err, "cannot create directory \"%s\": path empty or too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) == 0) {
            /* A new directory's entry is durable once its parent is synced;
             * the files published into it (fs_publish) depend on it. */
            if (fsync_dir_of(buf) < 0)
                return migr_errf(err, "cannot fsync the directory holding %s: %s", buf, strerror(errno));
        } else if (errno != EEXIST) {
            return migr_errf(err, "cannot create directory %s: %s", buf, strerror(errno));
        }
        *p = c;
        if (c == '\0')
            break;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fs_temp_beside(const char *path, char *tmp, size_t cap, migr_err *err)
{
    if (snprintf(tmp, cap, "%s.tmp.XXXXXX", path) >= (int)cap)
        return migr_errf(err, "path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return migr_errf(err, "cannot create a temp file beside %s: %s (is the disk full or read-only?)", path,
                         strerror(errno));
    if (fchmod(fd, 0644) < 0) {
        migr_errf(err, "cannot set the mode of %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

int fs_remove_temps(const char *path, migr_err *err)
{
    char pattern[PATH_MAX + 16];
    glob_t g;
    int rc = 0;
    if (snprintf(pattern, sizeof pattern, "%s.tmp.??????", path) >= (int)sizeof pattern)
        return migr_errf(err, "path too long: %s", path);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return 0; /* none */
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (unlink(g.gl_pathv[i]) < 0 && errno != ENOENT && rc == 0)
            rc = migr_errf(err, "cannot remove %s: %s", g.gl_pathv[i], strerror(errno));
    globfree(&g);
    return rc;
}

int fs_publish(const char *tmp, const char *path, migr_err *err)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return migr_errf(err, "cannot open %s to sync it: %s", tmp, strerror(errno));
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        migr_errf(err, "cannot write %s: %s (is the disk full or read-only?)", path, strerror(e));
        errno = e;
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0)
        return migr_errf(err, "cannot write %s: %s", path, strerror(errno));
    if (fsync_dir_of(path) < 0)
        return migr_errf(err, "cannot fsync the directory of %s: %s", path, strerror(errno));
    return 0;
}

/* err for a failed write of len bytes to path: with the free space of its
 * file system when that is what ran out (ENOSPC, EDQUOT). */
static int write_failed(const char *path, size_t len, int e, migr_err *err)
{
    char dir[PATH_MAX];
    struct statvfs vfs;
    snprintf(dir, sizeof dir, "%s", path);
    const char *d = dirname(dir);
    if ((e == ENOSPC || e == EDQUOT) && statvfs(d, &vfs) == 0)
        return migr_errf(err, "no space left for %s: it needs %zu bytes and the file system holding %s has "
                         "%llu free; free space there (or move it to a larger file system), then retry",
                         path, len, d, (unsigned long long)vfs.f_bavail * vfs.f_frsize);
    return migr_errf(err, "cannot write %s: %s (is the disk full or read-only?)", path, strerror(e));
}

int fs_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int nbufs,
                    migr_err *err)
{
    char tmp[PATH_MAX];
    size_t total = 0;
    int fd = fs_temp_beside(path, tmp, sizeof tmp, err), e = 0;

    for (int i = 0; i < nbufs; i++)
        total += lens[i];
    if (fd < 0)
        return -1;
    for (int i = 0; i < nbufs && !e; i++)
        if (write_all(fd, bufs[i], lens[i]) < 0)
            e = errno;
    if (close(fd) < 0 && !e)
        e = errno;
    if (e) {
        unlink(tmp);
        return write_failed(path, total, e, err);
    }
    if (fs_publish(tmp, path, err) < 0) {
        e = errno;
        unlink(tmp);
        if (e == ENOSPC || e == EDQUOT)
            return write_failed(path, total, e, err);
        return -1;
    }
    return 0;
}

int fs_open_regular(const char *path, size_t *size, migr_err *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return migr_errf(err, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return migr_errf(err, "%s is not a regular file", path);
    }
    *size = (size_t)st.st_size;
    return fd;
}

int fs_read_file(const char *path, uint8_t **data, size_t *len, migr_err *err)
{
    uint8_t *buf = NULL;
    size_t got = 0, size;
    int fd = fs_open_regular(path, &size, err);

    if (fd < 0)
        return -1;
    buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return migr_errf(err, "out of memory reading %s (%zu bytes)", path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            migr_errf(err, "cannot read %s: %s", path, r < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

int fs_copy(const char *from, const char *to, migr_err *err)
{
    uint8_t *data;
    size_t len;
    if (fs_read_file(from, &data, &len, err) < 0)
        return -1;
    const void *bufs[1] = {data};
    int rc = fs_write_atomic(to, bufs, &len, 1, err);
    free(data);
    return rc;
}

int fs_join(char *dst, size_t cap, const char *dir, const char *name)
{
    int n = name[0] == '/' ? snprintf(dst, cap, "%s", name) : snprintf(dst, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}
