package positions_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/positions"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	store   *layers.Store
	svc     *positions.Service
	alice   int64 // officer with device "phone-a"
	bob     int64 // officer with device "phone-b"
	changes []layers.Change
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{store: layers.NewStore(pgtest.New(tb), layers.Governance())}
	e.svc = positions.New(e.store)
	e.store.Subscribe(func(cs []layers.Change) { e.changes = append(e.changes, cs...) })
	for _, o := range []struct {
		id           *int64
		name, device string
	}{{&e.alice, "Alice", "phone-a"}, {&e.bob, "Bob", "phone-b"}} {
		f, err := e.store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55},
			Props: map[string]any{"name": o.name, "device": o.device, "duty": "patrol", "battery": 90.0}})
		if err != nil {
			tb.Fatal(err)
		}
		*o.id = f.ID
	}
	return e
}

func (e *env) stored(t *testing.T, officer int64) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM positions WHERE officer_id = $1`, officer).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) marker(t *testing.T, officer int64) layers.Feature {
	t.Helper()
	f, err := e.store.Get(context.Background(), "officers", officer)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func f64(v float64) *float64 { return &v }

var t0 = time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)

// walk returns n fixes from start, one every step, walking east 1 m per
// second along latitude 22.55.
func walk(start time.Time, n int, step time.Duration) []positions.Position {
	ps := make([]positions.Position, n)
	for i := range ps {
		t := start.Add(time.Duration(i) * step)
		ps[i] = positions.Position{Time: t, Lon: 114.12 + float64(i)*step.Seconds()*1e-5, Lat: 22.55,
			Speed: f64(1.2), Bearing: f64(90), Accuracy: f64(5), Battery: f64(80)}
	}
	return ps
}

func TestAppendMovesTheMarkerForwardOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Append(ctx, "phone-a", walk(t0, 10, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Officer != e.alice || res.Accepted != 10 || res.Duplicates != 0 || !res.Moved {
		t.Fatalf("first batch: %+v", res)
	}
	m := e.marker(t, e.alice)
	newest := t0.Add(45 * time.Second)
	if m.Props["fix_time"] != newest.Format(time.RFC3339Nano) || m.Geometry.(orb.Point)[0] != 114.12+45e-5 {
		t.Fatalf("marker %v %v, want at the newest fix %s", m.Geometry, m.Props, newest)
	}
	if m.Props["speed"] != 1.2 || m.Props["bearing"] != 90.0 || m.Props["battery"] != 80.0 || m.Props["name"] != "Alice" {
		t.Fatalf("marker props %v", m.Props)
	}
	nChanges := len(e.changes)

	// An offline phone uploads an older batch later: stored, marker stays.
	res, err = e.svc.Append(ctx, "phone-a", walk(t0.Add(-time.Hour), 20, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 20 || res.Moved {
		t.Fatalf("late batch: %+v", res)
	}
	if got := e.marker(t, e.alice); got.Props["fix_time"] != m.Props["fix_time"] || !orb.Equal(got.Geometry, m.Geometry) {
		t.Fatalf("a late older batch moved the marker to %v %v", got.Geometry, got.Props["fix_time"])
	}
	if len(e.changes) != nChanges {
		t.Fatalf("a late batch wrote the marker: %v", e.changes[nChanges:])
	}
	if n := e.stored(t, e.alice); n != 30 {
		t.Fatalf("%d positions stored, want 30", n)
	}

	// A newer batch moves it once, to its newest fix, even out of order;
	// without a speed, the marker loses its stale speed.
	ps := walk(t0.Add(time.Minute), 5, time.Second)
	ps[2], ps[4] = ps[4], ps[2]
	ps[2].Speed = nil
	if res, err = e.svc.Append(ctx, "phone-a", ps); err != nil || !res.Moved {
		t.Fatalf("%+v %v", res, err)
	}
	if len(e.changes) != nChanges+1 {
		t.Fatalf("one batch, %d marker writes", len(e.changes)-nChanges)
	}
	m = e.marker(t, e.alice)
	if m.Props["fix_time"] != t0.Add(64*time.Second).Format(time.RFC3339Nano) {
		t.Fatalf("marker at %v", m.Props["fix_time"])
	}
	if _, ok := m.Props["speed"]; ok {
		t.Fatalf("stale speed kept: %v", m.Props)
	}
	if e.marker(t, e.bob).Props["fix_time"] != nil {
		t.Fatal("Bob's marker moved")
	}
}

func TestAppendIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := walk(t0, 50, time.Second)
	if _, err := e.svc.Append(ctx, "phone-a", ps); err != nil {
		t.Fatal(err)
	}
	// The same batch again, and a batch overlapping it with a fix repeated
	// inside the batch itself.
	res, err := e.svc.Append(ctx, "phone-a", ps)
	if err != nil || res.Accepted != 0 || res.Duplicates != 50 || res.Moved {
		t.Fatalf("resent batch: %+v %v", res, err)
	}
	more := append(walk(t0.Add(40*time.Second), 20, time.Second), walk(t0.Add(59*time.Second), 1, 0)...)
	res, err = e.svc.Append(ctx, "phone-a", more)
	if err != nil || res.Accepted != 10 || res.Duplicates != 11 {
		t.Fatalf("overlapping batch: %+v %v", res, err)
	}
	if n := e.stored(t, e.alice); n != 60 {
		t.Fatalf("%d stored, want 60", n)
	}
	// The same instant for another officer is another row.
	if res, err := e.svc.Append(ctx, "phone-b", ps[:1]); err != nil || res.Accepted != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}

// A fresh batch repeating a fix time (to the microsecond stored) stores
// it once, as a batch overlapping stored positions does.
func TestAppendDuplicatesWithinAFreshBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := walk(t0, 5, time.Second)
	ps = append(ps, ps[2])
	late := ps[4]
	late.Time = late.Time.Add(500 * time.Nanosecond)
	ps = append(ps, late)
	res, err := e.svc.Append(ctx, "phone-a", ps)
	if err != nil || res.Accepted != 5 || res.Duplicates != 2 || !res.Moved {
		t.Fatalf("%+v %v", res, err)
	}
	if n := e.stored(t, e.alice); n != 5 {
		t.Fatalf("%d stored, want 5", n)
	}
}

func TestAppendStoresWhatWasSent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := positions.Position{Time: t0.Add(123456789 * time.Microsecond), Lon: 114.1234567, Lat: 22.5432109,
		Speed: f64(2.5), Bearing: f64(359.5), Altitude: f64(-3), Accuracy: f64(12), Battery: f64(55.5),
		Attrs: map[string]any{"hdop": 0.9, "event": "motion", "charge": true}}
	if _, err := e.svc.Append(ctx, "phone-a", []positions.Position{p}); err != nil {
		t.Fatal(err)
	}
	var (
		ts                                          time.Time
		lon, lat                                    float64
		speed, bearing, altitude, accuracy, battery float64
		attrs                                       map[string]any
		received                                    time.Time
	)
	err := e.store.Pool().QueryRow(ctx, `SELECT ts, lon, lat, speed, bearing, altitude, accuracy, battery, attrs, received
		FROM positions WHERE officer_id = $1`, e.alice).Scan(&ts, &lon, &lat, &speed, &bearing, &altitude, &accuracy, &battery, &attrs, &received)
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Equal(p.Time) || lon != p.Lon || lat != p.Lat || speed != 2.5 || bearing != 359.5 || altitude != -3 ||
		accuracy != 12 || battery != 55.5 || attrs["hdop"] != 0.9 || attrs["event"] != "motion" || attrs["charge"] != true ||
		time.Since(received) > time.Minute {
		t.Fatalf("stored %v %v %v %v %v %v %v %v %v %v", ts, lon, lat, speed, bearing, altitude, accuracy, battery, attrs, received)
	}
}

func TestAppendRefusesOthersAndUnknownDevices(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := walk(t0, 3, time.Second)
	ps[1].Device = "phone-b" // phone-a's token naming Bob's phone
	if _, err := e.svc.Append(ctx, "phone-a", ps); !errors.Is(err, positions.ErrNotYours) || !strings.Contains(err.Error(), "position 1") {
		t.Fatalf("another officer's device: %v", err)
	}
	ps[1].Device = "ghost"
	if _, err := e.svc.Append(ctx, "phone-a", ps); !errors.Is(err, positions.ErrUnknownDevice) {
		t.Fatalf("naming an unknown device: %v", err)
	}
	ps[1].Device = "phone-a" // one's own: fine
	if _, err := e.svc.Append(ctx, "nobody", ps); !errors.Is(err, positions.ErrNotYours) {
		t.Fatalf("an account naming another's device: %v", err)
	}
	ps[1].Device = ""
	if _, err := e.svc.Append(ctx, "nobody", ps); !errors.Is(err, positions.ErrUnknownDevice) {
		t.Fatalf("an account that is nobody's device: %v", err)
	}
	// Two officers with one phone: refused rather than guessed.
	if _, err := e.store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55},
		Props: map[string]any{"name": "Carol", "device": "phone-b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Append(ctx, "phone-b", ps); !errors.Is(err, positions.ErrAmbiguousDevice) {
		t.Fatalf("a device of two officers: %v", err)
	}
	if n := e.stored(t, e.alice) + e.stored(t, e.bob); n != 0 {
		t.Fatalf("%d positions stored", n)
	}
}

func TestAppendValidates(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.svc.SetClock(func() time.Time { return now })
	cases := []struct {
		name string
		edit func(*positions.Position)
		want string
	}{
		{"lat", func(p *positions.Position) { p.Lat = 91 }, "lat: 91 outside"},
		{"lon", func(p *positions.Position) { p.Lon = -180.5 }, "lon: -180.5 outside"},
		{"NaN", func(p *positions.Position) { p.Lon = math.NaN() }, "lon: NaN"},
		{"Inf", func(p *positions.Position) { p.Lat = math.Inf(1) }, "lat: +Inf"},
		{"null island", func(p *positions.Position) { p.Lon, p.Lat = 0, 0 }, "0,0 is no position"},
		{"future", func(p *positions.Position) { p.Time = now.Add(6 * time.Minute) }, "in the future"},
		{"1970", func(p *positions.Position) { p.Time = time.Unix(0, 0) }, "before 2000"},
		{"no time", func(p *positions.Position) { p.Time = time.Time{} }, "time: missing"},
		{"speed", func(p *positions.Position) { p.Speed = f64(-1) }, "speed: -1 outside"},
		{"speed NaN", func(p *positions.Position) { p.Speed = f64(math.NaN()) }, "speed: NaN"},
		{"bearing", func(p *positions.Position) { p.Bearing = f64(400) }, "bearing: 400 outside"},
		{"battery", func(p *positions.Position) { p.Battery = f64(101) }, "battery: 101 outside"},
		{"attr", func(p *positions.Position) { p.Attrs = map[string]any{"x": strings.Repeat("y", 300)} }, "attributes: x: longer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := walk(now.Add(-time.Minute), 5, time.Second)
			c.edit(&ps[3])
			_, err := e.svc.Append(context.Background(), "phone-a", ps)
			var ie *positions.InvalidError
			if !errors.As(err, &ie) || ie.Index != 3 || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "position 3: ") {
				t.Fatalf("got %v, want position 3 … %q", err, c.want)
			}
		})
	}
	// 4 minutes ahead is clock skew, accepted.
	if _, err := e.svc.Append(context.Background(), "phone-a", walk(now.Add(4*time.Minute), 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Append(context.Background(), "phone-a", walk(now, positions.MaxBatch+1, time.Millisecond)); err == nil ||
		!strings.Contains(err.Error(), "at most 10000") {
		t.Fatalf("oversized batch: %v", err)
	}
	if _, err := e.svc.Append(context.Background(), "phone-a", nil); err == nil {
		t.Fatal("empty batch accepted")
	}
	if n := e.stored(t, e.alice); n != 1 {
		t.Fatalf("%d stored, want only the skewed one", n)
	}
}

func TestTrackPerShift(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Morning shift: 10 minutes walking east then 10 minutes north, one fix
	// every 2 s with ±0.5 m of jitter; after a 2-hour break, a short
	// afternoon shift; and Bob walking at the same time.
	var morning []positions.Position
	start := t0
	p := orb.Point{114.12, 22.55}
	for i := 0; i < 600; i++ {
		b := 90.0
		if i >= 300 {
			b = 0
		}
		p = geo.PointAtBearingAndDistance(p, b, 2.4)
		jit := geo.PointAtBearingAndDistance(p, b+90, 0.5*float64(i%3-1))
		morning = append(morning, positions.Position{Time: start.Add(time.Duration(i) * 2 * time.Second), Lon: jit[0], Lat: jit[1]})
	}
	afternoon := walk(t0.Add(3*time.Hour), 30, 10*time.Second)
	for _, b := range [][]positions.Position{morning[300:], afternoon, morning[:300]} { // uploaded out of order
		if _, err := e.svc.Append(ctx, "phone-a", b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Append(ctx, "phone-b", walk(t0, 100, time.Second)); err != nil {
		t.Fatal(err)
	}

	tracks, err := e.svc.Track(ctx, e.alice, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 {
		t.Fatalf("%d tracks, want 2 shifts", len(tracks))
	}
	m := tracks[0]
	line := m.Geometry.(orb.LineString)
	if len(line) < 3 || len(line) > 12 {
		t.Fatalf("morning track has %d vertices, want the corner kept and the jitter simplified away", len(line))
	}
	if line[0] != (orb.Point{morning[0].Lon, morning[0].Lat}) || line[len(line)-1] != (orb.Point{morning[599].Lon, morning[599].Lat}) {
		t.Fatalf("track does not run from the first to the last fix: %v", line)
	}
	if l := m.Props["length_m"].(float64); math.Abs(l-1440) > 10 {
		t.Fatalf("morning length %v m, want ~1440", l)
	}
	if m.Props["officer_id"] != e.alice || m.Props["officer"] != "Alice" || m.Props["points"] != int64(600) ||
		m.Props["shift_start"] != t0.Format(time.RFC3339Nano) || m.Props["shift_end"] != t0.Add(1198*time.Second).Format(time.RFC3339Nano) {
		t.Fatalf("morning props %v", m.Props)
	}
	if a := tracks[1]; a.Props["points"] != int64(30) || a.Props["shift_start"] != t0.Add(3*time.Hour).Format(time.RFC3339Nano) {
		t.Fatalf("afternoon props %v", a.Props)
	}

	// Building again (the shift went on) replaces, never duplicates.
	if _, err := e.svc.Append(ctx, "phone-a", walk(t0.Add(3*time.Hour+10*time.Minute), 10, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Track(ctx, e.alice, t0.Add(2*time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != tracks[1].ID || again[0].Props["points"] != int64(40) {
		t.Fatalf("rebuilt afternoon: %+v (was id %d)", again, tracks[1].ID)
	}
	if n, _ := e.store.Count(ctx, "tracks"); n != 2 {
		t.Fatalf("%d tracks stored, want 2", n)
	}
	// An officer without positions has no track; an unknown officer is an error.
	if got, err := e.svc.Track(ctx, e.bob, t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := e.svc.Track(ctx, 999999, t0, t0.Add(time.Hour)); !errors.Is(err, layers.ErrNotFound) {
		t.Fatalf("unknown officer: %v", err)
	}
}

func TestSimplifyKeepsOriginalVertices(t *testing.T) {
	line := orb.LineString{{114.1, 22.5}, {114.10001, 22.500001}, {114.1001, 22.5}, {114.1002, 22.5001}}
	got := positions.Simplify(line, 2)
	if len(got) != 3 || got[0] != line[0] || got[1] != line[2] || got[2] != line[3] {
		t.Fatalf("%v", got)
	}
}

// benchBatch is the batch size of the benchmarks: what a phone uploading
// a few minutes buffered offline sends, or an ingest node groups.
const benchBatch = 1000

// BenchmarkAppend measures committed positions/s through Append (duplicate
// check and copy under the officer's lock, geofences, marker update
// through the store), beside a plain CopyFrom of the same rows into
// positions.
func BenchmarkAppend(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	// Every row of the run gets its own millisecond, across sub-benchmark
	// runs too.
	start := time.Now().Add(-240 * time.Hour)
	n := 0
	next := func() []positions.Position {
		ps := walk(start.Add(time.Duration(n)*time.Millisecond), benchBatch, time.Millisecond)
		n += benchBatch
		return ps
	}
	b.Run(fmt.Sprintf("Append/batch=%d", benchBatch), func(b *testing.B) {
		n0 := n
		for b.Loop() {
			if _, err := e.svc.Append(ctx, "phone-a", next()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n-n0)/b.Elapsed().Seconds(), "positions/s")
	})
	b.Run(fmt.Sprintf("CopyFrom/batch=%d", benchBatch), func(b *testing.B) {
		n0 := n
		for b.Loop() {
			ps := next()
			rows := make([][]any, len(ps))
			for i, p := range ps {
				rows[i] = []any{e.bob, p.Time, p.Lon, p.Lat, p.Speed, p.Bearing, p.Altitude, p.Accuracy, p.Battery, nil}
			}
			if _, err := e.store.Pool().CopyFrom(ctx, pgx.Identifier{"positions"},
				[]string{"officer_id", "ts", "lon", "lat", "speed", "bearing", "altitude", "accuracy", "battery", "attrs"},
				pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n-n0)/b.Elapsed().Seconds(), "positions/s")
	})
}
