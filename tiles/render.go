package tiles

import (
	"context"
	"math"
	"runtime"
	"slices"

	"github.com/hexward/hexward/layers"
)

// tileFrame maps normalised Web Mercator to the coordinates of one tile.
type tileFrame struct {
	z, x, y uint32
	k       float64 // 2^z · extent
	ox, oy  float64 // tile origin in units of k
	extent  float64
	buf     float64 // buffer, tile units
	clip    box     // [-buf, extent+buf]²
	tol     float64 // simplification tolerance, tile units
}

func newFrame(z, x, y uint32, extent uint32, buffer float64) tileFrame {
	ext := float64(extent)
	return tileFrame{
		z: z, x: x, y: y,
		k:      math.Ldexp(ext, int(z)),
		ox:     float64(x) * ext,
		oy:     float64(y) * ext,
		extent: ext,
		buf:    buffer,
		clip:   box{-buffer, -buffer, ext + buffer, ext + buffer},
		tol:    simplifyTolerance,
	}
}

// simplifyTolerance is the Douglas–Peucker tolerance in tile units: one
// unit is a 4096th of a tile, about 0.6 m at z14 and 4 cm at z18, so what
// it removes could not be seen anyway.
const simplifyTolerance = 1.0

// query returns the normalised Web Mercator box the tile covers with its
// buffer.
func (t *tileFrame) query() (min, max [2]float64) {
	return [2]float64{(t.ox - t.buf) / t.k, (t.oy - t.buf) / t.k},
		[2]float64{(t.ox + t.extent + t.buf) / t.k, (t.oy + t.extent + t.buf) / t.k}
}

func (t *tileFrame) pt(x, y float64) fpt { return fpt{x*t.k - t.ox, y*t.k - t.oy} }

// renderer holds the scratch memory of one tile render; renderers are
// pooled by the engine.
type renderer struct {
	found  []item // search results, in R-tree order
	ord    []ord  // positions in found, sorted by id on demand
	bufs   [][]byte
	a      []fpt
	c1, c2 []fpt
	pieces []int
	keep   []bool
	stack  [][2]int
	ipts   []ipt
	geom   []byte // geometry commands of the feature, as packed varints
	tags   []byte // tags of the feature, as packed varints

	// the layer being encoded
	layer  []byte
	keyIdx []int32 // layer key index → tile key index, -1 when unused
	keys   []int   // tile key order → layer key index
	values map[string]uint32
	vals   []string
	nfeat  int
	// value number (dict) → tile value index, valid where vgen == gen
	vgen []uint32
	vidx []uint32
	gen  uint32

	// the scope of the tile being rendered: nil, or &scopeBuf
	scope    *scopeTest
	scopeBuf scopeTest

	// merging
	mask   bitmask
	mask2  bitmask
	runs   []run
	active []run
	segs   map[uint64]struct{}
}

// maxKeptBuffer is the largest scratch buffer a renderer keeps when it is
// put back.
const maxKeptBuffer = 4 << 20

// renderers is a free list of renderers. Unlike a sync.Pool it is not
// emptied by the garbage collector, so the renderers' scratch memory
// (grown to the largest tile seen) is not allocated again after every
// collection.
type renderers chan *renderer

func newRenderers() renderers { return make(renderers, 2*runtime.GOMAXPROCS(0)) }

func (rs renderers) get() *renderer {
	select {
	case r := <-rs:
		return r
	default:
		return &renderer{values: map[string]uint32{}, segs: map[uint64]struct{}{}}
	}
}

func (rs renderers) put(r *renderer) {
	r.scope, r.scopeBuf.sc = nil, nil
	for i, b := range r.bufs {
		if cap(b) > maxKeptBuffer {
			r.bufs[i] = nil
		}
	}
	if cap(r.layer) > maxKeptBuffer {
		r.layer = nil
	}
	select {
	case rs <- r:
	default:
	}
}

// ord is a search result's id and position in renderer.found: sorting
// these, which hold no pointers, is cheaper than sorting the items.
type ord struct {
	id int64
	i  int32
}

// hits is a view of search results, in id order after sort.
type hits struct {
	items []item
	ord   []ord
}

func (h hits) len() int          { return len(h.ord) }
func (h hits) sort()             { slices.SortFunc(h.ord, cmpOrd) }
func (h hits) at(i int) *feature { return h.items[h.ord[i].i].f }
func cmpOrd(a, b ord) int        { return cmpInt64(a.id, b.id) }
func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// search collects the features of st intersecting the tile (with its
// buffer) and, in a scoped render, anchored in the scope, in R-tree order:
// sort them for a render whose bytes depend on the order.
func (r *renderer) search(st *layerState, t *tileFrame) hits {
	min, max := t.query()
	r.found = r.found[:0]
	st.mu.RLock()
	if sc := r.scope; sc != nil {
		st.tree.Search(min, max, func(_, _ [2]float64, it item) bool {
			if sc.in(it.f) {
				r.found = append(r.found, it)
			}
			return true
		})
	} else {
		st.tree.Search(min, max, func(_, _ [2]float64, it item) bool {
			r.found = append(r.found, it)
			return true
		})
	}
	st.mu.RUnlock()
	r.ord = r.ord[:0]
	for i, it := range r.found {
		r.ord = append(r.ord, ord{it.id, int32(i)})
	}
	return hits{r.found, r.ord}
}

// beginLayer starts encoding the layer message of st.
func (r *renderer) beginLayer(st *layerState, extent uint32) {
	r.layer = r.layer[:0]
	r.layer = append(r.layer, keyLayerVersion, 2)
	r.layer = appendStringField(r.layer, keyLayerName, st.def.Name)
	r.layer = append(r.layer, keyLayerExtent)
	r.layer = appendVarint(r.layer, uint64(extent))
	r.keyIdx = r.keyIdx[:0]
	for range st.keys {
		r.keyIdx = append(r.keyIdx, -1)
	}
	r.keys = r.keys[:0]
	clear(r.values)
	r.vals = r.vals[:0]
	r.nfeat = 0
	r.gen++
	if r.gen == 0 {
		clear(r.vgen)
		r.gen = 1
	}
}

func (r *renderer) key(key int) uint32 {
	ki := r.keyIdx[key]
	if ki < 0 {
		ki = int32(len(r.keys))
		r.keyIdx[key] = ki
		r.keys = append(r.keys, key)
	}
	return uint32(ki)
}

// tag adds a tag with a value outside the layer's dictionary (merged
// features).
func (r *renderer) tag(key int, val string) {
	ki := r.key(key)
	vi, ok := r.values[val]
	if !ok {
		vi = uint32(len(r.vals))
		r.values[val] = vi
		r.vals = append(r.vals, val)
	}
	r.tags = appendVarint(appendVarint(r.tags, uint64(ki)), uint64(vi))
}

// propTag adds the tag of a feature property.
func (r *renderer) propTag(p *prop) {
	ki := r.key(int(p.key))
	if int(p.id) >= len(r.vgen) {
		n := max(int(p.id)+1, 2*len(r.vgen))
		r.vgen = append(r.vgen, make([]uint32, n-len(r.vgen))...)
		r.vidx = append(r.vidx, make([]uint32, n-len(r.vidx))...)
	}
	var vi uint32
	if r.vgen[p.id] == r.gen {
		vi = r.vidx[p.id]
	} else {
		vi = uint32(len(r.vals))
		r.vals = append(r.vals, p.val)
		r.vgen[p.id], r.vidx[p.id] = r.gen, vi
	}
	r.tags = appendVarint(appendVarint(r.tags, uint64(ki)), uint64(vi))
}

// addFeature appends one feature with the tags in r.tags and the geometry
// commands in r.geom to the layer; id 0 means no id.
func (r *renderer) addFeature(id int64, gtype byte) {
	n := 2 + 1 + varintLen(uint64(len(r.geom))) + len(r.geom)
	if id > 0 {
		n += 1 + varintLen(uint64(id))
	}
	if len(r.tags) > 0 {
		n += 1 + varintLen(uint64(len(r.tags))) + len(r.tags)
	}
	l := append(r.layer, keyLayerFeature)
	l = appendVarint(l, uint64(n))
	if id > 0 {
		l = append(l, keyFeatureID)
		l = appendVarint(l, uint64(id))
	}
	if len(r.tags) > 0 {
		l = appendBytesField(l, keyFeatureTags, r.tags)
	}
	l = append(l, keyFeatureType, gtype)
	r.layer = appendBytesField(l, keyFeatureGeom, r.geom)
	r.nfeat++
}

// endLayer finishes the layer message and appends it to tile; a layer
// without features is left out.
func (r *renderer) endLayer(st *layerState, tile []byte) []byte {
	if r.nfeat == 0 {
		return tile
	}
	for _, k := range r.keys {
		r.layer = appendStringField(r.layer, keyLayerKey, st.keys[k])
	}
	for _, v := range r.vals {
		r.layer = appendStringField(r.layer, keyLayerValue, v)
	}
	return appendBytesField(tile, keyTileLayer, r.layer)
}

// geometry command writer with a cursor, per feature
type cursor struct{ x, y int32 }

func (r *renderer) point(c *cursor, p ipt) {
	r.geom = appendVarint(r.geom, uint64(zigzag(p.x-c.x)))
	r.geom = appendVarint(r.geom, uint64(zigzag(p.y-c.y)))
	*c = cursor(p)
}

func (r *renderer) moveTo(c *cursor, p ipt) {
	r.geom = append(r.geom, cmdMoveTo|1<<3)
	r.point(c, p)
}

func (r *renderer) lineTo(c *cursor, pts []ipt) {
	r.geom = appendVarint(r.geom, uint64(cmdLineTo|uint32(len(pts))<<3))
	for _, p := range pts {
		r.point(c, p)
	}
}

// estimate returns about how many bytes the unmerged layer of these
// features would take: exact for the values table, close for the
// features (geometry from each feature's size at the zoom).
func (r *renderer) estimate(h hits, t *tileFrame) int {
	r.gen++
	if r.gen == 0 {
		clear(r.vgen)
		r.gen = 1
	}
	n := 0
	for i := range h.len() {
		f := h.at(i)
		size := max(f.max[0]-f.min[0], f.max[1]-f.min[1]) * t.k
		param := varintLen(uint64(2*size) + 1)
		n += 12 + varintLen(uint64(f.id)) + 2*len(f.props) + 2*len(f.parts) + 2*param*len(f.pts)
		for _, p := range f.props {
			if int(p.id) < len(r.vgen) && r.vgen[p.id] == r.gen {
				continue
			}
			if int(p.id) < len(r.vgen) {
				r.vgen[p.id] = r.gen
			}
			n += 2 + len(p.val)
		}
	}
	return n
}

// renderLayer encodes the features of st in tile t, unmerged, and returns
// the tile bytes with the layer appended.
func (r *renderer) renderLayer(ctx context.Context, st *layerState, t *tileFrame, h hits, tile []byte, extent uint32) ([]byte, int, error) {
	r.beginLayer(st, extent)
	h.sort()
	kind := st.def.Kind
	for i := range h.len() {
		f := h.at(i)
		if i&255 == 255 && ctx.Err() != nil {
			return tile, 0, ctx.Err()
		}
		r.geom = r.geom[:0]
		var gtype byte
		switch kind {
		case layers.Plane:
			r.planeGeom(f, t)
			gtype = geomTypePolygon
		case layers.Line:
			r.lineGeom(f, t)
			gtype = geomTypeLine
		default:
			r.pointGeom(f, t)
			gtype = geomTypePoint
		}
		if len(r.geom) == 0 {
			continue // degenerate at this zoom, or only touching the buffer edge
		}
		r.tags = r.tags[:0]
		for i := range f.props {
			r.propTag(&f.props[i])
		}
		r.addFeature(f.id, gtype)
	}
	n := r.nfeat
	return r.endLayer(st, tile), n, nil
}

// transform writes the points of f from a to b (exclusive) in tile
// coordinates into r.a.
func (r *renderer) transform(f *feature, a, b int32, t *tileFrame) []fpt {
	out := r.a[:0]
	for _, p := range f.pts[a:b] {
		out = append(out, t.pt(p[0], p[1]))
	}
	r.a = out
	return out
}

// inside reports whether the bounds of f lie within the clip box, so that
// its parts need no clipping.
func (t *tileFrame) contains(f *feature) bool {
	a, b := t.pt(f.min[0], f.min[1]), t.pt(f.max[0], f.max[1])
	return a.x >= t.clip.x0 && a.y >= t.clip.y0 && b.x <= t.clip.x1 && b.y <= t.clip.y1
}

func (r *renderer) planeGeom(f *feature, t *tileFrame) {
	var c cursor
	inside := t.contains(f)
	part := int32(0) // index into f.parts
	start := int32(0)
	for _, nr := range f.rings {
		for j := int32(0); j < nr; j++ {
			end := f.parts[part]
			part++
			ring := r.transform(f, start, end, t)
			start = end
			if !inside {
				ring = clipRing(ring, t.clip, &r.c1, &r.c2)
			}
			ok := false
			if len(ring) >= 3 {
				ring, r.keep, r.stack = simplify(ring, t.tol, true, r.keep, r.stack)
				r.ipts = roundPts(ring, true, r.ipts)
				if len(r.ipts) >= 3 {
					a := area2(r.ipts)
					if a != 0 {
						ok = true
						if (j == 0) != (a > 0) {
							reverse(r.ipts)
						}
					}
				}
			}
			if !ok {
				if j == 0 { // no exterior: skip the polygon's holes
					for ; j+1 < nr; j++ {
						start = f.parts[part]
						part++
					}
					break
				}
				continue
			}
			r.moveTo(&c, r.ipts[0])
			r.lineTo(&c, r.ipts[1:])
			r.geom = append(r.geom, closePathCommand)
		}
	}
}

func (r *renderer) lineGeom(f *feature, t *tileFrame) {
	var c cursor
	inside := t.contains(f)
	start := int32(0)
	for _, end := range f.parts {
		line := r.transform(f, start, end, t)
		start = end
		r.pieces = r.pieces[:0]
		if inside {
			r.pieces = append(r.pieces, len(line))
		} else {
			r.c1, r.pieces = clipLine(line, t.clip, r.c1[:0], r.pieces)
			line = r.c1
		}
		from := 0
		for _, to := range r.pieces {
			piece := line[from:to]
			from = to
			piece, r.keep, r.stack = simplify(piece, t.tol, false, r.keep, r.stack)
			r.ipts = roundPts(piece, false, r.ipts)
			if len(r.ipts) < 2 {
				continue
			}
			r.moveTo(&c, r.ipts[0])
			r.lineTo(&c, r.ipts[1:])
		}
	}
}

func (r *renderer) pointGeom(f *feature, t *tileFrame) {
	r.ipts = r.ipts[:0]
	for _, p := range f.pts {
		q := t.pt(p[0], p[1])
		if q.x < t.clip.x0 || q.y < t.clip.y0 || q.x > t.clip.x1 || q.y > t.clip.y1 {
			continue
		}
		r.ipts = append(r.ipts, ipt{int32(math.Round(q.x)), int32(math.Round(q.y))})
	}
	if len(r.ipts) == 0 {
		return
	}
	var c cursor
	r.geom = appendVarint(r.geom, uint64(cmdMoveTo|uint32(len(r.ipts))<<3))
	for _, p := range r.ipts {
		r.point(&c, p)
	}
}
