package manage

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"
	"github.com/uber/h3-go/v4"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// Stats are the aggregates of a cell or an area.
type Stats struct {
	Buildings  int
	Households int64
	Shops      int
	Sensors    int
	OpenAlerts int     // alerts whose state is not resolved
	AreaM2     float64 // of the cell or area
	CoveredM2  float64 // of it covered by the coverage polygons
}

// CoverageShare is CoveredM2 / AreaM2 (0 for no area).
func (s Stats) CoverageShare() float64 {
	if s.AreaM2 <= 0 {
		return 0
	}
	return math.Min(1, s.CoveredM2/s.AreaM2)
}

func (s *Stats) add(o Stats) {
	s.Buildings += o.Buildings
	s.Households += o.Households
	s.Shops += o.Shops
	s.Sensors += o.Sensors
	s.OpenAlerts += o.OpenAlerts
	s.AreaM2 += o.AreaM2
	s.CoveredM2 += o.CoveredM2
}

// Inputs are the feature sets aggregated. Each feature counts where its
// anchor (grid.Anchor) is, as in the features table's h3 column.
type Inputs struct {
	Buildings []layers.Feature // counted; households summed
	Shops     []layers.Feature
	Sensors   []layers.Feature
	Alerts    []layers.Feature // counted when state is not "resolved"
	// Coverage are the covered areas (e.g. camera views at the recognise
	// level), lon/lat polygons that may overlap.
	Coverage []orb.Polygon
	// CoverageStep (m) is the spacing of the sample lattice that measures
	// coverage; default 2 (at most 40,000 samples per cell or area: the
	// step grows for larger ones).
	CoverageStep float64
}

// CellStats are the aggregates of one cell.
type CellStats struct {
	Cell h3.Cell
	Stats
	AreaCode     string // the area holding the cell's centre (Assign), "" for none
	WorkerID     int64  // the responsible grid worker (AssignWorkers), 0 for none
	Worker       string
	WorkerSource string // "stored" or "nearest"
}

// Aggregate computes the stats of each cell (all of one resolution).
// Features anchored outside the cells are not counted.
func Aggregate(cells []h3.Cell, in Inputs) ([]CellStats, error) {
	if len(cells) == 0 {
		return nil, nil
	}
	res := cells[0].Resolution()
	idx := make(map[h3.Cell]int, len(cells))
	out := make([]CellStats, len(cells))
	for i, c := range cells {
		if !c.IsValid() || c.Resolution() != res {
			return nil, fmt.Errorf("grid: cell %v is not a valid resolution-%d cell", c, res)
		}
		if _, dup := idx[c]; dup {
			return nil, fmt.Errorf("grid: cell %v given twice", c)
		}
		idx[c] = i
		out[i] = CellStats{Cell: c}
		out[i].AreaM2 = h3.CellAreaM2(c)
	}
	err := count(in, func(p orb.Point, fn func(*Stats)) {
		if i, ok := idx[h3.LatLngToCell(h3.NewLatLng(p[1], p[0]), res)]; ok {
			fn(&out[i].Stats)
		}
	})
	if err != nil {
		return nil, err
	}
	cov := newCoverage(in)
	for i := range out {
		out[i].CoveredM2 = out[i].AreaM2 * cov.share(grid.CellPolygon(out[i].Cell))
	}
	return out, nil
}

// count calls at for the anchor of every counted feature with the change
// it makes to the stats holding it.
func count(in Inputs, at func(orb.Point, func(*Stats))) error {
	each := func(layer string, fs []layers.Feature, fn func(layers.Feature, *Stats)) error {
		for i, f := range fs {
			p, ok := grid.Anchor(f.Geometry)
			if !ok {
				return fmt.Errorf("grid: %s feature %d (id %d) has no geometry", layer, i, f.ID)
			}
			at(p, func(s *Stats) { fn(f, s) })
		}
		return nil
	}
	if err := each("buildings", in.Buildings, func(f layers.Feature, s *Stats) {
		s.Buildings++
		s.Households += toInt(f.Props["households"])
	}); err != nil {
		return err
	}
	if err := each("shops", in.Shops, func(_ layers.Feature, s *Stats) { s.Shops++ }); err != nil {
		return err
	}
	if err := each("sensors", in.Sensors, func(_ layers.Feature, s *Stats) { s.Sensors++ }); err != nil {
		return err
	}
	return each("alerts", in.Alerts, func(f layers.Feature, s *Stats) {
		if st, _ := f.Props["state"].(string); st != "resolved" {
			s.OpenAlerts++
		}
	})
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(math.Round(v))
	}
	return 0
}

// coverage measures the covered share of polygons by sampling.
type coverage struct {
	step  float64
	polys []orb.Polygon
	idx   rtree.RTreeG[int]
}

func newCoverage(in Inputs) *coverage {
	c := &coverage{step: in.CoverageStep, polys: in.Coverage}
	if c.step <= 0 || math.IsNaN(c.step) {
		c.step = 2
	}
	for i, p := range in.Coverage {
		b := p.Bound()
		c.idx.Insert(b.Min, b.Max, i)
	}
	return c
}

// share is the share of the lattice points inside p that are inside a
// coverage polygon.
func (c *coverage) share(p orb.Polygon) float64 {
	if len(c.polys) == 0 || len(p) == 0 {
		return 0
	}
	fr := spatial.FrameFor(p.Bound())
	xy := fr.Project(p).(orb.Polygon)
	b := xy.Bound()
	step := math.Max(c.step, math.Sqrt(planar.Area(xy)/40000))
	in, cov := 0, 0
	for y := b.Min[1] + step/2; y < b.Max[1]; y += step {
		for x := b.Min[0] + step/2; x < b.Max[0]; x += step {
			q := orb.Point{x, y}
			if !planar.PolygonContains(xy, q) {
				continue
			}
			in++
			ll := fr.ToLonLat(q)
			hit := false
			c.idx.Search(ll, ll, func(_, _ [2]float64, k int) bool {
				hit = planar.PolygonContains(c.polys[k], ll)
				return !hit
			})
			if hit {
				cov++
			}
		}
	}
	if in == 0 {
		return 0
	}
	return float64(cov) / float64(in)
}

// Area is an area of the admin tree: a subdistrict, community or compound.
type Area struct {
	Level      string // the layer: subdistricts, communities, compounds
	Code       string
	Name       string
	ParentCode string
	Geometry   orb.Geometry // (Multi)Polygon, lon/lat
}

// AreasOf makes the areas of a layer's features (code, name, parent_code).
func AreasOf(fs []layers.Feature) []Area {
	out := make([]Area, 0, len(fs))
	for _, f := range fs {
		a := Area{Level: f.Layer, Geometry: f.Geometry}
		a.Code, _ = f.Props["code"].(string)
		a.Name, _ = f.Props["name"].(string)
		a.ParentCode, _ = f.Props["parent_code"].(string)
		out = append(out, a)
	}
	return out
}

// AreaStats are the aggregates of one area.
type AreaStats struct {
	Area
	Stats
}

// Rollup computes the stats of each area of the admin tree exactly: a
// feature counts in every area that contains its anchor (so a compound's
// counts are in its community's and the subdistrict's), and the coverage
// is sampled over the area's own polygon. It does not sum cells: H3 cells
// do not nest in compounds or communities.
func Rollup(areas []Area, in Inputs) ([]AreaStats, error) {
	out := make([]AreaStats, len(areas))
	var idx rtree.RTreeG[int]
	for i, a := range areas {
		switch a.Geometry.(type) {
		case orb.Polygon, orb.MultiPolygon:
		default:
			return nil, fmt.Errorf("grid: area %q is a %T, want a polygon", a.Code, a.Geometry)
		}
		out[i].Area = a
		b := a.Geometry.Bound()
		idx.Insert(b.Min, b.Max, i)
		out[i].AreaM2 = spatial.FrameFor(b).Area(a.Geometry)
	}
	err := count(in, func(p orb.Point, fn func(*Stats)) {
		idx.Search(p, p, func(_, _ [2]float64, i int) bool {
			if contains(areas[i].Geometry, p) {
				fn(&out[i].Stats)
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	cov := newCoverage(in)
	for i := range out {
		var share, total float64
		eachPolygon(areas[i].Geometry, func(p orb.Polygon) {
			a := spatial.FrameFor(p.Bound()).Area(p)
			share += a * cov.share(p)
			total += a
		})
		if total > 0 {
			out[i].CoveredM2 = out[i].AreaM2 * share / total
		}
	}
	return out, nil
}

func eachPolygon(g orb.Geometry, fn func(orb.Polygon)) {
	switch g := g.(type) {
	case orb.Polygon:
		fn(g)
	case orb.MultiPolygon:
		for _, p := range g {
			fn(p)
		}
	}
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

// Assign sets each cell's AreaCode to the code of the area (of one level,
// e.g. communities) that contains the cell's centre, so that every cell
// belongs to one area.
func Assign(cells []CellStats, areas []Area) {
	var idx rtree.RTreeG[int]
	for i, a := range areas {
		if a.Geometry == nil {
			continue
		}
		b := a.Geometry.Bound()
		idx.Insert(b.Min, b.Max, i)
	}
	for i := range cells {
		ll := cells[i].Cell.LatLng()
		p := orb.Point{ll.Lng, ll.Lat}
		cells[i].AreaCode = ""
		best := -1
		idx.Search(p, p, func(_, _ [2]float64, k int) bool {
			if contains(areas[k].Geometry, p) && (best < 0 || k < best) {
				best = k
			}
			return true
		})
		if best >= 0 {
			cells[i].AreaCode = areas[best].Code
		}
	}
}

// Coarsen sums cells into their parents at resolution res (coarser than
// theirs): the pyramid for low zooms. Each parent's counts are the sums
// of its children given, its area the sum of theirs (H3 children do not
// tile their parent exactly), its coverage area-weighted; AreaCode is
// kept when all children share it. Workers are not carried.
func Coarsen(cells []CellStats, res int) ([]CellStats, error) {
	byParent := map[h3.Cell]*CellStats{}
	mixed := map[h3.Cell]bool{}
	for _, c := range cells {
		if res < 0 || res >= c.Cell.Resolution() {
			return nil, fmt.Errorf("grid: cannot coarsen resolution-%d cells to %d", c.Cell.Resolution(), res)
		}
		p := c.Cell.Parent(res)
		s, ok := byParent[p]
		if !ok {
			s = &CellStats{Cell: p, AreaCode: c.AreaCode}
			byParent[p] = s
		}
		s.add(c.Stats)
		if s.AreaCode != c.AreaCode {
			mixed[p] = true
		}
	}
	out := make([]CellStats, 0, len(byParent))
	for p, s := range byParent {
		if mixed[p] {
			s.AreaCode = ""
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b CellStats) int { return cmp.Compare(a.Cell, b.Cell) })
	return out, nil
}

// CellFeatures returns the cells as features of the grid_cells result
// layer: the cell's hexagon, props h3 (hex string), res, area_code,
// buildings, households, shops, sensors, open_alerts, coverage_share
// (0–1, 3 decimals), area_m2, worker_id, worker and worker_source (when
// assigned).
func CellFeatures(cells []CellStats) []layers.Feature {
	out := make([]layers.Feature, len(cells))
	for i, c := range cells {
		p := map[string]any{
			"h3": c.Cell.String(), "res": int64(c.Cell.Resolution()), "area_code": c.AreaCode,
			"buildings": int64(c.Buildings), "households": c.Households, "shops": int64(c.Shops),
			"sensors": int64(c.Sensors), "open_alerts": int64(c.OpenAlerts),
			"coverage_share": math.Round(c.CoverageShare()*1000) / 1000, "area_m2": math.Round(c.AreaM2),
		}
		if c.WorkerID != 0 {
			p["worker_id"], p["worker"], p["worker_source"] = c.WorkerID, c.Worker, c.WorkerSource
		}
		out[i] = layers.Feature{Layer: "grid_cells", Geometry: grid.CellPolygon(c.Cell), Props: p}
	}
	return out
}
