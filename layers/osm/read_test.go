package osm

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

const (
	fixtureXML = "testdata/luohu.osm"
	fixturePBF = "testdata/luohu.osm.pbf"
)

// readFile reads a fixture and returns its features by "layer source_id".
func readFile(t *testing.T, name string) (map[string]layers.Feature, []layers.Feature, Stats) {
	t.Helper()
	format, ok := DetectFormat(name)
	if !ok {
		t.Fatalf("DetectFormat(%q) failed", name)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var list []layers.Feature
	byKey := map[string]layers.Feature{}
	st, err := Read(context.Background(), f, format, func(f layers.Feature) error {
		key := f.Layer + " " + f.Props["source_id"].(string)
		if _, dup := byKey[key]; dup {
			t.Errorf("%s emitted twice", key)
		}
		byKey[key] = f
		list = append(list, f)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return byKey, list, st
}

type props = map[string]any

// wantFeatures is every feature the fixture must give, by layer and
// source, with its exact properties (source_id aside).
var wantFeatures = map[string]props{
	// buildings
	"buildings osm:way/1000": {"name": "翠竹楼", "name_en": "Cuizhu Building", "floors": int64(8), "height": 24.5,
		"use": "residential", "address": "深圳市 翠竹路 12号", "entrance": []float64{114.1201, 22.5502}},
	"buildings osm:way/1001":      {"name": "肠粉王"}, // levels "abc" and height 2000 dropped, use=yes unknown
	"buildings osm:way/1002":      {"use": "dormitory", "floors": int64(6), "address": "深圳市罗湖区东门街道湖贝村1栋"},
	"buildings osm:way/1003":      {"use": "mixed", "name": "阿芳发廊"},
	"buildings osm:way/1004":      {}, // building=roof: use dropped
	"buildings osm:way/1008":      {"use": "industrial"},
	"buildings osm:relation/5000": {"name": "东门商业城", "use": "commercial", "floors": int64(5), "entrance": []float64{114.1232, 22.55}},
	// shops
	"shops osm:node/200": {"category": "grocery", "name": "天虹超市", "name_en": "Rainbow", "owner": "天虹商场",
		"phone": "+86 755 8123 4567", "street": "解放路"},
	"shops osm:node/201":      {"category": "food", "name": "潮汕牛肉火锅", "phone": "0755-2222 3333"},
	"shops osm:node/202":      {"category": "pharmacy", "name": "老百姓大药房"},
	"shops osm:node/203":      {"category": "hotel", "name": "东门旅馆"},
	"shops osm:node/204":      {"category": "repair"},
	"shops osm:node/205":      {"category": "entertainment"},
	"shops osm:node/206":      {"category": "retail", "name": "服装店"},
	"shops osm:node/207":      {"category": "other"},
	"shops osm:node/209":      {"category": "service"}, // phone too long: dropped
	"shops osm:node/210":      {"category": "food", "name_en": "Tea Corner"},
	"shops osm:way/1001":      {"category": "food", "name": "肠粉王"},
	"shops osm:way/1003":      {"category": "service", "name": "阿芳发廊"},
	"shops osm:relation/5000": {"category": "retail", "name": "东门商业城"},
	// gates
	"gates osm:node/300": {"kind": "main", "name": "北门"},
	"gates osm:node/301": {"barrier": true},
	"gates osm:node/302": {"kind": "side"},
	"gates osm:node/303": {"kind": "emergency", "phone": "110"},
	"gates osm:node/304": {}, // entrance=staircase: kind dropped
	// cameras
	"cameras osm:node/400": {"name": "北门1号", "bearing": 45.0, "hfov": 90.0, "tilt": 30.0, "mount_height": 4.5, "owner": "罗湖公安"},
	"cameras osm:node/401": {"bearing": 200.0, "hfov": 90.0},
	"cameras osm:node/402": {"bearing": 0.0, "hfov": 180.0},
	"cameras osm:node/404": {"hfov": 90.0}, // direction "sideways" and angle 120 dropped
	"cameras osm:node/405": {"bearing": 270.0, "hfov": 90.0},
	// streets
	"streets osm:way/1120": {"kind": "main", "name": "深南东路", "name_en": "Shennan East Road", "width": 30.0},
	"streets osm:way/1121": {"kind": "main"},
	"streets osm:way/1122": {"kind": "secondary"},
	"streets osm:way/1123": {"kind": "secondary"},
	"streets osm:way/1124": {"kind": "street"}, // width "narrow" dropped
	"streets osm:way/1125": {"kind": "street"},
	"streets osm:way/1126": {"kind": "street"},
	"streets osm:way/1127": {"kind": "alley"},
	"streets osm:way/1128": {"kind": "alley", "name": "湖贝一巷"},
	"streets osm:way/1129": {"kind": "footway", "width": 1.5},
	"streets osm:way/1130": {"kind": "footway"},
	"streets osm:way/1131": {"kind": "footway"},
	"streets osm:way/1132": {"kind": "footway"},
	"streets osm:way/1134": {}, // raceway: kind dropped
	// fences
	"fences osm:way/1140": {"kind": "wall", "height": 2.5},
	"fences osm:way/1141": {"kind": "fence"},
	"fences osm:way/1142": {"kind": "plant_wall"},
	"fences osm:way/1143": {"kind": "wall"},
	"fences osm:way/1144": {"kind": "wall"},  // height "abc" dropped
	"fences osm:way/1145": {"kind": "fence"}, // height 25 above the schema's 20: dropped
	// compounds
	"compounds osm:way/1150":      {"kind": "residential", "name": "湖贝新村", "property_company": "万科物业", "code": "HB-01"},
	"compounds osm:way/1151":      {"kind": "residential", "name": "湖贝坊", "name_en": "Hubei Fang"},
	"compounds osm:relation/5001": {"kind": "residential", "name": "湖贝片区"},
	"compounds osm:relation/5002": {"kind": "residential", "name": "孤洞小区"}, // its hole is outside: dropped
	// boundaries
	"subdistricts osm:relation/5010": {"name": "东门街道", "name_en": "Dongmen Subdistrict", "code": "440303002"},
	"communities osm:relation/5011":  {"name": "湖贝社区", "population": int64(12000), "code": "440303002001"},
	"communities osm:way/1164":       {"name": "湖贝社区"}, // population "many" dropped
}

func TestReadFixture(t *testing.T) {
	got, _, _ := readFile(t, fixtureXML)
	for key, want := range wantFeatures {
		f, ok := got[key]
		if !ok {
			t.Errorf("%s: missing", key)
			continue
		}
		p := make(props, len(f.Props))
		for k, v := range f.Props {
			if k != "source_id" {
				p[k] = v
			}
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s: props\n got %#v\nwant %#v", key, p, want)
		}
	}
	for key := range got {
		if _, ok := wantFeatures[key]; !ok {
			t.Errorf("%s: not expected", key)
		}
	}
}

func TestReadGeometry(t *testing.T) {
	got, _, _ := readFile(t, fixtureXML)
	tests := []struct {
		key  string
		want orb.Geometry
	}{
		// drawn clockwise in the file: reversed, the entrances kept as vertices
		{"buildings osm:way/1000", orb.Polygon{{{114.12, 22.55}, {114.1202, 22.55}, {114.1202, 22.5502},
			{114.1201, 22.5502}, {114.12, 22.5502}, {114.12, 22.5501}, {114.12, 22.55}}}},
		// outer ring joined from two ways (one reversed); the hole drawn
		// counter-clockwise is reversed
		{"buildings osm:relation/5000", orb.Polygon{
			{{114.123, 22.55}, {114.1232, 22.55}, {114.1234, 22.55}, {114.1234, 22.5504}, {114.123, 22.5504}, {114.123, 22.55}},
			{{114.1231, 22.5501}, {114.1231, 22.5503}, {114.1233, 22.5503}, {114.1233, 22.5501}, {114.1231, 22.5501}},
		}},
		{"shops osm:relation/5000", orb.Point{114.1232, 22.5502}}, // centroid of the ring with its hole
		{"shops osm:way/1001", orb.Point{114.1211, 22.5501}},
		{"shops osm:node/200", orb.Point{114.1201, 22.5505}},
		{"compounds osm:relation/5001", orb.MultiPolygon{
			{{{114.124, 22.55}, {114.1242, 22.55}, {114.1242, 22.5502}, {114.124, 22.5502}, {114.124, 22.55}}},
			{
				{{114.125, 22.55}, {114.1254, 22.55}, {114.1254, 22.5504}, {114.125, 22.5504}, {114.125, 22.55}},
				{{114.1251, 22.5501}, {114.1251, 22.5503}, {114.1253, 22.5503}, {114.1253, 22.5501}, {114.1251, 22.5501}},
			},
		}},
		{"subdistricts osm:relation/5010", orb.Polygon{{{114.119, 22.549}, {114.13, 22.549}, {114.13, 22.553}, {114.119, 22.553}, {114.119, 22.549}}}},
		{"streets osm:way/1120", orb.LineString{{114.12, 22.551}, {114.121, 22.551}, {114.122, 22.551}}},
		{"fences osm:way/1145", orb.LineString{{114.121, 22.55}, {114.1212, 22.55}, {114.1212, 22.5502}, {114.121, 22.5502}, {114.121, 22.55}}},
	}
	for _, tt := range tests {
		if f := got[tt.key]; !reflect.DeepEqual(f.Geometry, tt.want) {
			t.Errorf("%s: geometry\n got %v\nwant %v", tt.key, f.Geometry, tt.want)
		}
	}
}

// TestReadFeaturesFitSchema checks every feature's geometry kind, property
// names and Go types against the catalogue, and RFC 7946 ring order.
func TestReadFeaturesFitSchema(t *testing.T) {
	_, list, _ := readFile(t, fixtureXML)
	cat := layers.Governance()
	goType := map[layers.PropType]reflect.Type{
		layers.String: reflect.TypeFor[string](), layers.Integer: reflect.TypeFor[int64](),
		layers.Number: reflect.TypeFor[float64](), layers.Boolean: reflect.TypeFor[bool](),
		layers.PointProp: reflect.TypeFor[[]float64](),
	}
	for i, f := range list {
		l, ok := cat.Layer(f.Layer)
		if !ok {
			t.Fatalf("unknown layer %q", f.Layer)
		}
		// The store's own validation accepts every feature as it is.
		valid := f
		valid.Props = maps.Clone(f.Props)
		if err := cat.Validate(&valid, i); err != nil {
			t.Errorf("%v: %v", f.Props["source_id"], err)
		} else if !reflect.DeepEqual(valid.Props, f.Props) {
			t.Errorf("%v: validation changed the properties\n from %#v\n   to %#v", f.Props["source_id"], f.Props, valid.Props)
		}
		if f.ID != 0 {
			t.Errorf("%v: ID %d set", f.Props["source_id"], f.ID)
		}
		for name, v := range f.Props {
			p, ok := l.Prop(name)
			if !ok {
				t.Errorf("%s %v: property %q not in the schema", f.Layer, f.Props["source_id"], name)
				continue
			}
			if reflect.TypeOf(v) != goType[p.Type] {
				t.Errorf("%s %v: %s is %T, want %v", f.Layer, f.Props["source_id"], name, v, goType[p.Type])
			}
		}
		var polys []orb.Polygon
		switch g := f.Geometry.(type) {
		case orb.Point:
			if l.Kind != layers.Point {
				t.Errorf("%s: point geometry", f.Layer)
			}
		case orb.LineString:
			if l.Kind != layers.Line || len(g) < 2 {
				t.Errorf("%s: line geometry %v", f.Layer, g)
			}
		case orb.Polygon:
			polys = []orb.Polygon{g}
		case orb.MultiPolygon:
			polys = g
		default:
			t.Errorf("%s: geometry %T", f.Layer, g)
		}
		for _, p := range polys {
			if l.Kind != layers.Plane {
				t.Errorf("%s: polygon geometry", f.Layer)
			}
			for i, r := range p {
				want := orb.CW
				if i == 0 {
					want = orb.CCW
				}
				if !r.Closed() || len(r) < 4 || r.Orientation() != want {
					t.Errorf("%s %v: ring %d is not closed or not oriented %v: %v", f.Layer, f.Props["source_id"], i, want, r)
				}
			}
		}
	}
}

func TestReadStats(t *testing.T) {
	_, list, st := readFile(t, fixtureXML)
	if st.Nodes != 70 || st.Ways != 46 || st.Relations != 7 {
		t.Errorf("read %d nodes, %d ways, %d relations, want 70, 46, 7", st.Nodes, st.Ways, st.Relations)
	}
	count := map[string]int{}
	for _, f := range list {
		count[f.Layer]++
	}
	if !reflect.DeepEqual(st.Features, count) || st.Total() != len(list) {
		t.Errorf("Features %v (total %d), emitted %v", st.Features, st.Total(), count)
	}
	wantSkipped := map[string]int{
		"buildings: not a closed way":  1, // way 1005
		"buildings: degenerate ring":   1, // way 1006, collinear
		"buildings: missing nodes":     1, // way 1007
		"shops: not a closed way":      1, // way 1170
		"streets: too few points":      1, // way 1135
		"streets: missing nodes":       1, // way 1136
		"compounds: orphan inner ring": 1, // relation 5002
		"communities: missing members": 1, // relation 5012
		"communities: unclosed ring":   1,
		"communities: no polygon":      1,
	}
	if !reflect.DeepEqual(st.Skipped, wantSkipped) {
		t.Errorf("Skipped\n got %v\nwant %v", st.Skipped, wantSkipped)
	}
	wantDropped := map[string]int{
		"buildings.floors":       1, // "abc"
		"buildings.height":       1, // 2000
		"buildings.use":          1, // roof
		"shops.phone":            1, // longer than 32
		"gates.kind":             1, // entrance=staircase
		"cameras.bearing":        1, // "sideways"
		"cameras.tilt":           1, // 120
		"streets.kind":           1, // raceway
		"streets.width":          1, // "narrow"
		"fences.height":          2, // "abc", 25
		"communities.population": 1, // "many"
	}
	if !reflect.DeepEqual(st.Dropped, wantDropped) {
		t.Errorf("Dropped\n got %v\nwant %v", st.Dropped, wantDropped)
	}
}

// TestXMLAndPBFAgree reads the fixture and its PBF conversion.
func TestXMLAndPBFAgree(t *testing.T) {
	_, fromXML, stXML := readFile(t, fixtureXML)
	_, fromPBF, stPBF := readFile(t, fixturePBF)
	sortFeatures(fromXML)
	sortFeatures(fromPBF)
	if len(fromXML) != len(wantFeatures) {
		t.Errorf("XML gave %d features, want %d", len(fromXML), len(wantFeatures))
	}
	if !reflect.DeepEqual(fromXML, fromPBF) {
		for i := range min(len(fromXML), len(fromPBF)) {
			if !reflect.DeepEqual(fromXML[i], fromPBF[i]) {
				t.Errorf("first difference:\n XML %#v\n PBF %#v", fromXML[i], fromPBF[i])
				break
			}
		}
		t.Fatalf("XML gave %d features, PBF %d, and they differ", len(fromXML), len(fromPBF))
	}
	if !reflect.DeepEqual(stXML, stPBF) {
		t.Errorf("stats differ:\n XML %+v\n PBF %+v", stXML, stPBF)
	}
}

func sortFeatures(fs []layers.Feature) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i].Layer+" "+fs[i].Props["source_id"].(string), fs[j].Layer+" "+fs[j].Props["source_id"].(string)
		return a < b
	})
}

func TestReadStopsOnEmitError(t *testing.T) {
	for _, name := range []string{fixtureXML, fixturePBF} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		format, _ := DetectFormat(name)
		stop := errors.New("stop")
		n := 0
		st, err := Read(context.Background(), f, format, func(layers.Feature) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		f.Close()
		if err != stop || n != 3 || st.Total() != 3 {
			t.Errorf("%s: err %v after %d features (stats %d), want the emit error after 3", name, err, n, st.Total())
		}
	}
}

func TestReadCancelled(t *testing.T) {
	data, err := os.ReadFile(fixturePBF)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []Format{XML, PBF} {
		src := data
		if format == XML {
			if src, err = os.ReadFile(fixtureXML); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Read(ctx, bytes.NewReader(src), format, func(layers.Feature) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v: error %v, want context.Canceled", format, err)
		}
	}
}

func TestReadBadInput(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		format Format
		want   string
	}{
		{"broken XML", `<osm><node id="1" lat="22.5" lon="114.1"><tag k="shop" v="x"></node>`, XML, "osm: reading OSM XML"},
		{"not PBF", "this is not a pbf file", PBF, "osm: reading OSM PBF"},
		{"unknown format", "", Format(9), "unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(context.Background(), strings.NewReader(tt.in), tt.format, func(layers.Feature) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReadFromOffset checks Read starts, and rewinds, at the reader's
// current position.
func TestReadFromOffset(t *testing.T) {
	data, err := os.ReadFile(fixtureXML)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(append([]byte("JUNK"), data...))
	if _, err := r.Seek(4, 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := Read(context.Background(), r, XML, func(layers.Feature) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(wantFeatures) {
		t.Errorf("%d features, want %d", n, len(wantFeatures))
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name string
		want Format
		ok   bool
	}{
		{"luohu.osm", XML, true},
		{"/data/luohu.osm.xml", XML, true},
		{"LUOHU.OSM", XML, true},
		{"luohu.osm.pbf", PBF, true},
		{"china-latest.PBF", PBF, true},
		{"luohu.osm.bz2", 0, false},
		{"luohu", 0, false},
	}
	for _, tt := range tests {
		got, ok := DetectFormat(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DetectFormat(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
