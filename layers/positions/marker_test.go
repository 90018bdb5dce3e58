package positions_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/positions"
)

// Batches of one officer stored at the same time (several connections,
// as several nodes would) leave the marker at the newest fix of all.
func TestConcurrentBatchesLeaveTheMarkerAtTheNewest(t *testing.T) {
	ctx := context.Background()
	// Not newEnv: its subscriber is not safe for concurrent writes.
	store := layers.NewStore(pgtest.New(t), layers.Governance())
	svc := positions.New(store)
	off, err := store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55},
		Props: map[string]any{"name": "Alice", "device": "phone-a"}})
	if err != nil {
		t.Fatal(err)
	}
	const senders, batches = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, senders*batches)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range batches {
				// Sender g's batch k: three fixes a second apart at minute
				// k*senders+g, the senders' batches interleaved in time.
				if _, err := svc.Append(ctx, "phone-a", walk(t0.Add(time.Duration(k*senders+g)*time.Minute), 3, time.Second)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	newest := walk(t0.Add(time.Duration(senders*batches-1)*time.Minute), 3, time.Second)[2]
	m, err := store.Get(ctx, "officers", off.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Props["fix_time"] != newest.Time.Format(time.RFC3339Nano) || m.Geometry != (orb.Point{newest.Lon, newest.Lat}) {
		t.Fatalf("marker at %v %v, want the newest fix %+v", m.Geometry, m.Props["fix_time"], newest)
	}
	var n int
	if err := store.Pool().QueryRow(ctx, `SELECT count(*) FROM positions WHERE officer_id = $1`, off.ID).Scan(&n); err != nil || n != senders*batches*3 {
		t.Fatalf("%d positions stored, want %d (%v)", n, senders*batches*3, err)
	}
}
