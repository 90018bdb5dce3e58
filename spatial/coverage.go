package spatial

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// Amounts are quantities of public space: street centre-line length (m),
// street area (m²), fence length (m) and gates.
type Amounts struct {
	StreetLengthM float64 `json:"street_length_m"`
	StreetAreaM2  float64 `json:"street_area_m2"`
	FenceLengthM  float64 `json:"fence_length_m"`
	Gates         int     `json:"gates"`
}

func (a *Amounts) add(b Amounts) {
	a.StreetLengthM += b.StreetLengthM
	a.StreetAreaM2 += b.StreetAreaM2
	a.FenceLengthM += b.FenceLengthM
	a.Gates += b.Gates
}

// LevelAmounts are amounts at one level.
type LevelAmounts struct {
	Level string `json:"level"`
	Amounts
}

// LevelCoverage is what is covered at one level, and its shares (0–1) of
// the area's totals (0 when the total is 0).
type LevelCoverage struct {
	Level   string  `json:"level"`
	Covered Amounts `json:"covered"`
	Shares  struct {
		StreetLength float64 `json:"street_length"`
		StreetArea   float64 `json:"street_area"`
		FenceLength  float64 `json:"fence_length"`
		Gates        float64 `json:"gates"`
	} `json:"shares"`
}

// Report is the coverage of an area: its totals and, per level, what the
// cameras cover.
type Report struct {
	Total  Amounts         `json:"total"`
	Levels []LevelCoverage `json:"levels"`
}

// forView calls fn for each element range of each target set inside the
// view xy, and for each gate inside it.
func (m *Model) forView(xy orb.MultiPolygon, cells func(cs *cellSet, which int, lo, hi int32), gate func(i int32)) {
	if len(xy) == 0 {
		return
	}
	sets := [3]*cellSet{m.area, m.length, m.fence}
	m.g.rasterRings(polyRings(xy), func(row int, s span) {
		for k, cs := range sets {
			cs.visit(row, s, func(lo, hi, _ int32) { cells(cs, k, lo, hi) })
		}
	})
	b := xy.Bound()
	m.gateTree.Search(b.Min, b.Max, func(_, _ [2]float64, i int32) bool {
		if inPolys(xy, m.gates[i]) {
			gate(i)
		}
		return true
	})
}

func (l *levelCov) set(k int) bitset {
	switch k {
	case 0:
		return l.area
	case 1:
		return l.length
	}
	return l.fence
}

// mark adds the view xy to the coverage l.
func (m *Model) mark(l *levelCov, xy orb.MultiPolygon) {
	m.forView(xy, func(_ *cellSet, k int, lo, hi int32) { l.set(k).setRange(lo, hi) },
		func(i int32) { l.gates.setRange(i, i+1) })
}

// gain is what the view xy would add to the coverage l.
func (m *Model) gain(l *levelCov, xy orb.MultiPolygon) Amounts {
	var a Amounts
	m.forView(xy, func(cs *cellSet, k int, lo, hi int32) {
		w := cs.weight(lo, hi, l.set(k), true)
		switch k {
		case 0:
			a.StreetAreaM2 += w
		case 1:
			a.StreetLengthM += w
		default:
			a.FenceLengthM += w
		}
	}, func(i int32) {
		if !l.gates.get(i) {
			a.Gates++
		}
	})
	return a
}

// areaMask rasterises an area (lon/lat Polygon or MultiPolygon; nil for
// the whole district) and returns its rings in XY (nil for all).
func (m *Model) areaMask(area orb.Geometry) (orb.MultiPolygon, error) {
	switch a := area.(type) {
	case nil:
		return nil, nil
	case orb.Polygon:
		if len(a) == 0 {
			return nil, fmt.Errorf("spatial: empty area polygon")
		}
		return orb.MultiPolygon{m.Frame.Project(a).(orb.Polygon)}, nil
	case orb.MultiPolygon:
		if len(a) == 0 {
			return nil, fmt.Errorf("spatial: empty area multipolygon")
		}
		return m.Frame.Project(a).(orb.MultiPolygon), nil
	}
	return nil, fmt.Errorf("spatial: area geometry %T, want Polygon or MultiPolygon", area)
}

// whole is a view that holds the whole raster.
func (m *Model) whole() orb.MultiPolygon {
	g := m.g
	x1, y1 := g.x0+float64(g.nx)*g.cell, g.y0+float64(g.ny)*g.cell
	return orb.MultiPolygon{{{{g.x0, g.y0}, {x1, g.y0}, {x1, y1}, {g.x0, y1}, {g.x0, g.y0}}}}
}

// Report measures the public space of area (lon/lat Polygon or
// MultiPolygon; nil for the whole district) and what the cameras cover of
// it at each level. A cell of the raster counts when its centre is inside
// the area; a gate when it is.
func (m *Model) Report(area orb.Geometry) (Report, error) {
	xy, err := m.areaMask(area)
	if err != nil {
		return Report{}, err
	}
	if xy == nil {
		xy = m.whole()
	}
	var r Report
	r.Levels = make([]LevelCoverage, len(m.Levels))
	for i := range r.Levels {
		r.Levels[i].Level = m.Levels[i].Name
	}
	m.forView(xy, func(cs *cellSet, k int, lo, hi int32) {
		tot := cs.weight(lo, hi, nil, false)
		switch k {
		case 0:
			r.Total.StreetAreaM2 += tot
		case 1:
			r.Total.StreetLengthM += tot
		default:
			r.Total.FenceLengthM += tot
		}
		for li := range m.Levels {
			w := cs.weight(lo, hi, m.cov[li].set(k), false)
			c := &r.Levels[li].Covered
			switch k {
			case 0:
				c.StreetAreaM2 += w
			case 1:
				c.StreetLengthM += w
			default:
				c.FenceLengthM += w
			}
		}
	}, func(i int32) {
		r.Total.Gates++
		for li := range m.Levels {
			if m.cov[li].gates.get(i) {
				r.Levels[li].Covered.Gates++
			}
		}
	})
	share := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return math.Min(1, a/b)
	}
	for i := range r.Levels {
		l := &r.Levels[i]
		l.Shares.StreetLength = share(l.Covered.StreetLengthM, r.Total.StreetLengthM)
		l.Shares.StreetArea = share(l.Covered.StreetAreaM2, r.Total.StreetAreaM2)
		l.Shares.FenceLength = share(l.Covered.FenceLengthM, r.Total.FenceLengthM)
		l.Shares.Gates = share(float64(l.Covered.Gates), float64(r.Total.Gates))
	}
	return r, nil
}

func (m *Model) level(name string) (int, error) {
	li := m.Levels.Index(name)
	if li < 0 {
		return 0, fmt.Errorf("spatial: unknown level %q (have %v)", name, m.levelNames())
	}
	return li, nil
}

func (m *Model) levelNames() []string {
	var s []string
	for _, l := range m.Levels {
		s = append(s, l.Name)
	}
	return s
}

// BlindSpots returns the public space (street area) of area (nil for the
// whole district) that no camera sees at level, as lon/lat polygons traced
// along the raster's cell edges, largest first.
func (m *Model) BlindSpots(area orb.Geometry, level string) (orb.MultiPolygon, error) {
	li, err := m.level(level)
	if err != nil {
		return nil, err
	}
	xy, err := m.areaMask(area)
	if err != nil {
		return nil, err
	}
	if xy == nil {
		xy = m.whole()
	}
	cov := m.cov[li].area
	blind := m.g.newSpanRows()
	m.g.rasterRings(polyRings(xy), func(row int, s span) {
		m.area.visit(row, s, func(lo, hi, col int32) {
			for e := lo; e < hi; {
				for e < hi && cov.get(e) {
					e++
				}
				st := e
				for e < hi && !cov.get(e) {
					e++
				}
				if e > st {
					blind[row] = append(blind[row], span{col + st - lo, col + e - lo})
				}
			}
		})
	})
	blind.normalize()
	mp := m.g.polygons(blind)
	if len(mp) == 0 {
		return nil, nil
	}
	return m.Frame.Unproject(mp).(orb.MultiPolygon), nil
}

// UnseenGates returns the gates that no camera sees at level (e.g.
// "recognise").
func (m *Model) UnseenGates(level string) ([]Gate, error) {
	li, err := m.level(level)
	if err != nil {
		return nil, err
	}
	var out []Gate
	for i, p := range m.gates {
		if !m.cov[li].gates.get(int32(i)) {
			out = append(out, Gate{ID: m.gateIDs[i], Pos: m.Frame.ToLonLat(p)})
		}
	}
	return out, nil
}

// Evaluation is a hypothetical camera's views and what each would add to
// the current coverage (per level, in the order of Model.Levels).
type Evaluation struct {
	Views []View
	Gain  []LevelAmounts
}

// Evaluate computes a hypothetical camera's views and coverage gain
// without changing the model.
func (m *Model) Evaluate(c Camera) (Evaluation, error) {
	vs, err := m.Views(c)
	if err != nil {
		return Evaluation{}, err
	}
	ev := Evaluation{Views: vs, Gain: make([]LevelAmounts, len(vs))}
	for li, v := range vs {
		ev.Gain[li] = LevelAmounts{Level: v.Level, Amounts: m.gain(&m.cov[li], v.xy)}
	}
	return ev, nil
}
