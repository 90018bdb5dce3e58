package grid

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// Cover returns the cells at resolution res that cover the polygon (lon/lat,
// holes honoured): every cell whose centre is inside it (H3 polygonToCells)
// and every cell holding a point of its boundary, sampled at a quarter of
// the resolution's mean edge length, sorted. A polygon smaller than a cell
// gets the cell of its anchor.
func Cover(g orb.Geometry, res int) ([]h3.Cell, error) {
	if res < 0 || res > 15 {
		return nil, fmt.Errorf("grid: resolution %d outside 0-15", res)
	}
	var polys []orb.Polygon
	switch g := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{g}
	case orb.MultiPolygon:
		polys = g
	default:
		return nil, fmt.Errorf("grid: cannot cover a %T, want a polygon", g)
	}
	set := map[h3.Cell]bool{}
	step := h3.HexagonEdgeLengthAvgM(res) / 4
	for _, p := range polys {
		if len(p) == 0 || len(p[0]) < 4 {
			return nil, fmt.Errorf("grid: polygon has no outer ring of at least 3 points")
		}
		gp := h3.GeoPolygon{GeoLoop: loop(p[0])}
		for _, h := range p[1:] {
			gp.Holes = append(gp.Holes, loop(h))
		}
		for _, c := range h3.PolygonToCells(gp, res) {
			set[c] = true
		}
		// metres per degree, by a sphere: only the sampling density depends on it
		ky := 6371008.8 * math.Pi / 180
		kx := ky * math.Cos(p.Bound().Center().Lat()*math.Pi/180)
		for _, r := range p {
			for i := 1; i < len(r); i++ {
				a, b := r[i-1], r[i]
				n := int(math.Ceil(math.Hypot((b[0]-a[0])*kx, (b[1]-a[1])*ky) / step))
				for k := 0; k <= n; k++ {
					t := float64(k) / float64(max(n, 1))
					set[h3.LatLngToCell(h3.NewLatLng(a[1]+t*(b[1]-a[1]), a[0]+t*(b[0]-a[0])), res)] = true
				}
			}
		}
		if c, err := CellOf(p, res); err == nil {
			set[c] = true
		}
	}
	out := make([]h3.Cell, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}

func loop(r orb.Ring) h3.GeoLoop {
	l := make(h3.GeoLoop, 0, len(r))
	for i, p := range r {
		if i == len(r)-1 && p == r[0] {
			break
		}
		l = append(l, h3.NewLatLng(p[1], p[0]))
	}
	return l
}
