package outgoing

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	outcomes *prometheus.CounterVec
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
	relayed  prometheus.Counter
	replies  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_outgoing_deliveries_total",
			Help: "Outgoing-webhook deliveries by outcome: delivered, failed (out of attempts or refused for good), revoked (hook gone), duplicate (read again, already done).",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_outgoing_attempts_total",
			Help: "Outgoing-webhook HTTP attempts by result: 2xx, 4xx, 5xx, other, error (no response).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_outgoing_delivery_latency_seconds",
			Help:    "From a message's creation to its receiver's 2xx, retries included.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outgoing_relayed_total",
			Help: "Deliveries produced to Kafka by this node's relay (a record produced twice after a crash counts twice).",
		}),
		replies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outgoing_replies_total",
			Help: "Replies posted by outgoing webhooks' bots.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.attempts, m.latency, m.relayed, m.replies} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metric: %w", err)
		}
	}
	return m, nil
}
