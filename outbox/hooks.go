// Package outbox delivers alert transitions to outbound hooks (webhooks and
// MQTT topics) from a durable outbox table.
//
// Every transition of an alert is inserted into alert_transitions in the
// transaction of the alert's write; a trigger (migrations/007_outbox.sql)
// adds, in that same transaction, one outbox row per enabled hook whose
// min_severity the alert meets, with the JSON payload, and notifies the
// workers. Run claims due rows with FOR UPDATE SKIP LOCKED (so several
// nodes share the work and each row is delivered by one of them), delivers
// them, and on failure retries with exponential backoff and jitter until
// the row is delivered or dropped. Delivery is at least once: a receiver
// that must not act twice deduplicates on the payload's transition_id.
//
// Sync makes the hooks table match the configuration at start.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The kinds of hook.
const (
	Webhook = "webhook" // POST the payload as JSON to Target, an http(s) URL
	MQTT    = "mqtt"    // publish the payload with QoS 1 on Target, an MQTT topic
)

// Severities, lowest first, as in the alerts layer.
var Severities = []string{"warning", "minor", "major", "critical"}

// Hook is one configured receiver of alert transitions.
type Hook struct {
	Name        string // unique and stable across restarts; labels the metrics
	Kind        string // Webhook or MQTT
	Target      string // URL of a webhook, topic of an MQTT hook
	MinSeverity string // the lowest alert severity sent; empty: all
}

// Validate reports the first problem of h, naming it.
func (h Hook) Validate() error {
	if h.Name == "" || len(h.Name) > 128 || !utf8.ValidString(h.Name) {
		return fmt.Errorf("hook name %q: want 1-128 characters of UTF-8", h.Name)
	}
	if h.MinSeverity != "" && !validSeverity(h.MinSeverity) {
		return fmt.Errorf("hook %s: min severity %q is not one of %s", h.Name, h.MinSeverity, strings.Join(Severities, ", "))
	}
	switch h.Kind {
	case Webhook:
		u, err := url.Parse(h.Target)
		if err != nil {
			return fmt.Errorf("hook %s: webhook URL: %w", h.Name, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("hook %s: webhook URL %q is not an absolute http(s) URL", h.Name, Redact(h.Target))
		}
	case MQTT:
		if err := validTopic(h.Target); err != nil {
			return fmt.Errorf("hook %s: %w", h.Name, err)
		}
	default:
		return fmt.Errorf("hook %s: kind %q is not %q or %q", h.Name, h.Kind, Webhook, MQTT)
	}
	return nil
}

func validSeverity(s string) bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// validTopic checks an MQTT topic to publish on (MQTT 3.1.1 §4.7).
func validTopic(t string) error {
	switch {
	case t == "":
		return errors.New("MQTT topic is empty")
	case len(t) > 65535:
		return errors.New("MQTT topic is longer than 65535 bytes")
	case !utf8.ValidString(t):
		return fmt.Errorf("MQTT topic %q is not UTF-8", t)
	case strings.ContainsAny(t, "+#\x00"):
		return fmt.Errorf("MQTT topic %q holds a wildcard (+ or #) or NUL: one cannot publish on it", t)
	}
	return nil
}

// Redact returns a URL without its user info, path and query, which may
// hold credentials, for messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Sync makes the hooks table match hooks: each is inserted or updated by
// name and enabled, and every other hook is disabled (its undelivered rows
// stay pending until it is configured again). Every node of a deployment
// must be given the same hooks. Nothing changes when a hook is invalid or
// two share a name.
func Sync(ctx context.Context, pool *pgxpool.Pool, hooks []Hook) error {
	names := make([]string, 0, len(hooks))
	seen := map[string]bool{}
	for _, h := range hooks {
		if err := h.Validate(); err != nil {
			return err
		}
		if seen[h.Name] {
			return fmt.Errorf("two hooks are named %q", h.Name)
		}
		seen[h.Name] = true
		names = append(names, h.Name)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, h := range hooks {
			minSev := h.MinSeverity
			if minSev == "" {
				minSev = Severities[0]
			}
			if _, err := tx.Exec(ctx, `INSERT INTO hooks (name, kind, target, min_severity, enabled) VALUES ($1, $2, $3, $4, true)
				ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, target = excluded.target,
					min_severity = excluded.min_severity, enabled = true`, h.Name, h.Kind, h.Target, minSev); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE hooks SET enabled = false WHERE enabled AND name <> ALL($1::text[])`, names)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: syncing hooks: %w", err)
	}
	return nil
}
