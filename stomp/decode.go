package stomp

import (
	"bytes"
	"fmt"
	"strings"
)

// Limits bound what a Decoder accepts. Zero fields take the defaults.
type Limits struct {
	// MaxFrameBytes bounds a whole frame, command line to NUL. Default 64 KiB (SPEC "frame ≤ 64 KiB").
	MaxFrameBytes int
	// MaxHeaders bounds the header lines of a frame. Default 32.
	MaxHeaders int
	// MaxHeaderBytes bounds the command line and header lines, EOLs included. Default 8 KiB.
	MaxHeaderBytes int
}

// Default limits.
const (
	DefaultMaxFrameBytes  = 64 << 10
	DefaultMaxHeaders     = 32
	DefaultMaxHeaderBytes = 8 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// keepBufferCap is the largest buffer a Decoder keeps once it has nothing pending, so that an
// idle connection that once received a big frame does not pin it.
const keepBufferCap = 4 << 10

// Decoder turns a byte stream into frames, whatever way the stream is split: Feed bytes as they
// arrive (one WebSocket message, part of one, or several), then call Next until it returns a
// nil frame. Heart-beat EOLs between frames, and the optional EOLs after a frame's NUL, are
// skipped and counted. The first error is sticky: the stream cannot be resynchronised, so the
// caller answers with an ERROR frame and closes. A Decoder is not safe for concurrent use.
type Decoder struct {
	lim   Limits
	buf   []byte
	start int // first byte of the pending frame in buf

	// Progress on the pending frame, as offsets from start, so that bytes arriving one at a time
	// are scanned once, not once per Feed.
	scan      int    // where the search for LF (headers) or NUL (body) resumes
	lineStart int    // start of the header line being scanned
	hdrEnd    int    // just past the blank line; 0 until the header block is complete
	frame     *Frame // command and headers, once hdrEnd is known
	bodyLen   int    // content-length, or -1 for a NUL-terminated body

	heartbeats int
	err        error
}

// NewDecoder returns a Decoder enforcing lim (zero fields take the defaults).
func NewDecoder(lim Limits) *Decoder {
	return &Decoder{lim: lim.withDefaults()}
}

// Feed appends p to the pending input. p is copied and may be reused once Feed returns.
func (d *Decoder) Feed(p []byte) {
	if d.err != nil || len(p) == 0 {
		return
	}
	if d.lim.MaxFrameBytes == 0 {
		d.lim = d.lim.withDefaults() // a zero Decoder works too
	}
	if d.start > 0 && len(d.buf)+len(p) > cap(d.buf) {
		n := copy(d.buf, d.buf[d.start:])
		d.buf = d.buf[:n]
		d.start = 0
	}
	d.buf = append(d.buf, p...)
}

// Buffered returns the number of bytes fed but not yet returned as frames or heart-beats.
func (d *Decoder) Buffered() int { return len(d.buf) - d.start }

// Heartbeats returns how many heart-beat EOLs the Decoder has skipped so far.
func (d *Decoder) Heartbeats() int { return d.heartbeats }

// Next returns the next complete frame, or (nil, nil) when more input is needed. The frame
// shares no memory with the Decoder.
func (d *Decoder) Next() (*Frame, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.lim.MaxFrameBytes == 0 {
		d.lim = d.lim.withDefaults()
	}
	f, err := d.next()
	if err != nil {
		d.err = err
		d.buf, d.start, d.frame = nil, 0, nil
		return nil, err
	}
	if d.start == len(d.buf) {
		if cap(d.buf) > keepBufferCap {
			d.buf = nil
		} else {
			d.buf = d.buf[:0]
		}
		d.start = 0
	}
	return f, nil
}

func (d *Decoder) next() (*Frame, error) {
	if d.frame == nil {
		if ready, err := d.skipHeartbeats(); !ready || err != nil {
			return nil, err
		}
		done, err := d.scanHeaders()
		if err != nil || !done {
			return nil, err
		}
	}
	p := d.buf[d.start:]
	var end int // offset of the NUL
	if d.bodyLen >= 0 {
		end = d.hdrEnd + d.bodyLen
		if len(p) <= end {
			return nil, nil
		}
		if p[end] != 0 {
			return nil, fmt.Errorf("%w: no NUL after content-length bytes", ErrMalformed)
		}
	} else {
		i := bytes.IndexByte(p[d.scan:], 0)
		if i < 0 {
			d.scan = len(p)
			if len(p) >= d.lim.MaxFrameBytes { // the NUL would make it longer still
				return nil, ErrFrameTooLarge
			}
			return nil, nil
		}
		end = d.scan + i
		if end+1 > d.lim.MaxFrameBytes {
			return nil, ErrFrameTooLarge
		}
	}
	f := d.frame
	if end > d.hdrEnd {
		f.Body = append([]byte(nil), p[d.hdrEnd:end]...)
	}
	d.start += end + 1
	d.frame, d.scan, d.lineStart, d.hdrEnd = nil, 0, 0, 0
	return f, nil
}

// skipHeartbeats consumes EOLs before a frame. It reports whether a command line has started;
// a CR that is not part of a CRLF is an error.
func (d *Decoder) skipHeartbeats() (bool, error) {
	for d.start < len(d.buf) {
		switch d.buf[d.start] {
		case '\n':
			d.start++
		case '\r':
			if d.start+1 == len(d.buf) {
				return false, nil // wait for the LF
			}
			if d.buf[d.start+1] != '\n' {
				return false, fmt.Errorf("%w: CR without LF before command", ErrMalformed)
			}
			d.start += 2
		default:
			return true, nil
		}
		d.heartbeats++
	}
	return false, nil
}

// scanHeaders looks for the blank line ending the header block and parses the block once found.
func (d *Decoder) scanHeaders() (bool, error) {
	p := d.buf[d.start:]
	maxHdr := min(d.lim.MaxHeaderBytes, d.lim.MaxFrameBytes)
	for {
		i := bytes.IndexByte(p[d.scan:], '\n')
		if i < 0 {
			d.scan = len(p)
			if len(p) >= maxHdr {
				return false, tooLarge(maxHdr, d.lim)
			}
			return false, nil
		}
		nl := d.scan + i
		ls := d.lineStart
		d.scan, d.lineStart = nl+1, nl+1
		if nl+1 > maxHdr {
			return false, tooLarge(maxHdr, d.lim)
		}
		if ls > 0 && (nl == ls || nl == ls+1 && p[ls] == '\r') {
			break // a blank line after the command line ends the headers
		}
	}
	f, bodyLen, err := parseHeaderBlock(p[:d.lineStart], d.lim)
	if err != nil {
		return false, err
	}
	if bodyLen >= 0 && d.lineStart+bodyLen+1 > d.lim.MaxFrameBytes {
		return false, ErrFrameTooLarge
	}
	d.frame, d.bodyLen, d.hdrEnd, d.scan = f, bodyLen, d.lineStart, d.lineStart
	return true, nil
}

func tooLarge(maxHdr int, lim Limits) error {
	if maxHdr == lim.MaxFrameBytes {
		return ErrFrameTooLarge
	}
	return ErrHeadersTooLarge
}

// parseHeaderBlock parses the command line and header lines, blank line included. Keys and
// values are substrings of one copy of the block, so a frame costs one string allocation plus
// one per header that needs unescaping.
func parseHeaderBlock(block []byte, lim Limits) (*Frame, int, error) {
	nl := bytes.IndexByte(block, '\n')
	cmdLine := trimCR(block[:nl])
	cmd, ok := knownCommand(cmdLine)
	if !ok {
		if bytes.IndexByte(cmdLine, '\r') >= 0 || bytes.IndexByte(cmdLine, 0) >= 0 {
			return nil, 0, fmt.Errorf("%w: control byte in command line", ErrMalformed)
		}
		return nil, 0, fmt.Errorf("%w %.32q", ErrUnknownCommand, cmdLine)
	}
	n := bytes.Count(block, []byte{'\n'}) - 2 // minus command line and blank line
	if n > lim.MaxHeaders {
		return nil, 0, ErrTooManyHeaders
	}
	f := &Frame{Command: cmd}
	bodyLen := -1
	if n == 0 {
		return f, bodyLen, nil
	}
	f.Headers = make([]Header, 0, n)
	s := string(block[nl+1:])
	esc := escapes(cmd)
	for range n {
		i := strings.IndexByte(s, '\n')
		line := s[:i]
		s = s[i+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if strings.IndexByte(line, '\r') >= 0 || strings.IndexByte(line, 0) >= 0 {
			return nil, 0, fmt.Errorf("%w: CR or NUL inside a header line", ErrMalformed)
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 {
			return nil, 0, fmt.Errorf("%w: header line %.32q has no key", ErrMalformed, line)
		}
		h := Header{Key: line[:c], Value: line[c+1:]}
		if esc {
			var err error
			if h.Key, err = unescape(h.Key); err != nil {
				return nil, 0, err
			}
			if h.Value, err = unescape(h.Value); err != nil {
				return nil, 0, err
			}
		}
		if bodyLen < 0 && h.Key == HdrContentLength {
			if bodyLen = parseContentLength(h.Value, lim.MaxFrameBytes); bodyLen == -2 {
				return nil, 0, ErrFrameTooLarge
			} else if bodyLen < 0 {
				return nil, 0, fmt.Errorf("%w: content-length %.32q", ErrMalformed, h.Value)
			}
		}
		f.Headers = append(f.Headers, h)
	}
	return f, bodyLen, nil
}

// parseContentLength returns the length, -1 when v is not a decimal number, -2 when it exceeds
// max (checked digit by digit so that no value overflows).
func parseContentLength(v string, max int) int {
	if v == "" {
		return -1
	}
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		if n = n*10 + int(c-'0'); n > max {
			return -2
		}
	}
	return n
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// unescape decodes STOMP 1.2 header escapes; any other escape is a fatal error per the spec.
func unescape(s string) (string, error) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i++; i == len(s) {
			return "", fmt.Errorf("%w: header ends inside an escape", ErrMalformed)
		}
		switch s[i] {
		case '\\':
			b = append(b, '\\')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 'c':
			b = append(b, ':')
		default:
			return "", fmt.Errorf("%w: undefined escape \\%c", ErrMalformed, s[i])
		}
	}
	return string(b), nil
}

// Parse decodes data holding only whole frames and heart-beats, such as one WebSocket message
// from a client that never splits frames. Input ending inside a frame is ErrIncomplete; use a
// Decoder where frames may span messages.
func Parse(data []byte, lim Limits) (frames []*Frame, heartbeats int, err error) {
	d := Decoder{lim: lim.withDefaults(), buf: data} // read-only: Parse never Feeds
	for {
		f, err := d.Next()
		if err != nil {
			return frames, d.heartbeats, err
		}
		if f == nil {
			break
		}
		frames = append(frames, f)
	}
	if d.Buffered() > 0 {
		return frames, d.heartbeats, ErrIncomplete
	}
	return frames, d.heartbeats, nil
}
