/* coord_fixture.h -- a coordinator for unit tests: a real SQLite file and
 * store in the test's scratch directory, its socket there too. */
#ifndef MIGR_COORD_FIXTURE_H
#define MIGR_COORD_FIXTURE_H

#include <stdio.h>

#include "coordinator/coord.h"
#include "tests/unit/check.h"

static inline int open_test_coord(coord *c, migr_err *err)
{
    migr_home h = {0};
    coord_config cfg;
    coord_config_default(&cfg);
    snprintf(h.home, sizeof h.home, "%s", check_tmpdir());
    snprintf(h.db, sizeof h.db, "%s/migr.db", check_tmpdir());
    snprintf(h.store, sizeof h.store, "%s/store", check_tmpdir());
    snprintf(h.endpoint, sizeof h.endpoint, "ipc://%s/migrd.sock", check_tmpdir());
    return coord_open(c, &cfg, &h, err);
}

#endif
