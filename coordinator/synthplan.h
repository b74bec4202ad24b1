/* synthplan.h -- a synthetic dataset's clips, planned by migrd's loop a few
 * milliseconds at a time.
 *
 * `migr dataset synth NAME --clips N` only records the dataset (state
 * synthesizing, datasets.planned = 0); the loop then plans its clips in
 * index order, inserting each clip row and its synth task (datasets.planned
 * counts them, committed with them), and once all N are in, writes
 * manifest.csv and annotations.jsonl beside the media, again a slice per
 * turn of the loop.  Planning a million clips took the loop 150 s in one
 * request, during which no worker was heard; now no turn of the loop plans
 * for longer than its budget.  Workers render the first clips while the
 * last are planned; the dataset moves on (featurizing, ready) only once its
 * plan is complete.  After a restart the rows go on from datasets.planned
 * and the two files are written again from the first clip (the plan of a
 * clip is a function of the seed, its index and the config). */
#ifndef MIGR_SYNTHPLAN_H
#define MIGR_SYNTHPLAN_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "spec/synth.h"

typedef struct synth_job {
    int look;               /* a dataset may be waiting for its plan: look in the database */
    int64_t dataset_id;     /* the dataset being planned, 0 for none */
    int64_t clips, next;    /* its clip count; the next clip to plan (or write) */
    int writing;            /* its rows are all in: writing the manifest and annotations */
    synth_config cfg;
    uint64_t seed;
    FILE *csv, *jsonl;      /* while writing: their temp files, csv_tmp and jsonl_tmp */
    char dir[PATH_MAX], config[PATH_MAX], csv_tmp[PATH_MAX], jsonl_tmp[PATH_MAX];
} synth_job;

struct coord;

/* Plan for about budget_us microseconds of the current transaction.  1 when
 * more is left to plan, 0 when nothing is.  A dataset that cannot be
 * planned (its config unreadable, the disk full) fails with the reason, and
 * its tasks with it. */
int synthplan_step(struct coord *c, int64_t budget_us);

/* A new synthetic dataset was recorded: look for it at the next step. */
void synthplan_wake(struct coord *c);

/* Close what the job holds open (at migrd's stop). */
void synthplan_close(synth_job *j);

#endif
