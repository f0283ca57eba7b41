package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/bench"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// loadSpec is a scenario's steady load: senders post over STOMP (each send with a receipt,
// pipelined), receivers subscribe to every channel and may report read markers, one
// optional REST poster.
type loadSpec struct {
	senders   []*user
	receivers []*user
	channels  []int64
	// rate is sends per second per sender; inflight bounds a sender's sends waiting for an
	// answer (default 64).
	rate     float64
	inflight int
	// padding is extra bytes of content per message.
	padding int
	// readEvery is how often a receiver marks its newest delivered seq read (0: never).
	readEvery time.Duration
	// restEvery is how often the REST poster (senders[0]'s user, first channel) posts (0: no
	// REST poster).
	restEvery time.Duration
	// url says where clients (re)connect: given the client's index (receivers first, then
	// senders), a WebSocket URL and the REST base URL.
	url func(i int) (ws, base string)
	// resume makes a receiver whose connection ends reconnect and resubscribe with
	// since-seq; otherwise it is left as it is.
	resume bool
	// resend makes a sender whose connection ends reconnect and go on; otherwise it stops.
	resend bool
	// answerTimeout bounds the wait for one RECEIPT (default 30 s).
	answerTimeout time.Duration
}

type outcome int

const (
	acked      outcome = iota // RECEIPT or 201
	refused                   // ERROR naming the receipt, or a REST error status
	unanswered                // the connection ended, the wait timed out, or "outcome_unknown"
)

// sendRecord is one send and what became of it.
type sendRecord struct {
	cmid     string // clientMsgId: unique in the test, so PostgreSQL can be asked about it
	channel  int64
	rest     bool
	start    time.Time
	answered time.Time
	result   outcome
	code     string // ERROR code header, or the problem+json code
	detail   string // ERROR message header, or status and content type
	id, seq  int64
}

// receiver is one subscribed client's delivery log, kept raw for bench.CheckLogs.
type receiver struct {
	idx int
	u   *user

	mu         sync.Mutex
	cli        *stompclient.Client
	log        bench.ReceiverLog
	last       map[int64]int64 // highest seq delivered per channel
	marked     map[int64]int64 // highest seq whose read marker was acknowledged
	markedAt   time.Time       // when the last read marker was acknowledged
	latencies  []time.Duration // send → deliver, client clocks only
	errs       []*stomp.Frame  // ERROR frames that answered no receipt
	closeErr   []error         // why each connection ended
	reconnects int
}

// load runs a loadSpec until stop.
type load struct {
	t    *testing.T
	spec loadSpec

	mu         sync.Mutex
	sends      []sendRecord
	receivers  []*receiver
	readAcks   int
	readFails  map[string]int // by ERROR code
	senderErrs []*stomp.Frame // ERROR frames senders got that answered no receipt
	connectErr map[string]int // failed (re)connects, by error

	reads     atomic.Bool   // receivers mark reads (readEvery > 0, until stopReads)
	sendStop  chan struct{} // closed by stopSenders
	stopping  chan struct{} // closed by stop
	senders   sync.WaitGroup
	readers   sync.WaitGroup
	inflight  sync.WaitGroup
	sendStart time.Time
}

func startLoad(t *testing.T, spec loadSpec) *load {
	t.Helper()
	if spec.inflight == 0 {
		spec.inflight = 64
	}
	if spec.answerTimeout == 0 {
		spec.answerTimeout = 30 * time.Second
	}
	l := &load{t: t, spec: spec, stopping: make(chan struct{}), sendStop: make(chan struct{}), readFails: map[string]int{}, connectErr: map[string]int{}}
	l.reads.Store(spec.readEvery > 0)
	for i, u := range spec.receivers {
		r := &receiver{idx: i, u: u, last: map[int64]int64{}, marked: map[int64]int64{}}
		r.log.Channels = spec.channels
		if err := l.connectReceiver(r); err != nil {
			t.Fatalf("receiver %s: %v", u.name, err)
		}
		l.receivers = append(l.receivers, r)
		if spec.readEvery > 0 || spec.resume {
			l.readers.Add(1)
			go l.tendReceiver(r)
		}
	}
	l.sendStart = time.Now()
	for i, u := range spec.senders {
		cli, err := l.dial(len(spec.receivers)+i, u, l.senderError)
		if err != nil {
			t.Fatalf("sender %s: %v", u.name, err)
		}
		l.senders.Add(1)
		go l.runSender(i, u, cli)
	}
	if spec.restEvery > 0 {
		l.senders.Add(1)
		go l.runREST(spec.senders[0])
	}
	return l
}

func (l *load) senderError(f *stomp.Frame) {
	l.mu.Lock()
	l.senderErrs = append(l.senderErrs, f)
	l.mu.Unlock()
}

// stopReads stops the receivers' read markers from here on.
func (l *load) stopReads() { l.reads.Store(false) }

func (l *load) dial(i int, u *user, onError func(*stomp.Frame)) (*stompclient.Client, error) {
	ws, _ := l.spec.url(i)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return stompclient.Dial(ctx, ws, stompclient.ClientOptions{
		Token: u.token, OnError: onError,
		// The server's 10 s heart-beat: a node killed without a FIN is found within 20 s.
		HeartBeat: stomp.HeartBeat{Send: 5 * time.Second, Recv: 5 * time.Second},
	})
}

// connectReceiver dials and subscribes r to every channel, from its last delivered seq when
// it has one (since-seq), and returns once every subscription is live.
func (l *load) connectReceiver(r *receiver) error {
	cli, err := l.dial(r.idx, r.u, func(f *stomp.Frame) {
		r.mu.Lock()
		r.errs = append(r.errs, f)
		r.mu.Unlock()
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	resume := r.cli != nil
	r.cli = cli
	r.mu.Unlock()
	for _, c := range l.spec.channels {
		var hs []stomp.Header
		if resume {
			r.mu.Lock()
			since := r.last[c]
			r.mu.Unlock()
			hs = append(hs, stomp.Header{Key: "since-seq", Value: itoa(since)})
		}
		ch := c
		_, err := cli.SubscribeFunc("/topic/channel."+itoa(c), func(f *stomp.Frame, at time.Time) {
			r.deliver(ch, f, at)
		}, hs...)
		if err != nil {
			cli.Close()
			return fmt.Errorf("subscribe to channel %d: %w", c, err)
		}
	}
	return nil
}

// deliver runs on the client's read goroutine.
func (r *receiver) deliver(channel int64, f *stomp.Frame, at time.Time) {
	seq, err := strconv.ParseInt(f.Value("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return // an event that is not a new message (read, typing…)
	}
	id, _ := strconv.ParseInt(f.Value(stomp.HdrMessageID), 10, 64)
	var lat time.Duration
	if sent, ok := sentAt(f.Body); ok {
		lat = at.Sub(sent)
	}
	r.mu.Lock()
	r.log.Deliveries = append(r.log.Deliveries, bench.Delivery{Channel: channel, Seq: seq, MessageID: id})
	r.last[channel] = max(r.last[channel], seq)
	if lat > 0 {
		r.latencies = append(r.latencies, lat)
	}
	r.mu.Unlock()
}

// sentAt finds the send time the sender wrote at the start of the content ("t<unix nanos> ").
func sentAt(body []byte) (time.Time, bool) {
	s := string(body)
	i := strings.Index(s, `"content":"t`)
	if i < 0 {
		return time.Time{}, false
	}
	s = s[i+len(`"content":"t`):]
	j := strings.IndexByte(s, ' ')
	if j < 0 {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// tendReceiver marks reads every readEvery and reconnects the receiver when asked to.
func (l *load) tendReceiver(r *receiver) {
	defer l.readers.Done()
	every := l.spec.readEvery
	if every == 0 {
		every = 100 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.stopping:
			return
		case <-tick.C:
		}
		r.mu.Lock()
		cli := r.cli
		r.mu.Unlock()
		if cli.Err() != nil {
			if !l.spec.resume {
				continue
			}
			r.mu.Lock()
			r.closeErr = append(r.closeErr, cli.Err())
			r.mu.Unlock()
			if err := l.connectReceiver(r); err != nil {
				l.countConnectErr(err)
				continue
			}
			r.mu.Lock()
			r.reconnects++
			r.mu.Unlock()
			continue
		}
		if l.reads.Load() {
			l.markReads(r, cli)
		}
	}
}

func (l *load) markReads(r *receiver, cli *stompclient.Client) {
	for _, c := range l.spec.channels {
		r.mu.Lock()
		seq, done := r.last[c], r.marked[c]
		r.mu.Unlock()
		if seq <= done {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cli.SendWithReceipt(ctx, "/app/message.read", []byte(`{"channelId":"`+itoa(c)+`","seq":`+itoa(seq)+`}`))
		cancel()
		l.mu.Lock()
		if err == nil {
			l.readAcks++
		} else {
			l.readFails[errCode(err)]++
		}
		l.mu.Unlock()
		if err == nil {
			r.mu.Lock()
			r.marked[c] = max(r.marked[c], seq)
			r.markedAt = time.Now()
			r.mu.Unlock()
		}
	}
}

// markFinal marks every receiver's newest delivered seq read, retrying until acknowledged
// or d passes: the markers the test then expects in PostgreSQL.
func (l *load) markFinal(d time.Duration) {
	deadline := time.Now().Add(d)
	for _, r := range l.receivers {
		for time.Now().Before(deadline) {
			r.mu.Lock()
			cli := r.cli
			r.mu.Unlock()
			l.markReads(r, cli)
			r.mu.Lock()
			behind := false
			for _, c := range l.spec.channels {
				behind = behind || r.marked[c] < r.last[c]
			}
			r.mu.Unlock()
			if !behind {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (l *load) countConnectErr(err error) {
	l.mu.Lock()
	l.connectErr[shortErr(err)]++
	l.mu.Unlock()
}

func errCode(err error) string {
	var se *stompclient.ServerError
	if errors.As(err, &se) {
		return se.Frame.Value("code")
	}
	return shortErr(err)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// runSender posts at spec.rate round-robin over the channels, each send in its own
// goroutine (at most spec.inflight waiting), until stop.
func (l *load) runSender(i int, u *user, cli *stompclient.Client) {
	defer l.senders.Done()
	sem := make(chan struct{}, l.spec.inflight)
	interval := time.Duration(float64(time.Second) / l.spec.rate)
	next := time.Now()
	for n := 0; ; n++ {
		next = next.Add(interval)
		select {
		case <-l.sendStop:
			return
		case <-time.After(time.Until(next)):
		}
		if cli.Err() != nil {
			if !l.spec.resend {
				return
			}
			c, err := l.dial(len(l.spec.receivers)+i, u, l.senderError)
			if err != nil {
				l.countConnectErr(err)
				continue
			}
			cli = c
		}
		select {
		case sem <- struct{}{}:
		case <-l.sendStop:
			return
		}
		rec := sendRecord{
			cmid:    fmt.Sprintf("s%d-%d", i, n),
			channel: l.spec.channels[n%len(l.spec.channels)],
		}
		l.inflight.Add(1)
		go func() {
			defer func() { <-sem; l.inflight.Done() }()
			l.sendOne(cli, rec)
		}()
	}
}

func (l *load) content(cmid string) string {
	return "t" + strconv.FormatInt(time.Now().UnixNano(), 10) + " " + cmid + " " + strings.Repeat("x", l.spec.padding)
}

func (l *load) sendOne(cli *stompclient.Client, rec sendRecord) {
	body := fmt.Sprintf(`{"channelId":"%d","content":%q,"clientMsgId":%q}`, rec.channel, l.content(rec.cmid), rec.cmid)
	ctx, cancel := context.WithTimeout(context.Background(), l.spec.answerTimeout)
	defer cancel()
	rec.start = time.Now()
	f, err := cli.SendWithReceipt(ctx, "/app/message.send", []byte(body))
	rec.answered = time.Now()
	var se *stompclient.ServerError
	switch {
	case err == nil:
		rec.result = acked
		rec.id, _ = strconv.ParseInt(f.Value(stomp.HdrMessageID), 10, 64)
		rec.seq, _ = strconv.ParseInt(f.Value("seq"), 10, 64)
	case errors.As(err, &se):
		rec.result, rec.code, rec.detail = refusedOr(se.Frame.Value("code")), se.Frame.Value("code"), se.Frame.Value(stomp.HdrMessage)
	default:
		rec.result, rec.detail = unanswered, shortErr(err)
	}
	l.record(rec)
}

// refusedOr classifies an error answer: "outcome_unknown" (the commit was cut off and
// PostgreSQL could not be asked in time) promises nothing either way, like no answer.
func refusedOr(code string) outcome {
	if code == errcode.OutcomeUnknown {
		return unanswered
	}
	return refused
}

func (l *load) record(rec sendRecord) {
	l.mu.Lock()
	l.sends = append(l.sends, rec)
	l.mu.Unlock()
}

// runREST posts over REST every restEvery to the first channel.
func (l *load) runREST(u *user) {
	defer l.senders.Done()
	tick := time.NewTicker(l.spec.restEvery)
	defer tick.Stop()
	c := l.spec.channels[0]
	for n := 0; ; n++ {
		select {
		case <-l.sendStop:
			return
		case <-tick.C:
		}
		_, base := l.spec.url(0)
		rec := sendRecord{cmid: fmt.Sprintf("rest-%d", n), channel: c, rest: true, start: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), l.spec.answerTimeout)
		r, err := call(ctx, http.MethodPost, base+"/api/channels/"+itoa(c)+"/messages", u.token,
			map[string]string{"content": l.content(rec.cmid), "clientMsgId": rec.cmid})
		cancel()
		rec.answered = time.Now()
		switch {
		case err != nil:
			rec.result, rec.detail = unanswered, shortErr(err)
		case r.status == http.StatusCreated:
			var m struct {
				ID  string `json:"id"`
				Seq int64  `json:"seq"`
			}
			_ = json.Unmarshal(r.body, &m)
			rec.result, rec.seq = acked, m.Seq
			rec.id, _ = strconv.ParseInt(m.ID, 10, 64)
		default:
			rec.code = r.problemCode()
			rec.result = refusedOr(rec.code)
			rec.detail = fmt.Sprintf("%d %s", r.status, r.contentType)
		}
		l.record(rec)
	}
}

// stopSenders stops new sends and waits until every send is answered (or timed out);
// receivers go on (marking reads, resuming).
func (l *load) stopSenders() {
	select {
	case <-l.sendStop:
		return
	default:
	}
	close(l.sendStop)
	l.senders.Wait()
	l.inflight.Wait()
}

// stop ends the load: stopSenders, then the receivers stop marking reads and resuming but
// stay connected (close closes them).
func (l *load) stop() {
	l.stopSenders()
	select {
	case <-l.stopping:
		return
	default:
	}
	close(l.stopping)
	l.readers.Wait()
}

// close disconnects every receiver.
func (l *load) close() {
	l.stop()
	for _, r := range l.receivers {
		r.mu.Lock()
		cli := r.cli
		r.mu.Unlock()
		_ = cli.Close()
	}
}

// records returns a copy of the send records.
func (l *load) records() []sendRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sendRecord(nil), l.sends...)
}

// acks are the acknowledged sends in the checker's form.
func acksOf(recs []sendRecord) []bench.Ack {
	var out []bench.Ack
	for _, r := range recs {
		if r.result == acked {
			out = append(out, bench.Ack{Channel: r.channel, Seq: r.seq, MessageID: r.id})
		}
	}
	return out
}

// settle waits up to d for every receiver still connected to have every acknowledged seq.
func (l *load) settle(d time.Duration) bool {
	top := map[int64]int64{}
	for _, a := range acksOf(l.records()) {
		top[a.Channel] = max(top[a.Channel], a.Seq)
	}
	return waitFor(d, func() bool {
		for _, r := range l.receivers {
			r.mu.Lock()
			gone := r.cli.Err() != nil && !l.spec.resume
			ok := gone
			if !gone {
				ok = true
				for c, s := range top {
					ok = ok && r.last[c] >= s
				}
			}
			r.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
}

// logs are the receivers' delivery logs for bench.CheckLogs; dropped marks receivers the
// caller knows left early.
func (l *load) logs(dropped func(*receiver) bool) []bench.ReceiverLog {
	var out []bench.ReceiverLog
	for _, r := range l.receivers {
		r.mu.Lock()
		lg := bench.ReceiverLog{Channels: r.log.Channels, Deliveries: append([]bench.Delivery(nil), r.log.Deliveries...)}
		r.mu.Unlock()
		if dropped != nil {
			lg.Dropped = dropped(r)
		}
		out = append(out, lg)
	}
	return out
}

// latencySnapshot returns r's send→deliver latencies so far.
func (r *receiver) latencySnapshot() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.latencies...)
}

// fixedURL sends every client to n.
func fixedURL(n *node) func(int) (string, string) {
	return func(int) (string, string) { return n.wsURL(), n.base }
}

// pace lets the load run for d: the length of a fault or a phase, not a wait for a result.
func pace(d time.Duration) { time.Sleep(d) }

// waitAcks waits until the load has at least n acknowledged sends answered after since, and
// returns when the first of them was answered.
func (l *load) waitAcks(t *testing.T, n int, since time.Time, d time.Duration) time.Time {
	t.Helper()
	var first time.Time
	ok := waitFor(d, func() bool {
		got := 0
		first = time.Time{}
		for _, r := range l.records() {
			if r.result == acked && r.answered.After(since) {
				got++
				if first.IsZero() || r.answered.Before(first) {
					first = r.answered
				}
			}
		}
		return got >= n
	})
	if !ok {
		t.Fatalf("fewer than %d sends acknowledged within %s after %s", n, d, since.Format(time.TimeOnly))
	}
	return first
}
