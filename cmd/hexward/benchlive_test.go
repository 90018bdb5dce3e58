package main

import (
	"context"
	"testing"
	"time"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

// TestBenchLiveSmall runs the live stream benchmark small (a few clients,
// a low rate) on an empty database and checks that it measured something.
func TestBenchLiveSmall(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	d, err := openDatabase(ctx, url, "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	store := layers.NewStore(d.pool, layers.Governance())
	r, err := runLiveBench(ctx, quiet(), store, liveConfig{Clients: 5, Rate: 50, Duration: time.Second, Writers: 2, Layer: "gates", Drain: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Connected != 5 || r.Events == 0 || r.Delivered == 0 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Fatalf("report: %+v", r)
	}
	if r.Delivered != r.Expected || r.DroppedServer != 0 || r.ClientsLost != 0 || r.Unmatched != 0 {
		t.Fatalf("lost deliveries: %+v", r)
	}
}
