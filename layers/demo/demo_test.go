package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/layers"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// generate collects the features of one run.
func generate(t testing.TB, seed int64, scale float64) []layers.Feature {
	t.Helper()
	var fs []layers.Feature
	if err := Generate(seed, scale, func(f layers.Feature) error {
		fs = append(fs, f)
		return nil
	}); err != nil {
		t.Fatalf("Generate(%d, %v): %v", seed, scale, err)
	}
	return fs
}

var (
	scale1Once sync.Once
	scale1     []layers.Feature
)

// atScale1 returns the features of seed 1 at scale 1, generated once.
func atScale1(t *testing.T) []layers.Feature {
	t.Helper()
	scale1Once.Do(func() { scale1 = generate(t, 1, 1) })
	if scale1 == nil {
		t.Fatal("no features at scale 1")
	}
	return scale1
}

func byLayer(fs []layers.Feature) map[string][]layers.Feature {
	m := map[string][]layers.Feature{}
	for _, f := range fs {
		m[f.Layer] = append(m[f.Layer], f)
	}
	return m
}

// writeFeature writes a canonical form of f to h.
func writeFeature(h hash.Hash, f layers.Feature) {
	fmt.Fprintf(h, "%s|%d|%T%v|", f.Layer, f.ID, f.Geometry, f.Geometry)
	keys := make([]string, 0, len(f.Props))
	for k := range f.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%T:%v;", k, f.Props[k], f.Props[k])
	}
	h.Write([]byte{'\n'})
}

func digest(fs []layers.Feature) string {
	h := sha256.New()
	for _, f := range fs {
		writeFeature(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name  string
		seed  int64
		scale float64
	}{
		{"seed 1 scale 0.3", 1, 0.3},
		{"seed 42 scale 0.5", 42, 0.5},
		{"negative seed", -7, 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := digest(generate(t, tc.seed, tc.scale)), digest(generate(t, tc.seed, tc.scale))
			if a != b {
				t.Fatalf("two runs differ: %s vs %s", a, b)
			}
			if c := digest(generate(t, tc.seed+1, tc.scale)); c == a {
				t.Fatalf("seed %d and %d give the same district", tc.seed, tc.seed+1)
			}
		})
	}
	t.Run("scale 1", func(t *testing.T) {
		if a, b := digest(atScale1(t)), digest(generate(t, 1, 1)); a != b {
			t.Fatalf("two runs differ: %s vs %s", a, b)
		}
	})
}

// TestOrder checks that every layer of the catalogue is present and that
// the layers come one after the other in dependency order.
func TestOrder(t *testing.T) {
	fs := atScale1(t)
	want := []string{
		"subdistricts", "communities", "compounds", "village_zones", "streets", "buildings",
		"courtyard_rows", "dormitory_rows", "shop_streets", "fences", "gates", "shops",
		"frontages", "cameras", "camera_views", "sensors", "officers",
	}
	var got []string
	for _, f := range fs {
		if len(got) == 0 || got[len(got)-1] != f.Layer {
			got = append(got, f.Layer)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("layer order\n got %v\nwant %v", got, want)
	}
	cat := layers.Governance()
	for _, name := range cat.Names() {
		// Alerts and tracks come from the rules and the officers'
		// positions, incidents from Incidents, the analyses' layers from
		// package analysis.
		derived := name == "alerts" || name == "tracks" || name == "incidents" || slices.Contains(analysis.ResultLayers, name) && name != "camera_views" && name != "frontages"
		if !slices.Contains(got, name) && !derived {
			t.Errorf("layer %s has no features", name)
		}
	}
	for _, name := range got {
		if _, ok := cat.Layer(name); !ok {
			t.Errorf("layer %s is not in the catalogue", name)
		}
	}
}

func TestCountsAtScale1(t *testing.T) {
	m := byLayer(atScale1(t))
	tests := []struct {
		layer    string
		min, max int
	}{
		{"subdistricts", 1, 1},
		{"communities", 5, 8},
		{"compounds", 80, 300},
		{"village_zones", 100, 800},
		{"buildings", 15000, 25000},
		{"streets", 1000, 20000},
		{"courtyard_rows", 10, 2000},
		{"dormitory_rows", 5, 500},
		{"shop_streets", 20, 2000},
		{"fences", 500, 10000},
		{"gates", 100, 2000},
		{"shops", 1000, 6000},
		{"frontages", 1000, 6000},
		{"cameras", 100, 1000},
		{"camera_views", 100, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.layer, func(t *testing.T) {
			if n := len(m[tc.layer]); n < tc.min || n > tc.max {
				t.Errorf("%d %s, want %d–%d", n, tc.layer, tc.min, tc.max)
			}
		})
	}
	if len(m["frontages"]) != len(m["shops"]) {
		t.Errorf("%d frontages for %d shops", len(m["frontages"]), len(m["shops"]))
	}
	if len(m["camera_views"]) != len(m["cameras"]) {
		t.Errorf("%d views for %d cameras", len(m["camera_views"]), len(m["cameras"]))
	}
	kinds := map[string]int{}
	for _, f := range m["compounds"] {
		kinds[f.Props["kind"].(string)]++
	}
	for _, k := range []string{"urban_village", "residential", "old_estate", "commercial"} {
		if kinds[k] == 0 {
			t.Errorf("no %s compound (kinds %v)", k, kinds)
		}
	}
}

func TestScaleGrowsArea(t *testing.T) {
	small, large := byLayer(generate(t, 3, 0.3)), byLayer(generate(t, 3, 0.6))
	for _, layer := range []string{"buildings", "shops", "cameras"} {
		r := float64(len(large[layer])) / float64(len(small[layer]))
		if r < 1.5 || r > 2.6 {
			t.Errorf("%s: %d at scale 0.6, %d at 0.3: ratio %.2f, want about 2", layer, len(large[layer]), len(small[layer]), r)
		}
	}
	area := func(m map[string][]layers.Feature) float64 { return planar.Area(m["subdistricts"][0].Geometry) }
	if r := area(large) / area(small); r < 1.5 || r > 2.6 {
		t.Errorf("area ratio %.2f, want about 2", r)
	}
}

// checkValue checks one property value against its schema.
func checkValue(p *layers.Property, v any) error {
	switch p.Type {
	case layers.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%T, want string", v)
		}
		maxLen := p.MaxLen
		if maxLen == 0 {
			maxLen = 1000
		}
		if n := utf8.RuneCountInString(s); n > maxLen || n == 0 {
			return fmt.Errorf("%q: %d runes, want 1–%d", s, n, maxLen)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
			return fmt.Errorf("%q not in %v", s, p.Enum)
		}
		return nil
	case layers.Integer:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("%T, want int64", v)
		}
		return checkRange(p, float64(n))
	case layers.Number:
		x, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%T, want float64", v)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%v", x)
		}
		return checkRange(p, x)
	case layers.Boolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%T, want bool", v)
		}
		return nil
	case layers.PointProp:
		pt, ok := v.([]float64)
		if !ok || len(pt) != 2 {
			return fmt.Errorf("%T %v, want []float64{lon, lat}", v, v)
		}
		return nil
	}
	return fmt.Errorf("type %s not expected", p.Type)
}

func checkRange(p *layers.Property, x float64) error {
	if p.Min != nil && x < *p.Min {
		return fmt.Errorf("%v < min %v", x, *p.Min)
	}
	if p.Max != nil && x > *p.Max {
		return fmt.Errorf("%v > max %v", x, *p.Max)
	}
	return nil
}

func TestPropertiesMatchSchema(t *testing.T) {
	cat := layers.Governance()
	errs := map[string]int{}
	for _, f := range atScale1(t) {
		l, ok := cat.Layer(f.Layer)
		if !ok {
			t.Fatalf("unknown layer %s", f.Layer)
		}
		if f.ID != 0 {
			t.Fatalf("%s feature with ID %d", f.Layer, f.ID)
		}
		for k, v := range f.Props {
			p, ok := l.Prop(k)
			if !ok {
				errs[fmt.Sprintf("%s.%s: not in the schema", f.Layer, k)]++
				continue
			}
			if err := checkValue(p, v); err != nil {
				errs[fmt.Sprintf("%s.%s: %v", f.Layer, k, err)]++
			}
		}
		for _, p := range l.Props {
			if _, ok := f.Props[p.Name]; p.Required && !ok {
				errs[fmt.Sprintf("%s.%s: required, missing", f.Layer, p.Name)]++
			}
		}
		if _, ok := f.Props["source_id"].(string); !ok {
			errs[f.Layer+": no source_id"]++
		}
	}
	reportErrors(t, errs)
}

// reportErrors reports at most 20 kinds of error with their counts.
func reportErrors(t *testing.T, errs map[string]int) {
	t.Helper()
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 20 {
			t.Errorf("… and %d more", len(keys)-i)
			break
		}
		t.Errorf("%s (%d features)", k, errs[k])
	}
}

func TestSpecificProperties(t *testing.T) {
	m := byLayer(atScale1(t))
	codes := map[string]map[string]bool{}
	for _, layer := range []string{"subdistricts", "communities", "compounds", "village_zones"} {
		codes[layer] = map[string]bool{}
		for _, f := range m[layer] {
			c, _ := f.Props["code"].(string)
			if c == "" || codes[layer][c] {
				t.Fatalf("%s: empty or repeated code %q", layer, c)
			}
			codes[layer][c] = true
		}
	}
	tests := []struct {
		layer, prop, parentLayer string
	}{
		{"communities", "parent_code", "subdistricts"},
		{"compounds", "parent_code", "communities"},
		{"village_zones", "parent_code", "compounds"},
		{"buildings", "compound_code", "compounds"},
		{"courtyard_rows", "compound_code", "compounds"},
		{"dormitory_rows", "compound_code", "compounds"},
		{"gates", "zone_code", "village_zones"},
		{"fences", "zone_code", "village_zones"},
	}
	for _, tc := range tests {
		t.Run(tc.layer+"."+tc.prop, func(t *testing.T) {
			for _, f := range m[tc.layer] {
				if c, _ := f.Props[tc.prop].(string); !codes[tc.parentLayer][c] {
					t.Fatalf("%s with %s %q: no such %s", tc.layer, tc.prop, c, tc.parentLayer)
				}
			}
		})
	}
	t.Run("village zones are in urban villages", func(t *testing.T) {
		kind := map[string]string{}
		for _, f := range m["compounds"] {
			kind[f.Props["code"].(string)] = f.Props["kind"].(string)
		}
		for _, f := range m["village_zones"] {
			if k := kind[f.Props["parent_code"].(string)]; k != "urban_village" {
				t.Fatalf("zone %v in a %s compound", f.Props["code"], k)
			}
		}
	})
	t.Run("communities and compounds", func(t *testing.T) {
		for _, layer := range []string{"communities", "compounds"} {
			for _, f := range m[layer] {
				for _, k := range []string{"name", "name_en", "party_branch", "responsible", "phone"} {
					if _, ok := f.Props[k]; !ok {
						t.Fatalf("%s %v without %s", layer, f.Props["code"], k)
					}
				}
				if ph := f.Props["phone"].(string); len(ph) != 11 || !strings.HasPrefix(ph, "1380013") {
					t.Fatalf("phone %q", ph)
				}
			}
		}
		for _, f := range m["communities"] {
			if p, _ := f.Props["population"].(int64); p <= 0 {
				t.Fatalf("community %v population %v", f.Props["code"], f.Props["population"])
			}
		}
	})
	t.Run("village buildings", func(t *testing.T) {
		kind := map[string]string{}
		for _, f := range m["compounds"] {
			kind[f.Props["code"].(string)] = f.Props["kind"].(string)
		}
		n := 0
		for _, f := range m["buildings"] {
			if kind[f.Props["compound_code"].(string)] != "urban_village" {
				continue
			}
			n++
			if fl := f.Props["floors"].(int64); fl < 5 || fl > 12 {
				t.Fatalf("village building %v with %d floors", f.Props["name"], fl)
			}
			name := f.Props["name"].(string)
			if !strings.HasSuffix(name, "栋") || !strings.Contains(name, "村") {
				t.Fatalf("village building name %q", name)
			}
			// width along the front: the first edge of the footprint
			r := f.Geometry.(orb.Polygon)[0]
			if w := metres(r[0], r[1]); w < 5.9 || w > 15.1 {
				w2 := metres(r[1], r[2])
				if w2 < 5.9 || w2 > 15.1 {
					t.Fatalf("village building %s %.1f × %.1f m", name, w, w2)
				}
			}
		}
		if n < 10000 {
			t.Fatalf("%d village buildings, want most of them", n)
		}
	})
	t.Run("entrances on the footprint", func(t *testing.T) {
		for _, f := range m["buildings"] {
			e := f.Props["entrance"].([]float64)
			p := orb.Point{e[0], e[1]}
			if d := planar.DistanceFrom(f.Geometry.(orb.Polygon)[0], p); d > 3e-6 {
				t.Fatalf("building %v: entrance %.2f m from its outline", f.Props["name"], d*111000)
			}
		}
	})
	t.Run("alleys and lanes", func(t *testing.T) {
		kinds := map[string]int{}
		for _, f := range m["streets"] {
			k := f.Props["kind"].(string)
			kinds[k]++
			w := f.Props["width"].(float64)
			switch k {
			case "alley", "lane":
				if w < 1 || w > 4 {
					t.Fatalf("%s %v width %v", k, f.Props["name"], w)
				}
			case "main", "secondary":
				if w < 10 || w > 30 {
					t.Fatalf("%s %v width %v", k, f.Props["name"], w)
				}
			}
		}
		for _, k := range []string{"main", "secondary", "street", "lane", "alley"} {
			if kinds[k] == 0 {
				t.Errorf("no %s (kinds %v)", k, kinds)
			}
		}
	})
	t.Run("shops and frontages", func(t *testing.T) {
		shops := map[string]layers.Feature{}
		for _, f := range m["shops"] {
			shops[f.Props["source_id"].(string)] = f
		}
		for _, f := range m["frontages"] {
			id := strings.Replace(f.Props["source_id"].(string), "demo:frontage:", "demo:shop:", 1)
			s, ok := shops[id]
			if !ok {
				t.Fatalf("frontage %v without its shop", f.Props["source_id"])
			}
			if s.Props["name"] != f.Props["shop_name"] || s.Props["owner"] != f.Props["responsible"] {
				t.Fatalf("frontage %v of %v", f.Props, s.Props)
			}
			// the shop's door is on the frontage's edge
			pt := s.Geometry.(orb.Point)
			if d := planar.DistanceFrom(f.Geometry.(orb.Polygon)[0], pt); d > 2e-6 {
				t.Fatalf("shop %v %.2f m from its frontage", id, d*111000)
			}
			if l := f.Props["length_m"].(float64); l <= 0 || l > 9.01 {
				t.Fatalf("frontage length %v", l)
			}
		}
	})
	t.Run("cameras and views", func(t *testing.T) {
		cams := map[string]layers.Feature{}
		for _, f := range m["cameras"] {
			id := f.Props["source_id"].(string)
			if _, dup := cams[id]; dup {
				t.Fatalf("camera %s twice", id)
			}
			cams[id] = f
			if h := f.Props["mount_height"].(float64); h < 3 || h > 8 {
				t.Fatalf("mount height %v", h)
			}
			if h := f.Props["hfov"].(float64); h < 30 || h > 110 {
				t.Fatalf("hfov %v", h)
			}
		}
		offBearing := 0
		for _, f := range m["camera_views"] {
			c, ok := cams[f.Props["source_id"].(string)]
			if !ok {
				t.Fatalf("view %v without camera", f.Props["source_id"])
			}
			if _, ok := f.Props["camera_id"]; ok {
				t.Fatal("view with a camera_id")
			}
			hfov := c.Props["hfov"].(float64)
			want := min(float64(c.Props["resolution_h"].(int64))/(2*62.5*math.Tan(hfov/2*math.Pi/180)), maxViewRange)
			if got := f.Props["range_m"].(float64); math.Abs(got-want) > 0.06 || f.Props["level"] != "observe" {
				t.Fatalf("view range %v level %v, want %.2f observe", got, f.Props["level"], want)
			}
			// the apex is the camera, and the sector looks along the bearing
			cp := c.Geometry.(orb.Point)
			if !slices.Contains(f.Geometry.(orb.Polygon)[0], cp) {
				t.Fatalf("view %v does not start at its camera", f.Props["source_id"])
			}
			centroid, _ := planar.CentroidArea(f.Geometry)
			dx := (centroid[0] - cp[0]) * math.Cos(cp[1]*math.Pi/180)
			dy := centroid[1] - cp[1]
			got := math.Atan2(dx, dy) * 180 / math.Pi
			diff := math.Mod(math.Abs(got-c.Props["bearing"].(float64))+360, 360)
			if diff > 180 {
				diff = 360 - diff
			}
			if diff > 2 {
				offBearing++
			}
		}
		// views cut by the subdistrict boundary may look elsewhere
		if offBearing > len(m["cameras"])/20 {
			t.Errorf("%d of %d views do not look along their camera's bearing", offBearing, len(m["cameras"]))
		}
	})
	t.Run("gates", func(t *testing.T) {
		kinds := map[string]int{}
		for _, f := range m["gates"] {
			kinds[f.Props["kind"].(string)]++
			if h, ok := f.Props["staffed_hours"].(string); ok && (len(h) != 11 || h[2] != ':' || h[5] != '-') {
				t.Fatalf("staffed hours %q", h)
			}
		}
		for _, k := range []string{"main", "side", "remote", "emergency"} {
			if kinds[k] == 0 {
				t.Errorf("no %s gate (%v)", k, kinds)
			}
		}
	})
}

// metres is the approximate distance between two lon/lat points.
func metres(a, b orb.Point) float64 {
	dx := (b[0] - a[0]) * 111320 * math.Cos(a[1]*math.Pi/180)
	dy := (b[1] - a[1]) * 110574
	return math.Hypot(dx, dy)
}

// segmentsCross reports whether segments ab and cd intersect (touching counts).
func segmentsCross(a, b, c, d orb.Point) bool {
	o := func(p, q, r orb.Point) float64 { return (q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]) }
	on := func(p, q, r orb.Point) bool { // r on pq, given collinear
		return min(p[0], q[0]) <= r[0] && r[0] <= max(p[0], q[0]) && min(p[1], q[1]) <= r[1] && r[1] <= max(p[1], q[1])
	}
	d1, d2, d3, d4 := o(c, d, a), o(c, d, b), o(a, b, c), o(a, b, d)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && on(c, d, a)) || (d2 == 0 && on(c, d, b)) || (d3 == 0 && on(a, b, c)) || (d4 == 0 && on(a, b, d))
}

// ringError returns why r is not a valid simple counter-clockwise ring.
func ringError(r orb.Ring) error {
	if len(r) < 4 {
		return fmt.Errorf("%d points", len(r))
	}
	if !r.Closed() {
		return errors.New("not closed")
	}
	if r.Orientation() != orb.CCW {
		return errors.New("not counter-clockwise")
	}
	if a := planar.Area(orb.Polygon{r}); !(a > 0) {
		return fmt.Errorf("area %v", a)
	}
	n := len(r) - 1
	for i := range n {
		if r[i] == r[i+1] {
			return errors.New("repeated point")
		}
		for j := i + 1; j < n; j++ {
			if j == i+1 || (i == 0 && j == n-1) {
				continue // neighbouring edges share a point
			}
			if segmentsCross(r[i], r[i+1], r[j], r[j+1]) {
				return fmt.Errorf("edges %d and %d cross", i, j)
			}
		}
	}
	return nil
}

func TestGeometries(t *testing.T) {
	fs := atScale1(t)
	cat := layers.Governance()
	sub := byLayer(fs)["subdistricts"][0].Geometry.(orb.Polygon)
	inside := func(p orb.Point) bool {
		return planar.PolygonContains(sub, p) || planar.DistanceFrom(sub[0], p) < 1e-7
	}
	errs := map[string]int{}
	for _, f := range fs {
		l, _ := cat.Layer(f.Layer)
		var pts []orb.Point
		switch g := f.Geometry.(type) {
		case orb.Point:
			if l.Kind != layers.Point {
				errs[f.Layer+": point geometry"]++
			}
			pts = []orb.Point{g}
		case orb.LineString:
			if l.Kind != layers.Line {
				errs[f.Layer+": line geometry"]++
			}
			distinct := 1
			for i := 1; i < len(g); i++ {
				if g[i] != g[0] {
					distinct++
				}
			}
			if distinct < 2 {
				errs[f.Layer+": line with fewer than 2 distinct points"]++
			}
			pts = g
		case orb.Polygon:
			if l.Kind != layers.Plane {
				errs[f.Layer+": polygon geometry"]++
			}
			if len(g) != 1 {
				errs[fmt.Sprintf("%s: %d rings", f.Layer, len(g))]++
			}
			for _, r := range g {
				if err := ringError(r); err != nil {
					errs[fmt.Sprintf("%s: %v", f.Layer, err)]++
				}
			}
			pts = g[0]
		default:
			errs[fmt.Sprintf("%s: %T geometry", f.Layer, f.Geometry)]++
		}
		for _, p := range pts {
			if !inside(p) {
				errs[f.Layer+": outside the subdistrict"]++
				break
			}
		}
		if e, ok := f.Props["entrance"].([]float64); ok && !inside(orb.Point{e[0], e[1]}) {
			errs[f.Layer+": entrance outside the subdistrict"]++
		}
	}
	reportErrors(t, errs)
	c := sub.Bound().Center()
	if math.Abs(c[0]-centreLon) > 0.01 || math.Abs(c[1]-centreLat) > 0.01 {
		t.Errorf("district centred at %v, want near %v, %v", c, centreLon, centreLat)
	}
}

// polygonsOverlap reports whether two simple polygons intersect (touching
// counts).
func polygonsOverlap(a, b orb.Ring) bool {
	for i := 0; i+1 < len(a); i++ {
		for j := 0; j+1 < len(b); j++ {
			if segmentsCross(a[i], a[i+1], b[j], b[j+1]) {
				return true
			}
		}
	}
	return planar.RingContains(a, b[0]) || planar.RingContains(b, a[0])
}

// TestContainment checks that the planes nest: every building in its
// compound, every compound in its community, every zone in its compound.
// Every building and zone is checked, with a small tolerance for rounding.
func TestContainment(t *testing.T) {
	m := byLayer(atScale1(t))
	polys := map[string]orb.Polygon{}
	for _, layer := range []string{"communities", "compounds", "village_zones"} {
		for _, f := range m[layer] {
			polys[f.Props["code"].(string)] = f.Geometry.(orb.Polygon)
		}
	}
	within := func(outer orb.Polygon, inner orb.Ring) bool {
		for _, p := range inner {
			if !planar.PolygonContains(outer, p) && planar.DistanceFrom(outer[0], p) > 1e-7 {
				return false
			}
		}
		return true
	}
	tests := []struct{ layer, prop string }{
		{"compounds", "parent_code"},
		{"village_zones", "parent_code"},
		{"buildings", "compound_code"},
	}
	for _, tc := range tests {
		t.Run(tc.layer, func(t *testing.T) {
			for _, f := range m[tc.layer] {
				if !within(polys[f.Props[tc.prop].(string)], f.Geometry.(orb.Polygon)[0]) {
					t.Fatalf("%s %v is not inside %v", tc.layer, f.Props["name"], f.Props[tc.prop])
				}
			}
		})
	}
}

// TestNoOverlaps checks with a grid index that no two buildings overlap, and
// no two frontages.
func TestNoOverlaps(t *testing.T) {
	m := byLayer(atScale1(t))
	for _, layer := range []string{"buildings", "frontages"} {
		t.Run(layer, func(t *testing.T) {
			fs := m[layer]
			const cell = 0.0005 // about 50 m
			type key [2]int
			grid := map[key][]int{}
			bounds := make([]orb.Bound, len(fs))
			for i, f := range fs {
				// padded by about 3 m, so that neighbours across an alley
				// are compared polygon to polygon
				b := f.Geometry.Bound().Pad(3e-5)
				bounds[i] = b
				for x := int(math.Floor(b.Min[0] / cell)); x <= int(math.Floor(b.Max[0]/cell)); x++ {
					for y := int(math.Floor(b.Min[1] / cell)); y <= int(math.Floor(b.Max[1]/cell)); y++ {
						grid[key{x, y}] = append(grid[key{x, y}], i)
					}
				}
			}
			checked := 0
			for _, ids := range grid {
				for x, i := range ids {
					for _, j := range ids[x+1:] {
						if !bounds[i].Intersects(bounds[j]) {
							continue
						}
						checked++
						a, b := fs[i].Geometry.(orb.Polygon)[0], fs[j].Geometry.(orb.Polygon)[0]
						if layer == "frontages" {
							// neighbours share an edge: test shrunken copies
							a, b = shrink(a, 0.02), shrink(b, 0.02)
						}
						if polygonsOverlap(a, b) {
							t.Fatalf("%s %v and %v overlap", layer, fs[i].Props["source_id"], fs[j].Props["source_id"])
						}
					}
				}
			}
			t.Logf("%d %s, %d close pairs tested", len(fs), layer, checked)
		})
	}
}

// shrink moves every point of r the fraction f towards its centroid.
func shrink(r orb.Ring, f float64) orb.Ring {
	c, _ := planar.CentroidArea(orb.Polygon{r})
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[i] = orb.Point{p[0] + (c[0]-p[0])*f, p[1] + (c[1]-p[1])*f}
	}
	return out
}

func TestErrors(t *testing.T) {
	nop := func(layers.Feature) error { return nil }
	for _, scale := range []float64{0, -1, math.NaN(), math.Inf(1), 101} {
		if err := Generate(1, scale, nop); err == nil {
			t.Errorf("scale %v: no error", scale)
		}
	}
	if err := Generate(1, 1, nil); err == nil {
		t.Error("nil emit: no error")
	}
	stop := errors.New("stop")
	n := 0
	err := Generate(1, 0.2, func(layers.Feature) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("emit error: got %v after %d features", err, n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		n := 0
		if err := Generate(1, 1, func(layers.Feature) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "features/op")
	}
}

// TestIncidents: the demo's incident reports are valid features of the
// incidents layer, on the shop streets, recent, some closed, and the same
// for the same seed and time.
func TestIncidents(t *testing.T) {
	var streets []layers.Feature
	if err := Generate(1, 0.05, func(f layers.Feature) error {
		if f.Layer == "shop_streets" {
			streets = append(streets, f)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	got := Incidents(1, now, streets, 60)
	if len(got) != 60 {
		t.Fatalf("%d incidents, want 60", len(got))
	}
	cat := layers.Governance()
	closed := 0
	for i := range got {
		f := &got[i]
		if err := cat.Validate(f, i); err != nil {
			t.Fatalf("incident %d: %v", i, err)
		}
		at, err := time.Parse(time.RFC3339, f.Props["reported_at"].(string))
		if err != nil || at.After(now) || at.Before(now.Add(-21*24*time.Hour)) {
			t.Fatalf("incident %d reported at %v (%v), want within 20 days before %v", i, f.Props["reported_at"], err, now)
		}
		if f.Props["state"] == "closed" {
			closed++
			if c, _ := time.Parse(time.RFC3339, f.Props["closed_at"].(string)); !c.After(at) || c.After(now) {
				t.Fatalf("incident %d closed at %v, reported at %v", i, c, at)
			}
		}
		p := f.Geometry.(orb.Point)
		near := false
		for _, s := range streets {
			if planar.DistanceFrom(s.Geometry, p) < 1e-6 {
				near = true
				break
			}
		}
		if !near {
			t.Fatalf("incident %d at %v is on no shop street", i, p)
		}
	}
	if closed == 0 || closed == len(got) {
		t.Fatalf("%d of %d closed: want some of each", closed, len(got))
	}
	if again := Incidents(1, now, streets, 60); !reflect.DeepEqual(again, got) {
		t.Fatal("the same seed and time gave other incidents")
	}
	if none := Incidents(1, now, nil, 60); len(none) != 0 {
		t.Fatalf("%d incidents without shop streets", len(none))
	}
}
