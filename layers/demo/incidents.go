package demo

import (
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// incidentNotes are what a demo officer writes with a report of each kind.
var incidentNotes = map[string][]string{
	"fire_hazard":          {"楼道堆放纸箱，堵住消火栓", "电动车在楼道内充电", "私拉电线"},
	"sanitation":           {"门前垃圾未清理", "污水外溢", "油烟直排巷道"},
	"blocked_passage":      {"电动车堵住消防通道", "货物占道经营", "三轮车停放在巷口"},
	"illegal_construction": {"天台新搭铁皮房", "门前加建雨棚"},
	"public_order":         {"夜间聚集喧哗", "可疑人员徘徊"},
	"facility_damage":      {"路灯不亮", "井盖松动", "监控摄像头被遮挡"},
	"other":                {"群众反映情况，需现场核实"},
}

// Incidents makes n officers' incident reports for the demo district, at
// points along its shop streets (the street fronts that 门前三包
// attribution gives to a shop), reported by demo-officer within the 20 days
// before now, about a third of them closed by demo-operator. Unlike
// Generate it depends on now, since a report's time is absolute and the
// analyses count the recent ones. The same seed, streets, n and now give
// the same reports; without shop streets there are none.
func Incidents(seed int64, now time.Time, shopStreets []layers.Feature, n int) []layers.Feature {
	var lines []orb.LineString
	for _, f := range shopStreets {
		if l, ok := f.Geometry.(orb.LineString); ok && len(l) >= 2 {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || n <= 0 {
		return nil
	}
	l, _ := layers.Governance().Layer("incidents")
	kind, _ := l.Prop("kind")
	r := rand.New(rand.NewPCG(uint64(seed), 0x696e636964656e74)) // "incident"
	out := make([]layers.Feature, 0, n)
	for range n {
		line := lines[r.IntN(len(lines))]
		s := r.IntN(len(line) - 1)
		a, b, t := line[s], line[s+1], r.Float64()
		p := round7(orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])})
		k := kind.Enum[r.IntN(len(kind.Enum))]
		notes := incidentNotes[k]
		at := now.Add(-time.Hour - time.Duration(r.Float64()*float64(20*24*time.Hour))).UTC().Truncate(time.Second)
		props := map[string]any{"kind": k, "note": notes[r.IntN(len(notes))], "state": "open",
			"reported_by": "demo-officer", "reported_at": at.Format(time.RFC3339)}
		if closed := at.Add(time.Hour + time.Duration(r.Float64()*float64(48*time.Hour))); r.Float64() < 1.0/3 && closed.Before(now) {
			props["state"], props["closed_by"], props["closed_at"], props["close_note"] = "closed", "demo-operator", closed.UTC().Format(time.RFC3339), "已现场处理"
		}
		out = append(out, layers.Feature{Layer: "incidents", Geometry: p, Props: props})
	}
	return out
}
