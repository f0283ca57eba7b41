package stomp

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) []*Frame {
	t.Helper()
	fs, _, err := Parse([]byte(s), Limits{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return fs
}

func TestParseFrames(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []*Frame
	}{
		{
			name: "NUL-terminated body",
			in:   "SEND\ndestination:/app/x\n\nhello\x00",
			want: []*Frame{{Command: CmdSend, Headers: []Header{{"destination", "/app/x"}}, Body: []byte("hello")}},
		},
		{
			name: "no headers, no body",
			in:   "DISCONNECT\n\n\x00",
			want: []*Frame{{Command: CmdDisconnect}},
		},
		{
			name: "content-length body holding NUL and EOLs",
			in:   "SEND\ncontent-length:7\n\na\x00b\n\r\nc\x00\n",
			want: []*Frame{{Command: CmdSend, Headers: []Header{{"content-length", "7"}}, Body: []byte("a\x00b\n\r\nc")}},
		},
		{
			name: "CRLF line endings",
			in:   "SEND\r\na:1\r\nb:2\r\n\r\nx\x00\r\n",
			want: []*Frame{{Command: CmdSend, Headers: []Header{{"a", "1"}, {"b", "2"}}, Body: []byte("x")}},
		},
		{
			name: "repeated header keeps order",
			in:   "MESSAGE\nfoo:1\nfoo:2\n\n\x00",
			want: []*Frame{{Command: CmdMessage, Headers: []Header{{"foo", "1"}, {"foo", "2"}}}},
		},
		{
			name: "empty value and colon in value",
			in:   "SEND\nempty:\nurl:http://x\n\n\x00",
			want: []*Frame{{Command: CmdSend, Headers: []Header{{"empty", ""}, {"url", "http://x"}}}},
		},
		{
			name: "escapes",
			in:   "MESSAGE\na\\cb:x\\ny\\rz\\\\w\\c\n\n\x00",
			want: []*Frame{{Command: CmdMessage, Headers: []Header{{"a:b", "x\ny\rz\\w:"}}}},
		},
		{
			name: "CONNECT and CONNECTED are not unescaped",
			in:   "CONNECT\npasscode:a\\cb:c\n\n\x00CONNECTED\nx:\\n\n\n\x00STOMP\nx:\\t\n\n\x00",
			want: []*Frame{
				{Command: CmdConnect, Headers: []Header{{"passcode", "a\\cb:c"}}},
				{Command: CmdConnected, Headers: []Header{{"x", "\\n"}}},
				{Command: CmdStomp, Headers: []Header{{"x", "\\t"}}},
			},
		},
		{
			name: "heart-beats between frames",
			in:   "\n\r\nRECEIPT\nreceipt-id:1\n\n\x00\n\n\nERROR\n\n\x00\r\n",
			want: []*Frame{
				{Command: CmdReceipt, Headers: []Header{{"receipt-id", "1"}}},
				{Command: CmdError},
			},
		},
		{
			name: "first content-length wins",
			in:   "SEND\ncontent-length:1\ncontent-length:x\n\n\x00\x00",
			want: []*Frame{{Command: CmdSend, Headers: []Header{{"content-length", "1"}, {"content-length", "x"}}, Body: []byte{0}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseHeartbeatsOnly(t *testing.T) {
	fs, hb, err := Parse([]byte("\n\r\n\n"), Limits{})
	if err != nil || len(fs) != 0 || hb != 3 {
		t.Fatalf("got %d frames, %d heart-beats, %v", len(fs), hb, err)
	}
}

func TestParseErrors(t *testing.T) {
	lim := Limits{MaxFrameBytes: 64, MaxHeaders: 2, MaxHeaderBytes: 48}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{name: "unknown command", in: "FOO\n\n\x00", want: ErrUnknownCommand},
		{name: "lower-case command", in: "send\n\n\x00", want: ErrUnknownCommand},
		{name: "command with trailing space", in: "SEND \n\n\x00", want: ErrUnknownCommand},
		{name: "CR inside command line", in: "SE\rND\n\n\x00", want: ErrMalformed},
		{name: "NUL before the blank line", in: "SEND\n\x00SEND\n\n\x00", want: ErrMalformed},
		{name: "header without colon", in: "SEND\nnocolon\n\n\x00", want: ErrMalformed},
		{name: "empty key", in: "SEND\n:v\n\n\x00", want: ErrMalformed},
		{name: "undefined escape", in: "SEND\nk:a\\tb\n\n\x00", want: ErrMalformed},
		{name: "escape at end", in: "SEND\nk:a\\\n\n\x00", want: ErrMalformed},
		{name: "bare CR in header", in: "SEND\nk:a\rb\n\n\x00", want: ErrMalformed},
		{name: "CR without LF between frames", in: "\rSEND\n\n\x00", want: ErrMalformed},
		{name: "bad content-length", in: "SEND\ncontent-length:-1\n\n\x00", want: ErrMalformed},
		{name: "empty content-length", in: "SEND\ncontent-length:\n\n\x00", want: ErrMalformed},
		{name: "no NUL after content-length", in: "SEND\ncontent-length:1\n\nab\x00", want: ErrMalformed},
		{name: "truncated", in: "SEND\n\nabc", want: ErrIncomplete},
		{name: "too many headers", in: "SEND\na:1\nb:2\nc:3\n\n\x00", want: ErrTooManyHeaders},
		{name: "headers too large", in: "SEND\nk:" + strings.Repeat("v", 60), want: ErrHeadersTooLarge},
		{name: "body too large", in: "SEND\n\n" + strings.Repeat("b", 80) + "\x00", want: ErrFrameTooLarge},
		{name: "declared length too large", in: "SEND\ncontent-length:59\n\n", want: ErrFrameTooLarge},
		{name: "overflowing length", in: "SEND\ncontent-length:99999999999999999999999\n\n", want: ErrFrameTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.in), lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if !errors.Is(ErrUnknownCommand, ErrMalformed) || !errors.Is(ErrIncomplete, ErrMalformed) {
		t.Fatal("ErrUnknownCommand and ErrIncomplete must match ErrMalformed")
	}
}

// TestDecoderRejectsEarly checks that limits trip before the offending bytes have all arrived,
// so a peer cannot make the server buffer them.
func TestDecoderRejectsEarly(t *testing.T) {
	d := NewDecoder(Limits{MaxFrameBytes: 100})
	d.Feed([]byte("SEND\ncontent-length:1000\n\n"))
	if _, err := d.Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("declared length: %v", err)
	}
	d.Feed([]byte("more")) // sticky: later input changes nothing
	if _, err := d.Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("after error: %v", err)
	}

	d = NewDecoder(Limits{MaxFrameBytes: 100})
	d.Feed([]byte("SEND\n\n"))
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("unterminated body never rejected")
		}
		d.Feed([]byte("x"))
		f, err := d.Next()
		if f != nil {
			t.Fatal("frame without NUL")
		}
		if errors.Is(err, ErrFrameTooLarge) {
			break
		}
	}
}

const stream = "\nCONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00\r\n" +
	"MESSAGE\r\nsubscription:s\\c1\r\ncontent-length:5\r\n\r\na\x00\nb\n\x00\n\n" +
	"\n\r\n" +
	"MESSAGE\nsubscription:s2\n\n{\"x\":1}\x00" +
	"RECEIPT\nreceipt-id:r1\n\n\x00\n" +
	"ERROR\nmessage:bad\ncontent-length:0\n\n\x00"

func decodeAll(t *testing.T, d *Decoder, out []*Frame) []*Frame {
	t.Helper()
	for {
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			return out
		}
		out = append(out, f)
	}
}

func TestDecoderSplitAtEveryBoundary(t *testing.T) {
	want, wantHB, err := Parse([]byte(stream), Limits{})
	if err != nil || len(want) != 5 || wantHB != 7 {
		t.Fatalf("whole stream: %d frames, %d heart-beats, %v", len(want), wantHB, err)
	}
	in := []byte(stream)
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			d := NewDecoder(Limits{})
			var got []*Frame
			for _, part := range [][]byte{in[:i], in[i:j], in[j:]} {
				d.Feed(part)
				got = decodeAll(t, d, got)
			}
			if !reflect.DeepEqual(got, want) || d.Heartbeats() != wantHB || d.Buffered() != 0 {
				t.Fatalf("split at %d,%d: got %v (%d heart-beats)", i, j, got, d.Heartbeats())
			}
		}
	}
	d := NewDecoder(Limits{})
	var got []*Frame
	for i := range in {
		d.Feed(in[i : i+1])
		got = decodeAll(t, d, got)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte: %v", got)
	}
}

func TestDecoderFramesDoNotAliasInput(t *testing.T) {
	in := []byte("SEND\nk:v\n\nbody\x00")
	d := NewDecoder(Limits{})
	d.Feed(in)
	for i := range in {
		in[i] = 'X'
	}
	f, err := d.Next()
	if err != nil || f == nil || f.Value("k") != "v" || !bytes.Equal(f.Body, []byte("body")) {
		t.Fatalf("got %v, %v", f, err)
	}
}

func TestDecoderZeroValue(t *testing.T) {
	var d Decoder
	d.Feed([]byte("SEND\n\n\x00"))
	if f, err := d.Next(); err != nil || f == nil {
		t.Fatalf("zero Decoder: %v, %v", f, err)
	}
}

func TestFrameHeaders(t *testing.T) {
	f := &Frame{Command: CmdSend, Headers: []Header{{"a", "1"}, {"b", "2"}, {"a", "3"}}}
	if v, ok := f.Get("a"); !ok || v != "1" {
		t.Fatalf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := f.Get("zz"); ok {
		t.Fatal("Get(zz) found")
	}
	f.Set("a", "9")
	if !reflect.DeepEqual(f.Headers, []Header{{"a", "9"}, {"b", "2"}}) {
		t.Fatalf("after Set: %v", f.Headers)
	}
	f.Set("c", "4")
	f.Add("c", "5")
	f.Del("b")
	if !reflect.DeepEqual(f.Headers, []Header{{"a", "9"}, {"c", "4"}, {"c", "5"}}) {
		t.Fatalf("after Add/Del: %v", f.Headers)
	}
	c := f.Clone()
	c.Headers[0].Value = "changed"
	if f.Value("a") != "9" {
		t.Fatal("Clone shares headers")
	}
}
