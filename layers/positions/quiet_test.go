package positions_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/positions"
)

// Batches far from every zone are evaluated quietly (the probe made with
// the duplicate check finds that no fix can change a state); these tests
// check that they store what the full evaluation stores.

// cursor returns the newest fix evaluated for the officer.
func (e *fenceEnv) cursor(t *testing.T, officer int64) time.Time {
	t.Helper()
	var at time.Time
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT last_fix FROM geofence_cursor WHERE officer_id = $1`,
		officer).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

// state returns the officer's state at zone Z1 as "inside|outside since
// minutes, dwell done, last fix minutes", or "none".
func (e *fenceEnv) state(t *testing.T, officer int64) string {
	t.Helper()
	rows, err := e.store.Pool().Query(context.Background(), `SELECT inside, since, dwell_done, last_fix FROM geofence_state
		WHERE officer_id = $1 AND zone_layer = 'village_zones' AND zone_id = $2`, officer, e.zone)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "none"
	}
	var inside, dwell bool
	var since, last time.Time
	if err := rows.Scan(&inside, &since, &dwell, &last); err != nil {
		t.Fatal(err)
	}
	side := map[bool]string{true: "inside", false: "outside"}[inside]
	return fmt.Sprintf("%s since %g, dwell %t, last %g", side, since.Sub(g0).Minutes(), dwell, last.Sub(g0).Minutes())
}

func (e *fenceEnv) wantCursor(t *testing.T, officer int64, m float64) {
	t.Helper()
	if got := e.cursor(t, officer); !got.Equal(mins(m)) {
		t.Fatalf("cursor at %g min, want %g", got.Sub(g0).Minutes(), m)
	}
}

func (e *fenceEnv) wantState(t *testing.T, officer int64, want string) {
	t.Helper()
	if got := e.state(t, officer); got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
}

const far = 1000.0 // metres east of the zone: near no zone

func TestGeofenceBatchMixingNearAndFarFixes(t *testing.T) {
	e := newFenceEnv(t)
	// Far for 5 minutes, 40 m outside (within nothing: no change), inside
	// at 6 and 7, far again at 8 and 9.
	metres := []float64{far, far, far, far, far, 40, -40, -40, far, far}
	fixes := func() []positions.Position {
		var ps []positions.Position
		for m, d := range metres {
			ps = append(ps, e.off(mins(float64(m)), d))
		}
		return ps
	}
	// The same fixes in one batch, one fix per batch, a far batch then
	// the rest, and the far batch uploaded after the rest (late).
	whole, single := e.officer(t, "phone-w", nil), e.officer(t, "phone-s", nil)
	split, late := e.officer(t, "phone-p", nil), e.officer(t, "phone-l", nil)
	e.send(t, "phone-w", fixes()...)
	for _, p := range fixes() {
		e.send(t, "phone-s", p)
	}
	e.send(t, "phone-p", fixes()[:5]...)
	e.wantCursor(t, split, 4)
	e.wantState(t, split, "none")
	e.send(t, "phone-p", fixes()[5:]...)
	e.send(t, "phone-l", fixes()[5:]...)
	e.send(t, "phone-l", fixes()[:5]...)
	for _, o := range []int64{whole, single, split} {
		want(t, e.events(t, o, g0), "enter@6", "exit@8")
		e.wantCursor(t, o, 9)
		e.wantState(t, o, "outside since 8, dwell false, last 9")
	}
	// Late fixes change nothing, near or far.
	want(t, e.events(t, late, g0), "enter@6", "exit@8")
	e.wantCursor(t, late, 9)
	e.wantState(t, late, "outside since 8, dwell false, last 9")
}

func TestGeofenceFarBatchesKeepSettledStatesAndTheAlert(t *testing.T) {
	e := newFenceEnv(t)
	o := e.officer(t, "phone-a", map[string]any{"patrol_zone": "Z1"})
	e.send(t, "phone-a", e.off(mins(0), -50))
	for m := 1; m <= 11; m++ {
		e.send(t, "phone-a", e.off(mins(float64(m)), 40))
	}
	want(t, e.events(t, o, g0), "enter@0", "exit@1", "dwell_outside@11")
	e.wantState(t, o, "outside since 1, dwell true, last 11")
	// Far away in three batches: nothing to change, but the state's last
	// fix and the cursor move, and the alert stays raised.
	for m := 12; m <= 18; m += 3 {
		e.send(t, "phone-a", e.off(mins(float64(m)), far), e.off(mins(float64(m+1)), far+10), e.off(mins(float64(m+2)), far+20))
	}
	want(t, e.events(t, o, g0), "enter@0", "exit@1", "dwell_outside@11")
	e.wantState(t, o, "outside since 1, dwell true, last 20")
	e.wantCursor(t, o, 20)
	ps, evs := e.patrolAlerts(t, o)
	if len(ps) != 1 || ps[0]["state"] != "raised" || ps[0]["cleared"] != false || ps[0]["raised_at"] != mins(11).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("alerts %v", ps)
	}
	want(t, evs[0], "raised")
	// A late far batch: stored, evaluates nothing.
	e.send(t, "phone-a", e.off(mins(15.5), far), e.off(mins(16.5), far))
	e.wantCursor(t, o, 20)
	e.wantState(t, o, "outside since 1, dwell true, last 20")
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM positions WHERE officer_id = $1`, o).Scan(&n); err != nil || n != 23 {
		t.Fatalf("%d positions stored, want 23 (%v)", n, err)
	}
	// Back inside: entered, and the alert cleared.
	e.send(t, "phone-a", e.off(mins(21), -50))
	want(t, e.events(t, o, g0), "enter@0", "exit@1", "dwell_outside@11", "enter@21")
	if _, evs := e.patrolAlerts(t, o); !slices.Equal(evs[0], []string{"raised", "cleared"}) {
		t.Fatalf("alert events %v", evs)
	}
}

// A patrol zone set while the officer is far away is tracked from the next
// fix, as when the officer is first found away from it.
func TestGeofencePatrolZoneSetWhileFarAway(t *testing.T) {
	e := newFenceEnv(t)
	ctx := context.Background()
	o := e.officer(t, "phone-a", nil)
	// Z2, 5 km west of Z1: near none of the fixes.
	c := geo.PointAtBearingAndDistance(centre, 270, 5000)
	z2, err := e.store.Create(ctx, layers.Feature{Layer: "village_zones", Geometry: orb.Polygon{{
		{c[0] - 0.001, c[1] - 0.001}, {c[0] + 0.001, c[1] - 0.001}, {c[0] + 0.001, c[1] + 0.001}, {c[0] - 0.001, c[1] + 0.001}, {c[0] - 0.001, c[1] - 0.001},
	}}, Props: map[string]any{"name": "二区", "code": "Z2"}})
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, "phone-a", e.off(mins(0), far))
	e.wantState(t, o, "none")
	if _, err := e.store.Patch(ctx, "officers", o, nil, map[string]any{"patrol_zone": "Z2"}); err != nil {
		t.Fatal(err)
	}
	for m := 1; m <= 11; m++ {
		e.send(t, "phone-a", e.off(mins(float64(m)), far))
	}
	evs, err := e.svc.GeofenceEvents(ctx, o, g0.Add(-time.Hour), g0.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ZoneID != z2.ID || evs[0].Event != positions.EventDwellOutside || !evs[0].At.Equal(mins(11)) {
		t.Fatalf("events %+v, want Z2's dwell_outside at 11 (tracked from 1)", evs)
	}
	if ps, _ := e.patrolAlerts(t, o); len(ps) != 1 || !strings.Contains(ps[0]["title"].(string), "Z2") {
		t.Fatalf("alerts %v", ps)
	}
}

// Positions stored when the evaluation failed are evaluated with the next
// batch, even when that batch alone is far from every zone.
func TestGeofenceFailedEvaluationIsMadeByAFarBatch(t *testing.T) {
	e := newFenceEnv(t)
	ctx := context.Background()
	o := e.officer(t, "phone-a", nil)
	e.send(t, "phone-a", e.off(mins(0), far))
	exec := func(sql string) {
		t.Helper()
		if _, err := e.store.Pool().Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// The evaluation of a far batch (quiet) and of one inside the zone
	// fail as the cursor cannot be written: the positions are stored.
	exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
	exec(`CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON geofence_cursor FOR EACH ROW EXECUTE FUNCTION refuse()`)
	for _, b := range [][]positions.Position{{e.off(mins(1), far)}, {e.off(mins(2), -50)}} {
		res, err := e.svc.Append(ctx, "phone-a", b)
		if err == nil || !strings.Contains(err.Error(), "positions stored; geofences") || !strings.Contains(err.Error(), "refused") || res.Accepted != 1 {
			t.Fatalf("%+v %v, want the position stored and the geofences failed", res, err)
		}
	}
	e.wantCursor(t, o, 0)
	e.wantState(t, o, "none")
	exec(`DROP TRIGGER refuse ON geofence_cursor`)
	e.send(t, "phone-a", e.off(mins(3), far), e.off(mins(4), far))
	want(t, e.events(t, o, g0), "enter@2", "exit@3")
	e.wantCursor(t, o, 4)
	e.wantState(t, o, "outside since 3, dwell false, last 4")
}

// BenchmarkWalkInsideZone measures Append for an officer walking inside a
// zone (every batch evaluated in full, unlike BenchmarkAppend's, which is
// far from any zone), by batch size:
//
//	go test -run '^$' -bench WalkInsideZone -benchtime 200x ./layers/positions
func BenchmarkWalkInsideZone(b *testing.B) {
	for _, size := range []int{1, 50, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			// A 4 km square zone around the walk.
			c := orb.Point{114.12, 22.55}
			n, s := geo.PointAtBearingAndDistance(c, 0, 2000), geo.PointAtBearingAndDistance(c, 180, 2000)
			w, east := geo.PointAtBearingAndDistance(c, 270, 2000), geo.PointAtBearingAndDistance(c, 90, 2000)
			if _, err := e.store.Create(ctx, layers.Feature{Layer: "village_zones", Props: map[string]any{"name": "大区", "code": "Z"},
				Geometry: orb.Polygon{{{w[0], s[1]}, {east[0], s[1]}, {east[0], n[1]}, {w[0], n[1]}, {w[0], s[1]}}}}); err != nil {
				b.Fatal(err)
			}
			start := time.Now().Add(-240 * time.Hour)
			sent := 0
			for b.Loop() {
				ps := walk(start.Add(time.Duration(sent)*time.Millisecond), size, time.Millisecond)
				sent += size
				if _, err := e.svc.Append(ctx, "phone-a", ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "positions/s")
		})
	}
}
