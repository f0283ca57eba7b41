package outgoing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/persistence"
)

// Issue 26, ADR 0045: the outgoing-webhook topic on a three-broker cluster (replication
// factor 3, min.insync.replicas 2). The deliverer group's coordinator stops while messages
// are posted and comes back later: every message is delivered (at least once; a delivery
// id seen twice is the same signed request again), and the group's lag returns to 0.
func TestDeliveriesSurviveABrokerStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k, err := persistence.StartEmbeddedKafka(e.ctx, persistence.EmbeddedKafkaConfig{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	e.kafka = k.Addrs() // the three brokers instead of newEnv's one
	e.hook(e.recv.srv.URL)
	e.service(true, func(c *outgoing.Config) { c.ReplicationFactor = 3 })

	const total = 60
	var down, up time.Time
	victim := -1
	for i := range total {
		if i == 1 { // the first delivery has joined the group: its coordinator is known
			waitFor(t, 30*time.Second, "the first delivery", func() bool { return len(e.recv.delivered()) >= 1 })
			victim = k.CoordinatorOf(outgoing.DefaultGroup)
			if victim < 0 {
				t.Fatal("no coordinator for the deliverer group")
			}
		}
		if i == 20 {
			if err := k.StopBroker(victim); err != nil {
				t.Fatal(err)
			}
			down = time.Now()
		}
		if i == 40 {
			time.Sleep(time.Until(down.Add(5 * time.Second))) // the outage's length, not a wait for a result
			if err := k.StartBroker(victim); err != nil {
				t.Fatal(err)
			}
			up = time.Now()
		}
		e.post(e.user.ID, fmt.Sprintf("m%d", i))
		time.Sleep(50 * time.Millisecond) // pacing the load across the outage
	}
	seqs := map[int64]int{}
	waitFor(t, 60*time.Second, "every message delivered", func() bool {
		clear(seqs)
		for _, h := range e.recv.delivered() {
			seqs[decodeEvent(t, h.body).Message.Seq]++
		}
		return len(seqs) == total
	})
	for s := int64(1); s <= total; s++ {
		if seqs[s] == 0 {
			t.Fatalf("seq %d never delivered", s)
		}
	}
	waitFor(t, 30*time.Second, "the deliverer's lag to return to 0", func() bool {
		return k.Lag(outgoing.DefaultGroup, outgoing.DefaultTopic) == 0
	})
	t.Logf("broker %d of 3 down %s; %d deliveries for %d messages", victim, up.Sub(down).Round(100*time.Millisecond), len(e.recv.delivered()), total)
}
