-- The lease query takes the oldest queued task whose backoff has passed:
-- WHERE state = 'queued' AND not_before_ms <= now ORDER BY id LIMIT 1.
-- tasks_ready (state, not_before_ms, id) could not give that order under
-- the range on not_before_ms, so SQLite sorted every ready row per lease
-- (20 ms at 200,000 queued tasks).  In (state, id) order the first row whose
-- backoff has passed is the answer, after skipping only the tasks still
-- backing off (few): 0.03 ms at 200,000.
DROP INDEX tasks_ready;
CREATE INDEX tasks_queue ON tasks(state, id);
