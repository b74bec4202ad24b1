/* bootstrap.h -- 95% intervals for the evaluation's metrics.
 *
 * The percentile bootstrap over test clips: resample the n clip records
 * with replacement, compute the metrics of each resample, and take the
 * 2.5th and 97.5th percentiles of each metric over the resamples.  Seeded,
 * so the same records and seed give the same intervals.  A proportion seen
 * at 0 (or all) of its d trials -- no clip in a bin, every clip right --
 * keeps the exact Clopper-Pearson bound at its open end, 1 - 0.025^(1/d)
 * (or 0.025^(1/d)), where every resample would say 0 (or 1). */
#ifndef MIGR_BOOTSTRAP_H
#define MIGR_BOOTSTRAP_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "spec/metrics.h"

enum { BOOTSTRAP_RESAMPLES = 1000 };

/* The metrics that get an interval, as named in metrics_to_json(). */
extern const char *const bootstrap_metric_names[];
extern const int bootstrap_metric_count;

/* {"war": [lo, hi], ...} for every name above over `resamples` resamples
 * of clips (n >= 1), drawn from seed; a metric undefined in every resample
 * (no clip with a dominant modality, say) is null.  The interval is the
 * lower and upper 2.5% quantile of the resampled values (the sorted value
 * at rank ceil(q * count), 1-based), widened at 0 and 1 as above.  NULL
 * with err on bad clips or no memory. */
json_t *bootstrap_metrics(const metrics_clip *clips, int n, int resamples, uint64_t seed,
                          migr_err *err);

#endif
