package ws_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/internal/contract"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// actors.System, production's api.Poster, passes the Poster contract that api.StorePoster
// passes, with delivery seen as a client sees it: STOMP sessions subscribed to the channel
// and to /user/queue/mentions; with each channel committing on its own and with the
// node-wide commit coalescer (ADR 0046).
func TestSystemPosterContract(t *testing.T) {
	t.Parallel()
	t.Run("own", func(t *testing.T) { t.Parallel(); runSystemPosterContract(t, actors.Config{}) })
	t.Run("coalesced", func(t *testing.T) {
		t.Parallel()
		runSystemPosterContract(t, actors.Config{Coalesce: actors.CoalesceConfig{On: true}})
	})
}

func runSystemPosterContract(t *testing.T, cfg actors.Config) {
	contract.RunPoster(t, func(t *testing.T) contract.PosterEnv {
		e := newEnv(t, envOptions{actors: cfg})
		var mu sync.Mutex
		tokens := map[int64]string{}
		return contract.PosterEnv{
			Poster: e.sys,
			Store:  e.store,
			NewUser: func(t *testing.T, name string) int64 {
				tok, id := e.user(name)
				mu.Lock()
				defer mu.Unlock()
				tokens[id] = tok
				return id
			},
			Watch: func(t *testing.T, userID, channelID int64) contract.Watcher {
				mu.Lock()
				tok := tokens[userID]
				mu.Unlock()
				c := e.dial(tok)
				msgs, err := c.Subscribe(dest(channelID))
				if err != nil {
					t.Fatal(err)
				}
				ments, err := c.Subscribe(persistence.QueueMentions)
				if err != nil {
					t.Fatal(err)
				}
				var w contract.Watcher
				w.Messages = relay(t, msgs, func(ev struct {
					Type    string
					Message persistence.Message
				}) (persistence.Message, bool) {
					return ev.Message, ev.Type == persistence.EventMessage
				})
				w.Mentions = relay(t, ments, func(ev persistence.MentionEvent) (persistence.MentionEvent, bool) {
					return ev, true
				})
				return w
			},
		}
	})
}

// relay decodes the JSON bodies of sub's frames as E and passes on what keep accepts, until
// the test ends (before its client closes: cleanups run last first).
func relay[E, T any](t *testing.T, sub *stompclient.Subscription, keep func(E) (T, bool)) <-chan T {
	out := make(chan T, 1024)
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Go(func() {
		for {
			var f *stomp.Frame
			var ok bool
			select {
			case f, ok = <-sub.C:
				if !ok {
					return
				}
			case <-done:
				return
			}
			var ev E
			if err := json.Unmarshal(f.Body, &ev); err != nil {
				t.Errorf("%s: undecodable body %s: %v", sub.Destination, f.Body, err)
				continue
			}
			v, ok := keep(ev)
			if !ok {
				continue
			}
			select {
			case out <- v:
			case <-done:
				return
			}
		}
	})
	return out
}
