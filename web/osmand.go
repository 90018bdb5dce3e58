package web

import (
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hexward/hexward/layers/positions"
)

// Officers' positions: the OsmAnd protocol that Traccar Client and OsmAnd
// speak (GET or form POST at /osmand, and Traccar Client's JSON variant),
// and a JSON batch for positions buffered offline. The caller is
// authenticated by its API token (Authorization: Bearer); the device id it
// names must be its own account name, which must be the `device` of one
// officer.
//
// OsmAnd parameters: id or deviceid; lat and lon, or location=lat,lon;
// timestamp as Unix seconds, milliseconds or ISO 8601 (absent: now); speed
// in knots; bearing or heading in degrees; altitude and accuracy in metres;
// batt in %; every other parameter (hdop, charge, event …) is kept in the
// position's attributes. The JSON variant
//
//	{"device_id": "…", "location": {"timestamp": "…", "coords": {"latitude", "longitude",
//	 "accuracy", "speed", "heading", "altitude"}, "battery": {"level": 0..1}, …}}
//
// has speed in m/s (as the Background Geolocation SDK under Traccar Client
// reports it); -1 means unknown there. Success is 200 with an empty body.

// knot is one knot in m/s.
const knot = 1852.0 / 3600

func (s *Server) osmand(w http.ResponseWriter, r *http.Request) error {
	var ps []positions.Position
	var err error
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && (ct == "application/json" || strings.HasSuffix(ct, "+json")) {
		ps, err = osmandJSON(r)
	} else {
		ps, err = osmandForm(r, time.Now())
	}
	if err != nil {
		return err
	}
	if _, err := s.appendPositions(r, ps); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// appendPositions stores ps for the caller and maps the service's errors to
// statuses.
func (s *Server) appendPositions(r *http.Request, ps []positions.Position) (positions.Result, error) {
	res, err := positions.New(s.store).Append(r.Context(), principal(r).User, ps)
	var ie *positions.InvalidError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &ie), errors.Is(err, positions.ErrUnknownDevice):
		return res, badRequest("%v", err)
	case errors.Is(err, positions.ErrNotYours):
		return res, &httpError{http.StatusForbidden, err.Error() + " (a token sends only its own account's positions)"}
	case errors.Is(err, positions.ErrAmbiguousDevice):
		return res, &httpError{http.StatusConflict, err.Error()}
	}
	return res, err
}

// osmandForm reads the query string and, for a form POST, the body.
func osmandForm(r *http.Request, now time.Time) ([]positions.Position, error) {
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, badRequest("malformed parameters: %v", err)
	}
	p := positions.Position{Time: now, Attrs: map[string]any{}}
	var haveLat, haveLon bool
	for k, vs := range r.Form {
		v := strings.TrimSpace(vs[0])
		var err error
		switch k {
		case "id", "deviceid":
			p.Device = v
		case "lat":
			p.Lat, err = number(k, v)
			haveLat = true
		case "lon":
			p.Lon, err = number(k, v)
			haveLon = true
		case "location":
			lat, lon, ok := strings.Cut(v, ",")
			if !ok {
				return nil, badRequest("location: want lat,lon, got %q", v)
			}
			if p.Lat, err = number("location latitude", lat); err == nil {
				p.Lon, err = number("location longitude", lon)
			}
			haveLat, haveLon = true, true
		case "timestamp":
			p.Time, err = timestamp(v)
		case "speed":
			var kn float64
			if kn, err = number(k, v); err == nil {
				p.Speed = ptr(kn * knot)
			}
		case "bearing", "heading":
			p.Bearing, err = optional(k, v)
		case "altitude":
			p.Altitude, err = optional(k, v)
		case "accuracy":
			p.Accuracy, err = optional(k, v)
		case "batt":
			p.Battery, err = optional(k, v)
		default:
			p.Attrs[k] = attr(v)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case p.Device == "":
		return nil, badRequest("missing id (the device id: this account's name)")
	case !haveLat || !haveLon:
		return nil, badRequest("missing position: send lat and lon, or location=lat,lon")
	}
	return []positions.Position{p}, nil
}

func ptr(f float64) *float64 { return &f }

func number(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, badRequest("%s: want a number, got %q", name, v)
	}
	return f, nil
}

func optional(name, v string) (*float64, error) {
	if v == "" {
		return nil, nil
	}
	f, err := number(name, v)
	return &f, err
}

// attr keeps an extra parameter as a number or boolean when it is one.
func attr(v string) any {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	return v
}

// timestamp reads Unix seconds (possibly fractional), Unix milliseconds
// (any number from 1e11 up: seconds that large are after the year 5000),
// or ISO 8601 with or without zone (without: UTC).
func timestamp(v string) (time.Time, error) {
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
	return time.Time{}, badRequest("timestamp: want Unix seconds or milliseconds, or ISO 8601, got %q", v)
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

func osmandJSON(r *http.Request) ([]positions.Position, error) {
	var in struct {
		DeviceID string          `json:"device_id"`
		Location json.RawMessage `json:"location"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	if in.DeviceID == "" {
		return nil, badRequest("missing device_id (the device id: this account's name)")
	}
	// One location, or an array of them (a batch of buffered fixes).
	var locs []jsonLocation
	switch t := strings.TrimSpace(string(in.Location)); {
	case t == "" || t == "null":
		return nil, badRequest("missing location")
	case strings.HasPrefix(t, "["):
		if err := json.Unmarshal(in.Location, &locs); err != nil {
			return nil, badRequest("location: %v", err)
		}
	default:
		var l jsonLocation
		if err := json.Unmarshal(in.Location, &l); err != nil {
			return nil, badRequest("location: %v", err)
		}
		locs = []jsonLocation{l}
	}
	out := make([]positions.Position, len(locs))
	for i, l := range locs {
		p := positions.Position{Device: in.DeviceID, Attrs: map[string]any{}}
		if l.Coords.Latitude == nil || l.Coords.Longitude == nil {
			return nil, badRequest("location %d: missing coords.latitude or coords.longitude", i)
		}
		p.Lat, p.Lon = *l.Coords.Latitude, *l.Coords.Longitude
		var ts string
		if err := json.Unmarshal(l.Timestamp, &ts); err != nil {
			ts = string(l.Timestamp) // a number
		}
		if ts == "" {
			return nil, badRequest("location %d: missing timestamp", i)
		}
		t, err := timestamp(ts)
		if err != nil {
			return nil, badRequest("location %d: %v", i, err)
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
			p.Battery = ptr(math.Round(*b*1000) / 10)
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

// ingestPositions takes a batch of positions with their original times:
// {"positions": [{"ts", "lon", "lat", "speed" (m/s), "bearing", "accuracy",
// "battery", "altitude", "attrs"}]}. It answers what was stored.
func (s *Server) ingestPositions(w http.ResponseWriter, r *http.Request) error {
	ps, err := positionsBatch(r)
	if err != nil {
		return err
	}
	res, err := s.appendPositions(r, ps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"officer": res.Officer, "accepted": res.Accepted, "duplicates": res.Duplicates, "moved": res.Moved})
	return nil
}

// positionsBatch reads the body of ingestPositions into positions.
func positionsBatch(r *http.Request) ([]positions.Position, error) {
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
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	if len(in.Positions) == 0 {
		return nil, badRequest(`no positions: send {"positions": [{"ts", "lon", "lat", …}]}`)
	}
	if len(in.Positions) > positions.MaxBatch {
		return nil, badRequest("batch of %d positions, at most %d", len(in.Positions), positions.MaxBatch)
	}
	ps := make([]positions.Position, len(in.Positions))
	for i, p := range in.Positions {
		if p.Lon == nil || p.Lat == nil {
			return nil, badRequest("position %d: missing lon or lat", i)
		}
		t, err := time.Parse(time.RFC3339Nano, p.TS)
		if err != nil {
			return nil, badRequest("position %d: ts: want an RFC 3339 time with zone, got %q", i, p.TS)
		}
		ps[i] = positions.Position{Time: t, Lon: *p.Lon, Lat: *p.Lat, Speed: p.Speed, Bearing: p.Bearing,
			Accuracy: p.Accuracy, Battery: p.Battery, Altitude: p.Altitude, Attrs: p.Attrs}
	}
	return ps, nil
}
