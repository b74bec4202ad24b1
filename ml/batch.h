/* batch.h -- assembling the model's input (model_batch) from clips.
 *
 * Each sequence is laid out as model.h describes:
 *
 *   position  0 .. F-1              visual   type 0, token 0
 *             F .. F+NA-1           audio    type 1, token 0
 *             P0 .. P0+S-1          subtitle type 2, word ids (S <= subtitle_max)
 *             P0+S                  <bos>    type 3
 *             P0+S+1 ..             the explanation's ids, type 3
 *             ... T-1               <pad>    type 3, token VOCAB_PAD
 *   (P0 = F + NA)
 *
 * targets[t] = tokens[t+1] from <bos> to the explanation's next-to-last
 * token (so the last token, normally <eos>, is predicted); -1 everywhere else
 * (media, subtitle, the last explanation token, padding).  T is the longest
 * sequence of the batch, capped at max_seq: a longer sequence keeps its
 * prefix and loses the end of its explanation (batch.dropped says how many
 * tokens; its last kept position then predicts nothing).
 *
 * Frames are taken on the face (media/face.h: each frame resampled over the
 * face window, an exact copy when the window is the whole frame), the first
 * as it is and each later one as its difference from the first: the
 * expression's change, with the face's identity cancelled (the model could
 * undo this linearly; it learns faces from far fewer clips without having
 * to).  Log-mel frames fill NA*W rows, cut when the clip has
 * more and zero past its end (a silent clip is all zeros). */
#ifndef MIGR_BATCH_H
#define MIGR_BATCH_H

#include "common/error.h"
#include "media/features.h"
#include "ml/model.h"
#include "ml/vocab.h"

/* One clip's inputs; the batch copies what it needs. */
typedef struct batch_clip {
    const media_features *feat;
    const char *subtitle;    /* NULL = none */
    const int *expl;         /* explanation ids without <bos> (target_build's output) */
    int n_expl;
} batch_clip;

/* A batch and the arrays model_forward reads, in one allocation. */
typedef struct batch {
    model_batch mb;      /* views of the arrays below, for model_forward */
    int B, T;
    float *frames;       /* (B, F, F_PIX) */
    float *mel;          /* (B, NA*W, n_mel) */
    int *tokens;         /* (B, T) */
    int *types;          /* (B, T) */
    int *targets;        /* (B, T) */
    int *bos;            /* (B) position of <bos> */
    int *length;         /* (B) positions before the padding */
    int *dropped;        /* (B) explanation tokens cut at max_seq */
    int ntargets;        /* positions with a target, over the batch */
} batch;

/* Assemble B >= 1 clips.  Every clip's frames must be cfg's n_frames frames
 * of frame_pixels pixels, its log-mel frames cfg's n_mel bands, and the
 * explanation ids inside the vocabulary, whose size must be cfg->vocab.  The
 * prefix and <bos> must fit: F + NA + subtitle_max + 1 <= max_seq.  NULL with
 * err (naming the clip) otherwise. */
batch *batch_build(const model_config *cfg, const vocab *v, int subtitle_max,
                   const batch_clip *clips, int B, migr_err *err);

/* For generation: B = 1, the clip's prefix ending with <bos>, T = its
 * length, no targets (all -1). */
batch *batch_prefix(const model_config *cfg, const vocab *v, int subtitle_max,
                    const media_features *feat, const char *subtitle, migr_err *err);

void batch_free(batch **b);

#endif
