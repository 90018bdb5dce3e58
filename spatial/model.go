package spatial

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Options tune a Model; the zero value gives the defaults.
type Options struct {
	Levels   Levels  // default IEC2014
	CellSize float64 // coverage raster cell, m; default 0.5
	MaxRange float64 // cap on any view's ground range, m; default 300
}

// Model holds a district in a metric frame: the buildings as obstacles, the
// public space as a coverage raster, and the coverage of the district's
// cameras at each level. Build it with NewModel, then Recompute. Views,
// Evaluate, Report, BlindSpots, UnseenGates and Suggest may run
// concurrently with each other, not with Recompute or Add.
type Model struct {
	Frame  Frame
	Levels Levels
	opt    Options
	obs    *Obstacles
	cams   []Camera

	g                   grid
	area, length, fence *cellSet
	gates               []orb.Point // XY
	gateIDs             []int64
	gateTree            rtree.RTreeG[int32]
	cov                 []levelCov
	views               [][]View
}

// levelCov is what the cameras cover at one level: one bit per element.
type levelCov struct{ area, length, fence, gates bitset }

func (m *Model) newLevelCov() levelCov {
	return levelCov{newBitset(m.area.n), newBitset(m.length.n), newBitset(m.fence.n), newBitset(len(m.gates))}
}

func (l levelCov) clone() levelCov {
	c := func(b bitset) bitset { return append(bitset(nil), b...) }
	return levelCov{c(l.area), c(l.length), c(l.fence), c(l.gates)}
}

// NewModel projects the district into a frame around its centre, indexes
// the buildings and rasterises the public space: street area (each centre
// line buffered by half its width, less the buildings), street centre-line
// length, fence length and gates. Every camera is validated; nothing is
// computed for them until Recompute.
func NewModel(d District, o Options) (*Model, error) {
	if o.Levels == nil {
		o.Levels = IEC2014
	}
	if err := o.Levels.Validate(); err != nil {
		return nil, err
	}
	if o.CellSize == 0 {
		o.CellSize = 0.5
	}
	if !(o.CellSize >= 0.05 && o.CellSize <= 10) {
		return nil, fmt.Errorf("spatial: cell size %v m out of [0.05, 10]", o.CellSize)
	}
	if o.MaxRange == 0 {
		o.MaxRange = 300
	}
	if !(o.MaxRange > 0 && o.MaxRange <= 5000) {
		return nil, fmt.Errorf("spatial: max range %v m out of (0, 5000]", o.MaxRange)
	}
	for _, c := range d.Cameras {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	for i, s := range d.Streets {
		if !(s.Width > 0 && s.Width < 1000) {
			return nil, fmt.Errorf("spatial: street %d: width %v m", i, s.Width)
		}
	}
	var b orb.Bound
	first := true
	ext := func(g orb.Geometry) {
		if first {
			b, first = g.Bound(), false
		} else {
			b = b.Union(g.Bound())
		}
	}
	for _, p := range d.Buildings {
		ext(p)
	}
	for _, s := range d.Streets {
		ext(s.Line)
	}
	for _, f := range d.Fences {
		ext(f)
	}
	for _, g := range d.Gates {
		ext(g.Pos)
	}
	for _, c := range d.Cameras {
		ext(c.Pos)
	}
	if first {
		return nil, errors.New("spatial: empty district")
	}
	if b.Max[0]-b.Min[0] > 1 || b.Max[1]-b.Min[1] > 1 {
		return nil, fmt.Errorf("spatial: district %v spans more than 1°: not one district", b)
	}
	m := &Model{Frame: FrameFor(b), Levels: o.Levels, opt: o, cams: d.Cameras}
	fr := m.Frame
	polys := make([]orb.Polygon, len(d.Buildings))
	for i, p := range d.Buildings {
		polys[i] = fr.Project(p).(orb.Polygon)
	}
	m.obs = NewObstacles(polys)

	maxW := 0.0
	for _, s := range d.Streets {
		maxW = math.Max(maxW, s.Width)
	}
	xb := fr.Project(b).(orb.Bound).Pad(maxW/2 + 2*o.CellSize)
	m.g = newGrid(xb, o.CellSize)
	g := m.g

	street := g.newSpanRows()
	var lengths []cellW
	for _, s := range d.Streets {
		l := fr.Project(s.Line).(orb.LineString)
		hw := s.Width / 2
		for k := 0; k+1 < len(l); k++ {
			a, c := l[k], l[k+1]
			r0, r1 := g.rowRange(math.Min(a[1], c[1])-hw, math.Max(a[1], c[1])+hw)
			for row := r0; row <= r1; row++ {
				if sp, ok := g.capsuleSpan(g.y0+(float64(row)+0.5)*g.cell, a, c, hw); ok {
					street[row] = append(street[row], sp)
				}
			}
			g.lineCells(&lengths, a, c)
		}
	}
	street.normalize()
	bld := g.newSpanRows()
	for _, p := range polys {
		g.rasterRings(polyRings(orb.MultiPolygon{p}), func(row int, s span) { bld[row] = append(bld[row], s) })
	}
	bld.normalize()
	street.subtract(bld)
	m.area = setFromSpans(street, g.cell*g.cell)
	m.length = setFromWeights(g, lengths)
	var fl []cellW
	for _, f := range d.Fences {
		l := fr.Project(f).(orb.LineString)
		for k := 0; k+1 < len(l); k++ {
			g.lineCells(&fl, l[k], l[k+1])
		}
	}
	m.fence = setFromWeights(g, fl)
	for i, gt := range d.Gates {
		p := fr.ToXY(gt.Pos)
		m.gates = append(m.gates, p)
		m.gateIDs = append(m.gateIDs, gt.ID)
		m.gateTree.Insert(p, p, int32(i))
	}
	m.cov = make([]levelCov, len(m.Levels))
	for i := range m.cov {
		m.cov[i] = m.newLevelCov()
	}
	return m, nil
}

// Obstacles returns the model's buildings in its frame.
func (m *Model) Obstacles() *Obstacles { return m.obs }

// View is what a camera sees at one level: the ground ring [Near, Range]
// in metres within its sector, less what buildings hide. Geometry is in
// lon/lat; it is empty when the camera sees nothing at that level.
type View struct {
	Level       string
	Near, Range float64
	Geometry    orb.MultiPolygon
	xy          orb.MultiPolygon
}

// Area is the view's area in m².
func (v View) Area() float64 { return areaXY(v.xy) }

// Feature returns the view as a camera_views feature (props camera_id,
// level, range_m), its geometry a Polygon when it has one part. ok is
// false for an empty view, which has no feature.
func (v View) Feature(cameraID int64) (f Feature, ok bool) {
	if len(v.Geometry) == 0 {
		return Feature{}, false
	}
	var g orb.Geometry = v.Geometry
	if len(v.Geometry) == 1 {
		g = v.Geometry[0]
	}
	return Feature{Layer: "camera_views", Geometry: g, Props: map[string]any{
		"camera_id": cameraID, "level": v.Level, "range_m": math.Round(v.Range*10) / 10,
	}}, true
}

// Views returns the camera's views, one per level in the order of
// m.Levels. The eye is the camera's position, moved off the wall it is
// mounted on (see Obstacles.Eye).
func (m *Model) Views(c Camera) ([]View, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return m.views1(c, nil), nil
}

// sectorOf returns the math-angle sector (start, width) of a camera.
func sectorOf(c Camera) (start, width float64) {
	h := c.HFOV()
	return (90 - c.Bearing - h/2) * deg, h * deg
}

func bearingDir(b float64) [2]float64 { return [2]float64{math.Sin(b * deg), math.Cos(b * deg)} }

// views1 computes the views of a valid camera; full, when given, is a
// 360° sweep from its eye to reuse.
func (m *Model) views1(c Camera, full *Sweep) []View {
	out := make([]View, len(m.Levels))
	rad := 0.0
	rings := make([][2]float64, len(m.Levels))
	for i, l := range m.Levels {
		near, outer, ok := c.Ring(l)
		outer = math.Min(outer, m.opt.MaxRange)
		out[i] = View{Level: l.Name, Near: near, Range: math.Max(outer, 0)}
		if ok && outer > near {
			rings[i] = [2]float64{near, outer}
			rad = math.Max(rad, outer)
		}
	}
	if rad == 0 {
		return out
	}
	start, width := sectorOf(c)
	var sw Sweep
	if full != nil {
		sw = full.Sector(start, width)
	} else {
		eye, ignore := m.obs.Eye(m.Frame.ToXY(c.Pos), bearingDir(c.Bearing))
		sw = m.obs.Visibility(eye, start, width, rad, ignore)
	}
	for i := range out {
		if rings[i][1] > rings[i][0] {
			out[i].xy = sw.Polygon(rings[i][0], rings[i][1])
			if len(out[i].xy) > 0 {
				out[i].Geometry = m.Frame.Unproject(out[i].xy).(orb.MultiPolygon)
			}
		}
	}
	return out
}

// Sector returns the part [start, start+width] (absolute radians) of a
// 360° sweep, as if swept alone.
func (sw Sweep) Sector(start, width float64) Sweep {
	width = math.Min(width, 2*math.Pi)
	start = normAngle(start)
	out := Sweep{Eye: sw.Eye, Start: start, Width: width, Radius: sw.Radius}
	off := normAngle(start - sw.Start)
	for pass := 0; pass < 2; pass++ {
		shift := -off + float64(pass)*sw.Width
		for _, s := range sw.Spans {
			f, t := math.Max(s.From+shift, 0), math.Min(s.To+shift, width)
			if t > f {
				s.From, s.To = f, t
				if n := len(out.Spans); n > 0 {
					l := &out.Spans[n-1]
					if l.Open == s.Open && l.A == s.A && l.B == s.B && l.To == f {
						l.To = t
						continue
					}
				}
				out.Spans = append(out.Spans, s)
			}
		}
	}
	return out
}

// Recompute computes the views of every camera of the district, in
// parallel over GOMAXPROCS, and rebuilds the coverage from them.
func (m *Model) Recompute() {
	m.views = make([][]View, len(m.cams))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(m.cams) {
					return
				}
				m.views[i] = m.views1(m.cams[i], nil)
			}
		}()
	}
	wg.Wait()
	for i := range m.cov {
		m.cov[i] = m.newLevelCov()
	}
	m.parallelLevels(func(li int) {
		for _, vs := range m.views {
			m.mark(&m.cov[li], vs[li].xy)
		}
	})
}

func (m *Model) parallelLevels(fn func(li int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for li := range m.Levels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			fn(li)
			<-sem
		}()
	}
	wg.Wait()
}

// CameraViews returns the views of the district's cameras from the last
// Recompute (camera i of District.Cameras → CameraViews()[i], one View
// per level).
func (m *Model) CameraViews() [][]View { return m.views }

// Add adds a camera to the model and its views to the coverage, and
// returns the views.
func (m *Model) Add(c Camera) ([]View, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	vs := m.views1(c, nil)
	m.cams = append(m.cams, c)
	m.views = append(m.views, vs)
	for li := range m.Levels {
		m.mark(&m.cov[li], vs[li].xy)
	}
	return vs, nil
}
