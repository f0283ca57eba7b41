package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/parley-chat/parley/transport"
)

// The rate limits are flags with environment variables and defaults in --help, and map
// onto the server's Config.
func TestServeRateLimitFlags(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"--replay-budget int", "$PARLEY_REPLAY_BUDGET] (default 10000)",
		"--rest-write-limit RATE,BURST", "(default 10,100)", "--rest-reaction-limit", "--rest-search-limit",
		"--unauthenticated-limit", "--dev-login-limit", "$PARLEY_DEV_LOGIN_LIMIT] (default 1,10)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("help lacks %q", want)
		}
	}

	cfg := transport.DefaultConfig()
	var heap gcOptions
	var lo logOptions
	f := serveFlags(&cfg, &heap, &lo)
	if err := f.parse([]string{"--replay-budget", "77", "--dev-login-limit", "2,4", "--rest-search-limit", "0.5,3"}); err != nil {
		t.Fatal(err)
	}
	rl := cfg.RateLimits
	if cfg.Realtime.ReplayBudget != 77 || rl.DevLogin.Rate != 2 || rl.DevLogin.Burst != 4 ||
		rl.Search.Rate != 0.5 || rl.Search.Burst != 3 || rl.Writes.Burst != 100 {
		t.Fatalf("flags not mapped: replay %d, %+v", cfg.Realtime.ReplayBudget, rl)
	}
	cfg.Realtime.ReplayBudget = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "replay-budget -1") {
		t.Errorf("a negative replay budget: %v", err)
	}
	for _, bad := range []string{"10", "0,5", "5,0", "x,1", "1,2,3"} {
		f := serveFlags(&cfg, &heap, &lo)
		f.SetOutput(new(strings.Builder))
		if err := f.parse([]string{"--rest-write-limit", bad}); err == nil {
			t.Errorf("--rest-write-limit %q accepted", bad)
		}
	}
}
