package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/project"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/geojsonio"
	"github.com/hexward/hexward/migrations"
	"github.com/hexward/hexward/tiles"
	"github.com/hexward/hexward/tiles/baseline"
	"github.com/hexward/hexward/tiles/tilebench"
	"github.com/hexward/hexward/web"
)

func bench(ctx context.Context, log *slog.Logger, args []string) error {
	if len(args) > 0 && args[0] == "live" {
		return benchLive(ctx, log, args[1:])
	}
	if len(args) > 0 && args[0] == "analysis" {
		return benchAnalysis(ctx, log, args[1:])
	}
	if len(args) == 0 || args[0] != "tiles" {
		return errors.New(`usage: hexward bench tiles|live|analysis [flags]`)
	}
	return benchTiles(ctx, log, args[1:])
}

// benchTiles measures, in one run on demo data: (a) the plain per-request
// ST_AsMVT query, (b) the engine with an empty cache over HTTP, (c) the
// engine warm, (d) the pyramid build and the freshness of an edit, (e) the
// largest tile per zoom, (f) the import rate of a GeoJSON file.
func benchTiles(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench tiles", flag.ContinueOnError)
	db := addDBFlags(fs)
	scale := fs.Float64("scale", 5, "demo scale to load when the database holds no buildings")
	seed := fs.Int64("seed", 1, "demo seed")
	conc := fs.String("concurrency", "4,16", "worker counts to run, comma-separated")
	sets := fs.String("sets", "buildings;all", "layer sets to fetch, ';'-separated; 'all' is every layer")
	minZ := fs.Uint("minzoom", 14, "lowest zoom")
	maxZ := fs.Uint("maxzoom", 17, "highest zoom")
	skipBase := fs.Bool("skip-baseline", false, "do not run the ST_AsMVT baseline")
	importN := fs.Int("import", 100_000, "features in the GeoJSON import test (0 skips it)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	var workers []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("concurrency %q", s)
		}
		workers = append(workers, n)
	}
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	cat := layers.Governance()
	store := layers.NewStore(d.pool, cat)
	if err := loadDemoIfEmpty(ctx, log, store, *seed, *scale); err != nil {
		return err
	}
	nb, _ := store.Count(ctx, "buildings")
	fmt.Printf("# hexward bench tiles — %d buildings, zooms %d–%d, GOMAXPROCS %d\n\n", nb, *minZ, *maxZ, runtime.GOMAXPROCS(0))

	// One HTTP server whose engine is swapped per run, so each cold run
	// starts from an empty cache.
	var current atomic.Pointer[http.Handler]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) })}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()
	baseURL := "http://" + ln.Addr().String()
	accounts := auth.NewAccounts(d.pool, nil)
	token, err := benchToken(ctx, accounts)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: bearer{token, &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	newEngine := func() (*tiles.Engine, time.Duration, error) {
		e := tiles.NewEngine(cat, store, tiles.Options{CacheBytes: 4 << 30})
		start := time.Now()
		if err := e.Load(ctx); err != nil {
			return nil, 0, err
		}
		var h http.Handler = web.New(web.Config{Store: store, Tiles: e, Accounts: accounts, Audit: auth.NewAudit(d.pool)})
		current.Store(&h)
		return e, time.Since(start), nil
	}
	eng, loadTook, err := newEngine()
	if err != nil {
		return err
	}
	bounds := eng.Bounds()
	fmt.Printf("index load: %s\n\n", loadTook.Round(time.Millisecond))
	base := &baseline.Baseline{Pool: d.pool, Cat: cat}
	largest := map[uint32]int{}

	fmt.Println("| layers | workers | way | tiles | tiles/s | p50 | p99 | mean KB | × baseline |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, set := range strings.Split(*sets, ";") {
		names := strings.Split(set, ",")
		if set == "all" {
			names = cat.Names()
		}
		for _, w := range workers {
			cfg := tilebench.Config{Layers: names, Bounds: bounds, MinZoom: uint32(*minZ), MaxZoom: uint32(*maxZ), Workers: w, Seed: 1}
			var baseRate float64
			row := func(way string, r tilebench.Report) {
				ratio := "—"
				if baseRate > 0 {
					ratio = fmt.Sprintf("%.1f×", r.TilesPerSec/baseRate)
				}
				fmt.Printf("| %s | %d | %s | %d | %.0f | %s | %s | %.1f | %s |\n", set, w, way, r.Tiles, r.TilesPerSec,
					r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), float64(r.Bytes)/float64(max(1, r.Tiles))/1000, ratio)
			}
			if !*skipBase {
				c := cfg
				c.Fetch = func(ctx context.Context, z, x, y uint32) ([]byte, error) { return base.Composite(ctx, names, z, x, y) }
				r, err := tilebench.Run(ctx, c)
				if err != nil {
					return err
				}
				baseRate = r.TilesPerSec
				row("(a) ST_AsMVT per request", r)
				for _, zr := range r.PerZoom {
					if set == "all" || set == "buildings" {
						largest[zr.Zoom+100] = max(largest[zr.Zoom+100], zr.Largest)
					}
				}
			}
			if eng == nil {
				if eng, _, err = newEngine(); err != nil {
					return err
				}
			}
			c := cfg
			c.BaseURL, c.Client = baseURL, client
			r, err := tilebench.Run(ctx, c)
			if err != nil {
				return err
			}
			row("(b) Hexward, empty cache", r)
			for _, zr := range r.PerZoom {
				largest[zr.Zoom] = max(largest[zr.Zoom], zr.Largest)
			}
			// Warm: every tile again, enough rounds for a steady rate.
			c.Rounds = max(1, 20000/max(1, r.Tiles))
			r, err = tilebench.Run(ctx, c)
			if err != nil {
				return err
			}
			row("(c) Hexward, warm", r)
			eng = nil // the next run starts cold
		}
	}
	fmt.Println("\n(e) largest tile per zoom (bytes), any layer set above:")
	fmt.Println("| zoom | Hexward | ST_AsMVT baseline |")
	fmt.Println("| --- | --- | --- |")
	for z := uint32(*minZ); z <= uint32(*maxZ); z++ {
		fmt.Printf("| %d | %d | %d |\n", z, largest[z], largest[z+100])
	}

	// (d) pyramid build and freshness of an edit.
	eng, _, err = newEngine()
	if err != nil {
		return err
	}
	changes := make(chan []layers.Change, 64)
	store.Subscribe(func(cs []layers.Change) { changes <- cs })
	go applyChanges(ctx, log, eng, changes)
	start := time.Now()
	n, err := eng.Warm(ctx, [][]string{cat.Names()}, uint32(*minZ), uint32(*maxZ), bounds)
	if err != nil {
		return err
	}
	fmt.Printf("\n(d) pyramid of all layers, z%d–%d: %d tiles in %s\n", *minZ, *maxZ, n, time.Since(start).Round(time.Millisecond))
	if err := freshness(ctx, store, eng, cat); err != nil {
		return err
	}

	if *importN > 0 {
		if err := benchImport(ctx, d.pool, *importN, *seed); err != nil {
			return err
		}
	}
	return nil
}

// benchToken creates a viewer account for a load run and returns an API
// token of it, valid for an hour.
func benchToken(ctx context.Context, accounts *auth.Accounts) (string, error) {
	user := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if _, err := accounts.CreateUser(ctx, auth.NewUser{Name: user, Role: auth.Viewer}); err != nil {
		return "", err
	}
	token, _, err := accounts.CreateToken(ctx, user, "bench", time.Hour)
	return token, err
}

// bearer sends an API token with every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	r.Header.Set("Accept-Encoding", "gzip") // as a browser does; the bytes are counted compressed
	return b.next.RoundTrip(r)
}

// freshness renames and moves a building and measures how long until the
// warm tile over it at each zoom serves new content. A zoom where the
// building is merged into a mask may not change at all; it is reported so.
func freshness(ctx context.Context, store *layers.Store, eng *tiles.Engine, cat *layers.Catalogue) error {
	var id int64
	if err := store.Pool().QueryRow(ctx, `SELECT id FROM features WHERE layer = 'buildings' ORDER BY id LIMIT 1`).Scan(&id); err != nil {
		return err
	}
	f, err := store.Get(ctx, "buildings", id)
	if err != nil {
		return err
	}
	c := f.Geometry.Bound().Center()
	tilesAt := map[uint32]maptile.Tile{}
	etags := map[uint32]string{}
	for z := uint32(14); z <= 17; z++ {
		mt := maptile.At(c, maptile.Zoom(z))
		t, err := eng.Tile(ctx, cat.Names(), z, mt.X, mt.Y)
		if err != nil {
			return err
		}
		tilesAt[z], etags[z] = mt, t.ETag
	}
	moved := project.Geometry(f.Geometry, func(p orb.Point) orb.Point { return orb.Point{p[0] + 0.0002, p[1]} })
	start := time.Now()
	if _, err := store.Patch(ctx, "buildings", id, moved, map[string]any{"name": "bench edit"}); err != nil {
		return err
	}
	committed := time.Since(start)
	fresh := map[uint32]time.Duration{}
	for len(fresh) < len(etags) && time.Since(start) < 3*time.Second {
		for z, old := range etags {
			if _, done := fresh[z]; done {
				continue
			}
			mt := tilesAt[z]
			t, err := eng.Tile(ctx, cat.Names(), z, mt.X, mt.Y)
			if err != nil {
				return err
			}
			if t.ETag != old {
				fresh[z] = time.Since(start)
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	fmt.Printf("(d) edit (move 20 m + rename) committed in %s; warm tile over it fresh:", committed.Round(100*time.Microsecond))
	for z := uint32(14); z <= 17; z++ {
		if d, ok := fresh[z]; ok {
			fmt.Printf(" z%d %s", z, d.Round(100*time.Microsecond))
		} else {
			fmt.Printf(" z%d unchanged (merged)", z)
		}
	}
	fmt.Println()
	return nil
}

// benchImport writes n demo buildings to a GeoJSON file and imports it into
// a scratch database on the same server, reporting features/s.
func benchImport(ctx context.Context, pool *pgxpool.Pool, n int, seed int64) error {
	dir, err := os.MkdirTemp("", "hexward-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "buildings.geojson")
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(file, 1<<20)
	gw := geojsonio.NewWriter(bw)
	// Scale 1 has about 20,000 buildings; take a little more than needed.
	count := 0
	enough := errors.New("enough")
	err = demo.Generate(seed, 1.2*float64(n)/20000, func(f layers.Feature) error {
		if f.Layer != "buildings" {
			return nil
		}
		if count == n {
			return enough
		}
		count++
		return gw.Write(f)
	})
	if err != nil && !errors.Is(err, enough) {
		return err
	}
	if err := gw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	file.Close()
	info, _ := os.Stat(path)

	cfg := pool.Config().ConnConfig.Copy()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	const scratch = "hexward_bench_import"
	ident := pgx.Identifier{scratch}.Sanitize()
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") //nolint:errcheck
	pcfg := pool.Config().Copy()
	pcfg.ConnConfig.Database = scratch
	ipool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer ipool.Close()
	if _, err := migrations.Apply(ctx, ipool); err != nil {
		return err
	}
	store := layers.NewStore(ipool, layers.Governance())
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	start := time.Now()
	next, stopPull := pullFeatures(func(emit func(layers.Feature) error) error {
		return geojsonio.Read(bufio.NewReaderSize(in, 1<<20), "buildings", func(_ int, f layers.Feature) error { return emit(f) })
	})
	defer stopPull()
	st, err := store.Import(ctx, next, nil)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("(f) import of a %d-feature GeoJSON (%.1f MB): %s, %.0f features/s\n", st.Features,
		float64(info.Size())/1e6, took.Round(time.Millisecond), float64(st.Features)/took.Seconds())
	return nil
}

// startCPUProfile profiles the process into path until stop ("" : no
// profile).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
