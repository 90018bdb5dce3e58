package spatial_test

import (
	"context"
	"math"
	"testing"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestAgreesWithPostGISGeography loads the demo district into PostGIS and
// compares the frame's areas and lengths of every building, street, fence,
// compound and community, and of camera views, with ST_Area/ST_Length on
// geography (WGS 84 spheroid): within 0.5% each, and in total.
func TestAgreesWithPostGISGeography(t *testing.T) {
	ctx := context.Background()
	pool, st := demoInPostGIS(t)
	ext, err := st.Extent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fr := spatial.FrameFor(ext)
	rows, err := pool.Query(ctx, `SELECT layer, id, ST_AsBinary(geom),
		CASE WHEN GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') THEN ST_Area(geom::geography) ELSE ST_Length(geom::geography) END
		FROM features WHERE layer = ANY($1)`, []string{"buildings", "streets", "fences", "compounds", "communities", "camera_views"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	var sumPG, sumGo float64
	var d spatial.District
	for rows.Next() {
		var layer string
		var id int64
		var b []byte
		var pg float64
		if err := rows.Scan(&layer, &id, &b, &pg); err != nil {
			t.Fatal(err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var got float64
		switch g.(type) {
		case orb.Polygon, orb.MultiPolygon:
			got = fr.Area(g)
		default:
			got = fr.Length(g)
		}
		if math.Abs(got-pg) > 0.005*pg+1e-9 {
			t.Errorf("%s %d: frame %v, PostGIS %v (%.3f%%)", layer, id, got, pg, 100*(got-pg)/pg)
		}
		if layer == "buildings" {
			d.Buildings = append(d.Buildings, g.(orb.Polygon))
			sumPG += pg
			sumGo += got
		}
		n++
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if n < 1000 {
		t.Fatalf("only %d features compared", n)
	}
	t.Logf("%d features; building area total: frame %.1f m², PostGIS %.1f m² (%.4f%%)", n, sumGo, sumPG, 100*(sumGo-sumPG)/sumPG)

	// the model's own views, measured by PostGIS
	err = st.ScanLayer(ctx, "cameras", func(f layers.Feature) error {
		return d.Add(spatial.Feature{Layer: f.Layer, ID: f.ID, Geometry: f.Geometry, Props: f.Props})
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := spatial.NewModel(d, spatial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range d.Cameras[:min(40, len(d.Cameras))] {
		vs, err := m.Views(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if len(v.Geometry) == 0 {
				continue
			}
			b, err := wkb.Marshal(v.Geometry)
			if err != nil {
				t.Fatal(err)
			}
			var pg float64
			var valid bool
			var reason string
			if err := pool.QueryRow(ctx, `SELECT ST_Area(ST_GeomFromWKB($1, 4326)::geography), ST_IsValid(ST_GeomFromWKB($1, 4326)), ST_IsValidReason(ST_GeomFromWKB($1, 4326))`, b).Scan(&pg, &valid, &reason); err != nil {
				t.Fatal(err)
			}
			if got := v.Area(); math.Abs(got-pg) > 0.005*pg+1e-6 {
				t.Errorf("camera %d %s view: %v m², PostGIS %v", c.ID, v.Level, got, pg)
			}
			if !valid {
				t.Errorf("camera %d %s view is not valid for PostGIS: %s", c.ID, v.Level, reason)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d views checked", checked)
	}
}

// demoInPostGIS imports the demo district at scale 0.05 into a fresh
// database.
func demoInPostGIS(t *testing.T) (*pgxpool.Pool, *layers.Store) {
	t.Helper()
	pool := pgtest.New(t)
	var fs []layers.Feature
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	st := layers.NewStore(pool, layers.Governance())
	if _, err := st.Import(context.Background(), layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	return pool, st
}
