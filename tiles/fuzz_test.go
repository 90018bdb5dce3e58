package tiles

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/hexward/hexward/layers"
)

// FuzzTile requests tiles of fuzzed coordinates and comma-separated layer
// lists (as the /tiles/{layers}/{z}/{x}/{y}.mvt route splits them) from an
// engine over a small synthetic district. Tile must not panic; it refuses
// a tile that does not exist with ErrBadTile and a list naming a layer
// outside the catalogue with ErrUnknownLayer, and otherwise returns a tile
// that decodes, with a layer for each named layer at most.
func FuzzTile(f *testing.F) {
	src := newMemSource()
	var next int64
	district(src, 16, 10, 13, &next)
	cat := layers.Governance()
	e := NewEngine(cat, src, Options{CacheBytes: 4 << 20, MaxFeatures: 200, MaxTileBytes: 20_000})
	if err := e.Load(context.Background()); err != nil {
		f.Fatal(err)
	}
	all := strings.Join(cat.Names(), ",")
	for _, z := range []uint32{0, 8, 12, 14, 15, 16, 17, 18, 20, 22} {
		t := tileAt(100, 100, z)
		f.Add(all, z, t.X, t.Y)
		f.Add("buildings", z, t.X, t.Y)
		f.Add("streets,buildings,streets", z, t.X, t.Y)
	}
	for _, s := range []struct {
		names   string
		z, x, y uint32
	}{
		{"buildings", 23, 0, 0},
		{"buildings", 1, 2, 0},
		{"buildings", 0, 0, 1},
		{"buildings", 31, 1 << 31, 0},
		{"buildings", 32, 0, 0},
		{"buildings", 0xffffffff, 0xffffffff, 0xffffffff},
		{"", 14, 0, 0},
		{",", 14, 0, 0},
		{"nope", 14, 0, 0},
		{"buildings,nope", 14, 0, 0},
		{"buildings,", 14, 0, 0},
		{"Buildings", 14, 0, 0},
		{"shops,cameras,gates,subdistricts", 22, 3416327, 1827960},
	} {
		f.Add(s.names, s.z, s.x, s.y)
	}
	f.Fuzz(func(t *testing.T, names string, z, x, y uint32) {
		list := strings.Split(names, ",")
		tile, err := e.Tile(context.Background(), list, z, x, y)
		bad := z > MaxZoom || uint64(x) >= 1<<z || uint64(y) >= 1<<z
		unknown := false
		for _, n := range list {
			if _, ok := cat.Layer(n); !ok {
				unknown = true
			}
		}
		switch {
		case bad:
			if !errors.Is(err, ErrBadTile) {
				t.Fatalf("tile %d/%d/%d: error %v, want ErrBadTile", z, x, y, err)
			}
			return
		case unknown:
			if !errors.Is(err, ErrUnknownLayer) {
				t.Fatalf("layers %q: error %v, want ErrUnknownLayer", names, err)
			}
			return
		case err != nil:
			t.Fatalf("tile %d/%d/%d of %q: %v", z, x, y, names, err)
		}
		if tile == nil || tile.ETag == "" {
			t.Fatalf("tile %d/%d/%d of %q: %+v", z, x, y, names, tile)
		}
		ls, err := mvt.Unmarshal(tile.Data)
		if err != nil {
			t.Fatalf("tile %d/%d/%d of %q does not decode: %v", z, x, y, names, err)
		}
		for _, l := range ls {
			if !strings.Contains(","+names+",", ","+l.Name+",") {
				t.Fatalf("tile of %q has layer %s", names, l.Name)
			}
		}
	})
}
