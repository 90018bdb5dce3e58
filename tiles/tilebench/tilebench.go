// Package tilebench is Hexward's tile load tool: it fetches every tile of
// an area over a zoom range, in a seeded random order, with N concurrent
// workers, from an HTTP tile server or from a function (an engine, or the
// ST_AsMVT baseline), and reports throughput, latency percentiles and tile
// sizes. The hexward bench tiles command is built on it.
package tilebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// FetchFunc returns the bytes of tile z/x/y.
type FetchFunc func(ctx context.Context, z, x, y uint32) ([]byte, error)

// Config says what to fetch and how.
type Config struct {
	// BaseURL of a Hexward server: tiles are fetched with GET
	// BaseURL/tiles/{Layers joined by ","}/{z}/{x}/{y}.mvt. Used when Fetch
	// is nil.
	BaseURL string
	Layers  []string
	Client  *http.Client // default: a client with Workers idle connections per host
	// Fetch, when set, is called instead of HTTP.
	Fetch FetchFunc

	Bounds           orb.Bound // area, EPSG:4326
	MinZoom, MaxZoom uint32    // default 14–17
	Workers          int       // default GOMAXPROCS
	Seed             uint64    // shuffle seed (default 1)
	// Rounds is how many times every tile is fetched (default 1): a second
	// round against a server measures its warm cache.
	Rounds int
	// MaxErrors stops the run after that many failed fetches (default 100).
	MaxErrors int
}

// Report is the result of a run.
type Report struct {
	Tiles       int           // fetched successfully
	Errors      int           // failed fetches
	FirstError  string        // the first failure, if any
	Elapsed     time.Duration // wall time of the fetches
	TilesPerSec float64
	P50, P90    time.Duration
	P99, Max    time.Duration
	Bytes       int64
	Workers     int
	PerZoom     []ZoomReport
}

// ZoomReport sums up one zoom.
type ZoomReport struct {
	Zoom     uint32
	Tiles    int
	Bytes    int64
	P50, P99 time.Duration
	Largest  int    // bytes of the largest tile
	LargestT string // "z/x/y" of the largest tile
}

// Tiles lists the tiles of bounds at zooms minZ..maxZ.
func Tiles(bounds orb.Bound, minZ, maxZ uint32) []maptile.Tile {
	var out []maptile.Tile
	for z := minZ; z <= maxZ; z++ {
		lo := maptile.At(orb.Point{bounds.Min[0], bounds.Max[1]}, maptile.Zoom(z))
		hi := maptile.At(orb.Point{bounds.Max[0], bounds.Min[1]}, maptile.Zoom(z))
		for x := lo.X; x <= hi.X; x++ {
			for y := lo.Y; y <= hi.Y; y++ {
				out = append(out, maptile.New(x, y, maptile.Zoom(z)))
			}
		}
	}
	return out
}

type sample struct {
	t     maptile.Tile
	d     time.Duration
	bytes int
}

// Run lists every tile of the area, shuffles them and fetches them with
// cfg.Workers workers.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.MinZoom == 0 && cfg.MaxZoom == 0 {
		cfg.MinZoom, cfg.MaxZoom = 14, 17
	}
	if cfg.MaxZoom < cfg.MinZoom || cfg.MaxZoom > 22 {
		return Report{}, fmt.Errorf("tilebench: bad zoom range %d-%d", cfg.MinZoom, cfg.MaxZoom)
	}
	if cfg.Bounds == (orb.Bound{}) || cfg.Bounds.Min[0] > cfg.Bounds.Max[0] || cfg.Bounds.Min[1] > cfg.Bounds.Max[1] {
		return Report{}, errors.New("tilebench: no area to fetch")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 100
	}
	fetch := cfg.Fetch
	if fetch == nil {
		if cfg.BaseURL == "" || len(cfg.Layers) == 0 {
			return Report{}, errors.New("tilebench: need a base URL and layers, or a fetch function")
		}
		fetch = httpFetch(cfg)
	}

	tiles := Tiles(cfg.Bounds, cfg.MinZoom, cfg.MaxZoom)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x68657877617264))
	var order []maptile.Tile
	for range cfg.Rounds {
		round := slices.Clone(tiles)
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		order = append(order, round...)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	samples := make([]sample, len(order))
	ok := make([]bool, len(order))
	var next atomic.Int64
	var errMu sync.Mutex
	var nerr int
	var firstErr string
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(order) || ctx.Err() != nil {
					return
				}
				t := order[i]
				t0 := time.Now()
				data, err := fetch(ctx, uint32(t.Z), t.X, t.Y)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errMu.Lock()
					nerr++
					if firstErr == "" {
						firstErr = fmt.Sprintf("%d/%d/%d: %v", t.Z, t.X, t.Y, err)
					}
					if nerr >= cfg.MaxErrors {
						cancel()
					}
					errMu.Unlock()
					continue
				}
				samples[i] = sample{t, d, len(data)}
				ok[i] = true
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var got []sample
	for i, s := range samples {
		if ok[i] {
			got = append(got, s)
		}
	}
	rep := summarise(got, elapsed)
	rep.Errors, rep.FirstError, rep.Workers = nerr, firstErr, cfg.Workers
	if err := parent.Err(); err != nil {
		return rep, err
	}
	if nerr >= cfg.MaxErrors {
		return rep, fmt.Errorf("tilebench: stopped after %d errors; first: %s", nerr, firstErr)
	}
	return rep, nil
}

func summarise(got []sample, elapsed time.Duration) Report {
	rep := Report{Tiles: len(got), Elapsed: elapsed}
	if elapsed > 0 {
		rep.TilesPerSec = float64(len(got)) / elapsed.Seconds()
	}
	ds := make([]time.Duration, len(got))
	byZoom := map[uint32][]sample{}
	for i, s := range got {
		ds[i] = s.d
		rep.Bytes += int64(s.bytes)
		byZoom[uint32(s.t.Z)] = append(byZoom[uint32(s.t.Z)], s)
	}
	slices.Sort(ds)
	rep.P50, rep.P90, rep.P99 = pct(ds, 50), pct(ds, 90), pct(ds, 99)
	if len(ds) > 0 {
		rep.Max = ds[len(ds)-1]
	}
	var zooms []uint32
	for z := range byZoom {
		zooms = append(zooms, z)
	}
	slices.Sort(zooms)
	for _, z := range zooms {
		ss := byZoom[z]
		zr := ZoomReport{Zoom: z, Tiles: len(ss)}
		zd := make([]time.Duration, len(ss))
		for i, s := range ss {
			zd[i] = s.d
			zr.Bytes += int64(s.bytes)
			if s.bytes > zr.Largest {
				zr.Largest = s.bytes
				zr.LargestT = fmt.Sprintf("%d/%d/%d", s.t.Z, s.t.X, s.t.Y)
			}
		}
		slices.Sort(zd)
		zr.P50, zr.P99 = pct(zd, 50), pct(zd, 99)
		rep.PerZoom = append(rep.PerZoom, zr)
	}
	return rep
}

// pct returns the p-th percentile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func httpFetch(cfg Config) FetchFunc {
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.Workers,
			MaxConnsPerHost:     cfg.Workers,
			DisableCompression:  false,
		}, Timeout: 60 * time.Second}
	}
	prefix := strings.TrimRight(cfg.BaseURL, "/") + "/tiles/" + strings.Join(cfg.Layers, ",") + "/"
	return func(ctx context.Context, z, x, y uint32) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%d/%d/%d.mvt", prefix, z, x, y), nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK, http.StatusNoContent:
			return data, nil
		}
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("HTTP %s: %s", resp.Status, msg)
	}
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "tiles\terrors\tworkers\tseconds\ttiles/s\tp50\tp90\tp99\tmax\tMB\t\n")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%.1f\t\n", r.Tiles, r.Errors, r.Workers,
		r.Elapsed.Seconds(), r.TilesPerSec, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), float64(r.Bytes)/1e6)
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "zoom\ttiles\tKB\tp50\tp99\tlargest KB\tlargest tile\t\n")
	for _, z := range r.PerZoom {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%s\t%s\t%.1f\t%s\t\n", z.Zoom, z.Tiles, float64(z.Bytes)/1e3,
			ms(z.P50), ms(z.P99), float64(z.Largest)/1e3, z.LargestT)
	}
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error: %s\n", r.FirstError)
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
