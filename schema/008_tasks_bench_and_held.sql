-- Three changes to tasks, made by rebuilding the table (SQLite cannot alter
-- a CHECK constraint):
-- * state 'waiting': a task backing off after a failure, until not_before_ms,
--   when migrd's deadline heap queues it again; the lease query no longer
--   walks past tasks still backing off;
-- * owner 'bench': the no-op tasks of `migr bench dispatch`, dispatched
--   like any other;
-- * index tasks_held: the tasks leased to one worker, for its hello (what it
--   still runs) and its loss (what goes back to the queue), a partial index
--   over the leased rows only, so that neither scans every leased task.
CREATE TABLE tasks_new (
    id           INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL CHECK (owner IN ('dataset', 'run', 'bench')),
    owner_id     INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    subject      INTEGER NOT NULL DEFAULT 0,  -- clip id, shard, ... (kind-specific)
    params       TEXT NOT NULL,               -- JSON
    state        TEXT NOT NULL CHECK (state IN ('queued', 'waiting', 'leased', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL DEFAULT 0, -- while waiting: end of the retry backoff
    lease        INTEGER,                     -- token of the current lease
    worker       TEXT,
    leased_ms    INTEGER,
    error        TEXT,                        -- last failure
    output       TEXT,                        -- JSON, once done
    finished_ms  INTEGER
);
INSERT INTO tasks_new SELECT id, owner, owner_id, kind, subject, params,
    CASE WHEN state = 'queued' AND not_before_ms > 0 THEN 'waiting' ELSE state END, attempts, max_attempts,
    not_before_ms, lease, worker, leased_ms, error, output, finished_ms FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_queue ON tasks(state, id);
CREATE INDEX tasks_by_owner ON tasks(owner, owner_id, state);
CREATE INDEX tasks_held ON tasks(worker) WHERE state = 'leased';
