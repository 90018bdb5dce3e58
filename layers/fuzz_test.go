package layers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// FuzzValidate builds a feature from fuzzed JSON properties and fuzzed
// coordinates for a layer of the governance catalogue and validates it.
// Validate must not panic; it must refuse with a *ValidationError (or an
// *UnknownLayerError for a name outside the catalogue), or accept a
// feature that keeps to the layer's schema, in canonical form, and that
// validates again to the same properties.
func FuzzValidate(f *testing.F) {
	cat := layers.Governance()
	names := append(cat.Names(), "no_such_layer")
	index := func(name string) uint8 { return uint8(slices.Index(names, name)) }
	type seed struct {
		props          string
		layer          string
		shape          uint8
		x0, y0, x1, y1 float64
	}
	for _, s := range []seed{
		{`{"name":"翠竹楼","floors":8,"height":24.5,"use":"residential","entrance":[114.1201,22.5502],"households":40}`, "buildings", shapePolygon, 114.12, 22.55, 114.121, 22.551},
		{`{"name":"北门","kind":"main","booth":true,"barrier":false,"staffed_hours":"07:00-23:00"}`, "gates", shapePoint, 114.12, 22.55, 0, 0},
		{`{"name":"东门路","kind":"street","width":12}`, "streets", shapeLine, 114.12, 22.55, 114.13, 22.56},
		{`{"kind":"wall","height":2.5}`, "fences", shapeMultiLine, 114.12, 22.55, 114.13, 22.56},
		{`{"height":2.5}`, "fences", shapeLine, 114.12, 22.55, 114.13, 22.56},
		{`{"name":"a","bearing":90,"hfov":60,"recording_24h":true,"resolution_h":1920}`, "cameras", shapeMultiPoint, 114.12, 22.55, 114.13, 22.56},
		{`{"floors":6.5}`, "buildings", shapePolygon, 0, 0, 1, 1},
		{`{"floors":1e300,"height":-1}`, "buildings", shapeMultiPolygon, 0, 0, 1, 1},
		{`{"entrance":[1,2,3]}`, "buildings", shapePolygon, 0, 0, 1, 1},
		{`{"entrance":[200,95]}`, "buildings", shapePolygon, 0, 0, 1, 1},
		{`{"entrance":"114,22"}`, "buildings", shapePolygon, 0, 0, 1, 1},
		{`{"use":"castle","name":null}`, "buildings", shapePolygon, 0, 0, 1, 1},
		{`{"name":"\ud800"}`, "shops", shapePoint, 1, 1, 0, 0},
		{`{"population":12345678901234567890}`, "communities", shapePolygon, 0, 0, 1, 1},
		{`{"unknown":1}`, "shops", shapePoint, 0, 0, 0, 0},
		{`{}`, "shops", shapePolygon, 0, 0, 1, 1},
		{`{}`, "streets", shapeLine, 1, 1, 1, 1},
		{`{}`, "buildings", shapePolygon | shapeOpen, 0, 0, 1, 1},
		{`{}`, "buildings", shapePolygon | shapeEmpty, 0, 0, 1, 1},
		{`{}`, "shops", shapeMultiPoint | shapeEmpty, 0, 0, 1, 1},
		{`{}`, "shops", shapePoint, math.NaN(), 0, 0, 0},
		{`{}`, "shops", shapePoint, 181, 0, 0, 0},
		{`{}`, "shops", shapePoint, 0, math.Inf(-1), 0, 0},
		{`{}`, "no_such_layer", shapePoint, 0, 0, 0, 0},
		{`{}`, "shops", shapeNone, 0, 0, 0, 0},
		{`{"name":"x"}`, "shops", shapePoint | shapeUseNumber, 1, 2, 0, 0},
		{`{"bearing":360.0000001,"tilt":0}`, "cameras", shapePoint | shapeUseNumber, 1, 2, 0, 0},
	} {
		f.Add([]byte(s.props), index(s.layer), s.shape, s.x0, s.y0, s.x1, s.y1)
	}
	f.Fuzz(func(t *testing.T, props []byte, layer, shape uint8, x0, y0, x1, y1 float64) {
		dec := json.NewDecoder(bytes.NewReader(props))
		if shape&shapeUseNumber != 0 {
			dec.UseNumber()
		}
		var in map[string]any
		if err := dec.Decode(&in); err != nil {
			return
		}
		feat := layers.Feature{
			ID:       7,
			Layer:    names[int(layer)%len(names)],
			Geometry: fuzzGeometry(shape, x0, y0, x1, y1),
			Props:    maps.Clone(in),
		}
		err := cat.Validate(&feat, 3)
		if err != nil {
			var ve *layers.ValidationError
			var ue *layers.UnknownLayerError
			switch {
			case errors.As(err, &ve):
				_, emptyName := in[""] // the field of a property named ""
				if ve.Index != 3 || ve.ID != 7 || ve.Layer != feat.Layer || ve.Field == "" && !emptyName {
					t.Fatalf("error %+v does not name the feature and field", ve)
				}
			case errors.As(err, &ue):
				if _, ok := cat.Layer(feat.Layer); ok {
					t.Fatalf("layer %s is in the catalogue, yet: %v", feat.Layer, err)
				}
			default:
				t.Fatalf("error %T %v, want a *ValidationError", err, err)
			}
			return
		}

		l, ok := cat.Layer(feat.Layer)
		if !ok {
			t.Fatalf("feature of unknown layer %q accepted", feat.Layer)
		}
		checkGeometry(t, l, feat.Geometry)
		for name, v := range in {
			if _, kept := feat.Props[name]; kept != (v != nil) {
				t.Fatalf("property %s = %#v: kept %v", name, v, kept)
			}
		}
		for name, v := range feat.Props {
			p, ok := l.Prop(name)
			if !ok {
				t.Fatalf("accepted property %q is not in layer %s", name, l.Name)
			}
			checkValue(t, p, v)
		}
		for _, p := range l.Props {
			if _, ok := feat.Props[p.Name]; p.Required && !ok {
				t.Fatalf("accepted feature lacks required property %s", p.Name)
			}
		}
		again := feat
		again.Props = maps.Clone(feat.Props)
		if err := cat.Validate(&again, 3); err != nil {
			t.Fatalf("accepted properties %#v fail validation again: %v", feat.Props, err)
		}
		if !reflect.DeepEqual(again.Props, feat.Props) {
			t.Fatalf("validating again changed %#v to %#v", feat.Props, again.Props)
		}
	})
}

// Bits of the fuzzed shape byte: the low three bits pick the geometry
// type, the others vary it.
const (
	shapePoint uint8 = iota
	shapeMultiPoint
	shapeLine
	shapeMultiLine
	shapePolygon
	shapeMultiPolygon
	shapeNone // nil geometry
	shapeBound

	shapeOpen      uint8 = 1 << 3 // a ring not closed
	shapeEmpty     uint8 = 1 << 4 // no points / rings
	shapeUseNumber uint8 = 1 << 5 // properties decoded with json.Number
	shapeRepeat    uint8 = 1 << 6 // a point repeated
)

// fuzzGeometry builds a geometry of the kind the shape byte picks from two
// corners.
func fuzzGeometry(shape uint8, x0, y0, x1, y1 float64) orb.Geometry {
	a, b := orb.Point{x0, y0}, orb.Point{x1, y1}
	line := orb.LineString{a, b}
	ring := orb.Ring{a, {x1, y0}, b, {x0, y1}, a}
	if shape&shapeOpen != 0 {
		ring = ring[:4]
	}
	if shape&shapeRepeat != 0 {
		line = orb.LineString{a, a, a}
		ring = orb.Ring{a, b, a, a}
	}
	if shape&shapeEmpty != 0 {
		line, ring = orb.LineString{}, orb.Ring{}
	}
	switch shape & 7 {
	case shapePoint:
		return a
	case shapeMultiPoint:
		return orb.MultiPoint(line)
	case shapeLine:
		return line
	case shapeMultiLine:
		if shape&shapeEmpty != 0 {
			return orb.MultiLineString{}
		}
		return orb.MultiLineString{line, {b, a}}
	case shapePolygon:
		return orb.Polygon{ring}
	case shapeMultiPolygon:
		if shape&shapeEmpty != 0 {
			return orb.MultiPolygon{{}}
		}
		return orb.MultiPolygon{{ring}, {ring, ring}}
	case shapeNone:
		return nil
	}
	return orb.Bound{Min: a, Max: b}
}

// checkGeometry checks an accepted geometry is of the layer's kind and
// every coordinate a finite longitude and latitude.
func checkGeometry(t *testing.T, l *layers.Layer, g orb.Geometry) {
	t.Helper()
	var kind layers.Kind
	var pts []orb.Point
	switch g := g.(type) {
	case orb.Point:
		kind, pts = layers.Point, []orb.Point{g}
	case orb.MultiPoint:
		kind, pts = layers.Point, g
	case orb.LineString:
		kind, pts = layers.Line, g
	case orb.MultiLineString:
		kind = layers.Line
		for _, ls := range g {
			pts = append(pts, ls...)
		}
	case orb.Polygon:
		kind = layers.Plane
		for _, r := range g {
			pts = append(pts, r...)
		}
	case orb.MultiPolygon:
		kind = layers.Plane
		for _, p := range g {
			for _, r := range p {
				pts = append(pts, r...)
			}
		}
	default:
		t.Fatalf("accepted geometry %T", g)
	}
	if kind != l.Kind {
		t.Fatalf("accepted a %s geometry for %s layer %s", kind, l.Kind, l.Name)
	}
	if len(pts) == 0 {
		t.Fatalf("accepted an empty %T", g)
	}
	for _, p := range pts {
		if !(p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90) {
			t.Fatalf("accepted coordinate %v", p)
		}
	}
}

// checkValue checks an accepted property value is canonical and within
// its property's rules.
func checkValue(t *testing.T, p *layers.Property, v any) {
	t.Helper()
	inBounds := func(f float64) bool {
		return !math.IsNaN(f) && !math.IsInf(f, 0) && (p.Min == nil || f >= *p.Min) && (p.Max == nil || f <= *p.Max)
	}
	ok := false
	switch p.Type {
	case layers.String:
		s, isStr := v.(string)
		maxLen := p.MaxLen
		if maxLen == 0 {
			maxLen = 1000
		}
		ok = isStr && utf8.ValidString(s) && utf8.RuneCountInString(s) <= maxLen &&
			(len(p.Enum) == 0 || slices.Contains(p.Enum, s))
	case layers.Integer:
		n, isInt := v.(int64)
		ok = isInt && n <= 1<<53 && n >= -(1<<53) && inBounds(float64(n))
	case layers.Number:
		x, isNum := v.(float64)
		ok = isNum && inBounds(x)
	case layers.Boolean:
		_, ok = v.(bool)
	case layers.DateTime:
		s, isStr := v.(string)
		if isStr {
			_, err := time.Parse(time.RFC3339, s)
			ok = err == nil
		}
	case layers.PointProp:
		xy, isPt := v.([]float64)
		ok = isPt && len(xy) == 2 && xy[0] >= -180 && xy[0] <= 180 && xy[1] >= -90 && xy[1] <= 90
	}
	if !ok {
		t.Fatalf("accepted property %s = %#v (%T) breaks its %s schema", p.Name, v, v, p.Type)
	}
}
