package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/hexward/hexward/layers"
)

// The operator's view: who to send to an alert (GET
// /api/alerts/{id}/nearest-officers) and where an officer has been (GET
// /api/officers/{id}/trail). Both keep to the caller's area scope like
// every other read: an alert or officer outside it is not found, and
// officers outside it are not offered.

// Bounds of the query parameters.
const (
	defaultNearest = 5
	maxNearest     = 50
	defaultTrail   = 30 // minutes
	maxTrail       = 24 * 60
	maxTrailPoints = 2000 // the newest fixes of a trail
)

// NearOfficer is one officer offered for an alert, nearest first.
type NearOfficer struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Team      string     `json:"team"`
	Duty      string     `json:"duty"`
	DistanceM float64    `json:"distance_m"` // on the spheroid, metres
	Position  [2]float64 `json:"position"`   // lon, lat of the last fix
	FixTime   *string    `json:"fix_time,omitempty"`
}

// intParam reads an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, dflt, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be an integer from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// scopeWKB is the caller's area as WKB, nil for everywhere. An area code
// that names no area gives an empty area: nothing is in it.
func (s *Server) scopeWKB(ctx context.Context, scope string) ([]byte, error) {
	if scope == "" {
		return nil, nil
	}
	area, err := s.store.ScopeArea(ctx, scope)
	if errors.Is(err, layers.ErrNoArea) {
		return wkb.Marshal(orb.MultiPolygon{})
	}
	if err != nil {
		return nil, err
	}
	return wkb.Marshal(area)
}

// nearestOfficers serves GET /api/alerts/{id}/nearest-officers?limit=N:
// the available officers (available true or unset) within the caller's
// scope, nearest the alert first by geography distance, with their
// distance in metres. The officers layer is one small partition (one row
// per officer), so the exact spheroid distance of each is cheap.
func (s *Server) nearestOfficers(w http.ResponseWriter, r *http.Request) error {
	id, err := alertID(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", defaultNearest, 1, maxNearest)
	if err != nil {
		return err
	}
	scope := scopeOf(r)
	if _, err := s.store.Item(r.Context(), "alerts", id, scope); err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no alert %d", id)
		}
		return err
	}
	area, err := s.scopeWKB(r.Context(), scope)
	if err != nil {
		return err
	}
	rows, err := s.store.Pool().Query(r.Context(), `
		SELECT o.id, COALESCE(o.props->>'name', ''), COALESCE(o.props->>'team', ''), COALESCE(o.props->>'duty', ''),
			ST_Distance(o.geom::geography, a.geom::geography), ST_X(o.geom), ST_Y(o.geom),
			o.props->>'fix_time'
		FROM features o, (SELECT geom FROM features WHERE layer = 'alerts' AND id = $1) a
		WHERE o.layer = 'officers'
		  AND NOT o.props @> '{"available": false}'
		  AND ($2::bytea IS NULL OR ST_Intersects(o.anchor, ST_GeomFromWKB($2::bytea, 4326)))
		ORDER BY 5, o.id
		LIMIT $3`, id, area, limit)
	if err != nil {
		return fmt.Errorf("nearest officers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (NearOfficer, error) {
		var o NearOfficer
		err := row.Scan(&o.ID, &o.Name, &o.Team, &o.Duty, &o.DistanceM, &o.Position[0], &o.Position[1], &o.FixTime)
		o.DistanceM = float64(int64(o.DistanceM*10+0.5)) / 10
		return o, err
	})
	if err != nil {
		return fmt.Errorf("nearest officers: %w", err)
	}
	if out == nil {
		out = []NearOfficer{}
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"alert": id, "officers": out})
	return nil
}

// officerTrail serves GET /api/officers/{id}/trail?minutes=N (1–1440,
// default 30): the officer's reported positions of the last N minutes,
// oldest first, as a GeoJSON Feature whose geometry is a LineString (null
// with fewer than two fixes) and whose properties hold the fix times.
// At most the newest 2,000 fixes are returned.
func (s *Server) officerTrail(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound("officer %q: ids are positive integers", r.PathValue("id"))
	}
	minutes, err := intParam(r, "minutes", defaultTrail, 1, maxTrail)
	if err != nil {
		return err
	}
	if _, err := s.store.Item(r.Context(), "officers", id, scopeOf(r)); err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no officer %d", id)
		}
		return err
	}
	rows, err := s.store.Pool().Query(r.Context(), `SELECT ts, lon, lat FROM positions
		WHERE officer_id = $1 AND ts >= now() - make_interval(mins => $2)
		ORDER BY ts DESC LIMIT $3`, id, minutes, maxTrailPoints)
	if err != nil {
		return fmt.Errorf("officer trail: %w", err)
	}
	type fix struct {
		ts       time.Time
		lon, lat float64
	}
	fixes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fix, error) {
		var f fix
		return f, row.Scan(&f.ts, &f.lon, &f.lat)
	})
	if err != nil {
		return fmt.Errorf("officer trail: %w", err)
	}
	slices.Reverse(fixes)
	coords := make([][2]float64, 0, len(fixes))
	times := make([]string, 0, len(fixes))
	for _, f := range fixes {
		coords = append(coords, [2]float64{f.lon, f.lat})
		times = append(times, f.ts.UTC().Format(time.RFC3339Nano))
	}
	var geom any
	if len(coords) >= 2 {
		geom = map[string]any{"type": "LineString", "coordinates": coords}
	}
	writeJSON(w, http.StatusOK, geoJSONType, map[string]any{
		"type": "Feature", "id": id, "geometry": geom,
		"properties": map[string]any{"officer_id": id, "minutes": minutes, "points": len(coords), "times": times},
	})
	return nil
}
