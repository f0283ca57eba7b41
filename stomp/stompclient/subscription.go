package stompclient

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// Subscription is one SUBSCRIBE of a Client.
type Subscription struct {
	ID          string
	Destination string
	// C receives the subscription's MESSAGE frames unless it was made with SubscribeFunc (then
	// C is nil). It is closed after Unsubscribe or when the connection ends.
	C <-chan *stomp.Frame

	c         *Client
	fn        MessageFunc
	ch        chan *stomp.Frame
	done      chan struct{} // closed first, so that a blocked delivery gives up
	mu        sync.Mutex    // orders deliveries before close(ch)
	closeOnce sync.Once
}

// Subscribe subscribes to dest with extra headers (e.g. since-seq) and waits, up to
// RequestTimeout, for the server's RECEIPT: from then on nothing sent to dest is missed.
// Messages arrive on Subscription.C.
func (c *Client) Subscribe(dest string, headers ...stomp.Header) (*Subscription, error) {
	return c.subscribe(dest, nil, headers)
}

// SubscribeFunc is Subscribe with messages handed to fn on the read goroutine instead of a
// channel, which a load generator prefers: no channel hop, and the socket read time.
func (c *Client) SubscribeFunc(dest string, fn MessageFunc, headers ...stomp.Header) (*Subscription, error) {
	return c.subscribe(dest, fn, headers)
}

func (c *Client) subscribe(dest string, fn MessageFunc, headers []stomp.Header) (*Subscription, error) {
	s := &Subscription{
		ID:          "sub-" + strconv.FormatUint(c.nextID.Add(1), 10),
		Destination: dest,
		c:           c,
		fn:          fn,
		done:        make(chan struct{}),
	}
	if fn == nil {
		s.ch = make(chan *stomp.Frame, c.opts.SubscriptionBuffer)
		s.C = s.ch
	}
	// Registered before SUBSCRIBE is sent: a server may replay (since-seq) before its RECEIPT.
	c.mu.Lock()
	if c.subs == nil {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.subs[s.ID] = s
	c.mu.Unlock()

	f := &stomp.Frame{Command: stomp.CmdSubscribe, Headers: make([]stomp.Header, 0, len(headers)+4)}
	f.Add(stomp.HdrDestination, dest)
	f.Add(stomp.HdrID, s.ID)
	f.Add("ack", "auto")
	f.Headers = append(f.Headers, headers...)
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	if _, err := c.request(ctx, f); err != nil {
		c.forget(s)
		return nil, err
	}
	return s, nil
}

// Unsubscribe stops deliveries at once, then sends UNSUBSCRIBE and waits for its RECEIPT. After
// the connection has ended it only releases the subscription.
func (s *Subscription) Unsubscribe() error {
	c := s.c
	c.mu.Lock()
	_, live := c.subs[s.ID]
	c.mu.Unlock()
	c.forget(s)
	if !live {
		return nil
	}
	f := &stomp.Frame{Command: stomp.CmdUnsubscribe, Headers: make([]stomp.Header, 1, 2)}
	f.Headers[0] = stomp.Header{Key: stomp.HdrID, Value: s.ID}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	_, err := c.request(ctx, f)
	return err
}

func (c *Client) forget(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s.ID) // no-op on a nil map
	c.mu.Unlock()
	s.close()
}

func (s *Subscription) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		if s.ch != nil {
			close(s.ch)
		}
		s.mu.Unlock()
	})
}

// deliver runs on the read goroutine.
func (s *Subscription) deliver(f *stomp.Frame, now time.Time) {
	if s.fn != nil {
		select {
		case <-s.done:
		default:
			s.fn(f, now)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	select {
	case s.ch <- f:
	case <-s.done:
	case <-s.c.quit:
	}
}
