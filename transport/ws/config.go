// Package ws serves STOMP 1.2 over WebSocket at GET /ws: the gobwas/ws upgrade, the
// authenticated CONNECT, and one read goroutine per socket that decodes frames and hands
// them to the session's connection actor (package actors), which writes back through the
// session's outbound.Outbox over this package's wire.
package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/clientip"
	"github.com/parley-chat/parley/transport/outbound"
)

// Config configures the WebSocket endpoint. Zero fields take the defaults.
type Config struct {
	// AllowedOrigins lists the browser origins (scheme://host[:port]) that may open a socket;
	// "*" allows any. Empty allows any (dev). A request without an Origin header is not from
	// a browser page and is allowed: the token is what authenticates.
	AllowedOrigins []string
	// MaxFrameBytes bounds one WebSocket frame and one STOMP frame. Default 64 KiB.
	MaxFrameBytes int
	// ReadBufferSize is each socket's read buffer, in bytes. Default 2 KiB: small, because
	// idle sockets keep it, and chat frames are small.
	ReadBufferSize int
	// ConnectTimeout is how long a client has after the upgrade to send CONNECT: a deadline
	// fixed at the upgrade that no WebSocket frame (ping, partial frame) moves. Default 10 s.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds writing the upgrade response and a refusal. Default 5 s.
	HandshakeTimeout time.Duration
	// SocketSendBuffer sets each socket's kernel send buffer (SO_SNDBUF), in bytes, bounding
	// what a client that stops reading can pin in the kernel before its outbound queue
	// fills. 0 leaves the kernel's autotuning (up to several MiB per socket).
	SocketSendBuffer int
	// MaxConnectionsPerUser caps one user's sessions on this node; the next CONNECT gets
	// ERROR too_many_connections. Default 20.
	MaxConnectionsPerUser int
	// MaxUnauthenticated caps the node's sockets that are upgraded but have no accepted
	// CONNECT yet; the next upgrade gets 503. Default 2,048 (ADR 0025).
	MaxUnauthenticated int
	// MaxUnauthenticatedPerIP caps those sockets per client address (IPv6: per /64). Default 64.
	MaxUnauthenticatedPerIP int
	// MaxSocketsPerIP caps every socket of one client address (IPv6: per /64), authenticated
	// or not: generous, for offices behind one NAT. Default 1,000.
	MaxSocketsPerIP int
	// NoPoller reads every established socket on a goroutine of its own instead of from the
	// epoll poller (off Linux there is no poller and this is always so). The poller saves
	// that goroutine's stack and read buffer, about 10 KiB per idle connection.
	NoPoller bool
	// Outbound configures the sessions' outbound queues and the node's socket writers
	// (queue length, write timeout, read-event delay); zero fields take its defaults.
	Outbound outbound.Config
}

// Defaults of Config.
const (
	DefaultMaxFrameBytes    = stomp.DefaultMaxFrameBytes
	DefaultReadBufferSize   = 2 << 10
	DefaultConnectTimeout   = 10 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultMaxConnectionsPerUser: tabs, devices and reconnects overlapping, with room.
	DefaultMaxConnectionsPerUser = 20
	// Admission defaults (ADR 0025): an honest socket is unauthenticated for one round trip
	// and a token check, so even a reconnect storm holds few such slots at once.
	DefaultMaxUnauthenticated      = 2048
	DefaultMaxUnauthenticatedPerIP = 64
	DefaultMaxSocketsPerIP         = 1000
)

func (c Config) withDefaults() Config {
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxConnectionsPerUser == 0 {
		c.MaxConnectionsPerUser = DefaultMaxConnectionsPerUser
	}
	if c.MaxUnauthenticated == 0 {
		c.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if c.MaxUnauthenticatedPerIP == 0 {
		c.MaxUnauthenticatedPerIP = DefaultMaxUnauthenticatedPerIP
	}
	if c.MaxSocketsPerIP == 0 {
		c.MaxSocketsPerIP = DefaultMaxSocketsPerIP
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.MaxFrameBytes < 1024 {
		errs = append(errs, fmt.Errorf("ws: MaxFrameBytes %d is below 1 KiB", c.MaxFrameBytes))
	}
	if c.ReadBufferSize < 256 {
		errs = append(errs, fmt.Errorf("ws: ReadBufferSize %d is below 256 bytes", c.ReadBufferSize))
	}
	if c.SocketSendBuffer < 0 {
		errs = append(errs, fmt.Errorf("ws: SocketSendBuffer %d is negative", c.SocketSendBuffer))
	}
	if c.MaxConnectionsPerUser < 1 {
		errs = append(errs, fmt.Errorf("ws: MaxConnectionsPerUser %d is below 1", c.MaxConnectionsPerUser))
	}
	if c.MaxUnauthenticated < 1 || c.MaxUnauthenticatedPerIP < 1 || c.MaxSocketsPerIP < 1 {
		errs = append(errs, fmt.Errorf("ws: socket caps must be positive (unauthenticated %d, per address %d, all per address %d)",
			c.MaxUnauthenticated, c.MaxUnauthenticatedPerIP, c.MaxSocketsPerIP))
	}
	if c.ConnectTimeout <= 0 || c.HandshakeTimeout <= 0 {
		errs = append(errs, errors.New("ws: timeouts must be positive"))
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("ws: allowed origin %q is not scheme://host[:port]", o))
		}
	}
	return errors.Join(errs...)
}

// Verifier checks a bearer token (auth.Verifier).
type Verifier interface {
	Verify(ctx context.Context, raw string) (persistence.Identity, error)
}

// Users finds or creates the user a token names (persistence.Store).
type Users interface {
	UpsertUser(ctx context.Context, id persistence.Identity) (persistence.User, error)
}

// Deps are the handler's collaborators; Sessions, Verifier and Users are required.
type Deps struct {
	Sessions Sessions
	Verifier Verifier
	Users    Users
	// APITokens finds API tokens (plt_…) by hash. Nil: Users when it can (persistence.Store
	// does), else API tokens are refused.
	APITokens auth.APITokenStore
	Logger    *slog.Logger
	// ClientIP names the client address the per-address caps count. Nil: the peer address.
	ClientIP *clientip.Resolver
	// Registerer receives the admission and outbound metrics. Nil: kept but not exported.
	Registerer prometheus.Registerer
}

// originAllowed reports whether a browser page at origin may connect.
func (c Config) originAllowed(origin string) bool {
	if origin == "" || len(c.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}
