package stompclient

import (
	"bufio"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/stomp"
)

// testServer is just enough of a STOMP server to exercise the client: the real one lives in
// transport/ws. Destinations under /topic/ fan out to subscribers on every connection;
// /app/fail answers a receipt with ERROR, /app/error sends a receipt-less ERROR, /app/fatal
// sends ERROR and closes; /topic/forbidden refuses SUBSCRIBE.
type testServer struct {
	t   *testing.T
	ln  net.Listener
	url string
	cfg testServerConfig

	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       map[*serverConn]struct{}
	connects    []*stomp.Frame // CONNECT frames received
	queries     []string       // raw query of each upgrade request
	remotes     []net.Addr
	heartbeats  atomic.Int64 // heart-beat EOLs received from clients
	disconnects atomic.Int64
	seq         atomic.Int64
}

type testServerConfig struct {
	heartBeat  stomp.HeartBeat // advertised in CONNECTED
	beatEvery  time.Duration   // how often heart-beats are really sent; 0: never
	split      bool            // write frames in small pieces across WebSocket messages
	eagerHello bool            // send CONNECTED with the upgrade response, before CONNECT
}

type serverConn struct {
	s       *testServer
	conn    net.Conn
	wmu     sync.Mutex
	subs    map[string]string // id → destination, guarded by s.mu
	session string
	query   string // of the upgrade request
	quit    chan struct{}
}

func newTestServer(t *testing.T, cfg testServerConfig) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, cfg: cfg, conns: map[*serverConn]struct{}{}}
	s.url = "ws://" + ln.Addr().String() + "/ws"
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &serverConn{s: s, conn: conn, subs: map[string]string{}, quit: make(chan struct{})}
		s.mu.Lock()
		s.conns[sc] = struct{}{}
		sc.session = "sess-" + strconv.Itoa(len(s.remotes)+1)
		s.remotes = append(s.remotes, conn.RemoteAddr())
		s.mu.Unlock()
		s.wg.Add(1)
		go sc.serve()
	}
}

// kick drops every connection without a word, as a crashed node would.
func (s *testServer) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range s.conns {
		_ = sc.conn.Close()
	}
}

func (s *testServer) close() {
	_ = s.ln.Close()
	s.kick()
	s.wg.Wait()
}

func (s *testServer) lastConnect() (*stomp.Frame, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.connects) == 0 {
		return nil, ""
	}
	return s.connects[len(s.connects)-1], s.queries[len(s.queries)-1]
}

func (sc *serverConn) serve() {
	s := sc.s
	defer s.wg.Done()
	defer func() {
		close(sc.quit)
		_ = sc.conn.Close()
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
	}()
	bw := bufio.NewWriter(sc.conn)
	up := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			u, _ := url.ParseRequestURI(string(uri))
			sc.query = u.RawQuery
			return nil
		},
		Protocol: func(p []byte) bool { return string(p) == "v12.stomp" },
	}
	if _, err := up.Upgrade(struct {
		io.Reader
		io.Writer
	}{sc.conn, bw}); err != nil {
		return
	}
	if s.cfg.eagerHello { // lands in the client's handshake buffer
		_ = wsutil.WriteServerText(bw, stomp.AppendFrame(nil, sc.connected()))
	}
	if bw.Flush() != nil {
		return
	}
	rw := struct {
		io.Reader
		io.Writer
	}{sc.conn, writerFunc(sc.writeRaw)}
	dec := stomp.NewDecoder(stomp.Limits{})
	for {
		data, _, err := wsutil.ReadClientData(rw)
		if err != nil {
			return
		}
		before := dec.Heartbeats()
		dec.Feed(data)
		for {
			f, err := dec.Next()
			if err != nil {
				sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("malformed frame", []byte(err.Error()))))
				return
			}
			if f == nil {
				break
			}
			if !sc.handle(f) {
				return
			}
		}
		s.heartbeats.Add(int64(dec.Heartbeats() - before))
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (sc *serverConn) writeRaw(p []byte) (int, error) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	return sc.conn.Write(p)
}

// send writes encoded frames: one WebSocket message each or, in split mode, all of them
// concatenated and cut into 1..7-byte pieces sent as fragmented messages of three frames
// each, with a ping inside every message.
func (sc *serverConn) send(frames ...[]byte) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if !sc.s.cfg.split {
		for _, b := range frames {
			_ = wsutil.WriteServerText(sc.conn, b)
		}
		return
	}
	var all []byte
	for _, b := range frames {
		all = append(all, b...)
	}
	for i, n := 0, 1; len(all) > 0; i, n = i+1, n%7+1 {
		k := min(n, len(all))
		op := ws.OpContinuation
		if i%3 == 0 {
			op = ws.OpBinary
		}
		fin := i%3 == 2 || k == len(all)
		_ = ws.WriteFrame(sc.conn, ws.NewFrame(op, fin, all[:k]))
		if i%3 == 0 && !fin {
			_ = ws.WriteFrame(sc.conn, ws.NewPingFrame([]byte("ping")))
		}
		all = all[k:]
	}
}

func (sc *serverConn) connected() *stomp.Frame {
	return stomp.ConnectedFrame(sc.s.cfg.heartBeat,
		stomp.Header{Key: stomp.HdrSession, Value: sc.session}, stomp.Header{Key: stomp.HdrServer, Value: "test/1"}, stomp.Header{Key: stomp.HdrUserName, Value: "alice"})
}

func (sc *serverConn) receipt(f *stomp.Frame, extra ...stomp.Header) []byte {
	id, ok := f.Get(stomp.HdrReceipt)
	if !ok {
		return nil
	}
	return stomp.AppendReceipt(nil, id, extra...)
}

// handle answers one client frame; false closes the connection.
func (sc *serverConn) handle(f *stomp.Frame) bool {
	s := sc.s
	switch f.Command {
	case stomp.CmdConnect, stomp.CmdStomp:
		s.mu.Lock()
		s.connects = append(s.connects, f)
		s.queries = append(s.queries, sc.query)
		s.mu.Unlock()
		if f.Value(stomp.HdrAuthorization) != "Bearer good" && f.Value(stomp.HdrPasscode) != "good" &&
			sc.query != "access_token=good" {
			sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("unauthorized", []byte("bad token"))))
			return false
		}
		if s.cfg.eagerHello {
			return true
		}
		sc.send(stomp.AppendFrame(nil, sc.connected()))
		if s.cfg.beatEvery > 0 {
			s.wg.Add(1)
			go sc.beat()
		}
	case stomp.CmdSubscribe:
		dest := f.Value(stomp.HdrDestination)
		if dest == "/topic/forbidden" {
			sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("forbidden "+dest, nil,
				stomp.Header{Key: stomp.HdrReceiptID, Value: f.Value(stomp.HdrReceipt)})))
			return true
		}
		s.mu.Lock()
		sc.subs[f.Value(stomp.HdrID)] = dest
		s.mu.Unlock()
		var out [][]byte
		if since, ok := f.Get("since-seq"); ok { // a replay precedes the receipt
			t := stomp.NewMessageTemplate(dest, "text/plain", nil, []byte("replay after "+since))
			out = append(out, t.AppendTo(nil, f.Value(stomp.HdrID), "replayed"))
		}
		sc.send(append(out, sc.receipt(f))...)
	case stomp.CmdUnsubscribe:
		s.mu.Lock()
		delete(sc.subs, f.Value(stomp.HdrID))
		s.mu.Unlock()
		sc.send(sc.receipt(f))
	case stomp.CmdSend:
		return sc.handleSend(f)
	case stomp.CmdDisconnect:
		s.disconnects.Add(1)
		sc.send(sc.receipt(f))
		return false
	}
	return true
}

func (sc *serverConn) handleSend(f *stomp.Frame) bool {
	s := sc.s
	dest := f.Value(stomp.HdrDestination)
	switch dest {
	case "/app/fail":
		sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("rejected", f.Body, stomp.Header{Key: stomp.HdrReceiptID, Value: f.Value(stomp.HdrReceipt)})))
		return true
	case "/app/error":
		sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("something odd", nil)))
		return true
	case "/app/fatal":
		sc.send(stomp.AppendFrame(nil, stomp.ErrorFrame("going away", nil)))
		return false
	case "/app/silent": // never answered
		return true
	}
	seq := strconv.FormatInt(s.seq.Add(1), 10)
	t := stomp.NewMessageTemplate(dest, f.Value(stomp.HdrContentType), []stomp.Header{{Key: "seq", Value: seq}}, f.Body)
	type target struct {
		sc  *serverConn
		ids []string
	}
	var targets []target
	s.mu.Lock()
	for other := range s.conns {
		var ids []string
		for id, d := range other.subs {
			if d == dest {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			targets = append(targets, target{other, ids})
		}
	}
	s.mu.Unlock()
	for _, tg := range targets {
		for _, id := range tg.ids {
			tg.sc.send(t.AppendTo(nil, id, "m-"+seq))
		}
	}
	if r := sc.receipt(f, stomp.Header{Key: stomp.HdrMessageID, Value: "m-" + seq}, stomp.Header{Key: "seq", Value: seq}); r != nil {
		sc.send(r)
	}
	return true
}

// beat sends heart-beat EOLs every beatEvery until the connection ends.
func (sc *serverConn) beat() {
	defer sc.s.wg.Done()
	t := time.NewTicker(sc.s.cfg.beatEvery)
	defer t.Stop()
	for {
		select {
		case <-sc.quit:
			return
		case <-t.C:
			sc.send([]byte("\n"))
		}
	}
}
