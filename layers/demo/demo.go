// Package demo generates a deterministic, realistic demo district for
// Hexward: a Luohu-style subdistrict (街道) centred on Dongmen/Hubei
// (lon 114.125, lat 22.555) with every layer of [layers.Governance].
//
// The district is a grid of city blocks between main and secondary streets,
// grouped into 5–8 communities (社区). Most blocks are urban villages
// (城中村): street-front rows of handshake buildings (握手楼) 6–15 m wide
// around a ring lane, and inside it walled village zones (城中村片区) of
// dense buildings on 2.5–4 m lanes and 1–3 m alleys, enclosed by walls and
// fences with gates and cameras. The other blocks are old estates with
// walk-up slabs and courtyards, modern residential towers, commercial,
// public and industrial compounds. Street-front and shop-lane buildings
// have ground-floor shops with their 门前三包 frontage areas.
//
// Generate is a pure function of seed and scale: it uses its own PCG
// generator, no global state and no clock, so the same arguments give the
// same features in the same order. At scale 1 the district has about
// 20,000 buildings (three quarters of them in urban villages), 4,000 shops
// and 650 cameras on about 8 km²; the area and every count grow linearly
// with scale.
package demo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hexward/hexward/layers"
	"github.com/paulmach/orb"
)

// Centre of the district and the subdistrict code.
const (
	centreLon = 114.125
	centreLat = 22.555
	subCode   = "LH-DM"
	// blocksAtScale1 is the number of city blocks at scale 1, tuned so that
	// scale 1 gives about 20,000 buildings.
	blocksAtScale1 = 172
	// maxScale bounds the memory Generate needs (every feature is built
	// before the first is emitted).
	maxScale = 100
)

// Layer indices, in emission (dependency) order.
const (
	lSub = iota
	lComm
	lComp
	lZone
	lStreet
	lBldg
	lCourt
	lDorm
	lShopSt
	lFence
	lGate
	lShop
	lFront
	lCam
	lView
	lSensor
	lOfficer
	nLayers
)

var layerNames = [nLayers]string{
	"subdistricts", "communities", "compounds", "village_zones", "streets", "buildings",
	"courtyard_rows", "dormitory_rows", "shop_streets", "fences", "gates", "shops",
	"frontages", "cameras", "camera_views", "sensors", "officers",
}

// sourceKind names a layer's features in their source_id ("demo:<kind>:<n>").
var sourceKind = [nLayers]string{
	"subdistrict", "community", "compound", "village_zone", "street", "building",
	"courtyard_row", "dormitory_row", "shop_street", "fence", "gate", "shop",
	"frontage", "camera", "camera", "sensor", "officer",
}

// Compound kinds (the compounds layer's kind enum).
const (
	kindVillage     = "urban_village"
	kindResidential = "residential"
	kindOldEstate   = "old_estate"
	kindCommercial  = "commercial"
	kindPublic      = "public"
	kindIndustrial  = "industrial"
)

// Generate emits the demo district's features in dependency order
// (subdistricts, communities, compounds, village_zones, streets, buildings,
// courtyard_rows, dormitory_rows, shop_streets, fences, gates, shops,
// frontages, cameras, camera_views, sensors, officers). Alerts and tracks
// are not generated: the rules and the officers' positions make them.
// Incidents are made apart (Incidents), as a report's time is recent and
// Generate has no clock. Same seed and scale ⇒ same features, same order.
//
// Geometries are EPSG:4326 lon/lat rounded to 1e-7°; properties follow the
// schemas of [layers.Governance] (string, int64, float64, bool, and
// []float64{lon, lat} for point properties). IDs are left zero; every
// feature has a source_id "demo:<kind>:<n>". A shop and its frontage share
// n ("demo:shop:7", "demo:frontage:7"); a camera and its view share their
// source_id ("demo:camera:7"). scale must be in (0, 100]; scales below about
// 0.05 all give the smallest district (3×3 blocks). Every feature is built
// before the first is emitted (about 50 MB at scale 1). Generate stops at
// and returns the first error from emit.
func Generate(seed int64, scale float64, emit func(layers.Feature) error) error {
	if emit == nil {
		return errors.New("demo: nil emit function")
	}
	if !(scale > 0 && scale <= maxScale) {
		return fmt.Errorf("demo: scale %v out of range (0, %d]", scale, maxScale)
	}
	g := newGen(seed, scale)
	g.build()
	g.live()
	for l := range nLayers {
		fs := g.out[l]
		for i := range fs {
			if err := emit(fs[i]); err != nil {
				return err
			}
			fs[i] = layers.Feature{} // let the consumer's copy be the only one
		}
	}
	return nil
}

// props is a feature's property map.
type props = map[string]any

// gen holds the state of one generation run.
type gen struct {
	r     *rand.Rand
	scale float64

	// local metres (x east, y north before rotation) → lon/lat
	cos, sin   float64
	mLon, mLat float64

	out [nLayers][]layers.Feature
	n   [nLayers]int

	sub        rect // subdistrict in local metres
	usedNames  map[string]bool
	estateNext int

	// grid of streets
	xs, ys []float64  // centreline coordinates of the N-S (x) and E-W (y) streets
	vl, hl []gridLine // the streets themselves

	// forced presence of the rarer features, so every layer has features at
	// every scale
	haveShopLane, haveDormLane bool
}

func newGen(seed int64, scale float64) *gen {
	g := &gen{
		r:         rand.New(rand.NewPCG(uint64(seed), 0x4865787761726421)),
		scale:     scale,
		usedNames: map[string]bool{},
	}
	theta := (g.u(-14, 14) + 8) * math.Pi / 180 // the Luohu grid is turned a little
	g.cos, g.sin = math.Cos(theta), math.Sin(theta)
	phi := centreLat * math.Pi / 180
	g.mLat = 111132.92 - 559.82*math.Cos(2*phi) + 1.175*math.Cos(4*phi)
	g.mLon = 111412.84*math.Cos(phi) - 93.5*math.Cos(3*phi)
	return g
}

// ---- random helpers ----

func (g *gen) u(a, b float64) float64 { return a + (b-a)*g.r.Float64() }

// in returns an int in [a, b].
func (g *gen) in(a, b int) int { return a + g.r.IntN(b-a+1) }

func (g *gen) p(prob float64) bool { return g.r.Float64() < prob }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

func (g *gen) weighted(w []float64) int {
	t := 0.0
	for _, x := range w {
		t += x
	}
	v := g.r.Float64() * t
	for i, x := range w {
		if v < x {
			return i
		}
		v -= x
	}
	return len(w) - 1
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// ---- local geometry ----

// rect is an axis-aligned rectangle in local metres.
type rect struct{ x0, y0, x1, y1 float64 }

func (r rect) w() float64 { return r.x1 - r.x0 }
func (r rect) h() float64 { return r.y1 - r.y0 }
func (r rect) inset(d float64) rect {
	return rect{r.x0 + d, r.y0 + d, r.x1 - d, r.y1 - d}
}
func (r rect) corners() []orb.Point {
	return []orb.Point{{r.x0, r.y0}, {r.x1, r.y0}, {r.x1, r.y1}, {r.x0, r.y1}}
}

// frame is an affine frame in local metres: pt(s, t) = o + s·S + t·T with
// unit axis vectors S and T. Rows of buildings are laid out along s with
// their fronts at t = 0 and their depth along +t.
type frame struct{ ox, oy, sx, sy, tx, ty float64 }

func (f frame) pt(s, t float64) orb.Point {
	return orb.Point{f.ox + s*f.sx + t*f.tx, f.oy + s*f.sy + t*f.ty}
}

// at returns the frame moved to pt(s, t); flip reverses its t axis.
func (f frame) at(s, t float64, flip bool) frame {
	p := f.pt(s, t)
	n := frame{p[0], p[1], f.sx, f.sy, f.tx, f.ty}
	if flip {
		n.tx, n.ty = -n.tx, -n.ty
	}
	return n
}

// ll converts a local point to rounded lon/lat.
func (g *gen) ll(p orb.Point) orb.Point {
	x := p[0]*g.cos - p[1]*g.sin
	y := p[0]*g.sin + p[1]*g.cos
	return orb.Point{
		math.Round((centreLon+x/g.mLon)*1e7) / 1e7,
		math.Round((centreLat+y/g.mLat)*1e7) / 1e7,
	}
}

// llProp converts a local point to a PointProp value.
func (g *gen) llProp(p orb.Point) []float64 {
	q := g.ll(p)
	return []float64{q[0], q[1]}
}

// bearing converts a local direction to degrees clockwise from north.
func (g *gen) bearing(dx, dy float64) float64 {
	x := dx*g.cos - dy*g.sin
	y := dx*g.sin + dy*g.cos
	b := round1(math.Atan2(x, y) * 180 / math.Pi)
	if b < 0 {
		b += 360
	}
	if b >= 360 {
		b -= 360
	}
	return b
}

// poly builds a polygon from a simple ring of local points (any winding,
// not closed): counter-clockwise, closed, in lon/lat.
func (g *gen) poly(pts []orb.Point) orb.Polygon {
	a := 0.0
	for i := range pts {
		j := (i + 1) % len(pts)
		a += pts[i][0]*pts[j][1] - pts[j][0]*pts[i][1]
	}
	ring := make(orb.Ring, 0, len(pts)+1)
	add := func(p orb.Point) {
		q := g.ll(p)
		if len(ring) == 0 || ring[len(ring)-1] != q {
			ring = append(ring, q)
		}
	}
	if a >= 0 {
		for _, p := range pts {
			add(p)
		}
	} else {
		for i := len(pts) - 1; i >= 0; i-- {
			add(pts[i])
		}
	}
	if len(ring) > 1 && ring[len(ring)-1] == ring[0] {
		ring = ring[:len(ring)-1]
	}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

func (g *gen) rectPoly(r rect) orb.Polygon { return g.poly(r.corners()) }

// line builds a linestring in lon/lat from local points.
func (g *gen) line(pts ...orb.Point) orb.LineString {
	ls := make(orb.LineString, 0, len(pts))
	for _, p := range pts {
		q := g.ll(p)
		if len(ls) == 0 || ls[len(ls)-1] != q {
			ls = append(ls, q)
		}
	}
	return ls
}

// add appends a feature to its layer and returns its number n (1-based).
// Unless p already has a source_id, it gets "demo:<kind>:<n>".
func (g *gen) add(l int, geom orb.Geometry, p props) int {
	g.n[l]++
	n := g.n[l]
	if _, ok := p["source_id"]; !ok {
		p["source_id"] = fmt.Sprintf("demo:%s:%d", sourceKind[l], n)
	}
	g.out[l] = append(g.out[l], layers.Feature{Layer: layerNames[l], Geometry: geom, Props: p})
	return n
}

// setIf sets p[k] = v unless v is the empty string.
func setIf(p props, k, v string) {
	if v != "" {
		p[k] = v
	}
}

// clipRect clips a convex polygon (local points) to r (Sutherland–Hodgman).
func clipRect(pts []orb.Point, r rect) []orb.Point {
	type edge struct {
		inside func(orb.Point) bool
		cut    func(a, b orb.Point) orb.Point
	}
	lerpX := func(a, b orb.Point, x float64) orb.Point {
		t := (x - a[0]) / (b[0] - a[0])
		return orb.Point{x, a[1] + t*(b[1]-a[1])}
	}
	lerpY := func(a, b orb.Point, y float64) orb.Point {
		t := (y - a[1]) / (b[1] - a[1])
		return orb.Point{a[0] + t*(b[0]-a[0]), y}
	}
	edges := []edge{
		{func(p orb.Point) bool { return p[0] >= r.x0 }, func(a, b orb.Point) orb.Point { return lerpX(a, b, r.x0) }},
		{func(p orb.Point) bool { return p[0] <= r.x1 }, func(a, b orb.Point) orb.Point { return lerpX(a, b, r.x1) }},
		{func(p orb.Point) bool { return p[1] >= r.y0 }, func(a, b orb.Point) orb.Point { return lerpY(a, b, r.y0) }},
		{func(p orb.Point) bool { return p[1] <= r.y1 }, func(a, b orb.Point) orb.Point { return lerpY(a, b, r.y1) }},
	}
	for _, e := range edges {
		if len(pts) == 0 {
			return nil
		}
		var out []orb.Point
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			ia, ib := e.inside(a), e.inside(b)
			switch {
			case ia && ib:
				out = append(out, b)
			case ia && !ib:
				out = append(out, e.cut(a, b))
			case !ia && ib:
				out = append(out, e.cut(a, b), b)
			}
		}
		pts = out
	}
	return pts
}
