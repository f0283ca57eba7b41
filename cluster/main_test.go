package cluster_test

import (
	"os"
	"testing"

	"github.com/parley-chat/parley/cluster/redistest"
)

// TestMain stops the Redis Cluster the package's tests share (redistest.SharedCluster).
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopShared()
	os.Exit(code)
}
