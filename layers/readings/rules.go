package readings

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hexward/hexward/layers"
)

// level is a sensor's confirmed condition.
type level int16

const (
	normal level = iota
	warning
	alarm
)

// status is the sensor's status property for a level.
func (l level) status() string { return [...]string{"normal", "warning", "alarm"}[l] }

// Conditions of the alerts the rules raise; with the source "sensor:<id>"
// they name an alert: at most one is open per source and condition.
const (
	CondThreshold = "threshold"
	CondOffline   = "offline"
)

// config is what the rules read from a sensor's properties.
type config struct {
	kind, unit, name string
	warn, alarm      *float64
	hyst             float64
	minDur           time.Duration
}

func num(p map[string]any, k string) *float64 {
	if v, ok := p[k].(float64); ok {
		return &v
	}
	return nil
}

func str(p map[string]any, k string) string {
	s, _ := p[k].(string)
	return s
}

func configOf(f layers.Feature) config {
	c := config{kind: str(f.Props, "kind"), unit: str(f.Props, "unit"), name: str(f.Props, "name"),
		warn: num(f.Props, "warn_above"), alarm: num(f.Props, "alarm_above")}
	if h := num(f.Props, "hysteresis"); h != nil {
		c.hyst = *h
	}
	if d := num(f.Props, "min_duration_s"); d != nil {
		c.minDur = time.Duration(*d * float64(time.Second))
	}
	return c
}

// safety kinds raise critical alarms; the others major ones.
func safety(kind string) bool { return kind == "gas" || kind == "smoke" || kind == "water_immersion" }

// severity of a threshold alert at level l of a sensor of kind.
func severity(kind string, l level) string {
	switch {
	case l == alarm && safety(kind):
		return "critical"
	case l == alarm:
		return "major"
	case safety(kind):
		return "minor"
	}
	return "warning"
}

func offlineSeverity(kind string) string {
	if safety(kind) {
		return "major"
	}
	return "minor"
}

var rank = map[string]int{"warning": 1, "minor": 2, "major": 3, "critical": 4}

// state is a sensor's row of sensor_state.
type state struct {
	id                    int64
	level                 level
	warnSince, alarmSince *time.Time
	lastTS                *time.Time
	lastValue             *float64
	lastSeen              *time.Time
	offline               bool
}

// step applies one reading, in time order, to the state: a level is
// entered when the reading has stayed above its threshold for the minimum
// duration (by reading timestamps; a reading at or below the threshold
// restarts the count) and left only when the reading falls to the
// threshold minus the hysteresis or below.
func (c config) step(st *state, ts time.Time, v float64) {
	track := func(th *float64, since **time.Time) {
		switch {
		case th == nil || v <= *th:
			*since = nil
		case *since == nil:
			t := ts
			*since = &t
		}
	}
	track(c.alarm, &st.alarmSince)
	track(c.warn, &st.warnSince)
	l := st.level
	if l == alarm && !(c.alarm != nil && v > *c.alarm-c.hyst) {
		l = warning
	}
	if l == warning && !(c.warn != nil && v > *c.warn-c.hyst) {
		l = normal
	}
	held := func(since *time.Time) bool { return since != nil && ts.Sub(*since) >= c.minDur }
	switch {
	case l < alarm && held(st.alarmSince):
		l = alarm
	case l < warning && held(st.warnSince):
		l = warning
	}
	st.level = l
	t, val := ts, v
	st.lastTS, st.lastValue = &t, &val
}

// outcome is what a sensor's new readings did: the highest level entered
// (with the reading that entered it) and the level at the end.
type outcome struct {
	rose      bool
	peak      level
	peakValue float64
	peakTS    time.Time
	final     level
}

func (c config) run(st *state, rs []Reading) outcome {
	var o outcome
	for _, r := range rs {
		before := st.level
		c.step(st, r.TS, r.Value)
		if st.level > before && (!o.rose || st.level > o.peak) {
			o.rose, o.peak, o.peakValue, o.peakTS = true, st.level, r.Value, r.TS
		}
	}
	o.final = st.level
	return o
}

const stateCols = `sensor_id, level, warn_since, alarm_since, last_ts, last_value, last_seen, offline`

func scanStates(rows pgx.Rows) ([]*state, error) {
	defer rows.Close()
	var out []*state
	for rows.Next() {
		st := &state{}
		if err := rows.Scan(&st.id, &st.level, &st.warnSince, &st.alarmSince, &st.lastTS, &st.lastValue, &st.lastSeen, &st.offline); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func saveStates(ctx context.Context, tx pgx.Tx, sts []*state) error {
	n := len(sts)
	ids, lv, ws, as, lt := make([]int64, n), make([]int16, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	vals, seen, off := make([]*float64, n), make([]*time.Time, n), make([]bool, n)
	for i, st := range sts {
		ids[i], lv[i], ws[i], as[i], lt[i], vals[i], seen[i], off[i] = st.id, int16(st.level), st.warnSince, st.alarmSince, st.lastTS, st.lastValue, st.lastSeen, st.offline
	}
	_, err := tx.Exec(ctx, `UPDATE sensor_state s SET level = u.l, warn_since = u.w, alarm_since = u.a, last_ts = u.t,
			last_value = u.v, last_seen = u.seen, offline = u.off
		FROM unnest($1::bigint[], $2::int2[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::float8[], $7::timestamptz[], $8::bool[])
			AS u(id, l, w, a, t, v, seen, off)
		WHERE s.sensor_id = u.id`, ids, lv, ws, as, lt, vals, seen, off)
	return err
}

// freshSQL reads, per sensor of $1, the readings after the last one it
// evaluated, in time order: a range scan of the primary key after last_ts.
const freshSQL = `SELECT s.sensor_id, r.ts, r.value FROM sensor_state s
	CROSS JOIN LATERAL (SELECT ts, value FROM readings r WHERE r.sensor_id = s.sensor_id
		AND r.ts > COALESCE(s.last_ts, '-infinity') ORDER BY ts) r
	WHERE s.sensor_id = ANY($1) ORDER BY s.sensor_id, r.ts`

// evaluate runs the rules on the readings of sensors ids newer than the
// last one each sensor evaluated, in time order, holding the sensors'
// state rows locked (so nodes and requests evaluate a sensor one at a
// time). A failure rolls the state back: the readings are evaluated again
// next time. batch, when not nil, is a batch just stored whole (no
// duplicates): a sensor whose stored readings after its last evaluated
// one are as many as the batch has is evaluated on the batch's, without
// reading them back.
func (in *Ingester) evaluate(ctx context.Context, ids []int64, seen time.Time, batch []Reading) error {
	select {
	case in.sem <- struct{}{}:
		defer func() { <-in.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return pgx.BeginFunc(ctx, in.store.Pool(), func(tx pgx.Tx) error {
		// One round trip: the state rows made and locked, then the
		// readings to evaluate (or, with a batch, how many there are).
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO sensor_state (sensor_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING`, ids)
		b.Queue(`SELECT `+stateCols+` FROM sensor_state WHERE sensor_id = ANY($1) ORDER BY sensor_id FOR UPDATE`, ids)
		if batch == nil {
			b.Queue(freshSQL, ids)
		} else {
			b.Queue(`SELECT s.sensor_id, (SELECT count(*) FROM readings r WHERE r.sensor_id = s.sensor_id
				AND r.ts > COALESCE(s.last_ts, '-infinity')) FROM sensor_state s WHERE s.sensor_id = ANY($1)`, ids)
		}
		fresh := map[int64][]Reading{}
		stored := map[int64]int64{}
		br := tx.SendBatch(ctx, b)
		sts, err := func() ([]*state, error) {
			if _, err := br.Exec(); err != nil {
				return nil, err
			}
			rows, err := br.Query()
			if err != nil {
				return nil, err
			}
			sts, err := scanStates(rows)
			if err != nil {
				return nil, err
			}
			if rows, err = br.Query(); err != nil {
				return nil, err
			}
			if batch != nil {
				var id, n int64
				_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
					stored[id] = n
					return nil
				})
				return sts, err
			}
			var r Reading
			_, err = pgx.ForEachRow(rows, []any{&r.SensorID, &r.TS, &r.Value}, func() error {
				fresh[r.SensorID] = append(fresh[r.SensorID], r)
				return nil
			})
			return sts, err
		}()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if batch != nil {
			if fresh, err = freshOf(ctx, tx, sts, stored, batch); err != nil {
				return err
			}
		}
		sensors, err := in.store.Features(ctx, "sensors", ids)
		if err != nil {
			return err
		}
		byID := make(map[int64]layers.Feature, len(sensors))
		for _, f := range sensors {
			byID[f.ID] = f
		}
		for _, st := range sts {
			f, ok := byID[st.id]
			if !ok {
				continue // deleted since
			}
			st.lastSeen = &seen
			wasOffline := st.offline
			st.offline = false
			prev := st.level
			rs := fresh[st.id]
			if len(rs) == 0 && !wasOffline {
				continue
			}
			c := configOf(f)
			o := c.run(st, rs)
			if wasOffline {
				if err := in.clearAlert(ctx, f, CondOffline); err != nil {
					return err
				}
			}
			switch {
			case o.rose:
				if err := in.raiseThreshold(ctx, f, c, o); err != nil {
					return err
				}
			case o.final == normal && prev > normal:
				if err := in.clearAlert(ctx, f, CondThreshold); err != nil {
					return err
				}
			}
			if err := in.setStatus(ctx, f, st.level.status()); err != nil {
				return err
			}
		}
		return saveStates(ctx, tx, sts)
	})
}

func source(sensorID int64) string { return fmt.Sprintf("sensor:%d", sensorID) }

var kindTitle = map[string]string{"electricity": "电气 electricity", "gas": "燃气 gas", "water_immersion": "水浸 water immersion",
	"smoke": "烟感 smoke", "door": "门磁 door"}

func (in *Ingester) raiseThreshold(ctx context.Context, sensor layers.Feature, c config, o outcome) error {
	sev := severity(c.kind, o.peak)
	word := map[level]string{warning: "预警 warning", alarm: "报警 alarm"}[o.peak]
	title := fmt.Sprintf("%s %s: %g %s", kindTitle[c.kind], word, o.peakValue, c.unit)
	if c.name != "" {
		title += " · " + c.name
	}
	return in.updateAlert(systemCtx(ctx), sensor, CondThreshold, true, func(p map[string]any, isNew bool) []string {
		var evs []string
		switch {
		case isNew:
			p["state"], p["raised_at"] = "raised", o.peakTS.UTC().Format(time.RFC3339Nano)
			evs = append(evs, "raised")
		case p["cleared"] == true:
			evs = append(evs, "retriggered")
		case rank[sev] > rank[str(p, "severity")]:
			evs = append(evs, "escalated")
		default:
			return nil // already open at this severity or above
		}
		if rank[sev] > rank[str(p, "severity")] {
			p["severity"] = sev
		}
		p["title"], p["value"], p["cleared"] = title, o.peakValue, false
		if o.final == normal {
			p["cleared"] = true
			evs = append(evs, "cleared")
		}
		return evs
	})
}

// clearAlert marks the open alert of the sensor's condition as cleared by
// its source; it stays open until an operator resolves it.
func (in *Ingester) clearAlert(ctx context.Context, sensor layers.Feature, cond string) error {
	return in.updateAlert(systemCtx(ctx), sensor, cond, false, func(p map[string]any, _ bool) []string {
		if p["cleared"] == true {
			return nil
		}
		p["cleared"] = true
		return []string{"cleared"}
	})
}

func (in *Ingester) setStatus(ctx context.Context, sensor layers.Feature, status string) error {
	if str(sensor.Props, "status") == status {
		return nil
	}
	return in.casWrite(systemCtx(ctx), sensor.Layer, sensor.ID, func(f *layers.Feature) (bool, []string) {
		if str(f.Props, "status") == status {
			return false, nil
		}
		f.Props["status"] = status
		return true, nil
	})
}

func systemCtx(ctx context.Context) context.Context {
	return layers.WithActor(ctx, layers.Actor{User: SystemActor, Role: "system"})
}

// freshOf returns, per sensor, the readings to evaluate from batch (those
// after the sensor's last evaluated reading, as stored: to the
// microsecond, in time order) when the stored ones are as many; the
// readings of the other sensors (stored by others since) are read from tx.
func freshOf(ctx context.Context, tx pgx.Tx, sts []*state, stored map[int64]int64, batch []Reading) (map[int64][]Reading, error) {
	last := make(map[int64]*time.Time, len(sts))
	for _, st := range sts {
		last[st.id] = st.lastTS
	}
	fresh := map[int64][]Reading{}
	for _, r := range batch {
		lt, ok := last[r.SensorID]
		r.TS = r.TS.Truncate(time.Microsecond)
		if ok && (lt == nil || r.TS.After(*lt)) {
			fresh[r.SensorID] = append(fresh[r.SensorID], r)
		}
	}
	var again []int64
	for _, st := range sts {
		rs := fresh[st.id]
		if int64(len(rs)) != stored[st.id] {
			again = append(again, st.id)
			delete(fresh, st.id)
			continue
		}
		slices.SortFunc(rs, func(a, b Reading) int { return a.TS.Compare(b.TS) })
	}
	if len(again) == 0 {
		return fresh, nil
	}
	rows, err := tx.Query(ctx, freshSQL, again)
	if err != nil {
		return nil, err
	}
	var r Reading
	_, err = pgx.ForEachRow(rows, []any{&r.SensorID, &r.TS, &r.Value}, func() error {
		fresh[r.SensorID] = append(fresh[r.SensorID], r)
		return nil
	})
	return fresh, err
}
