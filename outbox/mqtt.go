package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Publisher publishes a payload on an MQTT topic and returns once the
// broker has acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// MQTTPublisher publishes with QoS 1 through one paho client that
// reconnects by itself.
type MQTTPublisher struct {
	c mqtt.Client
}

// DialMQTT connects to the broker at rawURL (tcp://, mqtt://, ssl://,
// mqtts://, ws:// or wss://; user and password may be in the URL). It
// waits up to timeout for the first connection but keeps trying after
// that, so a broker that is down at start does not stop the caller:
// publishing fails (and is retried) until it is up.
func DialMQTT(rawURL string, timeout time.Duration, log *slog.Logger) (*MQTTPublisher, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("MQTT URL %q: want scheme://host:port", Redact(rawURL))
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("MQTT URL %s: scheme %q is not tcp, mqtt, ssl, tls, mqtts, ws or wss", Redact(rawURL), u.Scheme)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	opts := mqtt.NewClientOptions().AddBroker(rawURL).
		SetClientID("hexward-outbox-" + hex.EncodeToString(id)).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(DefaultTimeout).
		SetOnConnectHandler(func(mqtt.Client) { log.Info("outbox: MQTT connected", "broker", Redact(rawURL)) }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("outbox: MQTT connection lost", "broker", Redact(rawURL), "err", err)
		})
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if tok.WaitTimeout(timeout) && tok.Error() != nil {
		return nil, fmt.Errorf("MQTT %s: %w", Redact(rawURL), tok.Error())
	}
	return &MQTTPublisher{c: c}, nil
}

// Publish publishes payload on topic with QoS 1 and waits for the PUBACK
// (or ctx, or DefaultTimeout). It does not queue while disconnected.
func (p *MQTTPublisher) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := validTopic(topic); err != nil {
		return Permanent(err)
	}
	if !p.c.IsConnectionOpen() {
		return errors.New("MQTT broker not connected")
	}
	tok := p.c.Publish(topic, 1, false, payload)
	t := time.NewTimer(DefaultTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("MQTT publish on %q: %w", topic, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("MQTT publish on %q: no PUBACK within %s", topic, DefaultTimeout)
	case <-ctx.Done():
		return fmt.Errorf("MQTT publish on %q: %w", topic, ctx.Err())
	}
}

// Close disconnects, letting in-flight messages finish for up to a quarter
// second.
func (p *MQTTPublisher) Close() { p.c.Disconnect(250) }
