/* mi.h -- the modality-importance (MI) job's limits, shared by its three
 * readers: `migr dataset mi` offers them, migrd checks a request against
 * them before it queues the job, and the probe that computes MI
 * (probe_cross_fit_repeated, ml/probe.h) refuses what lies outside. */
#ifndef MIGR_MI_H
#define MIGR_MI_H

/* Repeated cross-fits averaged per clip (see probe_cross_fit_repeated). */
enum { MI_DEFAULT_REPEATS = 10, MI_MAX_REPEATS = 100 };

#endif
