package ws

// Admitted reports the sockets not yet authenticated and the client addresses with any
// socket, for tests that check every path out of a socket gives its counts back.
func (h *Handler) Admitted() (unauthenticated, addresses int) { return h.admit.counts() }
