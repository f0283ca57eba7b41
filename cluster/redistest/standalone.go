package redistest

import (
	"context"
	"os"
)

// Standalone is one plain redis-server (no cluster, no replica) of its own, for runs that
// compare it with a Cluster on the same machine and must not share the machine's Redis
// with other work (its CPU and command counts are the run's alone).
type Standalone struct {
	*Server
	dir string
}

// StartStandalone starts a redis-server on a spare loopback port in a fresh temporary
// directory; Stop kills it and removes the directory.
func StartStandalone(ctx context.Context) (*Standalone, error) {
	dir, err := os.MkdirTemp("", "parley-redis-")
	if err != nil {
		return nil, err
	}
	port, err := spareClusterPort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s, err := startServer(ctx, dir, port)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Standalone{Server: s, dir: dir}, nil
}

// Stop kills the server and removes its directory. Idempotent.
func (s *Standalone) Stop() {
	s.Kill()
	_ = os.RemoveAll(s.dir)
}
