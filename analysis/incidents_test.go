package analysis_test

import (
	"context"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/layers"
)

// TestIncidentReportsAreCounted: the officers' incident reports of the
// window, open or closed, are attributed to the shop whose frontage holds
// them and counted in the compound's figures; an older report and an
// alert at the same place are not incidents.
func TestIncidentReportsAreCounted(t *testing.T) {
	ctx := context.Background()
	store := demoStore(t, 0.05)
	e, err := analysis.New(store, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// A point inside a frontage, and the compound it lies in.
	var shop, compound int64
	var lon, lat float64
	err = store.Pool().QueryRow(ctx, `SELECT (f.props->>'shop_id')::bigint, c.id, ST_X(p), ST_Y(p)
		FROM features f, ST_PointOnSurface(f.geom) p, features c
		WHERE f.layer = 'frontages' AND c.layer = 'compounds' AND ST_Contains(c.geom, p)
		ORDER BY f.id LIMIT 1`).Scan(&shop, &compound, &lon, &lat)
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.Figures("compounds", compound)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	add := func(layer string, props map[string]any) {
		t.Helper()
		if _, err := store.Create(ctx, layers.Feature{Layer: layer, Geometry: orb.Point{lon, lat}, Props: props}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	add("incidents", map[string]any{"kind": "blocked_passage", "state": "open", "reported_by": "officer", "reported_at": at(time.Hour)})
	add("incidents", map[string]any{"kind": "sanitation", "state": "closed", "reported_by": "officer", "reported_at": at(48 * time.Hour)})
	add("incidents", map[string]any{"kind": "other", "state": "open", "reported_by": "officer", "reported_at": at(40 * 24 * time.Hour)}) // outside the window
	add("alerts", map[string]any{"severity": "major", "state": "raised", "raised_at": at(time.Minute)})

	incs, err := e.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 {
		t.Fatalf("%d incidents in the window, want 2", len(incs))
	}
	shops, unattributed, err := e.FrontageIncidents(incs, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(shops) != 1 || shops[0].ShopID != shop || shops[0].Incidents != 2 || unattributed != 0 {
		t.Fatalf("attributed %+v (%d unattributed), want 2 to shop %d", shops, unattributed, shop)
	}
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := e.Figures("compounds", compound)
	if err != nil {
		t.Fatal(err)
	}
	if after.Incidents != before.Incidents+2 {
		t.Fatalf("compound %d: %d incidents after two reports, %d before", compound, after.Incidents, before.Incidents)
	}
	var placard int64
	if err := store.Pool().QueryRow(ctx, `SELECT (props->>'incidents')::bigint FROM features
		WHERE layer = 'placards' AND props->>'compound_code' = $1`, after.Code).Scan(&placard); err != nil {
		t.Fatal(err)
	}
	if placard != int64(after.Incidents) {
		t.Fatalf("placard of compound %s counts %d incidents, figures %d", after.Code, placard, after.Incidents)
	}
}
