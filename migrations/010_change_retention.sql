-- Retention of the change log: layers.Store.PruneChanges deletes the rows
-- older than the retention (serve --changes-retention) in chunks, and each
-- chunk raises the watermark, the highest seq deleted, in its transaction.
-- Below the watermark the log is no longer complete: a client that asks for
-- the changes after an older seq is told to reload (layers.ErrChangesPruned).
CREATE TABLE changes_pruned (
    one boolean     PRIMARY KEY DEFAULT true CHECK (one), -- a single row
    seq bigint      NOT NULL DEFAULT 0,                   -- the watermark; 0: nothing pruned
    at  timestamptz                                       -- when it last rose
);
INSERT INTO changes_pruned DEFAULT VALUES;

-- The prune finds the old rows without reading the whole log. The log is
-- written in time order, so a BRIN index serves, at almost no cost to the
-- writes that append to it.
CREATE INDEX changes_at_idx ON changes USING brin (at);
