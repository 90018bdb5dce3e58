package live

import (
	"encoding/binary"
	"encoding/json"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
)

// event is one change ready to send: its messages encoded once and shared
// by every client that gets them.
type event struct {
	layers.Change
	feature                   *layers.Feature // nil for a delete, or when the feature is gone again
	beforeAnchor, afterAnchor orb.Point
	beforeKnown, afterKnown   bool

	featureMsg *message // the change as it happened; nil when there is no body to send
	goneMsg    *message // the change as a delete (for a delete, featureMsg itself)
	tilesMsg   *message
}

// message is an encoded server message with its websocket frame, built
// once for all the clients that get it.
type message struct {
	seq   int64
	data  []byte
	frame []byte
}

func newMessage(seq int64, v any) *message {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own message types always encode
	}
	return rawMessage(seq, data)
}

func rawMessage(seq int64, data []byte) *message {
	return &message{seq: seq, data: data, frame: textFrame(data)}
}

// textFrame is data as one final, unmasked websocket text frame (RFC 6455
// §5.2; a server never masks). Client writers send such frames many at a
// time with one write call, which a frame-at-a-time library cannot.
func textFrame(data []byte) []byte {
	n := len(data)
	var f []byte
	switch {
	case n < 126:
		f = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n <= 0xffff:
		f = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n))
	default:
		f = binary.BigEndian.AppendUint64(append(make([]byte, 0, 10+n), 0x81, 127), uint64(n))
	}
	return append(f, data...)
}

type featureMsg struct {
	Type    string          `json:"type"`
	Seq     int64           `json:"seq"`
	Op      layers.Op       `json:"op"`
	Layer   string          `json:"layer"`
	ID      int64           `json:"id"`
	Feature json.RawMessage `json:"feature"`
}

type tilesMsg struct {
	Type   string     `json:"type"`
	Seq    int64      `json:"seq"`
	Layer  string     `json:"layer"`
	Bounds [4]float64 `json:"bounds"`
}

func (ev *event) encode() {
	gone := featureMsg{Type: "feature", Seq: ev.Seq, Op: layers.Delete, Layer: ev.Layer, ID: ev.FeatureID, Feature: json.RawMessage("null")}
	ev.goneMsg = newMessage(ev.Seq, gone)
	switch {
	case ev.Op == layers.Delete:
		ev.featureMsg = ev.goneMsg
	case ev.feature != nil:
		gf := geojson.NewFeature(ev.feature.Geometry)
		gf.ID = ev.feature.ID
		gf.Properties = ev.feature.Props
		if gf.Properties == nil {
			gf.Properties = geojson.Properties{}
		}
		body, err := json.Marshal(gf)
		if err == nil {
			ev.featureMsg = newMessage(ev.Seq, featureMsg{Type: "feature", Seq: ev.Seq, Op: ev.Op, Layer: ev.Layer, ID: ev.FeatureID, Feature: body})
		}
	}
	b := ev.Bounds()
	ev.tilesMsg = newMessage(ev.Seq, tilesMsg{Type: "tiles", Seq: ev.Seq, Layer: ev.Layer, Bounds: [4]float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}})
}

func anchorOf(f *layers.Feature) (orb.Point, bool) {
	if f.Geometry == nil {
		return orb.Point{}, false
	}
	return grid.Anchor(f.Geometry)
}

// filter is a client's subscription.
type filter struct {
	layers map[string]bool
	bbox   orb.Bound
	zoom   *float64
}

// match returns the messages of ev that a client with filter f and area
// scope sc (nil: everywhere) gets, feature message first.
func match(ev *event, f *filter, sc *scope) (feature, tiles *message) {
	if f == nil || !f.layers[ev.Layer] || !(touches(ev.Before, f.bbox) || touches(ev.After, f.bbox)) {
		return nil, nil
	}
	if sc == nil {
		return ev.featureMsg, ev.tilesMsg
	}
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	if sc.empty {
		return nil, nil
	}
	// the API's rule: a feature is visible when its anchor is in the area
	if ev.Op != layers.Delete && ev.afterKnown && contains(sc, ev.afterAnchor) {
		return ev.featureMsg, ev.tilesMsg
	}
	if ev.Op == layers.Insert {
		return nil, nil
	}
	var wasIn bool
	if ev.beforeKnown {
		wasIn = contains(sc, ev.beforeAnchor)
	} else {
		// The anchor of a line or plane deleted (or moved) before the hub
		// saw it is not known: tell the clients whose area its bounds
		// touch that it is gone. A delete carries no geometry or
		// properties, only the layer and id.
		wasIn = touches(ev.Before, sc.bound)
	}
	if wasIn {
		return ev.goneMsg, ev.tilesMsg
	}
	return nil, nil
}

func contains(sc *scope, p orb.Point) bool {
	return sc.bound.Contains(p) && planar.MultiPolygonContains(sc.area, p)
}

// touches is Bound.Intersects for a bound that may be empty (no geometry
// on that side of the change).
func touches(b, bbox orb.Bound) bool {
	return b != (orb.Bound{}) && b.Intersects(bbox)
}
