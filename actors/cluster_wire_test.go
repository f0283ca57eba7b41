package actors

import (
	"encoding/json"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// Read events from other nodes are recognised from their encoded body alone.
func TestReadEventBodyPrefix(t *testing.T) {
	body, err := json.Marshal(persistence.ReadEvent{Type: persistence.EventRead, ChannelID: 1, UserID: 2, Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !isReadEventBody(body) {
		t.Errorf("%s not recognised as a read event", body)
	}
	typing, _ := json.Marshal(persistence.TypingEvent{Type: persistence.EventTyping, ChannelID: 1, UserID: 2})
	if isReadEventBody(typing) {
		t.Errorf("%s taken for a read event", typing)
	}
}
