/* schedules.h -- runs submitted on a cron calendar, as Kubernetes CronJobs
 * submit jobs.
 *
 * A schedule is a name, a cron expression in a time zone (coordinator/cron.h),
 * a run config, a concurrency policy and an optional starting deadline,
 * kept in SQLite with its next scheduled time.  migrd's tick (once a
 * heartbeat, 1 s) fires each schedule whose time has come by submitting its
 * config as an ordinary run linked to the schedule and the scheduled time.
 *
 *   - Downtime: the scheduled times that passed while migrd was down (or
 *     busy) make one firing, for the latest of them, if it is no older than
 *     the starting deadline (none by default); the rest are counted missed.
 *     A firing whose run exists already (migrd stopped between submitting it
 *     and recording the firing) is recorded, not repeated.
 *   - Policy: forbid (the default) skips a firing while a run of the
 *     schedule is queued or running; allow fires anyway; replace cancels
 *     the active runs and fires.
 *   - Paused schedules do not fire; resuming takes up from the next time
 *     after now (the paused times are not made up).
 *   - `schedule run` fires once now, whatever the policy, as `kubectl
 *     create job --from=cronjob/NAME`. */
#ifndef MIGR_SCHEDULES_H
#define MIGR_SCHEDULES_H

#include <jansson.h>

#include "coordinator/coord.h"

/* Client verbs.  add: {"name", "cron", "tz" (optional: migrd's zone),
 * "policy" (optional), "deadline_s" (optional), "config"}; the others
 * {"name"}.  Each returns the schedule as `schedule show` prints it, list
 * an array of them. */
json_t *schedules_add(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_list(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_show(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_rm(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_pause(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_resume(coord *c, json_t *args, int *status, migr_err *err);
json_t *schedules_run(coord *c, json_t *args, int *status, migr_err *err);

/* One schedule as `schedule show` gives it (with history: its config and
 * its last 60 runs, newest first, with eval metrics), or NULL with err and
 * *missing set (missing may be NULL) when there is none; and every
 * schedule without history.  For any connection, the HTTP thread's too. */
json_t *schedule_view(sqlite3 *db, const char *name, int history, int *missing, migr_err *err);
json_t *schedule_view_all(sqlite3 *db, migr_err *err);

/* Fire every schedule whose time has come (now: wall-clock ms). */
void schedules_tick(coord *c, int64_t now);

#endif
