package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/internal/servicetest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/readings"
	"github.com/hexward/hexward/web"
)

// startDemoServer serves a small demo district (with its demo accounts)
// on a loopback port, as `hexward serve --demo` does.
func startDemoServer(t *testing.T, ingestRate int) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	d, err := openDatabase(ctx, pgtest.URL(t), "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	store := layers.NewStore(d.pool, layers.Governance())
	if err := loadDemo(ctx, quiet(), store, 1, 0.05); err != nil {
		t.Fatal(err)
	}
	accounts := auth.NewAccounts(d.pool, nil)
	if err := firstRun(ctx, quiet(), accounts, store, "", "", true); err != nil {
		t.Fatal(err)
	}
	api := web.New(web.Config{Store: store, Accounts: accounts, Audit: auth.NewAudit(d.pool), Log: quiet(),
		Readings: readings.New(store, quiet()), IngestRate: ingestRate})
	srv := httptest.NewServer(api)
	t.Cleanup(func() { api.Close(); srv.Close() })
	return srv.URL, d.pool
}

func countRows(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSimulateDemo runs the simulator for a few seconds against a demo
// server with every sensor faulting: readings and positions are stored,
// the officers' markers move, and alerts are raised. A second run reuses
// the phone accounts.
func TestSimulateDemo(t *testing.T) {
	base, pool := startDemoServer(t, 0)
	ctx := context.Background()
	var out bytes.Buffer
	cfg := simConfig{URL: base, User: "demo-admin", Password: "demo-admin-pass", ReadingsRate: 300, PositionsRate: 12,
		Officers: -1, FaultRate: 1, Transport: "http", PositionsVia: "osmand", Duration: 9 * time.Second, Seed: 7,
		StatsEvery: 2 * time.Second, Grace: time.Minute, Out: &out}
	rep, err := runSimulation(ctx, quiet(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v\n%s", rep, out.String())
	if rep.Sensors < 50 || rep.Officers != 6 {
		t.Fatalf("simulated %d sensors, %d officers", rep.Sensors, rep.Officers)
	}
	if rep.ReadingsErrors != 0 || rep.PositionsErrors != 0 || rep.ReadingsAccepted == 0 || rep.PositionsAccepted == 0 {
		t.Fatalf("report: %+v", rep)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM readings`); int64(n) != rep.ReadingsAccepted {
		t.Fatalf("%d readings stored, %d accepted", n, rep.ReadingsAccepted)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM positions`); int64(n) != rep.PositionsAccepted {
		t.Fatalf("%d positions stored, %d accepted", n, rep.PositionsAccepted)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM features WHERE layer = 'officers' AND props ? 'fix_time'`); n != 6 {
		t.Fatalf("%d officers' markers moved, want 6", n)
	}
	raised := countRows(t, pool, `SELECT count(*) FROM features WHERE layer = 'alerts' AND props->>'condition' = 'threshold'`)
	if raised == 0 || rep.FaultEpisodes == 0 {
		t.Fatalf("%d threshold alerts, %d fault episodes", raised, rep.FaultEpisodes)
	}
	// Every walking officer's positions stay near the streets (GPS jitter
	// is at most 3 sd per axis) and the walk is at walking pace.
	if n := countRows(t, pool, `SELECT count(*) FROM positions p WHERE NOT EXISTS (SELECT 1 FROM features s WHERE s.layer = 'streets' AND ST_DWithin(s.geom::geography, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography, 15))`); n != 0 {
		t.Fatalf("%d positions off the streets", n)
	}
	if !strings.Contains(out.String(), "alerts raised") || !strings.Contains(out.String(), "readings sent") {
		t.Fatalf("no stats lines:\n%s", out.String())
	}
	// The phone accounts exist, as officers; the run's tokens are revoked.
	if n := countRows(t, pool, `SELECT count(*) FROM users WHERE name LIKE 'demo-phone-%' AND role = 'officer'`); n != 5 {
		t.Fatalf("%d phone accounts", n)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM api_tokens WHERE revoked IS NULL`); n != 0 {
		t.Fatalf("%d tokens left unrevoked", n)
	}

	// Again, with two officers and JSON positions: the accounts are reused.
	cfg.Officers, cfg.PositionsVia, cfg.ReadingsRate, cfg.FaultRate, cfg.Duration = 2, "json", 50, 0, 3*time.Second
	out.Reset()
	rep2, err := runSimulation(ctx, quiet(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Officers != 2 || rep2.PositionsAccepted == 0 || rep2.PositionsErrors != 0 || rep2.ReadingsErrors != 0 || rep2.FaultEpisodes != 0 {
		t.Fatalf("second run: %+v\n%s", rep2, out.String())
	}
	if n := countRows(t, pool, `SELECT count(*) FROM positions`); int64(n) != rep.PositionsAccepted+rep2.PositionsAccepted {
		t.Fatalf("%d positions stored after two runs", n)
	}
}

// TestSimulateIncidents runs the simulator with a high --incident-rate:
// the walking officers report incidents at their positions (on the
// streets, within the GPS jitter), of the catalogue's kinds, each by its
// phone's officer account; a phone whose account is a device's, which
// may not report, reports by the officer account <phone>-officer.
func TestSimulateIncidents(t *testing.T) {
	base, pool := startDemoServer(t, 0)
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT props->>'device' FROM features WHERE layer = 'officers' AND props ? 'device' ORDER BY id LIMIT 3`)
	if err != nil {
		t.Fatal(err)
	}
	phones, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(phones) != 3 {
		t.Fatalf("phones %v: %v", phones, err)
	}
	// The last of the three walking officers' phones is a device account.
	if _, err := auth.NewAccounts(pool, nil).CreateUser(ctx, auth.NewUser{Name: phones[2], Role: auth.Device}); err != nil {
		t.Fatal(err)
	}
	// The demo's own incident reports are there before the simulation.
	demoReports := countRows(t, pool, `SELECT count(*) FROM features WHERE layer = 'incidents'`)
	lastDemo := countRows(t, pool, `SELECT COALESCE(max(id), 0) FROM features WHERE layer = 'incidents'`)
	var out bytes.Buffer
	cfg := simConfig{URL: base, User: "demo-admin", Password: "demo-admin-pass", PositionsRate: 6, Officers: 3, IncidentRate: 36000,
		Transport: "http", PositionsVia: "osmand", Duration: 4 * time.Second, Seed: 5, Grace: time.Minute, Out: &out}
	rep, err := runSimulation(ctx, quiet(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v\n%s", rep, out.String())
	if rep.IncidentsReported == 0 || rep.IncidentsErrors != 0 || rep.PositionsErrors != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(out.String(), "incidents reported") {
		t.Fatalf("no incidents in the stats lines:\n%s", out.String())
	}
	if n := countRows(t, pool, `SELECT count(*) FROM features WHERE layer = 'incidents'`) - demoReports; int64(n) != rep.IncidentsReported {
		t.Fatalf("%d incidents stored, %d reported", n, rep.IncidentsReported)
	}
	l, _ := layers.Governance().Layer("incidents")
	kind, _ := l.Prop("kind")
	reporters := map[string]bool{phones[0]: true, phones[1]: true, phones[2] + "-officer": true}
	rows, err = pool.Query(ctx, `SELECT props->>'kind', props->>'state', props->>'reported_by',
		EXISTS (SELECT 1 FROM features s WHERE s.layer = 'streets' AND ST_DWithin(s.geom::geography, i.geom::geography, 15))
		FROM features i WHERE layer = 'incidents' AND id > $1`, lastDemo)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	var k, state, who string
	var onStreet bool
	if _, err := pgx.ForEachRow(rows, []any{&k, &state, &who, &onStreet}, func() error {
		if !slices.Contains(kind.Enum, k) || state != "open" || !reporters[who] || !onStreet {
			t.Errorf("incident of kind %q, state %q, by %q, on a street %v", k, state, who, onStreet)
		}
		by[who]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(by) != 3 {
		t.Fatalf("reports by %v, want each of %v", by, reporters)
	}
	// The device account stays a device; its officer account is an officer.
	if n := countRows(t, pool, `SELECT count(*) FROM users WHERE (name = $1 AND role = 'device') OR (name = $1 || '-officer' AND role = 'officer')`, phones[2]); n != 2 {
		t.Fatalf("%d of the device's two accounts as expected", n)
	}
}

// TestSimulatedIncidentPlan: an officer's reports come at the rate asked for, of
// every kind, the same for the same seed, and none at rate 0.
func TestSimulatedIncidentPlan(t *testing.T) {
	kinds := []string{"a", "b", "c"}
	run := func(seed uint64, perHour float64) []string {
		p := newIncidentPlan(perHour, kinds, "", rand.New(rand.NewPCG(seed, 7)))
		var got []string
		for at := time.Duration(0); at < 100*time.Hour; at += 10 * time.Second { // a fix every 10 s
			if k, ok := p.due(at); ok {
				got = append(got, fmt.Sprintf("%s@%s", k, at))
			}
		}
		return got
	}
	a := run(1, 2)
	if len(a) < 150 || len(a) > 250 {
		t.Fatalf("%d reports in 100 h at 2 an hour", len(a))
	}
	for _, k := range kinds {
		if n := len(slices.DeleteFunc(slices.Clone(a), func(s string) bool { return !strings.HasPrefix(s, k+"@") })); n < 40 {
			t.Fatalf("%d reports of kind %s of %d", n, k, len(a))
		}
	}
	if !slices.Equal(a, run(1, 2)) {
		t.Fatal("the same seed reports differently")
	}
	if slices.Equal(a, run(2, 2)) {
		t.Fatal("another seed reports the same")
	}
	if got := run(1, 0); len(got) != 0 {
		t.Fatalf("rate 0 reported %v", got)
	}
}

// TestSimulateBacksOff runs against a server that allows few ingest
// requests: the simulator waits out the 429s and loses nothing.
func TestSimulateBacksOff(t *testing.T) {
	base, pool := startDemoServer(t, 4)
	cfg := simConfig{URL: base, User: "demo-admin", Password: "demo-admin-pass", ReadingsRate: 150, PositionsRate: 2, Batch: 10,
		Officers: 1, Transport: "http", PositionsVia: "osmand", Duration: 3 * time.Second, Grace: time.Minute, Out: &bytes.Buffer{}}
	rep, err := runSimulation(context.Background(), quiet(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v\n%s", rep, cfg.Out)
	if rep.Throttled == 0 || rep.ReadingsErrors != 0 || rep.ReadingsAccepted != rep.ReadingsSent || rep.PositionsErrors != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if n := countRows(t, pool, `SELECT count(*) FROM readings`); int64(n) != rep.ReadingsAccepted {
		t.Fatalf("%d readings stored, %d accepted", n, rep.ReadingsAccepted)
	}
}

// TestSimulateBadInput: bad flags and credentials are named and nothing
// is created.
func TestSimulateBadInput(t *testing.T) {
	base, pool := startDemoServer(t, 0)
	ctx := context.Background()
	good := simConfig{URL: base, User: "demo-admin", Password: "demo-admin-pass", ReadingsRate: 10, PositionsRate: 1,
		Officers: -1, Transport: "http", PositionsVia: "osmand", Duration: time.Second, Out: &bytes.Buffer{}}
	for _, c := range []struct {
		edit func(*simConfig)
		want string
	}{
		{func(c *simConfig) { c.Transport = "carrier-pigeon" }, "--transport"},
		{func(c *simConfig) { c.PositionsVia = "fax" }, "--positions-via"},
		{func(c *simConfig) { c.Transport = "mqtt" }, "MQTT needs a broker"},
		{func(c *simConfig) { c.FaultRate = 2 }, "--fault-rate"},
		{func(c *simConfig) { c.IncidentRate = -1 }, "--incident-rate"},
		{func(c *simConfig) { c.IncidentRate = math.Inf(1) }, "--incident-rate"},
		{func(c *simConfig) { c.ReadingsRate, c.PositionsRate = 0, 0 }, "nothing to simulate"},
		{func(c *simConfig) { c.URL = "127.0.0.1:8080" }, "--url"},
		{func(c *simConfig) { c.Password = "wrong-password" }, "signing in as demo-admin"},
		{func(c *simConfig) { c.User, c.Password = "demo-viewer", "demo-viewer-pass" }, "needs an admin"},
	} {
		cfg := good
		c.edit(&cfg)
		_, err := runSimulation(ctx, quiet(), cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	if n := countRows(t, pool, `SELECT count(*) FROM users WHERE name LIKE 'demo-phone-%'`) + countRows(t, pool, `SELECT count(*) FROM api_tokens`); n != 0 {
		t.Fatalf("bad runs created %d accounts and tokens", n)
	}
}

// TestSimulateMQTT publishes readings over MQTT (alternating with HTTP)
// and positions over MQTT, and checks what reaches the broker: the HTTP
// bodies, on hexward/<account>/readings and …/positions.
func TestSimulateMQTT(t *testing.T) {
	broker := envOr("MQTT_URL", "tcp://127.0.0.1:1883")
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimPrefix(broker, "tcp://"), "mqtt://"), 2*time.Second); err != nil {
		servicetest.Missing(t, "no MQTT broker at %s: %v", broker, err)
	} else {
		c.Close()
	}
	base, pool := startDemoServer(t, 0)

	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("hexward-simulate-test-" + time.Now().Format("150405.000000"))
	sub := mqtt.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting to %s: %v", broker, tok.Error())
	}
	defer sub.Disconnect(100)
	var mu sync.Mutex
	got := map[string]int{} // topic → readings or positions in its messages
	bad := 0
	tok := sub.Subscribe("hexward/+/+", 1, func(_ mqtt.Client, m mqtt.Message) {
		var body struct {
			Readings []struct {
				Sensor *int64
				TS     *string
				Value  *float64
			}
			Positions []struct {
				TS       string
				Lon, Lat *float64
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err := json.Unmarshal(m.Payload(), &body); err != nil {
			bad++
			return
		}
		for _, r := range body.Readings {
			if r.Sensor == nil || r.TS == nil || r.Value == nil {
				bad++
			}
		}
		for _, p := range body.Positions {
			if _, err := time.Parse(time.RFC3339Nano, p.TS); err != nil || p.Lon == nil || p.Lat == nil {
				bad++
			}
		}
		got[m.Topic()] += len(body.Readings) + len(body.Positions)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing: %v", tok.Error())
	}

	cfg := simConfig{URL: base, User: "demo-admin", Password: "demo-admin-pass", ReadingsRate: 100, PositionsRate: 4,
		Officers: 2, Transport: "both", PositionsVia: "mqtt", MQTTURL: broker, Duration: 3 * time.Second, Seed: 3, Grace: time.Minute, Out: &bytes.Buffer{}}
	rep, err := runSimulation(context.Background(), quiet(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ReadingsErrors != 0 || rep.PositionsErrors != 0 || rep.ReadingsAccepted == 0 {
		t.Fatalf("report: %+v", rep)
	}
	// Readings over HTTP are stored; the others went to the broker.
	if n := countRows(t, pool, `SELECT count(*) FROM readings`); int64(n) != rep.ReadingsAccepted {
		t.Fatalf("%d readings stored, %d accepted", n, rep.ReadingsAccepted)
	}
	viaMQTT := rep.ReadingsSent - rep.ReadingsAccepted
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		r, p1, p2, b := got["hexward/demo-device/readings"], got["hexward/demo-officer/positions"], got["hexward/demo-phone-2/positions"], bad
		mu.Unlock()
		if b != 0 {
			t.Fatalf("%d malformed messages", b)
		}
		if int64(r) == viaMQTT && viaMQTT > 0 && p1 > 0 && p2 > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("at the broker: %v; %d readings published", got, viaMQTT)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// streetGrid is a street grid of n×n blocks of size metres, noded at the
// crossings, as lon/lat lines about Shenzhen.
func streetGrid(n int, size float64) []orb.LineString {
	const lon0, lat0 = 114.12, 22.55
	kx, ky := 111_320*math.Cos(lat0*math.Pi/180), 110_540.0
	pt := func(i, j int) orb.Point {
		return orb.Point{lon0 + float64(i)*size/kx, lat0 + float64(j)*size/ky}
	}
	var ls []orb.LineString
	for a := 0; a <= n; a++ {
		var h, v orb.LineString
		for b := 0; b <= n; b++ {
			h = append(h, pt(b, a))
			v = append(v, pt(a, b))
		}
		ls = append(ls, h, v)
	}
	return ls
}

// onNetwork is the distance in metres from p to the nearest edge.
func onNetwork(g *streetGraph, p orb.Point) float64 {
	best := math.Inf(1)
	for a, ns := range g.adj {
		for _, b := range ns {
			pa, pb := g.pts[a], g.pts[b]
			dx, dy := pb[0]-pa[0], pb[1]-pa[1]
			f := 0.0
			if l2 := dx*dx + dy*dy; l2 > 0 {
				f = max(0, min(1, ((p[0]-pa[0])*dx+(p[1]-pa[1])*dy)/l2))
			}
			best = min(best, math.Hypot(p[0]-pa[0]-f*dx, p[1]-pa[1]-f*dy))
		}
	}
	return best
}

func TestStreetGraph(t *testing.T) {
	g := newStreetGraph(streetGrid(3, 100), 3)
	// Every vertex is a crossing: 4×4 nodes, 8 lines of 3 edges.
	if len(g.pts) != 16 || g.edges() != 24 {
		t.Fatalf("%d nodes, %d edges", len(g.pts), g.edges())
	}
	// Two streets whose ends are 1 m apart join; 10 m apart they do not.
	a := orb.LineString{{114.12, 22.55}, {114.121, 22.55}}
	near := orb.LineString{{114.121 + 1/111_320.0/math.Cos(22.55*math.Pi/180), 22.55}, {114.122, 22.55}}
	far := orb.LineString{{114.122 + 10/111_320.0/math.Cos(22.55*math.Pi/180), 22.55}, {114.123, 22.55}}
	g = newStreetGraph([]orb.LineString{a, near, far}, 3)
	if len(g.pts) != 5 || g.edges() != 3 {
		t.Fatalf("near ends: %d nodes, %d edges", len(g.pts), g.edges())
	}
	if g := newStreetGraph(nil, 3); len(g.pts) != 0 || g.edges() != 0 {
		t.Fatal("empty network has nodes")
	}
}

// TestWalker walks officers for an hour of simulated time over a grid:
// they stay on the streets, walk at 1.2–1.6 m/s, turn at junctions and
// report fixes within the GPS jitter of the street.
func TestWalker(t *testing.T) {
	g := newStreetGraph(streetGrid(4, 80), 3)
	for seed := range uint64(5) {
		w := newWalker(g, orb.Point{114.1201, 22.5501}, rand.New(rand.NewPCG(seed, 1)))
		if w.stuck {
			t.Fatal("walker stuck on a grid")
		}
		visited := map[int]bool{}
		headings := map[int]bool{}
		for i := range 3600 {
			dt := 0.2 + float64(i%7)*0.3 // uneven report intervals
			before, walked := w.pos(), w.walked
			w.step(dt)
			after := w.pos()
			if d := onNetwork(g, after); d > 1e-6 {
				t.Fatalf("seed %d step %d: %.3f m off the network", seed, i, d)
			}
			if v := (w.walked - walked) / dt; v < walkMin-1e-9 || v > walkMax+1e-9 {
				t.Fatalf("seed %d step %d: %.3f m/s", seed, i, v)
			}
			if d := dist(before, after); d > walkMax*dt+1e-6 {
				t.Fatalf("seed %d step %d: moved %.2f m in %.1f s", seed, i, d, dt)
			}
			visited[w.from] = true
			headings[int(math.Round(w.bearing()/90))%4] = true
			lon, lat, acc := w.fix()
			if d := dist(g.local(orb.Point{lon, lat}), after); d > 3*gpsSD*math.Sqrt2+1e-6 || acc <= 0 {
				t.Fatalf("fix %.2f m from the walker, accuracy %.1f", d, acc)
			}
			if b := w.bearing(); b < 0 || b >= 360 {
				t.Fatalf("bearing %v", b)
			}
		}
		if len(visited) < 15 || len(headings) != 4 {
			t.Fatalf("seed %d: visited %d of %d nodes, headings %v", seed, len(visited), len(g.pts), headings)
		}
	}
	// The same seed walks the same way.
	a := newWalker(g, orb.Point{114.12, 22.55}, rand.New(rand.NewPCG(9, 9)))
	b := newWalker(g, orb.Point{114.12, 22.55}, rand.New(rand.NewPCG(9, 9)))
	for range 500 {
		a.step(1)
		b.step(1)
	}
	if a.pos() != b.pos() {
		t.Fatalf("same seed, different walks: %v %v", a.pos(), b.pos())
	}
}

// TestSimSensor: normal readings stay below the thresholds; a fault
// episode stays above the alarm threshold longer than min_duration_s and
// then returns below it.
func TestSimSensor(t *testing.T) {
	for _, kind := range []struct {
		kind               string
		warn, alarm, hyst  float64
		minDur, offlineAft float64
	}{
		{"electricity", 32, 40, 2, 30, 600}, {"gas", 10, 20, 2, 5, 600}, {"water_immersion", 2, 5, 0.5, 10, 900},
		{"smoke", 5, 10, 1, 5, 600}, {"door", 0.5, 0.5, 0.1, 60, 1800}, {"noise", 70, 85, 3, 10, 600},
	} {
		f := simFeature{ID: 42, Properties: map[string]any{"kind": kind.kind, "device": "d", "warn_above": kind.warn,
			"alarm_above": kind.alarm, "hysteresis": kind.hyst, "min_duration_s": kind.minDur}}
		s := newSimSensor(f, 1, 0.5)
		s.start(3 * time.Second)
		var t0 time.Duration
		var episodes int
		var above time.Duration = -1
		for at := time.Duration(0); at < 2*time.Hour; {
			v := s.read(at)
			switch {
			case s.faulting && v <= kind.alarm:
				t.Fatalf("%s: fault value %v not above %v", kind.kind, v, kind.alarm)
			case !s.faulting && v > kind.warn-kind.hyst:
				t.Fatalf("%s: normal value %v near the warning threshold %v", kind.kind, v, kind.warn)
			case !s.faulting && v < 0:
				t.Fatalf("%s: negative value %v", kind.kind, v)
			case s.faulting && above < 0:
				above, episodes = at, episodes+1
			case !s.faulting && above >= 0:
				if held := t0 - above; held.Seconds() < kind.minDur {
					t.Fatalf("%s: above the alarm for %s only", kind.kind, held)
				}
				above = -1
			}
			t0 = at
			if s.due <= at {
				t.Fatalf("%s: next report at %s not after %s", kind.kind, s.due, at)
			}
			at = s.due
		}
		if episodes < 10 {
			t.Fatalf("%s: %d fault episodes in 2 h at 0.5 per sensor-minute", kind.kind, episodes)
		}
	}
	// No thresholds: no faults.
	s := newSimSensor(simFeature{ID: 1, Properties: map[string]any{"kind": "gas", "device": "d"}}, 1, 1)
	s.start(time.Second)
	for at := time.Duration(0); at < time.Hour; at = s.due {
		s.read(at)
		if s.faulting {
			t.Fatal("a sensor without thresholds faulted")
		}
	}
	if newSimSensor(simFeature{ID: 1, Properties: map[string]any{"kind": "gas"}}, 1, 1) != nil {
		t.Fatal("a sensor without device is simulated")
	}
}
