package tilebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
)

var area = orb.Bound{Min: orb.Point{114.11, 22.54}, Max: orb.Point{114.13, 22.56}}

func TestTilesCoverTheArea(t *testing.T) {
	for _, tc := range []struct {
		z    uint32
		want int
	}{{10, 1}, {14, 4}, {16, 20}} { // 2 km at 22.5°N
		got := len(Tiles(area, tc.z, tc.z))
		if tc.z >= 14 && got < tc.want || tc.z < 14 && got != tc.want {
			t.Errorf("z%d: %d tiles", tc.z, got)
		}
	}
}

func TestRunFetchesEveryTileOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var order []string
	fetch := func(ctx context.Context, z, x, y uint32) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		k := fmt.Sprintf("%d/%d/%d", z, x, y)
		seen[k]++
		order = append(order, k)
		return make([]byte, int(z)*10+int(x%7)), nil
	}
	rep, err := Run(context.Background(), Config{Fetch: fetch, Bounds: area, Workers: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := len(Tiles(area, 14, 17))
	if rep.Tiles != want || len(seen) != want {
		t.Fatalf("fetched %d (%d distinct), want %d", rep.Tiles, len(seen), want)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	if len(rep.PerZoom) != 4 || rep.PerZoom[0].Zoom != 14 || rep.PerZoom[3].Zoom != 17 {
		t.Errorf("per zoom %+v", rep.PerZoom)
	}
	for _, z := range rep.PerZoom {
		if z.Largest < int(z.Zoom)*10 || z.LargestT == "" {
			t.Errorf("z%d: largest %d %q", z.Zoom, z.Largest, z.LargestT)
		}
	}
	if rep.TilesPerSec <= 0 || rep.P99 < rep.P50 || rep.Bytes == 0 {
		t.Errorf("report %+v", rep)
	}
	// the same seed gives the same order; the order is shuffled
	first := order
	order, seen = nil, map[string]int{}
	if _, err := Run(context.Background(), Config{Fetch: fetch, Bounds: area, Workers: 1, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(first, " ") != strings.Join(order, " ") {
		t.Error("same seed, different order")
	}
	if strings.HasPrefix(strings.Join(first, " "), "14/") && strings.HasPrefix(strings.Join(first[len(first)-1:], ""), "17/") {
		t.Error("order not shuffled")
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil || !strings.Contains(buf.String(), "tiles/s") {
		t.Errorf("report text %q", buf.String())
	}
}

func TestRunOverHTTP(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.mapbox-vector-tile")
		w.Write([]byte("tile"))
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), Config{BaseURL: srv.URL, Layers: []string{"buildings", "shops"}, Bounds: area, MinZoom: 15, MaxZoom: 15, Workers: 4, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := len(Tiles(area, 15, 15))
	if rep.Tiles != 2*n || len(paths) != n || rep.Bytes != int64(8*n) {
		t.Errorf("tiles %d paths %d bytes %d, want %d", rep.Tiles, len(paths), rep.Bytes, n)
	}
	for p := range paths {
		if !strings.HasPrefix(p, "/tiles/buildings,shops/15/") || !strings.HasSuffix(p, ".mvt") {
			t.Errorf("path %s", p)
		}
	}
}

func TestRunStopsOnErrors(t *testing.T) {
	boom := errors.New("boom")
	rep, err := Run(context.Background(), Config{Bounds: area, MaxErrors: 3, Workers: 2,
		Fetch: func(ctx context.Context, z, x, y uint32) ([]byte, error) { return nil, boom }})
	if err == nil || !strings.Contains(err.Error(), "boom") || rep.Errors < 3 {
		t.Errorf("err %v, errors %d", err, rep.Errors)
	}
	if _, err := Run(context.Background(), Config{Fetch: func(context.Context, uint32, uint32, uint32) ([]byte, error) { return nil, nil }}); err == nil {
		t.Error("ran without an area")
	}
}
