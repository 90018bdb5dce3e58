package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/internal/servicetest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/web/live"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sharedNATS returns the URL of the machine's NATS server (env NATS_URL,
// else nats://127.0.0.1:4222).
func sharedNATS(t *testing.T) string {
	t.Helper()
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
	if err != nil {
		servicetest.Missing(t, "NATS at %s unreachable: %v", url, err)
	}
	nc.Close()
	return url
}

func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// testStream returns a stream name of the test's own, deleted when it ends.
func testStream(t *testing.T, url string) string {
	t.Helper()
	name := "HEXWARD_TEST_" + suffix()
	t.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = js.DeleteStream(ctx, name)
		}
	})
	return name
}

// natsServer is a private nats-server for a test that stops it.
type natsServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("nats-server"); err != nil {
			servicetest.Missing(t, "no nats-server binary")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &natsServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-js", "-sd", s.dir)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting nats-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(s.url(), nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on port %d not ready: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server (no graceful shutdown) and waits for it to end.
func (s *natsServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// node is one hexward serve node: its own pool on the shared database,
// store and bus.
type node struct {
	store *layers.Store
	bus   *NATS
	reg   *prometheus.Registry

	mu   sync.Mutex
	seqs map[int64]int // change seq → times the store's subscribers got it
	cond chan struct{}
}

func newNode(t *testing.T, dbURL, natsURL, stream, name string, opt Options) *node {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	n := &node{store: layers.NewStore(pool, layers.Governance()), reg: prometheus.NewRegistry(),
		seqs: map[int64]int{}, cond: make(chan struct{}, 1)}
	n.store.Subscribe(func(cs []layers.Change) {
		n.mu.Lock()
		for _, c := range cs {
			n.seqs[c.Seq]++
		}
		n.mu.Unlock()
		select {
		case n.cond <- struct{}{}:
		default:
		}
	})
	opt.Node, opt.Stream, opt.Registry = name, stream, n.reg
	n.bus, err = Connect(context.Background(), natsURL, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.bus.Close)
	if err := n.bus.Attach(n.store); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitSeqs waits until the node's subscribers got every seq.
func (n *node) waitSeqs(t *testing.T, seqs ...int64) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		n.mu.Lock()
		missing := []int64{}
		for _, s := range seqs {
			if n.seqs[s] == 0 {
				missing = append(missing, s)
			}
		}
		n.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-n.cond:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("node %s: changes %v never arrived (status %+v)", n.bus.opt.Node, missing, n.bus.Status())
		}
	}
}

func (n *node) times(seq int64) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seqs[seq]
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

var alertN int

// createAlert writes an alert through store and returns its change seq.
func createAlert(t *testing.T, store *layers.Store, title string) (id, seq int64) {
	t.Helper()
	ctx := context.Background()
	before, err := store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alertN++
	f, err := store.Create(ctx, layers.Feature{Layer: "alerts", Geometry: orb.Point{114.12 + float64(alertN)*1e-4, 22.55},
		Props: map[string]any{"title": title, "severity": "major", "state": "raised"}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := store.ChangesSince(ctx, before, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Layer == "alerts" && c.FeatureID == f.ID {
			return f.ID, c.Seq
		}
	}
	t.Fatalf("no change for alert %d", f.ID)
	return 0, 0
}

// liveClient is a websocket client of a node's live.Hub, subscribed to
// the alerts around the test area.
type liveClient struct {
	t *testing.T
	c *websocket.Conn
}

type liveMsg struct {
	Type  string
	Seq   int64
	Op    string
	Layer string
	ID    int64
}

func serveHub(t *testing.T, n *node) string {
	t.Helper()
	hub := live.NewHub(n.store, live.Options{})
	n.store.Subscribe(hub.Publish)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hub.ServeWS(w, r, "") }))
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialLive(t *testing.T, url string) *liveClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lc := &liveClient{t: t, c: c}
	hello := lc.next()
	if hello.Type != "hello" {
		t.Fatalf("first message %+v, want hello", hello)
	}
	// since makes the hub answer "replayed" once the subscription holds.
	sub := fmt.Sprintf(`{"type":"subscribe","layers":["alerts"],"bbox":[114.0,22.5,114.3,22.6],"since":%d}`, hello.Seq)
	if err := c.WriteMessage(websocket.TextMessage, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	for m := lc.next(); m.Type != "replayed"; m = lc.next() {
		if m.Type == "error" || m.Type == "reload" {
			t.Fatalf("subscribing: %+v", m)
		}
	}
	return lc
}

func (lc *liveClient) next() liveMsg {
	lc.t.Helper()
	_ = lc.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, data, err := lc.c.ReadMessage()
	if err != nil {
		lc.t.Fatalf("reading the live stream: %v", err)
	}
	var m liveMsg
	if err := json.Unmarshal(data, &m); err != nil {
		lc.t.Fatalf("%s: %v", data, err)
	}
	return m
}

// featuresUntil reads until the feature message of alert stop and returns
// how many feature messages each alert id got on the way.
func (lc *liveClient) featuresUntil(stop int64) map[int64]int {
	lc.t.Helper()
	got := map[int64]int{}
	for {
		m := lc.next()
		if m.Type != "feature" {
			continue
		}
		got[m.ID]++
		if m.ID == stop {
			return got
		}
	}
}

// TestTwoNodesLiveStream: an alert written through node A reaches a
// websocket client of node B, and A's own client exactly once.
func TestTwoNodesLiveStream(t *testing.T) {
	natsURL := sharedNATS(t)
	stream := testStream(t, natsURL)
	dbURL := pgtest.URL(t)
	a := newNode(t, dbURL, natsURL, stream, "node-a", Options{})
	b := newNode(t, dbURL, natsURL, stream, "node-b", Options{})
	clientA := dialLive(t, serveHub(t, a))
	clientB := dialLive(t, serveHub(t, b))

	alert, seq := createAlert(t, a.store, "烟感报警 via A")
	if got := clientB.featuresUntil(alert); got[alert] != 1 {
		t.Fatalf("node B's client: %v", got)
	}
	// Markers written after it: any copy of the alert would come before
	// them (the stream keeps order).
	markerB, _ := createAlert(t, b.store, "marker via B")
	markerA, _ := createAlert(t, a.store, "marker via A")
	if got := clientA.featuresUntil(markerB); got[alert] != 1 || got[markerB] != 1 {
		t.Fatalf("node A's client got %v, want alert %d and marker %d once each", got, alert, markerB)
	}
	if got := clientB.featuresUntil(markerA); got[alert] != 0 || got[markerB] != 1 {
		t.Fatalf("node B's client after the alert got %v", got)
	}
	if a.times(seq) != 1 || b.times(seq) != 1 {
		t.Fatalf("alert's change seen %d times on A, %d on B", a.times(seq), b.times(seq))
	}
	if v := metric(t, b.reg, "hexward_bus_received_total"); v != 2 { // the alert and marker A
		t.Fatalf("B received %v changes", v)
	}
	if v := metric(t, a.reg, "hexward_bus_published_total"); v != 2 {
		t.Fatalf("A published %v changes", v)
	}
}

// TestSurvivesNATSRestart: writes made while NATS is down reach the other
// node after it is back, each once; what came before is not sent again.
func TestSurvivesNATSRestart(t *testing.T) {
	srv := startNATSServer(t)
	stream := testStream(t, srv.url())
	dbURL := pgtest.URL(t)
	a := newNode(t, dbURL, srv.url(), stream, "node-a", Options{})
	b := newNode(t, dbURL, srv.url(), stream, "node-b", Options{})

	_, first := createAlert(t, a.store, "before the outage")
	b.waitSeqs(t, first)

	srv.stop()
	var during []int64
	for i := range 5 {
		_, seq := createAlert(t, a.store, fmt.Sprintf("during the outage %d", i))
		during = append(during, seq)
	}
	if st := a.bus.Status(); st.Pending != 5 { // no server to acknowledge them
		t.Fatalf("A's status while NATS is down: %+v", st)
	}
	srv.start()

	b.waitSeqs(t, during...)
	_, marker := createAlert(t, a.store, "after the outage")
	b.waitSeqs(t, marker)
	for _, seq := range append([]int64{first, marker}, during...) {
		if n := b.times(seq); n != 1 {
			t.Errorf("change %d reached node B's subscribers %d times", seq, n)
		}
		if n := a.times(seq); n != 1 {
			t.Errorf("change %d reached node A's subscribers %d times", seq, n)
		}
	}
	if v := metric(t, b.reg, "hexward_bus_received_total"); v != 7 {
		t.Errorf("B received %v changes, want 7", v)
	}
	// Not even sent again (the dedupe would hide it): the consumer resumed
	// after the last message it had delivered.
	if v := metric(t, b.reg, "hexward_bus_duplicates_skipped_total"); v != 0 {
		t.Errorf("B skipped %v duplicates", v)
	}
	if v := metric(t, a.reg, "hexward_bus_pending"); v != 0 {
		t.Errorf("A still has %v pending", v)
	}
	if v := metric(t, a.reg, "hexward_bus_reconnects_total"); v < 1 {
		t.Errorf("A reconnected %v times", v)
	}
	if err := a.bus.Healthy(); err != nil {
		t.Errorf("A after the outage: %v", err)
	}
}

// TestQueueOverflowDrops: with NATS gone, a full queue drops new batches,
// counts them and says so, without blocking the writer.
func TestQueueOverflowDrops(t *testing.T) {
	srv := startNATSServer(t)
	stream := testStream(t, srv.url())
	b, err := Connect(context.Background(), srv.url(), Options{Node: "lonely", Stream: stream,
		Registry: prometheus.NewRegistry(), MaxPending: 5, FlushTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.stop()
	batch := func(seq int64, n int) []layers.Change {
		cs := make([]layers.Change, n)
		for i := range cs {
			cs[i] = layers.Change{Seq: seq + int64(i), Layer: "alerts", FeatureID: 1, Op: layers.Insert, At: time.Now()}
		}
		return cs
	}
	b.send(batch(1, 3))
	b.send(batch(4, 2))
	b.send(batch(6, 4)) // 9 > 5: dropped whole
	b.send(batch(10, 1))
	if st := b.Status(); st.Pending != 5 || st.Dropped != 5 {
		t.Fatalf("status %+v, want 5 pending, 5 dropped", st)
	}
	if err := b.Healthy(); err == nil {
		t.Fatal("healthy without NATS and with a full queue")
	}
}

// TestOverflowRecoversFromChangeLog: the changes that found the queue full
// while NATS was down are read back from the change log and published
// when it returns: the other node gets every change, once.
func TestOverflowRecoversFromChangeLog(t *testing.T) {
	srv := startNATSServer(t)
	stream := testStream(t, srv.url())
	dbURL := pgtest.URL(t)
	a := newNode(t, dbURL, srv.url(), stream, "node-a", Options{MaxPending: 3})
	b := newNode(t, dbURL, srv.url(), stream, "node-b", Options{})

	srv.stop()
	var seqs []int64
	for i := range 10 {
		_, seq := createAlert(t, a.store, fmt.Sprintf("during the outage %d", i))
		seqs = append(seqs, seq)
	}
	if st := a.bus.Status(); st.Pending != 3 || st.Deferred != 7 || st.Dropped != 0 {
		t.Fatalf("A's status with NATS down and a queue of 3: %+v, want 3 pending, 7 deferred", st)
	}
	if err := a.bus.Healthy(); err == nil {
		t.Fatal("healthy without NATS and with a full queue")
	}
	srv.start()

	b.waitSeqs(t, seqs...)
	for _, seq := range seqs {
		if n := b.times(seq); n != 1 {
			t.Errorf("change %d reached node B's subscribers %d times", seq, n)
		}
	}
	if v := metric(t, a.reg, "hexward_bus_recovered_total"); v != 7 {
		t.Errorf("A read back %v changes from the change log, want 7", v)
	}
	if st := a.bus.Status(); st.Deferred != 0 || st.Dropped != 0 {
		t.Errorf("A after the outage: %+v", st)
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		url  string
		opt  Options
		want string
	}{
		{"", Options{}, "no NATS URL"},
		{"nats://127.0.0.1:1", Options{Stream: "a.b"}, `stream name "a.b"`},
		{"nats://127.0.0.1:1", Options{Subject: "hexward.>"}, `subject prefix "hexward.>"`},
		{"nats://127.0.0.1:1", Options{Subject: "hexward..x"}, `subject prefix`},
		{"nats://127.0.0.1:1", Options{MaxPending: -1}, "negative"},
	} {
		_, err := Connect(context.Background(), c.url, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Connect(%q, %+v): %v, want %q", c.url, c.opt, err, c.want)
		}
	}
	if got := subjectToken("web-1.example com"); got != "web-1_example_com" {
		t.Errorf("subject token %q", got)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, 5, 1, 8, 0, 0, 123456789, time.UTC)
	cs := []layers.Change{
		{Seq: 1, Layer: "alerts", FeatureID: 7, Op: layers.Insert, After: orb.Point{114.1, 22.5}.Bound(), At: at},
		{Seq: 2, Layer: "buildings", FeatureID: 8, Op: layers.Update, Before: orb.Bound{Min: orb.Point{1, 2}, Max: orb.Point{3, 4}},
			After: orb.Bound{Min: orb.Point{-1, -2}, Max: orb.Point{3, 4.5}}, At: at},
		{Seq: 3, Layer: "roads", FeatureID: 9, Op: layers.Delete, Before: orb.Bound{Min: orb.Point{1, 2}, Max: orb.Point{3, 4}}, At: at},
	}
	data, err := Encode(cs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"after":null`) || !strings.Contains(string(data), `"before":null`) ||
		!strings.Contains(string(data), `"before":[1,2,3,4]`) {
		t.Fatalf("wire form %s", data)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cs) {
		t.Fatalf("decoded %d changes", len(got))
	}
	for i := range cs {
		if got[i].At.Equal(cs[i].At) {
			got[i].At = cs[i].At
		}
		if got[i] != cs[i] {
			t.Errorf("change %d: %+v, want %+v", i, got[i], cs[i])
		}
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`nope`, "decoding changes"},
		{`[]`, "empty batch"},
		{`{"seq":1}`, "decoding changes"},
		{`[{"seq":0,"layer":"a","op":"insert"}]`, "seq must be positive"},
		{`[{"seq":1,"layer":"","op":"insert"}]`, "no layer"},
		{`[{"seq":1,"layer":"a","op":"upsert"}]`, `unknown op "upsert"`},
		{`[{"seq":1,"layer":"a","op":"insert","after":[3,0,1,0]}]`, "after: bound"},
		{`[{"seq":1,"layer":"a","op":"insert","before":[0,0,1]}]`, "before: bound has 3 numbers"},
		{`[{"seq":1,"layer":"a","op":"insert"},{"seq":2,"layer":"a","op":"x"}]`, "change 1 (seq 2)"},
	} {
		_, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%s): %v, want %q", c.in, err, c.want)
		}
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	cs := make([]layers.Change, 100)
	for i := range cs {
		cs[i] = layers.Change{Seq: int64(i + 1), Layer: "buildings", FeatureID: int64(i), Op: layers.Update,
			Before: orb.Bound{Min: orb.Point{114.1, 22.5}, Max: orb.Point{114.1001, 22.5001}},
			After:  orb.Bound{Min: orb.Point{114.1, 22.5}, Max: orb.Point{114.1002, 22.5002}}, At: time.Now()}
	}
	b.ReportAllocs()
	for b.Loop() {
		data, err := Encode(cs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
