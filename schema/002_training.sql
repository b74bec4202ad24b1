-- 002: training runs -- their dataset split, per-step metrics, checkpoints.

ALTER TABLE runs ADD COLUMN dataset_id INTEGER REFERENCES datasets(id);
ALTER TABLE runs ADD COLUMN seed INTEGER;
ALTER TABLE runs ADD COLUMN started_ms INTEGER;

-- Which clips a run trains on and which it holds out, fixed at submission.
-- ord is the clip's row in the run's clip list in the store.
CREATE TABLE run_clips (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    clip_id INTEGER NOT NULL REFERENCES clips(id),
    split   TEXT NOT NULL CHECK (split IN ('train', 'holdout')),
    ord     INTEGER NOT NULL,
    PRIMARY KEY (run_id, split, ord)
);

-- One row per (run, step, name): loss, grad_norm, lr, tokens_per_s, ...
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step   INTEGER NOT NULL,
    name   TEXT NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (run_id, step, name)
);

-- Checkpoints written to the store; superseded ones between the kept
-- steps are removed from the store and from this table.
CREATE TABLE checkpoints (
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    step       INTEGER NOT NULL,
    path       TEXT NOT NULL,       -- store-relative
    sha256     TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, step)
);
