package demo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/grid"
)

// DemoDevice is the account that reports every demo sensor's readings,
// and DemoOfficerDevice the phone of the first demo officer.
const (
	DemoDevice        = "demo-device"
	DemoOfficerDevice = "demo-officer"
)

// sensorKind is one kind of IoT sensor with its unit and thresholds.
type sensorKind struct {
	kind, zh, unit            string
	share                     float64 // of sensors
	warn, alarm, hyst         float64
	minDuration, offlineAfter int64
}

var sensorKinds = []sensorKind{
	{"electricity", "用电监测", "A", 0.40, 32, 40, 2, 30, 600},
	{"gas", "燃气探测", "%LEL", 0.25, 10, 20, 2, 5, 600},
	{"water_immersion", "水浸探测", "cm", 0.15, 2, 5, 0.5, 10, 900},
	{"smoke", "烟感", "%obs/m", 0.15, 5, 10, 1, 5, 600},
	{"door", "门磁", "open", 0.05, 0.5, 0.5, 0.1, 60, 1800},
}

var duties = []string{"patrol", "patrol", "safety", "grid_worker", "guard", "volunteer"}

// live adds what the live half watches: sensors in about one building in
// eight (more in urban villages, where the risks are), reporting through
// one gateway account, and the officers at a point of a street each, not
// yet reporting.
func (g *gen) live() {
	for _, b := range g.out[lBldg] {
		if !g.p(0.125) {
			continue
		}
		at, ok := grid.Anchor(b.Geometry)
		if !ok {
			continue
		}
		k := g.pickSensorKind()
		name, _ := b.Props["name"].(string)
		p := props{
			"name": name + " " + k.zh, "kind": k.kind, "unit": k.unit, "device": DemoDevice,
			"warn_above": k.warn, "alarm_above": k.alarm, "hysteresis": k.hyst,
			"min_duration_s": k.minDuration, "offline_after_s": k.offlineAfter, "status": "normal",
			"responsible": b.Props["responsible"], "phone": b.Props["phone"],
		}
		g.add(lSensor, round7(at), p)
	}
	streets := g.out[lStreet]
	n := max(6, int(math.Round(60*g.scale)))
	for i := range n {
		st := streets[g.r.IntN(len(streets))]
		var at orb.Point
		switch geom := st.Geometry.(type) {
		case orb.LineString:
			at = geom[g.r.IntN(len(geom))]
		case orb.MultiLineString:
			at = geom[0][0]
		}
		device := fmt.Sprintf("demo-phone-%d", i+1)
		if i == 0 {
			device = DemoOfficerDevice
		}
		g.add(lOfficer, at, props{
			"name": g.person(), "duty": duties[g.r.IntN(len(duties))], "device": device,
			"team": fmt.Sprintf("第%d巡查组", i%8+1), "phone": g.phone(), "available": true,
			"patrol_zone": g.patrolZone(i, at),
		})
	}
}

// patrolZone is the code of the zone officer i, first placed at at,
// patrols: the nearest village zone for every other officer, else the
// nearest compound. It draws no random numbers.
func (g *gen) patrolZone(i int, at orb.Point) string {
	zones := g.out[lZone]
	if i%2 == 1 || len(zones) == 0 {
		zones = g.out[lComp]
	}
	best, bestD := "", math.Inf(1)
	for _, z := range zones {
		b := z.Geometry.Bound()
		dx := max(b.Min[0]-at[0], 0, at[0]-b.Max[0]) * math.Cos(at[1]*math.Pi/180)
		dy := max(b.Min[1]-at[1], 0, at[1]-b.Max[1])
		if d := dx*dx + dy*dy; d < bestD {
			best, bestD = z.Props["code"].(string), d
		}
	}
	return best
}

func (g *gen) pickSensorKind() sensorKind {
	x := g.r.Float64()
	for _, k := range sensorKinds {
		if x < k.share {
			return k
		}
		x -= k.share
	}
	return sensorKinds[0]
}

func round7(p orb.Point) orb.Point {
	return orb.Point{math.Round(p[0]*1e7) / 1e7, math.Round(p[1]*1e7) / 1e7}
}
