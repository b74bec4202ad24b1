/* clipplan.h -- a dataset's clip rows, inserted by migrd's loop a few
 * milliseconds at a time.
 *
 * Neither `migr dataset synth NAME --clips N` nor `migr dataset add NAME
 * --manifest FILE` inserts the clips in its request: each records the
 * dataset with datasets.planned = 0 and datasets.plan_clips its clip count,
 * and the loop inserts the clip rows in index order, each with its first
 * task (synth for a synthetic clip, featurize for a manifest's), committing
 * datasets.planned with them.  Planning a million synthetic clips took the
 * loop 150 s in one request and a 100,000-row manifest 4.7 s, during which
 * no worker was heard; now no turn of the loop plans for longer than its
 * budget.  Workers start on the first clips while the last are planned; the
 * dataset moves on (featurizing, ready) only once its plan is complete.
 *
 * A synthetic plan then writes manifest.csv and annotations.jsonl beside
 * the media, again a slice per turn.  After a restart its rows go on from
 * datasets.planned and the two files are written again from the first clip
 * (the plan of a clip is a function of the seed, its index and the config).
 *
 * A manifest is checked whole by the request (clipplan_check_manifest), and
 * the SHA-256 of it and of its annotations recorded; the loop reads it again
 * from datasets.plan_offset, the byte where its next row starts, and fails
 * the dataset if either file changed since. */
#ifndef MIGR_CLIPPLAN_H
#define MIGR_CLIPPLAN_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/store.h"
#include "spec/synth.h"

typedef struct clip_job {
    int look;               /* a dataset may be waiting for its plan: look in the database */
    int64_t dataset_id;     /* the dataset being planned, 0 for none */
    int64_t clips, next;    /* its clip count; the next clip to plan (or write) */
    int manifest;           /* its clips come from a manifest (else from synth_plan) */
    char name[256];
    /* A synthetic dataset's. */
    int writing;            /* its rows are all in: writing the manifest and annotations */
    synth_config cfg;
    uint64_t seed;
    FILE *csv, *jsonl;      /* while writing: their temp files, csv_tmp and jsonl_tmp */
    char dir[PATH_MAX], config[PATH_MAX], csv_tmp[PATH_MAX], jsonl_tmp[PATH_MAX];
    /* A manifest's. */
    char *text;             /* the manifest, read whole; owned */
    size_t offset;          /* where its next row starts */
    json_t *annotations;    /* clip path -> annotation object; owned */
} clip_job;

struct coord;

/* Check a manifest and its annotations (annotations_path NULL or "" for
 * none) as `migr dataset add` gets them: every row "clip path,label
 * [,subtitle]" with a known label, each clip once, every annotation of a
 * listed clip.  Returns the clip count (at least 1) and fills the two
 * files' SHA-256 (annotations_sha "" without a file); -1 with err naming
 * the line otherwise. */
int64_t clipplan_check_manifest(const char *manifest, const char *annotations_path,
                                char manifest_sha[STORE_SHA_HEX], char annotations_sha[STORE_SHA_HEX],
                                migr_err *err);

/* Plan for about budget_us microseconds of the current transaction.  1 when
 * more is left to plan, 0 when nothing is.  A dataset that cannot be
 * planned (its config unreadable, its manifest changed, the disk full)
 * fails with the reason, and its tasks with it. */
int clipplan_step(struct coord *c, int64_t budget_us);

/* A new dataset was recorded: look for it at the next step. */
void clipplan_wake(struct coord *c);

/* Release what the job holds (at migrd's stop). */
void clipplan_close(clip_job *j);

#endif
