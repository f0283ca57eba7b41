package web

import (
	"os/exec"
	"testing"
)

// TestClientModules runs the Node unit tests of the client's DOM-free modules (the STOMP
// frame codec; the channel model that merges history, live events and since-seq replays by
// seq). They need node only, no browser and no npm packages.
func TestClientModules(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("client module tests skipped: node is not installed")
	}
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "unit.test.mjs")
	cmd.Dir = "e2e"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
