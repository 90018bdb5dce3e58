package live

import (
	"math"
	"slices"
	"testing"
)

// FuzzParseSubscribe runs a client message through parseSubscribe. It must
// not panic; a subscribe it accepts has a bounding box within lon/lat
// range with min <= max, names only the hub's layers, and has a zoom and
// since within their limits.
func FuzzParseSubscribe(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","layers":["alerts","officers"],"bbox":[114.10,22.53,114.16,22.57],"zoom":16,"since":1234}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[-180,-90,180,90]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[1,1,1,1],"zoom":0,"since":0}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[2,2,1,1]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[-181,0,0,0]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,0,91]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1e400,1]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[1,2,3]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":null}`,
		`{"type":"subscribe","layers":["nope"],"bbox":[0,0,1,1]}`,
		`{"type":"subscribe","layers":[],"bbox":[0,0,1,1]}`,
		`{"type":"subscribe","layers":[""],"bbox":[0,0,1,1]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1,1],"zoom":25}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1,1],"since":-1}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1,1],"since":1.5}`,
		`{"TYPE":"subscribe","Layers":["alerts"],"BBox":[0,0,1,1]}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1,1]} {}`,
		`{"type":"subscribe","layers":["alerts"],"bbox":[0,0,1,1]} ]`,
		`{"type":"unsubscribe"}`,
		`{"type":"subscribe"`,
		`null`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	known := []string{"alerts", "officers", "buildings"}
	h := &Hub{opt: Options{Layers: known}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, since, err := h.parseSubscribe(data)
		if err != nil {
			if fl != nil || since != nil {
				t.Fatalf("refused message (%v) with a filter", err)
			}
			return
		}
		b := fl.bbox
		for _, v := range []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted bbox %v has a non-finite value", b)
			}
		}
		if b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 {
			t.Fatalf("accepted bbox %v is out of range", b)
		}
		if b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
			t.Fatalf("accepted bbox %v has min > max", b)
		}
		if len(fl.layers) == 0 {
			t.Fatal("accepted a subscribe to no layer")
		}
		for l, on := range fl.layers {
			if !on || !slices.Contains(known, l) {
				t.Fatalf("accepted layer %q (%v), want one of %v", l, on, known)
			}
		}
		if fl.zoom != nil && (math.IsNaN(*fl.zoom) || *fl.zoom < 0 || *fl.zoom > 24) {
			t.Fatalf("accepted zoom %v", *fl.zoom)
		}
		if since != nil && *since < 0 {
			t.Fatalf("accepted since %d", *since)
		}
	})
}
