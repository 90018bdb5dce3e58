package osm

import (
	"reflect"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12", 12, true},
		{" 12.5 ", 12.5, true},
		{"12.5 m", 12.5, true},
		{"12m", 12, true},
		{"30米", 30, true},
		{"-3", -3, true},
		{"1e2", 100, true},
		{"", 0, false},
		{"m", 0, false},
		{"12 ft", 0, false},
		{"40'", 0, false},
		{"3;4", 0, false},
		{"3-4", 0, false},
		{"12,5", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"narrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseInteger(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"8", 8, true},
		{"6.0", 6, true},
		{"-1", -1, true}, // the schema bounds refuse it later
		{"6.5", 0, false},
		{"6 m", 0, false},
		{"many", 0, false},
		{"", 0, false},
		{"3;4", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInteger(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInteger(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseDirection(t *testing.T) {
	tests := []struct {
		in            string
		bearing, span float64
		ok            bool
	}{
		{"45", 45, 0, true},
		{"45°", 45, 0, true},
		{"360", 0, 0, true},
		{"400", 40, 0, true},
		{"-90", 270, 0, true},
		{"N", 0, 0, true},
		{"ne", 45, 0, true},
		{"NNW", 337.5, 0, true},
		{"WSW", 247.5, 0, true},
		{"90-270", 180, 180, true},
		{"270-90", 0, 180, true},
		{"W-E", 0, 180, true},
		{"E-W", 180, 180, true},
		{"0-360", 180, 360, true},
		{"-45-45", 0, 90, true},
		{"-45--15", 330, 30, true},
		{"90-90", 90, 0, true},
		{"", 0, 0, false},
		{"sideways", 0, 0, false},
		{"forward", 0, 0, false},
		{"90-", 0, 0, false},
		{"NE-x", 0, 0, false},
		{"12 m", 0, 0, false},
	}
	for _, tt := range tests {
		b, s, ok := parseDirection(tt.in)
		if b != tt.bearing || s != tt.span || ok != tt.ok {
			t.Errorf("parseDirection(%q) = %v, %v, %v; want %v, %v, %v", tt.in, b, s, ok, tt.bearing, tt.span, tt.ok)
		}
	}
}

func tags(kv ...string) osm.Tags {
	var t osm.Tags
	for i := 0; i < len(kv); i += 2 {
		t = append(t, osm.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return t
}

func TestAddress(t *testing.T) {
	tests := []struct {
		tags osm.Tags
		want string
	}{
		{tags("addr:full", " 深圳市罗湖区东门中路1号 ", "addr:street", "x"), "深圳市罗湖区东门中路1号"},
		{tags("addr:housenumber", "12号", "addr:street", "翠竹路", "addr:city", "深圳市", "addr:district", "罗湖区"), "深圳市 罗湖区 翠竹路 12号"},
		{tags("addr:postcode", "518000"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := address(tt.tags); got != tt.want {
			t.Errorf("address(%v) = %q, want %q", tt.tags, got, tt.want)
		}
	}
}

func TestMappingTables(t *testing.T) {
	tests := []struct {
		name string
		tags osm.Tags
		want string
	}{
		{"shop category", tags("shop", "convenience"), "grocery"},
		{"shop unknown", tags("shop", "yes"), "other"},
		{"amenity", tags("amenity", "fast_food"), "food"},
		{"shop wins over amenity", tags("shop", "chemist", "amenity", "cafe"), "pharmacy"},
		{"tourism", tags("tourism", "guest_house"), "hotel"},
	}
	for _, tt := range tests {
		if !isShopTags(tt.tags) {
			t.Errorf("%s: not a shop", tt.name)
		}
		if got := shopCategory(tt.tags); got != tt.want {
			t.Errorf("%s: category %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, tg := range []osm.Tags{tags("shop", "vacant"), tags("shop", "no"), tags("amenity", "bench"), tags("tourism", "attraction"), nil} {
		if isShopTags(tg) {
			t.Errorf("%v is a shop", tg)
		}
	}
	layerTests := []struct {
		tags osm.Tags
		want []string
	}{
		{tags("building", "yes"), []string{"buildings"}},
		{tags("building", "no"), nil},
		{tags("landuse", "residential", "building", "apartments"), []string{"buildings", "compounds"}},
		{tags("place", "quarter"), []string{"compounds"}},
		{tags("boundary", "administrative", "admin_level", "8"), []string{"subdistricts"}},
		{tags("boundary", "administrative", "admin_level", "9"), []string{"communities"}},
		{tags("boundary", "administrative", "admin_level", "10"), []string{"communities"}},
		{tags("boundary", "administrative", "admin_level", "6"), nil},
		{tags("boundary", "postal_code", "admin_level", "8"), nil},
	}
	for _, tt := range layerTests {
		if got := planeLayers(tt.tags); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("planeLayers(%v) = %v, want %v", tt.tags, got, tt.want)
		}
	}
}

func TestBestEntrance(t *testing.T) {
	rd := &run{entrances: map[osm.NodeID]entrance{
		1: {orb.Point{1, 1}, entranceRank("emergency")},
		2: {orb.Point{2, 2}, entranceRank("yes")},
		3: {orb.Point{3, 3}, entranceRank("main")},
		4: {orb.Point{4, 4}, entranceRank("service")},
	}}
	tests := []struct {
		nodes []osm.NodeID
		want  orb.Point
		ok    bool
	}{
		{[]osm.NodeID{9, 1, 2, 3, 4}, orb.Point{3, 3}, true},
		{[]osm.NodeID{1, 4, 2}, orb.Point{4, 4}, true},
		{[]osm.NodeID{1}, orb.Point{1, 1}, true},
		{[]osm.NodeID{7, 8}, orb.Point{}, false},
	}
	for _, tt := range tests {
		got, ok := rd.bestEntrance(tt.nodes)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bestEntrance(%v) = %v, %v; want %v, %v", tt.nodes, got, ok, tt.want, tt.ok)
		}
	}
}
