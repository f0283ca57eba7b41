package api_test

import (
	"sync"
	"testing"

	"github.com/parley-chat/parley/internal/contract"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport/api"
)

// StorePoster passes the Poster contract; actors.System runs it in transport/ws.
func TestStorePosterContract(t *testing.T) {
	t.Parallel()
	contract.RunPoster(t, func(t *testing.T) contract.PosterEnv {
		store := newStore(t)
		ev := newWatchEvents(t)
		return contract.PosterEnv{
			Poster: &api.StorePoster{Store: store, Events: ev},
			Store:  store,
			Watch:  ev.watch,
		}
	})
}

// StoreReadMarkers passes the ReadMarkers contract; persistence.Store and actors.Receipts
// run it in their own packages.
func TestStoreReadMarkersContract(t *testing.T) {
	t.Parallel()
	contract.RunReadMarkers(t, func(t *testing.T) contract.ReadMarkersEnv {
		store := newStore(t)
		return contract.ReadMarkersEnv{Markers: api.StoreReadMarkers{Store: store}, Store: store}
	})
}

func newStore(t *testing.T) *persistence.Store {
	t.Helper()
	pool, _ := pgtest.NewPool(t, nil)
	return persistence.NewStore(pool, mustIDs(t), persistence.StoreConfig{})
}

// watchEvents is an api.Events that hands new messages and mentions to the watchers the
// contract registers: what a subscriber of the real-time layer would receive.
type watchEvents struct {
	t        *testing.T
	mu       sync.Mutex
	channels map[int64][]chan persistence.Message
	mentions map[int64][]chan persistence.MentionEvent
}

func newWatchEvents(t *testing.T) *watchEvents {
	return &watchEvents{t: t, channels: map[int64][]chan persistence.Message{}, mentions: map[int64][]chan persistence.MentionEvent{}}
}

func (w *watchEvents) watch(_ *testing.T, userID, channelID int64) contract.Watcher {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs, ments := make(chan persistence.Message, 1024), make(chan persistence.MentionEvent, 1024)
	w.channels[channelID] = append(w.channels[channelID], msgs)
	w.mentions[userID] = append(w.mentions[userID], ments)
	return contract.Watcher{Messages: msgs, Mentions: ments}
}

func (w *watchEvents) ChannelEvent(channelID int64, ev any) {
	me, ok := ev.(persistence.MessageEvent)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.channels[channelID] {
		select {
		case c <- me.Message:
		default:
			w.t.Errorf("watcher of channel %d is full", channelID) // Events must not block
		}
	}
}

func (w *watchEvents) UsersEvent(userIDs []int64, dest string, ev any) {
	for _, id := range userIDs {
		w.UserEvent(id, dest, ev)
	}
}

func (w *watchEvents) UserEvent(userID int64, dest string, ev any) {
	me, ok := ev.(persistence.MentionEvent)
	if !ok || dest != persistence.QueueMentions {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.mentions[userID] {
		select {
		case c <- me:
		default:
			w.t.Errorf("watcher of user %d is full", userID)
		}
	}
}

func (w *watchEvents) AccessChanged(int64, int64) {}

func (w *watchEvents) TokenRevoked(int64, int64) {}
