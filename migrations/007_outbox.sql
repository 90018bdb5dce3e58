-- Outbound alert hooks and the durable outbox they are delivered from.
--
-- A trigger on alert_transitions writes one outbox row per enabled hook
-- whose min_severity the alert meets, in the transaction that records the
-- transition: the row commits or rolls back with the alert's write, so no
-- transition is lost and none is sent for a rolled-back write. Workers
-- (package outbox) claim due rows with FOR UPDATE SKIP LOCKED, deliver
-- them, and retry with backoff until delivered or dropped.

-- The configured hooks, upserted by name at start; a hook no longer
-- configured is disabled, not deleted, so its history stays.
CREATE TABLE hooks (
    id           serial      PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    kind         text        NOT NULL CHECK (kind IN ('webhook', 'mqtt')),
    target       text        NOT NULL CHECK (target <> ''), -- webhook URL or MQTT topic
    min_severity text        NOT NULL DEFAULT 'warning' CHECK (min_severity IN ('warning', 'minor', 'major', 'critical')),
    enabled      boolean     NOT NULL DEFAULT true,
    created      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    hook_id       int         NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    transition_id bigint      NOT NULL, -- alert_transitions.id
    payload       jsonb       NOT NULL,
    attempts      int         NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(), -- not before: the backoff of a retry
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dropped')),
    last_error    text,
    created       timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    UNIQUE (hook_id, transition_id)
);
CREATE INDEX outbox_due_idx ON outbox (next_at) WHERE status = 'pending';
CREATE INDEX outbox_done_idx ON outbox (coalesce(delivered_at, created)) WHERE status <> 'pending';

-- The rank of an alert severity; unknown ranks as the lowest, so that a
-- hook with the default min_severity gets every transition.
CREATE FUNCTION alert_severity_rank(s text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'critical' THEN 4 WHEN 'major' THEN 3 WHEN 'minor' THEN 2 ELSE 1 END
$$;

CREATE FUNCTION outbox_alert_transition() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    props   jsonb;
    pt      geometry;
    payload jsonb;
    n       int;
BEGIN
    SELECT f.props, ST_PointOnSurface(f.geom) INTO props, pt
        FROM features f WHERE f.layer = 'alerts' AND f.id = NEW.alert_id;
    payload := jsonb_build_object(
        'transition_id', NEW.id,
        'id',            NEW.alert_id,
        'title',         props->>'title',
        'severity',      props->>'severity',
        'state',         NEW.state,
        'condition',     props->>'condition',
        'source',        props->>'source',
        'lon',           ST_X(pt),
        'lat',           ST_Y(pt),
        'event',         NEW.event,
        'actor',         NEW.actor,
        'note',          NEW.note,
        'at',            to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    INSERT INTO outbox (hook_id, transition_id, payload)
        SELECT h.id, NEW.id, payload FROM hooks h
        WHERE h.enabled AND alert_severity_rank(props->>'severity') >= alert_severity_rank(h.min_severity);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('hexward_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_transitions_outbox AFTER INSERT ON alert_transitions
    FOR EACH ROW EXECUTE FUNCTION outbox_alert_transition();
