-- Sensor readings, the rules' state per sensor, and every alert transition.

-- Append-only readings, idempotent by (sensor, timestamp). Years of data:
-- the primary key serves per-sensor time ranges; the BRIN index on ts
-- (rows arrive roughly in time order) serves time-range scans across
-- sensors at a few pages per GB.
CREATE TABLE readings (
    sensor_id bigint           NOT NULL, -- feature id in layer sensors
    ts        timestamptz      NOT NULL, -- when the sensor measured
    value     double precision NOT NULL,
    received  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (sensor_id, ts)
) WITH (fillfactor = 100, autovacuum_vacuum_insert_scale_factor = 0.05);
CREATE INDEX readings_ts_brin ON readings USING brin (ts) WITH (pages_per_range = 32);

-- The rules' state per sensor: the confirmed level (0 normal, 1 warning,
-- 2 alarm), since when the reading has been above each threshold (for the
-- minimum duration), the last reading evaluated (readings at or before
-- last_ts are history: stored, not re-evaluated), when the sensor was last
-- heard from, and whether it is offline. Rows are locked while evaluated.
CREATE TABLE sensor_state (
    sensor_id   bigint      PRIMARY KEY,
    level       smallint    NOT NULL DEFAULT 0,
    warn_since  timestamptz,
    alarm_since timestamptz,
    last_ts     timestamptz,
    last_value  double precision,
    last_seen   timestamptz,
    offline     boolean     NOT NULL DEFAULT false
);

-- Every transition of an alert, who made it and when: raised, escalated,
-- cleared, retriggered by the rules (actor system:rules); acknowledged,
-- dispatched, resolved by operators. state is the alert's state after it.
CREATE TABLE alert_transitions (
    id       bigserial   PRIMARY KEY,
    alert_id bigint      NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    event    text        NOT NULL,
    state    text        NOT NULL CHECK (state IN ('raised', 'acknowledged', 'dispatched', 'resolved')),
    actor    text        NOT NULL,
    note     text
);
CREATE INDEX alert_transitions_alert_idx ON alert_transitions (alert_id, id);

-- At most one open alert per source and condition.
CREATE UNIQUE INDEX features_alerts_open_idx ON features_alerts ((props->>'source'), (props->>'condition'))
    WHERE props->>'state' <> 'resolved';
