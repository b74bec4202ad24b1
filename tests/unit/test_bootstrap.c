/* test_bootstrap.c -- the 95% intervals of the evaluation's metrics. */
#include "check.h"

#include <math.h>
#include <stdlib.h>

#include "spec/bootstrap.h"

/* n clips of which the first `right` are answered correctly, all well
 * formed, consistent, visual first with a visual dominant modality and no
 * annotated cue (so grounding is undefined). */
static metrics_clip *clips_right(int n, int right)
{
    metrics_clip *c = calloc((size_t)n, sizeof *c);
    for (int i = 0; c && i < n; i++) {
        int label = i % EMOTION_COUNT, predicted = i < right ? label : (label + 1) % EMOTION_COUNT;
        c[i] = (metrics_clip){label, predicted, 1, predicted, MOD_VISUAL, MOD_VISUAL, 0, 0};
    }
    return c;
}

static double bound(json_t *ci, const char *metric, int i)
{
    return json_number_value(json_array_get(json_object_get(ci, metric), (size_t)i));
}

/* The intervals of n clips of which `right` are answered right, or NULL
 * with err set. */
static json_t *intervals(int n, int right, int resamples, uint64_t seed, migr_err *err)
{
    metrics_clip *c = clips_right(n, right);
    json_t *ci = c ? bootstrap_metrics(c, n, resamples, seed, err) : NULL;
    if (!c)
        migr_errf(err, "out of memory");
    free(c);
    return ci;
}

/* 50 of 50 right: every resample's WAR is 1, and a percentile interval
 * would be the point [1, 1].  The open ends are the exact bounds for 50 of
 * 50 and 0 of 50: 0.025^(1/50) = 0.928878 and 1 - 0.928878. */
TEST(bootstrap_all_right_keeps_the_exact_bound_at_the_open_end)
{
    migr_err err;
    json_t *ci = intervals(50, 50, BOOTSTRAP_RESAMPLES, 7, &err);
    CHECK_MSG(ci != NULL, "%s", err.msg);
    double lo = bound(ci, "war", 0), hi = bound(ci, "war", 1);
    double flo = bound(ci, "format_rate", 0), wlo = bound(ci, "wrong_inconsistent", 0);
    double whi = bound(ci, "wrong_inconsistent", 1);
    json_decref(ci);
    double edge = pow(0.025, 1.0 / 50);
    CHECK_MSG(fabs(edge - 0.928878) < 1e-6, "0.025^(1/50) is %g", edge);
    CHECK_MSG(fabs(lo - edge) < 1e-12 && hi == 1, "war interval [%g, %g], expected [%g, 1]", lo, hi, edge);
    CHECK_MSG(fabs(flo - edge) < 1e-12, "format_rate from %g, expected %g", flo, edge);
    CHECK_MSG(wlo == 0 && fabs(whi - (1 - edge)) < 1e-12, "wrong_inconsistent interval [%g, %g], expected [0, %g]",
              wlo, whi, 1 - edge);
}

/* 300 clips, none in the correct-inconsistent bin (a baseline without
 * drift): the interval reaches the rule-of-three scale, 1 - 0.025^(1/300)
 * = 1.22%, not [0, 0]; a bin with clips in it keeps its percentile bounds. */
TEST(bootstrap_a_bin_seen_empty_reaches_the_exact_upper_bound)
{
    migr_err err;
    json_t *ci = intervals(300, 150, BOOTSTRAP_RESAMPLES, 2, &err);
    CHECK_MSG(ci != NULL, "%s", err.msg);
    double lo = bound(ci, "correct_inconsistent", 0), hi = bound(ci, "correct_inconsistent", 1);
    double wlo = bound(ci, "war", 0), whi = bound(ci, "war", 1);
    json_decref(ci);
    CHECK_MSG(lo == 0 && fabs(hi - 0.012223) < 1e-5, "correct_inconsistent interval [%g, %g], expected [0, 0.012223]",
              lo, hi);
    CHECK_MSG(wlo > 0.43 && whi < 0.57, "war interval [%g, %g], expected about 0.5 +- 0.057", wlo, whi);
}

/* 10 clips, 5 right: a resample's WAR is Binomial(10, 1/2) / 10, whose
 * distribution puts 1.1% at or below 0.1 and 5.5% at or below 0.2 (and the
 * mirror above), so the 2.5% and 97.5% quantiles are 0.2 and 0.8. */
TEST(bootstrap_ten_clips_half_right_give_war_from_0_2_to_0_8)
{
    migr_err err;
    json_t *ci = intervals(10, 5, 2000, 11, &err);
    CHECK_MSG(ci != NULL, "%s", err.msg);
    double lo = bound(ci, "war", 0), hi = bound(ci, "war", 1);
    json_decref(ci);
    CHECK_MSG(fabs(lo - 0.2) < 1e-12 && fabs(hi - 0.8) < 1e-12, "war interval [%g, %g], expected [0.2, 0.8]",
              lo, hi);
}

/* 400 clips, 200 right: the normal approximation's 0.5 +- 1.96 * 0.025. */
TEST(bootstrap_large_half_right_set_matches_the_normal_interval)
{
    migr_err err;
    json_t *ci = intervals(400, 200, BOOTSTRAP_RESAMPLES, 3, &err);
    CHECK_MSG(ci != NULL, "%s", err.msg);
    double lo = bound(ci, "war", 0), hi = bound(ci, "war", 1);
    json_decref(ci);
    CHECK_MSG(fabs(lo - 0.451) < 0.01 && fabs(hi - 0.549) < 0.01,
              "war interval [%g, %g], expected about [0.451, 0.549]", lo, hi);
}

TEST(bootstrap_is_seeded_and_gives_null_for_a_metric_never_defined)
{
    migr_err err;
    metrics_clip *c = clips_right(60, 40);
    CHECK(c != NULL);
    json_t *a = bootstrap_metrics(c, 60, 200, 5, &err), *b = bootstrap_metrics(c, 60, 200, 5, &err);
    json_t *other = bootstrap_metrics(c, 60, 200, 6, &err);
    free(c);
    CHECK_MSG(a && b && other, "%s", err.msg);
    int same = json_equal(a, b), differs = !json_equal(a, other);
    int grounding_null = json_is_null(json_object_get(a, "grounding"));
    size_t keys = json_object_size(a);
    json_decref(a);
    json_decref(b);
    json_decref(other);
    CHECK_MSG(same, "the same seed gave two intervals");
    CHECK_MSG(differs, "seeds 5 and 6 gave the same intervals of a 60-clip set");
    CHECK_MSG(grounding_null, "grounding with no annotated block has an interval");
    CHECK_INT(bootstrap_metric_count, keys);
}

TEST(bootstrap_refuses_a_bad_clip_with_the_reason)
{
    migr_err err = {{0}};
    metrics_clip *c = clips_right(5, 5);
    CHECK(c != NULL);
    c[3].label = 42;
    json_t *ci = bootstrap_metrics(c, 5, 50, 1, &err);
    free(c);
    CHECK(ci == NULL);
    CHECK_MSG(strstr(err.msg, "label") != NULL, "the error does not name the label: %s", err.msg);
}
