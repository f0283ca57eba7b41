package web_test

import (
	"os/exec"
	"testing"
)

// TestRichTextModules runs the Node unit tests of the client's rich-text modules (ADR 0042):
// the Markdown tree against an XSS corpus, the grouping and separators of a channel's flow.
// They need node only.
func TestRichTextModules(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("rich-text module tests skipped: node is not installed")
	}
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "richtext.test.mjs")
	cmd.Dir = "e2e"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
