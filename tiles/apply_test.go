package tiles

import (
	"context"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/layers"
)

// snapshot returns every cached tile.
func snapshot(e *Engine) map[cacheKey]*Tile {
	e.cache.mu.Lock()
	defer e.cache.mu.Unlock()
	out := map[cacheKey]*Tile{}
	for _, k := range e.cache.lru.Keys() {
		t, _ := e.cache.lru.Peek(k)
		out[k] = t
	}
	return out
}

// touched is the oracle: does a change of layer with these bounds touch
// cached tile k? Computed with orb's maptile, independently of the engine.
func touched(cat *layers.Catalogue, k cacheKey, layer string, bounds ...orb.Bound) bool {
	l, _ := cat.Layer(layer)
	if !strings.Contains(","+k.set+",", ","+layer+",") || int(k.z) < l.MinZoom || int(k.z) > l.MaxZoom {
		return false
	}
	tb := maptile.New(k.x, k.y, maptile.Zoom(k.z)).Bound(64.0 / 4096)
	for _, b := range bounds {
		if b != (orb.Bound{}) && tb.Intersects(b) {
			return true
		}
	}
	return false
}

func hasFeature(t *testing.T, tile *Tile, layer string, id int64, name string) bool {
	t.Helper()
	l := decode(t, tile.Data)[layer]
	if l == nil {
		return false
	}
	for _, f := range l.Features {
		if f.ID != nil && fid(f.ID) == id && (name == "" || f.Properties["name"] == name) {
			return true
		}
	}
	return false
}

func TestApplyInvalidatesExactlyTouchedTiles(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	sets := [][]string{{"buildings"}, {"buildings", "streets", "shops"}, {"streets"}}
	if _, err := f.e.Warm(ctx, sets, 13, 19, f.e.Bounds()); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		change func() (layers.Change, int64, string) // the change; a feature that must then be in the tile at After with name
	}{
		{"move and rename", func() (layers.Change, int64, string) {
			old, _ := f.src.get("buildings", 1) // the building at the origin
			moved := old
			moved.Geometry = square(3, 2, 10)
			moved.Props = map[string]any{"name": "新楼"}
			f.src.put(moved)
			return layers.Change{Layer: "buildings", FeatureID: 1, Op: layers.Update,
				Before: old.Geometry.Bound(), After: moved.Geometry.Bound()}, 1, "新楼"
		}},
		{"move across the district", func() (layers.Change, int64, string) {
			old, _ := f.src.get("buildings", 700)
			moved := old
			moved.Geometry = square(505, 505, 8)
			f.src.put(moved)
			return layers.Change{Layer: "buildings", FeatureID: 700, Op: layers.Update,
				Before: old.Geometry.Bound(), After: moved.Geometry.Bound()}, 700, ""
		}},
		{"insert", func() (layers.Change, int64, string) {
			f.next++
			nf := layers.Feature{ID: f.next, Layer: "buildings", Geometry: square(300, 120, 12), Props: map[string]any{"name": "插入"}}
			f.src.put(nf)
			return layers.Change{Layer: "buildings", FeatureID: nf.ID, Op: layers.Insert, After: nf.Geometry.Bound()}, nf.ID, "插入"
		}},
		{"delete", func() (layers.Change, int64, string) {
			old, _ := f.src.get("buildings", 900)
			f.src.del("buildings", 900)
			return layers.Change{Layer: "buildings", FeatureID: 900, Op: layers.Delete, Before: old.Geometry.Bound()}, 0, ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(f.e)
			inv := f.e.Stats().Invalidations
			ch, id, name := tc.change()
			if err := f.e.Apply(ctx, []layers.Change{ch}); err != nil {
				t.Fatal(err)
			}
			after := snapshot(f.e)
			want := 0
			for k, old := range before {
				now, ok := after[k]
				if !ok {
					t.Errorf("%v: not re-rendered", k)
					continue
				}
				if touched(f.cat, k, ch.Layer, ch.Before, ch.After) {
					want++
					if now == old {
						t.Errorf("%v: touched but kept", k)
					}
				} else if now != old {
					t.Errorf("%v: not touched but rendered again", k)
				}
			}
			if got := f.e.Stats().Invalidations - inv; got != uint64(want) || want == 0 {
				t.Errorf("invalidated %d tiles, oracle says %d", got, want)
			}
			// the tile at the new place shows the new feature, and a
			// tile at the old place no longer shows it
			if id != 0 {
				c := ch.After.Center()
				tl := maptile.At(c, 18)
				k := cacheKey{set: "buildings", z: 18, x: tl.X, y: tl.Y}
				if !hasFeature(t, after[k], "buildings", id, name) {
					t.Errorf("%v: feature %d %q missing after the change", k, id, name)
				}
				if old := before[k]; old != nil && old.ETag == after[k].ETag {
					t.Errorf("%v: same ETag after the change", k)
				}
			}
			if ch.Before != (orb.Bound{}) {
				c := ch.Before.Center()
				tl := maptile.At(c, 18)
				k := cacheKey{set: "buildings", z: 18, x: tl.X, y: tl.Y}
				if id == 0 || !ch.After.Intersects(maptile.New(tl.X, tl.Y, 18).Bound()) {
					if hasFeature(t, after[k], "buildings", ch.FeatureID, "") {
						t.Errorf("%v: feature %d still at its old place", k, ch.FeatureID)
					}
				}
			}
		})
	}
}

func TestApplyIgnoresOtherLayersAndUnknown(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	if _, err := f.e.Warm(ctx, [][]string{{"buildings"}}, 14, 18, f.e.Bounds()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(f.e)
	old, _ := f.src.get("streets", 1601)
	if err := f.e.Apply(ctx, []layers.Change{
		{Layer: "streets", FeatureID: 1601, Op: layers.Update, Before: old.Geometry.Bound(), After: old.Geometry.Bound()},
		{Layer: "not_a_layer", FeatureID: 5, Op: layers.Insert, After: f.bounds},
	}); err != nil {
		t.Fatal(err)
	}
	after := snapshot(f.e)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%v re-rendered by a change of another layer", k)
		}
	}
}

func TestRenderRacingApplyIsNotCached(t *testing.T) {
	f := newFixture(t, 8, Options{})
	st := f.e.layers["buildings"]
	tl := tileAt(20, 20, 17)
	k := cacheKey{set: "buildings", z: 17, x: tl.X, y: tl.Y}
	sts := []*layerState{st}
	for _, tc := range []struct {
		name   string
		bump   bool
		cached bool
	}{{"no change while rendering", false, true}, {"change while rendering", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f.e.cache.mu.Lock()
			f.e.cache.purge()
			f.e.cache.mu.Unlock()
			vers := versions(sts) // taken when the render starts
			if tc.bump {
				st.ver.Add(1) // Apply changed the layer meanwhile
			}
			cl := &call{done: make(chan struct{}), cancel: func() {}}
			f.e.renderCall(context.Background(), k, sts, nil, vers, cl)
			if cl.err != nil || cl.tile == nil {
				t.Fatal(cl.err)
			}
			if _, ok := snapshot(f.e)[k]; ok != tc.cached {
				t.Errorf("cached %v, want %v", ok, tc.cached)
			}
		})
	}
}

func TestApplyBatch(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	if _, err := f.e.Warm(ctx, [][]string{{"buildings"}}, 16, 17, f.e.Bounds()); err != nil {
		t.Fatal(err)
	}
	// delete every other building, twice over (repeats in one batch)
	var batch []layers.Change
	for round := 0; round < 2; round++ {
		for id := int64(2); id <= 1600; id += 2 {
			old, ok := f.src.get("buildings", id)
			if ok {
				f.src.del("buildings", id)
			} else {
				old, _ = f.src.get("buildings", id-1) // same size, for a bound
				old.Geometry = square(float64((id-1)/40)*13, float64((id-1)%40)*13, 10)
			}
			batch = append(batch, layers.Change{Layer: "buildings", FeatureID: id, Op: layers.Delete, Before: old.Geometry.Bound()})
		}
	}
	if err := f.e.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n := f.e.Stats().Features["buildings"]; n != 800 {
		t.Errorf("%d buildings indexed, want 800", n)
	}
	for k, tile := range snapshot(f.e) {
		if l := decode(t, tile.Data)["buildings"]; l != nil {
			for _, ft := range l.Features {
				if fid(ft.ID)%2 == 0 {
					t.Fatalf("%v: deleted building %v still served", k, ft.ID)
				}
			}
		}
	}
}
