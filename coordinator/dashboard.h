/* dashboard.h -- the dashboard's files (coordinator/dashboard/), embedded in
 * migrd at build time by coordinator/dashboard/embed.sh, so that a migrd
 * binary serves its page with nothing to install beside it. */
#ifndef MIGR_DASHBOARD_H
#define MIGR_DASHBOARD_H

#include <stddef.h>

typedef struct dashboard_file {
    const char *path;   /* "/" for index.html, else "/NAME" */
    const char *type;   /* Content-Type */
    const char *data;
    size_t len;
} dashboard_file;

extern const dashboard_file dashboard_files[];
extern const int dashboard_file_count;

#endif
