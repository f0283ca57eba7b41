package ws

import (
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley/actors"
)

// Limits a session is held to beyond the STOMP ones (package actors): how many sessions
// one user may have on this node, and how long a session may outlive its token.
var (
	// ErrTooManyConnections refuses a CONNECT beyond Config.MaxConnectionsPerUser.
	ErrTooManyConnections = &actors.CodedError{Code: "too_many_connections", Text: "too many connections for this user"}
	// ErrTokenExpired ends a session when the token it connected with expires (OWASP:
	// a WebSocket must not outlive the credentials that opened it). The client reconnects
	// with a fresh token, resuming with since-seq.
	ErrTokenExpired = &actors.CodedError{Code: "token_expired", Text: "token expired: reconnect with a fresh token"}
)

// userConns counts each user's sessions on this node. A slot is taken after the token is
// verified and given back when the socket closes, whoever closes it.
type userConns struct {
	max int
	mu  sync.Mutex
	n   map[int64]int
}

func newUserConns(max int) *userConns { return &userConns{max: max, n: make(map[int64]int)} }

// acquire takes one of userID's slots; the returned release may be called any number of
// times and gives it back once.
func (u *userConns) acquire(userID int64) (release func(), err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[userID] >= u.max {
		return nil, fmt.Errorf("%w (at most %d per node)", ErrTooManyConnections, u.max)
	}
	u.n[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			if u.n[userID]--; u.n[userID] <= 0 {
				delete(u.n, userID)
			}
		})
	}, nil
}

// open starts the session of an authenticated CONNECT within the limits: a slot of its
// user, and a timer that ends it with ERROR token_expired when its token expires. Both are
// released when the socket closes (wire.Close runs the hooks). A token past its exp but
// within the verifier's clock leeway is good for REST, not for a session that would end at
// once: it is refused with token_expired.
func (c *socket) open(info actors.SessionInfo, expires time.Time) (*actors.Session, error) {
	if !expires.IsZero() && !time.Now().Before(expires) {
		return nil, ErrTokenExpired
	}
	release, err := c.h.conns.acquire(info.UserID)
	if err != nil {
		return nil, err
	}
	c.wire.hooks.add(release)
	out := c.h.out.Open(c.wire)
	sess, err := c.h.sessions.Open(info, out)
	if err != nil {
		release()
		return nil, err
	}
	out.StartHeartbeats(sess.HeartBeat())
	if !expires.IsZero() {
		t := time.AfterFunc(time.Until(expires), func() { sess.Fail(ErrTokenExpired) })
		c.wire.hooks.add(func() { t.Stop() })
	}
	return sess, nil
}

// closeHooks run once, when the socket closes; a hook added after that runs at once.
type closeHooks struct {
	mu   sync.Mutex
	done bool
	fns  []func()
}

func (h *closeHooks) add(fn func()) {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		fn()
		return
	}
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
}

func (h *closeHooks) run() {
	h.mu.Lock()
	fns := h.fns
	h.fns, h.done = nil, true
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
