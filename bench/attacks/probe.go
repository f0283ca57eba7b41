package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// perSenderRate keeps each probe connection under the node's default send limit (20/s,
// burst 50): the probe is a normal client, not a flood.
const perSenderRate = 16.0

// receiptTimeout is how long a probe send may wait for its RECEIPT before it counts as an
// error ("timeout").
const receiptTimeout = 10 * time.Second

// probe is normal users' traffic: messages every interval on the probe channel, spread
// over enough sender connections (each its own user) to stay within the send limit, and
// another user subscribed to that channel. Every message's send → deliver time is on this process's
// clock.
type probe struct {
	t        *target
	w        *world
	interval time.Duration

	mu      sync.Mutex
	recs    []probeRecord
	senders []*stompclient.Client
	recv    *stompclient.Client

	stop    chan struct{}
	done    chan struct{}
	started bool
}

var contentPrefix = []byte(`"content":"probe n=`)

// probeSenders is how many sender connections (and users) a probe of interval needs.
func probeSenders(interval time.Duration) int {
	return max(1, int(float64(time.Second)/float64(interval)/perSenderRate+0.999))
}

func startProbe(ctx context.Context, t *target, w *world, interval time.Duration) (*probe, error) {
	p := &probe{t: t, w: w, interval: interval, senders: make([]*stompclient.Client, len(w.probeSenders)),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := p.dialReceiver(ctx); err != nil {
		return nil, err
	}
	for i := range p.senders {
		c, err := stompclient.Dial(ctx, t.ws, stompclient.ClientOptions{Token: w.probeSenders[i]})
		if err != nil {
			p.close()
			return nil, fmt.Errorf("probe sender: %w", err)
		}
		p.senders[i] = c
	}
	p.started = true
	go p.run()
	return p, nil
}

func (p *probe) dialReceiver(ctx context.Context) error {
	c, err := stompclient.Dial(ctx, p.t.ws, stompclient.ClientOptions{Token: p.w.probeReceiver})
	if err != nil {
		return fmt.Errorf("probe receiver: %w", err)
	}
	if _, err := c.SubscribeFunc(actors.ChannelDestination(p.w.probeChannel), p.onMessage); err != nil {
		_ = c.Close()
		return fmt.Errorf("probe subscribe: %w", err)
	}
	p.mu.Lock()
	p.recv = c
	p.mu.Unlock()
	return nil
}

// onMessage runs on the receiver's read goroutine.
func (p *probe) onMessage(f *stomp.Frame, received time.Time) {
	i := bytes.Index(f.Body, contentPrefix)
	if i < 0 {
		return
	}
	rest := f.Body[i+len(contentPrefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil {
		return
	}
	p.mu.Lock()
	if n >= 0 && n < len(p.recs) && p.recs[n].delivered.IsZero() {
		p.recs[n].delivered = received
	}
	p.mu.Unlock()
}

func (p *probe) run() {
	defer close(p.done)
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	var k int
	redialing := make([]bool, len(p.senders)+1)
	var redials sync.WaitGroup
	defer redials.Wait()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		// A connection the node closed is dialled again, as a client would; what it missed
		// counts as missing.
		p.mu.Lock()
		redialRecv := closed(p.recv) && !redialing[0]
		if redialRecv {
			redialing[0] = true
		}
		p.mu.Unlock()
		if redialRecv {
			redials.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = p.dialReceiver(ctx)
				p.mu.Lock()
				redialing[0] = false
				p.mu.Unlock()
			})
		}
		si := k % len(p.senders)
		k++
		p.mu.Lock()
		c := p.senders[si]
		n := len(p.recs)
		p.recs = append(p.recs, probeRecord{sent: time.Now()})
		down := closed(c)
		redial := down && !redialing[si+1]
		if redial {
			redialing[si+1] = true
		}
		p.mu.Unlock()
		if down {
			p.fail(n, "closed")
			if redial {
				redials.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if nc, err := stompclient.Dial(ctx, p.t.ws, stompclient.ClientOptions{Token: p.w.probeSenders[si]}); err == nil {
						p.mu.Lock()
						p.senders[si] = nc
						p.mu.Unlock()
					}
					p.mu.Lock()
					redialing[si+1] = false
					p.mu.Unlock()
				})
			}
			continue
		}
		body := fmt.Appendf(nil, `{"channelId":"%d","content":"probe n=%d"}`, p.w.probeChannel, n)
		err := c.SendAsync("/app/message.send", body, func(_ *stomp.Frame, err error) {
			if err != nil {
				p.fail(n, errCode(err))
				return
			}
			p.mu.Lock()
			p.recs[n].acked = time.Now()
			p.mu.Unlock()
		})
		if err != nil {
			p.fail(n, errCode(err))
		}
		for _, s := range p.senders {
			s.ExpireAsync(time.Now().Add(-receiptTimeout), errReceiptTimeout)
		}
	}
}

var errReceiptTimeout = errors.New("receipt timeout")

func (p *probe) fail(n int, code string) {
	p.mu.Lock()
	if p.recs[n].err == "" {
		p.recs[n].err = code
	}
	p.mu.Unlock()
}

// window summarises the messages sent in [from, to).
func (p *probe) window(from, to time.Time) window {
	p.mu.Lock()
	defer p.mu.Unlock()
	return summarise(p.recs, from, to)
}

func (p *probe) close() {
	if p.started {
		p.started = false
		close(p.stop)
		<-p.done
	}
	p.mu.Lock()
	cs := append([]*stompclient.Client{p.recv}, p.senders...)
	p.mu.Unlock()
	for _, c := range cs {
		if c != nil {
			_ = c.Close()
		}
	}
}

func closed(c *stompclient.Client) bool {
	if c == nil {
		return true
	}
	select {
	case <-c.Closed():
		return true
	default:
		return false
	}
}

// errCode names an error for counting: the ERROR frame's code, or a short kind.
func errCode(err error) string {
	var se *stompclient.ServerError
	switch {
	case errors.As(err, &se):
		if c := se.Frame.Value("code"); c != "" {
			return c
		}
		return "error"
	case errors.Is(err, errReceiptTimeout):
		return "timeout"
	case errors.Is(err, stompclient.ErrClosed):
		return "closed"
	default:
		return "connection"
	}
}
