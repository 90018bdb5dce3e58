package positions_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/layers/readings"
)

// fenceEnv is a store with one 200 m square village zone "Z1" centred on
// centre, an ingester for alerts and a positions service raising them.
type fenceEnv struct {
	store *layers.Store
	svc   *positions.Service
	rules *readings.Ingester
	zone  int64
	east  orb.Point // the middle of the zone's east edge
}

var centre = orb.Point{114.10, 22.55}

func newFenceEnv(t *testing.T) *fenceEnv {
	t.Helper()
	e := &fenceEnv{store: layers.NewStore(pgtest.New(t), layers.Governance())}
	e.rules = readings.New(e.store, nil)
	e.svc = positions.New(e.store).SetAlerts(e.rules)
	n, s := geo.PointAtBearingAndDistance(centre, 0, 100), geo.PointAtBearingAndDistance(centre, 180, 100)
	w, east := geo.PointAtBearingAndDistance(centre, 270, 100), geo.PointAtBearingAndDistance(centre, 90, 100)
	e.east = orb.Point{east[0], centre[1]}
	ring := orb.Ring{{w[0], s[1]}, {east[0], s[1]}, {east[0], n[1]}, {w[0], n[1]}, {w[0], s[1]}}
	z, err := e.store.Create(context.Background(), layers.Feature{Layer: "village_zones", Geometry: orb.Polygon{ring},
		Props: map[string]any{"name": "一区", "code": "Z1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.zone = z.ID
	return e
}

// officer creates an officer with device dev and props.
func (e *fenceEnv) officer(t *testing.T, dev string, props map[string]any) int64 {
	t.Helper()
	p := map[string]any{"name": "巡查员 " + dev, "device": dev, "duty": "patrol"}
	for k, v := range props {
		p[k] = v
	}
	f, err := e.store.Create(context.Background(), layers.Feature{Layer: "officers", Geometry: centre, Props: p})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// off is a fix at metres east of the zone's east edge (negative: inside).
func (e *fenceEnv) off(at time.Time, metres float64) positions.Position {
	p := geo.PointAtBearingAndDistance(e.east, 90, metres)
	return positions.Position{Time: at, Lon: p[0], Lat: p[1], Accuracy: f64(5)}
}

func (e *fenceEnv) send(t *testing.T, dev string, ps ...positions.Position) {
	t.Helper()
	if _, err := e.svc.Append(context.Background(), dev, ps); err != nil {
		t.Fatal(err)
	}
}

// events lists the officer's geofence events as "event@minutes" strings.
func (e *fenceEnv) events(t *testing.T, officer int64, base time.Time) []string {
	t.Helper()
	evs, err := e.svc.GeofenceEvents(context.Background(), officer, base.Add(-24*time.Hour), base.Add(24*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ZoneID != e.zone || ev.ZoneLayer != "village_zones" || ev.ZoneCode != "Z1" || ev.Officer != officer {
			t.Fatalf("event %+v", ev)
		}
		out = append(out, fmt.Sprintf("%s@%g", ev.Event, ev.At.Sub(base).Minutes()))
	}
	return out
}

func want(t *testing.T, got []string, w ...string) {
	t.Helper()
	if !slices.Equal(got, w) {
		t.Fatalf("events %v, want %v", got, w)
	}
}

var g0 = time.Now().Add(-3 * time.Hour).Truncate(time.Minute)

func mins(m float64) time.Time { return g0.Add(time.Duration(m * float64(time.Minute))) }

func TestGeofenceJitterAtTheBoundaryRaisesNothing(t *testing.T) {
	e := newFenceEnv(t)
	outside := e.officer(t, "phone-o", nil)
	inside := e.officer(t, "phone-i", nil)
	// ±14 m around the boundary (the buffer is 15 m), one fix every 5 s,
	// in batches of 4, for 4 minutes (less than the dwell time).
	jitter := func(dev string, startMetres float64) {
		var batch []positions.Position
		batch = append(batch, e.off(mins(0), startMetres))
		for i := 1; i <= 48; i++ {
			d := 14.0 * math.Sin(float64(i)*1.3) // both sides, up to 14 m
			if i%5 == 0 {
				d = 14 * float64(1-2*(i/5%2)) // and the extremes
			}
			batch = append(batch, e.off(mins(float64(i)/12), d))
			if len(batch) == 4 {
				e.send(t, dev, batch...)
				batch = nil
			}
		}
		// A fix 25 m inside whose accuracy is 30 m says nothing either.
		p := e.off(mins(4.1), -25)
		p.Accuracy = f64(30)
		e.send(t, dev, append(batch, p)...)
	}
	jitter("phone-o", 60)
	jitter("phone-i", -60)
	want(t, e.events(t, outside, g0))
	want(t, e.events(t, inside, g0), "enter@0")
}

func TestGeofenceWalkInAndOut(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", nil)
	// From 100 m east of the zone to 100 m inside and back, 10 m a step,
	// one step every 6 s, one fix per batch.
	var path []float64
	for d := 100.0; d >= -100; d -= 10 {
		path = append(path, d)
	}
	for d := -90.0; d <= 100; d += 10 {
		path = append(path, d)
	}
	enterAt, exitAt := -1, -1
	for i, d := range path {
		if enterAt < 0 && d <= -15 {
			enterAt = i
		}
		if enterAt >= 0 && exitAt < 0 && i > enterAt && d >= 15 {
			exitAt = i
		}
		e.send(t, "phone-a", e.off(mins(float64(i)/10), d))
	}
	want(t, e.events(t, o, g0), fmt.Sprintf("enter@%g", float64(enterAt)/10), fmt.Sprintf("exit@%g", float64(exitAt)/10))

	// The same walk by a second officer in one batch, given in reverse
	// order: the same events, in fix time order.
	o2 := e.officer(t, "phone-b", nil)
	var ps []positions.Position
	for i, d := range path {
		ps = append(ps, e.off(mins(float64(i)/10), d))
	}
	slices.Reverse(ps)
	e.send(t, "phone-b", ps...)
	want(t, e.events(t, o2, g0), fmt.Sprintf("enter@%g", float64(enterAt)/10), fmt.Sprintf("exit@%g", float64(exitAt)/10))
}

func TestGeofenceDwellOncePerStay(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", nil)
	for m := 0; m <= 25; m++ { // inside for 25 min, a fix a minute
		e.send(t, "phone-a", e.off(mins(float64(m)), -50))
	}
	want(t, e.events(t, o, g0), "enter@0", "dwell_inside@10")
	for m := 26; m <= 40; m++ { // out for 14 min
		e.send(t, "phone-a", e.off(mins(float64(m)), 50))
	}
	for m := 41; m <= 52; m++ { // in again for 11 min
		e.send(t, "phone-a", e.off(mins(float64(m)), -50))
	}
	want(t, e.events(t, o, g0), "enter@0", "dwell_inside@10", "exit@26", "dwell_outside@36", "enter@41", "dwell_inside@51")
}

func TestGeofenceLateAndOutOfOrderPositions(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", nil)
	// A batch out of order: outside at 1, inside at 2 and 3.
	e.send(t, "phone-a", e.off(mins(3), -40), e.off(mins(1), 40), e.off(mins(2), -40))
	want(t, e.events(t, o, g0), "enter@2")
	// Late: positions outside from before the newest evaluated fix.
	e.send(t, "phone-a", e.off(mins(1.5), 80), e.off(mins(2.5), 80), e.off(mins(0), 80))
	// A re-sent batch (duplicates) and a fix at the same time elsewhere.
	e.send(t, "phone-a", e.off(mins(3), -40), e.off(mins(2), -40))
	e.send(t, "phone-a", e.off(mins(3), 90))
	want(t, e.events(t, o, g0), "enter@2")
	// Still inside for the dwell time counted from 2, not disturbed.
	e.send(t, "phone-a", e.off(mins(12), -40))
	e.send(t, "phone-a", e.off(mins(11), 80)) // late again
	want(t, e.events(t, o, g0), "enter@2", "dwell_inside@12")
	e.send(t, "phone-a", e.off(mins(13), 80))
	want(t, e.events(t, o, g0), "enter@2", "dwell_inside@12", "exit@13")
}

// patrolAlerts returns the officer's patrol-zone alerts with their events.
func (e *fenceEnv) patrolAlerts(t *testing.T, officer int64) (props []map[string]any, events [][]string) {
	t.Helper()
	ctx := context.Background()
	rows, err := e.store.Pool().Query(ctx, `SELECT id FROM features WHERE layer = 'alerts'
		AND props->>'source' = $1 AND props->>'condition' = $2 ORDER BY id`, fmt.Sprintf("officer:%d", officer), positions.CondOutsidePatrolZone)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		f, err := e.store.Get(ctx, "alerts", id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := e.rules.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var evs []string
		for _, r := range h {
			evs = append(evs, r.Event)
		}
		props, events = append(props, f.Props), append(events, evs)
	}
	return props, events
}

func TestOutsidePatrolZoneRaisesOneAlertAndReturningClearsIt(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", map[string]any{"patrol_zone": "Z1"})
	free := e.officer(t, "phone-f", nil) // no patrol zone: never an alert
	e.send(t, "phone-a", e.off(mins(0), -50))
	for m := 1; m <= 9; m++ { // out for 9 minutes: no alert yet
		e.send(t, "phone-a", e.off(mins(float64(m)), 40))
		e.send(t, "phone-f", e.off(mins(float64(m)), 40))
	}
	if ps, _ := e.patrolAlerts(t, o); len(ps) != 0 {
		t.Fatalf("alert before the dwell time: %v", ps)
	}
	for m := 10; m <= 20; m++ {
		e.send(t, "phone-a", e.off(mins(float64(m)), 40))
		e.send(t, "phone-f", e.off(mins(float64(m)), 40))
	}
	ps, evs := e.patrolAlerts(t, o)
	if len(ps) != 1 || ps[0]["state"] != "raised" || ps[0]["cleared"] != false || ps[0]["severity"] != "minor" ||
		!strings.Contains(ps[0]["title"].(string), "Z1") || ps[0]["raised_at"] != mins(11).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("alerts %v", ps)
	}
	want(t, evs[0], "raised")
	if ps, _ := e.patrolAlerts(t, free); len(ps) != 0 {
		t.Fatalf("an officer without a patrol zone has alerts %v", ps)
	}
	// Back inside (jitter at the boundary first changes nothing): cleared.
	e.send(t, "phone-a", e.off(mins(21), -10))
	if _, evs := e.patrolAlerts(t, o); !slices.Equal(evs[0], []string{"raised"}) {
		t.Fatalf("cleared within the buffer: %v", evs)
	}
	e.send(t, "phone-a", e.off(mins(22), -30))
	ps, evs = e.patrolAlerts(t, o)
	if len(ps) != 1 || ps[0]["cleared"] != true || ps[0]["state"] != "raised" {
		t.Fatalf("after returning: %v", ps)
	}
	want(t, evs[0], "raised", "cleared")
	// Out again for the dwell time: the same open alert retriggers.
	for m := 23; m <= 34; m++ {
		e.send(t, "phone-a", e.off(mins(float64(m)), 40))
	}
	ps, evs = e.patrolAlerts(t, o)
	if len(ps) != 1 || ps[0]["cleared"] != false {
		t.Fatalf("after leaving again: %v", ps)
	}
	want(t, evs[0], "raised", "cleared", "retriggered")
	want(t, e.events(t, o, g0), "enter@0", "exit@1", "dwell_outside@11", "enter@22", "exit@23", "dwell_outside@33")
}

func TestPatrolZoneNeverEnteredAndBadSettings(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", map[string]any{"patrol_zone": "Z1"})
	// The officer starts outside the patrol zone and never goes in.
	for m := 0; m <= 10; m++ {
		e.send(t, "phone-a", e.off(mins(float64(m)), 500))
	}
	if ps, _ := e.patrolAlerts(t, o); len(ps) != 1 {
		t.Fatalf("alerts %v", ps)
	}
	want(t, e.events(t, o, g0), "dwell_outside@10")
	for _, c := range []struct {
		b float64
		d time.Duration
	}{{-1, time.Minute}, {math.NaN(), time.Minute}, {15, 0}} {
		if err := e.svc.SetGeofence(c.b, c.d); err == nil {
			t.Errorf("SetGeofence(%v, %v) accepted", c.b, c.d)
		}
	}
	if _, err := e.svc.GeofenceEvents(context.Background(), o, g0, g0, 0); err == nil {
		t.Error("limit 0 accepted")
	}
}

func TestRaiseForRefusesBadInput(t *testing.T) {
	e := newFenceEnv(t)
	ctx := context.Background()
	for _, c := range []struct{ src, cond, sev, title string }{
		{"", "c", "minor", "t"}, {"s", "", "minor", "t"}, {"s", "c", "huge", "t"}, {"s", "c", "minor", ""},
	} {
		if err := e.rules.RaiseFor(ctx, c.src, c.cond, c.sev, c.title, centre, g0); err == nil {
			t.Errorf("RaiseFor%v accepted", c)
		}
	}
	if err := e.rules.RaiseFor(ctx, "s", "c", "minor", "t", orb.Point{200, 0}, g0); err == nil {
		t.Error("RaiseFor off the globe accepted")
	}
	if n, _ := e.store.Count(ctx, "alerts"); n != 0 {
		t.Fatalf("%d alerts after bad input", n)
	}
}
