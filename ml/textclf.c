/* textclf.c -- see textclf.h.
 *
 * A text becomes a sparse vector in three steps: its n-grams are hashed to
 * 64-bit values (one per occurrence), each value is cut into a bucket and a
 * sign, and the occurrences are sorted by bucket and summed, then scaled to
 * unit norm.  Training featurizes every example once into a CSR matrix and
 * runs AdamW over a dense (buckets, classes) weight matrix: the update is
 * dense, the forward and backward passes only touch an example's buckets. */
#include "ml/textclf.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/le.h"
#include "common/rng.h"
#include "ml/vocab.h"

enum { NCLASS = EMOTION_COUNT };

struct textclf {
    textclf_config cfg;
    long trained_on;
    size_t buckets;      /* 2^hash_bits */
    double *w;           /* (buckets, NCLASS), then b (NCLASS): one allocation */
    double *b;
};

static size_t param_count(size_t buckets)
{
    return buckets * NCLASS + NCLASS;
}

/* ---- config ---- */

textclf_config textclf_defaults(int features)
{
    textclf_config c = {
        .features = features,
        .hash_bits = 16,
        .epochs = 200,
        .batch = 0,
        .lr = 0.05,
        .l2 = 1e-4,
        .seed = 1,
        .hash_seed = features == TEXTCLF_CHARS ? 0x6a75646765ull /* "judge" */
                                               : 0x7665726966ull /* "verif" */,
    };
    return c;
}

int textclf_config_check(const textclf_config *cfg, migr_err *err)
{
    if (cfg->features != TEXTCLF_WORDS && cfg->features != TEXTCLF_CHARS)
        return migr_errf(err, "text classifier features = %d: expected %d (words) or %d (chars)",
                         cfg->features, TEXTCLF_WORDS, TEXTCLF_CHARS);
    if (cfg->hash_bits < TEXTCLF_MIN_BITS || cfg->hash_bits > TEXTCLF_MAX_BITS)
        return migr_errf(err, "text classifier hash_bits = %d is outside [%d, %d]",
                         cfg->hash_bits, TEXTCLF_MIN_BITS, TEXTCLF_MAX_BITS);
    if (cfg->epochs < 1 || cfg->epochs > 1000000)
        return migr_errf(err, "text classifier epochs = %d is outside [1, 1000000]", cfg->epochs);
    if (cfg->batch < 0)
        return migr_errf(err, "text classifier batch = %d is negative (0 = full batch)",
                         cfg->batch);
    if (!(cfg->lr > 0 && isfinite(cfg->lr)))
        return migr_errf(err, "text classifier lr = %g must be positive and finite", cfg->lr);
    if (!(cfg->l2 >= 0 && isfinite(cfg->l2)))
        return migr_errf(err, "text classifier l2 = %g must be >= 0 and finite", cfg->l2);
    return 0;
}

/* ---- features ---- */

/* The occurrences of a text's n-grams (bucket << 1 | sign bit), and the
 * merged vector they sum to; the buffers are reused from text to text. */
typedef struct featurizer {
    const textclf_config *cfg;
    uint64_t start;         /* FNV state after the hash seed and the feature kind */
    uint64_t *occ;          /* (nocc) */
    size_t nocc, capocc;
    uint32_t *idx;          /* (n) buckets, ascending */
    double *val;            /* (n) values, unit L2 norm */
    size_t n, cap;
} featurizer;

static const uint64_t fnv_prime = 0x100000001b3ull;

static uint64_t fnv_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= fnv_prime;
    }
    return h;
}

static void featurizer_init(featurizer *f, const textclf_config *cfg)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= (cfg->hash_seed >> (8 * i)) & 0xff;
        h *= fnv_prime;
    }
    h ^= (uint8_t)cfg->features;
    h *= fnv_prime;
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->start = h;
}

static void featurizer_free(featurizer *f)
{
    free(f->occ);
    free(f->idx);
    free(f->val);
}

/* Record one occurrence of the n-gram whose FNV state is h. */
static int add_hash(featurizer *f, uint64_t h)
{
    uint64_t s = h, mixed = rng_next(&s);  /* splitmix64 as a finalizer */
    uint64_t bucket = mixed & ((1ull << f->cfg->hash_bits) - 1);
    if (f->nocc == f->capocc) {
        size_t cap = f->capocc ? 2 * f->capocc : 256;
        uint64_t *p = realloc(f->occ, cap * sizeof *p);
        if (!p)
            return -1;
        f->occ = p;
        f->capocc = cap;
    }
    f->occ[f->nocc++] = bucket << 1 | mixed >> 63;
    return 0;
}

static int is_punct_token(const char *w)
{
    return w[0] && !w[1] && (w[0] == '.' || w[0] == ',' || w[0] == '!' || w[0] == '?');
}

static int word_ngrams(featurizer *f, const char *text)
{
    char word[VOCAB_MAX_WORD + 1], prev[VOCAB_MAX_WORD + 1];
    int have_prev = 0;

    while (vocab_next_token(&text, word) > 0) {
        if (is_punct_token(word))
            continue;
        if (add_hash(f, fnv_bytes(f->start, word, strlen(word))) < 0)
            return -1;
        if (have_prev) {
            /* "prev word": the space keeps bigrams apart from unigrams. */
            uint64_t h = fnv_bytes(f->start, prev, strlen(prev));
            h = fnv_bytes(h, " ", 1);
            if (add_hash(f, fnv_bytes(h, word, strlen(word))) < 0)
                return -1;
        }
        memcpy(prev, word, sizeof word);
        have_prev = 1;
    }
    return 0;
}

static int keeps_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

static int char_ngrams(featurizer *f, const char *text)
{
    size_t len = strlen(text), n = 0;
    char *norm = malloc(len + 2);
    if (!norm)
        return -1;
    norm[n++] = ' ';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (!keeps_byte(c))
            c = ' ';
        if (c != ' ' || norm[n - 1] != ' ')
            norm[n++] = (char)c;
    }
    if (norm[n - 1] != ' ')
        norm[n++] = ' ';
    for (size_t k = 3; k <= 5; k++)
        for (size_t i = 0; i + k <= n; i++)
            if (add_hash(f, fnv_bytes(f->start, norm + i, k)) < 0) {
                free(norm);
                return -1;
            }
    free(norm);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Featurize text (NULL reads as "") into f->idx/f->val/f->n: the
 * occurrences sorted by bucket, signed counts summed, zero sums dropped, the
 * rest scaled to unit norm.  -1 on no memory. */
static int featurize(featurizer *f, const char *text)
{
    f->nocc = 0;
    f->n = 0;
    if (!text)
        text = "";
    int rc = f->cfg->features == TEXTCLF_WORDS ? word_ngrams(f, text) : char_ngrams(f, text);
    if (rc < 0)
        return -1;
    if (f->nocc == 0)
        return 0;
    qsort(f->occ, f->nocc, sizeof *f->occ, cmp_u64);
    if (f->cap < f->nocc) {  /* at most one feature per occurrence */
        uint32_t *pi = realloc(f->idx, f->nocc * sizeof *pi);
        if (pi)
            f->idx = pi;
        double *pv = realloc(f->val, f->nocc * sizeof *pv);
        if (pv)
            f->val = pv;
        if (!pi || !pv)
            return -1;
        f->cap = f->nocc;
    }
    double norm2 = 0;
    for (size_t i = 0; i < f->nocc;) {
        uint64_t bucket = f->occ[i] >> 1;
        long count = 0;
        for (; i < f->nocc && f->occ[i] >> 1 == bucket; i++)
            count += (f->occ[i] & 1) ? -1 : 1;
        if (count == 0)
            continue;
        f->idx[f->n] = (uint32_t)bucket;
        f->val[f->n] = (double)count;
        norm2 += (double)count * (double)count;
        f->n++;
    }
    double scale = norm2 > 0 ? 1.0 / sqrt(norm2) : 0;
    for (size_t i = 0; i < f->n; i++)
        f->val[i] *= scale;
    return 0;
}

int textclf_featurize(const textclf_config *cfg, const char *text, uint32_t *idx, double *val,
                      int cap)
{
    featurizer f;
    assert(cap == 0 || (idx && val));
    featurizer_init(&f, cfg);
    int n = -1;
    if (featurize(&f, text) == 0) {
        n = (int)f.n;
        for (int i = 0; i < n && i < cap; i++) {
            idx[i] = f.idx[i];
            val[i] = f.val[i];
        }
    }
    featurizer_free(&f);
    return n;
}

/* ---- the training set as a CSR matrix ---- */

typedef struct csr {
    size_t *row;      /* (n + 1) offsets */
    uint32_t *idx;    /* (row[n]) buckets */
    double *val;      /* (row[n]) values */
} csr;

static void csr_free(csr *m)
{
    free(m->row);
    free(m->idx);
    free(m->val);
}

/* Featurize n texts, appending each one's features; the arrays grow
 * geometrically. */
static int csr_build(const textclf_config *cfg, const char *const *texts, int n, csr *m,
                     migr_err *err)
{
    featurizer f;
    size_t cap = 4096;

    featurizer_init(&f, cfg);
    m->row = calloc((size_t)n + 1, sizeof *m->row);
    m->idx = malloc(cap * sizeof *m->idx);
    m->val = malloc(cap * sizeof *m->val);
    if (!m->row || !m->idx || !m->val)
        goto nomem;
    for (int i = 0; i < n; i++) {
        if (featurize(&f, texts[i]) < 0)
            goto nomem;
        size_t at = m->row[i];
        if (at + f.n > cap) {
            while (cap < at + f.n)
                cap *= 2;
            uint32_t *pi = realloc(m->idx, cap * sizeof *pi);
            if (pi)
                m->idx = pi;
            double *pv = realloc(m->val, cap * sizeof *pv);
            if (pv)
                m->val = pv;
            if (!pi || !pv)
                goto nomem;
        }
        if (f.n > 0) {
            memcpy(m->idx + at, f.idx, f.n * sizeof *f.idx);
            memcpy(m->val + at, f.val, f.n * sizeof *f.val);
        }
        m->row[i + 1] = at + f.n;
    }
    featurizer_free(&f);
    return 0;
nomem:
    featurizer_free(&f);
    csr_free(m);
    return migr_errf(err, "training a text classifier: out of memory featurizing %d texts", n);
}

/* ---- the model ---- */

static textclf *textclf_alloc(const textclf_config *cfg)
{
    textclf *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = *cfg;
    c->buckets = (size_t)1 << cfg->hash_bits;
    c->w = calloc(param_count(c->buckets), sizeof *c->w);
    if (!c->w) {
        free(c);
        return NULL;
    }
    c->b = c->w + c->buckets * NCLASS;
    return c;
}

void textclf_free(textclf **c)
{
    if (!c || !*c)
        return;
    free((*c)->w);
    free(*c);
    *c = NULL;
}

const textclf_config *textclf_config_of(const textclf *c)
{
    return &c->cfg;
}

long textclf_trained_on(const textclf *c)
{
    return c->trained_on;
}

/* probs = softmax(b + x W) for the sparse x of k features. */
static void forward(const textclf *c, const uint32_t *idx, const double *val, size_t k,
                    double probs[NCLASS])
{
    double logit[NCLASS], max = -INFINITY, sum = 0;
    memcpy(logit, c->b, sizeof logit);
    for (size_t j = 0; j < k; j++) {
        const double *row = c->w + (size_t)idx[j] * NCLASS;
        for (int y = 0; y < NCLASS; y++)
            logit[y] += val[j] * row[y];
    }
    for (int y = 0; y < NCLASS; y++)
        max = logit[y] > max ? logit[y] : max;
    for (int y = 0; y < NCLASS; y++)
        sum += probs[y] = exp(logit[y] - max);
    for (int y = 0; y < NCLASS; y++)
        probs[y] /= sum;
}

/* Add the cross-entropy gradient of one example, scaled by `scale`, to
 * dw/db (laid out as the parameters). */
static void backward(const textclf *c, const uint32_t *idx, const double *val, size_t k,
                     int label, double scale, double *dparams)
{
    double p[NCLASS];
    double *db = dparams + c->buckets * NCLASS;
    forward(c, idx, val, k, p);
    p[label] -= 1;
    for (int y = 0; y < NCLASS; y++)
        db[y] += scale * p[y];
    for (size_t j = 0; j < k; j++) {
        double *drow = dparams + (size_t)idx[j] * NCLASS;
        for (int y = 0; y < NCLASS; y++)
            drow[y] += scale * val[j] * p[y];
    }
}

/* One AdamW step over all parameters; decay applies to W, not b. */
static void adamw_step(textclf *c, const double *grad, double *m, double *v, long t)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = c->cfg.lr, l2 = c->cfg.l2;
    double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
    size_t nw = c->buckets * NCLASS, np = param_count(c->buckets);
    for (size_t i = 0; i < np; i++) {
        double g = grad[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double step = (m[i] / bc1) / (sqrt(v[i] / bc2) + eps);
        if (i < nw)
            step += l2 * c->w[i];
        c->w[i] -= lr * step;
    }
}

static int check_examples(const char *const *texts, const int *labels, int n, migr_err *err)
{
    if (n < 1)
        return migr_errf(err, "training a text classifier needs at least one example, got %d", n);
    for (int i = 0; i < n; i++) {
        if (!texts[i])
            return migr_errf(err, "training a text classifier: text %d is NULL", i);
        if (labels[i] < 0 || labels[i] >= NCLASS)
            return migr_errf(err, "training a text classifier: label %d of text %d is not an "
                             "emotion (0..%d)", labels[i], i, NCLASS - 1);
    }
    return 0;
}

static void shuffle(int *order, int n, uint64_t seed, int epoch)
{
    uint64_t s = rng_stream(seed, epoch, 0x74);  /* 't': the classifier's order */
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(&s, i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

textclf *textclf_train(const textclf_config *cfg, const char *const *texts, const int *labels,
                       int n, migr_err *err)
{
    csr x = {0};
    textclf *c = NULL;
    double *state = NULL;   /* (3, params): grad, m, v */
    int *order = NULL;

    if (textclf_config_check(cfg, err) < 0 || check_examples(texts, labels, n, err) < 0)
        return NULL;
    if (csr_build(cfg, texts, n, &x, err) < 0)
        return NULL;
    c = textclf_alloc(cfg);
    size_t np = c ? param_count(c->buckets) : 0;
    state = c ? calloc(3 * np, sizeof *state) : NULL;
    order = malloc((size_t)n * sizeof *order);
    if (!c || !state || !order) {
        migr_errf(err, "training a text classifier: out of memory for 2^%d buckets",
                  cfg->hash_bits);
        textclf_free(&c);
        goto done;
    }
    c->trained_on = n;
    for (int i = 0; i < n; i++)
        order[i] = i;

    double *grad = state, *m = state + np, *v = state + 2 * np;
    int batch = cfg->batch == 0 || cfg->batch > n ? n : cfg->batch;
    long t = 0;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        if (batch < n)
            shuffle(order, n, cfg->seed, epoch);
        for (int start = 0; start < n; start += batch) {
            int end = start + batch < n ? start + batch : n;
            double scale = 1.0 / (end - start);
            memset(grad, 0, np * sizeof *grad);
            for (int k = start; k < end; k++) {
                int i = order[k];
                backward(c, x.idx + x.row[i], x.val + x.row[i], x.row[i + 1] - x.row[i],
                         labels[i], scale, grad);
            }
            adamw_step(c, grad, m, v, ++t);
        }
    }
done:
    free(order);
    free(state);
    csr_free(&x);
    return c;
}

/* ---- scoring ---- */

void textclf_probs(const textclf *c, const char *text, double probs[EMOTION_COUNT])
{
    featurizer f;

    featurizer_init(&f, &c->cfg);
    /* Out of memory for a text's features: the biases alone score it. */
    if (featurize(&f, text) < 0)
        f.n = 0;
    forward(c, f.idx, f.val, f.n, probs);
    featurizer_free(&f);
}

int textclf_predict(const textclf *c, const char *text)
{
    double p[NCLASS];
    int best = 0;
    textclf_probs(c, text, p);
    for (int y = 1; y < NCLASS; y++)
        if (p[y] > p[best])
            best = y;
    return best;
}

double textclf_accuracy(const textclf *c, const char *const *texts, const int *labels, int n)
{
    int right = 0;
    for (int i = 0; i < n; i++)
        right += textclf_predict(c, texts[i]) == labels[i];
    return n > 0 ? (double)right / n : 0;
}

/* ---- the file ---- */

static const uint8_t tclf_magic[8] = {'M', 'I', 'G', 'R', 'T', 'C', 'L', 'F'};

enum {
    OFF_VERSION = 8,
    OFF_FEATURES = 12,
    OFF_BITS = 16,
    OFF_CLASSES = 20,
    OFF_EPOCHS = 24,
    OFF_BATCH = 28,
    OFF_LR = 32,
    OFF_L2 = 40,
    OFF_SEED = 48,
    OFF_HASH_SEED = 56,
    OFF_TRAINED = 64,
};
_Static_assert(OFF_TRAINED + 8 == TEXTCLF_HEADER_BYTES, "header layout");
_Static_assert(TEXTCLF_SUM_BYTES == crypto_hash_sha256_BYTES, "checksum is a SHA-256");

static void put_f64(uint8_t *p, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, 8);
    le_put_u64(p, bits);
}

static double get_f64(const uint8_t *p)
{
    uint64_t bits = le_get_u64(p);
    double x;
    memcpy(&x, &bits, 8);
    return x;
}

static size_t file_size(size_t buckets)
{
    return TEXTCLF_HEADER_BYTES + 8 * param_count(buckets) + TEXTCLF_SUM_BYTES;
}

int textclf_save(const textclf *c, const char *path, migr_err *err)
{
    size_t np = param_count(c->buckets), size = file_size(c->buckets);

    if (sodium_init() < 0)
        return migr_errf(err, "libsodium failed to initialize");
    uint8_t *buf = malloc(size);
    if (!buf)
        return migr_errf(err, "saving %s: out of memory for %zu bytes", path, size);
    memcpy(buf, tclf_magic, sizeof tclf_magic);
    le_put_u32(buf + OFF_VERSION, TEXTCLF_VERSION);
    le_put_u32(buf + OFF_FEATURES, (uint32_t)c->cfg.features);
    le_put_u32(buf + OFF_BITS, (uint32_t)c->cfg.hash_bits);
    le_put_u32(buf + OFF_CLASSES, NCLASS);
    le_put_u32(buf + OFF_EPOCHS, (uint32_t)c->cfg.epochs);
    le_put_u32(buf + OFF_BATCH, (uint32_t)c->cfg.batch);
    put_f64(buf + OFF_LR, c->cfg.lr);
    put_f64(buf + OFF_L2, c->cfg.l2);
    le_put_u64(buf + OFF_SEED, c->cfg.seed);
    le_put_u64(buf + OFF_HASH_SEED, c->cfg.hash_seed);
    le_put_u64(buf + OFF_TRAINED, (uint64_t)c->trained_on);
    uint8_t *p = buf + TEXTCLF_HEADER_BYTES;
    for (size_t i = 0; i < np; i++, p += 8)
        put_f64(p, c->w[i]);
    crypto_hash_sha256(p, buf, (unsigned long long)(p - buf));
    const void *bufs[1] = {buf};
    int rc = fs_write_atomic(path, bufs, &size, 1, err);
    free(buf);
    return rc;
}

/* Magic, version, the header's fields and the file's length. */
static int check_header(const char *path, const uint8_t *p, size_t len, textclf_config *cfg,
                        migr_err *err)
{
    size_t nmagic = len < sizeof tclf_magic ? len : sizeof tclf_magic;
    if (memcmp(p, tclf_magic, nmagic) != 0)
        return migr_errf(err, "%s is not a migr text classifier (no MIGRTCLF magic)", path);
    if (len >= OFF_VERSION + 4 && le_get_u32(p + OFF_VERSION) != TEXTCLF_VERSION)
        return migr_errf(err, "%s has text classifier format version %u, this build reads %d",
                         path, le_get_u32(p + OFF_VERSION), TEXTCLF_VERSION);
    if (len < TEXTCLF_HEADER_BYTES)
        return migr_errf(err, "%s is truncated: expected at least %d bytes, found %zu", path,
                         TEXTCLF_HEADER_BYTES + TEXTCLF_SUM_BYTES, len);
    memset(cfg, 0, sizeof *cfg);
    cfg->features = (int)le_get_u32(p + OFF_FEATURES);
    cfg->hash_bits = (int)le_get_u32(p + OFF_BITS);
    cfg->epochs = (int)le_get_u32(p + OFF_EPOCHS);
    cfg->batch = (int)le_get_u32(p + OFF_BATCH);
    cfg->lr = get_f64(p + OFF_LR);
    cfg->l2 = get_f64(p + OFF_L2);
    cfg->seed = le_get_u64(p + OFF_SEED);
    cfg->hash_seed = le_get_u64(p + OFF_HASH_SEED);
    if (le_get_u32(p + OFF_CLASSES) != NCLASS)
        return migr_errf(err, "%s has %u classes, this build has %d emotions", path,
                         le_get_u32(p + OFF_CLASSES), NCLASS);
    if (textclf_config_check(cfg, err) < 0)
        return migr_err_wrap(err, "%s has a corrupted header", path);
    size_t expected = file_size((size_t)1 << cfg->hash_bits);
    if (len < expected)
        return migr_errf(err, "%s is truncated: expected %zu bytes, found %zu", path, expected,
                         len);
    if (len > expected)
        return migr_errf(err, "%s is longer than its header says: expected %zu bytes, found %zu",
                         path, expected, len);
    return 0;
}

textclf *textclf_load(const char *path, migr_err *err)
{
    uint8_t *buf, sum[crypto_hash_sha256_BYTES];
    size_t len;
    textclf_config cfg;
    textclf *c = NULL;

    if (sodium_init() < 0) {
        migr_errf(err, "libsodium failed to initialize");
        return NULL;
    }
    if (fs_read_file(path, &buf, &len, err) < 0)
        return NULL;
    if (check_header(path, buf, len, &cfg, err) < 0)
        goto done;
    crypto_hash_sha256(sum, buf, len - TEXTCLF_SUM_BYTES);
    if (memcmp(sum, buf + len - TEXTCLF_SUM_BYTES, sizeof sum) != 0) {
        migr_errf(err, "%s failed its checksum: the file is corrupted", path);
        goto done;
    }
    c = textclf_alloc(&cfg);
    if (!c) {
        migr_errf(err, "loading %s: out of memory", path);
        goto done;
    }
    c->trained_on = (long)le_get_u64(buf + OFF_TRAINED);
    size_t np = param_count(c->buckets);
    for (size_t i = 0; i < np; i++)
        c->w[i] = get_f64(buf + TEXTCLF_HEADER_BYTES + 8 * i);
done:
    free(buf);
    return c;
}

/* ---- sentences ---- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_terminator(char c)
{
    return c == '.' || c == '!' || c == '?';
}

static int is_closer(char c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']';
}

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

int text_sentences(const char *text, text_span *out, int cap)
{
    int count = 0;
    size_t i = 0;

    assert(cap == 0 || out);
    if (!text)
        return 0;
    while (text[i]) {
        while (is_space((unsigned char)text[i]))
            i++;
        if (!text[i])
            break;
        size_t start = i, end;
        int has_word = 0;
        for (;;) {
            char ch = text[i];
            if (!ch) {
                end = i;
                break;
            }
            if (is_terminator(ch)) {
                size_t k = i;
                while (is_terminator(text[k]))
                    k++;
                while (is_closer(text[k]))
                    k++;
                i = k;
                if (!text[k] || is_space((unsigned char)text[k])) {
                    end = k;
                    break;
                }
                continue;
            }
            has_word |= is_word_byte((unsigned char)ch);
            i++;
        }
        while (end > start && is_space((unsigned char)text[end - 1]))
            end--;
        if (has_word) {
            if (count < cap)
                out[count] = (text_span){start, end - start};
            count++;
        }
    }
    return count;
}
