package stompclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
)

// Client errors.
var (
	// ErrClosed is what a Client's calls return once Close was called.
	ErrClosed = errors.New("stomp: client closed")
	// ErrHeartbeatTimeout is the cause when the server was silent for twice its heart-beat interval.
	ErrHeartbeatTimeout = errors.New("stomp: server heart-beat timeout")
)

// ServerError carries an ERROR frame from the server: the answer to CONNECT, to a frame with a
// receipt, or the frame after which the server closed the connection.
type ServerError struct {
	Frame *stomp.Frame
}

func (e *ServerError) Error() string {
	msg := "stomp: server error: " + e.Frame.Value(stomp.HdrMessage)
	if len(e.Frame.Body) > 0 && len(e.Frame.Body) <= 200 {
		msg += ": " + string(e.Frame.Body)
	}
	return msg
}

// AuthMode says where Dial puts ClientOptions.Token.
type AuthMode int

const (
	AuthBearer   AuthMode = iota // "Authorization: Bearer <token>" on CONNECT (default)
	AuthPasscode                 // "passcode:<token>" on CONNECT
	AuthQuery                    // "?access_token=<token>" on the WebSocket URL, as browsers do
)

// MessageFunc receives a subscription's MESSAGE on the client's read goroutine, with the time
// its bytes were read from the socket. It must not block nor call a Client method that waits
// for the server (Subscribe, Unsubscribe, SendWithReceipt, Close).
type MessageFunc func(f *stomp.Frame, received time.Time)

// ClientOptions configures Dial. Zero fields take the defaults.
type ClientOptions struct {
	Token string
	Auth  AuthMode
	// Login is sent as the login header when not empty.
	Login string
	// Host is the CONNECT host header. Default: the URL's host name.
	Host string
	// HeartBeat is what the client offers; zero means no heart-beats either way.
	HeartBeat stomp.HeartBeat
	// ConnectHeaders are added to CONNECT, replacing defaults with the same key.
	ConnectHeaders []stomp.Header
	// LocalAddr is the source address to bind, e.g. &net.TCPAddr{IP: 127.0.0.5} (port 0), to
	// spread many clients over source addresses. Nil: the system's choice.
	LocalAddr net.Addr
	// ReadBufferSize is the socket read buffer in bytes. Default 16 KiB.
	ReadBufferSize int
	// Limits bound frames from the server.
	Limits stomp.Limits
	// RequestTimeout bounds Subscribe's and Unsubscribe's wait for their RECEIPT. Default 10 s.
	RequestTimeout time.Duration
	// WriteTimeout bounds one socket write. Default 10 s.
	WriteTimeout time.Duration
	// CloseTimeout bounds Close's wait for the DISCONNECT receipt. Default 2 s.
	CloseTimeout time.Duration
	// SubscriptionBuffer is the capacity of Subscription.C. Default 256. When it is full the
	// read goroutine waits, as TCP would.
	SubscriptionBuffer int
	// OnError receives ERROR frames that answer no receipt, on the read goroutine. Nil: they go
	// to the Errors channel.
	OnError func(*stomp.Frame)
	// Poller, when set, reads the socket from one of its loops instead of a goroutine of the
	// Client's own (Linux; elsewhere, or if the Poller refuses the socket, the goroutine).
	// MessageFuncs and OnError then run on the loop, shared with other Clients: a slow one
	// delays them all, and a Subscription whose C is full holds the loop up (use
	// SubscribeFunc). ReadBufferSize is then unused: the loop reads into its own buffer.
	Poller *Poller
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 16 << 10
	}
	// Limits: zero fields take the codec's defaults in stomp.NewDecoder, the only reader.
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 2 * time.Second
	}
	if o.SubscriptionBuffer <= 0 {
		o.SubscriptionBuffer = 256
	}
	return o
}

// Client is a STOMP 1.2 connection over WebSocket. It is safe for concurrent use.
type Client struct {
	opts ClientOptions
	conn net.Conn
	br   *bufio.Reader
	dec  *stomp.Decoder
	// Read goroutine (or Poller loop) only.
	rd      frameReader
	wsState ws.State // tracks fragmentation for ws.CheckHeader
	polled  *polled  // non-nil when a Poller reads the socket

	connected *stomp.Frame  // set by the read goroutine before ready is closed
	ready     chan struct{} // CONNECTED received

	wmu       sync.Mutex
	wbuf      []byte
	lastWrite atomic.Int64 // unix nanos
	lastRead  atomic.Int64 // unix nanos
	nextID    atomic.Uint64

	mu        sync.Mutex
	subs      map[string]*Subscription
	pending   map[string]waiter // receipt id → request waiting for it; nil once closed
	lastError *stomp.Frame
	cause     error // why fail() closed the connection
	err       error // final error, set before closed is closed

	errs     chan *stomp.Frame
	closing  atomic.Bool
	quit     chan struct{} // closed when Close starts or the connection fails
	quitOnce sync.Once
	closed   chan struct{} // closed when the read goroutine has finished
	closeMu  sync.Mutex
	wg       sync.WaitGroup
}

// Dial opens a WebSocket to rawURL (ws:// or wss://), sends CONNECT and waits for CONNECTED.
// An ERROR answer is returned as a *ServerError.
func Dial(ctx context.Context, rawURL string, opts ClientOptions) (*Client, error) {
	opts = opts.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("stomp: dial: %w", err)
	}
	if a, ok := opts.LocalAddr.(*net.TCPAddr); ok && a.Port != 0 {
		// A fixed source port works for one connection and then collides (TIME_WAIT included).
		return nil, fmt.Errorf("stomp: dial: LocalAddr %v must have port 0", a)
	}
	if opts.Auth == AuthQuery {
		q := u.Query()
		q.Set("access_token", opts.Token)
		u.RawQuery = q.Encode()
	}
	nd := &net.Dialer{LocalAddr: opts.LocalAddr}
	d := ws.Dialer{
		Protocols:      []string{"v12.stomp"},
		ReadBufferSize: opts.ReadBufferSize,
		NetDial:        nd.DialContext,
	}
	conn, br, _, err := d.Dial(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("stomp: dial %s: %w", u.Redacted(), err)
	}
	c := &Client{
		opts:    opts,
		conn:    conn,
		dec:     stomp.NewDecoder(opts.Limits),
		wbuf:    make([]byte, 0, 512),
		wsState: ws.StateClientSide,
		ready:   make(chan struct{}),
		subs:    make(map[string]*Subscription),
		pending: make(map[string]waiter),
		errs:    make(chan *stomp.Frame, 32),
		quit:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
	now := time.Now().UnixNano()
	c.lastRead.Store(now)
	c.lastWrite.Store(now)
	if err := c.startReading(br); err != nil {
		_ = conn.Close()
		return nil, err
	}

	host := opts.Host
	if host == "" {
		host = u.Hostname()
	}
	if err := c.writeFrame(c.connectFrame(host)); err != nil {
		c.abort(err)
		return nil, err
	}
	select {
	case <-c.ready:
	case <-c.closed:
		err := c.Err()
		c.wg.Wait()
		return nil, err
	case <-ctx.Done():
		c.abort(ctx.Err())
		return nil, fmt.Errorf("stomp: waiting for CONNECTED: %w", ctx.Err())
	}
	srv, err := stomp.ParseHeartBeat(c.connected.Value(stomp.HdrHeartBeat))
	if err != nil {
		c.abort(err)
		return nil, err
	}
	if send, recv := stomp.Negotiate(opts.HeartBeat, srv); send > 0 || recv > 0 {
		c.wg.Add(1)
		go c.heartbeats(send, recv)
	}
	return c, nil
}

// startReading hands the socket to the Poller, after parsing what the handshake's reader
// holds already, or else to a read goroutine.
func (c *Client) startReading(br *bufio.Reader) error {
	if c.opts.Poller != nil {
		if br != nil {
			p, _ := br.Peek(br.Buffered())
			if err := c.consume(p, time.Now()); err != nil {
				return err
			}
		}
		if c.opts.Poller.attach(c) == nil {
			return nil
		}
		br = nil // its bytes are parsed: the read goroutine starts from the socket
	}
	if br == nil {
		br = bufio.NewReaderSize(c.conn, c.opts.ReadBufferSize)
	} // else br holds frames the server sent right after the handshake, then reads conn itself
	c.br = br
	c.wg.Add(1)
	go c.readLoop()
	return nil
}

// shutConn ends the connection from any goroutine; the reader then finishes the Client. A
// read goroutine's read fails on the closed socket; a polled socket is shut down instead,
// and its loop closes it (see polled.shutdown).
func (c *Client) shutConn() {
	if c.polled != nil {
		c.polled.shutdown()
		return
	}
	_ = c.conn.Close()
}

func (c *Client) connectFrame(host string) *stomp.Frame {
	f := &stomp.Frame{Command: stomp.CmdConnect, Headers: make([]stomp.Header, 0, 6+len(c.opts.ConnectHeaders))}
	f.Add(stomp.HdrAcceptVersion, "1.2")
	f.Add(stomp.HdrHost, host)
	f.Add(stomp.HdrHeartBeat, c.opts.HeartBeat.String())
	if c.opts.Login != "" {
		f.Add(stomp.HdrLogin, c.opts.Login)
	}
	switch c.opts.Auth {
	case AuthBearer:
		if c.opts.Token != "" {
			f.Add(stomp.HdrAuthorization, "Bearer "+c.opts.Token)
		}
	case AuthPasscode:
		f.Add(stomp.HdrPasscode, c.opts.Token)
	}
	for _, h := range c.opts.ConnectHeaders {
		f.Set(h.Key, h.Value)
	}
	return f
}

// abort tears down a Client that Dial will not return.
func (c *Client) abort(err error) {
	c.fail(err)
	c.wg.Wait()
}

// Connected returns the server's CONNECTED frame (session, server, user-name, heart-beat).
func (c *Client) Connected() *stomp.Frame { return c.connected }

// Errors delivers ERROR frames that answer no receipt when ClientOptions.OnError is nil. It is
// never closed (select on Closed too); frames are dropped while it is full.
func (c *Client) Errors() <-chan *stomp.Frame { return c.errs }

// Closed is closed once the connection is gone, by Close or by the server; Err says why.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Err returns nil while connected, ErrClosed after Close, otherwise why the connection ended
// (a *ServerError if the server sent ERROR before closing, ErrHeartbeatTimeout, an I/O error).
func (c *Client) Err() error {
	select {
	case <-c.closed:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err
	default:
		return nil
	}
}

// Send sends a SEND frame without a receipt.
func (c *Client) Send(dest string, body []byte, headers ...stomp.Header) error {
	return c.writeFrame(sendFrame(dest, body, headers))
}

// SendWithReceipt sends a SEND frame with a receipt and returns the server's RECEIPT (for
// /app/message.send it carries message-id and seq), or a *ServerError built from an ERROR
// that names the receipt.
func (c *Client) SendWithReceipt(ctx context.Context, dest string, body []byte, headers ...stomp.Header) (*stomp.Frame, error) {
	return c.request(ctx, sendFrame(dest, body, headers))
}

func sendFrame(dest string, body []byte, headers []stomp.Header) *stomp.Frame {
	hs := make([]stomp.Header, 0, len(headers)+2) // room for the receipt
	hs = append(hs, stomp.Header{Key: stomp.HdrDestination, Value: dest})
	return &stomp.Frame{Command: stomp.CmdSend, Headers: append(hs, headers...), Body: body}
}

// request sends f with a fresh receipt header and waits for the matching RECEIPT or ERROR.
func (c *Client) request(ctx context.Context, f *stomp.Frame) (*stomp.Frame, error) {
	id := "r" + strconv.FormatUint(c.nextID.Add(1), 10)
	ch := make(chan *stomp.Frame, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.pending[id] = waiter{ch: ch}
	c.mu.Unlock()
	f.Add(stomp.HdrReceipt, id)
	if err := c.writeFrame(f); err != nil {
		c.dropPending(id)
		return nil, err
	}
	var r *stomp.Frame
	select {
	case r = <-ch:
	case <-ctx.Done():
		c.dropPending(id)
		return nil, fmt.Errorf("stomp: waiting for receipt of %s: %w", f.Command, ctx.Err())
	case <-c.closed:
		select {
		case r = <-ch: // answered just before the connection ended
		default:
			return nil, c.closedErr()
		}
	}
	if r.Command == stomp.CmdError {
		return r, &ServerError{Frame: r}
	}
	return r, nil
}

func (c *Client) dropPending(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// closedErr is the error for a call made on a Client whose connection is gone or going.
func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// Close sends DISCONNECT, waits up to CloseTimeout for its receipt, closes the socket and waits
// for the Client's goroutines. It returns nil when the server acknowledged or the connection
// was already gone. Close is idempotent and safe to call concurrently.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closing.Swap(true) {
		<-c.closed
		return nil
	}
	// Stop deliveries first: a read goroutine blocked on a full Subscription.C would never
	// read the DISCONNECT receipt.
	c.mu.Lock()
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	for _, s := range subs {
		s.close()
	}
	var err error
	select {
	case <-c.closed:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.CloseTimeout)
		_, err = c.request(ctx, &stomp.Frame{Command: stomp.CmdDisconnect})
		cancel()
		select {
		case <-c.closed: // gone meanwhile (servers close right after the receipt): nothing lost
			err = nil
		default:
		}
	}
	c.quitOnce.Do(func() { close(c.quit) })
	_ = c.writeControl(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	c.shutConn()
	c.wg.Wait()
	return err
}
