package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// liveMsg is any server message of the live stream.
type liveMsg struct {
	Type    string
	Seq     int64
	Op      string
	Layer   string
	ID      int64
	Feature json.RawMessage
	Detail  string
}

// liveDial opens GET /live as user and reads the hello.
func liveDial(t *testing.T, e *env, user string) (*websocket.Conn, int64) {
	t.Helper()
	t.Cleanup(e.srv.Close)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.tokens[user])
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/live", h)
	if err != nil {
		t.Fatalf("dial /live as %s: %v %v", user, resp, err)
	}
	t.Cleanup(func() { c.Close() })
	var m liveMsg
	if err := c.ReadJSON(&m); err != nil || m.Type != "hello" {
		t.Fatalf("hello: %+v %v", m, err)
	}
	return c, m.Seq
}

func liveSend(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server read it before the writes that follow
}

// features reads until n feature messages arrived (others are skipped).
func features(t *testing.T, c *websocket.Conn, n int) []liveMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []liveMsg
	for len(out) < n {
		var m liveMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("after %d features: %v", len(out), err)
		}
		if m.Type == "feature" {
			out = append(out, m)
		}
	}
	return out
}

// gate creates a gate at lon, lat as admin and returns its id.
func gate(t *testing.T, e *env, lon, lat float64) int64 {
	t.Helper()
	status, _, b := e.as(t, "admin", "POST", "/api/collections/gates/items",
		fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"name":"live"}}`, lon, lat))
	if status != 201 {
		t.Fatalf("gate: %d %s", status, b)
	}
	var f struct{ ID int64 }
	_ = json.Unmarshal(b, &f)
	return f.ID
}

func TestLiveSeesChangesInItsBBox(t *testing.T) {
	e := newEnv(t)
	c, _ := liveDial(t, e, "viewer")
	liveSend(t, c, `{"type":"subscribe","layers":["gates"],"bbox":[114.11,22.54,114.125,22.56],"zoom":16}`)
	in := gate(t, e, 114.121, 22.551)
	gate(t, e, 114.3, 22.7) // outside the bbox
	last := gate(t, e, 114.122, 22.552)
	got := features(t, c, 2)
	if got[0].ID != in || got[0].Op != "insert" || got[0].Layer != "gates" || got[1].ID != last {
		t.Fatalf("got %+v, want inserts of %d then %d (not the one outside)", got, in, last)
	}
	var f struct {
		Type     string
		Geometry struct{ Coordinates []float64 }
	}
	if err := json.Unmarshal(got[0].Feature, &f); err != nil || f.Type != "Feature" || f.Geometry.Coordinates[0] != 114.121 {
		t.Fatalf("feature body %s", got[0].Feature)
	}
	if status, _, _ := e.as(t, "admin", "DELETE", fmt.Sprintf("/api/collections/gates/items/%d", in), ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if del := features(t, c, 1)[0]; del.ID != in || del.Op != "delete" || string(del.Feature) != "null" {
		t.Fatalf("delete message %+v", del)
	}
}

func TestLiveAreaScope(t *testing.T) {
	e := newEnv(t)
	addCommunityB(t, e)
	scoped, _ := liveDial(t, e, "viewer-b")
	all, _ := liveDial(t, e, "viewer")
	sub := `{"type":"subscribe","layers":["gates"],"bbox":[114.0,22.5,114.2,22.6]}`
	liveSend(t, scoped, sub)
	liveSend(t, all, sub)
	inA := gate(t, e, 114.121, 22.551)
	inB := gate(t, e, 114.13, 22.55)
	if got := features(t, all, 2); got[0].ID != inA || got[1].ID != inB {
		t.Fatalf("unscoped viewer got %+v", got)
	}
	if got := features(t, scoped, 1); got[0].ID != inB {
		t.Fatalf("viewer-b got %+v, want only %d", got, inB)
	}
	// moving B's gate into A takes it out of viewer-b's sight: a delete
	if status, _, b := e.as(t, "admin", "PUT", fmt.Sprintf("/api/collections/gates/items/%d", inB),
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.12,22.55]},"properties":{}}`); status != 200 {
		t.Fatalf("move: %d %s", status, b)
	}
	if got := features(t, scoped, 1)[0]; got.ID != inB || got.Op != "delete" || string(got.Feature) != "null" {
		t.Fatalf("viewer-b got %+v, want a delete of %d", got, inB)
	}
}

func TestLiveResumeWithoutGapOrDuplicate(t *testing.T) {
	e := newEnv(t)
	sub := `{"type":"subscribe","layers":["gates"],"bbox":[114.11,22.54,114.125,22.56]%s}`
	c, _ := liveDial(t, e, "viewer")
	liveSend(t, c, fmt.Sprintf(sub, ""))
	gate(t, e, 114.121, 22.551)
	seen := features(t, c, 1)[0].Seq
	c.Close()
	var missed []int64
	for i := range 3 {
		missed = append(missed, gate(t, e, 114.121+float64(i)*0.0001, 22.552))
	}
	c, _ = liveDial(t, e, "viewer")
	liveSend(t, c, fmt.Sprintf(sub, fmt.Sprintf(`,"since":%d`, seen)))
	live := gate(t, e, 114.122, 22.553)
	got := features(t, c, 4)
	for i, id := range append(missed, live) {
		if got[i].ID != id || got[i].Op != "insert" {
			t.Fatalf("feature %d: %+v, want %d (all: %+v)", i, got[i], id, got)
		}
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seqs not increasing: %+v", got)
		}
	}
	// and nothing twice
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		var m liveMsg
		if err := c.ReadJSON(&m); err != nil {
			break
		}
		if m.Type == "feature" {
			t.Fatalf("extra feature %+v", m)
		}
	}
}

func TestLiveMalformedMessageKeepsTheConnection(t *testing.T) {
	e := newEnv(t)
	c, _ := liveDial(t, e, "viewer")
	for _, msg := range []string{`{"type":"subscribe",`, `{"type":"subscribe","layers":["castles"],"bbox":[0,0,1,1]}`} {
		liveSend(t, c, msg)
		var m liveMsg
		if err := c.ReadJSON(&m); err != nil || m.Type != "error" || m.Detail == "" {
			t.Fatalf("%s: %+v %v", msg, m, err)
		}
	}
	liveSend(t, c, `{"type":"subscribe","layers":["gates"],"bbox":[114.11,22.54,114.125,22.56]}`)
	id := gate(t, e, 114.121, 22.551)
	if got := features(t, c, 1)[0]; got.ID != id {
		t.Fatalf("got %+v", got)
	}
}

func TestLiveRefusesOtherOriginsAndPlainGET(t *testing.T) {
	e := newEnv(t)
	t.Cleanup(e.srv.Close)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.tokens["viewer"])
	h.Set("Origin", "https://evil.example")
	if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/live", h); err == nil || resp.StatusCode != 403 {
		t.Fatalf("other origin: %v %v", resp, err)
	}
	if status, _, b := e.as(t, "viewer", "GET", "/live", ""); status != 400 {
		t.Fatalf("plain GET: %d %s", status, b)
	}
	if status, _, _ := e.as(t, "", "GET", "/live", ""); status != 401 {
		t.Fatalf("no credentials: %d", status)
	}
	if status, _, _ := e.as(t, "device", "GET", "/live", ""); status != 403 {
		t.Fatalf("device: %d", status)
	}
}
