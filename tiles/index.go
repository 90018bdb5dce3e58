package tiles

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
)

// feature is one feature of the in-memory index: its geometry projected
// once to normalised Web Mercator (x to the east and y to the south, both
// 0..1 over the world, so tile z/x/y covers [x, x+1]/2^z × [y, y+1]/2^z)
// and its properties already encoded as vector-tile values. A feature is
// never changed once indexed; Apply replaces it.
type feature struct {
	id       int64
	min, max [2]float64 // bounds, normalised Web Mercator
	pts      []orb.Point
	// parts holds the end (exclusive index into pts) of each ring (planes)
	// or line (lines); nil for points.
	parts []int32
	// rings holds the number of rings of each polygon (planes only), the
	// exterior ring first.
	rings []int32
	props []prop
	group string // value of the layer's Style.ColorBy property, if any
	// anchor is grid.Anchor of the feature's lon/lat geometry, the point
	// that places it in a Scope; anchored is false when it has none.
	anchor   orb.Point
	anchored bool
}

// prop is one property of a feature: the index of its key in the layer's
// schema, and its value encoded as a vector_tile Value message with the
// value's number in the layer's dictionary (equal values, equal numbers),
// which lets a render deduplicate values through an array, not a map.
type prop struct {
	key uint16
	id  uint32
	val string
}

// item is what the R-tree holds: the feature and its id, so that search
// results sort by id without touching the features.
type item struct {
	id int64
	f  *feature
}

// dict numbers the distinct property values of a layer.
type dict struct {
	ids  map[string]uint32
	vals []string // by number
	live int      // properties of indexed features
}

func newDict() *dict { return &dict{ids: map[string]uint32{}} }

// intern numbers the values of f (sharing one copy of each value string).
func (d *dict) intern(f *feature) {
	for i := range f.props {
		p := &f.props[i]
		id, ok := d.ids[p.val]
		if !ok {
			id = uint32(len(d.vals))
			d.ids[p.val] = id
			d.vals = append(d.vals, p.val)
		}
		p.id, p.val = id, d.vals[id]
	}
	d.live += len(f.props)
}

// bloated reports whether most numbered values are no longer used, as
// after many updates of changing values (timestamps, positions).
func (d *dict) bloated(slack int) bool { return len(d.vals) > 2*d.live+slack }

// dictSlack is how many unused values a dictionary may hold beyond twice
// the live ones before it is compacted.
const dictSlack = 65536

// compact renumbers the values of the layer's features from scratch,
// replacing each feature by a renumbered copy and rebuilding the R-tree.
// The caller holds st.mu for writing.
func (st *layerState) compact() {
	d := newDict()
	tree := &rtree.RTreeG[item]{}
	byID := make(map[int64]*feature, len(st.byID))
	for id, f := range st.byID {
		nf := *f
		nf.props = append([]prop(nil), f.props...)
		d.intern(&nf)
		byID[id] = &nf
		tree.Insert(nf.min, nf.max, item{id, &nf})
	}
	st.tree, st.byID, st.dict = tree, byID, d
}

// layerState is the index of one layer: its features in an R-tree over
// their bounds, guarded by mu, and a version that Apply and Load increase
// after every change so that renders racing with a change are not cached.
type layerState struct {
	def      *layers.Layer
	keys     []string // property keys: the schema's, then "merged", "count"
	groupKey int      // index in keys of Style.ColorBy, or -1
	slack    int      // dictSlack; lowered by tests

	mu   sync.RWMutex
	tree *rtree.RTreeG[item]
	byID map[int64]*feature
	dict *dict

	ver atomic.Uint64
}

// Extra keys of merged features, after the schema's.
const (
	extraMerged = iota
	extraCount
	numExtraKeys
)

func newLayerState(l *layers.Layer) *layerState {
	st := &layerState{def: l, groupKey: -1, slack: dictSlack, tree: &rtree.RTreeG[item]{}, byID: map[int64]*feature{}, dict: newDict()}
	for i, p := range l.Props {
		st.keys = append(st.keys, p.Name)
		if p.Name == l.Style.ColorBy && p.Type == layers.String {
			st.groupKey = i
		}
	}
	st.keys = append(st.keys, "merged", "count")
	return st
}

func (st *layerState) mergedKey() int { return len(st.def.Props) + extraMerged }
func (st *layerState) countKey() int  { return len(st.def.Props) + extraCount }

// project converts a WGS 84 longitude/latitude to normalised Web Mercator.
// Latitudes are clamped to the Web Mercator limit (±85.0511°).
func project(p orb.Point) orb.Point {
	const maxLat = 85.05112877980659
	lat := math.Max(-maxLat, math.Min(maxLat, p[1]))
	s := math.Sin(lat * math.Pi / 180)
	y := 0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)
	return orb.Point{p[0]/360 + 0.5, y}
}

// unproject converts normalised Web Mercator back to longitude/latitude.
func unproject(p orb.Point) orb.Point {
	lat := math.Atan(math.Sinh(math.Pi*(1-2*p[1]))) * 180 / math.Pi
	return orb.Point{(p[0] - 0.5) * 360, lat}
}

// projectBound converts a longitude/latitude bound to normalised Web
// Mercator as min/max corners (y grows southwards).
func projectBound(b orb.Bound) (min, max [2]float64) {
	a, c := project(b.Min), project(b.Max)
	return [2]float64{a[0], c[1]}, [2]float64{c[0], a[1]}
}

// newFeature indexes one feature of layer st: it checks the geometry kind,
// projects the geometry and encodes the scalar properties of the schema.
// It returns nil for a feature without usable geometry of the layer's kind.
func (st *layerState) newFeature(f layers.Feature) *feature {
	nf := &feature{id: f.ID}
	switch st.def.Kind {
	case layers.Point:
		switch g := f.Geometry.(type) {
		case orb.Point:
			nf.pts = []orb.Point{project(g)}
		case orb.MultiPoint:
			for _, p := range g {
				nf.pts = append(nf.pts, project(p))
			}
		}
	case layers.Line:
		switch g := f.Geometry.(type) {
		case orb.LineString:
			nf.addLine(g)
		case orb.MultiLineString:
			for _, ls := range g {
				nf.addLine(ls)
			}
		}
	case layers.Plane:
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			nf.addPolygon(g)
		case orb.MultiPolygon:
			for _, p := range g {
				nf.addPolygon(p)
			}
		}
	}
	if len(nf.pts) == 0 {
		return nil
	}
	nf.anchor, nf.anchored = grid.Anchor(f.Geometry)
	nf.min = [2]float64{math.Inf(1), math.Inf(1)}
	nf.max = [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, p := range nf.pts {
		nf.min[0] = math.Min(nf.min[0], p[0])
		nf.min[1] = math.Min(nf.min[1], p[1])
		nf.max[0] = math.Max(nf.max[0], p[0])
		nf.max[1] = math.Max(nf.max[1], p[1])
	}
	for i := range st.def.Props {
		p := &st.def.Props[i]
		v, ok := f.Props[p.Name]
		if !ok || v == nil || !st.def.InTiles(p) {
			continue
		}
		enc, ok := encodeValue(v)
		if !ok {
			continue
		}
		nf.props = append(nf.props, prop{key: uint16(i), val: enc})
		if i == st.groupKey {
			nf.group, _ = v.(string)
		}
	}
	return nf
}

func (f *feature) addLine(ls orb.LineString) {
	if len(ls) < 2 {
		return
	}
	for _, p := range ls {
		f.pts = append(f.pts, project(p))
	}
	f.parts = append(f.parts, int32(len(f.pts)))
}

func (f *feature) addPolygon(p orb.Polygon) {
	n := int32(0)
	for i, r := range p {
		if len(r) > 1 && r[0] == r[len(r)-1] {
			r = r[:len(r)-1]
		}
		if len(r) < 3 {
			if i == 0 {
				return // no exterior ring: no polygon
			}
			continue
		}
		for _, q := range r {
			f.pts = append(f.pts, project(q))
		}
		f.parts = append(f.parts, int32(len(f.pts)))
		n++
	}
	if n > 0 {
		f.rings = append(f.rings, n)
	}
}
