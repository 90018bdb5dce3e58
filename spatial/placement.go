package spatial

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"runtime"

	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
)

// StandardCamera is the lens and mount a suggestion uses unless told
// otherwise: a 1080p camera with a 90° lens, 4 m up, tilted 20° down.
var StandardCamera = Camera{MountHeight: 4, HFOVDeg: 90, Tilt: 20, ResH: 1920, ResV: 1080}

// SuggestOptions tune Suggest; zero fields take the defaults.
type SuggestOptions struct {
	K             int          // cameras to place (1…1000)
	Area          orb.Geometry // lon/lat Polygon/MultiPolygon the sites must be in; nil: anywhere
	Level         string       // level to cover; default "observe", else the lowest level
	Template      Camera       // lens and mount; default StandardCamera
	BearingStep   float64      // degrees between candidate bearings; default 30
	SiteSpacing   float64      // minimum distance between candidate sites, m; default 3
	MaxCandidates int          // sites × bearings at most (spacing grows to fit); default 40000
	// Score = street area (m²) + GateWeight·gates + LengthWeight·street
	// length (m) + FenceWeight·fence length (m) newly covered at Level.
	GateWeight, LengthWeight, FenceWeight float64 // default 25, 0, 0
}

// Suggestion is one chosen camera, its views, what it adds at each level
// given the cameras before it, and its score at the chosen level.
type Suggestion struct {
	Camera Camera
	Views  []View
	Gain   []LevelAmounts
	Score  float64
}

type site struct {
	p   orb.Point  // XY
	out [2]float64 // unit vector away from the wall (zero for a gate)
}

type cand struct {
	site  int
	brg   float64
	xy    orb.MultiPolygon
	score float64
	round int
	idx   int
}

type candHeap []*cand

func (h candHeap) Len() int { return len(h) }
func (h candHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	return h[i].idx < h[j].idx // deterministic ties
}
func (h candHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)   { *h = append(*h, x.(*cand)) }
func (h *candHeap) Pop() any {
	o := *h
	x := o[len(o)-1]
	*h = o[:len(o)-1]
	return x
}

// isStreet reports whether the XY point is in a street-area cell.
func (m *Model) isStreet(p orb.Point) bool {
	col := int32(math.Floor((p[0] - m.g.x0) / m.g.cell))
	row := int(math.Floor((p[1] - m.g.y0) / m.g.cell))
	hit := false
	m.area.visit(row, span{col, col + 1}, func(_, _, _ int32) { hit = true })
	return hit
}

// sites lists candidate sites: building corners and wall midpoints that
// face public space (a street-area cell 1–2.5 m in front of them), and
// gates; one per spacing×spacing square.
func (m *Model) sites(mask orb.MultiPolygon, spacing float64) []site {
	seen := map[[2]int64]bool{}
	var out []site
	add := func(p orb.Point, d [2]float64) {
		if mask != nil && !inPolys(mask, p) {
			return
		}
		k := [2]int64{int64(math.Floor(p[0] / spacing)), int64(math.Floor(p[1] / spacing))}
		if seen[k] {
			return
		}
		seen[k] = true
		out = append(out, site{p, d})
	}
	for _, p := range m.gates {
		add(p, [2]float64{})
	}
	facing := func(p orb.Point, d [2]float64) bool {
		for _, s := range []float64{1, 2.5} {
			if m.isStreet(orb.Point{p[0] + s*d[0], p[1] + s*d[1]}) {
				return true
			}
		}
		return false
	}
	for _, poly := range m.obs.polys {
		if len(poly) == 0 {
			continue
		}
		r := poly[0]
		n := len(r)
		if n > 1 && r[0] == r[n-1] {
			n--
		}
		if n < 3 {
			continue
		}
		ccw := ringArea(r[:n]) > 0
		normal := func(a, b orb.Point) [2]float64 { // outward
			l := math.Hypot(b[0]-a[0], b[1]-a[1])
			if l == 0 {
				return [2]float64{}
			}
			nx, ny := (b[1]-a[1])/l, -(b[0]-a[0])/l
			if !ccw {
				nx, ny = -nx, -ny
			}
			return [2]float64{nx, ny}
		}
		for k := range n {
			a, b, c := r[(k+n-1)%n], r[k], r[(k+1)%n]
			n1, n2 := normal(a, b), normal(b, c)
			bis := [2]float64{n1[0] + n2[0], n1[1] + n2[1]}
			if l := math.Hypot(bis[0], bis[1]); l > 1e-9 {
				bis = [2]float64{bis[0] / l, bis[1] / l}
				p := orb.Point{b[0] + 0.1*bis[0], b[1] + 0.1*bis[1]}
				if facing(p, bis) {
					add(p, bis)
				}
			}
			if math.Hypot(c[0]-b[0], c[1]-b[1]) >= 2*spacing {
				p := orb.Point{(b[0]+c[0])/2 + 0.1*n2[0], (b[1]+c[1])/2 + 0.1*n2[1]}
				if facing(p, n2) {
					add(p, n2)
				}
			}
		}
	}
	return out
}

// Suggest places K new cameras greedily, each where it adds the most score
// at the chosen level to the coverage of the cameras before it (existing
// cameras included), from candidate sites (see SuggestOptions) and bearings
// every BearingStep degrees facing away from the wall. Lazy greedy
// evaluation (CELF) gives the same choice as plain greedy, within 1 − 1/e
// of the best K-camera choice among the candidates (coverage is monotone
// submodular). Scores never increase along the result; it stops early
// when no candidate adds anything. The model is not changed.
func (m *Model) Suggest(o SuggestOptions) ([]Suggestion, error) {
	if o.K < 1 || o.K > 1000 {
		return nil, fmt.Errorf("spatial: suggest %d cameras: want 1…1000", o.K)
	}
	if o.Level == "" {
		o.Level = "observe"
		if m.Levels.Index(o.Level) < 0 {
			o.Level = m.Levels[0].Name
		}
	}
	li, err := m.level(o.Level)
	if err != nil {
		return nil, err
	}
	if o.Template == (Camera{}) {
		o.Template = StandardCamera
	}
	tpl := o.Template
	tpl.Pos, tpl.Bearing, tpl.ID = m.Frame.Origin, 0, 0
	if err := tpl.Validate(); err != nil {
		return nil, fmt.Errorf("spatial: template: %w", err)
	}
	def := func(v *float64, d float64, name string, lo, hi float64) error {
		if *v == 0 {
			*v = d
		}
		if !(*v >= lo && *v <= hi) {
			return fmt.Errorf("spatial: %s %v out of [%v, %v]", name, *v, lo, hi)
		}
		return nil
	}
	if err := errors.Join(def(&o.BearingStep, 30, "bearing step", 1, 180), def(&o.SiteSpacing, 3, "site spacing", 0.5, 1000),
		def(&o.GateWeight, 25, "gate weight", 0, 1e9), def(&o.LengthWeight, 0, "length weight", 0, 1e9),
		def(&o.FenceWeight, 0, "fence weight", 0, 1e9)); err != nil {
		return nil, err
	}
	if o.MaxCandidates == 0 {
		o.MaxCandidates = 40000
	}
	mask, err := m.areaMask(o.Area)
	if err != nil {
		return nil, err
	}
	near, outer, ok := tpl.Ring(m.Levels[li])
	outer = math.Min(outer, m.opt.MaxRange)
	if !ok || outer <= near {
		return nil, fmt.Errorf("spatial: the template camera sees nothing at %s level", o.Level)
	}
	var bearings []float64
	for b := 0.0; b < 360-1e-9; b += o.BearingStep {
		bearings = append(bearings, b)
	}
	spacing := o.SiteSpacing
	var sites []site
	for {
		sites = m.sites(mask, spacing)
		if len(sites)*len(bearings) <= o.MaxCandidates {
			break
		}
		spacing *= 1.5
	}
	score := func(a Amounts) float64 {
		return a.StreetAreaM2 + o.GateWeight*float64(a.Gates) + o.LengthWeight*a.StreetLengthM + o.FenceWeight*a.FenceLengthM
	}
	hfov := tpl.HFOV()
	// one 360° sweep per site, then a sector per bearing
	per := make([][]*cand, len(sites))
	eyes := make([]orb.Point, len(sites))
	var next atomic.Int64
	var wg sync.WaitGroup
	base := &m.cov[li]
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sites) {
					return
				}
				s := sites[i]
				dir := s.out
				if dir == ([2]float64{}) {
					dir = [2]float64{0, 1}
				}
				eye, ignore := m.obs.Eye(s.p, dir)
				eyes[i] = eye
				full := m.obs.Visibility(eye, 0, 2*math.Pi, outer, ignore)
				for _, b := range bearings {
					if s.out != ([2]float64{}) {
						d := bearingDir(b)
						if d[0]*s.out[0]+d[1]*s.out[1] < math.Cos((90-hfov/4)*deg) {
							continue // looks into its own wall
						}
					}
					c := tpl
					c.Bearing = b
					st, w := sectorOf(c)
					xy := full.Sector(st, w).Polygon(near, outer)
					if len(xy) == 0 {
						continue
					}
					per[i] = append(per[i], &cand{site: i, brg: b, xy: xy, score: score(m.gain(base, xy))})
				}
			}
		}()
	}
	wg.Wait()
	var h candHeap
	for _, cs := range per {
		for _, c := range cs {
			if c.score > 0 {
				c.idx = len(h)
				h = append(h, c)
			}
		}
	}
	heap.Init(&h)
	state := base.clone()
	var chosen []*cand
	for round := 0; len(chosen) < o.K && h.Len() > 0; {
		c := h[0]
		if c.round == round {
			heap.Pop(&h)
			if c.score <= 0 {
				break
			}
			chosen = append(chosen, c)
			m.mark(&state, c.xy)
			round++
			continue
		}
		c.score = score(m.gain(&state, c.xy))
		c.round = round
		heap.Fix(&h, 0)
	}
	// report each choice against all levels, in order
	states := make([]levelCov, len(m.cov))
	for i := range m.cov {
		states[i] = m.cov[i].clone()
	}
	out := make([]Suggestion, 0, len(chosen))
	for _, c := range chosen {
		cam := tpl
		cam.Pos = m.Frame.ToLonLat(eyes[c.site])
		cam.Bearing = c.brg
		vs := m.views1(cam, nil)
		sg := Suggestion{Camera: cam, Views: vs, Gain: make([]LevelAmounts, len(vs)), Score: c.score}
		for i, v := range vs {
			sg.Gain[i] = LevelAmounts{Level: v.Level, Amounts: m.gain(&states[i], v.xy)}
			m.mark(&states[i], v.xy)
		}
		out = append(out, sg)
	}
	return out, nil
}
