// Package grid is Hexward's management grid (网格) on H3 cells: the cell of
// a feature, the cover of a polygon and the geometry of a cell. It knows
// nothing of storage or HTTP.
package grid

import (
	"fmt"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

// DefaultResolution is the H3 resolution of the management grid: res 10
// cells are about 15,000 m², close to the national 10,000 m² unit grid.
const DefaultResolution = 10

// Anchor returns the point that stands for a geometry when it is given one
// cell: a point itself, the middle vertex of a line, the centroid of a
// polygon (or, when the centroid falls outside, its first vertex).
func Anchor(g orb.Geometry) (orb.Point, bool) {
	switch g := g.(type) {
	case orb.Point:
		return g, true
	case orb.MultiPoint:
		if len(g) > 0 {
			return g[0], true
		}
	case orb.LineString:
		if len(g) > 0 {
			return g[len(g)/2], true
		}
	case orb.MultiLineString:
		if len(g) > 0 {
			return Anchor(g[0])
		}
	case orb.Polygon:
		if len(g) == 0 || len(g[0]) == 0 {
			return orb.Point{}, false
		}
		c, _ := planar.CentroidArea(g)
		if planar.PolygonContains(g, c) {
			return c, true
		}
		return g[0][0], true
	case orb.MultiPolygon:
		if len(g) > 0 {
			return Anchor(g[0])
		}
	}
	return orb.Point{}, false
}

// CellOf returns the H3 cell at resolution res that holds the geometry's
// anchor point.
func CellOf(g orb.Geometry, res int) (h3.Cell, error) {
	p, ok := Anchor(g)
	if !ok {
		return 0, fmt.Errorf("grid: empty geometry has no cell")
	}
	if res < 0 || res > 15 {
		return 0, fmt.Errorf("grid: resolution %d outside 0-15", res)
	}
	return h3.LatLngToCell(h3.NewLatLng(p.Lat(), p.Lon()), res), nil
}

// CellPolygon returns the boundary of a cell as an orb polygon (lon/lat,
// closed, counter-clockwise).
func CellPolygon(c h3.Cell) orb.Polygon {
	b := c.Boundary()
	ring := make(orb.Ring, 0, len(b)+1)
	for _, ll := range b {
		ring = append(ring, orb.Point{ll.Lng, ll.Lat})
	}
	ring = append(ring, ring[0])
	if ring.Orientation() != orb.CCW {
		ring.Reverse()
	}
	return orb.Polygon{ring}
}
