-- Geofences: whether each officer is inside or outside each zone (the
-- polygons of village_zones and compounds), and the events that the
-- officers' positions raise at the zones' boundaries.

-- The state of an officer at a zone, written in the transaction that
-- appends the officer's positions. A row exists once the officer has been
-- decisively inside the zone (at least the hysteresis buffer inside its
-- boundary), or, for the officer's patrol zone, decisively on either side.
-- since is the fix that entered the state; dwell_done says the dwell event
-- of this stay was emitted; last_fix is the last fix that evaluated it.
-- There is no foreign key: deleting a zone or an officer keeps the history.
CREATE TABLE geofence_state (
    officer_id bigint      NOT NULL, -- feature id in layer officers
    zone_layer text        NOT NULL,
    zone_id    bigint      NOT NULL,
    zone_code  text        NOT NULL DEFAULT '',
    inside     boolean     NOT NULL,
    since      timestamptz NOT NULL,
    dwell_done boolean     NOT NULL DEFAULT false,
    last_fix   timestamptz NOT NULL,
    PRIMARY KEY (officer_id, zone_layer, zone_id)
);

-- The newest fix of each officer that the geofences evaluated: positions
-- at or before it arrived late and change no state.
CREATE TABLE geofence_cursor (
    officer_id bigint      PRIMARY KEY,
    last_fix   timestamptz NOT NULL
);

-- Append-only geofence events. at is the fix's time, lon/lat its position.
CREATE TABLE geofence_events (
    id         bigserial        PRIMARY KEY,
    officer_id bigint           NOT NULL,
    zone_layer text             NOT NULL,
    zone_id    bigint           NOT NULL,
    zone_code  text             NOT NULL DEFAULT '',
    event      text             NOT NULL CHECK (event IN ('enter', 'exit', 'dwell_inside', 'dwell_outside')),
    at         timestamptz      NOT NULL,
    lon        double precision NOT NULL,
    lat        double precision NOT NULL,
    recorded   timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX geofence_events_officer_idx ON geofence_events (officer_id, at);
CREATE INDEX geofence_events_zone_idx ON geofence_events (zone_layer, zone_id, at);

-- The escalation check reads the alerts still raised (not acknowledged).
CREATE INDEX features_alerts_raised_idx ON features_alerts (id) WHERE props->>'state' = 'raised';
