package api_test

import (
	"context"
	"testing"
	"time"

	actorsys "github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/transport/api"
)

// posters runs a REST test once with each api.Poster: StorePoster (the API's default) and
// actors.System, which production wires (its channel actors' group commit). With System,
// new messages and mentions go to its STOMP sessions, not to the harness's recorder.
func posters(t *testing.T, test func(t *testing.T, o harnessOpts)) {
	t.Parallel()
	for name, system := range map[string]bool{"StorePoster": false, "System": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, harnessOpts{system: system})
		})
	}
}

// startSystem starts the actor system the harness posts through, stopped at cleanup.
func (h *harness) startSystem(ids actorsys.IDs) *actorsys.System {
	h.t.Helper()
	sys, err := actorsys.New(actorsys.Config{NodeID: 1}, actorsys.Deps{
		Store: h.store, ReadMarks: api.StoreReadMarkers{Store: h.store}, IDs: ids,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			h.t.Errorf("actors shutdown: %v", err)
		}
	})
	return sys
}
