package tiles

import (
	"context"
	"math"

	"github.com/hexward/hexward/layers"
)

// Merging: what a tile layer becomes when it holds more than
// Options.MaxFeatures features, or when the tile is over
// Options.MaxTileBytes. No feature is dropped: every one is folded into a
// few merged features, each with merged=true, count=N (features whose
// representative point lies in the merged feature's part of the tile; in
// buffer-only parts N may be 0) and, when the layer's style colours by a
// property, that property's most common value. Merged features have no id.
//
//   - planes: footprints are rasterised into a mask of 256×256 cells over
//     the tile (16 units at extent 4096; a feature smaller than a cell
//     marks the cell of its centre), gaps of one cell are closed, and the
//     mask is emitted as merged rectangles, one MultiPolygon per 1/8 × 1/8
//     block of the tile;
//   - lines: vertices are snapped to the same grid, duplicate segments
//     removed, one MultiLineString per block;
//   - points: clustered on a grid of 64×64 cells, one point per non-empty
//     cell at the mean position of its members.
//
// Each further level doubles the cell size, for tiles still too large.

const maxMergeLevel = 4

const mergeBlocks = 8 // blocks per side

type run struct{ c0, c1, r0 int32 }

type mergeGrid struct {
	cell   float64 // cell size, tile units
	origin float64 // tile coordinate of cell 0's west/north edge
	n      int     // cells per side
	block  float64 // block size, tile units
}

func newMergeGrid(t *tileFrame, level, cellsPerTile int) mergeGrid {
	cell := t.extent / float64(cellsPerTile) * float64(int(1)<<level)
	oc := math.Ceil(t.buf / cell)
	return mergeGrid{
		cell:   cell,
		origin: -oc * cell,
		n:      int(2*oc + math.Ceil(t.extent/cell)),
		block:  t.extent / mergeBlocks,
	}
}

func (g *mergeGrid) blockOf(v float64) int {
	return min(max(int(math.Floor(v/g.block)), 0), mergeBlocks-1)
}

// cellOf returns the cell holding tile coordinate v, or -1 outside.
func (g *mergeGrid) cellOf(v float64) int {
	c := int(math.Floor((v - g.origin) / g.cell))
	if c < 0 || c >= g.n {
		return -1
	}
	return c
}

// blockStarts returns, per block, the first cell whose centre is in it.
func (g *mergeGrid) blockStarts() [mergeBlocks + 1]int {
	var s [mergeBlocks + 1]int
	b := 0
	for c := 0; c < g.n; c++ {
		cb := g.blockOf(g.origin + (float64(c)+0.5)*g.cell)
		for b < cb {
			b++
			s[b] = c
		}
	}
	for b < mergeBlocks {
		b++
		s[b] = g.n
	}
	return s
}

var (
	valueTrue, _ = encodeValue(true)
)

// tally counts group values (a layer's ColorBy values: a handful) by
// linear search, cheaper than a map at that size.
type tally []groupCount

type groupCount struct {
	g string
	n int
}

func (t *tally) add(g string) {
	for i := range *t {
		if (*t)[i].g == g {
			(*t)[i].n++
			return
		}
	}
	*t = append(*t, groupCount{g, 1})
}

// mode is the most common value, the smallest on a tie.
func (t tally) mode() string {
	best, bn := "", 0
	for _, c := range t {
		if c.n > bn || (c.n == bn && c.g < best) {
			best, bn = c.g, c.n
		}
	}
	return best
}

// mergedTags writes the tags of a merged feature.
func (r *renderer) mergedTags(st *layerState, count int, group string) {
	r.tags = r.tags[:0]
	r.tag(st.mergedKey(), valueTrue)
	r.tag(st.countKey(), encodeInt(int64(count)))
	if st.groupKey >= 0 && group != "" {
		if v, ok := encodeValue(group); ok {
			r.tag(st.groupKey, v)
		}
	}
}

// mergeLayer encodes the features of st in tile t merged at the given
// level and appends the layer to tile.
func (r *renderer) mergeLayer(ctx context.Context, st *layerState, t *tileFrame, h hits, level int, tile []byte, extent uint32) ([]byte, int, error) {
	r.beginLayer(st, extent)
	var err error
	switch st.def.Kind {
	case layers.Plane:
		err = r.mergePlanes(ctx, st, t, h, level)
	case layers.Line:
		err = r.mergeLines(ctx, st, t, h, level)
	default:
		err = r.mergePoints(ctx, st, t, h, level)
	}
	if err != nil {
		return tile, 0, err
	}
	n := r.nfeat
	return r.endLayer(st, tile), n, nil
}

// blockCounts counts features by the block of their centre (features with
// their centre outside the tile proper are not counted) and tallies group
// values per block.
type blockCounts struct {
	n      [mergeBlocks * mergeBlocks]int
	groups [mergeBlocks * mergeBlocks]tally
}

func (bc *blockCounts) add(g *mergeGrid, t *tileFrame, f *feature, grouped bool) {
	cx := ((f.min[0]+f.max[0])/2)*t.k - t.ox
	cy := ((f.min[1]+f.max[1])/2)*t.k - t.oy
	if cx < 0 || cy < 0 || cx >= t.extent || cy >= t.extent {
		return
	}
	blk := g.blockOf(cy)*mergeBlocks + g.blockOf(cx)
	bc.n[blk]++
	if grouped && f.group != "" {
		bc.groups[blk].add(f.group)
	}
}

func (bc *blockCounts) group(blk int) string { return bc.groups[blk].mode() }

func (r *renderer) mergePlanes(ctx context.Context, st *layerState, t *tileFrame, h hits, level int) error {
	g := newMergeGrid(t, level, 256)
	n := g.n
	mask := &r.mask
	mask.reset(n)
	var bc blockCounts
	grouped := st.groupKey >= 0
	for i := range h.len() {
		f := h.at(i)
		if i&1023 == 1023 && ctx.Err() != nil {
			return ctx.Err()
		}
		bc.add(&g, t, f, grouped)
		a, b := t.pt(f.min[0], f.min[1]), t.pt(f.max[0], f.max[1])
		marked := false
		if b.x-a.x >= g.cell || b.y-a.y >= g.cell {
			marked = r.fillPolygons(f, t, &g, mask)
		}
		if !marked {
			cx, cy := g.cellOf((a.x+b.x)/2), g.cellOf((a.y+b.y)/2)
			if cx >= 0 && cy >= 0 {
				mask.set(cy, cx)
			}
		}
	}
	mask.close(&r.mask2)
	starts := g.blockStarts()
	for by := 0; by < mergeBlocks; by++ {
		for bx := 0; bx < mergeBlocks; bx++ {
			r.geom = r.geom[:0]
			var c cursor
			r.rects(mask, &g, starts[bx], starts[bx+1], starts[by], starts[by+1], t, &c)
			if len(r.geom) == 0 {
				continue
			}
			blk := by*mergeBlocks + bx
			r.mergedTags(st, bc.n[blk], bc.group(blk))
			r.addFeature(0, geomTypePolygon)
		}
	}
	return nil
}

// fillPolygons rasterises the polygons of f into mask, marking the cells
// whose centre is inside (even–odd over each polygon's rings). It reports
// whether any cell was marked.
func (r *renderer) fillPolygons(f *feature, t *tileFrame, g *mergeGrid, mask *bitmask) bool {
	marked := false
	part := 0
	start := int32(0)
	for _, nr := range f.rings {
		// transform the polygon's rings into r.a, ends in r.pieces
		pts := r.a[:0]
		r.pieces = r.pieces[:0]
		miny, maxy := math.Inf(1), math.Inf(-1)
		for j := int32(0); j < nr; j++ {
			end := f.parts[part]
			part++
			for _, p := range f.pts[start:end] {
				q := t.pt(p[0], p[1])
				if q.y < miny {
					miny = q.y
				}
				if q.y > maxy {
					maxy = q.y
				}
				pts = append(pts, q)
			}
			start = end
			r.pieces = append(r.pieces, len(pts))
		}
		r.a = pts
		r0 := max(int(math.Ceil((miny-g.origin)/g.cell-0.5)), 0)
		r1 := min(int(math.Floor((maxy-g.origin)/g.cell-0.5)), g.n-1)
		for row := r0; row <= r1; row++ {
			yc := g.origin + (float64(row)+0.5)*g.cell
			xs := r.c1[:0] // reuse as a float list: x in .x
			from := 0
			for _, to := range r.pieces {
				ring := pts[from:to]
				from = to
				prev := ring[len(ring)-1]
				for _, cur := range ring {
					if (prev.y <= yc) != (cur.y <= yc) {
						x := prev.x + (yc-prev.y)*(cur.x-prev.x)/(cur.y-prev.y)
						xs = append(xs, fpt{x: x})
					}
					prev = cur
				}
			}
			r.c1 = xs
			for k := 1; k < len(xs); k++ { // insertion sort: a few crossings
				for m := k; m > 0 && xs[m].x < xs[m-1].x; m-- {
					xs[m], xs[m-1] = xs[m-1], xs[m]
				}
			}
			for k := 0; k+1 < len(xs); k += 2 {
				c0 := max(int(math.Ceil((xs[k].x-g.origin)/g.cell-0.5)), 0)
				c1 := min(int(math.Floor((xs[k+1].x-g.origin)/g.cell-0.5)), g.n-1)
				if c0 <= c1 {
					mask.setRange(row, c0, c1)
					marked = true
				}
			}
		}
	}
	return marked
}

// rects writes the marked cells of mask in columns [c0,c1) and rows
// [r0,r1) as rectangles (polygon rings) into r.geom: runs of marked cells
// per row, merged downwards while a run repeats exactly.
func (r *renderer) rects(mask *bitmask, g *mergeGrid, c0, c1, r0, r1 int, t *tileFrame, c *cursor) {
	r.active = r.active[:0]
	for row := r0; row <= r1; row++ {
		runs := r.runs[:0]
		if row < r1 {
			for col := c0; col < c1; {
				s := mask.next(row, col, true)
				if s >= c1 {
					break
				}
				col = min(mask.next(row, s, false), c1)
				runs = append(runs, run{int32(s), int32(col), int32(row)})
			}
		}
		// both lists are sorted by c0: carry over the runs that repeat
		i := 0
		for _, a := range r.active {
			for i < len(runs) && runs[i].c0 < a.c0 {
				i++
			}
			if i < len(runs) && runs[i].c0 == a.c0 && runs[i].c1 == a.c1 {
				runs[i].r0 = a.r0
				continue
			}
			r.rect(g, t, c, a.c0, a.c1, a.r0, int32(row))
		}
		r.runs = r.active[:0]
		r.active = runs
	}
}

func (r *renderer) rect(g *mergeGrid, t *tileFrame, c *cursor, c0, c1, r0, r1 int32) {
	x0 := clampTile(g.origin+float64(c0)*g.cell, t)
	x1 := clampTile(g.origin+float64(c1)*g.cell, t)
	y0 := clampTile(g.origin+float64(r0)*g.cell, t)
	y1 := clampTile(g.origin+float64(r1)*g.cell, t)
	if x0 == x1 || y0 == y1 {
		return
	}
	r.moveTo(c, ipt{x0, y0})
	r.lineTo(c, []ipt{{x1, y0}, {x1, y1}, {x0, y1}})
	r.geom = append(r.geom, closePathCommand)
}

func clampTile(v float64, t *tileFrame) int32 {
	return int32(math.Round(math.Max(t.clip.x0, math.Min(t.clip.x1, v))))
}

type segment struct{ a, b ipt }

func (r *renderer) mergeLines(ctx context.Context, st *layerState, t *tileFrame, h hits, level int) error {
	h.sort() // segment order decides the bytes
	g := newMergeGrid(t, level, 256)
	var bc blockCounts
	grouped := st.groupKey >= 0
	clear(r.segs)
	var blocks [mergeBlocks * mergeBlocks][]segment
	nodes := int64(g.n + 1)
	snap := func(p fpt) (int64, int64) {
		return int64(math.Round((p.x - g.origin) / g.cell)), int64(math.Round((p.y - g.origin) / g.cell))
	}
	for i := range h.len() {
		f := h.at(i)
		if i&1023 == 1023 && ctx.Err() != nil {
			return ctx.Err()
		}
		bc.add(&g, t, f, grouped)
		start := int32(0)
		for _, end := range f.parts {
			line := r.transform(f, start, end, t)
			start = end
			r.pieces = r.pieces[:0]
			r.c1, r.pieces = clipLine(line, t.clip, r.c1[:0], r.pieces)
			from := 0
			for _, to := range r.pieces {
				piece := r.c1[from:to]
				from = to
				px, py := snap(piece[0])
				for _, p := range piece[1:] {
					qx, qy := snap(p)
					if qx == px && qy == py {
						continue
					}
					ka, kb := py*nodes+px, qy*nodes+qx
					key := uint64(min(ka, kb))<<32 | uint64(max(ka, kb))
					if _, dup := r.segs[key]; !dup {
						r.segs[key] = struct{}{}
						s := segment{r.node(&g, t, px, py), r.node(&g, t, qx, qy)}
						mx := float64(s.a.x+s.b.x) / 2
						my := float64(s.a.y+s.b.y) / 2
						blk := g.blockOf(my)*mergeBlocks + g.blockOf(mx)
						blocks[blk] = append(blocks[blk], s)
					}
					px, py = qx, qy
				}
			}
		}
	}
	for blk, segs := range blocks {
		if len(segs) == 0 {
			continue
		}
		r.geom = r.geom[:0]
		var c cursor
		line := r.ipts[:0]
		flush := func() {
			if len(line) >= 2 {
				r.moveTo(&c, line[0])
				r.lineTo(&c, line[1:])
			}
			line = line[:0]
		}
		for _, s := range segs {
			if s.a == s.b {
				continue
			}
			if len(line) == 0 || line[len(line)-1] != s.a {
				flush()
				line = append(line, s.a)
			}
			line = append(line, s.b)
		}
		flush()
		r.ipts = line
		if len(r.geom) == 0 {
			continue
		}
		r.mergedTags(st, bc.n[blk], bc.group(blk))
		r.addFeature(0, geomTypeLine)
	}
	return nil
}

func (r *renderer) node(g *mergeGrid, t *tileFrame, nx, ny int64) ipt {
	return ipt{clampTile(g.origin+float64(nx)*g.cell, t), clampTile(g.origin+float64(ny)*g.cell, t)}
}

type cluster struct {
	sx, sy float64
	n      int
	groups tally
}

func (r *renderer) mergePoints(ctx context.Context, st *layerState, t *tileFrame, h hits, level int) error {
	h.sort() // summing order decides the rounding of cluster centres
	g := newMergeGrid(t, level, 64)
	cl := make([]cluster, g.n*g.n)
	grouped := st.groupKey >= 0
	for i := range h.len() {
		f := h.at(i)
		if i&1023 == 1023 && ctx.Err() != nil {
			return ctx.Err()
		}
		for _, p := range f.pts {
			q := t.pt(p[0], p[1])
			if q.x < t.clip.x0 || q.y < t.clip.y0 || q.x > t.clip.x1 || q.y > t.clip.y1 {
				continue
			}
			cx, cy := g.cellOf(q.x), g.cellOf(q.y)
			if cx < 0 || cy < 0 {
				continue
			}
			k := cy*g.n + cx
			cl[k].sx += q.x
			cl[k].sy += q.y
			cl[k].n++
			if grouped && f.group != "" {
				cl[k].groups.add(f.group)
			}
		}
	}
	for _, c := range cl {
		if c.n == 0 {
			continue
		}
		p := ipt{int32(math.Round(c.sx / float64(c.n))), int32(math.Round(c.sy / float64(c.n)))}
		r.geom = r.geom[:0]
		r.moveTo(&cursor{}, p)
		r.mergedTags(st, c.n, c.groups.mode())
		r.addFeature(0, geomTypePoint)
	}
	return nil
}
