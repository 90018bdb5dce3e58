package tiles

import (
	"context"
	"sync"
	"testing"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
)

var (
	demoOnce sync.Once
	demoFix  *fixture
)

// demoFixture loads the demo district of layers/demo (scale 1: about
// 20 000 buildings, every layer) into an engine.
func demoFixture(t testing.TB) *fixture {
	demoOnce.Do(func() {
		f := &fixture{src: newMemSource(), cat: layers.Governance()}
		err := demo.Generate(1, 1, func(ft layers.Feature) error {
			f.next++
			ft.ID = f.next
			f.src.put(ft)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		f.e = NewEngine(f.cat, f.src, Options{})
		if err := f.e.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.bounds = f.e.Bounds()
		demoFix = f
	})
	return demoFix
}

func TestDemoDistrictTiles(t *testing.T) {
	f := demoFixture(t)
	ctx := context.Background()
	all := f.cat.Names()
	largest := map[uint32]int{}
	for _, bt := range pyramid(f, 12, 16) {
		tile, err := f.e.Tile(ctx, all, bt.z, bt.x, bt.y)
		if err != nil {
			t.Fatal(err)
		}
		if len(tile.Data) > 500_000 {
			t.Errorf("%v: %d bytes", bt, len(tile.Data))
		}
		largest[bt.z] = max(largest[bt.z], len(tile.Data))
		decode(t, tile.Data)
	}
	t.Logf("largest tile per zoom: %v", largest)
}
