package mqttingest

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/layers"
)

type metrics struct {
	messages   *prometheus.CounterVec // accepted messages by kind
	items      *prometheus.CounterVec // readings or positions newly stored
	duplicates *prometheus.CounterVec // readings or positions already stored
	rejected   *prometheus.CounterVec // by reason
	retries    prometheus.Counter
	connects   prometheus.Counter
	connected  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_mqtt_messages_total",
			Help: "MQTT messages stored and acknowledged, by kind (readings, positions)."}, []string{"kind"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_mqtt_items_total",
			Help: "Readings or positions newly stored from MQTT, by kind."}, []string{"kind"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_mqtt_duplicates_total",
			Help: "Readings or positions from MQTT already stored (redeliveries, device retries), by kind."}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_mqtt_rejected_total",
			Help: "MQTT messages acknowledged without storing anything, by reason."}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_mqtt_retries_total",
			Help: "Attempts to store an MQTT message that failed for a reason that may pass (database down) and were retried."}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_mqtt_connects_total",
			Help: "Connections made to the MQTT broker (the first and every reconnection)."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexward_mqtt_connected",
			Help: "1 while the MQTT ingest is connected to the broker."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.messages, m.items, m.duplicates, m.rejected, m.retries, m.connects, m.connected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// transient reports whether storing may succeed when tried again: anything
// but a rejection, a row gone for good, or the database refusing the data
// itself (data exceptions, constraint violations). An unknown error is
// taken as transient: retrying a message too long is better than
// acknowledging one that was not stored.
func transient(err error) bool {
	var rj *rejection
	if errors.As(err, &rj) || errors.Is(err, layers.ErrNotFound) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23") {
		return false
	}
	return true
}
