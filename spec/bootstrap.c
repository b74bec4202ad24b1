/* bootstrap.c -- see bootstrap.h. */
#include "spec/bootstrap.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "common/rng.h"

enum { RNG_BOOTSTRAP = 9 };

const char *const bootstrap_metric_names[] = {
    "war", "uar", "format_rate", "correct_consistent", "correct_inconsistent",
    "wrong_consistent", "wrong_inconsistent", "mi_order_agreement", "grounding"};
const int bootstrap_metric_count =
    (int)(sizeof bootstrap_metric_names / sizeof bootstrap_metric_names[0]);

/* The rate of metric k of m, in bootstrap_metric_names' order. */
static double rate(const metrics *m, int k)
{
    const double v[] = {m->war, m->uar, m->format_rate, m->correct_consistent,
                        m->correct_inconsistent, m->wrong_consistent, m->wrong_inconsistent,
                        m->mi_order_agreement, m->grounding};
    return v[k];
}

/* The count behind metric k of m and what it counts among, for the metrics
 * that are one proportion; 0 for UAR, a mean of recalls. */
static long denominator(const metrics *m, int k, long *count)
{
    const long num[] = {m->bins[1][0] + m->bins[1][1], 0, m->well_formed, m->bins[1][1], m->bins[1][0],
                        m->bins[0][1], m->bins[0][0], m->mi_order_agree, m->grounded};
    const long den[] = {m->n, 0, m->n, m->n, m->n, m->n, m->n, m->mi_order_clips, m->annotated};
    *count = num[k];
    return den[k];
}

/* A proportion seen at 0 of d (or d of d) is 0 (or d) in every resample, so
 * its percentile interval is the point [0, 0]: a certainty d trials cannot
 * give.  There the open end is the exact (Clopper-Pearson) 95% bound,
 * 1 - 0.025^(1/d) (or 0.025^(1/d)), which no resampling can see past. */
static void widen_at_the_boundary(const metrics *m, int k, double *lo, double *hi)
{
    long count;
    long d = denominator(m, k, &count);
    if (d <= 0)
        return;
    double edge = pow(0.025, 1.0 / (double)d);
    if (count == 0 && *hi < 1 - edge)
        *hi = 1 - edge;
    if (count == d && *lo > edge)
        *lo = edge;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at 1-based rank ceil(q * n) of the sorted v[0..n). */
static double quantile(const double *v, int n, double q)
{
    int rank = (int)ceil(q * n - 1e-9);
    return v[rank < 1 ? 0 : rank > n ? n - 1 : rank - 1];
}

json_t *bootstrap_metrics(const metrics_clip *clips, int n, int resamples, uint64_t seed,
                          migr_err *err)
{
    assert(clips && n >= 1 && resamples >= 1);
    int K = bootstrap_metric_count;
    double *values = malloc((size_t)K * (size_t)resamples * sizeof *values); /* (K, resamples) */
    int *count = calloc((size_t)K, sizeof *count);
    json_t *out = NULL;
    metrics m, seen;

    if (!values || !count) {
        migr_errf(err, "out of memory bootstrapping %d clips", n);
        goto end;
    }
    if (metrics_compute(clips, n, &seen, err) < 0)
        goto end;
    uint64_t rng = rng_stream(seed, 0, RNG_BOOTSTRAP);
    for (int r = 0; r < resamples; r++) {
        metrics_init(&m);
        for (int i = 0; i < n; i++)
            if (metrics_add(&m, &clips[rng_below(&rng, n)], err) < 0)
                goto end;
        metrics_finish(&m);
        for (int k = 0; k < K; k++)
            if (!isnan(rate(&m, k)))
                values[(size_t)k * resamples + count[k]++] = rate(&m, k);
    }
    out = json_object();
    for (int k = 0; out && k < K; k++) {
        double *v = values + (size_t)k * resamples;
        json_t *ci = json_null();
        if (count[k] > 0) {
            qsort(v, (size_t)count[k], sizeof *v, by_value);
            double lo = quantile(v, count[k], 0.025), hi = quantile(v, count[k], 0.975);
            widen_at_the_boundary(&seen, k, &lo, &hi);
            ci = json_pack("[f, f]", lo, hi);
        }
        if (!ci || json_object_set_new(out, bootstrap_metric_names[k], ci) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    if (!out)
        migr_errf(err, "out of memory bootstrapping %d clips", n);
end:
    free(values);
    free(count);
    return out;
}
