-- 009: counts kept beside the rows they count.  /metrics, the datasets list
-- and the dashboard read a few rows of these tables however many tasks have
-- ended, and however many clips and events there are, instead of counting
-- those tables on every scrape; and since the counters no longer come from
-- the events, migrd can delete old task events without counters going
-- backwards.  Triggers keep them, so no writer can forget to; on the
-- dispatch path only a task's end runs one (two with its duration).

-- Tasks by kind in the states they end in (done, failed): the history,
-- which grows without bound.  The tasks in flight (queued, waiting, leased)
-- are counted from index tasks_queue on each scrape: as many as the work
-- under way, and no trigger runs at a lease.
CREATE TABLE task_counts (
    kind  TEXT NOT NULL,
    state TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (kind, state)
) WITHOUT ROWID;
INSERT INTO task_counts SELECT kind, state, COUNT(*) FROM tasks WHERE state IN ('done', 'failed') GROUP BY kind, state;
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks WHEN old.state IN ('done', 'failed') BEGIN
    UPDATE task_counts SET n = n - 1 WHERE kind = old.kind AND state = old.state;
END;

-- migr_task_duration_seconds: seconds from a task's lease to its result,
-- done tasks, counted into the bucket of the first bound >= the duration
-- (bucket -1: above every bound).
CREATE TABLE duration_buckets (
    i  INTEGER PRIMARY KEY,
    le REAL NOT NULL UNIQUE
);
INSERT INTO duration_buckets (i, le) VALUES (0, 0.01), (1, 0.05), (2, 0.1), (3, 0.25), (4, 0.5), (5, 1),
    (6, 2.5), (7, 5), (8, 10), (9, 30), (10, 60), (11, 300);
CREATE TABLE task_durations (
    kind   TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    sum    REAL NOT NULL,
    PRIMARY KEY (kind, bucket)
) WITHOUT ROWID;
INSERT INTO task_durations
    SELECT kind, IFNULL((SELECT MIN(i) FROM duration_buckets WHERE le >= d), -1) AS bucket, COUNT(*), SUM(d)
    FROM (SELECT kind, MAX(0, (finished_ms - leased_ms) / 1000.0) AS d FROM tasks
          WHERE state = 'done' AND leased_ms IS NOT NULL AND finished_ms IS NOT NULL)
    GROUP BY kind, bucket;
-- A task's end: one trigger (each trigger a statement fires costs about a
-- microsecond even when its WHEN is false), never at a lease.  An ended task
-- never changes state again (queue.c changes only queued, waiting and leased
-- ones), so nothing counts down but a deletion.
CREATE TRIGGER task_ended AFTER UPDATE OF state ON tasks
WHEN new.state IN ('done', 'failed') AND old.state IS NOT new.state BEGIN
    INSERT INTO task_counts VALUES (new.kind, new.state, 1) ON CONFLICT (kind, state) DO UPDATE SET n = n + 1;
    INSERT INTO task_durations
        SELECT new.kind, IFNULL((SELECT MIN(i) FROM duration_buckets WHERE le >= d), -1), 1, d
        FROM (SELECT MAX(0, (new.finished_ms - new.leased_ms) / 1000.0) AS d)
        WHERE new.state = 'done' AND new.leased_ms IS NOT NULL AND new.finished_ms IS NOT NULL
        ON CONFLICT (kind, bucket) DO UPDATE SET n = n + 1, sum = sum + excluded.sum;
END;

-- Counters drawn from events: 'task.retry' and 'task.failed' by task kind;
-- 'lease.lost' (a retry or failure migrd made because a worker died, did
-- not come back or no longer held the lease: reasons that begin "worker "),
-- 'task.stale' and 'worker.dead' with kind ''.  Kept by queue.c, which
-- inserts every event, not by a trigger: a trigger on events cost every
-- insert (one per task) about 2 us even when it counted nothing.
CREATE TABLE event_counts (
    counter TEXT NOT NULL,
    kind    TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (counter, kind)
) WITHOUT ROWID;
INSERT INTO event_counts
    SELECT e.kind, t.kind, COUNT(*) FROM events e JOIN tasks t ON t.id = e.task_id
    WHERE e.kind IN ('task.retry', 'task.failed') GROUP BY e.kind, t.kind;
INSERT INTO event_counts
    SELECT 'lease.lost', '', COUNT(*) FROM events
    WHERE kind IN ('task.retry', 'task.failed') AND detail LIKE 'worker %' HAVING COUNT(*) > 0;
INSERT INTO event_counts
    SELECT kind, '', COUNT(*) FROM events WHERE kind IN ('task.stale', 'worker.dead') GROUP BY kind;
-- Clips of each dataset by state.
CREATE TABLE clip_counts (
    dataset_id INTEGER NOT NULL,
    state      TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, state)
) WITHOUT ROWID;
INSERT INTO clip_counts SELECT dataset_id, state, COUNT(*) FROM clips GROUP BY dataset_id, state;
CREATE TRIGGER clip_counts_insert AFTER INSERT ON clips BEGIN
    INSERT INTO clip_counts VALUES (new.dataset_id, new.state, 1)
        ON CONFLICT (dataset_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER clip_counts_update AFTER UPDATE OF state ON clips WHEN new.state IS NOT old.state BEGIN
    UPDATE clip_counts SET n = n - 1 WHERE dataset_id = old.dataset_id AND state = old.state;
    INSERT INTO clip_counts VALUES (new.dataset_id, new.state, 1)
        ON CONFLICT (dataset_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER clip_counts_delete AFTER DELETE ON clips BEGIN
    UPDATE clip_counts SET n = n - 1 WHERE dataset_id = old.dataset_id AND state = old.state;
END;
