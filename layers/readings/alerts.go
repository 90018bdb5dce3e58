package readings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// errStale: the feature changed between reading and writing it.
var errStale = errors.New("feature changed concurrently")

// ErrInvalidTransition is returned for an action the alert's state does
// not allow (acknowledging a resolved alert …).
var ErrInvalidTransition = errors.New("invalid alert transition")

// InputError is a missing or bad argument of an action.
type InputError struct{ Problem string }

func (e *InputError) Error() string { return e.Problem }

const casAttempts = 8

// write stores f (created when isNew, else replaced provided its
// properties are still orig) and records events as transitions of an
// alert, in the same transaction, by the context's actor.
func (in *Ingester) write(ctx context.Context, f layers.Feature, isNew bool, orig map[string]any, events []string, note string) (layers.Feature, error) {
	actor, _ := layers.ActorFrom(ctx)
	hook := func(ctx context.Context, tx pgx.Tx, op layers.Op, w *layers.Feature, before json.RawMessage) error {
		if !isNew {
			var b struct {
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(before, &b); err != nil {
				return err
			}
			if !reflect.DeepEqual(b.Properties, orig) {
				return errStale
			}
		}
		if w.Layer != "alerts" {
			return nil
		}
		for _, ev := range events {
			var n *string
			if note != "" {
				n = &note
			}
			if _, err := tx.Exec(ctx, `INSERT INTO alert_transitions (alert_id, event, state, actor, note) VALUES ($1, $2, $3, $4, $5)`,
				w.ID, ev, str(w.Props, "state"), actor.User, n); err != nil {
				return err
			}
		}
		return nil
	}
	ctx = layers.WithTxHook(ctx, hook)
	if isNew {
		return in.store.Create(ctx, f)
	}
	return in.store.Replace(ctx, f)
}

// retry reports whether a write lost a race and should be tried again on
// fresh data: a concurrent change, or a concurrent raise of the same open
// alert.
func retry(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, errStale) || (errors.As(err, &pe) && pe.Code == "23505")
}

// casWrite re-reads a feature, lets mutate change it and writes it back
// unless somebody changed it in between, in which case it starts again.
func (in *Ingester) casWrite(ctx context.Context, layer string, id int64, mutate func(f *layers.Feature) (bool, []string)) error {
	for range casAttempts {
		f, err := in.store.Get(ctx, layer, id)
		if err != nil {
			return err
		}
		orig := maps.Clone(f.Props)
		ok, evs := mutate(&f)
		if !ok {
			return nil
		}
		_, err = in.write(ctx, f, false, orig, evs, "")
		if retry(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("%s %d: still changing after %d attempts", layer, id, casAttempts)
}

// openAlert returns the open (not resolved) alert of source and condition.
func (in *Ingester) openAlert(ctx context.Context, src, cond string) (layers.Feature, bool, error) {
	var id int64
	err := in.store.Pool().QueryRow(ctx, `SELECT id FROM features WHERE layer = 'alerts'
		AND props->>'source' = $1 AND props->>'condition' = $2 AND props->>'state' <> 'resolved'`, src, cond).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return layers.Feature{}, false, nil
	}
	if err != nil {
		return layers.Feature{}, false, err
	}
	f, err := in.store.Get(ctx, "alerts", id)
	if errors.Is(err, layers.ErrNotFound) {
		return layers.Feature{}, false, errStale
	}
	return f, err == nil, err
}

// updateAlert applies fn to the open alert of the sensor and condition, or
// to a new one at the sensor's position when there is none and create is
// set. fn returns the events it made (none: nothing to write).
func (in *Ingester) updateAlert(ctx context.Context, sensor layers.Feature, cond string, create bool, fn func(p map[string]any, isNew bool) []string) error {
	return in.updateAlertOf(ctx, source(sensor.ID), sensor.Geometry, cond, create, fn)
}

// updateAlertOf is updateAlert for any source, a new alert placed at at.
func (in *Ingester) updateAlertOf(ctx context.Context, src string, at orb.Geometry, cond string, create bool, fn func(p map[string]any, isNew bool) []string) error {
	for range casAttempts {
		f, found, err := in.openAlert(ctx, src, cond)
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return err
		}
		if !found {
			if !create {
				return nil
			}
			f = layers.Feature{Layer: "alerts", Geometry: at,
				Props: map[string]any{"source": src, "condition": cond, "cleared": false}}
		}
		orig := maps.Clone(f.Props)
		evs := fn(f.Props, !found)
		if len(evs) == 0 {
			return nil
		}
		_, err = in.write(ctx, f, !found, orig, evs, "")
		if retry(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("alert %s %s: still changing after %d attempts", src, cond, casAttempts)
}

// The actions an operator takes on an alert.
const (
	Acknowledge = "acknowledge"
	Dispatch    = "dispatch"
	Resolve     = "resolve"
)

// Transition applies an operator's action to alert id, as the context's
// actor: acknowledge a raised alert; dispatch an acknowledged (or
// re-dispatch a dispatched) one to arg, an officer or team; resolve an
// acknowledged or dispatched one with arg as the note. The transition is
// recorded with who and when in the alert's write transaction.
func (in *Ingester) Transition(ctx context.Context, id int64, action, arg string) (layers.Feature, error) {
	actor, _ := layers.ActorFrom(ctx)
	if actor.User == "" {
		return layers.Feature{}, errors.New("alert transition without an actor")
	}
	arg = strings.TrimSpace(arg)
	var from []string
	var to, event string
	switch action {
	case Acknowledge:
		from, to, event = []string{"raised"}, "acknowledged", "acknowledged"
	case Dispatch:
		if arg == "" {
			return layers.Feature{}, &InputError{`dispatch needs "to": the officer or team sent`}
		}
		if utf8.RuneCountInString(arg) > 128 {
			return layers.Feature{}, &InputError{`"to" is longer than 128 characters`}
		}
		from, to, event = []string{"acknowledged", "dispatched"}, "dispatched", "dispatched"
	case Resolve:
		if arg == "" {
			return layers.Feature{}, &InputError{`resolve needs a "note" saying how the alert was handled`}
		}
		from, to, event = []string{"acknowledged", "dispatched"}, "resolved", "resolved"
	default:
		return layers.Feature{}, &InputError{fmt.Sprintf("unknown action %q", action)}
	}
	for range casAttempts {
		f, err := in.store.Get(ctx, "alerts", id)
		if err != nil {
			return layers.Feature{}, err
		}
		cur := str(f.Props, "state")
		ok := false
		for _, s := range from {
			ok = ok || s == cur
		}
		if !ok {
			return layers.Feature{}, fmt.Errorf("%w: cannot %s an alert that is %s (only one that is %s)", ErrInvalidTransition, action, cur, strings.Join(from, " or "))
		}
		orig := maps.Clone(f.Props)
		f.Props["state"] = to
		switch action {
		case Acknowledge:
			f.Props["acknowledged_by"] = actor.User
		case Dispatch:
			f.Props["dispatched_to"] = arg
		case Resolve:
			f.Props["note"] = arg
		}
		f, err = in.write(ctx, f, false, orig, []string{event}, arg)
		if retry(err) {
			continue
		}
		return f, err
	}
	return layers.Feature{}, fmt.Errorf("alert %d: still changing after %d attempts", id, casAttempts)
}

// Record is one recorded transition of an alert.
type Record struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"`
	State string    `json:"state"`
	Actor string    `json:"actor"`
	Note  string    `json:"note,omitempty"`
}

// History returns the transitions of alert id, oldest first.
func (in *Ingester) History(ctx context.Context, id int64) ([]Record, error) {
	rows, err := in.store.Pool().Query(ctx, `SELECT at, event, state, actor, COALESCE(note, '') FROM alert_transitions
		WHERE alert_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var rec Record
		err := r.Scan(&rec.At, &rec.Event, &rec.State, &rec.Actor, &rec.Note)
		return rec, err
	})
}
