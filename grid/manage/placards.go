package manage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// Rating is a placard colour.
type Rating string

// The three placards.
const (
	Red    Rating = "red"
	Yellow Rating = "yellow"
	Green  Rating = "green"
)

// Valid says whether r is one of the three ratings.
func (r Rating) Valid() bool { return r == Red || r == Yellow || r == Green }

// Indicators are a compound's measures.
type Indicators struct {
	// CoverageShare is the share (0–1) of the compound's area seen by
	// cameras at the recognise level.
	CoverageShare float64
	// EnclosureShare is the length-weighted ControlledShare (walled or
	// gated, 0–1) of the compound's walled village zones; NaN when the
	// compound has none, and then not rated.
	EnclosureShare float64
	Incidents      int   // officers' incident reports in the compound in the period, open or closed
	Households     int64 // households in its buildings
	OpenAlerts     int   // alerts not resolved, an indicator of their own
}

// IncidentsPer100 is incidents per 100 households, counting at least 100
// households so that a small compound is not rated on one incident.
func (in Indicators) IncidentsPer100() float64 {
	return float64(in.Incidents) * 100 / float64(max(in.Households, 100))
}

// Thresholds are the documented limits of the ratings (README.md).
type Thresholds struct {
	RedCoverage, GreenCoverage     float64 // red below, green at or above
	RedEnclosure, GreenEnclosure   float64 // red below, green at or above
	RedIncidents, GreenIncidents   float64 // per 100 households: red above, green at or below
	RedOpenAlerts, GreenOpenAlerts int     // red at or above, green at or below
}

// DefaultThresholds are the thresholds Rate uses.
var DefaultThresholds = Thresholds{
	RedCoverage: 0.5, GreenCoverage: 0.8,
	RedEnclosure: 0.8, GreenEnclosure: 0.95,
	RedIncidents: 5, GreenIncidents: 1,
	RedOpenAlerts: 5, GreenOpenAlerts: 0,
}

// Rate rates a compound with DefaultThresholds.
func Rate(in Indicators) (Rating, []string) { return DefaultThresholds.Rate(in) }

// Rate rates a compound: red when any indicator is past its red threshold,
// green when every indicator is within its green threshold, else yellow.
// The reasons name each indicator that kept the rating from green.
func (t Thresholds) Rate(in Indicators) (Rating, []string) {
	var red, notGreen []string
	check := func(bad, notGood bool, msg string) {
		switch {
		case bad:
			red = append(red, msg)
		case notGood:
			notGreen = append(notGreen, msg)
		}
	}
	check(in.CoverageShare < t.RedCoverage, in.CoverageShare < t.GreenCoverage,
		fmt.Sprintf("camera coverage %.0f%%", in.CoverageShare*100))
	if !math.IsNaN(in.EnclosureShare) {
		check(in.EnclosureShare < t.RedEnclosure, in.EnclosureShare < t.GreenEnclosure,
			fmt.Sprintf("enclosure %.0f%%", in.EnclosureShare*100))
	}
	ip := in.IncidentsPer100()
	check(ip > t.RedIncidents, ip > t.GreenIncidents, fmt.Sprintf("%.1f incidents per 100 households", ip))
	check(in.OpenAlerts >= t.RedOpenAlerts, in.OpenAlerts > t.GreenOpenAlerts, fmt.Sprintf("%d open alerts", in.OpenAlerts))
	switch {
	case len(red) > 0:
		return Red, append(red, notGreen...)
	case len(notGreen) > 0:
		return Yellow, notGreen
	}
	return Green, nil
}

// Override is a manual placard of a compound.
type Override struct {
	Rating Rating
	Reason string
	By     string
	At     time.Time
}

// SetOverride sets the placard of the compound by hand, recording who set
// it, when and why (in placard_overrides and placard_override_log).
func SetOverride(ctx context.Context, pool *pgxpool.Pool, compound string, r Rating, by, reason string) error {
	if strings.TrimSpace(compound) == "" {
		return errors.New("placards: no compound code")
	}
	if !r.Valid() {
		return fmt.Errorf("placards: rating %q is not red, yellow or green", r)
	}
	if strings.TrimSpace(by) == "" || strings.TrimSpace(reason) == "" {
		return errors.New("placards: an override needs who sets it and why")
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO placard_overrides (compound_code, rating, reason, set_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (compound_code) DO UPDATE SET rating = EXCLUDED.rating, reason = EXCLUDED.reason,
			  set_by = EXCLUDED.set_by, set_at = now()`, compound, string(r), reason, by); err != nil {
			return fmt.Errorf("placards: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO placard_override_log (compound_code, rating, reason, by_user) VALUES ($1, $2, $3, $4)`,
			compound, string(r), reason, by); err != nil {
			return fmt.Errorf("placards: %w", err)
		}
		return nil
	})
}

// ClearOverride removes the compound's manual placard, recording who
// cleared it and why; it is an error when there is none.
func ClearOverride(ctx context.Context, pool *pgxpool.Pool, compound, by, reason string) error {
	if strings.TrimSpace(by) == "" || strings.TrimSpace(reason) == "" {
		return errors.New("placards: clearing an override needs who clears it and why")
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM placard_overrides WHERE compound_code = $1`, compound)
		if err != nil {
			return fmt.Errorf("placards: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("placards: compound %q has no override", compound)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO placard_override_log (compound_code, rating, reason, by_user) VALUES ($1, NULL, $2, $3)`,
			compound, reason, by); err != nil {
			return fmt.Errorf("placards: %w", err)
		}
		return nil
	})
}

// Overrides returns the current overrides by compound code.
func Overrides(ctx context.Context, pool *pgxpool.Pool) (map[string]Override, error) {
	rows, err := pool.Query(ctx, `SELECT compound_code, rating, reason, set_by, set_at FROM placard_overrides`)
	if err != nil {
		return nil, fmt.Errorf("placards: %w", err)
	}
	defer rows.Close()
	out := map[string]Override{}
	for rows.Next() {
		var code, r string
		var o Override
		if err := rows.Scan(&code, &r, &o.Reason, &o.By, &o.At); err != nil {
			return nil, fmt.Errorf("placards: %w", err)
		}
		o.Rating = Rating(r)
		out[code] = o
	}
	return out, rows.Err()
}

// PlacardFeature returns a compound's placard as a feature of the placards
// result layer, for a choropleth coloured by rating: the compound's
// geometry; props compound_code, name, rating (the override's when there
// is one), computed_rating, reasons ("; "-joined), overridden, and when
// overridden override_by, override_at (RFC 3339), override_reason; and the
// indicators coverage_share, enclosure_share (absent without zones),
// incidents, households, incidents_per_100, open_alerts.
func PlacardFeature(compound layers.Feature, in Indicators, t Thresholds, o *Override) layers.Feature {
	computed, reasons := t.Rate(in)
	code, _ := compound.Props["code"].(string)
	name, _ := compound.Props["name"].(string)
	p := map[string]any{
		"compound_code": code, "name": name, "rating": string(computed), "computed_rating": string(computed),
		"reasons": strings.Join(reasons, "; "), "overridden": o != nil,
		"coverage_share": round3(in.CoverageShare), "incidents": int64(in.Incidents), "households": in.Households,
		"incidents_per_100": round3(in.IncidentsPer100()), "open_alerts": int64(in.OpenAlerts),
	}
	if !math.IsNaN(in.EnclosureShare) {
		p["enclosure_share"] = round3(in.EnclosureShare)
	}
	if o != nil {
		p["rating"] = string(o.Rating)
		p["override_by"], p["override_at"], p["override_reason"] = o.By, o.At.UTC().Format(time.RFC3339), o.Reason
	}
	var g orb.Geometry = compound.Geometry
	return layers.Feature{Layer: "placards", Geometry: g, Props: p}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
