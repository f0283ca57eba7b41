package ws

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/clientip"
	"github.com/parley-chat/parley/transport/outbound"
)

// Sessions opens a STOMP session for an authenticated CONNECT (actors.System), which writes
// to the client through out.
type Sessions interface {
	Open(info actors.SessionInfo, out actors.Sink) (*actors.Session, error)
}

// Handler serves GET /ws.
type Handler struct {
	cfg      Config
	sessions Sessions
	verify   Verifier
	users    Users
	tokens   auth.APITokenStore // nil: API tokens refused
	log      *slog.Logger
	upgrader ws.HTTPUpgrader
	out      *outbound.Scheduler // the sessions' queues and socket writers
	poll     *poller             // nil: every socket is read on its own goroutine
	decoders sync.Pool           // *stomp.Decoder with this handler's limits
	readers  sync.Pool           // *bufio.Reader of ReadBufferSize
	conns    *userConns
	admit    *admission
	clientIP *clientip.Resolver
}

// Subprotocols the server speaks, all answered with STOMP 1.2.
var subprotocols = map[string]bool{"v12.stomp": true, "v11.stomp": true, "v10.stomp": true}

// New validates cfg and deps and returns the handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Sessions == nil || deps.Verifier == nil || deps.Users == nil {
		return nil, errors.New("ws: Sessions, Verifier and Users are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.APITokens == nil {
		deps.APITokens, _ = deps.Users.(auth.APITokenStore)
	}
	met, err := newAdmissionMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	out, err := outbound.New(cfg.Outbound, deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ws: %w", err)
	}
	h := &Handler{
		cfg: cfg, sessions: deps.Sessions, verify: deps.Verifier, users: deps.Users, tokens: deps.APITokens, conns: newUserConns(cfg.MaxConnectionsPerUser),
		admit: newAdmission(cfg, met), clientIP: deps.ClientIP, out: out,
		log: deps.Logger.With("component", "ws"),
		upgrader: ws.HTTPUpgrader{
			Timeout:  cfg.HandshakeTimeout,
			Protocol: func(p string) bool { return subprotocols[p] },
		},
	}
	if !cfg.NoPoller {
		h.poll = newPoller()
	}
	lim := stomp.Limits{MaxFrameBytes: cfg.MaxFrameBytes}
	h.decoders.New = func() any { return stomp.NewDecoder(lim) }
	h.readers.New = func() any { return bufio.NewReaderSize(nil, cfg.ReadBufferSize) }
	return h, nil
}

// newReader returns a pooled read buffer on r.
func (h *Handler) newReader(r io.Reader) *bufio.Reader {
	br := h.readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// ServeHTTP upgrades the request and starts the socket's read goroutine. The socket must
// send CONNECT within ConnectTimeout of the upgrade, and counts against the socket caps
// from before the upgrade until it closes (ADR 0025).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.originAllowed(r.Header.Get("Origin")) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	queryToken := r.URL.Query().Get("access_token")
	headerToken := ""
	if t := auth.TokenFromRequest(r); t != queryToken {
		headerToken = t
	}
	ip := h.clientIP.IP(r)
	slot, reason := h.admit.admit(ip)
	if slot == nil {
		h.log.Debug("upgrade refused: socket cap", "client", ip, "reason", reason)
		h.refuseUpgrade(w, reason)
		return
	}
	conn, rw, _, err := h.upgrader.Upgrade(r, w)
	if err != nil {
		slot.release()
		if conn != nil {
			_ = conn.Close()
		}
		h.log.Debug("upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	// The deadline for CONNECT is fixed here: readConnect sets no other, so pings and
	// partial frames cannot keep an unauthenticated socket open.
	_ = conn.SetReadDeadline(time.Now().Add(h.cfg.ConnectTimeout))
	if tc, ok := conn.(*net.TCPConn); ok && h.cfg.SocketSendBuffer > 0 {
		_ = tc.SetWriteBuffer(h.cfg.SocketSendBuffer)
	}
	// Bytes the client sent right behind its handshake sit in net/http's hijacked reader;
	// keep them, not the reader (4 KiB that every idle socket would otherwise hold).
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		early = append([]byte(nil), p...)
	}
	var src io.Reader = conn
	if len(early) > 0 {
		src = &earlyReader{early: early, conn: conn}
	}
	c := &socket{h: h, conn: conn, br: h.newReader(src), wire: &wire{conn: conn, raw: rawConnOf(conn)}, slot: slot}
	c.wire.hooks.add(slot.release) // every path out of the socket closes the wire
	// CONNECT is read on a goroutine of its own so that this one returns: net/http's
	// connection state (its 4 KiB bufio.Reader among it) lives as long as the handler does.
	// Once the session is open, the poller reads the socket and that goroutine ends.
	go c.serve(firstNonEmpty(headerToken, queryToken))
}

// refuseUpgrade answers an upgrade past a socket cap: 503 problem+json with Retry-After,
// before the connection is hijacked, so the refusal holds no socket beyond net/http's own.
func (h *Handler) refuseUpgrade(w http.ResponseWriter, reason string) {
	var detail string
	switch reason {
	case refusedPerIP:
		// These free only when sessions end: a quick retry would be refused again.
		w.Header().Set("Retry-After", "30")
		detail = "too many WebSocket connections from this address"
	case refusedUnauthenticatedPerIP:
		detail = "too many WebSocket connections from this address are waiting for CONNECT"
	default:
		detail = "too many WebSocket connections are waiting for CONNECT"
	}
	p := api.ProblemOf(errcode.ErrUnavailable)
	p.Detail = detail // WriteProblem would show only the title of a 5xx
	hdr := w.Header()
	hdr.Set("Content-Type", "application/problem+json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Connection", "close")
	if hdr.Get("Retry-After") == "" {
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// earlyReader returns the bytes read ahead during the handshake, then reads the socket.
type earlyReader struct {
	early []byte
	conn  net.Conn
}

func (r *earlyReader) Read(p []byte) (int, error) {
	if len(r.early) > 0 {
		n := copy(p, r.early)
		r.early = r.early[n:]
		if len(r.early) == 0 {
			r.early = nil
		}
		return n, nil
	}
	return r.conn.Read(p)
}

// connect authenticates a CONNECT/STOMP frame: Authorization: Bearer, then passcode, then
// the token of the upgrade request (?access_token= or its Authorization header).
func (h *Handler) connect(f *stomp.Frame, requestToken string) (_ actors.SessionInfo, expires time.Time, _ error) {
	if f.Command != stomp.CmdConnect && f.Command != stomp.CmdStomp {
		return actors.SessionInfo{}, time.Time{}, fmt.Errorf("%w: expected CONNECT, got %s", actors.ErrProtocol, f.Command)
	}
	hb, err := stomp.ParseHeartBeat(f.Value(stomp.HdrHeartBeat))
	if err != nil {
		return actors.SessionInfo{}, time.Time{}, fmt.Errorf("%w: %w", actors.ErrProtocol, err)
	}
	if v, ok := f.Get(stomp.HdrAcceptVersion); ok && !acceptsVersion(v) {
		return actors.SessionInfo{}, time.Time{}, fmt.Errorf("%w: this server speaks STOMP 1.2 (accept-version %q)", actors.ErrProtocol, v)
	}
	token := bearer(f.Value(stomp.HdrAuthorization))
	if token == "" {
		token = strings.TrimSpace(f.Value(stomp.HdrPasscode))
	}
	if token == "" {
		token = requestToken
	}
	if token == "" {
		return actors.SessionInfo{}, time.Time{}, fmt.Errorf("%w: CONNECT needs Authorization: Bearer <token> or passcode", errcode.ErrUnauthorized)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.ConnectTimeout)
	defer cancel()
	if auth.IsAPIToken(token) {
		u, t, err := auth.VerifyAPIToken(ctx, h.tokens, token, time.Now())
		if err != nil {
			return actors.SessionInfo{}, time.Time{}, err
		}
		return actors.SessionInfo{UserID: u.ID, Username: u.Username, HeartBeat: hb, TokenID: t.ID}, t.ExpiresAt.Time, nil
	}
	id, err := h.verify.Verify(ctx, token)
	if err != nil {
		return actors.SessionInfo{}, time.Time{}, err
	}
	u, err := h.users.UpsertUser(ctx, id)
	if errors.Is(err, persistence.ErrBotSignIn) {
		// Bad credentials like any other: bots connect with their API tokens (ADR 0036).
		return actors.SessionInfo{}, time.Time{}, fmt.Errorf("%w: a bot signs in with its API tokens only", errcode.ErrUnauthorized)
	}
	if err != nil {
		return actors.SessionInfo{}, time.Time{}, err
	}
	return actors.SessionInfo{UserID: u.ID, Username: u.Username, HeartBeat: hb}, id.ExpiresAt, nil
}

// acceptsVersion: clients of 1.0 and 1.1 are served 1.2 too (the subprotocols say so);
// only a list naming none of them is refused.
func acceptsVersion(v string) bool {
	for p := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(p) {
		case "1.2", "1.1", "1.0":
			return true
		}
	}
	return false
}

func bearer(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// refuse writes ERROR for err and closes the socket (before a session exists).
func (c *socket) refuse(err error) {
	frame := actors.ErrorFrame(err, "", "")
	_ = c.wire.WriteFrames([][]byte{frame}, time.Now().Add(c.h.cfg.HandshakeTimeout))
	_ = c.wire.Close()
}
