package tiles

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
)

type benchTile struct{ z, x, y uint32 }

// pyramid lists every tile of the fixture's area at zooms minZ..maxZ.
func pyramid(f *fixture, minZ, maxZ uint32) []benchTile {
	var out []benchTile
	for z := minZ; z <= maxZ; z++ {
		x0, y0, x1, y1 := TileRange(f.bounds, z)
		for x := x0; x <= x1; x++ {
			for y := y0; y <= y1; y++ {
				out = append(out, benchTile{z, x, y})
			}
		}
	}
	return out
}

var benchSets = []struct {
	name   string
	layers []string
}{
	{"buildings", []string{"buildings"}},
	{"all", nil}, // every layer of the catalogue
}

// benchFixtures are the districts of the benchmarks: the synthetic dense
// grid (50 176 buildings of 10 m on a 13 m pitch, 3 m alleys) and the demo
// district of layers/demo at scale 1 (about 20 000 buildings, every layer).
var benchFixtures = []struct {
	name string
	load func(testing.TB) *fixture
}{
	{"dense", denseFixture},
	{"demo", demoFixture},
}

// BenchmarkTileCold renders tiles without the cache, per zoom and over the
// whole z14–17 pyramid, one tile per iteration on one goroutine: tiles/s
// is per core (tiles/cpu-s too, counting CPU time only, garbage collection
// included).
func BenchmarkTileCold(b *testing.B) {
	for _, fx := range benchFixtures {
		b.Run(fx.name, func(b *testing.B) { benchmarkTileCold(b, fx.load(b)) })
	}
}

func benchmarkTileCold(b *testing.B, f *fixture) {
	for _, set := range benchSets {
		names := set.layers
		if names == nil {
			names = f.cat.Names()
		}
		_, sts, err := f.e.resolve(names)
		if err != nil {
			b.Fatal(err)
		}
		for _, zr := range [][2]uint32{{14, 14}, {15, 15}, {16, 16}, {17, 17}, {14, 17}} {
			name := fmt.Sprintf("%s/z%d", set.name, zr[0])
			if zr[0] != zr[1] {
				name = fmt.Sprintf("%s/z%d-%d", set.name, zr[0], zr[1])
			}
			tiles := pyramid(f, zr[0], zr[1])
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				bytes := 0
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					t := tiles[i%len(tiles)]
					tile, err := f.e.render(ctx, sts, t.z, t.x, t.y, nil)
					if err != nil {
						b.Fatal(err)
					}
					bytes += len(tile.Data)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
				b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "tiles/cpu-s")
				b.ReportMetric(float64(bytes)/float64(b.N), "B/tile")
			})
		}
	}
}

// BenchmarkTileColdParallel renders the z14–17 pyramid without the cache
// on all cores (the cold throughput of a node).
func BenchmarkTileColdParallel(b *testing.B) {
	for _, fx := range benchFixtures {
		b.Run(fx.name, func(b *testing.B) { benchmarkTileColdParallel(b, fx.load(b)) })
	}
}

func benchmarkTileColdParallel(b *testing.B, f *fixture) {
	tiles := pyramid(f, 14, 17)
	for _, set := range benchSets {
		names := set.layers
		if names == nil {
			names = f.cat.Names()
		}
		_, sts, err := f.e.resolve(names)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(set.name, func(b *testing.B) {
			var next atomic.Int64
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t := tiles[int(next.Add(1))%len(tiles)]
					if _, err := f.e.render(context.Background(), sts, t.z, t.x, t.y, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
			b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "tiles/cpu-s")
		})
	}
}

// BenchmarkTileWarm serves cached tiles of the z14–17 pyramid of the demo
// district from all goroutines.
func BenchmarkTileWarm(b *testing.B) {
	f := demoFixture(b)
	ctx := context.Background()
	names := f.cat.Names()
	if _, err := f.e.Warm(ctx, [][]string{{"buildings"}, names}, 14, 17, f.bounds); err != nil {
		b.Fatal(err)
	}
	for _, set := range benchSets {
		ls := set.layers
		if ls == nil {
			ls = names
		}
		tiles := pyramid(f, 14, 17)
		b.Run(set.name, func(b *testing.B) {
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					t := tiles[i%len(tiles)]
					i++
					if _, err := f.e.Tile(ctx, ls, t.z, t.x, t.y); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
			b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "tiles/cpu-s")
		})
	}
}

// BenchmarkEncode compares our whole render of a z16 building tile
// (query, transform, clip, simplify, encode) with only the encoding of the
// same features by orb/encoding/mvt.
func BenchmarkEncode(b *testing.B) {
	f := denseFixture(b)
	mid := 224 * 13 / 2.0
	tl := tileAt(mid, mid, 16)
	_, sts, _ := f.e.resolve([]string{"buildings"})
	ctx := context.Background()
	b.Run("hexward-render", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.e.render(ctx, sts, 16, tl.X, tl.Y, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	tile, _ := f.e.render(ctx, sts, 16, tl.X, tl.Y, nil)
	ls, err := mvt.Unmarshal(tile.Data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("orb-marshal-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := mvt.Marshal(ls); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTime is the CPU time of the process so far (user and system, all
// threads, the garbage collector's included): tiles per CPU second is the
// throughput of one core, whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
