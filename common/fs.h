/* fs.h -- file-system helpers: atomic writes, whole-file reads, mkdir -p. */
#ifndef MIGR_FS_H
#define MIGR_FS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Create path and its missing parents (mode 0755), each new one made durable
 * (its parent fsynced).  Existing directories are fine. */
int fs_mkdirs(const char *path, migr_err *err);

/* A new, empty temp file beside path, for writing path atomically: its name
 * (path.tmp.XXXXXX) into tmp, created with O_EXCL (mode 0644) so that no
 * two writers of path ever share one -- not even two processes of the same
 * pid, as containers on a shared store are.  Returns the open descriptor
 * (close-on-exec), or -1 with err. */
int fs_temp_beside(const char *path, char *tmp, size_t cap, migr_err *err);

/* Remove the temp files fs_temp_beside made beside path that a crash left
 * (their writer gone: only for files one process writes).  0, or -1 with
 * err naming one that could not be removed. */
int fs_remove_temps(const char *path, migr_err *err);

/* Durably put the written file tmp in place of path: fsync it, rename it
 * over path, fsync the directory (so that the rename survives a crash). */
int fs_publish(const char *tmp, const char *path, migr_err *err);

/* Write the buffers to path atomically: a temp file beside it
 * (fs_temp_beside), then fs_publish.  Readers see the old file or the whole
 * new one. */
int fs_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int nbufs,
                    migr_err *err);

/* Copy the file at from to to, atomically as fs_write_atomic writes. */
int fs_copy(const char *from, const char *to, migr_err *err);

/* Open path for reading (close-on-exec) if it is a regular file, and
 * report its size: the descriptor, or -1 with a message naming path. */
int fs_open_regular(const char *path, size_t *size, migr_err *err);

/* Read a whole file into a malloc'd buffer (NUL-terminated, not counted in
 * *len) that the caller owns. */
int fs_read_file(const char *path, uint8_t **data, size_t *len, migr_err *err);

/* dst = dir + "/" + name, or the name alone when it is absolute. -1 if too long. */
int fs_join(char *dst, size_t cap, const char *dir, const char *name);

#endif
