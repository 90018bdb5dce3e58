package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// The planners' analyses (package analysis), under /api/analysis: the
// last run and a new one, the figures of each area (JSON or CSV), a
// hypothetical camera, placement suggestions, placards set by hand and
// incidents per shop. The result layers themselves are ordinary layers
// (camera_views, blind_spots, fence_gaps, leaks, frontages, frontage_gaps,
// grid_cells, placards) in /api/collections and /tiles.

// analysisErr maps the engine's errors to answers.
func analysisErr(err error) error {
	var ie *analysis.InputError
	switch {
	case errors.As(err, &ie):
		return badRequest("%s", ie.Problem)
	case errors.Is(err, analysis.ErrNotRun):
		return &httpError{http.StatusConflict, "the analyses have not run yet: POST /api/analysis/run"}
	case errors.Is(err, analysis.ErrNoArea), errors.Is(err, layers.ErrNotFound):
		return notFound("no such area")
	}
	return err
}

func (s *Server) needAnalysis() error {
	if s.analysis == nil {
		return &httpError{http.StatusServiceUnavailable, "analyses are not enabled on this server"}
	}
	return nil
}

// analysisInfo serves GET /api/analysis: the levels and the last run.
func (s *Server) analysisInfo(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"levels": s.analysis.Levels(), "level": s.analysis.Level(),
		"result_layers": analysis.ResultLayers, "area_layers": analysis.AreaLayers, "last_run": s.analysis.Stats(),
		"last_error": s.analysis.LastError()})
	return nil
}

// analysisRun serves POST /api/analysis/run: recompute everything now.
func (s *Server) analysisRun(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	if scopeOf(r) != "" {
		return &httpError{http.StatusForbidden, "a recompute rewrites the whole district's result layers: not for an area-scoped account"}
	}
	st, err := s.analysis.Run(r.Context())
	if err != nil {
		return analysisErr(err)
	}
	writeJSON(w, http.StatusOK, jsonType, st)
	return nil
}

// inScope keeps the figures of the areas whose anchor is in the caller's
// area scope (all of them for an unscoped caller).
func (s *Server) inScope(r *http.Request, fs []analysis.Figures) ([]analysis.Figures, error) {
	code := scopeOf(r)
	if code == "" {
		return fs, nil
	}
	area, err := s.store.ScopeArea(r.Context(), code)
	if err != nil && !errors.Is(err, layers.ErrNoArea) {
		return nil, err
	}
	var out []analysis.Figures
	for _, f := range fs {
		feat, err := s.store.Get(r.Context(), f.Layer, f.ID)
		if err != nil {
			continue // gone since the run
		}
		if p, ok := grid.Anchor(feat.Geometry); ok && planar.MultiPolygonContains(area, p) {
			out = append(out, f)
		}
	}
	return out, nil
}

// analysisFigures serves GET /api/analysis/figures?layer=&format=json|csv.
func (s *Server) analysisFigures(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	layer := r.URL.Query().Get("layer")
	if layer != "" && !slices.Contains(analysis.AreaLayers, layer) {
		return badRequest("layer %q has no figures (have %v)", layer, analysis.AreaLayers)
	}
	fs, err := s.analysis.AllFigures(layer)
	if err != nil {
		return analysisErr(err)
	}
	if fs, err = s.inScope(r, fs); err != nil {
		return err
	}
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		if fs == nil {
			fs = []analysis.Figures{}
		}
		writeJSON(w, http.StatusOK, jsonType, map[string]any{"level": s.analysis.Level(), "areas": fs})
	case "csv":
		return writeFiguresCSV(w, s.analysis.Level(), fs)
	default:
		return badRequest("format %q: json or csv", format)
	}
	return nil
}

// analysisArea serves GET /api/analysis/figures/{layer}/{id}.
func (s *Server) analysisArea(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	layer := r.PathValue("layer")
	if !slices.Contains(analysis.AreaLayers, layer) {
		return badRequest("layer %q has no figures (have %v)", layer, analysis.AreaLayers)
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("feature id %q is not a positive integer", r.PathValue("id"))
	}
	if _, err := s.store.Item(r.Context(), layer, id, scopeOf(r)); err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no %s %d", layer, id)
		}
		return err
	}
	f, err := s.analysis.Figures(layer, id)
	if err != nil {
		return analysisErr(err)
	}
	writeJSON(w, http.StatusOK, jsonType, f)
	return nil
}

// writeFiguresCSV writes one row per area: its counts, its coverage shares
// at every level, its enclosure and its placard.
func writeFiguresCSV(w http.ResponseWriter, level string, fs []analysis.Figures) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	head := []string{"layer", "id", "code", "name", "buildings", "households", "shops", "sensors", "open_alerts", "incidents",
		"street_length_m", "street_area_m2", "gates", "fence_length_m"}
	var levels []string
	if len(fs) > 0 {
		for _, l := range fs[0].Coverage.Levels {
			levels = append(levels, l.Level)
			head = append(head, l.Level+"_street_length_share", l.Level+"_street_area_share", l.Level+"_gates_share", l.Level+"_fence_share")
		}
	}
	head = append(head, "unseen_gates_"+level, "perimeter_m", "enclosed_share", "controlled_share", "fence_gaps", "gates_on_perimeter",
		"max_gate_spacing_m", "leaks", "placard", "placard_computed", "placard_overridden")
	_ = cw.Write(head)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	share := func(v float64) string { return strconv.FormatFloat(math.Round(v*10000)/10000, 'f', -1, 64) }
	for _, f := range fs {
		row := []string{f.Layer, strconv.FormatInt(f.ID, 10), f.Code, f.Name}
		if c := f.Counts; c != nil {
			row = append(row, strconv.Itoa(c.Buildings), strconv.FormatInt(c.Households, 10), strconv.Itoa(c.Shops),
				strconv.Itoa(c.Sensors), strconv.Itoa(c.OpenAlerts))
		} else {
			row = append(row, "", "", "", "", "")
		}
		t := f.Coverage.Total
		row = append(row, strconv.Itoa(f.Incidents), num(math.Round(t.StreetLengthM*10)/10), num(math.Round(t.StreetAreaM2*10)/10),
			strconv.Itoa(t.Gates), num(math.Round(t.FenceLengthM*10)/10))
		for i := range levels {
			if i < len(f.Coverage.Levels) {
				sh := f.Coverage.Levels[i].Shares
				row = append(row, share(sh.StreetLength), share(sh.StreetArea), share(sh.Gates), share(sh.FenceLength))
			} else {
				row = append(row, "", "", "", "")
			}
		}
		row = append(row, strconv.Itoa(len(f.UnseenGates)))
		if e := f.Enclose; e != nil {
			row = append(row, num(e.PerimeterM), share(e.EnclosedShare), share(e.ControlledShare), strconv.Itoa(e.Gaps),
				strconv.Itoa(e.Gates), num(e.MaxGateSpacingM), strconv.Itoa(e.Leaks))
		} else {
			row = append(row, "", "", "", "", "", "", "")
		}
		if p := f.Placard; p != nil {
			row = append(row, p.Rating, p.ComputedRating, strconv.FormatBool(p.Overridden))
		} else {
			row = append(row, "", "", "")
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hexward-figures.csv"`)
	_, err := w.Write(buf.Bytes())
	return err
}

// inCamera is a hypothetical camera: where, which way, and its lens and
// mount (the standard camera's where absent).
type inCamera struct {
	Lon           *float64 `json:"lon"`
	Lat           *float64 `json:"lat"`
	Bearing       *float64 `json:"bearing"`
	HFOV          float64  `json:"hfov"`
	Tilt          float64  `json:"tilt"`
	MountHeight   float64  `json:"mount_height"`
	ResolutionH   int      `json:"resolution_h"`
	ResolutionV   int      `json:"resolution_v"`
	FocalLengthMM float64  `json:"focal_length_mm"`
	SensorWidthMM float64  `json:"sensor_width_mm"`
}

// analysisWhatIf serves POST /api/analysis/whatif: a hypothetical camera's
// views and coverage gain, saved nowhere.
func (s *Server) analysisWhatIf(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	var in inCamera
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	switch {
	case in.Lon == nil || in.Lat == nil:
		return badRequest(`"lon" and "lat" are required: where the camera is`)
	case in.Bearing == nil:
		return badRequest(`"bearing" is required: degrees from north, clockwise`)
	case !(*in.Lon >= -180 && *in.Lon <= 180) || !(*in.Lat >= -90 && *in.Lat <= 90):
		return badRequest("lon %v, lat %v: out of range", *in.Lon, *in.Lat)
	case !(*in.Bearing >= 0 && *in.Bearing <= 360):
		return badRequest("bearing %v: from 0 to 360", *in.Bearing)
	}
	c := spatial.Camera{Pos: orb.Point{*in.Lon, *in.Lat}, Bearing: *in.Bearing, HFOVDeg: in.HFOV, Tilt: in.Tilt,
		MountHeight: in.MountHeight, ResH: in.ResolutionH, ResV: in.ResolutionV, FocalLengthMM: in.FocalLengthMM, SensorWidthMM: in.SensorWidthMM}
	if c.ResH != 0 && c.ResV == 0 {
		c.ResV = c.ResH * 9 / 16
	}
	if code := scopeOf(r); code != "" {
		area, err := s.store.ScopeArea(r.Context(), code)
		if err != nil && !errors.Is(err, layers.ErrNoArea) {
			return err
		}
		if !planar.MultiPolygonContains(area, c.Pos) {
			return &httpError{http.StatusForbidden, "the camera is outside your area"}
		}
	}
	ev, err := s.analysis.Evaluate(c)
	if err != nil {
		return analysisErr(err)
	}
	writeJSON(w, http.StatusOK, jsonType, ev)
	return nil
}

// analysisSuggest serves POST /api/analysis/suggest {"k", "level",
// "area": {"layer", "id"}}: k new cameras placed greedily, with the gain of
// each.
func (s *Server) analysisSuggest(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	var in struct {
		K     int    `json:"k"`
		Level string `json:"level"`
		Area  *struct {
			Layer string `json:"layer"`
			ID    int64  `json:"id"`
		} `json:"area"`
	}
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	layer, id := "", int64(0)
	if in.Area != nil {
		if !slices.Contains(analysis.AreaLayers, in.Area.Layer) || in.Area.ID <= 0 {
			return badRequest(`"area" must name a feature of %v by "layer" and "id"`, analysis.AreaLayers)
		}
		if _, err := s.store.Item(r.Context(), in.Area.Layer, in.Area.ID, scopeOf(r)); err != nil {
			if errors.Is(err, layers.ErrNotFound) {
				return notFound("no %s %d", in.Area.Layer, in.Area.ID)
			}
			return err
		}
		layer, id = in.Area.Layer, in.Area.ID
	} else if scopeOf(r) != "" {
		return badRequest(`an area-scoped account must name its "area"`)
	}
	ss, err := s.analysis.Suggest(r.Context(), in.K, in.Level, layer, id)
	if err != nil {
		return analysisErr(err)
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"cameras": ss})
	return nil
}

// analysisPlacard serves PUT /api/analysis/placards/{compound}
// {"rating": "red"|"yellow"|"green"|null, "reason"}: a placard set (or,
// with null, given back to the indicators) by hand, who, when and why
// recorded.
func (s *Server) analysisPlacard(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("compound"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("compound id %q is not a positive integer", r.PathValue("compound"))
	}
	var in struct {
		Rating *string `json:"rating"`
		Reason string  `json:"reason"`
	}
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	if _, err := s.store.Item(r.Context(), "compounds", id, scopeOf(r)); err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return notFound("no compound %d", id)
		}
		return err
	}
	rating := ""
	if in.Rating != nil {
		if rating = *in.Rating; rating == "" {
			return badRequest(`rating "": red, yellow, green, or null to clear`)
		}
	}
	f, err := s.analysis.SetPlacard(r.Context(), id, rating, in.Reason)
	if err != nil {
		return analysisErr(err)
	}
	s.writeFeature(w, r, http.StatusOK, f)
	return nil
}

// analysisShopIncidents serves GET /api/analysis/frontages/incidents
// ?max_dist=&format=: the officers' incident reports of the analyses'
// window (open or closed) attributed to the shops whose 门前三包 frontage
// they fall in (or nearest within max_dist metres, default 5), of the
// caller's area scope.
func (s *Server) analysisShopIncidents(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAnalysis(); err != nil {
		return err
	}
	maxDist := 5.0
	if v := r.URL.Query().Get("max_dist"); v != "" {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || !(d >= 0 && d <= 100) {
			return badRequest("max_dist %q: metres from 0 to 100", v)
		}
		maxDist = d
	}
	incidents, err := s.analysis.Incidents(r.Context())
	if err != nil {
		return err
	}
	if code := scopeOf(r); code != "" {
		area, err := s.store.ScopeArea(r.Context(), code)
		if err != nil && !errors.Is(err, layers.ErrNoArea) {
			return err
		}
		incidents = slices.DeleteFunc(incidents, func(f layers.Feature) bool {
			p, ok := grid.Anchor(f.Geometry)
			return !ok || !planar.MultiPolygonContains(area, p)
		})
	}
	shops, unattributed, err := s.analysis.FrontageIncidents(incidents, maxDist)
	if err != nil {
		return analysisErr(err)
	}
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		if shops == nil {
			shops = []analysis.ShopIncidents{}
		}
		writeJSON(w, http.StatusOK, jsonType, map[string]any{"shops": shops, "unattributed": unattributed, "incidents": len(incidents)})
	case "csv":
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		_ = cw.Write([]string{"shop_id", "shop_name", "street", "incidents"})
		for _, sh := range shops {
			_ = cw.Write([]string{strconv.FormatInt(sh.ShopID, 10), sh.ShopName, sh.Street, strconv.Itoa(sh.Incidents)})
		}
		cw.Flush()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, err := w.Write(buf.Bytes())
		return err
	default:
		return badRequest("format %q: json or csv", format)
	}
	return nil
}

// decodeStrict is decodeBody refusing unknown fields, so that a misspelt
// parameter is an error rather than a default.
func decodeStrict(r *http.Request, v any) error {
	var raw json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%v", fmt.Errorf("body: %w", err))
	}
	return nil
}
