package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hexward/hexward/layers"
)

// memSource is an in-memory Source: features by layer and id.
type memSource struct {
	mu     sync.Mutex
	feats  map[featureKey]layers.Feature
	log    []layers.Change
	pruned int64 // the log's pruning watermark, as layers.Store keeps it
}

func newMemSource() *memSource { return &memSource{feats: map[featureKey]layers.Feature{}} }

func (m *memSource) put(f layers.Feature, op layers.Op) layers.Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := featureKey{f.Layer, f.ID}
	c := layers.Change{Seq: int64(len(m.log) + 1), Layer: f.Layer, FeatureID: f.ID, Op: op}
	if old, ok := m.feats[k]; ok {
		c.Before = old.Geometry.Bound()
	}
	if op == layers.Delete {
		delete(m.feats, k)
	} else {
		m.feats[k] = f
		c.After = f.Geometry.Bound()
	}
	m.log = append(m.log, c)
	return c
}

func (m *memSource) Features(_ context.Context, layer string, ids []int64) ([]layers.Feature, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []layers.Feature
	for _, id := range ids {
		if f, ok := m.feats[featureKey{layer, id}]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func (m *memSource) ChangesSince(_ context.Context, after int64, limit int) ([]layers.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after < m.pruned {
		return nil, fmt.Errorf("changes after seq %d: %w up to seq %d", after, layers.ErrChangesPruned, m.pruned)
	}
	var out []layers.Change
	for _, c := range m.log {
		if c.Seq > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memSource) LastSeq(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.log)), nil
}

func (m *memSource) ScopeArea(_ context.Context, code string) (orb.MultiPolygon, error) {
	if code == "west" {
		return orb.MultiPolygon{{{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}}}, nil
	}
	return nil, layers.ErrNoArea
}

func square(x, y float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + 1, y}, {x + 1, y + 1}, {x, y + 1}, {x, y}}}
}

func TestMatch(t *testing.T) {
	west := &scope{}
	west.set(orb.MultiPolygon{{{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}}})
	everywhere := &filter{layers: map[string]bool{"a": true}, bbox: orb.Bound{Min: orb.Point{-50, -50}, Max: orb.Point{50, 50}}}
	ev := func(op layers.Op, before, after orb.Geometry, beforeKnown bool) *event {
		e := &event{Change: layers.Change{Seq: 1, Layer: "a", FeatureID: 7, Op: op}}
		if before != nil {
			e.Before = before.Bound()
			if beforeKnown {
				e.beforeAnchor, e.beforeKnown = before.Bound().Center(), true
			}
		}
		if after != nil {
			e.After = after.Bound()
			e.feature = &layers.Feature{ID: 7, Layer: "a", Geometry: after}
			e.afterAnchor, e.afterKnown = anchorOf(e.feature)
		}
		e.encode()
		return e
	}
	cases := []struct {
		name        string
		ev          *event
		f           *filter
		sc          *scope
		wantOp      string // "" for no feature message
		wantTiles   bool
		wantNothing bool
	}{
		{"insert in bbox", ev(layers.Insert, nil, orb.Point{1, 1}, false), everywhere, nil, "insert", true, false},
		{"other layer", ev(layers.Insert, nil, orb.Point{1, 1}, false), &filter{layers: map[string]bool{"b": true}, bbox: everywhere.bbox}, nil, "", false, true},
		{"outside bbox", ev(layers.Insert, nil, orb.Point{60, 1}, false), everywhere, nil, "", false, true},
		{"moved out of bbox", ev(layers.Update, orb.Point{1, 1}, orb.Point{60, 1}, true), everywhere, nil, "update", true, false},
		{"insert in scope", ev(layers.Insert, nil, square(2, 2), false), everywhere, west, "insert", true, false},
		{"insert out of scope", ev(layers.Insert, nil, square(-20, 2), false), everywhere, west, "", false, true},
		{"moved out of scope", ev(layers.Update, orb.Point{1, 1}, orb.Point{-20, 1}, true), everywhere, west, "delete", true, false},
		{"delete in scope", ev(layers.Delete, orb.Point{1, 1}, nil, true), everywhere, west, "delete", true, false},
		{"delete out of scope", ev(layers.Delete, orb.Point{-20, 1}, nil, true), everywhere, west, "", false, true},
		{"delete unknown anchor, bounds away", ev(layers.Delete, square(-20, 1), nil, false), everywhere, west, "", false, true},
		{"delete unknown anchor, bounds touch", ev(layers.Delete, square(9.5, 1), nil, false), everywhere, west, "delete", true, false},
		{"empty scope", ev(layers.Insert, nil, orb.Point{1, 1}, false), everywhere, &scope{empty: true}, "", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			feat, tiles := match(c.ev, c.f, c.sc)
			if c.wantNothing != (feat == nil && tiles == nil) || c.wantTiles != (tiles != nil) {
				t.Fatalf("feature %v tiles %v", feat, tiles)
			}
			if c.wantOp == "" {
				if feat != nil {
					t.Fatalf("feature message %s", feat.data)
				}
				return
			}
			var m struct {
				Op      string
				Feature json.RawMessage
			}
			if err := json.Unmarshal(feat.data, &m); err != nil || m.Op != c.wantOp {
				t.Fatalf("%s, want op %s", feat.data, c.wantOp)
			}
			if (c.wantOp == "delete") != (string(m.Feature) == "null") {
				t.Fatalf("feature body %s for %s", m.Feature, c.wantOp)
			}
		})
	}
}

type testHub struct {
	*Hub
	src *memSource
	url string
	reg *prometheus.Registry
}

func newTestHub(t *testing.T, opt Options) *testHub {
	t.Helper()
	src := newMemSource()
	opt.Registry = prometheus.NewRegistry()
	h := NewHub(src, opt)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeWS(w, r, r.URL.Query().Get("scope"))
	}))
	t.Cleanup(func() { h.Close(); srv.Close() })
	return &testHub{Hub: h, src: src, url: "ws" + strings.TrimPrefix(srv.URL, "http"), reg: opt.Registry}
}

func (th *testHub) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(th.url+"/?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var hello struct{ Type string }
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello: %v %v", hello, err)
	}
	return c
}

func subscribe(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestSlowClientIsDroppedAndDoesNotDelayOthers publishes N big features
// to a client that reads and one that never reads: the reader gets all N
// within the deadline while the stalled one is dropped.
func TestSlowClientIsDroppedAndDoesNotDelayOthers(t *testing.T) {
	th := newTestHub(t, Options{})
	sub := `{"type":"subscribe","layers":["a"],"bbox":[-180,-90,180,90]}`
	healthy, stalled := th.dial(t, ""), th.dial(t, "")
	subscribe(t, healthy, sub)
	subscribe(t, stalled, sub)
	time.Sleep(100 * time.Millisecond) // the subscriptions are read

	const n = 5000
	big := strings.Repeat("x", 4000) // 4 KB a message: N of them overflow any socket buffer
	done := make(chan error, 1)
	go func() {
		got := 0
		_ = healthy.SetReadDeadline(time.Now().Add(30 * time.Second))
		for got < n {
			var m struct {
				Type string
				Seq  int64
			}
			if err := healthy.ReadJSON(&m); err != nil {
				done <- fmt.Errorf("after %d features: %w", got, err)
				return
			}
			if m.Type == "feature" {
				got++
				if m.Seq != int64(got) {
					done <- errors.New("out of order")
					return
				}
			}
		}
		done <- nil
	}()
	start := time.Now()
	for i := 1; i <= n; i += 10 {
		var batch []layers.Change
		for j := i; j < i+10; j++ {
			batch = append(batch, th.src.put(layers.Feature{ID: int64(j), Layer: "a", Geometry: orb.Point{1, 1}, Props: map[string]any{"pad": big}}, layers.Insert))
		}
		th.Publish(batch)
		time.Sleep(2 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("healthy client: %v (dropped as too slow: %v)", err, counter(th.metrics.dropped.WithLabelValues("too_slow")))
	}
	t.Logf("healthy client got %d features in %v", n, time.Since(start))
	deadline := time.Now().Add(15 * time.Second)
	for counter(th.metrics.dropped.WithLabelValues("too_slow")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client was not dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for th.Clients() != 1 { // the dropped client leaves the hub just after it is counted
		if time.Now().After(deadline) {
			t.Fatalf("%d clients connected, want 1", th.Clients())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The stalled client finds, after what was buffered, the connection closed.
	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := stalled.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != closeTooSlow && ce.Code != websocket.CloseAbnormalClosure {
				t.Fatalf("stalled client closed with %v", ce)
			}
			break
		}
	}
}

func TestBadMessagesGetErrorsThenClose(t *testing.T) {
	th := newTestHub(t, Options{Rate: 1000, Burst: 1000})
	c := th.dial(t, "")
	for i, msg := range []string{`{not json`, `{"type":"hello"}`, `{"type":"subscribe","layers":["a"],"bbox":[1,2,3]}`} {
		subscribe(t, c, msg)
		var m struct{ Type, Detail string }
		if err := c.ReadJSON(&m); err != nil || m.Type != "error" || m.Detail == "" {
			t.Fatalf("message %d: %+v %v", i, m, err)
		}
	}
	// still open: a good subscription works
	subscribe(t, c, `{"type":"subscribe","layers":["a"],"bbox":[0,0,5,5]}`)
	time.Sleep(50 * time.Millisecond)
	th.Publish([]layers.Change{th.src.put(layers.Feature{ID: 1, Layer: "a", Geometry: orb.Point{1, 1}}, layers.Insert)})
	var m struct{ Type string }
	if err := c.ReadJSON(&m); err != nil || m.Type != "feature" {
		t.Fatalf("%+v %v", m, err)
	}
	for range 7 {
		subscribe(t, c, `[]`)
	}
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closePolicy {
				t.Fatalf("closed with %v, want 1008", err)
			}
			break
		}
	}
}

func TestRateLimit(t *testing.T) {
	th := newTestHub(t, Options{Rate: 1, Burst: 2})
	c := th.dial(t, "")
	for range 3 {
		subscribe(t, c, `{"type":"subscribe","layers":["a"],"bbox":[0,0,5,5]}`)
	}
	var m struct{ Type, Detail string }
	if err := c.ReadJSON(&m); err != nil || m.Type != "error" || !strings.Contains(m.Detail, "too many messages") {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestResumeReplaysThenGoesLiveWithoutDuplicates(t *testing.T) {
	th := newTestHub(t, Options{})
	for i := 1; i <= 5; i++ {
		th.Publish([]layers.Change{th.src.put(layers.Feature{ID: int64(i), Layer: "a", Geometry: orb.Point{1, 1}}, layers.Insert)})
	}
	c := th.dial(t, "")
	subscribe(t, c, `{"type":"subscribe","layers":["a"],"bbox":[0,0,5,5],"since":2}`)
	// a live change while (or after) the replay
	th.Publish([]layers.Change{th.src.put(layers.Feature{ID: 6, Layer: "a", Geometry: orb.Point{1, 1}}, layers.Insert)})
	var seqs []int64
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(seqs) < 4 {
		var m struct {
			Type string
			Seq  int64
		}
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("after %v: %v", seqs, err)
		}
		if m.Type == "feature" {
			seqs = append(seqs, m.Seq)
		}
	}
	if want := []int64{3, 4, 5, 6}; !equal(seqs, want) {
		t.Fatalf("seqs %v, want %v", seqs, want)
	}
	// nothing more: no duplicate of 6
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		var m struct {
			Type string
			Seq  int64
		}
		if err := c.ReadJSON(&m); err != nil {
			break
		}
		if m.Type == "feature" {
			t.Fatalf("extra %+v", m)
		}
	}
}

func TestResumeTooFarBackSaysReload(t *testing.T) {
	th := newTestHub(t, Options{MaxReplay: 3})
	for i := 1; i <= 5; i++ {
		th.src.put(layers.Feature{ID: int64(i), Layer: "a", Geometry: orb.Point{1, 1}}, layers.Insert)
	}
	c := th.dial(t, "")
	subscribe(t, c, `{"type":"subscribe","layers":["a"],"bbox":[0,0,5,5],"since":0}`)
	var m struct{ Type string }
	if err := c.ReadJSON(&m); err != nil || m.Type != "reload" {
		t.Fatalf("%+v %v", m, err)
	}
}

// TestResumeFromPrunedSaysReloadThenGoesLive: a client that resumes from
// before the change log's retention is told to reload, and then gets the
// live changes.
func TestResumeFromPrunedSaysReloadThenGoesLive(t *testing.T) {
	th := newTestHub(t, Options{})
	for i := 1; i <= 5; i++ {
		th.src.put(layers.Feature{ID: int64(i), Layer: "a", Geometry: orb.Point{1, 1}}, layers.Insert)
	}
	th.src.mu.Lock()
	th.src.pruned = 3
	th.src.mu.Unlock()
	c := th.dial(t, "")
	subscribe(t, c, `{"type":"subscribe","layers":["a"],"bbox":[0,0,5,5],"since":2}`)
	var m struct {
		Type, Detail string
		Seq          int64
	}
	if err := c.ReadJSON(&m); err != nil || m.Type != "reload" || !strings.Contains(m.Detail, "no longer kept") {
		t.Fatalf("want reload saying the changes are no longer kept, got %+v %v", m, err)
	}
	ch := th.src.put(layers.Feature{ID: 6, Layer: "a", Geometry: orb.Point{2, 2}}, layers.Insert)
	th.Publish([]layers.Change{ch})
	for {
		if err := c.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "feature" {
			if m.Seq != ch.Seq {
				t.Fatalf("live change seq %d, want %d", m.Seq, ch.Seq)
			}
			return
		}
	}
}

func TestOriginCheck(t *testing.T) {
	th := newTestHub(t, Options{CORSOrigins: []string{"https://map.example"}})
	for origin, ok := range map[string]bool{"https://evil.example": false, "https://map.example": true, "": true} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(th.url, h)
		if ok != (err == nil) {
			t.Errorf("origin %q: %v %v", origin, resp, err)
		}
		if c != nil {
			c.Close()
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestMergeTiles: the tiles notices of one write become one per layer,
// after the other messages, with the union and every box; a lone notice
// and the feature messages pass as they are.
func TestMergeTiles(t *testing.T) {
	note := func(seq int64, layer string, box [4]float64) *message {
		m := newMessage(seq, tilesMsg{Type: "tiles", Seq: seq, Layer: layer, Bounds: box})
		m.tile = newTileNote(layer, box)
		return m
	}
	feat := func(seq int64) *message { return newMessage(seq, map[string]any{"type": "feature", "seq": seq}) }
	f1, f2, f3 := feat(1), feat(2), feat(3)
	a1 := note(1, "alerts", [4]float64{114.1, 22.5, 114.2, 22.6})
	a2 := note(2, "alerts", [4]float64{114.3, 22.25, 114.4, 22.5})
	a3 := note(3, "alerts", [4]float64{114.3, 22.25, 114.4, 22.5}) // the same box again: listed once
	o2 := note(2, "officers", [4]float64{5, 5, 5, 5})

	lone := []*message{f1, a1, f2, o2}
	if got, _ := mergeTiles(lone, nil); len(got) != 4 || !slices.Contains(got, a1) || !slices.Contains(got, o2) {
		t.Fatalf("one notice per layer must pass as it is, got %d messages", len(got))
	}

	got, _ := mergeTiles([]*message{f1, a1, f2, o2, a2, f3, a3}, nil)
	var kinds []string
	for _, m := range got {
		var v struct {
			Type   string
			Seq    int64
			Layer  string
			Bounds [4]float64
			Boxes  [][4]float64
		}
		if err := json.Unmarshal(m.data, &v); err != nil {
			t.Fatal(err)
		}
		if v.Seq != m.seq {
			t.Fatalf("message seq %d, frame says %d", m.seq, v.Seq)
		}
		kinds = append(kinds, fmt.Sprintf("%s%d%s", v.Type, v.Seq, v.Layer))
		if v.Type == "tiles" && v.Layer == "alerts" {
			if v.Bounds != [4]float64{114.1, 22.25, 114.4, 22.6} {
				t.Errorf("union %v, want [114.1 22.25 114.4 22.6]", v.Bounds)
			}
			if len(v.Boxes) != 2 || v.Boxes[0] != a1.tile.box || v.Boxes[1] != a2.tile.box {
				t.Errorf("boxes %v, want the two distinct boxes in order", v.Boxes)
			}
		}
		if !strings.HasSuffix(string(m.frame), string(m.data)) || m.frame[0] != 0x81 {
			t.Errorf("frame of %s is not one text frame of its data", m.data)
		}
	}
	want := "feature1 feature2 feature3 tiles3alerts tiles2officers"
	if s := strings.Join(kinds, " "); s != want {
		t.Fatalf("merged write\n got %s\nwant %s", s, want)
	}
}

// BenchmarkMergeTiles: one client's write of 20 changes of one layer, a
// feature message and a tiles notice each, as a busy stream queues them.
func BenchmarkMergeTiles(b *testing.B) {
	var q []*message
	for i := range 20 {
		seq := int64(i + 1)
		box := [4]float64{114.1 + float64(i)*1e-4, 22.5, 114.1 + float64(i)*1e-4, 22.5}
		q = append(q, newMessage(seq, map[string]any{"type": "feature", "seq": seq}))
		n := newMessage(seq, tilesMsg{Type: "tiles", Seq: seq, Layer: "officers", Bounds: box})
		n.tile = newTileNote("officers", box)
		q = append(q, n)
	}
	w := make([]*message, len(q))
	var notes []*message
	b.ReportAllocs()
	for b.Loop() {
		copy(w, q)
		_, notes = mergeTiles(w, notes)
	}
}
