package redistest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// CutDialer dials like net.Dialer until Cut, which closes every connection it made and
// refuses new ones until Restore: one client's partition from Redis, for clients (cluster,
// Sentinel) whose node addresses a proxy in front cannot stand in for. Use Dial as the
// go-redis Options.Dialer.
type CutDialer struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// ErrCut is what a cut dialer's Dial returns.
var ErrCut = errors.New("redistest: connection cut")

// Dial dials addr unless cut.
func (d *CutDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, ErrCut
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.conns == nil {
		d.conns = map[net.Conn]struct{}{}
	}
	d.conns[c] = struct{}{}
	return c, nil
}

// Cut closes every connection made and refuses new ones.
func (d *CutDialer) Cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for c := range d.conns {
		_ = c.Close()
	}
	clear(d.conns)
}

// Restore lets Dial connect again.
func (d *CutDialer) Restore() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = false
}
