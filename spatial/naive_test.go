package spatial_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// naiveViewSQL is the occluded view done the naive way in PostGIS: the
// camera's ring sector ($3, lon/lat WKB) minus every nearby building and
// its shadow (the convex hull of the footprint and its vertices pushed
// $4 m away from the eye ($1, $2)), in EPSG:3857; the result's area on
// the spheroid.
const naiveViewSQL = `
WITH e AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 3857) AS p),
sec AS (SELECT ST_Transform(ST_GeomFromWKB($3, 4326), 3857) AS g),
pts AS (
	SELECT b.id, b.geom3857 AS fp, (ST_DumpPoints(b.geom3857)).geom AS v
	FROM features b, sec
	WHERE b.layer = 'buildings' AND b.geom3857 && ST_Expand(sec.g, 1)),
sh AS (
	SELECT ST_ConvexHull(ST_Collect(ST_Collect(fp), ST_Collect(ST_SetSRID(ST_MakePoint(
		ST_X(v) + (ST_X(v) - ST_X(e.p)) / GREATEST(ST_Distance(v, e.p), 1e-9) * $4,
		ST_Y(v) + (ST_Y(v) - ST_Y(e.p)) / GREATEST(ST_Distance(v, e.p), 1e-9) * $4), 3857)))) AS g
	FROM pts, e GROUP BY id)
SELECT COALESCE(ST_Area(ST_Transform(ST_Difference(sec.g, (SELECT ST_Union(g) FROM sh)), 4326)::geography),
	ST_Area(ST_Transform(sec.g, 4326)::geography))
FROM sec`

// TestNaivePostGISComparison times the naive PostGIS occlusion against the
// Go sweep on the same cameras (detect level), logs the ratio (no timing
// assertion), and checks that both give about the same area.
func TestNaivePostGISComparison(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	var fs []layers.Feature
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	st := layers.NewStore(pool, layers.Governance())
	if _, err := st.Import(ctx, layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
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
	empty := spatial.NewObstacles(nil)
	var goTime, pgTime time.Duration
	var goArea, pgArea float64
	for _, c := range sample {
		t0 := time.Now()
		vs, err := m.Views(c)
		if err != nil {
			t.Fatal(err)
		}
		goTime += time.Since(t0)
		v := vs[0]
		if len(v.Geometry) == 0 {
			continue
		}
		b := c.Bearing * math.Pi / 180
		eye, _ := m.Obstacles().Eye(m.Frame.ToXY(c.Pos), [2]float64{math.Sin(b), math.Cos(b)})
		h := c.HFOV()
		sector := empty.Visibility(eye, (90-c.Bearing-h/2)*math.Pi/180, h*math.Pi/180, v.Range, nil).Polygon(v.Near, v.Range)
		wb, err := wkb.Marshal(m.Frame.Unproject(sector).(orb.MultiPolygon))
		if err != nil {
			t.Fatal(err)
		}
		ll := m.Frame.ToLonLat(eye)
		var a float64
		t0 = time.Now()
		if err := pool.QueryRow(ctx, naiveViewSQL, ll[0], ll[1], wb, 2*v.Range+10).Scan(&a); err != nil {
			t.Fatal(err)
		}
		pgTime += time.Since(t0)
		goArea += v.Area()
		pgArea += a
	}
	t.Logf("%d cameras: Go sweep (all %d levels) %v, naive PostGIS (one level) %v: ratio %.0f×; detect areas Go %.1f m², PostGIS %.1f m²",
		len(sample), len(m.Levels), goTime, pgTime, float64(pgTime)/float64(goTime), goArea, pgArea)
	if pgArea == 0 || math.Abs(goArea-pgArea) > 0.02*pgArea {
		t.Fatalf("occluded areas disagree: Go %v m², PostGIS %v m²", goArea, pgArea)
	}
}
