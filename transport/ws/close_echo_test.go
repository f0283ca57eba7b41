package ws

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// A Close without a status code is answered without one: echoing code 0 made Node's ws
// client fail the end of @stomp/stompjs's session ("invalid status code 0", TestStompJS).
func TestCloseEcho(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"no status", nil, nil},
		{"one byte", []byte{0x03}, nil},
		{"normal", ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"), ws.NewCloseFrameBody(ws.StatusNormalClosure, "")},
		{"going away", ws.NewCloseFrameBody(ws.StatusGoingAway, ""), ws.NewCloseFrameBody(ws.StatusGoingAway, "")},
		{"code 0", []byte{0, 0}, ws.NewCloseFrameBody(ws.StatusProtocolError, "")},
		{"1005 may not be sent", ws.NewCloseFrameBody(ws.StatusNoStatusRcvd, ""), ws.NewCloseFrameBody(ws.StatusProtocolError, "")},
	} {
		if got := closeEcho(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: closeEcho(% x) = % x, want % x", tc.name, tc.in, got, tc.want)
		}
	}
}
