package actors

import (
	"context"

	"github.com/parley-chat/parley/stomp"
)

// Sink is a session's outbound queue, all the actors know of its socket. The transport
// implements it (transport/outbound) and owns what is behind it: the bounded queue, the
// writers, heart-beats, the slow-consumer drop (ADR 0030). Every method but DeliverWait
// returns at once, so a channel actor may call it: a full queue drops its session with ERROR
// slow-consumer rather than wait. Frames are kept unencoded until written, so a delivery
// costs a copy of its template's pointer and two strings.
type Sink interface {
	// Deliver queues MESSAGE tpl (encoded once, shared by every subscriber) for subscription
	// subID with message-id msgID; a lazy one (a read event) may wait for the session's
	// next write. False when the session is closing or was just dropped.
	Deliver(tpl *stomp.MessageTemplate, subID, msgID string, lazy bool) bool
	// DeliverWait is Deliver for a replay, off the actors: it waits while the queue is
	// more than half full, so a long replay neither overflows it nor crowds out live
	// traffic. It fails once the session closes (Done is closed then) or ctx ends.
	DeliverWait(ctx context.Context, tpl *stomp.MessageTemplate, subID, msgID string) error
	// Receipt queues RECEIPT receipt-id id, with message-id and seq headers when msgID != "".
	Receipt(id, msgID, seq string) bool
	// Frame queues an encoded frame (CONNECTED, ERROR), shared and never changed.
	Frame(frame []byte) bool
	// CloseAfter queues final (nil: nothing), past the limit if need be, and closes the
	// socket once everything queued is written; later pushes are refused.
	CloseAfter(final []byte)
	// CloseNow drops whatever is queued and closes the socket.
	CloseNow()
	// Done is closed once the socket is closed, by either side.
	Done() <-chan struct{}
}
