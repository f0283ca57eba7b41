package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

func TestContentRoundTrip(t *testing.T) {
	at := time.Unix(1764230400, 123456789)
	c := appendContent(nil, 42, 7, at, 64)
	if len(c) != 64 {
		t.Fatalf("content is %d bytes, want 64: %q", len(c), c)
	}
	s, n, sent, ok := parseContent(c)
	if !ok || s != 42 || n != 7 || !sent.Equal(at) {
		t.Fatalf("parseContent(%q) = %d %d %v %v", c, s, n, sent, ok)
	}
	if _, _, _, ok := parseContent([]byte("hello")); ok {
		t.Fatal("a foreign message parsed as a bench message")
	}
	body := appendSendBody(nil, 123, c, "run-1-7")
	var v struct {
		ChannelID   int64  `json:"channelId,string"`
		Content     string `json:"content"`
		ClientMsgID string `json:"clientMsgId"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ChannelID != 123 || v.Content != string(c) || v.ClientMsgID != "run-1-7" {
		t.Fatalf("send body %s: %+v %v", body, v, err)
	}
}

func TestParseEventMatchesJSON(t *testing.T) {
	parent := int64(5)
	msg := persistence.Message{ID: 9001, ChannelID: 77, Seq: 12, UserID: 3, ParentID: &parent,
		Content: string(appendContent(nil, 1, 2, time.Now(), 60)), ClientMsgID: "x-1", Reactions: []persistence.Reaction{}}
	cases := map[string]any{
		"message": persistence.NewMessageEvent(msg),
		"read":    persistence.ReadEvent{Type: persistence.EventRead, ChannelID: 77, UserID: 3, Seq: 11},
		"typing":  map[string]any{"type": "typing", "userId": "3"},
	}
	for name, v := range cases {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var fast, slow event
		if !parseEvent(b, &fast) || !parseEventJSON(b, &slow) {
			t.Fatalf("%s: %s did not parse", name, b)
		}
		if fast.kind != slow.kind || fast.id != slow.id || fast.channel != slow.channel || fast.seq != slow.seq ||
			fast.user != slow.user || string(fast.content) != string(slow.content) {
			t.Fatalf("%s: fast %+v, json %+v", name, fast, slow)
		}
	}
	// Content with escapes takes the slow path and still parses.
	msg.Content = `say "hi" \ bye`
	b, _ := json.Marshal(persistence.NewMessageEvent(msg))
	var ev event
	if !parseEvent(b, &ev) || string(ev.content) != msg.Content || ev.seq != 12 {
		t.Fatalf("escaped content: %+v", ev)
	}
	// Field order does not matter.
	b = []byte(`{"message":{"seq":4,"content":"c","channelId":"8","id":"99"},"type":"message"}`)
	if !parseEvent(b, &ev) || ev.id != 99 || ev.channel != 8 || ev.seq != 4 {
		t.Fatalf("reordered fields: %+v", ev)
	}
	if parseEvent([]byte(`{"type":"message",`), &ev) {
		t.Fatal("truncated body parsed")
	}
}

func BenchmarkParseEvent(b *testing.B) {
	msg := persistence.Message{ID: 1 << 40, ChannelID: 1 << 39, Seq: 123456, UserID: 1 << 38,
		Content: string(appendContent(nil, 1, 2, time.Now(), 64)), Reactions: []persistence.Reaction{}}
	body, _ := json.Marshal(persistence.NewMessageEvent(msg))
	b.ReportAllocs()
	var ev event
	for b.Loop() {
		if !parseEvent(body, &ev) {
			b.Fatal("no parse")
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345e+07
go_goroutines 42
go_memstats_heap_inuse_bytes{x="a"} 100
go_memstats_heap_inuse_bytes{x="b",y="}"} 50
go_memstats_heap_inuse_bytes_total 7
other 1
`
	m, err := parseMetrics(strings.NewReader(text), scrapedMetrics)
	if err != nil {
		t.Fatal(err)
	}
	if m["process_resident_memory_bytes"] != 12345000 || m["go_goroutines"] != 42 || m["go_memstats_heap_inuse_bytes"] != 150 || len(m) != 3 {
		t.Fatalf("parsed %v", m)
	}
	pc := perConnection(map[string]float64{"go_goroutines": 10}, map[string]float64{"go_goroutines": 210}, 100)
	if pc["go_goroutines"] != 2 {
		t.Fatalf("per connection %v", pc)
	}
}
