package demo

import (
	"math"

	"github.com/paulmach/orb"
)

// slabSpec describes the rows of slab or tower buildings of a compound.
type slabSpec struct {
	dmin, dmax float64 // depth (north-south)
	lmin, lmax float64 // length (east-west)
	gmin, gmax float64 // gap between buildings of a row
	smin, smax float64 // spacing between rows (courtyards)
	margin     float64
	fmin, fmax int // floors
	floorH     float64
	use        string
	perFloor   func(l, d float64) float64 // households per floor
	dormFirst  bool                       // the southern row is dormitories
	courtyards bool                       // courtyard rows between the rows
	footways   bool                       // footways between the rows
}

var slabSpecs = map[string]slabSpec{
	kindOldEstate: {dmin: 10, dmax: 13, lmin: 24, lmax: 60, gmin: 6, gmax: 12, smin: 10, smax: 16, margin: 6,
		fmin: 6, fmax: 8, floorH: 2.9, use: "residential", courtyards: true,
		perFloor: func(l, _ float64) float64 { return 2 * math.Max(1, math.Round(l/13)) }},
	kindResidential: {dmin: 15, dmax: 22, lmin: 22, lmax: 45, gmin: 15, gmax: 25, smin: 22, smax: 35, margin: 10,
		fmin: 18, fmax: 34, floorH: 3.0, use: "residential", footways: true,
		perFloor: func(l, d float64) float64 { return math.Max(2, math.Round(l*d/110)) }},
	kindCommercial: {dmin: 25, dmax: 50, lmin: 35, lmax: 90, gmin: 15, gmax: 25, smin: 18, smax: 30, margin: 10,
		fmin: 8, fmax: 40, floorH: 4.0, use: "commercial"},
	kindPublic: {dmin: 12, dmax: 18, lmin: 35, lmax: 70, gmin: 12, gmax: 20, smin: 15, smax: 25, margin: 10,
		fmin: 3, fmax: 6, floorH: 3.8, use: "public"},
	kindIndustrial: {dmin: 18, dmax: 26, lmin: 40, lmax: 80, gmin: 8, gmax: 14, smin: 12, smax: 18, margin: 8,
		fmin: 4, fmax: 7, floorH: 4.5, use: "industrial", dormFirst: true},
}

// fillEstate lays out a compound that is not an urban village: rows of
// shop buildings along shop streets, and rows of slabs or towers inside.
func (g *gen) fillEstate(c *compound) {
	pav := round1(g.u(3, 6))
	P := c.r.inset(pav)
	df := g.u(10, 14)
	const cg, lane = 3.0, 4.0
	frames := sideFrames(P)
	q := P
	has := [4]bool{}
	for sd := range 4 {
		has[sd] = c.sides[sd].shop
	}
	// the compound's entrance: a gap in any row on that side, and a camera
	entSide := g.r.IntN(4)
	entLen := P.w()
	if entSide == sE || entSide == sW {
		entLen = P.h()
	}
	entPos := entLen * g.u(0.35, 0.65)
	use, shopUse := "commercial", "commercial"
	if c.kind == kindOldEstate {
		use, shopUse = "mixed", "mixed"
	}
	for sd := range 4 {
		if !has[sd] {
			continue
		}
		s0, s1 := 0.0, P.w()
		if sd == sE || sd == sW {
			s0, s1 = 0, P.h()
			if has[sS] {
				s0 = df + cg
			}
			if has[sN] {
				s1 -= df + cg
			}
		}
		var open [][2]float64
		if sd == entSide {
			open = append(open, [2]float64{entPos - 5, entPos + 5})
		}
		g.row(c, frames[sd], s0, s1, open, rowSpec{
			dmin: 0.85 * df, dmax: df, wmin: 8, wmax: 20, gmin: 1.5, gmax: 4,
			use: use, shopUse: shopUse, shop: true, fdepth: pav, street: c.sides[sd].street,
		})
		switch sd {
		case sS:
			q.y0 += df + lane
		case sN:
			q.y1 -= df + lane
		case sW:
			q.x0 += df + lane
		case sE:
			q.x1 -= df + lane
		}
	}
	camP := map[string]float64{kindOldEstate: 0.6, kindIndustrial: 0.7}[c.kind]
	if camP == 0 {
		camP = 1
	}
	if g.p(camP) {
		f := frames[entSide]
		dir := [2]float64{f.tx, f.ty} // looking in
		if g.p(0.3) {
			dir = [2]float64{f.sx, f.sy} // along the street
		}
		g.camera(camEntrance, f.pt(entPos+g.u(-6, 6), -1), dir, c.name.zh+"大门摄像头", c.owner)
	}
	g.slabs(c, q, slabSpecs[c.kind])
}

// slabs fills q with rows of east-west buildings entered from the south,
// and the courtyard rows, footways or dormitory rows between them.
func (g *gen) slabs(c *compound, q rect, sp slabSpec) {
	q = q.inset(sp.margin)
	var rows [][2]float64 // y ranges of the rows that have buildings
	y := q.y0
	for {
		d := g.u(sp.dmin, sp.dmax)
		if y+d > q.y1 {
			break
		}
		dorm := sp.dormFirst && len(rows) == 0
		built := false
		for x := q.x0; ; {
			rem := q.x1 - x
			if rem < sp.lmin {
				break
			}
			l := min(g.u(sp.lmin, sp.lmax), rem)
			dd := d * g.u(0.9, 1)
			pts := []orb.Point{{x, y}, {x + l, y}, {x + l, y + dd}, {x, y + dd}}
			ent := orb.Point{x + l*g.u(0.2, 0.8), y}
			floors := g.in(sp.fmin, sp.fmax)
			switch {
			case dorm:
				floors = g.in(6, 8)
				g.building(c, pts, ent, "dormitory", floors, 3.0, int64(floors)*int64(max(4, math.Round(l*dd/20))))
			case sp.perFloor != nil:
				g.building(c, pts, ent, sp.use, floors, sp.floorH, int64(float64(floors)*sp.perFloor(l, dd)))
			default:
				g.building(c, pts, ent, sp.use, floors, sp.floorH, 0)
			}
			built = true
			x += l + g.u(sp.gmin, sp.gmax)
		}
		if !built {
			break
		}
		if dorm {
			g.add(lDorm, g.line(orb.Point{q.x0, y - 2.5}, orb.Point{q.x1, y - 2.5}), props{
				"name": c.name.zh + "宿舍区", "compound_code": c.code, "employer": c.owner,
				"responsible": g.person(), "phone": g.phone(),
			})
		}
		rows = append(rows, [2]float64{y, y + d})
		y += d + g.u(sp.smin, sp.smax)
	}
	for k := 0; k+1 < len(rows); k++ {
		ym := (rows[k][1] + rows[k+1][0]) / 2
		a, b := orb.Point{q.x0, ym}, orb.Point{q.x1, ym}
		switch {
		case sp.courtyards:
			g.add(lCourt, g.line(a, b), props{
				"name": c.name.zh + "第" + cn(k+1) + "排院落", "compound_code": c.code,
				"responsible": g.person(), "phone": g.phone(),
			})
		case sp.footways:
			g.add(lStreet, g.line(a, b), props{"kind": "footway", "width": 3.0})
		}
	}
}
