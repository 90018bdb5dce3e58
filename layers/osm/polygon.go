package osm

import (
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"
)

// joinRings joins way node lists end to end into closed rings, reversing
// ways as needed, the way multipolygon members are drawn. It returns the
// closed rings and how many chains could not be closed.
func joinRings(ways [][]osm.NodeID) (rings [][]osm.NodeID, open int) {
	pool := make([][]osm.NodeID, 0, len(ways))
	for _, w := range ways {
		if len(w) >= 2 {
			pool = append(pool, w)
		} else {
			open++
		}
	}
	for len(pool) > 0 {
		ring := slices.Clone(pool[0])
		pool = pool[1:]
		for ring[0] != ring[len(ring)-1] {
			end := ring[len(ring)-1]
			next := -1
			for i, w := range pool {
				switch end {
				case w[0]:
					ring = append(ring, w[1:]...)
				case w[len(w)-1]:
					for j := len(w) - 2; j >= 0; j-- {
						ring = append(ring, w[j])
					}
				default:
					continue
				}
				next = i
				break
			}
			if next < 0 {
				break
			}
			pool = slices.Delete(pool, next, next+1)
		}
		if ring[0] == ring[len(ring)-1] {
			rings = append(rings, ring)
		} else {
			open++
		}
	}
	return rings, open
}

// dedupe drops consecutive repeated points.
func dedupe(ls orb.LineString) orb.LineString {
	if len(ls) < 2 {
		return ls
	}
	out := ls[:1]
	for _, p := range ls[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	return out
}

// cleanRing turns a closed line into a ring without repeated points. It
// reports false for a degenerate ring: fewer than three distinct points or
// no area.
func cleanRing(ls orb.LineString) (orb.Ring, bool) {
	ls = dedupe(ls)
	if len(ls) < 4 || ls[0] != ls[len(ls)-1] {
		return nil, false
	}
	r := orb.Ring(ls)
	if r.Orientation() == 0 {
		return nil, false
	}
	return r, true
}

// assemble builds a Polygon (one outer ring) or a MultiPolygon from outer
// and inner rings, orienting outer rings counter-clockwise and holes
// clockwise (RFC 7946). Each hole goes to the smallest outer ring holding
// all its points; holes inside no outer ring are left out and counted.
// It returns nil when there is no outer ring.
func assemble(outers, inners []orb.Ring) (orb.Geometry, int) {
	if len(outers) == 0 {
		return nil, len(inners)
	}
	polys := make([]orb.Polygon, len(outers))
	areas := make([]float64, len(outers))
	for i, r := range outers {
		if r.Orientation() != orb.CCW {
			r.Reverse()
		}
		polys[i] = orb.Polygon{r}
		areas[i] = planar.Area(r)
	}
	orphans := 0
	for _, h := range inners {
		if h.Orientation() != orb.CW {
			h.Reverse()
		}
		best := -1
		for i, r := range outers {
			if (best < 0 || areas[i] < areas[best]) && ringHolds(r, h) {
				best = i
			}
		}
		if best < 0 {
			orphans++
			continue
		}
		polys[best] = append(polys[best], h)
	}
	if len(polys) == 1 {
		return polys[0], orphans
	}
	return orb.MultiPolygon(polys), orphans
}

// ringHolds reports whether every point of h is inside r or on its edge.
func ringHolds(r, h orb.Ring) bool {
	if !r.Bound().Contains(h.Bound().Min) || !r.Bound().Contains(h.Bound().Max) {
		return false
	}
	for _, p := range h {
		if !planar.RingContains(r, p) {
			return false
		}
	}
	return true
}
