/* reward.c -- see reward.h.  The registry's functions, weighted sets, and
 * the helpers the reward functions share. */
#include "ml/reward.h"

#include <assert.h>
#include <string.h>

/* In REWARD_TABLE's order, as reward_index() counts. */
#define REWARD_ENTRY_(name, description) {#name, reward_##name, description},
static const reward_def reward_table[] = {REWARD_TABLE(REWARD_ENTRY_)};
#undef REWARD_ENTRY_

void reward_input_init(reward_input *in, const vocab *v, const int *ids, int n,
                       const target_parsed *parsed, int label)
{
    assert(v && parsed && n >= 0 && (ids || n == 0));
    memset(in, 0, sizeof *in);
    in->vocab = v;
    in->ids = ids;
    in->n = n;
    in->parsed = parsed;
    in->label = label;
    in->dominant = -1;
    for (int m = 0; m < MODALITY_COUNT; m++)
        in->cue[m] = -1;
}

const reward_def *reward_find(const char *name)
{
    int i = reward_index(name);
    return i < 0 ? NULL : &reward_table[i];
}

/* ---- weighted sets ---- */

int reward_set_init(reward_set *set, const reward_weight *list, int n, migr_err *err)
{
    reward_set s = {0};

    assert(set && (list || n == 0));
    if (reward_list_check(list, n, err) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        s.def[i] = reward_find(list[i].name);
        s.weight[i] = list[i].weight;
    }
    s.n = n;
    *set = s;
    return 0;
}

double reward_set_score(const reward_set *set, const reward_input *in, double *per_reward)
{
    double total = 0;
    assert(set && in && set->n <= REWARD_SET_MAX);
    for (int i = 0; i < set->n; i++) {
        double value = set->def[i]->fn(in);
        if (per_reward)
            per_reward[i] = value;
        total += set->weight[i] * value;
    }
    return total;
}

/* ---- for reward functions ---- */

int reward_text(const reward_input *in, int from, int to, char *buf, size_t cap)
{
    size_t len = 0;
    int written = 0;

    assert(cap > 0 && from >= 0 && to <= in->n);
    buf[0] = '\0';
    for (int i = from; i < to; i++) {
        const char *word = vocab_word(in->vocab, in->ids[i]);
        if (!word)
            break;
        size_t wlen = strlen(word), sep = written > 0;
        if (len + sep + wlen >= cap)
            break;
        if (sep)
            buf[len++] = ' ';
        memcpy(buf + len, word, wlen + 1);
        len += wlen;
        written++;
    }
    return written;
}

int reward_has_verifier(const reward_input *in)
{
    return in->verifier.sentence_label != NULL || in->verifier.sentence_p != NULL;
}

int reward_text_label(const reward_input *in, const char *text)
{
    const reward_verifier *vf = &in->verifier;
    if (vf->sentence_label)
        return vf->sentence_label(vf->ctx, text);
    if (!vf->sentence_p)
        return -1;
    int best = 0;
    double best_p = vf->sentence_p(vf->ctx, text, 0);
    for (int label = 1; label < EMOTION_COUNT; label++) {
        double p = vf->sentence_p(vf->ctx, text, label);
        if (p > best_p)
            best = label, best_p = p;
    }
    return best;
}
