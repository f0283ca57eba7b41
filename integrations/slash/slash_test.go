package slash

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
)

func TestConfigIsValidatedInNew(t *testing.T) {
	client, err := integrations.NewClient(integrations.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	store := &persistence.Store{} // never called here
	if _, err := New(Config{BaseURL: "https://chat.example.com"}, store, client, nil); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	for name, cfg := range map[string]Config{
		"negative timeout":  {Timeout: -time.Second},
		"short response":    {ResponseTTL: time.Millisecond},
		"no uses":           {ResponseUses: -1},
		"relative base URL": {BaseURL: "/parley"},
		"ftp base URL":      {BaseURL: "ftp://example.com"},
	} {
		if _, err := New(cfg, store, client, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	if got := (Config{}).withDefaults(); got.Timeout != 3*time.Second || got.ResponseTTL != 30*time.Minute || got.ResponseUses != 5 {
		t.Errorf("defaults %+v", got)
	}
}

// A receiver's 2xx body: empty or blank says nothing; text is content's synonym; anything
// else than {content|text, visibility} is command_failed.
func TestReceiverAnswers(t *testing.T) {
	var s Service
	for _, tc := range []struct {
		body, content, vis string
		failed             bool
	}{
		{body: "", vis: persistence.VisibilityEphemeral},
		{body: " \n", vis: persistence.VisibilityEphemeral},
		{body: `{"content":"hi"}`, content: "hi", vis: persistence.VisibilityEphemeral},
		{body: `{"text":"hi","visibility":"channel"}`, content: "hi", vis: persistence.VisibilityChannel},
		{body: `{"content":"  ","visibility":"channel"}`, vis: persistence.VisibilityChannel},
		{body: `{"content":"hi","visibility":"everyone"}`, failed: true},
		{body: `["hi"]`, failed: true},
		{body: `hi`, failed: true},
	} {
		r, err := s.parse("/deploy", []byte(tc.body), 7)
		if tc.failed {
			if !errors.Is(err, actors.ErrCommandFailed) {
				t.Errorf("%q: %v, want command_failed", tc.body, err)
			}
			continue
		}
		if err != nil || r.Content != tc.content || r.Visibility != tc.vis || r.BotUserID != 7 {
			t.Errorf("%q: %+v, %v", tc.body, r, err)
		}
	}
}
