package readings

import (
	"testing"
	"time"
)

// Readings stored but not yet evaluated (an evaluation that failed, or
// another node's batch) are evaluated with the next batch, in time order
// with it; a sub-microsecond timestamp is evaluated as stored.
func TestEvaluateSeesReadingsStoredBeforeTheBatch(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"warn_above": 30, "alarm_above": 1000, "hysteresis": 2, "min_duration_s": 60, "status": "normal"})
	send(t, in, s.ID, [2]float64{0, 10})
	for _, sec := range []int{10, 20, 30} {
		if _, err := in.store.Pool().Exec(ctx, `INSERT INTO readings (sensor_id, ts, value) VALUES ($1, $2, 35)`, s.ID, at(sec)); err != nil {
			t.Fatal(err)
		}
	}
	// Above since second 10: held 60 s at second 70, not by the batch alone.
	a, _, err := in.Ingest(ctx, "dev-1", []Reading{{SensorID: s.ID, TS: at(70).Add(300 * time.Nanosecond), Value: 36}})
	if err != nil || a != 1 {
		t.Fatalf("accepted %d: %v", a, err)
	}
	if got := status(t, in, s.ID); got != "warning" {
		t.Fatalf("status %q, want warning", got)
	}
	var last time.Time
	if err := in.store.Pool().QueryRow(ctx, `SELECT last_ts FROM sensor_state WHERE sensor_id = $1`, s.ID).Scan(&last); err != nil || !last.Equal(at(70)) {
		t.Fatalf("last_ts %s %v, want %s", last, err, at(70))
	}
}
