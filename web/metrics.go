package web

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/tiles"
)

type metrics struct {
	requests *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hexward_http_request_seconds",
			Help:    "HTTP request latency by route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "status"}),
	}
	reg.MustRegister(m.requests)
	return m
}

// registerTileStats exposes the tile engine's counters.
func registerTileStats(reg *prometheus.Registry, e *tiles.Engine) {
	counter := func(name, help string, f func(tiles.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(e.Stats())) }))
	}
	counter("hexward_tile_cache_hits_total", "Tiles served from the cache.", func(s tiles.Stats) uint64 { return s.Hits })
	counter("hexward_tile_cache_misses_total", "Tiles not in the cache.", func(s tiles.Stats) uint64 { return s.Misses })
	counter("hexward_tile_renders_total", "Tiles rendered.", func(s tiles.Stats) uint64 { return s.Renders })
	counter("hexward_tile_evictions_total", "Tiles dropped to keep the cache within its size.", func(s tiles.Stats) uint64 { return s.Evictions })
	counter("hexward_tile_invalidations_total", "Tiles dropped because a change touched them.", func(s tiles.Stats) uint64 { return s.Invalidations })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hexward_tile_cache_bytes", Help: "Bytes in the tile cache."},
		func() float64 { return float64(e.Stats().Bytes) }))
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}
