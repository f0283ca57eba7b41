package actors

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/stomp"
)

// SessionInfo is who a session speaks for, settled by the transport from CONNECT.
type SessionInfo struct {
	UserID   int64
	Username string
	// HeartBeat is the client's heart-beat header from CONNECT.
	HeartBeat stomp.HeartBeat
	// TokenID is the API token the session connected with (0: a JWT): its revocation
	// ends the session (ADR 0035).
	TokenID int64
}

// Session is one STOMP session: the transport's handle on a connection actor. Its read
// goroutine calls Handle for every frame after CONNECT, Fail on a frame it cannot decode,
// and Close when the socket is gone.
type Session struct {
	sys         *System
	pid         *actor.PID
	out         Sink
	done        <-chan struct{} // out.Done()
	id          string
	userID      int64
	readTimeout time.Duration
	heartBeat   time.Duration
	inflight    chan struct{}
	closeOnce   sync.Once
	// pending counts SENDs not yet answered; DISCONNECT's receipt waits for zero. Atomic:
	// a committed SEND is answered on its channel actor (answer).
	pending       atomic.Int32
	disconnecting atomic.Bool  // DISCONNECT seen; the answer that brings pending to 0 flushes it
	pres          sessPresence // its part in its user's presence (presence.go)
}

// Open starts a session for an authenticated CONNECT: the connection actor is spawned and
// CONNECTED is the first frame queued to out, the session's queue to its socket. It fails
// with ErrShuttingDown while the node drains. The transport sends the heart-beats
// (Session.HeartBeat).
func (s *System) Open(info SessionInfo, out Sink) (*Session, error) {
	if s.draining.Load() {
		return nil, ErrShuttingDown
	}
	clientSends, serverSends := stomp.Negotiate(info.HeartBeat, s.cfg.HeartBeat)
	sess := &Session{
		sys:      s,
		out:      out,
		done:     out.Done(),
		id:       strconv.FormatInt(s.ids.Next(), 10),
		userID:   info.UserID,
		inflight: make(chan struct{}, s.cfg.MaxInflightFrames),
	}
	if clientSends > 0 {
		sess.readTimeout = 2 * clientSends
	}
	sess.heartBeat = serverSends
	connected := stomp.ConnectedFrame(s.cfg.HeartBeat,
		stomp.Header{Key: stomp.HdrSession, Value: sess.id},
		stomp.Header{Key: stomp.HdrServer, Value: "parley/node-" + strconv.Itoa(s.cfg.NodeID)},
		stomp.Header{Key: stomp.HdrUserName, Value: info.Username},
	)
	sess.out.Frame(stomp.AppendFrame(nil, connected))

	s.smu.Lock()
	if s.draining.Load() {
		s.smu.Unlock()
		sess.out.CloseNow()
		return nil, ErrShuttingDown
	}
	sess.pid = s.root.Spawn(s.connProps(sess, info))
	s.sessions[sess] = struct{}{}
	us := s.users[info.UserID]
	if us == nil {
		us = make(map[*Session]struct{})
		s.users[info.UserID] = us
		s.watchUser(info.UserID)
	}
	us[sess] = struct{}{}
	s.smu.Unlock()
	if s.presence != nil {
		s.presence.opened(sess)
	}
	s.met.connections.Inc()
	return sess, nil
}

// ID is the session id sent in CONNECTED.
func (sess *Session) ID() string { return sess.id }

// ReadTimeout is how long the client may stay silent: twice its negotiated heart-beat
// interval, 0 when it sends none.
func (sess *Session) ReadTimeout() time.Duration { return sess.readTimeout }

// HeartBeat is how often the server promised in CONNECTED to send something: the
// transport writes an EOL when the session has been silent for half of it. 0: never.
func (sess *Session) HeartBeat() time.Duration { return sess.heartBeat }

// Handle passes a client frame to the connection actor. It waits while MaxInflightFrames
// frames are being handled, so a flooding client is slowed by TCP rather than buffered; it
// returns false once the session is closed.
func (sess *Session) Handle(f *stomp.Frame) bool {
	select {
	case sess.inflight <- struct{}{}:
	case <-sess.done:
		return false
	}
	sess.sys.root.Send(sess.pid, &clientFrame{f: f})
	return true
}

// TryHandle is Handle without the wait, for a reader that must not block (the transport's
// poller): it returns false, having done nothing, while MaxInflightFrames frames are being
// handled. A frame for a closed session is dropped, which counts as handled.
func (sess *Session) TryHandle(f *stomp.Frame) bool {
	select {
	case sess.inflight <- struct{}{}:
	case <-sess.done:
		return true
	default:
		return false
	}
	sess.sys.root.Send(sess.pid, &clientFrame{f: f})
	return true
}

// Fail answers a frame that could not be decoded (or a protocol violation the transport
// found) with ERROR and closes the session once it is written.
func (sess *Session) Fail(err error) {
	sess.out.CloseAfter(ErrorFrame(err, "", ""))
}

// Close tells the session its socket is gone (the read goroutine has ended). The actor
// unsubscribes everywhere and stops; nothing of the session stays behind.
func (sess *Session) Close() {
	sess.closeOnce.Do(func() {
		sess.out.CloseNow()
		sess.sys.root.Send(sess.pid, &sessionClosed{})
	})
}

// Done is closed once the session's socket is closed, by either side.
func (sess *Session) Done() <-chan struct{} { return sess.done }

// forget removes a stopped session from the registries.
func (s *System) forget(sess *Session) {
	s.smu.Lock()
	delete(s.sessions, sess)
	if us := s.users[sess.userID]; us != nil {
		delete(us, sess)
		if len(us) == 0 {
			delete(s.users, sess.userID)
			s.unwatchUser(sess.userID)
		}
	}
	s.smu.Unlock()
	if s.presence != nil {
		s.presence.closed(sess)
	}
	s.met.connections.Dec()
}
