package spatial_test

import (
	"context"
	"math"
	"testing"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
	"github.com/hexward/hexward/spatial/baseline"
)

// TestNaivePostGISComparison times the naive PostGIS occlusion against the
// Go sweep on the same cameras (detect level), logs the ratio (no timing
// assertion), and checks that both give about the same area.
func TestNaivePostGISComparison(t *testing.T) {
	ctx := context.Background()
	pool, st := demoInPostGIS(t)
	var d spatial.District
	for _, l := range []string{"buildings", "cameras"} {
		if err := st.ScanLayer(ctx, l, func(f layers.Feature) error {
			return d.Add(spatial.Feature{Layer: f.Layer, ID: f.ID, Geometry: f.Geometry, Props: f.Props})
		}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := spatial.NewModel(d, spatial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sample := d.Cameras[:min(30, len(d.Cameras))]
	c, err := baseline.Compare(ctx, pool, m, sample)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cameras: Go sweep (all %d levels) %v, naive PostGIS (one level) %v: ratio %.0f×; detect areas Go %.1f m², PostGIS %.1f m²",
		c.Cameras, len(m.Levels), c.Go, c.PostGIS, c.Ratio(), c.GoM2, c.PostGISM2)
	if c.PostGISM2 == 0 || math.Abs(c.GoM2-c.PostGISM2) > 0.02*c.PostGISM2 {
		t.Fatalf("occluded areas disagree: Go %v m², PostGIS %v m²", c.GoM2, c.PostGISM2)
	}
}
