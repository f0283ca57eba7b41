package stomp

import "strconv"

// AppendFrame appends the wire form of f to dst and returns the extended buffer; it allocates
// only when dst lacks capacity.
//
// Header keys and values are escaped (STOMP 1.2), except in CONNECT, STOMP and CONNECTED
// frames, which are written raw; there a CR or LF (and a colon in a key) cannot be represented
// and is replaced by '_'. NUL has no escape in any frame and is replaced by '_' too.
//
// content-length is always right: the first content-length header of f is written with
// len(f.Body) whatever its value, and one is appended when f has a body and none. Later
// repeats are written as they are; readers ignore them.
func AppendFrame(dst []byte, f *Frame) []byte {
	dst = append(dst, f.Command...)
	dst = append(dst, '\n')
	esc := escapes(f.Command)
	haveLen := false
	for i := range f.Headers {
		h := &f.Headers[i]
		if h.Key == HdrContentLength && !haveLen {
			haveLen = true
			dst = appendContentLength(dst, len(f.Body))
			continue
		}
		dst = appendHeader(dst, esc, h.Key, h.Value)
	}
	if !haveLen && len(f.Body) > 0 {
		dst = appendContentLength(dst, len(f.Body))
	}
	dst = append(dst, '\n')
	dst = append(dst, f.Body...)
	return append(dst, 0)
}

// EncodedLen returns the exact number of bytes AppendFrame(nil, f) produces, for sizing
// buffers and WebSocket headers.
func EncodedLen(f *Frame) int {
	n := len(f.Command) + 1
	esc := escapes(f.Command)
	haveLen := false
	for i := range f.Headers {
		h := &f.Headers[i]
		if h.Key == HdrContentLength && !haveLen {
			haveLen = true
			n += contentLengthLen(len(f.Body))
			continue
		}
		n += escapedLen(esc, h.Key) + 1 + escapedLen(esc, h.Value) + 1
	}
	if !haveLen && len(f.Body) > 0 {
		n += contentLengthLen(len(f.Body))
	}
	return n + 1 + len(f.Body) + 1
}

func appendHeader(dst []byte, esc bool, key, value string) []byte {
	dst = appendEscaped(dst, esc, true, key)
	dst = append(dst, ':')
	dst = appendEscaped(dst, esc, false, value)
	return append(dst, '\n')
}

func appendContentLength(dst []byte, n int) []byte {
	dst = append(dst, HdrContentLength...)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\n')
}

func contentLengthLen(n int) int {
	digits := 1
	for ; n >= 10; n /= 10 {
		digits++
	}
	return len(HdrContentLength) + 1 + digits + 1
}

// appendEscaped appends s, escaped when esc is set, sanitised otherwise (see AppendFrame).
func appendEscaped(dst []byte, esc, isKey bool, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var rep string
		switch {
		case c == 0:
			rep = "_"
		case esc && c == '\\':
			rep = `\\`
		case esc && c == '\n':
			rep = `\n`
		case esc && c == '\r':
			rep = `\r`
		case esc && c == ':':
			rep = `\c`
		case !esc && (c == '\n' || c == '\r' || c == ':' && isKey):
			rep = "_"
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

func escapedLen(esc bool, s string) int {
	if !esc {
		return len(s) // sanitising replaces one byte by one byte
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '\n', '\r', ':':
			n++
		}
	}
	return n
}
