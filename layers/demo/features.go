package demo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// rowSpec describes a row of buildings along a street front.
type rowSpec struct {
	dmin, dmax float64 // depth from the front
	wmin, wmax float64 // width along the front
	gmin, gmax float64 // alleys between the buildings
	village    bool    // handshake buildings (village floors and households)
	use        string  // use of a building without shops
	shopUse    string  // use of a building with shops
	shop       bool    // the street is a shop street
	fdepth     float64 // frontage depth, front to kerb
	street     zhen
}

// row fills s ∈ [s0, s1] of frame f, except the openings, with buildings
// whose fronts are on t = 0 and which extend along +t.
func (g *gen) row(c *compound, f frame, s0, s1 float64, openings [][2]float64, rs rowSpec) {
	var ss *shopStreet
	if rs.shop {
		ss = &shopStreet{
			name:   zhen{fmt.Sprintf("%s街铺（%s段）", rs.street.zh, c.name.zh), fmt.Sprintf("%s shops (%s section)", rs.street.en, c.name.en)},
			street: rs.street, f: f, t: -rs.fdepth / 2, lo: math.Inf(1), hi: math.Inf(-1),
		}
	}
	ops := slices.Clone(openings)
	slices.SortFunc(ops, func(a, b [2]float64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	var free [][2]float64
	cur := s0
	for _, o := range ops {
		if o[0] > cur {
			free = append(free, [2]float64{cur, min(o[0], s1)})
		}
		cur = max(cur, o[1])
	}
	if cur < s1 {
		free = append(free, [2]float64{cur, s1})
	}
	for _, iv := range free {
		s := iv[0]
		for {
			rem := iv[1] - s
			if rem < rs.wmin {
				break
			}
			w := g.tri(rs.wmin, rs.wmax)
			if rem-w < rs.wmin+rs.gmax {
				if rem <= rs.wmax {
					w = rem
				} else {
					w = (rem - rs.gmin) / 2
				}
			}
			d := g.u(rs.dmin, rs.dmax)
			pts := []orb.Point{f.pt(s, 0), f.pt(s+w, 0), f.pt(s+w, d), f.pt(s, d)}
			use := rs.use
			if ss != nil && g.shopsOnFront(f, s, s+w, rs.fdepth, ss) > 0 {
				use = rs.shopUse
			}
			ent := f.pt(s+w*g.u(0.2, 0.8), 0)
			if rs.village {
				floors := g.villageFloors()
				g.building(c, pts, ent, use, floors, 3.0, g.villageHouseholds(use, floors, w*d))
			} else {
				floors := g.in(2, 4)
				var hh int64
				if use == "mixed" {
					floors = g.in(4, 7)
					hh = int64(floors-1) * int64(max(1, math.Round(w*d/60)))
				}
				g.building(c, pts, ent, use, floors, 3.6, hh)
			}
			s += w + g.u(rs.gmin, rs.gmax)
		}
	}
	if ss != nil {
		g.finishShopStreet(ss)
	}
}

// building emits one building of compound c; pts is its footprint and ent
// its entrance, both local.
func (g *gen) building(c *compound, pts []orb.Point, ent orb.Point, use string, floors int, floorH float64, households int64) {
	c.bno++
	c.house += households
	p := props{
		"name":          c.name.zh + strconv.Itoa(c.bno) + "栋",
		"name_en":       c.name.en + " Bldg " + strconv.Itoa(c.bno),
		"address":       "深圳市罗湖区" + subdistrictName.zh + c.comm.name.zh + "社区" + c.name.zh + strconv.Itoa(c.bno) + "栋",
		"floors":        int64(floors),
		"height":        round1(float64(floors)*floorH + g.u(0.3, 1.5)),
		"use":           use,
		"households":    households,
		"entrance":      g.llProp(ent),
		"compound_code": c.code,
		"responsible":   g.person(),
		"phone":         g.phone(),
	}
	risk := 0.05
	if c.kind == kindVillage {
		risk = 0.2
	}
	if g.p(risk) {
		i := g.r.IntN(len(riskFlags))
		flags := riskFlags[i]
		if g.p(0.35) {
			flags += "," + riskFlags[(i+1+g.r.IntN(len(riskFlags)-1))%len(riskFlags)]
		}
		p["risk_flags"] = flags
	}
	g.add(lBldg, g.poly(pts), p)
}

// shopStreet collects the shops along one side of a street (or both sides
// of a village shop lane) for its shop_streets line.
type shopStreet struct {
	name   zhen // of the shop street
	street zhen // of the street the shops face
	f      frame
	t      float64 // the line is at t in f, from s = lo to hi
	lo, hi float64
	count  int
}

// shopsOnFront puts ground-floor shops on the front s ∈ [s0, s1] (t = 0) of
// a building in frame f, each with its 门前三包 frontage: the door projected
// on the street edge, the edge split halfway between neighbouring doors
// (at most 4.5 m either side), extended depth metres out to the kerb. It
// returns the number of shops.
func (g *gen) shopsOnFront(f frame, s0, s1, depth float64, ss *shopStreet) int {
	w := s1 - s0
	n := max(1, int(math.Round(w/g.u(4, 6.5))))
	uw := w / float64(n)
	doors := make([]float64, 0, n)
	for k := range n {
		if g.p(0.82) {
			doors = append(doors, s0+uw*(float64(k)+0.5+g.u(-0.2, 0.2)))
		}
	}
	for k, d := range doors {
		lo, hi := max(s0, d-4.5), min(s1, d+4.5)
		if k > 0 {
			lo = max(lo, (doors[k-1]+d)/2)
		}
		if k+1 < len(doors) {
			hi = min(hi, (d+doors[k+1])/2)
		}
		cat, name := g.shopName()
		owner, phone := g.person(), g.phone()
		n := g.add(lShop, g.ll(f.pt(d, 0)), props{
			"name": name.zh, "name_en": name.en, "category": cat, "owner": owner,
			"licence": g.licence(), "street": ss.street.zh, "phone": phone,
		})
		g.add(lFront, g.poly([]orb.Point{f.pt(lo, 0), f.pt(hi, 0), f.pt(hi, -depth), f.pt(lo, -depth)}), props{
			"shop_name": name.zh, "length_m": round2(hi - lo), "depth_m": round2(depth),
			"responsible": owner, "phone": phone, "source_id": fmt.Sprintf("demo:frontage:%d", n),
		})
		ss.count++
		ss.lo, ss.hi = min(ss.lo, lo), max(ss.hi, hi)
	}
	return len(doors)
}

// finishShopStreet emits a shop street that has shops, and sometimes a
// camera watching it.
func (g *gen) finishShopStreet(ss *shopStreet) {
	if ss.count == 0 || ss.hi-ss.lo < 1 {
		return
	}
	g.add(lShopSt, g.line(ss.f.pt(ss.lo, ss.t), ss.f.pt(ss.hi, ss.t)), props{
		"name": ss.name.zh, "name_en": ss.name.en, "shops": int64(ss.count),
		"responsible": g.person(), "phone": g.phone(),
	})
	if g.p(0.35) {
		s := g.u(ss.lo, ss.hi)
		ds := 1.0
		if g.p(0.5) {
			ds = -1
		}
		g.camera(camShopStreet, ss.f.pt(s, ss.t), [2]float64{ds * ss.f.sx, ds * ss.f.sy}, ss.name.zh+"摄像头", "东门街道综治中心")
	}
}

// Camera placements.
const (
	camGate = iota
	camLane
	camStreet
	camShopStreet
	camEntrance
)

var resolutions = [][2]int{{1920, 1080}, {2560, 1440}, {2688, 1520}, {3840, 2160}}

// observePxPerM is the pixel density of the "observe" level (IEC 62676-4).
const observePxPerM = 62.5

// maxViewRange caps a view's range: beyond it a camera on a 3–8 m mast in
// dense streets sees nothing useful whatever its resolution.
const maxViewRange = 80

// camera emits a camera at pos looking along dir (local) and its observe
// view sector, clipped to the subdistrict.
func (g *gen) camera(kind int, pos orb.Point, dir [2]float64, name, owner string) {
	var mh, hfov, tilt float64
	var res [2]int
	switch kind {
	case camGate, camEntrance:
		mh, hfov, tilt = g.u(3, 4.5), g.u(60, 100), g.u(15, 35)
		res = resolutions[g.r.IntN(2)]
	case camLane:
		mh, hfov, tilt = g.u(3, 5), g.u(70, 110), g.u(15, 35)
		res = resolutions[g.r.IntN(2)]
	case camShopStreet:
		mh, hfov, tilt = g.u(4, 6), g.u(50, 90), g.u(10, 25)
		res = resolutions[1+g.r.IntN(3)]
	default:
		mh, hfov, tilt = g.u(6, 8), g.u(30, 60), g.u(5, 20)
		res = resolutions[1+g.r.IntN(3)]
	}
	hfov, mh, tilt = math.Round(hfov), round1(mh), math.Round(tilt)
	l := math.Hypot(dir[0], dir[1])
	dx, dy := dir[0]/l, dir[1]/l
	rng := min(float64(res[0])/(2*observePxPerM*math.Tan(hfov/2*math.Pi/180)), maxViewRange)

	p := props{
		"mount_height": mh, "bearing": g.bearing(dx, dy), "hfov": hfov, "tilt": tilt,
		"resolution_h": int64(res[0]), "resolution_v": int64(res[1]),
		"recording_24h": g.p(0.9),
	}
	setIf(p, "name", strings.TrimSpace(name))
	setIf(p, "owner", owner)
	n := g.add(lCam, g.ll(pos), p)

	base := math.Atan2(dy, dx)
	h := hfov * math.Pi / 180
	steps := max(3, int(math.Ceil(hfov/5)))
	pts := make([]orb.Point, 0, steps+2)
	pts = append(pts, pos)
	for k := 0; k <= steps; k++ {
		a := base - h/2 + h*float64(k)/float64(steps)
		pts = append(pts, orb.Point{pos[0] + rng*math.Cos(a), pos[1] + rng*math.Sin(a)})
	}
	g.add(lView, g.poly(clipRect(pts, g.sub)), props{
		"level": "observe", "range_m": round1(rng), "source_id": fmt.Sprintf("demo:camera:%d", n),
	})
}
