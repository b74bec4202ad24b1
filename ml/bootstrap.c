/* bootstrap.c -- see bootstrap.h. */
#include "ml/bootstrap.h"

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
    metrics m;

    if (!values || !count) {
        migr_errf(err, "out of memory bootstrapping %d clips", n);
        goto end;
    }
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
            ci = json_pack("[f, f]", quantile(v, count[k], 0.025), quantile(v, count[k], 0.975));
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
