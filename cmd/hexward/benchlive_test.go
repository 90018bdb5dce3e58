package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hexward/hexward/internal/servicetest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

// TestBenchLiveSmall runs the live stream benchmark small (a few clients,
// a low rate) on an empty database, on one node and on two nodes over
// NATS, and checks that it measured something and lost nothing.
func TestBenchLiveSmall(t *testing.T) {
	t.Run("one node", func(t *testing.T) { benchLiveSmall(t, "") })
	t.Run("two nodes over NATS", func(t *testing.T) {
		url := os.Getenv("NATS_URL")
		if url == "" {
			url = "nats://127.0.0.1:4222"
		}
		if nc, err := nats.Connect(url, nats.Timeout(2*time.Second)); err != nil {
			servicetest.Missing(t, "no NATS at %s (%v); set NATS_URL", url, err)
		} else {
			nc.Close()
		}
		benchLiveSmall(t, url)
	})
}

func benchLiveSmall(t *testing.T, natsURL string) {
	ctx := context.Background()
	url := pgtest.URL(t)
	d, err := openDatabase(ctx, url, "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	store := layers.NewStore(d.pool, layers.Governance())
	served := store
	if natsURL != "" {
		var stop func()
		if served, stop, err = benchSecondNode(ctx, quiet(), store, natsURL); err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	r, err := runLiveBench(ctx, quiet(), store, served, liveConfig{Clients: 5, Rate: 50, Duration: time.Second, Writers: 2, Layer: "gates", Drain: 5 * time.Second})
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
