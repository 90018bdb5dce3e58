package geojsonio

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"iter"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

func TestWriteReadRoundTrip(t *testing.T) {
	in := []layers.Feature{
		{ID: 1, Layer: "buildings", Geometry: orb.Polygon{
			{{114.1200001, 22.54}, {114.1201, 22.54}, {114.1201, 22.5401}, {114.1200001, 22.54}},
			{{114.12005, 22.54002}, {114.12005, 22.54005}, {114.12008, 22.54005}, {114.12005, 22.54002}},
		}, Props: map[string]any{"name": "一号楼 & <B>", "floors": 7.0, "entrance": []any{114.12, 22.54}}},
		{Layer: "buildings", Geometry: orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}}, Props: map[string]any{}},
		{ID: 3, Layer: "buildings", Geometry: orb.LineString{{1, 2}, {3, 4}}, Props: map[string]any{"ok": true}},
		{ID: 4, Layer: "buildings", Geometry: orb.MultiPoint{{1, 2}}, Props: map[string]any{"ok": false}},
		{ID: 5, Layer: "buildings", Geometry: orb.MultiLineString{{{1, 2}, {3, 4}}}},
		{ID: 6, Layer: "buildings", Geometry: orb.Point{114.123456789, -22.987654321}, Props: map[string]any{"h": 12.5}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, f := range in {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != len(in) {
		t.Errorf("Count %d, want %d", w.Count(), len(in))
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("output is not JSON:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "一号楼 & <B>") {
		t.Errorf("text was escaped:\n%s", buf.String())
	}
	got, err := readAll(t, &buf, "buildings")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]layers.Feature, len(in))
	copy(want, in)
	want[4].Props = map[string]any{}
	want[5].Geometry = orb.Point{114.1234568, -22.9876543} // rounded to 7 places
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %#v\nwant %#v", got, want)
	}
	// The writer does not change the caller's geometry when rounding.
	if in[5].Geometry != (orb.Point{114.123456789, -22.987654321}) {
		t.Errorf("input geometry changed: %v", in[5].Geometry)
	}
}

func TestWriterEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := strings.TrimSpace(buf.String()); got != `{"type":"FeatureCollection","features":[]}` {
		t.Errorf("empty collection %q", got)
	}
	if err := w.Write(layers.Feature{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}

	buf.Reset()
	w = NewWriter(&buf)
	if err := w.Write(layers.Feature{Geometry: orb.Point{1, 2}, Props: map[string]any{"x": math.NaN()}}); err == nil {
		t.Error("NaN property written")
	}
	if err := w.Write(layers.Feature{Geometry: orb.Point{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Errorf("output after a failed Write is not JSON:\n%s", buf.String())
	}
}

func seq(fs []layers.Feature, err error) iter.Seq2[layers.Feature, error] {
	return func(yield func(layers.Feature, error) bool) {
		for _, f := range fs {
			if !yield(f, nil) {
				return
			}
		}
		if err != nil {
			yield(layers.Feature{}, err)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	l, _ := layers.Governance().Layer("buildings")
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	fs := []layers.Feature{
		{ID: 12, Layer: "buildings", Geometry: orb.Polygon{{{114.12, 22.54}, {114.13, 22.54}, {114.13, 22.55}, {114.12, 22.54}}},
			Props: map[string]any{"name": "一号楼, 东", "floors": int64(7), "height": 21.5, "use": "mixed",
				"entrance": []float64{114.125, 22.541}, "risk_flags": "gas\n\"old\"", "households": 30.0, "responsible": at}},
		{Geometry: orb.Point{1, 2}, Props: map[string]any{"name": "x"}},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, l, seq(fs, nil)); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"id", "layer", "wkt"}
	for _, p := range l.Props {
		wantHeader = append(wantHeader, p.Name)
	}
	tests := []struct {
		row  int
		col  string
		want string
	}{
		{1, "id", "12"},
		{1, "layer", "buildings"},
		{1, "wkt", "POLYGON((114.12 22.54,114.13 22.54,114.13 22.55,114.12 22.54))"},
		{1, "name", "一号楼, 东"},
		{1, "floors", "7"},
		{1, "height", "21.5"},
		{1, "households", "30"},
		{1, "entrance", "POINT(114.125 22.541)"},
		{1, "risk_flags", "gas\n\"old\""},
		{1, "responsible", "2025-03-01T08:00:00+08:00"},
		{1, "address", ""},
		{2, "id", ""},
		{2, "layer", "buildings"},
		{2, "wkt", "POINT(1 2)"},
	}
	if len(rows) != 3 || !reflect.DeepEqual(rows[0], wantHeader) {
		t.Fatalf("rows %q", rows)
	}
	for _, tt := range tests {
		col := -1
		for i, h := range rows[0] {
			if h == tt.col {
				col = i
			}
		}
		if got := rows[tt.row][col]; got != tt.want {
			t.Errorf("row %d %s = %q, want %q", tt.row, tt.col, got, tt.want)
		}
	}

	stop := errors.New("store failed")
	buf.Reset()
	if err := WriteCSV(&buf, l, seq(fs[:1], stop)); err != stop {
		t.Errorf("error %v, want the sequence's error", err)
	}
	if n := strings.Count(buf.String(), "\n"); n < 2 {
		t.Errorf("rows before the error were not flushed:\n%s", buf.String())
	}
}
