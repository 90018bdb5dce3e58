package positions_test

import (
	"errors"
	"testing"

	"github.com/hexward/hexward/layers/positions"
)

// FuzzDecodeJSON feeds the JSON position formats (a batch, or Traccar
// Client's JSON, over HTTP or MQTT) arbitrary bytes: no panic, and either
// positions or a *DecodeError naming the problem, never both.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"positions":[{"ts":"2026-11-27T10:00:00Z","lon":114.12,"lat":22.55,"speed":1.2,"bearing":90,"accuracy":5}]}`,
		`{"location":{"timestamp":"2026-11-27T10:00:00.000Z","coords":{"latitude":22.55,"longitude":114.12,"accuracy":5,"speed":1,"heading":90,"altitude":3}},"battery":{"level":0.8},"device_id":"p1"}`,
		`{"positions":[]}`, `{"positions":null}`, `{"location":{}}`, `[]`, `null`, `{"positions":[{"ts":1700000000}]}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := positions.DecodeJSON(data)
		if err != nil {
			var de *positions.DecodeError
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("error %T %q is not a DecodeError", err, err)
			}
			if ps != nil {
				t.Fatalf("positions and an error: %v", err)
			}
		}
	})
}
