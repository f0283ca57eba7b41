package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/transport"
)

// TestReplicaThatIsAPrimaryNeverServes: a node given a URL that is not a replica (here the
// primary itself) starts, exports the replica metrics with it out of rotation, and stops
// its checks at shutdown (goleak in TestMain). The real replica tests are in persistence
// and transport/api (ADR 0044).
func TestReplicaThatIsAPrimaryNeverServes(t *testing.T) {
	_, base := serve(t, func(c *transport.Config) {
		c.DatabaseReplicaURLs = []string{c.DatabaseURL}
		c.ReplicaMaxLag = 500 * time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, base+"/metrics")
		if metricLine(body, "parley_db_replica_lag_seconds{", " -1") {
			if !metricLine(body, "parley_db_replica_in_rotation{", " 0") {
				t.Fatalf("a primary named as a replica is in rotation:\n%s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed check of the non-replica in the metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricLine reports whether body has a line starting with prefix and ending with suffix.
func metricLine(body, prefix, suffix string) bool {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}
