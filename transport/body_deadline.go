package transport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/errcode"
)

// withBodyDeadline gives a request's body d to arrive, from the end of its headers: a read
// past it fails with errcode.ErrRequestTimeout (408), and the connection is closed after the
// response. net/http bounds the headers (ReadHeaderTimeout) and the wait for the next request
// (IdleTimeout), but not the body, so a client trickling one byte at a time held a connection
// and a goroutine for as long as it liked (ADR 0025).
//
// Requests without a body are untouched. Once the body is in, the deadline is lifted, so a
// slow handler or a long response is not cut short. A WebSocket upgrade (which has no body
// unless a client is up to something) sets its socket's deadlines itself once hijacked.
func withBodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			next.ServeHTTP(w, r) // not a net/http connection (a test's recorder)
			return
		}
		body := &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: d}
		r.Body = body
		next.ServeHTTP(w, r)
		if !body.done.Load() && !isWebSocketUpgrade(r) {
			// The handler answered without the whole body (refused it, or the body timed out).
			// net/http would read up to 256 KiB of the rest before sending the response, to keep
			// the connection: a trickle would hold the answer until the deadline. Fail that read
			// now instead: the response goes out at once, with Connection: close.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// isWebSocketUpgrade: the connection may have been hijacked, and ResponseController's
// deadlines would then reach into the WebSocket (net/http does not check for a hijack).
func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// deadlineBody is a request body under withBodyDeadline's deadline.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    atomic.Bool // read to the end
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		if !b.done.Swap(true) {
			// net/http's background read, which notices a client going away, starts now and
			// would cancel the request's context at the deadline.
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, fmt.Errorf("%w: the body did not arrive within %s", errcode.ErrRequestTimeout, b.timeout)
	}
	return n, err
}
