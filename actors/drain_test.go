package actors

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The System's dependencies for tests that must never reach them: any call panics.
type (
	unreachableStore     struct{ Store }
	unreachableReadMarks struct{ ReadMarks }
	unreachableIDs       struct{ IDs }
)

// A send can pass its session's draining check, wait on its access lookup, and reach the
// channel only after Shutdown has counted the posts in flight. It must then be refused with
// shutting_down, not handed to a channel actor behind the drain's back (seen in
// ws.TestShutdownDrains: the post was committed after the drain had finished waiting).
func TestPostAfterDrainBeganIsRefused(t *testing.T) {
	sys, err := New(Config{}, Deps{Store: unreachableStore{}, ReadMarks: unreachableReadMarks{}, IDs: unreachableIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sys.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan *postDone, 1)
	sys.post(42, &postReq{done: got})
	select {
	case d := <-got:
		if !errors.Is(d.res.err, ErrShuttingDown) {
			t.Fatalf("post after the drain began: %v, want ErrShuttingDown", d.res.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("post after the drain began: no answer (handed to a channel actor)")
	}
	if n := sys.pendingPosts.Load(); n != 0 {
		t.Fatalf("%d posts still counted in flight", n)
	}
	if n := sys.ChannelActors(); n != 0 {
		t.Fatalf("%d channel actors spawned after the drain", n)
	}
}
