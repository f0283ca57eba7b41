package bench

import (
	"bytes"
	"strconv"
	"time"
)

// Cross-node deliveries (issue 27): a message's content names the node its sender was on
// when it sent it ("~k", k its index in --url), so a receiver can tell a delivery that
// crossed the bus from one that did not. parseContent ignores what follows its three fields.
// Not "@k": an @ makes the message a mention, which takes its append off the one-statement
// path (and off the commit coalescer) and would change what is measured.

// appendContentNode is appendContent with the sender's node after the send time.
func appendContentNode(dst []byte, sender, node int, n int64, t time.Time, size int) []byte {
	start := len(dst)
	dst = appendContent(dst, sender, n, t, 0)
	dst = append(dst, '~')
	dst = strconv.AppendInt(dst, int64(node), 10)
	dst = append(dst, ' ')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// contentNode is the sender's node written by appendContentNode.
func contentNode(b []byte) (int, bool) {
	if !bytes.HasPrefix(b, []byte(contentMagic)) {
		return 0, false
	}
	i := bytes.IndexByte(b, '~')
	if i < 0 {
		return 0, false
	}
	b = b[i+1:]
	end := bytes.IndexByte(b, ' ')
	if end < 0 {
		end = len(b)
	}
	n, err := strconv.Atoi(string(b[:end]))
	return n, err == nil
}

// spreadNode is the node of client i (issue 27). Client i is on channel i mod K (the
// consecutive layout), so i mod N put every client of a channel on one node whenever N
// divides K, and nothing crossed the bus. The j-th client of channel c, j = i / K, goes to
// node (c + j) mod N instead: each channel's senders and receivers rotate over the nodes.
func spreadNode(i, channels, nodes int) int {
	if nodes <= 1 {
		return 0
	}
	if channels <= 0 {
		return i % nodes
	}
	return (i%channels + i/channels) % nodes
}

// nodeFor places client i: the scenario's own placement when it has one, else spreadNode.
func (r *runner) nodeFor(i int) int {
	if r.sc.place != nil {
		return r.sc.place(&r.cfg, i) % len(r.cfg.URLs)
	}
	return spreadNode(i, r.cfg.Channels, len(r.cfg.URLs))
}
