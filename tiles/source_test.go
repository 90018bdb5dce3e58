package tiles

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// memSource is an in-memory Source for unit tests: a map of features per
// layer. (Store tests against PostGIS live with the store.)
type memSource struct {
	mu    sync.Mutex
	feats map[string]map[int64]layers.Feature
}

func newMemSource() *memSource { return &memSource{feats: map[string]map[int64]layers.Feature{}} }

func (s *memSource) put(f layers.Feature) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feats[f.Layer] == nil {
		s.feats[f.Layer] = map[int64]layers.Feature{}
	}
	s.feats[f.Layer][f.ID] = f
}

func (s *memSource) del(layer string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.feats[layer], id)
}

func (s *memSource) get(layer string, id int64) (layers.Feature, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.feats[layer][id]
	return f, ok
}

func (s *memSource) ScanLayer(ctx context.Context, layer string, fn func(layers.Feature) error) error {
	s.mu.Lock()
	var ids []int64
	for id := range s.feats[layer] {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ok := s.get(layer, id)
		if !ok {
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *memSource) Features(ctx context.Context, layer string, ids []int64) ([]layers.Feature, error) {
	var out []layers.Feature
	for _, id := range ids {
		if f, ok := s.get(layer, id); ok {
			out = append(out, f)
		}
	}
	return out, ctx.Err()
}

// Synthetic district: a dense urban village in Luohu, Shenzhen.
var origin = orb.Point{114.118, 22.548}

// metres converts an offset in metres east/north of origin to lon/lat.
func metres(dx, dy float64) orb.Point {
	const r = 6378137.0
	lat := origin[1] + dy/r*180/math.Pi
	lon := origin[0] + dx/(r*math.Cos(origin[1]*math.Pi/180))*180/math.Pi
	return orb.Point{lon, lat}
}

func square(x, y, w float64) orb.Polygon {
	return orb.Polygon{{metres(x, y), metres(x+w, y), metres(x+w, y+w), metres(x, y+w), metres(x, y)}}
}

var uses = []string{"residential", "commercial", "mixed", "industrial", "public", "dormitory"}

// district fills src with an n×n grid of buildings (w metres wide, on a
// pitch of p metres), streets between every 8 rows and columns, shops and
// cameras along them, compounds over 8×8 blocks and a subdistrict around
// it all. Ids are allocated from next. It returns the area's bounds.
func district(src *memSource, n int, w, p float64, next *int64) orb.Bound {
	id := func() int64 { *next++; return *next }
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			k := i*n + j
			src.put(layers.Feature{ID: id(), Layer: "buildings", Geometry: square(float64(i)*p, float64(j)*p, w),
				Props: map[string]any{
					"name":          fmt.Sprintf("%d栋", k),
					"address":       fmt.Sprintf("湖贝村 %d 巷 %d 号", i, j),
					"floors":        float64(3 + k%10),
					"height":        3.1 * float64(3+k%10),
					"use":           uses[k%len(uses)],
					"households":    float64(k % 40),
					"entrance":      []any{metres(float64(i)*p, float64(j)*p)[0], metres(float64(i)*p, float64(j)*p)[1]},
					"compound_code": fmt.Sprintf("C%03d", (i/8)*1000+j/8),
					"risk_flags":    "",
				}})
		}
	}
	size := float64(n) * p
	for i := 0; i <= n; i += 8 {
		x := float64(i)*p - (p-w)/2
		src.put(layers.Feature{ID: id(), Layer: "streets", Geometry: orb.LineString{metres(x, -5), metres(x, size+5)},
			Props: map[string]any{"name": fmt.Sprintf("南%d巷", i), "kind": "alley", "width": 3.0}})
		src.put(layers.Feature{ID: id(), Layer: "streets", Geometry: orb.LineString{metres(-5, x), metres(size/2, x+1), metres(size+5, x)},
			Props: map[string]any{"name": fmt.Sprintf("东%d巷", i), "kind": "street", "width": 6.0}})
		for j := 0; j < n; j += 2 {
			src.put(layers.Feature{ID: id(), Layer: "shops", Geometry: metres(x+1, float64(j)*p+w/2),
				Props: map[string]any{"name": fmt.Sprintf("店%d-%d", i, j), "category": "food"}})
		}
		for j := 0; j < n; j += 8 {
			src.put(layers.Feature{ID: id(), Layer: "cameras", Geometry: metres(x, float64(j)*p),
				Props: map[string]any{"name": fmt.Sprintf("摄像头%d-%d", i, j), "bearing": 90.0, "hfov": 60.0, "recording_24h": true}})
		}
	}
	for i := 0; i < n; i += 8 {
		for j := 0; j < n; j += 8 {
			x, y := float64(i)*p-1, float64(j)*p-1
			q := 8*p - (p - w)
			src.put(layers.Feature{ID: id(), Layer: "compounds",
				Geometry: orb.Polygon{{metres(x, y), metres(x+q, y), metres(x+q, y+q), metres(x, y+q), metres(x, y)}},
				Props:    map[string]any{"name": fmt.Sprintf("片区%d-%d", i, j), "kind": "urban_village"}})
		}
	}
	// a subdistrict with a hole (a park)
	outer := orb.Ring{metres(-20, -20), metres(size+20, -20), metres(size+20, size+20), metres(-20, size+20), metres(-20, -20)}
	hole := orb.Ring{metres(size/3, size/3), metres(size/3, size/2), metres(size/2, size/2), metres(size/2, size/3), metres(size/3, size/3)}
	src.put(layers.Feature{ID: id(), Layer: "subdistricts", Geometry: orb.Polygon{outer, hole},
		Props: map[string]any{"name": "桂园街道", "name_en": "Guiyuan"}})
	return orb.Bound{Min: metres(-20, -20), Max: metres(size+20, size+20)}
}
