package spatial

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/paulmach/orb"
)

// grid is a raster of square cells in a metric frame; cell (col, row) has
// its centre at (x0 + (col+½)·cell, y0 + (row+½)·cell). A cell belongs to
// a polygon when its centre does.
type grid struct {
	x0, y0, cell float64
	nx, ny       int
}

func newGrid(b orb.Bound, cell float64) grid {
	x0 := math.Floor(b.Min[0]/cell)*cell - cell
	y0 := math.Floor(b.Min[1]/cell)*cell - cell
	return grid{x0: x0, y0: y0, cell: cell,
		nx: int(math.Ceil((b.Max[0]-x0)/cell)) + 2, ny: int(math.Ceil((b.Max[1]-y0)/cell)) + 2}
}

// span is a half-open range of columns [a, b).
type span struct{ a, b int32 }

// rowRange is the rows whose centres lie in [y0, y1].
func (g grid) rowRange(y0, y1 float64) (int, int) {
	r0 := int(math.Ceil((y0-g.y0)/g.cell - 0.5))
	r1 := int(math.Floor((y1-g.y0)/g.cell - 0.5))
	return max(r0, 0), min(r1, g.ny-1)
}

// colFrom is the first column whose centre is ≥ x, clamped to [0, nx].
func (g grid) colFrom(x float64) int32 {
	c := math.Ceil((x-g.x0)/g.cell - 0.5)
	return int32(math.Max(0, math.Min(float64(g.nx), c)))
}

// rasterRings calls fn for each row span of cells whose centres are inside
// the rings (even-odd rule, so holes and disjoint parts need no care).
// Spans of a row come in increasing order and do not overlap.
func (g grid) rasterRings(rings [][]orb.Point, fn func(row int, s span)) {
	b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for _, r := range rings {
		for _, p := range r {
			b = b.Extend(p)
		}
	}
	if b.Min[0] > b.Max[0] {
		return
	}
	r0, r1 := g.rowRange(b.Min[1], b.Max[1])
	xs := make([]float64, 0, 16)
	for row := r0; row <= r1; row++ {
		yc := g.y0 + (float64(row)+0.5)*g.cell
		xs = xs[:0]
		for _, r := range rings {
			n := len(r)
			for k := range n {
				p, q := r[k], r[(k+1)%n]
				if (p[1] > yc) != (q[1] > yc) {
					xs = append(xs, p[0]+(yc-p[1])*(q[0]-p[0])/(q[1]-p[1]))
				}
			}
		}
		sort.Float64s(xs)
		for k := 0; k+1 < len(xs); k += 2 {
			a, c := g.colFrom(xs[k]), g.colFrom(xs[k+1])
			if c > a {
				fn(row, span{a, c})
			}
		}
	}
}

func polyRings(mp orb.MultiPolygon) [][]orb.Point {
	var rs [][]orb.Point
	for _, p := range mp {
		for _, r := range p {
			rs = append(rs, r)
		}
	}
	return rs
}

// spanRows is a set of cells as sorted, disjoint spans per row.
type spanRows [][]span

func (g grid) newSpanRows() spanRows { return make(spanRows, g.ny) }

// normalize sorts and merges each row's spans.
func (s spanRows) normalize() {
	for i, r := range s {
		if len(r) < 2 {
			continue
		}
		sort.Slice(r, func(a, b int) bool { return r[a].a < r[b].a })
		o := r[:1]
		for _, x := range r[1:] {
			l := &o[len(o)-1]
			if x.a <= l.b {
				l.b = max(l.b, x.b)
			} else {
				o = append(o, x)
			}
		}
		s[i] = o
	}
}

// subtract removes the cells of t (normalized) from s (normalized).
func (s spanRows) subtract(t spanRows) {
	for i := range s {
		if len(s[i]) == 0 || len(t[i]) == 0 {
			continue
		}
		var o []span
		k := 0
		cut := t[i]
		for _, x := range s[i] {
			a := x.a
			for k < len(cut) && cut[k].b <= a {
				k++
			}
			j := k
			for ; j < len(cut) && cut[j].a < x.b; j++ {
				if cut[j].a > a {
					o = append(o, span{a, cut[j].a})
				}
				a = max(a, cut[j].b)
			}
			if a < x.b {
				o = append(o, span{a, x.b})
			}
		}
		s[i] = o
	}
}

// run is a span of cells that are elements base, base+1, … of a cellSet.
type run struct{ a, b, base int32 }

// cellSet numbers a set of cells as elements 0…n−1, row by row, each
// with a weight (w, or uw for all when w is nil).
type cellSet struct {
	rows [][]run
	n    int
	w    []float32
	uw   float64
}

func setFromSpans(s spanRows, uw float64) *cellSet {
	cs := &cellSet{rows: make([][]run, len(s)), uw: uw}
	for i, r := range s {
		for _, x := range r {
			cs.rows[i] = append(cs.rows[i], run{x.a, x.b, int32(cs.n)})
			cs.n += int(x.b - x.a)
		}
	}
	return cs
}

// cellW is a weight for the cell with index row·nx+col.
type cellW struct {
	k int64
	w float64
}

// setFromWeights builds a weighted set from cell weights, summing those of
// the same cell.
func setFromWeights(g grid, ws []cellW) *cellSet {
	slices.SortFunc(ws, func(a, b cellW) int { return cmp.Compare(a.k, b.k) })
	cs := &cellSet{rows: make([][]run, g.ny)}
	for i := 0; i < len(ws); {
		k, w := ws[i].k, 0.0
		for ; i < len(ws) && ws[i].k == k; i++ {
			w += ws[i].w
		}
		e := int32(len(cs.w))
		cs.w = append(cs.w, float32(w))
		row, col := int(k/int64(g.nx)), int32(k%int64(g.nx))
		r := cs.rows[row]
		if n := len(r); n > 0 && r[n-1].b == col {
			r[n-1].b++
		} else {
			cs.rows[row] = append(r, run{col, col + 1, e})
		}
	}
	cs.n = len(cs.w)
	return cs
}

// visit calls fn with the element ranges [lo, hi) of the cells of s in
// row; col is the column of element lo.
func (cs *cellSet) visit(row int, s span, fn func(lo, hi, col int32)) {
	if row < 0 || row >= len(cs.rows) {
		return
	}
	r := cs.rows[row]
	k := sort.Search(len(r), func(i int) bool { return r[i].b > s.a })
	for ; k < len(r) && r[k].a < s.b; k++ {
		a, b := max(s.a, r[k].a), min(s.b, r[k].b)
		fn(r[k].base+a-r[k].a, r[k].base+b-r[k].a, a)
	}
}

// weight sums the weights of elements [lo, hi) whose bit in bs is clear
// (or all of them when bs is nil).
func (cs *cellSet) weight(lo, hi int32, bs bitset, clearOnly bool) float64 {
	if cs.w == nil {
		n := int(hi - lo)
		if bs != nil {
			c := bs.count(lo, hi)
			if clearOnly {
				n -= c
			} else {
				n = c
			}
		}
		return float64(n) * cs.uw
	}
	s := 0.0
	for e := lo; e < hi; e++ {
		if bs == nil || bs.get(e) != clearOnly {
			s += float64(cs.w[e])
		}
	}
	return s
}

type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) get(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

// setRange sets bits [lo, hi).
func (b bitset) setRange(lo, hi int32) {
	for i := lo; i < hi; {
		w := i >> 6
		o := uint(i) & 63
		n := min(int32(64-o), hi-i)
		mask := ^uint64(0)
		if n < 64 {
			mask = (uint64(1)<<uint(n) - 1) << o
		}
		b[w] |= mask
		i += n
	}
}

// count counts the set bits in [lo, hi).
func (b bitset) count(lo, hi int32) int {
	c := 0
	for i := lo; i < hi; {
		w := i >> 6
		o := uint(i) & 63
		n := min(int32(64-o), hi-i)
		mask := ^uint64(0)
		if n < 64 {
			mask = (uint64(1)<<uint(n) - 1) << o
		}
		c += bits.OnesCount64(b[w] & mask)
		i += n
	}
	return c
}

// capsuleSpan is the columns whose centres on the row's centre line yc are
// within hw of the segment a–b.
func (g grid) capsuleSpan(yc float64, a, b orb.Point, hw float64) (span, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range []orb.Point{a, b} {
		if dy := yc - p[1]; math.Abs(dy) <= hw {
			h := math.Sqrt(hw*hw - dy*dy)
			lo, hi = math.Min(lo, p[0]-h), math.Max(hi, p[0]+h)
		}
	}
	dx, dy := b[0]-a[0], b[1]-a[1]
	l := math.Hypot(dx, dy)
	if l > 0 {
		ux, uy := dx/l, dy/l
		// clip x on y = yc to 0 ≤ u·(p−a) ≤ l and |n·(p−a)| ≤ hw, n = (−uy, ux)
		x0, x1 := math.Inf(-1), math.Inf(1)
		ok := true
		clip := func(c, k, lim float64) { // c·x + k ≤ lim
			if c == 0 {
				if k > lim {
					ok = false
				}
				return
			}
			v := (lim - k) / c
			if c > 0 {
				x1 = math.Min(x1, v)
			} else {
				x0 = math.Max(x0, v)
			}
		}
		ry := yc - a[1]
		clip(ux, -ux*a[0]+uy*ry, l)
		clip(-ux, ux*a[0]-uy*ry, 0)
		clip(-uy, uy*a[0]+ux*ry, hw)
		clip(uy, -uy*a[0]-ux*ry, hw)
		if ok && x0 <= x1 {
			lo, hi = math.Min(lo, x0), math.Max(hi, x1)
		}
	}
	if lo > hi {
		return span{}, false
	}
	s := span{g.colFrom(lo), g.colFrom(math.Nextafter(hi, math.Inf(1)))}
	return s, s.b > s.a
}

// lineCells appends to m the length of the segment a–b inside each cell.
func (g grid) lineCells(m *[]cellW, a, b orb.Point) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	ts := []float64{0, 1}
	addCross := func(p0, d, origin float64) {
		if d == 0 {
			return
		}
		lo, hi := math.Min(p0, p0+d), math.Max(p0, p0+d)
		for k := math.Ceil((lo - origin) / g.cell); origin+k*g.cell < hi; k++ {
			if t := (origin + k*g.cell - p0) / d; t > 0 && t < 1 {
				ts = append(ts, t)
			}
		}
	}
	addCross(a[0], dx, g.x0)
	addCross(a[1], dy, g.y0)
	sort.Float64s(ts)
	for k := 0; k+1 < len(ts); k++ {
		if ts[k+1] <= ts[k] {
			continue
		}
		tm := (ts[k] + ts[k+1]) / 2
		col := int(math.Floor((a[0] + tm*dx - g.x0) / g.cell))
		row := int(math.Floor((a[1] + tm*dy - g.y0) / g.cell))
		if col < 0 || row < 0 || col >= g.nx || row >= g.ny {
			continue
		}
		*m = append(*m, cellW{int64(row)*int64(g.nx) + int64(col), (ts[k+1] - ts[k]) * l})
	}
}
