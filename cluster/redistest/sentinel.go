package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Sentinel is a master, one replica and one Sentinel watching them under MasterName.
type Sentinel struct {
	Master, Replica, Sentinel *Server
	MasterName                string
	dir                       string
}

// StartSentinel starts the three processes and waits until the Sentinel knows the master
// and its replica. Stop kills them.
func StartSentinel(ctx context.Context) (*Sentinel, error) {
	dir, err := os.MkdirTemp("", "parley-redis-sentinel-")
	if err != nil {
		return nil, err
	}
	s := &Sentinel{MasterName: "parley", dir: dir}
	start := func(name string, args ...string) (*Server, error) {
		port, err := spareClusterPort()
		if err != nil {
			return nil, err
		}
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		return startServer(ctx, d, port, args...)
	}
	fail := func(err error) (*Sentinel, error) { s.Stop(); return nil, err }
	if s.Master, err = start("master"); err != nil {
		return fail(err)
	}
	if s.Replica, err = start("replica", "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)); err != nil {
		return fail(err)
	}
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 3000\n",
		s.MasterName, s.Master.Port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return fail(err)
	}
	port, err := spareClusterPort()
	if err != nil {
		return fail(err)
	}
	// redis-server <conf> --sentinel: the config file comes first and must be writable.
	if s.Sentinel, err = startSentinelProc(ctx, dir, conf, port); err != nil {
		return fail(err)
	}
	if err := poll(ctx, "sentinel sees the replica", func() bool {
		return info(ctx, s.Sentinel.Addr, "sentinel", "master0") != "" &&
			info(ctx, s.Master.Addr, "replication", "connected_slaves") == "1"
	}); err != nil {
		return fail(err)
	}
	return s, nil
}

// Stop kills the processes and removes the directory. Idempotent.
func (s *Sentinel) Stop() {
	for _, p := range []*Server{s.Sentinel, s.Replica, s.Master} {
		if p != nil {
			p.Kill()
		}
	}
	_ = os.RemoveAll(s.dir)
}
