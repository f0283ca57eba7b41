package cluster

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// busInterest is what a topic serves: a channel, a user queue or the whole node.
type busInterest int

const (
	interestChannel busInterest = iota
	interestUser
	interestBroadcast
	numInterests
)

var interestNames = [numInterests]string{"channel", "user", "broadcast"}

// Why a received message reached no handler.
const (
	dropEcho       = iota // published by this Bus itself
	dropNoInterest        // no Subscription held the topic any more (unsubscribe in flight)
	dropMalformed         // not a bus envelope
	numDrops
)

var dropNames = [numDrops]string{"echo", "no_interest", "malformed"}

// busStats are the bus's counters. They are plain atomics so Stats can read them without a
// Prometheus registry; the registered metrics are functions over them.
type busStats struct {
	published      atomic.Uint64
	publishedBytes atomic.Uint64
	publishErrors  atomic.Uint64
	postQueueFull  atomic.Uint64
	received       [numInterests]atomic.Uint64
	receivedBytes  atomic.Uint64
	dropped        [numDrops]atomic.Uint64
	reconnects     atomic.Uint64
	slowHandlers   atomic.Uint64
	topics         atomic.Int64
}

// BusStats is a snapshot of a Bus's counters since it started.
type BusStats struct {
	Published      uint64 // messages published (Publish and Post)
	PublishedBytes uint64 // their size on the wire, envelope included
	PublishErrors  uint64 // publishes that failed (Redis down, timeout)
	PostQueueFull  uint64 // Posts refused because the queue was full
	// Received counts every message Redis delivered to this node, by interest, before any
	// filtering: a node without interest in a channel receives none of its traffic.
	ReceivedChannel   uint64
	ReceivedUser      uint64
	ReceivedBroadcast uint64
	ReceivedBytes     uint64
	DroppedEcho       uint64 // this node's own publishes, not delivered
	DroppedNoInterest uint64 // arrived while the topic was being unsubscribed
	DroppedMalformed  uint64 // not a bus envelope
	Reconnects        uint64 // connections re-established after a loss
	SlowHandlerCalls  uint64 // Handler calls longer than BusConfig.SlowHandler
	Topics            int64  // topics subscribed on the current connection
}

// Stats returns a snapshot of the bus's counters.
func (b *RedisBus) Stats() BusStats {
	s := &b.stats
	return BusStats{
		Published:         s.published.Load(),
		PublishedBytes:    s.publishedBytes.Load(),
		PublishErrors:     s.publishErrors.Load(),
		PostQueueFull:     s.postQueueFull.Load(),
		ReceivedChannel:   s.received[interestChannel].Load(),
		ReceivedUser:      s.received[interestUser].Load(),
		ReceivedBroadcast: s.received[interestBroadcast].Load(),
		ReceivedBytes:     s.receivedBytes.Load(),
		DroppedEcho:       s.dropped[dropEcho].Load(),
		DroppedNoInterest: s.dropped[dropNoInterest].Load(),
		DroppedMalformed:  s.dropped[dropMalformed].Load(),
		Reconnects:        s.reconnects.Load(),
		SlowHandlerCalls:  s.slowHandlers.Load(),
		Topics:            s.topics.Load(),
	}
}

func (s *busStats) register(reg prometheus.Registerer, b *RedisBus) error {
	counter := func(name, help string, v *atomic.Uint64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "bus", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "parley", Subsystem: "bus", Name: name, Help: help,
		}, f)
	}
	cs := []prometheus.Collector{
		counter("published_messages_total", "Messages published to Redis by this node.", &s.published, nil),
		counter("published_bytes_total", "Bytes published to Redis by this node, envelope included.", &s.publishedBytes, nil),
		counter("publish_errors_total", "Publishes that failed (Redis down or too slow); receivers fill the gap from PostgreSQL.", &s.publishErrors, nil),
		counter("post_queue_full_total", "Posts refused because the publish queue was full.", &s.postQueueFull, nil),
		counter("received_bytes_total", "Bytes received from Redis Pub/Sub.", &s.receivedBytes, nil),
		counter("reconnects_total", "Subscriber connections re-established after a loss.", &s.reconnects, nil),
		counter("slow_handler_calls_total", "Handler calls slower than the configured bound; they delay every topic of the node.", &s.slowHandlers, nil),
		gauge("subscribed_topics", "Redis Pub/Sub topics this node is subscribed to.", func() float64 { return float64(s.topics.Load()) }),
		gauge("connected", "1 while the subscriber connection is up and resubscribed.", func() float64 {
			if b.Healthy() {
				return 1
			}
			return 0
		}),
	}
	for i := range numInterests {
		cs = append(cs, counter("received_messages_total",
			"Messages Redis delivered to this node, by interest (channel, user, broadcast), before filtering.",
			&s.received[i], prometheus.Labels{"interest": interestNames[i]}))
	}
	for i := range numDrops {
		cs = append(cs, counter("dropped_messages_total",
			"Received messages given to no handler: echo (own publish), no_interest, malformed.",
			&s.dropped[i], prometheus.Labels{"reason": dropNames[i]}))
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
