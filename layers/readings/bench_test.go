package readings

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The ingest figure: durable readings/s through Ingest (checked,
// idempotent, committed, rules evaluated) against a plain CopyFrom of the
// same rows into the same table in the same run. Run:
//
//	go test -run '^$' -bench 'Ingest|CopyFrom' -benchtime 40x ./layers/readings/
const (
	benchSensors = 100
	benchBatch   = MaxBatch
)

// benchRows returns batch i: benchBatch readings spread over the sensors,
// with timestamps no other batch uses.
func benchRows(ids []int64, i int) []Reading {
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	rs := make([]Reading, benchBatch)
	per := benchBatch / len(ids)
	for j := range rs {
		s, k := j%len(ids), j/len(ids)
		rs[j] = Reading{SensorID: ids[s], TS: base.Add(time.Duration(i*per+k) * time.Second), Value: float64(j % 37)}
	}
	return rs
}

func benchSetup(b testing.TB) (*Ingester, []int64) {
	in := newIngester(b)
	ids := make([]int64, benchSensors)
	for i := range ids {
		ids[i] = sensor(b, in, map[string]any{"kind": "electricity", "warn_above": 30, "alarm_above": 40, "hysteresis": 2, "min_duration_s": 60, "status": "normal"}).ID
	}
	return in, ids
}

func BenchmarkIngest(b *testing.B) {
	in, ids := benchSetup(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		rs := benchRows(ids, i)
		b.StartTimer()
		a, _, err := in.Ingest(ctx, "dev-1", rs)
		if err != nil || a != len(rs) {
			b.Fatalf("accepted %d: %v", a, err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkCopyFrom(b *testing.B) {
	in, ids := benchSetup(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		rs := benchRows(ids, i)
		b.StartTimer()
		n, err := in.store.Pool().CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"sensor_id", "ts", "value"},
			pgx.CopyFromSlice(len(rs), func(j int) ([]any, error) { return []any{rs[j].SensorID, rs[j].TS, rs[j].Value}, nil }))
		if err != nil || int(n) != len(rs) {
			b.Fatalf("copied %d: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "readings/s")
}
