package stompclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// frameReader is the state of the server's WebSocket frames as they are parsed from a byte
// stream that may be split anywhere: by the read goroutine's buffer, or by a Poller's reads
// of a socket shared with thousands of others. It keeps only a partial header and a control
// frame's payload; a data frame's payload goes straight to the STOMP Decoder.
type frameReader struct {
	hdr     [ws.MaxHeaderSize]byte
	nhdr    int   // header bytes gathered
	inFrame bool  // the header is complete; remaining payload bytes follow
	left    int64 // payload bytes of the current frame still to come
	op      ws.OpCode
	ctrl    []byte // a control frame's payload so far (≤ 125 bytes)
}

var errHeaderLength = errors.New("stomp: WebSocket frame length has its top bit set")

// headerLen is how many header bytes the frame starting with hdr has: 2 until the second
// byte is known, then 2 + extended length + mask.
func headerLen(hdr []byte) int {
	if len(hdr) < 2 {
		return 2
	}
	n := 2
	switch hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if hdr[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func parseHeader(b []byte) (ws.Header, error) {
	h := ws.Header{
		Fin:    b[0]&0x80 != 0,
		Rsv:    (b[0] >> 4) & 0x7,
		OpCode: ws.OpCode(b[0] & 0x0f),
		Masked: b[1]&0x80 != 0,
	}
	rest := b[2:]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length, rest = int64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		u := binary.BigEndian.Uint64(rest)
		if u>>63 != 0 {
			return h, errHeaderLength
		}
		h.Length, rest = int64(u), rest[8:]
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], rest)
	}
	return h, nil
}

// consume parses p, read from the socket at now: complete STOMP frames are dispatched, control
// frames answered. Any error ends the connection. One goroutine at a time: the read goroutine,
// or the Poller loop that owns the socket.
func (c *Client) consume(p []byte, now time.Time) error {
	r := &c.rd
	if len(p) > 0 {
		c.lastRead.Store(now.UnixNano())
	}
	for len(p) > 0 || (r.inFrame && r.left == 0) { // an empty frame completes with its header
		if !r.inFrame {
			need := headerLen(r.hdr[:r.nhdr])
			n := copy(r.hdr[r.nhdr:need], p)
			r.nhdr += n
			p = p[n:]
			if r.nhdr == 2 {
				need = headerLen(r.hdr[:2])
			}
			if r.nhdr < need {
				continue // the rest of the header is further on in p, or in the next read
			}
			h, err := parseHeader(r.hdr[:need])
			if err != nil {
				return err
			}
			if err := ws.CheckHeader(h, c.wsState); err != nil {
				return err // includes masked frames, which a server must not send
			}
			r.nhdr, r.inFrame, r.left, r.op = 0, true, h.Length, h.OpCode
			if h.OpCode.IsControl() {
				r.ctrl = r.ctrl[:0]
			} else if h.Fin {
				c.wsState = c.wsState.Clear(ws.StateFragmented)
			} else {
				c.wsState = c.wsState.Set(ws.StateFragmented)
			}
		}
		n := int(min(r.left, int64(len(p))))
		if r.op.IsControl() {
			r.ctrl = append(r.ctrl, p[:n]...)
		} else if n > 0 {
			c.dec.Feed(p[:n])
			for {
				f, err := c.dec.Next()
				if err != nil {
					return fmt.Errorf("stomp: decoding server frames: %w", err)
				}
				if f == nil {
					break
				}
				c.dispatch(f, now)
			}
		}
		p = p[n:]
		if r.left -= int64(n); r.left == 0 {
			r.inFrame = false
			if r.op.IsControl() {
				if err := c.control(r.op, r.ctrl); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// control answers a ping and ends the connection on a close.
func (c *Client) control(op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		return c.writeControl(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		_ = c.writeControl(ws.OpClose, ws.NewCloseFrameBody(code, ""))
		return wsutil.ClosedError{Code: code, Reason: reason}
	}
	return nil
}
