package demo

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// tri returns a triangular random number in [a, b], most likely (a+b)/2.
func (g *gen) tri(a, b float64) float64 {
	return a + (b-a)*(g.r.Float64()+g.r.Float64())/2
}

// villageFloors returns the floors of a handshake building: 5–12, mostly 7–10.
func (g *gen) villageFloors() int { return 5 + int(math.Round(7*(g.r.Float64()+g.r.Float64())/2)) }

// villageHouseholds estimates the flats of a village building: the ground
// floor is shops or storage, each upper floor has studios of 25–35 m²;
// a dormitory counts its rooms.
func (g *gen) villageHouseholds(use string, floors int, area float64) int64 {
	if use == "dormitory" {
		return int64(floors) * int64(max(2, math.Round(area/16)))
	}
	return int64(floors-1) * int64(max(1, math.Round(area/g.u(25, 35))))
}

// splits cuts [a, b] into n intervals separated by gaps of width gap, of
// slightly random lengths.
func (g *gen) splits(a, b float64, n int, gap float64) [][2]float64 {
	ws := make([]float64, n)
	sum := 0.0
	for i := range ws {
		ws[i] = g.u(0.85, 1.15)
		sum += ws[i]
	}
	avail := b - a - float64(n-1)*gap
	out := make([][2]float64, n)
	x := a
	for i := range ws {
		l := avail * ws[i] / sum
		out[i] = [2]float64{x, x + l}
		x += l + gap
	}
	out[n-1][1] = b
	return out
}

// fillVillage lays out an urban-village compound: street-front rows of
// buildings behind the pavement on all four sides, a ring lane behind
// them, and inside it a grid of walled village zones separated by
// village streets that run out to the city streets through gaps in the
// rows.
func (g *gen) fillVillage(c *compound) {
	R := c.r
	p := round1(g.u(2, 4)) // pavement
	df := g.u(9, 13)       // depth of the street-front rows
	rw := round1(g.u(3, 4))
	ws := math.Round(g.u(5, 8)*2) / 2
	P := R.inset(p)
	ringC := df + rw/2
	Q := P.inset(ringC) // ring lane centreline
	Z := P.inset(df + rw)

	zoneCount := func(l float64) int {
		n := min(max(int(math.Round((l+ws)/(g.u(70, 105)+ws))), 1), 4)
		for n > 1 && (l-float64(n-1)*ws)/float64(n) < 45 {
			n--
		}
		return n
	}
	na, nb := zoneCount(Z.w()), zoneCount(Z.h())
	zx, zy := g.splits(Z.x0, Z.x1, na, ws), g.splits(Z.y0, Z.y1, nb, ws)

	// Village streets between the zones, and entrance lanes where there are
	// none, both out to the city streets; their crossings with the ring lane.
	var open [4][][2]float64 // openings in the street-front rows, in row s
	var cross [4][]float64   // crossings with the ring lane, x or y
	var xcs, ycs []float64
	for k := 0; k < na-1; k++ {
		xcs = append(xcs, (zx[k][1]+zx[k+1][0])/2)
	}
	for k := 0; k < nb-1; k++ {
		ycs = append(ycs, (zy[k][1]+zy[k+1][0])/2)
	}
	yS, yN := R.y0-c.sides[sS].half, R.y1+c.sides[sN].half
	xW, xE := R.x0-c.sides[sW].half, R.x1+c.sides[sE].half
	for _, xc := range xcs {
		pts := []orb.Point{{xc, yS}, {xc, Q.y0}}
		for _, yc := range ycs {
			pts = append(pts, orb.Point{xc, yc})
		}
		pts = append(pts, orb.Point{xc, Q.y1}, orb.Point{xc, yN})
		g.villageStreet(c, ws, pts)
		o := [2]float64{xc - P.x0 - ws/2 - 0.5, xc - P.x0 + ws/2 + 0.5}
		open[sS], open[sN] = append(open[sS], o), append(open[sN], o)
		cross[sS], cross[sN] = append(cross[sS], xc), append(cross[sN], xc)
	}
	for _, yc := range ycs {
		pts := []orb.Point{{xW, yc}, {Q.x0, yc}}
		for _, xc := range xcs {
			pts = append(pts, orb.Point{xc, yc})
		}
		pts = append(pts, orb.Point{Q.x1, yc}, orb.Point{xE, yc})
		g.villageStreet(c, ws, pts)
		o := [2]float64{yc - P.y0 - ws/2 - 0.5, yc - P.y0 + ws/2 + 0.5}
		open[sW], open[sE] = append(open[sW], o), append(open[sE], o)
		cross[sW], cross[sE] = append(cross[sW], yc), append(cross[sE], yc)
	}
	entrance := func(sd int) {
		const w = 4.0
		name := zhen{c.name.zh + sideDir[sd].zh + "入口巷", c.name.en + " " + sideDir[sd].en + " Entrance Lane"}
		var a, b orb.Point
		var pos float64
		switch sd {
		case sS, sN:
			x := Z.x0 + Z.w()*g.u(0.3, 0.7)
			pos = x - P.x0
			a, b = orb.Point{x, Q.y0}, orb.Point{x, yS}
			if sd == sN {
				a, b = orb.Point{x, Q.y1}, orb.Point{x, yN}
			}
			cross[sd] = append(cross[sd], x)
		default:
			y := Z.y0 + Z.h()*g.u(0.3, 0.7)
			pos = y - P.y0
			a, b = orb.Point{Q.x0, y}, orb.Point{xW, y}
			if sd == sE {
				a, b = orb.Point{Q.x1, y}, orb.Point{xE, y}
			}
			cross[sd] = append(cross[sd], y)
		}
		open[sd] = append(open[sd], [2]float64{pos - w/2 - 0.5, pos + w/2 + 0.5})
		g.add(lStreet, g.line(a, b), props{"name": name.zh, "name_en": name.en, "kind": "lane", "width": w})
	}
	if na == 1 {
		entrance(sS)
		entrance(sN)
	}
	if nb == 1 {
		entrance(sW)
		entrance(sE)
	}

	// the ring lane, with a vertex at every crossing
	for k := range cross {
		slices.Sort(cross[k])
	}
	ring := []orb.Point{{Q.x0, Q.y0}}
	for _, x := range cross[sS] {
		ring = append(ring, orb.Point{x, Q.y0})
	}
	ring = append(ring, orb.Point{Q.x1, Q.y0})
	for _, y := range cross[sE] {
		ring = append(ring, orb.Point{Q.x1, y})
	}
	ring = append(ring, orb.Point{Q.x1, Q.y1})
	for _, x := range slices.Backward(cross[sN]) {
		ring = append(ring, orb.Point{x, Q.y1})
	}
	ring = append(ring, orb.Point{Q.x0, Q.y1})
	for _, y := range slices.Backward(cross[sW]) {
		ring = append(ring, orb.Point{Q.x0, y})
	}
	ring = append(ring, orb.Point{Q.x0, Q.y0})
	g.add(lStreet, g.line(ring...), props{
		"name": c.name.zh + "环村巷", "name_en": c.name.en + " Ring Lane", "kind": "lane", "width": rw,
	})

	// street-front rows
	cg := g.u(1.5, 2.5)
	frames := sideFrames(P)
	for sd := range 4 {
		s0, s1 := 0.0, P.w()
		if sd == sE || sd == sW {
			s0, s1 = df+cg, P.h()-df-cg
		}
		sdd := c.sides[sd]
		g.row(c, frames[sd], s0, s1, open[sd], rowSpec{
			dmin: 0.85 * df, dmax: df, wmin: 6, wmax: 15, gmin: 1, gmax: 2.5,
			village: true, use: "residential", shopUse: "mixed",
			shop: sdd.shop, fdepth: p, street: sdd.street,
		})
	}

	// the walled zones
	zi := 0
	for ib := range nb {
		for ia := range na {
			half := func(edge bool) float64 {
				if edge {
					return rw / 2
				}
				return ws / 2
			}
			outer := [4]float64{half(ib == 0), half(ia == na-1), half(ib == nb-1), half(ia == 0)}
			g.fillZone(c, zi, rect{zx[ia][0], zy[ib][0], zx[ia][1], zy[ib][1]}, outer)
			zi++
		}
	}
}

// villageStreet emits one of a village's streets between its zones.
func (g *gen) villageStreet(c *compound, w float64, pts []orb.Point) {
	c.laneNo++ // streets share the numbering of lanes
	g.add(lStreet, g.line(pts...), props{
		"name": fmt.Sprintf("%s%s街", c.name.zh, cn(c.laneNo)), "name_en": fmt.Sprintf("%s Street %d", c.name.en, c.laneNo),
		"kind": "street", "width": w,
	})
}

// sideFrames returns the frames of the four sides of r, s along the side
// (x for S and N, y for E and W, from r's south-west corner), t inward.
func sideFrames(r rect) [4]frame {
	return [4]frame{
		sS: {r.x0, r.y0, 1, 0, 0, 1},
		sE: {r.x1, r.y0, 0, 1, -1, 0},
		sN: {r.x0, r.y1, 1, 0, 0, -1},
		sW: {r.x0, r.y0, 0, 1, 1, 0},
	}
}

// columns cuts [0, a] into building widths of 6–15 m separated by alleys
// of 1–3 m.
func (g *gen) columns(a float64) (cells [][2]float64) {
	s := 0.0
	for {
		rem := a - s
		if rem < 6 {
			return cells
		}
		w := g.tri(6, 15)
		if rem-w < 9 {
			if rem <= 15 {
				w = rem
			} else {
				w = (rem - 1) / 2
			}
		}
		cells = append(cells, [2]float64{s, s + w})
		s += w + round1(g.u(1, 3))
	}
}

// bands chooses the lanes of a zone b deep: nb bands, each a row of
// buildings, a lane, a row of buildings, separated by back alleys ba wide;
// d is the depth of every row.
func (g *gen) bands(b float64) (d float64, lanes []float64, ba float64) {
	ba = round1(g.u(1, 2))
	nb := max(1, int(math.Round((b+ba)/(22+3.2+ba))))
	for range 4 {
		lanes = make([]float64, nb)
		sum := 0.0
		for k := range lanes {
			lanes[k] = round1(g.u(2.5, 4))
			sum += lanes[k]
		}
		d = (b - sum - float64(nb-1)*ba) / float64(2*nb)
		switch {
		case d > 15:
			nb++
			continue
		case d < 7 && nb > 1:
			nb--
			continue
		}
		break
	}
	return d, lanes, ba
}

// A zone's line ends: the lane ends on the two sides the lanes cross, the
// alley ends on the other two.
type lineEnd struct {
	lane bool
	idx  int
	end  int // 0: s = 0 or t = 0 side; 1: the other
}

type gateSpec struct {
	at   lineEnd
	kind string
}

// fillZone lays out one walled village zone: rows of handshake buildings
// facing lanes, alleys between them, the fence on its perimeter with
// gates and gaps, and cameras.
func (g *gen) fillZone(c *compound, zi int, z rect, outer [4]float64) {
	code := fmt.Sprintf("%s-Z%d", c.code, zi+1)
	name := zhen{c.name.zh + cn(zi+1) + "区", fmt.Sprintf("%s Zone %d", c.name.en, zi+1)}
	g.add(lZone, g.rectPoly(z), props{
		"name": name.zh, "name_en": name.en, "code": code, "parent_code": c.code,
		"manager": g.person(), "phone": g.phone(),
	})

	mg := round1(g.u(0.8, 1.5))
	in := z.inset(mg)
	zf := frame{in.x0, in.y0, 1, 0, 0, 1}
	a, b := in.w(), in.h()
	// the local sides of the zone frame's sides s=0, s=a, t=0, t=b
	sideOf := [2][2]int{{sW, sE}, {sS, sN}} // [lane? 0:1][end]
	if g.p(0.35) {                          // lanes run north-south
		zf = frame{in.x0, in.y0, 0, 1, 1, 0}
		a, b = b, a
		sideOf = [2][2]int{{sS, sN}, {sW, sE}}
	}
	localSide := func(e lineEnd) int {
		if e.lane {
			return sideOf[0][e.end]
		}
		return sideOf[1][e.end]
	}
	dir := func(ds, dt float64) [2]float64 { return [2]float64{ds*zf.sx + dt*zf.tx, ds*zf.sy + dt*zf.ty} }

	cols := g.columns(a)
	d, lanes, ba := g.bands(b)
	nb := len(lanes)
	if d < 5 || len(cols) == 0 {
		nb, cols = 0, nil
	}
	type band struct{ lo, hi float64 } // lane edges in t
	bands := make([]band, nb)
	t := 0.0
	for k := range bands {
		bands[k] = band{t + d, t + d + lanes[k]}
		t = bands[k].hi + d + ba
	}
	laneC := func(k int) float64 { return (bands[k].lo + bands[k].hi) / 2 }
	alleyC := func(j int) float64 { return (cols[j][1] + cols[j+1][0]) / 2 }
	alleyW := func(j int) float64 { return round1(cols[j+1][0] - cols[j][1]) }
	nAlleys := max(len(cols)-1, 0)

	// special lanes: a shop lane (街铺) and a lane of dormitories
	shopBand, dormBand := -1, -1
	if nb > 0 && (g.p(0.28) || !g.haveShopLane) {
		shopBand = g.r.IntN(nb)
		g.haveShopLane = true
	}
	if nb > 0 && (g.p(0.15) || !g.haveDormLane) {
		if k := g.r.IntN(nb); k != shopBand {
			dormBand = k
			g.haveDormLane = true
		}
	}
	laneNames := make([]zhen, nb)
	for k := range laneNames {
		c.laneNo++
		laneNames[k] = zhen{c.name.zh + "横" + cn(c.laneNo) + "巷", fmt.Sprintf("%s Lane %d", c.name.en, c.laneNo)}
	}

	// gates and gaps
	laneOpen := make([][2]bool, nb)
	alleyOpen := make([][2]bool, nAlleys)
	isOpen := func(e lineEnd) bool {
		if e.lane {
			return laneOpen[e.idx][e.end]
		}
		return alleyOpen[e.idx][e.end]
	}
	setOpen := func(e lineEnd) {
		if e.lane {
			laneOpen[e.idx][e.end] = true
		} else {
			alleyOpen[e.idx][e.end] = true
		}
	}
	var gates []gateSpec
	if nb > 0 {
		e := lineEnd{true, nb / 2, g.r.IntN(2)}
		setOpen(e)
		gates = append(gates, gateSpec{e, "main"})
		sides := 0
		for k := range nb {
			for end := range 2 {
				if e := (lineEnd{true, k, end}); !isOpen(e) && sides < 2 && g.p(0.2) {
					setOpen(e)
					gates = append(gates, gateSpec{e, "side"})
					sides++
				}
			}
		}
		if nAlleys > 0 && g.p(0.4) {
			if e := (lineEnd{false, g.r.IntN(nAlleys), g.r.IntN(2)}); !isOpen(e) {
				setOpen(e)
				gates = append(gates, gateSpec{e, "remote"})
			}
		}
		if g.p(0.45) {
			if e := (lineEnd{true, g.r.IntN(nb), g.r.IntN(2)}); !isOpen(e) {
				setOpen(e)
				gates = append(gates, gateSpec{e, "emergency"})
			}
		}
	}
	var gaps []lineEnd
	for k := range nb {
		for end := range 2 {
			if e := (lineEnd{true, k, end}); !isOpen(e) && g.p(0.1) {
				setOpen(e)
				gaps = append(gaps, e)
			}
		}
	}
	for j := range nAlleys {
		for end := range 2 {
			if e := (lineEnd{false, j, end}); !isOpen(e) && g.p(0.03) {
				setOpen(e)
				gaps = append(gaps, e)
			}
		}
	}
	// endPoint returns a line end on the zone perimeter, in zone-frame
	// coordinates, and the width of its opening.
	endPoint := func(e lineEnd) (s, t, w float64) {
		if e.lane {
			s, t, w = -mg, laneC(e.idx), lanes[e.idx]
			if e.end == 1 {
				s = a + mg
			}
			return s, t, w
		}
		s, t, w = alleyC(e.idx), -mg, alleyW(e.idx)
		if e.end == 1 {
			t = b + mg
		}
		return s, t, w
	}
	ext := func(e lineEnd) float64 { // how far a line runs past the perimeter
		if isOpen(e) {
			return outer[localSide(e)]
		}
		return 0
	}

	// fences, open at gates and gaps
	var openings [4][][2]float64 // per local side: position along it, width
	ends := make([]lineEnd, 0, len(gates)+len(gaps))
	for _, gs := range gates {
		ends = append(ends, gs.at)
	}
	for _, e := range append(ends, gaps...) {
		s, t, w := endPoint(e)
		sd := localSide(e)
		openings[sd] = append(openings[sd], [2]float64{perimeterPos(z, sd, zf.pt(s, t)), w})
	}
	g.fences(z, code, openings)

	// lanes, alleys and back alleys, noded at their crossings
	for k := range nb {
		e0, e1 := lineEnd{true, k, 0}, lineEnd{true, k, 1}
		tc := laneC(k)
		pts := []orb.Point{zf.pt(-mg-ext(e0), tc)}
		for j := range nAlleys {
			pts = append(pts, zf.pt(alleyC(j), tc))
		}
		pts = append(pts, zf.pt(a+mg+ext(e1), tc))
		g.add(lStreet, g.line(pts...), props{
			"name": laneNames[k].zh, "name_en": laneNames[k].en, "kind": "lane", "width": lanes[k],
		})
	}
	for j := range nAlleys {
		e0, e1 := lineEnd{false, j, 0}, lineEnd{false, j, 1}
		sc := alleyC(j)
		pts := []orb.Point{zf.pt(sc, -mg-ext(e0))}
		for k := range nb {
			pts = append(pts, zf.pt(sc, laneC(k)))
			if k+1 < nb {
				pts = append(pts, zf.pt(sc, bands[k].hi+d+ba/2))
			}
		}
		pts = append(pts, zf.pt(sc, b+mg+ext(e1)))
		c.alleyNo++
		g.add(lStreet, g.line(pts...), props{
			"name": c.name.zh + "纵" + cn(c.alleyNo) + "巷", "name_en": fmt.Sprintf("%s Alley %d", c.name.en, c.alleyNo),
			"kind": "alley", "width": alleyW(j),
		})
	}
	for k := 0; k+1 < nb; k++ {
		tc := bands[k].hi + d + ba/2
		pts := []orb.Point{zf.pt(-mg, tc)}
		for j := range nAlleys {
			pts = append(pts, zf.pt(alleyC(j), tc))
		}
		pts = append(pts, zf.pt(a+mg, tc))
		g.add(lStreet, g.line(pts...), props{"kind": "alley", "width": ba})
	}

	// buildings: two rows on every lane, fronts on the lane
	for k := range nb {
		var ss *shopStreet
		if k == shopBand {
			ss = &shopStreet{name: laneNames[k], street: laneNames[k], f: zf, t: laneC(k), lo: math.Inf(1), hi: math.Inf(-1)}
		}
		use := "residential"
		if k == dormBand {
			use = "dormitory"
		}
		for side := range 2 {
			rf := zf.at(0, bands[k].lo, true) // the row below the lane
			if side == 1 {
				rf = zf.at(0, bands[k].hi, false)
			}
			for _, col := range cols {
				if g.p(0.03) { // an empty lot
					continue
				}
				i1, i2 := g.u(0, 0.3), g.u(0, 0.3)
				j1, j2 := g.u(-i1, 0.3), g.u(-0.3, i2)
				d1, d2 := d*g.u(0.82, 1), d*g.u(0.82, 1)
				f0, f1 := col[0]+i1, col[1]-i2
				pts := []orb.Point{rf.pt(f0, 0), rf.pt(f1, 0), rf.pt(f1+j2, d2), rf.pt(f0+j1, d1)}
				floors := g.villageFloors()
				u := use
				if u == "residential" && g.p(0.1) {
					u = "mixed"
				}
				if ss != nil && g.shopsOnFront(rf, f0, f1, lanes[k]/2, ss) > 0 {
					u = "mixed"
				}
				area := (f1 - f0) * (d1 + d2) / 2
				g.building(c, pts, rf.pt(f0+(f1-f0)*g.u(0.2, 0.8), 0), u, floors, 3.0, g.villageHouseholds(u, floors, area))
			}
		}
		if ss != nil {
			g.finishShopStreet(ss)
		}
		if k == dormBand {
			g.add(lDorm, g.line(zf.pt(0, laneC(k)), zf.pt(a, laneC(k))), props{
				"name": laneNames[k].zh + "宿舍区", "compound_code": c.code, "employer": g.company(),
				"responsible": g.person(), "phone": g.phone(),
			})
		}
	}

	// gates, most with a camera looking through them or down the lane
	counts := map[string]int{}
	for gi, gs := range gates {
		s, t, _ := endPoint(gs.at)
		sd := localSide(gs.at)
		gp := zf.pt(s, t)
		var gname string
		var kindZH string
		switch gs.kind {
		case "main":
			gname = name.zh + "正门"
		case "side":
			kindZH = "侧门"
		case "remote":
			kindZH = "角门"
		default:
			kindZH = "消防通道门"
		}
		if gname == "" {
			key := sideDir[sd].zh + kindZH
			counts[key]++
			gname = name.zh + key
			if counts[key] > 1 {
				gname += cn(counts[key])
			}
		}
		p := props{
			"name": gname, "kind": gs.kind, "zone_code": code,
			"responsible": g.person(), "phone": g.phone(),
		}
		var camP float64
		switch gs.kind {
		case "main":
			p["booth"], p["barrier"] = true, g.p(0.8)
			p["staffed_hours"] = pick(g, []string{"00:00-24:00", "00:00-24:00", "07:00-23:00", "06:30-23:30"})
			p["alarm"] = fmt.Sprintf("一键报警 %s-G%d", code, gi+1)
			camP = 0.75
		case "side":
			booth := g.p(0.5)
			p["booth"], p["barrier"] = booth, g.p(0.6)
			if booth {
				p["staffed_hours"] = pick(g, []string{"07:00-22:00", "07:00-21:00", "06:30-22:30"})
			}
			if g.p(0.5) {
				p["alarm"] = fmt.Sprintf("门磁报警 %s-G%d", code, gi+1)
			}
			camP = 0.3
		case "remote":
			booth := g.p(0.7)
			p["booth"], p["barrier"] = booth, true
			if booth {
				p["staffed_hours"] = pick(g, []string{"19:00-07:00", "18:00-06:00"})
			}
			p["alarm"] = fmt.Sprintf("一键报警 %s-G%d", code, gi+1)
			camP = 0.4
		default:
			p["booth"], p["barrier"] = false, true
			p["alarm"] = "消防联动 " + code
			camP = 0.2
		}
		g.add(lGate, g.ll(gp), p)
		if g.p(camP) || (gs.kind == "main" && g.n[lCam] == 0) {
			// 1.5 m inside the gate, on the lane or alley
			const inside = 1.5
			var cs, ct, ds, dt float64
			switch {
			case gs.at.lane && gs.at.end == 0:
				cs, ct, ds = s+inside, t, -1
			case gs.at.lane:
				cs, ct, ds = s-inside, t, 1
			case gs.at.end == 0:
				cs, ct, dt = s, t+inside, -1
			default:
				cs, ct, dt = s, t-inside, 1
			}
			if g.p(0.4) { // looking in
				ds, dt = -ds, -dt
			}
			g.camera(camGate, zf.pt(cs, ct), dir(ds, dt), gname+"摄像头", c.owner)
		}
	}

	// cameras at some lane–alley crossings (complex alleys)
	for k := range nb {
		for j := range nAlleys {
			if !g.p(0.01) {
				continue
			}
			ds := 1.0
			if g.p(0.5) {
				ds = -1
			}
			g.camera(camLane, zf.pt(alleyC(j), bands[k].lo), dir(ds, 0),
				fmt.Sprintf("%s%s口摄像头", laneNames[k].zh, cn(j+1)), "东门街道综治中心")
		}
	}
}

// perimeterPos returns the position of p along side sd of r, the sides
// running counter-clockwise from the south-west corner.
func perimeterPos(r rect, sd int, p orb.Point) float64 {
	switch sd {
	case sS:
		return p[0] - r.x0
	case sE:
		return p[1] - r.y0
	case sN:
		return r.x1 - p[0]
	}
	return r.y1 - p[1]
}

// fences emits the walls and fences along a zone's perimeter, open at the
// given openings (position along the side, width) of each side.
func (g *gen) fences(z rect, code string, openings [4][][2]float64) {
	kinds := []string{"wall", "fence", "plant_wall", "isolation_belt"}
	weights := []float64{55, 25, 10, 10}
	base := kinds[g.weighted(weights)]
	start := [4]orb.Point{{z.x0, z.y0}, {z.x1, z.y0}, {z.x1, z.y1}, {z.x0, z.y1}}
	step := [4][2]float64{{1, 0}, {0, 1}, {-1, 0}, {0, -1}}
	length := [4]float64{z.w(), z.h(), z.w(), z.h()}
	for sd := range 4 {
		kind := base
		if g.p(0.25) {
			kind = kinds[g.weighted(weights)]
		}
		ops := slices.Clone(openings[sd])
		slices.SortFunc(ops, func(a, b [2]float64) int {
			switch {
			case a[0] < b[0]:
				return -1
			case a[0] > b[0]:
				return 1
			}
			return 0
		})
		at := func(s float64) orb.Point {
			return orb.Point{start[sd][0] + s*step[sd][0], start[sd][1] + s*step[sd][1]}
		}
		cur := 0.0
		seg := func(to float64) {
			if to-cur < 0.5 {
				return
			}
			var h float64
			switch kind {
			case "wall":
				h = g.u(2.2, 3.5)
			case "fence":
				h = g.u(1.8, 2.5)
			case "plant_wall":
				h = g.u(1.0, 1.8)
			default:
				h = g.u(0.8, 1.2)
			}
			g.add(lFence, g.line(at(cur), at(to)), props{"kind": kind, "height": round1(h), "zone_code": code})
		}
		for _, o := range ops {
			seg(o[0] - o[1]/2)
			cur = max(cur, o[0]+o[1]/2)
		}
		seg(length[sd])
	}
}
