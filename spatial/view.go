package spatial

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// maxChord is the largest gap, in metres, between a circular arc and the
// chords that stand for it in a view polygon. Chords lie inside the circle,
// so a view errs on the small side, by at most maxChord at its far edge.
const maxChord = 0.05

func arcStep(r float64) float64 {
	s := 5 * deg
	if r > maxChord {
		s = math.Min(s, 2*math.Acos(1-maxChord/r))
	}
	return s
}

// arc appends the points of the circle (eye, r) from angle a0 to a1
// (absolute radians, a0 ≤ a1), both ends included.
func arc(dst []orb.Point, eye orb.Point, r, a0, a1 float64) []orb.Point {
	n := int(math.Ceil((a1 - a0) / arcStep(r)))
	n = max(n, 1)
	for k := 0; k <= n; k++ {
		a := a0 + (a1-a0)*float64(k)/float64(n)
		dst = append(dst, orb.Point{eye[0] + r*math.Cos(a), eye[1] + r*math.Sin(a)})
	}
	return dst
}

// circleAngles appends the angles (relative to start) at which the line
// a–b meets the circle (eye, r).
func circleAngles(dst []float64, eye orb.Point, r, start float64, a, b orb.Point) []float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	fx, fy := a[0]-eye[0], a[1]-eye[1]
	qa := dx*dx + dy*dy
	qb := 2 * (fx*dx + fy*dy)
	qc := fx*fx + fy*fy - r*r
	disc := qb*qb - 4*qa*qc
	if qa == 0 || disc < 0 {
		return dst
	}
	sq := math.Sqrt(disc)
	for _, u := range []float64{(-qb - sq) / (2 * qa), (-qb + sq) / (2 * qa)} {
		x, y := fx+u*dx, fy+u*dy
		dst = append(dst, normAngle(math.Atan2(y, x)-start))
	}
	return dst
}

// outerPiece is a piece of a view's outer boundary: a straight stretch of
// wall from p0 to p1, or the far arc from angle a0 to a1.
type outerPiece struct {
	arc    bool
	a0, a1 float64
	p0, p1 orb.Point
}

type viewPart struct {
	outer    []outerPiece
	from, to float64 // relative angles
}

// Polygon cuts the sweep to the ring near ≤ r ≤ far (near ≥ 0, far ≤ the
// sweep's radius) and returns the visible region as polygons in the
// sweep's frame: the part of the sector that is closer to the eye than the
// first wall along each ray and within the ring. Empty when nothing is
// visible. Arcs are sampled per maximal arc, so how the sweep's spans are
// split does not change the polygon.
func (sw Sweep) Polygon(near, far float64) orb.MultiPolygon {
	far = math.Min(far, sw.Radius)
	if !(far > near) || len(sw.Spans) == 0 {
		return nil
	}
	eye := sw.Eye
	var parts []viewPart
	var cur *viewPart
	flush := func() {
		if cur != nil {
			parts = append(parts, *cur)
			cur = nil
		}
	}
	var cuts []float64
	for _, sp := range sw.Spans {
		cuts = append(cuts[:0], sp.From, sp.To)
		if !sp.Open {
			cuts = circleAngles(cuts, eye, far, sw.Start, sp.A, sp.B)
			if near > 0 {
				cuts = circleAngles(cuts, eye, near, sw.Start, sp.A, sp.B)
			}
		}
		sort.Float64s(cuts)
		for k := 0; k+1 < len(cuts); k++ {
			t0, t1 := cuts[k], cuts[k+1]
			if t0 < sp.From || t1 > sp.To || t1 <= t0 {
				continue
			}
			a0, a1 := sw.Start+t0, sw.Start+t1
			dist := func(a float64) float64 {
				if sp.Open {
					return math.Inf(1)
				}
				return rayDist(eye, math.Cos(a), math.Sin(a), sp.A, sp.B)
			}
			dm := dist((a0 + a1) / 2)
			if !(dm > near) {
				flush()
				continue
			}
			if cur == nil {
				cur = &viewPart{from: t0}
			}
			cur.to = t1
			if dm < far {
				pt := func(a float64) orb.Point {
					d := math.Max(near, math.Min(far, dist(a)))
					return orb.Point{eye[0] + d*math.Cos(a), eye[1] + d*math.Sin(a)}
				}
				cur.outer = append(cur.outer, outerPiece{a0: a0, a1: a1, p0: pt(a0), p1: pt(a1)})
			} else if n := len(cur.outer); n > 0 && cur.outer[n-1].arc && cur.outer[n-1].a1 == a0 {
				cur.outer[n-1].a1 = a1
			} else {
				cur.outer = append(cur.outer, outerPiece{arc: true, a0: a0, a1: a1})
			}
		}
	}
	flush()
	if len(parts) == 0 {
		return nil
	}
	full := sw.Width >= 2*math.Pi-1e-12
	if full && len(parts) > 1 && parts[0].from == 0 && parts[len(parts)-1].to >= sw.Width {
		l := parts[len(parts)-1]
		for i := range l.outer { // continue the last part's angles past 2π
			l.outer[i].a0 -= 2 * math.Pi
			l.outer[i].a1 -= 2 * math.Pi
		}
		o := l.outer
		if f := parts[0].outer; len(o) > 0 && len(f) > 0 && o[len(o)-1].arc && f[0].arc {
			o[len(o)-1].a1 = f[0].a1
			f = f[1:]
			o = append(o, f...)
		} else {
			o = append(o, f...)
		}
		parts[0].outer = o
		parts[0].from = l.from - sw.Width
		parts = parts[:len(parts)-1]
	}
	var mp orb.MultiPolygon
	for _, p := range parts {
		var outer []orb.Point
		for _, op := range p.outer {
			if op.arc {
				for _, q := range arc(nil, eye, far, op.a0, op.a1) {
					outer = appendPt(outer, q)
				}
			} else {
				outer = appendPt(outer, op.p0)
				outer = appendPt(outer, op.p1)
			}
		}
		if full && len(parts) == 1 && p.from <= 0 && p.to >= sw.Width {
			poly := orb.Polygon{closeRing(outer)}
			if near > 0 {
				hole := arc(nil, eye, near, 0, 2*math.Pi)
				reverse(hole)
				poly = append(poly, closeRing(hole))
			}
			mp = append(mp, poly)
			continue
		}
		ring := outer
		if near > 0 {
			in := arc(nil, eye, near, sw.Start+p.from, sw.Start+p.to)
			reverse(in)
			for _, q := range in {
				ring = appendPt(ring, q)
			}
		} else {
			ring = appendPt(ring, eye)
		}
		if r := closeRing(ring); len(r) >= 4 && math.Abs(ringArea(r)) > 0 {
			mp = append(mp, orb.Polygon{r})
		}
	}
	return mp
}

func appendPt(r []orb.Point, p orb.Point) []orb.Point {
	if n := len(r); n > 0 && r[n-1] == p {
		return r
	}
	return append(r, p)
}

func reverse(r []orb.Point) {
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
}

// clean drops from a closed-up ring the points that nearly repeat their
// predecessor and the vertices where it runs straight on or doubles back
// (the spikes that a span too narrow to see leaves): rings stay simple.
func clean(r []orb.Point) []orb.Point {
	const eps = 1e-7 // m
	r = append([]orb.Point(nil), r...)
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(r) && len(r) >= 3; {
			n := len(r)
			a, b, c := r[(i+n-1)%n], r[i], r[(i+1)%n]
			acx, acy := c[0]-a[0], c[1]-a[1]
			lac := math.Hypot(acx, acy)
			// b repeats a, or lies on the line a–c (straight on or a spike)
			if math.Hypot(b[0]-a[0], b[1]-a[1]) < eps || lac < eps ||
				math.Abs(acx*(b[1]-a[1])-acy*(b[0]-a[0]))/lac < eps {
				r = append(r[:i], r[i+1:]...)
				changed = true
				if i > 0 {
					i--
				}
				continue
			}
			i++
		}
	}
	return r
}

func closeRing(r []orb.Point) orb.Ring {
	for len(r) > 1 && r[len(r)-1] == r[0] {
		r = r[:len(r)-1]
	}
	r = clean(r)
	if len(r) < 3 {
		return nil
	}
	for len(r) > 1 && r[len(r)-1] == r[0] {
		r = r[:len(r)-1]
	}
	if len(r) == 0 {
		return nil
	}
	return append(orb.Ring(r), r[0])
}
