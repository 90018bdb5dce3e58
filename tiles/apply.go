package tiles

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// Apply brings the index up to date with changes from the change log: it
// reads the changed features from the source (an id the source no longer
// has is deleted), invalidates exactly the cached tiles that a change
// touches — at every zoom of the layer's range, in every cached layer set
// containing the layer, each tile whose area grown by the buffer meets the
// change's Before ∪ After bounds (or the indexed feature's old and new
// bounds, should they differ), and of the scoped tiles only those whose
// scope holds the feature's old or new anchor — and renders those tiles
// again, each for its scope, on Options.Workers goroutines. Changes of
// layers outside the catalogue are ignored. If the source fails, the
// layers not yet read stay as they were and the error says which; if ctx
// ends while rendering again, the tiles not yet rendered are rendered on
// their next request.
func (e *Engine) Apply(ctx context.Context, changes []layers.Change) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()

	type work struct {
		ids     []int64
		touches map[int64]*touch
	}
	byLayer := map[string]*work{}
	var names []string
	for _, ch := range changes {
		if _, ok := e.layers[ch.Layer]; !ok {
			continue
		}
		w := byLayer[ch.Layer]
		if w == nil {
			w = &work{touches: map[int64]*touch{}}
			byLayer[ch.Layer] = w
			names = append(names, ch.Layer)
		}
		tc := w.touches[ch.FeatureID]
		if tc == nil {
			tc = &touch{}
			w.touches[ch.FeatureID] = tc
			w.ids = append(w.ids, ch.FeatureID)
		}
		for _, b := range []orb.Bound{ch.Before, ch.After} {
			if b != (orb.Bound{}) {
				tc.addBox(projectBound(b))
			}
		}
	}
	slices.Sort(names)

	var stale []staleTile
	bufFrac := float64(e.opt.Buffer) / float64(e.opt.Extent)
	for _, name := range names {
		w := byLayer[name]
		st := e.layers[name]
		got, err := e.src.Features(ctx, name, w.ids)
		if err != nil {
			return fmt.Errorf("tiles: reading changed features of %s: %w", name, err)
		}
		fresh := map[int64]*feature{}
		for _, f := range got {
			if nf := st.newFeature(f); nf != nil {
				fresh[nf.id] = nf
			}
		}
		touches := make([]touch, 0, len(w.ids))
		st.mu.Lock()
		for _, id := range w.ids {
			tc := w.touches[id]
			if old := st.byID[id]; old != nil {
				st.tree.Delete(old.min, old.max, item{id, old})
				delete(st.byID, id)
				st.dict.live -= len(old.props)
				tc.addBox(old.min, old.max)
				if old.anchored {
					tc.anchors = append(tc.anchors, old.anchor)
				}
			}
			if nf := fresh[id]; nf != nil {
				st.dict.intern(nf)
				st.tree.Insert(nf.min, nf.max, item{id, nf})
				st.byID[id] = nf
				tc.addBox(nf.min, nf.max)
				if nf.anchored {
					tc.anchors = append(tc.anchors, nf.anchor)
				}
			}
			touches = append(touches, *tc)
		}
		if st.dict.bloated(st.slack) {
			st.compact()
		}
		st.ver.Add(1)
		st.mu.Unlock()

		e.cache.mu.Lock()
		stale = append(stale, e.cache.invalidate(name, uint32(max(st.def.MinZoom, 0)), uint32(min(st.def.MaxZoom, MaxZoom)), bufFrac, touches)...)
		e.cache.mu.Unlock()
	}
	return e.rerender(ctx, stale)
}

// rerender renders the given tiles again into the cache, each with its
// scope. Keys can repeat (a tile touched by two layers).
func (e *Engine) rerender(ctx context.Context, keys []staleTile) error {
	slices.SortFunc(keys, func(a, b staleTile) int {
		if c := strings.Compare(a.k.set, b.k.set); c != 0 {
			return c
		}
		if c := strings.Compare(a.k.scope, b.k.scope); c != 0 {
			return c
		}
		return cmpTile(a.k.z, a.k.x, a.k.y, b.k.z, b.k.x, b.k.y)
	})
	keys = slices.CompactFunc(keys, func(a, b staleTile) bool { return a.k == b.k })
	return e.parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		s := keys[i]
		_, sts, err := e.resolve(strings.Split(s.k.set, ","))
		if err != nil {
			return err
		}
		_, err = e.get(ctx, s.k, sts, nil, s.scope)
		return err
	})
}

func cmpTile(z1, x1, y1, z2, x2, y2 uint32) int {
	switch {
	case z1 != z2:
		return int(z1) - int(z2)
	case x1 != x2:
		if x1 < x2 {
			return -1
		}
		return 1
	case y1 != y2:
		if y1 < y2 {
			return -1
		}
		return 1
	}
	return 0
}

// parallel runs fn for 0..n-1 on Options.Workers goroutines and returns
// the first error; it stops handing out work after an error or when ctx
// ends.
func (e *Engine) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := 0; w < min(e.opt.Workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// TileRange returns the tiles of zoom z that cover bounds (EPSG:4326):
// columns x0..x1 and rows y0..y1.
func TileRange(bounds orb.Bound, z uint32) (x0, y0, x1, y1 uint32) {
	lo, hi := projectBound(bounds)
	scale := math.Ldexp(1, int(z))
	last := float64(uint64(1)<<z - 1)
	f := func(v float64) uint32 { return uint32(math.Max(0, math.Min(last, math.Floor(v*scale)))) }
	return f(lo[0]), f(lo[1]), f(hi[0]), f(hi[1])
}

// MaxWarmTiles is the most tiles one Warm call renders.
const MaxWarmTiles = 1 << 22

// Warm renders into the cache every tile of bounds (EPSG:4326) at zooms
// minZ..maxZ for each layer set, Options.Workers at a time, and returns how
// many tiles it went through (cached ones included). Only zooms where a
// layer of the set has features are visited.
func (e *Engine) Warm(ctx context.Context, layerSets [][]string, minZ, maxZ uint32, bounds orb.Bound) (int, error) {
	if maxZ > MaxZoom {
		maxZ = MaxZoom
	}
	type job struct {
		k   cacheKey
		sts []*layerState
	}
	var jobs []job
	for _, names := range layerSets {
		set, sts, err := e.resolve(names)
		if err != nil {
			return 0, err
		}
		for z := minZ; z <= maxZ; z++ {
			inRange := false
			for _, st := range sts {
				inRange = inRange || (int(z) >= st.def.MinZoom && int(z) <= st.def.MaxZoom)
			}
			if !inRange {
				continue
			}
			x0, y0, x1, y1 := TileRange(bounds, z)
			if len(jobs)+int(x1-x0+1)*int(y1-y0+1) > MaxWarmTiles {
				return 0, fmt.Errorf("tiles: warming more than %d tiles; narrow the area or the zooms", MaxWarmTiles)
			}
			for x := x0; x <= x1; x++ {
				for y := y0; y <= y1; y++ {
					jobs = append(jobs, job{cacheKey{set: set, z: z, x: x, y: y}, sts})
				}
			}
		}
	}
	var done atomic.Int64
	err := e.parallel(ctx, len(jobs), func(ctx context.Context, i int) error {
		if _, err := e.get(ctx, jobs[i].k, jobs[i].sts, nil, nil); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	return int(done.Load()), err
}
