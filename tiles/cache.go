package tiles

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/paulmach/orb"
)

// cacheKey names one cached tile: the canonical layer set (sorted,
// deduplicated, comma-joined), the tile and the scope ("" for an unscoped
// tile, else scopeID of the Scope).
type cacheKey struct {
	set     string
	z, x, y uint32
	scope   string
}

// entryOverhead is what a cached tile costs besides its bytes (key, Tile,
// list element, index entries), counted against Options.CacheBytes.
const entryOverhead = 256

// cache is the tile cache: an LRU bounded by bytes, an index of cached
// layer sets and scopes by tile coordinate (so that invalidation visits
// only the tiles a change touches), and the renders in flight (so that
// concurrent requests for one cold tile render it once).
type cache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[cacheKey, *Tile]
	bytes    int64
	maxBytes int64
	byZoom   [MaxZoom + 1]map[uint64][]cached // x<<32|y → cached sets and scopes
	inflight map[cacheKey]*call
	scopes   map[string]*scopeRef // scope id → the prepared scope its cached tiles and renders share

	hits, misses, renders, evictions, invalidations uint64
}

// cached is one entry of the coordinate index: a layer set and the scope
// it was rendered for (nil: unscoped), kept so that Apply can render a
// scoped tile again.
type cached struct {
	set   string
	scope *scopeArea
}

func (c cached) scopeID() string {
	if c.scope == nil {
		return ""
	}
	return c.scope.id
}

// scopeRef is a prepared scope shared by the cached tiles and the renders
// in flight of its scope id, and how many they are.
type scopeRef struct {
	sc *scopeArea
	n  int
}

// call is one render in flight.
type call struct {
	done     chan struct{}
	tile     *Tile
	err      error
	waiters  int
	cancel   context.CancelFunc
	detached bool // ForgetScope dropped its scope: serve, do not cache
}

func newCache(maxBytes int64) *cache {
	c := &cache{maxBytes: maxBytes, inflight: map[cacheKey]*call{}, scopes: map[string]*scopeRef{}}
	c.lru, _ = simplelru.NewLRU[cacheKey, *Tile](math.MaxInt32, c.onEvict)
	for z := range c.byZoom {
		c.byZoom[z] = map[uint64][]cached{}
	}
	return c
}

func tileCost(t *Tile) int64 { return int64(len(t.Data)) + entryOverhead }

// onEvict runs under mu, from the LRU.
func (c *cache) onEvict(k cacheKey, t *Tile) {
	c.bytes -= tileCost(t)
	m := c.byZoom[k.z]
	xy := uint64(k.x)<<32 | uint64(k.y)
	sets := m[xy]
	for i, s := range sets {
		if s.set == k.set && s.scopeID() == k.scope {
			sets[i] = sets[len(sets)-1]
			sets[len(sets)-1] = cached{}
			sets = sets[:len(sets)-1]
			break
		}
	}
	if len(sets) == 0 {
		delete(m, xy)
	} else {
		m[xy] = sets
	}
	if k.scope != "" {
		c.release(k.scope)
	}
}

// acquire returns the prepared scope of id — the one registered, else sc,
// else a new copy of s, which it registers — and counts one more user of
// it. The caller holds mu.
func (c *cache) acquire(id string, s *Scope, sc *scopeArea) *scopeArea {
	ref := c.scopes[id]
	if ref == nil {
		if sc == nil {
			sc = newScopeArea(id, s)
		}
		ref = &scopeRef{sc: sc}
		c.scopes[id] = ref
	}
	ref.n++
	return ref.sc
}

// release counts one user of the prepared scope of id less, and forgets
// it after the last. The caller holds mu.
func (c *cache) release(id string) {
	if ref := c.scopes[id]; ref != nil {
		if ref.n--; ref.n <= 0 {
			delete(c.scopes, id)
		}
	}
}

// add caches t under k, rendered for scope sc (nil when k is unscoped);
// the caller holds mu.
func (c *cache) add(k cacheKey, t *Tile, sc *scopeArea) {
	cost := tileCost(t)
	if cost > c.maxBytes {
		return
	}
	if c.lru.Contains(k) {
		c.lru.Remove(k)
	}
	if k.scope != "" {
		sc = c.acquire(k.scope, nil, sc) // one copy per scope, however many tiles
	}
	c.lru.Add(k, t)
	c.bytes += cost
	xy := uint64(k.x)<<32 | uint64(k.y)
	c.byZoom[k.z][xy] = append(c.byZoom[k.z][xy], cached{k.set, sc})
	for c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
		c.evictions++
	}
}

// purge empties the cache; the caller holds mu.
func (c *cache) purge() {
	c.lru.Purge()
	c.bytes = 0
	clear(c.scopes)
	for z := range c.byZoom {
		clear(c.byZoom[z])
	}
}

// forget removes the cached tiles of every scope with Scope.Key key and
// detaches its renders in flight, so that they are served to the requests
// waiting for them but not cached; the caller holds mu.
func (c *cache) forget(key string) {
	for _, k := range c.lru.Keys() {
		if k.scope != "" && scopeKeyOf(k.scope) == key {
			c.lru.Remove(k)
			c.invalidations++
		}
	}
	for k, cl := range c.inflight {
		if k.scope != "" && scopeKeyOf(k.scope) == key {
			cl.detached = true
			delete(c.inflight, k)
		}
	}
}

// touch is what one changed feature touches: boxes (normalised Web
// Mercator) that its old and new versions cover, and the anchors (lon/lat)
// of its old and new versions in the index.
type touch struct {
	boxes   [][2][2]float64
	anchors []orb.Point
}

func (t *touch) addBox(lo, hi [2]float64) {
	b := [2][2]float64{lo, hi}
	if !slices.Contains(t.boxes, b) {
		t.boxes = append(t.boxes, b)
	}
}

// staleTile is a cached tile that invalidate removed, with its scope.
type staleTile struct {
	k     cacheKey
	scope *scopeArea
}

// invalidate removes the cached tiles of every set containing layer, at
// zooms minZ..maxZ, whose area grown by buf (a fraction of a tile) meets
// one of the boxes of a touch (normalised Web Mercator), and returns them.
// A scoped tile is removed only when an anchor of the touch lies in its
// scope: a feature anchored outside the scope before and after the change
// is in neither version of the tile. The caller holds mu.
func (c *cache) invalidate(layer string, minZ, maxZ uint32, buf float64, touches []touch) []staleTile {
	var out []staleTile
	var inScope map[*scopeArea]bool // of the touch being visited
	for ti := range touches {
		tc := &touches[ti]
		clear(inScope)
		relevant := func(sc *scopeArea) bool {
			if sc == nil {
				return true
			}
			in, ok := inScope[sc]
			if !ok {
				for _, p := range tc.anchors {
					if in = sc.contains(p); in {
						break
					}
				}
				if inScope == nil {
					inScope = map[*scopeArea]bool{}
				}
				inScope[sc] = in
			}
			return in
		}
		for z := minZ; z <= maxZ && z <= MaxZoom; z++ {
			m := c.byZoom[z]
			if len(m) == 0 {
				continue
			}
			scale := math.Ldexp(1, int(z))
			last := float64(uint64(1)<<z - 1)
			for _, b := range tc.boxes {
				// tile t is touched when t-buf ≤ max·2^z and t+1+buf ≥ min·2^z
				x0 := math.Max(0, math.Ceil(b[0][0]*scale-1-buf))
				x1 := math.Min(last, math.Floor(b[1][0]*scale+buf))
				y0 := math.Max(0, math.Ceil(b[0][1]*scale-1-buf))
				y1 := math.Min(last, math.Floor(b[1][1]*scale+buf))
				if x0 > x1 || y0 > y1 {
					continue
				}
				visit := func(xy uint64) {
					sets := m[xy]
					for i := 0; i < len(sets); i++ {
						s := sets[i]
						if !containsLayer(s.set, layer) || !relevant(s.scope) {
							continue
						}
						k := cacheKey{s.set, z, uint32(xy >> 32), uint32(xy), s.scopeID()}
						before := len(sets)
						c.lru.Remove(k) // onEvict edits m[xy]
						out = append(out, staleTile{k, s.scope})
						c.invalidations++
						sets = m[xy]
						if len(sets) < before {
							i--
						}
					}
				}
				if (x1-x0+1)*(y1-y0+1) <= float64(len(m)) {
					for x := uint64(x0); x <= uint64(x1); x++ {
						for y := uint64(y0); y <= uint64(y1); y++ {
							if _, ok := m[x<<32|y]; ok {
								visit(x<<32 | y)
							}
						}
					}
				} else {
					var hit []uint64
					for xy := range m {
						x, y := float64(xy>>32), float64(uint32(xy))
						if x >= x0 && x <= x1 && y >= y0 && y <= y1 {
							hit = append(hit, xy)
						}
					}
					for _, xy := range hit {
						visit(xy)
					}
				}
			}
		}
	}
	return out
}

// containsLayer reports whether the canonical set s names layer.
func containsLayer(s, layer string) bool {
	for s != "" {
		name, rest, _ := strings.Cut(s, ",")
		if name == layer {
			return true
		}
		s = rest
	}
	return false
}
