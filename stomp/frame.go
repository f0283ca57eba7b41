// Package stomp is the STOMP 1.2 codec: frames, their encoding and an incremental decoder,
// shared by the server (actors, transport/ws) and the Go client (stomp/stompclient). It is a
// leaf: it imports nothing else from parley, so the core may depend on it.
//
// The codec is byte-oriented: a Decoder takes a stream of bytes in any split (one WebSocket
// message may hold several frames, only heart-beats, or part of a frame) and yields frames;
// AppendFrame and MessageTemplate encode into caller-owned buffers without allocating, because
// the server encodes one MESSAGE per event and copies it to every subscriber.
package stomp

import (
	"errors"
	"fmt"
)

// Client and server commands of STOMP 1.2.
const (
	CmdConnect     = "CONNECT"
	CmdStomp       = "STOMP"
	CmdConnected   = "CONNECTED"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdNack        = "NACK"
	CmdBegin       = "BEGIN"
	CmdCommit      = "COMMIT"
	CmdAbort       = "ABORT"
	CmdDisconnect  = "DISCONNECT"
	CmdMessage     = "MESSAGE"
	CmdReceipt     = "RECEIPT"
	CmdError       = "ERROR"
)

// Header names used by this package and its callers.
const (
	HdrAcceptVersion = "accept-version"
	HdrAuthorization = "Authorization"
	HdrContentLength = "content-length"
	HdrContentType   = "content-type"
	HdrDestination   = "destination"
	HdrHeartBeat     = "heart-beat"
	HdrHost          = "host"
	HdrID            = "id"
	HdrLogin         = "login"
	HdrMessage       = "message"
	HdrMessageID     = "message-id"
	HdrPasscode      = "passcode"
	HdrReceipt       = "receipt"
	HdrReceiptID     = "receipt-id"
	HdrServer        = "server"
	HdrSession       = "session"
	HdrSubscription  = "subscription"
	HdrUserName      = "user-name"
	HdrVersion       = "version"
)

// Decoding errors. Every error a Decoder returns matches one of these with errors.Is, so a
// server can answer with an ERROR frame naming the problem and close the connection.
var (
	// ErrMalformed is a frame that does not follow the STOMP 1.2 grammar.
	ErrMalformed = errors.New("stomp: malformed frame")
	// ErrUnknownCommand is a command line naming no STOMP 1.2 command. It also matches ErrMalformed.
	ErrUnknownCommand = fmt.Errorf("%w: unknown command", ErrMalformed)
	// ErrIncomplete is input that ends inside a frame where a whole one was required (Parse).
	// It also matches ErrMalformed.
	ErrIncomplete = fmt.Errorf("%w: incomplete frame", ErrMalformed)
	// ErrFrameTooLarge is a frame longer than Limits.MaxFrameBytes.
	ErrFrameTooLarge = errors.New("stomp: frame too large")
	// ErrHeadersTooLarge is a command line plus headers longer than Limits.MaxHeaderBytes.
	ErrHeadersTooLarge = errors.New("stomp: headers too large")
	// ErrTooManyHeaders is a frame with more than Limits.MaxHeaders header lines.
	ErrTooManyHeaders = errors.New("stomp: too many headers")
)

// Header is one header line. A frame's headers are ordered and a key may repeat; readers use
// the first occurrence (STOMP 1.2 "Repeated Header Entries").
type Header struct {
	Key, Value string
}

// Frame is one STOMP frame. Body is nil or empty for frames without a body.
type Frame struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named key.
func (f *Frame) Get(key string) (string, bool) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			return f.Headers[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of the first header named key, or "".
func (f *Frame) Value(key string) string {
	v, _ := f.Get(key)
	return v
}

// Set replaces the value of the first header named key (removing later repeats, which would be
// ignored anyway) or appends the header.
func (f *Frame) Set(key, value string) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			f.Headers[i].Value = value
			f.Headers = append(f.Headers[:i+1], deleteKey(f.Headers[i+1:], key)...)
			return
		}
	}
	f.Headers = append(f.Headers, Header{Key: key, Value: value})
}

// Add appends a header even if the key is already present.
func (f *Frame) Add(key, value string) {
	f.Headers = append(f.Headers, Header{Key: key, Value: value})
}

// Del removes every header named key.
func (f *Frame) Del(key string) {
	f.Headers = deleteKey(f.Headers, key)
}

// Clone returns a deep copy of f.
func (f *Frame) Clone() *Frame {
	c := &Frame{Command: f.Command}
	if f.Headers != nil {
		c.Headers = append(make([]Header, 0, len(f.Headers)), f.Headers...)
	}
	if f.Body != nil {
		c.Body = append(make([]byte, 0, len(f.Body)), f.Body...)
	}
	return c
}

// String renders the frame for logs and test failures; it is not the wire format.
func (f *Frame) String() string {
	return fmt.Sprintf("%s %v body=%q", f.Command, f.Headers, f.Body)
}

func deleteKey(hs []Header, key string) []Header {
	out := hs[:0]
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	return out
}

// knownCommand returns the constant for a command line so that decoded frames share it instead
// of allocating, and reports whether the command is a STOMP 1.2 command.
func knownCommand(b []byte) (string, bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case CmdConnect:
		return CmdConnect, true
	case CmdStomp:
		return CmdStomp, true
	case CmdConnected:
		return CmdConnected, true
	case CmdSend:
		return CmdSend, true
	case CmdSubscribe:
		return CmdSubscribe, true
	case CmdUnsubscribe:
		return CmdUnsubscribe, true
	case CmdAck:
		return CmdAck, true
	case CmdNack:
		return CmdNack, true
	case CmdBegin:
		return CmdBegin, true
	case CmdCommit:
		return CmdCommit, true
	case CmdAbort:
		return CmdAbort, true
	case CmdDisconnect:
		return CmdDisconnect, true
	case CmdMessage:
		return CmdMessage, true
	case CmdReceipt:
		return CmdReceipt, true
	case CmdError:
		return CmdError, true
	}
	return "", false
}

// escapes reports whether header lines of cmd use STOMP 1.2 escaping. CONNECT and CONNECTED
// do not, for STOMP 1.0 compatibility; STOMP is CONNECT under another name and is treated the
// same (a bearer token holds neither a backslash nor a colon, so either reading agrees).
func escapes(cmd string) bool {
	return cmd != CmdConnect && cmd != CmdConnected && cmd != CmdStomp
}
