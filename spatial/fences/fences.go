// Package fences analyses the enclosure of walled village zones (城中村片区):
// how much of a zone's perimeter is closed by walls, fences or building
// façades, the gaps in it wider than a person, the gates on it and their
// spacing (Analyse, in Go on a local metric frame), and the leaks — paths
// along the street and alley network from inside to outside that pass no
// gate (Leaks, with pgRouting in PostGIS). See README.md for the method,
// parameters and limits.
package fences

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// Options are the parameters of Analyse. Zero fields take the defaults.
type Options struct {
	// Tolerance is how far (m), measured at right angles to the perimeter,
	// a wall, fence or building façade may be from it and still close it.
	// Default 1.
	Tolerance float64
	// MinGap is the narrowest opening (m) reported as a gap: wider than a
	// person. Default 0.6.
	MinGap float64
	// GateRadius is how far (m) a gate may be from the perimeter and still
	// be one of its gates, and how far from an opening it may be and still
	// make that opening a gate opening rather than a gap. Default 3.
	GateRadius float64
	// NoBuildings leaves building façades out of the barriers.
	NoBuildings bool
}

func (o Options) withDefaults() (Options, error) {
	for _, v := range []struct {
		name string
		v    float64
	}{{"tolerance", o.Tolerance}, {"min gap", o.MinGap}, {"gate radius", o.GateRadius}} {
		if v.v < 0 || math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return o, fmt.Errorf("fences: %s %v must be a finite number ≥ 0", v.name, v.v)
		}
	}
	if o.Tolerance == 0 {
		o.Tolerance = 1
	}
	if o.MinGap == 0 {
		o.MinGap = 0.6
	}
	if o.GateRadius == 0 {
		o.GateRadius = 3
	}
	return o, nil
}

// Opening is a stretch of the perimeter closed by no barrier.
type Opening struct {
	Line   orb.LineString // along the perimeter, lon/lat
	FromM  float64        // position along the perimeter where it starts (m)
	WidthM float64        // its length along the perimeter (m)
	GateID int64          // the gate in it (gate openings only)
}

// Gate is a gate of the zone, in perimeter order.
type Gate struct {
	ID       int64
	Name     string
	Kind     string
	Point    orb.Point // the gate as given
	OnLine   orb.Point // its nearest point on the perimeter
	AtM      float64   // position along the perimeter (m) from its first vertex
	OffsetM  float64   // distance from the perimeter (m)
	ToNextM  float64   // along the perimeter to the next gate (wrapping); the perimeter for a single gate
	NextGate int64     // ID of the next gate
}

// ZoneReport is the enclosure of one zone.
type ZoneReport struct {
	ZoneID          int64
	ZoneCode        string
	PerimeterM      float64
	AreaM2          float64
	EnclosedM       float64   // perimeter within Tolerance of a barrier
	EnclosedShare   float64   // EnclosedM / PerimeterM
	GatedM          float64   // open perimeter in gate openings
	ControlledShare float64   // (EnclosedM + GatedM) / PerimeterM: closed or gated
	Gaps            []Opening // openings at no gate, at least MinGap wide
	GateOpenings    []Opening // openings at a gate
	Gates           []Gate
	MaxGateSpacingM float64 // the longest ToNextM; 0 without gates
}

// Analyse measures the enclosure of zone (lon/lat; its outer ring is the
// perimeter; holes are ignored) by the fences (lines) and the outer rings
// of the buildings (polygons) given, and places the gates (points) given
// on its perimeter. Features far from the zone are ignored, so callers may
// pass whole layers; for many zones AnalyseAll indexes them once.
func Analyse(zone orb.Polygon, fences, buildings, gates []layers.Feature, opt Options) (ZoneReport, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return ZoneReport{}, err
	}
	if err := checkZone(zone); err != nil {
		return ZoneReport{}, err
	}
	fr := spatial.FrameFor(zone.Bound())
	var bars [][2]orb.Point
	for _, f := range fences {
		bars = appendSegments(bars, fr, f.Geometry, false)
	}
	if !opt.NoBuildings {
		for _, b := range buildings {
			bars = appendSegments(bars, fr, b.Geometry, true)
		}
	}
	return analyse(fr, zone, bars, gates, opt), nil
}

// AnalyseAll analyses every zone (village_zones features: polygons with a
// code property), taking each zone's barriers and gates from the whole
// layers given through a spatial index. Reports are in zone order.
func AnalyseAll(zones, fences, buildings, gates []layers.Feature, opt Options) ([]ZoneReport, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	var all orb.Bound
	first := true
	for i, z := range zones {
		p, ok := z.Geometry.(orb.Polygon)
		if !ok {
			return nil, fmt.Errorf("fences: zone %d (id %d) is a %T, want a polygon", i, z.ID, z.Geometry)
		}
		if err := checkZone(p); err != nil {
			return nil, fmt.Errorf("zone %d (id %d): %w", i, z.ID, err)
		}
		if first {
			all, first = p.Bound(), false
		} else {
			all = all.Union(p.Bound())
		}
	}
	if first {
		return nil, nil
	}
	fr := spatial.FrameFor(all)
	var bars rtree.RTreeG[[2]orb.Point]
	add := func(fs []layers.Feature, closed bool) {
		for _, f := range fs {
			for _, s := range appendSegments(nil, fr, f.Geometry, closed) {
				b := orb.Bound{Min: s[0], Max: s[0]}.Extend(s[1])
				bars.Insert(b.Min, b.Max, s)
			}
		}
	}
	add(fences, false)
	if !opt.NoBuildings {
		add(buildings, true)
	}
	var gi rtree.RTreeG[int]
	for i, g := range gates {
		if p, ok := g.Geometry.(orb.Point); ok {
			q := fr.ToXY(p)
			gi.Insert(q, q, i)
		}
	}
	out := make([]ZoneReport, len(zones))
	for i, z := range zones {
		p := z.Geometry.(orb.Polygon)
		b := fr.Project(p.Bound()).(orb.Bound).Pad(opt.Tolerance + opt.GateRadius + 1)
		var zb [][2]orb.Point
		bars.Search(b.Min, b.Max, func(_, _ [2]float64, s [2]orb.Point) bool {
			zb = append(zb, s)
			return true
		})
		var zg []layers.Feature
		gi.Search(b.Min, b.Max, func(_, _ [2]float64, k int) bool {
			zg = append(zg, gates[k])
			return true
		})
		slices.SortFunc(zg, func(a, b layers.Feature) int { return cmpInt(a.ID, b.ID) })
		r := analyse(fr, p, zb, zg, opt)
		r.ZoneID = z.ID
		r.ZoneCode, _ = z.Props["code"].(string)
		out[i] = r
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkZone(z orb.Polygon) error {
	if len(z) == 0 || len(z[0]) < 4 {
		return errors.New("fences: zone polygon has no outer ring of at least 3 points")
	}
	for _, p := range z[0] {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.Abs(p[0]) > 180 || math.Abs(p[1]) > 90 {
			return fmt.Errorf("fences: zone point %v is not lon/lat", p)
		}
	}
	return nil
}

// appendSegments appends the segments (in metres) of a line geometry, or
// of the outer rings of a polygon geometry when polys is set.
func appendSegments(dst [][2]orb.Point, fr spatial.Frame, g orb.Geometry, polys bool) [][2]orb.Point {
	line := func(pts []orb.Point) {
		for i := 1; i < len(pts); i++ {
			a, b := fr.ToXY(pts[i-1]), fr.ToXY(pts[i])
			if a != b {
				dst = append(dst, [2]orb.Point{a, b})
			}
		}
	}
	switch g := g.(type) {
	case orb.LineString:
		if !polys {
			line(g)
		}
	case orb.MultiLineString:
		if !polys {
			for _, l := range g {
				line(l)
			}
		}
	case orb.Polygon:
		if polys && len(g) > 0 {
			line(g[0])
		}
	case orb.MultiPolygon:
		if polys {
			for _, p := range g {
				if len(p) > 0 {
					line(p[0])
				}
			}
		}
	}
	return dst
}

// perimeter is a zone's outer ring in metres with the cumulative position
// of each vertex.
type perimeter struct {
	pts []orb.Point
	at  []float64
}

func newPerimeter(fr spatial.Frame, ring orb.Ring) perimeter {
	var p perimeter
	for _, q := range ring {
		x := fr.ToXY(q)
		if n := len(p.pts); n > 0 && p.pts[n-1] == x {
			continue
		}
		if len(p.at) == 0 {
			p.at = append(p.at, 0)
		} else {
			p.at = append(p.at, p.at[len(p.at)-1]+dist(p.pts[len(p.pts)-1], x))
		}
		p.pts = append(p.pts, x)
	}
	if n := len(p.pts); n > 0 && p.pts[n-1] != p.pts[0] { // close it
		p.at = append(p.at, p.at[n-1]+dist(p.pts[n-1], p.pts[0]))
		p.pts = append(p.pts, p.pts[0])
	}
	return p
}

func (p perimeter) length() float64 { return p.at[len(p.at)-1] }

// point returns the point at position s (0 ≤ s ≤ length).
func (p perimeter) point(s float64) orb.Point {
	i, _ := slices.BinarySearch(p.at, s)
	if i == 0 {
		return p.pts[0]
	}
	if i >= len(p.at) {
		return p.pts[len(p.pts)-1]
	}
	a, b := p.pts[i-1], p.pts[i]
	l := p.at[i] - p.at[i-1]
	if l == 0 {
		return a
	}
	t := (s - p.at[i-1]) / l
	return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
}

// sub returns the perimeter from position a to b (a < b, b may exceed the
// length to wrap once).
func (p perimeter) sub(a, b float64) orb.LineString {
	L := p.length()
	ls := orb.LineString{p.point(a)}
	for _, lap := range []float64{0, L} {
		for i, s := range p.at {
			if s+lap > a && s+lap < b && ls[len(ls)-1] != p.pts[i] {
				ls = append(ls, p.pts[i])
			}
		}
	}
	end := b
	if end > L {
		end -= L
	}
	if q := p.point(end); ls[len(ls)-1] != q {
		ls = append(ls, q)
	}
	return ls
}

// project returns the position along the perimeter of the point nearest q,
// that point, and its distance.
func (p perimeter) project(q orb.Point) (at float64, on orb.Point, d float64) {
	d = math.Inf(1)
	for i := 1; i < len(p.pts); i++ {
		t, x := closest(p.pts[i-1], p.pts[i], q)
		if dd := dist(x, q); dd < d {
			d, on = dd, x
			at = p.at[i-1] + t*(p.at[i]-p.at[i-1])
		}
	}
	return at, on, d
}

func dist(a, b orb.Point) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

// closest returns the parameter t ∈ [0, 1] and the point of segment ab
// nearest q.
func closest(a, b, q orb.Point) (float64, orb.Point) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return 0, a
	}
	t := ((q[0]-a[0])*dx + (q[1]-a[1])*dy) / l2
	t = math.Max(0, math.Min(1, t))
	return t, orb.Point{a[0] + t*dx, a[1] + t*dy}
}

// shadow returns the parameters t ∈ [0, L] of the line A + t·D (D a unit
// vector) onto which the part of segment q0q1 lying within r of the line
// projects perpendicularly: the stretch of the perimeter that the barrier
// closes. A barrier crossing the line at a right angle closes nothing.
func shadow(A, D orb.Point, L float64, q0, q1 orb.Point, r float64) (lo, hi float64, ok bool) {
	t0 := (q0[0]-A[0])*D[0] + (q0[1]-A[1])*D[1]
	t1 := (q1[0]-A[0])*D[0] + (q1[1]-A[1])*D[1]
	v0 := -(q0[0]-A[0])*D[1] + (q0[1]-A[1])*D[0]
	v1 := -(q1[0]-A[0])*D[1] + (q1[1]-A[1])*D[0]
	ua, ub := 0.0, 1.0
	if dv := v1 - v0; math.Abs(dv) < 1e-12 {
		if math.Abs(v0) > r {
			return 0, 0, false
		}
	} else {
		u1, u2 := (-r-v0)/dv, (r-v0)/dv
		if u1 > u2 {
			u1, u2 = u2, u1
		}
		ua, ub = math.Max(ua, u1), math.Min(ub, u2)
		if ua > ub {
			return 0, 0, false
		}
	}
	lo, hi = t0+ua*(t1-t0), t0+ub*(t1-t0)
	if lo > hi {
		lo, hi = hi, lo
	}
	lo, hi = math.Max(lo, 0), math.Min(hi, L)
	return lo, hi, lo < hi
}

type interval struct{ lo, hi float64 }

// union merges intervals (sorted in place).
func union(iv []interval) []interval {
	slices.SortFunc(iv, func(a, b interval) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out []interval
	for _, x := range iv {
		if n := len(out); n > 0 && x.lo <= out[n-1].hi+1e-9 {
			out[n-1].hi = math.Max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

func analyse(fr spatial.Frame, zone orb.Polygon, bars [][2]orb.Point, gates []layers.Feature, opt Options) ZoneReport {
	per := newPerimeter(fr, zone[0])
	L := per.length()
	r := ZoneReport{PerimeterM: L, AreaM2: fr.Area(orb.Polygon{zone[0]})}
	if L == 0 {
		return r
	}
	// covered stretches, in perimeter positions
	var cov []interval
	for i := 1; i < len(per.pts); i++ {
		a, b := per.pts[i-1], per.pts[i]
		l := per.at[i] - per.at[i-1]
		if l == 0 {
			continue
		}
		D := orb.Point{(b[0] - a[0]) / l, (b[1] - a[1]) / l}
		sb := orb.Bound{Min: a, Max: a}.Extend(b).Pad(opt.Tolerance)
		for _, s := range bars {
			if !sb.Intersects(orb.Bound{Min: s[0], Max: s[0]}.Extend(s[1])) {
				continue
			}
			if lo, hi, ok := shadow(a, D, l, s[0], s[1], opt.Tolerance); ok {
				cov = append(cov, interval{per.at[i-1] + lo, per.at[i-1] + hi})
			}
		}
	}
	cov = union(cov)
	for _, c := range cov {
		r.EnclosedM += c.hi - c.lo
	}
	r.EnclosedM = math.Min(r.EnclosedM, L)
	r.EnclosedShare = r.EnclosedM / L

	// gates on the perimeter
	for _, g := range gates {
		p, ok := g.Geometry.(orb.Point)
		if !ok {
			continue
		}
		at, on, d := per.project(fr.ToXY(p))
		if d > opt.GateRadius {
			continue
		}
		name, _ := g.Props["name"].(string)
		kind, _ := g.Props["kind"].(string)
		r.Gates = append(r.Gates, Gate{ID: g.ID, Name: name, Kind: kind, Point: p, OnLine: fr.ToLonLat(on), AtM: at, OffsetM: d})
	}
	slices.SortStableFunc(r.Gates, func(a, b Gate) int {
		switch {
		case a.AtM < b.AtM:
			return -1
		case a.AtM > b.AtM:
			return 1
		}
		return 0
	})
	for i := range r.Gates {
		nx := r.Gates[(i+1)%len(r.Gates)]
		d := nx.AtM - r.Gates[i].AtM
		if d <= 0 {
			d += L
		}
		r.Gates[i].ToNextM, r.Gates[i].NextGate = d, nx.ID
		r.MaxGateSpacingM = math.Max(r.MaxGateSpacingM, d)
	}

	// openings: the complement of the covered stretches, joined across the
	// perimeter's start
	var open []interval
	cur := 0.0
	for _, c := range cov {
		if c.lo > cur {
			open = append(open, interval{cur, c.lo})
		}
		cur = math.Max(cur, c.hi)
	}
	if cur < L {
		open = append(open, interval{cur, L})
	}
	if n := len(open); n > 1 && open[0].lo == 0 && open[n-1].hi == L {
		open[0] = interval{open[n-1].lo, L + open[0].hi}
		open = open[:n-1]
	}
	for _, o := range open {
		w := o.hi - o.lo
		op := Opening{FromM: o.lo, WidthM: w}
		gate := false
		for _, g := range r.Gates {
			for _, at := range []float64{g.AtM, g.AtM + L} {
				if at >= o.lo-opt.GateRadius && at <= o.hi+opt.GateRadius {
					gate, op.GateID = true, g.ID
				}
			}
			if gate {
				break
			}
		}
		if !gate && w < opt.MinGap {
			continue
		}
		op.Line = orb.LineString(fr.Unproject(per.sub(o.lo, o.hi)).(orb.LineString))
		if gate {
			r.GatedM += w
			r.GateOpenings = append(r.GateOpenings, op)
		} else {
			r.Gaps = append(r.Gaps, op)
		}
	}
	r.ControlledShare = math.Min(1, (r.EnclosedM+r.GatedM)/L)
	return r
}

// GapFeatures returns the gaps of the reports as features of the
// fence_gaps result layer: lines along the perimeter with props zone_id,
// zone_code, width_m (rounded to cm) and from_m (position along the
// perimeter).
func GapFeatures(reports []ZoneReport) []layers.Feature {
	var out []layers.Feature
	for _, r := range reports {
		for _, g := range r.Gaps {
			out = append(out, layers.Feature{Layer: "fence_gaps", Geometry: g.Line, Props: map[string]any{
				"zone_id": r.ZoneID, "zone_code": r.ZoneCode,
				"width_m": round2(g.WidthM), "from_m": round2(g.FromM),
			}})
		}
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
