// Package frontages derives the 门前三包 responsibility areas of shops
// (frontages) from their doors, the street centre lines and the building
// façades; finds the street edge that no shop is responsible for; and
// attributes incidents to the responsible shop. Geometry is computed in Go
// on a local metric frame (spatial.Frame). See README.md for the method,
// parameters and limits.
package frontages

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// Options are the parameters of Derive. Zero fields take the defaults.
type Options struct {
	// MaxHalf (m) is how far along the street a shop's frontage reaches on
	// either side of its door when no neighbour is nearer. Default 4.5.
	MaxHalf float64
	// MaxDoorDist (m) is the farthest a door may be from a street centre
	// line and still face it. Default 40.
	MaxDoorDist float64
	// CentreKinds are the street kinds whose frontages reach the centre
	// line (the other half belongs to the shops opposite); on other kinds
	// they reach the kerb, half the street's width from the centre line.
	// Default alley, lane, footway.
	CentreKinds []string
	// FacadeTol (m): a door within it of a building is that building's,
	// and the building's vertices within it of the door's distance from
	// the centre line make its façade. Default 1.5.
	FacadeTol float64
	// MinGap (m) is the shortest unattended stretch of street edge
	// reported. Default 1.
	MinGap float64
}

func (o Options) withDefaults() (Options, error) {
	for _, v := range []struct {
		name string
		v    float64
	}{{"max half", o.MaxHalf}, {"max door distance", o.MaxDoorDist}, {"façade tolerance", o.FacadeTol}, {"min gap", o.MinGap}} {
		if v.v < 0 || math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return o, fmt.Errorf("frontages: %s %v must be a finite number ≥ 0", v.name, v.v)
		}
	}
	if o.MaxHalf == 0 {
		o.MaxHalf = 4.5
	}
	if o.MaxDoorDist == 0 {
		o.MaxDoorDist = 40
	}
	if o.CentreKinds == nil {
		o.CentreKinds = []string{"alley", "lane", "footway"}
	}
	if o.FacadeTol == 0 {
		o.FacadeTol = 1.5
	}
	if o.MinGap == 0 {
		o.MinGap = 1
	}
	return o, nil
}

// Frontage is one shop's responsibility area.
type Frontage struct {
	Shop     int    // index of the shop in Derive's input
	ShopID   int64  // the shop feature's ID
	ShopName string //
	StreetID int64  // the street feature's ID
	Street   string // its name
	Side     int    // +1: left of the street's direction, -1: right
	Polygon  orb.Polygon
	Facade   orb.LineString // the street edge it lies on, lon/lat
	FromM    float64        // along the street centre line (m)
	ToM      float64
	LengthM  float64 // ToM − FromM
	DepthM   float64 // façade to kerb or centre line
	AreaM2   float64
}

// Gap is a stretch of shop-street edge with no responsible shop.
type Gap struct {
	StreetID int64
	Street   string
	Side     int
	Line     orb.LineString // along the façade line, lon/lat
	FromM    float64
	ToM      float64
	LengthM  float64
}

// Result is what Derive finds.
type Result struct {
	Frontages []Frontage
	Gaps      []Gap
	Unplaced  []int // indices of shops with no street within MaxDoorDist
}

// line is one part of a street in metres.
type line struct {
	feat  int
	pts   []orb.Point
	at    []float64
	width float64
	kind  string
	name  string
}

func (l *line) length() float64 { return l.at[len(l.at)-1] }

// locate returns the position along l of the point nearest q and q's
// signed distance from l (positive on the left).
func (l *line) locate(q orb.Point) (s, off float64) {
	best := math.Inf(1)
	for i := 1; i < len(l.pts); i++ {
		a, b := l.pts[i-1], l.pts[i]
		dx, dy := b[0]-a[0], b[1]-a[1]
		l2 := dx*dx + dy*dy
		if l2 == 0 {
			continue
		}
		t := math.Max(0, math.Min(1, ((q[0]-a[0])*dx+(q[1]-a[1])*dy)/l2))
		px, py := a[0]+t*dx, a[1]+t*dy
		d := math.Hypot(q[0]-px, q[1]-py)
		if d < best {
			best = d
			s = l.at[i-1] + t*math.Sqrt(l2)
			off = d
			if dx*(q[1]-a[1])-dy*(q[0]-a[0]) < 0 {
				off = -d
			}
		}
	}
	return s, off
}

// offset returns the part of l from position lo to hi moved off metres to
// the left (mitred at inner vertices).
func (l *line) offset(lo, hi, off float64) []orb.Point {
	var pts []orb.Point
	var dirs []orb.Point // unit direction of the segment leaving each point
	point := func(s float64) (orb.Point, orb.Point) {
		i := sort.SearchFloat64s(l.at, s)
		i = max(1, min(i, len(l.at)-1))
		a, b := l.pts[i-1], l.pts[i]
		sl := l.at[i] - l.at[i-1]
		t := (s - l.at[i-1]) / sl
		return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}, orb.Point{(b[0] - a[0]) / sl, (b[1] - a[1]) / sl}
	}
	p, d := point(lo)
	pts, dirs = append(pts, p), append(dirs, d)
	for i := 1; i+1 < len(l.pts); i++ {
		if l.at[i] > lo && l.at[i] < hi {
			b := l.pts[i+1]
			sl := l.at[i+1] - l.at[i]
			pts, dirs = append(pts, l.pts[i]), append(dirs, orb.Point{(b[0] - l.pts[i][0]) / sl, (b[1] - l.pts[i][1]) / sl})
		}
	}
	p, d = point(hi)
	pts, dirs = append(pts, p), append(dirs, d)
	out := make([]orb.Point, len(pts))
	for i, p := range pts {
		n := orb.Point{-dirs[i][1], dirs[i][0]}
		if i > 0 && i < len(pts)-1 { // mitre with the incoming segment
			m := orb.Point{-dirs[i-1][1], dirs[i-1][0]}
			sx, sy := n[0]+m[0], n[1]+m[1]
			k := math.Hypot(sx, sy)
			if k > 1e-9 {
				sx, sy = sx/k, sy/k
				c := sx*n[0] + sy*n[1]
				n = orb.Point{sx / c, sy / c}
			}
		}
		out[i] = orb.Point{p[0] + off*n[0], p[1] + off*n[1]}
	}
	return out
}

type door struct {
	shop     int
	line     int
	s, off   float64 // position along the line, signed distance
	flo, fhi float64 // façade of its building along the line (NaN: none)
}

type groupKey struct{ line, side int }

// Derive derives each shop's frontage: the shop's door (its point) is
// placed on the nearest street centre line (preferring a street whose name
// is the shop's street property); along that side of that street the
// frontage runs from halfway to the previous shop's door to halfway to
// the next, at most MaxHalf either side of the door and within the
// façade of the building holding the door; across the street it runs from
// the façade (the door's distance from the centre line) to the kerb, or to
// the centre line on CentreKinds. On every street side with shops, the
// façades of the buildings along it (the whole street length without
// buildings) not covered by a frontage are Gaps.
func Derive(shops, streets, buildings []layers.Feature, opt Options) (Result, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Result{}, err
	}
	var all orb.Bound
	first := true
	for _, fs := range [][]layers.Feature{shops, streets} {
		for _, f := range fs {
			if f.Geometry == nil {
				continue
			}
			if first {
				all, first = f.Geometry.Bound(), false
			} else {
				all = all.Union(f.Geometry.Bound())
			}
		}
	}
	if len(shops) == 0 {
		return Result{}, nil
	}
	if len(streets) == 0 {
		return Result{}, errors.New("frontages: no streets")
	}
	if all.Min.Lon() < -180 || all.Max.Lon() > 180 || all.Min.Lat() < -90 || all.Max.Lat() > 90 {
		return Result{}, fmt.Errorf("frontages: coordinates %v are not lon/lat", all)
	}
	fr := spatial.FrameFor(all)

	// street lines and a segment index
	var lines []line
	var segs rtree.RTreeG[int]
	for i, f := range streets {
		var parts []orb.LineString
		switch g := f.Geometry.(type) {
		case orb.LineString:
			parts = []orb.LineString{g}
		case orb.MultiLineString:
			parts = g
		default:
			return Result{}, fmt.Errorf("frontages: street %d (id %d) is a %T, want a line", i, f.ID, f.Geometry)
		}
		kind, _ := f.Props["kind"].(string)
		name, _ := f.Props["name"].(string)
		w, _ := toFloat(f.Props["width"])
		for _, p := range parts {
			l := line{feat: i, width: w, kind: kind, name: name}
			for _, q := range p {
				x := fr.ToXY(q)
				if n := len(l.pts); n > 0 && l.pts[n-1] == x {
					continue
				}
				if len(l.pts) == 0 {
					l.at = append(l.at, 0)
				} else {
					l.at = append(l.at, l.at[len(l.at)-1]+dist(l.pts[len(l.pts)-1], x))
				}
				l.pts = append(l.pts, x)
			}
			if len(l.pts) < 2 {
				continue
			}
			li := len(lines)
			lines = append(lines, l)
			b := orb.MultiPoint(l.pts).Bound()
			segs.Insert(b.Min, b.Max, li)
		}
	}
	// building outer rings in metres and an index
	var rings []orb.Ring
	var bidx rtree.RTreeG[int]
	for _, f := range buildings {
		var p orb.Polygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			p = g
		case orb.MultiPolygon:
			if len(g) > 0 {
				p = g[0]
			}
		}
		if len(p) == 0 || len(p[0]) < 4 {
			continue
		}
		r := make(orb.Ring, len(p[0]))
		for k, q := range p[0] {
			r[k] = fr.ToXY(q)
		}
		b := r.Bound()
		bidx.Insert(b.Min, b.Max, len(rings))
		rings = append(rings, r)
	}

	var res Result
	groups := map[groupKey][]door{}
	for i, f := range shops {
		p, ok := f.Geometry.(orb.Point)
		if !ok {
			return Result{}, fmt.Errorf("frontages: shop %d (id %d) is a %T, want a point", i, f.ID, f.Geometry)
		}
		q := fr.ToXY(p)
		want, _ := f.Props["street"].(string)
		best, bestNamed := -1, -1
		var bd, bnd float64 = math.Inf(1), math.Inf(1)
		var bs, bo, bns, bno float64
		r := opt.MaxDoorDist
		segs.Search([2]float64{q[0] - r, q[1] - r}, [2]float64{q[0] + r, q[1] + r}, func(_, _ [2]float64, li int) bool {
			s, off := lines[li].locate(q)
			d := math.Abs(off)
			if d > r {
				return true
			}
			if d < bd || (d == bd && li < best) {
				best, bd, bs, bo = li, d, s, off
			}
			if want != "" && lines[li].name == want && (d < bnd || (d == bnd && li < bestNamed)) {
				bestNamed, bnd, bns, bno = li, d, s, off
			}
			return true
		})
		if bestNamed >= 0 {
			best, bs, bo = bestNamed, bns, bno
		}
		if best < 0 || bo == 0 {
			res.Unplaced = append(res.Unplaced, i)
			continue
		}
		d := door{shop: i, line: best, s: bs, off: bo, flo: math.NaN(), fhi: math.NaN()}
		if ri := nearestRing(&bidx, rings, q, opt.FacadeTol); ri >= 0 {
			d.flo, d.fhi = facade(&lines[best], rings[ri], bo, opt.FacadeTol)
		}
		k := groupKey{best, sign(bo)}
		groups[k] = append(groups[k], d)
	}

	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.side - b.side
	})
	for _, k := range keys {
		ds := groups[k]
		l := &lines[k.line]
		sf := streets[l.feat]
		slices.SortStableFunc(ds, func(a, b door) int {
			switch {
			case a.s < b.s:
				return -1
			case a.s > b.s:
				return 1
			}
			return a.shop - b.shop
		})
		var covered [][2]float64
		offs := make([]float64, 0, len(ds))
		for j, d := range ds {
			lo, hi := d.s-opt.MaxHalf, d.s+opt.MaxHalf
			if j > 0 {
				lo = math.Max(lo, (ds[j-1].s+d.s)/2)
			}
			if j+1 < len(ds) {
				hi = math.Min(hi, (d.s+ds[j+1].s)/2)
			}
			if !math.IsNaN(d.flo) {
				lo, hi = math.Max(lo, d.flo), math.Min(hi, d.fhi)
			}
			lo, hi = math.Max(lo, 0), math.Min(hi, l.length())
			face := math.Abs(d.off)
			offs = append(offs, face)
			if hi-lo < 1e-6 {
				continue
			}
			depth := face
			if !slices.Contains(opt.CentreKinds, l.kind) && l.width > 0 && face-l.width/2 > 0 {
				depth = face - l.width/2
			}
			side := float64(k.side)
			outer := l.offset(lo, hi, side*face)
			inner := l.offset(lo, hi, side*(face-depth))
			ring := make(orb.Ring, 0, len(outer)+len(inner)+1)
			ring = append(ring, outer...)
			for m := len(inner) - 1; m >= 0; m-- {
				ring = append(ring, inner[m])
			}
			ring = append(ring, ring[0])
			if ring.Orientation() == orb.CW {
				ring.Reverse()
			}
			area := planar.Area(ring)
			ll := make(orb.Ring, len(ring))
			for m, p := range ring {
				ll[m] = fr.ToLonLat(p)
			}
			facade := make(orb.LineString, len(outer))
			for m, p := range outer {
				facade[m] = fr.ToLonLat(p)
			}
			sh := shops[d.shop]
			name, _ := sh.Props["name"].(string)
			res.Frontages = append(res.Frontages, Frontage{
				Shop: d.shop, ShopID: sh.ID, ShopName: name, StreetID: sf.ID, Street: l.name, Side: k.side,
				Polygon: orb.Polygon{ll}, Facade: facade, FromM: lo, ToM: hi, LengthM: hi - lo, DepthM: depth, AreaM2: area,
			})
			covered = append(covered, [2]float64{lo, hi})
		}
		// the street edge of this side
		face := median(offs)
		var edge [][2]float64
		if len(rings) == 0 {
			edge = [][2]float64{{0, l.length()}}
		} else {
			b := orb.MultiPoint(l.pts).Bound().Pad(face + opt.FacadeTol)
			bidx.Search(b.Min, b.Max, func(_, _ [2]float64, ri int) bool {
				lo, hi := facade(l, rings[ri], float64(k.side)*face, opt.FacadeTol)
				if !math.IsNaN(lo) && hi > lo {
					edge = append(edge, [2]float64{math.Max(lo, 0), math.Min(hi, l.length())})
				}
				return true
			})
		}
		for _, g := range subtract(union(edge), union(covered)) {
			if g[1]-g[0] < opt.MinGap {
				continue
			}
			pts := l.offset(g[0], g[1], float64(k.side)*face)
			ls := make(orb.LineString, len(pts))
			for m, p := range pts {
				ls[m] = fr.ToLonLat(p)
			}
			res.Gaps = append(res.Gaps, Gap{StreetID: sf.ID, Street: l.name, Side: k.side, Line: ls, FromM: g[0], ToM: g[1], LengthM: g[1] - g[0]})
		}
	}
	slices.SortStableFunc(res.Frontages, func(a, b Frontage) int { return a.Shop - b.Shop })
	return res, nil
}

// nearestRing returns the building ring containing q or nearest it within
// tol, or -1.
func nearestRing(idx *rtree.RTreeG[int], rings []orb.Ring, q orb.Point, tol float64) int {
	best, bd := -1, math.Inf(1)
	idx.Search([2]float64{q[0] - tol, q[1] - tol}, [2]float64{q[0] + tol, q[1] + tol}, func(_, _ [2]float64, ri int) bool {
		r := rings[ri]
		d := 0.0
		if !planar.RingContains(r, q) {
			d = math.Inf(1)
			for i := 1; i < len(r); i++ {
				d = math.Min(d, segDist(r[i-1], r[i], q))
			}
		}
		if d <= tol && (d < bd || (d == bd && ri < best)) {
			best, bd = ri, d
		}
		return true
	})
	return best
}

// facade returns the extent along l of the vertices of ring on the side
// and within tol of the signed distance off from l (NaN when fewer than
// two are).
func facade(l *line, ring orb.Ring, off, tol float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	n := 0
	for _, v := range ring[:len(ring)-1] {
		s, o := l.locate(v)
		if math.Abs(o-off) <= tol {
			lo, hi = math.Min(lo, s), math.Max(hi, s)
			n++
		}
	}
	if n < 2 {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

func union(iv [][2]float64) [][2]float64 {
	slices.SortFunc(iv, func(a, b [2]float64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	var out [][2]float64
	for _, x := range iv {
		if n := len(out); n > 0 && x[0] <= out[n-1][1]+1e-9 {
			out[n-1][1] = math.Max(out[n-1][1], x[1])
			continue
		}
		out = append(out, x)
	}
	return out
}

// subtract returns a − b, both sorted and disjoint.
func subtract(a, b [][2]float64) [][2]float64 {
	var out [][2]float64
	for _, x := range a {
		cur := x[0]
		for _, y := range b {
			if y[1] <= cur || y[0] >= x[1] {
				continue
			}
			if y[0] > cur {
				out = append(out, [2]float64{cur, y[0]})
			}
			cur = math.Max(cur, y[1])
		}
		if cur < x[1] {
			out = append(out, [2]float64{cur, x[1]})
		}
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func sign(v float64) int {
	if v < 0 {
		return -1
	}
	return 1
}

func dist(a, b orb.Point) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

func segDist(a, b, q orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return dist(a, q)
	}
	t := math.Max(0, math.Min(1, ((q[0]-a[0])*dx+(q[1]-a[1])*dy)/l2))
	return math.Hypot(q[0]-a[0]-t*dx, q[1]-a[1]-t*dy)
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	}
	return 0, false
}

// Features returns the frontages and gaps as features: frontages (layer
// frontages: shop_id, shop_name, street, length_m, depth_m, area_m2) and
// frontage_gaps (lines: street_id, street, side, from_m, length_m).
// Lengths are rounded to cm.
func (r Result) Features() (fronts, gaps []layers.Feature) {
	for _, f := range r.Frontages {
		fronts = append(fronts, layers.Feature{Layer: "frontages", Geometry: f.Polygon, Props: map[string]any{
			"shop_id": f.ShopID, "shop_name": f.ShopName, "street": f.Street,
			"length_m": round2(f.LengthM), "depth_m": round2(f.DepthM), "area_m2": round2(f.AreaM2),
		}})
	}
	for _, g := range r.Gaps {
		gaps = append(gaps, layers.Feature{Layer: "frontage_gaps", Geometry: g.Line, Props: map[string]any{
			"street_id": g.StreetID, "street": g.Street, "side": int64(g.Side),
			"from_m": round2(g.FromM), "length_m": round2(g.LengthM),
		}})
	}
	return fronts, gaps
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
