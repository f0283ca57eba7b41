package stomp

import (
	"bytes"
	"reflect"
	"testing"
)

func TestAppendFrame(t *testing.T) {
	cases := []struct {
		name string
		f    *Frame
		want string
	}{
		{
			name: "no body, no content-length",
			f:    &Frame{Command: CmdDisconnect, Headers: []Header{{"receipt", "r1"}}},
			want: "DISCONNECT\nreceipt:r1\n\n\x00",
		},
		{
			name: "body gets content-length",
			f:    &Frame{Command: CmdSend, Headers: []Header{{"destination", "/a"}}, Body: []byte("a\x00b")},
			want: "SEND\ndestination:/a\ncontent-length:3\n\na\x00b\x00",
		},
		{
			name: "wrong content-length corrected in place, repeats kept",
			f: &Frame{Command: CmdSend, Headers: []Header{
				{"content-length", "99"}, {"x", "1"}, {"content-length", "7"},
			}, Body: []byte("ab")},
			want: "SEND\ncontent-length:2\nx:1\ncontent-length:7\n\nab\x00",
		},
		{
			name: "escaping",
			f:    &Frame{Command: CmdMessage, Headers: []Header{{"a:b\\", "x\ny\rz:"}}},
			want: "MESSAGE\na\\cb\\\\:x\\ny\\rz\\c\n\n\x00",
		},
		{
			name: "CONNECT raw, unrepresentable bytes replaced",
			f:    &Frame{Command: CmdConnect, Headers: []Header{{"passcode", "a:b\\c"}, {"k:\n", "v\r\n\x00"}}},
			want: "CONNECT\npasscode:a:b\\c\nk__:v___\n\n\x00",
		},
		{
			name: "NUL in an escaped header",
			f:    &Frame{Command: CmdSend, Headers: []Header{{"k", "a\x00b"}}},
			want: "SEND\nk:a_b\n\n\x00",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendFrame([]byte("prefix"), tc.f)
			if string(got) != "prefix"+tc.want {
				t.Fatalf("got  %q\nwant %q", got, "prefix"+tc.want)
			}
			if n := EncodedLen(tc.f); n != len(tc.want) {
				t.Fatalf("EncodedLen = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func TestEscapingRoundTrip(t *testing.T) {
	f := &Frame{Command: CmdMessage, Headers: []Header{
		{"key:with\\odd\nbytes\r", "value:with\\odd\nbytes\r"},
		{"plain", ""},
	}, Body: []byte("body")}
	got := mustParse(t, string(AppendFrame(nil, f)))
	want := f.Clone()
	want.Add(HdrContentLength, "4")
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAppendFrameNoAlloc(t *testing.T) {
	f := &Frame{Command: CmdMessage, Headers: []Header{
		{"destination", "/topic/channel.1"}, {"subscription", "sub-1"}, {"esc", "a:b"},
	}, Body: []byte(`{"type":"message"}`)}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = AppendFrame(buf[:0], f) }); n != 0 {
		t.Fatalf("AppendFrame allocates %v times", n)
	}
}

func TestMessageTemplate(t *testing.T) {
	body := []byte("{\"content\":\"hi\x00\"}")
	tpl := NewMessageTemplate("/topic/channel.1", "application/json",
		[]Header{{"seq", "42"}, {"content-length", "1"}}, body)
	body[0] = 'X' // the template owns a copy
	out := tpl.AppendTo(nil, "sub:1", "m-42")
	if len(out) != tpl.Len("sub:1", "m-42") {
		t.Fatalf("Len = %d, AppendTo wrote %d", tpl.Len("sub:1", "m-42"), len(out))
	}
	got := mustParse(t, string(out))
	want := &Frame{Command: CmdMessage, Headers: []Header{
		{"destination", "/topic/channel.1"}, {"content-type", "application/json"}, {"seq", "42"},
		{"content-length", "17"}, {"subscription", "sub:1"}, {"message-id", "m-42"},
	}, Body: []byte("{\"content\":\"hi\x00\"}")}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if !bytes.Equal(tpl.Body(), want.Body) {
		t.Fatalf("Body = %q", tpl.Body())
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = tpl.AppendTo(buf[:0], "sub-7", "m-42") }); n != 0 {
		t.Fatalf("AppendTo allocates %v times", n)
	}
}

func TestServerFrameBuilders(t *testing.T) {
	e := ErrorFrame("forbidden /topic/x", []byte("details"), Header{HdrReceiptID, "r1"})
	if e.Command != CmdError || e.Value(HdrMessage) != "forbidden /topic/x" ||
		e.Value(HdrReceiptID) != "r1" || e.Value(HdrContentType) != "text/plain" {
		t.Fatalf("ErrorFrame = %v", e)
	}
	if e := ErrorFrame("m", nil); len(e.Headers) != 1 {
		t.Fatalf("ErrorFrame without body = %v", e)
	}
	r := ReceiptFrame("r:2", Header{"seq", "5"})
	if got := string(AppendReceipt(nil, "r:2", Header{"seq", "5"})); got != string(AppendFrame(nil, r)) {
		t.Fatalf("AppendReceipt = %q, want %q", got, AppendFrame(nil, r))
	}
	c := ConnectedFrame(HeartBeat{Send: 10e9, Recv: 0}, Header{HdrSession, "s1"})
	if c.Value(HdrVersion) != "1.2" || c.Value(HdrHeartBeat) != "10000,0" || c.Value(HdrSession) != "s1" {
		t.Fatalf("ConnectedFrame = %v", c)
	}
}
