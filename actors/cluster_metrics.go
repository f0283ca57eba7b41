package actors

import "github.com/prometheus/client_golang/prometheus"

// clusterMetrics count the cross-node side of the channel actors (the bus's own counters
// are parley_bus_*).
type clusterMetrics struct {
	received        *prometheus.CounterVec // by kind: message, event, user
	duplicates      prometheus.Counter
	malformed       prometheus.Counter
	held            prometheus.Gauge
	heldBack        *prometheus.CounterVec // by source: local, remote
	gaps            prometheus.Counter
	resyncs         prometheus.Counter
	fills           prometheus.Counter
	filled          prometheus.Counter
	publishFailures *prometheus.CounterVec // by kind: message, event, user
	announcements   prometheus.Counter
}

func newClusterMetrics() *clusterMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_" + name, Help: help})
	}
	return &clusterMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_cluster_received_events_total",
			Help: "Events received from other nodes, by kind: message (new, with seq), event (edit, typing, read…), user (queue event), users (one event for an audience)."},
			[]string{"kind"}),
		duplicates: counter("duplicates_dropped_total", "New messages from other nodes dropped because their seq was already delivered or held."),
		malformed:  counter("malformed_payloads_total", "Bus payloads that could not be decoded."),
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_cluster_reorder_held_messages",
			Help: "Messages held back in reorder buffers until the ones before them arrive."}),
		heldBack: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_cluster_reorder_held_back_total",
			Help: "New messages that arrived before an earlier seq and waited for it in the reorder buffer, by source: local (committed here), remote (bus)."},
			[]string{"source"}),
		gaps:    counter("gaps_total", "Gaps that did not close within the gap wait and were filled from PostgreSQL."),
		resyncs: counter("resyncs_total", "Bus resyncs (channel topic live again) answered with a fill from PostgreSQL."),
		fills:   counter("fills_total", "Reads from PostgreSQL for gaps and resyncs (rounds)."),
		filled:  counter("filled_messages_total", "Messages that only a PostgreSQL fill brought to this node."),
		publishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_cluster_publish_failures_total",
			Help: "Posts to the bus that failed, by kind: message (new, with seq; the channel's latest seq is then announced until one gets through), event (edit, typing, read…), user (queue event), users (one event for an audience)."},
			[]string{"kind"}),
		announcements: counter("announcements_total", "Announcements of a channel's latest seq after failed posts."),
	}
}

func (m *clusterMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.received, m.duplicates, m.malformed, m.held, m.heldBack, m.gaps, m.resyncs,
		m.fills, m.filled, m.publishFailures, m.announcements}
}
