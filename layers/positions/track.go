package positions

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/simplify"

	"github.com/hexward/hexward/layers"
)

// Shift gap and track tolerance.
const (
	ShiftGap  = 30 * time.Minute // a pause this long ends a shift
	Tolerance = 2.0              // metres: Douglas–Peucker tolerance of tracks
)

// Track builds the tracks of officer from the positions with from <= ts <
// to: the positions are cut into shifts where two fixes are ShiftGap or
// more apart, and each shift of at least two distinct points becomes one
// simplified line in layer `tracks`. A track already stored for the same
// officer and an overlapping shift is replaced, so that building again as
// the shift goes on keeps one track per officer per shift. It returns the
// tracks written, in time order.
func (s *Service) Track(ctx context.Context, officer int64, from, to time.Time) ([]layers.Feature, error) {
	off, err := s.store.Get(ctx, "officers", officer)
	if err != nil {
		return nil, fmt.Errorf("officer %d: %w", officer, err)
	}
	name, _ := off.Props["name"].(string)
	rows, err := s.store.Pool().Query(ctx, `SELECT ts, lon, lat FROM positions
		WHERE officer_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts`, officer, from, to)
	if err != nil {
		return nil, err
	}
	type fix struct {
		t time.Time
		p orb.Point
	}
	fixes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fix, error) {
		var f fix
		return f, r.Scan(&f.t, &f.p[0], &f.p[1])
	})
	if err != nil {
		return nil, err
	}
	var out []layers.Feature
	for start := 0; start < len(fixes); {
		end := start + 1
		for end < len(fixes) && fixes[end].t.Sub(fixes[end-1].t) < ShiftGap {
			end++
		}
		line := orb.LineString{}
		for _, f := range fixes[start:end] {
			if len(line) == 0 || line[len(line)-1] != f.p {
				line = append(line, f.p)
			}
		}
		if len(line) >= 2 {
			line = Simplify(line, Tolerance)
			f := layers.Feature{Layer: "tracks", Geometry: line, Props: map[string]any{
				"officer_id":  officer,
				"officer":     name,
				"shift_start": fixes[start].t.UTC().Format(time.RFC3339Nano),
				"shift_end":   fixes[end-1].t.UTC().Format(time.RFC3339Nano),
				"length_m":    math.Round(geo.Length(line)*10) / 10,
				"points":      int64(end - start),
			}}
			if f, err = s.saveTrack(ctx, f, fixes[start].t, fixes[end-1].t); err != nil {
				return out, err
			}
			out = append(out, f)
		}
		start = end
	}
	return out, nil
}

// saveTrack replaces the officer's track whose shift overlaps [start, end]
// (within ShiftGap), or creates one.
func (s *Service) saveTrack(ctx context.Context, f layers.Feature, start, end time.Time) (layers.Feature, error) {
	var id int64
	err := s.store.Pool().QueryRow(ctx, `SELECT id FROM features
		WHERE layer = 'tracks' AND props @> jsonb_build_object('officer_id', $1::bigint)
		  AND (props->>'shift_start')::timestamptz < $3::timestamptz + $4::interval
		  AND (props->>'shift_end')::timestamptz > $2::timestamptz - $4::interval
		ORDER BY (props->>'shift_start')::timestamptz LIMIT 1`,
		f.Props["officer_id"], start, end, ShiftGap).Scan(&id)
	switch {
	case err == pgx.ErrNoRows:
		return s.store.Create(ctx, f)
	case err != nil:
		return f, err
	}
	f.ID = id
	return s.store.Replace(ctx, f)
}

// Simplify simplifies a lon/lat line with Douglas–Peucker at tolerance
// metres, on a local equirectangular projection (exact enough over a
// shift's few kilometres).
func Simplify(line orb.LineString, tolerance float64) orb.LineString {
	if len(line) < 3 {
		return line
	}
	const r = 6378137.0
	lat0 := line[0][1] * math.Pi / 180
	kx, ky := r*math.Cos(lat0)*math.Pi/180, r*math.Pi/180
	local := make(orb.LineString, len(line))
	for i, p := range line {
		local[i] = orb.Point{(p[0] - line[0][0]) * kx, (p[1] - line[0][1]) * ky}
	}
	kept := simplify.DouglasPeucker(tolerance).LineString(local.Clone())
	// The simplifier keeps a subsequence of the points: map it back to the
	// original coordinates rather than unprojecting.
	out := make(orb.LineString, 0, len(kept))
	j := 0
	for _, k := range kept {
		for j < len(local) && local[j] != k {
			j++
		}
		if j == len(local) {
			break
		}
		out = append(out, line[j])
		j++
	}
	return out
}
