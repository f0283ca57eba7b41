package stomp

import (
	"strconv"
	"testing"
)

var benchBody = []byte(`{"type":"message","message":{"id":"7205759403792793600","channelId":"7205759403792793601",` +
	`"seq":1042,"authorId":"7205759403792793602","content":"hello @bob, see the thread","createdAt":` +
	`"2026-01-02T03:04:05.678Z","reactions":[]}}`)

func BenchmarkAppendFrame(b *testing.B) {
	f := &Frame{Command: CmdMessage, Headers: []Header{
		{HdrDestination, "/topic/channel.7205759403792793601"},
		{HdrContentType, "application/json"},
		{"seq", "1042"},
		{HdrSubscription, "sub-12"},
		{HdrMessageID, "7205759403792793600"},
	}, Body: benchBody}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(EncodedLen(f)))
	for b.Loop() {
		buf = AppendFrame(buf[:0], f)
	}
}

// BenchmarkMessageTemplate is the server's fan-out: one template per event, one AppendTo per
// subscriber into a reused buffer.
func BenchmarkMessageTemplate(b *testing.B) {
	tpl := NewMessageTemplate("/topic/channel.7205759403792793601", "application/json",
		[]Header{{"seq", "1042"}}, benchBody)
	subs := make([]string, 64)
	for i := range subs {
		subs[i] = "sub-" + strconv.Itoa(i)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(tpl.Len(subs[0], "7205759403792793600")))
	i := 0
	for b.Loop() {
		buf = tpl.AppendTo(buf[:0], subs[i&63], "7205759403792793600")
		i++
	}
}

// BenchmarkDecode is the server's read path: one SEND per WebSocket message.
func BenchmarkDecode(b *testing.B) {
	msg := AppendFrame(nil, &Frame{Command: CmdSend, Headers: []Header{
		{HdrDestination, "/app/message.send"},
		{HdrContentType, "application/json"},
		{HdrReceipt, "r-1042"},
	}, Body: []byte(`{"channelId":"7205759403792793601","content":"hello @bob","clientMsgId":"c-1"}`)})
	d := NewDecoder(Limits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d.Feed(msg)
		f, err := d.Next()
		if err != nil || f == nil {
			b.Fatal(f, err)
		}
	}
}
