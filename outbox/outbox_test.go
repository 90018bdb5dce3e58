package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hexward/hexward/internal/servicetest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/readings"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// fastOptions retry within milliseconds so that tests run quickly.
func fastOptions() Options {
	return Options{MinBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Poll: 10 * time.Millisecond,
		MaxAttempts: 5, Metrics: NewMetrics(prometheus.NewRegistry())}
}

// start runs a worker until the returned stop is called (or the test ends);
// stop returns once Run has.
func start(t testing.TB, pool *pgxpool.Pool, opt Options) (stop func()) {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(cctx, pool, opt) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func value(t testing.TB, m interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// alert creates an alert feature of severity and returns its id.
func alert(t testing.TB, pool *pgxpool.Pool, severity string) int64 {
	t.Helper()
	store := layers.NewStore(pool, layers.Governance())
	f, err := store.Create(ctx, layers.Feature{Layer: "alerts", Geometry: orb.Point{114.1, 22.5},
		Props: map[string]any{"title": "燃气浓度超限", "severity": severity, "state": "raised", "condition": "threshold", "source": "sensor:1"}})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// transitions records n "raised" transitions of alert id directly.
func transitions(t testing.TB, pool *pgxpool.Pool, id int64, n int) {
	t.Helper()
	if _, err := pool.Exec(ctx, `INSERT INTO alert_transitions (alert_id, event, state, actor, note)
		SELECT $1, 'raised', 'raised', 'system:rules', 'n' || i FROM generate_series(1, $2) i`, id, n); err != nil {
		t.Fatal(err)
	}
}

type row struct {
	Status    string
	Attempts  int
	LastError string
	Payload   map[string]any
}

func rows(t testing.TB, pool *pgxpool.Pool, hook string) []row {
	t.Helper()
	rs, err := pool.Query(ctx, `SELECT o.status, o.attempts, coalesce(o.last_error, ''), o.payload FROM outbox o
		JOIN hooks h ON h.id = o.hook_id WHERE h.name = $1 ORDER BY o.id`, hook)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.Status, &r.Attempts, &r.LastError, &r.Payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func statuses(t testing.TB, pool *pgxpool.Pool, hook string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, r := range rows(t, pool, hook) {
		m[r.Status]++
	}
	return m
}

func sync1(t testing.TB, pool *pgxpool.Pool, hooks ...Hook) {
	t.Helper()
	if err := Sync(ctx, pool, hooks); err != nil {
		t.Fatal(err)
	}
}

// server is a webhook receiver answering with fail(n) for request n (from
// 1) and recording the requests it accepted.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	n        int
	bodies   [][]byte
	headers  []http.Header
	byID     map[float64]int // accepted deliveries per transition_id
	fail     func(n int) int // status to answer; 0: 200
	accepted atomic.Int64
}

func newServer(t testing.TB, fail func(n int) int) *server {
	s := &server{fail: fail, byID: map[float64]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.n++
		code := 0
		if s.fail != nil {
			code = s.fail(s.n)
		}
		if code == 0 {
			var p map[string]any
			_ = json.Unmarshal(body, &p)
			s.bodies = append(s.bodies, body)
			s.headers = append(s.headers, r.Header.Clone())
			tid, _ := p["transition_id"].(float64)
			s.byID[tid]++
		}
		s.mu.Unlock()
		if code != 0 {
			http.Error(w, "nope", code)
			return
		}
		s.accepted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func TestSyncUpsertsByNameAndDisablesTheRest(t *testing.T) {
	pool := pgtest.New(t)
	sync1(t, pool, Hook{Name: "a", Kind: Webhook, Target: "http://a.example/x"},
		Hook{Name: "b", Kind: MQTT, Target: "hexward/alerts", MinSeverity: "major"})
	sync1(t, pool, Hook{Name: "a", Kind: Webhook, Target: "https://a2.example/y", MinSeverity: "critical"})
	got := map[string]string{}
	rs, _ := pool.Query(ctx, `SELECT name, kind || ' ' || target || ' ' || min_severity || ' ' || enabled FROM hooks`)
	for rs.Next() {
		var n, v string
		_ = rs.Scan(&n, &v)
		got[n] = v
	}
	if got["a"] != "webhook https://a2.example/y critical true" || got["b"] != "mqtt hexward/alerts major false" || len(got) != 2 {
		t.Fatalf("hooks %v", got)
	}
	bad := []struct {
		hooks []Hook
		want  string
	}{
		{[]Hook{{Name: "x", Kind: Webhook, Target: "ftp://x"}}, "not an absolute http(s) URL"},
		{[]Hook{{Name: "x", Kind: Webhook, Target: "/relative"}}, "not an absolute http(s) URL"},
		{[]Hook{{Name: "x", Kind: MQTT, Target: "alerts/#"}}, "wildcard"},
		{[]Hook{{Name: "x", Kind: MQTT, Target: ""}}, "topic is empty"},
		{[]Hook{{Name: "x", Kind: "smtp", Target: "a@b"}}, `kind "smtp"`},
		{[]Hook{{Name: "", Kind: MQTT, Target: "t"}}, "hook name"},
		{[]Hook{{Name: "x", Kind: MQTT, Target: "t", MinSeverity: "high"}}, `min severity "high"`},
		{[]Hook{{Name: "x", Kind: MQTT, Target: "t"}, {Name: "x", Kind: MQTT, Target: "u"}}, `two hooks are named "x"`},
	}
	for _, c := range bad {
		err := Sync(ctx, pool, c.hooks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Sync(%+v) = %v, want %q", c.hooks, err, c.want)
		}
	}
	var enabled int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM hooks WHERE enabled`).Scan(&enabled)
	if enabled != 1 {
		t.Fatalf("a refused Sync changed the hooks: %d enabled", enabled)
	}
}

// TestAlertRaisedThroughReadingsQueuesPerMatchingHook raises real alerts
// from sensor readings and checks what the trigger queued.
func TestAlertRaisedThroughReadingsQueuesPerMatchingHook(t *testing.T) {
	pool := pgtest.New(t)
	sync1(t, pool, Hook{Name: "gone", Kind: Webhook, Target: "http://old.example/"})
	sync1(t, pool,
		Hook{Name: "all", Kind: Webhook, Target: "http://all.example/"},
		Hook{Name: "critical", Kind: MQTT, Target: "hexward/critical", MinSeverity: "critical"})
	store := layers.NewStore(pool, layers.Governance())
	in := readings.New(store, nil)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	mk := func(kind, device string) int64 {
		f, err := store.Create(ctx, layers.Feature{Layer: "sensors", Geometry: orb.Point{114.12, 22.55},
			Props: map[string]any{"name": "传感器", "kind": kind, "unit": "u", "device": device, "warn_above": 10, "alarm_above": 100}})
		if err != nil {
			t.Fatal(err)
		}
		return f.ID
	}
	gas, meter := mk("gas", "dev-gas"), mk("electricity", "dev-meter")
	if _, _, err := in.Ingest(ctx, "dev-gas", []readings.Reading{{SensorID: gas, TS: t0, Value: 150}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Ingest(ctx, "dev-meter", []readings.Reading{{SensorID: meter, TS: t0, Value: 20}}); err != nil {
		t.Fatal(err)
	}
	all, crit := rows(t, pool, "all"), rows(t, pool, "critical")
	if len(all) != 2 || len(crit) != 1 || len(rows(t, pool, "gone")) != 0 {
		t.Fatalf("rows: all %d, critical %d, disabled %d; want 2, 1, 0", len(all), len(crit), len(rows(t, pool, "gone")))
	}
	p := crit[0].Payload
	var alertID int64
	_ = pool.QueryRow(ctx, `SELECT id FROM features WHERE layer = 'alerts' AND props->>'source' = $1`, fmt.Sprint("sensor:", gas)).Scan(&alertID)
	if p["id"] != float64(alertID) || p["severity"] != "critical" || p["event"] != "raised" || p["state"] != "raised" ||
		p["actor"] != readings.SystemActor || p["source"] != fmt.Sprint("sensor:", gas) || p["condition"] == nil ||
		p["lon"] != 114.12 || p["lat"] != 22.55 || crit[0].Status != "pending" || crit[0].Attempts != 0 {
		t.Fatalf("payload %v (alert %d)", p, alertID)
	}
	if at, err := time.Parse(time.RFC3339Nano, p["at"].(string)); err != nil || time.Since(at) > time.Hour || time.Since(at) < 0 {
		t.Fatalf("at %v: %v", p["at"], err)
	}
	if all[1].Payload["severity"] != "warning" {
		t.Fatalf("meter alert payload %v", all[1].Payload)
	}

	// A transition in a transaction that rolls back leaves no row.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO alert_transitions (alert_id, event, state, actor) VALUES ($1, 'acknowledged', 'acknowledged', 'op')`, alertID); err != nil {
		t.Fatal(err)
	}
	var inTx int
	_ = tx.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&inTx)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var after int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&after)
	if inTx != 5 || after != 3 {
		t.Fatalf("rows inside the transaction %d (want 5), after rollback %d (want 3)", inTx, after)
	}

	// An operator's transition through readings is queued too, with its note.
	if _, err := in.Transition(layers.WithActor(ctx, layers.Actor{User: "op-1"}), alertID, readings.Acknowledge, ""); err != nil {
		t.Fatal(err)
	}
	crit = rows(t, pool, "critical")
	if len(crit) != 2 || crit[1].Payload["event"] != "acknowledged" || crit[1].Payload["actor"] != "op-1" {
		t.Fatalf("after acknowledging: %+v", crit)
	}
}

func TestWebhookDeliveredOnceSigned(t *testing.T) {
	pool := pgtest.New(t)
	srv := newServer(t, nil)
	sync1(t, pool, Hook{Name: "ops", Kind: Webhook, Target: srv.URL + "/hook?token=s3cret"})
	id := alert(t, pool, "major")
	transitions(t, pool, id, 1)
	opt := fastOptions()
	opt.Secret = []byte("shared secret")
	start(t, pool, opt)
	waitFor(t, "delivery", func() bool { return statuses(t, pool, "ops")["delivered"] == 1 })
	if n := value(t, opt.Metrics.Delivered.WithLabelValues("ops")); n != 1 {
		t.Fatalf("delivered metric %v", n)
	}
	// Give a duplicate every chance to happen.
	time.Sleep(50 * time.Millisecond)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.n != 1 {
		t.Fatalf("%d requests, want 1", srv.n)
	}
	body, h := srv.bodies[0], srv.headers[0]
	if !Verify(opt.Secret, body, h.Get(SignatureHeader)) || Verify([]byte("other"), body, h.Get(SignatureHeader)) ||
		!strings.HasPrefix(h.Get(SignatureHeader), "sha256=") {
		t.Fatalf("signature %q", h.Get(SignatureHeader))
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("X-Hexward-Event") != "raised" || p["id"] != float64(id) ||
		p["title"] != "燃气浓度超限" || p["severity"] != "major" || p["note"] != "n1" || p["lon"] != 114.1 || p["lat"] != 22.5 {
		t.Fatalf("request %v %s", h, body)
	}
}

func TestWebhookRetriedThenDelivered(t *testing.T) {
	pool := pgtest.New(t)
	srv := newServer(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	sync1(t, pool, Hook{Name: "flaky", Kind: Webhook, Target: srv.URL})
	transitions(t, pool, alert(t, pool, "minor"), 1)
	opt := fastOptions()
	start(t, pool, opt)
	waitFor(t, "delivery", func() bool { return statuses(t, pool, "flaky")["delivered"] == 1 })
	r := rows(t, pool, "flaky")[0]
	if r.Attempts != 4 || r.LastError != "" || srv.requests() != 4 {
		t.Fatalf("row %+v after %d requests", r, srv.requests())
	}
	if v := value(t, opt.Metrics.Retried.WithLabelValues("flaky")); v != 3 {
		t.Fatalf("retried %v, want 3", v)
	}
	if v := value(t, opt.Metrics.Delivered.WithLabelValues("flaky")); v != 1 {
		t.Fatalf("delivered %v", v)
	}
}

func TestWebhookDropped(t *testing.T) {
	pool := pgtest.New(t)
	down := newServer(t, func(int) int { return http.StatusInternalServerError })
	refuses := newServer(t, func(int) int { return http.StatusBadRequest })
	limited := newServer(t, func(n int) int {
		if n == 1 {
			return http.StatusTooManyRequests
		}
		return 0
	})
	sync1(t, pool, Hook{Name: "down", Kind: Webhook, Target: down.URL}, Hook{Name: "refuses", Kind: Webhook, Target: refuses.URL},
		Hook{Name: "limited", Kind: Webhook, Target: limited.URL})
	transitions(t, pool, alert(t, pool, "critical"), 1)
	opt := fastOptions()
	start(t, pool, opt)
	waitFor(t, "drops", func() bool {
		return statuses(t, pool, "down")["dropped"] == 1 && statuses(t, pool, "refuses")["dropped"] == 1 &&
			statuses(t, pool, "limited")["delivered"] == 1
	})
	d, r := rows(t, pool, "down")[0], rows(t, pool, "refuses")[0]
	if d.Attempts != opt.MaxAttempts || down.requests() != opt.MaxAttempts || !strings.Contains(d.LastError, "500") {
		t.Fatalf("always failing: %+v after %d requests", d, down.requests())
	}
	if r.Attempts != 1 || refuses.requests() != 1 || !strings.Contains(r.LastError, "400") {
		t.Fatalf("refused: %+v after %d requests", r, refuses.requests())
	}
	m := opt.Metrics
	if value(t, m.Dropped.WithLabelValues("down")) != 1 || value(t, m.Retried.WithLabelValues("down")) != float64(opt.MaxAttempts-1) ||
		value(t, m.Dropped.WithLabelValues("refuses")) != 1 || value(t, m.Retried.WithLabelValues("refuses")) != 0 ||
		value(t, m.Retried.WithLabelValues("limited")) != 1 {
		t.Fatal("metrics do not match the outcomes")
	}
}

// TestPendingRowsSurviveARestart: rows a stopped worker left pending (some
// failed once, some never tried) are delivered by the next worker.
func TestPendingRowsSurviveARestart(t *testing.T) {
	pool := pgtest.New(t)
	var up atomic.Bool
	srv := newServer(t, func(int) int {
		if up.Load() {
			return 0
		}
		return http.StatusBadGateway
	})
	sync1(t, pool, Hook{Name: "later", Kind: Webhook, Target: srv.URL})
	id := alert(t, pool, "major")
	transitions(t, pool, id, 3)
	opt := fastOptions()
	opt.MaxAttempts = 1000
	stop := start(t, pool, opt)
	waitFor(t, "failed attempts", func() bool {
		for _, r := range rows(t, pool, "later") {
			if r.Attempts == 0 {
				return false
			}
		}
		return true
	})
	stop()
	transitions(t, pool, id, 2) // while no worker runs
	if s := statuses(t, pool, "later"); s["pending"] != 5 {
		t.Fatalf("after stopping: %v", s)
	}
	up.Store(true)
	opt.Metrics = NewMetrics(nil)
	start(t, pool, opt)
	waitFor(t, "delivery after restart", func() bool { return statuses(t, pool, "later")["delivered"] == 5 })
	if srv.accepted.Load() != 5 {
		t.Fatalf("%d accepted", srv.accepted.Load())
	}
}

// TestTwoWorkersDeliverEachRowOnce: workers sharing a database never
// deliver a row twice.
func TestTwoWorkersDeliverEachRowOnce(t *testing.T) {
	pool := pgtest.New(t)
	srv := newServer(t, nil)
	sync1(t, pool, Hook{Name: "shared", Kind: Webhook, Target: srv.URL})
	const n = 400
	id := alert(t, pool, "major")
	o1, o2 := fastOptions(), fastOptions()
	o1.Batch, o2.Batch = 8, 8
	start(t, pool, o1)
	start(t, pool, o2)
	for range n / 20 {
		transitions(t, pool, id, 20)
	}
	waitFor(t, "all delivered", func() bool { return statuses(t, pool, "shared")["delivered"] == n })
	time.Sleep(50 * time.Millisecond)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.n != n || len(srv.byID) != n {
		t.Fatalf("%d requests for %d transitions, want %d", srv.n, len(srv.byID), n)
	}
	for tid, c := range srv.byID {
		if c != 1 {
			t.Fatalf("transition %v delivered %d times", tid, c)
		}
	}
	d1, d2 := value(t, o1.Metrics.Delivered.WithLabelValues("shared")), value(t, o2.Metrics.Delivered.WithLabelValues("shared"))
	if d1+d2 != n {
		t.Fatalf("workers counted %v + %v deliveries", d1, d2)
	}
	t.Logf("worker 1 delivered %v, worker 2 %v", d1, d2)
}

func TestPendingGaugeAndMQTTWithoutBroker(t *testing.T) {
	pool := pgtest.New(t)
	sync1(t, pool, Hook{Name: "nobroker", Kind: MQTT, Target: "hexward/alerts"})
	transitions(t, pool, alert(t, pool, "major"), 2)
	opt := fastOptions()
	opt.MaxAttempts = 1 << 20
	opt.MinBackoff, opt.MaxBackoff = time.Hour, time.Hour
	start(t, pool, opt)
	waitFor(t, "failed attempts", func() bool {
		rs := rows(t, pool, "nobroker")
		return rs[0].Attempts == 1 && rs[1].Attempts == 1
	})
	if r := rows(t, pool, "nobroker")[0]; r.Status != "pending" || !strings.Contains(r.LastError, "no MQTT broker") {
		t.Fatalf("row %+v", r)
	}
	waitFor(t, "pending gauge", func() bool { return value(t, opt.Metrics.Pending.WithLabelValues("nobroker")) == 2 })
}

func TestPruneDeletesOldFinishedRows(t *testing.T) {
	pool := pgtest.New(t)
	srv := newServer(t, nil)
	sync1(t, pool, Hook{Name: "p", Kind: Webhook, Target: srv.URL})
	id := alert(t, pool, "major")
	transitions(t, pool, id, 4)
	if _, err := pool.Exec(ctx, `UPDATE outbox SET status = CASE WHEN id % 2 = 0 THEN 'delivered' ELSE 'dropped' END,
		delivered_at = CASE WHEN id % 2 = 0 THEN now() - interval '8 days' END, created = now() - interval '8 days'`); err != nil {
		t.Fatal(err)
	}
	transitions(t, pool, id, 1) // recent, pending → delivered, kept
	start(t, pool, fastOptions())
	waitFor(t, "prune", func() bool {
		s := statuses(t, pool, "p")
		return s["delivered"] == 1 && s["dropped"] == 2 && s["pending"] == 0
	})
}

func TestBadOptions(t *testing.T) {
	pool := pgtest.New(t)
	for _, o := range []Options{{Batch: -1}, {MinBackoff: time.Minute, MaxBackoff: time.Second}} {
		if err := Run(ctx, pool, o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	w := &worker{Options: Options{MinBackoff: time.Second, MaxBackoff: 5 * time.Minute}}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 60: 5 * time.Minute} {
		for range 50 {
			if d := w.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

func mqttURL(t testing.TB) string {
	u := os.Getenv("MQTT_URL")
	if u == "" {
		u = "tcp://127.0.0.1:1883"
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(u).SetClientID(fmt.Sprint("hexward-test-probe-", time.Now().UnixNano())))
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		servicetest.Missing(t, "no MQTT broker at %s: %v", u, tok.Error())
	}
	c.Disconnect(100)
	return u
}

func TestMQTTSubscriberReceivesAlert(t *testing.T) {
	u := mqttURL(t)
	pool := pgtest.New(t)
	topic := fmt.Sprintf("hexward-test/%d/alerts", time.Now().UnixNano())
	got := make(chan []byte, 10)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(u).SetClientID(fmt.Sprint("hexward-test-sub-", time.Now().UnixNano())))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub, err := DialMQTT(u, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sync1(t, pool, Hook{Name: "broker", Kind: MQTT, Target: topic})
	id := alert(t, pool, "critical")
	transitions(t, pool, id, 1)
	opt := fastOptions()
	opt.MQTT = pub
	start(t, pool, opt)
	select {
	case b := <-got:
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p["id"] != float64(id) || p["severity"] != "critical" || p["event"] != "raised" {
			t.Fatalf("payload %s", b)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no message on the topic")
	}
	waitFor(t, "delivered status", func() bool { return statuses(t, pool, "broker")["delivered"] == 1 })
}

func TestDialMQTTRefusesBadURL(t *testing.T) {
	for _, u := range []string{"localhost:1883", "http://broker:80", "::"} {
		if _, err := DialMQTT(u, time.Second, nil); err == nil {
			t.Errorf("DialMQTT(%q) accepted", u)
		}
	}
}

func TestRedactHidesCredentials(t *testing.T) {
	if got := Redact("https://user:pw@hooks.example:8443/T000/secret?token=x"); got != "https://hooks.example:8443/…" {
		t.Fatal(got)
	}
	err := postWebhook(ctx, NewHTTPClient(), nil, "http://user:pw@127.0.0.1:1/secret-path?token=x", 1, "raised", []byte("{}"))
	if err == nil || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "secret-path") || strings.Contains(err.Error(), "token") || isPermanent(err) {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(Permanent(io.EOF), io.EOF) {
		t.Fatal("Permanent hides its cause")
	}
}

// BenchmarkClaimDeliver measures claiming and delivering outbox rows to a
// local webhook: rows per second through one worker.
func BenchmarkClaimDeliver(b *testing.B) {
	pool := pgtest.New(b)
	srv := newServer(b, nil)
	sync1(b, pool, Hook{Name: "bench", Kind: Webhook, Target: srv.URL})
	id := alert(b, pool, "major")
	transitions(b, pool, id, b.N)
	opt := fastOptions()
	b.ResetTimer()
	stop := start(b, pool, opt)
	waitFor(b, "all delivered", func() bool { return value(b, opt.Metrics.Delivered.WithLabelValues("bench")) == float64(b.N) })
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
