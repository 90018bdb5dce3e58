-- Officers' positions as their phones report them: append-only, one row per
-- officer and fix time (a re-sent fix is the same row), sized for years of
-- data with a BRIN index on time. officer_id is the id of the officer's
-- feature in layer `officers`; there is no foreign key, so that deleting an
-- officer keeps the history. `received` is when the server stored the row
-- (positions buffered offline arrive long after `ts`).
CREATE TABLE positions (
    officer_id bigint           NOT NULL,
    ts         timestamptz      NOT NULL,
    lon        double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat        double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    speed      double precision CHECK (speed >= 0),             -- m/s
    bearing    double precision CHECK (bearing BETWEEN 0 AND 360), -- degrees from north
    altitude   double precision,                               -- m
    accuracy   double precision CHECK (accuracy >= 0),          -- m
    battery    double precision CHECK (battery BETWEEN 0 AND 100), -- %
    attrs      jsonb,                                          -- other parameters the device sent
    received   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (officer_id, ts)
);
CREATE INDEX positions_ts_brin ON positions USING brin (ts);
