package mqttingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/internal/servicetest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/layers/readings"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// unique returns prefix and a random suffix: names on the shared broker
// must not meet another test's.
func unique(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// brokerURL is the shared broker: env MQTT_URL or Mosquitto on localhost.
func brokerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("MQTT_URL")
	if u == "" {
		u = "tcp://127.0.0.1:1883"
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("MQTT_URL %q: %v", u, err)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 2*time.Second)
	if err != nil {
		servicetest.Missing(t, "no MQTT broker at %s: %v", u, err)
	}
	c.Close()
	return u
}

type env struct {
	store    *layers.Store
	accounts *auth.Accounts
	reg      *prometheus.Registry
	in       *Ingest
	url      string
}

// newEnv starts an ingest on broker url over a fresh database and waits
// until it has subscribed.
func newEnv(t testing.TB, url string, opt Options) *env {
	t.Helper()
	pool := pgtest.New(t)
	e := &env{store: layers.NewStore(pool, layers.Governance()), accounts: auth.NewAccounts(pool, nil), url: url}
	return e.start(t, opt)
}

// start starts another ingest on e's broker and database, with metrics of
// its own, and waits until it has subscribed.
func (e *env) start(t testing.TB, opt Options) *env {
	t.Helper()
	e = &env{store: e.store, accounts: e.accounts, reg: prometheus.NewRegistry(), url: e.url}
	opt.URL, opt.Registry = e.url, e.reg
	opt.Readings, opt.Positions, opt.Accounts = readings.New(e.store, nil), positions.New(e.store), e.accounts
	if opt.ClientID == "" {
		opt.ClientID = unique("hexward-test-ingest-")
	}
	in, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	e.in = in
	t.Cleanup(func() {
		in.Close()
		forgetSession(e.url, opt.ClientID) // the shared broker keeps no session of a test
	})
	select {
	case <-in.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the ingest did not subscribe within 30 s")
	}
	return e
}

// forgetSession ends the broker's persistent session of id.
func forgetSession(url, id string) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true))
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		c.Disconnect(100)
	}
}

// account creates an account of role with a unique name.
func (e *env) account(t testing.TB, role auth.Role) string {
	t.Helper()
	name := unique("dev-")
	if _, err := e.accounts.CreateUser(ctx, auth.NewUser{Name: name, Role: role}); err != nil {
		t.Fatal(err)
	}
	return name
}

// sensor creates a sensor reporting through device.
func (e *env) sensor(t testing.TB, device string, props map[string]any) int64 {
	t.Helper()
	p := map[string]any{"name": "测试传感器", "kind": "gas", "unit": "ppm", "device": device}
	for k, v := range props {
		p[k] = v
	}
	f, err := e.store.Create(ctx, layers.Feature{Layer: "sensors", Geometry: orb.Point{114.12, 22.55}, Props: p})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// value of a metric (summed over the series whose labels include labels).
func (e *env) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue series
				}
			}
			if m.Counter != nil {
				sum += m.GetCounter().GetValue()
			} else {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s; last: %s", what, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMetric waits until a metric reaches want.
func (e *env) waitMetric(t testing.TB, want float64, name string, labels ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s%v reaching %v", name, labels, want), func() (bool, string) {
		v := e.metric(t, name, labels...)
		return v >= want, fmt.Sprint(v)
	})
}

// publisher connects a client to url.
func publisher(t testing.TB, url string, o *mqtt.ClientOptions) mqtt.Client {
	t.Helper()
	if o == nil {
		o = mqtt.NewClientOptions().SetClientID(unique("hexward-test-pub-")).SetCleanSession(true)
	}
	o.AddBroker(url).SetProtocolVersion(4)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// publish sends payload with QoS 1 and waits for the PUBACK.
func publish(t testing.TB, c mqtt.Client, topic string, payload any) {
	t.Helper()
	var b []byte
	switch p := payload.(type) {
	case []byte:
		b = p
	case string:
		b = []byte(p)
	default:
		var err error
		if b, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	if tok := c.Publish(topic, 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

var t0 = time.Now().Add(-time.Hour).Truncate(time.Second)

func at(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339Nano) }

type rd struct {
	Sensor int64   `json:"sensor"`
	TS     string  `json:"ts"`
	Value  float64 `json:"value"`
}

func batch(rs ...rd) map[string]any { return map[string]any{"readings": rs} }

type alert struct {
	props  map[string]any
	events string
}

// alerts returns a sensor's threshold alerts with their transitions.
func (e *env) alerts(t testing.TB, sensor int64) []alert {
	t.Helper()
	rows, err := e.store.Pool().Query(ctx, `SELECT id, props FROM features WHERE layer = 'alerts'
		AND props->>'source' = $1 AND props->>'condition' = $2 ORDER BY id`, fmt.Sprintf("sensor:%d", sensor), readings.CondThreshold)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id    int64
		props map[string]any
	}
	var found []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.props); err != nil {
			t.Fatal(err)
		}
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []alert
	for _, r := range found {
		var events []string
		rows, err := e.store.Pool().Query(ctx, `SELECT event FROM alert_transitions WHERE alert_id = $1 ORDER BY id`, r.id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ev string
			_ = rows.Scan(&ev)
			events = append(events, ev)
		}
		out = append(out, alert{r.props, strings.Join(events, ",")})
	}
	return out
}

func (e *env) readingsOf(t testing.TB, sensor int64) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM readings WHERE sensor_id = $1`, sensor).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReadingsRaiseUpdateAndClearAlerts(t *testing.T) {
	e := newEnv(t, brokerURL(t), Options{})
	dev := e.account(t, auth.Device)
	hyst := e.sensor(t, dev, map[string]any{"alarm_above": 100, "hysteresis": 10})
	slow := e.sensor(t, dev, map[string]any{"alarm_above": 100, "min_duration_s": 60})
	pub := publisher(t, e.url, nil)
	topic := "hexward/" + dev + "/readings"
	sent := 0
	send := func(rs ...rd) {
		t.Helper()
		publish(t, pub, topic, batch(rs...))
		sent++
		// Counted once Ingest returned: the readings are committed and the
		// rules have run.
		e.waitMetric(t, float64(sent), "hexward_mqtt_messages_total", "kind", "readings")
	}

	send(rd{hyst, at(0), 95}, rd{slow, at(0), 150}, rd{slow, at(30), 160})
	if as := e.alerts(t, hyst); len(as) != 0 {
		t.Fatalf("alert below the threshold: %+v", as)
	}
	if as := e.alerts(t, slow); len(as) != 0 {
		t.Fatalf("alert before the minimum duration: %+v", as)
	}
	if n := e.readingsOf(t, hyst) + e.readingsOf(t, slow); n != 3 {
		t.Fatalf("%d readings stored, want 3", n)
	}

	// Raised.
	send(rd{hyst, at(10), 101}, rd{slow, at(61), 155})
	as := e.alerts(t, hyst)
	if len(as) != 1 || as[0].props["state"] != "raised" || as[0].props["cleared"] != false || as[0].props["value"] != 101.0 || as[0].events != "raised" {
		t.Fatalf("after 101: %+v", as)
	}
	as = e.alerts(t, slow)
	if len(as) != 1 || as[0].props["raised_at"] != t0.Add(61*time.Second).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("after the minimum duration: %+v", as)
	}

	// Within the hysteresis nothing changes; at threshold − hysteresis it clears.
	send(rd{hyst, at(20), 95})
	if as := e.alerts(t, hyst); len(as) != 1 || as[0].props["cleared"] != false {
		t.Fatalf("cleared within the hysteresis: %+v", as)
	}
	send(rd{hyst, at(30), 90})
	if as := e.alerts(t, hyst); len(as) != 1 || as[0].props["cleared"] != true || as[0].events != "raised,cleared" {
		t.Fatalf("after 90: %+v", as)
	}

	// A re-trigger updates the same open alert.
	send(rd{hyst, at(40), 130})
	if as := e.alerts(t, hyst); len(as) != 1 || as[0].props["cleared"] != false || as[0].props["value"] != 130.0 ||
		as[0].events != "raised,cleared,retriggered" {
		t.Fatalf("after 130: %+v", as)
	}

	// A redelivered message is idempotent.
	send(rd{hyst, at(40), 130})
	if n := e.readingsOf(t, hyst); n != 5 {
		t.Fatalf("%d readings of the hysteresis sensor, want 5", n)
	}
	if d := e.metric(t, "hexward_mqtt_duplicates_total", "kind", "readings"); d != 1 {
		t.Fatalf("%v duplicates, want 1", d)
	}
	if r := e.metric(t, "hexward_mqtt_rejected_total"); r != 0 {
		t.Fatalf("%v rejected", r)
	}
}

func TestPositionsMoveTheOfficer(t *testing.T) {
	e := newEnv(t, brokerURL(t), Options{})
	phone := e.account(t, auth.Officer)
	f, err := e.store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.10, 22.50},
		Props: map[string]any{"name": "王警官", "device": phone, "duty": "patrol"}})
	if err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, e.url, nil)
	topic := "hexward/" + phone + "/positions"
	marker := func() (orb.Point, map[string]any) {
		g, err := e.store.Get(ctx, "officers", f.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g.Geometry.(orb.Point), g.Props
	}

	// Traccar Client's JSON.
	publish(t, pub, topic, map[string]any{"device_id": phone, "location": map[string]any{
		"timestamp": at(0), "coords": map[string]any{"latitude": 22.551, "longitude": 114.121, "speed": 1.5, "accuracy": 5},
		"battery": map[string]any{"level": 0.8}}})
	eventually(t, "the marker moving to the OsmAnd position", func() (bool, string) {
		p, props := marker()
		return p == orb.Point{114.121, 22.551} && props["battery"] == 80.0, fmt.Sprint(p, props)
	})

	// The batch of buffered positions: the newest moves the marker.
	publish(t, pub, topic, map[string]any{"positions": []map[string]any{
		{"ts": at(20), "lon": 114.123, "lat": 22.553},
		{"ts": at(10), "lon": 114.122, "lat": 22.552, "speed": 2},
	}})
	eventually(t, "the marker moving to the batch's newest position", func() (bool, string) {
		p, props := marker()
		return p == orb.Point{114.123, 22.553} && props["fix_time"] == at(20), fmt.Sprint(p, props)
	})
	e.waitMetric(t, 2, "hexward_mqtt_messages_total", "kind", "positions")
	var n int
	if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM positions WHERE officer_id = $1`, f.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d positions stored, want 3", n)
	}
	if got := e.metric(t, "hexward_mqtt_items_total", "kind", "positions"); got != 3 {
		t.Fatalf("%v positions counted, want 3", got)
	}
}

func TestBadMessagesAreCountedAndStoreNothing(t *testing.T) {
	e := newEnv(t, brokerURL(t), Options{MaxPayload: 64 << 10})
	dev := e.account(t, auth.Device)
	other := e.account(t, auth.Device)
	viewer := e.account(t, auth.Viewer)
	officer := e.account(t, auth.Officer) // may send positions, not readings
	s := e.sensor(t, dev, nil)
	foreign := e.sensor(t, other, nil)
	pub := publisher(t, e.url, nil)
	good := batch(rd{s, at(0), 1})

	big := make([]rd, 0, 2000)
	for i := range cap(big) {
		big = append(big, rd{s, at(i), 1})
	}
	cases := []struct {
		reason, topic string
		payload       any
	}{
		{"malformed", "hexward/" + dev + "/readings", `{"readings":[{"sensor":1,`},
		{"malformed", "hexward/" + dev + "/readings", `{"readings":[{"sensor":1,"ts":"yesterday","value":1}]}`},
		{"malformed", "hexward/" + officer + "/positions", `{"positions":[{"ts":"2025-01-01T00:00:00Z"}]}`},
		{"unknown_account", "hexward/" + unique("nobody-") + "/readings", good},
		{"forbidden", "hexward/" + viewer + "/readings", good},
		{"forbidden", "hexward/" + officer + "/readings", good},
		{"unknown_sensor", "hexward/" + dev + "/readings", batch(rd{s, at(0), 1}, rd{s + foreign + 1000, at(0), 1})},
		{"foreign_sensor", "hexward/" + dev + "/readings", batch(rd{s, at(0), 1}, rd{foreign, at(0), 1})},
		{"invalid", "hexward/" + dev + "/readings", batch(rd{s, "1999-12-31T00:00:00Z", 1})},
		{"unknown_device", "hexward/" + dev + "/positions", map[string]any{"positions": []map[string]any{{"ts": at(0), "lon": 114.1, "lat": 22.5}}}},
		{"too_large", "hexward/" + dev + "/readings", batch(big...)},
	}
	want := map[string]float64{}
	for _, c := range cases {
		publish(t, pub, c.topic, c.payload)
		want[c.reason]++
	}
	for reason, n := range want {
		e.waitMetric(t, n, "hexward_mqtt_rejected_total", "reason", reason)
	}
	if n := e.readingsOf(t, s) + e.readingsOf(t, foreign); n != 0 {
		t.Fatalf("%d readings stored from rejected messages", n)
	}
	if n := e.metric(t, "hexward_mqtt_messages_total"); n != 0 {
		t.Fatalf("%v messages accepted", n)
	}

	// The ingest keeps working.
	publish(t, pub, "hexward/"+dev+"/readings", good)
	e.waitMetric(t, 1, "hexward_mqtt_messages_total", "kind", "readings")
	if n := e.readingsOf(t, s); n != 1 {
		t.Fatalf("%d readings stored, want 1", n)
	}
	for reason, n := range want { // nothing was redelivered and counted again
		if got := e.metric(t, "hexward_mqtt_rejected_total", "reason", reason); got != n {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, got, n)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for topic, want := range map[string][2]string{
		"hexward/dev-1/readings":  {"readings", "dev-1"},
		"hexward/dev-1/positions": {"positions", "dev-1"},
		"hexward//readings":       {"readings", ""},
		"hexward/dev-1/other":     {},
		"hexward/a/b/readings":    {},
		"other/dev-1/readings":    {},
	} {
		kind, account, ok := parseTopic(topic)
		if ok != (want[0] != "") || kind != want[0] || account != want[1] {
			t.Errorf("%q: %q %q %v, want %q", topic, kind, account, ok, want)
		}
	}
}

// TestDatabaseFailureIsRetriedAndNeverAcknowledged: while the readings
// cannot be stored the ingest retries and does not acknowledge; an ingest
// closed meanwhile leaves the message to the broker, which gives it to the
// next ingest of the session once the database is back.
func TestDatabaseFailureIsRetriedAndNeverAcknowledged(t *testing.T) {
	id := unique("hexward-test-ingest-")
	e := newEnv(t, brokerURL(t), Options{ClientID: id})
	dev := e.account(t, auth.Device)
	s := e.sensor(t, dev, nil)
	pool := e.store.Pool()
	if _, err := pool.Exec(ctx, `ALTER TABLE readings RENAME TO readings_away`); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, e.url, nil)
	publish(t, pub, "hexward/"+dev+"/readings", batch(rd{s, at(0), 42}))
	e.waitMetric(t, 2, "hexward_mqtt_retries_total")
	e.in.Close()
	if n := e.metric(t, "hexward_mqtt_messages_total") + e.metric(t, "hexward_mqtt_rejected_total"); n != 0 {
		t.Fatalf("%v messages stored or rejected while the table was away", n)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE readings_away RENAME TO readings`); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	in, err := Start(ctx, Options{URL: e.url, ClientID: id, Registry: reg, Readings: readings.New(e.store, nil),
		Positions: positions.New(e.store), Accounts: e.accounts})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	e.reg, e.in = reg, in
	e.waitMetric(t, 1, "hexward_mqtt_messages_total", "kind", "readings")
	var v float64
	if err := pool.QueryRow(ctx, `SELECT value FROM readings WHERE sensor_id = $1`, s).Scan(&v); err != nil || v != 42 {
		t.Fatalf("stored %v, %v; want 42", v, err)
	}
}
