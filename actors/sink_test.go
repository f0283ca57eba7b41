package actors

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// testWire is the socket end a test records: frames written in order, then a close.
type testWire interface {
	WriteFrames(frames [][]byte, deadline time.Time) error
	Close() error
}

// wireSink is the actors' tests' Sink: no queue and no writer, each frame is encoded and
// written to w at once, in order, so what a test sees is what the actors pushed.
type wireSink struct {
	mu     sync.Mutex
	w      testWire
	closed bool
	done   chan struct{}
}

func newWireSink(w testWire) *wireSink { return &wireSink{w: w, done: make(chan struct{})} }

func (s *wireSink) write(frame []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	_ = s.w.WriteFrames([][]byte{frame}, time.Time{})
	return true
}

func (s *wireSink) Deliver(tpl *stomp.MessageTemplate, subID, msgID string, _ bool) bool {
	return s.write(tpl.AppendTo(nil, subID, msgID))
}

func (s *wireSink) DeliverWait(_ context.Context, tpl *stomp.MessageTemplate, subID, msgID string) error {
	if !s.Deliver(tpl, subID, msgID, false) {
		return errSessionClosed
	}
	return nil
}

func (s *wireSink) Receipt(id, msgID, seq string) bool {
	if msgID == "" {
		return s.write(stomp.AppendReceipt(nil, id))
	}
	return s.write(stomp.AppendReceipt(nil, id, stomp.Header{Key: stomp.HdrMessageID, Value: msgID}, stomp.Header{Key: hdrSeq, Value: seq}))
}

func (s *wireSink) Frame(frame []byte) bool { return s.write(frame) }

func (s *wireSink) CloseAfter(final []byte) {
	if final != nil {
		s.write(final)
	}
	s.CloseNow()
}

func (s *wireSink) CloseNow() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.w.Close()
	close(s.done)
}

func (s *wireSink) Done() <-chan struct{} { return s.done }
