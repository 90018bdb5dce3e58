package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/tiles"
)

// problem is an RFC 7807 error body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// httpError is an error with the status it should be answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// statusOf maps an error from any layer of the service to its HTTP status.
func statusOf(err error) int {
	var he *httpError
	var ve *layers.ValidationError
	var ul *layers.UnknownLayerError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity
	case errors.Is(err, layers.ErrOutOfScope):
		return http.StatusForbidden
	case isUnauth(err):
		return http.StatusUnauthorized
	case unavailable(err):
		return http.StatusServiceUnavailable
	case errors.As(err, &ul), errors.Is(err, layers.ErrNotFound), errors.Is(err, tiles.ErrUnknownLayer):
		return http.StatusNotFound
	case errors.Is(err, tiles.ErrBadTile):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// unavailable reports whether err means the database cannot be reached:
// the client may try again later.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57: operator intervention
		// (the server shutting down or restarting).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
	}
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}

// writeError answers with a problem document; server errors are logged and
// their detail withheld.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	detail := err.Error()
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		detail = fmt.Sprintf("request body larger than %d bytes", mb.Limit)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
		detail = "the database is unavailable; try again shortly"
	} else if status >= 500 {
		if r.Context().Err() != nil {
			return // the client went away
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		detail = "internal error; see the server log"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
