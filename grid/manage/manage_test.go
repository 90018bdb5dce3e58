package manage

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"github.com/hexward/hexward/grid"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func pt(layer string, p orb.Point, props map[string]any) layers.Feature {
	return layers.Feature{Layer: layer, Geometry: p, Props: props}
}

// cellAt is the res-10 cell at (114.12, 22.55) and a point dx, dy metres
// from its centre.
func cellAt(t *testing.T) (h3.Cell, func(dx, dy float64) orb.Point) {
	c, err := grid.CellOf(orb.Point{114.12, 22.55}, grid.DefaultResolution)
	if err != nil {
		t.Fatal(err)
	}
	ll := c.LatLng()
	fr := spatial.NewFrame(orb.Point{ll.Lng, ll.Lat})
	return c, func(dx, dy float64) orb.Point { return fr.ToLonLat(orb.Point{dx, dy}) }
}

func TestAggregateKnownCell(t *testing.T) {
	c, at := cellAt(t)
	other := c.GridDisk(1)[1]
	far := at(2000, 0)
	bldg := func(p orb.Point, hh int64) layers.Feature {
		return layers.Feature{Layer: "buildings", Geometry: orb.Polygon{{p, {p[0] + 1e-5, p[1]}, {p[0] + 1e-5, p[1] + 1e-5}, {p[0], p[1] + 1e-5}, p}},
			Props: map[string]any{"households": hh}}
	}
	cellPoly := grid.CellPolygon(c)
	b := cellPoly.Bound()
	west := orb.Polygon{{b.Min, {b.Center().Lon(), b.Min.Lat()}, {b.Center().Lon(), b.Max.Lat()}, {b.Min.Lon(), b.Max.Lat()}, b.Min}}
	in := Inputs{
		Buildings: []layers.Feature{bldg(at(0, 0), 10), bldg(at(20, 10), 20), bldg(at(-15, -20), 5), bldg(far, 99)},
		Shops:     []layers.Feature{pt("shops", at(1, 1), nil), pt("shops", at(-30, 5), nil)},
		Sensors:   []layers.Feature{pt("sensors", at(5, 5), nil)},
		Alerts: []layers.Feature{pt("alerts", at(0, 3), map[string]any{"state": "raised"}), pt("alerts", at(3, 0), map[string]any{"state": "dispatched"}),
			pt("alerts", at(3, 3), map[string]any{"state": "resolved"})},
		Coverage: []orb.Polygon{west},
	}
	cs, err := Aggregate([]h3.Cell{c, other}, in)
	if err != nil {
		t.Fatal(err)
	}
	s := cs[0]
	if s.Buildings != 3 || s.Households != 35 || s.Shops != 2 || s.Sensors != 1 || s.OpenAlerts != 2 {
		t.Fatalf("cell stats %+v", s.Stats)
	}
	if math.Abs(s.AreaM2-15000)/15000 > 0.2 {
		t.Fatalf("area %v", s.AreaM2)
	}
	if math.Abs(s.CoverageShare()-0.5) > 0.03 {
		t.Fatalf("west half covered: share %v", s.CoverageShare())
	}
	if o := cs[1]; o.Buildings != 0 || o.OpenAlerts != 0 {
		t.Fatalf("neighbour cell %+v", o.Stats)
	}
	// the pyramid: the res-8 parent sums its children
	ps, err := Coarsen(cs, 8)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range ps {
		total += p.Buildings
		if p.Cell.Resolution() != 8 {
			t.Fatalf("parent resolution %d", p.Cell.Resolution())
		}
	}
	if total != 3 {
		t.Fatalf("pyramid buildings %d", total)
	}
	if _, err := Coarsen(cs, 11); err == nil {
		t.Error("coarsening to a finer resolution accepted")
	}
	if _, err := Aggregate([]h3.Cell{c, c}, in); err == nil {
		t.Error("duplicate cell accepted")
	}
	fs := CellFeatures(cs)
	if fs[0].Props["buildings"] != int64(3) || fs[0].Props["h3"] != c.String() || fs[0].Layer != "grid_cells" {
		t.Fatalf("cell feature %+v", fs[0].Props)
	}
}

func TestRollupAndAssign(t *testing.T) {
	fr := spatial.NewFrame(orb.Point{114.12, 22.55})
	rect := func(x0, y0, x1, y1 float64) orb.Polygon {
		ll := func(x, y float64) orb.Point { return fr.ToLonLat(orb.Point{x, y}) }
		return orb.Polygon{{ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1), ll(x0, y0)}}
	}
	areas := []Area{
		{Level: "communities", Code: "C1", Geometry: rect(0, 0, 400, 400)},
		{Level: "compounds", Code: "C1-1", ParentCode: "C1", Geometry: rect(0, 0, 100, 100)},
	}
	p := func(x, y float64) orb.Point { return fr.ToLonLat(orb.Point{x, y}) }
	in := Inputs{
		Shops:    []layers.Feature{pt("shops", p(50, 50), nil), pt("shops", p(200, 200), nil), pt("shops", p(500, 500), nil)},
		Coverage: []orb.Polygon{rect(0, 0, 100, 100)},
	}
	st, err := Rollup(areas, in)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Shops != 2 || st[1].Shops != 1 {
		t.Fatalf("shops community %d compound %d", st[0].Shops, st[1].Shops)
	}
	if math.Abs(st[0].AreaM2-160000) > 10 || math.Abs(st[1].CoverageShare()-1) > 0.01 || math.Abs(st[0].CoverageShare()-1.0/16) > 0.01 {
		t.Fatalf("areas %v %v coverage %v %v", st[0].AreaM2, st[1].AreaM2, st[0].CoverageShare(), st[1].CoverageShare())
	}

	cells, err := grid.Cover(areas[0].Geometry, 10)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Aggregate(cells, in)
	if err != nil {
		t.Fatal(err)
	}
	Assign(cs, areas[:1])
	inC1 := 0
	for _, c := range cs {
		if c.AreaCode == "C1" {
			inC1++
		}
	}
	if inC1 == 0 || inC1 == len(cs) {
		t.Fatalf("%d of %d cells have their centre in C1", inC1, len(cs))
	}

	officers := []layers.Feature{
		{ID: 7, Geometry: p(0, 0), Props: map[string]any{"name": "王网格", "duty": "grid_worker"}},
		{ID: 8, Geometry: p(400, 400), Props: map[string]any{"name": "李网格", "duty": "grid_worker"}},
		{ID: 9, Geometry: p(200, 200), Props: map[string]any{"name": "赵巡逻", "duty": "patrol"}},
	}
	AssignWorkers(cs, officers, map[h3.Cell]int64{cs[0].Cell: 9})
	for i, c := range cs {
		ll := c.Cell.LatLng()
		q := fr.ToXY(orb.Point{ll.Lng, ll.Lat})
		want := int64(7)
		if math.Hypot(q[0]-400, q[1]-400) < math.Hypot(q[0], q[1]) {
			want = 8
		}
		if i == 0 {
			want = 9
		}
		if c.WorkerID != want {
			t.Fatalf("cell %d worker %d (%s, %s), want %d", i, c.WorkerID, c.Worker, c.WorkerSource, want)
		}
	}
	if cs[0].WorkerSource != "stored" || cs[1].WorkerSource != "nearest" {
		t.Fatalf("sources %q %q", cs[0].WorkerSource, cs[1].WorkerSource)
	}
}

func TestRate(t *testing.T) {
	good := Indicators{CoverageShare: 0.9, EnclosureShare: 0.97, Incidents: 1, Households: 200, OpenAlerts: 0}
	for _, c := range []struct {
		name string
		mod  func(*Indicators)
		want Rating
	}{
		{"all good", func(*Indicators) {}, Green},
		{"coverage 0.7", func(i *Indicators) { i.CoverageShare = 0.7 }, Yellow},
		{"coverage 0.4", func(i *Indicators) { i.CoverageShare = 0.4 }, Red},
		{"coverage exactly green", func(i *Indicators) { i.CoverageShare = 0.8 }, Green},
		{"enclosure 0.9", func(i *Indicators) { i.EnclosureShare = 0.9 }, Yellow},
		{"enclosure 0.7", func(i *Indicators) { i.EnclosureShare = 0.7 }, Red},
		{"no zones", func(i *Indicators) { i.EnclosureShare = math.NaN() }, Green},
		{"3 per 100", func(i *Indicators) { i.Incidents = 6 }, Yellow},
		{"6 per 100", func(i *Indicators) { i.Incidents = 12 }, Red},
		{"small compound, 1 incident", func(i *Indicators) { i.Households = 10 }, Green},
		{"one open alert", func(i *Indicators) { i.OpenAlerts = 1 }, Yellow},
		{"five open alerts", func(i *Indicators) { i.OpenAlerts = 5 }, Red},
	} {
		in := good
		c.mod(&in)
		got, reasons := Rate(in)
		if got != c.want {
			t.Errorf("%s: %s %v, want %s", c.name, got, reasons, c.want)
		}
		if (got == Green) != (len(reasons) == 0) {
			t.Errorf("%s: reasons %v", c.name, reasons)
		}
	}
}

func TestOverridesAndAssignments(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	if err := SetOverride(ctx, pool, "LH-DM-01-001", "purple", "admin", "x"); err == nil {
		t.Fatal("bad rating accepted")
	}
	if err := SetOverride(ctx, pool, "LH-DM-01-001", Red, "admin", "  "); err == nil {
		t.Fatal("override without a reason accepted")
	}
	if err := ClearOverride(ctx, pool, "LH-DM-01-001", "admin", "none"); err == nil {
		t.Fatal("clearing a missing override accepted")
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM placard_override_log`).Scan(&n)
	if n != 0 {
		t.Fatalf("failed calls logged %d rows", n)
	}
	if err := SetOverride(ctx, pool, "LH-DM-01-001", Red, "zhang", "fire inspection failed"); err != nil {
		t.Fatal(err)
	}
	if err := SetOverride(ctx, pool, "LH-DM-01-001", Yellow, "li", "partly fixed"); err != nil {
		t.Fatal(err)
	}
	os, err := Overrides(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := os["LH-DM-01-001"]
	if !ok || o.Rating != Yellow || o.By != "li" || o.Reason != "partly fixed" || o.At.IsZero() {
		t.Fatalf("override %+v", os)
	}
	compound := layers.Feature{Layer: "compounds", Geometry: orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, Props: map[string]any{"code": "LH-DM-01-001", "name": "湖贝"}}
	f := PlacardFeature(compound, Indicators{CoverageShare: 0.9, EnclosureShare: math.NaN()}, DefaultThresholds, &o)
	if f.Props["rating"] != "yellow" || f.Props["computed_rating"] != "green" || f.Props["override_by"] != "li" || f.Props["overridden"] != true {
		t.Fatalf("placard %+v", f.Props)
	}
	if _, has := f.Props["enclosure_share"]; has {
		t.Fatal("enclosure share without zones")
	}
	if err := ClearOverride(ctx, pool, "LH-DM-01-001", "wang", "rectified"); err != nil {
		t.Fatal(err)
	}
	os, _ = Overrides(ctx, pool)
	if len(os) != 0 {
		t.Fatalf("override left %+v", os)
	}
	rows, _ := pool.Query(ctx, `SELECT coalesce(rating, ''), by_user, reason FROM placard_override_log ORDER BY seq`)
	var log []string
	for rows.Next() {
		var r, by, why string
		rows.Scan(&r, &by, &why)
		log = append(log, r+"/"+by+"/"+why)
	}
	if got := strings.Join(log, ","); got != "red/zhang/fire inspection failed,yellow/li/partly fixed,/wang/rectified" {
		t.Fatalf("log %s", got)
	}

	c, _ := cellAt(t)
	if err := SetAssignment(ctx, pool, c, 7, ""); err == nil {
		t.Fatal("assignment without who accepted")
	}
	if err := SetAssignment(ctx, pool, h3.Cell(12345), 7, "admin"); err == nil {
		t.Fatal("invalid cell accepted")
	}
	if err := SetAssignment(ctx, pool, c, 7, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := SetAssignment(ctx, pool, c, 8, "admin"); err != nil {
		t.Fatal(err)
	}
	as, err := Assignments(ctx, pool)
	if err != nil || len(as) != 1 || as[c] != 8 {
		t.Fatalf("assignments %v, %v", as, err)
	}
	if err := SetAssignment(ctx, pool, c, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if as, _ := Assignments(ctx, pool); len(as) != 0 {
		t.Fatalf("assignment not removed: %v", as)
	}
}

// TestDemoGrid covers the demo communities at res 10 and checks that the
// cells count every building exactly once and that the roll-ups add up.
func TestDemoGrid(t *testing.T) {
	by := map[string][]layers.Feature{}
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { by[f.Layer] = append(by[f.Layer], f); return nil }); err != nil {
		t.Fatal(err)
	}
	seen := map[h3.Cell]bool{}
	var cells []h3.Cell
	for _, c := range by["communities"] {
		cs, err := grid.Cover(c.Geometry, grid.DefaultResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range cs {
			if !seen[x] {
				seen[x] = true
				cells = append(cells, x)
			}
		}
	}
	in := Inputs{Buildings: by["buildings"], Shops: by["shops"], Sensors: by["sensors"]}
	cs, err := Aggregate(cells, in)
	if err != nil {
		t.Fatal(err)
	}
	var b, hh int64
	for _, c := range cs {
		b += int64(c.Buildings)
		hh += c.Households
	}
	var wantHH int64
	for _, f := range by["buildings"] {
		wantHH += f.Props["households"].(int64)
	}
	if b != int64(len(by["buildings"])) || hh != wantHH {
		t.Fatalf("cells count %d buildings, %d households; want %d, %d", b, hh, len(by["buildings"]), wantHH)
	}
	areas := append(AreasOf(by["subdistricts"]), AreasOf(by["communities"])...)
	st, err := Rollup(areas, in)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, a := range st[1:] {
		sum += a.Buildings
	}
	if st[0].Buildings != len(by["buildings"]) || sum != st[0].Buildings {
		t.Fatalf("subdistrict %d, communities %d, buildings %d", st[0].Buildings, sum, len(by["buildings"]))
	}
}
