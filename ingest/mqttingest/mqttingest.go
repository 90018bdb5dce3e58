// Package mqttingest takes sensor readings and officers' positions from an
// MQTT broker (MQTT 3.1.1): topic hexward/<account>/readings carries the
// body of POST /ingest/readings, topic hexward/<account>/positions the
// JSON of POST /ingest/positions or of Traccar Client (POST /osmand). The
// broker authenticates the publisher and its ACL (pattern write
// hexward/%u/#) proves that a message on hexward/<account>/… comes from
// <account>; the ingest checks that the account exists and its role may
// send readings or positions.
//
// A message is acknowledged (PUBACK) only once what it carries is committed
// to the database, so a QoS 1 message the broker accepted is never lost by
// the ingest: the session is persistent (clean session off, a fixed client
// id), a database failure is retried with backoff and an ingest that stops
// before the commit gets the message again when it reconnects. A message
// that can never be stored (malformed, too large, unknown account or
// sensor, wrong role, bad values) stores nothing, is counted in
// hexward_mqtt_rejected_total{reason}, logged (rate-limited) and
// acknowledged, so that it is not redelivered forever.
//
// Several nodes share the messages through a shared subscription
// (Options.ShareGroup): the broker gives each message to one member of the
// group. See README.md.
package mqttingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/layers/readings"
)

// Defaults of Options.
const (
	DefaultClientID   = "hexward-ingest"
	DefaultMaxPayload = 1 << 20 // bytes
	DefaultWorkers    = 8
	// MaxBackoff is the longest wait between two attempts to store a
	// message while the database fails, and between reconnects.
	MaxBackoff = 30 * time.Second
)

// The topics subscribed to.
const (
	ReadingsTopic  = "hexward/+/readings"
	PositionsTopic = "hexward/+/positions"
)

// Options configure the ingest.
type Options struct {
	// URL of the broker: tcp://host:1883, ssl://host:8883, ws://…; user
	// and password in the URL are the ingest's own broker credentials.
	URL string
	// ClientID is the MQTT client id; the broker keeps the session (the
	// subscriptions and the messages not yet acknowledged) under it, so it
	// must be fixed and used by one process at a time (with ShareGroup:
	// each node its own). Empty: DefaultClientID.
	ClientID string
	// ShareGroup, when set, subscribes through the shared subscription
	// $share/<ShareGroup>/… so that the nodes in the group share the
	// messages, each stored by one of them; empty: this ingest gets every
	// message. One topic level: no '/', '+' or '#'.
	ShareGroup string
	Readings   *readings.Ingester
	Positions  *positions.Service
	Accounts   *auth.Accounts
	Log        *slog.Logger          // nil: slog.Default()
	Registry   prometheus.Registerer // nil: the metrics are not registered
	MaxPayload int                   // bytes; 0: DefaultMaxPayload
	// Workers is how many messages are stored at once; the messages of
	// one account are stored one after the other, in the order received.
	// 0: DefaultWorkers.
	Workers int
}

// Ingest is a running MQTT ingest.
type Ingest struct {
	opt    Options
	log    *slog.Logger
	warn   *limitedLog
	client mqtt.Client
	ctx    context.Context
	cancel context.CancelFunc
	shards []chan job
	seed   maphash.Seed
	wg     sync.WaitGroup
	m      *metrics

	filters []string // the topic filters subscribed to

	ready     chan struct{}
	readyOnce sync.Once
	closeOnce sync.Once
	connected atomic.Bool

	mu       sync.Mutex
	accounts map[string]cachedAccount
}

type cachedAccount struct {
	p     auth.Principal
	err   error // auth.ErrNoSuchUser or nil
	until time.Time
}

// job is a message waiting to be stored.
type job struct {
	msg     mqtt.Message
	kind    string // "readings" or "positions"
	account string
}

// Start connects to the broker and subscribes; it does not wait for the
// broker, which it keeps trying to reach (and to reach again after a
// loss) with backoff. Ready is closed once the first subscription is made.
func Start(ctx context.Context, opt Options) (*Ingest, error) {
	if opt.URL == "" {
		return nil, errors.New("mqtt ingest: no broker URL")
	}
	u, err := url.Parse(opt.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mqtt ingest: broker URL %q: want scheme://host:port (tcp, ssl, ws, wss)", opt.URL)
	}
	if opt.Readings == nil || opt.Positions == nil || opt.Accounts == nil {
		return nil, errors.New("mqtt ingest: Readings, Positions and Accounts are required")
	}
	if err := validShareGroup(opt.ShareGroup); err != nil {
		return nil, err
	}
	if opt.ClientID == "" {
		opt.ClientID = DefaultClientID
	}
	if opt.MaxPayload <= 0 {
		opt.MaxPayload = DefaultMaxPayload
	}
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	log := opt.Log.With("component", "mqtt", "client_id", opt.ClientID)
	m, err := newMetrics(opt.Registry)
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in := &Ingest{opt: opt, filters: filters(opt.ShareGroup), log: log, warn: newLimitedLog(log), ctx: ictx, cancel: cancel, seed: maphash.MakeSeed(),
		m: m, ready: make(chan struct{}), accounts: map[string]cachedAccount{}}
	in.shards = make([]chan job, opt.Workers)
	for i := range in.shards {
		// The broker sends at most its max_inflight_messages unacknowledged
		// QoS 1 messages, so these queues do not fill with them; when they
		// do, the router waits (back-pressure).
		in.shards[i] = make(chan job, 256)
		in.wg.Add(1)
		go in.work(in.shards[i])
	}

	o := mqtt.NewClientOptions().AddBroker(opt.URL).SetClientID(opt.ClientID).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetResumeSubs(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(MaxBackoff).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true). // the handler only queues; the workers keep each account's order
		SetAutoAckDisabled(true).
		// Messages of the session can arrive before the subscription is
		// renewed: the default handler takes them as well.
		SetDefaultPublishHandler(in.route).
		SetOnConnectHandler(in.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			in.connected.Store(false)
			in.m.connected.Set(0)
			log.Warn("mqtt connection lost; reconnecting", "err", err)
		})
	in.client = mqtt.NewClient(o)
	tok := in.client.Connect() // with ConnectRetry it completes only once connected
	go func() {
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil && ictx.Err() == nil {
				log.Error("mqtt connect", "err", err)
			}
		case <-ictx.Done():
		}
	}()
	log.Info("mqtt ingest started", "broker", u.Redacted(), "topics", in.filters)
	return in, nil
}

// Ready is closed once the ingest has subscribed for the first time.
func (in *Ingest) Ready() <-chan struct{} { return in.ready }

// Connected reports whether the ingest is connected to the broker now.
func (in *Ingest) Connected() bool { return in.connected.Load() }

// Close stops the ingest: a message being stored is abandoned before its
// acknowledgement (the broker redelivers it to the next session; storing
// is idempotent) and the client disconnects.
func (in *Ingest) Close() {
	in.closeOnce.Do(func() {
		in.cancel()
		in.wg.Wait()
		in.client.Disconnect(500)
		in.connected.Store(false)
		in.m.connected.Set(0)
	})
}

func (in *Ingest) onConnect(c mqtt.Client) {
	in.connected.Store(true)
	in.m.connected.Set(1)
	in.m.connects.Inc()
	subs := map[string]byte{}
	for _, f := range in.filters {
		subs[f] = 1
	}
	// No callback: paho's router hands every message, with its real topic,
	// to the default handler (route).
	tok := c.SubscribeMultiple(subs, nil)
	go func() {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			in.log.Error("mqtt subscribe failed; retried at the next connection", "err", tok.Error())
			return
		}
		if st, ok := tok.(*mqtt.SubscribeToken); ok {
			for topic, qos := range st.Result() {
				if qos > 2 { // 0x80: refused by the broker
					in.log.Error("mqtt subscription refused by the broker (check its ACL for the ingest's user)", "topic", topic)
					return
				}
			}
		}
		if in.opt.ShareGroup != "" {
			// A session that subscribed without the group keeps that
			// subscription and would still get every message.
			if u := c.Unsubscribe(ReadingsTopic, PositionsTopic); !u.WaitTimeout(30*time.Second) || u.Error() != nil {
				in.log.Error("mqtt unsubscribe from the unshared topics failed; retried at the next connection", "err", u.Error())
				return
			}
		}
		in.log.Info("mqtt connected and subscribed", "topics", in.filters)
		in.readyOnce.Do(func() { close(in.ready) })
	}()
}

// validShareGroup checks the name of a shared subscription's group: one
// topic level (empty: no sharing).
func validShareGroup(g string) error {
	if strings.ContainsAny(g, "/+#\x00") || !utf8.ValidString(g) {
		return fmt.Errorf("mqtt ingest: share group %q: want one topic level, without '/', '+', '#'", g)
	}
	return nil
}

// filters are the topic filters to subscribe to: shared by group if set.
func filters(group string) []string {
	if group == "" {
		return []string{ReadingsTopic, PositionsTopic}
	}
	return []string{"$share/" + group + "/" + ReadingsTopic, "$share/" + group + "/" + PositionsTopic}
}

// route runs in the client's router: it checks the topic and the size and
// queues the message for its account's worker. It must not block long.
func (in *Ingest) route(_ mqtt.Client, msg mqtt.Message) {
	if in.ctx.Err() != nil {
		return // closing: not acknowledged, redelivered to the next session
	}
	kind, account, ok := parseTopic(msg.Topic())
	if !ok {
		in.reject(msg, "", "topic", "not hexward/<account>/readings or hexward/<account>/positions")
		return
	}
	if len(msg.Payload()) > in.opt.MaxPayload {
		in.reject(msg, account, "too_large", fmt.Sprintf("payload of %d bytes, at most %d", len(msg.Payload()), in.opt.MaxPayload))
		return
	}
	shard := in.shards[maphash.String(in.seed, account)%uint64(len(in.shards))]
	j := job{msg: msg, kind: kind, account: account}
	if msg.Qos() == 0 {
		select { // at most once: dropped rather than wait
		case shard <- j:
		default:
			in.reject(msg, account, "overload", "QoS 0 message dropped: the ingest is busy")
		}
		return
	}
	select {
	case shard <- j:
	case <-in.ctx.Done():
	}
}

// parseTopic splits hexward/<account>/<kind>.
func parseTopic(topic string) (kind, account string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "hexward" || (parts[2] != "readings" && parts[2] != "positions") {
		return "", "", false
	}
	return parts[2], parts[1], true
}

func (in *Ingest) work(queue <-chan job) {
	defer in.wg.Done()
	for {
		select {
		case <-in.ctx.Done():
			return
		case j := <-queue:
			in.handle(j)
		}
	}
}

// rejection is a message that can never be stored.
type rejection struct {
	reason string
	err    error
}

func (r *rejection) Error() string { return r.err.Error() }

func reject(reason string, err error) error { return &rejection{reason, err} }

// handle stores a message, retrying what may succeed later, and
// acknowledges it once stored or rejected.
func (in *Ingest) handle(j job) {
	store, err := in.decode(j)
	for backoff := 100 * time.Millisecond; err == nil; backoff = min(2*backoff, MaxBackoff) {
		if err = store(); err == nil {
			j.msg.Ack() // committed
			return
		}
		if !transient(err) || in.ctx.Err() != nil {
			break
		}
		in.m.retries.Inc()
		in.warn.Warn("mqtt ingest: storing failed; retrying", "account", j.account, "kind", j.kind, "in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-in.ctx.Done():
		}
		err = nil
	}
	if in.ctx.Err() != nil {
		return // closing: not acknowledged, the broker redelivers it
	}
	var rj *rejection
	if !errors.As(err, &rj) {
		rj = &rejection{"refused", err} // refused by the database for good (e.g. a constraint)
	}
	in.reject(j.msg, j.account, rj.reason, rj.err.Error())
}

// decode checks the account and decodes the payload; it returns the
// function that stores it.
func (in *Ingest) decode(j job) (func() error, error) {
	perm := auth.SendReadings
	if j.kind == "positions" {
		perm = auth.SendPositions
	}
	var p auth.Principal
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, MaxBackoff) {
		var err error
		p, err = in.account(j.account)
		if err == nil {
			break
		}
		if errors.Is(err, auth.ErrNoSuchUser) {
			return nil, reject("unknown_account", fmt.Errorf("no account %q", j.account))
		}
		in.m.retries.Inc()
		in.warn.Warn("mqtt ingest: looking up the account failed; retrying", "account", j.account, "err", err)
		select {
		case <-time.After(backoff):
		case <-in.ctx.Done():
			return nil, in.ctx.Err()
		}
	}
	if !p.Role.Can(perm) {
		return nil, reject("forbidden", fmt.Errorf("account %q (role %s) may not send %s", j.account, p.Role, j.kind))
	}
	ctx := in.ctx
	if j.kind == "readings" {
		rs, err := readings.DecodeBatch(j.msg.Payload())
		if err != nil {
			return nil, reject("malformed", err)
		}
		return func() error {
			accepted, dups, err := in.opt.Readings.Ingest(ctx, j.account, rs)
			if err != nil {
				return readingsError(err)
			}
			in.m.messages.WithLabelValues("readings").Inc()
			in.m.items.WithLabelValues("readings").Add(float64(accepted))
			in.m.duplicates.WithLabelValues("readings").Add(float64(dups))
			return nil
		}, nil
	}
	ps, err := positions.DecodeJSON(j.msg.Payload())
	if err != nil {
		return nil, reject("malformed", err)
	}
	return func() error {
		res, err := in.opt.Positions.Append(ctx, j.account, ps)
		if err != nil {
			return positionsError(err)
		}
		in.m.messages.WithLabelValues("positions").Inc()
		in.m.items.WithLabelValues("positions").Add(float64(res.Accepted))
		in.m.duplicates.WithLabelValues("positions").Add(float64(res.Duplicates))
		return nil
	}, nil
}

// account looks an account up, remembering the answer for auth.CacheTTL.
func (in *Ingest) account(name string) (auth.Principal, error) {
	if name == "" || len(name) > 64 {
		return auth.Principal{}, auth.ErrNoSuchUser
	}
	in.mu.Lock()
	c, ok := in.accounts[name]
	in.mu.Unlock()
	if ok && time.Now().Before(c.until) {
		return c.p, c.err
	}
	ctx, cancel := context.WithTimeout(in.ctx, 10*time.Second)
	defer cancel()
	p, err := in.opt.Accounts.Lookup(ctx, name)
	if err != nil && !errors.Is(err, auth.ErrNoSuchUser) {
		return p, err
	}
	in.mu.Lock()
	if len(in.accounts) > 10_000 {
		clear(in.accounts)
	}
	in.accounts[name] = cachedAccount{p, err, time.Now().Add(auth.CacheTTL)}
	in.mu.Unlock()
	return p, err
}

// readingsError sorts the errors of readings.Ingest.
func readingsError(err error) error {
	var re *readings.Error
	switch {
	case errors.Is(err, readings.ErrForeignSensor):
		return reject("foreign_sensor", err)
	case errors.As(err, &re) && re.Problem == "no such sensor":
		return reject("unknown_sensor", err)
	case errors.As(err, &re):
		return reject("invalid", err)
	}
	return err
}

// positionsError sorts the errors of positions.Append.
func positionsError(err error) error {
	var ie *positions.InvalidError
	switch {
	case errors.As(err, &ie):
		return reject("invalid", err)
	case errors.Is(err, positions.ErrUnknownDevice):
		return reject("unknown_device", err)
	case errors.Is(err, positions.ErrNotYours):
		return reject("not_yours", err)
	case errors.Is(err, positions.ErrAmbiguousDevice):
		return reject("ambiguous_device", err)
	case errors.Is(err, layers.ErrNotFound): // the officer's feature went while moving its marker
		return reject("unknown_device", err)
	}
	return err
}

// reject counts, logs and acknowledges a message that is not stored.
func (in *Ingest) reject(msg mqtt.Message, account, reason, problem string) {
	in.m.rejected.WithLabelValues(reason).Inc()
	in.warn.Warn("mqtt message rejected", "topic", msg.Topic(), "account", account, "reason", reason, "problem", problem)
	msg.Ack()
}

// limitedLog logs at most a few lines a second; the lines it suppresses
// are counted in the next one.
type limitedLog struct {
	log        *slog.Logger
	lim        *rate.Limiter
	suppressed atomic.Int64
}

func newLimitedLog(log *slog.Logger) *limitedLog {
	return &limitedLog{log: log, lim: rate.NewLimiter(rate.Limit(2), 20)}
}

func (l *limitedLog) Warn(msg string, args ...any) {
	if !l.lim.Allow() {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		args = append(args, "suppressed_before", n)
	}
	l.log.Warn(msg, args...)
}
