package baseline

import (
	"context"
	"slices"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func ids(t *testing.T, data []byte, layer string) []int64 {
	t.Helper()
	ls, err := mvt.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, l := range ls {
		if l.Name != layer {
			continue
		}
		for _, f := range l.Features {
			switch id := f.ID.(type) {
			case float64:
				out = append(out, int64(id))
			case uint64:
				out = append(out, int64(id))
			case int64:
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestBaselineAgreesWithEngine runs the baseline's ST_AsMVT queries on a
// real PostGIS holding a small demo district and checks that they and the
// engine put the same features in the same tiles.
func TestBaselineAgreesWithEngine(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	cat := layers.Governance()
	store := layers.NewStore(pool, cat)
	var feats []layers.Feature
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { feats = append(feats, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(ctx, layers.FromSlice(feats), nil); err != nil {
		t.Fatal(err)
	}
	eng := tiles.NewEngine(cat, store, tiles.Options{Buffer: 256})
	if err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	c := eng.Bounds().Center()
	for _, z := range []uint32{16, 17} {
		tl := maptile.At(c, maptile.Zoom(z))
		for _, layer := range []string{"buildings", "streets", "cameras"} {
			base, err := BaselineTile(ctx, pool, layer, z, tl.X, tl.Y)
			if err != nil {
				t.Fatal(err)
			}
			mine, err := eng.Tile(ctx, []string{layer}, z, tl.X, tl.Y)
			if err != nil {
				t.Fatal(err)
			}
			b, e := ids(t, base, layer), ids(t, mine.Data, layer)
			if len(b) == 0 || !slices.Equal(b, e) {
				t.Errorf("z%d %s: baseline ids %v, engine ids %v", z, layer, b, e)
			}
		}
	}
	all, err := BaselineComposite(ctx, pool, cat.Names(), 16, maptile.At(c, 16).X, maptile.At(c, 16).Y)
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := mvt.Unmarshal(all); err != nil || len(ls) < 5 {
		t.Fatalf("composite: %d layers, %v", len(ls), err)
	}
}
