package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/paulmach/orb"
	"golang.org/x/time/rate"

	"github.com/hexward/hexward/layers"
)

// Close codes and reasons the hub sends.
const (
	closeGoingAway = websocket.CloseGoingAway       // 1001: the server stops
	closePolicy    = websocket.ClosePolicyViolation // 1008: too many bad messages
	closeTooSlow   = websocket.CloseTryAgainLater   // 1013: "too slow"
	reasonTooSlow  = "too slow"
	reasonTooBad   = "too many bad messages"
)

// client is one websocket connection.
type client struct {
	h    *Hub
	conn *websocket.Conn
	sc   *scope // nil: sees everywhere

	mu        sync.Mutex // guards the fields below
	f         *filter
	queue     []*message
	replaying bool     // a resume is reading the log: live events wait in pending
	pending   []*event // live events matched while replaying
	replayed  []int64  // seqs the last resume sent, sorted: live copies are skipped
	seen      int64    // the since of the last resume: the client has every change up to it
	closed    bool

	wake    chan struct{} // the writer has work
	space   chan struct{} // the writer took the queue
	pongs   chan []byte   // pings to answer: only the writer writes
	closing chan struct{} // closed by drop: the writer sends the close frame and stops
	written chan struct{} // closed when the writer has stopped
	once    sync.Once
	// set by drop before closing is closed: the close frame the writer
	// sends (code 0: none)
	closeCode   int
	closeReason string
}

// ServeWS upgrades the request to a websocket and serves it until it
// closes. scopeCode is the caller's area scope ("" for everywhere); the
// caller has been authorised. w must be (or unwrap to) an http.Hijacker.
// A request that is not a websocket handshake gets 400.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, scopeCode string) {
	up := websocket.Upgrader{
		ReadBufferSize:  4 << 10,
		WriteBufferSize: 16 << 10,
		CheckOrigin:     h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status),
				"status": status, "detail": "live: " + reason.Error() + " (connect with a websocket client)"})
		},
	}
	var sc *scope
	if scopeCode != "" {
		var err error
		if sc, err = h.scopeFor(r.Context(), scopeCode); err != nil {
			h.opt.Log.Error("live: loading scope area", "code", scopeCode, "err", err)
			http.Error(w, "could not load your area", http.StatusServiceUnavailable)
			return
		}
	}
	h.currentSeq(r.Context())
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	c := &client{h: h, conn: conn, sc: sc, wake: make(chan struct{}, 1), space: make(chan struct{}, 1),
		pongs: make(chan []byte, 1), closing: make(chan struct{}), written: make(chan struct{})}
	go c.writeLoop()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.drop(closeGoingAway, "server shutting down", "")
		return
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	h.metrics.clients.Inc()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		h.metrics.clients.Dec()
		c.drop(0, "", "")
	}()
	c.push(newMessage(0, map[string]any{"type": "hello", "seq": h.Seq()}))
	c.readLoop()
}

// checkOrigin lets in clients without an Origin (not browsers), the
// server's own origin and the configured CORS origins.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if slices.Contains(h.opt.CORSOrigins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (c *client) readLoop() {
	o := &c.h.opt
	c.conn.SetReadLimit(o.ReadLimit)
	alive := func() { _ = c.conn.SetReadDeadline(time.Now().Add(o.ReadTimeout)) }
	alive()
	c.conn.SetPongHandler(func(string) error { alive(); return nil })
	// Only the writer writes (it sends frames many at a time on the bare
	// connection), so pings and a close from the client are answered there.
	c.conn.SetPingHandler(func(data string) error {
		alive()
		select {
		case c.pongs <- []byte(data):
		default: // one pong owed is enough
		}
		return nil
	})
	c.conn.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		c.drop(code, "", "")
		return nil
	})
	lim := rate.NewLimiter(rate.Limit(o.Rate), o.Burst)
	bad := 0
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		alive()
		switch {
		case !lim.Allow():
			err = fmt.Errorf("too many messages: at most %g a second", o.Rate)
		case kind != websocket.TextMessage:
			err = errors.New("send JSON text messages")
		default:
			err = c.handle(data)
		}
		if err != nil {
			bad++
			if bad >= o.MaxBad {
				c.drop(closePolicy, reasonTooBad, "bad_messages")
				return
			}
			c.push(newMessage(0, map[string]string{"type": "error", "detail": err.Error()}))
		}
	}
}

// subscribeMsg is the one message a client sends.
type subscribeMsg struct {
	Type   string    `json:"type"`
	Layers []string  `json:"layers"`
	BBox   []float64 `json:"bbox"`
	Zoom   *float64  `json:"zoom"`
	Since  *int64    `json:"since"`
}

func (c *client) handle(data []byte) error {
	f, since, err := c.h.parseSubscribe(data)
	if err != nil {
		return err
	}
	if since == nil {
		c.mu.Lock()
		c.f, c.replaying, c.pending, c.replayed, c.seen = f, false, nil, nil, 0
		c.mu.Unlock()
		return nil
	}
	c.resume(f, *since)
	return nil
}

// parseSubscribe reads a client message: a subscribe, as its filter and
// its since (nil: none).
func (h *Hub) parseSubscribe(data []byte) (*filter, *int64, error) {
	var m subscribeMsg
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("malformed message: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("malformed message: one JSON object per message")
	}
	if m.Type != "subscribe" {
		return nil, nil, fmt.Errorf("unknown message type %q: the client sends only \"subscribe\"", m.Type)
	}
	f, err := h.newFilter(m)
	if err != nil {
		return nil, nil, err
	}
	return f, m.Since, nil
}

func (h *Hub) newFilter(m subscribeMsg) (*filter, error) {
	if len(m.Layers) == 0 {
		return nil, errors.New("subscribe: layers must name at least one layer")
	}
	f := &filter{layers: map[string]bool{}, zoom: m.Zoom}
	for _, l := range m.Layers {
		if len(h.opt.Layers) > 0 && !slices.Contains(h.opt.Layers, l) {
			return nil, fmt.Errorf("subscribe: unknown layer %q", l)
		}
		f.layers[l] = true
	}
	b := m.BBox
	if len(b) != 4 {
		return nil, errors.New("subscribe: bbox must be [minLon, minLat, maxLon, maxLat]")
	}
	for i, v := range b {
		lim := 180.0
		if i%2 == 1 {
			lim = 90
		}
		if math.IsNaN(v) || v < -lim || v > lim {
			return nil, fmt.Errorf("subscribe: bbox value %v out of range", v)
		}
	}
	if b[0] > b[2] || b[1] > b[3] {
		return nil, errors.New("subscribe: bbox minimum above maximum")
	}
	f.bbox = orb.Bound{Min: orb.Point{b[0], b[1]}, Max: orb.Point{b[2], b[3]}}
	if m.Zoom != nil && (*m.Zoom < 0 || *m.Zoom > 24) {
		return nil, errors.New("subscribe: zoom outside 0-24")
	}
	if m.Since != nil && *m.Since < 0 {
		return nil, errors.New("subscribe: since must not be negative")
	}
	return f, nil
}

// resume replays the change log after since through filter f, then goes
// live: the client is already offered every live batch, so from the
// moment replaying is set the live events wait in pending; the log is read
// after that, and the live events it held are skipped.
func (c *client) resume(f *filter, since int64) {
	h := c.h
	c.mu.Lock()
	c.f, c.replaying, c.pending, c.replayed, c.seen = f, true, nil, nil, since
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	backlog, err := h.src.ChangesSince(ctx, since, h.opt.MaxReplay+1)
	if errors.Is(err, layers.ErrChangesPruned) {
		c.push(newMessage(0, map[string]any{"type": "reload", "seq": h.Seq(),
			"detail": fmt.Sprintf("the changes after %d are no longer kept: reload the data, then subscribe with since=%d", since, h.Seq())}))
		c.goLive(nil)
		return
	}
	if err != nil {
		h.opt.Log.Error("live: reading the change log", "err", err)
		c.push(newMessage(0, map[string]any{"type": "reload", "seq": h.Seq(), "detail": "could not read the change log; reload and subscribe again"}))
		c.goLive(nil)
		return
	}
	if len(backlog) > h.opt.MaxReplay {
		c.push(newMessage(0, map[string]any{"type": "reload", "seq": h.Seq(),
			"detail": fmt.Sprintf("more than %d changes since %d: reload the data, then subscribe with since=%d", h.opt.MaxReplay, since, h.Seq())}))
		c.goLive(nil)
		return
	}
	seqs := make([]int64, 0, len(backlog))
	last := since
	for start := 0; start < len(backlog); start += 500 {
		chunk := backlog[start:min(start+500, len(backlog))]
		for _, ev := range h.prepare(ctx, chunk, false) {
			seqs = append(seqs, ev.Seq)
			last = max(last, ev.Seq)
			feat, tiles := match(ev, f, c.sc)
			if !c.pushWait(feat) || !c.pushWait(tiles) {
				return
			}
		}
	}
	slices.Sort(seqs)
	c.push(newMessage(last, map[string]any{"type": "replayed", "seq": last, "count": len(seqs)}))
	c.goLive(seqs)
}

// goLive sends what waited during a replay, less what the replay sent,
// then lets live events through.
func (c *client) goLive(replayed []int64) {
	c.mu.Lock()
	c.replayed = replayed
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		if len(c.pending) == 0 {
			c.replaying, c.pending = false, nil
			c.mu.Unlock()
			return
		}
		ev := c.pending[0]
		c.pending = c.pending[1:]
		f, seen := c.f, c.seen
		c.mu.Unlock()
		if _, dup := slices.BinarySearch(replayed, ev.Seq); dup || ev.Seq <= seen {
			continue
		}
		feat, tiles := match(ev, f, c.sc)
		if !c.pushWait(feat) || !c.pushWait(tiles) {
			return
		}
	}
}

// offer gives the client a prepared live batch; it never blocks. A batch
// that alone would fill half the queue (a large import in view) is
// coalesced into one "reload" message.
func (c *client) offer(evs []*event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.f == nil {
		return
	}
	if c.replaying {
		if len(c.pending)+len(evs) > c.h.opt.MaxReplay {
			c.dropLocked()
			return
		}
		c.pending = append(c.pending, evs...)
		return
	}
	var out []*message
	for _, ev := range evs {
		if _, dup := slices.BinarySearch(c.replayed, ev.Seq); dup || ev.Seq <= c.seen {
			continue
		}
		feat, tiles := match(ev, c.f, c.sc)
		if feat != nil {
			out = append(out, feat)
		}
		if tiles != nil {
			out = append(out, tiles)
		}
	}
	if len(out) == 0 {
		return
	}
	if len(out) > c.h.opt.QueueLen/2 {
		last := out[len(out)-1].seq
		out = []*message{newMessage(last, map[string]any{"type": "reload", "seq": last,
			"detail": fmt.Sprintf("%d changes at once in your view: reload it", len(out))})}
	}
	if len(c.queue)+len(out) > c.h.opt.QueueLen {
		c.dropLocked()
		return
	}
	c.queue = append(c.queue, out...)
	c.signal()
}

func (c *client) dropLocked() {
	c.closed = true
	c.queue, c.pending = nil, nil
	go c.drop(closeTooSlow, reasonTooSlow, "too_slow")
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// push queues one message for this client alone (hello, error …); a full
// queue drops the client.
func (c *client) push(m *message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= c.h.opt.QueueLen {
		c.dropLocked()
		return
	}
	c.queue = append(c.queue, m)
	c.signal()
}

// pushWait queues m, waiting (up to WriteWait) for room: a replay is
// larger than the queue. It reports whether the client is still open.
func (c *client) pushWait(m *message) bool {
	if m == nil {
		return true
	}
	timeout := time.NewTimer(c.h.opt.WriteWait)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if len(c.queue) < c.h.opt.QueueLen {
			c.queue = append(c.queue, m)
			c.signal()
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		select {
		case <-c.space:
		case <-c.closing:
			return false
		case <-timeout.C:
			c.mu.Lock()
			c.dropLocked()
			c.mu.Unlock()
			return false
		}
	}
}

// writeLoop is the connection's only writer. Each time it wakes it takes
// the whole queue and writes its frames with one call (writev on TCP):
// a client that is sent thousands of small messages a second costs a few
// system calls, not one per message.
func (c *client) writeLoop() {
	defer close(c.written)
	o := &c.h.opt
	ping := time.NewTicker(o.PingEvery)
	defer ping.Stop()
	nc := c.conn.NetConn()
	_, isTCP := nc.(*net.TCPConn)
	var bufs net.Buffers
	var flat []byte
	var notes []*message // mergeTiles' scratch space
	control := func(kind int, data []byte, wait time.Duration) bool {
		return c.conn.WriteControl(kind, data, time.Now().Add(wait)) == nil
	}
	for {
		select {
		case <-c.closing:
			if c.closeCode != 0 {
				control(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeReason), time.Second)
			}
			return
		case data := <-c.pongs:
			if !control(websocket.PongMessage, data, o.WriteWait) {
				c.drop(0, "", "")
				return
			}
			continue
		case <-ping.C:
			if !control(websocket.PingMessage, nil, o.WriteWait) {
				c.drop(0, "", "")
				return
			}
			continue
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			if len(q) == 0 {
				break
			}
			q, notes = mergeTiles(q, notes)
			select {
			case c.space <- struct{}{}:
			default:
			}
			_ = nc.SetWriteDeadline(time.Now().Add(o.WriteWait))
			var err error
			if isTCP {
				bufs = bufs[:0]
				for _, m := range q {
					bufs = append(bufs, m.frame)
				}
				b := bufs // WriteTo consumes its receiver
				_, err = b.WriteTo(nc)
			} else { // TLS: one record rather than one per frame
				flat = flat[:0]
				for _, m := range q {
					flat = append(flat, m.frame...)
				}
				_, err = nc.Write(flat)
			}
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					c.drop(closeTooSlow, reasonTooSlow, "too_slow") // a write that cannot finish in WriteWait
				} else {
					c.drop(0, "", "")
				}
				return
			}
			c.h.metrics.sent.Add(float64(len(q)))
		}
	}
}

// drop closes the connection once: the writer sends a close frame with
// code and reason (code 0: none) and stops, then the connection closes.
// metric names the reason the hub dropped the client ("" for an ordinary
// close). It never waits, so the writer itself may call it.
func (c *client) drop(code int, reason, metric string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.closeCode, c.closeReason = code, reason
		close(c.closing)
		if metric != "" {
			c.h.metrics.dropped.WithLabelValues(metric).Inc()
		}
		go func() {
			// A writer stuck on a client that reads nothing gives up at
			// its write deadline; closing the connection ends it sooner.
			t := time.NewTimer(2 * time.Second)
			defer t.Stop()
			select {
			case <-c.written:
			case <-t.C:
			}
			_ = c.conn.Close()
		}()
	})
}
