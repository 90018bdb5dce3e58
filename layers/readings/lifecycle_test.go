package readings

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hexward/hexward/layers"
)

func TestOfflineSensorRaisesItsAlert(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"offline_after_s": 60, "kind": "smoke"})
	silent := sensor(t, in, map[string]any{"offline_after_s": 60}) // never reports
	plain := sensor(t, in, nil)                                    // no offline rule
	now := time.Now()
	if n, err := in.CheckOffline(ctx, now); err != nil || n != 0 {
		t.Fatalf("first check: %d %v", n, err)
	}
	if _, _, err := in.Ingest(ctx, "dev-1", []Reading{{SensorID: s.ID, TS: now, Value: 0}, {SensorID: plain.ID, TS: now, Value: 0}}); err != nil {
		t.Fatal(err)
	}
	if n, err := in.CheckOffline(ctx, now.Add(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("30 s later: %d %v", n, err)
	}
	if n, err := in.CheckOffline(ctx, now.Add(2*time.Minute)); err != nil || n != 2 {
		t.Fatalf("2 min later: %d offline, %v; want 2", n, err)
	}
	for _, id := range []int64{s.ID, silent.ID} {
		a := one(t, alerts(t, in, id, CondOffline))
		if a.props["state"] != "raised" || a.props["cleared"] != false || !strings.Contains(str(a.props, "title"), "offline") {
			t.Fatalf("offline alert %+v", a.props)
		}
		if got := status(t, in, id); got != "offline" {
			t.Fatalf("status %q", got)
		}
	}
	if a := one(t, alerts(t, in, s.ID, CondOffline)); a.severity != "major" {
		t.Fatalf("severity %s", a.severity)
	}
	if len(alerts(t, in, plain.ID, CondOffline)) != 0 {
		t.Fatal("a sensor without offline_after_s went offline")
	}
	// Still offline: no second alert, no new event.
	if n, err := in.CheckOffline(ctx, now.Add(5*time.Minute)); err != nil || n != 0 {
		t.Fatalf("again: %d %v", n, err)
	}
	// Readings resume: cleared, still open; status back to normal.
	if _, _, err := in.Ingest(ctx, "dev-1", []Reading{{SensorID: s.ID, TS: now.Add(time.Minute), Value: 0}}); err != nil {
		t.Fatal(err)
	}
	a := one(t, alerts(t, in, s.ID, CondOffline))
	if a.props["cleared"] != true || a.props["state"] != "raised" || strings.Join(a.events, ",") != "raised,cleared" {
		t.Fatalf("after resuming: %+v %v", a.props, a.events)
	}
	if got := status(t, in, s.ID); got != "normal" {
		t.Fatalf("status %q", got)
	}
}

func TestLifecycle(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100})
	send(t, in, s.ID, [2]float64{0, 150}, [2]float64{10, 50}) // raised and cleared before anyone saw it
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	op := layers.WithActor(ctx, layers.Actor{User: "op-1", Role: "operator"})
	if _, err := in.Transition(op, id, Resolve, "done"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("resolve a raised alert: %v", err)
	}
	if _, err := in.Transition(op, id, Dispatch, "巡查员 李"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("dispatch a raised alert: %v", err)
	}
	f, err := in.Transition(op, id, Acknowledge, "")
	if err != nil || f.Props["state"] != "acknowledged" || f.Props["acknowledged_by"] != "op-1" {
		t.Fatalf("acknowledge: %v %v", f.Props, err)
	}
	if _, err := in.Transition(op, id, Acknowledge, ""); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("acknowledge twice: %v", err)
	}
	var ie *InputError
	if _, err := in.Transition(op, id, Dispatch, " "); !errors.As(err, &ie) {
		t.Fatalf("dispatch to nobody: %v", err)
	}
	if f, err = in.Transition(op, id, Dispatch, "巡查员 李"); err != nil || f.Props["dispatched_to"] != "巡查员 李" {
		t.Fatalf("dispatch: %v %v", f.Props, err)
	}
	if _, err := in.Transition(op, id, Resolve, ""); !errors.As(err, &ie) {
		t.Fatalf("resolve without a note: %v", err)
	}
	if f, err = in.Transition(op, id, Resolve, "valve closed"); err != nil || f.Props["state"] != "resolved" || f.Props["note"] != "valve closed" {
		t.Fatalf("resolve: %v %v", f.Props, err)
	}
	if _, err := in.Transition(op, id, Acknowledge, ""); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("acknowledge a resolved alert: %v", err)
	}
	h, err := in.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h {
		got = append(got, r.Event+"/"+r.State+"/"+r.Actor+"/"+r.Note)
		if r.At.IsZero() {
			t.Fatal("transition without a time")
		}
	}
	want := "raised/raised/system:rules/,cleared/raised/system:rules/,acknowledged/acknowledged/op-1/,dispatched/dispatched/op-1/巡查员 李,resolved/resolved/op-1/valve closed"
	if strings.Join(got, ",") != want {
		t.Fatalf("history\n %s\nwant\n %s", strings.Join(got, ","), want)
	}
	// Once resolved, the next excursion opens a new alert.
	send(t, in, s.ID, [2]float64{20, 150})
	as := alerts(t, in, s.ID, CondThreshold)
	if len(as) != 2 || as[1].props["state"] != "raised" {
		t.Fatalf("after resolving: %+v", as)
	}
	if _, err := in.Transition(op, 999999, Acknowledge, ""); !errors.Is(err, layers.ErrNotFound) {
		t.Fatalf("unknown alert: %v", err)
	}
}

// Concurrent acknowledgements: exactly one wins, the rest get a conflict.
func TestConcurrentAcknowledge(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 100})
	send(t, in, s.ID, [2]float64{0, 150})
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := in.Transition(layers.WithActor(ctx, layers.Actor{User: "op-" + itoa(int64(i))}), id, Acknowledge, "")
			errs <- err
		}()
	}
	ok := 0
	for range 4 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrInvalidTransition):
			t.Fatal(err)
		}
	}
	h, _ := in.History(ctx, id)
	if ok != 1 || len(h) != 2 {
		t.Fatalf("%d acknowledgements succeeded, %d transitions", ok, len(h))
	}
}
