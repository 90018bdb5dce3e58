package readings

import (
	"context"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// RaiseFor raises the alert of a rule outside this package (a source such
// as "officer:12" and a condition such as "outside_patrol_zone") through
// the same write path as the sensor rules, so the transition is recorded
// with the alert's write by actor system:rules. With no open alert of
// source and condition it opens one at at, in state raised, with severity
// and title, raised_at raisedAt; an open alert that its source had cleared
// is retriggered (title updated, severity raised if higher); an open alert
// not cleared is left as it is. Bad arguments are an *InputError and
// change nothing.
func (in *Ingester) RaiseFor(ctx context.Context, src, cond, severity, title string, at orb.Point, raisedAt time.Time) error {
	switch {
	case src == "" || utf8.RuneCountInString(src) > 128:
		return &InputError{fmt.Sprintf("alert source %q: 1 to 128 characters", src)}
	case cond == "" || utf8.RuneCountInString(cond) > 64:
		return &InputError{fmt.Sprintf("alert condition %q: 1 to 64 characters", cond)}
	case rank[severity] == 0:
		return &InputError{fmt.Sprintf("alert severity %q: want critical, major, minor or warning", severity)}
	case title == "":
		return &InputError{"alert without a title"}
	case !(at[0] >= -180 && at[0] <= 180 && at[1] >= -90 && at[1] <= 90) || math.IsNaN(at[0]+at[1]):
		return &InputError{fmt.Sprintf("alert position %v is not a lon/lat", at)}
	case raisedAt.IsZero():
		return &InputError{"alert without the time it was raised"}
	}
	return in.updateAlertOf(systemCtx(ctx), src, at, cond, true, func(p map[string]any, isNew bool) []string {
		var evs []string
		switch {
		case isNew:
			p["state"], p["severity"], p["raised_at"] = "raised", severity, raisedAt.UTC().Format(time.RFC3339Nano)
			evs = []string{"raised"}
		case p["cleared"] == true:
			evs = []string{"retriggered"}
			if rank[severity] > rank[str(p, "severity")] {
				p["severity"] = severity
			}
		default:
			return nil
		}
		p["title"], p["cleared"] = title, false
		return evs
	})
}

// ClearFor marks the open alert of source and condition as cleared by its
// source (recording the transition); it stays open until an operator
// resolves it. Without an open alert, or one already cleared, it does
// nothing.
func (in *Ingester) ClearFor(ctx context.Context, src, cond string) error {
	if src == "" || cond == "" {
		return &InputError{"clearing an alert needs its source and condition"}
	}
	return in.updateAlertOf(systemCtx(ctx), src, nil, cond, false, func(p map[string]any, _ bool) []string {
		if p["cleared"] == true {
			return nil
		}
		p["cleared"] = true
		return []string{"cleared"}
	})
}
