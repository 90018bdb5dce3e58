package positions

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hexward/hexward/internal/jsonerr"
)

// The JSON wire formats of positions, shared by every transport (HTTP POST
// /osmand and /ingest/positions, MQTT topic hexward/<account>/positions):
//
// The batch of positions buffered offline, with their original times:
//
//	{"positions": [{"ts": "RFC 3339", "lon", "lat", "speed" (m/s), "bearing",
//	 "accuracy", "battery", "altitude", "attrs": {…}}, …]}
//
// Traccar Client's JSON variant of the OsmAnd protocol, one location or an
// array of them:
//
//	{"device_id": "…", "location": {"timestamp": "…", "coords": {"latitude", "longitude",
//	 "accuracy", "speed", "heading", "altitude"}, "battery": {"level": 0..1}, …}}
//
// with speed in m/s (as the Background Geolocation SDK under Traccar Client
// reports it); -1 means unknown there.

// DecodeError is a malformed document: what is wrong with it. Nothing of
// it is stored.
type DecodeError struct{ Problem string }

func (e *DecodeError) Error() string { return e.Problem }

func bad(format string, args ...any) error { return &DecodeError{fmt.Sprintf(format, args...)} }

// DecodeJSON decodes either JSON format: a document with "positions" is a
// batch, anything else Traccar Client's JSON.
func DecodeJSON(data []byte) ([]Position, error) {
	var probe struct {
		Positions json.RawMessage `json:"positions"`
	}
	if err := json.Unmarshal(data, &probe); err == nil && probe.Positions != nil {
		return DecodeBatch(data)
	}
	return DecodeOsmAndJSON(data)
}

// DecodeBatch decodes a batch {"positions": […]}. The values are checked
// by Append (Validate), not here.
func DecodeBatch(data []byte) ([]Position, error) {
	var in struct {
		Positions []struct {
			TS       string         `json:"ts"`
			Lon      *float64       `json:"lon"`
			Lat      *float64       `json:"lat"`
			Speed    *float64       `json:"speed"`
			Bearing  *float64       `json:"bearing"`
			Accuracy *float64       `json:"accuracy"`
			Battery  *float64       `json:"battery"`
			Altitude *float64       `json:"altitude"`
			Attrs    map[string]any `json:"attrs"`
		} `json:"positions"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, &DecodeError{jsonerr.Problem(err)}
	}
	if len(in.Positions) == 0 {
		return nil, bad(`no positions: send {"positions": [{"ts", "lon", "lat", …}]}`)
	}
	if len(in.Positions) > MaxBatch {
		return nil, bad("batch of %d positions, at most %d", len(in.Positions), MaxBatch)
	}
	ps := make([]Position, len(in.Positions))
	for i, p := range in.Positions {
		if p.Lon == nil || p.Lat == nil {
			return nil, bad("position %d: missing lon or lat", i)
		}
		t, err := time.Parse(time.RFC3339Nano, p.TS)
		if err != nil {
			return nil, bad("position %d: ts: want an RFC 3339 time with zone, got %q", i, p.TS)
		}
		ps[i] = Position{Time: t, Lon: *p.Lon, Lat: *p.Lat, Speed: p.Speed, Bearing: p.Bearing,
			Accuracy: p.Accuracy, Battery: p.Battery, Altitude: p.Altitude, Attrs: p.Attrs}
	}
	return ps, nil
}

// The JSON variant of Traccar Client.
type jsonLocation struct {
	Timestamp json.RawMessage `json:"timestamp"`
	Coords    struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
		Accuracy  *float64 `json:"accuracy"`
		Speed     *float64 `json:"speed"`
		Heading   *float64 `json:"heading"`
		Altitude  *float64 `json:"altitude"`
	} `json:"coords"`
	Battery struct {
		Level      *float64 `json:"level"`
		IsCharging *bool    `json:"is_charging"`
	} `json:"battery"`
	IsMoving *bool                 `json:"is_moving"`
	Odometer *float64              `json:"odometer"`
	Event    string                `json:"event"`
	Activity struct{ Type string } `json:"activity"`
}

// DecodeOsmAndJSON decodes Traccar Client's JSON: one location or an array
// of them (a batch of buffered fixes), each a Position of device_id.
func DecodeOsmAndJSON(data []byte) ([]Position, error) {
	var in struct {
		DeviceID string          `json:"device_id"`
		Location json.RawMessage `json:"location"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, &DecodeError{jsonerr.Problem(err)}
	}
	if in.DeviceID == "" {
		return nil, bad("missing device_id (the device id: this account's name)")
	}
	var locs []jsonLocation
	switch t := strings.TrimSpace(string(in.Location)); {
	case t == "" || t == "null":
		return nil, bad("missing location")
	case strings.HasPrefix(t, "["):
		if err := json.Unmarshal(in.Location, &locs); err != nil {
			return nil, bad("location: %v", err)
		}
	default:
		var l jsonLocation
		if err := json.Unmarshal(in.Location, &l); err != nil {
			return nil, bad("location: %v", err)
		}
		locs = []jsonLocation{l}
	}
	out := make([]Position, len(locs))
	for i, l := range locs {
		p := Position{Device: in.DeviceID, Attrs: map[string]any{}}
		if l.Coords.Latitude == nil || l.Coords.Longitude == nil {
			return nil, bad("location %d: missing coords.latitude or coords.longitude", i)
		}
		p.Lat, p.Lon = *l.Coords.Latitude, *l.Coords.Longitude
		var ts string
		if err := json.Unmarshal(l.Timestamp, &ts); err != nil {
			ts = string(l.Timestamp) // a number
		}
		if ts == "" {
			return nil, bad("location %d: missing timestamp", i)
		}
		t, err := ParseTimestamp(ts)
		if err != nil {
			return nil, bad("location %d: %v", i, err)
		}
		p.Time = t
		known := func(v *float64) *float64 { // the SDK says -1 for unknown
			if v == nil || *v < 0 {
				return nil
			}
			return v
		}
		p.Speed, p.Bearing, p.Accuracy, p.Altitude = known(l.Coords.Speed), known(l.Coords.Heading), known(l.Coords.Accuracy), l.Coords.Altitude
		if b := known(l.Battery.Level); b != nil {
			level := math.Round(*b*1000) / 10
			p.Battery = &level
		}
		if l.Battery.IsCharging != nil {
			p.Attrs["charge"] = *l.Battery.IsCharging
		}
		if l.IsMoving != nil {
			p.Attrs["motion"] = *l.IsMoving
		}
		if l.Odometer != nil {
			p.Attrs["odometer"] = *l.Odometer
		}
		if l.Event != "" {
			p.Attrs["event"] = l.Event
		}
		if l.Activity.Type != "" {
			p.Attrs["activity"] = l.Activity.Type
		}
		out[i] = p
	}
	return out, nil
}

// ParseTimestamp reads an OsmAnd timestamp: Unix seconds (possibly
// fractional), Unix milliseconds (any number from 1e11 up: seconds that
// large are after the year 5000), or ISO 8601 with or without zone
// (without: UTC). A bad one is a *DecodeError.
func ParseTimestamp(v string) (time.Time, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if math.Abs(f) >= 1e11 {
			return time.UnixMilli(int64(f)).UTC(), nil
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, bad("timestamp: want Unix seconds or milliseconds, or ISO 8601, got %q", v)
}
