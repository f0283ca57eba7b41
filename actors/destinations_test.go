package actors

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestDestinationsListsEverySwitchCase: every SEND destination the connection actor
// switches on, and every user queue it accepts, is in Destinations (the reference docs).
func TestDestinationsListsEverySwitchCase(t *testing.T) {
	var listed []string
	for _, d := range Destinations() {
		listed = append(listed, d.Frame+" "+d.Path)
	}
	for _, q := range userQueueOrder {
		if !slices.Contains(listed, "SUBSCRIBE "+q) {
			t.Errorf("user queue %s is not in Destinations", q)
		}
	}
	src, err := os.ReadFile("conn_send.go")
	if err != nil {
		t.Fatal(err)
	}
	cases := regexp.MustCompile(`case (Dest[A-Za-z]+):`).FindAllStringSubmatch(string(src), -1)
	if len(cases) == 0 {
		t.Fatal("no SEND destination cases found in conn_send.go")
	}
	values := map[string]string{"DestMessageSend": DestMessageSend, "DestMessageRead": DestMessageRead,
		"DestMessageResend": DestMessageResend, "DestTyping": DestTyping, "DestPresenceSet": DestPresenceSet, "DestPresenceWatch": DestPresenceWatch}
	for _, c := range cases {
		v, ok := values[c[1]]
		if !ok {
			t.Errorf("SEND case %s is new: add it to Destinations and to this test", c[1])
			continue
		}
		if !slices.Contains(listed, "SEND "+v) {
			t.Errorf("SEND destination %s is not in Destinations", v)
		}
	}
}
