package tiles

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/planar"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
)

// boundM is the lon/lat bound of metres x0..x1 east and y0..y1 north of the
// district's origin.
func boundM(x0, y0, x1, y1 float64) orb.Bound {
	return orb.Bound{Min: metres(x0, y0), Max: metres(x1, y1)}
}

func rectPolygon(b orb.Bound) orb.Polygon {
	return orb.Polygon{{b.Min, {b.Max[0], b.Min[1]}, b.Max, {b.Min[0], b.Max[1]}, b.Min}}
}

// split is where the test scopes west and east meet, in metres east of
// the origin: between building column 23 (299–309 m) and the street at
// 310.5 m, on no anchor of the fixture, and inside a tile at every zoom
// from 15 to 19 (tile edges fall at 255.3 m).
const split = 310.0

// The adjacent scopes west and east split the fixture district (40×40
// buildings, 520 m) at split; each has its oracle by plain coordinate
// comparison.
var (
	westBox = boundM(-30, -30, split, 550)
	eastBox = boundM(split, -30, 550, 550)
	west    = &Scope{Key: "C-WEST", Area: orb.MultiPolygon{rectPolygon(westBox)}}
	east    = &Scope{Key: "C-EAST", Area: orb.MultiPolygon{rectPolygon(eastBox)}}
)

// fkey names a feature of a tile.
type fkey struct {
	layer string
	id    int64
}

// tileIDs returns the features of a tile, unmerged.
func tileIDs(t testing.TB, data []byte) map[fkey]bool {
	t.Helper()
	out := map[fkey]bool{}
	for name, l := range decode(t, data) {
		for _, ft := range l.Features {
			if ft.ID == nil {
				t.Fatalf("%s: feature without id (merged?)", name)
			}
			out[fkey{name, fid(ft.ID)}] = true
		}
	}
	return out
}

// anchors computes the anchor of every feature of src from its geometry.
func anchors(src *memSource) map[fkey]orb.Point {
	src.mu.Lock()
	defer src.mu.Unlock()
	out := map[fkey]orb.Point{}
	for layer, m := range src.feats {
		for id, f := range m {
			if p, ok := grid.Anchor(f.Geometry); ok {
				out[fkey{layer, id}] = p
			}
		}
	}
	return out
}

func diffIDs(got, want map[fkey]bool) string {
	var extra, missing []string
	for k := range got {
		if !want[k] {
			extra = append(extra, fmt.Sprint(k))
		}
	}
	for k := range want {
		if !got[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(extra)+len(missing) == 0 {
		return ""
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return fmt.Sprintf("extra %v, missing %v", extra[:min(len(extra), 5)], missing[:min(len(missing), 5)])
}

type scopeCase struct {
	name string
	area orb.MultiPolygon
	in   func(orb.Point) bool // the oracle, by coordinates
}

func scopeCases() []scopeCase {
	s := split
	hole := boundM(150, 150, 350, 350)
	strictlyIn := func(b orb.Bound, p orb.Point) bool {
		return p[0] > b.Min[0] && p[0] < b.Max[0] && p[1] > b.Min[1] && p[1] < b.Max[1]
	}
	return []scopeCase{
		{"west", west.Area, westBox.Contains},
		{"east", east.Area, eastBox.Contains},
		{"L-shaped", orb.MultiPolygon{{{metres(-30, -30), metres(550, -30), metres(550, s), metres(s, s), metres(s, 550), metres(-30, 550), metres(-30, -30)}}},
			func(p orb.Point) bool {
				return boundM(-30, -30, 550, s).Contains(p) || boundM(-30, -30, s, 550).Contains(p)
			}},
		{"with a hole", orb.MultiPolygon{{rectPolygon(boundM(-30, -30, 550, 550))[0], rectPolygon(hole)[0]}},
			func(p orb.Point) bool { return boundM(-30, -30, 550, 550).Contains(p) && !strictlyIn(hole, p) }},
		{"two parts", orb.MultiPolygon{rectPolygon(boundM(-30, -30, 100, 100)), rectPolygon(boundM(400, 400, 550, 550))},
			func(p orb.Point) bool {
				return boundM(-30, -30, 100, 100).Contains(p) || boundM(400, 400, 550, 550).Contains(p)
			}},
		{"empty", nil, func(orb.Point) bool { return false }},
	}
}

// Every tile of the district from z14 to z19, every layer: a scoped tile
// holds exactly the features of the unscoped tile whose anchor the oracle
// puts in the scope.
func TestScopedTilesHoldOnlyTheirFeatures(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	anc := anchors(f.src)
	all := f.cat.Names()
	for _, tc := range scopeCases() {
		t.Run(tc.name, func(t *testing.T) {
			sc := &Scope{Key: tc.name, Area: tc.area}
			in, out := 0, 0
			for _, bt := range pyramid(f, 14, 19) {
				u, err := f.e.Tile(ctx, all, bt.z, bt.x, bt.y)
				if err != nil {
					t.Fatal(err)
				}
				s, err := f.e.TileScoped(ctx, sc, all, bt.z, bt.x, bt.y)
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Merged) > 0 {
					t.Fatalf("%v: merged %v", bt, s.Merged)
				}
				want := map[fkey]bool{}
				for k := range tileIDs(t, u.Data) {
					p, ok := anc[k]
					if !ok {
						t.Fatalf("%v: no anchor", k)
					}
					if tc.in(p) {
						want[k] = true
						in++
					} else {
						out++
					}
				}
				got := tileIDs(t, s.Data)
				if d := diffIDs(got, want); d != "" {
					t.Errorf("z%d/%d/%d: %s", bt.z, bt.x, bt.y, d)
				}
				if s.Features != len(got) {
					t.Errorf("z%d/%d/%d: Tile.Features %d, decoded %d", bt.z, bt.x, bt.y, s.Features, len(got))
				}
				if len(want) == 0 && len(s.Data) != 0 {
					t.Errorf("z%d/%d/%d: %d bytes for no feature", bt.z, bt.x, bt.y, len(s.Data))
				}
			}
			if out == 0 || (in == 0) != (tc.area == nil) {
				t.Errorf("%d features in the scope, %d out: the case tests nothing", in, out)
			}
		})
	}
}

// A point on the boundary is in the scope, as with ST_Intersects: the
// horizontal streets are anchored on x = 260 m, the line two scopes share.
func TestScopeBoundaryIsInside(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	w := &Scope{Key: "W", Area: orb.MultiPolygon{rectPolygon(boundM(-30, -30, 260, 550))}}
	e := &Scope{Key: "E", Area: orb.MultiPolygon{rectPolygon(boundM(260, -30, 550, 550))}}
	tl := tileAt(260, 100, 17)
	var got [2]map[fkey]bool
	for i, sc := range []*Scope{w, e} {
		tile, err := f.e.TileScoped(ctx, sc, []string{"streets"}, 17, tl.X, tl.Y)
		if err != nil {
			t.Fatal(err)
		}
		got[i] = tileIDs(t, tile.Data)
	}
	anc := anchors(f.src)
	both := 0
	for k := range got[0] {
		if got[1][k] {
			both++
			if anc[k][0] != metres(260, 0)[0] {
				t.Errorf("%v anchored at %v is in both scopes", k, anc[k])
			}
		}
	}
	if both == 0 {
		t.Error("no street anchored on the shared boundary is in both scopes")
	}
}

// One scope's tile is never served to another scope or to an unscoped
// request, whatever the order of the requests.
func TestScopedCacheNeverCrossesScopes(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	anc := anchors(f.src)
	set := []string{"buildings", "streets", "shops"}
	tl := tileAt(split, 260, 17)
	get := func(sc *Scope) *Tile {
		t.Helper()
		tile, err := f.e.TileScoped(ctx, sc, set, 17, tl.X, tl.Y)
		if err != nil {
			t.Fatal(err)
		}
		return tile
	}
	for _, order := range [][]string{{"east", "west", "all"}, {"all", "west", "east"}, {"west", "all", "east"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			f.e.cache.mu.Lock()
			f.e.cache.purge()
			f.e.cache.mu.Unlock()
			r0 := f.e.Stats().Renders
			scopes := map[string]*Scope{"west": west, "east": east, "all": nil}
			got := map[string]*Tile{}
			for round := 0; round < 2; round++ {
				for _, name := range order {
					tile := get(scopes[name])
					if round == 1 && tile != got[name] {
						t.Errorf("%s: second request not served from the cache", name)
					}
					got[name] = tile
				}
			}
			w, e, u := tileIDs(t, got["west"].Data), tileIDs(t, got["east"].Data), tileIDs(t, got["all"].Data)
			if len(w) == 0 || len(e) == 0 {
				t.Fatalf("west %d, east %d features: the tile does not straddle the split", len(w), len(e))
			}
			if got["west"].ETag == got["east"].ETag || got["west"].ETag == got["all"].ETag || got["east"].ETag == got["all"].ETag {
				t.Error("two scopes share an ETag")
			}
			union := map[fkey]bool{}
			for k := range w {
				if e[k] {
					t.Errorf("%v in both scopes", k)
				}
				if !westBox.Contains(anc[k]) {
					t.Errorf("%v anchored at %v in the west's tile", k, anc[k])
				}
				union[k] = true
			}
			for k := range e {
				if !eastBox.Contains(anc[k]) {
					t.Errorf("%v anchored at %v in the east's tile", k, anc[k])
				}
				union[k] = true
			}
			if d := diffIDs(union, u); d != "" {
				t.Errorf("west ∪ east ≠ unscoped: %s", d)
			}
			if st := f.e.Stats(); st.Entries != 3 || st.Renders-r0 != 3 {
				t.Errorf("%d entries, %d renders, want 3 and 3", st.Entries, st.Renders-r0)
			}
		})
	}

	t.Run("same key, edited area", func(t *testing.T) {
		wt, et := get(west), get(east)
		moved := &Scope{Key: west.Key, Area: east.Area} // the boundary of C-WEST redrawn
		if got := get(moved); got.ETag != et.ETag || got == wt {
			t.Errorf("the edited area got the old area's tile")
		}
		if got := get(west); got != wt {
			t.Errorf("the old area's tile is gone before ForgetScope")
		}
	})

	t.Run("ForgetScope", func(t *testing.T) {
		wt, et, ut := get(west), get(east), get(nil)
		f.e.ForgetScope(west.Key)
		for k := range snapshot(f.e) {
			if k.scope != "" && scopeKeyOf(k.scope) == west.Key {
				t.Errorf("%v cached after ForgetScope", k)
			}
		}
		if get(east) != et || get(nil) != ut {
			t.Error("ForgetScope dropped another scope's tile")
		}
		r := f.e.Stats().Renders
		if got := get(west); got == wt || got.ETag != wt.ETag {
			t.Error("not rendered again, or rendered differently")
		}
		if f.e.Stats().Renders != r+1 {
			t.Error("no render after ForgetScope")
		}
		f.e.cache.mu.Lock()
		n := len(f.e.cache.scopes)
		f.e.cache.mu.Unlock()
		if n != 2 {
			t.Errorf("%d prepared scopes kept, want 2 (west and east)", n)
		}
	})

	t.Run("render in flight at ForgetScope is not cached", func(t *testing.T) {
		_, sts, _ := f.e.resolve(set)
		k := cacheKey{set: "buildings,shops,streets", z: 16, x: tl.X / 2, y: tl.Y / 2, scope: scopeID(west)}
		cl := &call{done: make(chan struct{}), cancel: func() {}}
		f.e.cache.mu.Lock()
		f.e.cache.inflight[k] = cl
		f.e.cache.mu.Unlock()
		f.e.cache.mu.Lock()
		sc := f.e.cache.acquire(k.scope, west, nil) // as get does
		f.e.cache.mu.Unlock()
		vers := versions(sts)
		f.e.ForgetScope(west.Key)
		f.e.renderCall(ctx, k, sts, sc, vers, cl)
		if cl.err != nil || cl.tile == nil || len(cl.tile.Data) == 0 {
			t.Fatalf("render failed: %v", cl.err)
		}
		if _, ok := snapshot(f.e)[k]; ok {
			t.Error("a render detached by ForgetScope was cached")
		}
		checkScopeRefs(t, f.e)
	})
}

// checkScopeRefs checks, with no render in flight, that each prepared
// scope is counted once per cached tile of its scope, and that the cached
// tiles of one scope share one.
func checkScopeRefs(t *testing.T, e *Engine) {
	t.Helper()
	c := e.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]int{}
	for _, k := range c.lru.Keys() {
		if k.scope != "" {
			n[k.scope]++
		}
	}
	for id, ref := range c.scopes {
		if ref.n != n[id] || ref.sc.id != id {
			t.Errorf("scope %q: counted %d users, %d tiles cached", id, ref.n, n[id])
		}
	}
	for id := range n {
		if c.scopes[id] == nil {
			t.Errorf("scope %q: tiles cached, no prepared scope", id)
		}
	}
	for _, m := range c.byZoom {
		for _, sets := range m {
			for _, s := range sets {
				if s.scope != nil && c.scopes[s.scope.id].sc != s.scope {
					t.Errorf("scope %q: a tile with its own copy", s.scope.id)
				}
			}
		}
	}
}

// scopeOracle finds the oracle of a cached tile's scope.
type scopeOracle map[string]func(orb.Point) bool

func (o scopeOracle) in(scope string, pts ...orb.Point) bool {
	for _, p := range pts {
		if o[scope](p) {
			return true
		}
	}
	return false
}

func TestApplyInvalidatesScopedTiles(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx := context.Background()
	sets := [][]string{{"buildings"}, {"buildings", "streets"}}
	oracle := scopeOracle{scopeID(west): westBox.Contains, scopeID(east): eastBox.Contains}
	prepared := map[string]*scopeArea{"": nil, scopeID(west): newScopeArea(scopeID(west), west), scopeID(east): newScopeArea(scopeID(east), east)}
	warm := func() {
		for _, sc := range []*Scope{nil, west, east} {
			for _, set := range sets {
				for _, bt := range pyramid(f, 14, 19) {
					if _, err := f.e.TileScoped(ctx, sc, set, bt.z, bt.x, bt.y); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	warm()
	// building 931 is column 23, row 10: 299–309 m east, 130–140 m north,
	// in the west next to the split; 1031 is column 25 (325–335 m), east
	for _, tc := range []struct {
		name   string
		change func() layers.Change
		scope  *Scope // the scope whose z18 tile at After must show the change with a new ETag
		other  *Scope // the scope whose z18 tile there must keep its ETag, or nil
		kept   bool   // some scoped tiles under the change stay: it is not in their scope
	}{
		{"rename in the west", func() layers.Change {
			old, _ := f.src.get("buildings", 931)
			nf := old
			nf.Props = map[string]any{"name": "改名"}
			f.src.put(nf)
			return layers.Change{Layer: "buildings", FeatureID: 931, Op: layers.Update, Before: old.Geometry.Bound(), After: nf.Geometry.Bound()}
		}, west, east, true},
		{"move from west to east", func() layers.Change {
			old, _ := f.src.get("buildings", 931)
			nf := old
			nf.Geometry = square(330, 135, 8)
			f.src.put(nf)
			return layers.Change{Layer: "buildings", FeatureID: 931, Op: layers.Update, Before: old.Geometry.Bound(), After: nf.Geometry.Bound()}
		}, east, nil, false},
		{"insert in the east near the split", func() layers.Change {
			f.next++
			nf := layers.Feature{ID: f.next, Layer: "buildings", Geometry: square(310.2, 200, 0.8), Props: map[string]any{"name": "岗亭"}}
			f.src.put(nf)
			return layers.Change{Layer: "buildings", FeatureID: nf.ID, Op: layers.Insert, After: nf.Geometry.Bound()}
		}, east, west, true},
		{"delete in the east", func() layers.Change {
			old, _ := f.src.get("buildings", 1031)
			f.src.del("buildings", 1031)
			return layers.Change{Layer: "buildings", FeatureID: 1031, Op: layers.Delete, Before: old.Geometry.Bound()}
		}, nil, west, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warm() // tiles rendered again by the last case are cached again
			before := snapshot(f.e)
			inv := f.e.Stats().Invalidations
			ch := tc.change()
			var pts []orb.Point // the old and new anchors
			st := f.e.layers["buildings"]
			st.mu.RLock()
			if old := st.byID[ch.FeatureID]; old != nil {
				pts = append(pts, old.anchor)
			}
			st.mu.RUnlock()
			if nf, ok := f.src.get("buildings", ch.FeatureID); ok {
				p, _ := grid.Anchor(nf.Geometry)
				pts = append(pts, p)
			}
			if err := f.e.Apply(ctx, []layers.Change{ch}); err != nil {
				t.Fatal(err)
			}
			after := snapshot(f.e)
			want, keptScoped := 0, 0
			for k, old := range before {
				now, ok := after[k]
				if !ok {
					t.Errorf("%v: not re-rendered", k)
					continue
				}
				hit := touched(f.cat, k, ch.Layer, ch.Before, ch.After)
				if hit && (k.scope == "" || oracle.in(k.scope, pts...)) {
					want++
					if now == old {
						t.Errorf("%v: touched but kept", k)
					}
				} else if now != old {
					t.Errorf("%v: not touched but rendered again", k)
				} else if hit {
					keptScoped++
				}
			}
			if got := f.e.Stats().Invalidations - inv; got != uint64(want) {
				t.Errorf("invalidated %d tiles, oracle says %d", got, want)
			}
			if (keptScoped > 0) != tc.kept {
				t.Errorf("%d scoped tiles under the change left alone", keptScoped)
			}
			// every cached tile is what a fresh render of its scope gives
			for k, tile := range after {
				_, sts, _ := f.e.resolve(strings.Split(k.set, ","))
				fresh, err := f.e.render(ctx, sts, k.z, k.x, k.y, prepared[k.scope])
				if err != nil {
					t.Fatal(err)
				}
				if fresh.ETag != tile.ETag {
					t.Errorf("%v: cached tile is stale", k)
				}
			}
			checkScopeRefs(t, f.e)
			// at z18 where the change is: the scope that holds the feature
			// shows it with a new ETag, the other keeps its ETag
			c := ch.After.Center()
			if ch.After == (orb.Bound{}) {
				c = ch.Before.Center()
			}
			tl := maptile.At(c, 18)
			k := cacheKey{set: "buildings", z: 18, x: tl.X, y: tl.Y}
			if tc.scope != nil {
				k.scope = scopeID(tc.scope)
				if !hasFeature(t, after[k], "buildings", ch.FeatureID, "") {
					t.Errorf("%s: feature %d missing from its scope's tile", tc.scope.Key, ch.FeatureID)
				}
				if after[k].ETag == before[k].ETag {
					t.Errorf("%s: same ETag after the change", tc.scope.Key)
				}
			}
			if tc.other != nil {
				k.scope = scopeID(tc.other)
				if before[k] == nil || after[k] == nil || after[k].ETag != before[k].ETag {
					t.Errorf("%s: tile at the change changed", tc.other.Key)
				}
				if hasFeature(t, after[k], "buildings", ch.FeatureID, "") {
					t.Errorf("%s: feature %d in the other scope's tile", tc.other.Key, ch.FeatureID)
				}
			}
		})
	}
}

// Scoped requests racing with changes: every tile served holds only its
// scope's features.
func TestScopedTilesUnderChanges(t *testing.T) {
	const n = 32
	f := newFixture(t, n, Options{})
	anc := anchors(f.src) // renames only: anchors do not move
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				sc, in := []*Scope{west, east, nil}[(g+i)%3], []func(orb.Point) bool{westBox.Contains, eastBox.Contains, nil}[(g+i)%3]
				z := uint32(16 + i%4)
				tl := tileAt(split-10+float64(i%3)*10, float64(i*37%300), z)
				tile, err := f.e.TileScoped(ctx, sc, []string{"buildings"}, z, tl.X, tl.Y)
				if err != nil {
					t.Error(err)
					return
				}
				if in == nil {
					continue
				}
				for k := range tileIDs(t, tile.Data) {
					if !in(anc[k]) {
						t.Errorf("%v anchored at %v served to %s", k, anc[k], sc.Key)
						return
					}
				}
			}
		}()
	}
	for i := int64(1); i <= 40; i++ {
		id := 23*n + i%n + 1 // column 23 (west, next to the split), then 24 (east)
		if i%2 == 0 {
			id += n
		}
		old, _ := f.src.get("buildings", id)
		nf := old
		nf.Props = map[string]any{"name": fmt.Sprint("改", i)}
		f.src.put(nf)
		if err := f.e.Apply(ctx, []layers.Change{{Layer: "buildings", FeatureID: id, Op: layers.Update,
			Before: old.Geometry.Bound(), After: nf.Geometry.Bound()}}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	// after the dust settles every cached tile equals a fresh render
	_, sts, _ := f.e.resolve([]string{"buildings"})
	for k, tile := range snapshot(f.e) {
		var sc *scopeArea
		if k.scope != "" {
			f.e.cache.mu.Lock()
			sc = f.e.cache.scopes[k.scope].sc
			f.e.cache.mu.Unlock()
		}
		fresh, err := f.e.render(ctx, sts, k.z, k.x, k.y, sc)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ETag != tile.ETag {
			t.Errorf("%v: cached tile is stale", k)
		}
	}
	checkScopeRefs(t, f.e)
}

// Past the cap a scoped layer is merged from its own features only: the
// counts add up to the scope's features with their centre in the tile
// (points: in the tile with its buffer), and two scopes that split the
// district add up to the unscoped tile.
func TestScopedMerge(t *testing.T) {
	f := newFixture(t, 40, Options{MaxFeatures: 5})
	ctx := context.Background()
	anc := anchors(f.src)
	southBox, northBox := boundM(-30, -30, 550, 201), boundM(-30, 201, 550, 550) // 201 m: no anchor on it
	south := &Scope{Key: "C-SOUTH", Area: orb.MultiPolygon{rectPolygon(southBox)}}
	north := &Scope{Key: "C-NORTH", Area: orb.MultiPolygon{rectPolygon(northBox)}}
	oracle := map[*Scope]func(orb.Point) bool{west: westBox.Contains, east: eastBox.Contains, south: southBox.Contains, north: northBox.Contains}
	for _, tc := range []struct {
		layer     string
		z         uint32
		scopes    []*Scope
		partition bool // the scopes split every anchor of the tile between them
	}{
		{"buildings", 16, []*Scope{west, east}, true},
		{"streets", 15, []*Scope{west}, false}, // the east has too few streets to merge
		{"shops", 16, []*Scope{south, north}, true},
	} {
		t.Run(tc.layer, func(t *testing.T) {
			tl := tileAt(split, 260, tc.z)
			tb, bufd := tl.Bound(), tl.Bound(64.0/4096)
			counted := func(g orb.Geometry) bool {
				if p, ok := g.(orb.Point); ok {
					return bufd.Contains(p)
				}
				c := g.Bound().Center()
				return c[0] >= tb.Min[0] && c[0] < tb.Max[0] && c[1] > tb.Min[1] && c[1] <= tb.Max[1]
			}
			sums := map[*Scope]int{}
			for _, sc := range append(slices.Clone(tc.scopes), nil) {
				name := "unscoped"
				if sc != nil {
					name = sc.Key
				}
				tile, err := f.e.TileScoped(ctx, sc, []string{tc.layer}, tc.z, tl.X, tl.Y)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(tile.Merged, []string{tc.layer}) {
					t.Fatalf("%s: merged %v", name, tile.Merged)
				}
				l := decode(t, tile.Data)[tc.layer]
				sum := 0
				for _, ft := range l.Features {
					if ft.Properties["merged"] != true || ft.ID != nil {
						t.Fatalf("%s: unmerged feature %v", name, ft.ID)
					}
					sum += int(ft.Properties["count"].(float64))
				}
				if tile.Features != len(l.Features) {
					t.Errorf("%s: Tile.Features %d, %d merged features", name, tile.Features, len(l.Features))
				}
				want := 0
				f.src.mu.Lock()
				for id, ft := range f.src.feats[tc.layer] {
					if (sc == nil || oracle[sc](anc[fkey{tc.layer, id}])) && counted(ft.Geometry) {
						want++
					}
				}
				f.src.mu.Unlock()
				if sum != want || want == 0 {
					t.Errorf("%s: merged counts add up to %d, want %d", name, sum, want)
				}
				sums[sc] = sum
				if sc == west && tc.layer == "buildings" {
					// the west's merged footprint stays west of the east's
					// first column (312–322 m)
					limit := project(metres(311.5, 0))[0]*math.Ldexp(4096, int(tc.z)) - float64(tl.X)*4096
					for _, ft := range l.Features {
						if b := ft.Geometry.Bound(); b.Max[0] > limit {
							t.Errorf("west's merged buildings reach x=%v, past %v", b.Max[0], limit)
						}
					}
				}
			}
			if tc.partition && sums[tc.scopes[0]]+sums[tc.scopes[1]] != sums[nil] {
				t.Errorf("%d + %d ≠ unscoped %d", sums[tc.scopes[0]], sums[tc.scopes[1]], sums[nil])
			}
		})
	}
}

// The grid shortcut of scopeTest decides every anchor as
// planar.MultiPolygonContains does, anchors on vertices and edges
// included, for random concave areas with holes in random tiles.
func TestScopeTestMatchesPlanar(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	// a star-shaped ring of n vertices around c, radius r ± jitter, metres
	star := func(cx, cy, r float64, n int, ccw bool) orb.Ring {
		ring := make(orb.Ring, 0, n+1)
		for i := 0; i < n; i++ {
			a := 2 * math.Pi * float64(i) / float64(n)
			if !ccw {
				a = -a
			}
			rr := r * (0.5 + rng.Float64())
			ring = append(ring, metres(cx+rr*math.Cos(a), cy+rr*math.Sin(a)))
		}
		return append(ring, ring[0])
	}
	for round := 0; round < 10; round++ {
		n := 3 + rng.IntN(100)
		area := orb.MultiPolygon{{star(0, 0, 300, n, true), star(0, 0, 40, 5+rng.IntN(10), false)}}
		if round%3 == 0 {
			area = append(area, orb.Polygon{star(700, 100, 150, 12, true)})
		}
		sc := newScopeArea(scopeID(&Scope{Area: area}), &Scope{Area: area})
		var pts []orb.Point
		for _, p := range area {
			for _, r := range p {
				for i := 0; i+1 < len(r); i++ {
					pts = append(pts, r[i], orb.Point{(r[i][0] + r[i+1][0]) / 2, (r[i][1] + r[i+1][1]) / 2})
				}
			}
		}
		for i := 0; i < 1000; i++ {
			pts = append(pts, metres(-500+1400*rng.Float64(), -500+1000*rng.Float64()))
		}
		want := make([]bool, len(pts))
		for i, p := range pts {
			want[i] = planar.MultiPolygonContains(area, p)
			if got := sc.contains(p); got != want[i] {
				t.Fatalf("round %d: %v in %v, planar says %v", round, p, got, want[i])
			}
		}
		var st scopeTest
		mixed, decided := 0, 0
		for _, z := range []uint32{13, 15, 16, 17, 18, 19} {
			for k := 0; k < 3; k++ {
				tl := maptile.At(pts[rng.IntN(len(pts))], maptile.Zoom(z))
				fr := newFrame(z, tl.X, tl.Y, 4096, 64)
				st.reset(sc, &fr)
				for _, c := range st.cells {
					if c == cellMixed {
						mixed++
					} else {
						decided++
					}
				}
				for i, p := range pts {
					if got := st.in(&feature{anchor: p, anchored: true}); got != want[i] {
						t.Fatalf("round %d z%d %v: anchor %v in %v, planar says %v", round, z, tl, p, got, want[i])
					}
				}
				if st.in(&feature{anchor: pts[0]}) {
					t.Fatal("a feature without anchor is in a scope")
				}
			}
		}
		if mixed == 0 || decided == 0 {
			t.Errorf("round %d: %d mixed and %d decided cells", round, mixed, decided)
		}
	}
}

// On a rectilinear staircase with a hole, every point of a grid through
// its vertices (on vertices, on edges, inside, outside) is decided as
// planar decides it: the indexed rings see every edge that matters.
func TestScopeAreaMatchesPlanarOnTheGrid(t *testing.T) {
	const h = 5e-5 // half the grid step, degrees
	half := func(i, j int) orb.Point { return orb.Point{114 + float64(i)*h, 22.5 + float64(j)*h} }
	at := func(i, j int) orb.Point { return half(2*i, 2*j) }
	var outer orb.Ring
	for k := 0; k < 40; k++ { // up the staircase: (k,k) → (k+1,k) → (k+1,k+1)
		outer = append(outer, at(k, k), at(k+1, k))
	}
	outer = append(outer, at(40, 40), at(0, 40), at(0, 0))
	hole := orb.Ring{at(2, 20), at(2, 30), at(8, 30), at(8, 20), at(2, 20)}
	area := orb.MultiPolygon{{outer, hole}, {{at(50, 0), at(60, 0), at(60, 10), at(50, 10), at(50, 0)}}}
	sc := newScopeArea("", &Scope{Area: area})
	if sc.polys[0][0].starts == nil {
		t.Fatal("the staircase is not indexed")
	}
	in, on := 0, 0
	for i := -2; i <= 124; i++ {
		for j := -2; j <= 84; j++ {
			p := half(i, j)
			want := planar.MultiPolygonContains(area, p)
			if got := sc.contains(p); got != want {
				t.Errorf("%v: %v, planar says %v", p, got, want)
			}
			if want {
				in++
			}
			if want && !planar.MultiPolygonContains(area, half(i+1, j+1)) {
				on++
			}
		}
	}
	if in == 0 || on == 0 {
		t.Errorf("%d points inside, %d of them on the boundary", in, on)
	}
}

func TestSegmentTouches(t *testing.T) {
	b := orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}
	for _, tc := range []struct {
		a, c orb.Point
		want bool
	}{
		{orb.Point{-1, 0.5}, orb.Point{2, 0.5}, true},   // across
		{orb.Point{0.5, 0.5}, orb.Point{3, 3}, true},    // from inside
		{orb.Point{-1, -1}, orb.Point{2, 2}, true},      // diagonal through two corners
		{orb.Point{-1, 1.5}, orb.Point{1.5, -1}, true},  // cuts the corner at (0,0)
		{orb.Point{0, 2}, orb.Point{2, 0}, true},        // through the corner (1,1) only
		{orb.Point{-1, 1}, orb.Point{1, 3}, false},      // bounds overlap, the line runs above
		{orb.Point{0.5, -2}, orb.Point{3, 1}, false},    // bounds overlap, the line runs below
		{orb.Point{-1, 3.5}, orb.Point{3.5, -1}, false}, // passes beyond the corner (1,1)
		{orb.Point{2, 2}, orb.Point{3, 3}, false},       // away
		{orb.Point{1, 1}, orb.Point{1, 1}, true},        // a point on the corner
		{orb.Point{1, 2}, orb.Point{1, 3}, false},       // vertical, above
	} {
		if got := segmentTouches(tc.a, tc.c, b); got != tc.want {
			t.Errorf("%v–%v: %v, want %v", tc.a, tc.c, got, tc.want)
		}
	}
}

func TestTileScopedNilIsTile(t *testing.T) {
	f := newFixture(t, 8, Options{})
	ctx := context.Background()
	tl := tileAt(20, 20, 17)
	a, err := f.e.Tile(ctx, []string{"buildings"}, 17, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.e.TileScoped(ctx, nil, []string{"buildings"}, 17, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("TileScoped(nil) is not the cached Tile")
	}
	if _, err := f.e.TileScoped(ctx, west, []string{"buildings"}, 23, 0, 0); err == nil {
		t.Error("bad tile accepted")
	}
	if _, err := f.e.TileScoped(ctx, west, []string{"nope"}, 17, tl.X, tl.Y); err == nil {
		t.Error("unknown layer accepted")
	}
}

// BenchmarkTileScopedCold renders, without the cache, every z14–17 tile
// over a scope's area with all layers, unscoped and scoped, all of them in
// each iteration on one goroutine (compare with BenchmarkTileCold). The scopes
// are the largest community of the demo district (a rectangle, as the
// generator draws them) and an L-shaped half of the dense grid, each also
// with a wavy boundary of about 2,000 vertices, like a surveyed one.
func BenchmarkTileScopedCold(b *testing.B) {
	for _, fx := range []struct {
		name  string
		load  func(testing.TB) *fixture
		scope func(*fixture) orb.MultiPolygon
	}{
		{"demo", demoFixture, largestCommunity},
		{"dense", denseFixture, func(*fixture) orb.MultiPolygon {
			m := 224 * 13 / 2.0
			return orb.MultiPolygon{{{metres(-10, -10), metres(2*m, -10), metres(2*m, m), metres(m, m), metres(m, 2*m), metres(-10, 2*m), metres(-10, -10)}}}
		}},
	} {
		b.Run(fx.name, func(b *testing.B) {
			f := fx.load(b)
			area := fx.scope(f)
			_, sts, err := f.e.resolve(f.cat.Names())
			if err != nil {
				b.Fatal(err)
			}
			var tiles []benchTile
			for z := uint32(14); z <= 17; z++ {
				x0, y0, x1, y1 := TileRange(area.Bound(), z)
				for x := x0; x <= x1; x++ {
					for y := y0; y <= y1; y++ {
						tiles = append(tiles, benchTile{z, x, y})
					}
				}
			}
			wavy := &Scope{Key: "wavy", Area: wavyBoundary(area, 2000)}
			plain := &Scope{Key: "plain", Area: area}
			for _, v := range []struct {
				name  string
				scope *Scope
			}{{"unscoped", nil}, {"scoped", plain}, {"scoped-wavy", wavy}} {
				var sc *scopeArea
				if v.scope != nil {
					sc = newScopeArea(scopeID(v.scope), v.scope)
				}
				b.Run(v.name, func(b *testing.B) {
					ctx := context.Background()
					bytes, feats := 0, 0
					cpu0 := cpuTime()
					for b.Loop() { // every tile, so that the variants average the same tiles
						for _, t := range tiles {
							tile, err := f.e.render(ctx, sts, t.z, t.x, t.y, sc)
							if err != nil {
								b.Fatal(err)
							}
							bytes += len(tile.Data)
							feats += tile.Features
						}
					}
					n := float64(b.N * len(tiles))
					b.ReportMetric(n/b.Elapsed().Seconds(), "tiles/s")
					b.ReportMetric(n/(cpuTime()-cpu0).Seconds(), "tiles/cpu-s")
					b.ReportMetric(float64(bytes)/n, "B/tile")
					b.ReportMetric(float64(feats)/n, "features/tile")
				})
			}
			// the filter alone, without the R-tree queries: the grid of
			// every tile, then the test of every feature the render would
			// test
			found := make([][]*feature, len(tiles))
			r := f.e.renderers.get()
			for i, t := range tiles {
				fr := newFrame(t.z, t.x, t.y, f.e.opt.Extent, float64(f.e.opt.Buffer))
				for _, st := range sts {
					if int(t.z) >= st.def.MinZoom && int(t.z) <= st.def.MaxZoom {
						h := r.search(st, &fr)
						for j := range h.len() {
							found[i] = append(found[i], h.at(j))
						}
					}
				}
			}
			f.e.renderers.put(r)
			for _, v := range []struct {
				name  string
				scope *Scope
			}{{"filter", plain}, {"filter-wavy", wavy}} {
				sc := newScopeArea(scopeID(v.scope), v.scope)
				b.Run(v.name, func(b *testing.B) {
					var st scopeTest
					tested, in := 0, 0
					for b.Loop() {
						for i, t := range tiles {
							fr := newFrame(t.z, t.x, t.y, f.e.opt.Extent, float64(f.e.opt.Buffer))
							st.reset(sc, &fr)
							for _, ft := range found[i] {
								if st.in(ft) {
									in++
								}
							}
							tested += len(found[i])
						}
					}
					n := float64(b.N * len(tiles))
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/1000, "µs/tile")
					b.ReportMetric(float64(tested)/n, "tested/tile")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tested), "ns/tested")
				})
			}
			b.Run("scopeID-wavy", func(b *testing.B) { // what a cache hit adds
				for b.Loop() {
					_ = scopeID(wavy)
				}
			})
		})
	}
}

// largestCommunity is the area of the demo district's largest community.
func largestCommunity(f *fixture) orb.MultiPolygon {
	f.src.mu.Lock()
	defer f.src.mu.Unlock()
	var best orb.MultiPolygon
	bestArea := 0.0
	for _, ft := range f.src.feats["communities"] {
		var mp orb.MultiPolygon
		switch g := ft.Geometry.(type) {
		case orb.Polygon:
			mp = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			mp = g
		}
		if a := planar.Area(mp); a > bestArea {
			best, bestArea = mp, a
		}
	}
	return best
}

// wavyBoundary redraws the rings of area with about n vertices in all,
// wobbling by up to 2 m around the original edges.
func wavyBoundary(area orb.MultiPolygon, n int) orb.MultiPolygon {
	edges := 0
	for _, p := range area {
		for _, r := range p {
			edges += len(r) - 1
		}
	}
	per := max(n/max(edges, 1), 1)
	const amp = 2.0 / 111_000 // degrees
	var out orb.MultiPolygon
	for _, p := range area {
		var np orb.Polygon
		for _, r := range p {
			var nr orb.Ring
			for i := 0; i+1 < len(r); i++ {
				a, c := r[i], r[i+1]
				dx, dy := c[0]-a[0], c[1]-a[1]
				l := math.Hypot(dx, dy)
				for k := 0; k < per; k++ {
					s := float64(k) / float64(per)
					w := amp * math.Sin(float64(k)*1.3)
					if k == 0 {
						w = 0
					}
					nr = append(nr, orb.Point{a[0] + s*dx - w*dy/l, a[1] + s*dy + w*dx/l})
				}
			}
			nr = append(nr, nr[0])
			np = append(np, nr)
		}
		out = append(out, np)
	}
	return out
}

// Evicted scoped tiles release their prepared scope, and the coordinate
// index follows the LRU.
func TestScopedCacheBoundedByBytes(t *testing.T) {
	f := newFixture(t, 40, Options{CacheBytes: 64 << 10})
	ctx := context.Background()
	for _, sc := range []*Scope{west, east, nil} {
		for _, bt := range pyramid(f, 14, 19) {
			if _, err := f.e.TileScoped(ctx, sc, []string{"buildings"}, bt.z, bt.x, bt.y); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := f.e.Stats()
	if st.Bytes > 64<<10 || st.Evictions == 0 {
		t.Errorf("cache holds %d bytes after %d evictions", st.Bytes, st.Evictions)
	}
	n := 0
	for _, m := range f.e.cache.byZoom {
		for _, sets := range m {
			n += len(sets)
		}
	}
	if n != st.Entries {
		t.Errorf("coordinate index has %d entries, cache %d", n, st.Entries)
	}
	checkScopeRefs(t, f.e)
}
