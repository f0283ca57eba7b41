package stomp

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"testing"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxFrameBytes: 512, MaxHeaders: 8, MaxHeaderBytes: 256}

// roomyLimits re-decode encoded frames, which may be longer than their source: escapes
// replace raw colons, and a NUL-terminated body gains a content-length header.
var roomyLimits = Limits{MaxFrameBytes: 1 << 20, MaxHeaders: 1 << 10, MaxHeaderBytes: 1 << 20}

// FuzzDecoder checks that decoding never panics or spins, does not depend on how the input is
// split, and that every frame it yields survives encoding: re-decoding gives the same frame
// (with content-length normalised as AppendFrame does) and re-encoding the same bytes.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("SEND\ndestination:/app/message.send\n\n{\"content\":\"hi\"}\x00"), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole, wholeErr := decodeChunks(data, len(data))
		pieces, piecesErr := decodeChunks(data, int(split%64)+1)
		if !reflect.DeepEqual(whole, pieces) || !sameError(wholeErr, piecesErr) {
			t.Fatalf("split changes the result:\nwhole  %v %v\npieces %v %v", whole, wholeErr, pieces, piecesErr)
		}
		if wholeErr != nil && !isDecodeError(wholeErr) {
			t.Fatalf("error matching no sentinel: %v", wholeErr)
		}
		for _, f1 := range whole {
			enc1 := AppendFrame(nil, f1)
			if len(enc1) != EncodedLen(f1) {
				t.Fatalf("EncodedLen %d, encoded %d", EncodedLen(f1), len(enc1))
			}
			fs, _, err := Parse(enc1, roomyLimits)
			if err != nil || len(fs) != 1 {
				t.Fatalf("re-decoding %q: %d frames, %v", enc1, len(fs), err)
			}
			if want := normalise(f1); !sameFrame(fs[0], want) {
				t.Fatalf("round trip:\ngot  %v\nwant %v", fs[0], want)
			}
			if enc2 := AppendFrame(nil, fs[0]); !bytes.Equal(enc1, enc2) {
				t.Fatalf("re-encoding differs:\n%q\n%q", enc1, enc2)
			}
		}
	})
}

// decodeChunks feeds data in chunks of n bytes, draining after each.
func decodeChunks(data []byte, n int) ([]*Frame, error) {
	d := NewDecoder(fuzzLimits)
	var out []*Frame
	for len(data) > 0 {
		k := min(n, len(data))
		d.Feed(data[:k])
		data = data[k:]
		for {
			f, err := d.Next()
			if err != nil {
				return out, err
			}
			if f == nil {
				break
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func isDecodeError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameTooLarge) ||
		errors.Is(err, ErrHeadersTooLarge) || errors.Is(err, ErrTooManyHeaders)
}

// normalise applies AppendFrame's content-length rule to a copy of f.
func normalise(f *Frame) *Frame {
	n := f.Clone()
	for i := range n.Headers {
		if n.Headers[i].Key == HdrContentLength {
			n.Headers[i].Value = strconv.Itoa(len(n.Body))
			return n
		}
	}
	if len(n.Body) > 0 {
		n.Add(HdrContentLength, strconv.Itoa(len(n.Body)))
	}
	return n
}

func sameFrame(a, b *Frame) bool {
	return a.Command == b.Command && bytes.Equal(a.Body, b.Body) &&
		len(a.Headers) == len(b.Headers) && (len(a.Headers) == 0 || reflect.DeepEqual(a.Headers, b.Headers))
}
