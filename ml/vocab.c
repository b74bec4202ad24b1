/* vocab.c -- see vocab.h. */
#include "ml/vocab.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/store.h"
#include "spec/runconfig.h"

static const char *const fixed_tokens[VOCAB_FIRST_WORD] = {
    "<pad>", "<unk>", "<bos>", "<eos>",
    "<vis>", "</vis>", "<aud>", "</aud>", "<txt>", "</txt>",
    "<think>", "</think>", "<answer>", "</answer>",
    /* one per emotion, in common/emotion.h order */
    "<happy>", "<sad>", "<neutral>", "<angry>", "<surprise>", "<disgust>", "<fear>",
};
_Static_assert(VOCAB_FIRST_WORD == 14 + EMOTION_COUNT, "a label token per emotion");
_Static_assert(STORE_SHA_HEX == 65, "vocab_hash writes 64 hex digits and a NUL");

/* The tokens live in one allocation: this struct, the id -> spelling table,
 * the hash slots, the file bytes and NUL-terminated copies of the tokens. */
struct vocab {
    int size;
    const char **word;   /* (size) spellings */
    int *slot;           /* (nslots) id, or -1 for an empty slot */
    size_t nslots;       /* a power of two, at least twice size */
    const char *file;    /* the bytes vocab_save writes: token '\n' ... */
    size_t file_len;
};

/* ---- fixed ids ---- */

const char *vocab_fixed_token(int id)
{
    return id >= 0 && id < VOCAB_FIRST_WORD ? fixed_tokens[id] : NULL;
}

int vocab_tag_open(int mod)
{
    return mod >= 0 && mod < MODALITY_COUNT ? VOCAB_VIS_OPEN + 2 * mod : -1;
}

int vocab_tag_close(int mod)
{
    return mod >= 0 && mod < MODALITY_COUNT ? VOCAB_VIS_CLOSE + 2 * mod : -1;
}

int vocab_tag_open_modality(int id)
{
    return id >= VOCAB_VIS_OPEN && id <= VOCAB_TXT_OPEN && (id - VOCAB_VIS_OPEN) % 2 == 0
               ? (id - VOCAB_VIS_OPEN) / 2
               : -1;
}

int vocab_tag_close_modality(int id)
{
    return id >= VOCAB_VIS_CLOSE && id <= VOCAB_TXT_CLOSE && (id - VOCAB_VIS_CLOSE) % 2 == 0
               ? (id - VOCAB_VIS_CLOSE) / 2
               : -1;
}

int vocab_label_id(int emo)
{
    return emo >= 0 && emo < EMOTION_COUNT ? VOCAB_FIRST_LABEL + emo : -1;
}

int vocab_label_of(int id)
{
    return id >= VOCAB_FIRST_LABEL && id < VOCAB_FIRST_WORD ? id - VOCAB_FIRST_LABEL : -1;
}

/* ---- tokenizer ---- */

static int is_alnum_lower(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Bytes of an apostrophe at s (' or U+2019), else 0. */
static size_t apostrophe_len(const char *s)
{
    if (s[0] == '\'')
        return 1;
    if ((unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x99)
        return 3;
    return 0;
}

static int is_punct(char c)
{
    return c == '.' || c == ',' || c == '!' || c == '?';
}

size_t vocab_next_token(const char **p, char word[VOCAB_MAX_WORD + 1])
{
    const char *s = *p;

    for (;;) {
        while (*s && !is_punct(*s) && !is_alnum_lower(lower((unsigned char)*s)) &&
               !apostrophe_len(s))
            s++;
        if (!*s) {
            *p = s;
            word[0] = '\0';
            return 0;
        }
        if (is_punct(*s)) {
            word[0] = *s;
            word[1] = '\0';
            *p = s + 1;
            return 1;
        }
        /* A run of letters, digits and apostrophes; apostrophes count only
         * between letters or digits. */
        size_t len = 0, pending = 0;
        for (;;) {
            size_t a = apostrophe_len(s);
            unsigned char c = lower((unsigned char)*s);
            if (a) {
                pending += len > 0;
                s += a;
            } else if (is_alnum_lower(c)) {
                for (; pending > 0; pending--, len++)
                    if (len < VOCAB_MAX_WORD)
                        word[len] = '\'';
                if (len < VOCAB_MAX_WORD)
                    word[len] = (char)c;
                len++;
                s++;
            } else {
                break;
            }
        }
        if (len == 0)
            continue;   /* apostrophes alone are separators */
        word[len < VOCAB_MAX_WORD ? len : VOCAB_MAX_WORD] = '\0';
        *p = s;
        return len;
    }
}

/* ---- hashing ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static size_t slots_for(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

/* ---- the vocabulary ---- */

/* Build a vocabulary of the fixed tokens followed by words[0..nwords-1],
 * which the caller has validated (distinct, well-formed tokens). */
static vocab *vocab_from_words(const char *const *words, int nwords, migr_err *err)
{
    int size = VOCAB_FIRST_WORD + nwords;
    size_t nslots = slots_for((size_t)size);
    size_t file_len = 0;
    for (int i = 0; i < size; i++)
        file_len += strlen(i < VOCAB_FIRST_WORD ? fixed_tokens[i] : words[i - VOCAB_FIRST_WORD]) + 1;

    /* One allocation: struct, word pointers, slots, file bytes, token copies
     * (the file bytes with each '\n' turned into a NUL). */
    size_t off_word = sizeof(vocab);
    size_t off_slot = off_word + (size_t)size * sizeof(char *);
    size_t off_file = off_slot + nslots * sizeof(int);
    size_t off_copy = off_file + file_len;
    char *mem = malloc(off_copy + file_len);
    if (!mem) {
        migr_errf(err, "out of memory for a vocabulary of %d tokens", size);
        return NULL;
    }
    vocab *v = (vocab *)(void *)mem;
    v->size = size;
    v->word = (const char **)(void *)(mem + off_word);
    v->slot = (int *)(void *)(mem + off_slot);
    v->nslots = nslots;
    v->file = mem + off_file;
    v->file_len = file_len;

    char *file = mem + off_file, *copy = mem + off_copy;
    size_t o = 0;
    for (size_t s = 0; s < nslots; s++)
        v->slot[s] = -1;
    for (int i = 0; i < size; i++) {
        const char *w = i < VOCAB_FIRST_WORD ? fixed_tokens[i] : words[i - VOCAB_FIRST_WORD];
        size_t n = strlen(w);
        memcpy(file + o, w, n);
        file[o + n] = '\n';
        memcpy(copy + o, w, n);
        copy[o + n] = '\0';
        v->word[i] = copy + o;
        o += n + 1;
        size_t s = (size_t)hash_str(w) & (nslots - 1);
        while (v->slot[s] >= 0)
            s = (s + 1) & (nslots - 1);
        v->slot[s] = i;
    }
    return v;
}

void vocab_free(vocab **v)
{
    if (!v || !*v)
        return;
    free(*v);
    *v = NULL;
}

int vocab_size(const vocab *v)
{
    return v->size;
}

int vocab_id(const vocab *v, const char *token)
{
    size_t s = (size_t)hash_str(token) & (v->nslots - 1);
    for (; v->slot[s] >= 0; s = (s + 1) & (v->nslots - 1))
        if (strcmp(v->word[v->slot[s]], token) == 0)
            return v->slot[s];
    return VOCAB_UNK;
}

const char *vocab_word(const vocab *v, int id)
{
    return id >= 0 && id < v->size ? v->word[id] : NULL;
}

int vocab_encode(const vocab *v, const char *text, int *ids, int cap)
{
    char word[VOCAB_MAX_WORD + 1];
    size_t len;
    int n = 0;

    assert(cap >= 0 && (ids || cap == 0));
    while ((len = vocab_next_token(&text, word)) > 0) {
        if (n < cap)
            ids[n] = len > VOCAB_MAX_WORD ? VOCAB_UNK : vocab_id(v, word);
        n++;
    }
    return n;
}

/* ---- the builder ---- */

typedef struct word_count {
    char *word;      /* NULL for an empty slot */
    long count;
} word_count;

struct vocab_builder {
    word_count *slot;    /* (nslots) */
    size_t nslots, nwords;
};

vocab_builder *vocab_builder_new(void)
{
    vocab_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->nslots = slots_for(0);
    b->slot = calloc(b->nslots, sizeof *b->slot);
    if (!b->slot) {
        free(b);
        return NULL;
    }
    return b;
}

void vocab_builder_free(vocab_builder **b)
{
    if (!b || !*b)
        return;
    for (size_t s = 0; s < (*b)->nslots; s++)
        free((*b)->slot[s].word);
    free((*b)->slot);
    free(*b);
    *b = NULL;
}

static word_count *builder_find(word_count *slot, size_t nslots, const char *word)
{
    size_t s = (size_t)hash_str(word) & (nslots - 1);
    while (slot[s].word && strcmp(slot[s].word, word) != 0)
        s = (s + 1) & (nslots - 1);
    return &slot[s];
}

static int builder_grow(vocab_builder *b)
{
    size_t nslots = b->nslots * 2;
    word_count *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t s = 0; s < b->nslots; s++)
        if (b->slot[s].word)
            *builder_find(slot, nslots, b->slot[s].word) = b->slot[s];
    free(b->slot);
    b->slot = slot;
    b->nslots = nslots;
    return 0;
}

int vocab_builder_add_text(vocab_builder *b, const char *text, migr_err *err)
{
    char word[VOCAB_MAX_WORD + 1];
    size_t len;

    while ((len = vocab_next_token(&text, word)) > 0) {
        if (len > VOCAB_MAX_WORD)
            continue;
        word_count *wc = builder_find(b->slot, b->nslots, word);
        if (!wc->word) {
            if (2 * (b->nwords + 1) > b->nslots) {
                if (builder_grow(b) < 0)
                    return migr_errf(err, "out of memory counting words");
                wc = builder_find(b->slot, b->nslots, word);
            }
            wc->word = strdup(word);
            if (!wc->word)
                return migr_errf(err, "out of memory counting words");
            b->nwords++;
        }
        wc->count++;
    }
    return 0;
}

static int by_count_then_bytes(const void *a, const void *b)
{
    const word_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* A run config's least vocab.max_size (spec/runconfig.h) holds the fixed
 * tokens and the four punctuation marks. */
_Static_assert(RUNCONFIG_VOCAB_MIN == VOCAB_FIRST_WORD + 4, "the fixed tokens and punctuation");

vocab *vocab_builder_finish(const vocab_builder *b, int min_count, int max_size, migr_err *err)
{
    if (min_count < 1) {
        migr_errf(err, "vocabulary min_count must be at least 1, got %d", min_count);
        return NULL;
    }
    if (max_size != 0 && max_size < VOCAB_FIRST_WORD) {
        migr_errf(err, "vocabulary max_size %d is below the %d fixed tokens (0 = no limit)",
                  max_size, VOCAB_FIRST_WORD);
        return NULL;
    }
    word_count *kept = malloc((b->nwords ? b->nwords : 1) * sizeof *kept);
    const char **words = malloc((b->nwords ? b->nwords : 1) * sizeof *words);
    vocab *v = NULL;
    if (!kept || !words) {
        migr_errf(err, "out of memory building the vocabulary");
        goto end;
    }
    size_t n = 0;
    for (size_t s = 0; s < b->nslots; s++)
        if (b->slot[s].word && b->slot[s].count >= min_count)
            kept[n++] = b->slot[s];
    qsort(kept, n, sizeof *kept, by_count_then_bytes);
    if (max_size != 0 && n > (size_t)(max_size - VOCAB_FIRST_WORD))
        n = (size_t)(max_size - VOCAB_FIRST_WORD);
    for (size_t i = 0; i < n; i++)
        words[i] = kept[i].word;
    v = vocab_from_words(words, (int)n, err);
end:
    free(kept);
    free(words);
    return v;
}

/* ---- the file ---- */

int vocab_save(const vocab *v, const char *path, migr_err *err)
{
    const void *bufs[1] = {v->file};
    size_t lens[1] = {v->file_len};
    if (fs_write_atomic(path, bufs, lens, 1, err) < 0)
        return migr_err_wrap(err, "saving the vocabulary");
    return 0;
}

void vocab_hash(const vocab *v, char out[65])
{
    sha256_hex(v->file, v->file_len, out);
}

/* Whether line is a token the tokenizer produces, spelled as it spells it. */
static int is_word_token(const char *line)
{
    char word[VOCAB_MAX_WORD + 1];
    const char *p = line;
    size_t len = vocab_next_token(&p, word);
    return len > 0 && len <= VOCAB_MAX_WORD && strcmp(word, line) == 0 && *p == '\0';
}

/* Split data (NUL-terminated, len bytes) into lines in place and check them;
 * lines[i] gets the i-th line. */
static int vocab_parse_lines(const char *path, char *data, size_t len, char **lines, int *nlines,
                             migr_err *err)
{
    if (len == 0)
        return migr_errf(err, "%s: empty vocabulary file", path);
    if (data[len - 1] != '\n')
        return migr_errf(err, "%s: the last line has no newline (truncated file?)", path);
    int n = 0;
    for (char *p = data; p < data + len; n++) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        *nl = '\0';
        lines[n] = p;
        if (memchr(p, '\0', (size_t)(nl - p)))
            return migr_errf(err, "%s:%d: a NUL byte inside a token", path, n + 1);
        p = nl + 1;
    }
    for (int i = 0; i < VOCAB_FIRST_WORD; i++)
        if (i >= n || strcmp(lines[i], fixed_tokens[i]) != 0)
            return migr_errf(err,
                             "%s:%d: expected the fixed token \"%s\", found \"%s\": not a migr "
                             "vocabulary, or one with another label set",
                             path, i + 1, fixed_tokens[i], i < n ? lines[i] : "(end of file)");
    for (int i = VOCAB_FIRST_WORD; i < n; i++)
        if (!is_word_token(lines[i]))
            return migr_errf(err,
                             "%s:%d: \"%.80s\" is not a token (lowercase letters, digits and inner "
                             "apostrophes, or one of . , ! ?; at most %d bytes)",
                             path, i + 1, lines[i], VOCAB_MAX_WORD);
    *nlines = n;
    return 0;
}

vocab *vocab_load(const char *path, migr_err *err)
{
    uint8_t *data = NULL;
    size_t len;
    char **lines = NULL;
    vocab *v = NULL;
    int n = 0;

    if (fs_read_file(path, &data, &len, err) < 0) {
        migr_err_wrap(err, "loading the vocabulary");
        return NULL;
    }
    size_t max_lines = 1;
    for (size_t i = 0; i < len; i++)
        max_lines += data[i] == '\n';
    lines = malloc(max_lines * sizeof *lines);
    if (!lines) {
        migr_errf(err, "%s: out of memory", path);
        goto end;
    }
    if (vocab_parse_lines(path, (char *)data, len, lines, &n, err) < 0)
        goto end;
    v = vocab_from_words((const char *const *)lines + VOCAB_FIRST_WORD, n - VOCAB_FIRST_WORD, err);
    if (!v)
        goto end;
    for (int i = VOCAB_FIRST_WORD; i < n; i++)
        if (vocab_id(v, lines[i]) != i) {
            migr_errf(err, "%s:%d: \"%s\" appears twice", path, i + 1, lines[i]);
            vocab_free(&v);
            goto end;
        }
end:
    free(lines);
    free(data);
    return v;
}
