package stompclient

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// asyncResults collects SendAsync callbacks and fails on a second call for one send.
type asyncResults struct {
	t    *testing.T
	mu   sync.Mutex
	got  map[int]error
	recs map[int]*stomp.Frame
}

func newAsyncResults(t *testing.T) *asyncResults {
	return &asyncResults{t: t, got: map[int]error{}, recs: map[int]*stomp.Frame{}}
}

func (a *asyncResults) done(i int) func(*stomp.Frame, error) {
	return func(f *stomp.Frame, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, dup := a.got[i]; dup {
			a.t.Errorf("send %d: done called twice", i)
		}
		a.got[i], a.recs[i] = err, f
	}
}

func (a *asyncResults) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

func (a *asyncResults) result(i int) (*stomp.Frame, error, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	err, ok := a.got[i]
	return a.recs[i], err, ok
}

func TestClientSendAsync(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	res := newAsyncResults(t)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.SendAsync("/topic/async", []byte(fmt.Sprint(i)), res.done(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every RECEIPT", func() bool { return res.count() == n })
	seqs := map[string]bool{}
	for i := range n {
		f, err, _ := res.result(i)
		if err != nil || f.Command != stomp.CmdReceipt || f.Value("seq") == "" {
			t.Fatalf("send %d: %v, %v", i, f, err)
		}
		seqs[f.Value("seq")] = true
	}
	if len(seqs) != n {
		t.Fatalf("%d distinct seqs in %d receipts: answers were mixed up", len(seqs), n)
	}

	// An ERROR naming the receipt.
	if err := c.SendAsync("/app/fail", []byte("why"), res.done(n)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ERROR", func() bool { _, _, ok := res.result(n); return ok })
	var se *ServerError
	if _, err, _ := res.result(n); !errors.As(err, &se) || se.Frame.Value(stomp.HdrMessage) != "rejected" {
		t.Fatalf("failed SEND: %v", err)
	}
}

func TestClientExpireAsync(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	res := newAsyncResults(t)
	if err := c.SendAsync("/app/silent", nil, res.done(1)); err != nil {
		t.Fatal(err)
	}
	if got := c.ExpireAsync(time.Now().Add(-time.Hour), errors.New("too old")); got != 0 {
		t.Fatalf("ExpireAsync before the send expired %d", got)
	}
	cut := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond) // the cut is after the first send only
	if err := c.SendAsync("/app/silent", nil, res.done(2)); err != nil {
		t.Fatal(err)
	}
	timeout := errors.New("no RECEIPT in time")
	if got := c.ExpireAsync(cut, timeout); got != 1 {
		t.Fatalf("ExpireAsync expired %d, want 1", got)
	}
	if _, err, ok := res.result(1); !ok || !errors.Is(err, timeout) {
		t.Fatalf("expired send: called %v, err %v", ok, err)
	}
	if _, _, ok := res.result(2); ok {
		t.Fatal("the later send expired too")
	}
	// The connection's end answers what is left, once.
	s.kick()
	waitFor(t, "the connection's end", func() bool { return res.count() == 2 })
	if _, err, _ := res.result(2); err == nil {
		t.Fatal("send pending at the connection's end: nil error")
	}
	<-c.Closed()
	called := false
	if err := c.SendAsync("/topic/x", nil, func(*stomp.Frame, error) { called = true }); err == nil {
		t.Fatal("SendAsync on a closed connection: no error")
	}
	if called {
		t.Fatal("SendAsync returned an error and called done")
	}
}
