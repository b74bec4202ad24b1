/* prom.h -- migrd's /metrics page in the Prometheus text exposition format
 * (0.0.4), read on each scrape: the tasks in flight from an index, and what
 * grows without bound (tasks that ended, their durations and events, clips)
 * from counts the database keeps beside the rows (schema/009_counts.sql).
 *
 *   migr_runs{kind,state}                 gauge, every kind x state
 *   migr_tasks{kind,state}                gauge, every kind seen x state
 *   migr_queue_depth                      gauge, queued tasks whose retry backoff has passed
 *   migr_task_duration_seconds{kind}      histogram of done tasks, lease to result
 *   migr_task_retries_total{kind}         counter, failed attempts put back in the queue
 *   migr_task_failures_total{kind}        counter, tasks that used up their attempts
 *   migr_leases_lost_total                counter, leases taken back from a worker that
 *                                         died, did not come back, or no longer held them
 *   migr_stale_results_total              counter, results refused for a lease taken back
 *   migr_workers{state}                   gauge, alive / dead / gone
 *   migr_workers_alive                    gauge
 *   migr_worker_deaths_total              counter
 *   migr_schedule_firings_total{schedule} counter, and _misses_total, _skips_total
 *   migr_schedule_next_firing_timestamp_seconds{schedule}   gauge, unpaused schedules
 *   migr_datasets{state}, migr_dataset_clips{dataset,state} gauges
 *   migr_run_step{run,name}, migr_run_loss, _grad_norm, _lr, _tokens_per_second,
 *   migr_run_reward, migr_run_kl          gauges of each queued or running run's last step */
#ifndef MIGR_PROM_H
#define MIGR_PROM_H

#include <sqlite3.h>
#include <stddef.h>

#include "common/error.h"

/* The page into *text (malloc'd, the caller's) of *len bytes.  0, or -1
 * with err. */
int prom_page(sqlite3 *db, char **text, size_t *len, migr_err *err);

#endif
