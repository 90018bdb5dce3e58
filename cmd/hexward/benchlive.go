package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/bus"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/web"
)

// liveConfig is one run of the live stream benchmark.
type liveConfig struct {
	Clients  int           // websocket clients subscribed to Layer over the whole area
	Rate     float64       // target committed changes per second
	Duration time.Duration // how long changes are written
	Writers  int           // goroutines writing through the store
	Layer    string        // a point layer
	Drain    time.Duration // longest wait after the last write for deliveries
	Batch    int           // changes per transaction: 1 moves a feature (Store.Replace); more import new ones (Store.Import), removed after
}

// liveReport is what a run measured. Latency is receipt on a client minus
// the commit time of the change (taken by a store subscriber registered
// before the hub's, so before the hub sees the change).
type liveReport struct {
	Clients, Connected    int
	Events                int64 // changes committed in the measured window
	Elapsed               time.Duration
	EventRate             float64 // achieved changes/s
	Delivered, Expected   int64   // feature messages received by clients; Events × Connected
	DeliveriesPerSec      float64
	P50, P90, P99, Max    time.Duration
	DroppedServer         float64 // hexward_live_clients_dropped_total, all reasons
	ClientsLost           int64   // connections that ended before the bench closed them
	Unmatched             int64   // feature messages whose seq had no recorded commit time
	WriteP50, WriteP99    time.Duration
	LiveMessagesSentByHub float64 // hexward_live_messages_sent_total
}

func benchLive(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench live", flag.ContinueOnError)
	db := addDBFlags(fs)
	scale := fs.Float64("scale", 1, "demo scale to load when the database holds no buildings")
	seed := fs.Int64("seed", 1, "demo seed")
	var cfg liveConfig
	fs.IntVar(&cfg.Clients, "clients", 1000, "websocket clients")
	fs.Float64Var(&cfg.Rate, "rate", 2000, "target committed changes per second")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to write")
	fs.IntVar(&cfg.Writers, "writers", 16, "goroutines writing through the store (one change per transaction)")
	fs.StringVar(&cfg.Layer, "layer", "gates", "point layer to subscribe to and write")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "longest wait for deliveries after the last write")
	fs.IntVar(&cfg.Batch, "batch", 1, "changes per transaction: 1 moves a feature; N > 1 imports N new features at once (as an ingest batch commits many changes)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (server and clients, one process) to this file")
	natsURL := fs.String("nats-url", "", "NATS JetStream URL: write on one node, serve the clients from a second one joined over NATS (a stream of its own, deleted after)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Clients < 1 || cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Writers < 1 {
		return errors.New("bench live: --clients, --rate, --duration and --writers must be positive")
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	store := layers.NewStore(d.pool, layers.Governance())
	if err := loadDemoIfEmpty(ctx, log, store, *seed, *scale); err != nil {
		return err
	}
	served, nodes := store, "one node"
	if *natsURL != "" {
		var stop func()
		if served, stop, err = benchSecondNode(ctx, log, store, *natsURL); err != nil {
			return err
		}
		defer stop()
		nodes = "two nodes over NATS (written on one, served from the other)"
	}
	fmt.Printf("# hexward bench live — %d clients on %q, target %.0f changes/s for %s, %d writers, %s, GOMAXPROCS %d\n\n",
		cfg.Clients, cfg.Layer, cfg.Rate, cfg.Duration, cfg.Writers, nodes, runtime.GOMAXPROCS(0))
	r, err := runLiveBench(ctx, log, store, served, cfg)
	if err != nil {
		return err
	}
	if cfg.Batch > 1 {
		fmt.Printf("writes: %d changes per transaction (Store.Import of new bench %s features)\n", cfg.Batch, cfg.Layer)
	} else {
		fmt.Printf("writes: one change per transaction (Store.Replace of a bench %s feature: moved, renamed), no batching\n", cfg.Layer)
	}
	fmt.Printf("clients connected: %d of %d\n", r.Connected, r.Clients)
	fmt.Printf("changes committed: %d in %s = %.0f changes/s (target %.0f); commit p50 %s p99 %s\n",
		r.Events, r.Elapsed.Round(time.Millisecond), r.EventRate, cfg.Rate, r.WriteP50.Round(10*time.Microsecond), r.WriteP99.Round(10*time.Microsecond))
	fmt.Printf("feature messages delivered: %d of %d expected (%.2f%%), %.0f deliveries/s\n",
		r.Delivered, r.Expected, 100*float64(r.Delivered)/float64(max(1, r.Expected)), r.DeliveriesPerSec)
	fmt.Printf("latency commit → receipt: p50 %s  p90 %s  p99 %s  max %s\n",
		r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
	fmt.Printf("clients dropped by the server (hexward_live_clients_dropped_total): %.0f; connections lost client-side: %d; unmatched messages: %d\n",
		r.DroppedServer, r.ClientsLost, r.Unmatched)
	fmt.Printf("hexward_live_messages_sent_total: %.0f (feature + tiles messages)\n", r.LiveMessagesSentByHub)
	return nil
}

// liveClient is one websocket client of the benchmark.
type liveClient struct {
	conn   *websocket.Conn
	seen   atomic.Bool  // a feature message arrived (the subscription is live)
	count  atomic.Int64 // measured feature messages received
	lat    []int32      // latencies in µs of measured changes
	closed atomic.Bool  // the bench closed it
}

// benchSecondNode joins store (the writing node) and a second store on
// the same database (the serving node) over NATS JetStream, on a stream of
// their own; stop disconnects both and deletes the stream.
func benchSecondNode(ctx context.Context, log *slog.Logger, store *layers.Store, url string) (*layers.Store, func(), error) {
	id := strconv.Itoa(os.Getpid())
	opt := bus.Options{Stream: "HEXWARD_BENCH_" + id, Subject: "hexward.bench." + id, Log: log}
	var joined []*bus.NATS
	stop := func() {
		for _, b := range joined {
			b.Close()
		}
		if nc, err := nats.Connect(url); err == nil {
			if js, err := jetstream.New(nc); err == nil {
				_ = js.DeleteStream(context.WithoutCancel(ctx), opt.Stream)
			}
			nc.Close()
		}
	}
	served := layers.NewStore(store.Pool(), store.Catalogue())
	for node, s := range map[string]*layers.Store{"bench-writer": store, "bench-server": served} {
		o := opt
		o.Node = node
		b, err := bus.Connect(ctx, url, o)
		if err == nil {
			joined = append(joined, b)
			err = b.Attach(s)
		}
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("joining the bench nodes over NATS: %w", err)
		}
	}
	return served, stop, nil
}

// runLiveBench starts the API of served on a loopback listener, connects
// the clients, writes changes through store at the target rate and
// measures delivery (store and served are one store, or two nodes joined
// by a bus).
func runLiveBench(ctx context.Context, log *slog.Logger, store, served *layers.Store, cfg liveConfig) (liveReport, error) {
	rep := liveReport{Clients: cfg.Clients}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	area, err := store.Extent(ctx)
	if err != nil {
		return rep, err
	}
	if area.IsEmpty() || area.Max == area.Min {
		area = orb.Bound{Min: orb.Point{114.10, 22.53}, Max: orb.Point{114.16, 22.57}}
	}

	// The commit time of each change by seq, recorded by a subscriber that
	// runs before the hub's (subscribers run in order, after commit).
	capacity := int(cfg.Rate*cfg.Duration.Seconds()*1.5) + 10_000
	commits := make([]atomic.Int64, capacity)
	var base atomic.Int64
	base.Store(-1 << 62) // nothing recorded before the measured window
	store.Subscribe(func(cs []layers.Change) {
		now := time.Now().UnixNano()
		b := base.Load()
		for _, c := range cs {
			if i := c.Seq - b; i >= 0 && i < int64(capacity) {
				commits[i].Store(now)
			}
		}
	})

	accounts := auth.NewAccounts(store.Pool(), nil)
	token, err := benchToken(ctx, accounts)
	if err != nil {
		return rep, err
	}
	reg := prometheus.NewRegistry()
	api := web.New(web.Config{Store: served, Accounts: accounts, Audit: auth.NewAudit(store.Pool()), Log: log, Registry: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(api.Close)
	go srv.Serve(ln) //nolint:errcheck
	defer func() {
		api.Close()
		srv.Close()
	}()
	wsURL := "ws://" + ln.Addr().String() + "/live"

	// The features the writers move about: a few per writer, removed after.
	perWriter := 8
	gates := make([][]layers.Feature, cfg.Writers)
	defer func() {
		dctx := context.WithoutCancel(ctx)
		for _, gs := range gates {
			for _, g := range gs {
				_ = store.Delete(dctx, g.Layer, g.ID)
			}
		}
	}()
	point := func(k int64) orb.Point {
		// A deterministic walk over the area.
		fx := float64((k*7919)%1000) / 1000
		fy := float64((k*104729)%997) / 997
		return orb.Point{area.Min[0] + fx*(area.Max[0]-area.Min[0]), area.Min[1] + fy*(area.Max[1]-area.Min[1])}
	}
	for w := range gates {
		for i := range perWriter {
			f, err := store.Create(ctx, layers.Feature{Layer: cfg.Layer, Geometry: point(int64(w*perWriter + i)),
				Props: map[string]any{"name": "bench live"}})
			if err != nil {
				return rep, fmt.Errorf("creating bench %s: %w", cfg.Layer, err)
			}
			gates[w] = append(gates[w], f)
		}
	}

	// Connect the clients.
	clients := make([]*liveClient, cfg.Clients)
	var lost atomic.Int64
	var unmatched atomic.Int64
	var readers sync.WaitGroup
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.closed.Store(true)
				c.conn.Close()
			}
		}
		readers.Wait()
	}()
	sub := fmt.Sprintf(`{"type":"subscribe","layers":[%q],"bbox":[%f,%f,%f,%f]}`,
		cfg.Layer, area.Min[0]-0.01, area.Min[1]-0.01, area.Max[0]+0.01, area.Max[1]+0.01)
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 4 << 10}
	expectPerClient := int(cfg.Rate*cfg.Duration.Seconds()) + 64
	connectStart := time.Now()
	var dialErr error
	var mu sync.Mutex
	var dials sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range clients {
		sem <- struct{}{}
		dials.Add(1)
		go func() {
			defer func() { <-sem; dials.Done() }()
			conn, resp, err := dialer.DialContext(ctx, wsURL, hdr)
			if err != nil {
				mu.Lock()
				if dialErr == nil {
					dialErr = fmt.Errorf("dial /live: %v %v", resp, err)
				}
				mu.Unlock()
				return
			}
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, msg, err := conn.ReadMessage(); err != nil || !bytes.Contains(msg, []byte(`"hello"`)) {
				conn.Close()
				mu.Lock()
				if dialErr == nil {
					dialErr = fmt.Errorf("hello: %q %v", msg, err)
				}
				mu.Unlock()
				return
			}
			_ = conn.SetReadDeadline(time.Time{})
			if err := conn.WriteMessage(websocket.TextMessage, []byte(sub)); err != nil {
				conn.Close()
				return
			}
			c := &liveClient{conn: conn, lat: make([]int32, 0, expectPerClient)}
			clients[i] = c
			readers.Add(1)
			go func() {
				defer readers.Done()
				c.read(commits, &base, &unmatched)
				if !c.closed.Load() {
					lost.Add(1)
				}
			}()
		}()
	}
	dials.Wait()
	for _, c := range clients {
		if c != nil {
			rep.Connected++
		}
	}
	if rep.Connected == 0 {
		return rep, fmt.Errorf("no client connected: %v", dialErr)
	}
	log.Info("live clients connected", "clients", rep.Connected, "took", time.Since(connectStart).Round(time.Millisecond), "err", dialErr)

	// Warm up: move one feature until every client has seen a change, so
	// that every subscription is in place before measuring.
	warm := gates[0][0]
	warmDeadline := time.Now().Add(30 * time.Second)
	for k := int64(0); ; k++ {
		warm.Geometry = point(1_000_000 + k)
		if _, err := store.Replace(ctx, warm); err != nil {
			return rep, err
		}
		time.Sleep(100 * time.Millisecond)
		all := true
		for _, c := range clients {
			if c != nil && !c.seen.Load() && !c.closed.Load() {
				all = false
				break
			}
		}
		if all {
			break
		}
		if time.Now().After(warmDeadline) {
			return rep, errors.New("warm-up: not every client saw a change within 30 s")
		}
	}
	time.Sleep(200 * time.Millisecond) // let the warm-up messages drain
	last, err := store.LastSeq(ctx)
	if err != nil {
		return rep, err
	}
	base.Store(last + 1) // changes from here on are measured

	// Write: a shared ticket paces the writers to the target rate.
	var ticket, events atomic.Int64
	writeLat := make([][]time.Duration, cfg.Writers)
	var writeErr error
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(cfg.Duration)
	batch := max(1, cfg.Batch)
	interval := float64(time.Second) * float64(batch) / cfg.Rate
	if batch > 1 {
		defer removeBenchImports(context.WithoutCancel(ctx), store, cfg.Layer)
	}
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := gates[w]
			for j := 0; ; j++ {
				n := ticket.Add(1) - 1
				at := start.Add(time.Duration(float64(n) * interval))
				if !at.Before(end) || !time.Now().Before(end) || ctx.Err() != nil { // behind schedule: still stop at the end
					return
				}
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				var err error
				t0 := time.Now()
				if batch > 1 {
					fs := make([]layers.Feature, batch)
					for i := range fs {
						k := n*int64(batch) + int64(i)
						fs[i] = layers.Feature{Layer: cfg.Layer, Geometry: point(k), Props: map[string]any{"name": benchImportName + strconv.FormatInt(k, 10)}}
					}
					_, err = store.Import(ctx, layers.FromSlice(fs), nil)
				} else {
					f := mine[j%len(mine)]
					f.Geometry = point(n)
					f.Props = map[string]any{"name": "bench live " + strconv.FormatInt(n, 10)}
					_, err = store.Replace(ctx, f)
				}
				if err != nil {
					mu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				writeLat[w] = append(writeLat[w], time.Since(t0))
				events.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	if writeErr != nil {
		return rep, fmt.Errorf("write: %w", writeErr)
	}
	rep.Events = events.Load()
	rep.EventRate = float64(rep.Events) / rep.Elapsed.Seconds()

	// Drain: wait until every live client has every change, or no progress.
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) {
		alive := int64(rep.Connected) - lost.Load()
		var got int64
		for _, c := range clients {
			if c != nil {
				got += c.count.Load()
			}
		}
		if got >= rep.Events*alive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	deliveryWindow := time.Since(start)

	// Stop the clients and gather.
	for _, c := range clients {
		if c != nil {
			c.closed.Store(true)
			c.conn.Close()
		}
	}
	readers.Wait()
	var all []int32
	for _, c := range clients {
		if c != nil {
			all = append(all, c.lat...)
		}
	}
	slices.Sort(all)
	rep.Delivered = int64(len(all))
	rep.Expected = rep.Events * int64(rep.Connected)
	rep.DeliveriesPerSec = float64(rep.Delivered) / deliveryWindow.Seconds()
	q := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return time.Duration(all[min(len(all)-1, int(p*float64(len(all))))]) * time.Microsecond
	}
	rep.P50, rep.P90, rep.P99 = q(0.50), q(0.90), q(0.99)
	if len(all) > 0 {
		rep.Max = time.Duration(all[len(all)-1]) * time.Microsecond
	}
	var wl []time.Duration
	for _, l := range writeLat {
		wl = append(wl, l...)
	}
	slices.Sort(wl)
	if len(wl) > 0 {
		rep.WriteP50, rep.WriteP99 = wl[len(wl)/2], wl[min(len(wl)-1, len(wl)*99/100)]
	}
	rep.ClientsLost, rep.Unmatched = lost.Load(), unmatched.Load()
	rep.DroppedServer = gatherSum(reg, "hexward_live_clients_dropped_total")
	rep.LiveMessagesSentByHub = gatherSum(reg, "hexward_live_messages_sent_total")
	return rep, nil
}

// read receives until the connection ends, recording the latency of each
// measured feature message. Messages are parsed just enough for the seq:
// the server writes `{"type":"feature","seq":N,...`.
func (c *liveClient) read(commits []atomic.Int64, base, unmatched *atomic.Int64) {
	prefix := []byte(`{"type":"feature","seq":`)
	// Only the start of a message is read (its type and seq), into one
	// buffer: the clients share the machine with the server they measure,
	// and reading whole messages would spend it on allocation.
	head := make([]byte, len(prefix)+20)
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			return
		}
		n, err := io.ReadFull(r, head)
		if err != nil && err != io.ErrUnexpectedEOF {
			return
		}
		msg := head[:n]
		now := time.Now().UnixNano()
		rest, ok := bytes.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		if !c.seen.Load() {
			c.seen.Store(true)
		}
		var seq int64
		for _, b := range rest {
			if b < '0' || b > '9' {
				break
			}
			seq = seq*10 + int64(b-'0')
		}
		b := base.Load()
		i := seq - b
		if b < 0 || i < 0 {
			continue // warm-up
		}
		if i >= int64(len(commits)) {
			unmatched.Add(1)
			continue
		}
		t := commits[i].Load()
		if t == 0 {
			unmatched.Add(1)
			continue
		}
		c.lat = append(c.lat, int32(min((now-t)/1000, 1<<31-1)))
		c.count.Add(1)
	}
}

// gatherSum sums every series of the named counter or gauge.
func gatherSum(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

// benchImportName starts the name of every feature a batched run imports.
const benchImportName = "bench live batch "

// removeBenchImports deletes, through the store, the features a batched
// run imported.
func removeBenchImports(ctx context.Context, store *layers.Store, layer string) {
	rows, err := store.Pool().Query(ctx, `SELECT id FROM features WHERE layer = $1 AND starts_with(props->>'name', $2)`, layer, benchImportName)
	if err != nil {
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	next := make(chan int64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				_ = store.Delete(ctx, layer, id)
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}
