package persistence

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker faults of the embedded cluster, for the tests that stop one broker under load
// (ADR 0045). kfake can remove a node and add one back; it cannot kill a node's process,
// because all of them are one process. StopBroker comes as close as it can: the node's
// listener closes (new connections are refused), its open connections are dropped on
// their next request, and its partitions and group coordination move to the brokers left
// — what clients see when a real broker dies and the controller elects new leaders.

var errBrokerStopped = errors.New("embedded kafka: broker stopped")

// StopBroker takes broker i (0-based, in Addrs order) down until StartBroker.
func (e *EmbeddedKafka) StopBroker(i int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i < 0 || i >= len(e.nodes) {
		return fmt.Errorf("embedded kafka: no broker %d of %d", i, len(e.nodes))
	}
	node := e.nodes[i]
	if e.retired[node] {
		return fmt.Errorf("embedded kafka: broker %d is already stopped", i)
	}
	if e.down+1 >= len(e.nodes) {
		return fmt.Errorf("embedded kafka: broker %d is the last one running", i)
	}
	if !e.control {
		// One control for every request, kept for the cluster's life: it answers nothing
		// itself unless the request came in on a stopped broker's connection, which it
		// closes (a handled request with an error closes the client's connection).
		e.c.ControlKey(-1, e.dropRetired)
		e.control = true
	}
	if err := e.c.RemoveNode(node); err != nil {
		return fmt.Errorf("embedded kafka: stop broker %d: %w", i, err)
	}
	e.retired[node] = true
	e.down++
	if len(e.nodes)-e.down < e.minISR && e.isr == nil {
		// Fewer replicas than min.insync.replicas: a real cluster refuses acks=all writes
		// (and parley writes nothing with fewer acks). Every topic, as ours share the setting.
		e.isr = e.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	}
	return nil
}

// StartBroker brings broker i back on its old address; kfake then elects leaders again
// across all the brokers running. It comes back under a new node id, as a replaced broker
// does: kfake tells a request's broker only by its id, so the stopped node's id stays
// retired and any connection still open to it keeps being dropped rather than served by
// a node kfake no longer has.
func (e *EmbeddedKafka) StartBroker(i int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i < 0 || i >= len(e.nodes) {
		return fmt.Errorf("embedded kafka: no broker %d of %d", i, len(e.nodes))
	}
	if !e.retired[e.nodes[i]] {
		return fmt.Errorf("embedded kafka: broker %d is not stopped", i)
	}
	_, p, err := net.SplitHostPort(e.addrs[i])
	if err != nil {
		return fmt.Errorf("embedded kafka: broker %d address: %w", i, err)
	}
	port, _ := strconv.Atoi(p)
	node, _, err := e.c.AddNode(-1, port)
	if err != nil {
		return fmt.Errorf("embedded kafka: start broker %d: %w", i, err)
	}
	e.nodes[i] = node
	e.down--
	if len(e.nodes)-e.down >= e.minISR && e.isr != nil {
		e.isr.Remove()
		e.isr = nil
	}
	return nil
}

// dropRetired is the control function of StopBroker.
func (e *EmbeddedKafka) dropRetired(kmsg.Request) (kmsg.Response, error, bool) {
	e.c.KeepControl()
	node := e.c.CurrentNode()
	e.mu.Lock()
	down := e.retired[node]
	e.mu.Unlock()
	if down {
		return nil, errBrokerStopped, true
	}
	return nil, nil, false
}

// CoordinatorOf is the index (in Addrs order) of the broker coordinating group, or -1.
func (e *EmbeddedKafka) CoordinatorOf(group string) int {
	n := e.c.CoordinatorFor(group)
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, node := range e.nodes {
		if node == n {
			return i
		}
	}
	return -1
}

// Lag is how many records of topic group has not committed yet, over all partitions
// (a partition the group never committed counts from the log start).
func (e *EmbeddedKafka) Lag(group, topic string) int64 {
	var commits map[int32]int64
	if g := e.c.GroupInfo(group); g != nil {
		commits = map[int32]int64{}
		for p, c := range g.Commits[topic] {
			commits[p] = c.Offset
		}
	}
	var lag int64
	for _, p := range e.c.PartitionInfos(topic) {
		from, ok := commits[p.Partition]
		if !ok {
			from = p.LogStartOffset
		}
		lag += p.HighWatermark - from
	}
	return lag
}

// LeaderOf is the index (in Addrs order) of the broker leading partition of topic, or -1.
func (e *EmbeddedKafka) LeaderOf(topic string, partition int32) int {
	for _, p := range e.c.PartitionInfos(topic) {
		if p.Partition != partition {
			continue
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, node := range e.nodes {
			if node == p.Leader {
				return i
			}
		}
	}
	return -1
}
