/* vocab.h -- the word-level vocabulary, built from a dataset's annotation texts.
 *
 * Tokenizer.  Text is lowercased (ASCII) and cut into tokens: words, which
 * are maximal runs of [a-z0-9'] with the apostrophes at either end dropped
 * ("don't" stays one word, "'tis" becomes "tis", "''" is nothing), and the
 * punctuation marks . , ! ? as tokens of their own.  Every other byte
 * separates tokens, except that U+2019 (the typographic apostrophe, UTF-8
 * E2 80 99) reads as '.  A word longer than VOCAB_MAX_WORD bytes is one
 * token that is never in a vocabulary (it encodes as <unk>).
 *
 * Ids.  Fixed ones first:
 *
 *    0 <pad>   1 <unk>   2 <bos>   3 <eos>
 *    4 <vis>   5 </vis>  6 <aud>   7 </aud>  8 <txt>  9 </txt>
 *   10 <think> 11 </think> 12 <answer> 13 </answer>
 *   14.. one label token per emotion in common/emotion.h order:
 *        <happy> <sad> <neutral> <angry> <surprise> <disgust> <fear>
 *
 * then words (VOCAB_FIRST_WORD on) by descending count, ties in byte order,
 * those counted at least min_count times, at most max_size tokens in all.
 * A word token "sad" and the label token "<sad>" are different tokens: text
 * never produces label or tag tokens, since '<' and '>' separate.
 *
 * File.  One token per line, in id order, each line ending in '\n'.  The
 * fixed tokens are the header: a file whose first lines are not exactly
 * these is refused. */
#ifndef MIGR_VOCAB_H
#define MIGR_VOCAB_H

#include <stddef.h>

#include "common/emotion.h"
#include "common/error.h"

enum {
    VOCAB_PAD = 0,
    VOCAB_UNK = 1,
    VOCAB_BOS = 2,
    VOCAB_EOS = 3,
    VOCAB_VIS_OPEN = 4,
    VOCAB_VIS_CLOSE = 5,
    VOCAB_AUD_OPEN = 6,
    VOCAB_AUD_CLOSE = 7,
    VOCAB_TXT_OPEN = 8,
    VOCAB_TXT_CLOSE = 9,
    VOCAB_THINK_OPEN = 10,
    VOCAB_THINK_CLOSE = 11,
    VOCAB_ANSWER_OPEN = 12,
    VOCAB_ANSWER_CLOSE = 13,
    VOCAB_FIRST_LABEL = 14,
    VOCAB_FIRST_WORD = VOCAB_FIRST_LABEL + EMOTION_COUNT, /* 21 */
};

enum { VOCAB_MAX_WORD = 64 };  /* bytes; longer words are always <unk> */

typedef struct vocab vocab;
typedef struct vocab_builder vocab_builder;

/* The spelling of fixed token id ("<pad>", "</vis>", "<sad>"), or NULL for
 * an id >= VOCAB_FIRST_WORD. */
const char *vocab_fixed_token(int id);

/* Ids of the block tags of a modality (MOD_VISUAL, MOD_AUDIO, MOD_TEXT);
 * -1 for anything else. */
int vocab_tag_open(int mod);
int vocab_tag_close(int mod);
/* The modality whose open (close) tag id is, or -1. */
int vocab_tag_open_modality(int id);
int vocab_tag_close_modality(int id);

/* The label token of an emotion (-1 if out of range), and the emotion of a
 * label token (-1 if id is not one). */
int vocab_label_id(int emo);
int vocab_label_of(int id);

/* The tokenizer, one token at a time.  Reads the next token of the text at
 * *p, writes it normalized (lowercase, NUL-terminated, at most VOCAB_MAX_WORD
 * bytes kept) to word and advances *p past it.  Returns the token's full
 * length, which exceeds VOCAB_MAX_WORD for an over-long word; 0 at the end. */
size_t vocab_next_token(const char **p, char word[VOCAB_MAX_WORD + 1]);

/* Counting words.  NULL on no memory. */
vocab_builder *vocab_builder_new(void);
void vocab_builder_free(vocab_builder **b);
/* Count the tokens of text: words and punctuation marks alike (over-long
 * words are not counted).  -1 with err on no memory. */
int vocab_builder_add_text(vocab_builder *b, const char *text, migr_err *err);
/* The vocabulary of the tokens counted so far: the fixed tokens, then those
 * with count >= min_count (>= 1) in descending count, ties in byte order
 * (strcmp), at most max_size tokens in all (0 = no limit; a limit below
 * VOCAB_FIRST_WORD is an error).  The builder stays usable.  NULL with err
 * on a bad argument or no memory. */
vocab *vocab_builder_finish(const vocab_builder *b, int min_count, int max_size, migr_err *err);

void vocab_free(vocab **v);

/* Number of tokens, fixed ones included (the model's V). */
int vocab_size(const vocab *v);
/* The id of a token spelled exactly as in the vocabulary ("sad", "<sad>",
 * "</vis>", "."); VOCAB_UNK for anything else.  A hash lookup. */
int vocab_id(const vocab *v, const char *token);
/* The spelling of an id, or NULL when it is out of range. */
const char *vocab_word(const vocab *v, int id);

/* Tokenize text and map it to ids (unknown words -> VOCAB_UNK).  Returns the
 * number of tokens in the text and stores the first min(that, cap) of them
 * in ids (which may be NULL when cap is 0, to count). */
int vocab_encode(const vocab *v, const char *text, int *ids, int cap);

/* Write the vocabulary file atomically (temp file, fsync, rename). */
int vocab_save(const vocab *v, const char *path, migr_err *err);
/* Read a vocabulary file; refuses a wrong header, an empty or malformed
 * line, a duplicate token or a missing final newline, naming the line.
 * NULL with err on failure. */
vocab *vocab_load(const char *path, migr_err *err);
/* SHA-256 (hex) of the bytes vocab_save writes: the vocabulary's identity,
 * recorded beside checkpoints. */
void vocab_hash(const vocab *v, char out[65]);

#endif
