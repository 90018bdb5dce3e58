package tiles

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/paulmach/orb"
)

// Scope limits a tile to the features whose anchor lies in Area.
//
// A feature is in the scope when its anchor point — grid.Anchor of its
// EPSG:4326 geometry, the same point the store keeps in its anchor column —
// lies inside Area or on its boundary (planar.MultiPolygonContains, the
// rule of ST_Intersects on the stored anchor). Area is not modified by the
// engine and must not be modified while a call that was given it runs.
type Scope struct {
	Key  string           // stable identity of the scope (e.g. the area code); part of the cache key
	Area orb.MultiPolygon // lon/lat
}

// scopeArea is the engine's own, prepared copy of a Scope: cached scoped
// tiles keep one so that Apply can render them again.
type scopeArea struct {
	id    string           // the cache key's scope: scopeID of the Scope
	area  orb.MultiPolygon // copy of Scope.Area without empty polygons and rings
	bound orb.Bound        // of area; valid when !empty
	polys [][]ringIndex    // the rings of each polygon of area, exterior first
	empty bool             // no polygon: nothing is in the scope
}

// scopeID is the scope part of a cache key: a 64-bit xxHash of Area's
// coordinates (16 hex digits) followed by Key. The hash makes a scope
// whose Area changed under the same Key a different cache entry, so a
// tile of the old area is never served for the new one even before
// ForgetScope drops it.
func scopeID(s *Scope) string {
	var d xxhash.Digest
	d.Reset()
	var buf [4096]byte
	n := 0
	flush := func() {
		d.Write(buf[:n])
		n = 0
	}
	put := func(v uint64) {
		if n+8 > len(buf) {
			flush()
		}
		binary.LittleEndian.PutUint64(buf[n:], v)
		n += 8
	}
	put(uint64(len(s.Area)))
	for _, p := range s.Area {
		put(uint64(len(p)))
		for _, r := range p {
			put(uint64(len(r)))
			for _, q := range r {
				if n+16 > len(buf) {
					flush()
				}
				b := buf[n : n+16]
				binary.LittleEndian.PutUint64(b, math.Float64bits(q[0]))
				binary.LittleEndian.PutUint64(b[8:], math.Float64bits(q[1]))
				n += 16
			}
		}
	}
	flush()
	x := strconv.FormatUint(d.Sum64(), 16)
	return strings.Repeat("0", 16-len(x)) + x + s.Key
}

// scopeKeyOf returns the Scope.Key of a cache key's scope id.
func scopeKeyOf(id string) string { return id[16:] }

// newScopeArea copies and prepares s; id is scopeID(s).
func newScopeArea(id string, s *Scope) *scopeArea {
	sc := &scopeArea{id: id, empty: true}
	for _, p := range s.Area {
		if len(p) == 0 || len(p[0]) == 0 {
			continue // planar cannot test a polygon without an exterior
		}
		var cp orb.Polygon
		var rings []ringIndex
		for _, r := range p {
			if len(r) > 0 {
				r = append(orb.Ring(nil), r...)
				cp = append(cp, r)
				rings = append(rings, newRingIndex(r))
			}
		}
		sc.area = append(sc.area, cp)
		sc.polys = append(sc.polys, rings)
		if b := rings[0].bound; sc.empty {
			sc.bound, sc.empty = b, false
		} else {
			sc.bound = sc.bound.Union(b)
		}
	}
	return sc
}

// contains reports whether p lies in the area or on its boundary. It gives
// planar.MultiPolygonContains's answer, bit for bit, in a time that does
// not grow with the number of vertices (see ringIndex).
func (sc *scopeArea) contains(p orb.Point) bool {
	if sc.empty || !sc.bound.Contains(p) {
		return false
	}
	for _, rings := range sc.polys {
		if !rings[0].contains(p) {
			continue
		}
		in := true
		for i := 1; i < len(rings) && in; i++ {
			in = !rings[i].contains(p)
		}
		if in {
			return true
		}
	}
	return false
}

// ringIndex is a ring with its edges bucketed by longitude, so that a
// point-in-ring test visits only the edges whose longitude range holds the
// point's: planar.RingContains casts its ray along the meridian, and an
// edge outside that range neither crosses the ray nor holds the point, so
// skipping it changes neither the parity of the crossings nor the
// on-boundary answer.
type ringIndex struct {
	ring   orb.Ring
	bound  orb.Bound
	x0, w  float64 // longitude of bucket 0 and bucket width
	starts []int32 // edges of bucket b: edges[starts[b]:starts[b+1]]; nil: visit every edge
	edges  []int32 // edge i joins ring[i] and ring[i+1]
}

// ringIndexMin is the fewest edges worth an index.
const ringIndexMin = 16

func newRingIndex(r orb.Ring) ringIndex {
	ri := ringIndex{ring: r, bound: r.Bound()}
	ne := len(r) - 1 // edges besides the closing one
	if ne < ringIndexMin {
		return ri
	}
	span := ri.bound.Max[0] - ri.bound.Min[0]
	if !(span > 0) {
		return ri
	}
	nb := min(ne/2, 4096)
	for ; nb > 1; nb /= 2 {
		// bound the index to 8 entries per edge: fewer, wider buckets
		// for rings of long edges
		ri.x0, ri.w = ri.bound.Min[0], span/float64(nb)
		total := 0
		for i := 0; i < ne; i++ {
			a, b := ri.bucket(r[i][0], nb), ri.bucket(r[i+1][0], nb)
			total += max(a, b) - min(a, b) + 1
		}
		if total <= 8*ne {
			break
		}
	}
	if nb <= 1 {
		return ri
	}
	count := make([]int32, nb+1)
	for i := 0; i < ne; i++ {
		a, b := ri.bucket(r[i][0], nb), ri.bucket(r[i+1][0], nb)
		for k := min(a, b); k <= max(a, b); k++ {
			count[k+1]++
		}
	}
	for k := 1; k <= nb; k++ {
		count[k] += count[k-1]
	}
	ri.starts = count
	ri.edges = make([]int32, count[nb])
	next := slices.Clone(count[:nb])
	for i := 0; i < ne; i++ {
		a, b := ri.bucket(r[i][0], nb), ri.bucket(r[i+1][0], nb)
		for k := min(a, b); k <= max(a, b); k++ {
			ri.edges[next[k]] = int32(i)
			next[k]++
		}
	}
	return ri
}

// bucket returns the bucket of longitude x, of nb: monotonic in x, so that
// an edge is listed in the bucket of every longitude of its range.
func (ri *ringIndex) bucket(x float64, nb int) int {
	return min(max(int((x-ri.x0)/ri.w), 0), nb-1)
}

// contains is planar.RingContains(ri.ring, p): true inside or on the ring.
func (ri *ringIndex) contains(p orb.Point) bool {
	if !ri.bound.Contains(p) {
		return false
	}
	r := ri.ring
	c, on := rayIntersect(p, r[0], r[len(r)-1])
	if on {
		return true
	}
	if ri.starts == nil {
		for i := 0; i < len(r)-1; i++ {
			inter, on := rayIntersect(p, r[i], r[i+1])
			if on {
				return true
			}
			if inter {
				c = !c
			}
		}
		return c
	}
	b := ri.bucket(p[0], len(ri.starts)-1)
	for _, i := range ri.edges[ri.starts[b]:ri.starts[b+1]] {
		inter, on := rayIntersect(p, r[i], r[i+1])
		if on {
			return true
		}
		if inter {
			c = !c
		}
	}
	return c
}

// rayIntersect is planar's test of one edge (github.com/paulmach/orb,
// planar/contains.go, MIT licence, Copyright (c) 2017 Paul Mach), which
// planar does not export: whether the ray from p crosses edge s–e, and
// whether p lies on it. It must stay the same as planar's for contains to
// give planar's answers; TestScopeTestMatchesPlanar checks that.
func rayIntersect(p, s, e orb.Point) (intersects, on bool) {
	if s[0] > e[0] {
		s, e = e, s
	}

	switch p[0] {
	case s[0]:
		if p[1] == s[1] {
			// p == start
			return false, true
		} else if s[0] == e[0] {
			// vertical segment (s -> e)
			// return true if within the line, check to see if start or end is greater.
			if s[1] > e[1] && s[1] >= p[1] && p[1] >= e[1] {
				return false, true
			}

			if e[1] > s[1] && e[1] >= p[1] && p[1] >= s[1] {
				return false, true
			}
		}

		// Move the y coordinate to deal with degenerate case
		p[0] = math.Nextafter(p[0], math.Inf(1))
	case e[0]:
		if p[1] == e[1] {
			// matching the end point
			return false, true
		}

		p[0] = math.Nextafter(p[0], math.Inf(1))
	}

	if p[0] < s[0] || p[0] > e[0] {
		return false, false
	}

	if s[1] > e[1] {
		if p[1] > s[1] {
			return false, false
		} else if p[1] < e[1] {
			return true, false
		}
	} else {
		if p[1] > e[1] {
			return false, false
		} else if p[1] < s[1] {
			return true, false
		}
	}

	rs := (p[1] - s[1]) / (p[0] - s[0])
	ds := (e[1] - s[1]) / (e[0] - s[0])

	if rs == ds {
		return false, true
	}

	return rs <= ds, false
}

// edges calls fn with every edge of the area's rings, closing edges
// included (as planar.RingContains tests them).
func (sc *scopeArea) edges(fn func(a, b orb.Point)) {
	for _, p := range sc.area {
		for _, r := range p {
			fn(r[len(r)-1], r[0])
			for i := 0; i+1 < len(r); i++ {
				fn(r[i], r[i+1])
			}
		}
	}
}

// scopeGrid is the number of cells per side of the grid a scoped render
// lays over its tile.
const scopeGrid = 16

// scopeEps widens every cell, in degrees (about 0.1 mm), when checking
// which cells the area's boundary touches, so that rounding cannot hide a
// touch.
const scopeEps = 1e-9

// Cell states of a scopeTest.
const (
	cellMixed uint8 = iota // the boundary touches the cell: test each anchor
	cellIn                 // the cell lies inside the area
	cellOut                // the cell lies outside the area
)

// scopeTest decides, for the features of one tile, whether their anchor is
// in the scope. It lays a grid of scopeGrid² cells over the tile's query
// box (lon/lat) and finds the cells that the area's boundary touches; every
// other cell lies wholly inside or wholly outside the area, which one
// point of each connected group of such cells decides. An anchor in such a
// cell needs no polygon test; any other anchor gets the full test.
type scopeTest struct {
	sc     *scopeArea
	box    orb.Bound // the tile's query box, lon/lat
	cw, ch float64   // cell size, degrees
	cells  [scopeGrid * scopeGrid]uint8
	queue  []int
}

// reset prepares the test for scope sc in tile t.
func (s *scopeTest) reset(sc *scopeArea, t *tileFrame) {
	s.sc = sc
	lo, hi := t.query() // normalised Web Mercator, y to the south
	sw, ne := unproject(orb.Point{lo[0], hi[1]}), unproject(orb.Point{hi[0], lo[1]})
	s.box = orb.Bound{Min: sw, Max: ne}
	s.cw = (ne[0] - sw[0]) / scopeGrid
	s.ch = (ne[1] - sw[1]) / scopeGrid
	if sc.empty || !s.box.Intersects(sc.bound.Pad(scopeEps)) {
		for i := range s.cells {
			s.cells[i] = cellOut
		}
		return
	}
	clear(s.cells[:]) // cellMixed is 0: the untouched cells are labelled below
	var untouched [scopeGrid * scopeGrid]bool
	for i := range untouched {
		untouched[i] = true
	}
	grown := s.box.Pad(scopeEps)
	sc.edges(func(a, b orb.Point) {
		if math.Max(a[0], b[0]) < grown.Min[0] || math.Min(a[0], b[0]) > grown.Max[0] ||
			math.Max(a[1], b[1]) < grown.Min[1] || math.Min(a[1], b[1]) > grown.Max[1] {
			return
		}
		// the cells whose grown bound meets the edge's (with a margin far
		// above the rounding of col and row); the exact test decides
		c0, c1 := s.col(math.Min(a[0], b[0])-2*scopeEps), s.col(math.Max(a[0], b[0])+2*scopeEps)
		r0, r1 := s.row(math.Min(a[1], b[1])-2*scopeEps), s.row(math.Max(a[1], b[1])+2*scopeEps)
		for r := max(r0, 0); r <= min(r1, scopeGrid-1); r++ {
			for c := max(c0, 0); c <= min(c1, scopeGrid-1); c++ {
				i := r*scopeGrid + c
				if untouched[i] && segmentTouches(a, b, s.cell(c, r).Pad(scopeEps)) {
					untouched[i] = false
				}
			}
		}
	})
	// label each 4-connected group of untouched cells by one point: no
	// boundary separates two untouched neighbours
	for i := range s.cells {
		if !untouched[i] || s.cells[i] != cellMixed {
			continue
		}
		state := cellOut
		if sc.contains(s.cell(i%scopeGrid, i/scopeGrid).Center()) {
			state = cellIn
		}
		s.cells[i] = state
		q := append(s.queue[:0], i)
		for len(q) > 0 {
			j := q[len(q)-1]
			q = q[:len(q)-1]
			c, r := j%scopeGrid, j/scopeGrid
			for _, n := range [4][2]int{{c - 1, r}, {c + 1, r}, {c, r - 1}, {c, r + 1}} {
				if n[0] < 0 || n[1] < 0 || n[0] >= scopeGrid || n[1] >= scopeGrid {
					continue
				}
				k := n[1]*scopeGrid + n[0]
				if untouched[k] && s.cells[k] == cellMixed {
					s.cells[k] = state
					q = append(q, k)
				}
			}
		}
		s.queue = q
	}
}

func (s *scopeTest) col(lon float64) int { return int(math.Floor((lon - s.box.Min[0]) / s.cw)) }
func (s *scopeTest) row(lat float64) int { return int(math.Floor((lat - s.box.Min[1]) / s.ch)) }

func (s *scopeTest) cell(c, r int) orb.Bound {
	x, y := s.box.Min[0]+float64(c)*s.cw, s.box.Min[1]+float64(r)*s.ch
	return orb.Bound{Min: orb.Point{x, y}, Max: orb.Point{x + s.cw, y + s.ch}}
}

// in reports whether the anchor of f lies in the scope.
func (s *scopeTest) in(f *feature) bool {
	if !f.anchored {
		return false
	}
	p := f.anchor
	if s.box.Contains(p) {
		c := min(max(s.col(p[0]), 0), scopeGrid-1)
		r := min(max(s.row(p[1]), 0), scopeGrid-1)
		switch s.cells[r*scopeGrid+c] {
		case cellIn:
			return true
		case cellOut:
			return false
		}
	}
	return s.sc.contains(p)
}

// segmentTouches reports whether segment ab meets box b (closed). It may
// err towards true when ab passes within rounding of b, never towards
// false: callers pass b grown by scopeEps.
func segmentTouches(a, c orb.Point, b orb.Bound) bool {
	if math.Max(a[0], c[0]) < b.Min[0] || math.Min(a[0], c[0]) > b.Max[0] ||
		math.Max(a[1], c[1]) < b.Min[1] || math.Min(a[1], c[1]) > b.Max[1] {
		return false
	}
	if b.Contains(a) || b.Contains(c) {
		return true
	}
	// the segment's bound meets the box and neither end is inside: it
	// crosses the box unless the box lies wholly on one side of its line
	dx, dy := c[0]-a[0], c[1]-a[1]
	pos, neg := false, false
	for _, q := range [4]orb.Point{b.Min, {b.Max[0], b.Min[1]}, b.Max, {b.Min[0], b.Max[1]}} {
		s := dx*(q[1]-a[1]) - dy*(q[0]-a[0])
		pos = pos || s >= 0
		neg = neg || s <= 0
	}
	return pos && neg
}
