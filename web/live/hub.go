package live

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/layers"
)

// Source is what the hub reads: *layers.Store satisfies it.
type Source interface {
	// Features returns the features of layer with the given ids that exist.
	Features(ctx context.Context, layer string, ids []int64) ([]layers.Feature, error)
	// ChangesSince returns up to limit changes with seq > after, in order.
	ChangesSince(ctx context.Context, after int64, limit int) ([]layers.Change, error)
	// LastSeq returns the newest change's seq.
	LastSeq(ctx context.Context) (int64, error)
	// ScopeArea returns the area of an area code (layers.ErrNoArea when none).
	ScopeArea(ctx context.Context, code string) (orb.MultiPolygon, error)
}

// Options tune a hub; zero values take the defaults.
type Options struct {
	Log         *slog.Logger
	Registry    *prometheus.Registry // metrics; nil: not registered
	CORSOrigins []string             // origins besides the server's own that may connect
	Layers      []string             // the layers a client may subscribe to; empty: any
	QueueLen    int                  // messages queued per client before it is dropped (1024; they are shared, a queue holds pointers)
	MaxReplay   int                  // changes a resume replays before telling the client to reload (10,000)
	PingEvery   time.Duration        // keepalive ping period (20 s)
	ReadTimeout time.Duration        // no frame, not even a pong, for this long closes the connection (60 s)
	WriteWait   time.Duration        // longest write of one message (10 s)
	ReadLimit   int64                // largest incoming message (4 KiB)
	Rate        float64              // incoming messages per second allowed (10)
	Burst       int                  // and in a burst (20)
	MaxBad      int                  // bad messages before the connection is closed (10)
	AnchorCache int                  // feature anchors remembered for deletes (100,000)
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&o.QueueLen, 1024)
	set(&o.MaxReplay, 10_000)
	set(&o.Burst, 20)
	set(&o.MaxBad, 10)
	set(&o.AnchorCache, 100_000)
	if o.PingEvery <= 0 {
		o.PingEvery = 20 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 4 << 10
	}
	if o.Rate <= 0 {
		o.Rate = 10
	}
}

// Hub fans the change log out to websocket clients. Hand Publish to the
// store's Subscribe, serve clients with ServeWS, Close it at the end.
type Hub struct {
	src     Source
	opt     Options
	metrics *metrics
	anchors *lru.Cache[featureKey, orb.Point]
	lastSeq atomic.Int64

	inMu      sync.Mutex // guards in
	in        [][]layers.Change
	wake      chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	seqLoaded atomic.Bool

	mu      sync.RWMutex // guards clients, closed
	clients map[*client]struct{}
	closed  bool

	scopeMu sync.Mutex // guards scopes
	scopes  map[string]*scope
}

type featureKey struct {
	layer string
	id    int64
}

// NewHub returns a running hub reading src.
func NewHub(src Source, opt Options) *Hub {
	opt.defaults()
	anchors, _ := lru.New[featureKey, orb.Point](opt.AnchorCache)
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{src: src, opt: opt, metrics: newMetrics(opt.Registry), anchors: anchors,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		clients: map[*client]struct{}{}, scopes: map[string]*scope{}}
	go h.run()
	return h
}

// currentSeq is the newest seq, read from the change log the first time.
func (h *Hub) currentSeq(ctx context.Context) int64 {
	if !h.seqLoaded.Load() {
		if seq, err := h.src.LastSeq(ctx); err == nil {
			h.noteSeq(seq)
			h.seqLoaded.Store(true)
		} else {
			h.opt.Log.Error("live: reading the newest seq", "err", err)
		}
	}
	return h.lastSeq.Load()
}

// Publish queues a committed batch of changes; it never blocks on the
// clients (it is the store's subscriber and runs in the writer).
func (h *Hub) Publish(cs []layers.Change) {
	if len(cs) == 0 {
		return
	}
	for _, c := range cs {
		h.noteSeq(c.Seq)
	}
	h.inMu.Lock()
	h.in = append(h.in, cs)
	h.inMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) noteSeq(seq int64) {
	for {
		cur := h.lastSeq.Load()
		if seq <= cur || h.lastSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Seq is the newest change seq the hub knows of.
func (h *Hub) Seq() int64 { return h.lastSeq.Load() }

// Clients is the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Close disconnects every client (1001 "server shutting down") and stops
// the hub.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	h.cancel()
	<-h.done
	for _, c := range cs {
		c.drop(closeGoingAway, "server shutting down", "")
	}
	deadline := time.After(2 * time.Second) // for the close frames to go out
	for _, c := range cs {
		select {
		case <-c.written:
		case <-deadline:
			return
		}
	}
}

// run takes the published batches, up to a quarter of a client's queue
// of changes at a time (or one larger batch, such as an import, whole),
// prepares them together and offers them to the clients one published
// batch at a time.
func (h *Hub) run() {
	defer close(h.done)
	limit := max(1, min(2000, h.opt.QueueLen/4))
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		}
		for {
			h.inMu.Lock()
			var groups [][]layers.Change
			n := 0
			for len(h.in) > 0 && (n == 0 || n+len(h.in[0]) <= limit) {
				groups = append(groups, h.in[0])
				n += len(h.in[0])
				h.in = h.in[1:]
			}
			if len(h.in) == 0 {
				h.in = nil
			}
			h.inMu.Unlock()
			if len(groups) == 0 {
				break
			}
			h.deliver(groups, n)
			if h.ctx.Err() != nil {
				return
			}
		}
	}
}

// deliver prepares the changes of groups (n in all) and offers each group
// to every client.
func (h *Hub) deliver(groups [][]layers.Change, n int) {
	batch := make([]layers.Change, 0, n)
	for _, g := range groups {
		batch = append(batch, g...)
	}
	if slices.ContainsFunc(batch, func(c layers.Change) bool { return slices.Contains(layers.AdminLayers, c.Layer) }) {
		h.refreshScopes()
	}
	evs := h.prepare(h.ctx, batch, true)
	h.mu.RLock()
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.RUnlock()
	for _, c := range cs {
		rest := evs
		for _, g := range groups {
			c.offer(rest[:len(g)])
			rest = rest[len(g):]
		}
	}
}

// prepare fetches the features that batch inserted or updated, one query
// per layer, and encodes every message once. live says whether batch is
// the live stream (whose anchors the hub remembers) or a replay.
func (h *Hub) prepare(ctx context.Context, batch []layers.Change, live bool) []*event {
	ids := map[string][]int64{}
	for _, c := range batch {
		if c.Op != layers.Delete {
			ids[c.Layer] = append(ids[c.Layer], c.FeatureID)
		}
	}
	feats := map[featureKey]*layers.Feature{}
	for layer, list := range ids {
		slices.Sort(list)
		list = slices.Compact(list)
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs, err := h.src.Features(fctx, layer, list)
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.opt.Log.Error("live: fetching changed features", "layer", layer, "err", err)
			}
			continue // their changes go out without a body: tiles notices only
		}
		for i := range fs {
			feats[featureKey{layer, fs[i].ID}] = &fs[i]
		}
	}
	evs := make([]*event, 0, len(batch))
	for _, c := range batch {
		k := featureKey{c.Layer, c.FeatureID}
		ev := &event{Change: c}
		if c.Op != layers.Insert {
			ev.beforeAnchor, ev.beforeKnown = h.anchors.Peek(k)
			if !ev.beforeKnown && c.Before.Min == c.Before.Max && c.Before != (orb.Bound{}) {
				// a point's bound is the point, which is its anchor
				ev.beforeAnchor, ev.beforeKnown = c.Before.Min, true
			}
		}
		if f := feats[k]; f != nil && c.Op != layers.Delete {
			ev.feature = f
			ev.afterAnchor, ev.afterKnown = anchorOf(f)
			if live && ev.afterKnown {
				h.anchors.Add(k, ev.afterAnchor)
			}
		}
		if live && c.Op == layers.Delete {
			h.anchors.Remove(k)
		}
		ev.encode()
		evs = append(evs, ev)
	}
	return evs
}

// scope is a client's area: features anchored in it are visible.
type scope struct {
	code  string
	mu    sync.RWMutex
	area  orb.MultiPolygon
	bound orb.Bound
	empty bool
}

func (s *scope) set(area orb.MultiPolygon) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.area, s.empty = area, len(area) == 0
	if !s.empty {
		s.bound = area.Bound()
	}
}

// scopeFor returns the shared scope of an area code; an unknown code is an
// empty area, in which nothing is visible.
func (h *Hub) scopeFor(ctx context.Context, code string) (*scope, error) {
	h.scopeMu.Lock()
	defer h.scopeMu.Unlock()
	if sc, ok := h.scopes[code]; ok {
		return sc, nil
	}
	area, err := h.src.ScopeArea(ctx, code)
	if err != nil && !errors.Is(err, layers.ErrNoArea) {
		return nil, err
	}
	sc := &scope{code: code}
	sc.set(area)
	h.scopes[code] = sc
	return sc, nil
}

// refreshScopes loads again the areas of the scopes in use: an admin area
// changed.
func (h *Hub) refreshScopes() {
	h.scopeMu.Lock()
	defer h.scopeMu.Unlock()
	for code, sc := range h.scopes {
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		area, err := h.src.ScopeArea(ctx, code)
		cancel()
		if err != nil && !errors.Is(err, layers.ErrNoArea) {
			h.opt.Log.Error("live: reloading scope area", "code", code, "err", err)
			continue
		}
		sc.set(area)
	}
}
