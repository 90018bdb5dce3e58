package demo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// Sides of a block or compound, counter-clockwise from the south.
const (
	sS = iota
	sE
	sN
	sW
)

// gridLine is a city street on the block grid.
type gridLine struct {
	name  zhen
	kind  string // main or secondary
	width float64
	shop  bool // a shop street (街铺): street-front buildings have shops
}

// side is what lies along one side of a compound.
type side struct {
	half   float64 // half width of the street along the side
	shop   bool
	street zhen
}

type community struct {
	code           string
	name           zhen
	i0, j0, i1, j1 int // blocks [i0, i1) × [j0, j1)
	r              rect
	p              props
	people         float64 // residents
}

type blockInfo struct {
	kind    string
	cluster int
}

type cluster struct {
	name    zhen // "湖贝村"
	company string
	total   int // compounds in the cluster
	next    int
}

type compound struct {
	code    string
	name    zhen
	kind    string
	r       rect
	sides   [4]side
	comm    *community
	owner   string // property or village shareholding company
	bno     int    // buildings so far, for building numbers
	laneNo  int
	alleyNo int
	house   int64 // households
}

func (g *gen) build() {
	g.layoutGrid()
	comms := g.partition()
	blocks, clusters := g.assignKinds()

	g.add(lSub, g.rectPoly(g.sub), props{
		"name": subdistrictName.zh, "name_en": subdistrictName.en, "code": subCode,
		"responsible": g.person(), "phone": g.phone(),
	})
	g.gridStreets()

	nx := len(g.xs) - 1
	for _, cm := range comms {
		cm.p = props{
			"name": cm.name.zh + "社区", "name_en": cm.name.en + " Community", "code": cm.code,
			"parent_code": subCode, "party_branch": cm.name.zh + "社区党委",
			"responsible": g.person(), "phone": g.phone(),
		}
		g.add(lComm, g.rectPoly(cm.r), cm.p)
		seq := 0
		for j := cm.j0; j < cm.j1; j++ {
			for i := cm.i0; i < cm.i1; i++ {
				g.block(cm, i, j, blocks[j*nx+i], clusters, &seq)
			}
		}
	}
	g.intersectionCameras()
	for _, cm := range comms {
		cm.p["population"] = int64(math.Round(cm.people))
	}
}

// layoutGrid lays out the street grid and the subdistrict around it.
func (g *gen) layoutGrid() {
	n := max(9, int(math.Round(blocksAtScale1*g.scale)))
	nx := max(3, int(math.Round(math.Sqrt(float64(n)*1.2))))
	ny := max(3, int(math.Round(float64(n)/float64(nx))))
	pitches := func(n int) []float64 {
		c := make([]float64, n+1)
		for i := 1; i <= n; i++ {
			c[i] = c[i-1] + g.u(160, 260)
		}
		mid := c[n] / 2
		for i := range c {
			c[i] = math.Round((c[i]-mid)*10) / 10
		}
		return c
	}
	g.xs, g.ys = pitches(nx), pitches(ny)

	perm := g.r.Perm(len(streetBases))
	lines := func(n, offset int) []gridLine {
		ls := make([]gridLine, n)
		for k := range ls {
			idx := offset + k
			base := streetBases[perm[idx%len(perm)]]
			name := base
			if c := idx / len(perm); c > 0 {
				d := directions[(c-1)%len(directions)]
				name = zhen{base.zh + d.zh, base.en + " " + d.en}
			}
			l := gridLine{kind: "secondary"}
			if k == 0 || k == n-1 || g.p(0.3) {
				l.kind = "main"
				l.width = math.Round(g.u(24, 30)*2) / 2
				if g.p(0.25) {
					name = zhen{name.zh + "大道", name.en + " Avenue"}
				} else {
					name = zhen{name.zh + "路", name.en + " Road"}
				}
			} else {
				l.width = math.Round(g.u(12, 20)*2) / 2
				if g.p(0.4) {
					name = zhen{name.zh + "街", name.en + " Street"}
				} else {
					name = zhen{name.zh + "路", name.en + " Road"}
				}
			}
			l.name = name
			ls[k] = l
		}
		return ls
	}
	g.vl = lines(nx+1, 0)
	g.hl = lines(ny+1, nx+1)
	// a fixed share of the streets are shop streets (街铺)
	nl := len(g.vl) + len(g.hl)
	for _, k := range g.r.Perm(nl)[:max(1, int(math.Round(0.14*float64(nl))))] {
		if k < len(g.vl) {
			g.vl[k].shop = true
		} else {
			g.hl[k-len(g.vl)].shop = true
		}
	}
	g.sub = rect{
		g.xs[0] - g.vl[0].width/2, g.ys[0] - g.hl[0].width/2,
		g.xs[nx] + g.vl[nx].width/2, g.ys[ny] + g.hl[ny].width/2,
	}
}

// gridStreets emits the city streets, with a vertex at every crossing.
func (g *gen) gridStreets() {
	for i, l := range g.vl {
		pts := make([]orb.Point, len(g.ys))
		for j, y := range g.ys {
			pts[j] = orb.Point{g.xs[i], y}
		}
		g.add(lStreet, g.line(pts...), props{"name": l.name.zh, "name_en": l.name.en, "kind": l.kind, "width": l.width})
	}
	for j, l := range g.hl {
		pts := make([]orb.Point, len(g.xs))
		for i, x := range g.xs {
			pts[i] = orb.Point{x, g.ys[j]}
		}
		g.add(lStreet, g.line(pts...), props{"name": l.name.zh, "name_en": l.name.en, "kind": l.kind, "width": l.width})
	}
}

// partition splits the block grid into 5–8 rectangular communities
// (largest first, across its longer side) that tile the subdistrict.
func (g *gen) partition() []*community {
	nx, ny := len(g.xs)-1, len(g.ys)-1
	parts := []*community{{i0: 0, j0: 0, i1: nx, j1: ny}}
	cells := func(c *community) int { return (c.i1 - c.i0) * (c.j1 - c.j0) }
	for k := g.in(5, 8); len(parts) < k; {
		best := -1
		for i, c := range parts {
			if cells(c) >= 2 && (best < 0 || cells(c) > cells(parts[best])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		c := parts[best]
		a, b := *c, *c
		w, h := c.i1-c.i0, c.j1-c.j0
		if w >= h {
			cut := c.i0 + min(max(int(math.Round(float64(w)*g.u(0.35, 0.65))), 1), w-1)
			a.i1, b.i0 = cut, cut
		} else {
			cut := c.j0 + min(max(int(math.Round(float64(h)*g.u(0.35, 0.65))), 1), h-1)
			a.j1, b.j0 = cut, cut
		}
		parts[best] = &a
		parts = append(parts, &b)
	}
	// number them from the north-west
	slices.SortFunc(parts, func(a, b *community) int {
		if c := cmp.Compare(b.j1, a.j1); c != 0 {
			return c
		}
		return cmp.Compare(a.i0, b.i0)
	})
	names := slices.Clone(communityNames)
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for k, c := range parts {
		c.code = fmt.Sprintf("%s-%02d", subCode, k+1)
		c.name = names[k%len(names)]
		if k >= len(names) {
			c.name = zhen{c.name.zh + cn(k/len(names)+1), fmt.Sprintf("%s %d", c.name.en, k/len(names)+1)}
		}
		c.r = rect{g.xs[c.i0], g.ys[c.j0], g.xs[c.i1], g.ys[c.j1]}
		if c.i0 == 0 {
			c.r.x0 = g.sub.x0
		}
		if c.j0 == 0 {
			c.r.y0 = g.sub.y0
		}
		if c.i1 == nx {
			c.r.x1 = g.sub.x1
		}
		if c.j1 == ny {
			c.r.y1 = g.sub.y1
		}
	}
	return parts
}

// assignKinds decides each block's compound kind: urban villages cluster
// around a few old village sites; the rest are estates, towers, offices,
// schools and a little industry.
func (g *gen) assignKinds() ([]blockInfo, []*cluster) {
	nx, ny := len(g.xs)-1, len(g.ys)-1
	type seed struct{ x, y, r float64 }
	seeds := make([]seed, max(2, int(math.Round(4.5*g.scale))))
	for k := range seeds {
		seeds[k] = seed{g.u(g.sub.x0, g.sub.x1), g.u(g.sub.y0, g.sub.y1), g.u(300, 600)}
	}
	blocks := make([]blockInfo, nx*ny)
	score := make([]float64, nx*ny)
	for j := range ny {
		for i := range nx {
			x, y := (g.xs[i]+g.xs[i+1])/2, (g.ys[j]+g.ys[j+1])/2
			b, best := 0, -1.0
			for k, s := range seeds {
				d2 := ((x-s.x)*(x-s.x) + (y-s.y)*(y-s.y)) / (s.r * s.r)
				if v := math.Exp(-d2); v > best {
					b, best = k, v
				}
			}
			blocks[j*nx+i].cluster = b
			score[j*nx+i] = best + 0.3*g.r.Float64()
		}
	}
	order := make([]int, len(blocks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(score[b], score[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	nv := int(math.Round(0.6 * float64(len(blocks))))
	for _, b := range order[:nv] {
		blocks[b].kind = kindVillage
	}
	rest := slices.Clone(order[nv:])
	g.r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	forced := []string{kindResidential, kindOldEstate, kindCommercial, kindPublic}
	for k, b := range rest {
		if k < len(forced) {
			blocks[b].kind = forced[k]
		} else {
			blocks[b].kind = g.otherKind()
		}
	}

	perm := g.r.Perm(len(villageBases))
	clusters := make([]*cluster, len(seeds))
	for k := range clusters {
		base := villageBases[perm[k%len(perm)]]
		c := &cluster{company: base.zh + "股份合作公司"}
		switch cyc := k / len(perm); cyc {
		case 0:
			c.name = zhen{base.zh + "村", base.en + " Village"}
		case 1:
			c.name = zhen{base.zh + "新村", base.en + " New Village"}
		default:
			c.name = zhen{base.zh + cn(cyc+1) + "村", fmt.Sprintf("%s Village %d", base.en, cyc+1)}
		}
		clusters[k] = c
	}
	for _, b := range blocks {
		if b.kind == kindVillage {
			clusters[b.cluster].total++
		}
	}
	return blocks, clusters
}

func (g *gen) otherKind() string {
	kinds := []string{kindOldEstate, kindResidential, kindCommercial, kindPublic, kindIndustrial}
	return kinds[g.weighted([]float64{40, 30, 15, 10, 5})]
}

// block fills the city block (i, j): one compound, or two on either side of
// a branch road.
func (g *gen) block(cm *community, i, j int, b blockInfo, clusters []*cluster, seq *int) {
	r := rect{
		g.xs[i] + g.vl[i].width/2, g.ys[j] + g.hl[j].width/2,
		g.xs[i+1] - g.vl[i+1].width/2, g.ys[j+1] - g.hl[j+1].width/2,
	}
	sideOf := func(l gridLine) side { return side{l.width / 2, l.shop, l.name} }
	sides := [4]side{sideOf(g.hl[j]), sideOf(g.vl[i+1]), sideOf(g.hl[j+1]), sideOf(g.vl[i])}

	if b.kind == kindVillage || max(r.w(), r.h()) < 170 || !g.p(0.45) {
		g.compound(cm, seq, b, clusters, r, sides)
		return
	}
	ws := math.Round(g.u(7, 10)*2) / 2
	base := pick(g, streetBases)
	name := zhen{base.zh + "支路", base.en + " Branch Road"}
	inner := side{ws / 2, false, name}
	kindB := b
	if g.p(0.5) {
		kindB.kind = g.otherKind()
	}
	var ra, rb rect
	var sa, sb = sides, sides
	if r.w() >= r.h() {
		xc := r.x0 + r.w()*g.u(0.4, 0.6)
		ra, rb = rect{r.x0, r.y0, xc - ws/2, r.y1}, rect{xc + ws/2, r.y0, r.x1, r.y1}
		sa[sE], sb[sW] = inner, inner
		g.add(lStreet, g.line(orb.Point{xc, g.ys[j]}, orb.Point{xc, g.ys[j+1]}),
			props{"name": name.zh, "name_en": name.en, "kind": "street", "width": ws})
	} else {
		yc := r.y0 + r.h()*g.u(0.4, 0.6)
		ra, rb = rect{r.x0, r.y0, r.x1, yc - ws/2}, rect{r.x0, yc + ws/2, r.x1, r.y1}
		sa[sN], sb[sS] = inner, inner
		g.add(lStreet, g.line(orb.Point{g.xs[i], yc}, orb.Point{g.xs[i+1], yc}),
			props{"name": name.zh, "name_en": name.en, "kind": "street", "width": ws})
	}
	g.compound(cm, seq, b, clusters, ra, sa)
	g.compound(cm, seq, kindB, clusters, rb, sb)
}

// compound names, emits and fills one compound.
func (g *gen) compound(cm *community, seq *int, b blockInfo, clusters []*cluster, r rect, sides [4]side) {
	*seq++
	c := &compound{code: fmt.Sprintf("%s-%03d", cm.code, *seq), kind: b.kind, r: r, sides: sides, comm: cm}
	switch b.kind {
	case kindVillage:
		cl := clusters[b.cluster]
		c.name = cl.name
		if cl.total > 1 {
			q := cl.next
			cl.next++
			if q < len(quarters) {
				c.name = zhen{cl.name.zh + quarters[q].zh, cl.name.en + " " + quarters[q].en}
			} else {
				c.name = zhen{cl.name.zh + cn(q+1) + "坊", fmt.Sprintf("%s Quarter %d", cl.name.en, q+1)}
			}
		}
		c.owner = cl.company
	default:
		c.name = g.estateName(b.kind)
		switch b.kind {
		case kindResidential, kindCommercial:
			c.owner = "深圳市" + pick(g, estateBases).zh + "物业管理有限公司"
		case kindOldEstate:
			if g.p(0.5) {
				c.owner = cm.name.zh + "社区居委会（自管）"
			} else {
				c.owner = "深圳市" + pick(g, estateBases).zh + "物业管理有限公司"
			}
		case kindIndustrial:
			c.owner = g.company()
		}
	}
	p := props{
		"name": c.name.zh, "name_en": c.name.en, "code": c.code, "parent_code": cm.code,
		"kind": c.kind, "party_branch": c.name.zh + "党支部",
		"responsible": g.person(), "phone": g.phone(),
	}
	setIf(p, "property_company", c.owner)
	g.add(lComp, g.rectPoly(r), p)

	if c.kind == kindVillage {
		g.fillVillage(c)
	} else {
		g.fillEstate(c)
	}
	// village flats are mostly let to single migrant workers and couples
	if c.kind == kindVillage {
		cm.people += float64(c.house) * g.u(1.5, 1.9)
	} else {
		cm.people += float64(c.house) * g.u(2.4, 2.9)
	}
}

// estateName returns a new, unique name for a non-village compound.
func (g *gen) estateName(kind string) zhen {
	for {
		base := estateBases[g.estateNext%len(estateBases)]
		g.estateNext++
		suf := pick(g, kindSuffix[kind])
		n := zhen{base.zh + suf.zh, base.en + " " + suf.en}
		for k := 0; g.usedNames[n.zh] && k < len(phases); k++ {
			n = zhen{base.zh + suf.zh + phases[k].zh, base.en + " " + suf.en + " " + phases[k].en}
		}
		if !g.usedNames[n.zh] {
			g.usedNames[n.zh] = true
			return n
		}
	}
}

// intersectionCameras puts public-security cameras on some street corners.
func (g *gen) intersectionCameras() {
	nx, ny := len(g.xs)-1, len(g.ys)-1
	for j := 0; j <= ny; j++ {
		for i := 0; i <= nx; i++ {
			if !g.p(0.3) {
				continue
			}
			// corners of the blocks around the crossing
			var cands [][2]float64 // signs (dx, dy) of the block from the crossing
			if i < nx && j < ny {
				cands = append(cands, [2]float64{1, 1})
			}
			if i > 0 && j < ny {
				cands = append(cands, [2]float64{-1, 1})
			}
			if i < nx && j > 0 {
				cands = append(cands, [2]float64{1, -1})
			}
			if i > 0 && j > 0 {
				cands = append(cands, [2]float64{-1, -1})
			}
			name := g.vl[i].name.zh + "与" + g.hl[j].name.zh + "交叉口"
			for k := range g.in(1, 2) {
				sg := pick(g, cands)
				pos := orb.Point{g.xs[i] + sg[0]*(g.vl[i].width/2+1), g.ys[j] + sg[1]*(g.hl[j].width/2+1)}
				var dir [2]float64
				switch g.r.IntN(3) {
				case 0: // at the crossing
					dir = [2]float64{-sg[0], -sg[1]}
				case 1: // along the N-S street, away from the crossing
					dir = [2]float64{0, sg[1]}
				default: // along the E-W street
					dir = [2]float64{sg[0], 0}
				}
				g.camera(camStreet, pos, dir, fmt.Sprintf("%s%d号摄像头", name, k+1), "罗湖公安分局")
			}
		}
	}
}
