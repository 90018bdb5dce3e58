package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/outbox"
)

// hookFlags configure the outbound alert hooks of serve.
type hookFlags struct {
	webhooks    listFlag
	topics      listFlag
	secret      *string
	minSeverity *string
}

// listFlag is a repeatable flag whose environment default, a
// whitespace-separated list, is replaced by the first value given.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, " ") }

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	l.vals = append(l.vals, v)
	return nil
}

func addHookFlags(fs *flag.FlagSet) *hookFlags {
	f := &hookFlags{
		webhooks: listFlag{vals: strings.Fields(os.Getenv("HEXWARD_ALERT_WEBHOOKS"))},
		topics:   listFlag{vals: strings.Fields(os.Getenv("HEXWARD_ALERT_MQTT_TOPICS"))},
	}
	fs.Var(&f.webhooks, "alert-webhook", "POST every alert transition as JSON to this `[name=]URL`; repeatable (env HEXWARD_ALERT_WEBHOOKS, space-separated)")
	fs.Var(&f.topics, "alert-mqtt-topic", "publish every alert transition on this MQTT `topic` (QoS 1) at MQTT_URL; repeatable (env HEXWARD_ALERT_MQTT_TOPICS, space-separated)")
	f.secret = fs.String("alert-webhook-secret", "", "key of the webhooks' X-Hexward-Signature HMAC-SHA256 header (env HEXWARD_WEBHOOK_SECRET)")
	f.minSeverity = fs.String("alert-hook-min-severity", envOr("HEXWARD_ALERT_HOOK_MIN_SEVERITY", "warning"),
		"send alerts of this severity and above to the hooks: warning, minor, major or critical (env HEXWARD_ALERT_HOOK_MIN_SEVERITY)")
	return f
}

var hookName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// hooks returns the configured hooks with stable names: NAME= when given,
// else webhook-HOST-HASH (the URL's path and query may hold credentials,
// so they stay out of names and metrics) or mqtt-TOPIC.
func (f *hookFlags) hooks() ([]outbox.Hook, error) {
	var hooks []outbox.Hook
	for _, v := range f.webhooks.vals {
		name, target := "", v
		if n, rest, ok := strings.Cut(v, "="); ok && hookName.MatchString(n) && (strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://")) {
			name, target = n, rest
		}
		if name == "" {
			u, err := url.Parse(target)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("--alert-webhook %s: not an absolute http(s) URL", outbox.Redact(target))
			}
			sum := sha256.Sum256([]byte(target))
			name = "webhook-" + u.Hostname() + "-" + hex.EncodeToString(sum[:4])
		}
		hooks = append(hooks, outbox.Hook{Name: name, Kind: outbox.Webhook, Target: target, MinSeverity: *f.minSeverity})
	}
	for _, t := range f.topics.vals {
		name := "mqtt-" + t
		if len(name) > 128 {
			sum := sha256.Sum256([]byte(t))
			name = "mqtt-" + hex.EncodeToString(sum[:8])
		}
		hooks = append(hooks, outbox.Hook{Name: name, Kind: outbox.MQTT, Target: t, MinSeverity: *f.minSeverity})
	}
	for _, h := range hooks {
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("alert hooks: %w", err)
		}
	}
	return hooks, nil
}

// start makes the hooks table match the flags and, when any hook is
// configured, runs the outbox worker until ctx is done. mqttURL is the
// broker of the MQTT hooks; nil reads env MQTT_URL.
func (f *hookFlags) start(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, reg prometheus.Registerer, mqttURL *string) error {
	hooks, err := f.hooks()
	if err != nil {
		return err
	}
	if err := outbox.Sync(ctx, pool, hooks); err != nil {
		return err
	}
	metrics := outbox.NewMetrics(reg)
	if len(hooks) == 0 {
		return nil
	}
	secret := *f.secret
	if secret == "" {
		secret = os.Getenv("HEXWARD_WEBHOOK_SECRET")
	}
	opt := outbox.Options{Secret: []byte(secret), Metrics: metrics, Log: log}
	var pub *outbox.MQTTPublisher
	if len(f.topics.vals) > 0 {
		broker := os.Getenv("MQTT_URL")
		if mqttURL != nil {
			broker = *mqttURL
		}
		if broker == "" {
			return errors.New("--alert-mqtt-topic needs the MQTT broker: --mqtt-url or env MQTT_URL")
		}
		if pub, err = outbox.DialMQTT(broker, 5*time.Second, log); err != nil {
			return fmt.Errorf("alert hooks: %w", err)
		}
		opt.MQTT = pub
	}
	go func() {
		if err := outbox.Run(ctx, pool, opt); err != nil {
			log.Error("alert hooks stopped", "err", err)
		}
		if pub != nil {
			pub.Close()
		}
	}()
	log.Info("alert hooks", "webhooks", len(f.webhooks.vals), "mqtt_topics", len(f.topics.vals),
		"min_severity", *f.minSeverity, "signed", secret != "")
	return nil
}
