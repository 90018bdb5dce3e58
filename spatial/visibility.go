package spatial

import (
	"container/heap"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Obstacles are opaque building footprints in a metric frame (x east, y
// north, metres), indexed by an R-tree so that a sweep reads only the edges
// near the camera.
type Obstacles struct {
	polys []orb.Polygon
	tree  rtree.RTreeG[int32]
}

// NewObstacles indexes footprints given in metres (see Frame.Project).
// Holes are walls too. Rings need not be closed or oriented.
func NewObstacles(footprints []orb.Polygon) *Obstacles {
	o := &Obstacles{polys: footprints}
	for i, p := range footprints {
		if len(p) == 0 || len(p[0]) < 3 {
			continue
		}
		b := p.Bound()
		o.tree.Insert(b.Min, b.Max, int32(i))
	}
	return o
}

// Len is the number of footprints.
func (o *Obstacles) Len() int { return len(o.polys) }

// seg is an obstacle edge.
type seg struct{ a, b orb.Point }

// inside reports whether p is inside footprint i (even-odd over its rings)
// or within eps of its boundary.
func (o *Obstacles) inside(i int, p orb.Point, eps float64) bool {
	in := false
	for _, r := range o.polys[i] {
		n := len(r)
		for k := range n {
			a, b := r[k], r[(k+1)%n]
			if distSeg(p, a, b) <= eps {
				return true
			}
			if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
				in = !in
			}
		}
	}
	return in
}

// Blocked returns the footprints that hold p or pass within eps of it.
func (o *Obstacles) Blocked(p orb.Point, eps float64) []int {
	var out []int
	o.tree.Search([2]float64{p[0] - eps, p[1] - eps}, [2]float64{p[0] + eps, p[1] + eps}, func(_, _ [2]float64, i int32) bool {
		if o.inside(int(i), p, eps) {
			out = append(out, int(i))
		}
		return true
	})
	return out
}

func distSeg(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l2))
	}
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}

// Clearance for placing an eye: a camera on a wall is moved off it.
const (
	wallEps  = 0.02 // closer than this to a wall counts as on it
	nudgeMax = 1.0  // how far a camera is moved to get off its wall
)

// Eye returns where the camera looks from: p itself when it is clear of
// every footprint, else p moved along dir (unit vector; then along the
// outward normal of the nearest wall) by up to 1 m until it is clear.
// ignore lists the footprints the eye is still inside or on, which the
// sweep then treats as transparent (a camera mounted inside a wall).
func (o *Obstacles) Eye(p orb.Point, dir [2]float64) (eye orb.Point, ignore []int) {
	if len(o.Blocked(p, wallEps)) == 0 {
		return p, nil
	}
	dirs := [][2]float64{dir}
	if n, ok := o.wallNormal(p); ok {
		dirs = append(dirs, n)
	}
	for _, d := range dirs {
		for s := 0.05; s <= nudgeMax+1e-9; s += 0.05 {
			q := orb.Point{p[0] + s*d[0], p[1] + s*d[1]}
			if len(o.Blocked(q, wallEps)) == 0 {
				return q, nil
			}
		}
	}
	return p, o.Blocked(p, wallEps)
}

// wallNormal is the unit normal of the wall nearest p, pointing from the
// wall towards the side away from its footprint's interior.
func (o *Obstacles) wallNormal(p orb.Point) ([2]float64, bool) {
	best, bn := math.Inf(1), [2]float64{}
	o.tree.Search([2]float64{p[0] - 1, p[1] - 1}, [2]float64{p[0] + 1, p[1] + 1}, func(_, _ [2]float64, i int32) bool {
		for _, r := range o.polys[i] {
			n := len(r)
			for k := range n {
				a, b := r[k], r[(k+1)%n]
				if d := distSeg(p, a, b); d < best {
					l := math.Hypot(b[0]-a[0], b[1]-a[1])
					if l == 0 {
						continue
					}
					nx, ny := (b[1]-a[1])/l, -(b[0]-a[0])/l
					m := orb.Point{(a[0]+b[0])/2 + 0.01*nx, (a[1]+b[1])/2 + 0.01*ny}
					if o.inside(int(i), m, 0) {
						nx, ny = -nx, -ny
					}
					best, bn = d, [2]float64{nx, ny}
				}
			}
		}
		return true
	})
	return bn, !math.IsInf(best, 1)
}

// Sweep is a visibility polygon in polar form around Eye: Spans cover the
// sector [Start, Start+Width] (radians, counter-clockwise from east) in
// order, each with the edge that is nearest along its rays (or none).
type Sweep struct {
	Eye          orb.Point
	Start, Width float64
	Radius       float64
	Spans        []Span
}

// Span is an angular interval [From, To] (radians, relative to
// Sweep.Start) whose rays first hit the edge A→B, or nothing within the
// radius when Open.
type Span struct {
	From, To float64
	A, B     orb.Point
	Open     bool
}

// piece is a segment's angular interval clipped to the sector.
type piece struct {
	s, e float64 // relative to start
	a, b orb.Point
	hi   int // heap index
}

type sweepHeap struct {
	items []*piece
	eye   orb.Point
	start float64
}

func (h *sweepHeap) Len() int { return len(h.items) }
func (h *sweepHeap) Less(i, j int) bool {
	p, q := h.items[i], h.items[j]
	// Edges do not cross, so their order along the rays is the same over
	// their common interval: compare in its middle (never at a shared end).
	m := h.start + (math.Max(p.s, q.s)+math.Min(p.e, q.e))/2
	c, s := math.Cos(m), math.Sin(m)
	return rayDist(h.eye, c, s, p.a, p.b) < rayDist(h.eye, c, s, q.a, q.b)
}
func (h *sweepHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].hi, h.items[j].hi = i, j
}
func (h *sweepHeap) Push(x any) { p := x.(*piece); p.hi = len(h.items); h.items = append(h.items, p) }
func (h *sweepHeap) Pop() any {
	n := len(h.items) - 1
	p := h.items[n]
	h.items = h.items[:n]
	p.hi = -1
	return p
}

// rayDist is the distance from e along the ray (c, s) to the line a–b
// (+Inf when parallel).
func rayDist(e orb.Point, c, s float64, a, b orb.Point) float64 {
	bx, by := b[0]-a[0], b[1]-a[1]
	den := c*by - s*bx
	if den == 0 {
		return math.Inf(1)
	}
	return ((a[0]-e[0])*by - (a[1]-e[1])*bx) / den
}

func normAngle(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a
}

// Visibility sweeps the sector [start, start+width] (radians, counter-
// clockwise from east; width ≤ 2π) around eye out to radius, among the
// footprints except those in ignore. It sorts the edges' angular endpoints
// and keeps the edges crossing the current ray in a heap ordered by
// distance along the ray: O(n log n) for the n edges near eye.
func (o *Obstacles) Visibility(eye orb.Point, start, width, radius float64, ignore []int) Sweep {
	width = math.Min(width, 2*math.Pi)
	start = normAngle(start)
	sw := Sweep{Eye: eye, Start: start, Width: width, Radius: radius}
	var pieces []*piece
	add := func(s, e float64, a, b orb.Point) {
		s, e = math.Max(s, 0), math.Min(e, width)
		if e > s {
			pieces = append(pieces, &piece{s: s, e: e, a: a, b: b})
		}
	}
	o.tree.Search([2]float64{eye[0] - radius, eye[1] - radius}, [2]float64{eye[0] + radius, eye[1] + radius}, func(_, _ [2]float64, i int32) bool {
		for _, ig := range ignore {
			if ig == int(i) {
				return true
			}
		}
		for _, r := range o.polys[i] {
			n := len(r)
			if n > 1 && r[0] == r[n-1] {
				n--
			}
			for k := range n {
				a, b := r[k], r[(k+1)%n]
				if distSeg(eye, a, b) >= radius {
					continue
				}
				ax, ay := a[0]-eye[0], a[1]-eye[1]
				bx, by := b[0]-eye[0], b[1]-eye[1]
				cr := ax*by - ay*bx
				if cr == 0 {
					continue // edge-on: hides no area
				}
				if cr < 0 {
					a, b, ax, ay, bx, by = b, a, bx, by, ax, ay
				}
				s := normAngle(math.Atan2(ay, ax) - start)
				span := math.Atan2(math.Abs(cr), ax*bx+ay*by)
				if s+span > 2*math.Pi {
					add(s, 2*math.Pi, a, b)
					add(0, s+span-2*math.Pi, a, b)
				} else {
					add(s, s+span, a, b)
				}
			}
		}
		return true
	})
	type event struct {
		at float64
		in bool
		p  *piece
	}
	ev := make([]event, 0, 2*len(pieces))
	for _, p := range pieces {
		ev = append(ev, event{p.s, true, p}, event{p.e, false, p})
	}
	sort.Slice(ev, func(i, j int) bool {
		if ev[i].at != ev[j].at {
			return ev[i].at < ev[j].at
		}
		return !ev[i].in && ev[j].in // removals first
	})
	h := &sweepHeap{eye: eye, start: start}
	emit := func(from, to float64) {
		if to <= from {
			return
		}
		var sp Span
		if h.Len() == 0 {
			sp = Span{From: from, To: to, Open: true}
		} else {
			t := h.items[0]
			sp = Span{From: from, To: to, A: t.a, B: t.b}
		}
		if n := len(sw.Spans); n > 0 {
			l := &sw.Spans[n-1]
			if l.Open == sp.Open && l.A == sp.A && l.B == sp.B {
				l.To = to
				return
			}
		}
		sw.Spans = append(sw.Spans, sp)
	}
	at := 0.0
	for i := 0; i < len(ev); {
		a := ev[i].at
		emit(at, a)
		at = a
		for ; i < len(ev) && ev[i].at == a; i++ {
			if ev[i].in {
				heap.Push(h, ev[i].p)
			} else if ev[i].p.hi >= 0 {
				heap.Remove(h, ev[i].p.hi)
			}
		}
	}
	emit(at, width)
	return sw
}
