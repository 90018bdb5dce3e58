package mqttingest

import (
	"encoding/json"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"

	"github.com/hexward/hexward/auth"
)

// BenchmarkMQTTReadings measures readings ingested over MQTT: messages of
// 100 readings (10 sensors) published with QoS 1 by one client, from the
// first publication to the last message committed and acknowledged.
func BenchmarkMQTTReadings(b *testing.B) {
	const perMessage, sensors, window = 100, 10, 500
	e := newEnv(b, brokerURL(b), Options{})
	dev := e.account(b, auth.Device)
	ids := make([]int64, sensors)
	for i := range ids {
		ids[i] = e.sensor(b, dev, map[string]any{"alarm_above": 1e9})
	}
	pub := publisher(b, e.url, nil)
	topic := "hexward/" + dev + "/readings"
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	payloads := make([][]byte, b.N)
	for i := range payloads {
		rs := make([]rd, perMessage)
		for k := range rs {
			n := i*perMessage + k
			rs[k] = rd{ids[k%sensors], base.Add(time.Duration(n/sensors) * time.Second).Format(time.RFC3339), float64(n % 1000)}
		}
		payloads[i], _ = json.Marshal(batch(rs...))
	}
	done := func() int {
		var m dto.Metric
		_ = e.in.m.messages.WithLabelValues("readings").Write(&m)
		return int(m.GetCounter().GetValue())
	}
	b.ResetTimer()
	start := time.Now()
	tokens := make([]mqtt.Token, 0, b.N)
	for i, p := range payloads {
		// Mosquitto queues at most max_queued_messages (default 1000) for
		// a subscriber and drops the rest: keep fewer than that waiting.
		for i-done() >= window {
			time.Sleep(100 * time.Microsecond)
		}
		tokens = append(tokens, pub.Publish(topic, 1, false, p))
	}
	for _, tok := range tokens {
		if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
			b.Fatalf("publish: %v", tok.Error())
		}
	}
	for e.metric(b, "hexward_mqtt_messages_total", "kind", "readings") < float64(b.N) {
		time.Sleep(time.Millisecond)
		if time.Since(start) > 5*time.Minute {
			b.Fatal("not ingested within 5 minutes")
		}
	}
	b.StopTimer()
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*perMessage)/secs, "readings/s")
	b.ReportMetric(float64(b.N)/secs, "msgs/s")
	if n := e.metric(b, "hexward_mqtt_items_total", "kind", "readings"); n != float64(b.N*perMessage) {
		b.Fatalf("%v readings stored, want %d", n, b.N*perMessage)
	}
}
