package spatial

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

type ipt struct{ x, y int32 }

type tedge struct {
	from, to ipt
	used     bool
}

// polygons traces the outline of a set of cells (normalized spans) into
// polygons in the grid's frame: outer rings counter-clockwise, holes
// clockwise, cells that touch only at a corner in separate rings.
func (g grid) polygons(s spanRows) orb.MultiPolygon {
	var es []tedge
	empty := []span{}
	diff := func(a, b []span, fn func(span)) { // a minus b
		t := spanRows{append([]span(nil), a...)}
		t.subtract(spanRows{b})
		for _, x := range t[0] {
			fn(x)
		}
	}
	for r := range s {
		below, above := empty, empty
		if r > 0 {
			below = s[r-1]
		}
		if r+1 < len(s) {
			above = s[r+1]
		}
		y := int32(r)
		diff(s[r], below, func(x span) { es = append(es, tedge{from: ipt{x.a, y}, to: ipt{x.b, y}}) })
		diff(s[r], above, func(x span) { es = append(es, tedge{from: ipt{x.b, y + 1}, to: ipt{x.a, y + 1}}) })
		for _, x := range s[r] {
			es = append(es, tedge{from: ipt{x.b, y}, to: ipt{x.b, y + 1}}, tedge{from: ipt{x.a, y + 1}, to: ipt{x.a, y}})
		}
	}
	out := map[ipt][]int{}
	for i, e := range es {
		out[e.from] = append(out[e.from], i)
	}
	sgn := func(v int32) int32 {
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return 0
	}
	dir := func(e tedge) ipt { return ipt{sgn(e.to.x - e.from.x), sgn(e.to.y - e.from.y)} }
	var outers, holes []orb.Ring
	for i := range es {
		if es[i].used {
			continue
		}
		var pts []ipt
		cur := i
		for {
			e := &es[cur]
			e.used = true
			d := dir(*e)
			if n := len(pts); n >= 2 {
				p, q := pts[n-2], pts[n-1]
				if (ipt{sgn(q.x - p.x), sgn(q.y - p.y)}) == d {
					pts = pts[:n-1] // collinear
				}
			}
			if len(pts) == 0 {
				pts = append(pts, e.from)
			}
			pts = append(pts, e.to)
			next := -1
			left := ipt{-d.y, d.x}
			for _, k := range out[e.to] {
				if es[k].used {
					continue
				}
				if next < 0 || dir(es[k]) == left {
					next = k
				}
			}
			if next < 0 {
				break
			}
			cur = next
		}
		// close: drop the repeated start, merge a collinear seam
		if n := len(pts); n > 1 && pts[n-1] == pts[0] {
			pts = pts[:n-1]
		}
		if n := len(pts); n >= 3 {
			a, b, c := pts[n-1], pts[0], pts[1]
			if sgn(b.x-a.x) == sgn(c.x-b.x) && sgn(b.y-a.y) == sgn(c.y-b.y) {
				pts = pts[1:]
			}
		}
		// A ring that passes a corner twice (cells meeting diagonally
		// within one connected outline) is not a simple ring: split it
		// there into simple ones, each an outer ring or a hole by its
		// orientation.
		for _, cyc := range simpleCycles(pts) {
			if len(cyc) < 3 {
				continue
			}
			ring := make(orb.Ring, 0, len(cyc)+1)
			for _, p := range cyc {
				ring = append(ring, orb.Point{g.x0 + float64(p.x)*g.cell, g.y0 + float64(p.y)*g.cell})
			}
			ring = append(ring, ring[0])
			if ringArea(ring) > 0 {
				outers = append(outers, ring)
			} else {
				holes = append(holes, ring)
			}
		}
	}
	mp := make(orb.MultiPolygon, len(outers))
	var tr rtree.RTreeG[int]
	areas := make([]float64, len(outers))
	for i, r := range outers {
		mp[i] = orb.Polygon{r}
		b := r.Bound()
		tr.Insert(b.Min, b.Max, i)
		areas[i] = ringArea(r)
	}
	for _, h := range holes {
		// a point just inside the set, beside the hole's first edge
		a, b := h[0], h[1]
		l := math.Hypot(b[0]-a[0], b[1]-a[1])
		p := orb.Point{(a[0]+b[0])/2 - (b[1]-a[1])/l*g.cell/4, (a[1]+b[1])/2 + (b[0]-a[0])/l*g.cell/4}
		best := -1
		tr.Search(p, p, func(_, _ [2]float64, i int) bool {
			if (best < 0 || areas[i] < areas[best]) && inRing(outers[i], p) {
				best = i
			}
			return true
		})
		if best >= 0 {
			mp[best] = append(mp[best], h)
		}
	}
	sort.SliceStable(mp, func(i, j int) bool { return polyArea(mp[i]) > polyArea(mp[j]) })
	return mp
}

func inRing(r []orb.Point, p orb.Point) bool {
	in := false
	n := len(r)
	for k := range n {
		a, b := r[k], r[(k+1)%n]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

// inPolys reports whether p is inside the multipolygon (even-odd).
func inPolys(mp orb.MultiPolygon, p orb.Point) bool {
	in := false
	for _, poly := range mp {
		for _, r := range poly {
			if inRing(r, p) {
				in = !in
			}
		}
	}
	return in
}

// simpleCycles splits a closed cycle of vertices (the first not repeated
// at the end) at every vertex it passes more than once, into cycles that
// pass each vertex once.
func simpleCycles(pts []ipt) [][]ipt {
	var out [][]ipt
	work := [][]ipt{pts}
	for len(work) > 0 {
		c := work[len(work)-1]
		work = work[:len(work)-1]
		seen := make(map[ipt]int, len(c))
		split := false
		for j, p := range c {
			if i, ok := seen[p]; ok {
				inner := append([]ipt(nil), c[i:j]...)
				outer := append(append([]ipt(nil), c[:i]...), c[j:]...)
				work = append(work, inner, outer)
				split = true
				break
			}
			seen[p] = j
		}
		if !split {
			out = append(out, c)
		}
	}
	return out
}
