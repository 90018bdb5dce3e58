// Package geojsonio reads and writes layer features as GeoJSON (RFC 7946)
// and writes them as CSV, one feature at a time, so that files of any size
// go through in bounded memory.
//
// Read accepts a FeatureCollection, a single Feature, a top-level array of
// features, or a sequence of those: newline-delimited GeoJSON (NDJSON) and
// GeoJSON text sequences (RFC 8142, record separators) are both read.
// Writer writes a FeatureCollection; WriteCSV writes one row per feature
// with the geometry as WKT.
package geojsonio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/hexward/hexward/layers"
)

// Read decodes GeoJSON features from r and passes each one to emit, with
// its 0-based index in the input, without holding more than one feature in
// memory. The input is a FeatureCollection (its "features" member is
// streamed wherever it appears in the object), a single Feature, a JSON
// array of features, or any sequence of those separated by whitespace
// (NDJSON) or record separators (RFC 8142).
//
// Every feature gets Layer = layer; a "layer" property in the file is not
// used to choose the layer and is left in Props like any other property.
// Props are the GeoJSON properties as decoded by encoding/json (numbers are
// float64). The feature's "id" member, if it is a non-negative integer or a
// string holding one, becomes Feature.ID; without one, a numeric "id"
// property is used instead. A numeric "id" property is always removed from
// Props (a string one stays); a feature id that is not a number is
// ignored.
//
// Errors name the feature index (0-based) and the byte offset where the
// feature starts, and say what is wrong: malformed JSON (with the 0-based
// offset of the offending byte), a missing or null geometry, an
// unsupported geometry type (GeometryCollection is one: layers hold
// points, lines and planes only), a bad id. Features before the bad one
// have been emitted. An error returned by emit stops the read and is
// returned unchanged.
func Read(r io.Reader, layer string, emit func(index int, f layers.Feature) error) error {
	rd := &reader{dec: json.NewDecoder(rsToSpace{r}), layer: layer, emit: emit}
	for {
		off := rd.dec.InputOffset()
		tok, err := rd.dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return rd.syntax(err, -1, 0)
		}
		switch tok {
		case json.Delim('{'):
			err = rd.object(off)
		case json.Delim('['):
			err = rd.array()
		default:
			return fmt.Errorf("geojson: byte %d: want a GeoJSON object, found %s", off, describe(tok))
		}
		if err != nil {
			return err
		}
	}
}

type reader struct {
	dec   *json.Decoder
	layer string
	emit  func(int, layers.Feature) error
	index int // of the next feature
}

// jsonFeature is one GeoJSON feature as it is decoded.
type jsonFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Geometry   geometryField   `json:"geometry"`
	Properties map[string]any  `json:"properties"`
}

// geometryField decodes a feature's geometry in place, keeping the error
// for the feature's message instead of aborting the whole decode.
type geometryField struct {
	set  bool // the member was present and not null
	geom orb.Geometry
	err  error
}

func (g *geometryField) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	g.set = true
	g.geom, g.err = decodeGeometry(data)
	return nil
}

// decodeGeometry decodes a GeoJSON geometry of one of the types a layer
// can hold.
func decodeGeometry(data []byte) (orb.Geometry, error) {
	var g geojson.Geometry
	if err := g.UnmarshalJSON(data); err != nil {
		if errors.Is(err, geojson.ErrInvalidGeometry) {
			var head struct {
				Type any `json:"type"`
			}
			_ = json.Unmarshal(data, &head)
			if head.Type == nil {
				return nil, errors.New("geometry has no type")
			}
			return nil, fmt.Errorf("unsupported geometry type %v", jsonText(head.Type))
		}
		return nil, fmt.Errorf("bad geometry: %v", err)
	}
	geom := g.Geometry()
	switch geom.(type) {
	case orb.Point, orb.MultiPoint, orb.LineString, orb.MultiLineString, orb.Polygon, orb.MultiPolygon:
		return geom, nil
	}
	return nil, fmt.Errorf("unsupported geometry type %q", g.Type)
}

// object reads the members of a top-level object whose '{' has been read:
// a FeatureCollection (streaming its features) or a single Feature.
func (rd *reader) object(start int64) error {
	var (
		typ         string
		sawFeatures bool
		members     = map[string]json.RawMessage{}
	)
	// Errors inside a top-level Feature (an NDJSON line) name it.
	featureIndex := func() int {
		if typ == "Feature" {
			return rd.index
		}
		return -1
	}
	for rd.dec.More() {
		tok, err := rd.dec.Token()
		if err != nil {
			return rd.syntax(err, featureIndex(), start)
		}
		key, _ := tok.(string)
		switch key {
		case "features":
			if err := rd.expect(json.Delim('['), `"features" to be an array`); err != nil {
				return err
			}
			if err := rd.array(); err != nil {
				return err
			}
			sawFeatures = true
		case "type":
			if err := rd.dec.Decode(&typ); err != nil {
				return rd.syntax(err, featureIndex(), start)
			}
		default:
			var raw json.RawMessage
			if err := rd.dec.Decode(&raw); err != nil {
				return rd.syntax(err, featureIndex(), start)
			}
			members[key] = raw
		}
	}
	if _, err := rd.dec.Token(); err != nil { // the closing '}'
		return rd.syntax(err, featureIndex(), start)
	}

	switch {
	case typ == "Feature" && !sawFeatures:
		var jf jsonFeature
		jf.Type = typ
		jf.ID = members["id"]
		if g, ok := members["geometry"]; ok {
			_ = jf.Geometry.UnmarshalJSON(g)
		}
		if p, ok := members["properties"]; ok {
			if err := json.Unmarshal(p, &jf.Properties); err != nil {
				return fmt.Errorf("geojson: feature %d (byte %d): properties: %v", rd.index, start, err)
			}
		}
		return rd.feature(&jf, start)
	case typ == "FeatureCollection" || (typ == "" && sawFeatures):
		if !sawFeatures {
			return fmt.Errorf("geojson: byte %d: FeatureCollection has no \"features\" member", start)
		}
		return nil
	case typ == "":
		return fmt.Errorf("geojson: byte %d: object has no \"type\"; want a FeatureCollection or a Feature", start)
	default:
		return fmt.Errorf("geojson: byte %d: GeoJSON object of type %q is not supported; want a FeatureCollection or a Feature", start, typ)
	}
}

// array reads features up to and including the closing ']' of an array
// whose '[' has been read.
func (rd *reader) array() error {
	for rd.dec.More() {
		start := rd.dec.InputOffset()
		var jf jsonFeature
		if err := rd.dec.Decode(&jf); err != nil {
			return rd.syntax(err, rd.index, start)
		}
		if err := rd.feature(&jf, start); err != nil {
			return err
		}
	}
	if _, err := rd.dec.Token(); err != nil { // the closing ']'
		return rd.syntax(err, -1, 0)
	}
	return nil
}

// feature converts one decoded feature and emits it.
func (rd *reader) feature(jf *jsonFeature, start int64) error {
	i := rd.index
	rd.index++
	fail := func(format string, a ...any) error {
		return fmt.Errorf("geojson: feature %d (byte %d): %s", i, start, fmt.Sprintf(format, a...))
	}
	if jf.Type != "Feature" {
		if jf.Type == "" {
			return fail(`no "type": "Feature"`)
		}
		return fail("type is %q, want \"Feature\"", jf.Type)
	}
	if !jf.Geometry.set {
		return fail("missing geometry")
	}
	if jf.Geometry.err != nil {
		return fail("%v", jf.Geometry.err)
	}
	geom := jf.Geometry.geom

	props := jf.Properties
	if props == nil {
		props = map[string]any{}
	}
	id, ok, err := parseID(jf.ID)
	if err != nil {
		return fail("%v", err)
	}
	if pid, isNum := props["id"].(float64); isNum {
		delete(props, "id")
		if !ok {
			id, ok, err = floatID(pid)
			if err != nil {
				return fail("property %v", err)
			}
		}
	}
	f := layers.Feature{Layer: rd.layer, Geometry: geom, Props: props}
	if ok {
		f.ID = id
	}
	return rd.emit(i, f)
}

// parseID reads a feature's "id" member: a non-negative integer number or
// a string holding one. Other strings are not Hexward ids and are ignored.
func parseID(raw json.RawMessage) (int64, bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false, nil
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, false, err
		}
		id, err := strconv.ParseInt(str, 10, 64)
		if err != nil || id < 0 {
			return 0, false, nil
		}
		return id, true, nil
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id < 0 {
			return 0, false, fmt.Errorf("id %d is negative", id)
		}
		return id, true, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("id %s is not a number or a string", s)
	}
	return floatID(v)
}

func floatID(v float64) (int64, bool, error) {
	if v != math.Trunc(v) || v < 0 || v >= 1<<63 {
		return 0, false, fmt.Errorf("id %v is not a non-negative integer", v)
	}
	return int64(v), true, nil
}

// expect reads the next token and checks it is want.
func (rd *reader) expect(want json.Delim, what string) error {
	off := rd.dec.InputOffset()
	tok, err := rd.dec.Token()
	if err != nil {
		return rd.syntax(err, -1, 0)
	}
	if tok != want {
		return fmt.Errorf("geojson: byte %d: want %s, found %s", off, what, describe(tok))
	}
	return nil
}

// syntax describes a decoding error; index is the feature being decoded,
// or -1 between features, and start the byte offset where that feature
// starts.
func (rd *reader) syntax(err error, index int, start int64) error {
	where := "geojson: "
	switch {
	case index >= 0:
		where = fmt.Sprintf("geojson: feature %d (byte %d): ", index, start)
	case rd.index > 0:
		where = fmt.Sprintf("geojson: after feature %d: ", rd.index-1)
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%smalformed JSON at byte %d: %v", where, rd.errorOffset(), err)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("%s%s is a JSON %s, want %v", where, field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
		return fmt.Errorf("%smalformed JSON: input ends at byte %d inside a value", where, rd.dec.InputOffset())
	}
	return fmt.Errorf("%s%w", where, err)
}

// errorOffset finds the input byte offset (0-based) of the byte at which
// the decoder has just returned a syntax error. encoding/json counts the offsets of errors met inside
// Decode from an origin that moves when Token is also used, so the offset
// is recomputed: the decoder has not consumed the bad value, and its
// buffer holds the value up to the error, which a fresh decoder scans
// again.
func (rd *reader) errorOffset() int64 {
	base := rd.dec.InputOffset()
	var raw json.RawMessage
	err := json.NewDecoder(rd.dec.Buffered()).Decode(&raw)
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		return base + se.Offset - 1 // Offset counts the bad byte
	}
	return base
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return fmt.Sprintf("string %q", t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// rsToSpace turns the record separators of GeoJSON text sequences
// (RFC 8142) into spaces, which encoding/json skips. A raw 0x1E cannot
// appear in valid JSON otherwise, so nothing else changes, and byte offsets
// stay those of the input.
type rsToSpace struct{ r io.Reader }

func (s rsToSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i, c := range p[:n] {
		if c == 0x1e {
			p[i] = ' '
		}
	}
	return n, err
}
