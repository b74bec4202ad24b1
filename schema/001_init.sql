-- 001: datasets, clips, runs, tasks, workers, events.
-- Times are Unix milliseconds.

CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL CHECK (source IN ('manifest', 'synth')),
    manifest    TEXT NOT NULL,          -- absolute path of the manifest CSV
    annotations TEXT,                   -- absolute path of clue annotations, if any
    state       TEXT NOT NULL CHECK (state IN ('synthesizing', 'featurizing', 'ready', 'failed')),
    error       TEXT,
    synth_seed  INTEGER,
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER
);

CREATE TABLE clips (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    idx         INTEGER NOT NULL,       -- row in the manifest, from 0
    path        TEXT NOT NULL,          -- absolute media path
    label       TEXT NOT NULL,
    subtitle    TEXT,
    annotation  TEXT,                   -- JSON: clue sentences, think, cues (synthetic)
    state       TEXT NOT NULL CHECK (state IN ('pending', 'featurized', 'failed')),
    error       TEXT,
    features    TEXT,                   -- store-relative path of the feature object
    sha256      TEXT,                   -- of the feature payload
    has_audio   INTEGER,
    UNIQUE (dataset_id, idx)
);
CREATE INDEX clips_by_state ON clips(dataset_id, state);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('sft', 'grpo', 'eval')),
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    step        INTEGER NOT NULL DEFAULT 0,
    steps       INTEGER NOT NULL,
    config      TEXT NOT NULL,          -- the resolved YAML, as JSON
    error       TEXT,
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER
);

-- A task is one unit of work for one worker.  owner is 'dataset' or 'run'.
-- state: queued -> leased -> done | failed; a lost lease goes back to queued.
CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL CHECK (owner IN ('dataset', 'run')),
    owner_id     INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    subject      INTEGER NOT NULL DEFAULT 0,  -- clip id, shard, ... (kind-specific)
    params       TEXT NOT NULL,               -- JSON
    state        TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL DEFAULT 0, -- retry backoff
    lease        INTEGER,                     -- token of the current lease
    worker       TEXT,
    leased_ms    INTEGER,
    error        TEXT,                        -- last failure
    output       TEXT,                        -- JSON, once done
    finished_ms  INTEGER
);
CREATE INDEX tasks_ready ON tasks(state, not_before_ms, id);
CREATE INDEX tasks_by_owner ON tasks(owner, owner_id, state);

CREATE TABLE workers (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('alive', 'dead', 'gone')),
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL
);

-- What happened, for `migr run logs`, audits and tests.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    kind     TEXT NOT NULL,         -- task.done, task.retry, worker.dead, ...
    owner    TEXT,
    owner_id INTEGER,
    task_id  INTEGER,
    detail   TEXT
);
CREATE INDEX events_by_owner ON events(owner, owner_id, id);
