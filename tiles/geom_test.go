package tiles

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/layers"
)

func TestClipRing(t *testing.T) {
	b := box{0, 0, 10, 10}
	for _, tc := range []struct {
		name string
		ring []fpt
		area float64 // of the clipped ring
	}{
		{"inside", []fpt{{1, 1}, {5, 1}, {5, 5}, {1, 5}}, 16},
		{"covering", []fpt{{-5, -5}, {15, -5}, {15, 15}, {-5, 15}}, 100},
		{"half out", []fpt{{5, 2}, {15, 2}, {15, 4}, {5, 4}}, 10},
		{"outside", []fpt{{20, 20}, {30, 20}, {30, 30}}, 0},
		{"corner", []fpt{{-5, -5}, {5, -5}, {5, 5}, {-5, 5}}, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s1, s2 []fpt
			out := clipRing(tc.ring, b, &s1, &s2)
			var a float64
			for i := range out {
				j := (i + 1) % len(out)
				a += out[i].x*out[j].y - out[j].x*out[i].y
			}
			if got := math.Abs(a) / 2; math.Abs(got-tc.area) > 1e-9 {
				t.Errorf("area %v, want %v (%v)", got, tc.area, out)
			}
			for _, p := range out {
				if p.x < b.x0 || p.x > b.x1 || p.y < b.y0 || p.y > b.y1 {
					t.Errorf("point %v outside", p)
				}
			}
		})
	}
}

func TestClipLine(t *testing.T) {
	b := box{0, 0, 10, 10}
	for _, tc := range []struct {
		name   string
		line   []fpt
		pieces int
	}{
		{"inside", []fpt{{1, 1}, {5, 5}, {9, 1}}, 1},
		{"through", []fpt{{-5, 5}, {15, 5}}, 1},
		{"out and back in", []fpt{{1, 5}, {20, 5}, {20, 6}, {1, 6}}, 2},
		{"outside", []fpt{{-5, -5}, {-1, 20}}, 0},
		{"starts outside", []fpt{{-5, 5}, {5, 5}, {5, 8}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ends := clipLine(tc.line, b, nil, nil)
			if len(ends) != tc.pieces {
				t.Fatalf("%d pieces %v, want %d", len(ends), ends, tc.pieces)
			}
			from := 0
			for _, to := range ends {
				if to-from < 2 {
					t.Errorf("piece of %d points", to-from)
				}
				from = to
			}
			for _, p := range out {
				if p.x < b.x0 || p.x > b.x1 || p.y < b.y0 || p.y > b.y1 {
					t.Errorf("point %v outside", p)
				}
			}
		})
	}
}

func TestSimplify(t *testing.T) {
	// a ring of 100 points on a circle of radius 100 with a 0.2 wobble: the
	// wobble goes, the circle stays
	var ring []fpt
	for i := 0; i < 100; i++ {
		a := float64(i) / 100 * 2 * math.Pi
		r := 100 + 0.2*float64(i%2)
		ring = append(ring, fpt{r * math.Cos(a), r * math.Sin(a)})
	}
	out, _, _ := simplify(append([]fpt(nil), ring...), 1, true, nil, nil)
	if len(out) >= 100 || len(out) < 8 {
		t.Errorf("circle simplified to %d points", len(out))
	}
	// collinear points on a line go
	line := []fpt{{0, 0}, {1, 0.1}, {2, 0}, {3, -0.1}, {4, 0}}
	out, _, _ = simplify(line, 1, false, nil, nil)
	if len(out) != 2 {
		t.Errorf("line kept %v", out)
	}
	// small rings are left alone
	sq := []fpt{{0, 0}, {1, 0}, {1, 1}, {0, 1}}
	if out, _, _ := simplify(sq, 1, true, nil, nil); len(out) != 4 {
		t.Errorf("square became %v", out)
	}
}

func TestRoundAndArea(t *testing.T) {
	r := roundPts([]fpt{{0.1, 0.1}, {0.2, 0.2}, {10, 0}, {10, 10}, {0, 10}, {0.4, 0.4}}, true, nil)
	if len(r) != 4 {
		t.Fatalf("rounded to %v", r)
	}
	if a := area2(r); a != 200 {
		t.Errorf("area2 %d", a)
	}
	reverse(r)
	if a := area2(r); a != -200 {
		t.Errorf("reversed area2 %d", a)
	}
}

func TestEncodeValue(t *testing.T) {
	for _, tc := range []struct {
		v    any
		ok   bool
		want byte // first byte: the Value field key
	}{
		{"x", true, keyValueString},
		{3.0, true, keyValueUint},
		{-3.0, true, keyValueSint},
		{3.5, true, keyValueDouble},
		{true, true, keyValueBool},
		{int64(7), true, keyValueUint},
		{[]any{1.0, 2.0}, false, 0},
		{map[string]any{}, false, 0},
		{nil, false, 0},
		{math.NaN(), false, 0},
		{string(make([]byte, 300)), false, 0},
	} {
		got, ok := encodeValue(tc.v)
		if ok != tc.ok || (ok && got[0] != tc.want) {
			t.Errorf("%v: %q %v", tc.v, got, ok)
		}
	}
}

func TestDictionaryCompaction(t *testing.T) {
	f := newFixture(t, 8, Options{})
	f.e.layers["buildings"].slack = 100
	ctx := context.Background()
	tl := tileAt(5, 5, 20) // 35 m across, far from building 64 at 91–101 m
	before, err := f.e.Tile(ctx, []string{"buildings"}, 20, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	st := f.e.layers["buildings"]
	// many updates of one far building's changing value
	old, _ := f.src.get("buildings", 64)
	compacted := false
	prev := 0
	for i := 0; i < 1500; i++ {
		g := old
		g.Props = map[string]any{"name": fmt.Sprint(i)}
		f.src.put(g)
		if err := f.e.Apply(ctx, []layers.Change{{Layer: "buildings", FeatureID: 64, Op: layers.Update, Before: g.Geometry.Bound(), After: g.Geometry.Bound()}}); err != nil {
			t.Fatal(err)
		}
		st.mu.RLock()
		n, live := len(st.dict.vals), st.dict.live
		st.mu.RUnlock()
		if n > 2*live+100+2 {
			t.Fatalf("dictionary of %d values for %d properties", n, live)
		}
		compacted = compacted || n < prev
		prev = n
	}
	if !compacted {
		t.Error("never compacted")
	}
	f.e.cache.mu.Lock()
	f.e.cache.purge()
	f.e.cache.mu.Unlock()
	after, err := f.e.Tile(ctx, []string{"buildings"}, 20, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	if before.ETag != after.ETag {
		t.Error("a tile away from the updates changed")
	}
	// the updated building renders with its last value
	far := maptileAt(old, 17)
	tile, err := f.e.Tile(ctx, []string{"buildings"}, 17, far.X, far.Y)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ft := range decode(t, tile.Data)["buildings"].Features {
		if fid(ft.ID) == 64 {
			found = true
			if ft.Properties["name"] != "1499" {
				t.Errorf("building 64 has name %v", ft.Properties["name"])
			}
		}
	}
	if !found {
		t.Error("building 64 missing")
	}
}

func TestConcurrentApplyAndTiles(t *testing.T) {
	f := newFixture(t, 24, Options{CacheBytes: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				z := uint32(14 + i%6)
				tl := tileAt(float64(i%300), float64((i*7)%300), z)
				if _, err := f.e.Tile(ctx, []string{"buildings", "streets"}, z, tl.X, tl.Y); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := int64(1); i <= 60; i++ {
		old, _ := f.src.get("buildings", i)
		g := old
		g.Geometry = square(float64(i), float64(i), 9)
		f.src.put(g)
		if err := f.e.Apply(context.Background(), []layers.Change{{Layer: "buildings", FeatureID: i, Op: layers.Update,
			Before: old.Geometry.Bound(), After: g.Geometry.Bound()}}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	// after the dust settles every cached tile equals a fresh render
	for k, tile := range snapshot(f.e) {
		_, sts, _ := f.e.resolve([]string{"buildings", "streets"})
		fresh, err := f.e.render(context.Background(), sts, k.z, k.x, k.y, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ETag != tile.ETag {
			t.Errorf("%v: cached tile is stale", k)
		}
	}
}

func maptileAt(f layers.Feature, z uint32) maptile.Tile {
	return maptile.At(f.Geometry.Bound().Center(), maptile.Zoom(z))
}

// boolClose is the plain closing that bitmask.close must equal.
func boolClose(in []bool, n int) []bool {
	at := func(m []bool, r, c int, outside bool) bool {
		if r < 0 || c < 0 || r >= n || c >= n {
			return outside
		}
		return m[r*n+c]
	}
	op := func(m []bool, dilate bool) []bool {
		out := make([]bool, n*n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				v := !dilate
				for dr := -1; dr <= 1; dr++ {
					for dc := -1; dc <= 1; dc++ {
						x := at(m, r+dr, c+dc, !dilate)
						if dilate {
							v = v || x
						} else {
							v = v && x
						}
					}
				}
				out[r*n+c] = v
			}
		}
		return out
	}
	return op(op(in, true), false)
}

func TestBitmask(t *testing.T) {
	for _, n := range []int{1, 5, 63, 64, 65, 130, 264} {
		var m, tmp bitmask
		m.reset(n)
		ref := make([]bool, n*n)
		seed := uint64(n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				seed = seed*6364136223846793005 + 1442695040888963407
				if seed>>61 == 0 { // 1 in 8
					m.set(r, c)
					ref[r*n+c] = true
				}
			}
		}
		if n > 10 {
			m.setRange(3, 2, n-3)
			for c := 2; c <= n-3; c++ {
				ref[3*n+c] = true
			}
		}
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				if m.get(r, c) != ref[r*n+c] {
					t.Fatalf("n=%d: cell %d,%d", n, r, c)
				}
			}
			// runs by next
			for c := 0; c < n; {
				s := m.next(r, c, true)
				if s == n {
					for k := c; k < n; k++ {
						if ref[r*n+k] {
							t.Fatalf("n=%d: next missed %d,%d", n, r, k)
						}
					}
					break
				}
				if !ref[r*n+s] {
					t.Fatalf("n=%d: next(true) at clear %d,%d", n, r, s)
				}
				e := m.next(r, s, false)
				for k := s; k < e; k++ {
					if !ref[r*n+k] {
						t.Fatalf("n=%d: run over clear cell", n)
					}
				}
				c = e
			}
		}
		m.close(&tmp)
		want := boolClose(ref, n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				if m.get(r, c) != want[r*n+c] {
					t.Fatalf("n=%d: closing differs at %d,%d", n, r, c)
				}
			}
		}
		for r := 0; r < n; r++ {
			if m.row(r)[m.w-1]&m.padding() != 0 {
				t.Fatalf("n=%d: padding bits set", n)
			}
		}
	}
}
