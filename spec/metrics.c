/* metrics.c -- see metrics.h. */
#include "spec/metrics.h"

#include <math.h>
#include <string.h>

static int is_emotion(int e)
{
    return e >= 0 && e < EMOTION_COUNT;
}

/* num / den, or NaN when den is 0. */
static double ratio(long num, long den)
{
    return den > 0 ? (double)num / (double)den : NAN;
}

int metrics_consistent(const metrics_clip *clip)
{
    return clip->predicted >= 0 && clip->implied >= 0 && clip->implied == clip->predicted;
}

void metrics_init(metrics *m)
{
    memset(m, 0, sizeof *m);
    metrics_finish(m);
}

static int check_clip(const metrics_clip *c, migr_err *err)
{
    if (!is_emotion(c->label))
        return migr_errf(err, "label %d is not an emotion", c->label);
    if (c->predicted != -1 && !is_emotion(c->predicted))
        return migr_errf(err, "predicted %d is neither -1 (no answer) nor an emotion",
                         c->predicted);
    if (c->implied != -1 && !is_emotion(c->implied))
        return migr_errf(err, "implied %d is neither -1 (no think) nor an emotion", c->implied);
    if (c->first_block < -1 || c->first_block >= MODALITY_COUNT)
        return migr_errf(err, "first_block %d is neither -1 nor a modality", c->first_block);
    if (c->dominant < -1 || c->dominant > MOD_MULTIMODAL)
        return migr_errf(err, "dominant %d is neither -1, a modality nor multimodal",
                         c->dominant);
    if (c->grounded < 0 || c->annotated < 0 || c->grounded > c->annotated)
        return migr_errf(err, "grounded %d of %d annotated blocks is impossible", c->grounded,
                         c->annotated);
    return 0;
}

int metrics_add(metrics *m, const metrics_clip *c, migr_err *err)
{
    if (check_clip(c, err) < 0)
        return -1;
    int correct = c->predicted == c->label;
    m->n++;
    m->confusion[c->label][c->predicted >= 0 ? c->predicted : METRICS_NONE]++;
    m->well_formed += c->well_formed != 0;
    m->bins[correct][metrics_consistent(c)]++;
    if (c->dominant >= 0 && c->dominant < MODALITY_COUNT && c->well_formed) {
        m->mi_order_clips++;
        m->mi_order_agree += c->first_block == c->dominant;
    }
    m->grounded += c->grounded;
    m->annotated += c->annotated;
    return 0;
}

void metrics_merge(metrics *dst, const metrics *src)
{
    dst->n += src->n;
    for (int t = 0; t < EMOTION_COUNT; t++)
        for (int p = 0; p <= METRICS_NONE; p++)
            dst->confusion[t][p] += src->confusion[t][p];
    dst->well_formed += src->well_formed;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            dst->bins[i][j] += src->bins[i][j];
    dst->mi_order_clips += src->mi_order_clips;
    dst->mi_order_agree += src->mi_order_agree;
    dst->grounded += src->grounded;
    dst->annotated += src->annotated;
}

void metrics_finish(metrics *m)
{
    long right = 0, present = 0;
    double recall_sum = 0;

    for (int t = 0; t < EMOTION_COUNT; t++) {
        long support = 0;
        for (int p = 0; p <= METRICS_NONE; p++)
            support += m->confusion[t][p];
        right += m->confusion[t][t];
        m->recall[t] = ratio(m->confusion[t][t], support);
        if (support > 0) {
            present++;
            recall_sum += m->recall[t];
        }
    }
    m->war = ratio(right, m->n);
    m->uar = present > 0 ? recall_sum / (double)present : NAN;
    m->format_rate = ratio(m->well_formed, m->n);
    m->correct_consistent = ratio(m->bins[1][1], m->n);
    m->correct_inconsistent = ratio(m->bins[1][0], m->n);
    m->wrong_consistent = ratio(m->bins[0][1], m->n);
    m->wrong_inconsistent = ratio(m->bins[0][0], m->n);
    m->mi_order_agreement = ratio(m->mi_order_agree, m->mi_order_clips);
    m->grounding = ratio(m->grounded, m->annotated);
}

int metrics_compute(const metrics_clip *clips, int n, metrics *out, migr_err *err)
{
    metrics_init(out);
    for (int i = 0; i < n; i++)
        if (metrics_add(out, &clips[i], err) < 0)
            return migr_err_wrap(err, "evaluation clip %d", i);
    metrics_finish(out);
    return 0;
}

/* ---- JSON ---- */

/* A real, or null when it is NaN (jansson refuses non-finite reals). */
static json_t *rate_json(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Set key to value (consumed); a NULL value or a failed set leaves *ok 0. */
static void set(json_t *obj, const char *key, json_t *value, int *ok)
{
    if (!value || json_object_set_new(obj, key, value) < 0)
        *ok = 0;
}

static json_t *confusion_json(const metrics *m, int *ok)
{
    json_t *rows = json_array();
    for (int t = 0; rows && t < EMOTION_COUNT; t++) {
        json_t *row = json_array();
        for (int p = 0; row && p <= METRICS_NONE; p++) {
            json_t *v = json_integer((json_int_t)m->confusion[t][p]);
            if (!v || json_array_append_new(row, v) < 0)
                *ok = 0;
        }
        if (!row || json_array_append_new(rows, row) < 0)
            *ok = 0;
    }
    return rows;
}

json_t *metrics_to_json(const metrics *m)
{
    int ok = 1;
    json_t *o = json_object();
    if (!o)
        return NULL;
    set(o, "n", json_integer((json_int_t)m->n), &ok);
    set(o, "war", rate_json(m->war), &ok);
    set(o, "uar", rate_json(m->uar), &ok);
    set(o, "format_rate", rate_json(m->format_rate), &ok);
    set(o, "correct_consistent", rate_json(m->correct_consistent), &ok);
    set(o, "correct_inconsistent", rate_json(m->correct_inconsistent), &ok);
    set(o, "wrong_consistent", rate_json(m->wrong_consistent), &ok);
    set(o, "wrong_inconsistent", rate_json(m->wrong_inconsistent), &ok);
    set(o, "mi_order_agreement", rate_json(m->mi_order_agreement), &ok);
    set(o, "mi_order_clips", json_integer((json_int_t)m->mi_order_clips), &ok);
    set(o, "grounding", rate_json(m->grounding), &ok);
    set(o, "grounded_blocks", json_integer((json_int_t)m->grounded), &ok);
    set(o, "annotated_blocks", json_integer((json_int_t)m->annotated), &ok);

    json_t *recall = json_object(), *cols = json_array();
    for (int e = 0; recall && e < EMOTION_COUNT; e++)
        set(recall, emotion_name(e), rate_json(m->recall[e]), &ok);
    set(o, "per_class_recall", recall, &ok);
    set(o, "confusion", confusion_json(m, &ok), &ok);
    for (int p = 0; cols && p <= METRICS_NONE; p++) {
        json_t *name = json_string(p < EMOTION_COUNT ? emotion_name(p) : "none");
        if (!name || json_array_append_new(cols, name) < 0)
            ok = 0;
    }
    set(o, "confusion_columns", cols, &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
