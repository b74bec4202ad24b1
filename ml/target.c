/* target.c -- see target.h. */
#include "ml/target.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- block order ---- */

void target_order_visual_first(target_order *out)
{
    out->by_mi = 0;
    out->mod[0] = MOD_VISUAL;
    out->mod[1] = MOD_AUDIO;
    out->mod[2] = MOD_TEXT;
}

static const char order_forms[] =
    "expected \"visual-first\", \"mi\" or the three modalities in order, e.g. \"[aud, vis, txt]\"";

/* Trim s[*a .. *b) of surrounding white space. */
static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && isspace((unsigned char)s[*a]))
        (*a)++;
    while (*b > *a && isspace((unsigned char)s[*b - 1]))
        (*b)--;
}

/* One list item, s[a .. b): a modality name or tag. */
static int parse_order_item(const char *s, size_t a, size_t b, const char *whole, migr_err *err)
{
    char item[32];
    trim(s, &a, &b);
    if (a == b)
        return migr_errf(err, "block order \"%s\": an empty item; %s", whole, order_forms);
    if (b - a >= sizeof item)
        return migr_errf(err, "block order \"%s\": \"%.*s\" is not a modality (vis, aud, txt)",
                         whole, (int)(b - a), s + a);
    memcpy(item, s + a, b - a);
    item[b - a] = '\0';
    int m = modality_parse(item);
    if (m < 0 || m >= MODALITY_COUNT)
        return migr_errf(err,
                         "block order \"%s\": \"%s\" is not a modality; use vis, aud, txt "
                         "(or visual, audio, text)",
                         whole, item);
    return m;
}

int target_order_parse(const char *s, target_order *out, migr_err *err)
{
    size_t a = 0, b = strlen(s);
    int seen[MODALITY_COUNT] = {0}, n = 0;

    trim(s, &a, &b);
    if (b - a == strlen("visual-first") && strncasecmp(s + a, "visual-first", b - a) == 0) {
        target_order_visual_first(out);
        return 0;
    }
    if (b - a == 2 && strncasecmp(s + a, "mi", 2) == 0) {
        memset(out, 0, sizeof *out);
        out->by_mi = 1;
        for (int k = 0; k < MODALITY_COUNT; k++)
            out->mod[k] = -1;
        return 0;
    }
    if (a == b)
        return migr_errf(err, "block order is empty; %s", order_forms);
    if (s[a] == '[' || s[b - 1] == ']') {
        if (s[a] != '[' || s[b - 1] != ']' || b - a < 2)
            return migr_errf(err, "block order \"%s\": unbalanced brackets; %s", s, order_forms);
        a++, b--;
    }
    for (size_t i = a; i <= b; i++) {
        if (i < b && s[i] != ',')
            continue;
        int m = parse_order_item(s, a, i, s, err);
        if (m < 0)
            return -1;
        if (n == MODALITY_COUNT)
            return migr_errf(err, "block order \"%s\": more than three blocks; %s", s, order_forms);
        if (seen[m])
            return migr_errf(err, "block order \"%s\": %s appears twice; each modality once", s,
                             modality_tag(m));
        seen[m] = 1;
        out->mod[n++] = m;
        a = i + 1;
    }
    for (int m = 0; m < MODALITY_COUNT; m++)
        if (!seen[m])
            return migr_errf(err, "block order \"%s\": %s is missing; each modality once", s,
                             modality_tag(m));
    out->by_mi = 0;
    return 0;
}

void target_order_by_scores(const double scores[MODALITY_COUNT], target_order *out)
{
    target_order_visual_first(out);
    for (int i = 1; i < MODALITY_COUNT; i++) {   /* insertion sort: stable */
        for (int j = i; j > 0 && scores[out->mod[j]] > scores[out->mod[j - 1]]; j--) {
            int tmp = out->mod[j];
            out->mod[j] = out->mod[j - 1];
            out->mod[j - 1] = tmp;
        }
    }
}

int target_order_format(const target_order *o, char *buf, size_t cap)
{
    if (o->by_mi)
        return snprintf(buf, cap, "mi");
    return snprintf(buf, cap, "[%s, %s, %s]", modality_tag(o->mod[0]) ? modality_tag(o->mod[0]) : "?",
                    modality_tag(o->mod[1]) ? modality_tag(o->mod[1]) : "?",
                    modality_tag(o->mod[2]) ? modality_tag(o->mod[2]) : "?");
}

static int order_check(const target_order *o, migr_err *err)
{
    int seen[MODALITY_COUNT] = {0};
    if (o->by_mi)
        return migr_errf(err, "block order \"mi\" must be resolved per clip before building a target");
    for (int k = 0; k < MODALITY_COUNT; k++) {
        if (o->mod[k] < 0 || o->mod[k] >= MODALITY_COUNT || seen[o->mod[k]])
            return migr_errf(err, "block order is not the three modalities once each");
        seen[o->mod[k]] = 1;
    }
    return 0;
}

/* ---- building ---- */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int target_build(const vocab *v, const target_text *t, const target_order *o, int *ids, int cap,
                 migr_err *err)
{
    assert(cap >= 0 && (ids || cap == 0));
    if (order_check(o, err) < 0)
        return -1;
    if (vocab_label_id(t->label) < 0)
        return migr_errf(err, "label %d is not an emotion (0..%d)", t->label, EMOTION_COUNT - 1);

    /* Tags: 2 per description block, 2 for think, 3 for the answer, 1 eos. */
    int need = 2 * MODALITY_COUNT + 2 + 3 + 1;
    for (int m = 0; m < MODALITY_COUNT; m++)
        need += vocab_encode(v, or_empty(t->clue[m]), NULL, 0);
    need += vocab_encode(v, or_empty(t->think), NULL, 0);
    if (need > cap)
        return migr_errf(err, "the explanation has %d tokens, more than the %d allowed", need, cap);

    int n = 0;
    for (int k = 0; k < MODALITY_COUNT; k++) {
        int m = o->mod[k];
        ids[n++] = vocab_tag_open(m);
        n += vocab_encode(v, or_empty(t->clue[m]), ids + n, cap - n);
        ids[n++] = vocab_tag_close(m);
    }
    ids[n++] = VOCAB_THINK_OPEN;
    n += vocab_encode(v, or_empty(t->think), ids + n, cap - n);
    ids[n++] = VOCAB_THINK_CLOSE;
    ids[n++] = VOCAB_ANSWER_OPEN;
    ids[n++] = vocab_label_id(t->label);
    ids[n++] = VOCAB_ANSWER_CLOSE;
    ids[n++] = VOCAB_EOS;
    assert(n == need);
    return n;
}

/* ---- parsing ---- */

/* Block kinds: the three modalities, then think and answer. */
enum { KIND_THINK = MODALITY_COUNT, KIND_ANSWER, KIND_COUNT };

static const char *const kind_tag[KIND_COUNT] = {"vis", "aud", "txt", "think", "answer"};

static int open_kind(int id)
{
    int m = vocab_tag_open_modality(id);
    if (m >= 0)
        return m;
    return id == VOCAB_THINK_OPEN ? KIND_THINK : id == VOCAB_ANSWER_OPEN ? KIND_ANSWER : -1;
}

static int close_kind(int id)
{
    int m = vocab_tag_close_modality(id);
    if (m >= 0)
        return m;
    return id == VOCAB_THINK_CLOSE ? KIND_THINK : id == VOCAB_ANSWER_CLOSE ? KIND_ANSWER : -1;
}

/* Record the first problem only. */
static void problem(target_parsed *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(target_parsed *out, const char *fmt, ...)
{
    if (out->why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
}

typedef struct parse_state {
    int cur;            /* kind of the open block, or -1 */
    int cur_open;       /* its position */
    int cur_dup;        /* it is a second block of its kind */
    int cur_labels;     /* label tokens in it (answers) */
    int cur_label;      /* the last of them */
    int opened[KIND_COUNT];
    int answer_closed;
} parse_state;

static target_span *span_of(target_parsed *out, int kind)
{
    return kind < MODALITY_COUNT ? &out->block[kind] : kind == KIND_THINK ? &out->think : &out->answer;
}

static void parse_open(target_parsed *out, parse_state *st, int kind, int i)
{
    if (st->cur >= 0)
        problem(out, "<%s> at %d inside <%s> opened at %d", kind_tag[kind], i, kind_tag[st->cur],
                st->cur_open);
    if (st->opened[kind]) {
        problem(out, "a second <%s> block at %d", kind_tag[kind], i);
    } else if (kind < MODALITY_COUNT) {
        if (st->opened[KIND_THINK] || st->opened[KIND_ANSWER])
            problem(out, "<%s> at %d comes after <%s>", kind_tag[kind], i,
                    st->opened[KIND_THINK] ? "think" : "answer");
    } else if (kind == KIND_THINK) {
        for (int m = 0; m < MODALITY_COUNT; m++)
            if (!st->opened[m])
                problem(out, "<think> at %d comes before any <%s> block", i, kind_tag[m]);
        if (st->opened[KIND_ANSWER])
            problem(out, "<think> at %d comes after <answer>", i);
    } else if (!st->opened[KIND_THINK]) {
        problem(out, "<answer> at %d comes before any <think> block", i);
    }
    st->cur_dup = st->opened[kind];
    st->opened[kind] = 1;
    st->cur = kind;
    st->cur_open = i;
    st->cur_labels = 0;
}

static void parse_close(target_parsed *out, parse_state *st, int kind, int i)
{
    if (st->cur < 0) {
        problem(out, "</%s> at %d without an open <%s>", kind_tag[kind], i, kind_tag[kind]);
        return;
    }
    if (st->cur != kind) {
        problem(out, "</%s> at %d closes <%s> opened at %d", kind_tag[kind], i, kind_tag[st->cur],
                st->cur_open);
        st->cur = -1;
        return;
    }
    if (kind == KIND_ANSWER) {
        if (st->cur_labels != 1)
            problem(out, "the answer at %d holds %d label tokens, not 1", st->cur_open,
                    st->cur_labels);
        else if (!st->cur_dup)
            out->label = st->cur_label;
        st->answer_closed = 1;
    }
    if (!st->cur_dup) {
        *span_of(out, kind) = (target_span){st->cur_open, i};
        if (kind < MODALITY_COUNT)
            out->order[out->nblocks++] = kind;
    }
    st->cur = -1;
}

/* Words, <unk>, labels, <pad>, <bos>. */
static void parse_other(const vocab *v, target_parsed *out, parse_state *st, int id, int i)
{
    int label = vocab_label_of(id);
    if (label >= 0) {
        if (st->cur == KIND_ANSWER) {
            st->cur_labels++;
            st->cur_label = label;
        } else {
            problem(out, "label token %s at %d outside the answer", vocab_word(v, id), i);
        }
    } else if (id == VOCAB_UNK || id >= VOCAB_FIRST_WORD) {
        if (st->cur == KIND_ANSWER)
            problem(out, "\"%s\" at %d inside the answer, which holds only a label", vocab_word(v, id),
                    i);
        else if (st->cur < 0)
            problem(out, "\"%s\" at %d outside any block", vocab_word(v, id), i);
    } else {
        problem(out, "%s at %d inside an explanation", vocab_word(v, id), i);
    }
}

void target_parse(const vocab *v, const int *ids, int n, target_parsed *out)
{
    parse_state st = {.cur = -1};
    int size = vocab_size(v);

    memset(out, 0, sizeof *out);
    out->label = -1;
    out->length = n;
    for (int k = 0; k < MODALITY_COUNT; k++) {
        out->order[k] = -1;
        out->block[k] = (target_span){-1, -1};
    }
    out->think = out->answer = (target_span){-1, -1};
    if (n <= 0)
        problem(out, "empty explanation");

    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= size) {
            problem(out, "id %d at %d is outside the vocabulary (0..%d)", id, i, size - 1);
            continue;
        }
        if (id == VOCAB_EOS) {
            out->length = i + 1;
            break;
        }
        if (st.answer_closed)
            problem(out, "%s at %d after </answer>", vocab_word(v, id), i);
        int kind;
        if ((kind = open_kind(id)) >= 0)
            parse_open(out, &st, kind, i);
        else if ((kind = close_kind(id)) >= 0)
            parse_close(out, &st, kind, i);
        else
            parse_other(v, out, &st, id, i);
    }
    if (st.cur >= 0)
        problem(out, "<%s> opened at %d is not closed", kind_tag[st.cur], st.cur_open);
    for (int k = 0; k < KIND_COUNT; k++)
        if (!st.opened[k])
            problem(out, "no <%s> block", kind_tag[k]);
    out->well_formed = out->why[0] == '\0';
}

/* ---- rendering ---- */

typedef struct text_out {
    char *buf;
    size_t cap, len;   /* len counts what would have been written */
} text_out;

static void put(text_out *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len < t->cap) {
        size_t room = t->cap - 1 - t->len;
        memcpy(t->buf + t->len, s, n < room ? n : room);
        t->buf[t->len + (n < room ? n : room)] = '\0';
    }
    t->len += n;
}

int target_render(const vocab *v, const int *ids, int n, char *buf, size_t cap)
{
    text_out t = {buf, cap, 0};
    int in_answer = 0, size = vocab_size(v);
    char unknown[32];

    if (cap > 0)
        buf[0] = '\0';
    for (int i = 0; i < n && ids[i] != VOCAB_EOS; i++) {
        int id = ids[i];
        const char *s;
        if (id < 0 || id >= size) {
            snprintf(unknown, sizeof unknown, "<?%d>", id);
            s = unknown;
        } else if (in_answer && vocab_label_of(id) >= 0) {
            s = emotion_name(vocab_label_of(id));
        } else {
            s = vocab_word(v, id);
        }
        in_answer = id == VOCAB_ANSWER_OPEN ? 1 : id == VOCAB_ANSWER_CLOSE ? 0 : in_answer;
        if (i > 0)
            put(&t, " ");
        put(&t, s);
    }
    return (int)t.len;
}
