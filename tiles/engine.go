package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"github.com/hexward/hexward/layers"
)

// MaxZoom is the highest zoom the engine serves.
const MaxZoom = 22

// Errors of Tile. Both are wrapped with the details (the bad tile, the
// unknown layer's name); test with errors.Is.
var (
	ErrBadTile      = errors.New("tiles: no such tile")
	ErrUnknownLayer = errors.New("tiles: unknown layer")
)

// Source is what the engine needs from the feature store.
type Source interface {
	// ScanLayer calls fn for every feature of layer, geometry in EPSG:4326,
	// Props JSON-decoded (float64 numbers, string, bool, []any for point
	// properties).
	ScanLayer(ctx context.Context, layer string, fn func(layers.Feature) error) error
	// Features returns those of ids that exist in layer; a missing id has
	// been deleted.
	Features(ctx context.Context, layer string, ids []int64) ([]layers.Feature, error)
}

// Options tune the engine; the zero value gives the defaults.
type Options struct {
	// Extent is the tile extent in tile units (default 4096).
	Extent uint32
	// Buffer is the margin around the tile that geometry is kept in, in tile
	// units (default Extent/64: 64 at 4096).
	Buffer uint32
	// MaxFeatures is the most features one layer may have in one tile
	// before it is merged (default 10000). It is a server setting: no
	// request can raise it.
	MaxFeatures int
	// MaxTileBytes is the largest tile the engine serves (default 500 000
	// bytes): past it the largest layers are merged, then merged coarser.
	MaxTileBytes int
	// CacheBytes bounds the tile cache (default 256 MiB).
	CacheBytes int64
	// Workers is how many tiles Warm and Apply render at once (default
	// GOMAXPROCS).
	Workers int
}

func (o Options) withDefaults() Options {
	if o.Extent == 0 {
		o.Extent = 4096
	}
	if o.Buffer == 0 {
		o.Buffer = o.Extent / 64
	}
	if o.MaxFeatures <= 0 {
		o.MaxFeatures = 10000
	}
	if o.MaxTileBytes <= 0 {
		o.MaxTileBytes = 500_000
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 256 << 20
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Tile is one rendered vector tile. It is shared by every request that gets
// it from the cache: do not modify it.
type Tile struct {
	Data     []byte   // Mapbox Vector Tile 2.1, uncompressed; empty for a tile without features
	ETag     string   // strong validator: quoted hash of Data
	Features int      // features in the tile, merged ones counted once each
	Merged   []string // layers merged because of MaxFeatures or MaxTileBytes

	gzOnce sync.Once
	gz     []byte
}

// Gzipped returns Data gzip-compressed, computed on the first call and
// kept with the cached tile, so that a warm tile is compressed once.
func (t *Tile) Gzipped() []byte {
	t.gzOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		_, _ = w.Write(t.Data)
		_ = w.Close()
		t.gz = b.Bytes()
	})
	return t.gz
}

// Engine renders vector tiles from an in-memory index of every layer and
// caches them. It is safe for concurrent use.
type Engine struct {
	cat       *layers.Catalogue
	src       Source
	opt       Options
	layers    map[string]*layerState
	cache     *cache
	renderers renderers

	applyMu sync.Mutex // serialises Load and Apply
}

// NewEngine returns an engine over the layers of cat, empty until Load.
func NewEngine(cat *layers.Catalogue, src Source, opt Options) *Engine {
	e := &Engine{cat: cat, src: src, opt: opt.withDefaults(), layers: map[string]*layerState{}}
	for _, l := range cat.Layers() {
		e.layers[l.Name] = newLayerState(l)
	}
	e.cache = newCache(e.opt.CacheBytes)
	e.renderers = newRenderers()
	return e
}

// Options returns the options in force, defaults filled in.
func (e *Engine) Options() Options { return e.opt }

// Load reads every layer of the catalogue from the source, rebuilds the
// index and empties the cache. Features without geometry of their layer's
// kind are skipped. The engine keeps serving the old index while loading.
func (e *Engine) Load(ctx context.Context) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	type built struct {
		tree *rtree.RTreeG[item]
		byID map[int64]*feature
		dict *dict
	}
	fresh := map[string]built{}
	for _, l := range e.cat.Layers() {
		st := e.layers[l.Name]
		b := built{tree: &rtree.RTreeG[item]{}, byID: map[int64]*feature{}, dict: newDict()}
		err := e.src.ScanLayer(ctx, l.Name, func(f layers.Feature) error {
			nf := st.newFeature(f)
			if nf == nil {
				return nil
			}
			if old, dup := b.byID[nf.id]; dup {
				b.tree.Delete(old.min, old.max, item{old.id, old})
				b.dict.live -= len(old.props)
			}
			b.dict.intern(nf)
			b.byID[nf.id] = nf
			b.tree.Insert(nf.min, nf.max, item{nf.id, nf})
			return nil
		})
		if err != nil {
			return fmt.Errorf("tiles: loading layer %s: %w", l.Name, err)
		}
		fresh[l.Name] = b
	}
	for name, b := range fresh {
		st := e.layers[name]
		st.mu.Lock()
		st.tree, st.byID, st.dict = b.tree, b.byID, b.dict
		st.ver.Add(1)
		st.mu.Unlock()
	}
	e.cache.mu.Lock()
	e.cache.purge()
	e.cache.mu.Unlock()
	return nil
}

// Bounds returns the extent of the loaded features (EPSG:4326), or the
// zero bound when there are none.
func (e *Engine) Bounds() orb.Bound {
	lo := [2]float64{math.Inf(1), math.Inf(1)}
	hi := [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, st := range e.layers {
		st.mu.RLock()
		if st.tree.Len() > 0 {
			a, b := st.tree.Bounds()
			lo = [2]float64{math.Min(lo[0], a[0]), math.Min(lo[1], a[1])}
			hi = [2]float64{math.Max(hi[0], b[0]), math.Max(hi[1], b[1])}
		}
		st.mu.RUnlock()
	}
	if lo[0] > hi[0] {
		return orb.Bound{}
	}
	sw, ne := unproject(orb.Point{lo[0], hi[1]}), unproject(orb.Point{hi[0], lo[1]})
	return orb.Bound{Min: sw, Max: ne}
}

// LayerSet checks layer names against the catalogue and returns them
// sorted and deduplicated, as the cache keys them.
func (e *Engine) LayerSet(names []string) ([]string, error) {
	_, sts, err := e.resolve(names)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.def.Name
	}
	return out, nil
}

func (e *Engine) resolve(names []string) (string, []*layerState, error) {
	if len(names) == 0 {
		return "", nil, fmt.Errorf("%w: no layer named", ErrUnknownLayer)
	}
	if len(names) == 1 {
		st, ok := e.layers[names[0]]
		if !ok {
			return "", nil, fmt.Errorf("%w %q", ErrUnknownLayer, names[0])
		}
		return names[0], []*layerState{st}, nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	sts := make([]*layerState, len(sorted))
	for i, n := range sorted {
		st, ok := e.layers[n]
		if !ok {
			return "", nil, fmt.Errorf("%w %q", ErrUnknownLayer, n)
		}
		sts[i] = st
	}
	return strings.Join(sorted, ","), sts, nil
}

func checkTile(z, x, y uint32) error {
	if z > MaxZoom || uint64(x) >= uint64(1)<<z || uint64(y) >= uint64(1)<<z {
		return fmt.Errorf("%w: %d/%d/%d", ErrBadTile, z, x, y)
	}
	return nil
}

// Tile returns tile z/x/y of the named layers (a composite tile when more
// than one; order and repeats do not matter) from the cache, rendering it
// when cold. Concurrent requests for the same cold tile share one render;
// a request whose ctx ends stops waiting, and the render stops when no
// request waits for it any more.
func (e *Engine) Tile(ctx context.Context, layerNames []string, z, x, y uint32) (*Tile, error) {
	return e.TileScoped(ctx, nil, layerNames, z, x, y)
}

// TileScoped is Tile limited to scope; a nil scope is the unscoped Tile.
// The tile holds only the features whose anchor lies in scope.Area, and
// the caps and merging count only those. Scoped tiles are cached under
// the scope's Key and a hash of its Area, never served to another scope or
// to an unscoped request; ForgetScope drops them.
func (e *Engine) TileScoped(ctx context.Context, scope *Scope, layerNames []string, z, x, y uint32) (*Tile, error) {
	if err := checkTile(z, x, y); err != nil {
		return nil, err
	}
	set, sts, err := e.resolve(layerNames)
	if err != nil {
		return nil, err
	}
	k := cacheKey{set: set, z: z, x: x, y: y}
	if scope != nil {
		k.scope = scopeID(scope)
	}
	return e.get(ctx, k, sts, scope, nil)
}

// ForgetScope drops the cached tiles of the scope with Scope.Key key, to be
// called when the area behind key changes (an edited community boundary).
// Renders of the scope in flight are served to the requests waiting for
// them but not cached. Tiles of an Area that changed are never served for
// the new Area even without ForgetScope (the cache key holds a hash of
// the Area); ForgetScope frees their memory at once.
func (e *Engine) ForgetScope(key string) {
	e.cache.mu.Lock()
	e.cache.forget(key)
	e.cache.mu.Unlock()
}

// get returns the tile of k from the cache or renders it. A scoped k
// (k.scope != "") renders with prep, or else with a prepared copy of scope.
func (e *Engine) get(ctx context.Context, k cacheKey, sts []*layerState, scope *Scope, prep *scopeArea) (*Tile, error) {
	c := e.cache
	c.mu.Lock()
	if t, ok := c.lru.Get(k); ok {
		c.hits++
		c.mu.Unlock()
		return t, nil
	}
	c.misses++
	cl := c.inflight[k]
	if cl == nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), cancel: cancel}
		c.inflight[k] = cl
		c.renders++
		if k.scope != "" {
			prep = c.acquire(k.scope, scope, prep) // released by renderCall
		}
		go e.renderCall(rctx, k, sts, prep, versions(sts), cl)
	}
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.tile, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		cl.waiters--
		if cl.waiters == 0 {
			cl.cancel()
			if c.inflight[k] == cl {
				delete(c.inflight, k)
			}
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// versions returns the layers' versions, read before a render starts.
func versions(sts []*layerState) []uint64 {
	vers := make([]uint64, len(sts))
	for i, st := range sts {
		vers[i] = st.ver.Load()
	}
	return vers
}

// renderCall renders for a call in flight (with scope sc, nil when
// unscoped) and caches the tile unless a layer changed since vers were
// read or ForgetScope detached the call.
func (e *Engine) renderCall(ctx context.Context, k cacheKey, sts []*layerState, sc *scopeArea, vers []uint64, cl *call) {
	t, err := e.render(ctx, sts, k.z, k.x, k.y, sc)
	c := e.cache
	c.mu.Lock()
	if c.inflight[k] == cl {
		delete(c.inflight, k)
	}
	fresh := err == nil && ctx.Err() == nil && !cl.detached
	for i, st := range sts {
		if st.ver.Load() != vers[i] {
			fresh = false // a change landed while rendering: serve, do not cache
		}
	}
	if fresh {
		c.add(k, t, sc)
	}
	if k.scope != "" {
		c.release(k.scope)
	}
	c.mu.Unlock()
	cl.tile, cl.err = t, err
	cl.cancel()
	close(cl.done)
}

// layerOut is one layer of a tile being rendered.
type layerOut struct {
	st    *layerState
	buf   int // index of the renderer buffer holding data
	data  []byte
	n     int
	level int // -1: not merged; else merge level
}

// render draws a tile without the cache, of the features in scope sc (nil:
// all).
func (e *Engine) render(ctx context.Context, sts []*layerState, z, x, y uint32, sc *scopeArea) (*Tile, error) {
	r := e.renderers.get()
	defer e.renderers.put(r)
	t := newFrame(z, x, y, e.opt.Extent, float64(e.opt.Buffer))
	if sc != nil {
		r.scopeBuf.reset(sc, &t)
		r.scope = &r.scopeBuf
	}
	outs := make([]layerOut, 0, len(sts))
	for len(r.bufs) < len(sts) {
		r.bufs = append(r.bufs, nil)
	}
	total := 0
	for _, st := range sts {
		if int(z) < st.def.MinZoom || int(z) > st.def.MaxZoom {
			continue
		}
		h := r.search(st, &t)
		if h.len() == 0 {
			continue
		}
		o := layerOut{st: st, buf: len(outs), level: -1}
		if h.len() > e.opt.MaxFeatures {
			o.level = 0
		} else if h.len() > e.opt.MaxTileBytes/200 && r.estimate(h, &t) > e.opt.MaxTileBytes+e.opt.MaxTileBytes/8 {
			o.level = 0 // would be merged below anyway: skip the full render
		}
		if err := e.renderOut(ctx, r, &t, &o, h); err != nil {
			return nil, err
		}
		total += len(o.data)
		outs = append(outs, o)
	}
	for total > e.opt.MaxTileBytes {
		big := -1
		for i := range outs {
			if outs[i].level < maxMergeLevel && (big < 0 || len(outs[i].data) > len(outs[big].data)) {
				big = i
			}
		}
		if big < 0 {
			break
		}
		o := &outs[big]
		total -= len(o.data)
		o.level++
		if err := e.renderOut(ctx, r, &t, o, r.search(o.st, &t)); err != nil {
			return nil, err
		}
		total += len(o.data)
	}
	tile := &Tile{Data: make([]byte, 0, total)}
	for _, o := range outs {
		tile.Data = append(tile.Data, o.data...)
		tile.Features += o.n
		if o.level >= 0 {
			tile.Merged = append(tile.Merged, o.st.def.Name)
		}
	}
	tile.ETag = etag(tile.Data)
	return tile, nil
}

// renderOut renders one layer into the renderer's buffer o.buf.
func (e *Engine) renderOut(ctx context.Context, r *renderer, t *tileFrame, o *layerOut, h hits) error {
	var err error
	dst := r.bufs[o.buf][:0]
	if o.level < 0 {
		o.data, o.n, err = r.renderLayer(ctx, o.st, t, h, dst, e.opt.Extent)
	} else {
		o.data, o.n, err = r.mergeLayer(ctx, o.st, t, h, o.level, dst, e.opt.Extent)
	}
	r.bufs[o.buf] = o.data
	return err
}

// Stats are counters of the tile cache.
type Stats struct {
	Entries       int
	Bytes         int64
	Hits, Misses  uint64
	Renders       uint64 // renders started (concurrent misses share one)
	Evictions     uint64 // tiles dropped to stay within CacheBytes
	Invalidations uint64 // tiles dropped by Apply and ForgetScope
	Features      map[string]int
}

// Stats returns the cache counters and the number of indexed features per
// layer.
func (e *Engine) Stats() Stats {
	c := e.cache
	c.mu.Lock()
	s := Stats{Entries: c.lru.Len(), Bytes: c.bytes, Hits: c.hits, Misses: c.misses, Renders: c.renders,
		Evictions: c.evictions, Invalidations: c.invalidations, Features: map[string]int{}}
	c.mu.Unlock()
	for name, st := range e.layers {
		st.mu.RLock()
		s.Features[name] = st.tree.Len()
		st.mu.RUnlock()
	}
	return s
}

// etag is the strong validator of a tile: its length and a 64-bit xxHash
// of its bytes, the same on every node for the same content.
func etag(data []byte) string {
	return `"` + strconv.FormatUint(uint64(len(data)), 36) + "-" + strconv.FormatUint(xxhash.Sum64(data), 36) + `"`
}
