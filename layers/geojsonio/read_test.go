package geojsonio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// readAll reads every feature of src into a slice, checking that indexes
// arrive in order.
func readAll(t testing.TB, src io.Reader, layer string) ([]layers.Feature, error) {
	t.Helper()
	var out []layers.Feature
	err := Read(src, layer, func(i int, f layers.Feature) error {
		if i != len(out) {
			t.Fatalf("index %d, want %d", i, len(out))
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

const shopA = `{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[114.12,22.54]},"properties":{"name":"A 店","floors":3,"open":true,"layer":"cameras"}}`
const shopB = `{"type":"Feature","geometry":{"type":"Point","coordinates":[114.13,22.55]},"properties":{"name":"B","id":12}}`

func TestRead(t *testing.T) {
	a := layers.Feature{ID: 7, Layer: "shops", Geometry: orb.Point{114.12, 22.54},
		Props: map[string]any{"name": "A 店", "floors": 3.0, "open": true, "layer": "cameras"}}
	b := layers.Feature{ID: 12, Layer: "shops", Geometry: orb.Point{114.13, 22.55},
		Props: map[string]any{"name": "B"}}
	poly := layers.Feature{Layer: "shops", Geometry: orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}},
		Props: map[string]any{}}
	tests := []struct {
		name string
		in   string
		want []layers.Feature
	}{
		{"collection", `{"type":"FeatureCollection","features":[` + shopA + "," + shopB + `]}`, []layers.Feature{a, b}},
		{"collection with features first and foreign members",
			`{"features":[` + shopA + `],"bbox":[0,0,1,1],"crs":{"type":"name"},"type":"FeatureCollection"}`, []layers.Feature{a}},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, nil},
		{"single feature", shopA, []layers.Feature{a}},
		{"single feature, members in any order",
			`{"properties":null,"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"type":"Feature"}`, []layers.Feature{poly}},
		{"ndjson", shopA + "\n" + shopB + "\n", []layers.Feature{a, b}},
		{"ndjson with crlf and blank lines", shopA + "\r\n\r\n" + shopB, []layers.Feature{a, b}},
		{"text sequence (RFC 8142)", "\x1e" + shopA + "\n\x1e" + shopB + "\n", []layers.Feature{a, b}},
		{"array of features", "[" + shopA + "," + shopB + "]", []layers.Feature{a, b}},
		{"collections in sequence", `{"type":"FeatureCollection","features":[` + shopA + `]}` + "\n" + shopB, []layers.Feature{a, b}},
		{"empty input", "  \n", nil},
		{"string id with digits", `{"type":"Feature","id":"7","geometry":{"type":"Point","coordinates":[114.12,22.54]},"properties":{"name":"A 店","floors":3,"open":true,"layer":"cameras"}}`, []layers.Feature{a}},
		{"non-numeric string id is ignored",
			`{"type":"Feature","id":"b-1","geometry":{"type":"Point","coordinates":[114.13,22.55]},"properties":{"name":"B"}}`,
			[]layers.Feature{{Layer: "shops", Geometry: orb.Point{114.13, 22.55}, Props: map[string]any{"name": "B"}}}},
		{"feature id wins over property id",
			`{"type":"Feature","id":12,"geometry":{"type":"Point","coordinates":[114.13,22.55]},"properties":{"name":"B","id":99}}`, []layers.Feature{b}},
		{"3D coordinates keep lon, lat",
			`{"type":"Feature","id":12,"geometry":{"type":"Point","coordinates":[114.13,22.55,30]},"properties":{"name":"B"}}`, []layers.Feature{b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, strings.NewReader(tt.in), "shops")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	const pt = `"geometry":{"type":"Point","coordinates":[1,2]}`
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error
		n    int      // features emitted before the error
	}{
		{"malformed feature", `{"type":"FeatureCollection","features":[` + shopA + `,{"type":"Feature",` + pt + `,"properties":{"a":tru}}]}`,
			[]string{"feature 1", "malformed JSON at byte 281", "invalid character"}, 1},
		{"missing comma", `{"type":"FeatureCollection","features":[` + shopA + ` ` + shopB + `]}`,
			[]string{"feature 1", "malformed JSON at byte 194"}, 1},
		{"truncated", `{"type":"FeatureCollection","features":[` + shopA + `,{"type":"Feat`,
			[]string{"feature 1", "input ends"}, 1},
		{"bad geometry type", `{"type":"Feature","geometry":{"type":"Circle","coordinates":[1,2]},"properties":{}}`,
			[]string{"feature 0", `unsupported geometry type "Circle"`}, 0},
		{"geometry collection", `[{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]},"properties":{}}]`,
			[]string{"feature 0", `unsupported geometry type "GeometryCollection"`}, 0},
		{"geometry without type", `[{"type":"Feature","geometry":{"coordinates":[1,2]}}]`,
			[]string{"feature 0", "geometry has no type"}, 0},
		{"bad coordinates", `[{"type":"Feature","geometry":{"type":"Point","coordinates":"x"}}]`,
			[]string{"feature 0", "bad geometry"}, 0},
		{"missing geometry", shopA + "\n" + `{"type":"Feature","properties":{}}`,
			[]string{"feature 1", "missing geometry"}, 1},
		{"null geometry", `[{"type":"Feature","geometry":null}]`, []string{"feature 0", "missing geometry"}, 0},
		{"not a feature", `[{"type":"Point","coordinates":[1,2]}]`, []string{"feature 0", `type is "Point"`}, 0},
		{"bare geometry", `{"type":"Point","coordinates":[1,2]}`, []string{`type "Point" is not supported`}, 0},
		{"collection without features", `{"type":"FeatureCollection"}`, []string{`no "features"`}, 0},
		{"features not an array", `{"type":"FeatureCollection","features":{}}`, []string{`"features" to be an array`}, 0},
		{"properties not an object", `[{"type":"Feature",` + pt + `,"properties":[1]}]`,
			[]string{"feature 0", "properties is a JSON array"}, 0},
		{"fractional id", `[{"type":"Feature","id":1.5,` + pt + `}]`, []string{"feature 0", "id 1.5 is not"}, 0},
		{"negative id", `[{"type":"Feature","id":-3,` + pt + `}]`, []string{"feature 0", "negative"}, 0},
		{"top-level scalar", `42`, []string{"byte 0", "want a GeoJSON object"}, 0},
		{"malformed NDJSON line", shopA + "\n" + `{"type":"Feature","properties":{"a":@}}`,
			[]string{"feature 1 (byte 153)", "malformed JSON at byte 190"}, 1},
		{"garbage between features", shopA + "\nnope", []string{"after feature 0", "malformed JSON at byte 155"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, strings.NewReader(tt.in), "shops")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(got) != tt.n {
				t.Errorf("%d features emitted before the error, want %d", len(got), tt.n)
			}
		})
	}
}

// TestReadErrorOffset checks the reported offset points at the bad byte.
func TestReadErrorOffset(t *testing.T) {
	for _, in := range []string{
		`{"type":"FeatureCollection","features":[` + shopA + `,` + shopB + `,{"type":"Feature","properties":{"a":@}}]}`,
		shopA + "\n" + shopB + "\n" + `{"type":"Feature","properties":{"a":@}}`,
		`{"type":"FeatureCollection","bbox":[1,2,@],"features":[]}`,
	} {
		err := Read(strings.NewReader(in), "shops", func(int, layers.Feature) error { return nil })
		want := fmt.Sprintf("at byte %d:", strings.Index(in, "@"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

func TestReadEmitError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Read(strings.NewReader(shopA+shopB+shopA), "shops", func(int, layers.Feature) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("err %v after %d features, want the emit error after 2", err, n)
	}
}

// collection writes a FeatureCollection of n point features to w.
func collection(w io.Writer, n int) error {
	if _, err := io.WriteString(w, `{"type":"FeatureCollection","name":"synthetic","features":[`); err != nil {
		return err
	}
	for i := range n {
		sep := ","
		if i == 0 {
			sep = "\n"
		}
		lon := 114.1 + float64(i%1000)*1e-4
		lat := 22.5 + float64(i/1000)*1e-4
		if _, err := fmt.Fprintf(w, `%s{"type":"Feature","id":%d,"geometry":{"type":"Point","coordinates":[%.7f,%.7f]},"properties":{"name":"shop %d","category":"food","floors":%d}}`,
			sep, i+1, lon, lat, i, i%7); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]}\n")
	return err
}

// TestReadLargeStream reads a 100k-feature collection written through a
// pipe, so the input is never in memory as a whole.
func TestReadLargeStream(t *testing.T) {
	const n = 100_000
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(collection(pw, n)) }()
	count := 0
	var sumID int64
	err := Read(pr, "shops", func(i int, f layers.Feature) error {
		count++
		sumID += f.ID
		if f.ID != int64(i+1) || f.Props["name"] != fmt.Sprintf("shop %d", i) || f.Props["floors"] != float64(i%7) {
			return fmt.Errorf("feature %d: %+v", i, f)
		}
		if _, ok := f.Geometry.(orb.Point); !ok {
			return fmt.Errorf("feature %d: geometry %T", i, f.Geometry)
		}
		return nil
	})
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if count != n || sumID != n*(n+1)/2 {
		t.Fatalf("read %d features (id sum %d), want %d", count, sumID, n)
	}
}

func BenchmarkRead100kPoints(b *testing.B) {
	var buf bytes.Buffer
	if err := collection(&buf, 100_000); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := Read(bytes.NewReader(data), "shops", func(int, layers.Feature) error { n++; return nil })
		if err != nil || n != 100_000 {
			b.Fatalf("read %d features: %v", n, err)
		}
	}
}
