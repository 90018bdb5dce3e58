package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the notification channel the outbox trigger signals on.
const Channel = "hexward_outbox"

// Options configure a worker. Zero fields take the defaults.
type Options struct {
	Secret      []byte        // HMAC-SHA256 key of the webhook signature header; empty: unsigned
	HTTPClient  *http.Client  // posts webhooks; default NewHTTPClient()
	MQTT        Publisher     // publishes MQTT hooks; nil: their rows fail and are retried
	Metrics     *Metrics      // default: unregistered metrics
	Log         *slog.Logger  // default: discard
	Batch       int           // rows claimed (and delivered concurrently) at once; default 32
	MaxAttempts int           // attempts before a row is dropped; default 10
	MinBackoff  time.Duration // wait after the first failure; default 1 s, doubling per failure
	MaxBackoff  time.Duration // longest wait between attempts; default 5 min
	Poll        time.Duration // look for due rows at least this often; default 1 s
	Retention   time.Duration // delivered rows are deleted after this; default 7 days
	// DroppedRetention: dropped rows, kept to be looked into, are deleted
	// after this; default 30 days.
	DroppedRetention time.Duration
}

func (o *Options) defaults() error {
	for _, v := range []struct {
		name string
		n    int64
	}{{"Batch", int64(o.Batch)}, {"MaxAttempts", int64(o.MaxAttempts)}, {"MinBackoff", int64(o.MinBackoff)},
		{"MaxBackoff", int64(o.MaxBackoff)}, {"Poll", int64(o.Poll)}, {"Retention", int64(o.Retention)},
		{"DroppedRetention", int64(o.DroppedRetention)}} {
		if v.n < 0 {
			return fmt.Errorf("outbox: option %s is negative", v.name)
		}
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 5*time.Minute)
	def(&o.Poll, time.Second)
	def(&o.Retention, 7*24*time.Hour)
	def(&o.DroppedRetention, 30*24*time.Hour)
	if o.MaxBackoff < o.MinBackoff {
		return fmt.Errorf("outbox: MaxBackoff %s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff)
	}
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 10
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

type worker struct {
	pool *pgxpool.Pool
	Options
}

// Run delivers due outbox rows until ctx is done, then finishes the batch
// in hand and returns nil. It wakes on the trigger's notification or every
// Poll, whichever comes first, and deletes old delivered and dropped rows.
// Any number of workers, on any number of nodes, may run on one database.
// Database errors are logged and retried; only bad options are returned.
func Run(ctx context.Context, pool *pgxpool.Pool, opt Options) error {
	if err := opt.defaults(); err != nil {
		return err
	}
	w := &worker{pool: pool, Options: opt}
	wake := make(chan struct{}, 1)
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.listen(lctx, wake) })
	defer func() { stop(); wg.Wait() }()

	var pruned, counted time.Time
	tick := time.NewTicker(w.Poll)
	defer tick.Stop()
	for {
		w.drain(ctx)
		if time.Since(counted) >= time.Second {
			w.countPending(ctx)
			counted = time.Now()
		}
		if time.Since(pruned) >= time.Minute {
			w.prune(ctx)
			pruned = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-tick.C:
		}
	}
}

// listen keeps a connection of its own listening on Channel and signals
// wake on each notification; while it cannot, Run polls.
func (w *worker) listen(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for {
		err := func() error {
			conn, err := pgx.ConnectConfig(ctx, w.pool.Config().ConnConfig.Copy())
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
				return err
			}
			signal() // rows may have arrived before LISTEN
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				signal()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		w.Log.Warn("outbox: cannot listen for new rows; polling", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// drain delivers batches until fewer than a full one are due.
func (w *worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := w.batch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.Log.Error("outbox: delivering", "err", err)
			}
			return
		}
		if n < w.Batch {
			return
		}
	}
}

type item struct {
	id       int64
	attempts int
	hook     string
	kind     string
	target   string
	event    string
	payload  []byte
	err      error
}

// batch claims up to Batch due rows, delivers them concurrently and
// records the outcomes, holding the rows locked until then so that no
// other worker claims them. A stopping worker (ctx done) finishes the
// batch in hand.
func (w *worker) batch(ctx context.Context) (int, error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	ctx = context.WithoutCancel(ctx)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it does nothing
	rows, err := tx.Query(ctx, `SELECT o.id, o.attempts, h.name, h.kind, h.target, coalesce(o.payload->>'event', ''), o.payload::text
		FROM outbox o JOIN hooks h ON h.id = o.hook_id
		WHERE o.status = 'pending' AND o.next_at <= now() AND h.enabled
		ORDER BY o.next_at, o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`, w.Batch)
	if err != nil {
		return 0, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (item, error) {
		var it item
		var payload string
		err := r.Scan(&it.id, &it.attempts, &it.hook, &it.kind, &it.target, &it.event, &payload)
		it.payload = []byte(payload)
		return it, err
	})
	if err != nil || len(items) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	for i := range items {
		wg.Go(func() { items[i].err = w.deliver(ctx, &items[i]) })
	}
	wg.Wait()

	const (
		delivered = iota
		retried
		dropped
	)
	outcome := make([]int, len(items))
	var b pgx.Batch
	for i, it := range items {
		switch {
		case it.err == nil:
			outcome[i] = delivered
			b.Queue(`UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = clock_timestamp(), last_error = NULL WHERE id = $1`, it.id)
		case isPermanent(it.err) || it.attempts+1 >= w.MaxAttempts:
			outcome[i] = dropped
			b.Queue(`UPDATE outbox SET status = 'dropped', attempts = attempts + 1, last_error = $2 WHERE id = $1`, it.id, errText(it.err))
		default:
			outcome[i] = retried
			wait := w.backoff(it.attempts + 1)
			b.Queue(`UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1`,
				it.id, errText(it.err), wait.Seconds())
		}
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	for i, it := range items {
		switch outcome[i] {
		case delivered:
			w.Metrics.Delivered.WithLabelValues(it.hook).Inc()
		case retried:
			w.Metrics.Retried.WithLabelValues(it.hook).Inc()
			w.Log.Info("outbox: delivery failed; will retry", "hook", it.hook, "row", it.id, "attempt", it.attempts+1, "err", it.err)
		case dropped:
			w.Metrics.Dropped.WithLabelValues(it.hook).Inc()
			w.Log.Warn("outbox: delivery dropped", "hook", it.hook, "row", it.id, "attempts", it.attempts+1, "err", it.err)
		}
	}
	return len(items), nil
}

func (w *worker) deliver(ctx context.Context, it *item) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	switch it.kind {
	case Webhook:
		return postWebhook(ctx, w.HTTPClient, w.Secret, it.target, it.id, it.event, it.payload)
	case MQTT:
		if w.MQTT == nil {
			return errors.New("no MQTT broker configured (MQTT_URL)")
		}
		return w.MQTT.Publish(ctx, it.target, it.payload)
	}
	return Permanent(fmt.Errorf("unknown hook kind %q", it.kind))
}

// backoff is the wait after failure number n (from 1): MinBackoff doubling
// per failure up to MaxBackoff, with jitter (between half and all of it)
// so that rows failing together do not retry together.
func (w *worker) backoff(n int) time.Duration {
	d := w.MinBackoff
	for i := 1; i < n && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func errText(err error) string {
	s := err.Error()
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}

// countPending sets the pending gauge per enabled hook.
func (w *worker) countPending(ctx context.Context) {
	rows, err := w.pool.Query(ctx, `SELECT h.name, count(o.id) FROM hooks h
		LEFT JOIN outbox o ON o.hook_id = h.id AND o.status = 'pending'
		WHERE h.enabled GROUP BY h.name`)
	if err != nil {
		return
	}
	counts := map[string]float64{}
	for rows.Next() {
		var name string
		var n int64
		if rows.Scan(&name, &n) == nil {
			counts[name] = float64(n)
		}
	}
	if rows.Err() != nil {
		return
	}
	w.Metrics.Pending.Reset()
	for name, n := range counts {
		w.Metrics.Pending.WithLabelValues(name).Set(n)
	}
}

// prune deletes delivered rows older than Retention and dropped rows older
// than DroppedRetention, a bounded number at a time.
func (w *worker) prune(ctx context.Context) {
	for _, q := range []struct {
		status string
		keep   time.Duration
	}{{"delivered", w.Retention}, {"dropped", w.DroppedRetention}} {
		_, err := w.pool.Exec(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
			WHERE status <> 'pending' AND status = $1 AND coalesce(delivered_at, created) < now() - make_interval(secs => $2)
			LIMIT 10000)`, q.status, q.keep.Seconds())
		if err != nil && ctx.Err() == nil {
			w.Log.Warn("outbox: pruning", "status", q.status, "err", err)
		}
	}
}
