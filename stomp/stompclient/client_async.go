package stompclient

import (
	"strconv"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// A client that offers thousands of sends a second (parley bench) paid, per send, a goroutine
// to wait for the RECEIPT, a context with its timer, and a select: about half of the
// harness's CPU in a profile of the hot-channel benchmark. SendAsync asks for the RECEIPT and
// returns; the read goroutine calls back when it comes. Its waits are bounded by
// ExpireAsync, called by the owner on its own clock, instead of a timer each.

// waiter is a request waiting for its RECEIPT: a channel (SendWithReceipt and the other
// blocking calls) or a callback (SendAsync).
type waiter struct {
	ch   chan *stomp.Frame
	done func(*stomp.Frame, error)
	sent int64 // unix nanos; callbacks only, for ExpireAsync
}

// SendAsync sends a SEND frame with a receipt and returns without waiting for it. done runs
// exactly once, on the goroutine that reads the connection: with the RECEIPT, with the ERROR
// naming the receipt and a *ServerError, with the connection's final error when it ends
// first, or with ExpireAsync's error. It must not block. SendAsync returns an error, and done
// never runs, only when the frame could not be written.
func (c *Client) SendAsync(dest string, body []byte, done func(*stomp.Frame, error), headers ...stomp.Header) error {
	f := sendFrame(dest, body, headers)
	id := "r" + strconv.FormatUint(c.nextID.Add(1), 10)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return c.closedErr()
	}
	c.pending[id] = waiter{done: done, sent: time.Now().UnixNano()}
	c.mu.Unlock()
	f.Add(stomp.HdrReceipt, id)
	if err := c.writeFrame(f); err != nil {
		c.mu.Lock()
		_, mine := c.pending[id] // else the connection's end has taken it and calls done
		delete(c.pending, id)
		c.mu.Unlock()
		if mine {
			return err
		}
	}
	return nil
}

// ExpireAsync gives up on the SendAsync calls made before before and still unanswered:
// each one's done runs with err, on the calling goroutine, and a RECEIPT that comes later is
// ignored. It returns how many expired.
func (c *Client) ExpireAsync(before time.Time, err error) int {
	limit := before.UnixNano()
	var expired []waiter
	c.mu.Lock()
	for id, w := range c.pending {
		if w.done != nil && w.sent < limit {
			expired = append(expired, w)
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	for _, w := range expired {
		w.done(nil, err)
	}
	return len(expired)
}
