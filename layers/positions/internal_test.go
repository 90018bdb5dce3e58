package positions

import (
	"context"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

func newOfficer(t *testing.T, props map[string]any) (*layers.Store, *Service, int64) {
	t.Helper()
	store := layers.NewStore(pgtest.New(t), layers.Governance())
	f, err := store.Create(context.Background(), layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55}, Props: props})
	if err != nil {
		t.Fatal(err)
	}
	return store, New(store), f.ID
}

var at0 = time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)

// The marker is written back only if the feature is still as read: a
// change in between is kept, and the decision is made again on it.
func TestMoveMarkerOnStalePropertiesReadsAgain(t *testing.T) {
	ctx := context.Background()
	store, svc, id := newOfficer(t, map[string]any{"name": "Alice", "device": "phone-a"})
	stale := map[string]any{"name": "Alice", "device": "phone-a"}
	if _, err := store.Patch(ctx, "officers", id, nil, map[string]any{"duty": "guard"}); err != nil {
		t.Fatal(err)
	}
	moved, err := svc.moveMarker(ctx, id, stale, Position{Time: at0.Add(time.Minute), Lon: 114.13, Lat: 22.56})
	if err != nil || !moved {
		t.Fatalf("moved %t, %v", moved, err)
	}
	f, err := store.Get(ctx, "officers", id)
	if err != nil {
		t.Fatal(err)
	}
	if f.Props["duty"] != "guard" || f.Props["fix_time"] != at0.Add(time.Minute).Format(time.RFC3339Nano) || f.Geometry != (orb.Point{114.13, 22.56}) {
		t.Fatalf("marker %v %v", f.Geometry, f.Props)
	}
	// Read before that move, an older fix looked newer: it must not move
	// the marker back.
	moved, err = svc.moveMarker(ctx, id, stale, Position{Time: at0.Add(30 * time.Second), Lon: 114.14, Lat: 22.57})
	if err != nil || moved {
		t.Fatalf("an older fix on stale properties: moved %t, %v", moved, err)
	}
	if g, _ := store.Get(ctx, "officers", id); g.Props["fix_time"] != f.Props["fix_time"] || g.Geometry != f.Geometry {
		t.Fatalf("marker moved back to %v %v", g.Geometry, g.Props["fix_time"])
	}
}

// The probe does not take the patrol zone the caller read for the one
// the officer has now: a zone set since is tracked from the batch on.
func TestProbeSeesThePatrolZoneAsItIs(t *testing.T) {
	ctx := context.Background()
	store, svc, id := newOfficer(t, map[string]any{"name": "Bob", "device": "phone-b", "patrol_zone": "Z9"})
	if _, err := store.Create(ctx, layers.Feature{Layer: "village_zones", Props: map[string]any{"name": "九区", "code": "Z9"},
		Geometry: orb.Polygon{{{114.20, 22.60}, {114.21, 22.60}, {114.21, 22.61}, {114.20, 22.61}, {114.20, 22.60}}}}); err != nil {
		t.Fatal(err)
	}
	// As if the officer had been read before patrol_zone was set.
	if _, _, _, err := svc.insert(ctx, id, "", []Position{{Time: at0, Lon: 114.12, Lat: 22.55}}); err != nil {
		t.Fatal(err)
	}
	var inside bool
	var since time.Time
	if err := store.Pool().QueryRow(ctx, `SELECT inside, since FROM geofence_state WHERE officer_id = $1`, id).Scan(&inside, &since); err != nil {
		t.Fatalf("no state at the patrol zone: %v", err)
	}
	if inside || !since.Equal(at0) {
		t.Fatalf("state inside %t since %s, want outside since %s", inside, since, at0)
	}
}
