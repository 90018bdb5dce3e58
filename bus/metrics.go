package bus

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	published  prometheus.Counter
	received   prometheus.Counter
	duplicates prometheus.Counter
	bad        prometheus.Counter
	pending    prometheus.Gauge
	reconnects prometheus.Counter
	dropped    prometheus.Counter
	deferred   prometheus.Gauge
	recovered  prometheus.Counter
}

// newMetrics makes the bus's metrics, registered on reg unless it is nil.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_published_total",
			Help: "Changes of this node published to NATS JetStream (acknowledged)."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_received_total",
			Help: "Changes of other nodes received from NATS and handed to the store's subscribers."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_duplicates_skipped_total",
			Help: "Changes received again (same seq) and skipped."}),
		bad: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_bad_messages_total",
			Help: "Messages on the change stream that could not be decoded and were skipped."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexward_bus_pending",
			Help: "Changes of this node queued for publishing (not yet acknowledged by JetStream)."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_reconnects_total",
			Help: "Reconnections to NATS."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_dropped_total",
			Help: "Changes of this node never published: the queue and the deferral were full, the change log was pruned first, or the bus closed; other nodes' clients resume them from the change log."}),
		deferred: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexward_bus_deferred",
			Help: "Changes of this node that found the queue full, waiting to be read back from the change log and published."}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_bus_recovered_total",
			Help: "Deferred changes read back from the change log and queued for publishing."}),
	}
	if reg != nil {
		reg.MustRegister(m.all()...)
	}
	return m
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.published, m.received, m.duplicates, m.bad, m.pending, m.reconnects, m.dropped, m.deferred, m.recovered}
}
