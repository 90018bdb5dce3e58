package outbox

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the workers of one process did, per hook name.
type Metrics struct {
	Delivered *prometheus.CounterVec // rows delivered
	Retried   *prometheus.CounterVec // failed attempts scheduled again
	Dropped   *prometheus.CounterVec // rows given up: a permanent failure or MaxAttempts reached
	Pending   *prometheus.GaugeVec   // rows waiting for delivery in the database (all nodes')
}

// NewMetrics makes the outbox metrics and registers them on reg unless it
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_outbox_delivered_total",
			Help: "Alert transitions delivered to a hook."}, []string{"hook"}),
		Retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_outbox_retried_total",
			Help: "Failed deliveries of alert transitions to a hook, scheduled to be tried again."}, []string{"hook"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexward_outbox_dropped_total",
			Help: "Alert transitions given up for a hook: refused permanently or failing after the maximum attempts."}, []string{"hook"}),
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hexward_outbox_pending",
			Help: "Alert transitions waiting in the outbox for delivery to an enabled hook."}, []string{"hook"}),
	}
	if reg != nil {
		reg.MustRegister(m.Delivered, m.Retried, m.Dropped, m.Pending)
	}
	return m
}
