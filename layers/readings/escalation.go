package readings

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hexward/hexward/layers"
)

// EscalationActor is the actor recorded for escalations.
const EscalationActor = "system:escalation"

// Severities from the lowest; an escalation moves an alert one step up.
var Severities = []string{"warning", "minor", "major", "critical"}

// Escalation says when an alert nobody acknowledged is escalated: an alert
// still raised (and not cleared by its source) Delay[severity] after it
// was raised or last escalated has its severity raised one step (critical
// stays critical), escalated_at set and escalation_level counted up, at
// most MaxLevel times.
type Escalation struct {
	Delay    map[string]time.Duration
	MaxLevel int
}

// DefaultEscalation is critical 2 min, major 5 min, minor 15 min, warning
// 30 min, at most 3 escalations.
func DefaultEscalation() Escalation {
	return Escalation{Delay: map[string]time.Duration{
		"critical": 2 * time.Minute, "major": 5 * time.Minute, "minor": 15 * time.Minute, "warning": 30 * time.Minute,
	}, MaxLevel: 3}
}

// String is the form ParseEscalation reads.
func (e Escalation) String() string {
	var b strings.Builder
	for i := len(Severities) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "%s=%s,", Severities[i], e.Delay[Severities[i]])
	}
	fmt.Fprintf(&b, "levels=%d", e.MaxLevel)
	return b.String()
}

func (e Escalation) validate() error {
	for _, s := range Severities {
		if d, ok := e.Delay[s]; !ok || d <= 0 {
			return fmt.Errorf("escalation: %s needs a delay above 0", s)
		}
	}
	for s := range e.Delay {
		if rank[s] == 0 {
			return fmt.Errorf("escalation: unknown severity %q (want critical, major, minor or warning)", s)
		}
	}
	if e.MaxLevel < 1 || e.MaxLevel > 100 {
		return fmt.Errorf("escalation: levels %d outside 1..100", e.MaxLevel)
	}
	return nil
}

// ParseEscalation reads "critical=2m,major=5m,minor=15m,warning=30m,levels=3";
// what it leaves out keeps its default.
func ParseEscalation(s string) (Escalation, error) {
	e := DefaultEscalation()
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return Escalation{}, fmt.Errorf("escalation: %q is not name=value", item)
		}
		if k == "levels" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return Escalation{}, fmt.Errorf("escalation: levels %q is not an integer", v)
			}
			e.MaxLevel = n
			continue
		}
		if rank[k] == 0 {
			return Escalation{}, fmt.Errorf("escalation: unknown severity %q (want critical, major, minor, warning or levels)", k)
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return Escalation{}, fmt.Errorf("escalation: %s delay %q is not a duration such as 5m", k, v)
		}
		e.Delay[k] = d
	}
	return e, e.validate()
}

// SetEscalation replaces the escalation delays (DefaultEscalation until
// then). A bad configuration is refused and changes nothing.
func (in *Ingester) SetEscalation(e Escalation) error {
	if err := e.validate(); err != nil {
		return err
	}
	e.Delay = maps.Clone(e.Delay)
	in.esc.Store(&e)
	return nil
}

func (in *Ingester) escalation() Escalation {
	if e := in.esc.Load(); e != nil {
		return *e
	}
	return DefaultEscalation()
}

// escalationBase is when the alert's current escalation delay started: its
// last escalation, else when it was raised.
func escalationBase(p map[string]any) (time.Time, bool) {
	for _, k := range []string{"escalated_at", "raised_at"} {
		if s := str(p, k); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// escLevel is how often the alert has been escalated.
func escLevel(p map[string]any) int {
	switch v := p["escalation_level"].(type) {
	case float64:
		return int(v)
	case int64:
		return int(v)
	}
	return 0
}

// escalate applies one escalation step to p if it is due at now, and says
// whether it did and why.
func (e Escalation) escalate(p map[string]any, now time.Time) (string, bool) {
	lvl := escLevel(p)
	if str(p, "state") != "raised" || p["cleared"] == true || lvl >= e.MaxLevel {
		return "", false
	}
	sev := str(p, "severity")
	d, ok := e.Delay[sev]
	base, okBase := escalationBase(p)
	if !ok || !okBase || now.Before(base.Add(d)) {
		return "", false
	}
	next := sev
	if r := rank[sev]; r < len(Severities) {
		next = Severities[r] // rank is 1-based: Severities[r] is one step up
	}
	p["severity"] = next
	p["escalation_level"] = int64(lvl + 1)
	p["escalated_at"] = now.UTC().Format(time.RFC3339Nano)
	return fmt.Sprintf("not acknowledged within %s: %s → %s (level %d)", d, sev, next, lvl+1), true
}

// CheckEscalation escalates, one step each, the alerts due at now (see
// Escalation) and returns how many it escalated. Each escalation is
// recorded as transition "escalated" by EscalationActor in the alert's
// write. Acknowledged, dispatched and resolved alerts never escalate, nor
// do alerts their source has cleared. Several nodes may check at once: an
// alert is escalated once per delay.
func (in *Ingester) CheckEscalation(ctx context.Context, now time.Time) (int, error) {
	e := in.escalation()
	sevs, secs := make([]string, 0, len(e.Delay)), make([]float64, 0, len(e.Delay))
	for s, d := range e.Delay {
		sevs, secs = append(sevs, s), append(secs, d.Seconds())
	}
	rows, err := in.store.Pool().Query(ctx, `SELECT f.id FROM features f
		JOIN unnest($1::text[], $2::float8[]) AS d(severity, secs) ON d.severity = f.props->>'severity'
		WHERE f.layer = 'alerts' AND f.props->>'state' = 'raised' AND f.props->>'cleared' IS DISTINCT FROM 'true'
			AND COALESCE((f.props->>'escalation_level')::numeric, 0) < $3
			AND COALESCE(f.props->>'escalated_at', f.props->>'raised_at')::timestamptz + make_interval(secs => d.secs) <= $4
		ORDER BY f.id`, sevs, secs, e.MaxLevel, now)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	ctx = layers.WithActor(ctx, layers.Actor{User: EscalationActor, Role: "system"})
	n := 0
	for _, id := range ids {
		ok, err := in.escalateOne(ctx, e, id, now)
		switch {
		case errors.Is(err, layers.ErrNotFound):
			continue // deleted since
		case err != nil:
			return n, fmt.Errorf("escalating alert %d: %w", id, err)
		case ok:
			n++
		}
	}
	return n, nil
}

func (in *Ingester) escalateOne(ctx context.Context, e Escalation, id int64, now time.Time) (bool, error) {
	for range casAttempts {
		f, err := in.store.Get(ctx, "alerts", id)
		if err != nil {
			return false, err
		}
		orig := maps.Clone(f.Props)
		note, ok := e.escalate(f.Props, now)
		if !ok {
			return false, nil // acknowledged or escalated by someone else meanwhile
		}
		_, err = in.write(ctx, f, false, orig, []string{"escalated"}, note)
		if retry(err) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("alert %d: still changing after %d attempts", id, casAttempts)
}

// RunEscalation checks for alerts to escalate every interval until ctx
// ends; every <= 0 disables it.
func (in *Ingester) RunEscalation(ctx context.Context, every time.Duration) {
	in.periodically(ctx, every, in.CheckEscalation, "alert escalation", "alerts escalated", "alerts")
}
