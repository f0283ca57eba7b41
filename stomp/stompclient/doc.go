// Package stompclient is a STOMP-over-WebSocket client for end-to-end tests and the load
// harness (bench): Dial, subscriptions, receipts, heart-beats, and a Poller that reads many
// clients' sockets from a few epoll loops (ADR 0015). It speaks through the codec in package
// stomp; the server never imports it.
package stompclient
