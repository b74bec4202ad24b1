/* slices.c -- see slices.h. */
#include "coordinator/slices.h"

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord.h"

int slices_step(coord *c, const slice_work *w, int64_t budget_us)
{
    migr_err err;
    if (!w->current(c)) {
        int rc = w->load(c, &err);
        if (rc <= 0) {
            if (rc < 0 && w->current(c))
                w->fail(c, err.msg);
            else if (rc < 0)
                log_error("%s: %s", w->doing, err.msg);
            return 0;
        }
    }
    long long id = (long long)w->current(c);
    int mark = coord_begin(c, &err);
    if (mark < 0) {
        log_error("%s %lld: %s", w->doing, id, err.msg);
        return 0;
    }
    if (w->slice(c, clock_mono_us() + budget_us, &err) < 0) {
        coord_rollback(c, mark);
        w->fail(c, err.msg);
        return 1;
    }
    if (coord_commit(c, &err) < 0) {
        coord_rollback(c, mark);
        log_error("%s %lld: %s", w->doing, id, err.msg);
        w->drop(c);
    }
    return 1;
}
