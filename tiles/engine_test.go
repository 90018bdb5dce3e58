package tiles

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/layers"
)

// fixture is a loaded engine over a small synthetic district (40×40
// buildings of 10 m on a 13 m pitch, about 520 m across).
type fixture struct {
	e      *Engine
	src    *memSource
	cat    *layers.Catalogue
	bounds orb.Bound
	next   int64
}

func newFixture(t testing.TB, n int, opt Options) *fixture {
	t.Helper()
	f := &fixture{src: newMemSource(), cat: layers.Governance()}
	f.bounds = district(f.src, n, 10, 13, &f.next)
	f.e = NewEngine(f.cat, f.src, opt)
	if err := f.e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// tileAt returns the tile of zoom z holding the point dx, dy metres from
// the district's origin.
func tileAt(dx, dy float64, z uint32) maptile.Tile {
	return maptile.At(metres(dx, dy), maptile.Zoom(z))
}

func decode(t testing.TB, data []byte) map[string]*mvt.Layer {
	t.Helper()
	ls, err := mvt.Unmarshal(data)
	if err != nil {
		t.Fatalf("orb cannot decode our tile: %v", err)
	}
	out := map[string]*mvt.Layer{}
	for _, l := range ls {
		if _, dup := out[l.Name]; dup {
			t.Fatalf("layer %s twice", l.Name)
		}
		out[l.Name] = l
	}
	return out
}

func TestTilesDecodeWithKindsAndCoordinates(t *testing.T) {
	f := newFixture(t, 40, Options{})
	all := f.cat.Names()
	kinds := map[layers.Kind][]string{
		layers.Plane: {orb.Polygon{}.GeoJSONType(), orb.MultiPolygon{}.GeoJSONType()},
		layers.Line:  {orb.LineString{}.GeoJSONType(), orb.MultiLineString{}.GeoJSONType()},
		layers.Point: {orb.Point{}.GeoJSONType(), orb.MultiPoint{}.GeoJSONType()},
	}
	seen := map[string]bool{}
	for z := uint32(12); z <= 19; z++ {
		tl := tileAt(260, 260, z)
		tile, err := f.e.Tile(context.Background(), all, z, tl.X, tl.Y)
		if err != nil {
			t.Fatal(err)
		}
		if len(tile.Merged) > 0 {
			t.Errorf("z%d: merged %v in a small district", z, tile.Merged)
		}
		total := 0
		for name, l := range decode(t, tile.Data) {
			def, ok := f.cat.Layer(name)
			if !ok {
				t.Fatalf("z%d: unknown layer %q in tile", z, name)
			}
			if l.Version != 2 || l.Extent != 4096 {
				t.Errorf("%s: version %d extent %d", name, l.Version, l.Extent)
			}
			seen[name] = true
			for _, ft := range l.Features {
				total++
				if !slices.Contains(kinds[def.Kind], ft.Geometry.GeoJSONType()) {
					t.Errorf("z%d %s: %s geometry in a %s layer", z, name, ft.Geometry.GeoJSONType(), def.Kind)
				}
				if ft.ID == nil {
					t.Errorf("z%d %s: feature without id", z, name)
				}
				b := ft.Geometry.Bound()
				if b.Min[0] < -64 || b.Min[1] < -64 || b.Max[0] > 4096+64 || b.Max[1] > 4096+64 {
					t.Errorf("z%d %s: feature %v outside extent+buffer: %v", z, name, ft.ID, b)
				}
				for k, v := range ft.Properties {
					switch v.(type) {
					case string, float64, int64, uint64, bool:
					default:
						t.Errorf("%s: property %s is %T", name, k, v)
					}
				}
				if _, ok := ft.Properties["entrance"]; ok {
					t.Errorf("%s: point property in tile", name)
				}
			}
		}
		if total != tile.Features {
			t.Errorf("z%d: Tile.Features %d, decoded %d", z, tile.Features, total)
		}
	}
	for _, name := range []string{"buildings", "streets", "shops", "cameras", "compounds", "subdistricts"} {
		if !seen[name] {
			t.Errorf("layer %s never rendered", name)
		}
	}
}

func TestPolygonWindingAndHoles(t *testing.T) {
	f := newFixture(t, 40, Options{})
	// the hole of the subdistrict is at a third to a half of the district
	tl := tileAt(260, 260, 16)
	tile, err := f.e.Tile(context.Background(), []string{"subdistricts"}, 16, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	ls := decode(t, tile.Data)
	sub := ls["subdistricts"]
	if sub == nil || len(sub.Features) != 1 {
		t.Fatalf("want one subdistrict feature, got %v", sub)
	}
	p, ok := sub.Features[0].Geometry.(orb.Polygon)
	if !ok {
		t.Fatalf("subdistrict is %T", sub.Features[0].Geometry)
	}
	if len(p) != 2 {
		t.Fatalf("want exterior and hole, got %d rings", len(p))
	}
	// orb decodes in tile coordinates (y down): the MVT exterior has
	// positive area by the surveyor's formula, which orb calls CCW.
	if p[0].Orientation() != orb.CCW || p[1].Orientation() != orb.CW {
		t.Errorf("orientations %v %v", p[0].Orientation(), p[1].Orientation())
	}
}

func TestFeatureIDsStable(t *testing.T) {
	f := newFixture(t, 40, Options{})
	g := newFixture(t, 40, Options{}) // same data, loaded separately
	tl := tileAt(100, 100, 17)
	a, err := f.e.Tile(context.Background(), []string{"buildings", "shops"}, 17, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.e.Tile(context.Background(), []string{"shops", "buildings", "shops"}, 17, tl.X, tl.Y)
	if err != nil {
		t.Fatal(err)
	}
	if a.ETag != b.ETag || string(a.Data) != string(b.Data) {
		t.Fatal("same data renders differently")
	}
	ids := map[any]string{}
	for _, ft := range decode(t, a.Data)["buildings"].Features {
		ids[ft.ID] = ft.Properties["name"].(string)
	}
	if len(ids) < 10 {
		t.Fatalf("only %d buildings", len(ids))
	}
	for id, name := range ids {
		src, ok := f.src.get("buildings", fid(id))
		if !ok || src.Props["name"] != name {
			t.Errorf("feature id %v is %q in the tile, %v in the source", id, name, src.Props["name"])
		}
	}
}

func TestZoomRanges(t *testing.T) {
	f := newFixture(t, 40, Options{})
	for _, l := range f.cat.Layers() {
		for _, z := range []int{l.MinZoom - 1, l.MinZoom, l.MaxZoom} {
			if z < 0 || z > MaxZoom {
				continue
			}
			// a tile inside the district with features of most layers
			tl := tileAt(16, 16, uint32(z))
			tile, err := f.e.Tile(context.Background(), []string{l.Name}, uint32(z), tl.X, tl.Y)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if ly := decode(t, tile.Data)[l.Name]; ly != nil {
				n = len(ly.Features)
			}
			in := z >= l.MinZoom && z <= l.MaxZoom
			if !in && n > 0 {
				t.Errorf("%s at z%d (range %d-%d): %d features", l.Name, z, l.MinZoom, l.MaxZoom, n)
			}
			if in && z == l.MinZoom && n == 0 && f.e.Stats().Features[l.Name] > 0 {
				t.Errorf("%s at z%d: no features", l.Name, z)
			}
		}
	}
}

func TestBadTiles(t *testing.T) {
	f := newFixture(t, 8, Options{})
	for _, tc := range []struct {
		name    string
		layers  []string
		z, x, y uint32
		want    error
	}{
		{"zoom too deep", []string{"buildings"}, 23, 0, 0, ErrBadTile},
		{"x past the edge", []string{"buildings"}, 3, 8, 0, ErrBadTile},
		{"y past the edge", []string{"buildings"}, 3, 0, 8, ErrBadTile},
		{"z0 x1", []string{"buildings"}, 0, 1, 0, ErrBadTile},
		{"huge", []string{"buildings"}, 22, 1 << 22, 0, ErrBadTile},
		{"unknown layer", []string{"buildings", "nope"}, 14, 0, 0, ErrUnknownLayer},
		{"no layer", nil, 14, 0, 0, ErrUnknownLayer},
		{"sql in a name", []string{"buildings;drop table features"}, 14, 0, 0, ErrUnknownLayer},
		{"fine", []string{"buildings"}, 22, 1<<22 - 1, 1<<22 - 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.e.Tile(context.Background(), tc.layers, tc.z, tc.x, tc.y)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == ErrUnknownLayer && len(tc.layers) > 0 && !strings.Contains(err.Error(), tc.layers[len(tc.layers)-1]) {
				t.Errorf("error %q does not name the layer", err)
			}
		})
	}
}

func TestConcurrentColdRequestsRenderOnce(t *testing.T) {
	f := newFixture(t, 40, Options{})
	tl := tileAt(200, 200, 16)
	before := f.e.Stats().Renders
	var wg sync.WaitGroup
	etags := make([]string, 32)
	for i := range etags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tile, err := f.e.Tile(context.Background(), []string{"buildings", "streets"}, 16, tl.X, tl.Y)
			if err != nil {
				t.Error(err)
				return
			}
			etags[i] = tile.ETag
		}()
	}
	wg.Wait()
	if n := f.e.Stats().Renders - before; n != 1 {
		t.Errorf("%d renders for one tile", n)
	}
	for _, e := range etags {
		if e != etags[0] {
			t.Fatal("different ETags")
		}
	}
}

func TestCancelledRequest(t *testing.T) {
	f := newFixture(t, 40, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tl := tileAt(200, 200, 15)
	if _, err := f.e.Tile(ctx, []string{"buildings"}, 15, tl.X, tl.Y); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// a later request still gets the tile
	if _, err := f.e.Tile(context.Background(), []string{"buildings"}, 15, tl.X, tl.Y); err != nil {
		t.Fatal(err)
	}
}

func TestDegenerateDropped(t *testing.T) {
	src := newMemSource()
	// 1 cm features: far under one tile unit at z14 (≈ 0.55 m), 4–5 units at z22
	src.put(layers.Feature{ID: 1, Layer: "buildings", Geometry: square(0, 0, 0.01)})
	src.put(layers.Feature{ID: 2, Layer: "streets", Geometry: orb.LineString{metres(0, 0), metres(0.01, 0.002)}})
	e := NewEngine(layers.Governance(), src, Options{})
	if err := e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		z    uint32
		want int
	}{{14, 0}, {16, 0}, {22, 2}} {
		tl := tileAt(0.005, 0.005, tc.z)
		tile, err := e.Tile(context.Background(), []string{"buildings", "streets"}, tc.z, tl.X, tl.Y)
		if err != nil {
			t.Fatal(err)
		}
		if tile.Features != tc.want {
			t.Errorf("z%d: %d features, want %d", tc.z, tile.Features, tc.want)
		}
	}
}

func TestWarmAndBounds(t *testing.T) {
	f := newFixture(t, 40, Options{})
	b := f.e.Bounds()
	if !b.Contains(f.bounds.Min) || !b.Contains(f.bounds.Max) {
		// allow float wiggle
		if d := b.Min.Lon() - f.bounds.Min.Lon(); d > 1e-9 || d < -1e-9 {
			t.Errorf("bounds %v, data %v", b, f.bounds)
		}
	}
	want := 0
	for z := uint32(14); z <= 17; z++ {
		x0, y0, x1, y1 := TileRange(b, z)
		want += int((x1 - x0 + 1) * (y1 - y0 + 1))
	}
	n, err := f.e.Warm(context.Background(), [][]string{{"buildings"}, {"buildings", "streets"}}, 14, 17, b)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*want {
		t.Errorf("warmed %d tiles, want %d", n, 2*want)
	}
	st := f.e.Stats()
	if st.Entries != 2*want || st.Renders != uint64(2*want) {
		t.Errorf("entries %d renders %d, want %d", st.Entries, st.Renders, 2*want)
	}
	// outside a layer's zooms nothing is visited
	if n, _ := f.e.Warm(context.Background(), [][]string{{"shops"}}, 10, 15, b); n != 0 {
		t.Errorf("warmed %d shop tiles below z16", n)
	}
}

func TestCacheBoundedByBytes(t *testing.T) {
	f := newFixture(t, 40, Options{CacheBytes: 64 << 10})
	if _, err := f.e.Warm(context.Background(), [][]string{{"buildings"}}, 14, 19, f.e.Bounds()); err != nil {
		t.Fatal(err)
	}
	st := f.e.Stats()
	if st.Bytes > 64<<10 || st.Evictions == 0 {
		t.Errorf("cache holds %d bytes after %d evictions", st.Bytes, st.Evictions)
	}
	// the index by coordinate follows the LRU
	n := 0
	for _, m := range f.e.cache.byZoom {
		for _, sets := range m {
			n += len(sets)
		}
	}
	if n != st.Entries {
		t.Errorf("coordinate index has %d entries, cache %d", n, st.Entries)
	}
}

func TestTileJSON(t *testing.T) {
	cat := layers.Governance()
	b := orb.Bound{Min: orb.Point{114.1, 22.5}, Max: orb.Point{114.2, 22.6}}
	doc := TileJSON(cat, []string{"buildings", "shops"}, "https://x/tiles/buildings,shops/{z}/{x}/{y}.mvt", b)
	if doc["tilejson"] != "3.0.0" {
		t.Errorf("tilejson %v", doc["tilejson"])
	}
	if tl := doc["tiles"].([]string); len(tl) != 1 || !strings.Contains(tl[0], "{z}/{x}/{y}") {
		t.Errorf("tiles %v", tl)
	}
	vls := doc["vector_layers"].([]any)
	if len(vls) != 2 {
		t.Fatalf("vector_layers %v", vls)
	}
	bl := vls[0].(map[string]any)
	if bl["id"] != "buildings" || bl["minzoom"] != 14 || bl["maxzoom"] != 22 {
		t.Errorf("buildings layer %v", bl)
	}
	fields := bl["fields"].(map[string]string)
	for k, v := range map[string]string{"name": "String", "floors": "Number", "use": "String", "merged": "Boolean"} {
		if fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, fields[k], v)
		}
	}
	if _, ok := fields["entrance"]; ok {
		t.Error("point property listed as a field")
	}
	if doc["minzoom"] != 14 || doc["maxzoom"] != 22 {
		t.Errorf("zooms %v-%v", doc["minzoom"], doc["maxzoom"])
	}
	if bs := doc["bounds"].([]float64); len(bs) != 4 || bs[0] != 114.1 {
		t.Errorf("bounds %v", bs)
	}
}

func TestStyle(t *testing.T) {
	cat := layers.Governance()
	s := Style(cat, "http://127.0.0.1:8080", orb.Bound{Min: orb.Point{114.1, 22.5}, Max: orb.Point{114.2, 22.6}})
	if s["version"] != 8 {
		t.Fatal("not a v8 style")
	}
	src := s["sources"].(map[string]any)["hexward"].(map[string]any)
	url := src["tiles"].([]string)[0]
	if url != "http://127.0.0.1:8080/tiles/"+strings.Join(cat.Names(), ",")+"/{z}/{x}/{y}.mvt" {
		t.Errorf("tiles URL %s", url)
	}
	if g := s["glyphs"].(string); g != "http://127.0.0.1:8080/fonts/{fontstack}/{range}.pbf" {
		t.Errorf("glyphs %s", g)
	}
	ids := map[string]map[string]any{}
	for _, l := range s["layers"].([]any) {
		m := l.(map[string]any)
		id := m["id"].(string)
		if _, dup := ids[id]; dup {
			t.Errorf("style layer %s twice", id)
		}
		ids[id] = m
		if m["type"] == "background" {
			continue
		}
		md := m["metadata"].(map[string]any)
		if _, ok := cat.Layer(md["hexward:layer"].(string)); !ok || md["hexward:title_zh"] == "" {
			t.Errorf("%s: metadata %v", id, md)
		}
		if m["source"] != "hexward" {
			t.Errorf("%s: source %v", id, m["source"])
		}
	}
	for _, l := range cat.Layers() {
		m, ok := ids[l.Name]
		if !ok {
			t.Errorf("no style layer for %s", l.Name)
			continue
		}
		want := map[layers.Kind]string{layers.Plane: "fill", layers.Line: "line", layers.Point: "circle"}[l.Kind]
		if m["type"] != want {
			t.Errorf("%s: type %v, want %s", l.Name, m["type"], want)
		}
		if l.Kind == layers.Plane {
			if _, ok := ids[l.Name+"-outline"]; !ok {
				t.Errorf("%s: no outline", l.Name)
			}
		}
		if l.Label != "" {
			lb, ok := ids[l.Name+"-label"]
			if !ok {
				t.Errorf("%s: no label layer", l.Name)
				continue
			}
			tf := lb["layout"].(map[string]any)["text-field"].([]any)
			if tf[0] != "coalesce" {
				t.Errorf("%s: text-field %v", l.Name, tf)
			}
		}
		if l.Style.ColorBy != "" {
			paint := m["paint"].(map[string]any)
			color := map[layers.Kind]any{layers.Plane: paint["fill-color"], layers.Line: paint["line-color"], layers.Point: paint["circle-color"]}[l.Kind]
			if c, ok := color.([]any); !ok || c[0] != "match" {
				t.Errorf("%s: colour %v is not a match", l.Name, color)
			}
		}
	}
	// nothing refers outside baseURL
	var walk func(v any)
	walk = func(v any) {
		switch t2 := v.(type) {
		case string:
			if strings.Contains(t2, "://") && !strings.HasPrefix(t2, "http://127.0.0.1:8080/") {
				t.Errorf("external URL %s", t2)
			}
		case []string:
			for _, x := range t2 {
				walk(x)
			}
		case []any:
			for _, x := range t2 {
				walk(x)
			}
		case map[string]any:
			for _, x := range t2 {
				walk(x)
			}
		}
	}
	walk(s)
}

// fid returns a decoded feature id (orb decodes ids as float64).
func fid(id any) int64 {
	switch v := id.(type) {
	case float64:
		return int64(v)
	case uint64:
		return int64(v)
	case int64:
		return v
	}
	return -1
}
