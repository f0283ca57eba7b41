package cluster

import (
	"errors"
	"testing"
)

// What the contract suite does not cover: MemoryBus's own configuration and its full queue.

func TestMemoryBusConfig(t *testing.T) {
	t.Parallel()
	if _, err := NewMemoryBus(nil, MemoryBusConfig{}); err == nil {
		t.Error("nil hub accepted")
	}
	for _, cfg := range []MemoryBusConfig{{MaxPayload: -1}, {MaxPayload: maxBusPayload + 1}, {PostQueue: -1}} {
		if _, err := NewMemoryBus(NewMemoryHub(), cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// A full post queue refuses at once, as RedisBus's does while Redis is slow.
func TestMemoryBusPostQueueFull(t *testing.T) {
	t.Parallel()
	b, err := NewMemoryBus(NewMemoryHub(), MemoryBusConfig{PostQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	sending, unblock := make(chan struct{}), make(chan struct{})
	if err := b.Post(1, nil, func(error) { close(sending); <-unblock }); err != nil {
		t.Fatal(err)
	}
	<-sending // the sender is busy with the first post
	if err := b.Post(1, nil, nil); err != nil {
		t.Fatalf("second post: %v (the queue holds one)", err)
	}
	if err := b.Post(1, nil, nil); !errors.Is(err, ErrPostQueueFull) {
		t.Fatalf("third post: %v, want ErrPostQueueFull", err)
	}
	close(unblock)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
