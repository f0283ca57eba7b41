package actors

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/ratelimit"
)

type metrics struct {
	connections    prometheus.Gauge
	channels       prometheus.Gauge
	sends          *prometheus.CounterVec // by result: ok, duplicate, rejected, failed
	deliveries     prometheus.Counter
	commitBatch    prometheus.Histogram
	commitLatency  prometheus.Histogram
	queuedSends    prometheus.Gauge
	channelInbox   prometheus.Gauge
	rateLimited    prometheus.Counter
	replayMessages prometheus.Counter
	restarts       prometheus.Counter // actors restarted after a panic (supervision.go)
	cl             *clusterMetrics
	tx             commitMetrics // append transactions (commit_coalescer.go)

	// limited is parley_rate_limited_total{limit}, shared with the REST limits.
	limited *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_ws_connections", Help: "Open STOMP sessions on this node."}),
		channels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_channel_actors", Help: "Live channel actors on this node."}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_actor_restarts_total", Help: "Channel and connection actors restarted after a panic."}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_sends_total", Help: "Messages posted through channel actors, by result."}, []string{"result"}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_deliveries_total", Help: "MESSAGE frames queued to local subscribers."}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_batch_size", Help: "Messages per group commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 500}}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_seconds", Help: "Duration of one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		queuedSends: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_queued_sends", Help: "Messages waiting in channel actors for the next group commit."}),
		channelInbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_channel_mailbox_depth", Help: "Messages sent to channel actors and not yet handled."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_rate_limited_frames_total", Help: "SEND frames refused by the per-session rate limit."}),
		replayMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_replayed_messages_total", Help: "Messages replayed from PostgreSQL (since-seq, resend)."}),
		cl: newClusterMetrics(),
		tx: newCommitMetrics(),
	}
	limited, err := ratelimit.NewCounter(reg)
	if err != nil {
		return nil, err
	}
	m.limited = limited
	if reg == nil {
		return m, nil
	}
	for _, c := range append([]prometheus.Collector{m.connections, m.channels, m.restarts, m.sends, m.deliveries, m.commitBatch,
		m.commitLatency, m.queuedSends, m.channelInbox, m.rateLimited, m.replayMessages}, append(m.cl.collectors(), m.tx.collectors()...)...) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("metrics already registered (two Systems on one registerer?): %w", err)
			}
			return nil, err
		}
	}
	return m, nil
}
