package spatial_test

import (
	"sync"
	"testing"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/spatial"
	"github.com/paulmach/orb"
)

type demoData struct {
	d     spatial.District
	areas []orb.Polygon // communities
	err   error
}

var (
	demoMu    sync.Mutex
	demoCache = map[float64]*demoData{}
)

// demoDistrict generates the demo district in memory (no database); the
// features get ids 1, 2, … in emission order.
func demoDistrict(tb testing.TB, scale float64) (spatial.District, []orb.Polygon) {
	tb.Helper()
	demoMu.Lock()
	defer demoMu.Unlock()
	dd, ok := demoCache[scale]
	if !ok {
		dd = &demoData{}
		var id int64
		dd.err = demo.Generate(1, scale, func(f layers.Feature) error {
			id++
			if f.Layer == "communities" {
				dd.areas = append(dd.areas, f.Geometry.(orb.Polygon))
			}
			return dd.d.Add(spatial.Feature{Layer: f.Layer, ID: id, Geometry: f.Geometry, Props: f.Props})
		})
		demoCache[scale] = dd
	}
	if dd.err != nil {
		tb.Fatal(dd.err)
	}
	return dd.d, dd.areas
}
