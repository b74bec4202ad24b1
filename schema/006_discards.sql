-- Store objects migrd no longer needs (gradients, rollouts, rewards of a
-- finished step): written in the transaction that stopped needing them and
-- removed from the store after it commits.  A crash in between leaves the
-- rows, and migrd removes those objects when it next starts, so nothing
-- leaks and nothing still needed is ever deleted.
CREATE TABLE discards (
    path TEXT PRIMARY KEY   -- relative to the store
);
