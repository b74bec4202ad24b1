/* evals.h -- runs of kind eval: the paper's evaluation of one checkpoint.
 *
 * The clips (the checkpoint's run's held-out clips, or all of a dataset)
 * are cut into shards; each "evaluate" task decodes its clips greedily and
 * returns one record per clip (answer, form, what the judge reads in the
 * <think>, first block, dominant modality, grounded blocks); when all are
 * in, migrd computes the metrics (spec/metrics.h) and keeps them per
 * checkpoint in the evals table. */
#ifndef MIGR_EVALS_H
#define MIGR_EVALS_H

#include <jansson.h>

#include "coordinator/coord.h"
#include "coordinator/runs.h"

/* Submit an eval run whose config (validated) is cfg, with meta's tags and
 * schedule.  A scheduled eval whose checkpoint is the one the schedule's
 * last eval evaluated is recorded as succeeded without work
 * ("nothing_newer": true in the reply, and an event saying so). */
json_t *evals_submit(coord *c, json_t *cfg, const run_meta *meta, int *status, migr_err *err);
int evals_shard_done(coord *c, const task_row *t, json_t *output, migr_err *err);

/* The latest done instruments job of a dataset: its verifier and judge
 * store paths (copied into the buffers).  Fails naming the command to run
 * when there is none. */
int evals_instruments(coord *c, const char *dataset, char *verifier, char *judge, size_t cap,
                      migr_err *err);

/* A checkpoint reference ("run:ID" or a path) resolved to the checkpoint's
 * path, the run that wrote it (0 if unknown), its step and sha256. */
int evals_resolve_ckpt(coord *c, const char *ref, char *path, size_t cap, int64_t *run, int64_t *step,
                       char *sha, size_t shacap, migr_err *err);

#endif
