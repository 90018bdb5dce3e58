package geojsonio

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hexward/hexward/layers"
)

// fuzzLayers are the layers the fuzz target validates against: one of each
// geometry kind, with enums, bounds, booleans and a point property.
var fuzzLayers = []string{"buildings", "gates", "streets"}

// FuzzRead feeds arbitrary bytes to Read and every feature it emits to the
// governance catalogue's Validate. Neither may panic; Read must either
// fail or emit well-formed features, and a feature that Validate accepts
// must be in canonical form.
func FuzzRead(f *testing.F) {
	const pt = `"geometry":{"type":"Point","coordinates":[114.12,22.54]}`
	const poly = `"geometry":{"type":"Polygon","coordinates":[[[114.12,22.54],[114.13,22.54],[114.13,22.55],[114.12,22.54]]]}`
	const line = `"geometry":{"type":"LineString","coordinates":[[114.12,22.54],[114.13,22.55]]}`
	seeds := []string{
		shopA,
		shopB,
		`{"type":"FeatureCollection","features":[` + shopA + "," + shopB + `]}`,
		`{"features":[` + shopA + `],"bbox":[0,0,1,1],"type":"FeatureCollection"}`,
		"[" + shopA + "," + shopB + "]",
		shopA + "\n" + shopB + "\n",
		"\x1e" + shopA + "\n\x1e" + shopB + "\n",
		`{"type":"Feature","id":"7",` + poly + `,"properties":{"name":"楼","floors":6,"height":18.5,"use":"residential","entrance":[114.125,22.545]}}`,
		`{"type":"Feature","id":3,` + pt + `,"properties":{"name":"北门","kind":"main","booth":true,"barrier":false}}`,
		`{"type":"Feature",` + line + `,"properties":{"name":"街","kind":"alley","width":3}}`,
		`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[]]},"properties":null}`,
		`{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[],[[1,1]]]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[]]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]},"properties":{}}`,
		`{"type":"Feature","id":1e300,` + pt + `}`,
		`{"type":"Feature","id":-0,` + pt + `,"properties":{"id":-1}}`,
		`{"type":"Feature",` + pt + `,"properties":{"id":9.5}}`,
		`{"type":"FeatureCollection","features":[` + shopA + `,{"type":"Feat`,
		`{"type":"FeatureCollection","bbox":[1,2,@],"features":[]}`,
		`{"type":"FeatureCollection"}`,
		`{"type":"Point","coordinates":[1,2]}`,
		`[{"type":"Feature",` + pt + `,"properties":[1]}]`,
		"42",
		"",
		"[[[[[[[[[[",
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1e999,2]}}`,
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[181,91]},"properties":{"entrance":[1,2,3]}}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	cat := layers.Governance()
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		layer := fuzzLayers[int(pick)%len(fuzzLayers)]
		next := 0
		err := Read(bytes.NewReader(data), layer, func(i int, feat layers.Feature) error {
			if i != next {
				t.Fatalf("feature index %d, want %d", i, next)
			}
			next++
			if feat.Layer != layer {
				t.Fatalf("feature %d has layer %q, want %q", i, feat.Layer, layer)
			}
			if feat.Geometry == nil {
				t.Fatalf("feature %d emitted without geometry", i)
			}
			if feat.ID < 0 {
				t.Fatalf("feature %d has negative id %d", i, feat.ID)
			}
			if feat.Props == nil {
				t.Fatalf("feature %d has nil properties", i)
			}
			if _, num := feat.Props["id"].(float64); num {
				t.Fatalf("feature %d keeps a numeric id property", i)
			}
			feat.Layer = layer
			if err := cat.Validate(&feat, i); err != nil {
				var ve *layers.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("feature %d: Validate returned %T %v, want a *ValidationError", i, err, err)
				}
				return nil
			}
			checkCanonical(t, cat, &feat)
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "geojson: ") {
			t.Fatalf("error %q does not start with \"geojson: \"", err)
		}
	})
}

// checkCanonical checks an accepted feature's properties are in the
// layer's schema and in the Go types Validate promises.
func checkCanonical(t *testing.T, cat *layers.Catalogue, feat *layers.Feature) {
	t.Helper()
	l, _ := cat.Layer(feat.Layer)
	for name, v := range feat.Props {
		p, ok := l.Prop(name)
		if !ok {
			t.Fatalf("accepted property %q is not in layer %s", name, l.Name)
		}
		ok = false
		switch p.Type {
		case layers.String, layers.DateTime:
			_, ok = v.(string)
		case layers.Integer:
			_, ok = v.(int64)
		case layers.Number:
			_, ok = v.(float64)
		case layers.Boolean:
			_, ok = v.(bool)
		case layers.PointProp:
			xy, isPt := v.([]float64)
			ok = isPt && len(xy) == 2
		}
		if !ok {
			t.Fatalf("accepted property %s = %#v (%T) is not a canonical %s", name, v, v, p.Type)
		}
	}
	for _, p := range l.Props {
		if _, ok := feat.Props[p.Name]; p.Required && !ok {
			t.Fatalf("accepted feature lacks required property %s", p.Name)
		}
	}
}
