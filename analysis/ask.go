package analysis

import (
	"context"
	"fmt"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/hexward/hexward/grid/manage"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
	"github.com/hexward/hexward/spatial/frontages"
)

// Questions answered from the last run: figures, what-if cameras,
// placement suggestions, placards and frontage incidents.

// Figures returns the figures of one area (a feature of AreaLayers).
func (e *Engine) Figures(layer string, id int64) (Figures, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.model == nil {
		return Figures{}, ErrNotRun
	}
	i, ok := e.index[areaKey{layer, id}]
	if !ok {
		return Figures{}, ErrNoArea
	}
	return e.figures[i], nil
}

// AllFigures returns the figures of every area, of layer when not empty,
// in catalogue order.
func (e *Engine) AllFigures(layer string) ([]Figures, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.model == nil {
		return nil, ErrNotRun
	}
	var out []Figures
	for _, f := range e.figures {
		if layer == "" || f.Layer == layer {
			out = append(out, f)
		}
	}
	return out, nil
}

// ViewOut is a camera's view at one level, as GeoJSON.
type ViewOut struct {
	Level    string            `json:"level"`
	RangeM   float64           `json:"range_m"`
	NearM    float64           `json:"near_m"`
	AreaM2   float64           `json:"area_m2"`
	Geometry *geojson.Geometry `json:"geometry"`
}

// WhatIf is a hypothetical camera: its views and what it would add to the
// current coverage, per level.
type WhatIf struct {
	Camera spatial.Camera         `json:"camera"`
	Views  []ViewOut              `json:"views"`
	Gain   []spatial.LevelAmounts `json:"gain"`
}

func viewsOut(vs []spatial.View) []ViewOut {
	out := make([]ViewOut, len(vs))
	for i, v := range vs {
		out[i] = ViewOut{Level: v.Level, RangeM: round(v.Range, 1), NearM: round(v.Near, 2), AreaM2: round(v.Area(), 1)}
		if len(v.Geometry) > 0 {
			out[i].Geometry = geojson.NewGeometry(v.Geometry)
		}
	}
	return out
}

// Evaluate computes a hypothetical camera's views and gain without saving
// anything. The camera's lens and mount default to spatial.StandardCamera
// where zero.
func (e *Engine) Evaluate(c spatial.Camera) (WhatIf, error) {
	c = withDefaults(c)
	if err := c.Validate(); err != nil {
		return WhatIf{}, &InputError{err.Error()}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.model == nil {
		return WhatIf{}, ErrNotRun
	}
	if !e.bound.Contains(c.Pos) {
		return WhatIf{}, &InputError{fmt.Sprintf("camera at %v is outside the analysed district", c.Pos)}
	}
	ev, err := e.model.Evaluate(c)
	if err != nil {
		return WhatIf{}, &InputError{err.Error()}
	}
	return WhatIf{Camera: c, Views: viewsOut(ev.Views), Gain: ev.Gain}, nil
}

func withDefaults(c spatial.Camera) spatial.Camera {
	d := spatial.StandardCamera
	if c.MountHeight == 0 {
		c.MountHeight = d.MountHeight
	}
	if c.HFOVDeg == 0 && c.FocalLengthMM == 0 {
		c.HFOVDeg = d.HFOVDeg
	}
	if c.Tilt == 0 {
		c.Tilt = d.Tilt
	}
	if c.ResH == 0 {
		c.ResH, c.ResV = d.ResH, d.ResV
	}
	return c
}

// Suggestion is one camera of a placement suggestion, in the order chosen.
type Suggestion struct {
	Camera spatial.Camera         `json:"camera"`
	Views  []ViewOut              `json:"views"`
	Gain   []spatial.LevelAmounts `json:"gain"`
	Score  float64                `json:"score"`
}

// Suggest places k new cameras greedily for the most new coverage at level
// ("" : the spatial default) within the area (a feature of AreaLayers;
// zero id: the whole district).
func (e *Engine) Suggest(ctx context.Context, k int, level, areaLayer string, areaID int64) ([]Suggestion, error) {
	if k < 1 || k > 100 {
		return nil, &InputError{fmt.Sprintf("k = %d: ask for 1 to 100 cameras", k)}
	}
	if level != "" && e.opt.Levels.Index(level) < 0 {
		return nil, &InputError{fmt.Sprintf("level %q is not one of %s", level, levelNames(e.opt.Levels))}
	}
	var area orb.Geometry
	if areaID != 0 {
		f, err := e.store.Get(ctx, areaLayer, areaID)
		if err != nil {
			return nil, err
		}
		area = f.Geometry
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.model == nil {
		return nil, ErrNotRun
	}
	ss, err := e.model.Suggest(spatial.SuggestOptions{K: k, Area: area, Level: level})
	if err != nil {
		return nil, &InputError{err.Error()}
	}
	out := make([]Suggestion, len(ss))
	for i, s := range ss {
		out[i] = Suggestion{Camera: s.Camera, Views: viewsOut(s.Views), Gain: s.Gain, Score: round(s.Score, 2)}
	}
	return out, nil
}

func levelNames(ls spatial.Levels) string {
	var names []string
	for _, l := range ls {
		names = append(names, l.Name)
	}
	return strings.Join(names, ", ")
}

// InputError is a question the engine cannot answer as asked (HTTP 400).
type InputError struct{ Problem string }

func (e *InputError) Error() string { return e.Problem }

// SetPlacard sets a compound's placard by hand (rating red, yellow or
// green; an empty rating clears the override), recording the actor of ctx
// and why; the placards layer is rewritten by the next run, and the
// compound's feature in it at once.
func (e *Engine) SetPlacard(ctx context.Context, compoundID int64, rating, reason string) (layers.Feature, error) {
	actor, _ := layers.ActorFrom(ctx)
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return layers.Feature{}, &InputError{`a placard set by hand needs "reason": why`}
	}
	c, err := e.store.Get(ctx, "compounds", compoundID)
	if err != nil {
		return layers.Feature{}, err
	}
	code, _ := c.Props["code"].(string)
	if code == "" {
		return layers.Feature{}, &InputError{fmt.Sprintf("compound %d has no code", compoundID)}
	}
	if rating == "" {
		err = manage.ClearOverride(ctx, e.store.Pool(), code, actor.User, reason)
	} else {
		if !manage.Rating(rating).Valid() {
			return layers.Feature{}, &InputError{fmt.Sprintf("rating %q: red, yellow or green", rating)}
		}
		err = manage.SetOverride(ctx, e.store.Pool(), code, manage.Rating(rating), actor.User, reason)
	}
	if err != nil {
		return layers.Feature{}, err
	}
	return e.refreshPlacard(ctx, c)
}

// refreshPlacard rewrites the placard of compound c from the last run's
// indicators and the stored override.
func (e *Engine) refreshPlacard(ctx context.Context, c layers.Feature) (layers.Feature, error) {
	overrides, err := manage.Overrides(ctx, e.store.Pool())
	if err != nil {
		return layers.Feature{}, err
	}
	code, _ := c.Props["code"].(string)
	var o *manage.Override
	if ov, ok := overrides[code]; ok {
		o = &ov
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ind := manage.Indicators{}
	if i, ok := e.index[areaKey{"compounds", c.ID}]; ok {
		ind = e.figures[i].indicators
	} else {
		ind.EnclosureShare = nan()
	}
	pf := manage.PlacardFeature(c, ind, manage.DefaultThresholds, o)
	// The placard feature of this compound, replaced in place.
	var existing []layers.Feature
	err = e.store.ScanLayer(ctx, "placards", func(f layers.Feature) error {
		if f.Props["compound_code"] == code {
			existing = append(existing, f)
		}
		return nil
	})
	if err != nil {
		return layers.Feature{}, err
	}
	sys := layers.WithActor(ctx, layers.Actor{User: Actor, Role: "system"})
	if len(existing) > 0 {
		pf.ID = existing[0].ID
		pf, err = e.store.Replace(sys, pf)
	} else {
		pf, err = e.store.Create(sys, pf)
	}
	if err != nil {
		return layers.Feature{}, err
	}
	if i, ok := e.index[areaKey{"compounds", c.ID}]; ok {
		rating, _ := pf.Props["rating"].(string)
		computed, _ := pf.Props["computed_rating"].(string)
		reasons, _ := pf.Props["reasons"].(string)
		e.figures[i].Placard = &PlacardFigures{Rating: rating, ComputedRating: computed, Reasons: reasons, Overridden: o != nil}
	}
	return pf, nil
}

// ShopIncidents is the incidents attributed to one shop's frontage.
type ShopIncidents struct {
	ShopID    int64  `json:"shop_id"`
	ShopName  string `json:"shop_name"`
	Street    string `json:"street,omitempty"`
	Incidents int    `json:"incidents"`
}

// Incidents returns the officers' incident reports (layer incidents) of
// the window, Options.IncidentWindow up to now, open or closed: the
// incidents that the figures, the placards and FrontageIncidents count.
func (e *Engine) Incidents(ctx context.Context) ([]layers.Feature, error) {
	var fs []layers.Feature
	err := e.store.ScanLayer(ctx, "incidents", func(f layers.Feature) error {
		fs = append(fs, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("analysis: reading incidents: %w", err)
	}
	return reportedSince(fs, e.now().Add(-e.opt.IncidentWindow)), nil
}

// FrontageIncidents attributes the given incident points (those of
// Incidents, or any others) to the responsible shops' frontages of the
// last run, within maxDist metres of a frontage when in none; most
// incidents first.
func (e *Engine) FrontageIncidents(incidents []layers.Feature, maxDist float64) ([]ShopIncidents, int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.model == nil {
		return nil, 0, ErrNotRun
	}
	at, err := frontages.Attribute(e.fronts, incidents, maxDist)
	if err != nil {
		return nil, 0, err
	}
	var out []ShopIncidents
	for _, f := range e.fronts {
		if n := at.ByShop[f.ShopID]; n > 0 {
			out = append(out, ShopIncidents{ShopID: f.ShopID, ShopName: f.ShopName, Street: f.Street, Incidents: n})
			delete(at.ByShop, f.ShopID) // a shop with two frontages once
		}
	}
	sortIncidents(out)
	return out, at.Unattributed, nil
}

// Model returns the camera model of the last run (nil before it), for
// measuring it (hexward bench analysis); it must not be changed.
func (e *Engine) Model() *spatial.Model {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.model
}
