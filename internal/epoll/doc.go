// Package epoll is the epoll set both of parley's socket readers are built on: the node's
// session reader (transport/ws) and the STOMP client's Poller (stomp/stompclient). What they
// share is the subtle part: the set's own descriptor is waited on in the Go runtime's
// netpoller, so a loop waiting for readiness parks like any reader and holds no processor
// (ADR 0008), and a wake pipe lets another goroutine interrupt the wait. Linux only; the
// callers have a goroutine-per-socket fallback elsewhere.
package epoll
