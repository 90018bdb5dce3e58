package live

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

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
	return append(appendFrameHeader(make([]byte, 0, 10+len(data)), len(data)), data...)
}

// appendFrameHeader appends the header of a final, unmasked text frame of
// n bytes: 2, 4 or 10 bytes.
func appendFrameHeader(dst []byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0x81, 127), uint64(n))
	}
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
// to be written: the notices of each layer become one, after the other
// messages (so after every feature message they follow), with the union of
// their bounds and the boxes one by one:
//
//	{"type":"tiles","seq":N,"layer":"…","bounds":[union],"boxes":[[…],[…]]}
//
// A client that keeps up gets one notice per change; one that falls behind
// gets one per layer per write, so tile notices never double the messages
// of a busy stream. q belongs to the writer, which took it from the queue:
// it is compacted in place. notes is scratch space the writer keeps from
// one write to the next; mergeTiles returns it for the next call.
func mergeTiles(q, notes []*message) (out, scratch []*message) {
	n := 0
	for _, m := range q {
		if m.tile != nil {
			n++
		}
	}
	if n < 2 {
		return q, notes
	}
	notes, out = notes[:0], q[:0]
	oneLayer := true
	for _, m := range q {
		if m.tile == nil {
			out = append(out, m)
			continue
		}
		oneLayer = oneLayer && (len(notes) == 0 || m.tile.layer == notes[0].tile.layer)
		notes = append(notes, m)
	}
	if !oneLayer { // rare: the layers one after the other, each in its order
		slices.SortStableFunc(notes, func(a, b *message) int { return strings.Compare(a.tile.layer, b.tile.layer) })
	}
	all := notes
	for len(notes) > 0 {
		k := 1
		for k < len(notes) && notes[k].tile.layer == notes[0].tile.layer {
			k++
		}
		if k == 1 {
			out = append(out, notes[0])
		} else {
			out = append(out, mergedTiles(notes[:k]))
		}
		notes = notes[k:]
	}
	clear(all) // keep no message alive in the scratch space
	return out, all[:0]
}

// mergedTiles is one "tiles" notice for the notices ns of one layer. It is
// built for one client at a time from bytes encoded once per change (the
// floats of the boxes are not formatted again for every client), in one
// buffer with room for the frame header in front.
func mergedTiles(ns []*message) *message {
	union := ns[0].tile.box
	var seq int64
	size := 0
	for _, n := range ns {
		b := n.tile.box
		union = [4]float64{min(union[0], b[0]), min(union[1], b[1]), max(union[2], b[2]), max(union[3], b[3])}
		seq = max(seq, n.seq)
		size += len(n.tile.boxJSON) + 1
	}
	const room = 10 // the longest frame header
	buf := make([]byte, room, room+128+len(ns[0].tile.layerJSON)+size)
	buf = append(buf, `{"type":"tiles","seq":`...)
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, `,"layer":`...)
	buf = append(buf, ns[0].tile.layerJSON...)
	buf = append(buf, `,"bounds":`...)
	buf = appendBox(buf, union)
	buf = append(buf, `,"boxes":[`...)
	var last []byte
	for i, n := range ns {
		if i > 0 && bytes.Equal(n.tile.boxJSON, last) {
			continue // the same box again
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, n.tile.boxJSON...)
		last = n.tile.boxJSON
	}
	buf = append(buf, "]}"...)
	data := buf[room:]
	var hb [room]byte
	h := appendFrameHeader(hb[:0], len(data))
	frame := buf[room-len(h):]
	copy(frame, h)
	return &message{seq: seq, data: data, frame: frame}
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
