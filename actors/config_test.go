package actors

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	c := Config{}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.SendRate != 20 || c.SendBurst != 50 || c.MaxSubscriptions != 100 ||
		c.MaxBatch != 500 || c.HeartBeat != (stomp.HeartBeat{Send: 10 * time.Second, Recv: 10 * time.Second}) {
		t.Errorf("defaults %+v", c)
	}
	if hb := (Config{NoHeartBeat: true}).withDefaults().HeartBeat; hb != (stomp.HeartBeat{}) {
		t.Errorf("NoHeartBeat gave %v", hb)
	}
	for _, bad := range []Config{
		{MaxBatch: -1}, {SendRate: -5}, {AccessTTL: -time.Second},
		{HeartBeat: stomp.HeartBeat{Send: -time.Second}},
	} {
		if err := bad.withDefaults().validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := New(Config{}, Deps{}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("New without deps: %v", err)
	}
}
