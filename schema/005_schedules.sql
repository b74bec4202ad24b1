-- 005: schedules -- a run config submitted on a cron calendar, as a
-- Kubernetes CronJob submits its job template (coordinator/schedules.c) --
-- and run tags, so that operators find their runs.
CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    cron        TEXT NOT NULL,              -- five fields or a macro (coordinator/cron.h)
    tz          TEXT NOT NULL,              -- IANA zone the cron times are wall times of
    policy      TEXT NOT NULL CHECK (policy IN ('forbid', 'allow', 'replace')),
    deadline_s  INTEGER,                    -- starting deadline; NULL: none
    config      TEXT NOT NULL,              -- the run config each firing submits (JSON)
    paused      INTEGER NOT NULL DEFAULT 0,
    next_ms     INTEGER,                    -- next scheduled time; NULL while paused
    last_ms     INTEGER,                    -- scheduled time of the last firing
    fired       INTEGER NOT NULL DEFAULT 0, -- firings that submitted a run
    missed      INTEGER NOT NULL DEFAULT 0, -- scheduled times that passed unfired
    skipped     INTEGER NOT NULL DEFAULT 0, -- firings Forbid skipped (a run still active)
    last_error  TEXT,                       -- why the last firing could not submit its run
    created_ms  INTEGER NOT NULL
);

-- A run a schedule submitted, and the scheduled time it was for.
ALTER TABLE runs ADD COLUMN schedule_id INTEGER REFERENCES schedules(id);
ALTER TABLE runs ADD COLUMN scheduled_ms INTEGER;
CREATE INDEX runs_by_schedule ON runs(schedule_id, scheduled_ms);

-- A run's tags: a JSON array of names, given at submission (`--tag`).
ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
