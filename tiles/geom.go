package tiles

import "math"

// Geometry helpers on tile coordinates (float64 before rounding, int32
// after). They work on caller-owned scratch slices so that rendering a
// tile allocates next to nothing.

type fpt struct{ x, y float64 }

type ipt struct{ x, y int32 }

// box is the clip box in tile coordinates: the extent plus the buffer.
type box struct{ x0, y0, x1, y1 float64 }

// clipRing clips a closed ring (without repeated closing point) to b with
// Sutherland–Hodgman. It writes into the scratch buffers s1 and s2 (never
// into src) and returns the clipped ring, which aliases one of them.
func clipRing(src []fpt, b box, s1, s2 *[]fpt) []fpt {
	a := src
	bufs := [2]*[]fpt{s1, s2}
	w := 0
	for edge := 0; edge < 4 && len(a) > 0; edge++ {
		c := (*bufs[w])[:0]
		prev := a[len(a)-1]
		pin := inside(prev, b, edge)
		for _, cur := range a {
			cin := inside(cur, b, edge)
			if cin {
				if !pin {
					c = append(c, intersectEdge(prev, cur, b, edge))
				}
				c = append(c, cur)
			} else if pin {
				c = append(c, intersectEdge(prev, cur, b, edge))
			}
			prev, pin = cur, cin
		}
		*bufs[w] = c
		a = c
		w ^= 1
	}
	return a
}

func inside(p fpt, b box, edge int) bool {
	switch edge {
	case 0:
		return p.x >= b.x0
	case 1:
		return p.x <= b.x1
	case 2:
		return p.y >= b.y0
	default:
		return p.y <= b.y1
	}
}

func intersectEdge(a, c fpt, b box, edge int) fpt {
	switch edge {
	case 0:
		return fpt{b.x0, a.y + (c.y-a.y)*(b.x0-a.x)/(c.x-a.x)}
	case 1:
		return fpt{b.x1, a.y + (c.y-a.y)*(b.x1-a.x)/(c.x-a.x)}
	case 2:
		return fpt{a.x + (c.x-a.x)*(b.y0-a.y)/(c.y-a.y), b.y0}
	default:
		return fpt{a.x + (c.x-a.x)*(b.y1-a.y)/(c.y-a.y), b.y1}
	}
}

// clipSegment clips segment a–c to b (Liang–Barsky). It reports whether
// anything is left and whether the start and end were moved.
func clipSegment(a, c fpt, b box) (p, q fpt, ok, startCut, endCut bool) {
	t0, t1 := 0.0, 1.0
	dx, dy := c.x-a.x, c.y-a.y
	for _, e := range [4][2]float64{{-dx, a.x - b.x0}, {dx, b.x1 - a.x}, {-dy, a.y - b.y0}, {dy, b.y1 - a.y}} {
		pp, qq := e[0], e[1]
		if pp == 0 {
			if qq < 0 {
				return p, q, false, false, false
			}
			continue
		}
		r := qq / pp
		if pp < 0 {
			if r > t1 {
				return p, q, false, false, false
			}
			if r > t0 {
				t0 = r
			}
		} else {
			if r < t0 {
				return p, q, false, false, false
			}
			if r < t1 {
				t1 = r
			}
		}
	}
	p, q = a, c
	if t0 > 0 {
		p = fpt{a.x + t0*dx, a.y + t0*dy}
	}
	if t1 < 1 {
		q = fpt{a.x + t1*dx, a.y + t1*dy}
	}
	return p, q, true, t0 > 0, t1 < 1
}

// clipLine clips an open line to b and appends the pieces to dst; ends
// receives the end index (exclusive) of each piece in dst.
func clipLine(src []fpt, b box, dst []fpt, ends []int) ([]fpt, []int) {
	open := false
	for i := 0; i+1 < len(src); i++ {
		p, q, ok, startCut, endCut := clipSegment(src[i], src[i+1], b)
		if !ok {
			if open {
				ends = append(ends, len(dst))
				open = false
			}
			continue
		}
		if !open || startCut {
			if open {
				ends = append(ends, len(dst))
			}
			dst = append(dst, p)
			open = true
		}
		dst = append(dst, q)
		if endCut {
			ends = append(ends, len(dst))
			open = false
		}
	}
	if open {
		ends = append(ends, len(dst))
	}
	return dst, ends
}

// simplify runs Douglas–Peucker with tolerance tol on pts in place and
// returns the kept points. For a closed ring pass closed=true: the ring is
// simplified as the open line p0…pn-1,p0 and returned without repeating p0
// (pts must have room for one more point). Rings of four points and lines
// of two are returned as they are. keep and stack are scratch.
func simplify(pts []fpt, tol float64, closed bool, keep []bool, stack [][2]int) ([]fpt, []bool, [][2]int) {
	n := len(pts)
	if n <= 2 || (closed && n <= 4) {
		return pts, keep, stack
	}
	if closed {
		pts = append(pts, pts[0])
	}
	last := len(pts) - 1
	keep = keep[:0]
	for i := 0; i <= last; i++ {
		keep = append(keep, false)
	}
	keep[0], keep[last] = true, true
	tol2 := tol * tol
	stack = append(stack[:0], [2]int{0, last})
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, j := s[0], s[1]
		if j-i < 2 {
			continue
		}
		a, b := pts[i], pts[j]
		dx, dy := b.x-a.x, b.y-a.y
		l2 := dx*dx + dy*dy
		best, bi := -1.0, -1
		for k := i + 1; k < j; k++ {
			p := pts[k]
			ex, ey := p.x-a.x, p.y-a.y
			if l2 != 0 {
				t := (ex*dx + ey*dy) / l2
				t = math.Max(0, math.Min(1, t))
				ex, ey = ex-t*dx, ey-t*dy
			}
			if d := ex*ex + ey*ey; d > best {
				best, bi = d, k
			}
		}
		if best > tol2 {
			keep[bi] = true
			stack = append(stack, [2]int{i, bi}, [2]int{bi, j})
		}
	}
	out := pts[:0]
	for i := 0; i < n; i++ {
		if keep[i] {
			out = append(out, pts[i])
		}
	}
	return out, keep, stack
}

// roundPts rounds to integer tile coordinates and drops consecutive
// duplicates (and, for rings, a last point equal to the first).
func roundPts(src []fpt, closed bool, dst []ipt) []ipt {
	dst = dst[:0]
	for _, p := range src {
		q := ipt{int32(math.Round(p.x)), int32(math.Round(p.y))}
		if len(dst) > 0 && dst[len(dst)-1] == q {
			continue
		}
		dst = append(dst, q)
	}
	if closed {
		for len(dst) > 1 && dst[len(dst)-1] == dst[0] {
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// area2 is twice the signed area of a ring by the surveyor's formula in
// tile coordinates (y down): positive for an MVT exterior ring.
func area2(r []ipt) int64 {
	var s int64
	for i := range r {
		j := i + 1
		if j == len(r) {
			j = 0
		}
		s += int64(r[i].x)*int64(r[j].y) - int64(r[j].x)*int64(r[i].y)
	}
	return s
}

func reverse(r []ipt) {
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
}
