package live

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"

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
	tile  *tileNote // set on a change's "tiles" notice: the writer may merge it with others
}

// tileNote is what a "tiles" notice says, kept for merging.
type tileNote struct {
	layer     string
	layerJSON []byte // the layer as a JSON string
	box       [4]float64
	boxJSON   []byte // box as a JSON array
}

func newTileNote(layer string, box [4]float64) *tileNote {
	name, _ := json.Marshal(layer)
	return &tileNote{layer: layer, layerJSON: name, box: box, boxJSON: appendBox(nil, box)}
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
	box := [4]float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}
	ev.tilesMsg = newMessage(ev.Seq, tilesMsg{Type: "tiles", Seq: ev.Seq, Layer: ev.Layer, Bounds: box})
	ev.tilesMsg.tile = newTileNote(ev.Layer, box)
}

// mergeTiles coalesces the "tiles" notices in q, a client's messages about
// to be written: the notices of each layer become one, in the place of the
// last of them (after every feature message they follow), with the union
// of their bounds and the boxes one by one:
//
//	{"type":"tiles","seq":N,"layer":"…","bounds":[union],"boxes":[[…],[…]]}
//
// A client that keeps up gets one notice per change; one that falls behind
// gets one per layer per write, so tile notices never double the messages
// of a busy stream. q is returned as is when there is nothing to merge.
func mergeTiles(q []*message) []*message {
	type group struct {
		layer string
		notes []*message
	}
	var groups []group // few: the layers of one write
	merge := false
	for _, m := range q {
		if m.tile == nil {
			continue
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.layer == m.tile.layer })
		if i < 0 {
			groups = append(groups, group{layer: m.tile.layer})
			i = len(groups) - 1
		}
		groups[i].notes = append(groups[i].notes, m)
		merge = merge || len(groups[i].notes) > 1
	}
	if !merge {
		return q
	}
	out := make([]*message, 0, len(q))
	for _, m := range q {
		if m.tile == nil {
			out = append(out, m)
			continue
		}
		g := groups[slices.IndexFunc(groups, func(g group) bool { return g.layer == m.tile.layer })]
		switch {
		case len(g.notes) == 1:
			out = append(out, m)
		case m == g.notes[len(g.notes)-1]:
			out = append(out, mergedTiles(g.layer, g.notes))
		}
	}
	return out
}

// mergedTiles is one "tiles" notice for the notices ns of layer. It is
// built for one client at a time from bytes encoded once per change: the
// floats of the boxes are not formatted again for every client.
func mergedTiles(layer string, ns []*message) *message {
	union := ns[0].tile.box
	size := 0
	for _, n := range ns {
		b := n.tile.box
		union = [4]float64{min(union[0], b[0]), min(union[1], b[1]), max(union[2], b[2]), max(union[3], b[3])}
		size += len(n.tile.boxJSON) + 1
	}
	seq := ns[len(ns)-1].seq
	data := make([]byte, 0, 128+len(layer)+size)
	data = append(data, `{"type":"tiles","seq":`...)
	data = strconv.AppendInt(data, seq, 10)
	data = append(data, `,"layer":`...)
	data = append(data, ns[0].tile.layerJSON...)
	data = append(data, `,"bounds":`...)
	data = appendBox(data, union)
	data = append(data, `,"boxes":[`...)
	var last []byte
	for i, n := range ns {
		if i > 0 && bytes.Equal(n.tile.boxJSON, last) {
			continue // the same box again
		}
		if i > 0 {
			data = append(data, ',')
		}
		data = append(data, n.tile.boxJSON...)
		last = n.tile.boxJSON
	}
	data = append(data, "]}"...)
	return rawMessage(seq, data)
}

// appendBox appends b as a JSON array of four numbers, as encoding/json
// writes coordinates (which are never small or large enough for its
// exponent form).
func appendBox(dst []byte, b [4]float64) []byte {
	for i, v := range b {
		dst = append(dst, "[,"[min(i, 1)])
		dst = strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	return append(dst, ']')
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
