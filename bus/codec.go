package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// wireChange is a layers.Change as it travels: compact JSON, bounds as
// [minx,miny,maxx,maxy] or null when empty (the zero orb.Bound).
type wireChange struct {
	Seq    int64     `json:"seq"`
	Layer  string    `json:"layer"`
	ID     int64     `json:"id"`
	Op     layers.Op `json:"op"`
	Before []float64 `json:"before"`
	After  []float64 `json:"after"`
	At     time.Time `json:"at"`
}

func toWire(b orb.Bound) []float64 {
	if b == (orb.Bound{}) {
		return nil
	}
	return []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}
}

func fromWire(a []float64) (orb.Bound, error) {
	if a == nil {
		return orb.Bound{}, nil
	}
	if len(a) != 4 {
		return orb.Bound{}, fmt.Errorf("bound has %d numbers, want [minx,miny,maxx,maxy]", len(a))
	}
	for _, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return orb.Bound{}, errors.New("bound holds a non-finite number")
		}
	}
	if a[0] > a[2] || a[1] > a[3] {
		return orb.Bound{}, fmt.Errorf("bound %v has min above max", a)
	}
	return orb.Bound{Min: orb.Point{a[0], a[1]}, Max: orb.Point{a[2], a[3]}}, nil
}

// Encode returns the wire form of a batch of changes: a JSON array.
func Encode(cs []layers.Change) ([]byte, error) {
	w := make([]wireChange, len(cs))
	for i, c := range cs {
		w[i] = wireChange{Seq: c.Seq, Layer: c.Layer, ID: c.FeatureID, Op: c.Op,
			Before: toWire(c.Before), After: toWire(c.After), At: c.At}
	}
	return json.Marshal(w)
}

// Decode parses what Encode made. A malformed batch is refused whole with
// an error naming the change and the problem.
func Decode(data []byte) ([]layers.Change, error) {
	var w []wireChange
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decoding changes: %w", err)
	}
	if len(w) == 0 {
		return nil, errors.New("decoding changes: empty batch")
	}
	cs := make([]layers.Change, len(w))
	for i, c := range w {
		bad := func(problem string) error {
			return fmt.Errorf("decoding changes: change %d (seq %d): %s", i, c.Seq, problem)
		}
		if c.Seq <= 0 {
			return nil, bad("seq must be positive")
		}
		if c.Layer == "" {
			return nil, bad("no layer")
		}
		switch c.Op {
		case layers.Insert, layers.Update, layers.Delete:
		default:
			return nil, bad(fmt.Sprintf("unknown op %q", c.Op))
		}
		before, err := fromWire(c.Before)
		if err != nil {
			return nil, bad("before: " + err.Error())
		}
		after, err := fromWire(c.After)
		if err != nil {
			return nil, bad("after: " + err.Error())
		}
		cs[i] = layers.Change{Seq: c.Seq, Layer: c.Layer, FeatureID: c.ID, Op: c.Op, Before: before, After: after, At: c.At}
	}
	return cs, nil
}
