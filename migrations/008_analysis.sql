-- Planners' analyses (issue 5 parts 4–7): pgRouting for the leak analysis
-- of walled zones (spatial/fences), the stored assignment of grid workers to
-- H3 cells of the management grid, and manual overrides of the red / yellow /
-- green placards (红黄绿三级挂牌) of compounds with their history (grid).
CREATE EXTENSION IF NOT EXISTS pgrouting;

-- The responsible grid worker of a cell (网格员). officer_id is the id of
-- the officer's feature in layer `officers`; no foreign key, as in
-- positions. A cell without a row falls back to the nearest grid worker
-- (grid.AssignWorkers).
CREATE TABLE grid_assignments (
    cell        bigint      PRIMARY KEY,            -- H3 index
    resolution  smallint    NOT NULL CHECK (resolution BETWEEN 0 AND 15),
    officer_id  bigint      NOT NULL CHECK (officer_id > 0),
    assigned_by text        NOT NULL CHECK (assigned_by <> ''),
    assigned_at timestamptz NOT NULL DEFAULT now()
);

-- The current manual override of a compound's placard: who set it, when
-- and why. Clearing deletes the row; every set and clear is kept in
-- placard_override_log.
CREATE TABLE placard_overrides (
    compound_code text        PRIMARY KEY CHECK (compound_code <> ''),
    rating        text        NOT NULL CHECK (rating IN ('red', 'yellow', 'green')),
    reason        text        NOT NULL CHECK (btrim(reason) <> ''),
    set_by        text        NOT NULL CHECK (btrim(set_by) <> ''),
    set_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE placard_override_log (
    seq           bigserial   PRIMARY KEY,
    compound_code text        NOT NULL,
    rating        text        CHECK (rating IN ('red', 'yellow', 'green')), -- NULL: override cleared
    reason        text        NOT NULL,
    by_user       text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX placard_override_log_code_idx ON placard_override_log (compound_code, seq);
