/* textclf.h -- a sentence-level emotion classifier: multinomial logistic
 * regression over hashed n-gram features.
 *
 * MIGR uses it twice, as two independent instruments:
 *
 *   - the reward *verifier* (consistency reward): word features
 *     (TEXTCLF_WORDS), trained on annotation clue sentences, each labelled
 *     with the emotion it describes;
 *   - the evaluation *judge* (four-bin table): character features
 *     (TEXTCLF_CHARS), trained on annotation think texts; it reads only a
 *     generated <think> and never the answer.
 *
 * The design requires the judge not to be the verifier (we must not grade
 * with the instrument we optimized): different features, a different hashing
 * seed, and a different training split -- the last is the caller's to choose
 * (train the two on disjoint clips).
 *
 * Features.  Each n-gram is hashed (FNV-1a, seeded by hash_seed and the
 * feature kind, then a splitmix64 finalizer) into one of 2^hash_bits buckets
 * with a sign from the hash's top bit (signed feature hashing, so collisions
 * cancel on average instead of piling up).  A text's vector is the signed
 * bucket counts, scaled to unit L2 norm (an empty text has no features and is
 * scored by the biases alone).
 *
 *   TEXTCLF_WORDS  the words of vocab_next_token (ml/vocab.h: ASCII lowercase,
 *                  runs of [a-z0-9'] ; punctuation tokens are dropped), as
 *                  unigrams and adjacent-word bigrams;
 *   TEXTCLF_CHARS  character 3-, 4- and 5-grams of the text normalized as:
 *                  ASCII lowercased, every byte that is not [a-z0-9'] or
 *                  non-ASCII (>= 0x80) made a space, runs of spaces
 *                  collapsed, one space added at each end (so word edges are
 *                  n-grams of their own).
 *
 * Model and training.  logits = b + x W, W (2^hash_bits, EMOTION_COUNT),
 * b (EMOTION_COUNT), all zero at the start; softmax cross-entropy averaged
 * over each batch; AdamW (beta1 0.9, beta2 0.999, eps 1e-8, constant lr,
 * decoupled weight decay l2 on W, not on b) for a fixed number of epochs;
 * batch 0 means full batch, otherwise the examples are shuffled each epoch
 * from (seed, epoch) with common/rng.h.  Arithmetic is double throughout, so
 * the same config and data give the same weights and the same file bytes.
 * Labels are emotions, 0 .. EMOTION_COUNT-1 (common/emotion.h).
 *
 * File.  Little-endian:
 *
 *     0  magic "MIGRTCLF"                       8 bytes
 *     8  format version (TEXTCLF_VERSION)       u32
 *    12  features, hash_bits, classes           u32 x 3
 *    24  epochs, batch                          u32 x 2
 *    32  lr, l2                                 f64 x 2
 *    48  seed, hash_seed                        u64 x 2
 *    64  training examples                      u64
 *    72  W                                      f64 x (2^hash_bits * classes), row-major
 *        b                                      f64 x classes
 *        SHA-256 of every byte before it        32 bytes
 *
 * A different layout gets a new version; a reader refuses versions it does
 * not know, truncated or over-long files and checksum failures, saying which. */
#ifndef MIGR_TEXTCLF_H
#define MIGR_TEXTCLF_H

#include <stddef.h>
#include <stdint.h>

#include "common/emotion.h"
#include "common/error.h"

enum { TEXTCLF_VERSION = 1, TEXTCLF_HEADER_BYTES = 72, TEXTCLF_SUM_BYTES = 32 };
enum { TEXTCLF_MIN_BITS = 8, TEXTCLF_MAX_BITS = 24 };

typedef enum { TEXTCLF_WORDS = 1, TEXTCLF_CHARS = 2 } textclf_features;

typedef struct textclf_config {
    int features;         /* TEXTCLF_WORDS or TEXTCLF_CHARS */
    int hash_bits;        /* buckets = 2^hash_bits, TEXTCLF_MIN_BITS..TEXTCLF_MAX_BITS */
    int epochs;           /* passes over the training set, >= 1 */
    int batch;            /* examples per AdamW step; 0 = the whole set */
    double lr;            /* AdamW learning rate, > 0 */
    double l2;            /* decoupled weight decay on W, >= 0 */
    uint64_t seed;        /* shuffling order (no effect on a full batch) */
    uint64_t hash_seed;   /* feature hashing */
} textclf_config;

typedef struct textclf textclf;

/* The defaults for a feature kind: the verifier's (TEXTCLF_WORDS) or the
 * judge's (TEXTCLF_CHARS).  2^16 buckets, full batch, 200 epochs, lr 0.05,
 * l2 1e-4; the two kinds get different hash seeds. */
textclf_config textclf_defaults(int features);

/* 0 if the config is usable; else -1 with err naming the bad field. */
int textclf_config_check(const textclf_config *cfg, migr_err *err);

/* Train on n >= 1 texts with their labels (emotions).  The result is the
 * caller's (textclf_free).  NULL with err on a bad config, a NULL text, a
 * label out of range or no memory. */
textclf *textclf_train(const textclf_config *cfg, const char *const *texts, const int *labels,
                       int n, migr_err *err);

void textclf_free(textclf **c);

/* The config it was trained with (hash_seed included), and the number of
 * training examples. */
const textclf_config *textclf_config_of(const textclf *c);
long textclf_trained_on(const textclf *c);

/* Class probabilities of a text (NULL reads as ""), summing to 1. */
void textclf_probs(const textclf *c, const char *text, double probs[EMOTION_COUNT]);
/* The most probable class (the lowest index on a tie). */
int textclf_predict(const textclf *c, const char *text);
/* Share of the n texts predicted as their label (0 when n <= 0). */
double textclf_accuracy(const textclf *c, const char *const *texts, const int *labels, int n);

/* The sparse feature vector of a text under cfg (only features, hash_bits
 * and hash_seed are read): bucket indices in ascending order, each once,
 * with their values.  Returns the number of non-zero features, storing the
 * first min(that, cap) (idx/val may be NULL when cap is 0, to count); -1 on
 * no memory.  For tests and diagnostics; training uses the same code. */
int textclf_featurize(const textclf_config *cfg, const char *text, uint32_t *idx, double *val,
                      int cap);

/* Write the classifier atomically (temp file, fsync, rename). */
int textclf_save(const textclf *c, const char *path, migr_err *err);
/* Read and verify a classifier file.  NULL with err saying which check
 * failed: magic, version, header, length, checksum. */
textclf *textclf_load(const char *path, migr_err *err);

/* Sentences of a block's text, for the consistency reward.
 *
 * A sentence ends after a run of terminators (. ! ?), optionally followed by
 * closing quotes or brackets (" ' ) ]), when what follows is whitespace or
 * the end of the text; so "3.5" and "e.g.," do not end one, while "Mr. Smith"
 * does (no abbreviation list: the texts are short clue descriptions).  Text
 * after the last terminator is a sentence of its own.  Each sentence is
 * trimmed of surrounding whitespace and keeps its terminator; a piece with
 * no letter or digit ("...", "  ") is not a sentence.
 *
 * Returns the number of sentences and stores the first min(that, cap) of them
 * as (offset, length) into text (out may be NULL when cap is 0).  NULL text
 * has none. */
typedef struct text_span {
    size_t start, len;
} text_span;

int text_sentences(const char *text, text_span *out, int cap);

#endif
