package layers

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// Limits on one feature, so that a single write cannot exhaust the server.
const (
	MaxVertices   = 100_000 // per feature
	MaxProps      = 100     // properties per feature
	defaultMaxLen = 1000    // runes per string property
	maxPropsBytes = 64 << 10
)

// ValidationError says which feature is refused and why. Index is the
// feature's position in its batch or file (-1 for a single write).
type ValidationError struct {
	Layer   string
	Index   int
	ID      int64
	Field   string // "geometry", "layer", or the property name
	Problem string
}

func (e *ValidationError) Error() string {
	who := "feature"
	if e.Index >= 0 {
		who = fmt.Sprintf("feature %d", e.Index)
	}
	if e.ID != 0 {
		who += fmt.Sprintf(" (id %d)", e.ID)
	}
	if e.Layer != "" {
		who += " of layer " + e.Layer
	}
	if e.Field == "" {
		return who + ": " + e.Problem
	}
	return fmt.Sprintf("%s: %s: %s", who, e.Field, e.Problem)
}

// UnknownLayerError is returned for a layer name the catalogue lacks.
type UnknownLayerError struct{ Name string }

func (e *UnknownLayerError) Error() string { return fmt.Sprintf("unknown layer %q", e.Name) }

// Validate checks a feature against its layer in the catalogue and puts its
// properties in canonical form (integers as int64, numbers as float64,
// points as []float64{lon, lat}, nulls removed). It checks everything that
// can be checked without the database; polygon self-intersections are
// checked by the store with PostGIS in the same transaction as the write.
func (c *Catalogue) Validate(f *Feature, index int) error {
	l, ok := c.Layer(f.Layer)
	if !ok {
		return &UnknownLayerError{f.Layer}
	}
	fail := func(field, format string, args ...any) error {
		return &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	if f.Geometry == nil {
		return fail("geometry", "missing")
	}
	if err := checkKind(l.Kind, f.Geometry); err != nil {
		return fail("geometry", "%v", err)
	}
	if err := checkGeometry(f.Geometry); err != nil {
		return fail("geometry", "%v", err)
	}
	if len(f.Props) > MaxProps {
		return fail("properties", "%d properties, at most %d", len(f.Props), MaxProps)
	}
	out := make(map[string]any, len(f.Props))
	for name, v := range f.Props {
		p, ok := l.Prop(name)
		if !ok {
			return fail(name, "not a property of layer %s", l.Name)
		}
		if v == nil {
			continue
		}
		cv, err := canonical(p, v)
		if err != nil {
			return fail(name, "%v", err)
		}
		out[name] = cv
	}
	for _, p := range l.Props {
		if _, ok := out[p.Name]; p.Required && !ok {
			return fail(p.Name, "required")
		}
	}
	if b, err := json.Marshal(out); err != nil || len(b) > maxPropsBytes {
		return fail("properties", "more than %d bytes", maxPropsBytes)
	}
	f.Props = out
	return nil
}

func checkKind(k Kind, g orb.Geometry) error {
	ok := false
	switch g.(type) {
	case orb.Point, orb.MultiPoint:
		ok = k == Point
	case orb.LineString, orb.MultiLineString:
		ok = k == Line
	case orb.Polygon, orb.MultiPolygon:
		ok = k == Plane
	default:
		return fmt.Errorf("%s is not supported", g.GeoJSONType())
	}
	if !ok {
		return fmt.Errorf("%s given, but the layer holds %ss (%s)", g.GeoJSONType(), k, kindTypes[k])
	}
	return nil
}

var kindTypes = map[Kind]string{
	Point: "Point or MultiPoint",
	Line:  "LineString or MultiLineString",
	Plane: "Polygon or MultiPolygon",
}

func checkGeometry(g orb.Geometry) error {
	n := 0
	var err error
	checkPoint := func(p orb.Point) {
		n++
		if err != nil {
			return
		}
		switch {
		case math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0):
			err = fmt.Errorf("coordinate %v is not a number", p)
		case p[0] < -180 || p[0] > 180:
			err = fmt.Errorf("longitude %g outside -180..180", p[0])
		case p[1] < -90 || p[1] > 90:
			err = fmt.Errorf("latitude %g outside -90..90", p[1])
		}
	}
	checkLine := func(ls orb.LineString, what string) {
		for _, p := range ls {
			checkPoint(p)
		}
		if err != nil {
			return
		}
		distinct := 0
		for i := 1; i < len(ls); i++ {
			if ls[i] != ls[i-1] {
				distinct++
			}
		}
		if distinct == 0 {
			err = fmt.Errorf("%s needs at least 2 distinct points", what)
		}
	}
	checkRing := func(r orb.Ring, what string) {
		checkLine(orb.LineString(r), what)
		if err != nil {
			return
		}
		if len(r) < 4 {
			err = fmt.Errorf("%s has %d points, a ring needs at least 4", what, len(r))
		} else if r[0] != r[len(r)-1] {
			err = fmt.Errorf("%s is not closed (first point %v, last %v)", what, r[0], r[len(r)-1])
		}
	}
	checkPolygon := func(p orb.Polygon, what string) {
		if len(p) == 0 {
			err = fmt.Errorf("%s has no rings", what)
		}
		for i, r := range p {
			if err == nil {
				checkRing(r, fmt.Sprintf("%s ring %d", what, i))
			}
		}
	}
	switch g := g.(type) {
	case orb.Point:
		checkPoint(g)
	case orb.MultiPoint:
		if len(g) == 0 {
			return fmt.Errorf("empty MultiPoint")
		}
		for _, p := range g {
			checkPoint(p)
		}
	case orb.LineString:
		checkLine(g, "line")
	case orb.MultiLineString:
		if len(g) == 0 {
			return fmt.Errorf("empty MultiLineString")
		}
		for i, ls := range g {
			if err == nil {
				checkLine(ls, fmt.Sprintf("line %d", i))
			}
		}
	case orb.Polygon:
		checkPolygon(g, "polygon")
	case orb.MultiPolygon:
		if len(g) == 0 {
			return fmt.Errorf("empty MultiPolygon")
		}
		for i, p := range g {
			if err == nil {
				checkPolygon(p, fmt.Sprintf("polygon %d", i))
			}
		}
	}
	if err == nil && n > MaxVertices {
		err = fmt.Errorf("%d vertices, at most %d", n, MaxVertices)
	}
	return err
}

func canonical(p *Property, v any) (any, error) {
	switch p.Type {
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", jsonType(v))
		}
		max := p.MaxLen
		if max == 0 {
			max = defaultMaxLen
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("not valid UTF-8")
		}
		if n := utf8.RuneCountInString(s); n > max {
			return nil, fmt.Errorf("%d characters, at most %d", n, max)
		}
		if len(p.Enum) > 0 && !contains(p.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %v", s, p.Enum)
		}
		return s, nil
	case Integer:
		f, ok := number(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("want an integer, got %s", describe(v))
		}
		if err := bounds(p, f); err != nil {
			return nil, err
		}
		return int64(f), nil
	case Number:
		f, ok := number(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a number, got %s", describe(v))
		}
		if err := bounds(p, f); err != nil {
			return nil, err
		}
		return f, nil
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", jsonType(v))
		}
		return b, nil
	case DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want an RFC 3339 time, got %s", jsonType(v))
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("want an RFC 3339 time with zone, got %q", s)
		}
		return t.Format(time.RFC3339Nano), nil
	case PointProp:
		var xy []float64
		switch v := v.(type) {
		case []float64:
			xy = v
		case orb.Point:
			xy = v[:]
		case []any:
			for _, e := range v {
				f, ok := number(e)
				if !ok {
					return nil, fmt.Errorf("want [lon, lat], got %s", describe(v))
				}
				xy = append(xy, f)
			}
		default:
			return nil, fmt.Errorf("want [lon, lat], got %s", jsonType(v))
		}
		if len(xy) != 2 {
			return nil, fmt.Errorf("want [lon, lat], got %d numbers", len(xy))
		}
		if err := checkGeometry(orb.Point{xy[0], xy[1]}); err != nil {
			return nil, err
		}
		return []float64{xy[0], xy[1]}, nil
	}
	return nil, fmt.Errorf("unknown property type %q", p.Type)
}

func bounds(p *Property, f float64) error {
	if p.Min != nil && f < *p.Min {
		return fmt.Errorf("%g is below the minimum %g", f, *p.Min)
	}
	if p.Max != nil && f > *p.Max {
		return fmt.Errorf("%g is above the maximum %g", f, *p.Max)
	}
	return nil
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, json.Number:
		return "a number"
	case []any, []float64:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	if f, ok := number(v); ok {
		return fmt.Sprintf("%g", f)
	}
	return jsonType(v)
}
