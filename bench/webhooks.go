package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The "outgoing" scenario (issue 24, ADR 0037): the fanout load with an outgoing webhook on
// every channel, pointed at a receiver this process runs on loopback (the node must allow
// private destinations: --webhook-allow-private). The receiver reads each delivery's
// message content, whose send time is the sender's clock (payload.go), so send → delivery
// latency is measured with this machine's clock, never the server's.

// OutgoingReport is the outgoing scenario's outcome.
type OutgoingReport struct {
	Hooks int `json:"hooks"`
	// Acked is the messages acknowledged to the senders; Delivered the distinct ones the
	// receiver got (each once per hook: one hook per channel); Repeats the extra copies.
	Acked     int     `json:"acked"`
	Delivered int     `json:"delivered"`
	Repeats   int     `json:"repeats"`
	PerSec    float64 `json:"deliveriesPerSec"` // first to last delivery
	P50Ms     float64 `json:"sendToDeliveryP50Ms"`
	P99Ms     float64 `json:"sendToDeliveryP99Ms"`
	MaxMs     float64 `json:"sendToDeliveryMaxMs"`
	// SettleSeconds is how long after the load the last delivery came.
	SettleSeconds float64 `json:"settleSeconds"`
}

// webhookReceiver records deliveries: the delivery id, the arrival, the send time.
type webhookReceiver struct {
	srv *http.Server
	url string

	mu    sync.Mutex
	seen  map[string]bool
	lat   []time.Duration
	first time.Time
	last  time.Time
	reps  int
}

func startWebhookReceiver() (*webhookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("outgoing receiver: %w", err)
	}
	w := &webhookReceiver{url: "http://" + ln.Addr().String() + "/hook", seen: map[string]bool{}}
	w.srv = &http.Server{Handler: http.HandlerFunc(w.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = w.srv.Serve(ln) }()
	return w, nil
}

func (w *webhookReceiver) serve(rw http.ResponseWriter, r *http.Request) {
	now := time.Now()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev struct{ Message struct{ Content string } }
	_ = json.Unmarshal(b, &ev)
	_, _, sent, ok := parseContent([]byte(ev.Message.Content))
	id := r.Header.Get("X-Parley-Delivery")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[id] {
		w.reps++
		return
	}
	w.seen[id] = true
	if w.first.IsZero() {
		w.first = now
	}
	w.last = now
	if ok {
		w.lat = append(w.lat, now.Sub(sent))
	}
}

func (w *webhookReceiver) delivered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// prepareOutgoing starts the receiver and subscribes it to every channel.
func prepareOutgoing(ctx context.Context, r *runner, owner ClientSpec, channels []int64) error {
	w, err := startWebhookReceiver()
	if err != nil {
		return err
	}
	r.webhooks = w
	for _, c := range channels {
		err := r.rest.do(ctx, http.MethodPost, owner.URL, "/api/channels/"+itoa(c)+"/webhooks/outgoing", owner.Token,
			map[string]any{"url": w.url, "events": []string{"message"}}, nil)
		if err != nil {
			if strings.Contains(err.Error(), "allow-private") || statusOf(err) == http.StatusBadRequest {
				return fmt.Errorf("outgoing webhook refused (run the node with --webhook-allow-private): %w", err)
			}
			return fmt.Errorf("outgoing webhook on channel %d: %w", c, err)
		}
	}
	return nil
}

// outgoingSettle bounds the wait for the last deliveries after the load.
const outgoingSettle = 2 * time.Minute

func analyseOutgoing(ctx context.Context, r *runner, rep *Report) error {
	w := r.webhooks
	if w == nil {
		return errors.New("no receiver")
	}
	defer func() { _ = w.srv.Close() }()
	o := &OutgoingReport{Hooks: r.cfg.Channels, Acked: len(r.allAcks())}
	rep.Outgoing = o
	start := time.Now()
	for w.delivered() < o.Acked && time.Since(start) < outgoingSettle && ctx.Err() == nil {
		sleep(ctx, 100*time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	o.Delivered, o.Repeats = len(w.seen), w.reps
	if !w.last.IsZero() && w.last.After(w.first) {
		o.PerSec = float64(o.Delivered) / w.last.Sub(w.first).Seconds()
	}
	o.SettleSeconds = time.Since(start).Seconds()
	if lat := slices.Clone(w.lat); len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		o.P50Ms, o.P99Ms, o.MaxMs = ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1])
	}
	if o.Delivered < o.Acked {
		return fmt.Errorf("outgoing webhooks: %d of %d acknowledged messages delivered within %s", o.Delivered, o.Acked, outgoingSettle)
	}
	return nil
}

func (o *OutgoingReport) summary() string {
	return fmt.Sprintf("OUTGOING  %d hooks: %d of %d acknowledged messages delivered (%d repeats), %.0f deliveries/s; send→delivery P50 %.1f ms, P99 %.1f ms, max %.1f ms\n",
		o.Hooks, o.Delivered, o.Acked, o.Repeats, o.PerSec, o.P50Ms, o.P99Ms, o.MaxMs)
}
