package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/positions"
)

// Officers' incident reports: POST /api/incidents reports one at a
// position (by default the reporter's last known one) and POST
// /api/incidents/{id}/close closes it with a note. Both write through the
// store, so the change log, the live stream, the tiles and the audit
// follow, and the store keeps a scoped user to its area (403 outside).

// maxIncidentAge is how old the "at" of a report buffered offline may be.
const maxIncidentAge = 7 * 24 * time.Hour

// maxFixGap is how far apart in time a report without a position and the
// officer's last fix may be for the fix to stand for where the report was
// made: a few minutes' walk.
const maxFixGap = 10 * time.Minute

// errIncidentClosed: the incident was closed already (409).
var errIncidentClosed = errors.New("incident is closed already")

// errIncidentChanged: the incident changed between reading and closing it.
var errIncidentChanged = errors.New("incident changed concurrently")

// incidentReport is the body of POST /api/incidents.
type incidentReport struct {
	Kind     string    `json:"kind"`
	Note     string    `json:"note"`
	Position []float64 `json:"position"` // [lon, lat]; absent: the reporter's last known position
	At       string    `json:"at"`       // RFC 3339, for a report buffered offline; absent: now
}

// reportIncident serves POST /api/incidents {"kind","note","position",
// "at"}: 201 with the new incident. Bad input is 400 naming the field and
// stores nothing.
func (s *Server) reportIncident(w http.ResponseWriter, r *http.Request) error {
	var in incidentReport
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	now := time.Now()
	at, err := reportTime(in.At, now)
	if err != nil {
		return err
	}
	if in.Kind == "" {
		l, _ := s.cat.Layer("incidents")
		p, _ := l.Prop("kind")
		return badRequest("kind: required, one of %s", strings.Join(p.Enum, ", "))
	}
	user := principal(r).User
	var g orb.Point
	switch {
	case in.Position == nil:
		if g, err = s.lastPosition(r.Context(), user, at); err != nil {
			return err
		}
	case len(in.Position) != 2:
		return badRequest("position: want [lon, lat], got %d numbers", len(in.Position))
	default:
		g = orb.Point{in.Position[0], in.Position[1]}
		if g == (orb.Point{}) {
			return badRequest("position: 0,0 is no position (a phone without a fix)")
		}
	}
	f := layers.Feature{Layer: "incidents", Geometry: g, Props: map[string]any{
		"kind": in.Kind, "state": "open", "reported_by": user, "reported_at": at.UTC().Format(time.RFC3339Nano)}}
	if note := strings.TrimSpace(in.Note); note != "" {
		f.Props["note"] = note
	}
	if err := s.validIncident(&f); err != nil {
		return err
	}
	if f, err = s.store.Create(r.Context(), f); err != nil {
		return err
	}
	s.writeFeature(w, r, http.StatusCreated, f)
	return nil
}

// reportTime reads the "at" of a report: absent is now; it may be at most
// positions.MaxFuture ahead of now (clock skew) and maxIncidentAge old.
func reportTime(at string, now time.Time) (time.Time, error) {
	if at == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, at)
	switch {
	case err != nil:
		return t, badRequest("at: want an RFC 3339 time with zone, got %q", at)
	case t.After(now.Add(positions.MaxFuture)):
		return t, badRequest("at: %s is in the future (more than %s ahead of the server's clock)", at, positions.MaxFuture)
	case t.Before(now.Add(-maxIncidentAge)):
		return t, badRequest("at: %s is more than %d days ago", at, int(maxIncidentAge.Hours()/24))
	}
	return t, nil
}

// lastPosition is where the officer whose device is the caller's account
// was last seen: its marker, once a position has moved it there, when that
// fix lies within maxFixGap of at, the time of the report.
func (s *Server) lastPosition(ctx context.Context, user string, at time.Time) (orb.Point, error) {
	o, err := positions.New(s.store).OfficerOf(ctx, user)
	switch {
	case errors.Is(err, positions.ErrUnknownDevice):
		return orb.Point{}, badRequest("position: missing, and no officer has device %q whose last known position would be used", user)
	case errors.Is(err, positions.ErrAmbiguousDevice):
		return orb.Point{}, &httpError{http.StatusConflict, "position: missing, and " + err.Error() + ": send the position"}
	case err != nil:
		return orb.Point{}, err
	}
	f, err := s.store.Get(ctx, "officers", o.ID)
	if err != nil {
		return orb.Point{}, err
	}
	p, ok := f.Geometry.(orb.Point)
	ft, fixed := f.Props["fix_time"].(string)
	if !fixed || !ok {
		return orb.Point{}, badRequest("position: missing, and officer %d (%s) has reported no position yet", o.ID, o.Name)
	}
	fix, err := time.Parse(time.RFC3339Nano, ft)
	if err != nil {
		return orb.Point{}, fmt.Errorf("officer %d: fix_time %q: %w", o.ID, ft, err)
	}
	if gap := at.Sub(fix).Abs(); gap > maxFixGap {
		return orb.Point{}, badRequest("position: missing, and the last position of officer %d (%s) is from %s, %s from the report: send the position",
			o.ID, o.Name, fix.UTC().Format(time.RFC3339), gap.Round(time.Minute))
	}
	return p, nil
}

// requestField names the fields of the requests that the properties
// (and the geometry) of an incident come from, where the names differ.
var requestField = map[string]string{"geometry": "position", "close_note": "note"}

// validIncident checks an incident against its layer's rules, naming the
// field of the request in a 400.
func (s *Server) validIncident(f *layers.Feature) error {
	err := s.cat.Validate(f, -1)
	var ve *layers.ValidationError
	if errors.As(err, &ve) {
		field := ve.Field
		if name, ok := requestField[field]; ok {
			field = name
		}
		return badRequest("%s: %s", field, ve.Problem)
	}
	return err
}

// closeIncident serves POST /api/incidents/{id}/close {"note"}: the open
// incident closed by the caller, 200 with it; 409 when it is closed
// already. The state is checked in the write's transaction, under the
// row's lock and after the scope check, so two closes cannot both win.
func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound("incident %q: ids are positive integers", r.PathValue("id"))
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	note := strings.TrimSpace(in.Note)
	if note == "" {
		return badRequest("note: required: say how the incident was dealt with")
	}
	user := principal(r).User
	for range 8 { // attempts, should the incident change in between
		f, err := s.store.Get(r.Context(), "incidents", id)
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no incident %d", id)
		}
		if err != nil {
			return err
		}
		orig := f.Props
		f.Props = map[string]any{"state": "closed", "closed_by": user,
			"closed_at": time.Now().UTC().Format(time.RFC3339Nano), "close_note": note}
		for k, v := range orig {
			if _, set := f.Props[k]; !set {
				f.Props[k] = v
			}
		}
		if err := s.validIncident(&f); err != nil {
			return err
		}
		ctx := layers.WithTxHook(r.Context(), stillOpen(orig))
		f, err = s.store.Replace(ctx, f)
		switch {
		case errors.Is(err, errIncidentChanged):
			continue
		case errors.Is(err, errIncidentClosed):
			return &httpError{http.StatusConflict, "incident " + strconv.FormatInt(id, 10) + " is closed already"}
		case errors.Is(err, layers.ErrNotFound):
			return notFound("no incident %d", id)
		case err != nil:
			return err
		}
		s.writeFeature(w, r, http.StatusOK, f)
		return nil
	}
	return errors.New("closing an incident: it kept changing")
}

// stillOpen is the hook of a close: the incident, as read under its row
// lock, must be open and still what was read before.
func stillOpen(orig map[string]any) layers.TxHook {
	return func(_ context.Context, _ pgx.Tx, _ layers.Op, _ *layers.Feature, before json.RawMessage) error {
		var b struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(before, &b); err != nil {
			return err
		}
		if b.Properties["state"] != "open" {
			return errIncidentClosed
		}
		if !reflect.DeepEqual(b.Properties, orig) {
			return errIncidentChanged
		}
		return nil
	}
}
