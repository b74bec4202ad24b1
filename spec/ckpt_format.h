/* ckpt_format.h -- the checkpoint file's layout: a model's parameters and
 * AdamW state (read and written by ml/ckpt.h).
 *
 * Layout (integers and floats little-endian):
 *
 *     0  magic "MIGRCKPT"                         8 bytes
 *     8  format version (CKPT_VERSION)            u32
 *    12  model_config, in its field order:        i32 x 11
 *        vocab max_seq channels layers heads mlp_ratio
 *        n_frames frame_pixels audio_tokens audio_window n_mel
 *    56  vocabulary hash (SHA-256, raw)           32 bytes
 *    88  step (optimizer steps taken; 0 = init)   i64
 *    96  parameter count N                        u64
 *   104  run seed                                 u64
 *   112  params                                   f32 x N  (model_params order)
 *        AdamW m                                  f32 x N
 *        AdamW v                                  f32 x N
 *        SHA-256 of every byte before it          32 bytes
 *
 * so a file is exactly CKPT_HEADER_BYTES + 12 N + 32 bytes.  A different
 * layout gets a new version; a reader refuses versions it does not know. */
#ifndef MIGR_CKPT_FORMAT_H
#define MIGR_CKPT_FORMAT_H

enum { CKPT_VERSION = 1, CKPT_HEADER_BYTES = 112, CKPT_SUM_BYTES = 32 };
/* The first 8 bytes of every checkpoint (the string's NUL is not written).
 * migrd, which does not link the model, sniffs files with it. */
#define CKPT_MAGIC "MIGRCKPT"

#endif
