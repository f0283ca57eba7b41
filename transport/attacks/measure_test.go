package attacks_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/transport/stomp"
)

// TestMeasureReplayAndRESTFloods measures what ADR 0026 quotes: a normal client's
// send→deliver P50 unloaded, during a SUBSCRIBE since-seq:0 / UNSUBSCRIBE loop on a
// 14,600-message channel (the attacker reconnecting whenever it is closed), and during a
// REST post flood; and how much the attackers got. Figures only, no assertions: run with
// PARLEY_MEASURE=1.
func TestMeasureReplayAndRESTFloods(t *testing.T) {
	if os.Getenv("PARLEY_MEASURE") == "" {
		t.Skip("a measurement: set PARLEY_MEASURE=1")
	}
	n := startNode(t, nil)
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)
	other := n.channel(alice, s.id, "other", "public")
	n.fill(alice, s.general, 14600)

	c := n.dial(bob)
	sub, err := c.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	p50 := func(phase string) time.Duration {
		var lat []time.Duration
		for i := range 100 {
			content := phase + " " + strconv.Itoa(i)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := c.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(s.general, content)); err != nil {
				cancel()
				t.Fatalf("%s: send: %v", phase, err)
			}
			cancel()
			for messageContent(t, nextOn(t, sub)) != content {
			}
			lat = append(lat, time.Since(start))
			time.Sleep(50 * time.Millisecond) // 20/s, the SEND rate
		}
		slices.Sort(lat)
		return lat[len(lat)/2]
	}

	unloaded := p50("unloaded")

	// The replay loop, reconnecting when closed.
	var frames, sessions atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rc, err := n.rawDial(nil, true)
			if err != nil {
				continue
			}
			if rc.tryWrite(connectFrame(alice.token)) != nil {
				continue
			}
			sessions.Add(1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for f := range rc.frames {
					if f.Command == stomp.CmdMessage {
						frames.Add(1)
					}
				}
			}()
		loop:
			for i := 0; ; i++ {
				id := "s" + strconv.Itoa(i)
				b := frame(stomp.CmdSubscribe, nil, stomp.HdrID, id, stomp.HdrDestination, destOf(s.general), "since-seq", "0")
				b = append(b, frame(stomp.CmdUnsubscribe, nil, stomp.HdrID, id)...)
				select {
				case <-stop:
					_ = rc.conn.Close()
					break loop
				case <-done:
					break loop
				default:
				}
				if rc.tryWrite(b) != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			_ = rc.conn.Close()
			<-done
		}
	})
	start := time.Now()
	replayLoop := p50("replay loop")
	close(stop)
	wg.Wait()
	took := time.Since(start)

	// The REST flood: four connections posting to another channel as fast as answered.
	var created, limited atomic.Int64
	stop = make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, _ := n.do(http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", other), alice, map[string]string{"content": "flood"})
				switch status {
				case http.StatusCreated:
					created.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				}
			}
		})
	}
	rstart := time.Now()
	restFlood := p50("rest flood")
	close(stop)
	wg.Wait()
	rtook := time.Since(rstart)

	t.Logf("send→deliver P50: unloaded %v; during the replay loop %v (x%.1f); during the REST flood %v (x%.1f)",
		unloaded, replayLoop, float64(replayLoop)/float64(unloaded), restFlood, float64(restFlood)/float64(unloaded))
	t.Logf("replay loop: %d MESSAGE frames in %v over %d sessions (%.0f/s)", frames.Load(), took.Round(time.Millisecond),
		sessions.Load(), float64(frames.Load())/took.Seconds())
	t.Logf("REST flood: %d posts created (%.1f/s), %d refused 429, in %v", created.Load(),
		float64(created.Load())/rtook.Seconds(), limited.Load(), rtook.Round(time.Millisecond))
}
