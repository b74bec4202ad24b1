/* test_coord.c -- the coordinator's checks of what workers report, on a
 * coordinator with a real SQLite file. */
#include "check.h"

#include <stdio.h>

#include "coordinator/coord.h"

static int open_coord(coord *c, migr_err *err)
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

/* Store paths to remove come from worker output: a missing one (it reached
 * strdup(NULL) and crashed migrd, again on every restart) and one outside
 * the store's objects are refused; a run's gradient is taken. */
TEST(coord_discard_refuses_paths_workers_should_not_give)
{
    static const char *const bad[] = {"/etc/passwd", "../migr.db", "runs/1/../../../x", "runs/..", "store.db",
                                      "datasets/a/\nb", "", "runs"};
    coord c;
    migr_err err = {0};
    CHECK_MSG(open_coord(&c, &err) == 0, "coord_open: %s", err.msg);
    int null_refused = coord_discard(&c, NULL, &err) < 0;
    char null_msg[sizeof err.msg];
    snprintf(null_msg, sizeof null_msg, "%s", err.msg);
    int taken = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        taken += coord_discard(&c, bad[i], &err) == 0;
    int ok = coord_discard(&c, "runs/1/grads/000001-00.grad", &err) == 0 &&
             coord_discard(&c, "runs/1/ckpt/..hidden", &err) == 0;
    int queued = c.ndiscard;
    coord_close(&c);
    CHECK(null_refused);
    CHECK_MSG(strstr(null_msg, "names no store object") != NULL, "%s", null_msg);
    CHECK_INT(0, taken);
    CHECK_MSG(ok, "a run's gradient was refused: %s", err.msg);
    CHECK_INT(2, queued);
}
