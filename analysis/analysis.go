// Package analysis runs the planners' analyses over the store's layers and
// publishes every result as a layer, written whole in one transaction
// (layers.Store.ReplaceLayers) so that it is in the tiles, the OGC API,
// the live stream and the exports like any other layer:
//
//   - camera_views: each camera's view per pixel-density level, occluded by
//     the buildings (package spatial);
//   - blind_spots: public space no camera sees at the chosen level;
//   - fence_gaps and leaks: openings in the village zones' walls and the
//     alley crossings that pass no gate (spatial/fences, pgRouting);
//   - frontages and frontage_gaps: the 门前三包 areas derived from the
//     shops' doors and the street edges (spatial/frontages);
//   - grid_cells: the H3 management grid with its aggregates and grid
//     workers (grid, grid/manage);
//   - placards: the red/yellow/green rating of each compound, with manual
//     overrides (grid/manage).
//
// An Engine also keeps the last run's camera model, for what-if cameras and
// placement suggestions, and the figures of every admin area and village
// zone.
package analysis

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"
	"github.com/uber/h3-go/v4"
	"golang.org/x/sync/errgroup"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/grid/manage"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
	"github.com/hexward/hexward/spatial/fences"
	"github.com/hexward/hexward/spatial/frontages"
)

// ResultLayers are the layers a run writes, each replaced whole.
var ResultLayers = []string{"camera_views", "blind_spots", "fence_gaps", "leaks", "frontages", "frontage_gaps", "grid_cells", "placards"}

// AreaLayers are the layers whose features get figures.
var AreaLayers = []string{"subdistricts", "communities", "compounds", "village_zones"}

// Actor is who a run writes as, in the audit log.
const Actor = "system:analysis"

// Options tune an Engine; zero values take the defaults.
type Options struct {
	Levels         spatial.Levels // pixel-density levels; default IEC 62676-4:2014
	Level          string         // level of blind spots, unseen gates, grid and placard coverage; default "recognise"
	GridRes        int            // H3 resolution of the management grid; default grid.DefaultResolution (10)
	IncidentWindow time.Duration  // officers' incident reports (layer incidents) this recent count, open or closed; default 30 days
	Leaks          bool           // look for leaks with pgRouting (one query per zone)
	Log            *slog.Logger
}

func (o *Options) defaults() error {
	if o.Levels == nil {
		o.Levels = spatial.IEC2014
	}
	if o.Level == "" {
		o.Level = "recognise"
	}
	if o.Levels.Index(o.Level) < 0 {
		return fmt.Errorf("analysis: level %q is not one of the levels", o.Level)
	}
	if o.GridRes == 0 {
		o.GridRes = grid.DefaultResolution
	}
	if o.GridRes < 0 || o.GridRes > 15 {
		return fmt.Errorf("analysis: H3 resolution %d out of 0…15", o.GridRes)
	}
	if o.IncidentWindow == 0 {
		o.IncidentWindow = 30 * 24 * time.Hour
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Engine runs the analyses and answers from the last run.
type Engine struct {
	store *layers.Store
	opt   Options
	now   func() time.Time

	running sync.Mutex // one run at a time

	mu      sync.RWMutex // guards what a run publishes
	model   *spatial.Model
	bound   orb.Bound // of the modelled district
	figures []Figures
	index   map[areaKey]int
	fronts  []frontages.Frontage
	stats   RunStats
	lastErr string // of the last run, "" when it succeeded

	leakCache map[int64]leakEntry // by zone id: leaks and what they came from
}

type areaKey struct {
	layer string
	id    int64
}

// ErrNotRun is returned by the questions asked before the first run.
var ErrNotRun = errors.New("analysis: not run yet")

// ErrNoArea is returned for an area without figures.
var ErrNoArea = errors.New("analysis: no such area")

// New returns an engine over store.
func New(store *layers.Store, opt Options) (*Engine, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	return &Engine{store: store, opt: opt, now: time.Now}, nil
}

// Level is the level of blind spots, unseen gates, grid and placards.
func (e *Engine) Level() string { return e.opt.Level }

// Levels are the pixel-density levels, lowest density first.
func (e *Engine) Levels() spatial.Levels { return e.opt.Levels }

// Figures are one area's results.
type Figures struct {
	Layer    string          `json:"layer"`
	ID       int64           `json:"id"`
	Code     string          `json:"code,omitempty"`
	Name     string          `json:"name,omitempty"`
	Coverage spatial.Report  `json:"coverage"`
	Counts   *manage.Stats   `json:"counts,omitempty"`
	Enclose  *Enclosure      `json:"enclosure,omitempty"`
	Placard  *PlacardFigures `json:"placard,omitempty"`
	// UnseenGates are the gates in the area not seen at the engine's level.
	UnseenGates []int64 `json:"unseen_gates"`
	// Incidents are the officers' incident reports in the area within
	// Options.IncidentWindow, open or closed.
	Incidents int `json:"incidents"`

	indicators manage.Indicators // a compound's, for its placard
}

// Enclosure is a village zone's walls and gates (or, for a compound, the
// sum over its zones).
type Enclosure struct {
	PerimeterM      float64 `json:"perimeter_m"`
	EnclosedM       float64 `json:"enclosed_m"`
	EnclosedShare   float64 `json:"enclosed_share"`
	ControlledShare float64 `json:"controlled_share"`
	Gaps            int     `json:"gaps"`
	GapsM           float64 `json:"gaps_m"`
	Gates           int     `json:"gates"`
	MaxGateSpacingM float64 `json:"max_gate_spacing_m"`
	Leaks           int     `json:"leaks"`
}

// PlacardFigures are a compound's rating.
type PlacardFigures struct {
	Rating         string `json:"rating"`
	ComputedRating string `json:"computed_rating"`
	Reasons        string `json:"reasons,omitempty"`
	Overridden     bool   `json:"overridden"`
}

// RunStats say what the last run did and how long each step took.
type RunStats struct {
	At       time.Time          `json:"at"`
	TookMS   map[string]float64 `json:"took_ms"`
	TotalMS  float64            `json:"total_ms"`
	Features map[string]int     `json:"features"` // written per result layer
	Cameras  int                `json:"cameras"`
}

// Stats returns the last run's stats (zero before the first run).
func (e *Engine) Stats() RunStats {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.stats
}

// input is what a run reads.
type input struct {
	byLayer map[string][]layers.Feature
}

func (in input) of(layer string) []layers.Feature { return in.byLayer[layer] }

var inputLayers = []string{"subdistricts", "communities", "compounds", "village_zones", "buildings", "streets",
	"fences", "gates", "cameras", "shops", "sensors", "alerts", "officers", "incidents"}

func (e *Engine) load(ctx context.Context) (input, error) {
	in := input{byLayer: map[string][]layers.Feature{}}
	for _, l := range inputLayers {
		err := e.store.ScanLayer(ctx, l, func(f layers.Feature) error {
			in.byLayer[l] = append(in.byLayer[l], f)
			return nil
		})
		if err != nil {
			return in, fmt.Errorf("analysis: reading %s: %w", l, err)
		}
	}
	return in, nil
}

// Run recomputes every analysis from the stored layers and replaces the
// result layers. Concurrent calls wait for each other.
func (e *Engine) Run(ctx context.Context) (RunStats, error) {
	e.running.Lock()
	defer e.running.Unlock()
	st, err := e.run(ctx)
	e.mu.Lock()
	e.lastErr = ""
	if err != nil {
		e.lastErr = err.Error()
	}
	e.mu.Unlock()
	return st, err
}

// LastError is the error of the last run, "" when it succeeded (or none
// ran yet): the results are then those of the run before.
func (e *Engine) LastError() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.lastErr
}

func (e *Engine) run(ctx context.Context) (RunStats, error) {
	start := e.now()
	st := RunStats{At: start, TookMS: map[string]float64{}, Features: map[string]int{}}
	step := func(name string, t0 time.Time) {
		st.TookMS[name] = float64(time.Since(t0).Microseconds()) / 1000
	}

	t0 := time.Now()
	in, err := e.load(ctx)
	if err != nil {
		return st, err
	}
	step("read", t0)

	// Cameras: occluded views per level, coverage.
	t0 = time.Now()
	var d spatial.District
	for _, l := range []string{"buildings", "streets", "fences", "gates", "cameras"} {
		for _, f := range in.of(l) {
			if err := d.Add(spatial.Feature{Layer: f.Layer, ID: f.ID, Geometry: f.Geometry, Props: f.Props}); err != nil {
				// A camera without its lens cannot be modelled: say so, go on.
				e.opt.Log.Warn("analysis: feature left out of the camera model", "layer", l, "id", f.ID, "err", err)
			}
		}
	}
	model, err := spatial.NewModel(d, spatial.Options{Levels: e.opt.Levels})
	if err != nil {
		return st, err
	}
	model.Recompute()
	st.Cameras = len(d.Cameras)
	step("camera_views", t0)
	li := e.opt.Levels.Index(e.opt.Level)
	var out []layers.Feature
	var seen []orb.Polygon // views at the engine's level
	for i, vs := range model.CameraViews() {
		for _, v := range vs {
			if f, ok := v.Feature(d.Cameras[i].ID); ok {
				out = append(out, layers.Feature{Layer: f.Layer, Geometry: f.Geometry, Props: f.Props})
			}
		}
		seen = append(seen, vs[li].Geometry...)
	}

	// Figures per area and blind spots.
	t0 = time.Now()
	areas := make([]Figures, 0)
	var areaGeoms []orb.Geometry
	for _, l := range AreaLayers {
		for _, f := range in.of(l) {
			code, _ := f.Props["code"].(string)
			name, _ := f.Props["name"].(string)
			rep, err := model.Report(f.Geometry)
			if err != nil {
				return st, fmt.Errorf("analysis: coverage of %s %d: %w", l, f.ID, err)
			}
			areas = append(areas, Figures{Layer: l, ID: f.ID, Code: code, Name: name, Coverage: rep, UnseenGates: []int64{}})
			areaGeoms = append(areaGeoms, f.Geometry)
		}
	}
	unseen, err := model.UnseenGates(e.opt.Level)
	if err != nil {
		return st, err
	}
	for i := range areas {
		b := areaGeoms[i].Bound()
		for _, g := range unseen {
			if b.Contains(g.Pos) && contains(areaGeoms[i], g.Pos) {
				areas[i].UnseenGates = append(areas[i].UnseenGates, g.ID)
			}
		}
	}
	step("coverage", t0)

	// Walls, gates and leaks of the village zones.
	t0 = time.Now()
	zones := in.of("village_zones")
	reps, err := fences.AnalyseAll(zones, in.of("fences"), in.of("buildings"), in.of("gates"), fences.Options{})
	if err != nil {
		return st, fmt.Errorf("analysis: fences: %w", err)
	}
	out = append(out, fences.GapFeatures(reps)...)
	leaks := make([]int, len(zones))
	if e.opt.Leaks {
		found, err := e.leaks(ctx, zones, in.of("streets"), in.of("gates"), in.of("fences"))
		if err != nil {
			return st, err
		}
		for i, z := range zones {
			leaks[i] = len(found[i])
			for _, l := range found[i] {
				out = append(out, layers.Feature{Layer: "leaks", Geometry: l.Point, Props: map[string]any{
					"zone_id": z.ID, "zone_code": reps[i].ZoneCode, "component": l.Component, "inside_m": round(l.InsideM, 1)}})
			}
		}
	}
	step("fences", t0)

	// 门前三包 frontages.
	t0 = time.Now()
	fr, err := frontages.Derive(in.of("shops"), in.of("streets"), in.of("buildings"), frontages.Options{})
	if err != nil {
		return st, fmt.Errorf("analysis: frontages: %w", err)
	}
	fronts, fgaps := fr.Features()
	out = append(append(out, fronts...), fgaps...)
	step("frontages", t0)

	// Incidents: the officers' reports of the window. Open alerts are an
	// indicator of their own (grid and placards).
	incidents := reportedSince(in.of("incidents"), e.now().Add(-e.opt.IncidentWindow))

	// The H3 grid and the areas' counts.
	t0 = time.Now()
	agg := manage.Inputs{Buildings: in.of("buildings"), Shops: in.of("shops"), Sensors: in.of("sensors"),
		Alerts: in.of("alerts"), Coverage: seen}
	var cells []manage.CellStats
	communities := in.of("communities")
	for _, c := range communities {
		cs, err := grid.Cover(c.Geometry, e.opt.GridRes)
		if err != nil {
			return st, fmt.Errorf("analysis: grid of community %d: %w", c.ID, err)
		}
		for _, cell := range cs {
			cells = append(cells, manage.CellStats{Cell: cell})
		}
	}
	cells = uniqueCells(cells)
	ids := make([]h3.Cell, len(cells))
	for i, c := range cells {
		ids[i] = c.Cell
	}
	stats, err := manage.Aggregate(ids, agg)
	if err != nil {
		return st, fmt.Errorf("analysis: grid: %w", err)
	}
	manage.Assign(stats, manage.AreasOf(communities))
	stored, err := manage.Assignments(ctx, e.store.Pool())
	if err != nil {
		return st, err
	}
	manage.AssignWorkers(stats, in.of("officers"), stored)
	out = append(out, manage.CellFeatures(stats)...)
	step("grid", t0)

	// Blind spots, cut along the grid cells: a district's unseen alleys
	// are one connected net, which as one polygon would be too large to
	// draw or edit; per cell they are small and say whose they are.
	t0 = time.Now()
	for _, c := range stats {
		blind, err := model.BlindSpots(grid.CellPolygon(c.Cell), e.opt.Level)
		if err != nil {
			return st, fmt.Errorf("analysis: blind spots: %w", err)
		}
		for _, p := range blind {
			a := model.Frame.Area(p)
			if a < 1 { // slivers of the raster
				continue
			}
			out = append(out, layers.Feature{Layer: "blind_spots", Geometry: p,
				Props: map[string]any{"level": e.opt.Level, "area_m2": round(a, 1), "area_code": c.AreaCode}})
		}
	}
	step("blind_spots", t0)
	t0 = time.Now()
	var adminAreas []manage.Area
	for _, l := range AreaLayers[:3] {
		adminAreas = append(adminAreas, areasWithLevel(in.of(l), l)...)
	}
	rolled, err := manage.Rollup(adminAreas, agg)
	if err != nil {
		return st, fmt.Errorf("analysis: roll-up: %w", err)
	}
	step("rollup", t0)

	// Figures of the areas: counts, enclosure, incidents; placards.
	t0 = time.Now()
	index := map[areaKey]int{}
	for i, a := range areas {
		index[areaKey{a.Layer, a.ID}] = i
	}
	byCode := map[string]int{}
	for i, a := range areas {
		if a.Layer != "village_zones" && a.Code != "" {
			byCode[a.Layer+"/"+a.Code] = i
		}
	}
	for i := range rolled {
		r := &rolled[i]
		if j, ok := byCode[r.Level+"/"+r.Code]; ok {
			s := r.Stats
			areas[j].Counts = &s
		}
	}
	for i, z := range zones {
		rep := reps[i]
		en := &Enclosure{PerimeterM: round(rep.PerimeterM, 2), EnclosedM: round(rep.EnclosedM, 2),
			EnclosedShare: round(rep.EnclosedShare, 4), ControlledShare: round(rep.ControlledShare, 4),
			Gaps: len(rep.Gaps), Gates: len(rep.Gates), MaxGateSpacingM: round(rep.MaxGateSpacingM, 2), Leaks: leaks[i]}
		for _, g := range rep.Gaps {
			en.GapsM += g.WidthM
		}
		en.GapsM = round(en.GapsM, 2)
		areas[index[areaKey{"village_zones", z.ID}]].Enclose = en
	}
	for i := range areas {
		for _, inc := range incidents {
			if p, ok := grid.Anchor(inc.Geometry); ok && contains(areaGeoms[i], p) {
				areas[i].Incidents++
			}
		}
	}
	overrides, err := manage.Overrides(ctx, e.store.Pool())
	if err != nil {
		return st, err
	}
	for _, c := range in.of("compounds") {
		i := index[areaKey{"compounds", c.ID}]
		a := &areas[i]
		ind := manage.Indicators{EnclosureShare: math.NaN(), Incidents: a.Incidents}
		if a.Counts != nil {
			ind.CoverageShare = a.Counts.CoverageShare()
			ind.Households = a.Counts.Households
			ind.OpenAlerts = a.Counts.OpenAlerts
		}
		// The compound's walled zones, weighted by perimeter.
		var per, ctl float64
		for zi, z := range zones {
			if pc, _ := z.Props["parent_code"].(string); pc != "" && pc == a.Code {
				per += reps[zi].PerimeterM
				ctl += reps[zi].ControlledShare * reps[zi].PerimeterM
			}
		}
		if per > 0 {
			ind.EnclosureShare = ctl / per
			a.Enclose = sumEnclosure(areas, index, zones, a.Code)
		}
		var o *manage.Override
		if ov, ok := overrides[a.Code]; ok {
			o = &ov
		}
		a.indicators = ind
		pf := manage.PlacardFeature(c, ind, manage.DefaultThresholds, o)
		out = append(out, pf)
		rating, _ := pf.Props["rating"].(string)
		computed, _ := pf.Props["computed_rating"].(string)
		reasons, _ := pf.Props["reasons"].(string)
		a.Placard = &PlacardFigures{Rating: rating, ComputedRating: computed, Reasons: reasons, Overridden: o != nil}
	}
	step("figures", t0)

	// Publish.
	t0 = time.Now()
	for _, f := range out {
		st.Features[f.Layer]++
	}
	wctx := layers.WithActor(ctx, layers.Actor{User: Actor, Role: "system"})
	if _, err := e.store.ReplaceLayers(wctx, ResultLayers, layers.FromSlice(out), nil); err != nil {
		return st, fmt.Errorf("analysis: writing the result layers: %w", err)
	}
	step("write", t0)
	st.TotalMS = float64(time.Since(start).Microseconds()) / 1000

	e.mu.Lock()
	e.model, e.figures, e.index, e.fronts, e.stats = model, areas, index, fr.Frontages, st
	e.bound = districtBound(in)
	e.mu.Unlock()
	e.opt.Log.Info("analyses recomputed", "cameras", st.Cameras, "features", len(out), "took", time.Since(start).Round(time.Millisecond))
	return st, nil
}

// reportedSince returns the incident reports among fs reported after
// since, whatever their state; one without a reported_at is not counted.
func reportedSince(fs []layers.Feature, since time.Time) []layers.Feature {
	var out []layers.Feature
	for _, f := range fs {
		at, _ := f.Props["reported_at"].(string)
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil && t.After(since) {
			out = append(out, f)
		}
	}
	return out
}

// sumEnclosure adds up the enclosure of the village zones of a compound.
func sumEnclosure(areas []Figures, index map[areaKey]int, zones []layers.Feature, compound string) *Enclosure {
	sum := &Enclosure{}
	var enclosed, controlled float64
	for _, z := range zones {
		if pc, _ := z.Props["parent_code"].(string); pc != compound {
			continue
		}
		en := areas[index[areaKey{"village_zones", z.ID}]].Enclose
		if en == nil {
			continue
		}
		sum.PerimeterM += en.PerimeterM
		sum.EnclosedM += en.EnclosedM
		controlled += en.ControlledShare * en.PerimeterM
		enclosed += en.EnclosedM
		sum.Gaps += en.Gaps
		sum.GapsM += en.GapsM
		sum.Gates += en.Gates
		sum.Leaks += en.Leaks
		sum.MaxGateSpacingM = math.Max(sum.MaxGateSpacingM, en.MaxGateSpacingM)
	}
	if sum.PerimeterM > 0 {
		sum.EnclosedShare = round(enclosed/sum.PerimeterM, 4)
		sum.ControlledShare = round(controlled/sum.PerimeterM, 4)
	}
	return sum
}

func areasWithLevel(fs []layers.Feature, level string) []manage.Area {
	as := manage.AreasOf(fs)
	for i := range as {
		as[i].Level = level
	}
	return as
}

func uniqueCells(cs []manage.CellStats) []manage.CellStats {
	slices.SortFunc(cs, func(a, b manage.CellStats) int {
		switch {
		case a.Cell < b.Cell:
			return -1
		case a.Cell > b.Cell:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(cs, func(a, b manage.CellStats) bool { return a.Cell == b.Cell })
}

func contains(g orb.Geometry, p orb.Point) bool {
	switch g := g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(g, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(g, p)
	}
	return false
}

func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

// districtBound is the bound of the subdistricts, buildings and streets:
// where a hypothetical camera may stand.
func districtBound(in input) orb.Bound {
	var b orb.Bound
	first := true
	for _, l := range []string{"subdistricts", "buildings", "streets"} {
		for _, f := range in.of(l) {
			if first {
				b, first = f.Geometry.Bound(), false
			} else {
				b = b.Union(f.Geometry.Bound())
			}
		}
	}
	return b
}

func nan() float64 { return math.NaN() }

func sortIncidents(s []ShopIncidents) {
	slices.SortStableFunc(s, func(a, b ShopIncidents) int { return b.Incidents - a.Incidents })
}

// leakReach is how far around a zone the leak search reads streets, gates
// and walls (fences.LeakOptions' default reach, plus the gate radius).
const leakReach = 50 + 3

// leakEntry is a zone's leaks, remembered with the key of what they were
// computed from.
type leakEntry struct {
	key   uint64
	leaks []fences.Leak
}

// leakKey identifies what a zone's leak search reads: the zone, and the
// streets, gates and walls near it, each by id and time of last change.
func leakKey(z layers.Feature, near []layers.Feature) uint64 {
	h := fnv.New64a()
	var buf [16]byte
	put := func(f layers.Feature) {
		binary.LittleEndian.PutUint64(buf[:8], uint64(f.ID))
		binary.LittleEndian.PutUint64(buf[8:], uint64(f.Updated.UnixNano()))
		h.Write(buf[:])
	}
	put(z)
	for _, f := range near {
		put(f)
	}
	return h.Sum64()
}

// leaks runs the pgRouting leak search of each zone whose zone, streets,
// gates or walls changed since the last run (the others keep their leaks), a few
// zones at a time (each is one transaction of its own in the database).
func (e *Engine) leaks(ctx context.Context, zones, streets, gates, walls []layers.Feature) ([][]fences.Leak, error) {
	found := make([][]fences.Leak, len(zones))
	keys := make([]uint64, len(zones))
	e.mu.RLock()
	cache := e.leakCache
	e.mu.RUnlock()
	var index rtree.RTreeG[*layers.Feature] // streets, gates and walls
	for _, set := range [][]layers.Feature{streets, gates, walls} {
		for i := range set {
			b := set[i].Geometry.Bound()
			index.Insert(b.Min, b.Max, &set[i])
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, min(8, int(e.store.Pool().Config().MaxConns)/2)))
	for i, z := range zones {
		b := z.Geometry.Bound()
		dLat := leakReach / 111_320.0
		dLon := dLat / math.Max(0.1, math.Cos(b.Center()[1]*math.Pi/180))
		var near []layers.Feature
		index.Search([2]float64{b.Min[0] - dLon, b.Min[1] - dLat}, [2]float64{b.Max[0] + dLon, b.Max[1] + dLat},
			func(_, _ [2]float64, f *layers.Feature) bool {
				near = append(near, *f)
				return true
			})
		// The search's order is the tree's; the key must not depend on it.
		slices.SortFunc(near, func(a, b layers.Feature) int { return cmp.Compare(a.ID, b.ID) })
		keys[i] = leakKey(z, near)
		if c, ok := cache[z.ID]; ok && c.key == keys[i] {
			found[i] = c.leaks
			continue
		}
		g.Go(func() error {
			ls, err := fences.LeaksForZone(gctx, e.store.Pool(), z.ID, fences.LeakOptions{})
			if err != nil {
				return fmt.Errorf("analysis: leaks of zone %d: %w", z.ID, err)
			}
			found[i] = ls
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	next := make(map[int64]leakEntry, len(zones))
	for i, z := range zones {
		next[z.ID] = leakEntry{keys[i], found[i]}
	}
	e.mu.Lock()
	e.leakCache = next
	e.mu.Unlock()
	return found, nil
}
