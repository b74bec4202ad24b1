/* slices.h -- work migrd's loop does a slice at a time: a dataset's clip
 * rows (clipplan.h), a run's split (runprep.h).
 *
 * Each turn slices_step gives the job in memory, or the next one the
 * database holds, about budget_us of the loop inside a savepoint of the
 * turn's transaction.  A slice that fails is rolled back and its job
 * fails; a commit that fails drops the job from memory, to be loaded again
 * from what was committed. */
#ifndef MIGR_SLICES_H
#define MIGR_SLICES_H

#include <stdint.h>

#include "common/error.h"

struct coord;

typedef struct slice_work {
    const char *doing;                       /* for logs: "planning dataset" */
    int64_t (*current)(struct coord *c);     /* the job's id, 0 for none in memory */
    /* Load the next job waiting in the database: 1, or 0 when none is.  On
     * -1 the job fails if it was loaded far enough to have an id. */
    int (*load)(struct coord *c, migr_err *err);
    /* Work until until_us (monotonic); -1 with err when the job cannot go on. */
    int (*slice)(struct coord *c, int64_t until_us, migr_err *err);
    void (*fail)(struct coord *c, const char *why); /* record why, and drop the job */
    void (*drop)(struct coord *c);           /* forget the job in memory */
} slice_work;

/* One slice of w: 1 when more may be left, 0 when there is nothing to do. */
int slices_step(struct coord *c, const slice_work *w, int64_t budget_us);

#endif
