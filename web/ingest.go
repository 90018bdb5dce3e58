package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/readings"
)

// Sensor readings (POST /ingest/readings, by a device for its own
// sensors) and the operator's alert lifecycle (POST
// /api/alerts/{id}/acknowledge | dispatch | resolve).

// ingestReadings stores a batch {"readings":[{"sensor":id,"ts":RFC3339,
// "value":x}]} in one transaction and answers 200 with the counts once it
// is committed. A bad reading is named by its index; nothing is stored.
func (s *Server) ingestReadings(w http.ResponseWriter, r *http.Request) error {
	rs, err := decodeReadings(r)
	if err != nil {
		return err
	}
	accepted, dups, err := s.readings.Ingest(r.Context(), principal(r).User, rs)
	if err != nil {
		return readingsError(err)
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]int{"accepted": accepted, "duplicates": dups})
	return nil
}

// decodeReadings reads the body of ingestReadings into readings.
func decodeReadings(r *http.Request) ([]readings.Reading, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // *http.MaxBytesError becomes 413
	}
	rs, err := readings.DecodeBatch(body)
	var ie *readings.InputError
	if errors.As(err, &ie) {
		return nil, badRequest("%s", ie.Problem)
	}
	return rs, err
}

// readingsError gives the errors of package readings their status.
func readingsError(err error) error {
	var re *readings.Error
	var ie *readings.InputError
	switch {
	case errors.Is(err, readings.ErrForeignSensor):
		return &httpError{http.StatusForbidden, err.Error()}
	case errors.As(err, &re):
		return &httpError{http.StatusUnprocessableEntity, err.Error()}
	case errors.Is(err, readings.ErrInvalidTransition):
		return &httpError{http.StatusConflict, err.Error()}
	case errors.As(err, &ie):
		return badRequest("%s", ie.Problem)
	}
	return err
}

func alertID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("alert %q: ids are positive integers", r.PathValue("id"))
	}
	return id, nil
}

// alertAction serves POST /api/alerts/{id}/{action}: acknowledge (body
// optional), dispatch {"to":"officer or team"}, resolve {"note":"…"}.
func (s *Server) alertAction(action string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := alertID(r)
		if err != nil {
			return err
		}
		var in struct {
			To   string `json:"to"`
			Note string `json:"note"`
		}
		if action != readings.Acknowledge || r.ContentLength != 0 {
			if err := decodeBody(r, &in); err != nil {
				return err
			}
		}
		arg := in.Note
		if action == readings.Dispatch {
			arg = in.To
		}
		f, err := s.readings.Transition(r.Context(), id, action, arg)
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no alert %d", id)
		}
		if err != nil {
			return readingsError(err)
		}
		s.writeFeature(w, r, http.StatusOK, f)
		return nil
	}
}

// alertHistory serves GET /api/alerts/{id}/transitions: who did what
// when, oldest first.
func (s *Server) alertHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := alertID(r)
	if err != nil {
		return err
	}
	if _, err := s.store.Item(r.Context(), "alerts", id, scopeOf(r)); err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no alert %d", id)
		}
		return err
	}
	h, err := s.readings.History(r.Context(), id)
	if err != nil {
		return fmt.Errorf("alert history: %w", err)
	}
	if h == nil {
		h = []readings.Record{}
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"alert": id, "transitions": h})
	return nil
}
