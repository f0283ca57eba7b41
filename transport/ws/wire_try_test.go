//go:build linux

package ws

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
)

// tcpPair returns both ends of a loopback TCP connection, closed when the test ends.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// A non-blocking write to a socket whose peer does not read fills the socket, keeps the
// rest (cut anywhere, mid-header included), queues a pong behind it, and the next
// WriteFrames writes it all: the client reads every frame whole and in order.
func TestTryWriteFramesKeepsWhatTheSocketRefuses(t *testing.T) {
	server, client := tcpPair(t)
	_ = server.(*net.TCPConn).SetWriteBuffer(8 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(8 << 10)
	w := &wire{conn: server, raw: rawConnOf(server)}

	payload := func(i int) []byte { return []byte(fmt.Sprintf("frame-%06d-%0300d", i, i)) }
	sent, full := 0, false
	for !full && sent < 100000 {
		batch := [][]byte{payload(sent), payload(sent + 1), payload(sent + 2)}
		accepted, flushed, err := w.TryWriteFrames(batch)
		if err != nil || !accepted {
			t.Fatalf("TryWriteFrames: accepted %v, err %v", accepted, err)
		}
		sent += len(batch)
		full = !flushed
	}
	if !full {
		t.Fatal("the socket never filled: the test did not exercise a kept-back write")
	}
	// Behind the kept bytes: more frames (appended, never written ahead) and a pong.
	if accepted, flushed, err := w.TryWriteFrames([][]byte{payload(sent)}); err != nil || !accepted || flushed {
		t.Fatalf("a write behind kept bytes: accepted %v, flushed %v, err %v", accepted, flushed, err)
	}
	sent++
	if err := w.control(gobwas.OpPong, []byte("p")); err != nil {
		t.Fatal(err)
	}
	last := payload(sent)
	sent++
	done := make(chan error, 1)
	go func() { done <- w.WriteFrames([][]byte{last}, time.Now().Add(10*time.Second)) }()

	r := bufio.NewReader(client)
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	pongAt := -1
	for i := 0; i < sent; {
		h, err := gobwas.ReadHeader(r)
		if err != nil {
			t.Fatalf("reading frame %d of %d: %v", i, sent, err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == gobwas.OpPong {
			pongAt = i
			continue
		}
		if want := string(payload(i)); h.OpCode != gobwas.OpText || string(p) != want {
			t.Fatalf("frame %d: op %v %.20q, want text %.20q", i, h.OpCode, p, want)
		}
		i++
	}
	if pongAt != sent-1 {
		t.Fatalf("the pong came before frame %d, want it behind the kept-back ones (before %d)", pongAt, sent-1)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(w.pending) != 0 {
		t.Fatalf("%d bytes still pending after WriteFrames", len(w.pending))
	}
}

// A blocking write (a pong, a drain's WriteFrames) sets a write deadline; once it has
// passed, the next non-blocking write must still go out: RawConn.Write checks the deadline
// before it tries, so a deadline left behind used to drop the session with a timeout.
func TestTryWriteFramesAfterABlockingWrite(t *testing.T) {
	server, client := tcpPair(t)
	w := &wire{conn: server, raw: rawConnOf(server)}
	if !w.CanTryWrite() {
		t.Fatal("a TCP socket has no descriptor for the non-blocking path")
	}
	deadline := time.Now().Add(20 * time.Millisecond)
	if err := w.WriteFrames([][]byte{[]byte("blocking")}, deadline); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(deadline) + 20*time.Millisecond) // let the deadline pass
	accepted, flushed, err := w.TryWriteFrames([][]byte{[]byte("after")})
	if err != nil || !accepted || !flushed {
		t.Fatalf("TryWriteFrames after a blocking write's deadline: accepted %v, flushed %v, err %v", accepted, flushed, err)
	}
	if err := w.control(gobwas.OpPong, nil); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(client)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []string
	for len(got) < 3 {
		h, err := gobwas.ReadHeader(r)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v:%s", h.OpCode, p))
	}
	if want := fmt.Sprintf("%v:blocking %v:after %v:", gobwas.OpText, gobwas.OpText, gobwas.OpPong); fmt.Sprint(got[0], " ", got[1], " ", got[2]) != want {
		t.Fatalf("client read %q, want %q", got, want)
	}
}

// A session closed while its client is still sending: closed at once with those bytes
// unread, the socket would be reset, and the client's next write would fail before it read
// the last frames. The wire lingers instead: the client can still write, then reads the last
// frame, the close frame and a clean end of stream.
func TestCloseLingersWhileTheClientSends(t *testing.T) {
	server, client := tcpPair(t)
	w := &wire{conn: server, raw: rawConnOf(server)}
	junk := make([]byte, 16<<10) // sent, never read by the session
	if _, err := client.Write(junk); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrames([][]byte{[]byte("last words")}, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a reset, if any, has reached the client by now
	if _, err := client.Write(junk); err != nil {
		t.Fatalf("the client's write after the close: %v (the socket was reset)", err)
	}
	r := bufio.NewReader(client)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []gobwas.OpCode{gobwas.OpText, gobwas.OpClose} {
		h, err := gobwas.ReadHeader(r)
		if err != nil || h.OpCode != want {
			t.Fatalf("reading the %v frame: op %v, %v", want, h.OpCode, err)
		}
		if _, err := io.CopyN(io.Discard, r, h.Length); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frame: %v, want EOF", err)
	}
}

// The writers' non-blocking path allocates nothing per write once its scratch is pooled:
// at 20,000 writes a second, each allocation is garbage the node's collector pays for.
func TestTryWriteFramesAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	server, client := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, client) }()
	w := &wire{conn: server, raw: rawConnOf(server)}
	frames := [][]byte{[]byte("MESSAGE\ndestination:/topic/channel.1\n\nhello\x00"), []byte("\n")}
	allocs := testing.AllocsPerRun(1000, func() {
		if accepted, _, err := w.TryWriteFrames(frames); !accepted || err != nil {
			t.Fatalf("TryWriteFrames: accepted %v, err %v", accepted, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write, want 0", allocs)
	}
}
