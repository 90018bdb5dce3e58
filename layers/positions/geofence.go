package positions

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Geofences. Every polygon of the layers in GeofenceLayers is a zone.
// Append evaluates the officer's new positions against the zones, in fix
// time order, in the transaction that stores them, keeping per officer and
// zone a state row (table geofence_state: inside or outside, since which
// fix, whether the dwell event of this stay was emitted) and appending
// events to table geofence_events:
//
//   - enter: the fix is at least r metres inside the zone's boundary,
//     where r = max(buffer, the fix's accuracy) (the buffer defaults to
//     15 m); exit: at least r metres outside. Between the two the state
//     holds, so GPS jitter along a boundary raises nothing, and a fix less
//     accurate than the buffer can only change the state by more than its
//     own error. Distances are geodesic (PostGIS geography).
//   - dwell_inside / dwell_outside: the state has held for the dwell time
//     (default 10 min) at a fix; once per stay.
//
// A state row is made when an officer first enters a zone (and for the
// officer's patrol zone, on whichever side the officer is first found), so
// dwell_outside is about zones the officer has left, not every zone of the
// district. Fixes at or before the newest fix already evaluated
// (geofence_cursor) arrived late: they are stored but change no state.
//
// An officer whose patrol_zone (the code of a zone) is set and who has
// been outside it for the dwell time has the alert of condition
// outside_patrol_zone raised (source "officer:<id>", severity minor, at
// the fix) through the Alerts given to SetAlerts; being inside again clears
// it. The alert follows the stored state after every batch, so an alert
// write that failed is made by the officer's next batch.

// GeofenceLayers are the layers whose polygons are geofences, in the order
// a patrol_zone code is looked up.
var GeofenceLayers = []string{"village_zones", "compounds"}

// Geofence defaults.
const (
	DefaultGeofenceBuffer = 15.0             // metres
	DefaultGeofenceDwell  = 10 * time.Minute // dwell events and the patrol-zone alert
)

// Geofence events.
const (
	EventEnter        = "enter"
	EventExit         = "exit"
	EventDwellInside  = "dwell_inside"
	EventDwellOutside = "dwell_outside"
)

// CondOutsidePatrolZone is the condition of the alert of an officer
// outside their patrol zone for longer than the dwell time.
const CondOutsidePatrolZone = "outside_patrol_zone"

// Alerts raises and clears alerts of other sources than sensors; the
// readings Ingester implements it (readings.Ingester.RaiseFor, ClearFor).
type Alerts interface {
	RaiseFor(ctx context.Context, source, condition, severity, title string, at orb.Point, raisedAt time.Time) error
	ClearFor(ctx context.Context, source, condition string) error
}

// SetAlerts makes Append raise and clear the patrol-zone alert through a
// (nil: no alert). It returns s.
func (s *Service) SetAlerts(a Alerts) *Service {
	if v := reflect.ValueOf(a); a == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
		a = nil // a nil *readings.Ingester is no Alerts
	}
	s.alerts = a
	return s
}

// SetGeofence sets the hysteresis buffer (metres, >= 0) and the dwell time
// (> 0). A bad value is refused and changes nothing.
func (s *Service) SetGeofence(buffer float64, dwell time.Duration) error {
	if !finite(buffer) || buffer < 0 || buffer > 10_000 {
		return fmt.Errorf("geofence buffer %v m: want 0 to 10000", buffer)
	}
	if dwell <= 0 {
		return fmt.Errorf("geofence dwell time %s: want more than 0", dwell)
	}
	s.buffer, s.dwell = buffer, dwell
	return nil
}

// GeofenceEvent is one stored geofence event.
type GeofenceEvent struct {
	Officer   int64     `json:"officer"`
	ZoneLayer string    `json:"zone_layer"`
	ZoneID    int64     `json:"zone_id"`
	ZoneCode  string    `json:"zone_code"`
	Event     string    `json:"event"`
	At        time.Time `json:"at"` // the fix's time
	Lon       float64   `json:"lon"`
	Lat       float64   `json:"lat"`
}

// GeofenceEvents returns the officer's events with fix times in [from,
// to), oldest first, at most limit (1..10000).
func (s *Service) GeofenceEvents(ctx context.Context, officer int64, from, to time.Time, limit int) ([]GeofenceEvent, error) {
	if limit < 1 || limit > 10_000 {
		return nil, fmt.Errorf("geofence events: limit %d outside 1..10000", limit)
	}
	rows, err := s.store.Pool().Query(ctx, `SELECT officer_id, zone_layer, zone_id, zone_code, event, at, lon, lat
		FROM geofence_events WHERE officer_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id LIMIT $4`, officer, from, to, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GeofenceEvent, error) {
		var e GeofenceEvent
		return e, r.Scan(&e.Officer, &e.ZoneLayer, &e.ZoneID, &e.ZoneCode, &e.Event, &e.At, &e.Lon, &e.Lat)
	})
}

type zoneKey struct {
	layer string
	id    int64
}

func (a zoneKey) compare(b zoneKey) int {
	return cmp.Or(cmp.Compare(a.layer, b.layer), cmp.Compare(a.id, b.id))
}

type fence struct {
	code      string
	inside    bool
	since     time.Time
	dwellDone bool
}

type fix struct {
	ts       time.Time
	lon, lat float64
	r        float64            // the hysteresis distance of this fix
	near     map[zoneKey]nearby // zones within r (distance > r: outside)
}

type nearby struct {
	code string
	d    float64 // signed distance to the boundary, m: negative inside
}

// patrolState is what the geofences say about the officer's patrol zone
// after a batch, for its alert.
type patrolState struct {
	evaluated bool      // some fix was evaluated
	officer   string    // the officer's name
	code      string    // patrol_zone, "" when unset or no zone has it
	outside   bool      // outside for the dwell time
	since     time.Time // outside since
	at        orb.Point // the newest fix evaluated
}

// geofence evaluates the officer's positions stored after the newest
// evaluated fix (or, for an officer never evaluated, from first on) in
// tx, which holds the officer's advisory lock, and stores states and
// events in it. It opens the savepoint geofence first: on an error the
// caller rolls back to it.
func (s *Service) geofence(ctx context.Context, tx pgx.Tx, officer int64, first time.Time) (patrolState, error) {
	var ps patrolState
	// One round trip: the officer and their patrol zone, the states (zones
	// deleted, or no longer geofences, have none) and the fixes.
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT geofence`)
	b.Queue(officerSQL, officer, GeofenceLayers)
	b.Queue(staleSQL, officer, GeofenceLayers)
	b.Queue(statesSQL, officer)
	b.Queue(fixesSQL, officer, first.Add(-time.Microsecond), s.buffer, GeofenceLayers)
	br := tx.SendBatch(ctx, b)
	var patrol zoneKey
	var states map[zoneKey]*fence
	fixes, err := func() ([]fix, error) {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		var err error
		if patrol, err = scanOfficer(br, officer, &ps); err != nil {
			return nil, err
		}
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		if states, err = scanStates(br); err != nil {
			return nil, err
		}
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		return scanFixes(rows)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(fixes) == 0 {
		ps.patrolFrom(states[patrol])
		return ps, err
	}
	var evs []GeofenceEvent
	emit := func(k zoneKey, code, event string, fx *fix) {
		evs = append(evs, GeofenceEvent{Officer: officer, ZoneLayer: k.layer, ZoneID: k.id, ZoneCode: code, Event: event, At: fx.ts, Lon: fx.lon, Lat: fx.lat})
	}
	keys := make([]zoneKey, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	for i := range fixes {
		fx := &fixes[i]
		slices.SortFunc(keys, zoneKey.compare)
		for _, k := range keys {
			st := states[k]
			d := math.Inf(1)
			if n, ok := fx.near[k]; ok {
				d, st.code = n.d, n.code
			}
			switch {
			case st.inside && d >= fx.r:
				st.inside, st.since, st.dwellDone = false, fx.ts, false
				emit(k, st.code, EventExit, fx)
			case !st.inside && d <= -fx.r:
				st.inside, st.since, st.dwellDone = true, fx.ts, false
				emit(k, st.code, EventEnter, fx)
			case !st.dwellDone && fx.ts.Sub(st.since) >= s.dwell:
				st.dwellDone = true
				emit(k, st.code, map[bool]string{true: EventDwellInside, false: EventDwellOutside}[st.inside], fx)
			}
		}
		// Zones this officer has no state at yet: entered when decisively
		// inside; the patrol zone is also tracked from decisively outside.
		var added []zoneKey
		for k, n := range fx.near {
			if _, ok := states[k]; !ok && n.d <= -fx.r {
				added = append(added, k)
			}
		}
		slices.SortFunc(added, zoneKey.compare)
		for _, k := range added {
			states[k] = &fence{code: fx.near[k].code, inside: true, since: fx.ts}
			keys = append(keys, k)
			emit(k, fx.near[k].code, EventEnter, fx)
		}
		if _, ok := states[patrol]; ps.code != "" && !ok {
			if n, near := fx.near[patrol]; !near || n.d >= fx.r {
				states[patrol] = &fence{code: ps.code, inside: false, since: fx.ts}
				keys = append(keys, patrol)
			}
		}
	}
	last := fixes[len(fixes)-1]
	if err := saveFences(ctx, tx, officer, states, last.ts, evs); err != nil {
		return ps, err
	}
	ps.evaluated, ps.at = true, orb.Point{last.lon, last.lat}
	ps.patrolFrom(states[patrol])
	return ps, nil
}

// fenceProbe is what probeSQL read before a batch was copied, under the
// officer's lock.
type fenceProbe struct {
	after  time.Time // the fixes after it are evaluated
	states bool      // the officer has geofence states
	live   bool      // evaluating may change a state: evaluate in full
}

// probeSQL looks, before a batch is copied, at what evaluating it will
// find: the officer's ($1) evaluation cursor (or, for an officer never
// evaluated, $2), whether the officer has states, and whether evaluating
// may change any (live). It is not live when no stored position is after
// the cursor (as an evaluation that failed leaves), no zone of layers $3
// is near the batch (its extent $4..$7 widened by its largest margin $8,
// as fixesSQL finds the zones near the fixes), every state of the officer
// is outside with its dwell event emitted (a fix near no zone changes no
// such state), and the officer's patrol_zone is still $9 (as the caller
// read it; "": none) and no zone that has it as code lacks a state (else a
// fix away from it makes one). Then evaluating reads the batch only, and
// no fix of it changes a thing.
const probeSQL = `WITH c AS MATERIALIZED (
		SELECT COALESCE((SELECT last_fix FROM geofence_cursor WHERE officer_id = $1), $2) AS after)
	SELECT c.after, EXISTS (SELECT 1 FROM geofence_state WHERE officer_id = $1),
		EXISTS (SELECT 1 FROM positions WHERE officer_id = $1 AND ts > c.after)
		OR EXISTS (SELECT 1 FROM features f WHERE f.layer = ANY($3)
			AND f.geom3857 && ST_Expand(ST_Transform(ST_MakeEnvelope($4, $5, $6, $7, 4326), 3857), $8))
		OR EXISTS (SELECT 1 FROM geofence_state WHERE officer_id = $1 AND (inside OR NOT dwell_done))
		OR (SELECT COALESCE(props->>'patrol_zone', '') FROM features WHERE layer = 'officers' AND id = $1) IS DISTINCT FROM $9
		OR ($9 <> '' AND EXISTS (SELECT 1 FROM features f WHERE f.layer = ANY($3) AND f.props->>'code' = $9
			AND NOT EXISTS (SELECT 1 FROM geofence_state s WHERE s.officer_id = $1 AND s.zone_layer = f.layer AND s.zone_id = f.id)))
	FROM c`

// queueProbe queues probeSQL for the batch ps of the officer whose
// patrol_zone was patrol. The probe only reads, as the duplicate check
// beside it does: an error in it fails the batch as theirs would.
func (s *Service) queueProbe(b *pgx.Batch, officer int64, patrol string, first time.Time, ps []Position) {
	lo, hi := orb.Point{ps[0].Lon, ps[0].Lat}, orb.Point{ps[0].Lon, ps[0].Lat}
	margin := 0.0
	for _, p := range ps {
		lo = orb.Point{min(lo[0], p.Lon), min(lo[1], p.Lat)}
		hi = orb.Point{max(hi[0], p.Lon), max(hi[1], p.Lat)}
		r := s.buffer
		if p.Accuracy != nil {
			r = max(r, *p.Accuracy)
		}
		// fixesSQL's margin and a metre more against rounding: a wider
		// extent can only make the probe live.
		margin = max(margin, r*1.05/math.Cos(p.Lat*math.Pi/180)+2)
	}
	b.Queue(probeSQL, officer, first.Add(-time.Microsecond), GeofenceLayers, lo[0], lo[1], hi[0], hi[1], margin, patrol)
}

// readProbe reads what queueProbe queued.
func readProbe(br pgx.BatchResults) (*fenceProbe, error) {
	var p fenceProbe
	if err := br.QueryRow().Scan(&p.after, &p.states, &p.live); err != nil {
		return nil, fmt.Errorf("geofence probe: %w", err)
	}
	return &p, nil
}

// quietFence is geofence for a batch ps that was copied whole after probe
// p found it not live: evaluating it changes no state and raises no
// event, so it only deletes the stale states and moves the states'
// last_fix and the cursor to the newest fix after p.after, as geofence
// would. It reads the officer and the states only for the patrol-zone
// alert.
func (s *Service) quietFence(ctx context.Context, tx pgx.Tx, officer int64, p *fenceProbe, ps []Position) (patrolState, error) {
	var out patrolState
	var last *fix // the newest fix evaluated
	for i := range ps {
		us := ps[i].Time.UnixMicro() // as stored
		if us > p.after.UnixMicro() && (last == nil || us > last.ts.UnixMicro()) {
			last = &fix{ts: time.UnixMicro(us), lon: ps[i].Lon, lat: ps[i].Lat}
		}
	}
	read := last != nil && s.alerts != nil
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT geofence`)
	if read {
		b.Queue(officerSQL, officer, GeofenceLayers)
	}
	if p.states {
		b.Queue(staleSQL, officer, GeofenceLayers)
	}
	if read {
		b.Queue(statesSQL, officer)
	}
	if last != nil {
		if p.states {
			b.Queue(`UPDATE geofence_state SET last_fix = $2 WHERE officer_id = $1`, officer, last.ts)
		}
		b.Queue(cursorSQL, officer, last.ts)
	}
	br := tx.SendBatch(ctx, b)
	var patrol zoneKey
	var states map[zoneKey]*fence
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var err error
		if read {
			if patrol, err = scanOfficer(br, officer, &out); err != nil {
				return err
			}
		}
		if p.states {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if read {
			if states, err = scanStates(br); err != nil {
				return err
			}
		}
		if last == nil {
			return nil
		}
		if p.states {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("geofence state: %w", err)
			}
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("geofence cursor: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || last == nil {
		return out, err
	}
	out.evaluated, out.at = true, orb.Point{last.lon, last.lat}
	out.patrolFrom(states[patrol])
	return out, nil
}

func (ps *patrolState) patrolFrom(st *fence) {
	if ps.code != "" && st != nil && !st.inside && st.dwellDone {
		ps.outside, ps.since = true, st.since
	}
}

// Statements that the full evaluation (geofence) and the quiet one
// (quietFence) share.
const (
	// officerSQL reads the officer's ($1) name, patrol_zone and the zone
	// (of layers $2, the first in their order) that has it as code.
	officerSQL = `SELECT COALESCE(o.props->>'name', ''), COALESCE(o.props->>'patrol_zone', ''), z.layer, z.id
		FROM features o LEFT JOIN LATERAL (
			SELECT f.layer, f.id FROM features f
			WHERE f.layer = ANY($2) AND o.props->>'patrol_zone' <> '' AND f.props->>'code' = o.props->>'patrol_zone'
			ORDER BY array_position($2, f.layer), f.id LIMIT 1) z ON true
		WHERE o.layer = 'officers' AND o.id = $1`
	// staleSQL deletes the officer's ($1) states of zones deleted or of
	// layers no longer geofences ($2). The subquery names the layers too,
	// so that it is planned over their partitions only.
	staleSQL = `DELETE FROM geofence_state s WHERE officer_id = $1 AND (NOT zone_layer = ANY($2)
		OR NOT EXISTS (SELECT 1 FROM features f WHERE f.layer = ANY($2) AND f.layer = s.zone_layer AND f.id = s.zone_id))`
	statesSQL = `SELECT zone_layer, zone_id, zone_code, inside, since, dwell_done FROM geofence_state WHERE officer_id = $1`
	cursorSQL = `INSERT INTO geofence_cursor (officer_id, last_fix) VALUES ($1, $2)
		ON CONFLICT (officer_id) DO UPDATE SET last_fix = EXCLUDED.last_fix`
)

// scanOfficer reads the row of officerSQL into ps and returns the patrol
// zone (zero when none).
func scanOfficer(br pgx.BatchResults, officer int64, ps *patrolState) (zoneKey, error) {
	var patrolCode string
	var zLayer *string
	var zID *int64
	if err := br.QueryRow().Scan(&ps.officer, &patrolCode, &zLayer, &zID); err != nil {
		return zoneKey{}, fmt.Errorf("officer %d: %w", officer, err)
	}
	if zLayer == nil || zID == nil {
		return zoneKey{}, nil
	}
	ps.code = patrolCode
	return zoneKey{*zLayer, *zID}, nil
}

// scanStates reads the rows of statesSQL.
func scanStates(br pgx.BatchResults) (map[zoneKey]*fence, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	states := map[zoneKey]*fence{}
	var k zoneKey
	var f fence
	_, err = pgx.ForEachRow(rows, []any{&k.layer, &k.id, &f.code, &f.inside, &f.since, &f.dwellDone}, func() error {
		st := f
		states[k] = &st
		return nil
	})
	return states, err
}

// fixesSQL reads the officer ($1) positions after the newest fix
// evaluated (or, for an officer never evaluated, after $2), in time order,
// each with the zones (of layers $4) within its hysteresis distance (r,
// at least $3) and their signed distances. The zones near any fix of the
// batch are found once, by the index on the stored EPSG:3857 copy (a
// mercator metre is cos(lat) ground metres; the margin covers the
// ellipsoid), then matched to each fix; the geodesic distance decides.
const fixesSQL = `WITH fx AS MATERIALIZED (
		SELECT ts, lon, lat, r, p, ST_Transform(p, 3857) AS p3857, r * 1.05 / cos(radians(lat)) + 1 AS m
		FROM (SELECT ts, lon, lat, GREATEST($3::float8, COALESCE(accuracy, 0)) AS r,
				ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS p
			FROM positions WHERE officer_id = $1
				AND ts > COALESCE((SELECT last_fix FROM geofence_cursor WHERE officer_id = $1), $2)) q),
	ext AS (SELECT ST_SetSRID(ST_Expand(ST_Extent(p3857), max(m))::geometry, 3857) AS b FROM fx),
	z AS MATERIALIZED (
		SELECT f.layer, f.id, COALESCE(f.props->>'code', '') AS code, f.geom, f.geom3857
		FROM features f, ext WHERE f.layer = ANY($4) AND f.geom3857 && ext.b)
	SELECT fx.ts, fx.lon, fx.lat, fx.r, z.layer, z.id, z.code,
		CASE WHEN ST_Intersects(z.geom, fx.p) THEN -1 ELSE 1 END
			* ST_Distance(ST_Boundary(z.geom)::geography, fx.p::geography) AS d
	FROM fx LEFT JOIN z ON ST_DWithin(z.geom3857, fx.p3857, fx.m)
	ORDER BY fx.ts`

// scanFixes reads the rows of fixesSQL: a fix per time with its zones.
func scanFixes(rows pgx.Rows) ([]fix, error) {
	var out []fix
	var (
		ts          time.Time
		lon, lat, r float64
		layer, code *string
		id          *int64
		d           *float64
	)
	_, err := pgx.ForEachRow(rows, []any{&ts, &lon, &lat, &r, &layer, &id, &code, &d}, func() error {
		if len(out) == 0 || !out[len(out)-1].ts.Equal(ts) {
			out = append(out, fix{ts: ts, lon: lon, lat: lat, r: r})
		}
		if layer != nil && d != nil {
			if out[len(out)-1].near == nil {
				out[len(out)-1].near = map[zoneKey]nearby{}
			}
			out[len(out)-1].near[zoneKey{*layer, *id}] = nearby{code: *code, d: *d}
		}
		return nil
	})
	return out, err
}

func saveFences(ctx context.Context, tx pgx.Tx, officer int64, states map[zoneKey]*fence, last time.Time, evs []GeofenceEvent) error {
	n := len(states)
	layers, ids, codes := make([]string, 0, n), make([]int64, 0, n), make([]string, 0, n)
	inside, since, dwell := make([]bool, 0, n), make([]time.Time, 0, n), make([]bool, 0, n)
	for k, st := range states {
		layers, ids, codes = append(layers, k.layer), append(ids, k.id), append(codes, st.code)
		inside, since, dwell = append(inside, st.inside), append(since, st.since), append(dwell, st.dwellDone)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO geofence_state AS s (officer_id, zone_layer, zone_id, zone_code, inside, since, dwell_done, last_fix)
		SELECT $1, l, i, c, ins, sn, dw, $8 FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bool[], $6::timestamptz[], $7::bool[]) AS u(l, i, c, ins, sn, dw)
		ON CONFLICT (officer_id, zone_layer, zone_id) DO UPDATE SET zone_code = EXCLUDED.zone_code, inside = EXCLUDED.inside,
			since = EXCLUDED.since, dwell_done = EXCLUDED.dwell_done, last_fix = EXCLUDED.last_fix`,
		officer, layers, ids, codes, inside, since, dwell, last)
	if len(evs) > 0 {
		zl, zi, zc, ev := make([]string, len(evs)), make([]int64, len(evs)), make([]string, len(evs)), make([]string, len(evs))
		at, lon, lat := make([]time.Time, len(evs)), make([]float64, len(evs)), make([]float64, len(evs))
		for i, e := range evs {
			zl[i], zi[i], zc[i], ev[i], at[i], lon[i], lat[i] = e.ZoneLayer, e.ZoneID, e.ZoneCode, e.Event, e.At, e.Lon, e.Lat
		}
		// WITH ORDINALITY: the ids follow the events' order.
		b.Queue(`INSERT INTO geofence_events (officer_id, zone_layer, zone_id, zone_code, event, at, lon, lat)
			SELECT $1, l, i, c, e, a, x, y FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::float8[], $8::float8[])
				WITH ORDINALITY AS u(l, i, c, e, a, x, y, n) ORDER BY n`,
			officer, zl, zi, zc, ev, at, lon, lat)
	}
	b.Queue(cursorSQL, officer, last)
	br := tx.SendBatch(ctx, b)
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			what := map[bool]string{true: "geofence state", false: "geofence events"}[i == 0]
			if i == b.Len()-1 {
				what = "geofence cursor"
			}
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return br.Close()
}

// syncPatrolAlert raises or clears the officer's patrol-zone alert as the
// geofence state says.
func (s *Service) syncPatrolAlert(ctx context.Context, officer int64, ps patrolState) error {
	if s.alerts == nil || !ps.evaluated {
		return nil
	}
	src := fmt.Sprintf("officer:%d", officer)
	if !ps.outside {
		return s.alerts.ClearFor(ctx, src, CondOutsidePatrolZone)
	}
	title := "巡查员离开责任片区 outside patrol zone " + ps.code
	if ps.officer != "" {
		title += " · " + ps.officer
	}
	return s.alerts.RaiseFor(ctx, src, CondOutsidePatrolZone, "minor", title, ps.at, ps.since.Add(s.dwell))
}
