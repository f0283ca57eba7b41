package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// centClient is one connection to Centrifugo speaking its client protocol (v2, JSON over
// WebSocket): commands {"id":N,"connect"|"subscribe"|"publish":{…}}, replies with the same
// id, pushes without one, and an empty {} from the server every ping interval that the
// client answers with {}. Several replies or pushes may share one frame, one per line.
type centClient struct {
	conn net.Conn
	wmu  sync.Mutex    // the sender's loop and the reader's pong both write
	done chan struct{} // closed when the reader goroutine has returned
	// closing is set by close: a reader ending without it was dropped by the server (a slow
	// consumer, a missed pong), and onDrop runs.
	closing atomic.Bool
	onDrop  func(error)

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]func(centReply)
	closed  error

	// onPush runs on the reader goroutine for each publication: channel and data are
	// slices of the frame, valid only during the call.
	onPush func(channel, data []byte, received time.Time)
}

// centReply is a reply's error, when it has one.
type centReply struct {
	Err error
}

type centReplyJSON struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// dialCentrifugo opens the WebSocket and sends connect with token, waiting for its reply.
func dialCentrifugo(ctx context.Context, url, token string, onPush func(channel, data []byte, received time.Time), onDrop func(error)) (*centClient, error) {
	d := ws.Dialer{Timeout: 10 * time.Second}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &centClient{conn: conn, done: make(chan struct{}), pending: make(map[uint32]func(centReply)), onPush: onPush, onDrop: onDrop}
	go c.read(br)
	body, _ := json.Marshal(map[string]any{"token": token, "name": "parley-bench"})
	if err := c.call(ctx, "connect", body); err != nil {
		c.close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// call sends one command and waits for its reply.
func (c *centClient) call(ctx context.Context, method string, body []byte) error {
	done := make(chan error, 1)
	if err := c.async(method, body, func(r centReply) { done <- r.Err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// async sends one command; reply runs on the reader goroutine when its reply comes (or
// with an error when the connection ends first).
func (c *centClient) async(method string, body []byte, reply func(centReply)) error {
	c.mu.Lock()
	if c.closed != nil {
		err := c.closed
		c.mu.Unlock()
		return err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = reply
	c.mu.Unlock()
	msg := make([]byte, 0, len(body)+32)
	msg = append(msg, `{"id":`...)
	msg = strconv.AppendUint(msg, uint64(id), 10)
	msg = append(msg, `,"`...)
	msg = append(msg, method...)
	msg = append(msg, `":`...)
	msg = append(msg, body...)
	msg = append(msg, '}')
	if err := c.write(msg); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return err
	}
	return nil
}

func (c *centClient) write(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wsutil.WriteClientMessage(c.conn, ws.OpText, msg)
}

// appendPublishBody appends {"channel":"…","data":{"c":"<content>"}}.
func appendPublishBody(dst []byte, channel string, content []byte) []byte {
	dst = append(dst, `{"channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","data":{"c":"`...)
	dst = append(dst, content...) // appendContent writes nothing JSON must escape
	return append(dst, `"}}`...)
}

func (c *centClient) read(br *bufio.Reader) {
	defer close(c.done)
	var src io.Reader = c.conn
	if br != nil && br.Buffered() > 0 {
		src = io.MultiReader(br, c.conn)
	}
	rd := wsutil.NewReader(src, ws.StateClientSide)
	rd.OnIntermediate = wsutil.ControlFrameHandler(c.conn, ws.StateClientSide)
	var buf bytes.Buffer
	var err error
	for {
		var h ws.Header
		if h, err = rd.NextFrame(); err != nil {
			break
		}
		if h.OpCode.IsControl() {
			if err = rd.OnIntermediate(h, rd); err != nil {
				break
			}
			continue
		}
		buf.Reset()
		if _, err = buf.ReadFrom(rd); err != nil {
			break
		}
		now := time.Now()
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if err = c.handle(line, now); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	err = fmt.Errorf("connection closed: %w", err)
	c.fail(err)
	if !c.closing.Load() && c.onDrop != nil {
		c.onDrop(err)
	}
}

var (
	pushPrefix   = []byte(`{"push":`)
	channelKey   = []byte(`"channel":"`)
	contentKey   = []byte(`"data":{"c":"`)
	errBadPush   = errors.New("a push without channel or data")
	errPingReply = []byte(`{}`)
)

// handle is one line: a push (parsed by hand, since at 100,000 deliveries/s encoding/json
// would cost the harness more CPU than the server spends), a ping, or a reply.
func (c *centClient) handle(line []byte, now time.Time) error {
	line = bytes.TrimSpace(line)
	switch {
	case len(line) == 0:
		return nil
	case bytes.Equal(line, errPingReply):
		return c.write(errPingReply)
	case bytes.HasPrefix(line, pushPrefix):
		ch := valueAfter(line, channelKey)
		data := valueAfter(line, contentKey)
		if ch == nil {
			return errBadPush
		}
		if data != nil && c.onPush != nil {
			c.onPush(ch, data, now) // a join/leave or other push has no content: ignored
		}
		return nil
	}
	var r centReplyJSON
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("reply %q: %w", truncate(line, 120), err)
	}
	c.mu.Lock()
	f := c.pending[r.ID]
	delete(c.pending, r.ID)
	c.mu.Unlock()
	if f == nil {
		return nil // an unsolicited reply: Centrifugo sends none we need
	}
	var rep centReply
	if r.Error != nil {
		rep.Err = fmt.Errorf("centrifugo error %d: %s", r.Error.Code, r.Error.Message)
	}
	f(rep)
	return nil
}

// valueAfter returns the string value following key (up to the next quote), or nil.
func valueAfter(b, key []byte) []byte {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return nil
	}
	return b[:j]
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// fail ends every pending call with err.
func (c *centClient) fail(err error) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = err
	}
	pending := c.pending
	c.pending = map[uint32]func(centReply){}
	c.mu.Unlock()
	for _, f := range pending {
		f(centReply{Err: err})
	}
}

func (c *centClient) close() {
	c.closing.Store(true)
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	c.wmu.Unlock()
	_ = c.conn.Close()
	<-c.done // no callback runs after close returns
}
