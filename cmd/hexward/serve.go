package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/readings"
	"github.com/hexward/hexward/tiles"
	"github.com/hexward/hexward/web"
)

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	url  *string
	data *string
}

func addDBFlags(fs *flag.FlagSet) dbFlags {
	return dbFlags{
		url:  fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL/PostGIS URL (env DATABASE_URL); empty starts a private cluster in --data"),
		data: fs.String("data", envOr("HEXWARD_DATA", ".hexward"), "data folder for the private PostgreSQL cluster (env HEXWARD_DATA)"),
	}
}

func (f dbFlags) open(ctx context.Context, log *slog.Logger) (*database, error) {
	return openDatabase(ctx, *f.url, *f.data, log)
}

func envBool(key string) bool {
	b, _ := strconv.ParseBool(os.Getenv(key))
	return b
}

func serve(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	db := addDBFlags(fs)
	addr := fs.String("addr", envOr("HEXWARD_ADDR", "127.0.0.1:8080"), "listen address (env HEXWARD_ADDR)")
	withDemo := fs.Bool("demo", envBool("HEXWARD_DEMO"), "load the demo district when the database holds no features (env HEXWARD_DEMO)")
	seed := fs.Int64("demo-seed", 1, "seed of the demo district")
	scale := fs.Float64("demo-scale", 1, "scale of the demo district (1 ≈ 20k buildings)")
	adminUser := fs.String("admin-user", os.Getenv("HEXWARD_ADMIN_USER"), "on first run, create this admin with the password in env HEXWARD_ADMIN_PASSWORD (env HEXWARD_ADMIN_USER)")
	tlsCert := fs.String("tls-cert", os.Getenv("HEXWARD_TLS_CERT"), "TLS certificate file; with --tls-key serves HTTPS (env HEXWARD_TLS_CERT)")
	tlsKey := fs.String("tls-key", os.Getenv("HEXWARD_TLS_KEY"), "TLS key file (env HEXWARD_TLS_KEY)")
	cors := fs.String("cors-origins", os.Getenv("HEXWARD_CORS_ORIGINS"), "comma-separated origins allowed to call the API from a browser (env HEXWARD_CORS_ORIGINS)")
	loginRate := fs.Int("login-rate", 10, "failed sign-in attempts allowed per client IP per minute")
	ingestRate := fs.Int("ingest-rate", 20, "ingest requests (readings, positions) allowed per second per account; 4× that per client IP")
	maxBody := fs.Int64("max-body", 8<<20, "largest request body in bytes")
	warm := fs.Bool("warm", true, "render the tile pyramid z14-17 of the data area at start")
	cacheMB := fs.Int64("tile-cache-mb", 1024, "tile cache size in MiB")
	offlineEvery := fs.Duration("offline-check", 30*time.Second, "how often to look for sensors silent longer than their offline_after_s (0: never)")
	escalateEvery := fs.Duration("escalation-check", 15*time.Second, "how often to escalate alerts not acknowledged within their severity's delay (0: never)")
	escalation := readings.DefaultEscalation()
	fs.Func("escalation", "escalation delays per severity and the most escalations of one alert (default "+escalation.String()+")",
		func(v string) (err error) { escalation, err = readings.ParseEscalation(v); return err })
	natsURL := fs.String("nats-url", os.Getenv("NATS_URL"), "NATS JetStream URL joining the nodes that share the database into one live stream (env NATS_URL); empty: one node")
	nodeID := fs.String("node", os.Getenv("HEXWARD_NODE"), "this node's id on NATS (env HEXWARD_NODE; default hostname-pid)")
	alertHooks := addHookFlags(fs) // --alert-webhook, --alert-mqtt-topic … (serve_outbox.go)
	mqttURL := fs.String("mqtt-url", os.Getenv("MQTT_URL"), "MQTT broker to take readings and positions from, e.g. tcp://127.0.0.1:1883 (env MQTT_URL); empty: no MQTT ingest")
	mqttClientID := fs.String("mqtt-client-id", "hexward-ingest", "MQTT client id of the ingest: the broker keeps its session (unacknowledged messages) under it")
	mqttShareGroup := fs.String("mqtt-share-group", os.Getenv("MQTT_SHARE_GROUP"), "share the MQTT ingest among the nodes in this group (shared subscription $share/GROUP/…): each message is stored by one of them; each node needs its own --mqtt-client-id (env MQTT_SHARE_GROUP); empty: this node gets every message")
	analyseAtStart := fs.Bool("analyse", true, "run the planners' analyses at start (camera views, coverage, fences, frontages, grid, placards)")
	retention := fs.Duration("changes-retention", 7*24*time.Hour, "how long the change log keeps a change for live clients to resume from; older ones are pruned at start and hourly (env HEXWARD_CHANGES_RETENTION; 0: keep everything)")
	if v, ok := os.LookupEnv("HEXWARD_CHANGES_RETENTION"); ok {
		if err := fs.Set("changes-retention", v); err != nil {
			return fmt.Errorf("env HEXWARD_CHANGES_RETENTION=%q: not a duration such as 168h", v)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *retention < 0 {
		return fmt.Errorf("--changes-retention %v: must not be negative (0 keeps everything)", *retention)
	}
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	cat := layers.Governance()
	store := layers.NewStore(d.pool, cat)
	nodes, err := startBus(ctx, log, store, *natsURL, *nodeID)
	if err != nil {
		return err
	}
	defer nodes.Close()
	if *withDemo {
		if err := loadDemoIfEmpty(ctx, log, store, *seed, *scale); err != nil {
			return err
		}
	}

	// Changes committed from here on reach the tile engine in order; they
	// queue while it loads.
	changes := make(chan []layers.Change, 4096)
	store.Subscribe(func(cs []layers.Change) { changes <- cs })
	engine := tiles.NewEngine(cat, store, tiles.Options{CacheBytes: *cacheMB << 20})
	start := time.Now()
	if err := engine.Load(ctx); err != nil {
		return fmt.Errorf("loading the tile index: %w", err)
	}
	log.Info("tile index loaded", "took", time.Since(start).Round(time.Millisecond))
	go applyChanges(ctx, log, engine, changes)
	if *warm {
		go func() {
			start := time.Now()
			n, err := engine.Warm(ctx, [][]string{cat.Names()}, 14, 17, engine.Bounds())
			if err != nil && ctx.Err() == nil {
				log.Error("warming tiles", "err", err)
				return
			}
			log.Info("tile pyramid warm", "tiles", n, "zooms", "14-17", "took", time.Since(start).Round(time.Millisecond))
		}()
	}

	accounts := auth.NewAccounts(d.pool, func(ctx context.Context, code string) (bool, error) {
		_, err := store.ScopeArea(ctx, code)
		if errors.Is(err, layers.ErrNoArea) {
			return false, nil
		}
		return err == nil, err
	})
	audit := auth.NewAudit(d.pool)
	store.SetAudit(audit.FeatureWrite)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	nodes.Register(reg)
	if err := alertHooks.start(ctx, log, d.pool, reg, mqttURL); err != nil {
		return err
	}
	var origins []string
	if *cors != "" {
		origins = strings.Split(*cors, ",")
	}
	sensorRules := readings.New(store, log)
	checks := map[string]func() error{}
	if nodes != nil {
		checks["nats"] = nodes.Healthy
	}
	stopMQTT, mqttCheck, err := startMQTT(ctx, log, *mqttURL, *mqttClientID, *mqttShareGroup, store, sensorRules, accounts, reg) // serve_mqtt.go
	if err != nil {
		return err
	}
	defer stopMQTT()
	if mqttCheck != nil {
		checks["mqtt"] = mqttCheck
	}
	analyses, err := analysis.New(store, analysis.Options{Leaks: true, Log: log})
	if err != nil {
		return err
	}
	api := web.New(web.Config{Store: store, Tiles: engine, Accounts: accounts, Audit: audit, Log: log,
		MaxBody: *maxBody, Registry: reg, CORSOrigins: origins, LoginRate: *loginRate, IngestRate: *ingestRate, Readings: sensorRules,
		Checks: checks, Analysis: analyses})
	go sensorRules.RunOffline(ctx, *offlineEvery) // the sensor-offline rule; stops with ctx
	_ = sensorRules.SetEscalation(escalation)     // valid: ParseEscalation checked it
	go sensorRules.RunEscalation(ctx, *escalateEvery)
	pruned := prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_changes_pruned_total",
		Help: "Change-log rows deleted because they were older than --changes-retention."})
	reg.MustRegister(pruned)
	go pruneChanges(ctx, log, store, *retention, pruned)
	if *analyseAtStart {
		go func() { // the result layers and figures; planners can rerun it (POST /api/analysis/run)
			if _, err := analyses.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("running the analyses", "err", err)
			}
		}()
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	srv.RegisterOnShutdown(api.Close) // the live stream's websockets are hijacked: Shutdown does not close them
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String() + "/"
	if err := firstRun(ctx, log, accounts, store, url, *adminUser, *withDemo); err != nil {
		return err
	}
	log.Info("Hexward is serving", "url", url)
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pruneChanges deletes the change-log rows older than keep, at start and
// then every hour until ctx ends; keep <= 0 keeps everything.
func pruneChanges(ctx context.Context, log *slog.Logger, store *layers.Store, keep time.Duration, pruned prometheus.Counter) {
	if keep <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := store.PruneChanges(ctx, time.Now().Add(-keep))
		pruned.Add(float64(n))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("pruning the change log", "err", err)
		case n > 0:
			log.Info("change log pruned", "rows", n, "retention", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// applyChanges feeds committed changes to the tile engine, batching what
// has queued up so that a burst of writes costs one refresh.
func applyChanges(ctx context.Context, log *slog.Logger, engine *tiles.Engine, changes <-chan []layers.Change) {
	for {
		var batch []layers.Change
		select {
		case <-ctx.Done():
			return
		case cs := <-changes:
			batch = append(batch, cs...)
		}
	drain:
		for len(batch) < 100_000 {
			select {
			case cs := <-changes:
				batch = append(batch, cs...)
			default:
				break drain
			}
		}
		if err := engine.Apply(ctx, batch); err != nil && ctx.Err() == nil {
			log.Error("refreshing tiles", "changes", len(batch), "err", err)
		}
	}
}

func loadDemo(ctx context.Context, log *slog.Logger, store *layers.Store, seed int64, scale float64) error {
	start := time.Now()
	next, stop := pullFeatures(func(emit func(layers.Feature) error) error {
		return demo.Generate(seed, scale, emit)
	})
	defer stop()
	st, err := store.Import(ctx, next, nil)
	if err != nil {
		return fmt.Errorf("loading the demo district: %w", err)
	}
	// Officers' incident reports of the last weeks, along the shop streets,
	// so that the incident list and the frontage and placard figures have
	// something to show.
	var streets []layers.Feature
	if err := store.ScanLayer(ctx, "shop_streets", func(f layers.Feature) error {
		streets = append(streets, f)
		return nil
	}); err != nil {
		return fmt.Errorf("loading the demo district: %w", err)
	}
	inc, err := store.Import(ctx, layers.FromSlice(demo.Incidents(seed, time.Now(), streets, max(12, int(40*scale)))), nil)
	if err != nil {
		return fmt.Errorf("loading the demo's incident reports: %w", err)
	}
	log.Info("demo district loaded", "features", st.Features+inc.Features, "buildings", st.ByLayer["buildings"],
		"incidents", inc.Features, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func loadDemoIfEmpty(ctx context.Context, log *slog.Logger, store *layers.Store, seed int64, scale float64) error {
	n, err := store.Count(ctx, "buildings")
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("database already holds features; demo not loaded", "buildings", n)
		return nil
	}
	return loadDemo(ctx, log, store, seed, scale)
}

func migrate(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	db := addDBFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	d.Close()
	fmt.Println("migrations up to date")
	return nil
}

// DemoPasswordSuffix makes a demo account's password: its name followed by
// this. Demo accounts exist only with --demo and are marked demo.
const DemoPasswordSuffix = "-pass"

// firstRun makes sure someone can sign in to a database without users:
// the admin named by --admin-user and HEXWARD_ADMIN_PASSWORD, or the demo
// accounts with --demo, or else a one-time link to create the first admin.
// There is no default password.
func firstRun(ctx context.Context, log *slog.Logger, accounts *auth.Accounts, store *layers.Store, url, adminUser string, demo bool) error {
	n, err := accounts.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	switch {
	case adminUser != "":
		pw := os.Getenv("HEXWARD_ADMIN_PASSWORD")
		if pw == "" {
			return errors.New("--admin-user needs the password in env HEXWARD_ADMIN_PASSWORD")
		}
		if _, err := accounts.CreateUser(ctx, auth.NewUser{Name: adminUser, Role: auth.Admin, Password: pw}); err != nil {
			return fmt.Errorf("creating the first admin: %w", err)
		}
		log.Info("first admin created", "user", adminUser)
	case demo:
		var community string
		_ = store.Pool().QueryRow(ctx, `SELECT props->>'code' FROM features WHERE layer = 'communities' ORDER BY props->>'code' LIMIT 1`).Scan(&community)
		users := []auth.NewUser{
			{Name: "demo-admin", Role: auth.Admin}, {Name: "demo-operator", Role: auth.Operator},
			{Name: "demo-planner", Role: auth.Planner}, {Name: "demo-officer", Role: auth.Officer},
			{Name: "demo-viewer", Role: auth.Viewer}, {Name: "demo-community", Role: auth.Operator, Scope: community},
			{Name: "demo-device", Role: auth.Device}, // reports the demo sensors' readings with an API token
		}
		for _, u := range users {
			u.Password, u.Demo = u.Name+DemoPasswordSuffix, true
			if _, err := accounts.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("creating demo account %s: %w", u.Name, err)
			}
		}
		log.Warn("DEMO accounts created: demo-admin, demo-operator, demo-planner, demo-officer, demo-viewer, demo-community, demo-device; password = name + \"" + DemoPasswordSuffix + "\" (see README); never use --demo in production")
	default:
		secret, err := accounts.NewSetupToken(ctx, time.Hour)
		if err != nil {
			return err
		}
		fmt.Printf("\nFirst run: no accounts yet. Within an hour, open\n\n    %ssetup#token=%s\n\nto create the first admin (the link works once).\n\n", url, secret)
	}
	return nil
}
