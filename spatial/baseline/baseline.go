// Package baseline computes occluded camera views the naive way in
// PostGIS, to measure package spatial against: the camera's ring sector
// minus every nearby building and its shadow, with ST_Difference. It is
// what a GIS analyst would write first; Compare times it against the Go
// sweep on the same cameras.
package baseline

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/hexward/hexward/spatial"
)

// ViewSQL is the occluded view done the naive way: the camera's ring
// sector ($3, lon/lat WKB) minus every nearby building and its shadow (the
// convex hull of the footprint and its vertices pushed $4 m away from the
// eye ($1, $2)), in EPSG:3857; the result's area on the spheroid.
const ViewSQL = `
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

// Comparison is the same cameras' views at the lowest level, by the Go
// sweep of m (all levels) and by ViewSQL (that level only).
type Comparison struct {
	Cameras         int           // cameras that see something at the level
	Go, PostGIS     time.Duration // total time of each
	GoM2, PostGISM2 float64       // total view area of each
}

// Ratio is how many times longer the naive PostGIS views took.
func (c Comparison) Ratio() float64 { return float64(c.PostGIS) / float64(max(c.Go, 1)) }

// Compare computes the views of cams with m and with ViewSQL on pool (which
// holds the buildings m was built from).
func Compare(ctx context.Context, pool *pgxpool.Pool, m *spatial.Model, cams []spatial.Camera) (Comparison, error) {
	var out Comparison
	empty := spatial.NewObstacles(nil)
	for _, c := range cams {
		t0 := time.Now()
		vs, err := m.Views(c)
		if err != nil {
			return out, err
		}
		out.Go += time.Since(t0)
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
			return out, err
		}
		ll := m.Frame.ToLonLat(eye)
		var a float64
		t0 = time.Now()
		if err := pool.QueryRow(ctx, ViewSQL, ll[0], ll[1], wb, 2*v.Range+10).Scan(&a); err != nil {
			return out, fmt.Errorf("naive view of camera %d: %w", c.ID, err)
		}
		out.PostGIS += time.Since(t0)
		out.Cameras++
		out.GoM2 += v.Area()
		out.PostGISM2 += a
	}
	return out, nil
}
