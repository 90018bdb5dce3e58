// Package positions stores the positions that officers' phones report:
// appended in batches to the append-only table `positions` (idempotent by
// officer and fix time), with the officer's last known position kept on
// their feature in layer `officers` and their walked shifts derived as
// simplified lines in layer `tracks`. Features are written only through
// layers.Store, so every marker move reaches the change log and the live
// stream like any other edit.
package positions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// Limits on what a batch may hold.
const (
	MaxBatch      = 10_000          // positions per Append
	MaxFuture     = 5 * time.Minute // clock skew tolerated for a fix time
	MaxAttrs      = 50              // extra attributes per position
	MaxAttrKeyLen = 64
	MaxAttrValLen = 256
)

// Earliest is the earliest fix time accepted: phones without a fix report
// 1970 or GPS-epoch times.
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Position is one fix reported by a phone. Optional values are nil when the
// device did not report them.
type Position struct {
	// Device is the device id the position names (OsmAnd `id`); empty
	// means the sending account's own.
	Device   string
	Time     time.Time
	Lon, Lat float64
	Speed    *float64 // m/s
	Bearing  *float64 // degrees clockwise from north, 0..360
	Altitude *float64 // m
	Accuracy *float64 // m
	Battery  *float64 // %
	Attrs    map[string]any
}

// Errors that Append returns; the web layer maps them to statuses.
var (
	// ErrUnknownDevice: no officer has the device (400: the client must be
	// configured with its account name as the device id).
	ErrUnknownDevice = errors.New("unknown device")
	// ErrNotYours: the position names another account's device (403).
	ErrNotYours = errors.New("the position names another account's device")
	// ErrAmbiguousDevice: several officers name the same device (409).
	ErrAmbiguousDevice = errors.New("several officers have this device")
)

// InvalidError says which position of a batch is refused and why (400).
type InvalidError struct {
	Index   int // position in the batch
	Field   string
	Problem string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("position %d: %s", e.Index, e.Problem)
	}
	return fmt.Sprintf("position %d: %s: %s", e.Index, e.Field, e.Problem)
}

// Service appends positions and keeps officers' markers and tracks.
type Service struct {
	store  *layers.Store
	now    func() time.Time
	alerts Alerts        // the patrol-zone alert; nil: none (geofence.go)
	buffer float64       // geofence hysteresis, m
	dwell  time.Duration // geofence dwell time
}

// New returns the service over store (whose pool holds table positions).
func New(store *layers.Store) *Service {
	return &Service{store: store, now: time.Now, buffer: DefaultGeofenceBuffer, dwell: DefaultGeofenceDwell}
}

// SetClock replaces the clock that bounds future timestamps (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Result says what an Append did.
type Result struct {
	Officer    int64 // the officer's feature id
	Accepted   int   // positions newly stored
	Duplicates int   // positions already stored (same officer and time)
	Moved      bool  // the officer's marker moved to the newest position
}

// Officer is an officer feature found by its device.
type Officer struct {
	ID   int64
	Name string
}

// OfficerOf returns the one officer whose `device` is account.
func (s *Service) OfficerOf(ctx context.Context, account string) (Officer, error) {
	o, _, err := s.officerOf(ctx, account)
	return o, err
}

// officerOf is OfficerOf that also returns the officer's feature
// properties as they were read.
func (s *Service) officerOf(ctx context.Context, account string) (Officer, map[string]any, error) {
	rows, err := s.store.Pool().Query(ctx, `SELECT id, COALESCE(props->>'name', ''), props FROM features
		WHERE layer = 'officers' AND props @> jsonb_build_object('device', $1::text) LIMIT 2`, account)
	if err != nil {
		return Officer{}, nil, err
	}
	type found struct {
		o     Officer
		props []byte
	}
	fs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (found, error) {
		var f found
		return f, r.Scan(&f.o.ID, &f.o.Name, &f.props)
	})
	switch {
	case err != nil:
		return Officer{}, nil, err
	case len(fs) == 0:
		return Officer{}, nil, fmt.Errorf("%w %q: no officer has it as device", ErrUnknownDevice, account)
	case len(fs) > 1:
		return Officer{}, nil, fmt.Errorf("%w %q", ErrAmbiguousDevice, account)
	}
	var props map[string]any
	if err := json.Unmarshal(fs[0].props, &props); err != nil {
		return Officer{}, nil, fmt.Errorf("officer %d: %w", fs[0].o.ID, err)
	}
	return fs[0].o, props, nil
}

// Validate checks a batch as Append would, without the database.
func (s *Service) Validate(ps []Position) error {
	if len(ps) == 0 {
		return &InvalidError{Index: 0, Problem: "no positions"}
	}
	if len(ps) > MaxBatch {
		return &InvalidError{Index: MaxBatch, Problem: fmt.Sprintf("batch of %d positions, at most %d", len(ps), MaxBatch)}
	}
	latest := s.now().Add(MaxFuture)
	for i := range ps {
		if err := check(&ps[i], latest); err != nil {
			err.Index = i
			return err
		}
	}
	return nil
}

func check(p *Position, latest time.Time) *InvalidError {
	bad := func(field, format string, args ...any) *InvalidError {
		return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case p.Time.IsZero():
		return bad("time", "missing")
	case p.Time.Before(Earliest):
		return bad("time", "%s is before %s", p.Time.UTC().Format(time.RFC3339), Earliest.Format("2006"))
	case p.Time.After(latest):
		return bad("time", "%s is more than %s in the future", p.Time.UTC().Format(time.RFC3339), MaxFuture)
	}
	if !finite(p.Lon) || p.Lon < -180 || p.Lon > 180 {
		return bad("lon", "%v outside -180..180", p.Lon)
	}
	if !finite(p.Lat) || p.Lat < -90 || p.Lat > 90 {
		return bad("lat", "%v outside -90..90", p.Lat)
	}
	if p.Lon == 0 && p.Lat == 0 {
		return bad("lat", "0,0 is no position (a phone without a fix)")
	}
	for _, v := range []struct {
		name     string
		v        *float64
		min, max float64
	}{
		{"speed", p.Speed, 0, 1000},
		{"bearing", p.Bearing, 0, 360},
		{"altitude", p.Altitude, -1000, 100_000},
		{"accuracy", p.Accuracy, 0, math.MaxFloat64},
		{"battery", p.Battery, 0, 100},
	} {
		if v.v == nil {
			continue
		}
		if !finite(*v.v) || *v.v < v.min || *v.v > v.max {
			return bad(v.name, "%v outside %g..%g", *v.v, v.min, v.max)
		}
	}
	if len(p.Attrs) > MaxAttrs {
		return bad("attributes", "%d attributes, at most %d", len(p.Attrs), MaxAttrs)
	}
	for k, v := range p.Attrs {
		if len(k) == 0 || len(k) > MaxAttrKeyLen {
			return bad("attributes", "name %.70q: 1 to %d bytes", k, MaxAttrKeyLen)
		}
		switch v := v.(type) {
		case string:
			if len(v) > MaxAttrValLen {
				return bad("attributes", "%s: longer than %d bytes", k, MaxAttrValLen)
			}
		case float64:
			if !finite(v) {
				return bad("attributes", "%s: not a finite number", k)
			}
		case bool, nil, int, int64:
		default:
			return bad("attributes", "%s: want a string, number or boolean, got %T", k, v)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Append stores the positions that account (a device or officer user
// name) reports. The account must be the `device` of exactly one officer;
// a position naming another device is refused with ErrNotYours. The batch
// is validated whole (an error names the first bad position and nothing
// is stored), then appended in one transaction, positions already stored
// counted as duplicates. When the newest position is newer than the
// officer's marker (its fix_time), the marker moves there through the
// store, once per batch: positions uploaded late never move it backwards.
func (s *Service) Append(ctx context.Context, account string, ps []Position) (Result, error) {
	for i, p := range ps {
		if p.Device != "" && p.Device != account {
			return Result{}, s.foreign(ctx, i, p.Device)
		}
	}
	off, props, err := s.officerOf(ctx, account)
	if err != nil {
		return Result{}, err
	}
	if err := s.Validate(ps); err != nil {
		return Result{}, err
	}
	res := Result{Officer: off.ID}
	var fences patrolState
	var fenceErr error
	patrol, _ := props["patrol_zone"].(string) // not a string: the probe finds it changed
	res.Accepted, fences, fenceErr, err = s.insert(ctx, off.ID, patrol, ps)
	if err != nil {
		return Result{}, err
	}
	res.Duplicates = len(ps) - res.Accepted
	newest := 0
	for i := range ps {
		if ps[i].Time.After(ps[newest].Time) {
			newest = i
		}
	}
	res.Moved, err = s.moveMarker(layers.WithActor(ctx, layers.Actor{User: account}), off.ID, props, ps[newest])
	if err != nil {
		return res, fmt.Errorf("positions stored; moving the marker: %w", err)
	}
	if fenceErr != nil {
		return res, fmt.Errorf("positions stored; geofences (evaluated again with the next batch): %w", fenceErr)
	}
	if err := s.syncPatrolAlert(context.WithoutCancel(ctx), off.ID, fences); err != nil {
		return res, fmt.Errorf("positions stored; patrol-zone alert (made with the next batch): %w", err)
	}
	return res, nil
}

// foreign explains why a position naming device is refused: another
// officer's device is not the caller's (ErrNotYours); a device that no
// officer has is unknown.
func (s *Service) foreign(ctx context.Context, index int, device string) error {
	if _, err := s.OfficerOf(ctx, device); errors.Is(err, ErrUnknownDevice) {
		return fmt.Errorf("position %d: %w %q: no officer has it as device", index, ErrUnknownDevice, device)
	}
	return fmt.Errorf("position %d names device %q: %w", index, device, ErrNotYours)
}

// insert appends the batch in one transaction and returns how many rows
// were new. It holds the officer's advisory lock (the only writer of the
// officer's positions takes it), so when the batch repeats no fix time and
// no stored position of the officer falls in its time range, it is copied
// straight into positions; otherwise it goes through a temporary table and
// one INSERT … ON CONFLICT DO NOTHING. The geofences evaluate the new
// positions in the same transaction, in a savepoint: when they fail
// (fenceErr), the positions are stored all the same and evaluated with the
// officer's next batch. A batch copied straight is probed with the
// duplicate check, in the same round trip: when no fix of it can change a
// geofence state, the evaluation is quiet (quietFence). patrol is the
// officer's patrol_zone as read with the officer, for the probe.
func (s *Service) insert(ctx context.Context, officer int64, patrol string, ps []Position) (_ int, fences patrolState, fenceErr error, _ error) {
	first := ps[0].Time
	for _, p := range ps {
		if p.Time.Before(first) {
			first = p.Time
		}
	}
	direct := distinctTimes(ps)
	for {
		n, fences, fenceErr, err := s.insertTx(ctx, officer, patrol, ps, first, direct)
		var pe *pgconn.PgError
		if direct && errors.As(err, &pe) && pe.Code == "23505" {
			direct = false // not expected under the lock; the safe way
			continue
		}
		return n, fences, fenceErr, err
	}
}

func (s *Service) insertTx(ctx context.Context, officer int64, patrol string, ps []Position, first time.Time, direct bool) (_ int, fences patrolState, fenceErr error, _ error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.store.Pool(), func(tx pgx.Tx) error {
		var probe *fenceProbe // nil: evaluate in full
		if direct {
			last := ps[0].Time
			for _, p := range ps {
				if p.Time.After(last) {
					last = p.Time
				}
			}
			// One round trip: the check's and the probe's snapshots are
			// taken after the lock is held.
			b := &pgx.Batch{}
			b.Queue(`SELECT pg_advisory_xact_lock($1)`, lockKey(officer))
			b.Queue(`SELECT EXISTS (SELECT 1 FROM positions WHERE officer_id = $1 AND ts BETWEEN $2 AND $3)`, officer, first, last)
			s.queueProbe(b, officer, patrol, first, ps)
			br := tx.SendBatch(ctx, b)
			_, err := br.Exec()
			if err == nil {
				var overlap bool
				if err = br.QueryRow().Scan(&overlap); err == nil {
					direct = !overlap
					probe, err = readProbe(br)
				}
			}
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(officer)); err != nil {
			return err
		}
		if direct {
			var err error
			if n, err = tx.CopyFrom(ctx, pgx.Identifier{"positions"}, copyCols, rowsOf(officer, ps)); err != nil {
				return fmt.Errorf("copying positions: %w", err)
			}
		} else {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS positions_in (
				officer_id bigint, ts timestamptz, lon double precision, lat double precision,
				speed double precision, bearing double precision, altitude double precision,
				accuracy double precision, battery double precision, attrs jsonb) ON COMMIT DELETE ROWS`); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"positions_in"}, copyCols, rowsOf(officer, ps)); err != nil {
				return fmt.Errorf("copying positions: %w", err)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO positions (officer_id, ts, lon, lat, speed, bearing, altitude, accuracy, battery, attrs)
				SELECT officer_id, ts, lon, lat, speed, bearing, altitude, accuracy, battery, attrs FROM positions_in
				ON CONFLICT (officer_id, ts) DO NOTHING`)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		}
		if direct && probe != nil && !probe.live {
			fences, fenceErr = s.quietFence(ctx, tx, officer, probe, ps)
		} else {
			fences, fenceErr = s.geofence(ctx, tx, officer, first)
		}
		if fenceErr != nil {
			_, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT geofence`)
			return err
		}
		return nil
	})
	return int(n), fences, fenceErr, err
}

// distinctTimes says whether no two positions have the same fix time as
// stored (to the microsecond).
func distinctTimes(ps []Position) bool {
	us := make([]int64, len(ps))
	for i := range ps {
		us[i] = ps[i].Time.UnixMicro()
	}
	slices.Sort(us)
	for i := 1; i < len(us); i++ {
		if us[i] == us[i-1] {
			return false
		}
	}
	return true
}

var copyCols = []string{"officer_id", "ts", "lon", "lat", "speed", "bearing", "altitude", "accuracy", "battery", "attrs"}

// rowsOf feeds CopyFrom the batch as rows of copyCols without allocating
// per row: one row is reused and holds pointers into ps (pgx encodes a row
// before it asks for the next).
func rowsOf(officer int64, ps []Position) pgx.CopyFromSource {
	row := make([]any, len(copyCols))
	row[0] = officer
	return pgx.CopyFromSlice(len(ps), func(i int) ([]any, error) {
		p := &ps[i]
		row[1], row[2], row[3] = &p.Time, &p.Lon, &p.Lat
		row[4], row[5], row[6], row[7], row[8] = p.Speed, p.Bearing, p.Altitude, p.Accuracy, p.Battery
		row[9] = nil
		if len(p.Attrs) > 0 {
			row[9] = p.Attrs
		}
		return row, nil
	})
}

// markerAttempts bounds the compare-and-swap of moveMarker against
// concurrent writes of the officer's feature.
const markerAttempts = 8

// errStale: the officer's feature changed between reading and writing it.
var errStale = errors.New("officer's feature changed concurrently")

// moveMarker moves the officer's feature to p unless its fix_time is as
// new or newer. It decides on the feature's properties props (as read
// before the batch was stored), writes the feature back through the store
// provided that they are still the same (a compare-and-swap in the
// write's transaction, under the feature's row lock), and else reads the
// feature again and starts over. So concurrent batches (across nodes too)
// serialise on the feature: an older batch cannot overwrite a newer one,
// and no write in between is lost.
func (s *Service) moveMarker(ctx context.Context, officer int64, props map[string]any, p Position) (bool, error) {
	for range markerAttempts {
		if props == nil {
			f, err := s.store.Get(ctx, "officers", officer)
			if err != nil {
				return false, err
			}
			props = f.Props
		}
		if ft, ok := props["fix_time"].(string); ok {
			if t, err := time.Parse(time.RFC3339, ft); err == nil && !p.Time.After(t) {
				return false, nil
			}
		}
		f := layers.Feature{Layer: "officers", ID: officer, Geometry: orb.Point{p.Lon, p.Lat}, Props: maps.Clone(props)}
		if f.Props == nil {
			f.Props = map[string]any{}
		}
		for k, v := range map[string]any{
			"fix_time": p.Time.UTC().Format(time.RFC3339Nano),
			"speed":    orNil(p.Speed),
			"bearing":  orNil(p.Bearing),
			"accuracy": orNil(p.Accuracy),
		} {
			if v == nil {
				delete(f.Props, k) // a stale speed would mislead
			} else {
				f.Props[k] = v
			}
		}
		if p.Battery != nil {
			f.Props["battery"] = *p.Battery // an older level says more than none
		}
		_, err := s.store.Replace(layers.WithTxHook(ctx, unchanged(props)), f)
		if errors.Is(err, errStale) {
			props = nil
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("officer %d: still changing after %d attempts", officer, markerAttempts)
}

// unchanged is the hook of a compare-and-swap write: it refuses with
// errStale when the feature's properties are no longer orig.
func unchanged(orig map[string]any) layers.TxHook {
	return func(_ context.Context, _ pgx.Tx, _ layers.Op, _ *layers.Feature, before json.RawMessage) error {
		var b struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(before, &b); err != nil {
			return err
		}
		if !reflect.DeepEqual(b.Properties, orig) {
			return errStale
		}
		return nil
	}
}

func orNil(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func lockKey(officer int64) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "hexward officer position %d", officer)
	return int64(h.Sum64())
}
