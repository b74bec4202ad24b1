/* runprep.h -- a submitted SFT or GRPO run's clip split, prepared by
 * migrd's loop a few milliseconds at a time.
 *
 * `migr run submit` checks the config and the dataset (counts in SQLite)
 * and records the run (queued, runs.prepared = 0); the loop then reads the
 * ids of the dataset's usable clips, permutes them with the run's seed
 * (runs_split_order), inserts the run_clips rows (runs.prepared counts them,
 * committed with them) and writes runs/ID/clips.json, a slice per turn of
 * the loop, and last queues the run's first task.  Submitting a run on
 * 100,000 clips held the loop 12.5 s in one request (past the CLI's 10 s
 * wait: the run was made though the CLI said it failed); now no turn plans
 * for longer than its budget.  After a restart the rows go on from
 * runs.prepared and clips.json is written again from its start; a run
 * cancelled meanwhile is dropped. */
#ifndef MIGR_RUNPREP_H
#define MIGR_RUNPREP_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/store.h"

typedef struct run_job {
    int look;              /* a run may be waiting to be prepared: look in the database */
    int64_t run_id;        /* the run being prepared, 0 for none */
    int64_t dataset_id;
    int annotated;         /* only clips with clue annotations (SFT) */
    int need_mi;           /* every clip needs its modality importance (reasoning.order mi) */
    char dataset[72];      /* its name, for messages */
    uint64_t seed;
    double holdout;        /* train.holdout: the share held out */
    int64_t *ids;          /* (n) the usable clips' ids in manifest order; owned */
    int64_t n, cap, last_idx; /* loaded so far; the last one's manifest row */
    int64_t *perm;         /* (n) the split order, once every id is loaded; owned */
    int64_t nhold, next;   /* holdout size; the next row to insert */
    int writing;           /* the rows are in: writing clips.json */
    json_t *extra;         /* clips.json's keys besides holdout and train (GRPO's); owned */
    json_t *keys;          /* all its top-level keys, sorted as dumps sorts them; owned */
    size_t part;           /* the key it is writing */
    int64_t ord;           /* within holdout or train: the next record */
    store_writer out;      /* while writing: clips.json (out.f is NULL otherwise) */
} run_job;

struct coord;

/* Prepare for about budget_us microseconds of the current transaction: 1
 * when more is left, 0 when nothing is.  A run that cannot be prepared (a
 * full disk) fails with the reason. */
int runprep_step(struct coord *c, int64_t budget_us);

/* A run was recorded to prepare: look for it at the next step. */
void runprep_wake(struct coord *c);

/* Free what the job holds and discard its temp file (at migrd's stop). */
void runprep_close(run_job *j);

#endif
