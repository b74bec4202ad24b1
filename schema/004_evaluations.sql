-- 004: evaluations of checkpoints, one row per eval run, so that the
-- evaluations of one training run over time can be compared.
CREATE TABLE evals (
    run_id      INTEGER PRIMARY KEY REFERENCES runs(id),  -- the eval run
    source_run  INTEGER REFERENCES runs(id),              -- the run that wrote the checkpoint, if known
    ckpt_step   INTEGER,
    ckpt_path   TEXT NOT NULL,
    ckpt_sha256 TEXT,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    clips       INTEGER NOT NULL,
    metrics     TEXT,                                      -- JSON, once done (ml/metrics.h)
    created_ms  INTEGER NOT NULL
);
CREATE INDEX evals_by_source ON evals(source_run, ckpt_step);
