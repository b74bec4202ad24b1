/* policy.h -- a trained model ready to generate: a checkpoint with the
 * vocabulary and config of the run that wrote it.
 *
 * A run keeps them beside its checkpoints:
 *   runs/ID/ckpt/SSSSSS.ckpt   runs/ID/vocab.txt   runs/ID/config.json
 * so a checkpoint path is all a reader needs. */
#ifndef MIGR_POLICY_H
#define MIGR_POLICY_H

#include "common/error.h"
#include "ml/ckpt.h"
#include "ml/model.h"
#include "ml/vocab.h"
#include "spec/runconfig.h"

typedef struct policy {
    model *m;          /* holding the checkpoint's parameters */
    vocab *v;
    runconfig rc;      /* the config of the run that wrote the checkpoint */
    ckpt_header h;
} policy;

/* Load the checkpoint at path (verified: checksum, vocabulary hash) and its
 * run's vocabulary and config.  On failure nothing is left allocated. */
int policy_load(const char *ckpt_path, policy *p, migr_err *err);
void policy_free(policy *p);

#endif
