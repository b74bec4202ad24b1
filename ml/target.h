/* target.h -- explanation targets: building them, parsing generated ones.
 *
 * An explanation is a token sequence
 *
 *   <vis> words </vis> <aud> words </aud> <txt> words </txt>
 *   <think> words </think> <answer> <label> </answer> <eos>
 *
 * with the three description blocks in some order (the order is what MIGR
 * trains).  "words" are word tokens (ids >= VOCAB_FIRST_WORD) or <unk>; a
 * block may be empty.  Label tokens belong in the answer only. */
#ifndef MIGR_TARGET_H
#define MIGR_TARGET_H

#include <stddef.h>

#include "common/emotion.h"
#include "common/error.h"
#include "ml/vocab.h"

/* The order of the description blocks.  by_mi marks the order "mi" (by
 * modality importance, dominant first), which differs per clip: callers
 * resolve it into mod[] for each clip before building a target. */
typedef struct target_order {
    int by_mi;
    int mod[MODALITY_COUNT];   /* the modalities in block order; unused when by_mi */
} target_order;

/* Visual, audio, text: the EMER order, the baseline. */
void target_order_visual_first(target_order *out);
/* Parse "visual-first", "mi", or a list of the three modalities, each once,
 * by name or tag, comma-separated, optionally in brackets: "[aud, vis, txt]",
 * "audio,visual,text".  Case-insensitive.  -1 with err saying what was wrong. */
int target_order_parse(const char *s, target_order *out, migr_err *err);
/* "mi" or "[vis, aud, txt]"; snprintf's return convention. */
int target_order_format(const target_order *o, char *buf, size_t cap);

/* The order of a clip under reasoning.order "mi": modalities by decreasing
 * importance score (scores[MOD_*]), ties kept in the visual-first order. */
void target_order_by_scores(const double scores[MODALITY_COUNT], target_order *out);

/* What a target is made of: a clip's annotations and its label. */
typedef struct target_text {
    const char *clue[MODALITY_COUNT];  /* per-modality clue sentences; NULL = empty block */
    const char *think;                 /* NULL = empty */
    int label;                         /* emotion */
} target_text;

/* Write the explanation of t in order o (resolved, not by_mi) to ids, ending
 * in <eos> and without <bos>.  Returns its length; -1 with err when o or the
 * label is invalid or the explanation does not fit in cap (callers size cap
 * from the model's max_seq). */
int target_build(const vocab *v, const target_text *t, const target_order *o, int *ids, int cap,
                 migr_err *err);

/* A block's tag positions in the parsed sequence; its words are
 * ids[open + 1 .. close - 1].  Both -1 when the block was not found whole. */
typedef struct target_span {
    int open, close;
} target_span;

typedef struct target_parsed {
    int well_formed;        /* 1 if the sequence follows the grammar above */
    char why[160];          /* when not: the first problem, with its position */
    int nblocks;            /* description blocks found whole (first of each kind) */
    int order[MODALITY_COUNT];  /* their modalities in order of appearance; -1 past nblocks */
    target_span block[MODALITY_COUNT];  /* indexed by modality */
    target_span think, answer;
    int label;              /* the emotion of the answer, or -1 */
    int length;             /* tokens read: through the first <eos>, else n */
} target_parsed;

/* Parse a generated explanation (without <bos>; reading stops after the first
 * <eos>, and a sequence may also end without one).  Never fails: a malformed
 * sequence -- empty, a tag missing, unclosed, nested, duplicated or out of
 * place, a label outside the answer, an answer without exactly one label,
 * words outside blocks, <pad>/<bos>, ids out of range -- gets
 * well_formed = 0, the first problem in why, and whatever could still be
 * read: the spans of blocks found whole and the answer's label when a closed
 * answer holds exactly one label token (accuracy is judged apart from form). */
void target_parse(const vocab *v, const int *ids, int n, target_parsed *out);

/* Detokenize ids[0..n-1] into buf, tokens separated by one space, stopping
 * before the first <eos>: "<vis> the mouth turns down . </vis> ... <answer>
 * sad </answer>".  A label token reads as its plain name inside an answer
 * and as "<sad>" elsewhere; an id out of range reads "<?ID>".  Returns the
 * length of the whole text (snprintf's convention: the output was cut when
 * that is >= cap); buf is NUL-terminated when cap > 0. */
int target_render(const vocab *v, const int *ids, int n, char *buf, size_t cap);

#endif
