package readings

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hexward/hexward/layers"
)

// CheckOffline raises the offline alert of every sensor with
// offline_after_s set that has not been heard from for that long at now,
// and sets its status to offline. A sensor never heard from counts from
// the first check that saw it. The alert is cleared when readings resume.
// It returns the number of sensors found offline.
func (in *Ingester) CheckOffline(ctx context.Context, now time.Time) (int, error) {
	select {
	case in.sem <- struct{}{}:
		defer func() { <-in.sem }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	n := 0
	err := pgx.BeginFunc(ctx, in.store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sensor_state (sensor_id, last_seen)
			SELECT id, $1 FROM features WHERE layer = 'sensors' AND props ? 'offline_after_s'
			ON CONFLICT DO NOTHING`, now); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+"s."+strings.ReplaceAll(stateCols, ", ", ", s.")+` FROM sensor_state s
			JOIN features f ON f.layer = 'sensors' AND f.id = s.sensor_id
			WHERE NOT s.offline AND (f.props->>'offline_after_s')::float8 > 0
				AND COALESCE(s.last_seen, '-infinity') + make_interval(secs => (f.props->>'offline_after_s')::float8) < $1
			ORDER BY s.sensor_id FOR UPDATE OF s SKIP LOCKED`, now)
		if err != nil {
			return err
		}
		sts, err := scanStates(rows)
		if err != nil || len(sts) == 0 {
			return err
		}
		ids := make([]int64, len(sts))
		for i, st := range sts {
			ids[i] = st.id
		}
		sensors, err := in.store.Features(ctx, "sensors", ids)
		if err != nil {
			return err
		}
		byID := map[int64]layers.Feature{}
		for _, f := range sensors {
			byID[f.ID] = f
		}
		for _, st := range sts {
			f, ok := byID[st.id]
			if !ok {
				continue
			}
			if err := in.raiseOffline(ctx, f, st.lastSeen, now); err != nil {
				return err
			}
			if err := in.setStatus(ctx, f, "offline"); err != nil {
				return err
			}
			st.offline = true
			n++
		}
		return saveStates(ctx, tx, sts)
	})
	return n, err
}

func (in *Ingester) raiseOffline(ctx context.Context, sensor layers.Feature, lastSeen *time.Time, now time.Time) error {
	c := configOf(sensor)
	title := fmt.Sprintf("%s 离线 offline", kindTitle[c.kind])
	if lastSeen != nil {
		title += fmt.Sprintf(": silent for %s", now.Sub(*lastSeen).Round(time.Second))
	}
	if c.name != "" {
		title += " · " + c.name
	}
	return in.updateAlert(systemCtx(ctx), sensor, CondOffline, true, func(p map[string]any, isNew bool) []string {
		var evs []string
		switch {
		case isNew:
			p["state"], p["severity"], p["raised_at"] = "raised", offlineSeverity(c.kind), now.UTC().Format(time.RFC3339Nano)
			evs = []string{"raised"}
		case p["cleared"] == true:
			evs = []string{"retriggered"}
		default:
			return nil
		}
		p["title"], p["cleared"] = title, false
		return evs
	})
}

// RunOffline checks for offline sensors every interval until ctx ends;
// every <= 0 disables it.
func (in *Ingester) RunOffline(ctx context.Context, every time.Duration) {
	in.periodically(ctx, every, in.CheckOffline, "offline rule", "sensors offline", "sensors")
}

// periodically runs check every interval until ctx ends (every <= 0:
// never), logging its errors and, when it did something, how much.
func (in *Ingester) periodically(ctx context.Context, every time.Duration, check func(context.Context, time.Time) (int, error), what, did, unit string) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := check(ctx, in.now())
			switch {
			case err != nil && ctx.Err() == nil:
				in.log.Error(what, "err", err)
			case n > 0:
				in.log.Info(did, unit, n)
			}
		}
	}
}
