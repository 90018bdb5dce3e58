package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/layers"
)

// HeaderNode is the message header naming the node that published it.
const HeaderNode = "Hexward-Node"

// Defaults of Options.
const (
	DefaultStream     = "HEXWARD_CHANGES"
	DefaultSubject    = "hexward.changes"
	DefaultMaxPending = 100_000
	DefaultMaxAge     = 24 * time.Hour
	DefaultMaxBytes   = 1 << 30
)

const (
	maxChunk  = 500              // changes per message (a large import is split)
	window    = 64               // messages published before waiting for their acks
	ackWait   = 5 * time.Second  // longest wait for one window's acks
	maxBackof = 2 * time.Second  // longest pause between publish retries
	dupWindow = 10 * time.Minute // JetStream's Nats-Msg-Id duplicate window
)

// Options configure Connect; zero values take the defaults.
type Options struct {
	Node         string               // this node's id (hostname-pid)
	Stream       string               // JetStream stream name (HEXWARD_CHANGES)
	Subject      string               // subject prefix (hexward.changes); a node publishes on <prefix>.<node>
	Log          *slog.Logger         // slog.Default()
	Registry     *prometheus.Registry // metrics; nil: not registered
	MaxPending   int                  // changes queued while NATS is unreachable before new ones are deferred (100,000)
	MaxDeferred  int                  // seqs of deferred changes kept, to publish from the change log later (10 × MaxPending); beyond: dropped
	MaxAge       time.Duration        // how long the stream keeps messages (24 h)
	MaxBytes     int64                // how much the stream keeps (1 GiB)
	Dedupe       int                  // change seqs remembered to skip redeliveries (100,000)
	FlushTimeout time.Duration        // how long Close waits for the queue to be published (5 s)
}

// NATS joins this node's layers.Store to the other nodes' over a NATS
// JetStream stream. Connect it, Attach the store, Close it at the end.
type NATS struct {
	opt     Options
	subject string // this node's publish subject
	log     *slog.Logger
	m       *metrics
	nc      *nats.Conn
	js      jetstream.JetStream
	seen    *lru.Cache[int64, struct{}]

	mu          sync.Mutex // guards queue, pending, deferred, overflowing, closed, store, cc
	queue       []outMsg
	pending     int     // changes in queue
	deferred    []int64 // seqs of changes that found the queue full: read back from the change log when it drains
	overflowing bool
	closed      bool
	store       *layers.Store
	cc          jetstream.ConsumeContext

	dropped     atomic.Int64
	warnedDrop  atomic.Bool   // the drop past MaxDeferred was logged
	wake        chan struct{} // something queued, or reconnected
	stop        chan struct{} // closed by Close: the publisher ends
	pubDone     chan struct{}
	connClosed  chan struct{}
	closeOnce   sync.Once
	streamMu    sync.Mutex
	lastPubWarn time.Time
}

type outMsg struct {
	id   string // Nats-Msg-Id: JetStream drops a republished copy
	data []byte
	n    int // changes
}

// Connect connects to the NATS server(s) at url (comma-separated for
// several), creates or updates the stream and starts the publisher. The
// connection reconnects forever, with backoff.
func Connect(ctx context.Context, url string, opt Options) (*NATS, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("bus: no NATS URL")
	}
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	b := &NATS{opt: opt, subject: opt.Subject + "." + subjectToken(opt.Node), log: opt.Log.With("node", opt.Node),
		m: newMetrics(opt.Registry), wake: make(chan struct{}, 1), stop: make(chan struct{}),
		pubDone: make(chan struct{}), connClosed: make(chan struct{})}
	b.seen, _ = lru.New[int64, struct{}](opt.Dedupe)
	nc, err := nats.Connect(url,
		nats.Name("hexward "+opt.Node),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := 100 * time.Millisecond << min(attempts, 5)
			return min(d, maxBackof) + rand.N(100*time.Millisecond)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("NATS disconnected; changes are queued until it is back", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.m.reconnects.Inc()
			b.log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
			b.signal()
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.connClosed) }),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connecting to NATS: %w", err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*window), jetstream.WithPublishAsyncTimeout(ackWait))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := b.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	go b.publishLoop()
	return b, nil
}

func (o *Options) defaults() error {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Node == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "node"
		}
		o.Node = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if strings.ContainsAny(o.Stream, " \t\r\n.*>/\\") {
		return fmt.Errorf("bus: stream name %q may not hold spaces, '.', '*', '>', '/' or '\\'", o.Stream)
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	for _, tok := range strings.Split(o.Subject, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("bus: subject prefix %q must be dot-separated tokens without spaces or wildcards", o.Subject)
		}
	}
	if o.MaxPending < 0 || o.MaxDeferred < 0 || o.Dedupe < 0 || o.MaxBytes < 0 || o.MaxAge < 0 || o.FlushTimeout < 0 {
		return errors.New("bus: negative limit in options")
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxDeferred == 0 {
		o.MaxDeferred = 10 * o.MaxPending
	}
	if o.Dedupe == 0 {
		o.Dedupe = 100_000
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = 5 * time.Second
	}
	return nil
}

// subjectToken makes a node id usable as one subject token.
func subjectToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// ensureStream creates the stream or updates its configuration.
func (b *NATS) ensureStream(ctx context.Context) error {
	b.streamMu.Lock()
	defer b.streamMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.opt.Stream,
		Description: "Hexward change log, one message per batch of committed changes",
		Subjects:    []string{b.opt.Subject + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.opt.MaxAge,
		MaxBytes:    b.opt.MaxBytes,
		Duplicates:  dupWindow,
	})
	if err != nil {
		return fmt.Errorf("bus: creating stream %s: %w", b.opt.Stream, err)
	}
	return nil
}

// Attach makes store's committed batches go to the other nodes, and hands
// the other nodes' batches, from now on, to store.Receive. Once only.
func (b *NATS) Attach(store *layers.Store) error {
	b.mu.Lock()
	if b.closed || b.store != nil {
		b.mu.Unlock()
		return errors.New("bus: Attach on a closed or already attached bus")
	}
	b.store = store
	b.mu.Unlock()
	// Our own commits are queued from here on; other nodes' from the
	// stream's current end.
	store.SetRelay(b.send)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.js.Stream(ctx, b.opt.Stream)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", b.opt.Stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", b.opt.Stream, err)
	}
	// A start sequence rather than "new": should the consumer be reset
	// before its first message, it still starts here, not at the
	// beginning. After that the ordered consumer resumes after the last
	// message it delivered (on reconnect, a server restart, a lost consumer).
	cons, err := b.js.OrderedConsumer(ctx, b.opt.Stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   info.State.LastSeq + 1,
	})
	if err != nil {
		return fmt.Errorf("bus: consumer on %s: %w", b.opt.Stream, err)
	}
	cc, err := cons.Consume(b.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if b.nc.IsConnected() {
			b.log.Warn("consuming changes", "err", err)
		} else {
			b.log.Debug("consuming changes", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("bus: consuming %s: %w", b.opt.Stream, err)
	}
	b.mu.Lock()
	b.cc = cc
	b.mu.Unlock()
	return nil
}

// handle passes another node's batch to the store, without the changes
// already handed on.
func (b *NATS) handle(msg jetstream.Msg) {
	if msg.Headers().Get(HeaderNode) == b.opt.Node {
		return
	}
	cs, err := Decode(msg.Data())
	if err != nil {
		b.m.bad.Inc()
		b.log.Warn("skipping a bad message on the change stream", "subject", msg.Subject(), "err", err)
		return
	}
	fresh := cs[:0]
	for _, c := range cs {
		if seen, _ := b.seen.ContainsOrAdd(c.Seq, struct{}{}); seen {
			b.m.duplicates.Inc()
			continue
		}
		fresh = append(fresh, c)
	}
	b.mu.Lock()
	store := b.store
	b.mu.Unlock()
	if len(fresh) > 0 && store != nil {
		b.m.received.Add(float64(len(fresh)))
		store.Receive(fresh)
	}
}

// send queues this node's committed batch for publishing. It never waits
// for NATS: when the queue is full the batch is deferred (its seqs kept,
// to be read back from the change log once the queue drains) or, past
// MaxDeferred, dropped, counted and logged.
func (b *NATS) send(cs []layers.Change) {
	if len(cs) == 0 {
		return
	}
	msgs, err := b.encode(cs)
	if err != nil { // cannot happen with finite bounds; counted as dropped
		b.drop(len(cs), "encoding: "+err.Error())
		return
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		b.drop(len(cs), "bus closed")
		return
	case b.pending+len(cs) > b.opt.MaxPending:
		first := !b.overflowing
		b.overflowing = true
		kept := 0
		if b.store != nil && len(b.deferred)+len(cs) <= b.opt.MaxDeferred {
			for _, c := range cs {
				b.deferred = append(b.deferred, c.Seq)
			}
			kept = len(cs)
		}
		b.m.deferred.Set(float64(len(b.deferred)))
		b.mu.Unlock()
		b.dropAfterOverflow(len(cs)-kept, first)
		return
	}
	b.queue = append(b.queue, msgs...)
	b.pending += len(cs)
	b.m.pending.Set(float64(b.pending))
	b.mu.Unlock()
	b.signal()
}

func (b *NATS) drop(n int, why string) {
	b.dropped.Add(int64(n))
	b.m.dropped.Add(float64(n))
	b.log.Error("changes not sent to the other nodes (the change log in PostgreSQL still holds them)", "changes", n, "why", why)
}

// encode splits cs into messages of at most maxChunk changes.
func (b *NATS) encode(cs []layers.Change) ([]outMsg, error) {
	msgs := make([]outMsg, 0, (len(cs)+maxChunk-1)/maxChunk)
	for i := 0; i < len(cs); i += maxChunk {
		chunk := cs[i:min(i+maxChunk, len(cs))]
		data, err := Encode(chunk)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s:%d-%d", b.opt.Node, chunk[0].Seq, chunk[len(chunk)-1].Seq)
		msgs = append(msgs, outMsg{id: id, data: data, n: len(chunk)})
	}
	return msgs, nil
}

// dropAfterOverflow counts n changes that found the queue full and no room
// to defer them either.
func (b *NATS) dropAfterOverflow(n int, first bool) {
	b.dropped.Add(int64(n))
	b.m.dropped.Add(float64(n))
	if first { // once per overflow, not per write
		b.log.Error("bus queue full: changes of this node wait in the change log until NATS takes them again",
			"max_pending", b.opt.MaxPending, "max_deferred", b.opt.MaxDeferred)
	}
	if n > 0 && b.warnedDrop.CompareAndSwap(false, true) {
		b.log.Error("bus: too many changes deferred: changes dropped (other nodes' clients catch up by reconnecting with since)",
			"max_deferred", b.opt.MaxDeferred, "changes", n)
	}
}

// recoverChunk is the most deferred changes read back from the change log
// at a time.
const recoverChunk = 5000

// recoverDeferred reads the oldest deferred changes back from the change
// log and queues as many as the queue has room for. It reports whether it
// queued any.
func (b *NATS) recoverDeferred() (bool, error) {
	b.mu.Lock()
	n := min(len(b.deferred), recoverChunk, b.opt.MaxPending-b.pending)
	if n <= 0 || b.store == nil || b.overflowing {
		b.mu.Unlock()
		return false, nil
	}
	seqs := slices.Clone(b.deferred[:n])
	store := b.store
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cs, err := store.ChangesBySeq(ctx, seqs)
	cancel()
	if err != nil {
		return false, err
	}
	msgs, err := b.encode(cs)
	if err != nil {
		return false, err
	}
	b.mu.Lock()
	b.deferred = b.deferred[n:]
	if len(b.deferred) == 0 {
		b.deferred = nil // let the backing array go
	}
	b.m.deferred.Set(float64(len(b.deferred)))
	b.queue = append(b.queue, msgs...)
	b.pending += len(cs)
	b.m.pending.Set(float64(b.pending))
	b.mu.Unlock()
	b.m.recovered.Add(float64(len(cs)))
	if gone := n - len(cs); gone > 0 {
		b.drop(gone, "pruned from the change log before NATS took them")
	}
	return len(cs) > 0, nil
}

func (b *NATS) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// publishLoop publishes the queue in order, keeping each message until
// JetStream acknowledges it.
func (b *NATS) publishLoop() {
	defer close(b.pubDone)
	backoff := 50 * time.Millisecond
	for {
		b.mu.Lock()
		batch := b.queue[:min(len(b.queue), window)]
		batch = append([]outMsg(nil), batch...)
		b.mu.Unlock()
		if len(batch) == 0 && b.nc.IsConnected() {
			queued, err := b.recoverDeferred()
			if queued {
				continue
			}
			if err != nil {
				b.log.Warn("reading deferred changes back from the change log; retrying", "err", err)
				select {
				case <-b.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, maxBackof)
				continue
			}
		}
		if len(batch) == 0 || !b.nc.IsConnected() {
			var poll <-chan time.Time
			if len(batch) > 0 {
				poll = time.After(250 * time.Millisecond)
			}
			select {
			case <-b.stop:
				return
			case <-b.wake:
			case <-poll:
			}
			continue
		}
		acked, err := b.publish(batch)
		if acked > 0 {
			n := 0
			for _, m := range batch[:acked] {
				n += m.n
			}
			b.mu.Lock()
			b.queue = b.queue[acked:]
			if len(b.queue) == 0 {
				b.queue = nil // let the backing array go
			}
			b.pending -= n
			b.m.pending.Set(float64(b.pending))
			if b.overflowing && b.pending <= b.opt.MaxPending/2 {
				b.overflowing = false
				b.log.Info("bus queue draining again; changes are published", "pending", b.pending)
			}
			b.mu.Unlock()
			b.m.published.Add(float64(n))
		}
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		if errors.Is(err, errStopped) {
			return
		}
		if time.Since(b.lastPubWarn) > 10*time.Second {
			b.lastPubWarn = time.Now()
			b.log.Warn("publishing changes; retrying", "err", err, "pending_messages", len(b.queue))
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrStreamNotFound) {
			// The stream is gone (deleted, or the server lost its storage).
			if err := b.ensureStream(context.Background()); err != nil {
				b.log.Warn("recreating the stream", "err", err)
			}
		}
		select {
		case <-b.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackof)
	}
}

var (
	errStopped    = errors.New("bus closed")
	errAckTimeout = errors.New("no acknowledgement from JetStream in time")
)

// publish sends batch asynchronously and waits for the acks; it returns
// how many leading messages were acknowledged. Messages after a failed one
// are sent again later: JetStream drops the copies by their Nats-Msg-Id,
// and receivers by change seq.
func (b *NATS) publish(batch []outMsg) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	var sendErr error
	for _, m := range batch {
		msg := nats.NewMsg(b.subject)
		msg.Header.Set(HeaderNode, b.opt.Node)
		msg.Header.Set(jetstream.MsgIDHeader, m.id)
		msg.Data = m.data
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithExpectStream(b.opt.Stream))
		if err != nil {
			sendErr = err
			break
		}
		futures = append(futures, f)
	}
	timer := time.NewTimer(ackWait)
	defer timer.Stop()
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return i, err
		case <-timer.C:
			return i, errAckTimeout
		case <-b.stop:
			return i, errStopped
		}
	}
	return len(futures), sendErr
}

// Register adds the bus's metrics to reg, for a bus connected with no
// Options.Registry (the caller's registry may be made later).
func (b *NATS) Register(reg prometheus.Registerer) error {
	for _, c := range b.m.all() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("bus: registering metrics: %w", err)
		}
	}
	return nil
}

// Status is the bus's state, for health checks.
type Status struct {
	Node      string `json:"node"`
	Connected bool   `json:"connected"`
	Pending   int    `json:"pending"`  // changes not yet published
	Deferred  int    `json:"deferred"` // changes that found the queue full, to be read back from the change log
	Dropped   int64  `json:"dropped"`  // changes never published (queue and deferral full, or pruned first)
}

// Status reports the bus's state.
func (b *NATS) Status() Status {
	b.mu.Lock()
	pending, deferred := b.pending, len(b.deferred)
	b.mu.Unlock()
	return Status{Node: b.opt.Node, Connected: b.nc.IsConnected(), Pending: pending, Deferred: deferred, Dropped: b.dropped.Load()}
}

// Healthy returns nil while NATS is connected and the queue has room, or
// what is wrong.
func (b *NATS) Healthy() error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus: NATS %s", strings.ToLower(b.nc.Status().String()))
	}
	b.mu.Lock()
	over := b.overflowing
	b.mu.Unlock()
	if over {
		return errors.New("bus: queue full, changes are deferred to the change log")
	}
	return nil
}

// Close detaches the store, publishes what is queued within
// Options.FlushTimeout, stops consuming and drains and closes the
// connection.
func (b *NATS) Close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		store := b.store
		b.mu.Unlock()
		if store != nil {
			store.SetRelay(nil)
		}
		deadline := time.Now().Add(b.opt.FlushTimeout)
		for time.Now().Before(deadline) {
			b.mu.Lock()
			n := b.pending
			b.mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(b.stop)
		<-b.pubDone
		b.mu.Lock()
		left, cc := b.pending, b.cc
		b.mu.Unlock()
		if left > 0 {
			b.drop(left, "NATS did not take them before shutdown")
		}
		if cc != nil {
			cc.Stop()
		}
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
			return
		}
		select {
		case <-b.connClosed:
		case <-time.After(5 * time.Second):
			b.nc.Close()
		}
	})
}
