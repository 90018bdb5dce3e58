package readings

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexward/hexward/layers"
)

// escalations returns the alert's severity, level and its transitions as
// "event:actor".
func escalations(t *testing.T, in *Ingester, id int64) (string, int, []string) {
	t.Helper()
	f, err := in.store.Get(ctx, "alerts", id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := in.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for _, r := range h {
		evs = append(evs, r.Event+":"+r.Actor)
		if r.Event == "escalated" && r.State != "raised" {
			t.Errorf("escalated into state %s", r.State)
		}
	}
	return str(f.Props, "severity"), escLevel(f.Props), evs
}

func check(t *testing.T, in *Ingester, now time.Time, want int) {
	t.Helper()
	n, err := in.CheckEscalation(ctx, now)
	if err != nil || n != want {
		t.Fatalf("CheckEscalation at t0+%s: %d, %v; want %d", now.Sub(t0), n, err, want)
	}
}

func TestEscalationStepsUpToTheCap(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"kind": "electricity", "warn_above": 10})
	send(t, in, s.ID, [2]float64{0, 20}) // a warning, raised at t0
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	mins := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

	check(t, in, mins(29.9), 0) // warning: 30 min
	check(t, in, mins(30), 1)
	check(t, in, mins(30), 0)
	sev, lvl, _ := escalations(t, in, id)
	f, _ := in.store.Get(ctx, "alerts", id)
	if sev != "minor" || lvl != 1 || f.Props["escalated_at"] != mins(30).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("after one escalation: %v", f.Props)
	}
	check(t, in, mins(44.9), 0) // minor: 15 min from the escalation
	check(t, in, mins(45), 1)
	check(t, in, mins(49.9), 0) // major: 5 min
	check(t, in, mins(50), 1)
	check(t, in, mins(500), 0) // at the cap of 3
	sev, lvl, evs := escalations(t, in, id)
	if sev != "critical" || lvl != 3 {
		t.Fatalf("at the cap: %s level %d", sev, lvl)
	}
	e := "escalated:" + EscalationActor
	if strings.Join(evs, ",") != strings.Join([]string{"raised:" + SystemActor, e, e, e}, ",") {
		t.Fatalf("history %v", evs)
	}
	h, _ := in.History(ctx, id)
	if !strings.Contains(h[3].Note, "major → critical") {
		t.Fatalf("note %q", h[3].Note)
	}
}

func TestCriticalStaysCriticalButCounts(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"kind": "gas", "alarm_above": 20})
	send(t, in, s.ID, [2]float64{0, 50})
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	if err := in.SetEscalation(Escalation{Delay: map[string]time.Duration{"critical": time.Minute, "major": time.Hour, "minor": time.Hour, "warning": time.Hour}, MaxLevel: 2}); err != nil {
		t.Fatal(err)
	}
	check(t, in, t0.Add(time.Minute), 1)
	check(t, in, t0.Add(2*time.Minute), 1)
	check(t, in, t0.Add(time.Hour), 0)
	if sev, lvl, _ := escalations(t, in, id); sev != "critical" || lvl != 2 {
		t.Fatalf("%s level %d", sev, lvl)
	}
}

func TestAcknowledgedAndClearedAlertsNeverEscalate(t *testing.T) {
	in := newIngester(t)
	acked := sensor(t, in, map[string]any{"alarm_above": 20})
	cleared := sensor(t, in, map[string]any{"alarm_above": 20})
	open := sensor(t, in, map[string]any{"alarm_above": 20})
	send(t, in, acked.ID, [2]float64{0, 50})
	send(t, in, cleared.ID, [2]float64{0, 50}, [2]float64{1, 0})
	send(t, in, open.ID, [2]float64{0, 50})
	oid := one(t, alerts(t, in, open.ID, CondThreshold)).id
	op := layers.WithActor(ctx, layers.Actor{User: "op-1", Role: "operator"})
	if _, err := in.Transition(op, one(t, alerts(t, in, acked.ID, CondThreshold)).id, Acknowledge, ""); err != nil {
		t.Fatal(err)
	}
	check(t, in, t0.Add(24*time.Hour), 1) // only the open one
	for _, id := range []int64{acked.ID, cleared.ID} {
		if a := one(t, alerts(t, in, id, CondThreshold)); a.severity != "critical" || a.props["escalation_level"] != nil {
			t.Fatalf("sensor %d: %v", id, a.props)
		}
	}
	// Acknowledging stops it escalating further.
	if _, err := in.Transition(op, oid, Acknowledge, ""); err != nil {
		t.Fatal(err)
	}
	check(t, in, t0.Add(48*time.Hour), 0)
	if _, lvl, _ := escalations(t, in, oid); lvl != 1 {
		t.Fatalf("level %d", lvl)
	}
}

func TestConcurrentChecksEscalateOnce(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 20})
	send(t, in, s.ID, [2]float64{0, 50})
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	other := New(in.store, nil) // a second node
	var wg sync.WaitGroup
	var total, mu = 0, sync.Mutex{}
	for _, x := range []*Ingester{in, other, in, other} {
		wg.Go(func() {
			n, err := x.CheckEscalation(ctx, t0.Add(3*time.Minute))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if _, lvl, evs := escalations(t, in, id); total != 1 || lvl != 1 || len(evs) != 2 {
		t.Fatalf("%d escalations, level %d, history %v", total, lvl, evs)
	}
}

func TestRunEscalationUsesTheClock(t *testing.T) {
	in := newIngester(t)
	s := sensor(t, in, map[string]any{"alarm_above": 20})
	send(t, in, s.ID, [2]float64{0, 50})
	id := one(t, alerts(t, in, s.ID, CondThreshold)).id
	in.now = func() time.Time { return t0.Add(time.Minute) } // before the delay
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { in.RunEscalation(c, 5*time.Millisecond); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if _, lvl, _ := escalations(t, in, id); lvl != 0 {
		t.Fatalf("escalated before its delay: level %d", lvl)
	}
	cancel()
	<-done
	in.now = func() time.Time { return t0.Add(3 * time.Minute) }
	c, cancel = context.WithCancel(ctx)
	defer cancel()
	go in.RunEscalation(c, 5*time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, lvl, _ := escalations(t, in, id); lvl == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not escalated by the loop")
		}
	}
}

func TestEscalationConfig(t *testing.T) {
	e, err := ParseEscalation("critical=1m, warning=1h,levels=5")
	if err != nil || e.Delay["critical"] != time.Minute || e.Delay["major"] != 5*time.Minute || e.Delay["warning"] != time.Hour || e.MaxLevel != 5 {
		t.Fatalf("%+v %v", e, err)
	}
	if d, err := ParseEscalation(DefaultEscalation().String()); err != nil || d.String() != DefaultEscalation().String() {
		t.Fatalf("round trip %v %v", d, err)
	}
	for _, bad := range []string{"critical", "severe=1m", "critical=soon", "critical=0s", "major=-1m", "levels=0", "levels=x"} {
		if _, err := ParseEscalation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	in := newIngester(t)
	if err := in.SetEscalation(Escalation{Delay: map[string]time.Duration{"critical": time.Minute}, MaxLevel: 1}); err == nil {
		t.Error("delays missing severities accepted")
	}
	if got := in.escalation().String(); got != DefaultEscalation().String() {
		t.Errorf("a refused configuration changed it to %s", got)
	}
	var ie *InputError
	if err := in.ClearFor(ctx, "", "x"); !errors.As(err, &ie) {
		t.Errorf("ClearFor without a source: %v", err)
	}
}
