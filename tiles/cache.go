package tiles

import (
	"context"
	"math"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cacheKey names one cached tile: the canonical layer set (sorted,
// deduplicated, comma-joined) and the tile.
type cacheKey struct {
	set     string
	z, x, y uint32
}

// entryOverhead is what a cached tile costs besides its bytes (key, Tile,
// list element, index entries), counted against Options.CacheBytes.
const entryOverhead = 256

// cache is the tile cache: an LRU bounded by bytes, an index of cached
// layer sets by tile coordinate (so that invalidation visits only the tiles
// a change touches), and the renders in flight (so that concurrent requests
// for one cold tile render it once).
type cache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[cacheKey, *Tile]
	bytes    int64
	maxBytes int64
	byZoom   [MaxZoom + 1]map[uint64][]string // x<<32|y → cached sets
	inflight map[cacheKey]*call

	hits, misses, renders, evictions, invalidations uint64
}

// call is one render in flight.
type call struct {
	done    chan struct{}
	tile    *Tile
	err     error
	waiters int
	cancel  context.CancelFunc
}

func newCache(maxBytes int64) *cache {
	c := &cache{maxBytes: maxBytes, inflight: map[cacheKey]*call{}}
	c.lru, _ = simplelru.NewLRU[cacheKey, *Tile](math.MaxInt32, c.onEvict)
	for z := range c.byZoom {
		c.byZoom[z] = map[uint64][]string{}
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
		if s == k.set {
			sets[i] = sets[len(sets)-1]
			sets = sets[:len(sets)-1]
			break
		}
	}
	if len(sets) == 0 {
		delete(m, xy)
	} else {
		m[xy] = sets
	}
}

// add caches t under k; the caller holds mu.
func (c *cache) add(k cacheKey, t *Tile) {
	cost := tileCost(t)
	if cost > c.maxBytes {
		return
	}
	if c.lru.Contains(k) {
		c.lru.Remove(k)
	}
	c.lru.Add(k, t)
	c.bytes += cost
	xy := uint64(k.x)<<32 | uint64(k.y)
	c.byZoom[k.z][xy] = append(c.byZoom[k.z][xy], k.set)
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
	for z := range c.byZoom {
		clear(c.byZoom[z])
	}
}

// invalidate removes the cached tiles of every set containing layer, at
// zooms minZ..maxZ, whose area grown by buf (a fraction of a tile) meets
// one of the boxes (normalised Web Mercator), and returns their keys. The
// caller holds mu.
func (c *cache) invalidate(layer string, minZ, maxZ uint32, buf float64, boxes [][2][2]float64) []cacheKey {
	var out []cacheKey
	for z := minZ; z <= maxZ && z <= MaxZoom; z++ {
		m := c.byZoom[z]
		if len(m) == 0 {
			continue
		}
		scale := math.Ldexp(1, int(z))
		last := float64(uint64(1)<<z - 1)
		for _, b := range boxes {
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
					if !containsLayer(s, layer) {
						continue
					}
					k := cacheKey{s, z, uint32(xy >> 32), uint32(xy)}
					before := len(sets)
					c.lru.Remove(k) // onEvict edits m[xy]
					out = append(out, k)
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
