package bench

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

func TestSpreadNode(t *testing.T) {
	// 4 channels over 2 nodes: client i on channel i mod 4. With i mod N every channel's
	// clients shared one node; every channel must now have clients on both.
	const channels, nodes, clients = 4, 2, 40
	on := map[int]map[int]int{} // channel → node → clients
	perNode := make([]int, nodes)
	for i := range clients {
		c, n := i%channels, spreadNode(i, channels, nodes)
		if on[c] == nil {
			on[c] = map[int]int{}
		}
		on[c][n]++
		perNode[n]++
	}
	for c := range channels {
		if len(on[c]) != nodes || on[c][0] != on[c][1] {
			t.Errorf("channel %d: clients per node %v, want %d on each", c, on[c], clients/channels/nodes)
		}
	}
	if perNode[0] != perNode[1] {
		t.Errorf("clients per node %v, want balanced", perNode)
	}
	// The senders (the first K clients, one per channel) are spread too.
	if spreadNode(0, channels, nodes) == spreadNode(1, channels, nodes) {
		t.Error("senders of channels 0 and 1 on the same node")
	}
	if got := spreadNode(7, 0, 3); got != 1 {
		t.Errorf("no channels: node %d, want round robin 1", got)
	}
}

func TestContentNode(t *testing.T) {
	b := appendContentNode(nil, 12, 3, 7, time.Unix(0, 1e18), 64)
	if len(b) != 64 {
		t.Errorf("len %d, want 64", len(b))
	}
	sender, n, sent, ok := parseContent(b)
	if !ok || sender != 12 || n != 7 || sent.UnixNano() != 1e18 {
		t.Errorf("parseContent = %d %d %v %v", sender, n, sent, ok)
	}
	if node, ok := contentNode(b); !ok || node != 3 {
		t.Errorf("contentNode = %d %v, want 3", node, ok)
	}
	// The node's mark must not read as a mention: that would take every bench message off
	// the append's one-statement path and measure the mention lookup instead.
	if !persistence.OneStatement([]persistence.NewMessage{{UserID: 1, Content: string(b)}}) {
		t.Errorf("bench content %q is not a one-statement append (a mention?)", b)
	}
	if _, ok := contentNode(appendContent(nil, 1, 1, time.Unix(0, 1), 64)); ok {
		t.Error("content without a node parsed one")
	}
}
