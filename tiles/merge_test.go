package tiles

import (
	"context"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

var (
	denseOnce sync.Once
	dense     *fixture
)

// denseFixture is a 224×224 grid of 50 176 buildings, 10 m wide on a 13 m
// pitch (2.9 km across): a z14 tile over it holds about 30 000 of them.
func denseFixture(t testing.TB) *fixture {
	denseOnce.Do(func() { dense = newFixture(t, 224, Options{}) })
	return dense
}

// centresIn counts the source features of layer whose bounds' centre lies
// in tile tl.
func centresIn(src *memSource, layer string, tl maptile.Tile) int {
	b := tl.Bound()
	n := 0
	src.mu.Lock()
	defer src.mu.Unlock()
	for _, f := range src.feats[layer] {
		c := f.Geometry.Bound().Center()
		if c[0] >= b.Min[0] && c[0] < b.Max[0] && c[1] > b.Min[1] && c[1] <= b.Max[1] {
			n++
		}
	}
	return n
}

func TestDenseTilesMergeAndStaySmall(t *testing.T) {
	f := denseFixture(t)
	ctx := context.Background()
	mid := 224 * 13 / 2.0
	for _, tc := range []struct {
		z      uint32
		merged bool
	}{{14, true}, {15, false}, {16, false}, {17, false}, {18, false}} {
		tl := tileAt(mid, mid, tc.z)
		tile, err := f.e.Tile(ctx, []string{"buildings", "streets", "shops", "compounds"}, tc.z, tl.X, tl.Y)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("z%d: %d bytes, %d features, merged %v", tc.z, len(tile.Data), tile.Features, tile.Merged)
		if len(tile.Data) > 500_000 {
			t.Errorf("z%d: %d bytes", tc.z, len(tile.Data))
		}
		isMerged := len(tile.Merged) > 0 && tile.Merged[0] == "buildings"
		if isMerged != tc.merged {
			t.Errorf("z%d: merged %v, want buildings merged %v", tc.z, tile.Merged, tc.merged)
		}
		ls := decode(t, tile.Data)
		b := ls["buildings"]
		if b == nil {
			t.Fatalf("z%d: no buildings", tc.z)
		}
		if !tc.merged {
			for _, ft := range b.Features {
				if ft.Properties["merged"] != nil {
					t.Fatalf("z%d: merged feature in an unmerged layer", tc.z)
				}
			}
			continue
		}
		// merged: a few features that account for every building
		count := 0
		for _, ft := range b.Features {
			if ft.Properties["merged"] != true {
				t.Fatalf("z%d: unmerged feature %v in a merged layer", tc.z, ft.ID)
			}
			if ft.ID != nil {
				t.Errorf("merged feature with id %v", ft.ID)
			}
			if _, ok := ft.Geometry.(orb.MultiPolygon); !ok {
				if _, ok := ft.Geometry.(orb.Polygon); !ok {
					t.Errorf("merged plane is %T", ft.Geometry)
				}
			}
			if u := ft.Properties["use"]; u != nil && u != "residential" && u != "commercial" && u != "mixed" && u != "industrial" && u != "public" && u != "dormitory" {
				t.Errorf("merged use %v", u)
			}
			count += int(ft.Properties["count"].(float64))
		}
		if len(b.Features) > mergeBlocks*mergeBlocks {
			t.Errorf("z%d: %d merged features", tc.z, len(b.Features))
		}
		if want := centresIn(f.src, "buildings", tl); count != want {
			t.Errorf("z%d: merged counts add up to %d, %d buildings have their centre in the tile", tc.z, count, want)
		}
	}
}

func TestMergeByKind(t *testing.T) {
	f := newFixture(t, 40, Options{MaxFeatures: 5})
	ctx := context.Background()
	tl := tileAt(260, 260, 16)
	for _, tc := range []struct {
		layer string
		kinds []string
	}{
		{"buildings", []string{"Polygon", "MultiPolygon"}},
		{"streets", []string{"LineString", "MultiLineString"}},
		{"shops", []string{"Point"}},
	} {
		t.Run(tc.layer, func(t *testing.T) {
			tile, err := f.e.Tile(ctx, []string{tc.layer}, 16, tl.X, tl.Y)
			if err != nil {
				t.Fatal(err)
			}
			if len(tile.Merged) != 1 || tile.Merged[0] != tc.layer {
				t.Fatalf("merged %v", tile.Merged)
			}
			l := decode(t, tile.Data)[tc.layer]
			total := 0
			for _, ft := range l.Features {
				ok := false
				for _, k := range tc.kinds {
					ok = ok || ft.Geometry.GeoJSONType() == k
				}
				if !ok {
					t.Errorf("merged %s is %s", tc.layer, ft.Geometry.GeoJSONType())
				}
				if ft.Properties["merged"] != true {
					t.Error("merged feature without merged=true")
				}
				b := ft.Geometry.Bound()
				if b.Min[0] < -64 || b.Min[1] < -64 || b.Max[0] > 4160 || b.Max[1] > 4160 {
					t.Errorf("merged geometry out of the buffer: %v", b)
				}
				total += int(ft.Properties["count"].(float64))
			}
			if total == 0 {
				t.Error("merged counts are zero")
			}
		})
	}
}

func TestMaxTileBytesMergesLargestLayer(t *testing.T) {
	f := newFixture(t, 40, Options{MaxTileBytes: 20_000})
	tl := tileAt(260, 260, 16)
	tile, err := f.e.Tile(context.Background(), []string{"buildings", "shops", "cameras"}, 16, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	if len(tile.Data) > 20_000 {
		t.Errorf("%d bytes", len(tile.Data))
	}
	if len(tile.Merged) == 0 || tile.Merged[0] != "buildings" {
		t.Errorf("merged %v, want buildings first", tile.Merged)
	}
}

func TestMergeCellsAlignWithTile(t *testing.T) {
	fr := newFrame(16, 0, 0, 4096, 64)
	for level := 0; level <= maxMergeLevel; level++ {
		g := newMergeGrid(&fr, level, 256)
		if g.origin > -64 || g.origin+float64(g.n)*g.cell < 4096+64 {
			t.Errorf("level %d: grid %v does not cover the buffer", level, g)
		}
		s := g.blockStarts()
		if s[0] != 0 || s[mergeBlocks] != g.n {
			t.Errorf("level %d: blocks %v", level, s)
		}
	}
}
