// Package readings ingests sensor readings and runs the alert rules on
// them: thresholds with hysteresis and a minimum duration, and the
// sensor-offline rule. Alerts are features of layer alerts written through
// layers.Store (so they are in the change log, the tiles and the audit);
// every alert transition is recorded in alert_transitions in the same
// transaction as the alert's write.
package readings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hexward/hexward/layers"
)

// Reading is one measurement of a sensor (a feature id of layer sensors).
type Reading struct {
	SensorID int64
	TS       time.Time
	Value    float64
}

// Limits of a batch.
const (
	MaxBatch    = 5000
	MaxFuture   = 5 * time.Minute // clock skew allowed to a device
	SystemActor = "system:rules"
)

// Earliest is the oldest timestamp accepted.
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrForeignSensor is wrapped by an Error for a sensor of another device.
var ErrForeignSensor = errors.New("sensor belongs to another device")

// Error is a bad reading, named by its index in the batch (-1: the batch).
// Nothing of a batch with a bad reading is stored.
type Error struct {
	Index   int
	Sensor  int64
	Problem string
	Err     error // ErrForeignSensor, or nil
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return "readings: " + e.Problem
	}
	return fmt.Sprintf("reading %d (sensor %d): %s", e.Index, e.Sensor, e.Problem)
}

func (e *Error) Unwrap() error { return e.Err }

// Ingester stores readings and runs the rules.
type Ingester struct {
	store *layers.Store
	log   *slog.Logger
	now   func() time.Time
	// sem bounds the rule evaluations that hold a connection while they
	// write alerts on others, so they never take the whole pool.
	sem chan struct{}
	esc atomic.Pointer[Escalation] // nil: DefaultEscalation
}

// New returns an ingester writing through store. log may be nil.
func New(store *layers.Store, log *slog.Logger) *Ingester {
	if log == nil {
		log = slog.Default()
	}
	return &Ingester{store: store, log: log, now: time.Now, sem: make(chan struct{}, max(1, store.Pool().Config().MaxConns/2))}
}

// Ingest stores a batch of readings from device (its account name) in
// one transaction and then runs the rules on the sensors it touched. Every
// sensor must exist and report through device. Readings already stored
// (same sensor and timestamp) are duplicates and are skipped; late and
// out-of-order readings are stored. When Ingest returns without error the
// readings are committed. An error from the rules after the commit is
// logged, not returned: the next readings of the sensor evaluate what was
// missed.
func (in *Ingester) Ingest(ctx context.Context, device string, rs []Reading) (accepted, duplicates int, err error) {
	if len(rs) == 0 {
		return 0, 0, &Error{Index: -1, Problem: "no readings"}
	}
	if len(rs) > MaxBatch {
		return 0, 0, &Error{Index: -1, Problem: fmt.Sprintf("%d readings in one batch, at most %d", len(rs), MaxBatch)}
	}
	now := in.now()
	latest := now.Add(MaxFuture)
	ids := make([]int64, 0, len(rs))
	for i, r := range rs {
		switch {
		case r.SensorID <= 0:
			return 0, 0, &Error{Index: i, Sensor: r.SensorID, Problem: "sensor ids are positive integers"}
		case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
			return 0, 0, &Error{Index: i, Sensor: r.SensorID, Problem: fmt.Sprintf("value %v is not a finite number", r.Value)}
		case r.TS.Before(Earliest):
			return 0, 0, &Error{Index: i, Sensor: r.SensorID, Problem: fmt.Sprintf("timestamp %s is before %d", r.TS.Format(time.RFC3339), Earliest.Year())}
		case r.TS.After(latest):
			return 0, 0, &Error{Index: i, Sensor: r.SensorID, Problem: fmt.Sprintf("timestamp %s is %s in the future (at most %s)",
				r.TS.Format(time.RFC3339), r.TS.Sub(now).Round(time.Second), MaxFuture)}
		}
		ids = append(ids, r.SensorID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	whole := false // stored by the copy: no reading was a duplicate
	err = pgx.BeginFunc(ctx, in.store.Pool(), func(tx pgx.Tx) error {
		// One round trip: the sensors' owners, and the savepoint that the
		// copy below may roll back to.
		owner := make(map[int64]string, len(ids))
		b := &pgx.Batch{}
		b.Queue(`SELECT id, COALESCE(props->>'device', '') FROM features WHERE layer = 'sensors' AND id = ANY($1)`, ids)
		b.Queue(`SAVEPOINT copy_in`)
		br := tx.SendBatch(ctx, b)
		rows, err := br.Query()
		if err == nil {
			var id int64
			var dev string
			_, err = pgx.ForEachRow(rows, []any{&id, &dev}, func() error {
				owner[id] = dev
				return nil
			})
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		for i, r := range rs {
			dev, ok := owner[r.SensorID]
			switch {
			case !ok:
				return &Error{Index: i, Sensor: r.SensorID, Problem: "no such sensor"}
			case dev != device:
				return &Error{Index: i, Sensor: r.SensorID, Problem: fmt.Sprintf("not a sensor of device %q", device), Err: ErrForeignSensor}
			}
		}
		// Fast path: COPY straight into the table. A batch holding a
		// reading already stored (a device's retry) fails on the primary
		// key and is inserted again skipping duplicates.
		n, err := copyIn(ctx, tx, rs, now)
		if err == nil {
			accepted, whole = int(n), true
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			return fmt.Errorf("storing readings: %w", err)
		}
		sensors, tsv, vals := make([]int64, len(rs)), make([]time.Time, len(rs)), make([]float64, len(rs))
		for i, r := range rs {
			sensors[i], tsv[i], vals[i] = r.SensorID, r.TS, r.Value
		}
		tag, err := tx.Exec(ctx, `INSERT INTO readings (sensor_id, ts, value, received)
			SELECT s, t, v, $4 FROM unnest($1::bigint[], $2::timestamptz[], $3::float8[]) AS u(s, t, v)
			ON CONFLICT DO NOTHING`, sensors, tsv, vals, now)
		if err != nil {
			return fmt.Errorf("storing readings: %w", err)
		}
		accepted = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	duplicates = len(rs) - accepted
	// The readings are committed: the rules run even if the caller goes.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var batch []Reading
	if whole {
		batch = rs
	}
	if err := in.evaluate(ectx, ids, now, batch); err != nil {
		in.log.Error("alert rules", "sensors", len(ids), "err", err)
	}
	return accepted, duplicates, nil
}

// copyIn copies rs into readings after the savepoint copy_in of tx, so
// that a failure leaves tx usable (the savepoint is left open: the
// transaction's commit keeps what it holds).
func copyIn(ctx context.Context, tx pgx.Tx, rs []Reading, received time.Time) (int64, error) {
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"sensor_id", "ts", "value", "received"},
		pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) { return []any{rs[i].SensorID, rs[i].TS, rs[i].Value, received}, nil }))
	if err != nil {
		if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT copy_in`); rerr != nil {
			return 0, fmt.Errorf("%v; rolling back the copy: %w", err, rerr)
		}
		return 0, err
	}
	return n, nil
}
