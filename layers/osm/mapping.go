package osm

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"

	"github.com/hexward/hexward/layers"
)

// feature is a feature being mapped: its layer and the properties set so
// far, each checked against the layer's schema.
type feature struct {
	layer *layers.Layer
	props map[string]any
	st    *Stats
}

func (rd *run) newFeature(layer, src string) *feature {
	l, ok := rd.cat.Layer(layer)
	if !ok {
		panic("osm: layer " + layer + " is not in the governance catalogue")
	}
	f := &feature{layer: l, props: map[string]any{}, st: &rd.st}
	f.setString("source_id", src)
	return f
}

func (f *feature) drop(name string) { f.st.Dropped[f.layer.Name+"."+name]++ }

// set stores a typed value after checking it against the schema as the
// store does: the property must exist, strings must be UTF-8 and fit
// MaxLen and the enum, integers must be exact in a float64, numbers within
// the bounds. A value that does not is dropped and counted.
func (f *feature) set(name string, v any) {
	p, ok := f.layer.Prop(name)
	if !ok {
		panic("osm: layer " + f.layer.Name + " has no property " + name)
	}
	switch v := v.(type) {
	case string:
		maxLen := p.MaxLen
		if maxLen == 0 {
			maxLen = 1000
		}
		if p.Type != layers.String || !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxLen ||
			len(p.Enum) > 0 && !contains(p.Enum, v) {
			f.drop(name)
			return
		}
	case int64:
		if p.Type != layers.Integer || v > 1<<53 || v < -(1<<53) || !inRange(p, float64(v)) {
			f.drop(name)
			return
		}
	case float64:
		if p.Type != layers.Number || !inRange(p, v) {
			f.drop(name)
			return
		}
	case bool:
		if p.Type != layers.Boolean {
			f.drop(name)
			return
		}
	case []float64:
		if p.Type != layers.PointProp {
			f.drop(name)
			return
		}
	default:
		panic("osm: unexpected property type")
	}
	f.props[name] = v
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func inRange(p *layers.Property, v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) &&
		(p.Min == nil || v >= *p.Min) && (p.Max == nil || v <= *p.Max)
}

// setString sets a string property from a tag value; empty values are
// absent, not dropped.
func (f *feature) setString(name, v string) {
	if v = strings.TrimSpace(v); v != "" {
		f.set(name, v)
	}
}

// setInteger parses a tag value as an integer ("6", or "6.0").
func (f *feature) setInteger(name, v string) {
	if v = strings.TrimSpace(v); v == "" {
		return
	}
	if n, ok := parseInteger(v); ok {
		f.set(name, n)
	} else {
		f.drop(name)
	}
}

// setNumber parses a tag value as a number of metres or degrees.
func (f *feature) setNumber(name, v string) {
	if v = strings.TrimSpace(v); v == "" {
		return
	}
	if x, ok := parseNumber(v); ok {
		f.set(name, x)
	} else {
		f.drop(name)
	}
}

// setMapped sets an enum property from a tag value through a table;
// values missing from the table are dropped and counted.
func (f *feature) setMapped(name, v string, table map[string]string) {
	if v == "" {
		return
	}
	if m, ok := table[v]; ok {
		f.set(name, m)
	} else {
		f.drop(name)
	}
}

func (f *feature) setPoint(name string, p orb.Point) { f.set(name, []float64{p[0], p[1]}) }

// names sets name and name_en when the layer has them.
func (f *feature) names(t osm.Tags) {
	f.setString("name", t.Find("name"))
	if _, ok := f.layer.Prop("name_en"); ok {
		f.setString("name_en", t.Find("name:en"))
	}
}

// phone sets the first number of phone or contact:phone.
func (f *feature) phone(t osm.Tags) {
	v := t.Find("phone")
	if v == "" {
		v = t.Find("contact:phone")
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	f.setString("phone", v)
}

// ---- points: shops, gates, cameras ----

// pointFeatures maps the tags of a node.
func (rd *run) pointFeatures(t osm.Tags, src string) []*feature {
	var out []*feature
	if isShopTags(t) {
		out = append(out, rd.shop(t, src))
	}
	if gateBarriers[t.Find("barrier")] {
		out = append(out, rd.gate(t, src))
	}
	if isCamera(t) {
		out = append(out, rd.camera(t, src))
	}
	return out
}

// isShopTags reports whether the tags describe a shop: shop=* (but not
// vacant or no), a commercial amenity, or an accommodation.
func isShopTags(t osm.Tags) bool {
	if s := t.Find("shop"); s != "" && s != "no" && s != "vacant" {
		return true
	}
	if _, ok := amenityCategory[t.Find("amenity")]; ok {
		return true
	}
	_, ok := tourismCategory[t.Find("tourism")]
	return ok
}

func shopCategory(t osm.Tags) string {
	if s := t.Find("shop"); s != "" && s != "no" && s != "vacant" {
		if c, ok := shopCategories[s]; ok {
			return c
		}
		return "other"
	}
	if c, ok := amenityCategory[t.Find("amenity")]; ok {
		return c
	}
	return tourismCategory[t.Find("tourism")]
}

func (rd *run) shop(t osm.Tags, src string) *feature {
	f := rd.newFeature("shops", src)
	f.names(t)
	f.set("category", shopCategory(t))
	f.setString("owner", t.Find("operator"))
	f.setString("street", t.Find("addr:street"))
	f.phone(t)
	return f
}

// shopAt emits a shop at the centroid of an area tagged as a shop.
func (rd *run) shopAt(t osm.Tags, src string, area orb.Geometry) error {
	c, _ := planar.CentroidArea(area)
	return rd.send(rd.shop(t, src), round(c))
}

var gateBarriers = map[string]bool{
	"gate": true, "entrance": true, "lift_gate": true, "swing_gate": true,
	"sliding_gate": true, "turnstile": true, "full-height_turnstile": true,
}

var gateKinds = map[string]string{
	"main": "main", "secondary": "side", "service": "side", "emergency": "emergency",
}

func (rd *run) gate(t osm.Tags, src string) *feature {
	f := rd.newFeature("gates", src)
	f.names(t)
	if e := t.Find("entrance"); e != "" && e != "yes" {
		f.setMapped("kind", e, gateKinds)
	}
	if t.Find("barrier") == "lift_gate" {
		f.set("barrier", true)
	}
	f.phone(t)
	return f
}

func isCamera(t osm.Tags) bool {
	if t.Find("man_made") != "surveillance" {
		return false
	}
	switch t.Find("surveillance:type") {
	case "", "camera", "ALPR", "ANPR":
		return true
	}
	return false
}

// DefaultHFOV is the horizontal field of view given to cameras whose tags
// do not tell it, in degrees.
const DefaultHFOV = 90.0

func (rd *run) camera(t osm.Tags, src string) *feature {
	f := rd.newFeature("cameras", src)
	f.names(t)
	hfov := DefaultHFOV
	dir := t.Find("camera:direction")
	if dir == "" {
		dir = t.Find("direction")
	}
	if dir != "" {
		if bearing, span, ok := parseDirection(dir); ok {
			f.set("bearing", bearing)
			if span > 0 {
				hfov = max(span, 1)
			}
		} else {
			f.drop("bearing")
		}
	}
	f.set("hfov", hfov)
	f.setNumber("tilt", t.Find("camera:angle"))
	f.setNumber("mount_height", t.Find("height"))
	f.setString("owner", t.Find("operator"))
	return f
}

// ---- lines: streets, fences ----

func (rd *run) lineFeatures(t osm.Tags, src string) []*feature {
	var out []*feature
	if h := t.Find("highway"); h != "" && !notStreets[h] {
		f := rd.newFeature("streets", src)
		f.names(t)
		kind := h
		if h == "service" && t.Find("service") == "alley" {
			kind = "alley"
		}
		f.setMapped("kind", kind, streetKinds)
		f.setNumber("width", t.Find("width"))
		out = append(out, f)
	}
	if kind, ok := fenceKinds[t.Find("barrier")]; ok {
		f := rd.newFeature("fences", src)
		f.set("kind", kind)
		f.setNumber("height", t.Find("height"))
		out = append(out, f)
	}
	return out
}

// notStreets are highway values that are not built ways on the ground.
var notStreets = map[string]bool{
	"proposed": true, "construction": true, "abandoned": true, "disused": true,
	"razed": true, "platform": true, "bus_stop": true, "elevator": true,
	"street_lamp": true, "traffic_signals": true, "crossing": true,
}

var streetKinds = map[string]string{
	"motorway": "main", "motorway_link": "main", "trunk": "main", "trunk_link": "main",
	"primary": "main", "primary_link": "main",
	"secondary": "secondary", "secondary_link": "secondary",
	"tertiary": "secondary", "tertiary_link": "secondary",
	"residential": "street", "unclassified": "street", "living_street": "street", "road": "street",
	"service": "alley", "alley": "alley",
	"footway": "footway", "path": "footway", "pedestrian": "footway", "steps": "footway",
	"cycleway": "footway", "corridor": "footway", "bridleway": "footway",
}

var fenceKinds = map[string]string{
	"wall": "wall", "city_wall": "wall", "retaining_wall": "wall",
	"fence": "fence", "hedge": "plant_wall",
}

// ---- planes: buildings, compounds, subdistricts, communities ----

func isAreaRelation(t osm.Tags) bool {
	switch t.Find("type") {
	case "multipolygon", "boundary":
		return true
	}
	return false
}

// planeLayers names the plane layers the tags of an area map to.
func planeLayers(t osm.Tags) []string {
	var out []string
	if b := t.Find("building"); b != "" && b != "no" {
		out = append(out, "buildings")
	}
	if isCompound(t) {
		out = append(out, "compounds")
	}
	if l := adminLayer(t); l != "" {
		out = append(out, l)
	}
	return out
}

func isCompound(t osm.Tags) bool {
	if t.Find("landuse") == "residential" {
		return true
	}
	switch t.Find("place") {
	case "neighbourhood", "quarter":
		return true
	}
	return false
}

// adminLayer maps boundary=administrative by admin_level, as used in
// China: 8 is the subdistrict or township (街道), 9 and 10 the community
// (社区).
func adminLayer(t osm.Tags) string {
	if t.Find("boundary") != "administrative" {
		return ""
	}
	switch strings.TrimSpace(t.Find("admin_level")) {
	case "8":
		return "subdistricts"
	case "9", "10":
		return "communities"
	}
	return ""
}

// planeFeatures maps the tags of a closed way or an area relation.
func (rd *run) planeFeatures(t osm.Tags, src string) []*feature {
	var out []*feature
	for _, name := range planeLayers(t) {
		f := rd.newFeature(name, src)
		f.names(t)
		switch name {
		case "buildings":
			rd.building(f, t)
		case "compounds":
			f.set("kind", "residential")
			f.setString("code", t.Find("ref"))
			f.setString("property_company", t.Find("operator"))
			f.phone(t)
		case "subdistricts", "communities":
			f.setString("code", t.Find("ref"))
			if name == "communities" {
				f.setInteger("population", t.Find("population"))
			}
			f.phone(t)
		}
		out = append(out, f)
	}
	return out
}

func (rd *run) building(f *feature, t osm.Tags) {
	f.setInteger("floors", t.Find("building:levels"))
	f.setNumber("height", t.Find("height"))
	use := t.Find("building:use")
	if _, ok := buildingUses[use]; !ok {
		use = t.Find("building")
	}
	if m, ok := buildingUses[use]; ok {
		if m == "residential" && isShopTags(t) {
			m = "mixed" // shops on a residential building: the urban-village norm
		}
		f.set("use", m)
	} else if use != "yes" {
		f.drop("use")
	}
	f.setString("address", address(t))
	f.phone(t)
}

var buildingUses = map[string]string{
	"residential": "residential", "apartments": "residential", "house": "residential",
	"detached": "residential", "semidetached_house": "residential", "terrace": "residential",
	"bungalow": "residential", "villa": "residential", "farm": "residential",
	"dormitory":  "dormitory",
	"commercial": "commercial", "retail": "commercial", "office": "commercial",
	"supermarket": "commercial", "kiosk": "commercial", "hotel": "commercial",
	"mixed": "mixed", "mixed_use": "mixed",
	"industrial": "industrial", "warehouse": "industrial", "factory": "industrial",
	"manufacture": "industrial", "storage_tank": "industrial",
	"public": "public", "civic": "public", "government": "public", "school": "public",
	"kindergarten": "public", "university": "public", "college": "public",
	"hospital": "public", "fire_station": "public", "police": "public",
	"train_station": "public", "transportation": "public", "community_centre": "public",
	"temple": "public", "church": "public", "religious": "public", "sports_hall": "public",
	"toilets": "public",
}

// addrParts are the addr:* keys that make an address, largest first, the
// order of a Chinese address.
var addrParts = []string{
	"addr:province", "addr:city", "addr:district", "addr:subdistrict", "addr:suburb",
	"addr:street", "addr:place", "addr:housenumber", "addr:housename", "addr:unit",
}

// address is addr:full, or the addr:* parts largest first joined by spaces.
func address(t osm.Tags) string {
	if full := strings.TrimSpace(t.Find("addr:full")); full != "" {
		return full
	}
	var parts []string
	for _, k := range addrParts {
		if v := strings.TrimSpace(t.Find(k)); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// ---- value parsing ----

// parseNumber reads a decimal number with an optional metre unit ("12",
// "12.5 m", "12m", "12米"). Other units, lists and ranges do not parse.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for _, unit := range []string{"米", "m"} {
		if t, ok := strings.CutSuffix(s, unit); ok {
			s = strings.TrimSpace(t)
			break
		}
	}
	if s == "" || strings.ContainsAny(s, "xXpPiInN_") { // hex, Inf, NaN, 1_000
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// parseInteger reads an integer, also written as a whole decimal ("6.0").
func parseInteger(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	v, ok := parseNumber(s)
	if !ok || v != math.Trunc(v) || math.Abs(v) > 1<<53 || strings.HasSuffix(strings.TrimSpace(s), "m") {
		return 0, false
	}
	return int64(v), true
}

// compass points, clockwise from north, 22.5° apart.
var compass = []string{"N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"}

// parseAngle reads a bearing in degrees or a compass point, normalised to
// [0, 360).
func parseAngle(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for i, c := range compass {
		if strings.EqualFold(s, c) {
			return float64(i) * 22.5, true
		}
	}
	v, ok := parseNumber(strings.TrimSuffix(s, "°"))
	if !ok || strings.HasSuffix(s, "m") {
		return 0, false
	}
	return norm(v), true
}

func norm(deg float64) float64 {
	deg = math.Mod(deg, 360)
	if deg < 0 {
		deg += 360
	}
	return deg
}

// parseDirection reads camera:direction: a bearing ("45", "NE") or a
// clockwise range the camera turns over ("90-270", "W-E"). A range gives
// its middle as the bearing and its width as span; "0-360" is all round.
func parseDirection(s string) (bearing, span float64, ok bool) {
	s = strings.TrimSpace(s)
	// The range separator is a '-' after the first byte: a leading '-' is
	// the sign of a negative bearing.
	i := -1
	if len(s) > 1 {
		if j := strings.Index(s[1:], "-"); j >= 0 {
			i = j + 1
		}
	}
	if i > 0 {
		from, ok1 := parseAngle(s[:i])
		to, ok2 := parseAngle(s[i+1:])
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		span = norm(to - from)
		if span == 0 && strings.TrimSpace(s[:i]) != strings.TrimSpace(s[i+1:]) {
			span = 360
		}
		return norm(from + span/2), span, true
	}
	b, ok := parseAngle(s)
	return b, 0, ok
}
