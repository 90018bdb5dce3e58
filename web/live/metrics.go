package live

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	clients prometheus.Gauge
	sent    prometheus.Counter
	dropped *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexward_live_clients", Help: "Live stream clients connected."}),
		sent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "hexward_live_messages_sent_total", Help: "Messages written to live stream clients."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_live_clients_dropped_total",
			Help: "Live stream clients the server closed: too_slow (queue full or a write timed out), bad_messages."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.clients, m.sent, m.dropped)
	}
	return m
}
