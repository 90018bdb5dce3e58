package readings

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newIngester(t testing.TB) *Ingester {
	t.Helper()
	store := layers.NewStore(pgtest.New(t), layers.Governance())
	return New(store, nil)
}

var ctx = context.Background()

// sensor creates a sensor of device "dev-1" with props over the defaults.
func sensor(t testing.TB, in *Ingester, props map[string]any) layers.Feature {
	t.Helper()
	p := map[string]any{"name": "测试传感器", "kind": "gas", "unit": "ppm", "device": "dev-1"}
	for k, v := range props {
		p[k] = v
	}
	f, err := in.store.Create(ctx, layers.Feature{Layer: "sensors", Geometry: orb.Point{114.12, 22.55}, Props: p})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var t0 = time.Now().Add(-time.Hour).Truncate(time.Second)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// send ingests values of sensor id at the given seconds after t0.
func send(t *testing.T, in *Ingester, id int64, pts ...[2]float64) (int, int) {
	t.Helper()
	rs := make([]Reading, len(pts))
	for i, p := range pts {
		rs[i] = Reading{SensorID: id, TS: at(int(p[0])), Value: p[1]}
	}
	a, d, err := in.Ingest(ctx, "dev-1", rs)
	if err != nil {
		t.Fatal(err)
	}
	return a, d
}

type alertRow struct {
	id       int64
	props    map[string]any
	events   []string
	severity string
}

// alerts returns the alerts of a sensor and condition, with their events.
func alerts(t *testing.T, in *Ingester, sensorID int64, cond string) []alertRow {
	t.Helper()
	rows, err := in.store.Pool().Query(ctx, `SELECT id FROM features WHERE layer = 'alerts'
		AND props->>'source' = $1 AND props->>'condition' = $2 ORDER BY id`, source(sensorID), cond)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	var out []alertRow
	for _, id := range ids {
		f, err := in.store.Get(ctx, "alerts", id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := in.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		a := alertRow{id: id, props: f.Props, severity: str(f.Props, "severity")}
		for _, r := range h {
			a.events = append(a.events, r.Event)
			if r.Actor != SystemActor && r.Event != "acknowledged" && r.Event != "dispatched" && r.Event != "resolved" {
				t.Errorf("event %s by %s", r.Event, r.Actor)
			}
		}
		out = append(out, a)
	}
	return out
}

func status(t *testing.T, in *Ingester, id int64) string {
	t.Helper()
	f, err := in.store.Get(ctx, "sensors", id)
	if err != nil {
		t.Fatal(err)
	}
	return str(f.Props, "status")
}

func one(t *testing.T, as []alertRow) alertRow {
	t.Helper()
	if len(as) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(as), as)
	}
	return as[0]
}

func TestHysteresisRaisesOneAlertAndClearsBelowThresholdMinusHysteresis(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100, "hysteresis": 10})
	send(t, in, s.ID, [2]float64{0, 95})
	if as := alerts(t, in, s.ID, CondThreshold); len(as) != 0 {
		t.Fatalf("alert below threshold: %+v", as)
	}
	if got := status(t, in, s.ID); got != "normal" {
		t.Fatalf("status %q", got)
	}
	// Oscillating around the threshold, one reading per request and a batch.
	send(t, in, s.ID, [2]float64{10, 101})
	send(t, in, s.ID, [2]float64{20, 99})
	send(t, in, s.ID, [2]float64{30, 102}, [2]float64{40, 95}, [2]float64{50, 100.5}, [2]float64{60, 90.5})
	a := one(t, alerts(t, in, s.ID, CondThreshold))
	if a.severity != "critical" || a.props["state"] != "raised" || a.props["cleared"] != false || a.props["value"] != 101.0 {
		t.Fatalf("alert %+v", a.props)
	}
	if got := status(t, in, s.ID); got != "alarm" {
		t.Fatalf("status %q", got)
	}
	// At threshold − hysteresis it clears but stays open.
	send(t, in, s.ID, [2]float64{70, 90})
	a = one(t, alerts(t, in, s.ID, CondThreshold))
	if a.props["cleared"] != true || a.props["state"] != "raised" || strings.Join(a.events, ",") != "raised,cleared" {
		t.Fatalf("after clearing: %+v %v", a.props, a.events)
	}
	if got := status(t, in, s.ID); got != "normal" {
		t.Fatalf("status %q", got)
	}
	// A re-trigger updates the same open alert.
	send(t, in, s.ID, [2]float64{80, 130})
	a = one(t, alerts(t, in, s.ID, CondThreshold))
	if a.props["cleared"] != false || a.props["value"] != 130.0 || strings.Join(a.events, ",") != "raised,cleared,retriggered" {
		t.Fatalf("after re-trigger: %+v %v", a.props, a.events)
	}
}

func TestShortSpikeRaisesNothing(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100, "min_duration_s": 60})
	send(t, in, s.ID, [2]float64{0, 150}, [2]float64{30, 160}, [2]float64{59, 170}, [2]float64{61, 50})
	send(t, in, s.ID, [2]float64{100, 150}, [2]float64{130, 150})
	if as := alerts(t, in, s.ID, CondThreshold); len(as) != 0 {
		t.Fatalf("short spikes raised %+v", as)
	}
	send(t, in, s.ID, [2]float64{160, 155})
	a := one(t, alerts(t, in, s.ID, CondThreshold))
	if a.props["raised_at"] != at(160).UTC().Format(time.RFC3339Nano) || a.props["value"] != 155.0 {
		t.Fatalf("alert %+v", a.props)
	}
}

func TestWarningEscalatesToAlarmOnTheSameAlert(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"kind": "electricity", "unit": "A", "warn_above": 10, "alarm_above": 20, "hysteresis": 1})
	send(t, in, s.ID, [2]float64{0, 15})
	if a := one(t, alerts(t, in, s.ID, CondThreshold)); a.severity != "warning" {
		t.Fatalf("severity %s", a.severity)
	}
	if got := status(t, in, s.ID); got != "warning" {
		t.Fatalf("status %q", got)
	}
	send(t, in, s.ID, [2]float64{10, 25})
	a := one(t, alerts(t, in, s.ID, CondThreshold))
	if a.severity != "major" || strings.Join(a.events, ",") != "raised,escalated" {
		t.Fatalf("escalation: %s %v", a.severity, a.events)
	}
	// Down to warning: the alert keeps its severity and stays uncleared.
	send(t, in, s.ID, [2]float64{20, 15})
	if a := one(t, alerts(t, in, s.ID, CondThreshold)); a.severity != "major" || a.props["cleared"] != false {
		t.Fatalf("after de-escalation: %+v", a.props)
	}
	if got := status(t, in, s.ID); got != "warning" {
		t.Fatalf("status %q", got)
	}
	send(t, in, s.ID, [2]float64{30, 9.5}) // within the warning's hysteresis
	if got := status(t, in, s.ID); got != "warning" {
		t.Fatalf("status %q", got)
	}
	send(t, in, s.ID, [2]float64{40, 9})
	if a := one(t, alerts(t, in, s.ID, CondThreshold)); a.props["cleared"] != true {
		t.Fatalf("not cleared: %+v", a.props)
	}
}

func TestOutOfOrderAndLateReadings(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100, "min_duration_s": 20})
	// Out of order within a batch: evaluated in time order, the condition
	// has held 20 s at t=120.
	if a, d := send(t, in, s.ID, [2]float64{120, 150}, [2]float64{100, 150}, [2]float64{110, 150}); a != 3 || d != 0 {
		t.Fatalf("accepted %d duplicates %d", a, d)
	}
	a := one(t, alerts(t, in, s.ID, CondThreshold))
	if a.props["raised_at"] != at(120).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("raised at %v", a.props["raised_at"])
	}
	// A late reading (older than what was evaluated) is stored, and is
	// history: it does not clear the alert.
	if a, _ := send(t, in, s.ID, [2]float64{50, 0}); a != 1 {
		t.Fatalf("late reading not accepted")
	}
	if a := one(t, alerts(t, in, s.ID, CondThreshold)); a.props["cleared"] != false {
		t.Fatalf("a late reading cleared the alert")
	}
	var n int
	var first time.Time
	_ = in.store.Pool().QueryRow(ctx, `SELECT count(*), min(ts) FROM readings WHERE sensor_id = $1`, s.ID).Scan(&n, &first)
	if n != 4 || !first.Equal(at(50)) {
		t.Fatalf("%d readings from %v", n, first)
	}
}

func TestDuplicateReadingsAreIdempotent(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100})
	if a, d := send(t, in, s.ID, [2]float64{0, 150}, [2]float64{1, 150}, [2]float64{1, 150}); a != 2 || d != 1 {
		t.Fatalf("accepted %d duplicates %d", a, d)
	}
	if a, d := send(t, in, s.ID, [2]float64{0, 150}, [2]float64{1, 150}); a != 0 || d != 2 {
		t.Fatalf("again: accepted %d duplicates %d", a, d)
	}
	a := one(t, alerts(t, in, s.ID, CondThreshold))
	if len(a.events) != 1 {
		t.Fatalf("events %v", a.events)
	}
}

func TestBadBatchesStoreNothing(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, nil)
	other := sensor(t, in, map[string]any{"device": "dev-2"})
	now := time.Now()
	ok := Reading{SensorID: s.ID, TS: now, Value: 1}
	many := make([]Reading, MaxBatch+1)
	for i := range many {
		many[i] = Reading{SensorID: s.ID, TS: now.Add(-time.Duration(i) * time.Second), Value: 1}
	}
	cases := []struct {
		name string
		rs   []Reading
		want string
	}{
		{"empty", nil, "no readings"},
		{"too many", many, "at most 5000"},
		{"unknown sensor", []Reading{ok, {SensorID: 999999, TS: now, Value: 1}}, "reading 1 (sensor 999999): no such sensor"},
		{"not a sensor", []Reading{{SensorID: other.ID + 1000, TS: now, Value: 1}}, "reading 0"},
		{"another device's", []Reading{ok, ok, {SensorID: other.ID, TS: now, Value: 1}}, `reading 2 (sensor ` + itoa(other.ID) + `): not a sensor of device "dev-1"`},
		{"future", []Reading{ok, {SensorID: s.ID, TS: now.Add(time.Hour), Value: 1}}, "reading 1 (sensor " + itoa(s.ID) + "): timestamp"},
		{"before 2000", []Reading{{SensorID: s.ID, TS: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), Value: 1}}, "before 2000"},
		{"NaN", []Reading{ok, {SensorID: s.ID, TS: now, Value: math.NaN()}}, "reading 1 (sensor " + itoa(s.ID) + "): value NaN is not a finite number"},
		{"Inf", []Reading{{SensorID: s.ID, TS: now, Value: math.Inf(1)}}, "not a finite number"},
		{"bad id", []Reading{{SensorID: -3, TS: now, Value: 1}}, "positive"},
	}
	for _, c := range cases {
		_, _, err := in.Ingest(ctx, "dev-1", c.rs)
		var re *Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an Error containing %q", c.name, err, c.want)
		}
		if c.name == "another device's" && !errors.Is(err, ErrForeignSensor) {
			t.Errorf("%s: not ErrForeignSensor", c.name)
		}
	}
	var n int
	_ = in.store.Pool().QueryRow(ctx, `SELECT count(*) FROM readings`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d readings stored", n)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
