/* probe.h -- the modality-importance probe (design.md section 1).
 *
 * Modality importance of a clip: MI_m = p(true label | only modality m), for
 * m in {visual, audio, text}, asked of one small classifier trained with
 * modality dropout, so that "only m" is a query the same network was trained
 * to answer.  Scores are cross-fitted: a clip is scored by a probe that did
 * not train on it (probe_cross_fit), or memorized noise would pass for
 * evidence.
 *
 * Features (probe_features), fixed sizes whatever the featurization:
 *
 *   visual (PROBE_VIS_DIM = 3 G^2, G = PROBE_VIS_GRID = 16): the face window
 *     (media/face.h) is divided into G x G cells (row-major), each sampled
 *     at S x S points (S = PROBE_VIS_SAMPLES, at the centres of an S x S
 *     split of the cell) with face_sample; three planes of G^2 values: per
 *     cell, the mean over frames and points ("appearance"); the mean over
 *     consecutive frame pairs and points of |frame[t+1] - frame[t]|
 *     ("motion", 0 for a single frame); the mean of the later half of the
 *     frames minus that of the earlier half ("change": the expression
 *     coming on, with the face's identity cancelled; halves as for audio
 *     below).  On a 400-clip synthetic set the face window raised MI's
 *     agreement with the generator on visual-dominant clips from 53% (the
 *     same grid on the frame) to 87%.
 *   audio (PROBE_AUD_DIM = 4 PROBE_AUD_BANDS + 2, PROBE_AUD_BANDS = 40): the
 *     log-mel bands are pooled onto 40 bins (bin k averages bands
 *     [k n_mel / 40, max((k+1) n_mel / 40, k n_mel / 40 + 1)), so 40 bands map
 *     one to one); per bin, over time: mean, standard deviation, mean
 *     |x[t+1] - x[t]| (modulation: tempo, tremor) and the mean of the later
 *     half minus the mean of the earlier half (contour: rise or fall);
 *     layout [mean x 40, std x 40, delta x 40, slope x 40]; then the frame
 *     energy e[t] = log(sum over bands of exp(mel[t][b])): its mean and its
 *     standard deviation.  Halves: frames [0, T/2) and [T - T/2, T).
 *   text (PROBE_TXT_DIM = 512): the subtitle's tokens (vocab_next_token:
 *     words and . , ! ?), each counted in bucket FNV-1a-32(token) % 512,
 *     the count vector scaled to unit L2 norm.
 *
 * A modality with nothing in it is absent (present[m] = 0, its vector all
 * zeros): no frames; a silent clip (has_audio 0 or n_audio 0); a NULL,
 * empty or token-free subtitle.  An absent modality is never kept in
 * training and contributes nothing when scoring; its MI is chance, 1 / K.
 *
 * The model (K labels, hidden size H):
 *
 *   z_m = clamp((x_m - mean_m) / sqrt(var_m + PROBE_VAR_EPS), +-PROBE_Z_CLIP)
 *           per feature, mean and variance over the training clips that
 *           have modality m (stored in the probe);
 *   a_m = tanh(W_m z_m + b_m)                 W_m (H, D_m), b_m (H)
 *   h   = sum over kept modalities of a_m     (dropped ones add nothing)
 *   p   = softmax(beta_S (W_o h + b_o))      W_o (K, H), b_o (K)
 *
 * where S is the set of kept modalities and beta_S its inverse temperature
 * (1 during training).
 *
 * Training: mean cross-entropy over minibatches, gradients by hand (sgemm
 * for the encoders), AdamW (ml/optim.h; its decoupled weight decay is the
 * L2 term) at a constant learning rate for a fixed number of epochs.
 * Modality dropout: every time an example is used, each of its present
 * modalities is kept with probability p_keep, redrawn while none is kept;
 * at p_keep = 0.5 that is the uniform choice among the non-empty subsets
 * (each single modality 1/7 of the time for a clip with all three, the full
 * clip 1/7).
 *
 * Calibration: a modality that carries no signal can still be memorized
 * (a few hundred clips, hundreds of noise dimensions), and then answers
 * confidently on clips it never saw -- p(true label | only noise) of 0.5
 * and more on one clip in ten, near 0 on most others.  So a share
 * (config.calibration) of the training clips is held out of training and
 * normalization, and for each subset S the inverse temperature beta_S in
 * [0, 4] that minimizes their negative log-likelihood is fitted (convex in
 * beta: golden-section search); beta_S stays 1 when fewer than
 * PROBE_MIN_CALIBRATION held-out clips have S.  A noise modality then
 * answers near the uniform 1 / K on every clip, and MI values are
 * calibrated probabilities: expect a true carrier at 0.5..0.9 rather than
 * near 1, and choose tau on that scale.
 *
 * Deterministic: the epoch order, the dropout draws, the calibration split
 * and the initial weights come from splitmix64 streams of config.seed and
 * the loops run in a fixed order, so the same inputs and config give the
 * same bits for a given BLAS and BLAS thread count (the worker runs one
 * BLAS thread). */
#ifndef MIGR_PROBE_H
#define MIGR_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "common/emotion.h"
#include "common/error.h"
#include "media/features.h"
#include "spec/mi.h"

enum {
    PROBE_MIN_CALIBRATION = 10, /* fewer held-out clips than this: no calibration */
    PROBE_VIS_GRID = 16,
    PROBE_VIS_SAMPLES = 2,                               /* per cell and axis */
    PROBE_VIS_DIM = 3 * PROBE_VIS_GRID * PROBE_VIS_GRID, /* 768 */
    PROBE_AUD_BANDS = 40,
    PROBE_AUD_DIM = 4 * PROBE_AUD_BANDS + 2,             /* 162 */
    PROBE_TXT_DIM = 512,
    PROBE_MAX_LABELS = 32,
};

#define PROBE_VAR_EPS 1e-4  /* floor under the per-feature variance */
#define PROBE_Z_CLIP 8.0    /* normalized features are clamped to +-this */

/* One clip's probe features (about 5.8 KB; arrays of them are the caller's). */
typedef struct probe_input {
    float vis[PROBE_VIS_DIM];
    float aud[PROBE_AUD_DIM];
    float txt[PROBE_TXT_DIM];
    unsigned char present[MODALITY_COUNT]; /* 1 when the clip has the modality */
} probe_input;

typedef struct probe_config {
    int n_labels;        /* K, 2..PROBE_MAX_LABELS (default EMOTION_COUNT) */
    int hidden;          /* H, >= 1 (default 32) */
    int epochs;          /* passes over the training clips, >= 1 (default 20) */
    int batch;           /* examples per AdamW step, >= 1 (default 32) */
    double lr;           /* AdamW learning rate, constant (default 3e-3) */
    double weight_decay; /* AdamW decoupled decay (default 0.05) */
    double p_keep;       /* modality dropout: keep probability, in (0, 1] (default 0.5) */
    double calibration;  /* share of the clips held out to calibrate, [0, 1) (default 0.2) */
    uint64_t seed;       /* default 1 */
} probe_config;

typedef struct probe probe;

void probe_config_default(probe_config *cfg);

/* Fill out with the features of a clip (see the top of this file); f may be
 * NULL (no media: visual and audio absent), subtitle may be NULL. */
void probe_features(const media_features *f, const char *subtitle, probe_input *out);

/* Train a probe on the clips subset[0..n) of inputs (labels[i] is clip i's
 * label, in [0, n_labels)); subset NULL means clips 0..n-1.  Of these,
 * round(n * calibration) are held out for calibration when that is at least
 * PROBE_MIN_CALIBRATION and leaves a clip to train on.  Returns the
 * probe (free with probe_free), or NULL with err on a bad config or label,
 * n < 1, or no memory. */
probe *probe_train(const probe_config *cfg, const probe_input *inputs, const int *labels,
                   const int *subset, int n, migr_err *err);

void probe_free(probe **p);

/* p(label | the modalities in mask), mask a bit set of (1 << MOD_*), into
 * probs[0..K).  Modalities the clip lacks, or that no training clip had, are
 * dropped from mask; when none is left the answer is uniform, 1 / K. */
void probe_probs(const probe *p, const probe_input *in, unsigned mask, double *probs);

/* mi[m] = p(label | only modality m), m = MOD_VISUAL, MOD_AUDIO, MOD_TEXT;
 * 1 / K for a modality the clip lacks.  label in [0, K). */
void probe_mi(const probe *p, const probe_input *in, double mi[MODALITY_COUNT], int label);

/* The dominant modality: the arg-max of mi when it exceeds the runner-up by
 * more than tau, else MOD_MULTIMODAL (ties included; a negative tau counts
 * as 0). */
int probe_dominant(const double mi[MODALITY_COUNT], double tau);

/* Stratified fold assignment: the clips are shuffled with a stream of seed,
 * then dealt round-robin to folds 0, 1, ... label by label (label 0's clips
 * first, the count running on across labels), so every fold gets
 * floor(n / folds) or that + 1 clips and each label is spread evenly.
 * fold_of[i] gets clip i's fold.  Returns 0, or -1 with err when not
 * 2 <= folds <= n, a label is negative, or on no memory. */
int probe_assign_folds(const int *labels, int n, int folds, uint64_t seed, int *fold_of,
                       migr_err *err);

/* The seed of fold f's probe under config seed (a splitmix64 stream). */
uint64_t probe_fold_seed(uint64_t seed, int fold);

/* Cross-fitted MI of every clip: folds assigned by probe_assign_folds(labels,
 * n, folds, cfg->seed); for each fold f in order, a probe is trained (config
 * cfg with seed probe_fold_seed(cfg->seed, f)) on the clips of the other
 * folds, in index order, and scores the clips of fold f: mi_out[i] =
 * probe_mi(that probe, inputs[i], labels[i]).  So every clip is scored
 * exactly once, by a probe that did not see it.  Returns 0, or -1 with err
 * (folds < 2 or > n, a label out of range, a bad config, no memory); mi_out
 * is then unspecified. */
int probe_cross_fit(const probe_config *cfg, const probe_input *inputs, const int *labels, int n,
                    int folds, double (*mi_out)[MODALITY_COUNT], migr_err *err);

/* Repeated cross-fitting: one cross-fit scores each clip with a single
 * probe, whose fold split and initialization move a clip's MI by more than
 * the margin between two modalities that carry the same emotion (on a
 * 400-clip synthetic set two cross-fits of different seeds name the same
 * arg-max modality for only 85% of clips; averaged over 10 each, 96%).
 * So: mi_out[i] = the mean over r = 0 .. repeats-1, in that order, of
 * probe_cross_fit with config seed probe_repeat_seed(cfg->seed, r) -- each
 * repeat its own folds and probes, every clip still scored only by probes
 * that did not see it.  Returns 0, or -1 with err as probe_cross_fit, or
 * when repeats is not in 1..MI_MAX_REPEATS (spec/mi.h). */
uint64_t probe_repeat_seed(uint64_t seed, int repeat);
int probe_cross_fit_repeated(const probe_config *cfg, const probe_input *inputs, const int *labels,
                             int n, int folds, int repeats, double (*mi_out)[MODALITY_COUNT],
                             migr_err *err);

/* For checking the hand-written gradients.  The flat parameter vector (W_m,
 * b_m for m = visual, audio, text, then W_o, b_o) and its length. */
float *probe_params(probe *p, size_t *n);
/* The training loss (beta 1) of clips ids[0..n) with modality masks
 * kept[0..n) -- the mean cross-entropy, into *loss -- and its gradient into
 * grad (n_params floats), at the current parameters.  Returns 0, or -1 with
 * err when a mask is empty or keeps a modality the clip lacks, a label is
 * out of range, or on no memory. */
int probe_batch_gradient(const probe *p, const probe_input *inputs, const int *labels,
                         const int *ids, const unsigned *kept, int n, float *grad, double *loss,
                         migr_err *err);

#endif
