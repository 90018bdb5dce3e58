package web

import (
	"errors"
	"io"
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
	res, err := positions.New(s.store).SetAlerts(s.readings).Append(r.Context(), principal(r).User, ps) // SetAlerts: the patrol-zone alert
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
// or ISO 8601 with or without zone (positions.ParseTimestamp).
func timestamp(v string) (time.Time, error) {
	t, err := positions.ParseTimestamp(v)
	if err != nil {
		return time.Time{}, badRequest("%v", err)
	}
	return t, nil
}

// osmandJSON reads Traccar Client's JSON variant (positions.DecodeOsmAndJSON).
func osmandJSON(r *http.Request) ([]positions.Position, error) {
	return decodePositions(r, positions.DecodeOsmAndJSON)
}

// decodePositions reads the body with decode, a bad document being a 400.
func decodePositions(r *http.Request, decode func([]byte) ([]positions.Position, error)) ([]positions.Position, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // *http.MaxBytesError becomes 413
	}
	ps, err := decode(body)
	var de *positions.DecodeError
	if errors.As(err, &de) {
		return nil, badRequest("%s", de.Problem)
	}
	return ps, err
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

// positionsBatch reads the body of ingestPositions into positions
// (positions.DecodeBatch).
func positionsBatch(r *http.Request) ([]positions.Position, error) {
	return decodePositions(r, positions.DecodeBatch)
}
